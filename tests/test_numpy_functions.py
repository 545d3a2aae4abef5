"""NumPy functions computed lazily: each equals NumPy on todense() of the same window."""

import warnings

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lazyconn
from lazyconn import _numpy_functions
from lazyconn.testing import windowed_matrices

AXES = [None, 0, 1, -1, -2, (0, 1), (1, 0), (0,), (-1,)]


def _same(lazy, dense, exact=True, rtol=None, atol=0.0):
    """Run both calls: the same error class, or equal results (values, shape, dtype)."""
    try:
        expected = dense()
    except ValueError:
        with pytest.raises(ValueError):
            lazy()
        return
    result = lazy()
    assert np.shape(result) == np.shape(expected)
    assert np.asarray(result).dtype == np.asarray(expected).dtype
    if exact:
        np.testing.assert_array_equal(result, expected)
    else:
        np.testing.assert_allclose(np.asarray(result, np.float64), np.asarray(expected, np.float64),
                                   rtol=rtol, atol=atol)


def _tolerances(dense):
    tiny = np.finfo(dense.dtype).eps
    return 64 * tiny, 64 * tiny * (np.abs(dense.astype(np.float64)).sum() + 1.0)


@settings(max_examples=30)
@given(windowed_matrices(max_side=30), st.sampled_from(AXES), st.booleans())
def test_max_min_equal_dense_exactly(pair, axis, keepdims):
    _, view = pair
    dense = view.todense()
    for np_func, method in ((np.max, view.max), (np.amax, view.max), (np.min, view.min), (np.amin, view.min)):
        _same(lambda: np_func(view, axis=axis, keepdims=keepdims), lambda: np_func(dense, axis=axis, keepdims=keepdims))
        _same(lambda: method(axis, keepdims=keepdims), lambda: np_func(dense, axis, keepdims=keepdims))
    # ``initial`` makes empty reductions valid, as in NumPy.
    _same(lambda: np.max(view, axis=axis, initial=-0.25), lambda: np.max(dense, axis=axis, initial=-0.25))
    _same(lambda: view.min(axis=axis, initial=0.5), lambda: np.min(dense, axis=axis, initial=0.5))


@settings(max_examples=30)
@given(windowed_matrices(max_side=30), st.sampled_from(AXES), st.booleans())
def test_mean_equals_dense(pair, axis, keepdims):
    _, view = pair
    dense = view.todense()
    rtol, atol = _tolerances(dense)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", RuntimeWarning)  # both warn on empty slices
        expected = np.mean(dense, axis=axis, keepdims=keepdims)
        for result in (np.mean(view, axis=axis, keepdims=keepdims), view.mean(axis, keepdims=keepdims),
                       np.mean(view, axis, np.float64, keepdims=keepdims)):
            assert np.shape(result) == np.shape(expected)
            np.testing.assert_allclose(result, expected, rtol=rtol, atol=atol)
        assert np.asarray(np.mean(view, axis=axis)).dtype == np.asarray(expected).dtype
        assert np.asarray(np.mean(view, axis=axis, dtype=np.float64)).dtype == np.float64


@settings(max_examples=30)
@given(windowed_matrices(max_side=30), st.data())
def test_diagonal_and_trace_equal_dense(pair, data):
    _, view = pair
    dense = view.todense()
    m, n = view.shape
    offset = data.draw(st.integers(-m - 1, n + 1))
    axes = data.draw(st.sampled_from([(0, 1), (1, 0), (-2, -1)]))
    expected = np.diagonal(dense, offset, *axes)
    for result in (np.diagonal(view, offset, *axes), view.diagonal(offset, *axes)):
        np.testing.assert_array_equal(result, expected)
        assert result.dtype == dense.dtype and result.shape == expected.shape
    rtol, atol = _tolerances(dense)
    for result in (np.trace(view, offset, *axes), view.trace(offset, *axes)):
        assert result.dtype == dense.dtype and np.ndim(result) == 0
        np.testing.assert_allclose(result, np.trace(dense, offset, *axes), rtol=rtol, atol=atol)
    assert np.trace(view, dtype=np.float64).dtype == np.float64


@settings(max_examples=30)
@given(windowed_matrices(max_side=30), st.sampled_from([None, "fro", 1, -1, np.inf, -np.inf]), st.booleans())
def test_matrix_norms_equal_dense(pair, ord, keepdims):
    _, view = pair
    dense = view.todense()
    rtol, atol = _tolerances(dense)
    for axis in (None, (0, 1), (1, 0), (-1, 0)):
        _same(lambda: np.linalg.norm(view, ord, axis, keepdims), lambda: np.linalg.norm(dense, ord, axis, keepdims),
              exact=False, rtol=rtol, atol=atol)


@settings(max_examples=30)
@given(windowed_matrices(max_side=30), st.sampled_from([None, 2, 1, 0, np.inf, -np.inf, 0.5, 3]),
       st.sampled_from([0, 1, -1, -2]), st.booleans())
def test_vector_norms_along_an_axis_equal_dense(pair, ord, axis, keepdims):
    _, view = pair
    dense = view.todense()
    rtol, atol = _tolerances(dense)
    exact = ord in (np.inf, -np.inf, 0)
    _same(lambda: np.linalg.norm(view, ord, axis, keepdims), lambda: np.linalg.norm(dense, ord, axis, keepdims),
          exact=exact, rtol=rtol, atol=atol)


@settings(max_examples=30)
@given(windowed_matrices(max_side=30), st.sampled_from([2, 1, 0, np.inf, -np.inf, 0.5]),
       st.sampled_from([None, 0, 1, -1, (0, 1), (-1, -2)]), st.booleans())
def test_array_api_linalg_functions_equal_dense(pair, ord, axis, keepdims):
    _, view = pair
    dense = view.todense()
    rtol, atol = _tolerances(dense)
    exact = ord in (np.inf, -np.inf, 0)
    _same(lambda: np.linalg.vector_norm(view, axis=axis, keepdims=keepdims, ord=ord),
          lambda: np.linalg.vector_norm(dense, axis=axis, keepdims=keepdims, ord=ord), exact=exact, rtol=rtol, atol=atol)
    for matrix_ord in ("fro", 1, -1, np.inf, -np.inf):
        _same(lambda: np.linalg.matrix_norm(view, keepdims=keepdims, ord=matrix_ord),
              lambda: np.linalg.matrix_norm(dense, keepdims=keepdims, ord=matrix_ord), exact=False, rtol=rtol, atol=atol)
    for offset in (-1, 0, 2):
        np.testing.assert_array_equal(np.linalg.diagonal(view, offset=offset), np.linalg.diagonal(dense, offset=offset))
        np.testing.assert_allclose(np.linalg.trace(view, offset=offset), np.linalg.trace(dense, offset=offset),
                                   rtol=rtol, atol=atol)


EINSUM_CASES = [  # (subscripts, operand, the matrix comes first)
    ("ij,j->i", "x_cols", True), ("ji,j->i", "x_rows", True), ("i,ij->j", "x_rows", False),
    ("ij,i->j", "x_rows", True), ("ij,jk->ik", "X_cols", True), ("ij,kj->ik", "Xt_cols", True),
    ("ij,jk->ki", "X_cols", True), ("ki,ij->kj", "Xt_rows", False), ("ij,jk", "X_cols", True),
    ("ij,jk->i", "X_cols", True), ("ij,j->", "x_cols", True), ("ij,jk->k", "X_cols", True),
    ("kj,ij->ik", "Xt_cols", False),
]


def _operand(kind, shape, rng):
    m, n = shape
    length = n if kind.endswith("cols") else m
    if kind.startswith("x"):
        return rng.normal(size=length)
    if kind.startswith("Xt"):
        return rng.normal(size=(3, length))
    return rng.normal(size=(length, 3))


@settings(max_examples=20)
@given(windowed_matrices(max_side=20), st.sampled_from(EINSUM_CASES), st.booleans())
def test_einsum_products_equal_dense(pair, case, as_float32):
    _, view = pair
    subscripts, kind, matrix_first = case
    rng = np.random.default_rng(0)
    x = _operand(kind, view.shape, rng).astype(np.float32 if as_float32 else np.float64)
    dense = view.todense()
    args = (view, x) if matrix_first else (x, view)
    dense_args = (dense, x) if matrix_first else (x, dense)
    expected = np.einsum(subscripts, *[a.astype(np.float64) for a in dense_args])
    result = np.einsum(subscripts, *args)
    assert np.shape(result) == np.shape(expected)
    assert np.asarray(result).dtype == np.result_type(dense.dtype, x.dtype)
    # A scaled float32 matrix is rounded after scaling in todense(), not in a product.
    tiny = np.finfo(view.dtype).eps
    scale = (np.abs(dense).sum() + 1.0) * (np.abs(x).sum() + 1.0)
    np.testing.assert_allclose(result, expected, rtol=256 * tiny, atol=256 * tiny * scale)


@settings(max_examples=20)
@given(windowed_matrices(max_side=20))
def test_einsum_reductions_and_views(pair):
    _, view = pair
    dense = view.todense()
    rtol, atol = _tolerances(dense)
    for subscripts in ("ij->i", "ij->j", "ij->", "ba->b", "ij->ji", "ji", "ij"):
        expected = np.einsum(subscripts, dense.astype(np.float64))
        result = np.einsum(subscripts, view)
        if isinstance(result, lazyconn.JITCMatrix):
            result = result.todense()
        np.testing.assert_allclose(result, expected, rtol=rtol, atol=atol)
    if view.shape[0] == view.shape[1]:
        np.testing.assert_array_equal(np.einsum("ii->i", view), np.einsum("ii->i", dense))
        np.testing.assert_allclose(np.einsum("ii->", view), np.einsum("ii", dense), rtol=rtol, atol=atol)
        np.testing.assert_allclose(np.einsum("ii", view), np.trace(dense), rtol=rtol, atol=atol)
    # The interleaved calling convention spells the same subscripts.
    x = np.arange(view.shape[1], dtype=np.float64)
    np.testing.assert_allclose(np.einsum(view, [0, 1], x, [1], [0]), dense @ x, rtol=1e-5, atol=atol * (x.sum() + 1))


@settings(max_examples=20)
@given(windowed_matrices(max_side=20))
def test_inner_and_tensordot_equal_dense(pair):
    _, view = pair
    dense = view.todense().astype(np.float64)
    m, n = view.shape
    rng = np.random.default_rng(1)
    v, w = rng.normal(size=n), rng.normal(size=m)
    X, Y, T = rng.normal(size=(4, n)), rng.normal(size=(m, 4)), rng.normal(size=(2, n, 3))
    cases = [
        (lambda a: np.inner(a, v), lambda: np.inner(dense, v)),
        (lambda a: np.inner(v, a), lambda: np.inner(v, dense)),
        (lambda a: np.inner(a, X), lambda: np.inner(dense, X)),
        (lambda a: np.inner(X, a), lambda: np.inner(X, dense)),
        (lambda a: np.inner(rng.normal(size=(2, 3, n)), a), None),
        (lambda a: np.tensordot(a, v, 1), lambda: np.tensordot(dense, v, 1)),
        (lambda a: np.tensordot(w, a, 1), lambda: np.tensordot(w, dense, 1)),
        (lambda a: np.tensordot(a, Y, axes=([0], [0])), lambda: np.tensordot(dense, Y, axes=([0], [0]))),
        (lambda a: np.tensordot(Y, a, axes=(0, -2)), lambda: np.tensordot(Y, dense, axes=(0, -2))),
        (lambda a: np.tensordot(a, T, axes=([1], [1])), lambda: np.tensordot(dense, T, axes=([1], [1]))),
        (lambda a: np.tensordot(T, a, axes=([1], [1])), lambda: np.tensordot(T, dense, axes=([1], [1]))),
    ]
    atol = 1e-5 * (np.abs(dense).sum() + 1) * 10
    for lazy, expected in cases:
        if expected is None:
            continue
        result = lazy(view)
        assert np.shape(result) == np.shape(expected())
        np.testing.assert_allclose(result, expected(), rtol=1e-5, atol=atol)
    np.testing.assert_array_equal(np.inner(view, 2.0).todense(), np.inner(dense, 2.0).astype(view.dtype))


# ------------------------------------------------------------------ explicit cases
@pytest.mark.parametrize("cls", [lazyconn.JITCNormalR, lazyconn.JITCNormalC])
@pytest.mark.parametrize("prob", [0.0, 1.0, 0.5])
def test_many_tiles_and_bands(cls, prob, monkeypatch):
    # Small tiles force every walk across many tiles and minor tiles; the
    # diagonal of a 300-line window spans several bands.
    monkeypatch.setattr(_numpy_functions, "TILE_CONNECTIONS", 1000)
    monkeypatch.setattr(_numpy_functions, "_MINOR_WIDTH", 16)
    full = cls(300, 280, prob, 0.5, 1.0, seed=11, dtype=np.float64)
    for view in (full, full[7:290, 3:271], full[5:290, 3:271].T * -0.5):
        dense = view.todense()
        for axis in (None, 0, 1):
            np.testing.assert_array_equal(view.max(axis), dense.max(axis))
            np.testing.assert_array_equal(view.min(axis), dense.min(axis))
        for ord in (None, 1, -np.inf):
            np.testing.assert_allclose(np.linalg.norm(view, ord), np.linalg.norm(dense, ord), rtol=1e-12)
        for offset in (-40, -1, 0, 3, 100):
            np.testing.assert_array_equal(view.diagonal(offset), dense.diagonal(offset))
            np.testing.assert_allclose(view.trace(offset), dense.trace(offset), rtol=1e-12, atol=1e-12)


def test_reference_backend_gives_the_same_values(monkeypatch):
    conn = lazyconn.JITCUniformC(60, 50, 0.3, -1.0, 2.0, seed=5)[3:58, 1:47] * 3.0
    expected = (conn.max(0), conn.min(1), conn.diagonal(2), np.linalg.norm(conn, -np.inf))
    monkeypatch.setenv("LAZYCONN_BACKEND", "reference")
    for a, b in zip(expected, (conn.max(0), conn.min(1), conn.diagonal(2), np.linalg.norm(conn, -np.inf))):
        np.testing.assert_array_equal(a, b)


def test_implicit_zeros_bound_the_extremes():
    positive = lazyconn.JITCScalarR(40, 30, 0.5, 2.0, seed=1)
    assert positive.min() == 0.0 and positive.max() == 2.0
    assert (-positive).max() == 0.0 and (-positive).min() == -2.0
    full = lazyconn.JITCScalarR(40, 30, 1.0, 2.0, seed=1)  # every entry connected: no zero
    assert full.min() == 2.0 and full.min(axis=0).tolist() == [2.0] * 30
    empty = lazyconn.JITCScalarR(40, 30, 0.0, 2.0, seed=1)
    assert empty.max() == 0.0 and empty.min() == 0.0 and np.linalg.norm(empty) == 0.0
    square = lazyconn.JITCScalarR(20, 20, 1.0, 3.0, seed=1, include_self=False)
    assert square.min() == 0.0 and square.trace() == 0.0 and not square.diagonal().any()
    assert square.diagonal(1).tolist() == [3.0] * 19 and square.trace(-1) == 57.0
    assert square.diagonal(k=-1).tolist() == [3.0] * 19  # scipy.sparse spells the offset k


def test_einsum_repeated_index_needs_a_square_matrix():
    conn = lazyconn.JITCScalarR(4, 5, 1.0, 1.0, seed=0)
    for subscripts in ("ii->", "ii->i", "ii"):
        with pytest.raises(ValueError):
            np.einsum(subscripts, conn.todense())
        with pytest.raises(ValueError, match="square"):
            np.einsum(subscripts, conn)


def test_empty_windows_behave_as_numpy():
    conn = lazyconn.JITCNormalR(10, 8, 0.5, 0.0, 1.0, seed=2)
    for view in (conn[3:3], conn[:, 4:4], conn[2:2, 5:5]):
        dense = view.todense()
        with pytest.raises(ValueError, match="zero-size"):
            np.max(view)
        assert np.max(view, initial=1.5) == 1.5
        assert view.diagonal().shape == (0,) and view.trace() == 0.0
        assert np.linalg.norm(view) == 0.0
        with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
            assert np.isnan(np.mean(view))
        for axis in (0, 1):
            _same(lambda: np.max(view, axis=axis), lambda: np.max(dense, axis=axis))
            _same(lambda: np.linalg.norm(view, 1), lambda: np.linalg.norm(dense, 1))
            _same(lambda: np.linalg.norm(view, np.inf, axis), lambda: np.linalg.norm(dense, np.inf, axis))


def test_integer_weights_give_an_exact_trace():
    conn = lazyconn.JITCScalarC(3000, 3000, 0.3, 3.0, seed=4, dtype=np.float64)
    assert conn.trace() == 3.0 * np.count_nonzero(conn.diagonal())
    assert conn.trace() == np.trace(conn[:1000, :1000].todense()) + conn[1000:, 1000:].trace()


def test_large_windows_are_reduced_without_materialising():
    big = lazyconn.JITCNormalR(200_000, 300_000, 1e-5, 0.0, 1.0, seed=8)
    with pytest.raises(ValueError, match="max_dense_size"):
        big.todense()
    assert big.max() > 0.0 and big.min() < 0.0
    assert big.max(axis=1).shape == (200_000,)
    assert big.diagonal(5).shape == (200_000,)
    top = big[:2000, :3000].todense()
    np.testing.assert_array_equal(big[:2000, :3000].max(axis=0), top.max(axis=0))
    np.testing.assert_array_equal(big.diagonal()[:2000], np.diagonal(top))
    assert np.linalg.norm(big, np.inf) > 0.0 and np.isfinite(np.linalg.norm(big))


# ------------------------------------------------------------------ refusals
def test_singular_value_norms_point_to_svds():
    conn = lazyconn.JITCNormalR(10, 8, 0.5, 0.0, 1.0, seed=2)
    for ord in (2, -2, "nuc"):
        with pytest.raises(TypeError, match="svds"):
            np.linalg.norm(conn, ord)
    with pytest.raises(ValueError, match="Invalid norm order"):
        np.linalg.norm(conn, 3)
    with pytest.raises(ValueError, match="Invalid norm order"):
        np.linalg.norm(conn, "fro", axis=0)
    with pytest.raises(ValueError, match="Duplicate axes"):
        np.linalg.norm(conn, axis=(0, -2))


def test_unhandled_functions_name_the_lazy_routes():
    conn = lazyconn.JITCNormalR(10, 8, 0.5, 0.0, 1.0, seed=2)
    for call in (lambda: np.sort(conn), lambda: np.cumsum(conn), lambda: np.median(conn),
                 lambda: np.linalg.svd(conn), lambda: np.clip(conn, 0, 1)):
        with pytest.raises(TypeError, match=r"not computed lazily.*np\.einsum.*todense\(\).*aslinearoperator"):
            call()


def test_non_products_are_refused():
    conn = lazyconn.JITCNormalR(10, 8, 0.5, 0.0, 1.0, seed=2)
    x, X = np.ones(8), np.ones((10, 8))
    for subscripts, operand in (("ij,ij->ij", X), ("ij,ij->", X), ("ij,j->ij", x), ("ij,k->ik", x),
                                ("...j,j->...", x)):
        with pytest.raises(TypeError, match="todense"):
            np.einsum(subscripts, conn, operand)
    with pytest.raises(TypeError, match="product of two JITC"):
        np.einsum("ij,jk->ik", conn, conn.T)
    with pytest.raises(TypeError, match="product of two JITC"):
        np.inner(conn, conn)
    with pytest.raises(TypeError, match="axis pairs"):
        np.tensordot(conn, X, axes=2)
    with pytest.raises(TypeError, match="axis pairs"):
        np.tensordot(conn, x, axes=0)
    with pytest.raises(TypeError, match="out="):
        np.max(conn, out=np.empty(()))
    with pytest.raises(TypeError, match="where="):
        np.mean(conn, where=np.ones((10, 8), bool))
    with pytest.raises(np.exceptions.AxisError):
        np.max(conn, axis=2)
    with pytest.raises(ValueError, match="axis1 and axis2"):
        np.trace(conn, axis1=0, axis2=-2)


def test_methods_are_documented_with_numpydoc():
    validate = pytest.importorskip("numpydoc.validate").validate
    for name in ("mean", "max", "min", "diagonal", "trace"):
        report = validate(f"lazyconn.JITCMatrix.{name}")
        errors = [e for e in report["errors"] if e[0] in {"GL08", "PR01", "PR02", "PR07", "RT01"}]
        assert not errors, (name, errors)
