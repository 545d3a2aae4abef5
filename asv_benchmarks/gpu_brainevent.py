"""brainevent 0.3.0 on the same GPU: the peer figures for gpu_targets.py.

Usage (brainevent, brainunit and saiunit installed, JAX with CUDA)::

    XLA_PYTHON_CLIENT_PREALLOCATE=false python asv_benchmarks/gpu_brainevent.py

Times the same products as ``gpu_targets.py`` (N = 1,000,000, p = 0.01,
float32: ``M @ y``, ``x @ M`` with a dense x, 1% binary spikes ``s @ M``) with
brainevent's JITC row matrices in both of its layouts (``corder`` False and
True: which product is its gather and which its scatter depends on it) and
its default GPU kernels, each product under
``jax.jit``, wall clock around ``block_until_ready`` after warm-up.  Run it in
its own process, next to ``gpu_targets.py``, so that JAX and CuPy do not
compete for GPU memory.  Note brainevent's matrices are not lazyconn's: its
gap law and seeding differ (see docs/spec.md), so only the costs compare.
"""

from __future__ import annotations

import argparse
import os
import time

import numpy as np

os.environ.setdefault("XLA_PYTHON_CLIENT_PREALLOCATE", "false")

import brainevent  # noqa: E402
import jax  # noqa: E402
import jax.numpy as jnp  # noqa: E402


def wall_time(fn, arg, repeat=10, warmup=2):
    """Median and minimum milliseconds of ``fn(arg)``, synchronised."""
    for _ in range(warmup):
        jax.block_until_ready(fn(arg))
    times = []
    for _ in range(repeat):
        start = time.perf_counter()
        jax.block_until_ready(fn(arg))
        times.append((time.perf_counter() - start) * 1e3)
    return float(np.median(times)), float(np.min(times))


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    args = parser.parse_args()
    n = args.n
    rng = np.random.default_rng(0)
    print(f"brainevent {brainevent.__version__}, jax {jax.__version__}, device {jax.devices()[0].device_kind}")
    y = jnp.asarray(rng.standard_normal(n).astype(np.float32))
    x = jnp.asarray(rng.standard_normal(n).astype(np.float32))
    spikes = jnp.asarray(rng.random(n) < 0.01)
    print(f"| GPU: {jax.devices()[0].device_kind} | law | corder | product | brainevent median ms | min ms | first call s |")
    print("| --- | --- | --- | --- | ---: | ---: | ---: |")
    for corder in (False, True):
        mats = {
            "Scalar": brainevent.JITCScalarR((0.1, 0.01, 2026), shape=(n, n), corder=corder),
            "Normal": brainevent.JITCNormalR((0.0, 0.1, 0.01, 2026), shape=(n, n), corder=corder),
            "Uniform": brainevent.JITCUniformR((0.0, 0.2, 0.01, 2026), shape=(n, n), corder=corder),
        }
        for law, mat in mats.items():
            cases = {
                "M @ y": (jax.jit(lambda v, m=mat: m @ v), y),
                "x @ M (dense x)": (jax.jit(lambda v, m=mat: v @ m), x),
                "1% binary spikes s @ M": (jax.jit(lambda v, m=mat: brainevent.BinaryArray(v) @ m), spikes),
            }
            for case, (fn, arg) in cases.items():
                start = time.perf_counter()
                try:
                    jax.block_until_ready(fn(arg))
                except Exception as exc:  # report and go on: one failing case must not hide the rest
                    print(f"| N = {n:,} | {law} | {corder} | {case} | failed: {type(exc).__name__}: {str(exc)[:120]} | | |")
                    continue
                first = time.perf_counter() - start
                med, best = wall_time(fn, arg, repeat=10 if "spikes" not in case else 50)
                print(f"| N = {n:,} | {law} | {corder} | {case} | {med:.3f} | {best:.3f} | {first:.1f} |")


if __name__ == "__main__":
    main()
