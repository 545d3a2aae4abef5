"""The verified float32 route to Normal weights (lazyconn/kernels/_ndtri_fast.py).

The route may only ever return ``float32(a + b * ndtri(u))`` of the
reference, or NaN (undecided).  Its proof rests on the per-interval bounds
in the pinned table: the first test re-measures them on every word.
"""

import numpy as np
import pytest

from lazyconn import random as ref

_ndtri_fast = pytest.importorskip("lazyconn.kernels._ndtri_fast")


@pytest.fixture(scope="module")
def table():
    return _ndtri_fast.load_table()


@pytest.mark.slow
def test_pinned_bounds_hold_on_every_word(table):
    # Every folded word h < 2**31 (the others fold onto them exactly).
    measured = _ndtri_fast.measure_bounds(table)
    pinned = table[:, -1]
    assert np.all(measured <= pinned / 2), np.flatnonzero(measured > pinned / 2)
    # The bounds are what make the route cheap: all far below float32's 2**-24.
    assert pinned.max() < 1e-10


def test_interval_of_each_word_is_the_one_fitted(table):
    index = _ndtri_fast._index_of_word
    for i in range(_ndtri_fast.N_INTERVALS):
        first, width = _ndtri_fast._interval_words(i)
        assert index(first, table) == i
        assert index(first + width - 1, table) == i
        # ... and t stays in [-1, 1] at both ends.
        for h in (first, first + width - 1):
            f = (h + 0.5) * 2.0**-32
            t = f * table[i, _ndtri_fast.DEGREE + 1] - table[i, _ndtri_fast.DEGREE + 2]
            assert -1.0 <= t <= 1.0


def _route(words, a, b, table):
    u = ref.words_to_uniform(words)
    fast = _ndtri_fast.normal_weights32_batch(u, a, b, table)
    exact = (a + b * ref.ndtri(u)).astype(np.float32).astype(np.float64)
    return fast, exact


@pytest.mark.parametrize("a, b", [(0.0, 1.0), (0.1, 0.02), (-3.0, 7.5), (5.0, -1e-3), (0.0, 0.0), (1e-30, 1e30)])
def test_route_equals_reference_rounding(table, a, b):
    rng = np.random.default_rng(7)
    words = rng.integers(0, 2**32, 2_000_000, dtype=np.uint64).astype(np.uint32)
    # ... plus both ends of the word range and of the central branch.
    words = np.concatenate([words, np.array([0, 1, 2, 15, 16, 17, 322122547, 322122546, 3972844748,
                                             3972844749, 2**31 - 1, 2**31, 2**32 - 1], dtype=np.uint32)])
    fast, exact = _route(words, a, b, table)
    decided = ~np.isnan(fast)
    np.testing.assert_array_equal(fast[decided], exact[decided])
    assert decided.mean() > 1 - 1e-3


def test_undecided_weights_exist_and_are_rare(table):
    # Undecided means a float32 rounding boundary lies within the bound: it
    # must happen (else the check would be vacuous) but rarely.
    rng = np.random.default_rng(11)
    words = rng.integers(0, 2**32, 4_000_000, dtype=np.uint64).astype(np.uint32)
    fast, _ = _route(words, 0.0, 1.0, table)
    undecided = np.isnan(fast).sum()
    assert 0 < undecided < 2e-4 * words.size


def test_candidate_is_odd_in_q(table):
    # The fold relies on ndtri(1 - u) == -ndtri(u) exactly for spec uniforms.
    rng = np.random.default_rng(3)
    words = rng.integers(0, 2**32, 100_000, dtype=np.uint64).astype(np.uint32)
    u = ref.words_to_uniform(words)
    mirrored = ref.words_to_uniform(~words)
    np.testing.assert_array_equal(ref.ndtri(mirrored), -ref.ndtri(u))


def test_edited_table_is_refused(tmp_path, monkeypatch):
    edited = tmp_path / "table.npy"
    table = np.array(_ndtri_fast.load_table())
    table[100, -1] *= 0.5
    np.save(edited, table)
    monkeypatch.setattr(_ndtri_fast, "_TABLE_FILE", edited)
    with pytest.raises(RuntimeError, match="rebuild it"):
        _ndtri_fast.load_table()


def test_cuda_candidate_relies_on_the_table_layout_it_hard_codes(table):
    # The CUDA candidate reads only the coefficients: t = f * scale - offset
    # comes from the bits of h + 0.5, exact only with these scales and
    # offsets.  It hard-codes the index bias, the row count (a CTA's shared
    # copy) and the row-16 switch too.
    import re
    from pathlib import Path

    header = (Path(_ndtri_fast.__file__).parent / "jitc_random.cuh").read_text()
    exponent, small = map(int, re.search(r"JITC_NDTRI_INDEX_BIAS \(\((\d+) << 4\) - (\d+)\)", header).groups())
    assert (exponent << 4) - small == _ndtri_fast._INDEX_BIAS
    assert int(re.search(r"#define JITC_NDTRI_ROWS (\d+)", header).group(1)) == _ndtri_fast.N_INTERVALS
    assert int(re.search(r"#define JITC_NDTRI_SMEM_STRIDE (\d+)", header).group(1)) == _ndtri_fast.DEGREE + 1
    # Single-word rows are constants: the candidate may feed them any finite t.
    assert not table[:16, 1 : _ndtri_fast.DEGREE + 1].any()
    for i in range(_ndtri_fast.N_INTERVALS):
        e = 4 if i < 16 else 4 + ((i - 16) >> 4)
        offset = 2 * i + 1 if i < 16 else 33 + 2 * ((i - 16) & 15)
        assert table[i, _ndtri_fast.DEGREE + 1] == 2.0 ** (37 - e)
        assert table[i, _ndtri_fast.DEGREE + 2] == offset
