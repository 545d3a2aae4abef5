"""Sums and nonzero counts of a JITC window, in memory bounded by the result.

A reduction to a scalar needs O(1) memory, and one along an axis needs its
result and nothing in proportion to the other axis: the window is walked in
tiles of at most :data:`LINE_TILE` lines by :data:`MINOR_TILE` minor
entries.  Minor tiles are aligned on multiples of ``MINOR_TILE``, which is a
multiple of every block length (at most ``2**22``), so tiling never cuts a
block and costs no extra stream.  Results that must hold one entry per line
or per minor index are checked against ``max_dense_size`` first and refused
at once when too large.
"""

from __future__ import annotations

import numpy as np

from .config import check_materialise
from .dispatch import backend_for
from .products import as_view
from .spec import MAX_BLOCK_LOG2

__all__ = ["count_nonzero", "sum_entries", "finish_reduction", "LINE_TILE", "MINOR_TILE"]

#: Lines per tile.
LINE_TILE = 1 << 20
#: Minor entries per tile: a multiple of every block length.
MINOR_TILE = 1 << MAX_BLOCK_LOG2


def _tiles(k0, k1, j0, j1):
    """``(ka, kb, ja, jb)`` covering ``[k0, k1) x [j0, j1)``, minor tiles on the global grid."""
    if j1 <= j0:
        return
    for ka in range(k0, k1, LINE_TILE):
        kb = min(k1, ka + LINE_TILE)
        ja = j0
        while ja < j1:
            jb = min(j1, (ja // MINOR_TILE + 1) * MINOR_TILE)
            yield ka, kb, ja, jb
            ja = jb


def finish_reduction(result, axis, keepdims, shape, dtype=None):
    """Cast to ``dtype``, apply ``keepdims``, and return a NumPy scalar for a full reduction.

    Parameters
    ----------
    result : array_like
        The reduction along ``axis`` (None: a scalar).
    axis : {None, 0, 1}
        Normalised axis.
    keepdims : bool
    shape : tuple of int
        Shape of the reduced window.
    dtype : numpy.dtype, optional

    Returns
    -------
    numpy scalar or ndarray
    """
    result = np.asarray(result)
    if dtype is not None:
        result = result.astype(dtype, copy=False)
    if keepdims:
        m, n = shape
        result = result.reshape((1, n) if axis == 0 else (m, 1) if axis == 1 else (1, 1))
    return result[()] if result.ndim == 0 else result


def _line_axis(conn):
    """The user axis whose reduction is one value per generated line."""
    return 1 if conn.spec.orientation == "R" else 0


def _check_axis_result(conn, axis, length, what):
    m, n = conn.shape
    check_materialise(length, f"{what}(axis={axis}) of a {m} x {n} window ({length:,} results)")


def count_nonzero(conn, axis):
    """Exact nonzero entries of a window (see ``JITCMatrix.count_nonzero``).

    An entry counts when its *scaled* value, ``dtype(w * scale)``, is
    nonzero: the count equals ``np.count_nonzero(conn.todense())``.

    Parameters
    ----------
    conn : JITCMatrix or lazyconn.products.View
    axis : {None, 0, 1}
        Normalised axis.

    Returns
    -------
    int or ndarray of int64
    """
    view = as_view(conn)
    params, (k0, k1), (j0, j1) = view.line_space()
    dtype, scale = view.dtype, view.scale
    if axis is not None:
        per_line = axis == _line_axis(conn)
        length = (k1 - k0) if per_line else (j1 - j0)
        _check_axis_result(conn, axis, length, "count_nonzero")
        out = np.zeros(length, dtype=np.int64)
    else:
        total = 0
    if scale == 0.0:
        return out if axis is not None else 0
    backend = backend_for(np).kernels()
    for ka, kb, ja, jb in _tiles(k0, k1, j0, j1):
        line_counts, minor_counts = backend.degrees(params, ka, kb, ja, jb, dtype, scale=scale)
        if axis is None:
            total += int(line_counts.sum())
        elif per_line:
            out[ka - k0:kb - k0] += line_counts
        else:
            out[ja - j0:jb - j0] += minor_counts
    return out if axis is not None else total


def sum_entries(conn, axis):
    """Sum of a window's entries, in float64, before the scale and the cast.

    Per-line partial sums are accumulated by the kernels in the matrix
    dtype (as a product with a vector of ones would), then added in
    float64 across tiles.

    Parameters
    ----------
    conn : JITCMatrix or lazyconn.products.View
    axis : {None, 0, 1}
        Normalised axis.

    Returns
    -------
    float or ndarray of float64
        Unscaled sums.
    """
    params, (k0, k1), (j0, j1) = as_view(conn).line_space()
    dtype = conn.dtype
    per_line = axis is None or axis == _line_axis(conn)
    if axis is not None:
        length = (k1 - k0) if per_line else (j1 - j0)
        _check_axis_result(conn, axis, length, "sum")
        out = np.zeros(length, dtype=np.float64)
    total = 0.0
    backend = backend_for(np).kernels()
    ones = None
    for ka, kb, ja, jb in _tiles(k0, k1, j0, j1):
        if per_line:
            if ones is None or ones.shape[0] < jb - ja:
                ones = np.ones((min(j1 - j0, MINOR_TILE), 1), dtype=dtype)
            partial = backend.gather(params, ka, kb, ja, jb, ones[:jb - ja], dtype)[:, 0]
            if axis is None:
                total += float(partial.astype(np.float64).sum())
            else:
                out[ka - k0:kb - k0] += partial
        else:
            partial = backend.scatter(params, np.arange(ka, kb, dtype=np.int64), None, ja, jb, dtype)[:, 0]
            out[ja - j0:jb - j0] += partial
    return total if axis is None else out
