"""Dask's own functions on a JITC matrix: da.dot, da.tensordot, da.einsum, da.asarray."""

import logging
import pickle

import numpy as np
import pytest

import lazyconn

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

MATRICES = [
    lazyconn.JITCScalarR(60, 45, 0.2, 0.5, seed=1),
    lazyconn.JITCNormalC(60, 45, 0.15, -1.0, 0.5, seed=4, dtype=np.float64),
    lazyconn.JITCUniformR(60, 45, 0.25, 0.0, 2.0, seed=5)[7:55, 3:41] * -2.0,
    lazyconn.JITCUniformC(60, 45, 0.25, -1.0, 1.0, seed=6).T,
]
#: Dask's "auto" chunk size decides how from_array cuts the matrix.
CHUNK_SIZES = ["128MiB", "1KiB", "200B"]


def _dense(conn):
    with lazyconn.set_options(max_dense_size=10**7):
        return conn.todense().astype(np.float64)


def _close(result, expected):
    assert isinstance(result, np.ndarray) and result.shape == expected.shape
    np.testing.assert_allclose(result, expected, rtol=2e-5, atol=2e-5 * max(1.0, np.abs(expected).max()))


def _operands(conn, x_chunks, y_chunks):
    rng = np.random.default_rng(sum(conn.shape))
    xn = rng.standard_normal((5, conn.shape[0]))
    yn = rng.standard_normal((conn.shape[1], 3))
    return xn, da.from_array(xn, chunks=x_chunks), yn, da.from_array(yn, chunks=y_chunks)


@pytest.mark.parametrize("conn", MATRICES, ids=lambda c: repr(c.shape) + c._spec.orientation)
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
@pytest.mark.parametrize("x_chunks", [(5, -1), (2, 16), (3, 7)])
def test_dot_and_tensordot_multiply_views_in_tasks(conn, chunk_size, x_chunks):
    dense = _dense(conn)
    xn, x, yn, y = _operands(conn, x_chunks, x_chunks[::-1])
    with dask.config.set({"array.chunk-size": chunk_size}):
        lazy = {
            "dot(x, conn)": (da.dot(x, conn), xn @ dense),
            "dot(conn, y)": (da.dot(conn, y), dense @ yn),
            "dot(x[0], conn)": (da.dot(x[0], conn), xn[0] @ dense),
            "dot(conn, y[:, 0])": (da.dot(conn, y[:, 0]), dense @ yn[:, 0]),
            "tensordot axes=1": (da.tensordot(x, conn, axes=1), xn @ dense),
            "tensordot x.T": (da.tensordot(x.T, conn, axes=([0], [0])), xn @ dense),
            "tensordot conn.T": (da.tensordot(conn, x, axes=([0], [1])), dense.T @ xn.T),
            "tensordot y.T": (da.tensordot(y.T, conn, axes=([1], [1])), yn.T @ dense.T),
            "np.dot": (np.dot(x, conn), xn @ dense),
        }
        for name, (result, expected) in lazy.items():
            assert isinstance(result, da.Array), name
            assert isinstance(result._meta, np.ndarray), name
            # No dense block anywhere: each task multiplies a view.
            with lazyconn.set_options(max_dense_size=16):
                _close(result.compute(), expected)


def test_views_follow_the_chunking():
    conn = lazyconn.JITCNormalR(60, 45, 0.2, 0.0, 1.0, seed=2)
    xn, x, _, _ = _operands(conn, (5, 16), (16, 3))
    with dask.config.set({"array.chunk-size": "1KiB"}):
        result = da.dot(x, conn)
    assert result.numblocks[1] > 1  # the matrix is cut along its free axis too
    _close(result.compute(), xn @ _dense(conn))


def test_tensordot_of_both_matrix_axes_is_refused():
    conn = lazyconn.JITCScalarR(20, 20, 0.2, 1.0, seed=3)
    x = da.ones((20, 20), chunks=10)
    with pytest.raises(TypeError, match="not a product"):
        da.tensordot(x, conn, axes=2).compute()


@pytest.mark.parametrize("conn", MATRICES, ids=lambda c: repr(c.shape) + c._spec.orientation)
@pytest.mark.parametrize("chunk_size", CHUNK_SIZES)
def test_einsum_and_matmul_multiply_views_in_tasks(conn, chunk_size):
    dense = _dense(conn)
    xn, x, yn, y = _operands(conn, (2, 16), (16, 2))
    with dask.config.set({"array.chunk-size": chunk_size}):
        cases = {
            "ij,jk->ik": (da.einsum("ij,jk->ik", x, conn), xn @ dense),
            "i,ij->j": (da.einsum("i,ij->j", x[0], conn), xn[0] @ dense),
            "ij,j->i": (da.einsum("ij,j->i", conn, y[:, 0]), dense @ yn[:, 0]),
            "ij,jk->ik (conn, y)": (da.einsum("ij,jk->ik", conn, y), dense @ yn),
            "ji,jk->ik": (da.einsum("ji,jk->ik", conn, x.T), dense.T @ xn.T),
            "da.matmul": (da.matmul(x, conn), xn @ dense),
            "da.matmul (conn, y)": (da.matmul(conn, y), dense @ yn),
        }
    for name, (result, expected) in cases.items():
        assert isinstance(result._meta, np.ndarray), name
        # No dense block anywhere: each task multiplies a view.
        with lazyconn.set_options(max_dense_size=16):
            _close(result.compute(), expected)


def test_asarray_is_to_dask():
    conn = lazyconn.JITCNormalC(300, 200, 0.1, 1.0, 0.2, seed=7)[10:290, 5:195]
    with dask.config.set({"array.chunk-size": "32KiB"}):
        as_array = da.asarray(conn)
        expected = conn.to_dask()
        any_array = da.asanyarray(conn)
    assert as_array.name == expected.name and as_array.chunks == expected.chunks
    assert as_array.numblocks[0] > 1 and as_array.numblocks[1] > 1
    assert as_array.compute().tobytes() == conn.todense().tobytes()
    assert any_array.name == expected.name
    assert da.asarray(conn, dtype=np.float64).dtype == np.float64
    # Called from user code (here inside a comprehension), asarray is dense
    # blocks, so elementwise Dask code works on them.
    blocks = [da.asarray(view) for view in (conn, conn.T)]
    assert blocks[0].name == conn.to_dask().name and blocks[1].name == conn.T.to_dask().name
    np.testing.assert_allclose((blocks[0] * 2 + 1).sum().compute(), (conn.todense() * 2.0 + 1).sum(), rtol=1e-5)


def test_operator_and_lazyconn_matmul_stay_event_driven():
    conn = lazyconn.JITCNormalR(60, 45, 0.2, 0.0, 1.0, seed=8)
    xn, x, yn, y = _operands(conn, (2, 16), (16, 2))
    for result, expected in [(x @ conn, xn @ _dense(conn)), (conn @ y, _dense(conn) @ yn)]:
        assert result.name.startswith(("jitc-", "sum-"))
        with lazyconn.set_options(max_dense_size=16):
            _close(result.compute(), expected)


def test_graphs_hold_views_of_a_huge_matrix():
    huge = lazyconn.JITCScalarR(10**5, 10**5, 1e-3, 1.0, seed=9)
    x = da.ones((4, 10**5), chunks=(4, 10**4))
    result = da.dot(x, huge)
    assert result.shape == (4, 10**5)
    # A few hundred bytes per task: the generator, never its entries.
    graph = dict(result.__dask_graph__())
    assert len(pickle.dumps(graph)) < 2000 * len(graph)


@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster, distributed.Client(cluster) as client:
        yield client


def test_dot_in_worker_processes(client):
    # Workers import lazyconn when they unpickle a view, after Dask: the
    # chunk dispatch must find lazyconn.dask there too.
    conn = lazyconn.JITCNormalR(500, 300, 0.05, 1.0, 0.3, seed=10)
    xn, x, yn, y = _operands(conn, (2, 200), (100, 2))
    dense = _dense(conn)
    results = client.compute([da.dot(x, conn), da.tensordot(conn, y, axes=1), da.einsum("ij,jk->ik", x, conn)], sync=True)
    _close(results[0], xn @ dense)
    _close(results[1], dense @ yn)
    _close(results[2], xn @ dense)
