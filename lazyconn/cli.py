"""The ``lazyconn`` command: ``info``, ``demo`` and ``bench``.

Each sub-command is a thin layer over a public function --
:func:`lazyconn.info`, :func:`lazyconn.demo.run_demo`,
:func:`lazyconn.bench.run_bench` -- so anything the command line does can
be done, and tested, from Python.
"""

from __future__ import annotations

import argparse
import json
import sys

__all__ = ["main", "build_parser"]


def _positive_int(text):
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a positive integer, got {text!r}")
    return value


def _non_negative_int(text):
    try:
        value = int(text.replace("_", ""))
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}") from None
    if value < 0:
        raise argparse.ArgumentTypeError(f"expected an integer >= 0, got {text!r}")
    return value


def _probability(text):
    try:
        value = float(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a probability, got {text!r}") from None
    if not 0.0 < value <= 1.0:
        raise argparse.ArgumentTypeError(f"expected a probability in (0, 1], got {text!r}")
    return value


def build_parser():
    """The argument parser of ``lazyconn`` (for documentation and tests).

    Returns
    -------
    argparse.ArgumentParser
    """
    from . import __version__

    parser = argparse.ArgumentParser(
        prog="lazyconn",
        description="Random connectivity matrices too large to store: just-in-time generated.",
    )
    parser.add_argument("--version", action="version", version=f"lazyconn {__version__}")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND")

    info = commands.add_parser("info", help="versions, backends available and chosen, threads, GPU")
    info.add_argument("--json", action="store_true", help="print the facts as JSON")

    demo = commands.add_parser(
        "demo",
        help="simulate a balanced E/I spiking network on JITC connectivity",
        description="Simulate a balanced excitatory/inhibitory network of leaky integrate-and-fire "
        "neurons (Brunel 2000, p = 0.02) whose connectivity is two JITC matrices; print firing "
        "rates, wall time and memory against CSR and dense storage; write raster.png and "
        "connectivity.png.",
    )
    demo.add_argument("--quick", action="store_true",
                      help="10,000 neurons and 300 ms unless --neurons/--steps say otherwise")
    demo.add_argument("--neurons", type=_positive_int, default=None,
                      help="network size (default: 1,000,000 on a GPU, 100,000 on the CPU)")
    demo.add_argument("--steps", type=_positive_int, default=None,
                      help="time steps of 0.1 ms (default 3,000: 300 ms)")
    demo.add_argument("--out", default="lazyconn-demo", help="folder for the pictures (default: %(default)s)")
    demo.add_argument("--seed", type=int, default=0, help="root seed (default: %(default)s)")
    demo.add_argument("--device", choices=("auto", "cpu", "gpu"), default="auto",
                      help="where to simulate (default: %(default)s: the GPU when usable)")
    demo.add_argument("--gpus", type=_positive_int, default=None, metavar="K",
                      help="step on K Dask workers, one per GPU, each owning a block of neurons "
                      "(with --device cpu: K CPU worker processes)")
    demo.add_argument("--fixed-indegree", action="store_true",
                      help="exactly K = 0.1 N_E excitatory and 0.1 N_I inhibitory inputs per neuron "
                      "(num_conn C matrices; CPU only; default 10,000 neurons, 5,000 with --quick)")
    demo.add_argument("--no-progress", action="store_true", help="no progress bar")

    bench = commands.add_parser(
        "bench",
        help="time R vs C on every backend against scipy CSR and dense NumPy",
        description="Time x @ M, M @ y and 1% BinaryArray spikes @ M for R and C matrices on "
        "every available backend (reference, Numba, GPU), against scipy.sparse CSR and dense NumPy measured in "
        "the same run; print same-run ratios.",
    )
    bench.add_argument("--quick", action="store_true", help="one small size (2,000) and 3 runs")
    bench.add_argument("--sizes", type=_positive_int, nargs="+", default=None,
                       help="matrix sides N (default: 10000 50000)")
    bench.add_argument("--prob", type=_probability, default=0.01, help="connection probability (default: %(default)s)")
    bench.add_argument("--runs", type=_positive_int, default=None, help="timed runs per measurement (default 5)")
    bench.add_argument("--seed", type=int, default=0, help="seed of matrices and inputs (default: %(default)s)")
    bench.add_argument("--no-gpu", action="store_true", help="leave the GPU backend out even when usable")
    bench.add_argument("--per-connection-n", type=_non_negative_int, default=20_000,
                       help="side N of the one-thread ns-per-connection table of every weight law "
                       "(default: %(default)s; 0 leaves it out)")
    return parser


def main(argv=None):
    """Run the ``lazyconn`` command line.

    Parameters
    ----------
    argv : list of str, optional
        Arguments without the program name (default: ``sys.argv[1:]``).

    Returns
    -------
    int
        Exit status: 0 on success, 1 for an error reported by a command, 2
        for bad usage (raised by argparse as ``SystemExit``).
    """
    parser = build_parser()
    args = parser.parse_args(argv)
    if args.command is None:
        parser.print_help()
        return 0
    try:
        if args.command == "info":
            from ._info import format_info, info

            facts = info()
            print(json.dumps(facts, indent=2) if args.json else format_info(facts))
        elif args.command == "demo":
            from .demo import run_demo

            run_demo(neurons=args.neurons, steps=args.steps, out=args.out, seed=args.seed,
                     quick=args.quick, device=args.device, progress=not args.no_progress, gpus=args.gpus,
                     fixed_indegree=args.fixed_indegree)
        elif args.command == "bench":
            from .bench import run_bench

            sizes = args.sizes or ((2_000,) if args.quick else (10_000, 50_000))
            runs = args.runs or (3 if args.quick else 5)
            run_bench(sizes=tuple(sizes), prob=args.prob, n_runs=runs, seed=args.seed, gpu=not args.no_gpu,
                      per_connection_n=args.per_connection_n)
    except (ValueError, RuntimeError, ImportError) as exc:
        print(f"lazyconn {args.command}: error: {exc}", file=sys.stderr)
        return 1
    return 0


if __name__ == "__main__":  # python -m lazyconn.cli
    sys.exit(main())
