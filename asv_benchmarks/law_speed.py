"""Products of every weight law on the CPU, same run; and both weight strategies.

Usage (from the repository root)::

    python asv_benchmarks/law_speed.py                        # N = 100,000, p = 0.01, 1 and 2 threads
    python asv_benchmarks/law_speed.py --n 20000 --repeat 3   # quick look
    python asv_benchmarks/law_speed.py --strategies           # also each law per batch and deferred

For each law, ``M @ y`` (gather, dense float32 ``y``) and ``x @ M``
(scatter, dense float32 ``x``) of an R matrix, interleaved law by law in
rounds; the minimum wall time over ``repeat`` rounds (the machine may be
shared: minima and same-run ratios hold up, absolute medians do not).
Ratios are to Scalar, and LogNormal to Normal, Exponential to Uniform (the
targets of issue 14: within 1.3x and 1.2x).

``--strategies`` registers, for LogNormal and Exponential, two copies of
the law record differing only in ``cost``: one below
:data:`lazyconn.laws.DEFER_COST` (weights per batch), one above (deferred),
so that the weight strategy a record's ``cost`` picks can be checked
against the other one.
"""

from __future__ import annotations

import argparse
import dataclasses
import os
import time

import numba
import numpy as np

import lazyconn
from lazyconn import laws
from lazyconn.matrix import classes_for_law

SEED = 20240601


def _laws():
    return {
        "Scalar": lazyconn.Scalar(0.5),
        "Uniform": lazyconn.Uniform(0.0, 1.0),
        "Normal": lazyconn.Normal(0.0, 1.0),
        "LogNormal": lazyconn.LogNormal(0.0, 1.0),
        "Exponential": lazyconn.Exponential(1.0),
    }


def _strategy_variants():
    """``{label: law instance}``: each new law per batch and deferred."""
    out = {}
    code = 90
    for record, args in ((laws.LOGNORMAL, (0.0, 1.0)), (laws.EXPONENTIAL, (1.0,))):
        for label, cost in (("per batch", 1.0), ("deferred", 2 * laws.DEFER_COST)):
            name = f"{record.name}{'Batch' if cost < laws.DEFER_COST else 'Deferred'}"
            try:
                laws.get(name)
            except KeyError:
                laws.register(dataclasses.replace(record, name=name, code=code, cost=cost))
                classes_for_law(name)
            code += 1
            out[f"{record.name} {label}"] = laws.law_class(name)(*args)
    return out


def _time(call):
    start = time.perf_counter()
    call()
    return time.perf_counter() - start


def run(n, p, threads, repeat, strategies):
    named = _laws()
    if strategies:
        named.update(_strategy_variants())
    conns = {name: lazyconn.from_spec(lazyconn.Spec((n, n), "R", p, law, SEED, np.float32))
             for name, law in named.items()}
    rng = np.random.default_rng(0)
    y = rng.standard_normal(n).astype(np.float32)
    x = rng.standard_normal(n).astype(np.float32)
    results = {}
    for t in threads:
        numba.set_num_threads(t)
        times = {name: ([], []) for name in conns}
        for round_ in range(repeat + 1):  # round 0 compiles or loads the kernels
            for name, conn in conns.items():
                g = _time(lambda conn=conn: conn @ y)
                s = _time(lambda conn=conn: x @ conn)
                if round_:
                    times[name][0].append(g)
                    times[name][1].append(s)
        results[t] = {name: (min(g), min(s)) for name, (g, s) in times.items()}
    return results


def _ratio(best, name, base, k):
    return best[name][k] / best[base][k]


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--p", type=float, default=0.01)
    parser.add_argument("--threads", type=int, nargs="+", default=[1, 2])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--strategies", action="store_true", help="also each new law per batch and deferred")
    args = parser.parse_args(argv)
    results = run(args.n, args.p, args.threads, args.repeat, args.strategies)
    synapses = args.n * args.n * args.p
    print(f"N = {args.n:,}, p = {args.p}, float32 R matrices, backend cpu, min wall time of {args.repeat} "
          f"interleaved rounds, {os.cpu_count()} CPUs, load average at the end {os.getloadavg()[0]:.1f}\n")
    print("| law | threads | `M @ y` ms | ns/syn | vs Scalar | `x @ M` ms | ns/syn | vs Scalar | vs Normal/Uniform |")
    print("|---|---|---|---|---|---|---|---|---|")
    for t, best in results.items():
        for name in best:
            base = "Normal" if name.startswith("LogNormal") else "Uniform" if name.startswith("Exponential") else None
            pair = (f"{_ratio(best, name, base, 0):.2f}x / {_ratio(best, name, base, 1):.2f}x vs {base}"
                    if base else "")
            g, s = best[name]
            print(f"| {name} | {t} | {g * 1e3:.0f} | {g / synapses * 1e9:.2f} | {_ratio(best, name, 'Scalar', 0):.2f}x "
                  f"| {s * 1e3:.0f} | {s / synapses * 1e9:.2f} | {_ratio(best, name, 'Scalar', 1):.2f}x | {pair} |")
    return results


if __name__ == "__main__":
    main()
