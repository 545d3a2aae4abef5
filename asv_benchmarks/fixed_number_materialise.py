"""Materialising fixed-number against Bernoulli matrices on the CPU, same run.

Usage (from the repository root)::

    python asv_benchmarks/fixed_number_materialise.py                 # N = 30,000, K = 300 vs p = 0.01
    python asv_benchmarks/fixed_number_materialise.py --n 100000 --num-conn 1000

For Scalar and Normal weights, two float32 R matrices of the same shape,
law and seed, ``num_conn=K`` and ``prob=K/N``: ``tocsr()``,
``count_nonzero()`` and ``todense()`` of the first 2,000 rows, each the
minimum wall time of ``repeat`` interleaved rounds after one warm-up call.
The materialising kernels walk a fixed-number matrix by SIMD lanes as the
products do (kernels/_cpu_fixed_lanes.py).
"""

from __future__ import annotations

import argparse
import time

import numpy as np

import lazyconn

SEED = 20240601
LAWS = {"Scalar": {"weight": 0.5}, "Normal": {"loc": 0.0, "scale": 1.0}}
MEASURES = {
    "tocsr()": lambda conn: conn.tocsr(),
    "count_nonzero()": lambda conn: conn.count_nonzero(),
    "todense() of 2,000 rows": lambda conn: conn[:2000].todense(),
}


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=30_000)
    parser.add_argument("--num-conn", type=int, default=300)
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    n, k = args.n, args.num_conn
    print(f"N = {n:,}, K = {k} vs p = {k / n:g}, float32 R matrices, {lazyconn.__name__} "
          f"{lazyconn.__version__}, min wall time of {args.repeat} interleaved rounds\n")
    print("| law | measure | Bernoulli ms | fixed-number ms | ratio |")
    print("|---|---|---|---|---|")
    for law, params in LAWS.items():
        cls = getattr(lazyconn, f"JITC{law}R")
        bernoulli = cls(n, n, prob=k / n, seed=SEED, dtype=np.float32, **params)
        fixed = cls(n, n, num_conn=k, seed=SEED, dtype=np.float32, **params)
        for name, measure in MEASURES.items():
            best = [float("inf"), float("inf")]
            for conn in (bernoulli, fixed):
                measure(conn)  # warm-up: compile, caches
            for _ in range(args.repeat):
                for i, conn in enumerate((bernoulli, fixed)):
                    start = time.perf_counter()
                    measure(conn)
                    best[i] = min(best[i], time.perf_counter() - start)
            print(f"| {law} | `{name}` | {best[0] * 1e3:.1f} | {best[1] * 1e3:.1f} | {best[1] / best[0]:.2f}x |")


if __name__ == "__main__":
    main()
