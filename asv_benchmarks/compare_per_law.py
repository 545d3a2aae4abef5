"""Same-run A/B of two commits, one thread, every weight law: ns per connection.

Usage (from the repository root)::

    python asv_benchmarks/compare_per_law.py BASE [NEW] [--repeat 9] [--p 0.01 0.001]

``BASE`` and ``NEW`` are exported and imported side by side as in
``compare_commits.py`` (read its docstring).  For each probability and law,
``M[:lines] @ y`` (gather) and ``x[:lines] @ M[:lines]`` (scatter) of an
``N x N`` float32 R matrix run on one Numba thread, the two versions
interleaved call by call; the figure is the minimum CPU time of the process
over ``repeat`` rounds (the machine may be shared: minima and same-run ratios
hold up, medians of wall time do not), in ns per connection.  The last
column divides the new time by scipy.sparse CSR's on the same submatrix
(``M[:lines].tocsr()``, built once from the base version), timed in the same
rounds: the per-core ratio to CSR of each law.
"""

from __future__ import annotations

import argparse
import importlib
import os
import sys
import tempfile
import time
from pathlib import Path

import numba
import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent))
from compare_commits import export  # noqa: E402

SEED = 20240601
LAWS = {
    "Scalar": ("Scalar", (0.5,)),
    "Uniform": ("Uniform", (0.0, 1.0)),
    "Normal": ("Normal", (0.0, 1.0)),
    "LogNormal": ("LogNormal", (0.0, 1.0)),
    "Exponential": ("Exponential", (1.0,)),
}


def calls(lc, n, p, lines, names):
    """``{(law, product): callable}`` of one version, and the CSR calls ``{product: callable}``."""
    x = np.random.default_rng(0).standard_normal(n).astype(np.float32)
    csr = lc.from_spec(lc.Spec((n, n), "R", p, lc.Scalar(0.5), SEED, np.float32))[:lines].tocsr()
    baseline = {"M @ y": lambda: csr @ x, "x @ M": lambda: x[:lines] @ csr}
    out = {}
    for name in names:
        cls, args = LAWS[name]
        sub = lc.from_spec(lc.Spec((n, n), "R", p, getattr(lc, cls)(*args), SEED, np.float32))[:lines]
        out[(name, "M @ y")] = lambda sub=sub: sub @ x
        out[(name, "x @ M")] = lambda sub=sub: x[:lines] @ sub
    return out, baseline


def main(argv=None):
    """Run the comparison and print a markdown table.

    Parameters
    ----------
    argv : list of str, optional
        Command-line arguments (default ``sys.argv[1:]``).
    """
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("base")
    parser.add_argument("new", nargs="?", default=None)
    parser.add_argument("--repeat", type=int, default=9)
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--p", type=float, nargs="+", default=[0.01])
    parser.add_argument("--lines", type=int, default=8000)
    parser.add_argument("--laws", default=",".join(LAWS), help="comma-separated laws")
    args = parser.parse_args(argv)
    os.environ["LAZYCONN_BACKEND"] = "cpu"
    names = [name.strip() for name in args.laws.split(",")]
    numba.set_num_threads(1)
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        export(args.base, "lazyconn_a", tmp)
        export(args.new, "lazyconn_b", tmp)
        sys.path.insert(0, str(tmp))
        modules = [importlib.import_module(name) for name in ("lazyconn_a", "lazyconn_b")]
        print(f"base {args.base}, new {args.new or 'working tree'}; N = {args.n}, {args.lines} lines, 1 thread, "
              f"min CPU time of {args.repeat} interleaved rounds, {os.cpu_count()} CPUs, "
              f"load {os.getloadavg()[0]:.1f}\n")
        print("| p | law | product | base ns/conn | new ns/conn | new / base | new / CSR |")
        print("|---|---|---|---|---|---|---|")
        for p in args.p:
            built = [calls(lc, args.n, p, args.lines, names) for lc in modules]
            versions = [b[0] for b in built]
            baseline = built[0][1]
            synapses = args.lines * args.n * p
            for key in versions[0]:
                triple = [v[key] for v in versions] + [baseline[key[1]]]
                for call in triple:
                    call()  # compile and warm
                times = [[], [], []]
                for _ in range(args.repeat):
                    for i, call in enumerate(triple):
                        start = time.process_time()
                        call()
                        times[i].append(time.process_time() - start)
                best = [min(t) / synapses * 1e9 for t in times]
                print(f"| {p} | {key[0]} | `{key[1]}` | {best[0]:.2f} | {best[1]:.2f} | {best[1] / best[0]:.3f} "
                      f"| {best[1] / best[2]:.2f}x ({best[2]:.2f} ns) |", flush=True)
        print(f"\nload at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
