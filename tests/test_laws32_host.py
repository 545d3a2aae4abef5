"""The GPU's float32 LogNormal and Exponential routes, run on the host, against the reference.

The routes (``jitc_laws.cuh``: a cheap candidate, a proven bound, the exact
float64 route when undecided) must give the spec's float32 weight on every
word.  :mod:`gpu_law_host` compiles the law structs for the CPU; here their
``weight<float>``, ``weights4<float>`` and the route alone are compared bit
for bit with the NumPy reference on extreme words, random words and words
whose weight lies closest to a float32 rounding boundary (where a bound too
small would show), for parameters from typical to the edges of float32
(subnormal and overflowing weights, tiny and huge scales).
"""

import gpu_law_host
import numpy as np
import pytest

_EDGES = np.array([0, 1, 2, 3, 15, 16, 17, 255, 256, 2**20, 2**30, 2**31 - 2, 2**31 - 1, 2**31, 2**31 + 1,
                   2**32 - 2**30, 2**32 - 17, 2**32 - 16, 2**32 - 3, 2**32 - 2, 2**32 - 1], dtype=np.uint64)


@pytest.fixture(scope="module")
def driver(tmp_path_factory):
    directory = tmp_path_factory.mktemp("laws32")
    return gpu_law_host.build(directory), directory


def _near_ties(law, a, b, n_sweep=2**20, keep=512):
    """Words of an even sweep whose float64 weight lies closest to a float32 rounding boundary."""
    words = np.arange(n_sweep, dtype=np.uint64) * (2**32 // n_sweep) + 123
    with np.errstate(over="ignore", under="ignore"):
        t = gpu_law_host.reference64(law, a, b, words)
        f = t.astype(np.float32)
    finite = np.isfinite(f) & (f > 0)
    f64 = f.astype(np.float64)
    up = np.nextafter(f, np.float32(np.inf)).astype(np.float64)
    down = np.nextafter(f, np.float32(0)).astype(np.float64)
    with np.errstate(invalid="ignore"):
        distance = np.minimum(np.abs(t - (f64 + up) / 2), np.abs(t - (f64 + down) / 2)) / np.abs(t)
    distance[~finite] = np.inf
    return words[np.argsort(distance, kind="stable")[:keep]]


def _words(law, a, b, seed):
    rng = np.random.default_rng(seed)
    random = rng.integers(0, 2**32, 2**14, dtype=np.uint64)
    return np.concatenate([_EDGES, random, _near_ties(law, a, b)]).astype(np.uint32)


def _check(driver, law, a, b, seed):
    binary, directory = driver
    words = _words(law, a, b, seed)
    weight, weights4, route, decided = gpu_law_host.run(binary, law, a, b, words, directory)
    with np.errstate(over="ignore", under="ignore"):
        expected = gpu_law_host.reference32(law, a, b, words).view(np.uint32)
    for name, got in (("weight", weight), ("weights4", weights4)):
        bad = np.flatnonzero(got.view(np.uint32) != expected)
        assert bad.size == 0, (name, law, a, b, words[bad[:5]], got[bad[:5]], expected[bad[:5]].view(np.float32))
    # The route alone: where it decides, the spec's value.
    wrong = np.flatnonzero(decided & (route.view(np.uint32) != expected))
    assert wrong.size == 0, (law, a, b, words[wrong[:5]])
    return decided


@pytest.mark.parametrize("mu, sigma", [
    (0.0, 1.0), (-2.0, 0.5), (5.0, 3.0), (-0.5, 1e-3), (0.0, 0.0),
    (-85.0, 1.0),  # float32 subnormal weights and zeros
    (86.0, 0.5),  # weights beyond float32: +inf
    (1e-300, 1e-300), (-1e-310, 1e-310),  # subnormal intermediates
    (100.0, 1e-4), (-100.0, 1e-4),  # |y'| on both sides of the route's limit
])
def test_lognormal_float32_route_gives_the_spec_bits(driver, mu, sigma):
    decided = _check(driver, "LogNormalLaw", mu, sigma, seed=1)
    if abs(mu) < 50 and sigma <= 3:
        # Beyond the near-ties and the edges, nearly every word is decided.
        assert decided[len(_EDGES):len(_EDGES) + 2**14].mean() > 0.999


@pytest.mark.parametrize("scale", [1.0, 0.1, 3.0e36, 1e-40, 1e-310, 1e300, 5e-324])
def test_exponential_float32_route_gives_the_spec_bits(driver, scale):
    decided = _check(driver, "ExponentialLaw", -scale, 0.0, seed=2)
    assert decided[len(_EDGES):len(_EDGES) + 2**14].mean() > 0.999


def test_the_routes_fall_back_rarely_for_typical_parameters(driver):
    # The fraction of words the routes leave to the exact float64 route, on
    # an even sweep of 2**20 words: mu = 0, sigma = 1 and scale = 1.
    binary, directory = driver
    words = (np.arange(2**20, dtype=np.uint64) * 4096 + 777).astype(np.uint32)
    for law, a, b, limit in (("LogNormalLaw", 0.0, 1.0, 1e-4), ("ExponentialLaw", -1.0, 0.0, 1e-5)):
        decided = gpu_law_host.run(binary, law, a, b, words, directory)[3]
        assert 1.0 - decided.mean() < limit, (law, 1.0 - decided.mean())


def test_the_tables_in_the_headers_are_the_generated_ones():
    from lazyconn.kernels import _route_tables

    for name, block in (("jitc_laws.cuh", _route_tables.exp2_block()), ("jitc_logc.cuh", _route_tables.log_block())):
        header = (gpu_law_host.KERNELS / name).read_text()
        start = header.index(_route_tables.BEGIN)
        end = header.index(_route_tables.END) + len(_route_tables.END)
        assert header[start:end] == block, name
    inv_c, t = zip(*_route_tables.log_rows())
    assert inv_c[-1] == 0.5 and t[-1] == 0.0  # u just below 1: the polynomial alone
    assert all(0.5 < x < 1.0 for x in inv_c[:-1]) and all(x < 0.0 for x in t[:-1])
