"""Products of a JITC window with a vector or matrix, in any array namespace.

This module maps the user's view (rows, columns, a window of a larger
generator, a scale factor: a :class:`View`) onto the kernels' line space,
and back.  It is written against an array namespace ``xp`` (NumPy or CuPy)
and a kernel backend (:class:`lazyconn.backends.Backend`), both passed in,
so every backend shares one implementation of shapes, dtypes, event
detection and validation.
"""

from __future__ import annotations

from typing import NamedTuple

import numpy as np

from . import _float
from .backends import SCATTER_ROWS
from .spec import Spec

__all__ = ["View", "as_view", "matmul", "result_dtype", "line_space"]


class View(NamedTuple):
    """What a product needs of a matrix: its generator, window and scale.

    ``JITCMatrix.as_view()`` returns it; product handlers, the Dask graph
    builder and the reductions take it instead of the matrix.  It is a
    few hundred bytes when pickled (the generator, never its entries), so
    Dask tasks hold it.

    Attributes
    ----------
    spec : lazyconn.spec.Spec
        The whole generator.
    window : tuple of int
        ``(r0, r1, c0, c1)``: rows ``r0:r1`` and columns ``c0:c1`` of it.
    scale : float
        Factor applied to every entry (in float64, rounded once).
    """

    spec: Spec
    window: tuple
    scale: float

    @property
    def shape(self):
        """``(rows, columns)`` of the window."""
        r0, r1, c0, c1 = self.window
        return (r1 - r0, c1 - c0)

    @property
    def dtype(self):
        """The matrix dtype."""
        return self.spec.dtype

    @property
    def prob(self):
        """Connection probability of the generator."""
        return self.spec.prob

    def line_space(self):
        """``(params, (k0, k1), (j0, j1))``: the window in the kernels' line space."""
        r0, r1, c0, c1 = self.window
        params = self.spec.kernel_params()
        if self.spec.orientation == "R":
            return params, (r0, r1), (c0, c1)
        return params, (c0, c1), (r0, r1)

    def scatters(self, side):
        """True if a product on ``side`` scatters lines, False if it gathers them.

        The one place this is decided.  ``conn @ x`` (``side="right"``)
        contracts the columns and ``x @ conn`` (``"left"``) the rows; rows
        are the generated lines of an R matrix, columns those of a C
        matrix.  Contracting the lines scatters them (each active operand
        entry adds its line to the output: event-driven); contracting the
        minor axis gathers (each output is a dot product along a line).
        """
        return (side == "left") == (self.spec.orientation == "R")

    def token(self):
        """Plain values naming the generator, window and scale (stable Dask task names)."""
        spec = self.spec
        return (
            spec.shape, spec.orientation, spec.prob, type(spec.law).__name__, tuple(vars(spec.law).values()),
            spec.seed, spec.dtype.str, spec.include_self, spec.num_conn, self.window, self.scale,
        )

    def subwindow(self, r0, r1, c0, c1):
        """The view of rows ``r0:r1`` and columns ``c0:c1`` of this window (relative indices)."""
        a, _, c, _ = self.window
        return View(self.spec, (a + r0, a + r1, c + c0, c + c1), self.scale)


def as_view(conn):
    """The :class:`View` of a JITC matrix (a View is returned as is)."""
    return conn if type(conn) is View else conn.as_view()


#: (operand dtype, matrix dtype, binary) -> result dtype, for the accepted
#: ones: every product asks, and the checks below cost a small product
#: about a microsecond.
_RESULT_DTYPES = {}


def result_dtype(operand_dtype, matrix_dtype, binary):
    """NumPy's promotion of the operand with the matrix dtype.

    Raises
    ------
    TypeError
        For object, string, extended-precision (long double) and other
        operand dtypes that are not bool, integer, float16/32/64 or
        complex64/128.
    """
    key = (operand_dtype, matrix_dtype, bool(binary))
    try:
        return _RESULT_DTYPES[key]
    except (KeyError, TypeError):  # TypeError: an unhashable dtype-like (never cached)
        pass
    dtype = _result_dtype(operand_dtype, matrix_dtype, binary)
    if isinstance(operand_dtype, np.dtype) and len(_RESULT_DTYPES) < 256:
        _RESULT_DTYPES[key] = dtype
    return dtype


def _result_dtype(operand_dtype, matrix_dtype, binary):
    operand_dtype = np.dtype(operand_dtype)
    if binary or operand_dtype == np.bool_:
        return np.dtype(matrix_dtype)
    if operand_dtype.kind == "f" and operand_dtype.itemsize > 8:
        # One policy for every backend: no kernel accumulates in extended
        # precision, so a long double result would claim digits it lacks.
        raise TypeError(
            f"operand dtype {operand_dtype} is not supported: products are computed in float32 "
            "or float64 on every backend; pass x.astype(numpy.float64)"
        )
    if operand_dtype.kind == "c" and operand_dtype.itemsize > 16:
        raise TypeError(
            f"operand dtype {operand_dtype} is not supported: products are computed in float32 "
            "or float64 on every backend; pass x.astype(numpy.complex128)"
        )
    if operand_dtype.kind not in "iufc":
        raise TypeError(
            f"operand dtype {operand_dtype} is not supported: pass a real or complex (float, "
            "integer, bool, complex64/128) array"
        )
    return np.result_type(operand_dtype, matrix_dtype)


def line_space(view):
    """Return ``(params, (k0, k1), (j0, j1))`` of a :class:`View` or JITC matrix, in line space."""
    return as_view(view).line_space()


def _check_operand(view, x, side):
    if x.ndim not in (1, 2):
        raise ValueError(
            f"operand must be 1-D or 2-D, got {x.ndim}-D with shape {tuple(x.shape)}; "
            "loop over the leading axes or reshape to 2-D"
        )
    m, n = view.shape
    if side == "right":
        inner = x.shape[0]
        if inner != n:
            raise ValueError(
                f"matmul: shape mismatch, conn has shape {view.shape} and the operand "
                f"{tuple(x.shape)}: conn @ x needs x.shape[0] == {n}"
            )
    else:
        inner = x.shape[-1]
        if inner != m:
            raise ValueError(
                f"matmul: shape mismatch, the operand has shape {tuple(x.shape)} and conn "
                f"{view.shape}: x @ conn needs x.shape[-1] == {m}"
            )


def _scatter_active_rows(kernels, xp, params, k0, vectors, binary, j0, j1, matrix_dtype, dtype):
    """``vectors.T @ L[k0:k0 + len(vectors), j0:j1]``, generating only the rows with a nonzero entry."""
    # A bool operand is its own mask; the index list is offset only for a
    # windowed view.
    n_rows, n_cols = vectors.shape
    if n_cols == 1 and n_rows and int(xp.count_nonzero(vectors)) == n_rows:
        # A dense vector: every row is active, and neither a mask, an index
        # search nor a gathered copy of the operand is needed (a small
        # product pays for each).  Batched operands keep the general path.
        lines = xp.arange(k0, k0 + n_rows, dtype=xp.int64)
        values = None if binary else xp.ascontiguousarray(_float.astype(vectors, dtype))
        return kernels.scatter(params, lines, values, j0, j1, matrix_dtype)
    nonzero = vectors if vectors.dtype.kind == "b" else vectors != 0
    active = xp.flatnonzero(xp.any(nonzero, axis=1) if n_cols != 1 else nonzero[:, 0])
    lines = active.astype(xp.int64, copy=False)
    if k0:
        lines = lines + k0
    if binary and n_cols == 1:
        values = None
    else:
        values = xp.ascontiguousarray(_float.astype(vectors[active], dtype))
    return kernels.scatter(params, lines, values, j0, j1, matrix_dtype)


def _complex_matmul(view, x, side, kernels, xp, dtype, capabilities):
    """``conn @ (a + ib)`` as ``conn @ a + i (conn @ b)``: both parts in one pass.

    The real and imaginary parts go side by side as columns of one real
    operand, so every line is generated once; event-driven products skip
    the lines where both parts are zero.
    """
    one_dimensional = x.ndim == 1
    if side == "right":
        parts = x[:, None] if one_dimensional else x
        out = matmul(view, xp.concatenate([parts.real, parts.imag], axis=1), side, False, kernels, xp, capabilities)
        half = parts.shape[1]
        real, imag = out[:, :half], out[:, half:]
    else:
        parts = x[None, :] if one_dimensional else x
        out = matmul(view, xp.concatenate([parts.real, parts.imag], axis=0), side, False, kernels, xp, capabilities)
        half = parts.shape[0]
        real, imag = out[:half], out[half:]
    result = xp.empty(real.shape, dtype=dtype)
    result.real = real
    result.imag = imag
    if one_dimensional:
        return result[:, 0] if side == "right" else result[0]
    return result


def matmul(view, x, side, binary, kernels, xp, capabilities=frozenset()):
    """``conn @ x`` (side="right") or ``x @ conn`` (side="left").

    Parameters
    ----------
    view : View or JITCMatrix
    x : array of namespace ``xp``
        1-D or 2-D.
    side : {"left", "right"}
    binary : bool
        ``x`` holds 0/1 events (a BinaryArray's data): the multiply is skipped.
    kernels : lazyconn.backends.Backend
        The kernel backend (``lazyconn.kernels.reference``'s interface).
    xp : module
        The array namespace of ``x`` (numpy or cupy).
    capabilities : frozenset of str, optional
        The optional capabilities ``kernels`` declared
        (:data:`lazyconn.backends.CAPABILITIES`).

    Returns
    -------
    array of namespace ``xp``
    """
    view = as_view(view)
    _check_operand(view, x, side)
    dtype = result_dtype(x.dtype, view.dtype, binary)
    if dtype.kind == "c":
        return _complex_matmul(view, x, side, kernels, xp, dtype, capabilities)
    params, (k0, k1), (j0, j1) = view.line_space()
    matrix_dtype = view.dtype
    one_dimensional = x.ndim == 1
    # Bring the axis that meets the matrix first: (inner, n_cols).
    if one_dimensional:
        vectors = x[:, None]
    elif side == "right":
        vectors = x
    else:
        vectors = x.T
    if view.scatters(side):
        if SCATTER_ROWS in capabilities:
            # The backend finds the active rows itself (the GPU: in bounded
            # chunks, so no per-row list of the whole operand is built).
            out = kernels.scatter_rows(params, k0, vectors, binary, j0, j1, matrix_dtype, dtype)
        else:
            out = _scatter_active_rows(kernels, xp, params, k0, vectors, binary, j0, j1, matrix_dtype, dtype)
    else:
        out = kernels.gather(params, k0, k1, j0, j1, xp.ascontiguousarray(_float.astype(vectors, dtype)),
                             matrix_dtype)
    out = _float.astype(out, dtype)
    scale = view.scale
    if scale != 1.0:
        # In float64 then rounded once, as todense() scales entries.
        # An infinite sum times a zero scale is NaN, as for any stored zero
        # entry (sparse semantics); overflow to inf is the float result.
        with np.errstate(invalid="ignore", over="ignore"):
            out = _float.astype(_float.astype(out, xp.float64) * scale, dtype)
    if one_dimensional:
        return out[:, 0]
    return out if side == "right" else out.T
