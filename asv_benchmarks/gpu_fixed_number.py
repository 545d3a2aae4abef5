"""Fixed-number against Bernoulli products on the GPU, at the same expected density, same run.

Usage (from the repository root, on a machine with CuPy and a GPU)::

    python asv_benchmarks/gpu_fixed_number.py                      # N = 1,000,000, K = 1000 vs p = 0.001
    python asv_benchmarks/gpu_fixed_number.py --n 100000 --num-conn 1000
    python asv_benchmarks/gpu_fixed_number.py --laws Scalar Normal --orientations R C

The GPU twin of ``fixed_number.py``: for each law and orientation, two
float32 matrices of the same shape, law and seed, ``num_conn=K`` and
``prob=K/N`` (the same expected number of connections).  Products: dense
``M @ y`` and ``x @ M``, binary events ``spikes @ M`` with 1 % of the rows
active, and a batched ``M @ Y`` with 8 columns, each under
``deterministic=False`` (the default) and ``True``.  Times are CUDA-event
minima of ``repeat`` interleaved rounds (Bernoulli, then fixed-number, for
every product) after one round that compiles the kernels.  The target of
issue 14: fixed-number within 1.5x of Bernoulli.
"""

from __future__ import annotations

import argparse

import cupy as cp
import numpy as np

import lazyconn

SEED = 20240601

LAWS = {
    "Scalar": lambda: lazyconn.Scalar(0.5),
    "Uniform": lambda: lazyconn.Uniform(0.0, 1.0),
    "Normal": lambda: lazyconn.Normal(0.0, 1.0),
    "LogNormal": lambda: lazyconn.LogNormal(-0.5, 0.8),
}


def _milliseconds(call):
    start, stop = cp.cuda.Event(), cp.cuda.Event()
    start.record()
    call()
    stop.record()
    stop.synchronize()
    return cp.cuda.get_elapsed_time(start, stop)


def products(n, batch, rng):
    """``{name: f(conn)}``: the products timed, on fixed device operands."""
    y = cp.asarray(rng.standard_normal(n).astype(np.float32))
    x = cp.asarray(rng.standard_normal(n).astype(np.float32))
    spikes = lazyconn.BinaryArray(cp.asarray(rng.random(n) < 0.01))
    ys = cp.asarray(rng.standard_normal((n, batch)).astype(np.float32))
    return {
        "M @ y": lambda conn: conn @ y,
        "x @ M": lambda conn: x @ conn,
        "spikes @ M (1%)": lambda conn: spikes @ conn,
        f"M @ Y ({batch} cols)": lambda conn: conn @ ys,
    }


def run(n, num_conn, law_names, orientations, repeat, batch):
    rng = np.random.default_rng(0)
    ops = products(n, batch, rng)
    results = {}
    for orientation in orientations:
        for law_name in law_names:
            law = LAWS[law_name]()
            pair = {
                "bernoulli": lazyconn.from_spec(
                    lazyconn.Spec((n, n), orientation, num_conn / n, law, SEED, np.float32)),
                "fixed": lazyconn.from_spec(
                    lazyconn.Spec((n, n), orientation, None, law, SEED, np.float32, num_conn=num_conn)),
            }
            for deterministic in (False, True):
                with lazyconn.set_options(deterministic=deterministic):
                    for op_name, op in ops.items():
                        times = {rule: [] for rule in pair}
                        for round_ in range(repeat + 1):  # round 0 compiles or loads the kernels
                            for rule, conn in pair.items():
                                elapsed = _milliseconds(lambda conn=conn, op=op: op(conn))
                                if round_:
                                    times[rule].append(elapsed)
                        key = (orientation, law_name, deterministic, op_name)
                        results[key] = {rule: min(v) for rule, v in times.items()}
    return results


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--n", type=int, default=1_000_000)
    parser.add_argument("--num-conn", type=int, default=1000)
    parser.add_argument("--laws", nargs="+", default=["Scalar", "Normal"], choices=sorted(LAWS))
    parser.add_argument("--orientations", nargs="+", default=["R"], choices=["R", "C"])
    parser.add_argument("--repeat", type=int, default=5)
    parser.add_argument("--batch", type=int, default=8)
    args = parser.parse_args(argv)
    results = run(args.n, args.num_conn, args.laws, args.orientations, args.repeat, args.batch)
    name = cp.cuda.runtime.getDeviceProperties(cp.cuda.Device().id)["name"].decode()
    print(f"N = {args.n:,}, K = {args.num_conn} vs p = {args.num_conn / args.n}, float32, {name}, "
          f"min CUDA-event time of {args.repeat} interleaved rounds\n")
    print("| orientation | law | deterministic | product | Bernoulli ms | fixed-number ms | ratio |")
    print("|---|---|---|---|---|---|---|")
    for (orientation, law_name, deterministic, op_name), best in results.items():
        ratio = best["fixed"] / best["bernoulli"]
        print(f"| {orientation} | {law_name} | {deterministic} | `{op_name}` | {best['bernoulli']:.2f} "
              f"| {best['fixed']:.2f} | {ratio:.2f}x |")
    return results


if __name__ == "__main__":
    main()
