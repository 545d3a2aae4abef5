"""Products on the CPU backend, with scipy.sparse CSR of the same matrix as baseline.

Read ratios within one class: ``time_lazy`` against ``time_csr`` for the same
parameters.  The CSR baseline is built only for the Scalar law (it does not
depend on the law's cost model) and is skipped otherwise.
"""

import numpy as np

import lazyconn

from ._common import TIMER, csr_of, matrix, spikes, vector

SIZES = [10_000, 100_000]

# asv calls a method's own ``setup`` without ``self`` (and instead of the
# class's): the baselines keep their data here.  Each benchmark runs in its
# own process, so nothing leaks between benchmarks.
_BASE = {}


class VectorProduct:
    """Dense-vector products ``M @ y`` (gather) and ``x @ M`` (scatter)."""

    params = (SIZES, [0.001, 0.01], ["scalar", "normal", "uniform"], ["R", "C"], ["M @ y", "x @ M"])
    param_names = ["n", "p", "law", "orientation", "product"]
    timer = TIMER
    timeout = 600
    number = 1
    repeat = (3, 10, 60.0)

    def setup(self, n, p, law, orientation, product):
        self.conn = matrix(n, p, law, orientation)
        self.x = vector(n)

    def time_lazy(self, n, p, law, orientation, product):
        if product == "M @ y":
            self.conn @ self.x
        else:
            self.x @ self.conn

    def peakmem_lazy(self, n, p, law, orientation, product):
        self.time_lazy(n, p, law, orientation, product)

    def time_csr(self, n, p, law, orientation, product):
        csr, x = _BASE["csr"], _BASE["x"]
        if product == "M @ y":
            csr @ x
        else:
            csr.T @ x


def _setup_vector_csr(n, p, law, orientation, product):
    if law != "scalar" or orientation != "R":
        raise NotImplementedError("the CSR baseline is measured once, for Scalar R")
    _BASE["csr"], _ = csr_of(matrix(n, p))
    _BASE["x"] = vector(n)


VectorProduct.time_csr.setup = _setup_vector_csr


class EventDriven:
    """Spikes @ M for a boolean spike vector (only active rows are generated)."""

    params = (SIZES, [0.01], [0.001, 0.01, 0.1], ["R", "C"])
    param_names = ["n", "p", "rate", "orientation"]
    timer = TIMER
    timeout = 600

    def setup(self, n, p, rate, orientation):
        self.conn = matrix(n, p, "scalar", orientation)
        self.active = spikes(n, rate)
        self.events = lazyconn.BinaryArray(self.active)

    def time_lazy(self, n, p, rate, orientation):
        self.events @ self.conn

    def peakmem_lazy(self, n, p, rate, orientation):
        self.events @ self.conn

    def time_csr_row_gather(self, n, p, rate, orientation):
        _BASE["csr"][_BASE["rows"]].sum(axis=0)


def _setup_event_csr(n, p, rate, orientation):
    if orientation != "R":
        raise NotImplementedError("the CSR baseline is measured once, for R")
    _BASE["csr"], _ = csr_of(matrix(n, p))
    _BASE["rows"] = np.flatnonzero(spikes(n, rate))


EventDriven.time_csr_row_gather.setup = _setup_event_csr


class Batched:
    """``(b, n) @ M`` and ``M @ (n, b)``: each line generated once for all b columns."""

    params = ([10_000, 100_000], [0.01], [1, 8, 64], ["X @ M", "M @ Y"])
    param_names = ["n", "p", "b", "product"]
    timer = TIMER
    timeout = 600
    number = 1
    repeat = (2, 5, 60.0)

    def setup(self, n, p, b, product):
        self.conn = matrix(n, p)
        data = np.random.default_rng(3).standard_normal((b, n)).astype(np.float32)
        self.x = data if product == "X @ M" else np.ascontiguousarray(data.T)

    def time_lazy(self, n, p, b, product):
        if product == "X @ M":
            self.x @ self.conn
        else:
            self.conn @ self.x

    def peakmem_lazy(self, n, p, b, product):
        self.time_lazy(n, p, b, product)

    def time_csr(self, n, p, b, product):
        csr, x = _BASE["csr"], _BASE["x"]
        if product == "X @ M":
            (csr.T @ x.T).T
        else:
            csr @ x


def _setup_batched_csr(n, p, b, product):
    _BASE["csr"], _ = csr_of(matrix(n, p))
    data = np.random.default_rng(3).standard_normal((b, n)).astype(np.float32)
    _BASE["x"] = data if product == "X @ M" else np.ascontiguousarray(data.T)


Batched.time_csr.setup = _setup_batched_csr
