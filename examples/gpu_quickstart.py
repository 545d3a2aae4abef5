"""GPU quickstart: the same matrix, generated on the GPU, bit for bit.

A JITC matrix has no device: multiplying it by a CuPy array runs the CUDA
kernels, by a NumPy array the CPU ones, and both realise the same matrix.

    python examples/gpu_quickstart.py                    # 1,000,000 neurons
    python examples/gpu_quickstart.py --neurons 10000

Needs ``pip install "lazyconn[gpu]"`` and a CUDA GPU; exits with status 0
and a message when there is none.
"""

import argparse
import sys

import numpy as np

import lazyconn
from lazyconn.bench import benchmark_function


def _no_gpu(reason):
    # Not an error: the example has nothing to show on this machine.
    print(f"no GPU run: {reason}", file=sys.stderr)
    sys.exit(0)


def _cupy_or_exit():
    try:
        import cupy
    except ImportError:
        _no_gpu("CuPy is not installed (pip install 'lazyconn[gpu]')")
    try:
        usable = cupy.is_available()
    except Exception:  # noqa: BLE001 - a broken driver counts as no GPU
        usable = False
    if not usable:
        _no_gpu("CuPy is installed but finds no usable CUDA device")
    return cupy


def main(argv=None):
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--neurons", type=int, default=1_000_000, help="matrix side (default: %(default)s)")
    parser.add_argument("--prob", type=float, default=0.01, help="connection probability (default: %(default)s)")
    args = parser.parse_args(argv)
    cp = _cupy_or_exit()
    n = args.neurons

    conn = lazyconn.JITCScalarR(n, n, prob=args.prob, weight=0.5, seed=0)
    spikes = cp.random.default_rng(1).random(n) < 0.01
    currents = lazyconn.BinaryArray(spikes) @ conn  # CuPy in, CuPy out: GPU kernels
    print(f"{conn}: spikes @ conn -> {type(currents).__module__}.{type(currents).__name__} {currents.shape}")

    # The GPU realises the same matrix as the CPU, bit for bit.
    window = conn[:64, :4096]
    same = np.array_equal(window.todense(xp=cp).get(), window.todense())
    print(f"window [:64, :4096] generated on the GPU equals the CPU one: {same}")

    # Event-driven on the GPU, checked against the host on a few columns.
    host_currents = np.asarray(lazyconn.BinaryArray(spikes.get()) @ conn[:, :4096])
    np.testing.assert_allclose(currents[:4096].get(), host_currents, rtol=1e-5, atol=1e-4)

    y = cp.ones(n, dtype=cp.float32)
    gather = benchmark_function(lambda: conn @ y, n_runs=5)
    events = benchmark_function(lambda: lazyconn.BinaryArray(spikes) @ conn, n_runs=5)
    print(f"conn @ y  (all {args.prob * n * n:,.0f} synapses): {gather}")
    print(f"spikes @ conn (1% active rows):            {events}")
    if not same:
        sys.exit("GPU and CPU realisations differ")


if __name__ == "__main__":
    main()
