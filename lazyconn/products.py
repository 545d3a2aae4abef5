"""Products of a JITC window with a vector or matrix, in any array namespace.

This module maps the user's view (rows, columns, a window of a larger
generator, a scale factor) onto the kernels' line space, and back.  It is
written against an array namespace ``xp`` (NumPy or CuPy) and a kernel
module, so every backend shares one implementation of shapes, dtypes,
event detection and validation.
"""

from __future__ import annotations

import numpy as np

__all__ = ["matmul", "result_dtype", "line_space"]


def result_dtype(operand_dtype, matrix_dtype, binary):
    """NumPy's promotion of the operand with the matrix dtype.

    Raises
    ------
    TypeError
        For object, string, extended-precision (long double) and other
        operand dtypes that are not bool, integer, float16/32/64 or
        complex64/128.
    """
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


def line_space(conn):
    """Return ``(params, (k0, k1), (j0, j1))`` of a window, in line space."""
    r0, r1, c0, c1 = conn._window
    params = conn._spec.kernel_params()
    if conn._spec.orientation == "R":
        return params, (r0, r1), (c0, c1)
    return params, (c0, c1), (r0, r1)


def _check_operand(conn, x, side):
    if x.ndim not in (1, 2):
        raise ValueError(
            f"operand must be 1-D or 2-D, got {x.ndim}-D with shape {tuple(x.shape)}; "
            "loop over the leading axes or reshape to 2-D"
        )
    m, n = conn.shape
    if side == "right":
        inner = x.shape[0]
        if inner != n:
            raise ValueError(
                f"matmul: shape mismatch, conn has shape {conn.shape} and the operand "
                f"{tuple(x.shape)}: conn @ x needs x.shape[0] == {n}"
            )
    else:
        inner = x.shape[-1]
        if inner != m:
            raise ValueError(
                f"matmul: shape mismatch, the operand has shape {tuple(x.shape)} and conn "
                f"{conn.shape}: x @ conn needs x.shape[-1] == {m}"
            )


def _scatter_active_rows(kernels, xp, params, k0, vectors, binary, j0, j1, matrix_dtype, dtype):
    """``vectors.T @ L[k0:k0 + len(vectors), j0:j1]``, generating only the rows with a nonzero entry."""
    # A bool operand is its own mask; the index list is offset only for a
    # windowed view.
    nonzero = vectors if vectors.dtype.kind == "b" else vectors != 0
    active = xp.flatnonzero(xp.any(nonzero, axis=1) if vectors.shape[1] != 1 else nonzero[:, 0])
    lines = active.astype(xp.int64, copy=False)
    if k0:
        lines = lines + k0
    if binary and vectors.shape[1] == 1:
        values = None
    else:
        values = xp.ascontiguousarray(vectors[active].astype(dtype, copy=False))
    return kernels.scatter(params, lines, values, j0, j1, matrix_dtype)


def _complex_matmul(conn, x, side, kernels, xp, dtype):
    """``conn @ (a + ib)`` as ``conn @ a + i (conn @ b)``: both parts in one pass.

    The real and imaginary parts go side by side as columns of one real
    operand, so every line is generated once; event-driven products skip
    the lines where both parts are zero.
    """
    one_dimensional = x.ndim == 1
    if side == "right":
        parts = x[:, None] if one_dimensional else x
        out = matmul(conn, xp.concatenate([parts.real, parts.imag], axis=1), side, False, kernels, xp)
        half = parts.shape[1]
        real, imag = out[:, :half], out[:, half:]
    else:
        parts = x[None, :] if one_dimensional else x
        out = matmul(conn, xp.concatenate([parts.real, parts.imag], axis=0), side, False, kernels, xp)
        half = parts.shape[0]
        real, imag = out[:half], out[half:]
    result = xp.empty(real.shape, dtype=dtype)
    result.real = real
    result.imag = imag
    if one_dimensional:
        return result[:, 0] if side == "right" else result[0]
    return result


def matmul(conn, x, side, binary, kernels, xp):
    """``conn @ x`` (side="right") or ``x @ conn`` (side="left").

    Parameters
    ----------
    conn : JITCMatrix
    x : array of namespace ``xp``
        1-D or 2-D.
    side : {"left", "right"}
    binary : bool
        ``x`` holds 0/1 events (a BinaryArray's data): the multiply is skipped.
    kernels : module
        A kernel backend with the interface of ``lazyconn.kernels.reference``.
    xp : module
        The array namespace of ``x`` (numpy or cupy).

    Returns
    -------
    array of namespace ``xp``
    """
    _check_operand(conn, x, side)
    dtype = result_dtype(x.dtype, conn.dtype, binary)
    if dtype.kind == "c":
        return _complex_matmul(conn, x, side, kernels, xp, dtype)
    params, (k0, k1), (j0, j1) = line_space(conn)
    one_dimensional = x.ndim == 1
    # Bring the axis that meets the matrix first: (inner, n_cols).
    if one_dimensional:
        vectors = x[:, None]
    elif side == "right":
        vectors = x
    else:
        vectors = x.T
    # conn @ x meets the columns; x @ conn meets the rows.  Rows are the
    # major axis of R, columns the major axis of C.
    on_major = (side == "left") == (conn._spec.orientation == "R")
    if on_major:
        scatter_rows = getattr(kernels, "scatter_rows", None)
        if scatter_rows is not None:
            # The backend finds the active rows itself (the GPU: in bounded
            # chunks, so no per-row list of the whole operand is built).
            out = scatter_rows(params, k0, vectors, binary, j0, j1, conn.dtype, dtype)
        else:
            out = _scatter_active_rows(kernels, xp, params, k0, vectors, binary, j0, j1, conn.dtype, dtype)
    else:
        out = kernels.gather(params, k0, k1, j0, j1, xp.ascontiguousarray(vectors.astype(dtype, copy=False)), conn.dtype)
    out = out.astype(dtype, copy=False)
    if conn._scale != 1.0:
        # In float64 then rounded once, as todense() scales entries.
        # An infinite sum times a zero scale is NaN, as for any stored zero
        # entry (sparse semantics); overflow to inf is the float result.
        with np.errstate(invalid="ignore", over="ignore"):
            out = (out.astype(xp.float64, copy=False) * conn._scale).astype(dtype, copy=False)
    if one_dimensional:
        return out[:, 0]
    return out if side == "right" else out.T
