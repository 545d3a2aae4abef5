"""Shared set-up for the benchmarks: seeded matrices, operands and baselines.

Every benchmark class builds its data in ``setup`` from fixed seeds and warms
the JIT there, so a timed call never includes compilation.  Baselines
(scipy.sparse CSR of the *same* matrix) are built once per process.
"""

import time

import numpy as np

import lazyconn

#: Wall-clock timer: the kernels are multi-threaded, so CPU time would
#: count every thread.
TIMER = time.perf_counter

LAWS = {
    "scalar": lambda n, p, orientation, seed: _CLASSES["scalar", orientation](n, n, p, 0.5, seed),
    "normal": lambda n, p, orientation, seed: _CLASSES["normal", orientation](n, n, p, 0.0, 1.0, seed),
    "uniform": lambda n, p, orientation, seed: _CLASSES["uniform", orientation](n, n, p, 0.0, 1.0, seed),
}
_CLASSES = {
    ("scalar", "R"): lazyconn.JITCScalarR,
    ("scalar", "C"): lazyconn.JITCScalarC,
    ("normal", "R"): lazyconn.JITCNormalR,
    ("normal", "C"): lazyconn.JITCNormalC,
    ("uniform", "R"): lazyconn.JITCUniformR,
    ("uniform", "C"): lazyconn.JITCUniformC,
}
SEED = 20240601


def matrix(n, p, law="scalar", orientation="R"):
    """An ``n x n`` float32 JITC matrix with a fixed seed, its kernels compiled."""
    conn = LAWS[law](n, p, orientation, SEED)
    warm_up(conn)
    return conn


def warm_up(conn):
    """Compile (or load from cache) every product kernel for this dtype."""
    small = conn[:64, :64]
    x = np.ones(64, dtype=np.float32)
    small @ x
    x @ small
    lazyconn.BinaryArray(x > 0) @ small
    np.ones((2, 64), dtype=np.float32) @ small
    small @ np.ones((64, 2), dtype=np.float32)


_CSR_CACHE = {}


def csr_of(conn):
    """scipy.sparse CSR of exactly this matrix, built once per process.

    Returns
    -------
    csr : scipy.sparse.csr_matrix
    build_seconds : float
        Generation plus CSR construction.
    """
    import scipy.sparse

    key = (conn.shape, conn.prob, conn.seed, type(conn).__name__)
    if key not in _CSR_CACHE:
        start = time.perf_counter()
        with lazyconn.set_options(max_dense_size=2**40):
            csr = scipy.sparse.csr_matrix(conn.tocsr())
        _CSR_CACHE[key] = csr, time.perf_counter() - start
    return _CSR_CACHE[key]


def vector(n, seed=0):
    """A float32 standard-normal vector."""
    return np.random.default_rng(seed).standard_normal(n).astype(np.float32)


def spikes(n, rate, seed=1):
    """A boolean spike vector with ``rate * n`` active entries (exactly)."""
    rng = np.random.default_rng(seed)
    active = np.zeros(n, dtype=bool)
    active[rng.choice(n, size=max(1, int(round(rate * n))), replace=False)] = True
    return active
