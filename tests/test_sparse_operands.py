"""scipy.sparse spike rasters: event-driven products that never densify."""

import types

import numpy as np
import pytest

import lazyconn
import lazyconn.kernels
from lazyconn.kernels import reference

sp = pytest.importorskip("scipy.sparse")

FORMATS = {
    "csr_array": sp.csr_array, "csc_array": sp.csc_array, "coo_array": sp.coo_array,
    "csr_matrix": sp.csr_matrix, "csc_matrix": sp.csc_matrix, "coo_matrix": sp.coo_matrix,
}
DTYPES = [np.bool_, np.int64, np.float32, np.float64]


def _matrices(m=60, n=45):
    return [
        lazyconn.JITCScalarR(m, n, 0.2, 0.5, seed=1),
        lazyconn.JITCScalarC(m, n, 0.2, -1.5, seed=2),
        lazyconn.JITCNormalR(m, n, 0.15, 1.0, 0.3, seed=3),
        lazyconn.JITCNormalC(m, n, 0.15, -1.0, 0.5, seed=4, dtype=np.float64),
        lazyconn.JITCUniformR(m, n, 0.25, 0.0, 2.0, seed=5),
        lazyconn.JITCUniformC(m, n, 0.25, -1.0, 1.0, seed=6),
    ]


MATRICES = _matrices()


def _raster(shape, dtype, fmt, density=0.15, seed=0):
    rng = np.random.default_rng(seed)
    dense = (rng.random(shape) < density) * (rng.integers(1, 4, shape) if dtype not in (np.bool_,) else 1)
    if np.dtype(dtype).kind == "f":
        dense = dense * rng.standard_normal(shape)
    dense = dense.astype(dtype)
    return FORMATS[fmt](dense), dense


def _dense(conn):
    with lazyconn.set_options(max_dense_size=10**7):
        return conn.todense().astype(np.float64)


def _check(result, expected):
    assert isinstance(result, np.ndarray)
    assert result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=2e-5, atol=2e-5 * max(1.0, np.abs(expected).max()))


@pytest.fixture
def spy(monkeypatch):
    """Host products through the reference kernels, recording what reaches them."""
    calls = {"scatter": [], "gather": []}

    def scatter(params, lines, values, j0, j1, dtype):
        calls["scatter"].append((np.asarray(lines).copy(), None if values is None else values.shape))
        return reference.scatter(params, lines, values, j0, j1, dtype)

    def gather(params, k0, k1, j0, j1, vectors, dtype):
        calls["gather"].append(vectors.shape)
        return reference.gather(params, k0, k1, j0, j1, vectors, dtype)

    module = types.SimpleNamespace(
        NAME="spy", scatter=scatter, gather=gather, dense=reference.dense, coo=reference.coo, degrees=reference.degrees
    )
    monkeypatch.setattr(lazyconn.kernels, "host_backend", lambda: module)
    return calls


@pytest.mark.parametrize("conn", MATRICES, ids=lambda c: type(c).__name__ + str(c.dtype))
@pytest.mark.parametrize("fmt", list(FORMATS))
def test_products_equal_the_dense_product(conn, fmt):
    dense = _dense(conn)
    for k, dtype in enumerate(DTYPES):
        left, left_dense = _raster((7, conn.shape[0]), dtype, fmt, seed=k)
        right, right_dense = _raster((conn.shape[1], 5), dtype, fmt, seed=10 + k)
        # The matrix refuses to densify: every product below is lazy.
        with lazyconn.set_options(max_dense_size=16):
            out_left = left @ conn
            out_right = conn @ right
        _check(out_left, left_dense.astype(np.float64) @ dense)
        _check(out_right, dense @ right_dense.astype(np.float64))
        assert out_left.dtype == np.result_type(left_dense.dtype, conn.dtype) or dtype is np.bool_
        if dtype is np.bool_:
            assert out_left.dtype == conn.dtype


@pytest.mark.parametrize("conn", MATRICES[:4], ids=lambda c: type(c).__name__)
def test_windows_transposes_and_scales(conn):
    for view in (conn[5:50, 3:40], conn.T[2:30, 10:55], (conn * -0.25)[1:59, :], conn.T * 3):
        dense = _dense(view)
        left, left_dense = _raster((6, view.shape[0]), np.float32, "csr_array", seed=1)
        right, right_dense = _raster((view.shape[1], 4), np.int64, "csc_matrix", seed=2)
        with lazyconn.set_options(max_dense_size=16):
            _check(left @ view, left_dense.astype(np.float64) @ dense)
            _check(view @ right, dense @ right_dense.astype(np.float64))


def test_left_product_generates_only_the_active_lines(spy):
    conn = lazyconn.JITCNormalR(200, 80, 0.1, 0.0, 1.0, seed=7)
    raster = np.zeros((5, 200))
    raster[0, [3, 150]] = 1.0
    raster[3, [150, 199]] = 2.0
    result = sp.csr_array(raster) @ conn
    (lines, values_shape), = spy["scatter"]
    # The union of the spiking neurons over time; rows without spikes cost nothing.
    np.testing.assert_array_equal(lines, [3, 150, 199])
    assert values_shape == (3, 2)
    assert not spy["gather"]
    _check(result, raster @ _dense(conn))


def test_binary_raster_scatters_without_values_per_step(spy):
    conn = lazyconn.JITCScalarC(70, 300, 0.1, 1.0, seed=8)
    spikes = np.zeros((300, 1), dtype=bool)
    spikes[[4, 250]] = True
    result = conn @ lazyconn.BinaryArray(sp.coo_array(spikes))
    (lines, values_shape), = spy["scatter"]
    np.testing.assert_array_equal(lines, [4, 250])
    assert values_shape is None  # one vector of events: no multiply
    _check(result, _dense(conn) @ spikes)


def test_gather_runs_only_on_active_time_steps(spy):
    conn = lazyconn.JITCUniformC(90, 120, 0.2, 0.5, 1.5, seed=9)
    raster = np.zeros((40, 90), dtype=np.float32)
    raster[[2, 30], 5] = 1.0
    raster[30, 80] = -2.0
    result = sp.csr_matrix(raster) @ conn  # S @ C meets C's minor axis: a gather
    assert spy["gather"] == [(90, 2)]  # all lines, but only the two steps that spike
    assert not spy["scatter"]
    _check(result, raster.astype(np.float64) @ _dense(conn))
    assert not result[[0, 1, 3]].any()


def test_dense_slices_are_bounded(spy, monkeypatch):
    from lazyconn import _sparse

    # Slices stay under _BLOCK_ELEMENTS or the size of the dense result,
    # whichever is larger: a narrow result makes the slices the bound here.
    monkeypatch.setattr(_sparse, "_BLOCK_ELEMENTS", 100)
    conn = lazyconn.JITCNormalR(60, 5, 0.3, 0.0, 1.0, seed=10)
    left, left_dense = _raster((30, 60), np.float64, "csr_array", density=0.3, seed=3)
    _check(left @ conn, left_dense @ _dense(conn))
    assert len(spy["scatter"]) > 1
    assert all(np.prod(shape) <= 150 for _, shape in spy["scatter"])
    wide = lazyconn.JITCNormalR(5, 50, 0.3, 0.0, 1.0, seed=11)
    right, right_dense = _raster((50, 12), np.float64, "csc_array", density=0.3, seed=4)
    _check(wide @ right, _dense(wide) @ right_dense)
    assert spy["gather"] and all(shape == (50, 2) for shape in spy["gather"])


def test_empty_rasters():
    conn = lazyconn.JITCScalarR(30, 20, 0.3, 1.0, seed=11)
    for shape, product in [((4, 30), lambda s: s @ conn), ((20, 4), lambda s: conn @ s)]:
        for fmt in FORMATS:
            result = product(FORMATS[fmt](shape, dtype=np.float32))
            assert result.shape == ((4, 20) if shape == (4, 30) else (30, 4))
            assert not result.any()
    assert (sp.csr_array((0, 30)) @ conn).shape == (0, 20)
    assert (conn @ sp.csr_array((20, 0))).shape == (30, 0)


def test_stored_zeros_and_duplicates_follow_scipy():
    conn = lazyconn.JITCScalarR(30, 20, 0.3, 1.0, seed=12)
    # Entry (0, 3) stored twice (1 + 1), (1, 4) twice cancelling, (2, 5) an explicit zero.
    raster = sp.coo_array(([1.0, 1.0, 2.0, -2.0, 0.0], ([0, 0, 1, 1, 2], [3, 3, 4, 4, 5])), shape=(3, 30))
    _check(raster @ conn, raster.toarray() @ _dense(conn))


def test_one_dimensional_coo_and_operator_forms():
    conn = lazyconn.JITCNormalC(40, 25, 0.2, 1.0, 0.1, seed=13)
    dense = _dense(conn)
    vector = sp.coo_array(np.where(np.arange(40) % 7 == 0, 1.0, 0.0))
    _check(vector @ conn, vector.toarray() @ dense)
    _check(conn @ sp.coo_array(np.arange(25.0) % 3), dense @ (np.arange(25.0) % 3))
    raster = sp.random_array((3, 40), density=0.2, format="csr", rng=1)
    expected = raster.toarray() @ dense
    with lazyconn.set_options(max_dense_size=16):
        _check(np.matmul(raster, conn), expected)
        _check(np.dot(raster, conn), expected)
        _check(raster.dot(conn), expected)
        # For a scipy sparse *matrix*, * is the matrix product.
        _check(sp.csr_matrix(raster) * conn, expected)
        _check(lazyconn.BinaryArray(raster != 0) @ conn, (raster != 0).toarray() @ dense)


def test_refusals_name_the_problem():
    conn = lazyconn.JITCScalarR(30, 20, 0.3, 1.0, seed=14)
    with pytest.raises(ValueError, match="x.shape\\[-1\\] == 30"):
        sp.csr_array((4, 29)) @ conn
    with pytest.raises(ValueError, match="x.shape\\[0\\] == 20"):
        conn @ sp.csr_array((21, 2))
    with pytest.raises(TypeError, match="not supported"):
        sp.csr_array(np.eye(4, 30).astype(np.longdouble)) @ conn
    # Elementwise scaling by a sparse array stays refused.
    with pytest.raises(TypeError, match="only scaling by a real scalar"):
        conn * sp.csr_matrix((30, 20))


@pytest.mark.parametrize("conn", MATRICES[:4], ids=lambda c: type(c).__name__)
def test_complex_rasters_are_real_and_imaginary_products(conn, spy):
    dense = _dense(conn)
    rng = np.random.default_rng(5)
    left = sp.random_array((6, conn.shape[0]), density=0.1, format="csr", rng=rng, dtype=np.complex128)
    right = sp.random_array((conn.shape[1], 4), density=0.1, format="coo", rng=rng, dtype=np.complex64)
    result = left @ conn
    assert result.dtype == np.complex128
    _check(result, left.toarray() @ dense)
    result = conn @ right
    assert result.dtype == np.result_type(np.complex64, conn.dtype)
    _check(result, dense @ right.toarray().astype(np.complex128))
    # One kernel call per product: both parts in one pass.
    assert len(spy["scatter"]) + len(spy["gather"]) == 2


def test_binary_array_checks_stored_values_without_densifying():
    huge = sp.csr_array(([1, 1, 1], ([0, 5, 10**6 - 1], [2, 10**6 - 7, 3])), shape=(10**6, 10**6))
    events = lazyconn.BinaryArray(huge)  # densifying would need 8 TB
    assert events.shape == (10**6, 10**6) and events.dtype == np.bool_
    with pytest.raises(ValueError, match="only 0 and 1"):
        lazyconn.BinaryArray(sp.csr_array(np.array([[0, 2.0], [1, 0]])))
    with pytest.raises(ValueError, match="only 0 and 1"):
        lazyconn.BinaryArray(sp.coo_array(([1, 1], ([0, 0], [1, 1])), shape=(2, 2)))  # 1 + 1 = 2
    with pytest.raises(ValueError, match="only 0 and 1"):
        lazyconn.BinaryArray(sp.csr_array(np.array([[np.nan, 1.0]])))
    lazyconn.BinaryArray(sp.coo_array(([2, -1], ([0, 0], [1, 1])), shape=(2, 2)))  # 2 - 1 = 1
    lazyconn.BinaryArray(sp.dok_array(np.eye(3)))
    with pytest.raises(TypeError, match="dtype"):
        lazyconn.BinaryArray(sp.csr_array(np.eye(3) * 1j))


def test_binary_array_of_sparse_converts_and_multiplies_like_dense():
    raster = sp.csr_array(np.array([[0, 1, 1], [1, 0, 0]], dtype=np.int8))
    events = lazyconn.BinaryArray(raster)
    np.testing.assert_array_equal(np.asarray(events), raster.toarray().astype(bool))
    np.testing.assert_array_equal(events.T.data.toarray(), raster.toarray().T)
    np.testing.assert_allclose(events @ np.ones(3), [2.0, 1.0])
    conn = lazyconn.JITCNormalR(3, 4, 0.9, 1.0, 0.5, seed=15)
    np.testing.assert_allclose(events @ conn, raster.toarray() @ _dense(conn), rtol=1e-6)
