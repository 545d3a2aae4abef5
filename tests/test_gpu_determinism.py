"""GPU products: bits that do not change from run to run, non-finite operands, scaled degrees.

Gathers add partials in tile order, scatters in fixed point (integers).

Issue 11, items 11, 12 and 4 (GPU side).  Runs only where CuPy sees a usable
GPU.
"""

import math

import numpy as np
import pytest

from gpu_guard import cupy_or_skip  # noqa: E402

cp = cupy_or_skip()

import lazyconn  # noqa: E402
from lazyconn import products  # noqa: E402
from lazyconn.kernels import gpu, reference  # noqa: E402
from lazyconn.laws import Exponential, LogNormal  # noqa: E402
from lazyconn.spec import Normal, Scalar, Spec, Uniform  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True)
def _deterministic():
    # The fixed-order gather and the fixed-point scatter cost time, so they
    # are an option.
    with lazyconn.set_options(deterministic=True):
        yield


def _bits(a):
    return cp.asnumpy(a).tobytes()


# ------------------------------------------------------------ determinism
@pytest.mark.parametrize("law", ["scalar", "normal"])
@pytest.mark.parametrize("n_cols", [1, 3])
def test_gather_bits_are_the_same_run_after_run(law, n_cols):
    # Many tiles (about 100 blocks of the minor axis) meet every line: with
    # atomic adds of the per-tile partials, the order of those adds, hence
    # the bits, changed from run to run.
    n = 400_000
    conn = (lazyconn.JITCScalarR(n, n, prob=0.01, weight=0.1, seed=7) if law == "scalar"
            else lazyconn.JITCNormalR(n, n, prob=0.01, loc=0.0, scale=0.1, seed=7))
    rng = np.random.default_rng(1)
    y = cp.asarray(rng.standard_normal((n, n_cols) if n_cols > 1 else n).astype(np.float32))
    first = _bits(conn @ y)
    for _ in range(4):
        assert _bits(conn @ y) == first


@pytest.mark.parametrize("orientation", ["R", "C"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_gather_equals_its_transpose_bit_for_bit(orientation, dtype):
    # The products that gather along lines: M @ y for an R matrix, x @ M for
    # a C matrix; and the same products through the transpose.
    spec = Spec((30_000, 50_000), orientation, 0.02, Normal(0.0, 1.0), 3, np.float32)
    conn = lazyconn.from_spec(spec)
    rng = np.random.default_rng(2)
    if orientation == "R":
        y = cp.asarray(rng.standard_normal(50_000).astype(dtype))
        assert _bits(conn @ y) == _bits(y @ conn.T)
        ys = cp.asarray(rng.standard_normal((50_000, 4)).astype(dtype))
        assert _bits(conn @ ys) == _bits((ys.T @ conn.T).T)
    else:
        x = cp.asarray(rng.standard_normal(30_000).astype(dtype))
        assert _bits(x @ conn) == _bits(conn.T @ x)
        xs = cp.asarray(rng.standard_normal((4, 30_000)).astype(dtype))
        assert _bits(xs @ conn) == _bits((conn.T @ xs.T).T)


@pytest.mark.parametrize("law", [Scalar(0.5), Normal(0.2, 1.0), Uniform(-1.0, 2.0)], ids=["scalar", "normal", "uniform"])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_cols", [1, 2, 11])
def test_gather_in_bounded_chunks_has_the_same_bits(law, dtype, n_cols, monkeypatch):
    # The partials are summed in tile order whatever the chunks: a tiny
    # budget (chunks of two tiles and a few lines) gives the very same bits,
    # and both equal the reference within rounding.
    spec = Spec((3000, 40_000), "R", 0.05, law, 5, dtype)
    conn = lazyconn.from_spec(spec)[17:2990, 1234:39_001]
    rng = np.random.default_rng(3)
    y = cp.asarray(rng.standard_normal((conn.shape[1], n_cols)).astype(dtype))
    whole = conn @ y
    monkeypatch.setattr(gpu, "_PARTIAL_BYTES", 2 * 700 * n_cols * np.dtype(dtype).itemsize)
    monkeypatch.setattr(gpu, "_MIN_CHUNK_TILES", 2)
    chunked = conn @ y
    assert _bits(chunked) == _bits(whole)
    expected = products.matmul(conn, cp.asnumpy(y), "right", False, reference, np)
    tol = dict(rtol=2e-4, atol=2e-4) if dtype == np.float32 else dict(rtol=1e-10, atol=1e-10)
    np.testing.assert_allclose(cp.asnumpy(whole), expected, **tol)


def test_gather_partials_stay_within_their_budget():
    from lazyconn.bench import device_extra_bytes

    n = 200_000
    conn = lazyconn.JITCScalarR(n, n, prob=0.01, weight=0.1, seed=1)
    y = cp.ones(n, cp.float32)
    conn[:1000] @ y  # compile outside the measurement
    _, beyond = device_extra_bytes(lambda: conn @ y)
    assert beyond <= gpu._PARTIAL_BYTES + 2**20


# ------------------------------------------------- deterministic scatter
LAWS = [Scalar(0.5), Normal(0.2, 1.0), Uniform(-1.0, 2.0), LogNormal(-0.5, 0.8), Exponential(1.5)]
LAW_IDS = ["scalar", "normal", "uniform", "lognormal", "exponential"]


def _scatter_cases(n, law, seed=5):
    """(name, product) pairs of the scatter kinds: dense, batched, 1% events, through .T."""
    conn = lazyconn.from_spec(Spec((n, n), "R", 0.01, law, seed, np.float32))
    rng = np.random.default_rng(seed)
    x = cp.asarray(rng.standard_normal(n).astype(np.float32))
    xs = cp.asarray(rng.standard_normal((3, n)).astype(np.float32))
    spikes = lazyconn.BinaryArray(cp.asarray(rng.random(n) < 0.01))
    return conn, [("dense", lambda: x @ conn), ("batched", lambda: xs @ conn),
                  ("events", lambda: spikes @ conn), ("transpose", lambda: conn.T @ x)]


@pytest.mark.parametrize("law", LAWS, ids=LAW_IDS)
def test_scatter_bits_are_the_same_run_after_run(law):
    # Float atomics in shared-memory tiles made these differ between runs
    # (dense scatters for every law, Normal and Uniform events); integer
    # accumulation gives the same bits.
    _, cases = _scatter_cases(300_000, law)
    for name, product in cases:
        first = _bits(product())
        for _ in range(4):
            assert _bits(product()) == first, name


@pytest.mark.parametrize("law", LAWS, ids=LAW_IDS)
def test_scatter_through_the_transpose_is_bit_equal(law):
    conn, cases = _scatter_cases(50_000, law)
    products_ = dict(cases)
    assert _bits(products_["dense"]()) == _bits(products_["transpose"]())


@pytest.mark.parametrize("law", LAWS, ids=LAW_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_bits_do_not_depend_on_the_launch_geometry(law, dtype, monkeypatch):
    # Other grids, segments, row chunks, and the global-memory path instead
    # of shared tiles: the integer sums, hence the bits, are the same.
    from lazyconn.kernels import _gpu_fixed, _gpu_launch

    spec = Spec((20_000, 30_000), "R", 0.02, law, 8, dtype)
    conn = lazyconn.from_spec(spec)[3:19_990, 11:29_000]
    rng = np.random.default_rng(4)
    x = cp.asarray(rng.standard_normal((2, conn.shape[0])).astype(dtype))
    spikes = lazyconn.BinaryArray(cp.asarray(rng.random(conn.shape[0]) < 0.05))
    first = [_bits(x @ conn), _bits(x[0] @ conn), _bits(spikes @ conn)]
    monkeypatch.setattr(_gpu_launch, "_CTAS_PER_SM", 3)
    monkeypatch.setattr(_gpu_launch, "_CTAS_PER_SM_EVENTS", 1)
    monkeypatch.setattr(_gpu_launch, "_CTAS_PER_SM_SPREAD", 1)
    monkeypatch.setattr(_gpu_launch, "_MIN_LINES_PER_SEGMENT", 256)
    monkeypatch.setattr(_gpu_launch, "_ROWS_PER_CHUNK", 4096)
    assert [_bits(x @ conn), _bits(x[0] @ conn), _bits(spikes @ conn)] == first
    monkeypatch.setitem(_gpu_fixed._MIN_CTAS, (False, 1), 6)  # other registers, other code
    monkeypatch.setattr(_gpu_fixed, "_TILE_BYTES", 64)  # every tile in global memory
    assert [_bits(x @ conn), _bits(x[0] @ conn), _bits(spikes @ conn)] == first


@pytest.mark.parametrize("law", LAWS, ids=LAW_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_cols", [0, 2, 11])  # 0: a vector
def test_scatter_equals_the_reference(law, dtype, n_cols):
    spec = Spec((3000, 40_000), "R", 0.05, law, 6, dtype)
    conn = lazyconn.from_spec(spec)[17:2990, 1234:39_001]
    rng = np.random.default_rng(5)
    shape = (n_cols, conn.shape[0]) if n_cols else (conn.shape[0],)
    x = rng.standard_normal(shape).astype(dtype)
    got = cp.asnumpy(cp.asarray(x) @ conn)
    expected = products.matmul(conn, x, "left", False, reference, np)
    tol = dict(rtol=1e-5, atol=1e-5) if dtype == np.float32 else dict(rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(got, expected, **tol)
    spikes = rng.random(conn.shape[0]) < 0.03
    got = cp.asnumpy(lazyconn.BinaryArray(cp.asarray(spikes)) @ conn)
    expected = products.matmul(conn, spikes, "left", True, reference, np)
    np.testing.assert_allclose(got, expected, **tol)


@pytest.mark.parametrize("law", LAWS, ids=LAW_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_cancels_exactly(law, dtype):
    # Each large line comes twice, with opposite values: its terms cancel
    # exactly in integers (float atomics leave about 1e6 * eps per output),
    # so the result is the one small line's scatter, within its rounding.
    params = Spec((500, 20_000), "R", 0.05, law, 9, dtype).kernel_params()
    rng = np.random.default_rng(6)
    big = np.arange(0, 400, 2)
    lines = np.concatenate([big, big, [401]]).astype(np.int64)
    values = np.concatenate([1e6 * rng.standard_normal((200, 2)), np.zeros((200, 2)), rng.standard_normal((1, 2))])
    values[200:400] = -values[:200]
    values = values.astype(dtype)
    got = cp.asnumpy(gpu.scatter(params, cp.asarray(lines), cp.asarray(values), 0, 20_000, dtype))
    expected = reference.scatter(params, lines[-1:], values[-1:], 0, 20_000, dtype)
    # The small line's one term per output is rounded to the resolution.
    atol = _resolution(params, len(lines), np.abs(values).max(), dtype) / 2
    np.testing.assert_allclose(got, expected, rtol=2 * np.finfo(dtype).eps, atol=atol)
    assert np.count_nonzero(expected) > 0


def test_scatter_of_extreme_operands_is_the_exact_sum_rounded():
    # float64 operands near the overflow threshold and subnormal ones: the
    # bound is formed from exponents, so nothing overflows on the way; a
    # sum beyond the float64 range is inf, as the exact sum rounded is.
    from fractions import Fraction

    spec = Spec((40, 300), "R", 0.2, Uniform(0.5, 1.0), 10, np.float64)
    conn = lazyconn.from_spec(spec)
    dense = conn.todense()
    # float64 products are exact too (fma), so this is the exact sum.
    for x in (np.array([1.5e308, -1.5e308] * 20), np.full(40, 8e307), np.full(40, 3e-320)):
        got = cp.asnumpy(cp.asarray(x) @ conn)
        for j in range(dense.shape[1]):
            exact = sum((Fraction(float(w)) * Fraction(float(v)) for w, v in zip(dense[:, j], x)), Fraction(0))
            try:
                want = float(exact)
            except OverflowError:
                want = np.inf if exact > 0 else -np.inf
            if np.isfinite(want):
                assert abs(got[j] - want) <= 2e-16 * abs(want) + 2 ** -1074, (x[0], j)
            else:
                assert got[j] == want, (x[0], j)


def _resolution(params, n_rows, x_max, dtype):
    """The fixed-point step of an operand column whose largest |entry| is x_max (see _gpu_fixed)."""
    from lazyconn.kernels import _fixed_plan, _gpu_fixed

    shift = _fixed_plan.term_bits(n_rows) - math.frexp(x_max)[1] - _gpu_fixed.weight_exponent(params)
    return 2.0 ** -(shift + (31 if dtype == np.float64 else 0))


def _exact_sums(dense, x):
    """``x @ dense`` exactly (fractions), rounded once to float64."""
    from fractions import Fraction

    out = np.empty(dense.shape[1])
    for j in range(dense.shape[1]):
        rows = np.flatnonzero(dense[:, j])
        out[j] = float(sum((Fraction(float(dense[i, j])) * Fraction(float(x[i])) for i in rows), Fraction(0)))
    return out


def _within_float_rounding(got, exact, reach, params, dtype):
    """|got - exact| <= 2**-(p + 1) * 2**ew * reach (the fixed point, _fixed_plan), plus the final rounding."""
    from lazyconn.kernels import _gpu_fixed

    u = 2.0 ** -(np.finfo(dtype).nmant + 1)
    bound = (u / 2 * 2.0 ** _gpu_fixed.weight_exponent(params) * reach + u * np.abs(exact)) * (1 + 2**-20) + 2.0**-1074
    err = np.abs(got.astype(np.float64) - exact)
    assert np.all(err <= bound), float(np.max(err / bound))


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("n_cols", [0, 3])  # 0: a vector (scatter of lines), 3: rows (scatter_rows)
def test_scatter_of_a_wide_span_keeps_every_output_accurate(dtype, n_cols):
    # One huge entry (1e12) and a few tiny ones (1e-12) among entries near 1:
    # with one resolution per column, outputs the huge entry does not reach
    # were off by about 1e-4 relative (float32), silently.  The finer levels
    # keep every output within float rounding of the exact sum of the terms
    # it receives (exact here: float64 sums of float32 products, or
    # fractions).
    spec = Spec((1000, 5000), "R", 0.02, Normal(0.0, 1.0), 12, dtype)
    conn = lazyconn.from_spec(spec)
    rng = np.random.default_rng(7)
    shape = (n_cols, 1000) if n_cols else (1000,)
    x = rng.standard_normal(shape)
    x[..., 17] = 1e12
    x[..., 30:40] *= 1e-12
    x = x.astype(dtype)
    got = cp.asnumpy(cp.asarray(x) @ conn)
    dense = conn.todense()
    if dtype == np.float32:
        exact = x.astype(np.float64) @ dense.astype(np.float64)  # exact products, float64 sums of 20 terms
    else:
        exact = np.array([_exact_sums(dense, row) for row in x.reshape(-1, 1000)]).reshape(got.shape)
    reach = np.abs(x.astype(np.float64)) @ (dense != 0)
    _within_float_rounding(got, exact, reach, spec.kernel_params(), dtype)
    far = dense[17] == 0
    assert np.abs(exact[..., far]).max() < 1e3 and far.sum() > 4000  # the test means something


@pytest.mark.parametrize("law", LAWS, ids=LAW_IDS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_of_cancelled_large_terms_leaves_the_small_ones_accurate(law, dtype):
    # Large lines (1e15) come twice with opposite values and cancel exactly
    # in integers; small lines (near 1 and near 1e-9) remain.  Each output
    # must be the exact sum of the small terms within float rounding; one
    # resolution for the column (before) left only about 2**-20 of a term
    # near 1 (float32: far worse than its rounding).
    params = Spec((800, 10_000), "R", 0.05, law, 9, dtype).kernel_params()
    rng = np.random.default_rng(6)
    big = np.arange(0, 400, 2)
    small = np.arange(401, 800, 2)
    lines = np.concatenate([big, big, small]).astype(np.int64)
    values = np.concatenate([1e15 * rng.standard_normal((200, 2)), np.zeros((200, 2)), rng.standard_normal((200, 2))])
    values[200:400] = -values[:200]
    values[400:450] *= 1e-9
    values = values.astype(dtype)
    got = cp.asnumpy(gpu.scatter(params, cp.asarray(lines), cp.asarray(values), 0, 10_000, dtype))
    dense = reference.dense(params, 0, 800, 0, 10_000, dtype)[small]
    tail = values[400:]
    if dtype == np.float32:
        exact = dense.T.astype(np.float64) @ tail.astype(np.float64)
    else:
        exact = np.stack([_exact_sums(dense, tail[:, c]) for c in range(2)], axis=1)
    reach = (dense != 0).T.astype(np.float64) @ np.abs(tail.astype(np.float64))
    _within_float_rounding(got, exact, reach, params, dtype)
    assert np.count_nonzero(exact) > 15_000


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_column_exponents_match_frexp_on_the_host(dtype):
    # The deterministic scatter's levels rest on each operand column's largest
    # and smallest frexp exponent (jitc_fixed_exponents): subnormals, the
    # largest finite values, zeros and non-finite entries (skipped) included,
    # in a strided view.
    from lazyconn.kernels import _gpu_fixed

    info = np.finfo(dtype)
    x = np.zeros((700, 5), dtype)
    x[:, 1] = 1.0
    x[3, 0], x[4, 0] = info.max / 4, info.smallest_subnormal
    x[10, 2], x[11, 2] = info.smallest_normal, -info.smallest_subnormal * 3
    x[20, 3], x[21, 3], x[22, 3] = np.inf, np.nan, -info.max
    # column 4 stays zero: no finite nonzero entry
    sums = _gpu_fixed._Sum(Spec((700, 10), "R", 0.1, Scalar(1.0), 1, dtype).kernel_params(), 10, 5, dtype, 700,
                           False)
    sums.exponents(cp.asarray(x)[::1])
    sums.exponents(cp.asarray(np.ascontiguousarray(x[::-1]))[::-1])  # a negative row stride
    has = (np.isfinite(x) & (x != 0)).any(axis=0)
    exps = np.where(np.isfinite(x) & (x != 0), np.frexp(x.astype(np.float64))[1], 0)
    emax = np.where(has, np.where(np.isfinite(x) & (x != 0), exps, -10**6).max(axis=0), _gpu_fixed._NO_EXPONENT)
    emin = np.where(has, np.where(np.isfinite(x) & (x != 0), exps, 10**6).min(axis=0), -_gpu_fixed._NO_EXPONENT)
    np.testing.assert_array_equal(cp.asnumpy(sums.emax), emax)
    np.testing.assert_array_equal(cp.asnumpy(sums.emin), emin)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_scatter_of_a_span_beyond_the_levels_raises(dtype):
    # The largest and the smallest magnitude of the dtype in one column: no
    # fixed point of a few words holds both within rounding; refuse by name,
    # before any work, and point to the default (float atomics) or the host.
    conn = lazyconn.from_spec(Spec((300, 2000), "R", 0.05, Scalar(1.0), 3, dtype))
    x = np.ones(300, dtype)
    x[3] = np.finfo(dtype).max / 4
    x[4] = np.finfo(dtype).smallest_subnormal
    with pytest.raises(ValueError, match=r"operand column 0 spans 2\*\*\d+ .*deterministic=False"):
        cp.asarray(x) @ conn
    with lazyconn.set_options(deterministic=False):
        assert np.isfinite(cp.asnumpy(cp.asarray(x) @ conn)).all()


# ------------------------------------------------------ non-finite operands
def _with_nonfinite(shape, dtype, seed, density=1.0):
    rng = np.random.default_rng(seed)
    x = (rng.standard_normal(shape) * (rng.random(shape) < density)).astype(dtype)
    flat = x.reshape(-1)
    picks = rng.choice(flat.size, size=6, replace=False)
    flat[picks[:2]] = np.nan
    flat[picks[2:4]] = np.inf
    flat[picks[4:]] = -np.inf
    return x


def _sparse_oracle(conn, x, side):
    """scipy.sparse semantics: only stored (connected) entries meet the operand."""
    import scipy.sparse

    dense = conn.todense().astype(np.float64)
    csr = scipy.sparse.csr_matrix(dense)
    xd = x.astype(np.float64)
    return csr @ xd if side == "right" else (csr.T @ xd.T).T


@pytest.mark.parametrize("orientation", ["R", "C"])
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("n_cols", [0, 3])  # 0: a vector
@pytest.mark.parametrize("density", [1.0, 0.02], ids=["dense", "events"])
@pytest.mark.parametrize("law", [Scalar(0.5), Normal(1.0, 0.2), Uniform(0.5, 1.0), Uniform(-1.0, 1.0)],
                         ids=["scalar", "normal", "uniform", "signed"])
def test_nonfinite_operands_reach_only_connected_outputs(orientation, side, n_cols, density, law):
    # Gather (the minor axis meets the operand) and scatter (the major axis;
    # a sparse operand takes the event-driven route), vectors and batches:
    # NaN and inf reach exactly the outputs they are connected to, as in
    # scipy.sparse, and the GPU agrees with the CPU backend.
    from lazyconn.kernels import cpu

    spec = Spec((900, 700), orientation, 0.01, law, 4, np.float32)
    conn = lazyconn.from_spec(spec)
    inner = conn.shape[1] if side == "right" else conn.shape[0]
    if side == "right":
        shape = (inner, n_cols) if n_cols else (inner,)
    else:
        shape = (n_cols, inner) if n_cols else (inner,)
    x = _with_nonfinite(shape, np.float32, 9, density)
    got = cp.asnumpy(conn @ cp.asarray(x) if side == "right" else conn.__rmatmul__(cp.asarray(x)))
    on_cpu = products.matmul(conn, x, side, False, cpu, np)
    oracle = _sparse_oracle(conn, x, side)
    for expected in (on_cpu, oracle):
        np.testing.assert_array_equal(np.isnan(got), np.isnan(expected))
        np.testing.assert_array_equal(np.isposinf(got), np.isposinf(expected))
        np.testing.assert_array_equal(np.isneginf(got), np.isneginf(expected))
        finite = np.isfinite(expected)
        np.testing.assert_allclose(got[finite], expected[finite], rtol=2e-4, atol=2e-4)
    assert np.isfinite(got).sum() > got.size // 2  # the test means something: most outputs stay finite


# ------------------------------------------------------ scaled degrees
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("scale", [1.0, 1e-40, 1e-300])
@pytest.mark.parametrize("law", [Normal(0.0, 1.0), Scalar(0.5), Uniform(0.0, 1e-5)], ids=["normal", "scalar", "uniform"])
def test_degrees_of_a_scaled_window_count_the_scaled_nonzeros(dtype, scale, law):
    spec = Spec((400, 3000), "R", 0.05, law, 11, dtype)
    params = spec.kernel_params()
    k0, k1, j0, j1 = 13, 377, 101, 2950
    dense = reference.dense(params, k0, k1, j0, j1, dtype)
    scaled = (dense.astype(np.float64) * scale).astype(dtype)
    per_line, per_minor = gpu.degrees(params, k0, k1, j0, j1, dtype, scale=scale)
    np.testing.assert_array_equal(cp.asnumpy(per_line), np.count_nonzero(scaled, axis=1))
    np.testing.assert_array_equal(cp.asnumpy(per_minor), np.count_nonzero(scaled, axis=0))
    default_line, _ = gpu.degrees(params, k0, k1, j0, j1, dtype)
    np.testing.assert_array_equal(cp.asnumpy(default_line), np.count_nonzero(dense, axis=1))
