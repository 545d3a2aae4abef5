"""Same-run A/B of two commits on the CPU product rows of cpu_targets.py.

Usage (from the repository root)::

    python asv_benchmarks/compare_commits.py BASE [NEW] [--repeat 9] [--n 100000]

``BASE`` and ``NEW`` are git refs (``NEW`` defaults to the working tree).
Each is exported to a temporary folder as a package of its own name
(``lazyconn_a``, ``lazyconn_b``: every import inside lazyconn is relative),
both are imported into this one process, and each row is timed interleaved
(a, b, a, b, ...), so both versions see the same machine load.  Prints the
median times and the median and best-of-runs ratios NEW / BASE, for the
rows of ``asv_benchmarks/cpu_targets.py`` (N = 100,000, p = 0.01, float32)
plus ``count_nonzero``.  Classes that Numba types by name (the kernels'
``Generator`` record) are renamed per version on export: two NamedTuple
classes of one name and fields in one process send the second version's
every kernel call down Numba's slow type lookup (30-90 us), which would
bias small-N rows.  Each version compiles its own Numba kernels once
(cached in its temporary folder): allow a few minutes the first time.
"""

from __future__ import annotations

import argparse
import importlib
import os
import re
import shutil
import subprocess
import sys
import tarfile
import tempfile
import time
from pathlib import Path

import numpy as np

ROOT = Path(__file__).resolve().parents[1]


def export(ref, name, into):
    """Write package ``lazyconn`` at git ``ref`` (None: the working tree) as ``into/name``."""
    target = into / name
    if ref is None:
        shutil.copytree(ROOT / "lazyconn", target, ignore=shutil.ignore_patterns("__pycache__"))
        return _rename_records(target, name)
    archive = into / f"{name}.tar"
    with open(archive, "wb") as out:
        subprocess.run(["git", "-C", str(ROOT), "archive", ref, "lazyconn"], stdout=out, check=True)
    with tarfile.open(archive) as tar:
        tar.extractall(into / f"{name}.src", filter="data")
    (into / f"{name}.src" / "lazyconn").rename(target)
    return _rename_records(target, name)


def _rename_records(target, name):
    """Give the kernels' NamedTuple records a per-version name (see the module docstring)."""
    for path in (target / "kernels").glob("*.py"):
        text = path.read_text()
        renamed = re.sub(r"\bGenerator\b", f"Generator_{name}", text)
        if renamed != text:
            path.write_text(renamed)
    return target


def rows(lc, n, p, seed=20240601):
    """The timed calls of one version: name -> callable."""
    rng = np.random.default_rng(0)
    x = rng.standard_normal(n).astype(np.float32)
    xs = rng.standard_normal((64, n)).astype(np.float32)
    ys = np.ascontiguousarray(xs.T)
    active = np.zeros(n, bool)
    active[np.random.default_rng(1).choice(n, n // 100, replace=False)] = True
    scalar = lc.JITCScalarR(n, n, p, 0.5, seed=seed)
    normal = lc.JITCNormalR(n, n, p, 0.0, 1.0, seed=seed)
    uniform = lc.JITCUniformR(n, n, p, 0.0, 1.0, seed=seed)
    events = lc.BinaryArray(active)
    return {
        "M @ y Scalar": lambda: scalar @ x,
        "x @ M Scalar": lambda: x @ scalar,
        "M @ y Normal": lambda: normal @ x,
        "x @ M Normal": lambda: x @ normal,
        "M @ y Uniform": lambda: uniform @ x,
        "x @ M Uniform": lambda: x @ uniform,
        "1% spikes @ M": lambda: events @ scalar,
        "(64, N) @ M": lambda: xs @ scalar,
        "M @ (N, 64)": lambda: scalar @ ys,
        "count_nonzero": lambda: scalar.count_nonzero(),
    }


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
    parser.add_argument("--p", type=float, default=0.01)
    parser.add_argument("--rows", default=None, help="comma-separated row names to time (default: all)")
    args = parser.parse_args(argv)
    os.environ["LAZYCONN_BACKEND"] = "cpu"
    with tempfile.TemporaryDirectory() as tmp:
        tmp = Path(tmp)
        export(args.base, "lazyconn_a", tmp)
        export(args.new, "lazyconn_b", tmp)
        sys.path.insert(0, str(tmp))
        versions = [rows(importlib.import_module(name), args.n, args.p) for name in ("lazyconn_a", "lazyconn_b")]
        print(f"base {args.base}, new {args.new or 'working tree'}; N = {args.n}, p = {args.p}, "
              f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.1f}\n")
        print("| row | base (ms) | new (ms) | new / base, median | best of runs |")
        print("|---|---|---|---|---|")
        wanted = None if args.rows is None else {name.strip() for name in args.rows.split(",")}
        for key in versions[0]:
            if wanted is not None and key not in wanted:
                continue
            calls = [v[key] for v in versions]
            for call in calls:
                call()  # compile and warm
            times = [[], []]
            for _ in range(args.repeat if "64" not in key else max(3, args.repeat // 2)):
                for i, call in enumerate(calls):
                    start = time.perf_counter()
                    call()
                    times[i].append(time.perf_counter() - start)
            med = [float(np.median(t)) for t in times]
            best = [float(np.min(t)) for t in times]
            print(f"| {key} | {med[0] * 1e3:.1f} | {med[1] * 1e3:.1f} | {med[1] / med[0]:.3f} | "
                  f"{best[1] / best[0]:.3f} |", flush=True)
        print(f"\nload at the end {os.getloadavg()[0]:.1f}")


if __name__ == "__main__":
    main()
