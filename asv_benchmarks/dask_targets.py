"""Issue-4 targets: ``conn @ dask_vector`` against the in-memory CPU backend.

Measures, for one JITCScalarR(N, N, p) and a float32 vector y, the gather
``conn @ y`` (the issue's target) and the scatter ``y @ conn`` (a dense y,
so every row is generated):

* ``in-memory``: y a NumPy array (the host backend);
* ``dask threads``: y = ``da.from_array(y, chunks=...)``, computed with the
  threaded scheduler (all cores);
* ``dask LocalCluster``: the same graph on ``LocalCluster(n_workers=2,
  processes=True, threads_per_worker=1)``.

Each configuration runs in its own fresh process (so peak RSS is its own),
is warmed up (once; three times for the cluster), then timed
``--repeat`` times; the table gives medians and same-run ratios to the
in-memory median.  Peak RSS is ``ru_maxrss`` of the process that computes
(for the cluster: the client process and the largest worker).

Run::

    python asv_benchmarks/dask_targets.py                 # N = 200,000, p = 0.01
    python asv_benchmarks/dask_targets.py --n 20000       # quick
    python asv_benchmarks/dask_targets.py --ops gather    # the target only
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
OPS = ("gather", "scatter")
OP_LABELS = {"gather": "`conn @ y` (gather)", "scatter": "`y @ conn` (scatter)"}
LABELS = {
    "memory": "in-memory (NumPy operand)",
    "threads": "dask, threaded scheduler",
    "cluster": "dask, LocalCluster 2 x 1 thread",
}


def _peak_rss_mib():
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def _measure(op, mode, n, prob, repeat, chunk):
    """Run one configuration in this process; return a dict of results."""
    import numpy as np

    import lazyconn
    from lazyconn.kernels import host_backend

    conn = lazyconn.JITCScalarR(n, n, prob=prob, weight=0.5, seed=7)
    y = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    result = {"op": op, "mode": mode, "backend": host_backend().NAME}

    def multiply(operand):
        return conn @ operand if op == "gather" else operand @ conn

    if mode == "memory":
        run = lambda: multiply(y)  # noqa: E731
        cleanup = None
    else:
        import dask.array as da

        x = da.from_array(y, chunks=chunk)
        product = multiply(x)
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

    # Warm-up: JIT compilation or loading from Numba's cache, worker imports;
    # LocalCluster workers took two or three runs to settle on 2 cores.
    for _ in range(3 if mode == "cluster" else 1):
        expected = run()
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        value = run()
        times.append(time.perf_counter() - start)
    if mode != "memory":
        reference = multiply(y)
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
    parser.add_argument(
        "--ops", default="gather,scatter", help="comma-separated: gather (conn @ y), scatter (y @ conn)"
    )
    parser.add_argument("--mode", choices=MODES, help=argparse.SUPPRESS)  # child process
    args = parser.parse_args(argv)
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    if any(op not in OPS for op in ops):
        parser.error(f"--ops takes a comma-separated subset of {OPS}, got {args.ops!r}")
    if args.mode:
        print(json.dumps(_measure(ops[0], args.mode, args.n, args.prob, args.repeat, args.chunk)))
        return 0

    def child(op, mode, n, repeat):
        command = [sys.executable, __file__, "--mode", mode, "--ops", op, "--n", str(n),
                   "--prob", str(args.prob), "--repeat", str(repeat), "--chunk", str(args.chunk)]
        completed = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ.copy())
        return json.loads(completed.stdout.strip().splitlines()[-1])

    # Fill Numba's on-disk cache first, so no measured process pays (in time
    # or in peak RSS) for compiling the kernels.
    for op in ops:
        child(op, "memory", 2000, 1)
    runs = {(op, mode): [] for op in ops for mode in MODES}
    for _ in range(args.rounds):
        for op, mode in runs:
            runs[op, mode].append(child(op, mode, args.n, args.repeat))
            print(f"# {op} {mode}: {runs[op, mode][-1]['median_s']:.3f} s", file=sys.stderr)

    def median_time(config):
        return statistics.median(t for run in runs[config] for t in run["times"])

    backend = runs[ops[0], "memory"][0]["backend"]
    print(f"N = {args.n:,}, p = {args.prob}, JITCScalarR, float32 vector (dask chunks {args.chunk:,}); "
          f"host backend `{backend}`; {os.cpu_count()} cores; "
          f"{args.rounds} rounds x {args.repeat} runs, medians\n")
    print("| product | configuration | tasks | median time (s) | ratio to in-memory | peak RSS (MiB) | max abs diff |")
    print("|---|---|---|---|---|---|---|")
    for op, mode in runs:
        last = runs[op, mode][-1]
        rss = max(run["peak_rss_mib"] for run in runs[op, mode])
        if mode == "cluster":
            workers = max(run["worker_peak_rss_mib"] for run in runs[op, mode])
            rss_text = f"{rss:.0f} client, {workers:.0f} largest worker"
        else:
            rss_text = f"{rss:.0f}"
        diff = last.get("max_abs_diff_vs_memory")
        ratio = median_time((op, mode)) / median_time((op, "memory"))
        print(f"| {OP_LABELS[op]} | {LABELS[mode]} | {last.get('tasks', '-')} | {median_time((op, mode)):.3f} | "
              f"{ratio:.2f} | {rss_text} | {'-' if diff is None else f'{diff:.2g}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
