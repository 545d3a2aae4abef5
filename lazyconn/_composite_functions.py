"""NumPy reductions of a JITC composite, computed from its leaves' own.

A composite is cut into *cells* by every leaf edge.  A cell covered by no
leaf holds zeros; a cell covered by one leaf is that leaf's window, and its
reduction is the leaf's own (``max``, ``min``, ``count_nonzero``, sums of
``|w|`` or ``w**2`` for norms: one pass over the leaf's connections, with
its implicit zeros); a cell covered by several leaves (sums ``A + B``) has
its leaves' connections merged by position and added in leaf order in the
composite dtype -- the order and dtype of ``todense()`` -- in row bands of
bounded size, and those sums are reduced.  The cells' results are then
combined (added, or the extreme taken) into the composite's.

The diagonal and the trace are the leaves' diagonals that cross the
composite's, placed (and added where leaves overlap) in leaf order.

:class:`CompositeMethods` holds the methods; :mod:`lazyconn._numpy_functions`
implements ``np.mean``, ``np.max``, ``np.linalg.norm``, ``np.einsum`` ...
through them for matrices and composites alike.  This module reads a
composite through ``shape``, ``dtype``, ``leaves`` and ``_window`` and
imports nothing that imports it.
"""

from __future__ import annotations

import operator
import warnings

import numpy as np

from . import _numpy_functions
from .config import check_materialise
from .reductions import finish_reduction

__all__ = ["CompositeMethods", "COMPOSITE_FUNCTIONS"]

#: Expected connections per row band when merging the leaves of an overlapped cell.
BAND_CONNECTIONS = 1 << 22

_NO_VALUE = np._NoValue

#: NumPy functions that work on composites: their implementations in
#: lazyconn use only what composites have (``@``, ``.T``, windows and the
#: methods here).  Any other function known for matrices is refused by name.
COMPOSITE_FUNCTIONS = frozenset({
    np.dot, np.inner, np.tensordot, np.einsum, np.transpose, np.swapaxes, np.matrix_transpose, np.sum,
    np.count_nonzero, np.shape, np.ndim, np.size, np.atleast_1d, np.atleast_2d, np.astype, np.block, np.concatenate, np.hstack, np.vstack,
    np.mean, np.max, np.amax, np.min, np.amin, np.trace, np.diagonal, np.linalg.norm, np.linalg.vector_norm,
    np.linalg.matrix_norm, np.linalg.trace, np.linalg.diagonal,
})


# ------------------------------------------------------------------ helpers
def _axis(axis):
    """NumPy's axis argument of a 2-D array as None (both axes), 0 or 1."""
    if axis is None:
        return None
    if isinstance(axis, tuple):
        axes = {_one_axis(a) for a in axis}
        if len(axes) != len(axis):
            raise ValueError(f"duplicate value in 'axis': {axis!r}")
        if not axes:
            raise TypeError("axis=() reduces nothing, so the result would be the dense composite; "
                            "take C[a:b, c:d].todense() of a small window")
        return None if len(axes) == 2 else axes.pop()
    return _one_axis(axis)


def _one_axis(axis):
    return _numpy_functions._one_axis(axis, "JITC composite")


def _refuse_out(name, out, where=True):
    _numpy_functions._refuse_out(name, out, where, "JITC composite", "take a window C[a:b, c:d]")


def _offset_and_matrix(comp, offset, axis1, axis2):
    """The diagonal offset, and the composite or its transpose for ``(axis1, axis2) == (1, 0)``."""
    if isinstance(offset, (bool, np.bool_)):
        raise TypeError(f"offset must be an integer, got {offset!r}")
    offset = operator.index(offset)
    a, b = _one_axis(axis1), _one_axis(axis2)
    if a == b:
        raise ValueError("axis1 and axis2 cannot be the same")
    return offset, (comp.T if a == 1 else comp)


def _length(comp, axis, what):
    m, n = comp.shape
    length = n if axis == 0 else m
    check_materialise(length, f"{what}(axis={axis}) of a {m} x {n} window ({length:,} results)")
    return length


def _reduced(comp, axis):
    """Entries reduced into each result (the whole composite for axis None)."""
    m, n = comp.shape
    return m * n if axis is None else (m if axis == 0 else n)


def _place(axis, a, b, c, d):
    """Where a cell's per-axis result goes in the composite's (None: the scalar)."""
    return None if axis is None else (slice(c, d) if axis == 0 else slice(a, b))


# ------------------------------------------------------------------ cells
def cells(comp):
    """``((a, b, c, d), covering leaves)`` of the grid cut by every leaf edge."""
    m, n = comp.shape
    leaves = comp.leaves
    rows = sorted({0, m} | {e for v, r0, _ in leaves for e in (r0, r0 + v.shape[0])})
    cols = sorted({0, n} | {e for v, _, c0 in leaves for e in (c0, c0 + v.shape[1])})
    for a, b in zip(rows[:-1], rows[1:]):
        for c, d in zip(cols[:-1], cols[1:]):
            covering = [
                (v, r0, c0) for v, r0, c0 in leaves
                if r0 <= a and b <= r0 + v.shape[0] and c0 <= c and d <= c0 + v.shape[1]
            ]
            yield (a, b, c, d), covering


def _leaf_cell(covering, a, b, c, d):
    view, r0, c0 = covering[0]
    return view[a - r0:b - r0, c - c0:d - c0]


def merged_bands(window):
    """Yield ``(rows, cols, sums)`` of a window wholly covered by several leaves, band by band.

    Each leaf's connections (``tocoo_arrays``) of a row band are merged by
    position and added in leaf order in the composite dtype (as
    ``todense()`` adds them); ``rows`` and ``cols`` are relative to the
    window.  Positions no leaf connects are not yielded (they are zeros).
    """
    m, n = window.shape
    dtype = window.dtype
    density = sum(v.prob for v, _, _ in window.leaves) * max(n, 1)
    band = max(1, int(BAND_CONNECTIONS // max(density, 1.0)))
    for a in range(0, m, band):
        b = min(m, a + band)
        keys, values = [], []
        for view, _, _ in window.leaves:
            rows, cols, vals = view[a:b].tocoo_arrays()
            keys.append(rows * np.int64(n) + cols)
            values.append(vals.astype(dtype))
        keys, values = np.concatenate(keys), np.concatenate(values)
        order = np.argsort(keys, kind="stable")  # stable: leaf order within a position
        keys, values = keys[order], values[order]
        starts = np.flatnonzero(np.r_[True, keys[1:] != keys[:-1]]) if keys.size else keys
        lengths = np.diff(np.r_[starts, keys.size])
        sums = values[starts].copy()
        for k in range(1, int(lengths.max(initial=1))):
            more = lengths > k
            sums[more] += values[starts[more] + k]
        keys = keys[starts]
        yield keys // n + a, keys % n, sums


def _merged_sum(window, axis, transform):
    m, n = window.shape
    out = 0.0 if axis is None else np.zeros(n if axis == 0 else m, dtype=np.float64)
    for rows, cols, sums in merged_bands(window):
        values = transform(sums.astype(np.float64))
        if axis is None:
            out += float(values.sum())
        else:
            out += np.bincount(cols if axis == 0 else rows, weights=values, minlength=out.size)
    return out


def _merged_extreme(window, axis, op, transform):
    m, n = window.shape
    start = -np.inf if op is np.maximum else np.inf
    out = np.full(() if axis is None else (n if axis == 0 else m), start)
    counts = np.zeros(out.shape, dtype=np.int64)
    for rows, cols, sums in merged_bands(window):
        values = (sums if transform is None else transform(sums)).astype(np.float64)
        if axis is None:
            out = op(out, op.reduce(values, initial=start))
            counts += values.size
        else:
            index = cols if axis == 0 else rows
            op.at(out, index, values)
            counts += np.bincount(index, minlength=out.size)
    # A line (or the cell) with a position no leaf connects holds a zero, as todense() does.
    return np.where(counts < _reduced(window, axis), op(out, 0.0), out)


def _merged_count(window, axis):
    m, n = window.shape
    out = 0 if axis is None else np.zeros(n if axis == 0 else m, dtype=np.int64)
    for rows, cols, sums in merged_bands(window):
        nonzero = sums != 0
        if axis is None:
            out += int(np.count_nonzero(nonzero))
        else:
            out += np.bincount((cols if axis == 0 else rows)[nonzero], minlength=out.size)
    return out


# ------------------------------------------------------------------ methods
class CompositeMethods:
    """Mixin: the lazy reductions of a composite (see the module docstring)."""

    __slots__ = ()

    def count_nonzero(self, axis=None):
        """Exact number of nonzero entries, as ``np.count_nonzero(C.todense())``.

        Where one leaf covers a region its own (generated) count is used.
        Where leaves overlap, their connections there are merged and added
        in leaf order, in row bands of about ``2**22`` expected
        connections, and the nonzero sums counted: exact (a cancellation is
        not counted), with memory bounded by a band.

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2}

        Returns
        -------
        int or ndarray of int64
        """
        axis = _axis(axis)
        out = 0 if axis is None else np.zeros(_length(self, axis, "count_nonzero"), dtype=np.int64)
        for (a, b, c, d), covering in cells(self):
            if not covering:
                continue
            if len(covering) == 1:
                counts = _leaf_cell(covering, a, b, c, d).count_nonzero(axis)
            else:
                counts = _merged_count(self._window(a, b, c, d), axis)
            if axis is None:
                out += int(counts)
            else:
                out[_place(axis, a, b, c, d)] += counts
        return out

    def _value_sum(self, axis, transform):
        """Float64 sum of ``transform(entry)`` (``transform(0) == 0``) over all entries or along ``axis``."""
        out = 0.0 if axis is None else np.zeros(_length(self, axis, "sum"), dtype=np.float64)
        for (a, b, c, d), covering in cells(self):
            if not covering:
                continue
            if len(covering) == 1:
                part = _leaf_cell(covering, a, b, c, d)._value_sum(axis, transform)
            else:
                part = _merged_sum(self._window(a, b, c, d), axis, transform)
            if axis is None:
                out += float(part)
            else:
                out[_place(axis, a, b, c, d)] += part
        return out

    def _value_extreme(self, axis, op, initial=_NO_VALUE, transform=None):
        """``op.reduce`` (np.maximum or np.minimum) of ``transform(entry)``, with the implicit zeros."""
        dtype = self.dtype
        if _reduced(self, axis) == 0 and initial is _NO_VALUE:
            raise ValueError(f"zero-size array to reduction operation {op.__name__} which has no identity")
        start = -np.inf if op is np.maximum else np.inf
        out = np.full(() if axis is None else _length(self, axis, op.__name__), start)
        for (a, b, c, d), covering in cells(self):
            if not covering:
                part = 0.0
            elif len(covering) == 1:
                part = _leaf_cell(covering, a, b, c, d)._value_extreme(axis, op, transform=transform)
            else:
                part = _merged_extreme(self._window(a, b, c, d), axis, op, transform)
            place = _place(axis, a, b, c, d)
            if place is None:
                out = op(out, part)
            else:
                out[place] = op(out[place], part)
        if initial is not _NO_VALUE:
            out = op(out, np.asarray(initial).astype(dtype))
        return np.asarray(out).astype(dtype)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        """Mean of the entries, with the zero blocks and unconnected entries as zeros.

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2} or tuple of int
        dtype : numpy.dtype, optional
            Floating result dtype (default: the composite dtype).
        out : None
            Accepted for NumPy compatibility; must be None.
        keepdims : bool

        Returns
        -------
        numpy scalar or ndarray
            ``np.mean(C.todense(), axis)`` within rounding (the leaves'
            sums are added in float64).
        """
        _refuse_out("mean", out)
        axis = _axis(axis)
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        if dtype.kind != "f":
            raise TypeError(f"mean of a JITC composite is floating point; dtype={dtype} is not supported")
        count = _reduced(self, axis)
        total = np.asarray(self.sum(axis=axis, dtype=np.float64))
        if count == 0 and total.size:
            warnings.warn("Mean of empty slice.", RuntimeWarning, stacklevel=2)
        with np.errstate(invalid="ignore", divide="ignore"):
            result = total / count if count else np.full(total.shape, np.nan)
        return finish_reduction(result, axis, keepdims, self.shape, dtype)

    def max(self, axis=None, out=None, keepdims=False, initial=_NO_VALUE, where=True):
        """Largest entry, counting zero blocks and unconnected entries as zeros (exact).

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2} or tuple of int
        out : None
            Must be None.
        keepdims : bool
        initial : scalar, optional
            A lower bound of the result, as in NumPy.
        where : True
            Must be True.

        Returns
        -------
        numpy scalar or ndarray
            ``np.max(C.todense(), axis)``, of the composite dtype.
        """
        _refuse_out("max", out, where)
        axis = _axis(axis)
        return finish_reduction(self._value_extreme(axis, np.maximum, initial), axis, keepdims, self.shape)

    def min(self, axis=None, out=None, keepdims=False, initial=_NO_VALUE, where=True):
        """Smallest entry, counting zero blocks and unconnected entries as zeros (exact).

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2} or tuple of int
        out : None
            Must be None.
        keepdims : bool
        initial : scalar, optional
            An upper bound of the result, as in NumPy.
        where : True
            Must be True.

        Returns
        -------
        numpy scalar or ndarray
            ``np.min(C.todense(), axis)``, of the composite dtype.
        """
        _refuse_out("min", out, where)
        axis = _axis(axis)
        return finish_reduction(self._value_extreme(axis, np.minimum, initial), axis, keepdims, self.shape)

    def diagonal(self, offset=0, axis1=0, axis2=1, *, k=None):
        """The entries ``C[i, i + offset]``: the leaves' diagonals that cross it.

        Parameters
        ----------
        offset : int
            Positive above the main diagonal.
        axis1, axis2 : {0, 1}
            ``(1, 0)`` takes the diagonal of the transpose.
        k : int, optional
            The offset under scipy.sparse's name; overrides ``offset``.

        Returns
        -------
        ndarray
            Equal to ``np.diagonal(C.todense(), offset)``.
        """
        offset, comp = _offset_and_matrix(self, offset if k is None else k, axis1, axis2)
        m, n = comp.shape
        i0 = max(0, -offset)
        length = max(0, min(m, n - offset) - i0)
        check_materialise(length, f"diagonal(offset={offset}) of a {m} x {n} composite ({length:,} entries)")
        out = np.zeros(length, dtype=comp.dtype)
        written = np.zeros(length, dtype=bool)
        for view, r0, c0, local, first, stop in _crossing(comp, offset):
            positions = np.arange(r0 + first - i0, r0 + stop - i0)
            values = view.diagonal(local)
            fresh = ~written[positions]
            # As todense(): the first leaf at an entry assigned, later ones added.
            out[positions[fresh]] = values[fresh]
            out[positions[~fresh]] += values[~fresh]
            written[positions] = True
        return out

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
        """Sum of the diagonal ``C[i, i + offset]``: the leaves' traces, in float64.

        Parameters
        ----------
        offset : int
        axis1, axis2 : {0, 1}
        dtype : numpy.dtype, optional
            Result dtype (default: the composite dtype).
        out : None
            Must be None.

        Returns
        -------
        numpy scalar
            ``np.trace(C.todense(), offset)`` within rounding.
        """
        _refuse_out("trace", out)
        offset, comp = _offset_and_matrix(self, offset, axis1, axis2)
        total = sum(float(view.trace(local, dtype=np.float64)) for view, _, _, local, _, _ in _crossing(comp, offset))
        return np.asarray(total).astype(comp.dtype if dtype is None else np.dtype(dtype))[()]


def _crossing(comp, offset):
    """``(view, r0, c0, local offset, first, stop)`` of each leaf whose diagonal part is on ``offset``.

    The leaf's local diagonal ``local`` holds its rows ``first:stop``; its
    row ``i`` is row ``r0 + i`` of the composite.
    """
    for view, r0, c0 in comp.leaves:
        h, w = view.shape
        local = offset + r0 - c0
        first, stop = max(0, -local), min(h, w - local)
        if first < stop:
            yield view, r0, c0, local, first, stop
