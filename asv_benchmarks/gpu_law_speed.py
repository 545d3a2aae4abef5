"""Products of every weight law on the GPU, same run, with the ratios of issue 14.

Usage (from the repository root, on a machine with CuPy and a GPU)::

    python asv_benchmarks/gpu_law_speed.py              # N = 1,000,000, p = 0.01
    python asv_benchmarks/gpu_law_speed.py --n 100000   # quick look

For each law, an R matrix of N x N at p = 0.01: the gather ``M @ y``, the
dense scatter ``x @ M`` and 1% binary spikes ``BinaryArray(s) @ M``, float32
and float64.  Laws are interleaved round by round; each cell is the minimum
over rounds of the CUDA-event median of ``repeat`` calls.  Ratios:
LogNormal / Normal and Exponential / Uniform (issue 14's targets: within
1.3x and 1.2x).
"""

from __future__ import annotations

import argparse

import numpy as np

import cupy as cp

import lazyconn

LAWS = {
    "Scalar": lazyconn.Scalar(0.1),
    "Uniform": lazyconn.Uniform(0.0, 0.2),
    "Normal": lazyconn.Normal(0.0, 0.1),
    "LogNormal": lazyconn.LogNormal(-2.0, 0.5),
    "Exponential": lazyconn.Exponential(0.1),
}
RATIOS = (("LogNormal", "Normal"), ("Exponential", "Uniform"))


def cuda_median_ms(fn, repeat):
    """Median milliseconds of ``fn()`` by CUDA events, after one warm-up call."""
    fn()
    cp.cuda.Device().synchronize()
    times = []
    for _ in range(repeat):
        start, end = cp.cuda.Event(), cp.cuda.Event()
        start.record()
        fn()
        end.record()
        end.synchronize()
        times.append(cp.cuda.get_elapsed_time(start, end))
    return float(np.median(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--dtypes", default="float32,float64")
    args = parser.parse_args()
    n = args.n
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    rng = np.random.default_rng(0)
    spikes = lazyconn.BinaryArray(cp.asarray(rng.random(n) < 0.01))
    best = {}
    for dtype in args.dtypes.split(","):
        y = cp.asarray(rng.standard_normal(n).astype(dtype))
        x = cp.asarray(rng.standard_normal(n).astype(dtype))
        conns = {law: lazyconn.from_spec(lazyconn.Spec((n, n), "R", 0.01, value, 2026, np.dtype(dtype)))
                 for law, value in LAWS.items()}
        cases = {"gather M @ y": lambda c: c @ y, "dense scatter x @ M": lambda c: x @ c,
                 "1% binary spikes s @ M": lambda c: spikes @ c}
        for _ in range(args.rounds):
            for law, conn in conns.items():
                for case, fn in cases.items():
                    t = cuda_median_ms(lambda: fn(conn), args.repeat)
                    key = (dtype, case, law)
                    best[key] = min(best.get(key, np.inf), t)
    print(f"GPU: {name}; N = {n:,}, p = 0.01, R matrices; min over {args.rounds} rounds of medians of "
          f"{args.repeat} (ms)")
    print("| dtype | product | " + " | ".join(LAWS) + " | " + " | ".join(f"{a} / {b}" for a, b in RATIOS) + " |")
    print("| --- | --- |" + " ---: |" * (len(LAWS) + len(RATIOS)))
    for dtype in args.dtypes.split(","):
        for case in ("gather M @ y", "dense scatter x @ M", "1% binary spikes s @ M"):
            row = [best[dtype, case, law] for law in LAWS]
            ratios = [best[dtype, case, a] / best[dtype, case, b] for a, b in RATIOS]
            print(f"| {dtype} | {case} | " + " | ".join(f"{t:.3f}" for t in row) + " | "
                  + " | ".join(f"{r:.2f}x" for r in ratios) + " |")


if __name__ == "__main__":
    main()
