"""Issue-4 targets: ``conn @ dask_vector`` against the in-memory CPU backend.

Measures, for one JITCScalarR(N, N, p) and a float32 vector y:

* ``in-memory``: ``conn @ y`` with y a NumPy array (the host backend);
* ``dask threads``: ``conn @ da.from_array(y, chunks=...)`` computed with
  the threaded scheduler (all cores);
* ``dask LocalCluster``: the same graph on ``LocalCluster(n_workers=2,
  processes=True, threads_per_worker=1)``.

Each configuration runs in its own fresh process (so peak RSS is its own),
is warmed up once (Numba compilation, worker start-up), then timed
``--repeat`` times; the table gives medians and same-run ratios to the
in-memory median.  Peak RSS is ``ru_maxrss`` of the process that computes
(for the cluster: the client process and the largest worker).

Run::

    python asv_benchmarks/dask_targets.py                 # N = 200,000, p = 0.01
    python asv_benchmarks/dask_targets.py --n 20000       # quick
"""

from __future__ import annotations

import argparse
import json
import os
import resource
import statistics
import subprocess
import sys
import time

MODES = ("memory", "threads", "cluster")
LABELS = {"memory": "in-memory (NumPy operand)", "threads": "dask, threaded scheduler", "cluster": "dask, LocalCluster 2 x 1 thread"}


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(mode, n, prob, repeat, chunk):
    """Run one configuration in this process; return a dict of results."""
    import numpy as np

    import lazyconn
    from lazyconn.kernels import host_backend

    conn = lazyconn.JITCScalarR(n, n, prob=prob, weight=0.5, seed=7)
    y = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    result = {"mode": mode, "backend": host_backend().NAME}
    if mode == "memory":
        run = lambda: conn @ y  # noqa: E731
        cleanup = None
    else:
        import dask
        import dask.array as da

        x = da.from_array(y, chunks=chunk)
        product = conn @ x
        result["tasks"] = len(product.__dask_graph__())
        result["blocks"] = product.npartitions
        if mode == "threads":
            run = lambda: product.compute(scheduler="threads")  # noqa: E731
            cleanup = None
        else:
            import logging

            from distributed import Client, LocalCluster

            cluster = LocalCluster(
                n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                silence_logs=logging.ERROR,
            )
            client = Client(cluster)
            run = lambda: client.compute(product, sync=True)  # noqa: E731

            def cleanup():
                result["worker_peak_rss_mib"] = max(client.run(_peak_rss_mib).values())
                client.close()
                cluster.close()

        del dask
    expected = run()  # warm-up: JIT compilation, worker imports
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        value = run()
        times.append(time.perf_counter() - start)
    if mode != "memory":
        reference = conn @ y
        error = float(np.max(np.abs(np.asarray(value, dtype=np.float64) - reference)))
        result["max_abs_diff_vs_memory"] = error
    del expected
    if cleanup is not None:
        cleanup()
    result["times"] = times
    result["median_s"] = statistics.median(times)
    result["peak_rss_mib"] = _peak_rss_mib()
    return result


def main(argv=None):
    """Run every configuration in a subprocess and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="matrix side N")
    parser.add_argument("--prob", type=float, default=0.01)
    parser.add_argument("--repeat", type=int, default=5, help="timed runs per configuration")
    parser.add_argument("--chunk", type=int, default=50_000, help="chunk size of the Dask vector")
    parser.add_argument("--rounds", type=int, default=2, help="alternate the configurations this many times")
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args(argv)
    if args.mode:
        print(json.dumps(_measure(args.mode, args.n, args.prob, args.repeat, args.chunk)))
        return 0

    runs = {mode: [] for mode in MODES}
    for _ in range(args.rounds):
        for mode in MODES:
            command = [sys.executable, __file__, "--mode", mode, "--n", str(args.n), "--prob", str(args.prob),
                       "--repeat", str(args.repeat), "--chunk", str(args.chunk)]
            completed = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ.copy())
            runs[mode].append(json.loads(completed.stdout.strip().splitlines()[-1]))
            print(f"# {mode}: {runs[mode][-1]['median_s']:.3f} s", file=sys.stderr)

    def median_time(mode):
        return statistics.median(t for run in runs[mode] for t in run["times"])

    baseline = median_time("memory")
    backend = runs["memory"][0]["backend"]
    print(f"N = {args.n:,}, p = {args.prob}, JITCScalarR, float32 vector (dask chunks {args.chunk:,}); "
          f"host backend `{backend}`; {os.cpu_count()} cores; "
          f"{args.rounds} rounds x {args.repeat} runs, medians\n")
    print("| configuration | tasks | median time (s) | ratio to in-memory | peak RSS (MiB) | max abs diff |")
    print("|---|---|---|---|---|---|")
    for mode in MODES:
        last = runs[mode][-1]
        rss = max(run["peak_rss_mib"] for run in runs[mode])
        if mode == "cluster":
            workers = max(run["worker_peak_rss_mib"] for run in runs[mode])
            rss_text = f"{rss:.0f} client, {workers:.0f} largest worker"
        else:
            rss_text = f"{rss:.0f}"
        diff = last.get("max_abs_diff_vs_memory")
        print(f"| {LABELS[mode]} | {last.get('tasks', '-')} | {median_time(mode):.3f} | "
              f"{median_time(mode) / baseline:.2f} | {rss_text} | {'-' if diff is None else f'{diff:.2g}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
