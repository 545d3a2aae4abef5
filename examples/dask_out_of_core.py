"""Out-of-core synaptic currents: a spike raster in Zarr times a JITC matrix.

A (T x N) spike raster too large for memory is stored in Zarr.  Dask streams
it chunk by chunk through ``BinaryArray(spikes) @ conn``: every task
regenerates only the rows of the matrix that spike in its chunk
(event-driven) and only the columns of its output block, and the currents
(T x N, float32) are written back to Zarr chunk by chunk.  Peak memory is
set by the chunk sizes, not by T, N or the number of synapses.

Run::

    python examples/dask_out_of_core.py --small          # seconds
    python examples/dask_out_of_core.py --small --workers 2   # on a LocalCluster
    python examples/dask_out_of_core.py --steps 20000 --neurons 100000 \
        --store /tmp/lazyconn-ooc                         # 8 GB of currents

The last lines report the most chunk data Dask held at once (bounded by
the chunk sizes: the same for T = 1,000 and T = 4,000), check a few time
steps against the in-memory product and print the peak resident memory of
the process.
"""

from __future__ import annotations

import argparse
import contextlib
import os
import resource
import sys
import time

import dask
import dask.array as da
import numpy as np
import zarr
from dask.callbacks import Callback
from dask.diagnostics import ProgressBar

import lazyconn
import lazyconn.dask


def parse_args(argv=None):
    """Command-line options; ``--small`` overrides the sizes for a quick run."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--steps", type=int, default=20_000, help="time steps T (rows of the raster)")
    parser.add_argument("--neurons", type=int, default=100_000, help="neurons N (the matrix is N x N)")
    parser.add_argument("--prob", type=float, default=0.01, help="connection probability")
    parser.add_argument("--rate", type=float, default=0.005, help="spike probability per neuron and step")
    parser.add_argument(
        "--chunk-steps", type=int, default=32,
        help="time steps per chunk: a matrix row is generated once per chunk in which it spikes, then "
             "applied to every step of the chunk, so sparse rasters favour short chunks",
    )
    parser.add_argument("--chunk-neurons", type=int, default=16_384, help="neurons per chunk (raster and currents)")
    parser.add_argument("--store", default="lazyconn-ooc", help="directory for spikes.zarr and currents.zarr")
    parser.add_argument("--seed", type=int, default=42, help="seed of the matrix and of the raster")
    parser.add_argument("--threads", type=int, default=None, help="Dask threads (default: all cores)")
    parser.add_argument(
        "--workers", type=int, default=0,
        help="run the product on a dask.distributed LocalCluster of this many single-thread "
             "worker processes (default 0: the threaded scheduler)",
    )
    parser.add_argument("--check-steps", type=int, default=4, help="time steps checked in memory at the end")
    parser.add_argument("--no-progress", action="store_true", help="no progress bar")
    parser.add_argument(
        "--small", action="store_true",
        help="a few seconds: T=300, N=3000, chunks 64 x 1024 (overrides the sizes above)",
    )
    args = parser.parse_args(argv)
    if args.small:
        args.steps, args.neurons, args.chunk_steps, args.chunk_neurons = 300, 3000, 64, 1024
        args.rate = 0.02
    return args


def peak_rss_mib():
    """Peak resident set size of this process so far, in MiB (Linux: ru_maxrss is KiB)."""
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class HeldChunks(Callback):
    """Track the most chunk data (NumPy results) the threaded scheduler holds at once.

    This is the number that must not grow with T or N for the computation to
    be out-of-core; the process's RSS adds the interpreter, Numba's compiled
    kernels and the task graph (which grows with the number of tasks).
    """

    def __init__(self):
        super().__init__()
        self.peak_bytes = 0
        self.peak_arrays = 0

    def _posttask(self, key, result, dsk, state, worker_id):
        # Only ndarrays: a Zarr array object in the cache reports the size of
        # the whole stored array as nbytes, though it holds none of it.
        held = [value for value in state["cache"].values() if isinstance(value, np.ndarray)]
        total = sum(value.nbytes for value in held)
        if total > self.peak_bytes:
            self.peak_bytes, self.peak_arrays = total, len(held)


def write_on_cluster(currents, path, args):
    """Write the currents from a LocalCluster: workers read the raster and write Zarr themselves."""
    from distributed import Client, LocalCluster, progress

    with LocalCluster(n_workers=args.workers, threads_per_worker=1, processes=True,
                      dashboard_address=None) as cluster, Client(cluster) as client:
        future = client.compute(currents.to_zarr(path, overwrite=True, compute=False))
        if not args.no_progress:
            progress(future)
            print()
        future.result()
        rss = client.run(peak_rss_mib)
        print(f"workers' peak RSS: {', '.join(f'{value:.0f}' for value in rss.values())} MiB")


def write_raster(path, args):
    """Draw the (T x N) boolean raster chunk by chunk into Zarr (never whole in memory)."""
    rng = da.random.default_rng(args.seed)
    spikes = rng.random((args.steps, args.neurons), chunks=(args.chunk_steps, args.chunk_neurons)) < args.rate
    spikes.to_zarr(path, overwrite=True)


def main(argv=None):
    """Write the raster, stream the currents to Zarr, check and report."""
    args = parse_args(argv)
    os.makedirs(args.store, exist_ok=True)
    spikes_path = os.path.join(args.store, "spikes.zarr")
    currents_path = os.path.join(args.store, "currents.zarr")
    progress = contextlib.nullcontext() if args.no_progress else ProgressBar(minimum=0.5)
    scheduler = {"scheduler": "threads", "num_workers": args.threads}

    print(f"raster: {args.steps} steps x {args.neurons} neurons, rate {args.rate} -> {spikes_path}")
    with progress, dask.config.set(**scheduler):
        write_raster(spikes_path, args)
    print(f"peak RSS after writing the raster: {peak_rss_mib():.0f} MiB")

    conn = lazyconn.JITCNormalR(args.neurons, args.neurons, prob=args.prob, loc=0.5, scale=0.1, seed=args.seed)
    spikes = lazyconn.BinaryArray(da.from_zarr(spikes_path))
    # Output blocks of chunk_steps x chunk_neurons: the same shape as the
    # raster's, so every task's memory is bounded by one chunk (plus the
    # partial outputs the tree reduction holds).
    currents = lazyconn.dask.matmul(spikes, conn, chunks=args.chunk_neurons)
    block_mib = args.chunk_steps * args.chunk_neurons * currents.dtype.itemsize / 2**20
    print(
        f"matrix: {conn!r}\n"
        f"currents: {currents.shape} {currents.dtype}, {currents.npartitions} blocks of "
        f"{block_mib:.1f} MiB, {len(currents.__dask_graph__())} tasks -> {currents_path}"
    )
    start = time.perf_counter()
    if args.workers:
        write_on_cluster(currents, currents_path, args)
    else:
        held = HeldChunks()
        with progress, held, dask.config.set(**scheduler):
            currents.to_zarr(currents_path, overwrite=True)
    elapsed = time.perf_counter() - start
    synapses = args.neurons * args.neurons * args.prob
    print(f"wrote currents in {elapsed:.2f} s ({synapses:.3g} synapses, spike rate {args.rate})")
    if not args.workers:
        print(f"chunk data held at once: at most {held.peak_bytes / 2**20:.1f} MiB in {held.peak_arrays} "
              f"arrays (the currents are {currents.nbytes / 2**20:.0f} MiB)")

    # Check a few time steps against the in-memory (NumPy) product.
    k = min(args.check_steps, args.steps)
    stored = zarr.open_array(currents_path, mode="r")[:k]
    expected = lazyconn.BinaryArray(zarr.open_array(spikes_path, mode="r")[:k]) @ conn
    error = float(np.max(np.abs(stored - expected), initial=0.0))
    scale = float(np.max(np.abs(expected), initial=0.0)) + 1.0
    ok = error <= 1e-4 * scale
    print(f"check: first {k} steps vs in-memory, max abs difference {error:.3g} -> {'ok' if ok else 'MISMATCH'}")
    print(f"peak RSS: {peak_rss_mib():.0f} MiB")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
