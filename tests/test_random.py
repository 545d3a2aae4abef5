"""Philox4x32-10, ln and ndtri against independent oracles."""

import math
import statistics

import numpy as np
import pytest

from lazyconn.random import ln, ln1p_scalar, ndtri, philox4x32, words_to_uniform

# Random123 kat_vectors (D. E. Shaw Research): counter, key -> output.
KAT = [
    ((0, 0, 0, 0), (0, 0), (0x6627E8D5, 0xE169C58D, 0xBC57AC4C, 0x9B00DBD8)),
    ((0xFFFFFFFF,) * 4, (0xFFFFFFFF, 0xFFFFFFFF), (0x408F276D, 0x41C83B0E, 0xA20BC7C6, 0x6D5451FD)),
    (
        (0x243F6A88, 0x85A308D3, 0x13198A2E, 0x03707344),
        (0xA4093822, 0x299F31D0),
        (0xD16CFE09, 0x94FDCCEB, 0x5001E420, 0x24126EA1),
    ),
]


@pytest.mark.parametrize("counter, key, expected", KAT)
def test_philox_known_answers(counter, key, expected):
    assert tuple(int(w) for w in philox4x32(counter, key)) == expected


def test_philox_vectorises_like_scalar_calls():
    rng = np.random.default_rng(5)
    counters = rng.integers(0, 2**32, size=(4, 50), dtype=np.uint64)
    batch = np.stack(philox4x32(tuple(counters), (123, 456)))
    for i in range(50):
        single = philox4x32(tuple(int(c) for c in counters[:, i]), (123, 456))
        assert tuple(int(w) for w in single) == tuple(int(w) for w in batch[:, i])


def test_uniform_map_is_exact_and_open():
    words = np.array([0, 1, 2**31, 2**32 - 1], dtype=np.uint32)
    u = words_to_uniform(words)
    assert u[0] == 2.0**-33 and u[-1] == 1.0 - 2.0**-33
    assert u[2] == 0.5 + 2.0**-33
    # Every u is an odd multiple of 2**-33, so 1 - u is exact.
    assert np.all((1.0 - u) + u == 1.0)


def _ulps(ours, exact):
    return np.abs(ours - exact) / np.spacing(np.abs(exact))


def test_ln_within_one_ulp_on_the_uniform_grid():
    words = np.random.default_rng(0).integers(0, 2**32, 200_000, dtype=np.uint64)
    u = words_to_uniform(words)
    exact = np.array([math.log(v) for v in u])
    assert _ulps(ln(u), exact).max() <= 1.0


def test_ln_within_one_ulp_over_the_float_range():
    x = np.exp(np.random.default_rng(1).uniform(-700, 700, 100_000))
    x = np.concatenate([x, [1.0, 2.0, 0.5, np.sqrt(2.0), np.nextafter(np.sqrt(2.0), 3), 1e-300, 1e300]])
    exact = np.array([math.log(v) for v in x])
    errors = _ulps(ln(x), exact)
    errors[exact == 0] = np.abs(ln(x)[exact == 0])
    assert errors.max() <= 1.0


@pytest.mark.parametrize("centre", [0, 2**31, 2**32 - 2**16, 3037000499, 1518500249, 2**30, 12345])
def test_ln_is_non_decreasing_on_contiguous_word_ranges(centre):
    # The gap table (DESIGN 2b) relies on gap(w) being monotone in w.  The
    # ranges straddle the reduction's sqrt(2) switch points and powers of two.
    words = np.arange(max(centre - 2**15, 0), min(centre + 2**15, 2**32), dtype=np.uint64)
    values = ln(words_to_uniform(words))
    assert np.all(np.diff(values) >= 0)


def test_ln1p_matches_math_log1p():
    for x in [-0.5, -0.01, -1e-5, -1e-12, -1e-300, -0.999999, 0.3, 5.0]:
        assert abs(ln1p_scalar(x) - math.log1p(x)) <= 2 * math.ulp(math.log1p(x))
    assert ln1p_scalar(-1.0) == -math.inf


def test_ndtri_matches_statistics_normaldist():
    words = np.random.default_rng(2).integers(0, 2**32, 50_000, dtype=np.uint64)
    u = np.concatenate([words_to_uniform(words), [2.0**-33, 1 - 2.0**-33, 1e-20, 1e-300, 0.075, 0.925]])
    exact = np.array([statistics.NormalDist().inv_cdf(v) for v in u])
    ours = ndtri(u)
    np.testing.assert_allclose(ours, exact, rtol=1e-15, atol=1e-15)


def test_ndtri_symmetry_and_centre():
    u = words_to_uniform(np.arange(0, 2**32, 2**20, dtype=np.uint64))
    np.testing.assert_array_equal(ndtri(u), -ndtri(1.0 - u))
    assert ndtri(np.array([0.5]))[0] == 0.0
