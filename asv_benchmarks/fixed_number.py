"""Fixed-number against Bernoulli products on the CPU, at the same expected density, same run.

Usage (from the repository root)::

    python asv_benchmarks/fixed_number.py                          # N = 100,000, K = 1000 vs p = 0.01
    python asv_benchmarks/fixed_number.py --n 20000 --repeat 3     # quick look
    python asv_benchmarks/fixed_number.py --laws Scalar Normal --threads 1 2

For each law, two float32 matrices of the same shape, law and seed:
``num_conn=K`` and ``prob=K/N`` (the same expected number of connections),
in both orientations where it matters for the kernel (R: ``M @ y`` is a
gather, ``x @ M`` a scatter).  Products: dense ``M @ y`` and ``x @ M``,
binary events ``spikes @ M`` with 1 % of the rows active, and a batched
``M @ Y`` with 8 columns.  Rounds are interleaved (Bernoulli, then
fixed-number, for every product) and the minimum over ``repeat`` rounds is
kept (the machine may be shared: minima and same-run ratios hold up).
The target of issue 14: fixed-number within 1.5x of Bernoulli.
"""

from __future__ import annotations

import argparse
import os
import time

import numba
import numpy as np

import lazyconn
from lazyconn.kernels import host_backend

SEED = 20240601

LAWS = {
    "Scalar": lambda: lazyconn.Scalar(0.5),
    "Uniform": lambda: lazyconn.Uniform(0.0, 1.0),
    "Normal": lambda: lazyconn.Normal(0.0, 1.0),
}


def _time(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def products(n, batch, rng):
    """``{name: f(conn)}``: the products timed, on fixed operands."""
    y = rng.standard_normal(n).astype(np.float32)
    x = rng.standard_normal(n).astype(np.float32)
    spikes = lazyconn.BinaryArray(rng.random(n) < 0.01)
    ys = rng.standard_normal((n, batch)).astype(np.float32)
    return {
        "M @ y": lambda conn: conn @ y,
        "x @ M": lambda conn: x @ conn,
        "spikes @ M (1%)": lambda conn: spikes @ conn,
        f"M @ Y ({batch} cols)": lambda conn: conn @ ys,
    }


def run(n, num_conn, law_names, threads, repeat, batch):
    rng = np.random.default_rng(0)
    ops = products(n, batch, rng)
    results = {}
    for t in threads:
        numba.set_num_threads(t)
        for law_name in law_names:
            law = LAWS[law_name]()
            pair = {
                "bernoulli": lazyconn.from_spec(lazyconn.Spec((n, n), "R", num_conn / n, law, SEED, np.float32)),
                "fixed": lazyconn.from_spec(
                    lazyconn.Spec((n, n), "R", None, law, SEED, np.float32, num_conn=num_conn)),
            }
            for op_name, op in ops.items():
                times = {rule: [] for rule in pair}
                for round_ in range(repeat + 1):  # round 0 compiles or loads the kernels
                    for rule, conn in pair.items():
                        elapsed = _time(lambda conn=conn: op(conn))
                        if round_:
                            times[rule].append(elapsed)
                results[(t, law_name, op_name)] = {rule: min(v) for rule, v in times.items()}
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--num-conn", type=int, default=1000)
    parser.add_argument("--laws", nargs="+", default=["Scalar", "Normal"], choices=sorted(LAWS))
    parser.add_argument("--threads", type=int, nargs="+", default=[1])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)
    results = run(args.n, args.num_conn, args.laws, args.threads, args.repeat, args.batch)
    print(f"N = {args.n:,}, K = {args.num_conn} vs p = {args.num_conn / args.n}, float32 R matrices, "
          f"{host_backend().__name__}, min wall time of {args.repeat} "
          f"interleaved rounds, {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.1f}\n")
    print("| law | threads | product | Bernoulli ms | fixed-number ms | ratio |")
    print("|---|---|---|---|---|---|")
    for (t, law_name, op_name), best in results.items():
        ratio = best["fixed"] / best["bernoulli"]
        print(f"| {law_name} | {t} | `{op_name}` | {best['bernoulli'] * 1e3:.1f} | {best['fixed'] * 1e3:.1f} "
              f"| {ratio:.2f}x |")
    return results


if __name__ == "__main__":
    main()
