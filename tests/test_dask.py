"""lazyconn.dask: to_dask blocks, lazy products, dask.distributed, the out-of-core example.

The oracle is the in-memory product / ``todense()`` of the same window: a
different code path (one call over the whole window instead of tasks over
windows), so chunking bugs show up as differences.
"""

import logging
import os
import pickle
import signal
import subprocess
import sys
import time
from pathlib import Path

import numpy as np
import pytest

da = pytest.importorskip("dask.array")
dask = pytest.importorskip("dask")

from hypothesis import given  # noqa: E402
from hypothesis import strategies as st  # noqa: E402

import lazyconn  # noqa: E402
import lazyconn.dask  # noqa: E402
from lazyconn import BinaryArray  # noqa: E402
from lazyconn.testing import operands, windowed_matrices  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]

#: A task of a lazyconn graph holds one view of the matrix: a few hundred bytes.
MAX_TASK_BYTES = 4096


def chunkings(length):
    """Dask chunk tuples of an axis: a uniform size, or arbitrary positive splits."""
    uniform = st.integers(1, max(length, 1))

    @st.composite
    def splits(draw):
        if length == 0:
            return (0,)
        cuts = sorted(draw(st.sets(st.integers(1, length - 1), max_size=6))) if length > 1 else []
        edges = [0, *cuts, length]
        return tuple(b - a for a, b in zip(edges[:-1], edges[1:]))

    return uniform | splits()


def lazy_layer(array):
    """The tasks of the layers lazyconn built (names start with ``jitc-``)."""
    graph = array.__dask_graph__()
    return {
        key: task
        for name, layer in graph.layers.items()
        if name.startswith("jitc-")
        for key, task in layer.items()
    }


def assert_close(lazy, expected, dtype):
    tiny = np.finfo(dtype).eps
    scale = np.abs(expected).max(initial=0.0) + 1.0
    np.testing.assert_allclose(np.asarray(lazy, dtype=np.float64), expected, rtol=200 * tiny, atol=200 * tiny * scale)


# ------------------------------------------------------------------ to_dask
@given(windowed_matrices(max_side=40), st.data())
def test_to_dask_is_byte_equal_to_todense_for_every_chunking(pair, data):
    _, view = pair
    m, n = view.shape
    chunks = (data.draw(chunkings(m)), data.draw(chunkings(n)))
    blocks = lazyconn.dask.to_dask(view, chunks)
    dense = view.todense()
    result = blocks.compute(scheduler="synchronous")
    assert blocks.chunks == da.core.normalize_chunks(chunks, (m, n))
    assert result.dtype == dense.dtype == blocks.dtype
    assert result.shape == dense.shape
    assert result.tobytes() == dense.tobytes()


def test_to_dask_method_and_meta():
    conn = lazyconn.JITCUniformC(50, 70, prob=0.2, low=-1.0, high=2.0, seed=9, dtype=np.float64)
    blocks = conn.to_dask(chunks=(16, 25))
    assert isinstance(blocks, da.Array)
    assert type(blocks._meta) is np.ndarray and blocks._meta.dtype == np.float64 and blocks._meta.ndim == 2
    assert blocks.numblocks == (4, 3)
    np.testing.assert_array_equal(blocks.compute(), conn.todense())


def test_to_dask_stable_names():
    conn = lazyconn.JITCNormalR(100, 80, prob=0.1, loc=0.0, scale=1.0, seed=5)
    twin = lazyconn.JITCNormalR(100, 80, prob=0.1, loc=0.0, scale=1.0, seed=5)
    other_seed = lazyconn.JITCNormalR(100, 80, prob=0.1, loc=0.0, scale=1.0, seed=6)
    assert lazyconn.dask.to_dask(conn, 30).name == lazyconn.dask.to_dask(twin, 30).name
    assert lazyconn.dask.to_dask(conn, 30).name != lazyconn.dask.to_dask(other_seed, 30).name
    assert lazyconn.dask.to_dask(conn, 30).name != lazyconn.dask.to_dask(conn, 40).name
    assert lazyconn.dask.to_dask(conn, 30).name != lazyconn.dask.to_dask(conn * 2.0, 30).name


def test_tokenize_follows_the_generator_window_and_scale():
    tokenize = dask.base.tokenize
    conn = lazyconn.JITCScalarR(1000, 1000, prob=0.01, weight=0.5, seed=1)
    assert tokenize(conn) == tokenize(lazyconn.JITCScalarR(1000, 1000, prob=0.01, weight=0.5, seed=1))
    assert tokenize(conn) == tokenize(pickle.loads(pickle.dumps(conn)))
    different = [
        lazyconn.JITCScalarR(1000, 1000, prob=0.01, weight=0.5, seed=2),
        lazyconn.JITCScalarR(1000, 1000, prob=0.02, weight=0.5, seed=1),
        lazyconn.JITCScalarR(1000, 1000, prob=0.01, weight=0.25, seed=1),
        lazyconn.JITCScalarC(1000, 1000, prob=0.01, weight=0.5, seed=1),
        conn[:10], conn[:, :10], conn * 3.0, conn.astype(np.float64),
    ]
    tokens = {tokenize(c) for c in different}
    assert len(tokens) == len(different) and tokenize(conn) not in tokens
    # R(m, n, seed).T is exactly C(n, m, seed): the same matrix, the same token.
    assert tokenize(conn.T) == tokenize(lazyconn.JITCScalarC(1000, 1000, prob=0.01, weight=0.5, seed=1))


def test_to_dask_graph_never_holds_entries_of_a_huge_matrix():
    # 10**12 entries: only views travel; building the graph generates nothing.
    conn = lazyconn.JITCNormalR(1_000_000, 1_000_000, prob=0.01, loc=1.0, scale=0.1, seed=3)
    blocks = conn.to_dask(chunks=(8192, 8192))
    assert blocks.numblocks == (123, 123)
    assert blocks.nbytes == 4 * 10**12
    for task in list(lazy_layer(blocks).values())[:100]:
        assert len(pickle.dumps(task)) < MAX_TASK_BYTES
    (corner,) = dask.optimize(blocks[5000:5010, 8190:8200])
    assert len(corner.__dask_graph__()) <= 4  # culled to the two blocks it touches
    # Computing a corner generates only the blocks it touches.
    small = conn[:100_000, :100_000].to_dask(chunks=1024)
    np.testing.assert_array_equal(small[5000:5010, 8190:8200].compute(), conn[5000:5010, 8190:8200].todense())


def test_to_dask_rejects_blocks_over_max_dense_size():
    conn = lazyconn.JITCScalarR(1000, 1000, prob=0.1, weight=1.0, seed=0)
    with lazyconn.set_options(max_dense_size=1000):
        with pytest.raises(ValueError, match="smaller chunks"):
            conn.to_dask(chunks=100)
        assert conn.to_dask(chunks=(10, 100)).numblocks == (100, 10)


def test_dask_array_code_works_on_to_dask():
    conn = lazyconn.JITCNormalR(120, 30, prob=0.3, loc=1.0, scale=0.5, seed=11, dtype=np.float64)
    dense = conn.todense()
    blocks = conn.to_dask(chunks=(40, 30))
    np.testing.assert_allclose(blocks.sum(axis=0).compute(), dense.sum(axis=0))
    np.testing.assert_allclose(blocks.sum(axis=1).compute(), conn.sum(axis=1))
    np.testing.assert_array_equal(blocks[7:93:3, 2:17].compute(), dense[7:93:3, 2:17])
    np.testing.assert_allclose(da.linalg.norm(blocks).compute(), np.linalg.norm(dense))
    q, r = da.linalg.qr(blocks)  # tall-and-skinny QR: one column chunk
    np.testing.assert_allclose((q @ r).compute(), dense, atol=1e-10)
    u, s, v = da.linalg.svd(blocks)
    np.testing.assert_allclose(s.compute(), np.linalg.svd(dense, compute_uv=False), rtol=1e-10)


# ----------------------------------------------------------------- products
@given(windowed_matrices(max_side=30), st.sampled_from(["left", "right"]), st.sampled_from([None, 1, 3]), st.data())
def test_products_match_in_memory(pair, side, batch, data):
    _, conn = pair
    x = data.draw(operands(conn.shape, side, batch=batch, dtype=np.float32))
    x_chunks = tuple(data.draw(chunkings(length)) for length in x.shape)
    outer_len = conn.shape[0] if side == "right" else conn.shape[1]
    chunks = data.draw(st.sampled_from(["auto"]) | chunkings(outer_len))
    lazy_x = da.from_array(x, chunks=x_chunks)
    expected = conn @ x if side == "right" else x @ conn
    result = lazyconn.dask.matmul(conn, lazy_x, chunks=chunks) if side == "right" else \
        lazyconn.dask.matmul(lazy_x, conn, chunks=chunks, split_every=2)
    assert isinstance(result, da.Array)
    assert result.dtype == expected.dtype and result.shape == expected.shape
    computed = result.compute(scheduler="synchronous")
    assert computed.dtype == expected.dtype
    assert_close(computed, expected.astype(np.float64), expected.dtype)


@given(windowed_matrices(max_side=30), st.sampled_from(["left", "right"]), st.sampled_from([None, 4]), st.data())
def test_binary_array_of_dask_matches_in_memory(pair, side, batch, data):
    _, conn = pair
    inner = conn.shape[1] if side == "right" else conn.shape[0]
    seed = data.draw(st.integers(0, 2**32 - 1))
    shape = (inner,) if batch is None else ((inner, batch) if side == "right" else (batch, inner))
    events = np.random.default_rng(seed).random(shape) < 0.3
    lazy_events = BinaryArray(da.from_array(events, chunks=tuple(data.draw(chunkings(s)) for s in shape)))
    expected = conn @ BinaryArray(events) if side == "right" else BinaryArray(events) @ conn
    result = conn @ lazy_events if side == "right" else lazy_events @ conn
    assert isinstance(result, da.Array) and result.dtype == conn.dtype
    assert_close(result.compute(scheduler="synchronous"), expected.astype(np.float64), conn.dtype)


def test_binary_dask_scatter_generates_only_each_chunks_active_lines(monkeypatch):
    # Spy on the kernels the tasks call: a scatter task must generate the
    # lines of its own chunk's events and nothing else.
    from lazyconn.kernels import reference

    calls = []

    def scatter(params, lines, values, j0, j1, dtype):
        calls.append(np.asarray(lines).copy())
        return reference.scatter(params, lines, values, j0, j1, dtype)

    spy = type("Spy", (), {"scatter": staticmethod(scatter), "gather": staticmethod(reference.gather)})
    monkeypatch.setattr(lazyconn.kernels, "host_backend", lambda: spy)
    conn = lazyconn.JITCScalarR(1000, 300, prob=0.1, weight=1.0, seed=6)
    active = np.array([3, 250, 251, 777, 999])
    events = np.zeros(1000, dtype=bool)
    events[active] = True
    result = (BinaryArray(da.from_array(events, chunks=250)) @ conn).compute(scheduler="synchronous")
    assert sorted(np.concatenate(calls).tolist()) == active.tolist()
    for lines in calls:  # each task stays inside its own chunk of 250 rows
        assert len(set((lines // 250).tolist())) <= 1
    monkeypatch.undo()
    np.testing.assert_allclose(result, BinaryArray(events) @ conn, rtol=1e-6)


@pytest.mark.parametrize("orientation", ["R", "C"])
@pytest.mark.parametrize("side", ["left", "right"])
def test_operators_reach_the_dask_handler(orientation, side):
    cls = lazyconn.JITCNormalR if orientation == "R" else lazyconn.JITCNormalC
    conn = cls(300, 200, prob=0.05, loc=0.5, scale=0.2, seed=17)
    rng = np.random.default_rng(0)
    x = rng.normal(size=200 if side == "right" else 300)
    lazy_x = da.from_array(x, chunks=64)
    # dask_array @ conn: Dask must defer to the matrix (NEP-13), not
    # materialise it through __array__.
    with lazyconn.set_options(max_dense_size=0):
        result = conn @ lazy_x if side == "right" else lazy_x @ conn
        result_np = np.matmul(conn, lazy_x) if side == "right" else np.matmul(lazy_x, conn)
    assert isinstance(result, da.Array) and isinstance(result_np, da.Array)
    assert lazy_layer(result), "the product graph has no lazyconn layer"
    expected = conn @ x if side == "right" else x @ conn
    assert_close(result.compute(), expected, np.float32)
    assert_close(result_np.compute(), expected, np.float32)


def test_product_graph_shape_gather_and_scatter():
    conn = lazyconn.JITCScalarR(1000, 600, prob=0.05, weight=1.0, seed=2)
    # Gather (R @ y): one task per output row block, each taking all of y.
    y = da.ones(600, chunks=100)
    gather = lazyconn.dask.matmul(conn, y, chunks=250)
    tasks = lazy_layer(gather)
    assert gather.chunks == ((250,) * 4,)
    assert len(tasks) == 4
    # Scatter (x @ R): one partial per (input chunk, output block), then a tree reduction.
    x = da.ones(1000, chunks=100)
    scatter = lazyconn.dask.matmul(x, conn, chunks=300, split_every=2)
    assert scatter.chunks == ((300, 300),)
    assert len(lazy_layer(scatter)) == 10 * 2
    # split_every=2 over 10 partials: a tree of several levels, not one big sum.
    assert sum("partial" in name for name in scatter.__dask_graph__().layers) >= 2
    for task in {**tasks, **lazy_layer(scatter)}.values():
        assert len(pickle.dumps(task)) < MAX_TASK_BYTES
    np.testing.assert_allclose(gather.compute(), conn @ np.ones(600), rtol=1e-6)
    np.testing.assert_allclose(scatter.compute(), np.ones(1000) @ conn, rtol=1e-6)
    # Same inputs, same names (stable graphs); another seed, another name.
    assert lazyconn.dask.matmul(conn, y, chunks=250).name == gather.name
    other = lazyconn.JITCScalarR(1000, 600, prob=0.05, weight=1.0, seed=3)
    assert lazyconn.dask.matmul(other, y, chunks=250).name != gather.name


def test_auto_chunks_follow_the_work(monkeypatch):
    monkeypatch.setattr(dask.system, "CPU_COUNT", 4)
    y = da.ones(200_000, chunks=50_000, dtype=np.float32)
    big = lazyconn.JITCScalarR(200_000, 200_000, prob=0.01, weight=1.0, seed=0)
    # 4e8 expected connections, about 2**24 per gather task.
    assert len((big @ y).chunks[0]) == 24
    # 4e6 connections: one block per core would leave < 2**20 each, so 3 blocks.
    small = lazyconn.JITCScalarR(20_000, 200_000, prob=0.001, weight=1.0, seed=0)
    assert (small @ y).chunks == ((6667, 6667, 6666),)
    tiny = lazyconn.JITCScalarR(100, 200_000, prob=0.001, weight=1.0, seed=0)
    assert (tiny @ y).chunks == ((100,),)
    # Scatter: the work is split by the operand's chunks; the output stays whole.
    assert (da.ones(20_000, chunks=5000) @ small).chunks == ((200_000,),)


def test_row_blocks_far_from_the_origin_match_dense():
    # Tasks multiply windows whose first line is far beyond their length;
    # the oracle is the dense window (another kernel).
    conn = lazyconn.JITCNormalR(2_000_000, 300, prob=0.05, loc=1.0, scale=0.5, seed=12)
    y = np.random.default_rng(2).normal(size=300).astype(np.float32)
    lazy = lazyconn.dask.matmul(conn, da.from_array(y, chunks=100), chunks=1000)
    tail = lazy[-2500:].compute(scheduler="threads")
    assert_close(tail, conn[-2500:].todense().astype(np.float64) @ y, np.float32)


def test_product_meta_follows_the_operand():
    conn = lazyconn.JITCScalarR(40, 30, prob=0.2, weight=1.0, seed=2, dtype=np.float64)
    x = da.ones((30, 5), chunks=(7, 2), dtype=np.float32)
    y = conn @ x
    assert type(y._meta) is np.ndarray and y._meta.ndim == 2 and y._meta.dtype == np.float64
    assert (BinaryArray(da.ones(40, chunks=9, dtype=bool)) @ conn)._meta.dtype == np.float64


def test_only_matrices_are_matrices_to_the_dask_functions():
    # dask asks the array protocols (not lazyconn.matrix, which imports it)
    # whether an operand is a matrix: composites and bare Views stay refused.
    conn = lazyconn.JITCScalarR(40, 30, prob=0.2, weight=1.0, seed=2)
    x = da.ones(30, chunks=7)
    for other in (conn + conn, conn.as_view()):
        with pytest.raises(TypeError, match="exactly one JITC matrix"):
            lazyconn.dask.matmul(other, x)
        with pytest.raises(TypeError, match="to_dask needs a JITC matrix"):
            lazyconn.dask.to_dask(other)
    assert np.array_equal(lazyconn.dask.to_dask(conn[3:9], chunks=4).compute(), conn[3:9].todense())
    assert np.allclose(lazyconn.dask.matmul(conn, x).compute(), conn.todense().astype(np.float64) @ np.ones(30))


def test_product_errors():
    conn = lazyconn.JITCScalarR(40, 30, prob=0.2, weight=1.0, seed=2)
    x = da.ones(30, chunks=7)
    with pytest.raises(TypeError, match="exactly one JITC matrix"):
        lazyconn.dask.matmul(x, x)
    with pytest.raises(TypeError, match="dask.array.Array"):
        lazyconn.dask.matmul(conn, np.ones(30))
    with pytest.raises(ValueError, match="shape mismatch"):
        conn @ da.ones(31, chunks=7)
    with pytest.raises(ValueError, match="does not split the output axis of length 40"):
        lazyconn.dask.matmul(conn, x, chunks=(20, 19))
    with pytest.raises(ValueError, match="positive"):
        lazyconn.dask.matmul(conn, x, chunks=0)
    unknown = x[x > 0]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        unknown @ conn[:, :0].T
    with pytest.raises(TypeError, match="not supported"):
        conn @ da.ones(30, chunks=7, dtype=object)


# --------------------------------------------------------------- distributed
@pytest.fixture(scope="module")
def client():
    distributed = pytest.importorskip("distributed")
    with distributed.LocalCluster(
        n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None, silence_logs=logging.ERROR
    ) as cluster, distributed.Client(cluster) as client:
        yield client


def test_distributed_products_and_blocks_match_in_memory(client):
    conn = lazyconn.JITCNormalR(2000, 1500, prob=0.02, loc=1.0, scale=0.3, seed=21)
    rng = np.random.default_rng(4)
    y = rng.normal(size=(1500, 3))
    x = rng.normal(size=(3, 2000))
    spikes = rng.random(2000) < 0.05
    # In-memory first: the JIT kernels compile here and land in Numba's
    # on-disk cache, which the workers then load instead of compiling twice more.
    expected = [conn @ y, x @ conn, BinaryArray(spikes) @ conn, conn[100:1100, 50:1450].T.todense()]
    results = client.compute([
        lazyconn.dask.matmul(conn, da.from_array(y, chunks=(400, 2)), chunks=300),
        lazyconn.dask.matmul(da.from_array(x, chunks=(3, 300)), conn, chunks=500),
        BinaryArray(da.from_array(spikes, chunks=250)) @ conn.T.T,
        conn[100:1100, 50:1450].T.to_dask(chunks=(333, 250)),
    ], sync=True)
    assert_close(results[0], expected[0], np.float32)
    assert_close(results[1], expected[1], np.float32)
    assert_close(results[2], expected[2], np.float32)
    assert results[3].tobytes() == expected[3].tobytes()


def test_distributed_survives_a_killed_worker(client):
    """Kill a worker mid-computation: its tasks rerun elsewhere and regenerate their windows."""
    conn = lazyconn.JITCScalarR(4000, 3000, prob=0.02, weight=0.5, seed=8)
    y = np.random.default_rng(5).normal(size=3000)
    expected = conn @ y  # compiles (or loads) the kernels here first, as above
    product = lazyconn.dask.matmul(conn, da.from_array(y, chunks=1000), chunks=250)

    def slow_copy(block):  # a nested function, so it pickles by value to the workers
        time.sleep(0.25)
        return block.copy()

    currents = product.map_blocks(slow_copy, meta=product._meta)
    before = set(client.scheduler_info()["workers"])
    future = client.compute(currents)
    # Wait until a worker is running a product task (Dask may fuse it with
    # slow_copy into one task whose name keeps the "jitc-" prefix), then kill it.
    victim = None
    deadline = time.monotonic() + 30
    while victim is None and time.monotonic() < deadline:
        for worker, keys in client.processing().items():
            if any("jitc-" in str(key) for key in keys):
                victim = worker
                break
        time.sleep(0.01)
    assert victim is not None, "no worker started a product task in 30 s"
    assert not future.done()
    pid = client.run(os.getpid, workers=[victim])[victim]
    os.kill(pid, signal.SIGKILL)  # as the OOM killer would
    result = future.result(timeout=60)
    starts = client.run_on_scheduler(_product_task_starts)
    assert max(starts.values()) >= 2, "no product task was run again after the kill"
    np.testing.assert_allclose(result, expected, rtol=1e-5, atol=1e-4)
    client.wait_for_workers(2, timeout=30)
    assert victim not in set(client.scheduler_info()["workers"]) and victim in before


def _product_task_starts(dask_scheduler):
    """How often each task with a lazyconn name went to "processing" (runs on the scheduler)."""
    counts = {}
    for key, _, finish, *_ in dask_scheduler.transition_log:
        if finish == "processing" and "jitc-" in str(key):
            counts[str(key)] = counts.get(str(key), 0) + 1
    return counts


# ------------------------------------------------------------------- example
def test_out_of_core_example_runs(tmp_path):
    pytest.importorskip("zarr")
    env = {**os.environ, "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
    completed = subprocess.run(
        [sys.executable, str(ROOT / "examples" / "dask_out_of_core.py"), "--small", "--no-progress",
         "--threads", "2", "--store", str(tmp_path)],
        capture_output=True, text=True, timeout=120, env=env,
    )
    assert completed.returncode == 0, completed.stdout + completed.stderr
    assert "-> ok" in completed.stdout
    assert "chunk data held at once" in completed.stdout
    assert (tmp_path / "currents.zarr").is_dir()


def test_numpy_dot_with_a_dask_operand_stays_lazy():
    conn = lazyconn.JITCNormalR(100, 80, 0.1, 0.0, 1.0, seed=0)
    x, y = da.ones(100, chunks=50), da.ones(80, chunks=40)
    left, right = np.dot(x, conn), np.dot(conn, y)
    assert isinstance(left, da.Array) and isinstance(right, da.Array)
    dense = conn.todense().astype(np.float64)
    np.testing.assert_allclose(left.compute(), np.ones(100) @ dense, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(right.compute(), dense @ np.ones(80), rtol=1e-5, atol=1e-5)
