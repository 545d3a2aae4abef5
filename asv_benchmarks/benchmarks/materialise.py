"""Materialising windows: dense blocks, connection lists, degrees."""

import numpy as np

from ._common import TIMER, matrix


class DenseWindow:
    """``conn[a:b, c:d].todense()`` (generation only, no product)."""

    params = ([1_000, 4_000], [0.01, 0.3], ["scalar", "normal"])
    param_names = ["side", "p", "law"]
    timer = TIMER

    def setup(self, side, p, law):
        self.conn = matrix(10 * side, p, law)[side:2 * side, 3 * side:4 * side]
        self.conn.todense()

    def time_todense(self, side, p, law):
        self.conn.todense()

    def peakmem_todense(self, side, p, law):
        self.conn.todense()

    def time_dense_numpy_baseline(self, side, p, law):
        # What a stored dense block of the same size costs to copy.
        np.zeros((side, side), dtype=np.float32).copy()


class Connections:
    """``tocoo_arrays()`` and ``count_nonzero`` of a whole matrix."""

    params = ([10_000, 30_000], [0.01])
    param_names = ["n", "p"]
    timer = TIMER

    def setup(self, n, p):
        self.conn = matrix(n, p)
        self.conn[:100].tocoo_arrays()
        self.conn[:100].count_nonzero()

    def time_tocoo(self, n, p):
        self.conn.tocoo_arrays()

    def peakmem_tocoo(self, n, p):
        self.conn.tocoo_arrays()

    def time_count_nonzero(self, n, p):
        self.conn.count_nonzero(axis=0)
