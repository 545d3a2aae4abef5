"""lazyconn.distributed: pinned products and per-worker stepping on a CPU LocalCluster.

The same graphs and actors run on one worker per GPU; here the workers are
threads of this process (cheap to start) and one test starts two worker
processes to check that each sees only its own device.
"""

import logging
import os

import numpy as np
import pytest

distributed = pytest.importorskip("distributed")
pytestmark = pytest.mark.filterwarnings("ignore:Port 8787 is already in use")
da = pytest.importorskip("dask.array")

import lazyconn
from lazyconn import BinaryArray, demo
from lazyconn.distributed import (
    DistributedNetwork,
    compute,
    local_cluster,
    matmul,
    pin_blocks,
    simulate,
    visible_devices,
    worker_addresses,
)


@pytest.fixture(scope="module")
def client():
    with local_cluster(2, device="cpu", processes=False, silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        yield client


def _where(client, graph):
    """``{key: worker}`` of every task that ran while computing ``graph`` with its pins."""
    with distributed.get_task_stream(client) as stream:
        (result,) = compute(client, graph)
    return result, {record["key"]: record["worker"] for record in stream.data}


def _close(actual, expected):
    np.testing.assert_allclose(actual, expected, rtol=2e-5, atol=2e-5 * np.abs(expected).max())


def test_scatter_tasks_run_where_their_operand_chunk_lives(client):
    w = worker_addresses(client)
    conn = lazyconn.JITCNormalR(600, 500, prob=0.05, loc=1.0, scale=0.3, seed=3)
    spikes = np.random.default_rng(0).random(600) < 0.2
    x = pin_blocks(da.from_array(spikes, chunks=150), w)
    product = matmul(BinaryArray(x), conn, w, split_every=2)
    result, where = _where(client, product)
    chunks = {key[1]: worker for key, worker in where.items() if key[0].startswith("array-")}
    partials = {key[1]: worker for key, worker in where.items() if key[0].startswith("jitc-scatter-")}
    sums = {key[1]: worker for key, worker in where.items() if key[0].startswith("sum-partial-")}
    # Chunks 0-1 and their windows on the first worker, 2-3 on the second;
    # each worker adds its own two partials, and one partial per worker moves.
    assert chunks == partials == {0: w[0], 1: w[0], 2: w[1], 3: w[1]}
    assert sums == {0: w[0], 1: w[1]}
    # Pins move tasks, never a sum: the bits of the same graph run in one
    # thread, or pinned to one worker.
    assert result.tobytes() == product.compute(scheduler="sync").tobytes()
    assert result.tobytes() == compute(client, matmul(BinaryArray(x), conn, w[:1], split_every=2))[0].tobytes()
    _close(result, spikes.astype(np.float32) @ conn.todense())


def test_gather_blocks_are_spread_in_runs(client):
    w = worker_addresses(client)
    conn = lazyconn.JITCNormalR(600, 500, prob=0.05, loc=1.0, scale=0.3, seed=3)
    rng = np.random.default_rng(1)
    y, x = rng.normal(size=500), rng.normal(size=(3, 500)).astype(np.float32)
    right = matmul(conn, da.from_array(y, chunks=250), w, chunks=100)   # (name, i): 6 row blocks
    left = matmul(da.from_array(x, chunks=(3, 250)), conn.T, w, chunks=150)  # (name, c, i): 4 column blocks
    for product, n_blocks in ((right, 6), (left, 4)):
        result, where = _where(client, product)
        blocks = {key[-1]: worker for key, worker in where.items() if key[0].startswith("jitc-product-")}
        assert blocks == {i: w[i * 2 // n_blocks] for i in range(n_blocks)}
        assert result.tobytes() == product.compute(scheduler="sync").tobytes()
    # By default a gather gets one block per worker: few large tasks suit a GPU.
    assert matmul(conn, da.from_array(y, chunks=250), w).chunks == ((300, 300),)
    assert matmul(da.from_array(x, chunks=(3, 250)), conn.T, w).chunks == ((3,), (300, 300))
    dense = conn.todense()
    _close(compute(client, right)[0], dense.astype(np.float64) @ y)
    _close(compute(client, left)[0], x @ dense.T)


def test_pinned_dense_blocks_are_the_windows(client):
    w = worker_addresses(client)
    conn = lazyconn.JITCUniformR(300, 400, prob=0.1, low=-1.0, high=2.0, seed=5)
    blocks = pin_blocks(conn.to_dask(chunks=(150, 100)), w, axis=1)
    result, where = _where(client, blocks)
    assert {key[1:]: worker for key, worker in where.items() if key[0] == blocks.name} == {
        (i, j): w[j // 2] for i in range(2) for j in range(4)
    }
    assert result.tobytes() == conn.todense().tobytes()


def test_workers_step_the_one_process_spikes(client):
    conn_exc, conn_inh, derived = demo.build_network(3000, seed=2)
    expected = demo.simulate(conn_exc, conn_inh, derived, 300, seed=2, progress=False)
    w = worker_addresses(client)
    on_two = simulate(conn_exc, conn_inh, derived, 300, seed=2, client=client, progress=False)
    assert on_two["n_workers"] == 2 and np.array_equal(on_two["counts"], expected["counts"])
    assert np.array_equal(on_two["raster"], expected["raster"])
    assert expected["counts"].sum() > 100  # the network fires: the comparison means something
    # Three uneven blocks, an exchange every step, then every 4 steps.
    network = DistributedNetwork(client, conn_exc, conn_inh, derived, seed=2, workers=[w[0], w[1], w[0]])
    assert network.bounds == [(0, 1000), (1000, 2000), (2000, 3000)]
    fired = network.run(100, exchange_every=1) + network.run(200, exchange_every=4)
    n_exc = derived["n_exc"]
    assert [int(np.searchsorted(f, n_exc)) for f in fired] == expected["counts"][:, 0].tolist()
    assert [f.size for f in fired] == expected["counts"].sum(axis=1).tolist()
    with pytest.raises(ValueError, match=r"exchange_every must be an integer in \[1, 15\]"):
        network.run(5, exchange_every=16)


def test_refusals_name_the_fix(client, monkeypatch):
    conn = lazyconn.JITCScalarR(50, 40, prob=0.1, weight=1.0, seed=0)
    with pytest.raises(ValueError, match="worker_addresses"):
        matmul(conn, da.ones(40, chunks=40), [])
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "")
    assert visible_devices() == []
    with pytest.raises(RuntimeError, match="device='cpu'"):
        local_cluster(device="gpu")
    monkeypatch.setenv("CUDA_VISIBLE_DEVICES", "2,0,-1,3")
    assert visible_devices() == ["2", "0"]
    with pytest.raises(ValueError, match="3 GPU workers need 3 devices, found 2"):
        local_cluster(3, device="gpu")
    with pytest.raises(ValueError, match="processes=True"):
        local_cluster(device="gpu", processes=False)
    monkeypatch.setattr(demo, "_cupy_if_usable", lambda: None)
    with pytest.raises(RuntimeError, match="--device cpu"):
        demo.run_demo(neurons=1000, steps=10, gpus=2, progress=False)


def test_each_gpu_worker_sees_only_its_device():
    # No CUDA starts here: the check is the environment each worker process
    # gets; then blocks of a (CPU) network pickled to the two processes.
    conn_exc, conn_inh, derived = demo.build_network(1000, seed=4)
    expected = demo.simulate(conn_exc, conn_inh, derived, 40, seed=4, progress=False)
    with local_cluster(device="gpu", devices=[1, 0], use_dask_cuda=False, silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        seen = client.run(lambda: os.environ.get("CUDA_VISIBLE_DEVICES"))
        assert [seen[address] for address in worker_addresses(client)] == ["0", "1"]
        assert sorted(seen.values()) == ["0", "1"]
        result = simulate(conn_exc, conn_inh, derived, 40, seed=4, client=client, progress=False)
    assert np.array_equal(result["raster"], expected["raster"]) and expected["raster"].sum() > 0


def test_several_gpus_example_runs_on_cpu_threads(capsys):
    import runpy
    from pathlib import Path

    example = runpy.run_path(str(Path(__file__).resolve().parents[1] / "examples" / "several_gpus.py"))
    example["main"](["--device", "cpu", "--threads", "--neurons", "3000"])
    assert "both equal the one-process products" in capsys.readouterr().out


def test_demo_on_cpu_workers_reports_the_one_process_rates(monkeypatch, tmp_path, capsys):
    import lazyconn.distributed as ld
    from lazyconn.cli import main

    started = local_cluster
    monkeypatch.setattr(ld, "local_cluster", lambda *a, **k: started(*a, **{**k, "processes": False}))
    monkeypatch.setattr(demo, "_pyplot", lambda: (_ for _ in ()).throw(ImportError("no matplotlib")))
    args = ["demo", "--neurons", "2000", "--steps", "200", "--no-progress", "--out", str(tmp_path)]
    assert main(args) == 0
    one = capsys.readouterr().out
    assert main(args + ["--gpus", "2", "--device", "cpu"]) == 0
    two = capsys.readouterr().out
    assert ", 2 workers" in two
    rates = [line for line in one.splitlines() if "firing rates" in line]
    assert rates and rates == [line for line in two.splitlines() if "firing rates" in line]
    monkeypatch.setattr(demo, "_cupy_if_usable", lambda: None)
    assert main(args + ["--gpus", "2"]) == 1
    assert "--device cpu" in capsys.readouterr().err
