"""Products of a 4,000,000 x 4,000,000 JITC matrix (p = 0.01) split over the GPUs of one host.

1.6 x 10^11 synapses: one Dask worker per GPU (lazyconn.distributed.local_cluster),
each product task pinned to a worker and generating its window on that
worker's GPU; the partial sums of the spike product are added on the
workers, and only the final vectors come back::

    python examples/several_gpus.py                                   # every visible GPU
    python examples/several_gpus.py --device cpu --neurons 20000      # 2 CPU worker processes

With N <= 50,000 the results are checked against the same products in this
process.  The network demo on several GPUs is ``lazyconn demo --gpus 2``.
"""

import argparse
import logging
import math
import pickle
import time

import numpy as np


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=4_000_000, help="N (default: %(default)s)")
    parser.add_argument("--prob", type=float, default=0.01)
    parser.add_argument("--device", choices=("gpu", "cpu"), default="gpu")
    parser.add_argument("--workers", type=int, default=None, help="default: every visible GPU; 2 CPU workers")
    parser.add_argument("--threads", action="store_true", help="CPU workers as threads of this process")
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)

    import dask.array as da
    from dask.distributed import Client

    import lazyconn
    from lazyconn.distributed import (
        compute,
        local_cluster,
        matmul,
        pin_blocks,
        worker_addresses,
    )

    if args.device == "gpu":
        import cupy

        to_device, to_host = cupy.asarray, cupy.asnumpy
    else:
        to_device = to_host = np.asarray
    n = args.neurons
    conn = lazyconn.JITCNormalR(n, n, args.prob, 0.0, 1.0 / math.sqrt(args.prob * n), seed=args.seed)
    print(f"{conn!r}: {args.prob * n * n:.3g} synapses, {len(pickle.dumps(conn))} bytes pickled")

    with local_cluster(args.workers, device=args.device, processes=not args.threads,
                       silence_logs=logging.ERROR) as cluster, Client(cluster) as client:
        workers = worker_addresses(client)
        block = -(-n // len(workers))
        host = {"meta": np.empty(0, np.float32)}
        # Operands generated inside pinned tasks, on the workers' devices.
        y = pin_blocks(da.ones(n, chunks=n, dtype=np.float32).map_blocks(to_device), workers)
        spiking = da.random.default_rng(args.seed).random(n, chunks=block) < 0.01
        spikes = pin_blocks(spiking.map_blocks(to_device), workers)

        currents = matmul(conn, y, workers, chunks=block).map_blocks(to_host, **host)   # gather: rows split
        inputs = matmul(lazyconn.BinaryArray(spikes), conn, workers).map_blocks(to_host, **host)  # scatter + tree
        compute(client, currents[:1], inputs[:1])  # kernels compile or load on every worker first
        start = time.perf_counter()
        currents_value, inputs_value = compute(client, currents, inputs)
        wall = time.perf_counter() - start
        print(f"{len(workers)} {args.device} workers: conn @ y and 1% spikes @ conn in {wall:.2f} s; "
              f"mean current {currents_value.mean():.4f}, mean spike input {inputs_value.mean():.4f}")
        if n <= 50_000:
            expected_currents = conn @ np.ones(n, dtype=np.float32)
            expected_inputs = lazyconn.BinaryArray(spiking.compute()) @ conn
            for got, expected in ((currents_value, expected_currents), (inputs_value, expected_inputs)):
                np.testing.assert_allclose(got, expected, rtol=1e-4, atol=1e-4 * np.abs(expected).max())
            print("both equal the one-process products (within float rounding)")


if __name__ == "__main__":
    main()
