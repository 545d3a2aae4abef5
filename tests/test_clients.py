"""Third-party code on the raw matrix: SciPy's linear-operator routines,
complex operands, the array API and library conversions (issue 12).

Every result is compared with the same computation on the dense matrix of
the same window, or the refusal's type and message is checked.
"""

import numpy as np
import pytest

import lazyconn

scipy_linalg = pytest.importorskip("scipy.sparse.linalg")


def _square(seed=3, n=120, dtype=np.float64):
    return lazyconn.JITCNormalR(n, n, prob=0.1, loc=0.0, scale=1.0, seed=seed, dtype=dtype)


# ------------------------------------------------------------------- SciPy
def test_aslinearoperator_takes_the_raw_matrix():
    conn = lazyconn.JITCUniformC(90, 70, prob=0.2, low=-1.0, high=1.0, seed=4, dtype=np.float64)
    dense = conn.todense()
    op = scipy_linalg.aslinearoperator(conn)
    x = np.linspace(-1, 1, 70)
    y = np.linspace(2, -1, 90)
    np.testing.assert_allclose(op.matvec(x), dense @ x, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.rmatvec(y), dense.T @ y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.matmat(np.c_[x, 2 * x]), dense @ np.c_[x, 2 * x], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.H.matvec(y), dense.T @ y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conn.matvec(x[:, None]), (dense @ x)[:, None], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conn.rmatmat(np.c_[y, y]), dense.T @ np.c_[y, y], rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(conn.dot(x), dense @ x, rtol=1e-12, atol=1e-12)
    assert conn.H.same_generator(conn.T) and conn.adjoint().same_generator(conn.T)
    with pytest.raises(ValueError, match="matvec needs a vector of shape"):
        conn.matvec(np.ones(3))
    with pytest.raises(ValueError, match="2-D"):
        conn.matmat(x)


@pytest.mark.parametrize("kind", ["matrix", "composite"])
def test_scipys_array_api_route_keeps_the_matrix_lazy(kind):
    # Newer SciPy treats any object with __array_namespace__ as an array in
    # aslinearoperator: xp.atleast_2d(A) then MatrixLinearOperator(A), which
    # calls A.dot and A.T.conj().  atleast_1d/2d must hand the matrix back.
    conn = _square(seed=8, n=60)
    if kind == "composite":
        conn = np.vstack([conn[:30], conn[30:]])
    assert np.atleast_2d(conn) is conn and np.atleast_1d(conn) is conn
    assert np.conj(conn) is conn and np.conjugate(conn.T) is not None
    np.testing.assert_array_equal(np.conj(conn.T).todense(), conn.todense().T)
    same, column = np.atleast_2d(conn, np.arange(3.0))
    assert same is conn and column.shape == (1, 3)
    with pytest.raises(TypeError, match="atleast_3d"):
        np.atleast_3d(conn)
    from scipy.sparse.linalg._interface import MatrixLinearOperator

    op = MatrixLinearOperator(np.atleast_2d(conn))
    dense = conn.todense().astype(np.float64)
    y = np.linspace(-1, 1, 60)
    np.testing.assert_allclose(op.matvec(y), dense @ y, rtol=1e-12, atol=1e-12)
    np.testing.assert_allclose(op.H.matvec(y), dense.T @ y, rtol=1e-12, atol=1e-12)
    values = scipy_linalg.eigs(op, k=3, return_eigenvectors=False)
    np.testing.assert_allclose(np.sort(np.abs(values)), np.sort(np.abs(np.linalg.eigvals(dense)))[-3:], rtol=1e-8)


def test_eigs_and_svds_on_the_raw_matrix_match_dense():
    conn = _square()
    dense = conn.todense()
    values = scipy_linalg.eigs(conn, k=4, which="LM", return_eigenvectors=False)
    expected = np.linalg.eigvals(dense)
    np.testing.assert_allclose(np.sort(np.abs(values)), np.sort(np.abs(expected))[-4:], rtol=1e-8)
    singular = scipy_linalg.svds(conn, k=3, return_singular_vectors=False)
    np.testing.assert_allclose(np.sort(singular), np.linalg.svd(dense, compute_uv=False)[:3][::-1], rtol=1e-8)


def test_eigsh_and_gmres_follow_the_dense_operator_step_for_step():
    # Same operator, same start vector: ARPACK and GMRES take the same steps.
    conn = _square(seed=5)
    dense_op = scipy_linalg.aslinearoperator(conn.todense())
    v0 = np.linspace(1.0, 2.0, conn.shape[0])
    got = scipy_linalg.eigsh(conn, k=3, v0=v0, return_eigenvectors=False)
    want = scipy_linalg.eigsh(dense_op, k=3, v0=v0, return_eigenvectors=False)
    # The matrix is not symmetric, so Lanczos amplifies the products' last-bit
    # differences (summation order): equal to a few parts in a million.
    np.testing.assert_allclose(np.sort(got), np.sort(want), rtol=1e-5)
    b = np.cos(np.arange(conn.shape[0]))
    x_got, _ = scipy_linalg.gmres(conn, b, restart=20, maxiter=3)
    x_want, _ = scipy_linalg.gmres(dense_op, b, restart=20, maxiter=3)
    np.testing.assert_allclose(x_got, x_want, rtol=1e-8, atol=1e-10)


def test_onenormest_is_a_lower_bound_close_to_the_exact_norm():
    conn = _square(seed=6)
    exact = np.abs(conn.todense()).sum(axis=0).max()
    estimate = scipy_linalg.onenormest(conn)
    assert exact / 3 <= estimate <= exact * (1 + 1e-12)


def test_expm_multiply_takes_the_operator_and_refuses_the_raw_matrix_clearly():
    scipy_dense_linalg = pytest.importorskip("scipy.linalg")
    conn = _square(seed=7, n=40) * 0.1
    dense = conn.todense()
    v = np.ones(40)
    got = scipy_linalg.expm_multiply(conn.aslinearoperator(), v, traceA=np.trace(dense))
    np.testing.assert_allclose(got, scipy_dense_linalg.expm(dense) @ v, rtol=1e-10)
    # SciPy forms A - mu * eye(n) for a non-operator: refused, naming the route.
    with pytest.raises(TypeError, match="aslinearoperator"):
        scipy_linalg.expm_multiply(conn, v, traceA=0.5)


# ----------------------------------------------------------------- complex
@pytest.mark.parametrize("backend", ["reference", "cpu"])
@pytest.mark.parametrize("make", [
    lambda: lazyconn.JITCScalarR(60, 50, prob=0.2, weight=0.5, seed=8),
    lambda: lazyconn.JITCNormalC(60, 50, prob=0.2, loc=0.1, scale=1.0, seed=9, dtype=np.float64),
    lambda: lazyconn.JITCUniformR(60, 50, prob=0.2, low=-1.0, high=1.0, seed=10)[5:55, 3:47].T * -2.0,
])
def test_complex_operands_are_real_and_imaginary_products(backend, make, monkeypatch):
    monkeypatch.setenv("LAZYCONN_BACKEND", backend)
    conn = make()
    dense = conn.todense().astype(np.float64)
    m, n = conn.shape
    rng = np.random.default_rng(0)
    for dtype in (np.complex64, np.complex128):
        y = (rng.standard_normal(n) + 1j * rng.standard_normal(n)).astype(dtype)
        y[::3] = 0  # zeros: event-driven paths skip those lines
        x = (rng.standard_normal((4, m)) + 1j * rng.standard_normal((4, m))).astype(dtype)
        expected_dtype = np.result_type(dtype, conn.dtype)
        tol = dict(rtol=1e-5, atol=1e-5) if np.finfo(expected_dtype).bits < 128 else dict(rtol=1e-12, atol=1e-12)
        for got, want in ((conn @ y, dense @ y), (x @ conn, x @ dense), (conn.T @ x.T, dense.T @ x.T),
                          (y @ conn.T, y @ dense.T), (conn.matvec(y), dense @ y), (conn.rmatvec(x[0]), dense.T @ x[0])):
            assert got.dtype == expected_dtype
            np.testing.assert_allclose(got, want, **tol)
    with pytest.raises(TypeError, match="complex128"):
        conn @ np.ones(n, dtype=np.clongdouble) if np.dtype(np.clongdouble).itemsize > 16 else _skip()


def _skip():
    pytest.skip("long double complex is complex128 here")


def test_complex_dask_operands():
    da = pytest.importorskip("dask.array")
    conn = lazyconn.JITCScalarC(60, 50, prob=0.2, weight=0.5, seed=11, dtype=np.float64)
    y = np.exp(1j * np.arange(50.0))
    got = (conn @ da.from_array(y, chunks=20)).compute()
    np.testing.assert_allclose(got, conn.todense() @ y, rtol=1e-12, atol=1e-12)


# --------------------------------------------------------------- array API
def test_array_api_device_and_the_matmul_route():
    xps = pytest.importorskip("array_api_strict")
    compat = pytest.importorskip("array_api_compat")
    conn = lazyconn.JITCScalarR(50, 40, prob=0.2, weight=0.5, seed=12)
    dense = conn.todense().astype(np.float64)
    assert compat.device(conn) == "cpu" and conn.to_device("cpu") is conn
    with pytest.raises(ValueError, match="no entries to move"):
        conn.to_device("cuda:0")
    x = xps.asarray(np.linspace(0, 1, 50))
    y = xps.asarray(np.linspace(1, 2, 40))
    left, right = lazyconn.matmul(x, conn), lazyconn.matmul(conn, y)
    assert compat.array_namespace(left) is compat.array_namespace(x)
    np.testing.assert_allclose(np.asarray(left), np.linspace(0, 1, 50) @ dense, rtol=1e-6)
    np.testing.assert_allclose(np.asarray(right), dense @ np.linspace(1, 2, 40), rtol=1e-6)
    assert compat.array_namespace(np.ones(3), conn) is compat.array_namespace(np.ones(3))
    with pytest.raises(TypeError, match="JITC matrix on one side"):
        lazyconn.matmul(np.ones((2, 2)), np.ones((2, 2)))


# ------------------------------------------------------------- conversions
def test_library_conversions_of_large_matrices_name_the_lazy_routes():
    conn = lazyconn.JITCScalarR(100_000, 100_000, prob=0.01, weight=0.5, seed=13)
    with pytest.raises(ValueError, match=r"something converted a 100000 x 100000 JITC matrix.*aslinearoperator"):
        np.asarray(conn)
    small = conn[:20, :30]
    np.testing.assert_array_equal(np.asarray(small), small.todense())
    sklearn_like = np.asarray(small, dtype=np.float64)
    assert sklearn_like.dtype == np.float64 and sklearn_like.shape == (20, 30)


def test_binary_arrays_of_array_api_strict_events():
    xps = pytest.importorskip("array_api_strict")
    conn = lazyconn.JITCNormalR(50, 40, prob=0.2, loc=0.0, scale=1.0, seed=14, dtype=np.float64)
    spikes = np.arange(50) % 3 == 0
    for dtype in (np.bool_, np.int8, np.float32):
        events = lazyconn.BinaryArray(xps.asarray(spikes.astype(dtype)))
        got = lazyconn.matmul(events, conn)
        np.testing.assert_allclose(np.asarray(got), spikes.astype(np.float64) @ conn.todense(), rtol=1e-12)
    with pytest.raises(ValueError, match="only 0 and 1"):
        lazyconn.BinaryArray(xps.asarray(np.arange(50.0)))
    with pytest.raises(TypeError, match="bool or 0/1"):
        lazyconn.BinaryArray(xps.asarray(np.ones(50, dtype=np.complex128)))
