"""Conformance: every kernel backend against the NumPy reference.

One suite, parametrised over :data:`lazyconn.testing.BACKENDS` (the
reference itself, Numba on the CPU, CuPy on the GPU; a backend whose
libraries or device are missing is skipped).  Each backend is called through
its module-level kernels (``dense``, ``coo``, ``degrees``: bit-equal to the
reference; ``gather``, ``scatter``, ``scatter_rows``: within the rounding of
their sums) and through the public matrix API (``todense``, products,
binary events, reductions), for every law x orientation x dtype and the
edge windows (empty, one line, last block, diagonal rules, far from the
origin, p = 0 and 1).  What is specific to one backend (threads, caches,
launch geometry, CuPy operands) stays in that backend's own test file.

A new backend is covered by adding one :class:`lazyconn.testing.BackendCase`
to ``BACKENDS``; a new law by one entry of ``LAW_KINDS``.  Where a backend
does not implement a law yet (listed in ``lazyconn.testing.LAW_BACKENDS``,
empty today: every backend runs every law), its rows check the refusal
instead: a TypeError naming the law from every kernel and from the public
API.  The fixed-number rule (``RULE_BACKENDS``: every backend) has its own
section at the end, with the same checks and a NotImplementedError where a
backend refuses it.
"""

import numpy as np
import pytest
from golden import GOLDEN, GOLDEN_EXTENSION, checksum
from hypothesis import given, settings
from hypothesis import strategies as st

import lazyconn
from lazyconn.kernels import host_backend
from lazyconn.laws import Exponential, LogNormal
from lazyconn.spec import Normal, Scalar, Spec, Uniform
from lazyconn.testing import (
    BACKENDS,
    DTYPES,
    EDGE_PROBABILITIES,
    EDGE_SEEDS,
    LAW_BACKENDS,
    LAW_KINDS,
    LAWS,
    ORIENTATIONS,
    RULE_BACKENDS,
    assert_products_match_reference,
    assert_same_bits,
    assert_sums_close,
    assert_window_matches_reference,
    fixed_number_window_cases,
    law_id,
    line_window_cases,
    line_windows,
    specs,
    to_numpy,
)

#: Scales for ``degrees``: unit, sign, underflow of every weight, zero.
SCALES = (1.0, -3.0, 1e-300, 0.0)


class Loaded:
    """A backend case with its kernel module and array namespace loaded."""

    def __init__(self, case, module, xp):
        self.case, self.module, self.xp = case, module, xp

    def __repr__(self):
        return self.case.name


@pytest.fixture(
    scope="module",
    params=[pytest.param(case, marks=pytest.mark.gpu) if case.on_device else case for case in BACKENDS],
    ids=[case.name for case in BACKENDS],
)
def backend(request):
    """The backend under test; skips when it (or its device) is missing."""
    case = request.param
    if case.array_module == "cupy":
        from gpu_guard import cupy_or_skip

        cupy_or_skip()
    module = pytest.importorskip(case.module)
    return Loaded(case, module, pytest.importorskip(case.array_module))


@pytest.fixture
def api(backend, monkeypatch):
    """The backend, with NumPy operands of the public API routed as its case says."""
    monkeypatch.setenv("LAZYCONN_BACKEND", backend.case.host_choice)
    return backend


def _reference_dense(conn):
    """``conn.todense()`` by the NumPy reference (the oracle of the public API)."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAZYCONN_BACKEND", "reference")
        return conn.todense()


def _refused(backend, law, params, window=(0, 1, 0, 1), dtype=np.float32):
    """Whether the backend does not implement ``law``; if so, check that every
    kernel refuses it with a TypeError that names the law and the host route."""
    if backend.case.supports(law):
        return False
    xp, (k0, k1, j0, j1) = backend.xp, window
    calls = {
        "dense": lambda: backend.module.dense(params, *window, dtype),
        "coo": lambda: backend.module.coo(params, *window, dtype),
        "degrees": lambda: backend.module.degrees(params, *window, dtype),
        "gather": lambda: backend.module.gather(params, *window, xp.ones((j1 - j0, 1)), dtype),
        "scatter": lambda: backend.module.scatter(params, xp.arange(k0, k1), None, j0, j1, dtype),
    }
    if hasattr(backend.module, "scatter_rows"):
        calls["scatter_rows"] = lambda: backend.module.scatter_rows(
            params, k0, xp.ones((k1 - k0, 1), dtype=bool), True, j0, j1, dtype, dtype)
    for call in calls.values():
        with pytest.raises(TypeError, match=f"no kernels for {type(law).__name__} weights.*NumPy operands"):
            call()
    return True


def _api_refused(api, conn):
    """Whether the API backend does not implement the matrix's law; if so, check
    that products and ``todense`` refuse it (never a result of another law)."""
    law = conn.spec.law
    if api.case.supports(law):
        return False
    xp, (m, n) = api.xp, conn.shape
    calls = [
        lambda: conn.todense(xp=xp),
        lambda: conn @ xp.ones(n, np.float32),
        lambda: xp.ones((2, m)) @ conn,
        lambda: lazyconn.BinaryArray(xp.ones(m, dtype=bool)) @ conn,
        lambda: conn[3:, 1:].T @ xp.ones(m - 3),
    ]
    for call in calls:
        with pytest.raises(TypeError, match=f"no kernels for {type(law).__name__} weights"):
            call()
    return True


def _check_window(backend, params, window, dtype, scales=(1.0,)):
    result = backend.module.dense(params, *window, dtype)
    assert isinstance(result, backend.xp.ndarray), type(result)
    return assert_window_matches_reference(backend.module, params, window, dtype, scales)


def test_every_public_law_has_a_conformance_entry():
    # A law added to the package without an entry in LAW_KINDS would be
    # tested by nothing here.
    public = {name[4:-1].lower() for name in lazyconn.__all__ if name.startswith("JITC") and name[-1] in "RC"}
    assert public == set(LAW_KINDS)
    assert {type(law).__name__.lower() for law in LAWS} == set(LAW_KINDS)
    backends = {case.name for case in BACKENDS}
    assert set(LAW_BACKENDS) <= set(LAW_KINDS) and all(b <= backends for b in LAW_BACKENDS.values())


# ------------------------------------------------------- windows: same bits
@settings(max_examples=30)
@given(spec=specs(max_side=40), data=st.data())
def test_windows_are_bit_equal(backend, spec, data):
    window = data.draw(line_windows(spec))
    if _refused(backend, spec.law, spec.kernel_params(), window, spec.dtype):
        return
    scales = (data.draw(st.sampled_from(SCALES)),)
    _check_window(backend, spec.kernel_params(), window, spec.dtype, (1.0,) + scales)


@settings(max_examples=150)
@given(line_window_cases())
def test_windows_on_a_long_minor_axis_are_bit_equal(backend, case):
    # Windows start mid-block, straddle blocks, sit far along the line or on
    # the diagonal of a square matrix without self-connections.
    spec, window = case
    if _refused(backend, spec.law, spec.kernel_params(), window, spec.dtype):
        return
    _check_window(backend, spec.kernel_params(), window, spec.dtype)


# ----------------------------------------------------- products: rounding
def _assert_drawn_products_match(backend, spec, window, data):
    """Products of ``window`` against the reference, with drawn column count, operand dtype and seed."""
    assert_products_match_reference(
        backend.module, spec.kernel_params(), window, spec.dtype,
        n_cols=data.draw(st.sampled_from([1, 3])),
        value_dtype=data.draw(st.sampled_from(DTYPES)),
        seed=data.draw(st.integers(0, 2**32 - 1)),
        xp=backend.xp,
    )


@settings(max_examples=30)
@given(spec=specs(max_side=40), data=st.data())
def test_products_match_the_reference(backend, spec, data):
    window = data.draw(line_windows(spec))
    if _refused(backend, spec.law, spec.kernel_params(), window, spec.dtype):
        return
    _assert_drawn_products_match(backend, spec, window, data)


@settings(max_examples=60)
@given(line_window_cases(max_lines=12, max_width=400), st.sampled_from([1, 2]), st.integers(0, 2**32 - 1))
def test_products_on_a_long_minor_axis_match_the_reference(backend, case, n_cols, seed):
    spec, window = case
    if _refused(backend, spec.law, spec.kernel_params(), window, spec.dtype):
        return
    assert_products_match_reference(backend.module, spec.kernel_params(), window, spec.dtype,
                                    n_cols=n_cols, seed=seed, xp=backend.xp)


# --------------------------------------------------------- edge windows
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("law", LAWS, ids=law_id)
@pytest.mark.parametrize("seed", EDGE_SEEDS)
@pytest.mark.parametrize("prob", EDGE_PROBABILITIES)
def test_edge_probabilities_over_several_blocks(backend, prob, seed, law, dtype):
    # 3 x 5000 spans several blocks for p >= 0.01; the second window cuts
    # blocks in the middle; include_self=False needs a square matrix.
    params = Spec((3, 5000), "R", prob, law, seed, dtype).kernel_params()
    if _refused(backend, law, params, (0, 3, 0, 5000), dtype):
        return
    for window in [(0, 3, 0, 5000), (1, 3, 257, 4099)]:
        _check_window(backend, params, window, dtype)
    assert_products_match_reference(backend.module, params, (0, 3, 0, 5000), dtype, n_cols=2, xp=backend.xp)
    params = Spec((300, 300), "C", prob, law, seed, dtype, include_self=False).kernel_params()
    dense = _check_window(backend, params, (0, 300, 0, 300), dtype)
    assert not np.diagonal(dense).any()
    if prob == 1.0:
        assert (dense != 0).sum() == 300 * 299
    assert_products_match_reference(backend.module, params, (0, 300, 0, 300), dtype, n_cols=1, xp=backend.xp)


#: Named line-space cases: (shape, prob, include_self, windows).
REGIMES = {
    # Empty windows: no lines, no minor extent, both.
    "empty": ((10, 10), 0.5, True, [(3, 3, 0, 10), (0, 10, 6, 6), (4, 4, 5, 5)]),
    # One line, one entry, the last line and the last (partial) block.
    "one line, last block": ((50, 5000), 0.3, True, [(7, 8, 0, 5000), (49, 50, 4999, 5000), (45, 50, 4864, 5000)]),
    # The diagonal inside and across the window, without self-connections.
    "diagonal without self": ((300, 300), 0.3, False, [(100, 140, 90, 160), (0, 300, 0, 300), (299, 300, 0, 300)]),
    # Thousands of connections per line: many batches and buffer flushes.
    "long lines": ((2, 20_000), 0.5, True, [(0, 2, 0, 20_000)]),
    # Many lines and blocks in one launch; 12 and 2 blocks per line.
    "many blocks": ((400, 3000), 0.3, True, [(3, 400, 5, 3000)]),
    "two blocks": ((400, 300), 0.3, True, [(3, 400, 5, 300)]),
    "dense lines": ((60, 5000), 0.99, True, [(0, 60, 0, 5000)]),
    "many lines": ((300, 5000), 0.01, True, [(0, 300, 0, 5000)]),
    # p = 1e-4: 2**19-entry blocks, no gap table; windows off a block edge.
    "small p": ((3000, 3000), 1e-4, False, [(3, 3000, 7, 3000)]),
    # Output rows relative to windows far from line 0.
    "far from the origin": ((60_000, 3000), 0.05, True, [(50_000, 50_004, 100, 3000), (59_990, 60_000, 100, 3000)]),
    "far, without self": ((3000, 3000), 0.05, False, [(2990, 3000, 7, 2500)]),
}


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("law", LAWS, ids=law_id)
@pytest.mark.parametrize("regime", list(REGIMES))
def test_edge_windows(backend, regime, law, dtype):
    shape, prob, include_self, windows = REGIMES[regime]
    params = Spec(shape, "R", prob, law, 5, dtype, include_self).kernel_params()
    if _refused(backend, law, params, windows[0], dtype):
        return
    for window in windows:
        _check_window(backend, params, window, dtype, (1.0, 1e-300))
        for n_cols in (1, 5):
            # One column in the matrix dtype, five in float64 (a wider accumulator).
            assert_products_match_reference(backend.module, params, window, dtype, n_cols=n_cols,
                                            value_dtype=dtype if n_cols == 1 else np.float64, seed=n_cols,
                                            xp=backend.xp)


# ------------------------------------------------------------ public API
def _matrix(orientation, law, dtype, shape=(120, 90), prob=0.1, seed=2**64 - 1):
    return lazyconn.from_spec(Spec(shape, orientation, prob, law, seed, dtype))


def _views(conn):
    """The matrix, a window, its transpose and a scaled window, each with its float64 oracle.

    A product scales in the result dtype, whereas ``todense()`` of a scaled
    float32 view rounds to float32: the oracle is the unscaled window times
    the scale in float64.
    """
    window = conn[3:110, 7:]
    dense = _reference_dense(window).astype(np.float64)
    return {
        "full": (conn, _reference_dense(conn).astype(np.float64)),
        "window": (window, dense),
        "transpose": (window.T, dense.T),
        "scaled": (window * -2.5, dense * -2.5),
    }


@pytest.mark.parametrize("cls, kwargs, expected", GOLDEN, ids=[g[0].__name__ for g in GOLDEN])
def test_golden_checksums(api, cls, kwargs, expected):
    if not api.case.on_device:
        assert host_backend() is api.module
    dense = cls(**kwargs).todense(xp=api.xp)
    assert isinstance(dense, api.xp.ndarray)
    assert checksum(to_numpy(dense)) == expected


@pytest.mark.parametrize("cls, kwargs, expected", GOLDEN_EXTENSION,
                         ids=[f"{g[0].__name__}-{g[1].get('dtype', np.float32).__name__}" for g in GOLDEN_EXTENSION])
def test_golden_checksums_of_the_extension_laws(api, cls, kwargs, expected):
    conn = cls(**kwargs)
    if _api_refused(api, conn):
        return
    dense = conn.todense(xp=api.xp)
    assert isinstance(dense, api.xp.ndarray)
    assert checksum(to_numpy(dense)) == expected


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("law", LAWS, ids=law_id)
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_todense_is_bit_equal_to_the_reference(api, orientation, law, dtype):
    if _api_refused(api, _matrix(orientation, law, dtype)):
        return
    for name, (view, _) in _views(_matrix(orientation, law, dtype)).items():
        dense = view.todense(xp=api.xp)
        assert isinstance(dense, api.xp.ndarray), name
        assert_same_bits(dense, _reference_dense(view))


def _expected_product(dense, x, side):
    d, xh = dense.astype(np.float64), x.astype(np.float64)
    if side == "right":
        return d @ xh, np.abs(d) @ np.abs(xh), dense.shape[1]
    return xh @ d, np.abs(xh) @ np.abs(d), dense.shape[0]


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("law", LAWS, ids=law_id)
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_products_match_the_dense_matrix(api, orientation, law, dtype):
    if _api_refused(api, _matrix(orientation, law, dtype)):
        return
    xp, rng = api.xp, np.random.default_rng(2)
    for name, (view, dense) in _views(_matrix(orientation, law, dtype)).items():
        m, n = view.shape
        operands = [("right", (n,)), ("right", (n, 4)), ("right", (n, 19)), ("left", (m,)), ("left", (3, m))]
        for (side, shape), x_dtype in zip(operands, [np.float32, np.float64, np.float32, np.float64, np.float32]):
            x = (rng.normal(size=shape) * (rng.random(shape) < 0.5)).astype(x_dtype)
            result = view @ xp.asarray(x) if side == "right" else xp.asarray(x) @ view
            assert isinstance(result, xp.ndarray), (name, side, shape)
            expected, abs_sums, count = _expected_product(dense, x, side)
            result_dtype = np.result_type(x_dtype, dtype)
            assert result.dtype == result_dtype, (name, side, shape, result.dtype)
            assert_sums_close(result, expected, abs_sums, count, result_dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("law", LAWS, ids=law_id)
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_binary_events_match_the_dense_matrix(api, orientation, law, dtype):
    if _api_refused(api, _matrix(orientation, law, dtype, shape=(700, 500), prob=0.05)):
        return
    xp, rng = api.xp, np.random.default_rng(4)
    for name, (view, dense) in _views(_matrix(orientation, law, dtype, shape=(700, 500), prob=0.05)).items():
        m = view.shape[0]
        for spikes in (rng.random(m) < 0.03, rng.random((5, m)) < 0.1, np.zeros(m, dtype=bool)):
            result = lazyconn.BinaryArray(xp.asarray(spikes)) @ view
            assert isinstance(result, xp.ndarray) and result.dtype == dtype, (name, result.dtype)
            expected, abs_sums, count = _expected_product(dense, spikes, "left")
            assert_sums_close(result, expected, abs_sums, count, dtype)
            # The same events on the right of the transpose.
            assert_sums_close(view.T @ lazyconn.BinaryArray(xp.asarray(spikes.T)), expected.T, abs_sums.T, count, dtype)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("law", [Normal(0.3, 2.0), Uniform(-1.0, 3.0), Scalar(0.7), LogNormal(0.2, 1.1),
                                 Exponential(0.7)], ids=law_id)
def test_products_with_unit_vectors_reproduce_the_weights_bit_for_bit(api, law, dtype):
    # One nonzero term per output: the product kernels' weights must be the
    # dense kernel's bits.
    conn = lazyconn.from_spec(Spec((300, 260), "R", 0.3, law, 2**64 - 1, dtype))
    if _api_refused(api, conn):
        return
    dense = _reference_dense(conn)
    xp = api.xp
    assert_same_bits(conn @ xp.asarray(np.eye(260, 9, dtype=dtype)), np.ascontiguousarray(dense[:, :9]))
    assert_same_bits(xp.asarray(np.eye(9, 300, dtype=dtype)) @ conn, np.ascontiguousarray(dense[:9]))
    assert_same_bits(conn @ xp.asarray(np.eye(260, 1, dtype=dtype)[:, 0]), np.ascontiguousarray(dense[:, 0]))


def test_empty_and_zero_probability_products(api):
    xp = api.xp
    empty = lazyconn.JITCScalarR(40, 30, prob=0.0, weight=1.0, seed=0)
    assert not to_numpy(empty @ xp.ones(30, np.float32)).any()
    assert not to_numpy(xp.ones(40, np.float32) @ empty).any()
    quiet = lazyconn.JITCScalarR(40, 30, prob=0.5, weight=1.0, seed=0)
    assert not to_numpy(xp.zeros(40, np.float32) @ quiet).any()
    assert not to_numpy(lazyconn.BinaryArray(xp.zeros(40, dtype=bool)) @ quiet).any()
    for view in (quiet[5:5, :], quiet[:, 7:7]):
        result = view @ xp.ones(view.shape[1], np.float32)
        assert result.shape == (view.shape[0],)


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("law", LAWS, ids=law_id)
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_host_reductions_and_connection_lists(api, orientation, law, dtype):
    if api.case.on_device:
        pytest.skip("count_nonzero, sum and tocoo_arrays run on the host backend")
    for name, (view, _) in _views(_matrix(orientation, law, dtype)).items():
        dense = _reference_dense(view)
        assert view.count_nonzero() == np.count_nonzero(dense), name
        for axis in (0, 1):
            np.testing.assert_array_equal(view.count_nonzero(axis=axis), np.count_nonzero(dense, axis=axis))
            assert_sums_close(view.sum(axis=axis, dtype=np.float64), dense.astype(np.float64).sum(axis=axis),
                              np.abs(dense.astype(np.float64)).sum(axis=axis), dense.shape[axis], dtype)
        rows, cols, values = view.tocoo_arrays()
        expected_rows, expected_cols = np.nonzero(dense)
        assert_same_bits(rows, expected_rows.astype(np.int64))
        assert_same_bits(cols, expected_cols.astype(np.int64))
        assert_same_bits(values, dense[expected_rows, expected_cols])


# ------------------------------------------------------ fixed-number rule
def _rule_refused(backend, spec, window=(0, 1, 0, 1)):
    """Whether the backend does not implement the spec's rule; if so, check that
    every kernel refuses it (a law it lacks too may be refused first)."""
    name = lazyconn.rules.by_code(spec.kernel_params().rule).name
    if backend.case.supports_rule(name):
        return _refused(backend, spec.law, spec.kernel_params(), window, spec.dtype)
    params, xp, (k0, k1, j0, j1), dtype = spec.kernel_params(), backend.xp, window, spec.dtype
    expected = NotImplementedError if backend.case.supports(spec.law) else (NotImplementedError, TypeError)
    for call in (lambda: backend.module.dense(params, *window, dtype),
                 lambda: backend.module.coo(params, *window, dtype),
                 lambda: backend.module.degrees(params, *window, dtype),
                 lambda: backend.module.gather(params, *window, xp.ones((j1 - j0, 1)), dtype),
                 lambda: backend.module.scatter(params, xp.arange(k0, k1), None, j0, j1, dtype)):
        with pytest.raises(expected, match="no kernels for"):
            call()
    return True


def test_every_rule_backend_is_a_backend():
    backends = {case.name for case in BACKENDS}
    assert all(names <= backends and "reference" in names for names in RULE_BACKENDS.values())
    assert set(RULE_BACKENDS) <= {lazyconn.rules.by_code(code).name for code in (0, 1)}


@settings(max_examples=40)
@given(spec=specs(max_side=40, rules=("FixedNumber",)), data=st.data())
def test_fixed_number_windows_are_bit_equal(backend, spec, data):
    window = data.draw(line_windows(spec))
    if _rule_refused(backend, spec, window):
        return
    scales = (data.draw(st.sampled_from(SCALES)),)
    _check_window(backend, spec.kernel_params(), window, spec.dtype, (1.0,) + scales)


@settings(max_examples=80)
@given(fixed_number_window_cases())
def test_fixed_number_windows_on_a_long_minor_axis_are_bit_equal(backend, case):
    # The walk of a window starting at j0 > 0 starts at the line's start and
    # stops at j1: the positions must be those of the whole line.
    spec, window = case
    if _rule_refused(backend, spec, window):
        return
    _check_window(backend, spec.kernel_params(), window, spec.dtype)


@settings(max_examples=40)
@given(spec=specs(max_side=40, rules=("FixedNumber",)), data=st.data())
def test_fixed_number_products_match_the_reference(backend, spec, data):
    window = data.draw(line_windows(spec))
    if _rule_refused(backend, spec, window):
        return
    _assert_drawn_products_match(backend, spec, window, data)


@settings(max_examples=30)
@given(fixed_number_window_cases(max_lines=10, max_width=400), st.sampled_from([1, 2]), st.integers(0, 2**32 - 1))
def test_fixed_number_products_on_a_long_minor_axis_match_the_reference(backend, case, n_cols, seed):
    spec, window = case
    if _rule_refused(backend, spec, window):
        return
    assert_products_match_reference(backend.module, spec.kernel_params(), window, spec.dtype,
                                    n_cols=n_cols, seed=seed, xp=backend.xp)


#: Named fixed-number cases: (shape, num_conn, include_self, windows).
FIXED_REGIMES = {
    "empty": ((10, 10), 0, True, [(0, 10, 0, 10), (3, 3, 0, 10)]),
    "all": ((40, 300), 300, True, [(0, 40, 0, 300), (5, 9, 100, 299)]),
    "all but the diagonal": ((300, 300), 299, False, [(0, 300, 0, 300), (290, 300, 280, 300)]),
    "one per line": ((200, 5000), 1, True, [(0, 200, 0, 5000), (3, 150, 2500, 5000)]),
    "one of one": ((7, 1), 1, True, [(0, 7, 0, 1)]),
    "dense lines (ln1p steps)": ((12, 1000), 800, True, [(0, 12, 0, 1000), (0, 12, 333, 777)]),
    # K > 256: a line fills many batches and outgrows every buffer.
    "long lines": ((4, 20_000), 5000, True, [(0, 4, 0, 20_000), (1, 3, 15_000, 19_999)]),
    "diagonal without self": ((3000, 3000), 100, False, [(100, 140, 90, 160), (2990, 3000, 7, 2995)]),
    "far from the origin": ((60_000, 3000), 150, True, [(50_000, 50_004, 100, 3000)]),
}


#: The rule's edge cases are about positions, which no law changes: a
#: constant law and a deferred weighted one (its weight slots) cover them;
#: every law meets the rule in the product and public-API tests.
FIXED_EDGE_LAWS = tuple(law for law in LAWS if type(law).__name__ in ("Scalar", "LogNormal"))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("law", FIXED_EDGE_LAWS, ids=law_id)
@pytest.mark.parametrize("regime", list(FIXED_REGIMES))
def test_fixed_number_edge_windows(backend, regime, law, dtype):
    shape, num_conn, include_self, windows = FIXED_REGIMES[regime]
    spec = Spec(shape, "R", None, law, 5, dtype, include_self, num_conn=num_conn)
    if _rule_refused(backend, spec, windows[0]):
        return
    params = spec.kernel_params()
    for window in windows:
        dense = _check_window(backend, params, window, dtype, (1.0, 1e-300))
        if window[2:] == (0, shape[1]):
            assert np.all((dense != 0).sum(axis=1) == num_conn)
        for n_cols in (1, 5):
            assert_products_match_reference(backend.module, params, window, dtype, n_cols=n_cols,
                                            value_dtype=dtype if n_cols == 1 else np.float64, seed=n_cols,
                                            xp=backend.xp)


def _fixed_matrix(orientation, law, dtype, shape=(120, 90), seed=2**64 - 1):
    minor = shape[1] if orientation == "R" else shape[0]
    return lazyconn.from_spec(Spec(shape, orientation, None, law, seed, dtype, num_conn=minor // 9))


@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("law", LAWS, ids=law_id)
@pytest.mark.parametrize("orientation", ORIENTATIONS)
def test_fixed_number_public_api(api, orientation, law, dtype):
    conn = _fixed_matrix(orientation, law, dtype)
    if _rule_refused(api, conn.spec):
        return
    xp, rng = api.xp, np.random.default_rng(5)
    for name, (view, dense) in _views(conn).items():
        assert_same_bits(view.todense(xp=xp), _reference_dense(view))
        m, n = view.shape
        for side, shape, x_dtype in [("right", (n,), np.float32), ("right", (n, 4), np.float64),
                                     ("left", (m,), np.float64), ("left", (3, m), np.float32)]:
            x = (rng.normal(size=shape) * (rng.random(shape) < 0.5)).astype(x_dtype)
            result = view @ xp.asarray(x) if side == "right" else xp.asarray(x) @ view
            expected, abs_sums, count = _expected_product(dense, x, side)
            assert result.dtype == np.result_type(x_dtype, dtype), (name, side)
            assert_sums_close(result, expected, abs_sums, count, result.dtype)
        spikes = rng.random(m) < 0.05
        expected, abs_sums, count = _expected_product(dense, spikes, "left")
        assert_sums_close(lazyconn.BinaryArray(xp.asarray(spikes)) @ view, expected, abs_sums, count, dtype)
        if not api.case.on_device:
            exact = _reference_dense(view)
            assert view.count_nonzero() == np.count_nonzero(exact), name
            np.testing.assert_array_equal(view.count_nonzero(axis=0), np.count_nonzero(exact, axis=0))
            rows, cols, values = view.tocoo_arrays()
            expected_rows, expected_cols = np.nonzero(exact)
            assert_same_bits(rows, expected_rows.astype(np.int64))
            assert_same_bits(cols, expected_cols.astype(np.int64))
            assert_same_bits(values, exact[expected_rows, expected_cols])
    # Exactly K entries on every line of the generator, in the user's orientation.
    if not api.case.on_device:
        counts = np.count_nonzero(_reference_dense(conn), axis=1 if orientation == "R" else 0)
        assert np.all(counts == conn.spec.num_conn)
