"""Products and the E/I network on 1 and K GPUs of one host: speedup, memory, same results.

Run by ``asv_benchmarks/multi_gpu_check.sh`` on a machine with CuPy and one or
more GPUs (with one GPU it measures 1 worker only and says so).  For each
worker count K in (1, K_max):

* products at ``--neurons`` N (default 2,000,000; p = 0.01): the gather
  ``conn @ y`` and the dense scatter ``x @ conn`` (dense float32 operands),
  and 1% binary spikes ``BinaryArray(s) @ conn``, each a pinned graph of
  :func:`lazyconn.distributed.matmul` with the same windows for every K (so
  the values are the same, bit for bit, under ``deterministic=True``);
  wall time of a whole ``compute`` (scheduler included), min and median of
  ``--repeat`` runs after a warm-up; the speedup of K over 1 GPU; the CuPy
  pool each worker holds afterwards (about its peak);
* the demo network (``--network-neurons``, default 1,000,000) stepped by
  :func:`lazyconn.distributed.simulate` on K GPUs against
  :func:`lazyconn.demo.simulate` on one GPU in this process, both with
  ``deterministic=True``: ms per step and whether the spikes are the same.

Prints Markdown tables; ``--json PATH`` also writes the numbers.
"""

import argparse
import json
import logging
import time

import numpy as np


def _set_deterministic():
    import lazyconn

    lazyconn.set_options(deterministic=True)


def _pool_bytes():
    import cupy

    return int(cupy.get_default_memory_pool().total_bytes())


def _free_pool():
    import cupy

    cupy.get_default_memory_pool().free_all_blocks()


def _device_name():
    import cupy

    return cupy.cuda.runtime.getDeviceProperties(0)["name"].decode()


def _products(client, workers, n, prob, n_blocks, seed):
    """The three pinned product graphs, results brought to host memory on the workers."""
    import cupy
    import dask.array as da

    import lazyconn
    from lazyconn.distributed import matmul, pin_blocks

    conn = lazyconn.JITCNormalR(n, n, prob, 0.0, 1.0, seed=seed)
    to_host = {"meta": np.empty(0, np.float32)}
    block = -(-n // n_blocks)

    def on_gpus(make, chunks):
        # Generated inside pinned tasks, on the worker's GPU: nothing from the client.
        array = da.ones(n, chunks=chunks, dtype=np.float32).map_blocks(make, meta=cupy.empty(0, np.float32))
        return pin_blocks(array, workers)

    y = on_gpus(lambda b: cupy.asarray(b) * 0.5, n)
    x = on_gpus(lambda b: cupy.asarray(b) * 0.25, block)
    s = on_gpus(lambda b: (cupy.random.default_rng(seed).random(b.size) < 0.01), block)
    return {
        "gather conn @ y": matmul(conn, y, workers, chunks=block).map_blocks(cupy.asnumpy, **to_host),
        "dense scatter x @ conn": matmul(x, conn, workers).map_blocks(cupy.asnumpy, **to_host),
        "1% spikes s @ conn": matmul(lazyconn.BinaryArray(s), conn, workers).map_blocks(cupy.asnumpy, **to_host),
    }


def bench_products(k, args, results):
    import distributed

    from lazyconn.distributed import compute, local_cluster, worker_addresses

    with local_cluster(k, device="gpu", silence_logs=logging.ERROR) as cluster, \
            distributed.Client(cluster) as client:
        client.run(_set_deterministic)
        workers = worker_addresses(client)
        # The same windows for every K: blocks of N / K_max.
        graphs = _products(client, workers, args.neurons, args.prob, args.max_workers, args.seed)
        for label, graph in graphs.items():
            (value,) = compute(client, graph)  # warm-up: kernels load on every worker
            times = []
            for _ in range(args.repeat):
                start = time.perf_counter()
                compute(client, graph)
                times.append(time.perf_counter() - start)
            pools = client.run(_pool_bytes)
            results.setdefault(label, {})[k] = {
                "min_ms": 1e3 * min(times), "median_ms": 1e3 * float(np.median(times)),
                "pool_mib": [pools[w] / 2**20 for w in workers], "value": value,
            }
            client.run(_free_pool)


def bench_network(k, args, reference):
    import lazyconn
    from lazyconn import demo
    from lazyconn.distributed import simulate

    conn_exc, conn_inh, derived = demo.build_network(args.network_neurons, args.seed)
    with lazyconn.set_options(deterministic=True):
        sim = simulate(conn_exc, conn_inh, derived, args.steps, args.seed, n_workers=k, device="gpu",
                       progress=False)
    same = bool(np.array_equal(sim["counts"], reference["counts"]) and np.array_equal(sim["raster"], reference["raster"]))
    return {"ms_per_step": 1e3 * sim["wall_s"] / args.steps, "same_spikes": same,
            "state_mib": [b / 2**20 for b in sim["state_bytes"]],
            "spikes": int(sim["counts"].sum()), "reference_spikes": int(reference["counts"].sum())}


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=2_000_000, help="products: N (default %(default)s)")
    parser.add_argument("--prob", type=float, default=0.01)
    parser.add_argument("--network-neurons", type=int, default=1_000_000)
    parser.add_argument("--steps", type=int, default=300, help="network steps (default %(default)s)")
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--seed", type=int, default=2026)
    parser.add_argument("--max-workers", type=int, default=None, help="default: every visible GPU")
    parser.add_argument("--skip-network", action="store_true")
    parser.add_argument("--json", default=None, help="also write the numbers to this file")
    args = parser.parse_args(argv)

    import cupy

    import lazyconn
    from lazyconn import demo
    from lazyconn.distributed import visible_devices

    devices = visible_devices()
    if not devices:
        raise SystemExit("no visible GPU: this check needs CuPy and at least one CUDA device")
    args.max_workers = min(args.max_workers or len(devices), len(devices))
    counts = sorted({1, args.max_workers})
    print(f"{len(devices)} visible GPU(s) ({_device_name()}); worker counts {counts}; N = {args.neurons:,}, "
          f"p = {args.prob}; deterministic products", flush=True)
    if args.max_workers == 1:
        print("only one GPU: 1 worker measured, no speedup (run on a 2-GPU machine for it)", flush=True)

    results = {}
    for k in counts:
        bench_products(k, args, results)
    print(f"\n| product, N = {args.neurons:,} | " + " | ".join(f"{k} GPU ms (min / median)" for k in counts)
          + " | speedup | same values | CuPy pool per worker MiB |")
    print("| --- |" + " ---: |" * len(counts) + " ---: | --- | --- |")
    for label, by_k in results.items():
        first, last = by_k[counts[0]], by_k[counts[-1]]
        speedup = f"{first['min_ms'] / last['min_ms']:.2f}x" if len(counts) > 1 else "n/a"
        same = "yes" if first["value"].tobytes() == last["value"].tobytes() else (
            f"max diff {np.abs(first['value'] - last['value']).max():.2e}")
        cells = " | ".join(f"{by_k[k]['min_ms']:.1f} / {by_k[k]['median_ms']:.1f}" for k in counts)
        pools = "; ".join(f"{k}: " + ", ".join(f"{m:.0f}" for m in by_k[k]["pool_mib"]) for k in counts)
        print(f"| {label} | {cells} | {speedup} | {same} | {pools} |", flush=True)

    network = {}
    if not args.skip_network:
        conn_exc, conn_inh, derived = demo.build_network(args.network_neurons, args.seed)
        with lazyconn.set_options(deterministic=True):
            reference = demo.simulate(conn_exc, conn_inh, derived, args.steps, args.seed, xp=cupy, progress=False)
        network["one process"] = {"ms_per_step": 1e3 * reference["wall_s"] / args.steps}
        for k in counts:
            network[k] = bench_network(k, args, reference)
        print(f"\n| network, {args.network_neurons:,} neurons, {args.steps} steps | ms per step | same spikes "
              "as one process | state per worker MiB |\n| --- | ---: | --- | --- |")
        print(f"| one process, one GPU | {network['one process']['ms_per_step']:.3f} | - | - |")
        for k in counts:
            row = network[k]
            print(f"| {k} worker(s) | {row['ms_per_step']:.3f} | {'yes' if row['same_spikes'] else 'NO'} "
                  f"({row['spikes']:,} vs {row['reference_spikes']:,} spikes) | "
                  + ", ".join(f"{m:.1f}" for m in row["state_mib"]) + " |", flush=True)
    if args.json:
        for by_k in results.values():
            for row in by_k.values():
                row.pop("value")
        with open(args.json, "w") as f:
            json.dump({"products": {label: {str(k): v for k, v in by_k.items()} for label, by_k in results.items()},
                       "network": {str(k): v for k, v in network.items()}, "gpus": len(devices),
                       "device": _device_name(), "neurons": args.neurons, "prob": args.prob}, f, indent=1)


if __name__ == "__main__":
    main()
