"""Issue-4 targets: ``conn @ dask_vector`` against the in-memory CPU backend.

Measures, for one JITCScalarR(N, N, p) and a float32 vector y, the gather
``conn @ y`` (the issue's target) and the scatter ``y @ conn`` (a dense y,
so every row is generated), three ways:

* ``in-memory``: y a NumPy array (the host backend);
* ``dask threads``: y = ``da.from_array(y, chunks=...)``, computed with the
  threaded scheduler (all cores);
* ``dask LocalCluster``: the same graph on ``LocalCluster(n_workers=2,
  processes=True, threads_per_worker=1)``;
* ``dask LocalCluster, NUMBA_NUM_THREADS=1``: the same, with the workers'
  Numba kernels on one thread each (the workers already fill the cores).

Time: one process holds them all, warms each up, then runs ``--rounds``
rounds of (in-memory, threads, cluster, ...), interleaved run by run, so all
see the same load from other work on the machine; the table gives each
median and the median over rounds of the per-round ratio to in-memory.

Peak RSS: a fresh process per configuration (so the number is its own),
one warm-up and one timed run; VmHWM of the process that computes
(for the cluster: the client and the largest worker).  Numba's on-disk cache
is filled first, so no measured process pays for compiling the kernels.

Run::

    python asv_benchmarks/dask_targets.py                 # N = 200,000, p = 0.01
    python asv_benchmarks/dask_targets.py --n 20000       # quick
    python asv_benchmarks/dask_targets.py --ops gather    # the target only
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import resource
import statistics
import subprocess
import sys
import time

MODES = ("memory", "threads", "cluster", "cluster1")
OPS = ("gather", "scatter")
OP_LABELS = {"gather": "`conn @ y` (gather)", "scatter": "`y @ conn` (scatter)"}
LABELS = {
    "memory": "in-memory (NumPy operand)",
    "threads": "dask, threaded scheduler",
    "cluster": "dask, LocalCluster 2 x 1 thread",
    "cluster1": "dask, LocalCluster 2 x 1 thread, NUMBA_NUM_THREADS=1",
}
#: Environment of each LocalCluster's workers.
CLUSTER_ENV = {"cluster": {}, "cluster1": {"NUMBA_NUM_THREADS": "1"}}


def _peak_rss_mib():
    """This process's peak RSS in MiB: VmHWM where Linux gives it.

    ``ru_maxrss`` survives exec: after fork + exec it can report the parent's
    peak, so it is only the fallback.
    """
    try:
        with open("/proc/self/status") as status:
            for line in status:
                if line.startswith("VmHWM:"):
                    return int(line.split()[1]) / 1024
    except OSError:
        pass
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


class _Setup:
    """The matrix, the operands, and one runner per (op, mode)."""

    def __init__(self, n, prob, chunk, modes):
        import numpy as np

        import lazyconn

        self.conn = lazyconn.JITCScalarR(n, n, prob=prob, weight=0.5, seed=7)
        self.y = np.random.default_rng(0).standard_normal(n).astype(np.float32)
        self.x = None
        if set(modes) != {"memory"}:  # the in-memory process does not even import Dask
            import dask.array as da

            self.x = da.from_array(self.y, chunks=chunk)
        self.clusters, self.clients = {}, {}
        for mode in set(modes) & set(CLUSTER_ENV):
            from distributed import Client, LocalCluster

            self.clusters[mode] = LocalCluster(
                n_workers=2, processes=True, threads_per_worker=1, dashboard_address=None,
                silence_logs=logging.ERROR, env=CLUSTER_ENV[mode],
            )
            self.clients[mode] = Client(self.clusters[mode], set_as_default=False)

    def product(self, op, operand):
        return self.conn @ operand if op == "gather" else operand @ self.conn

    def runner(self, op, mode):
        if mode == "memory":
            return lambda: self.product(op, self.y)
        graph = self.product(op, self.x)
        if mode == "threads":
            return lambda: graph.compute(scheduler="threads")
        client = self.clients[mode]
        return lambda: client.compute(graph, sync=True)

    def tasks(self, op):
        return len(self.product(op, self.x).__dask_graph__())

    def close(self):
        for mode, client in self.clients.items():
            client.close()
            self.clusters[mode].close()


def _time_interleaved(args, ops):
    """Warm up, then time every (op, mode) in interleaved rounds; return a dict."""
    import numpy as np

    from lazyconn.kernels import host_backend

    setup = _Setup(args.n, args.prob, args.chunk, MODES)
    try:
        runners = {(op, mode): setup.runner(op, mode) for op in ops for mode in MODES}
        results = {"backend": host_backend().NAME, "configs": {}}
        for (op, mode), run in runners.items():
            # Warm-up: Numba's cache, worker imports; LocalCluster workers took
            # two or three runs to settle on 2 cores.
            for _ in range(3 if mode in CLUSTER_ENV else 1):
                value = run()
            reference = setup.product(op, setup.y)
            diff = float(np.max(np.abs(np.asarray(value, np.float64) - reference))) if mode != "memory" else None
            results["configs"][f"{op}/{mode}"] = {
                "times": [], "max_abs_diff": diff, "tasks": None if mode == "memory" else setup.tasks(op),
            }
        for _ in range(args.rounds):
            for (op, mode), run in runners.items():
                start = time.perf_counter()
                run()
                results["configs"][f"{op}/{mode}"]["times"].append(time.perf_counter() - start)
        return results
    finally:
        setup.close()


def _rss(op, mode, args):
    """Peak RSS of a fresh process running one configuration (this process)."""
    setup = _Setup(args.n, args.prob, args.chunk, (mode,))
    try:
        run = setup.runner(op, mode)
        run()
        run()
        result = {"peak_rss_mib": _peak_rss_mib()}
        if mode in CLUSTER_ENV:
            result["worker_peak_rss_mib"] = max(setup.clients[mode].run(_peak_rss_mib).values())
        return result
    finally:
        setup.close()


def _child(args, *extra):
    command = [sys.executable, __file__, "--n", str(args.n), "--prob", str(args.prob),
               "--chunk", str(args.chunk), "--rounds", str(args.rounds), *extra]
    completed = subprocess.run(command, capture_output=True, text=True, check=True, env=os.environ.copy())
    return json.loads(completed.stdout.strip().splitlines()[-1])


def main(argv=None):
    """Measure in subprocesses and print a markdown table."""
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--n", type=int, default=200_000, help="matrix side N")
    parser.add_argument("--prob", type=float, default=0.01)
    parser.add_argument("--rounds", type=int, default=9, help="interleaved timing rounds")
    parser.add_argument("--chunk", type=int, default=50_000, help="chunk size of the Dask vector")
    parser.add_argument(
        "--ops", default="gather,scatter", help="comma-separated: gather (conn @ y), scatter (y @ conn)"
    )
    parser.add_argument("--child", help=argparse.SUPPRESS)  # "time" or "rss:<op>:<mode>"
    args = parser.parse_args(argv)
    ops = [op.strip() for op in args.ops.split(",") if op.strip()]
    if any(op not in OPS for op in ops):
        parser.error(f"--ops takes a comma-separated subset of {OPS}, got {args.ops!r}")
    if args.child == "time":
        print(json.dumps(_time_interleaved(args, ops)))
        return 0
    if args.child:
        _, op, mode = args.child.split(":")
        print(json.dumps(_rss(op, mode, args)))
        return 0

    # Fill Numba's on-disk cache (a small run of every kernel used).
    small = argparse.Namespace(**{**vars(args), "n": 2000, "rounds": 1})
    _child(small, "--child", "time", "--ops", ",".join(ops))
    timing = _child(args, "--child", "time", "--ops", ",".join(ops))
    rss = {(op, mode): _child(args, "--child", f"rss:{op}:{mode}") for op in ops for mode in MODES}

    print(f"N = {args.n:,}, p = {args.prob}, JITCScalarR, float32 vector (dask chunks {args.chunk:,}); "
          f"host backend `{timing['backend']}`; {os.cpu_count()} cores; {args.rounds} interleaved rounds\n")
    print("| product | configuration | tasks | median time (s) | median ratio to in-memory "
          "| peak RSS (MiB) | max abs diff |")
    print("|---|---|---|---|---|---|---|")
    for op in ops:
        base = timing["configs"][f"{op}/memory"]["times"]
        for mode in MODES:
            config = timing["configs"][f"{op}/{mode}"]
            ratio = statistics.median(t / b for t, b in zip(config["times"], base))
            peak = rss[op, mode]
            rss_text = f"{peak['peak_rss_mib']:.0f}"
            if mode in CLUSTER_ENV:
                rss_text += f" client, {peak['worker_peak_rss_mib']:.0f} largest worker"
            diff = config["max_abs_diff"]
            print(f"| {OP_LABELS[op]} | {LABELS[mode]} | {config['tasks'] or '-'} | "
                  f"{statistics.median(config['times']):.3f} | {ratio:.2f} | {rss_text} | "
                  f"{'-' if diff is None else f'{diff:.2g}'} |")
    return 0


if __name__ == "__main__":
    sys.exit(main())
