"""The CuPy backend against the NumPy reference: same bits, same products.

Runs only where CuPy imports and sees a usable GPU; elsewhere every test is
skipped.  Launch geometry is shrunk in some tests (``small_launch``) so that
small matrices still reach multi-tile, multi-segment and global-memory paths.
"""

import math

import numpy as np
import pytest

from gpu_guard import cupy_or_skip  # noqa: E402

cp = cupy_or_skip()

from hypothesis import given, settings  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import lazyconn  # noqa: E402
from lazyconn.bench import device_extra_bytes  # noqa: E402
from lazyconn.kernels import _gpu_launch, _ndtri_fast, gpu, reference  # noqa: E402
from lazyconn.laws import Exponential, LogNormal  # noqa: E402
from lazyconn.spec import Normal, Scalar, Spec, Uniform  # noqa: E402

pytestmark = pytest.mark.gpu


@pytest.fixture(autouse=True, scope="module")
def _reference_on_the_host():
    """Host-side oracles come from the NumPy reference, whatever else is installed."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAZYCONN_BACKEND", "reference")
        yield

SEEDS = [0, 2**64 - 1, 12345, 2**32, 2**63 + 7]
LAWS = [Scalar(0.5), Scalar(-1.25), Normal(0.0, 1.0), Normal(1.0, 0.3), Uniform(-1.0, 2.0), Uniform(0.25, 0.25),
        LogNormal(-0.5, 0.8), LogNormal(0.0, 0.0), Exponential(1.5)]
DTYPES = [np.float32, np.float64]


@pytest.fixture
def small_launch(monkeypatch):
    """Tiny CTAs, tiles and segments: multi-tile and multi-segment paths on small inputs."""
    monkeypatch.setattr(_gpu_launch, "_THREADS", 32)
    monkeypatch.setattr(_gpu_launch, "_TILE_BYTES", 4096)
    monkeypatch.setattr(_gpu_launch, "_MIN_LINES_PER_SEGMENT", 3)
    monkeypatch.setattr(_gpu_launch, "_CTAS_PER_SM", 64)
    monkeypatch.setattr(_gpu_launch, "_CTAS_PER_SM_EVENTS", 64)
    monkeypatch.setattr(_gpu_launch, "_CTAS_PER_SM_SPREAD", 64)


# ------------------------------------------------------------------ matrices
@pytest.mark.parametrize("prob", [0.01, 0.05, 0.3])
def test_gap_fast_path_equals_float64_on_a_million_words(prob):
    # The float32 gap must never differ from the float64 one (the
    # benchmark script checks all 2**32 words); 2**20 words keep this quick,
    # and the ends of the word range hold the extreme u.
    c = Spec((1, 1), "R", prob, Scalar(1.0), 0, np.float32).kernel_params().inv_log_q
    for first in (0, 2**31 - 2**19, 2**32 - 2**20):
        mismatches, fallbacks = gpu.gap_check(c, first, 2**20)
        assert mismatches == 0
        assert fallbacks < 2**20 // 50  # the fast path does the work


# ------------------------------------------------------------------ products
def _host_result(conn, x, side, binary=False):
    """The reference product on host copies: the oracle."""
    from lazyconn import products

    xh = x.get()
    return products.matmul(conn, xh, side, binary, reference, np)


def _tolerance(dtype):
    return dict(rtol=2e-4, atol=2e-4) if np.dtype(dtype) == np.float32 else dict(rtol=1e-10, atol=1e-10)


@st.composite
def product_cases(draw):
    prob = draw(st.sampled_from([0.0, 3e-4, 0.01, 0.05, 0.3, 0.7, 1.0]))
    m = draw(st.integers(1, 400))
    n = m if draw(st.booleans()) else draw(st.integers(1, 400))
    law = draw(st.sampled_from(LAWS))
    dtype = draw(st.sampled_from(DTYPES))
    orientation = draw(st.sampled_from("RC"))
    include_self = m != n or draw(st.booleans())  # square: sometimes an empty diagonal
    spec = Spec((m, n), orientation, prob, law, draw(st.sampled_from(SEEDS)), dtype, include_self)
    conn = lazyconn.from_spec(spec)
    r0 = draw(st.integers(0, m - 1))
    c0 = draw(st.integers(0, n - 1))
    conn = conn[r0:draw(st.integers(r0 + 1, m)), c0:draw(st.integers(c0 + 1, n))]
    return conn, draw(st.sampled_from([1, 2, 3, 9])), draw(st.sampled_from([np.float32, np.float64]))


def _operand(shape, dtype, seed, sparsity=0.5):
    rng = np.random.default_rng(seed)
    x = rng.standard_normal(shape) * (rng.random(shape) < sparsity)
    return cp.asarray(x.astype(dtype))


@settings(max_examples=60)
@given(product_cases(), st.integers(0, 2**32 - 1), st.booleans())
def test_products_are_close_to_the_reference(case, seed, use_small_launch):
    conn, batch, xdtype = case
    m, n = conn.shape
    names = ("_THREADS", "_TILE_BYTES", "_MIN_LINES_PER_SEGMENT", "_CTAS_PER_SM", "_CTAS_PER_SM_EVENTS")
    saved = [getattr(_gpu_launch, name) for name in names]
    if use_small_launch:
        for name, value in zip(names, (32, 2048, 2, 64, 64)):
            setattr(_gpu_launch, name, value)
    try:
        for side, shape in (("right", (n,)), ("right", (n, batch)), ("left", (m,)), ("left", (batch, m))):
            x = _operand(shape, xdtype, seed)
            result = conn @ x if side == "right" else conn.__rmatmul__(x)
            expected = _host_result(conn, x, side)
            assert isinstance(result, cp.ndarray)
            assert result.shape == expected.shape and result.dtype == expected.dtype
            np.testing.assert_allclose(result.get(), expected, **_tolerance(expected.dtype))
    finally:
        for name, value in zip(names, saved):
            setattr(_gpu_launch, name, value)


@pytest.mark.parametrize(
    "law", [Scalar(0.75), Normal(0.5, 1.0), Uniform(0.0, 1.0), LogNormal(0.1, 0.6), Exponential(0.4)],
    ids=["scalar", "normal", "uniform", "lognormal", "exponential"],
)
@pytest.mark.parametrize("orientation", ["R", "C"])
def test_binary_events_equal_the_dense_path(law, orientation, small_launch):
    spec = Spec((700, 500), orientation, 0.05, law, 11, np.float32)
    conn = lazyconn.from_spec(spec)
    rng = np.random.default_rng(4)
    spikes = cp.asarray(rng.random(700) < 0.03)
    events = lazyconn.BinaryArray(spikes) @ conn
    dense = spikes.astype(np.float32) @ conn.todense(xp=cp)
    assert isinstance(events, cp.ndarray) and events.dtype == np.float32
    np.testing.assert_allclose(events.get(), dense.get(), rtol=1e-5, atol=1e-5)
    # The event-driven scatter equals the dense-operand path through the same kernels.
    weighted = conn.__rmatmul__(spikes.astype(np.float32))
    np.testing.assert_allclose(events.get(), weighted.get(), rtol=1e-5, atol=1e-5)
    # And the same spikes on the right of the transpose.
    np.testing.assert_allclose((conn.T @ lazyconn.BinaryArray(spikes)).get(), events.get(), rtol=1e-5, atol=1e-5)


def test_binary_counts_are_exact_integers_times_the_weight():
    conn = lazyconn.JITCScalarR(2000, 3000, prob=0.02, weight=0.1, seed=8)
    spikes = cp.zeros(2000, dtype=bool)
    spikes[::7] = True
    result = lazyconn.BinaryArray(spikes) @ conn
    counts = conn.todense()[::7].astype(bool).sum(axis=0)
    np.testing.assert_array_equal(result.get(), counts.astype(np.float32) * np.float32(0.1))


@pytest.mark.parametrize("prob, tile_bytes", [(1e-4, 32 * 1024), (0.01, 1024)])
def test_global_memory_path_when_tiles_do_not_fit(prob, tile_bytes, monkeypatch):
    # Small p means blocks of 2**19 entries: tiles no longer fit in shared
    # memory, and the kernels address global memory instead.  A tiny tile
    # budget forces the same path at p = 0.01.
    monkeypatch.setattr(_gpu_launch, "_TILE_BYTES", tile_bytes)
    conn = lazyconn.JITCNormalR(50, 30000, prob=prob, loc=0.0, scale=1.0, seed=1)
    y = _operand((30000, 2), np.float64, 3, sparsity=1.0)
    np.testing.assert_allclose((conn @ y).get(), _host_result(conn, y, "right"), rtol=1e-10, atol=1e-10)
    x = _operand((50,), np.float32, 4, sparsity=1.0)
    np.testing.assert_allclose(conn.__rmatmul__(x).get(), _host_result(conn, x, "left"), rtol=2e-4, atol=2e-4)


# ------------------------------------------------------------------ plumbing
def test_host_operands_are_refused_by_the_gpu_kernels():
    params = Spec((10, 10), "R", 0.5, Scalar(1.0), 0, np.float32).kernel_params()
    with pytest.raises(TypeError, match="needs CuPy arrays.*cupy.asarray"):
        gpu.gather(params, 0, 10, 0, 10, np.ones((10, 1), np.float32), np.float32)
    with pytest.raises(TypeError, match="host and device operands cannot be mixed"):
        gpu.scatter(params, np.arange(3), None, 0, 10, np.float32)


def test_numpy_operands_stay_on_the_host_after_the_gpu_backend_is_loaded():
    conn = lazyconn.JITCScalarR(30, 20, prob=0.3, weight=1.0, seed=0)
    assert isinstance(conn @ np.ones(20, np.float32), np.ndarray)
    assert isinstance(conn @ cp.ones(20, cp.float32), cp.ndarray)


def test_the_generator_record_has_the_same_layout_on_host_and_device():
    # CuPy copies the host record's bytes into the kernel parameter: every
    # field must sit where the device compiler put it.
    device, host = _gpu_launch.gen_layout()
    assert device == host


def test_first_call_compile_time_is_reported():
    gpu.dense(Spec((4, 4), "R", 0.5, Scalar(1.0), 0, np.float32).kernel_params(), 0, 4, 0, 4, np.float32)
    seconds = gpu.compile_seconds()
    assert "jitc_dense<float, ScalarLaw, BernoulliWalk>" in seconds
    assert all(math.isfinite(s) and s >= 0 for s in seconds.values())


def _undecided_at_full_density(params, k0, k1, j0, j1, loc, scale):
    """Words of window ``[k0:k1, j0:j1]`` of a p = 1 matrix the float32 route leaves to AS241."""
    from lazyconn.random import philox4x32, words_to_uniform

    block = 1 << params.block_log2
    k, j = np.meshgrid(np.arange(k0, k1), np.arange(j0, j1), indexing="ij")
    slot = j % block  # p = 1: every gap is 0, so slot s sits at position s
    words = philox4x32((slot // 4, j // block, k, 1), (params.key0, params.key1))
    word = np.choose(slot % 4, words)
    fast = _ndtri_fast.normal_weights32_batch(words_to_uniform(word).ravel(), loc, scale, _ndtri_fast.load_table())
    return int(np.isnan(fast).sum())


@pytest.mark.parametrize("loc, scale", [(0.0, 1.0), (-3.0, 7.5)])
def test_float32_normal_route_and_its_fallback_give_the_reference_weights(loc, scale):
    # p = 1: every slot is a connection, so 2**21 consecutive weight words of
    # each path (single weights in the dense kernel, batches of four in the
    # gather) are compared bit for bit, AS241 fallbacks included.
    spec = Spec((64, 2**15), "R", 1.0, Normal(loc, scale), 20240601, np.float32)
    params = spec.kernel_params()
    assert _undecided_at_full_density(params, 0, 64, 0, 2**15, loc, scale) > 0
    host = reference.dense(params, 0, 64, 0, 2**15, np.float32)
    assert gpu.dense(params, 0, 64, 0, 2**15, np.float32).get().tobytes() == host.tobytes()
    # The gather: a one-column window of 2**21 lines times a vector holding 1.
    tall = Spec((2**21, 4), "R", 1.0, Normal(loc, scale), 20240601, np.float32).kernel_params()
    assert _undecided_at_full_density(tall, 0, 2**21, 3, 4, loc, scale) > 0
    column = gpu.gather(tall, 0, 2**21, 3, 4, cp.ones((1, 1), np.float32), np.float32).get()
    assert column.tobytes() == reference.dense(tall, 0, 2**21, 3, 4, np.float32).tobytes()


def test_device_normal_candidate_is_within_half_its_bound_on_every_word():
    # The kernels evaluate the float32 Normal route's candidate with fused
    # multiply-adds, not in the Numba twin's order: its error is measured on
    # all 2**31 folded words, against the bound the kernels decide with.
    bound = float(_ndtri_fast.load_table()[:, -1].max())
    violations, worst = gpu.ndtri_check()
    assert violations == 0
    assert 0.0 < worst <= bound / 2


def test_ndtri_check_refuses_words_outside_the_folded_range():
    with pytest.raises(ValueError, match="first"):
        gpu.ndtri_check(2**31 - 4, 8)


@pytest.mark.parametrize("binary", [False, True], ids=["values", "binary"])
@pytest.mark.parametrize("n_cols", [1, 3])
def test_event_detection_in_chunks_equals_the_reference(binary, n_cols, monkeypatch):
    # Rows are detected and scattered chunk by chunk (2048 rows here), all
    # into one output; a windowed view also offsets the lines of each chunk.
    monkeypatch.setattr(_gpu_launch, "_ROWS_PER_CHUNK", 2048 * n_cols)
    conn = lazyconn.JITCNormalR(9000, 700, prob=0.05, loc=0.5, scale=1.0, seed=3)[1234:8765, 50:650]
    rng = np.random.default_rng(0)
    x = rng.random((7531, n_cols)) < 0.02 if binary else rng.standard_normal((7531, n_cols)) * (rng.random((7531, 1)) < 0.3)
    x[2048:4096] = 0  # a chunk without events
    host = x.T if n_cols > 1 else x[:, 0]  # (n_cols, rows) @ conn, or a vector
    operand = lazyconn.BinaryArray(cp.asarray(host)) if binary else cp.asarray(host)
    got = operand @ conn
    expected = host.astype(np.float64) @ conn.todense().astype(np.float64)
    np.testing.assert_allclose(cp.asnumpy(got), expected, rtol=1e-5, atol=1e-4)


@pytest.mark.slow
def test_scatter_memory_beyond_operand_and_result_is_bounded():
    # 2**24 rows, all active: one list of active lines alone would take
    # 128 MiB; in chunks the product needs a few tens of MiB beyond its
    # operand and result.
    rows = 2**24
    conn = lazyconn.JITCScalarR(rows, 256, prob=1e-3, weight=1.0, seed=9)
    x = cp.ones(rows, dtype=cp.float32)
    conn[:4096].__rmatmul__(x[:4096])  # compile outside the measurement
    out, beyond = device_extra_bytes(lambda: conn.__rmatmul__(x))
    assert beyond < 64 * 2**20, beyond / 2**20
    # Oracle: the degree kernel's exact per-column counts (weight 1).
    _, per_column = gpu.degrees(conn.spec.kernel_params(), 0, rows, 0, 256, np.float32)
    np.testing.assert_array_equal(cp.asnumpy(out), cp.asnumpy(per_column).astype(np.float32))
