"""Run-to-run bits and cost of the GPU backend's deterministic products (issue 11, item 11).

Usage::

    python asv_benchmarks/gpu_determinism.py           # N = 1,000,000, p = 0.01, float32
    python asv_benchmarks/gpu_determinism.py --quick   # N = 200,000

For each law, in one process on one GPU: the gather ``M @ y`` with per-tile
partials summed in tile order (the default, at partial budgets of 64 and
256 MiB) against the old route (one atomic add per (line, tile) partial),
CUDA-event medians; and, for the gather, the dense scatter ``x @ M`` and
1% binary spikes, whether five runs give the same bits (and the largest
difference between runs when they do not).  Then the scatters (dense
``x @ M`` of an R matrix, 1% binary spikes ``s @ M``, and for the Scalar law the dense scatter
compiled for six CTAs per SM): the default float-atomic route
against the fixed-point route of ``deterministic=True`` (ms, ratio, GPU
memory beyond operand and result), and their bits over five runs.
"""

from __future__ import annotations

import argparse

import numpy as np

import cupy as cp

import lazyconn
from lazyconn.bench import device_extra_bytes
from lazyconn.kernels import _gpu_fixed, gpu

from gpu_targets import LAWS, cuda_time


def same_bits(fn, runs=5):
    """``(all equal, largest absolute difference from the first run)``."""
    first = fn().get()
    worst = 0.0
    for _ in range(runs - 1):
        other = fn().get()
        worst = max(worst, float(np.nanmax(np.abs(other.astype(np.float64) - first))))
    return worst == 0.0, worst


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--seed", type=int, default=2026)
    args = parser.parse_args()
    n = 200_000 if args.quick else 1_000_000
    props = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)
    name = props["name"].decode() if isinstance(props["name"], bytes) else props["name"]
    rng = np.random.default_rng(0)
    y = cp.asarray(rng.standard_normal(n).astype(np.float32))
    x = cp.asarray(rng.standard_normal(n).astype(np.float32))
    events = lazyconn.BinaryArray(cp.asarray(rng.random(n) < 0.01))
    saved = gpu._PARTIAL_BYTES
    print(f"| {name}, N = {n:,}, p = 0.01, float32 | law | atomic ms | tile order, 64 MiB ms | tile order, 256 MiB ms "
          "| cost (64 MiB) | MiB beyond in/out (64 MiB) |")
    print("| --- | --- | ---: | ---: | ---: | ---: | ---: |")
    checks = []
    for law, make in LAWS.items():
        conn = make(n, args.seed)
        times = []
        for deterministic, budget in ((False, 64 * 2**20), (True, 64 * 2**20), (True, 256 * 2**20)):
            gpu._PARTIAL_BYTES = budget
            with lazyconn.set_options(deterministic=deterministic):
                times.append(cuda_time(lambda: conn @ y, repeat=10)[0])
        checks.append((law, "gather M @ y, default (atomic) route", *same_bits(lambda: conn @ y)))
        gpu._PARTIAL_BYTES = saved
        with lazyconn.set_options(deterministic=True):
            mem = device_extra_bytes(lambda: conn @ y)[1]
        print(f"| | {law} | {times[0]:.3f} | {times[1]:.3f} | {times[2]:.3f} | {times[1] / times[0] - 1:+.1%} "
              f"| {mem / 2**20:.1f} |")
        with lazyconn.set_options(deterministic=True):
            for case, fn in (("gather M @ y, deterministic=True", lambda: conn @ y),
                             ("y @ M.T, deterministic=True", lambda: y @ conn.T)):
                checks.append((law, case, *same_bits(fn)))
            checks.append((law, "M @ y == y @ M.T, deterministic=True", _bits(conn @ y) == _bits(y @ conn.T), 0.0))
        for case, fn in (("dense scatter x @ M, default (atomic) route", lambda: x @ conn),
                         ("1% spikes s @ M, default (atomic) route", lambda: events @ conn)):
            checks.append((law, case, *same_bits(fn)))
    print()
    print(f"| {name}, N = {n:,}, p = 0.01, float32 | law | scatter | default (float atomics) ms | deterministic ms "
          "| ratio | MiB beyond in/out, default | deterministic |")
    print("| --- | --- | --- | ---: | ---: | ---: | ---: | ---: |")
    for law, make in LAWS.items():
        conn = make(n, args.seed)
        cases = [("dense x @ M", lambda: x @ conn, 4), ("1% spikes s @ M", lambda: events @ conn, 4)]
        if law == "Scalar":  # the register bound of the unweighted one-column walk: 4 or 6 CTAs per SM
            cases.append(("dense x @ M, registers for 6 CTAs/SM", lambda: x @ conn, 6))
        for case, fn, ctas in cases:
            _gpu_fixed._MIN_CTAS[False, 1] = ctas
            cells = []
            for deterministic in (False, True):
                with lazyconn.set_options(deterministic=deterministic):
                    cells.append((cuda_time(fn, repeat=10 if "dense" in case else 50)[0],
                                  device_extra_bytes(fn)[1]))
                    if deterministic:
                        checks.append((law, f"{case}, deterministic=True", *same_bits(fn)))
            _gpu_fixed._MIN_CTAS[False, 1] = 4
            (t0, m0), (t1, m1) = cells
            print(f"| | {law} | {case} | {t0:.3f} | {t1:.3f} | {t1 / t0:.2f}x | {m0 / 2**20:.1f} | {m1 / 2**20:.1f} |")
    print()
    print("| law | product | same bits over 5 runs | largest difference between runs |")
    print("| --- | --- | --- | ---: |")
    for law, case, same, worst in checks:
        print(f"| {law} | {case} | {same} | {worst:.3g} |")


def _bits(a):
    return a.get().tobytes()


if __name__ == "__main__":
    main()
