"""NaN and inf in operands follow sparse-matrix semantics (issue 11, item 12).

The rule: ``M @ y`` and ``x @ M`` equal ``scipy.sparse``'s product with the
CSR matrix of the same window, ``M.tocsr()``.  A non-finite operand entry
reaches exactly the outputs it is connected to; an output with no connection
to it stays finite.  Dense arithmetic differs: ``M.todense() @ y`` spreads a
NaN or inf through the unconnected zeros (``0 * nan`` is NaN) to every output.

Compared entry by entry with the float64 SciPy product: the NaN positions are
identical, the +inf and -inf positions (and signs) are identical, and the
finite entries agree within rounding.

Zero weights.  A connection whose weight is 0 (``Scalar(0.0)``, ``Normal(0,
0)``, a view scaled by 0) is still a connection: the walk that places
connections does not look at weights, ``tocsr()`` stores it as an explicit
zero (pinned below: its pattern is that of the same generator with weight
1), and a non-finite operand entry meeting it gives NaN at the connected
output (``0 * inf`` and ``0 * nan`` are NaN), exactly as SciPy's product with
that CSR matrix.  Only the *values* of such entries are zero: ``todense()``
and ``count_nonzero()`` see zeros, ``tocsr().nnz`` counts the connection.

Every law, both orientations, both sides, 1-D and 2-D operands, on the NumPy
reference backend, the Numba backend (``LAZYCONN_BACKEND`` is read per call)
and through Dask (the ``@`` operator and :func:`lazyconn.dask.matmul`, with the
inner axis cut into several chunks so scatter partials are summed).
``BinaryArray`` events cannot be non-finite: the constructor refuses NaN and
inf (pinned below), so the event paths have nothing to propagate.

Warnings.  The semantic tests ignore RuntimeWarnings (``inf * 0`` is the
answer, not an accident); :func:`test_no_runtime_warning` asks separately
that lazyconn does not emit them, since the suite turns lazyconn's
RuntimeWarnings into errors.
"""

import warnings

import numpy as np
import pytest

import lazyconn

SHAPE = (37, 29)
LAWS = {
    "Scalar(0.5)": (lazyconn.JITCScalarR, lazyconn.JITCScalarC, (0.5,)),
    "Scalar(0.0)": (lazyconn.JITCScalarR, lazyconn.JITCScalarC, (0.0,)),
    "Normal(0, 1)": (lazyconn.JITCNormalR, lazyconn.JITCNormalC, (0.0, 1.0)),
    "Normal(0, 0)": (lazyconn.JITCNormalR, lazyconn.JITCNormalC, (0.0, 0.0)),
    "Uniform(-1, 2)": (lazyconn.JITCUniformR, lazyconn.JITCUniformC, (-1.0, 2.0)),
}
VIEWS = {
    "whole": lambda m: m,
    "window * -2": lambda m: m[3:33, 2:27] * -2.0,
    "* 0": lambda m: m * 0.0,
    "window.T": lambda m: m[1:30, 4:20].T,
}


SEMANTICS = pytest.mark.filterwarnings("ignore::RuntimeWarning")


def _matrix(law, orientation, view, dtype=np.float32):
    r_cls, c_cls, params = LAWS[law]
    cls = r_cls if orientation == "R" else c_cls
    return VIEWS[view](cls(*SHAPE, 0.2, *params, seed=7, dtype=dtype))


def _operand(conn, side, ndim, dtype=np.float64, seed=0):
    """Finite values and zeros, with one NaN, one +inf and one -inf per vector."""
    inner = conn.shape[1] if side == "right" else conn.shape[0]
    batch = 1 if ndim == 1 else 3
    rng = np.random.default_rng(seed)
    x = rng.normal(size=(inner, batch))
    x[rng.random((inner, batch)) < 0.3] = 0.0
    for column in range(batch):
        spots = rng.choice(inner, size=3, replace=False)
        x[spots, column] = (np.nan, np.inf, -np.inf)
    x = x.astype(dtype)
    if ndim == 1:
        return x[:, 0]
    return x if side == "right" else np.ascontiguousarray(x.T)


def _scipy_product(conn, x, side):
    csr = conn.tocsr().astype(np.float64)
    x64 = np.asarray(x, dtype=np.float64)
    with np.errstate(invalid="ignore", over="ignore"):
        return csr @ x64 if side == "right" else x64 @ csr


def assert_sparse_semantics(got, expected, dtype):
    """Same NaN and +-inf positions as ``expected``; finite entries within rounding."""
    got = np.asarray(got)
    assert got.shape == expected.shape, (got.shape, expected.shape)
    got64 = got.astype(np.float64)
    nan_got, nan_expected = np.isnan(got64), np.isnan(expected)
    assert (nan_got == nan_expected).all(), (
        f"NaN at {np.argwhere(nan_got & ~nan_expected).tolist()[:5]} where SciPy has "
        f"{expected[nan_got & ~nan_expected][:5]}; missing NaN at {np.argwhere(nan_expected & ~nan_got).tolist()[:5]}"
    )
    for sign in (np.inf, -np.inf):
        wrong = (got64 == sign) != (expected == sign)
        assert not wrong.any(), f"{sign} differs at {np.argwhere(wrong).tolist()[:5]}: got {got64[wrong][:5]}, SciPy {expected[wrong][:5]}"
    finite = np.isfinite(expected)
    eps = np.finfo(dtype).eps
    scale = np.abs(expected[finite]).max(initial=0.0) + 1.0
    np.testing.assert_allclose(got64[finite], expected[finite], rtol=64 * eps, atol=64 * eps * scale)


@SEMANTICS
@pytest.mark.parametrize("backend", ["reference", "cpu"])
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("orientation", ["R", "C"])
@pytest.mark.parametrize("view", list(VIEWS))
@pytest.mark.parametrize("law", sorted(LAWS))
def test_host_products_follow_scipy(monkeypatch, backend, law, view, orientation, side):
    monkeypatch.setenv("LAZYCONN_BACKEND", backend)
    for ndim in (1, 2):
        conn = _matrix(law, orientation, view)
        x = _operand(conn, side, ndim)
        got = conn @ x if side == "right" else x @ conn
        assert_sparse_semantics(got, _scipy_product(conn, x, side), np.float32)


@SEMANTICS
@pytest.mark.parametrize("backend", ["reference", "cpu"])
@pytest.mark.parametrize("law", ["Scalar(0.0)", "Uniform(-1, 2)"])
def test_float32_and_float64_operands_and_matrices(monkeypatch, backend, law):
    monkeypatch.setenv("LAZYCONN_BACKEND", backend)
    for matrix_dtype in (np.float32, np.float64):
        for operand_dtype in (np.float32, np.float64):
            for orientation, side in (("R", "right"), ("R", "left"), ("C", "right"), ("C", "left")):
                conn = _matrix(law, orientation, "whole", matrix_dtype)
                x = _operand(conn, side, 2, operand_dtype, seed=3)
                got = conn @ x if side == "right" else x @ conn
                assert got.dtype == np.result_type(operand_dtype, matrix_dtype)
                assert_sparse_semantics(got, _scipy_product(conn, x, side), np.float32)


@SEMANTICS
@pytest.mark.parametrize("backend", ["reference", "cpu"])
@pytest.mark.parametrize("entry", ["@", "lazyconn.dask.matmul"])
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("orientation", ["R", "C"])
@pytest.mark.parametrize("law", ["Scalar(0.0)", "Normal(0, 1)", "Uniform(-1, 2)"])
def test_dask_products_follow_scipy(monkeypatch, backend, law, orientation, side, entry):
    da = pytest.importorskip("dask.array")
    import dask

    import lazyconn.dask

    monkeypatch.setenv("LAZYCONN_BACKEND", backend)
    for ndim in (1, 2):
        conn = _matrix(law, orientation, "window * -2")
        x = _operand(conn, side, ndim, seed=5)
        inner_axis = 0 if side == "right" else x.ndim - 1
        lazy_x = da.from_array(x, chunks={inner_axis: 7})
        if entry == "@":
            lazy = conn @ lazy_x if side == "right" else lazy_x @ conn
        else:
            args = (conn, lazy_x) if side == "right" else (lazy_x, conn)
            lazy = lazyconn.dask.matmul(*args, chunks=6)
        with dask.config.set(scheduler="sync"):
            got = lazy.compute()
        assert_sparse_semantics(got, _scipy_product(conn, x, side), np.float32)


@SEMANTICS
@pytest.mark.parametrize("orientation", ["R", "C"])
def test_zero_weight_connections_are_stored(orientation):
    cls = lazyconn.JITCScalarR if orientation == "R" else lazyconn.JITCScalarC
    zero = cls(*SHAPE, 0.2, 0.0, seed=7).tocsr()
    one = cls(*SHAPE, 0.2, 1.0, seed=7).tocsr()
    assert zero.nnz == one.nnz > 0
    np.testing.assert_array_equal(zero.indptr, one.indptr)
    np.testing.assert_array_equal(zero.indices, one.indices)
    assert not zero.data.any()
    # A NaN at an input reaches every output connected to it, through weight 0.
    x = np.zeros(SHAPE[1])
    x[5] = np.nan
    got = cls(*SHAPE, 0.2, 0.0, seed=7) @ x
    np.testing.assert_array_equal(np.isnan(got), one.toarray()[:, 5] != 0)


@pytest.mark.parametrize("bad", [np.nan, np.inf, -np.inf])
def test_binary_array_refuses_nonfinite(bad):
    data = np.array([0.0, 1.0, bad])
    with pytest.raises(ValueError, match="0 and 1"):
        lazyconn.BinaryArray(data)


@pytest.mark.parametrize("backend", ["reference", "cpu"])
@pytest.mark.parametrize("side", ["right", "left"])
@pytest.mark.parametrize("orientation", ["R", "C"])
@pytest.mark.parametrize("case", ["Scalar(0.0)", "Normal(0, 0)", "Uniform(-1, 2) * 0"])
def test_no_runtime_warning(monkeypatch, backend, case, orientation, side):
    # inf meeting a zero weight (or a zero scale) makes NaN by design: silently.
    monkeypatch.setenv("LAZYCONN_BACKEND", backend)
    law, view = ("Uniform(-1, 2)", "* 0") if case.endswith("* 0") else (case, "whole")
    conn = _matrix(law, orientation, view)
    x = _operand(conn, side, 2)
    with warnings.catch_warnings():
        warnings.simplefilter("error", RuntimeWarning)
        got = conn @ x if side == "right" else x @ conn
    assert np.isnan(got).any()
