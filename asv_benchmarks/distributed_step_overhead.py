"""What a time step costs when a Dask graph is built per step, against persistent workers.

A simulation that submits one Dask graph per time step pays the scheduler
every step: the graph is built, sent, ordered and its results gathered.
This script measures, on a local cluster of K workers (CPU worker processes
by default; ``--device gpu`` for one worker per GPU):

* ``one process``: :func:`lazyconn.demo.simulate`, the reference loop;
* ``empty round trip``: K no-op tasks submitted and gathered (the floor of
  any per-step graph);
* ``graph per step``: the demo's step with the recurrent product as a Dask
  graph per step (:func:`lazyconn.distributed.matmul`, output columns
  pinned one block per worker) and the neuron update on the client;
* ``actors, exchange every k``: :class:`lazyconn.distributed.DistributedNetwork`,
  one actor per worker stepping its block of neurons, spikes exchanged
  every step (k = 1) and once per synaptic delay (k = 15).

Milliseconds per step, minimum of ``--repeat`` runs (the machine may be
shared: the minimum is the least disturbed run).  Not a test: run it by hand::

    python asv_benchmarks/distributed_step_overhead.py --neurons 20000 --steps 150
"""

import argparse
import logging
import time

import numpy as np


def _noop(i):
    return i


def graph_per_step(client, workers, conn_exc, conn_inh, derived, n_steps, seed, params):
    """The demo loop with one pinned Dask product per step; returns (wall s, counts)."""
    import dask.array as da

    from lazyconn import BinaryArray, _lif
    from lazyconn.distributed import compute, matmul

    n = derived["n_exc"] + derived["n_inh"]
    lif = _lif._LIFConstants.of(derived, params)
    rng = np.random.default_rng(seed)
    v = _lif._initial_potentials(derived, lif, rng, n, np)
    refractory = np.zeros(n, dtype=np.int16)
    pending = _lif._initial_inputs(derived, params, lif, n, np)
    n_exc = derived["n_exc"]
    block = -(-n // len(workers))
    counts = np.zeros(n_steps, dtype=np.int64)
    start = time.perf_counter()
    for t in range(n_steps):
        slot = t % lif.delay_steps
        v, refractory, spiking = _lif._lif_step(
            v, refractory, rng.standard_normal(n, dtype=np.float32), pending[slot], lif, np)
        # The two projections' products (lazyconn.dask.matmul takes matrices, not composites).
        product = sum(
            matmul(BinaryArray(da.from_array(part, chunks=-1)), conn, workers, chunks=block)
            for part, conn in ((spiking[:n_exc], conn_exc), (spiking[n_exc:], conn_inh))
        )
        pending[slot] = compute(client, product)[0]
        counts[t] = spiking.sum()
    return time.perf_counter() - start, counts


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=20_000)
    parser.add_argument("--steps", type=int, default=150)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--device", choices=("cpu", "gpu"), default="cpu")
    parser.add_argument("--threads", action="store_true", help="CPU workers as threads of this process")
    parser.add_argument("--repeat", type=int, default=3)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import distributed

    from lazyconn import demo
    from lazyconn.distributed import DistributedNetwork, local_cluster, worker_addresses

    params = demo.NetworkParameters()
    conn_exc, conn_inh, derived = demo.build_network(args.neurons, args.seed, params)
    xp = np
    if args.device == "gpu":
        import cupy as xp
    rows = {}

    def best(label, runs):
        rows[label] = min(runs) / args.steps * 1e3

    best("one process", [demo.simulate(conn_exc, conn_inh, derived, args.steps, args.seed, params, xp,
                                       progress=False)["wall_s"] for _ in range(args.repeat)])
    with local_cluster(args.workers, device=args.device, processes=not args.threads,
                       silence_logs=logging.ERROR) as cluster, distributed.Client(cluster) as client:
        workers = worker_addresses(client)
        runs = []
        for _ in range(args.repeat):
            start = time.perf_counter()
            for i in range(args.steps):
                client.gather([client.submit(_noop, i, workers=[w], pure=False) for w in workers])
            runs.append(time.perf_counter() - start)
        best("empty round trip (K tasks per step)", runs)
        if args.device == "cpu":
            graph_per_step(client, workers, conn_exc, conn_inh, derived, 2, args.seed, params)  # warm-up
            best("graph per step (pinned product)", [
                graph_per_step(client, workers, conn_exc, conn_inh, derived, args.steps, args.seed, params)[0]
                for _ in range(args.repeat)])
        for every in (1, None):
            runs = []
            for _ in range(args.repeat):
                network = DistributedNetwork(client, conn_exc, conn_inh, derived, params, args.seed,
                                             device=args.device)
                start = time.perf_counter()
                network.run(args.steps, exchange_every=every)
                runs.append(time.perf_counter() - start)
                del network
            best(f"actors, exchange every {every or network_delay(derived, params)} steps", runs)

    print(f"N = {args.neurons:,}, {args.steps} steps, {args.workers} {args.device} workers "
          f"({'threads' if args.threads else 'processes'}), min of {args.repeat} runs")
    print("| per step | ms |\n| --- | ---: |")
    for label, ms in rows.items():
        print(f"| {label} | {ms:.3f} |")


def network_delay(derived, params):
    from lazyconn import _lif

    return _lif._LIFConstants.of(derived, params).delay_steps


if __name__ == "__main__":
    main()
