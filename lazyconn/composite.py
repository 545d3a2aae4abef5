"""Networks built from blocks: lazy composites of JITC matrices.

``np.block([[W_ee, W_ei], [W_ie, W_ii]])``, ``np.concatenate``,
``np.hstack``/``np.vstack`` and sums ``W_exc + W_inh`` of JITC matrices give
a :class:`JITCComposite`: a flat list of *leaves*, each a JITC view (any
window, transpose or scaled view of a generator) placed at a row and column
offset.  Nothing is generated when a composite is built.  Every operation is
the sum of its leaves' own operations on the parts they cover:

* a product sums the leaves' products into slices of one output;
* a window ``C[a:b, c:d]`` intersects the leaves with it; ``.T`` transposes
  them and swaps their offsets;
* ``todense()`` writes each leaf's own ``todense()`` into its place, so a
  composite is bit-identical to ``np.block`` of its blocks' ``todense()``.

Zero blocks are ``np.zeros((a, b))`` (any all-zero 2-D NumPy array; its
dtype takes part in the result dtype, as in NumPy) or :func:`zeros`, a
marker without a dtype of its own.  They hold no leaf.

Leaves may overlap (sums): products and ``todense()`` add them, in leaf
order; ``count_nonzero()`` of an overlapped region is computed exactly from
the leaves' connections there (never as a sum of counts, which would miss
cancellations), in row bands of bounded size.
"""

from __future__ import annotations

import numbers

import numpy as np

from . import _composite_products, _protocols
from ._composite_functions import COMPOSITE_FUNCTIONS, CompositeMethods
from ._operators import (
    _block,
    _is_real_scalar,
    _one_vector,
    _refuse_elementwise,
    set_add,
)
from ._protocols import _JITC_PRODUCT_MESSAGE
from .config import check_materialise
from .matrix import JITCMatrix, _normalise_axis, _normalise_index
from .reductions import finish_reduction

__all__ = ["JITCComposite", "zeros", "block", "concatenate", "add"]

def _is_lazy(x):
    return isinstance(x, (JITCMatrix, JITCComposite))


class JITCComposite(CompositeMethods, _protocols.ArrayProtocols):
    """A matrix assembled from JITC blocks, regenerated leaf by leaf.

    Built by ``np.block``, ``np.concatenate``, ``np.hstack``, ``np.vstack``
    and ``+`` of JITC matrices (see :mod:`lazyconn.composite`), never
    directly.  It is a duck array like :class:`~lazyconn.JITCMatrix`:
    products in both directions (NumPy, CuPy and Dask operands,
    :class:`~lazyconn.BinaryArray` events), windows, ``.T``, scaling by a
    real scalar, ``sum``, ``count_nonzero``, ``todense`` of small windows,
    ``to_dask`` and pickling.  Elementwise operations are refused as for a
    JITC matrix.

    Parameters
    ----------
    *args, **kwargs
        Refused with a TypeError that names the ways to build one.

    Attributes
    ----------
    shape : tuple of int
    dtype : numpy.dtype
        NumPy's promotion of the blocks' dtypes.
    leaves : tuple of (JITCMatrix, int, int)
        ``(view, row offset, column offset)`` of each leaf, in the order
        their values are added.
    """

    #: Marks lazy matrices for :func:`lazyconn.matmul`.
    _lazy_matrix = True

    __slots__ = ("_leaves", "_shape", "_dtype")
    __array_priority__ = 100

    def __init__(self, *args, **kwargs):
        raise TypeError(
            "JITCComposite is built by np.block, np.concatenate, np.hstack, np.vstack or A + B "
            "of JITC matrices (zero blocks: np.zeros((a, b)) or lazyconn.zeros((a, b)))"
        )

    @classmethod
    def _make(cls, shape, leaves, dtype):
        """Build without validation (internal). ``dtype`` None: no dtype of its own."""
        self = object.__new__(cls)
        self._shape = (int(shape[0]), int(shape[1]))
        self._leaves = tuple((view, int(r0), int(c0)) for view, r0, c0 in leaves if view.size)
        self._dtype = None if dtype is None else np.dtype(dtype)
        return self

    # ------------------------------------------------------------------ basics
    @property
    def shape(self):
        """Shape ``(rows, columns)``."""
        return self._shape

    @property
    def dtype(self):
        """NumPy's promotion of the blocks' dtypes (float64 for zeros alone)."""
        return np.dtype(np.float64) if self._dtype is None else self._dtype

    @property
    def ndim(self):
        """Always 2."""
        return 2

    @property
    def size(self):
        """Number of entries."""
        return self._shape[0] * self._shape[1]

    @property
    def leaves(self):
        """``(view, row offset, column offset)`` of each leaf."""
        return self._leaves

    def __len__(self):
        return self._shape[0]

    @property
    def T(self):
        """The transpose: each leaf transposed at swapped offsets."""
        m, n = self._shape
        return JITCComposite._make((n, m), [(v.T, c0, r0) for v, r0, c0 in self._leaves], self._dtype)

    @property
    def mT(self):
        """The matrix transpose (same as :attr:`T`)."""
        return self.T

    def astype(self, dtype, copy=True):
        """Every leaf with another output dtype (see :meth:`JITCMatrix.astype`).

        Parameters
        ----------
        dtype : {numpy.float32, numpy.float64}
        copy : bool
            Accepted for NumPy compatibility; nothing is copied.

        Returns
        -------
        JITCComposite
        """
        leaves = [(v.astype(dtype), r0, c0) for v, r0, c0 in self._leaves]
        return JITCComposite._make(self._shape, leaves, np.dtype(dtype))

    def __repr__(self):
        m, n = self._shape
        shown = [f"  {v!r} at ({r0}, {c0})" for v, r0, c0 in self._leaves[:8]]
        if len(self._leaves) > 8:
            shown.append(f"  ... {len(self._leaves) - 8} more")
        body = ("\n" + ",\n".join(shown) + ",\n") if shown else ""
        return f"JITCComposite(shape=({m}, {n}), dtype={self.dtype.name}, leaves=[{body}])"

    def __reduce__(self):
        dtype = None if self._dtype is None else self._dtype.name
        return (_restore, (self._shape, dtype, self._leaves))

    def __dask_tokenize__(self):
        return (
            "JITCComposite", self._shape, None if self._dtype is None else self._dtype.str,
            tuple((v.__dask_tokenize__(), r0, c0) for v, r0, c0 in self._leaves),
        )

    # --------------------------------------------------------------- indexing
    def _window(self, a, b, c, d):
        """The composite window ``[a:b, c:d]``: each leaf intersected with it."""
        leaves = []
        for view, r0, c0 in self._leaves:
            lm, ln = view.shape
            ia, ib = max(a, r0), min(b, r0 + lm)
            ja, jb = max(c, c0), min(d, c0 + ln)
            if ia < ib and ja < jb:
                leaves.append((view[ia - r0:ib - r0, ja - c0:jb - c0], ia - a, ja - c))
        return JITCComposite._make((b - a, d - c), leaves, self._dtype)

    def __getitem__(self, key):
        """Rows, windows and entries, as for a JITC matrix (slices of step 1)."""
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            position = next(i for i, k in enumerate(key) if k is Ellipsis)
            key = key[:position] + (slice(None),) * (3 - len(key)) + key[position + 1:]
        if len(key) > 2:
            raise IndexError(f"too many indices for a 2-D JITC composite: got {len(key)}")
        key = key + (slice(None),) * (2 - len(key))
        m, n = self._shape
        (a, b), row_is_int = _normalise_index(key[0], m, "row")
        (c, d), col_is_int = _normalise_index(key[1], n, "column")
        view = self._window(a, b, c, d)
        if not row_is_int and not col_is_int:
            return view
        dense = view.todense()
        if row_is_int and col_is_int:
            return dense[0, 0]
        return dense[0] if row_is_int else dense[:, 0]

    # ---------------------------------------------------------- materialise
    def todense(self, xp=None):
        """Materialise as a dense array: each leaf's ``todense()`` in its place.

        Equal, bit for bit, to ``np.block`` of the blocks' ``todense()``
        (to their sum, in leaf order, where leaves overlap).

        Parameters
        ----------
        xp : module, optional
            ``numpy`` (default) or ``cupy``.

        Returns
        -------
        ndarray

        Raises
        ------
        ValueError
            Above ``max_dense_size`` entries.
        """
        m, n = self._shape
        check_materialise(m * n, f"todense() of a {m} x {n} window")
        out = (np if xp is None else xp).zeros((m, n), dtype=self.dtype)
        written = []
        for view, r0, c0 in self._leaves:
            region = (r0, r0 + view.shape[0], c0, c0 + view.shape[1])
            block = view.todense(xp=xp)
            if any(_overlap(region, other) for other in written):
                out[region[0]:region[1], region[2]:region[3]] += block
            else:
                # Assigned, not added to zero, so a -0.0 stays -0.0 as in np.block.
                out[region[0]:region[1], region[2]:region[3]] = block
            written.append(region)
        return out

    def to_dask(self, chunks="auto"):
        """The composite as a ``dask.array.Array`` of blocks generated inside tasks.

        Each task holds one window of the composite (its leaves' views) and
        calls its ``todense()``; see :func:`lazyconn.dask.to_dask`.

        Parameters
        ----------
        chunks : int, tuple or "auto"
            Chunking of the dask array, as in ``dask.array``.

        Returns
        -------
        dask.array.Array
        """
        return _to_dask(self, chunks)

    def to_dask_array(self):
        """The hook of ``dask.array.asarray(C)``: :meth:`to_dask` with ``"auto"`` chunks.

        Inside ``da.matmul`` and ``da.einsum``, which only multiply chunks,
        the composite becomes windows multiplied in tasks instead, as a
        matrix does (:func:`lazyconn.dask.as_dask_array`).

        Returns
        -------
        dask.array.Array
        """
        from . import dask as lazy_dask

        if lazy_dask._asarray_caller(1) in lazy_dask._PRODUCT_CALLERS:
            import dask.array as da
            from dask.array.core import getter_inline

            return da.from_array(self, getitem=getter_inline)
        return self.to_dask()

    def aslinearoperator(self):
        """A ``scipy.sparse.linalg.LinearOperator`` that multiplies lazily.

        Returns
        -------
        scipy.sparse.linalg.LinearOperator
        """
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(
            self.shape,
            matvec=lambda v: self @ np.asarray(v).reshape(-1),
            rmatvec=lambda v: np.asarray(v).reshape(-1) @ self,
            matmat=lambda x: self @ x,
            rmatmat=lambda x: (np.asarray(x).T @ self).T,
            dtype=self.dtype,
        )

    # ------------------------------------------------------------- reductions
    def sum(self, axis=None, dtype=None, keepdims=False):
        """Sum of entries: the leaves' sums (float64) added in place.

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2}
        dtype : numpy.dtype, optional
            Result dtype (default: the composite dtype).
        keepdims : bool
            Keep the reduced axes with length one.

        Returns
        -------
        numpy scalar or ndarray
        """
        axis = _normalise_axis(axis)
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        m, n = self._shape
        if axis is None:
            result = np.asarray(sum(float(v.sum(dtype=np.float64)) for v, _, _ in self._leaves))
        else:
            length = n if axis == 0 else m
            check_materialise(length, f"sum(axis={axis}) of a {m} x {n} window ({length:,} results)")
            result = np.zeros(length, dtype=np.float64)
            for view, r0, c0 in self._leaves:
                start, stop = (c0, c0 + view.shape[1]) if axis == 0 else (r0, r0 + view.shape[0])
                result[start:stop] += view.sum(axis=axis, dtype=np.float64)
        return finish_reduction(result, axis, keepdims, self._shape, dtype)

    # --------------------------------------------------------------- products
    def __matmul__(self, other):
        if _is_lazy(other):
            raise TypeError(_JITC_PRODUCT_MESSAGE)
        return self._product(other, "right")

    def __rmatmul__(self, other):
        return self._product(other, "left")

    def _product(self, other, side):
        from .events import BinaryArray

        if isinstance(other, BinaryArray):
            return _composite_products.product(self, other.data, side, binary=True)
        return _composite_products.product(self, other, side)

    def rmatvec(self, x):
        """``self.T @ x`` (the adjoint: every entry is real), as SciPy's ``rmatvec``.

        Parameters
        ----------
        x : array of shape (m,) or (m, 1)
            Real or complex.

        Returns
        -------
        array of shape (n,) or (n, 1)
        """
        return self.T @ _one_vector(x, self._shape[0], "rmatvec")

    def matmat(self, x):
        """``self @ x`` for a 2-D ``x``, as SciPy's ``LinearOperator.matmat``.

        Parameters
        ----------
        x : array of shape (n, k)
            Real or complex.

        Returns
        -------
        array of shape (m, k)
        """
        return self @ _block(x, "matmat")

    def rmatmat(self, x):
        """``self.T @ x`` for a 2-D ``x``, as SciPy's ``rmatmat``.

        Parameters
        ----------
        x : array of shape (m, k)
            Real or complex.

        Returns
        -------
        array of shape (n, k)
        """
        return self.T @ _block(x, "rmatmat")

    # ----------------------------------------------------------------- scaling
    def _scaled(self, factor, symbol="*"):
        if not _is_real_scalar(factor):
            raise TypeError(
                f"composite {symbol} {type(factor).__name__}: only scaling by a real scalar is lazy "
                "(C * 0.5, C / 2); use C[a:b, c:d].todense() for elementwise work on a small window"
            )
        scale = (lambda v: v / factor) if symbol == "/" else (lambda v: v * factor)
        return JITCComposite._make(self._shape, [(scale(v), r0, c0) for v, r0, c0 in self._leaves], self._dtype)

    def __mul__(self, other):
        return self._scaled(other)

    __rmul__ = __mul__

    def __truediv__(self, other):
        return self._scaled(other, "/")

    def __neg__(self):
        return self._scaled(-1.0)

    def __pos__(self):
        return self

    def __add__(self, other):
        return add(self, other)

    def __radd__(self, other):
        return add(other, self)

    __hash__ = object.__hash__

    def __array_function__(self, func, types, args, kwargs):
        # A NumPy function lazyconn computes for matrices from one
        # generator's internals, and not (yet) from a composite's leaves:
        # refuse it by name instead of failing inside.
        if func not in COMPOSITE_FUNCTIONS and func in _protocols.HANDLED_FUNCTIONS:
            raise TypeError(
                f"np.{getattr(func, '__name__', func)} of a JITC composite is not computed lazily; apply it "
                "to each block (C.leaves holds JITC matrices), to C[a:b, c:d].todense() of a small window, "
                "or use C.aslinearoperator(). Lazy on composites: "
                + ", ".join(sorted(f.__name__ for f in COMPOSITE_FUNCTIONS))
            )
        return super().__array_function__(func, types, args, kwargs)


# The elementwise refusals (and bool/float/int conversions) are JITCMatrix's
# own, and so is the LinearOperator surface (made of ``@`` and ``.T``), with
# which SciPy's eigs, svds, gmres, onenormest ... take the raw composite.
for _name in (
    "__eq__", "__ne__", "__lt__", "__le__", "__gt__", "__ge__", "__sub__", "__rsub__", "__rtruediv__",
    "__floordiv__", "__rfloordiv__", "__mod__", "__rmod__", "__pow__", "__rpow__", "__and__", "__rand__",
    "__or__", "__ror__", "__xor__", "__rxor__", "__abs__", "__invert__", "__bool__", "__float__",
    "__int__", "__complex__", "__index__",
    "dot", "matvec", "adjoint", "H", "conj", "conjugate",
):
    setattr(JITCComposite, _name, getattr(JITCMatrix, _name))


# ------------------------------------------------------------------ building
def zeros(shape, dtype=None):
    """A lazy block of zeros, for :func:`numpy.block` and concatenation.

    Parameters
    ----------
    shape : tuple of two int
        Rows and columns of the block.
    dtype : numpy.dtype or None, optional
        None (default): no dtype of its own, so it never promotes the other
        blocks (``np.zeros`` is float64 and would promote float32 blocks).

    Returns
    -------
    JITCComposite
        With no leaves.

    Examples
    --------
    >>> import numpy as np, lazyconn
    >>> a = lazyconn.JITCScalarR(30, 20, prob=0.1, weight=1.0, seed=0)
    >>> np.block([[a, lazyconn.zeros((30, 10))]]).shape
    (30, 30)
    """
    try:
        m, n = (int(s) for s in shape)
    except (TypeError, ValueError):
        raise TypeError(f"zeros needs a shape of two integers, got {shape!r}") from None
    if m < 0 or n < 0:
        raise ValueError(f"zeros needs a non-negative shape, got {shape!r}")
    return JITCComposite._make((m, n), (), dtype)


def _as_composite(x, where):
    """A JITC matrix, composite or all-zero 2-D NumPy array as a composite."""
    if isinstance(x, JITCComposite):
        return x
    if isinstance(x, JITCMatrix):
        return JITCComposite._make(x.shape, [(x, 0, 0)], x.dtype)
    if isinstance(x, np.ndarray) and x.ndim == 2 and x.dtype.kind in "biuf" and not x.any():
        return JITCComposite._make(x.shape, (), x.dtype)
    kind = f"a {x.dtype} array of shape {x.shape} with nonzero entries" if isinstance(x, np.ndarray) else (
        f"a {type(x).__name__}")
    raise TypeError(
        f"{where} of JITC matrices takes JITC matrices, composites and zero blocks (np.zeros((a, b)) "
        f"or lazyconn.zeros((a, b))), got {kind}; a dense nonzero block is not lazy: assemble "
        "todense() of small windows instead"
    )


def _promote(parts):
    dtypes = [p._dtype for p in parts if p._dtype is not None]
    return np.result_type(*dtypes) if dtypes else None


def _join(parts, axis, where):
    """Concatenate composites along ``axis`` (0: stack rows, 1: side by side)."""
    parts = [_as_composite(p, where) for p in parts]
    if not parts:
        raise ValueError(f"{where} needs at least one block")
    other = 1 - axis
    widths = {p.shape[other] for p in parts}
    if len(widths) > 1:
        raise ValueError(
            f"{where}: the blocks must agree on axis {other} (got shapes {[p.shape for p in parts]})"
        )
    leaves, offset = [], 0
    for p in parts:
        for view, r0, c0 in p._leaves:
            leaves.append((view, r0 + offset, c0) if axis == 0 else (view, r0, c0 + offset))
        offset += p.shape[axis]
    shape = (offset, widths.pop()) if axis == 0 else (widths.pop(), offset)
    return JITCComposite._make(shape, leaves, _promote(parts))


def _check_dtype(result, dtype, casting, where):
    if casting != "same_kind":
        raise TypeError(f"{where} of JITC matrices takes casting='same_kind' only, got {casting!r}")
    if dtype is not None and np.dtype(dtype) != result.dtype:
        raise TypeError(
            f"{where}(..., dtype={np.dtype(dtype).name}) of JITC matrices is not lazy; the result "
            f"dtype is {result.dtype.name} (NumPy's promotion of the blocks): call .astype() on the blocks"
        )
    return result


@_protocols.implements(np.block)
def block(arrays):
    """``np.block`` of JITC matrices, composites and zero blocks: a lazy composite.

    Parameters
    ----------
    arrays : list of blocks, or list of lists of blocks
        As in :func:`numpy.block`, for a 2-D result.

    Returns
    -------
    JITCComposite
    """
    if not isinstance(arrays, list) or not arrays:
        raise TypeError("np.block of JITC matrices needs a non-empty list (or list of lists) of blocks")
    if all(isinstance(row, list) for row in arrays):
        if any(isinstance(x, list) for row in arrays for x in row):
            raise ValueError("np.block of JITC matrices builds 2-D matrices: nest lists two deep at most")
        return _join([_join(row, 1, "np.block") for row in arrays], 0, "np.block")
    if any(isinstance(x, list) for x in arrays):
        raise ValueError("np.block: the lists are nested to different depths")
    return _join(arrays, 1, "np.block")


@_protocols.implements(np.concatenate)
def concatenate(arrays, axis=0, out=None, *, dtype=None, casting="same_kind"):
    """``np.concatenate`` of JITC matrices and zero blocks along axis 0 or 1.

    Parameters
    ----------
    arrays : sequence of blocks
    axis : {0, 1, -1, -2}
    out : None
        Refused: the result is lazy.
    dtype, casting
        Only the promoted dtype and ``"same_kind"`` are accepted.

    Returns
    -------
    JITCComposite
    """
    if out is not None:
        raise TypeError("np.concatenate(..., out=) of JITC matrices is not lazy; assign the result instead")
    if axis is None:
        raise TypeError("np.concatenate(axis=None) of JITC matrices would flatten them; use axis 0 or 1")
    axis = _normalise_axis(axis)
    return _check_dtype(_join(list(arrays), axis, "np.concatenate"), dtype, casting, "np.concatenate")


@_protocols.implements(np.hstack)
def _hstack(tup, *, dtype=None, casting="same_kind"):
    return _check_dtype(_join(list(tup), 1, "np.hstack"), dtype, casting, "np.hstack")


@_protocols.implements(np.vstack)
def _vstack(tup, *, dtype=None, casting="same_kind"):
    return _check_dtype(_join(list(tup), 0, "np.vstack"), dtype, casting, "np.vstack")


def add(a, b):
    """``a + b`` of two JITC matrices or composites of one shape: a composite.

    The leaves of ``b`` follow those of ``a``; where they overlap, products
    and ``todense()`` add them.  ``0 + a`` is ``a`` (so ``sum([...])`` of
    matrices works).  Anything else is refused as elementwise.

    Parameters
    ----------
    a, b : JITCMatrix or JITCComposite

    Returns
    -------
    JITCComposite

    Raises
    ------
    TypeError
        If one operand is not lazy (an array, a nonzero scalar).
    ValueError
        If the shapes differ.
    """
    if not (_is_lazy(a) and _is_lazy(b)):
        lazy, other = (a, b) if _is_lazy(a) else (b, a)
        if type(other) is int and other == 0:
            return lazy
        _refuse_elementwise("+", other)
    if a.shape != b.shape:
        raise ValueError(
            f"sum of JITC matrices of shapes {a.shape} and {b.shape}: the shapes must be equal "
            "(no broadcasting); place blocks side by side with np.block"
        )
    a, b = _as_composite(a, "+"), _as_composite(b, "+")
    return JITCComposite._make(a.shape, a._leaves + b._leaves, _promote([a, b]))


# ``conn + conn`` of two matrices lands in OperatorsMixin.__add__, which
# cannot import this module (it is built on matrices): hand it ``add``.
set_add(add)


# ------------------------------------------------------------------ products
def _overlap(p, q):
    return p[0] < q[1] and q[0] < p[1] and p[2] < q[3] and q[2] < p[3]


# ---------------------------------------------------------------------- dask
def _to_dask(comp, chunks):
    """Dask array whose tasks each hold one window of ``comp`` and call its ``todense()``."""
    from .dask import dense_block_array

    return dense_block_array(comp, chunks, comp._window, "jitc-composite-dense-",
                             np.empty((0, 0), dtype=comp.dtype))


# ------------------------------------------------------------------ pickling
_PICKLED_DTYPES = {np.dtype(c).name for c in "?bhilqBHILQefd"}


def _restore(shape, dtype, leaves):
    """Rebuild a pickled composite, validating shape, dtype and every leaf's place."""
    if not (isinstance(shape, tuple) and len(shape) == 2
            and all(isinstance(s, numbers.Integral) and not isinstance(s, bool) and s >= 0 for s in shape)):
        raise ValueError(f"invalid pickled JITC composite: the shape must be two non-negative integers, got {shape!r}")
    if dtype is not None and not (isinstance(dtype, str) and dtype in _PICKLED_DTYPES):
        raise ValueError(f"invalid pickled JITC composite: dtype must be a real NumPy dtype name or None, got {dtype!r}")
    if not isinstance(leaves, tuple):
        raise ValueError("invalid pickled JITC composite: the leaves must be a tuple")
    m, n = shape
    for leaf in leaves:
        if not (isinstance(leaf, tuple) and len(leaf) == 3 and isinstance(leaf[0], JITCMatrix)):
            raise TypeError(f"invalid pickled JITC composite: a leaf must be (JITC matrix, row, column), got {leaf!r}")
        view, r0, c0 = leaf
        if not (isinstance(r0, int) and isinstance(c0, int) and 0 <= r0 and 0 <= c0
                and r0 + view.shape[0] <= m and c0 + view.shape[1] <= n):
            raise ValueError(
                f"invalid pickled JITC composite: a leaf of shape {view.shape} at ({r0!r}, {c0!r}) "
                f"is not inside the shape {shape}"
            )
    if dtype is not None and any(np.result_type(dtype, v.dtype) != np.dtype(dtype) for v, _, _ in leaves):
        raise ValueError(f"invalid pickled JITC composite: dtype {dtype} is narrower than a leaf's")
    return JITCComposite._make(shape, leaves, dtype)
