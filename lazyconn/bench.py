"""Timing JITC products: :func:`benchmark_function` and ``lazyconn bench``.

:func:`benchmark_function` is the way to answer "R or C?" and "which
backend?" for *your* shapes, probability, weight law and input density: the
right choice depends on all of them (see :doc:`/howto/choose_orientation`).

:func:`run_bench` is the ``lazyconn bench`` command: every available
backend (NumPy reference, Numba CPU, CuPy GPU), both orientations, three
products, against scipy.sparse CSR and dense NumPy measured in the same
run, printed as same-run ratios; then :func:`per_connection`, the cost of
one connection on one CPU thread for each weight law.
"""

from __future__ import annotations

import statistics
import sys
import time
from dataclasses import dataclass

import numpy as np

__all__ = ["BenchmarkResult", "benchmark_function", "run_bench", "per_connection", "device_extra_bytes"]


@dataclass(frozen=True)
class BenchmarkResult:
    """Wall-clock times of repeated calls, in seconds.

    Parameters
    ----------
    times : tuple of float
        One wall-clock time per timed run, in call order.
    """

    times: tuple

    @property
    def runs(self):
        """Number of timed runs."""
        return len(self.times)

    @property
    def mean(self):
        """Mean time (s)."""
        return statistics.fmean(self.times)

    @property
    def median(self):
        """Median time (s): the figure to compare, robust to one slow run."""
        return statistics.median(self.times)

    @property
    def min(self):
        """Fastest run (s)."""
        return min(self.times)

    @property
    def std(self):
        """Sample standard deviation (s); 0.0 for a single run."""
        return statistics.stdev(self.times) if len(self.times) > 1 else 0.0

    def __repr__(self):
        return (
            f"BenchmarkResult(median={format_seconds(self.median)}, mean={format_seconds(self.mean)}, "
            f"min={format_seconds(self.min)}, std={format_seconds(self.std)}, runs={self.runs})"
        )


def format_seconds(seconds):
    """A time with a readable unit: ``'12.3 ms'``.

    Parameters
    ----------
    seconds : float

    Returns
    -------
    str
    """
    for unit, scale in (("s", 1.0), ("ms", 1e-3), ("us", 1e-6)):
        if abs(seconds) >= scale:
            return f"{seconds / scale:.3g} {unit}"
    return f"{seconds / 1e-9:.3g} ns"


def _gpu_synchronizer():
    """A function that waits for queued CuPy work, or None.

    Only when CuPy is already imported by the caller: timing NumPy work
    never imports CuPy.  A whole-device synchronise covers work on any
    stream, so kernels launched asynchronously by ``fn`` are inside its time.
    """
    cupy = sys.modules.get("cupy")
    if cupy is None:
        return None
    try:
        if cupy.cuda.runtime.getDeviceCount() < 1:
            return None
        device = cupy.cuda.Device()
    except Exception:  # noqa: BLE001 - no driver or no device: nothing to wait for
        return None
    return device.synchronize


def benchmark_function(fn, *args, n_warmup=1, n_runs=5, **kwargs):
    """Time ``fn(*args, **kwargs)``: warm-up calls, then timed calls.

    Use it to choose between orientations (``JITCScalarR`` or
    ``JITCScalarC``), weight laws or backends for your own sizes and input
    density: compare the medians of two results measured in the same
    process.

    When CuPy has been imported, the GPU is synchronised before each timed
    call starts and before its clock stops, so asynchronous kernel launches
    are timed in full.  Warm-up calls absorb JIT compilation (Numba, CuPy
    kernels) and are not timed.

    Parameters
    ----------
    fn : callable
        The work to time.
    *args, **kwargs
        Passed to ``fn`` on every call.
    n_warmup : int, optional
        Untimed calls first (default 1; at least 1 for anything compiled).
    n_runs : int, optional
        Timed calls (default 5, at least 1).

    Returns
    -------
    BenchmarkResult
        ``.median``, ``.mean``, ``.min``, ``.std`` (seconds), ``.runs`` and
        the raw ``.times``.

    Raises
    ------
    ValueError
        If ``n_runs < 1`` or ``n_warmup < 0``.

    Examples
    --------
    Is the event-driven orientation worth it for 1% spikes?

    >>> import numpy as np, lazyconn
    >>> from lazyconn.bench import benchmark_function
    >>> conn_r = lazyconn.JITCScalarR(2000, 2000, prob=0.05, weight=1.0, seed=0)
    >>> conn_c = lazyconn.JITCScalarC(2000, 2000, prob=0.05, weight=1.0, seed=0)
    >>> spikes = lazyconn.BinaryArray(np.random.default_rng(0).random(2000) < 0.01)
    >>> r = benchmark_function(lambda: spikes @ conn_r, n_runs=3)
    >>> c = benchmark_function(lambda: spikes @ conn_c, n_runs=3)
    >>> r.runs, c.runs
    (3, 3)
    """
    if isinstance(n_runs, bool) or int(n_runs) != n_runs or n_runs < 1:
        raise ValueError(f"n_runs must be an integer >= 1, got {n_runs!r}")
    if isinstance(n_warmup, bool) or int(n_warmup) != n_warmup or n_warmup < 0:
        raise ValueError(f"n_warmup must be an integer >= 0, got {n_warmup!r}")
    for _ in range(int(n_warmup)):
        fn(*args, **kwargs)
    synchronize = _gpu_synchronizer()
    times = []
    for _ in range(int(n_runs)):
        if synchronize is not None:
            synchronize()
        start = time.perf_counter()
        fn(*args, **kwargs)
        if synchronize is not None:
            synchronize()
        times.append(time.perf_counter() - start)
    return BenchmarkResult(tuple(times))


# --------------------------------------------------------------------- lazyconn bench
#: Largest number of synapses timed on the NumPy reference backend (it is
#: the oracle, roughly 50-100x slower than the Numba one).
REFERENCE_MAX_SYNAPSES = 2_000_000


def _kernel_backends(include_gpu=True):
    """``[(name, module, xp)]``: the kernel backends that work here.

    Host backends take NumPy operands; the GPU one (when CuPy, a device and
    lazyconn's GPU kernels all work) takes CuPy operands, and its times
    include a device synchronise (see :func:`benchmark_function`).
    """
    from .kernels import reference

    backends = [("reference", reference, np)]
    try:
        from .kernels import cpu
    except ImportError:
        pass
    else:
        backends.append(("cpu", cpu, np))
    if include_gpu:
        from ._info import gpu_status

        if gpu_status()["available"]:
            import cupy

            from .kernels import gpu

            backends.append(("gpu", gpu, cupy))
    return backends


def _csr_bytes(csr):
    return csr.data.nbytes + csr.indices.nbytes + csr.indptr.nbytes


def _bench_size(n, prob, n_runs, dense_limit_bytes, csr_limit_bytes, seed, log, backends):
    """Rows of the table for one ``n x n`` matrix."""
    import pickle

    import lazyconn
    from . import products

    rng = np.random.default_rng(seed)
    x = rng.standard_normal(n).astype(np.float32)
    spikes = rng.random(n) < 0.01
    active = np.flatnonzero(spikes)
    expected = prob * n * n
    matrices = {
        "R": lazyconn.JITCScalarR(n, n, prob, 1.0, seed=seed),
        "C": lazyconn.JITCScalarC(n, n, prob, 1.0, seed=seed),
    }
    header = (
        f"N = {n:,}, p = {prob}, ~{expected:,.0f} synapses; JITC: "
        f"{len(pickle.dumps(matrices['R']))} bytes"
    )
    # Each case takes the operands already in the backend's namespace, so
    # host-device copies stay out of the timings.
    cases = {
        "x @ M": lambda conn, kernels, xp, ops: products.matmul(conn, ops[0], "left", False, kernels, xp),
        "M @ y": lambda conn, kernels, xp, ops: products.matmul(conn, ops[0], "right", False, kernels, xp),
        "spikes @ M": lambda conn, kernels, xp, ops: products.matmul(conn, ops[1], "left", True, kernels, xp),
    }
    timings = {case: {} for case in cases}
    notes = []

    csr_bytes_estimate = expected * 8 + (n + 1) * 8
    if csr_bytes_estimate <= csr_limit_bytes:
        with lazyconn.set_options(max_dense_size=max(2**27, int(3 * expected) + 1024)):
            matrices["R"][:8, :8].tocsr()  # compiles the kernels: not build time
            start = time.perf_counter()
            csr = matrices["R"].tocsr()
            build = time.perf_counter() - start
        notes.append(f"CSR: built in {format_seconds(build)}, {_csr_bytes(csr) / 2**20:,.1f} MiB")
        csr_t = csr.T.tocsr()
        log(f"  timing CSR (N = {n:,})")
        timings["x @ M"]["scipy CSR"] = benchmark_function(lambda: csr_t @ x, n_runs=n_runs)
        timings["M @ y"]["scipy CSR"] = benchmark_function(lambda: csr @ x, n_runs=n_runs)
        # The fair CSR baseline for events is its row gather, not a full product.
        timings["spikes @ M"]["scipy CSR"] = benchmark_function(
            lambda: np.asarray(csr[active].sum(axis=0)).ravel(), n_runs=n_runs
        )
        del csr, csr_t
    else:
        notes.append(f"CSR: skipped (would need ~{csr_bytes_estimate / 2**30:.1f} GiB)")

    if n * n * 4 <= dense_limit_bytes:
        with lazyconn.set_options(max_dense_size=n * n):
            dense = matrices["R"].todense()
        log(f"  timing dense NumPy (N = {n:,})")
        timings["x @ M"]["dense NumPy"] = benchmark_function(lambda: x @ dense, n_runs=n_runs)
        timings["M @ y"]["dense NumPy"] = benchmark_function(lambda: dense @ x, n_runs=n_runs)
        timings["spikes @ M"]["dense NumPy"] = benchmark_function(
            lambda: dense[active].sum(axis=0), n_runs=n_runs
        )
        notes.append(f"dense: {n * n * 4 / 2**20:,.1f} MiB")
        del dense
    else:
        notes.append(f"dense: skipped (would need {n * n * 4 / 2**30:.1f} GiB)")

    for name, kernels, xp in backends:
        if name == "reference" and expected > REFERENCE_MAX_SYNAPSES:
            notes.append(f"reference: skipped above {REFERENCE_MAX_SYNAPSES:,} synapses")
            continue
        operands = (xp.asarray(x), xp.asarray(spikes))
        for orientation, conn in matrices.items():
            log(f"  timing {name} {orientation} (N = {n:,})")
            for case, call in cases.items():
                timings[case][f"{name} {orientation}"] = benchmark_function(
                    call, conn, kernels, xp, operands, n_runs=n_runs
                )
    return header, notes, timings


def format_table(header, notes, timings):
    """Text table of one size: median times and same-run ratios.

    Parameters
    ----------
    header : str
    notes : list of str
    timings : dict
        product -> implementation -> :class:`BenchmarkResult`.

    Returns
    -------
    str
    """
    lines = [header] + [f"  {note}" for note in notes]
    lines.append(f"  {'product':<11} {'implementation':<15} {'median':>10} {'vs CSR':>8} {'vs dense':>9}")
    for case, results in timings.items():
        csr = results.get("scipy CSR")
        dense = results.get("dense NumPy")
        for impl, result in results.items():
            vs_csr = f"{result.median / csr.median:.2f}x" if csr else "-"
            vs_dense = f"{result.median / dense.median:.2f}x" if dense else "-"
            lines.append(
                f"  {case:<11} {impl:<15} {format_seconds(result.median):>10} {vs_csr:>8} {vs_dense:>9}"
            )
    return "\n".join(lines)


#: Parameters tried, in order, for a law's example matrix in
#: :func:`per_connection` (the first its check accepts is used).
_EXAMPLE_PARAMS = ((0.0, 1.0, 2.0, 3.0), (0.5, 0.5, 0.5, 0.5), (1.0, 2.0, 3.0, 4.0))


def _example_matrix(law, n, prob, seed):
    """An ``n x n`` R matrix of ``law`` with example parameters, or None if none is accepted."""
    from .matrix import classes_for_law

    row_class, _ = classes_for_law(law.name)
    for values in _EXAMPLE_PARAMS:
        try:
            return row_class(n, n, prob, *values[:len(law.params)], seed=seed)
        except (TypeError, ValueError):
            continue
    return None


def per_connection(n=20_000, prob=0.01, n_runs=3, seed=0, log=None):
    """Nanoseconds per connection of dense products on one CPU thread, for each weight law.

    An ``n x n`` R matrix per registered law (example parameters: the
    connections are the same for every law, only the weights differ), timed
    on ``M @ y`` (gather) and ``x @ M`` (scatter) with dense float32
    vectors on the Numba backend with one thread.  Large enough that the
    cost per call is negligible (at the default 20,000 x 20,000, p = 0.01:
    4 x 10^6 connections); the time is the least CPU time of the process
    over ``n_runs`` runs (after one untimed run), which a busy machine
    disturbs less than wall time.

    Parameters
    ----------
    n : int
        Matrix side.
    prob : float
        Connection probability.
    n_runs : int
        Timed runs per product (the minimum is reported).
    seed : int
        Seed of the matrices and vectors.
    log : callable, optional
        Receives progress messages.

    Returns
    -------
    dict
        Law name -> ``(ns per connection of M @ y, of x @ M)``; empty when
        the Numba backend is not available or the matrix has no connection.

    Raises
    ------
    ValueError
        If ``n`` or ``n_runs`` is not a positive integer.
    """
    if isinstance(n, bool) or int(n) != n or n < 1:
        raise ValueError(f"n must be an integer >= 1, got {n!r}")
    if isinstance(n_runs, bool) or int(n_runs) != n_runs or n_runs < 1:
        raise ValueError(f"n_runs must be an integer >= 1, got {n_runs!r}")
    try:
        import numba

        from .kernels import cpu
    except ImportError:
        return {}
    from . import laws, products

    n = int(n)
    x = np.random.default_rng(seed).standard_normal(n).astype(np.float32)
    matrices = {}
    for law in laws.registered():
        conn = _example_matrix(law, n, prob, seed)
        if conn is not None:
            matrices[law.name] = conn
    if not matrices:
        return {}
    # Where the connections are does not depend on the law (only their
    # weights do): one exact count, of nonzero unit weights, serves every law.
    from .matrix import classes_for_law

    connections = int(classes_for_law("Scalar")[0](n, n, prob, 1.0, seed=seed).count_nonzero())
    if connections == 0:
        return {}
    threads = numba.get_num_threads()
    numba.set_num_threads(1)
    try:
        figures = {}
        for name, conn in matrices.items():
            if log is not None:
                log(f"  timing one thread, {name} (N = {n:,})")
            best = []
            for side in ("right", "left"):
                call = lambda: products.matmul(conn, x, side, False, cpu, np)  # noqa: E731
                call()  # compiles or loads the kernels
                times = []
                for _ in range(int(n_runs)):
                    start = time.process_time()
                    call()
                    times.append(time.process_time() - start)
                best.append(min(times) / connections * 1e9)
            figures[name] = tuple(best)
    finally:
        numba.set_num_threads(threads)
    return figures


def format_per_connection(figures, n, prob, n_runs):
    """Text table of :func:`per_connection`: ns per connection and ratios to Scalar.

    Parameters
    ----------
    figures : dict
        Law name -> ``(M @ y, x @ M)`` in ns per connection.
    n : int
    prob : float
    n_runs : int

    Returns
    -------
    str
    """
    lines = [
        f"ns per connection, one thread: N = {n:,}, p = {prob}, dense float32 vectors, "
        f"least CPU time of {n_runs} runs",
        f"  {'law':<11} {'M @ y':>24} {'x @ M':>24}",
    ]
    base = figures.get("Scalar")
    for name, pair in figures.items():
        cells = []
        for i, value in enumerate(pair):
            ratio = f" ({value / base[i]:.2f}x Scalar)" if base and name != "Scalar" else ""
            cells.append(f"{value:.2f} ns{ratio}")
        lines.append(f"  {name:<11} {cells[0]:>24} {cells[1]:>24}")
    return "\n".join(lines)


def run_bench(sizes=(10_000, 50_000), prob=0.01, n_runs=5, dense_limit_bytes=2 * 2**30,
              csr_limit_bytes=6 * 2**30, seed=0, out=None, log=None, gpu=True, per_connection_n=20_000):
    """Time every available backend against CSR and dense NumPy.

    For each size N, an ``N x N`` Scalar matrix with probability ``prob``, in
    both orientations, is timed on ``x @ M`` and ``M @ y`` (dense float32
    vectors) and ``spikes @ M`` (1% :class:`~lazyconn.BinaryArray` spikes),
    through :func:`lazyconn.products.matmul` with each kernel module passed
    explicitly: the NumPy reference (small sizes only), Numba CPU when it
    imports, and the GPU (operands already on the device) when usable.  Baselines, measured in the same run on the same matrix:
    ``scipy.sparse`` CSR (its build time and bytes are reported; for spikes,
    its row gather ``csr[active].sum(0)``) and dense NumPy where it fits.

    Parameters
    ----------
    sizes : sequence of int
        Matrix sides N.
    prob : float
        Connection probability.
    n_runs : int
        Timed runs per measurement (the median is reported).
    dense_limit_bytes, csr_limit_bytes : int
        Baselines needing more memory than this are skipped.
    seed : int
        Seed of the matrices and inputs.
    out : file-like, optional
        Where the tables are printed (default ``sys.stdout``).
    log : callable, optional
        Receives progress messages (default: print to ``sys.stderr``).
    gpu : bool
        Include the GPU backend when it is usable (default True).
    per_connection_n : int
        Side of the matrices of the one-thread "ns per connection" table of
        every weight law (:func:`per_connection`); 0 leaves it out.  Only
        with the Numba backend.

    Returns
    -------
    list of tuple
        ``(header, notes, timings)`` per size; ``timings`` maps product ->
        implementation -> :class:`BenchmarkResult`.

    Raises
    ------
    ImportError
        If SciPy is missing.
    """
    try:
        import scipy.sparse  # noqa: F401 - the CSR baseline
    except ImportError as exc:
        raise ImportError("lazyconn bench needs SciPy for its CSR baseline: pip install scipy") from exc
    out = sys.stdout if out is None else out
    if log is None:
        def log(message):
            print(message, file=sys.stderr, flush=True)
    backends = _kernel_backends(include_gpu=gpu)
    names = [name for name, _, _ in backends]
    threads = ""
    if "cpu" in names:
        from .kernels import cpu

        if hasattr(cpu, "num_threads"):
            threads = f", {cpu.num_threads()} Numba threads"
    if "gpu" in names:
        from ._info import gpu_status

        threads += f", GPU {gpu_status()['device']}"
    print(f"lazyconn bench: backends {', '.join(names)}{threads}; medians of {n_runs} runs; "
          "ratios are time / baseline time in this run (below 1 is faster)", file=out)
    results = []
    for n in sizes:
        if not (isinstance(n, int) and n > 0):
            raise ValueError(f"sizes must be positive integers, got {n!r}")
        header, notes, timings = _bench_size(
            n, prob, n_runs, dense_limit_bytes, csr_limit_bytes, seed, log, backends
        )
        print("", file=out)
        print(format_table(header, notes, timings), file=out, flush=True)
        results.append((header, notes, timings))
    if per_connection_n and "cpu" in names:
        figures = per_connection(per_connection_n, prob, n_runs, seed, log)
        if figures:
            print("", file=out)
            print(format_per_connection(figures, per_connection_n, prob, n_runs), file=out, flush=True)
    print("\nFor your own shapes and densities, time both orientations with "
          "lazyconn.bench.benchmark_function.", file=out)
    return results


def device_extra_bytes(fn):
    """GPU memory a call takes beyond its result, from CuPy's memory pool.

    Runs ``fn()`` once while a :class:`cupy.cuda.memory_hook.MemoryHook`
    follows every allocation and release from CuPy's pool, and returns the
    peak of bytes held during the call minus the bytes of what it returned.
    Arrays allocated before the call (its operands) do not count.

    Parameters
    ----------
    fn : callable
        Takes no argument and returns a CuPy array (or an object with
        ``nbytes``).

    Returns
    -------
    result
        What ``fn()`` returned.
    extra_bytes : int
        Bytes, at least 0.

    Raises
    ------
    ImportError
        When CuPy is not installed.
    """
    import cupy
    from cupy.cuda import memory_hook

    class _PeakHook(memory_hook.MemoryHook):
        name = "LazyconnPeakHook"

        def __init__(self):
            self.current = 0
            self.peak = 0
            self.sizes = {}

        def malloc_postprocess(self, device_id, size, mem_size, mem_ptr, pmem_id):
            self.sizes[mem_ptr] = mem_size
            self.current += mem_size
            self.peak = max(self.peak, self.current)

        def free_postprocess(self, device_id, mem_size, mem_ptr, pmem_id):
            self.current -= self.sizes.pop(mem_ptr, mem_size)

    cupy.cuda.Device().synchronize()
    hook = _PeakHook()
    with hook:
        result = fn()
        cupy.cuda.Device().synchronize()
    return result, max(0, hook.peak - int(result.nbytes))
