"""Products and dense windows on the GPU backend (CuPy operands).

Every class is skipped, not failed, where CuPy is not importable or no
usable CUDA device is present: ``setup`` raises ``NotImplementedError``,
asv's documented way to skip a benchmark.  CuPy is imported only inside
``setup`` (through :func:`lazyconn._info.gpu_status`), so importing this
module, and asv's discovery of its parameters, works without CuPy.

Timing: ``time_*`` methods on asv's wall-clock timer, each ending with
``cupy.cuda.Device().synchronize()``.  Kernel launches are asynchronous, so
without the synchronisation asv would time only the launch; with it, a
sample is the whole product as a caller waiting for its result sees it
(launch overhead and the product driver's host work included, which the
event-driven path pays anyway: ``cupy.flatnonzero`` synchronises).  We chose
this over ``track_*`` returning CUDA-event milliseconds because asv keeps
repeats, medians and spreads, and detects regressions, only for ``time_*``
(a ``track_*`` value is a single sample per run).  Kernel-only CUDA-event
timings are in ``asv_benchmarks/gpu_targets.py``.  Setup runs each measured
operation once and synchronises, so NVRTC compilation and the first growth
of CuPy's memory pool are never timed.

Memory: ``track_extra_mib`` is the peak of bytes held from CuPy's memory pool
during one operation (a :class:`cupy.cuda.memory_hook.MemoryHook`) minus the
result's size; the operand is allocated before, so this is the GPU memory
beyond inputs and outputs.  (asv's ``peakmem_*`` measures host RSS only.)
"""

import numpy as np

import lazyconn

from ._common import LAWS, SEED, TIMER, spikes, vector

SIZES = [100_000, 1_000_000]
PROB = 0.01

_GPU = {}


def cupy():
    """The ``cupy`` module, or ``NotImplementedError`` (skip) when the GPU backend is unusable."""
    if "status" not in _GPU:
        from lazyconn._info import gpu_status

        _GPU["status"] = gpu_status()
    status = _GPU["status"]
    if not status["available"]:
        raise NotImplementedError(f"no usable GPU backend: {status['detail']}")
    import cupy as cp

    return cp


def synchronize():
    import cupy as cp

    cp.cuda.Device().synchronize()


def gpu_matrix(n, p, law="scalar", orientation="R"):
    """An ``n x n`` float32 JITC matrix with the seed of the CPU benchmarks."""
    return LAWS[law](n, p, orientation, SEED)


def extra_mib(fn):
    """MiB held from CuPy's pool at the peak of ``fn()``, beyond its result."""
    from lazyconn.bench import device_extra_bytes

    return device_extra_bytes(fn)[1] / 2**20


class _GPUBenchmark:
    """Shared asv attributes; subclasses define ``setup`` and ``run``."""

    timer = TIMER
    timeout = 600

    def time_lazy(self, *params):
        self.run()
        synchronize()

    def track_extra_mib(self, *params):
        return extra_mib(self.run)

    track_extra_mib.unit = "MiB"

    def _warm(self):
        self.run()
        synchronize()


class GPUVectorProduct(_GPUBenchmark):
    """Dense-vector products ``M @ y`` (gather) and ``x @ M`` (scatter) on CuPy vectors."""

    params = (SIZES, ["scalar", "normal", "uniform"], ["R", "C"], ["M @ y", "x @ M"])
    param_names = ["n", "law", "orientation", "product"]
    number = 1
    repeat = (5, 20, 60.0)

    def setup(self, n, law, orientation, product):
        cp = cupy()
        self.conn = gpu_matrix(n, PROB, law, orientation)
        self.x = cp.asarray(vector(n))
        if product == "M @ y":
            self.run = lambda: self.conn @ self.x
        else:
            self.run = lambda: self.x @ self.conn
        self._warm()


class GPUEventDriven(_GPUBenchmark):
    """``BinaryArray(spikes) @ M`` for a CuPy boolean spike vector."""

    params = (SIZES, [0.001, 0.01, 0.1], ["R", "C"])
    param_names = ["n", "rate", "orientation"]
    number = 1
    repeat = (5, 50, 60.0)

    def setup(self, n, rate, orientation):
        cp = cupy()
        self.conn = gpu_matrix(n, PROB, "scalar", orientation)
        self.events = lazyconn.BinaryArray(cp.asarray(spikes(n, rate)))
        self.run = lambda: self.events @ self.conn
        self._warm()


class GPUBatched(_GPUBenchmark):
    """``(b, n) @ M`` and ``M @ (n, b)`` on CuPy matrices of ``b`` columns."""

    params = (SIZES, [8, 64], ["X @ M", "M @ Y"])
    param_names = ["n", "b", "product"]
    number = 1
    repeat = (3, 10, 60.0)

    def setup(self, n, b, product):
        cp = cupy()
        self.conn = gpu_matrix(n, PROB)
        data = np.random.default_rng(3).standard_normal((b, n)).astype(np.float32)
        self.x = cp.asarray(data if product == "X @ M" else np.ascontiguousarray(data.T))
        if product == "X @ M":
            self.run = lambda: self.x @ self.conn
        else:
            self.run = lambda: self.conn @ self.x
        self._warm()


class GPUDenseWindow(_GPUBenchmark):
    """``conn[a:b, c:d].todense(xp=cupy)`` (generation on the GPU, no product)."""

    params = ([1_000, 4_000], [0.01, 0.3], ["scalar", "normal"])
    param_names = ["side", "p", "law"]

    def setup(self, side, p, law):
        cp = cupy()
        self.conn = gpu_matrix(10 * side, p, law)[side:2 * side, 3 * side:4 * side]
        self.run = lambda: self.conn.todense(xp=cp)
        self._warm()
