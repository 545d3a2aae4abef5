"""SciPy sparse operands: spike rasters multiplied event-driven.

Registered with :mod:`lazyconn.dispatch` the first time an operand from
``scipy`` is looked up.  ``conn @ S``, ``S @ conn`` and
``BinaryArray(S) @ conn`` take any ``scipy.sparse`` array or matrix (CSR,
CSC, COO, ...; 1-D COO arrays too) and return a dense NumPy array, as scipy
does for ``S @ dense``.  The operand is never densified whole:

* **Scatter** (the operand meets the generator's major axis: ``S @ R``,
  ``C @ S``): only the lines with a nonzero entry are generated, and their
  factors are a dense ``(active lines, active time steps)`` slice.
* **Gather** (the operand meets the minor axis: ``S @ C``, ``R @ S``):
  every line of the window takes part (each output needs all its
  connections), against a dense slice of the operand's *active* time steps
  only (steps without a spike give a zero output without any work).

Either way the time steps are taken in blocks so that the dense slice stays
under ``_BLOCK_ELEMENTS`` entries or the size of the dense result, whichever
is larger (a block is at least one time step).
"""

from __future__ import annotations

import numpy as np
import scipy.sparse as sp

from .backends import ArrayBackend
from .dispatch import backend_for, register
from .products import _check_operand, result_dtype

__all__ = ["canonical_values"]

#: Largest dense slice of the operand built at once (entries): 128 MiB in float64.
_BLOCK_ELEMENTS = 1 << 24


def canonical_values(x):
    """Stored values of a scipy sparse ``x`` with duplicates summed (no densifying).

    COO, CSR and CSC may hold an entry several times (its value is the sum);
    other formats are converted to COO, which holds each entry once.
    """
    if x.format not in ("csr", "csc", "coo"):
        return x.tocoo().data
    if not x.has_canonical_format:
        x = x.copy()
        x.sum_duplicates()
    return x.data


def _lines_by_steps(x, side):
    """The operand as a canonical CSC copy of shape (inner, steps), zeros dropped."""
    v = x.reshape((-1, 1)) if x.ndim == 1 else (x if side == "right" else x.T)
    v = sp.csc_array(v, copy=True)
    v.sum_duplicates()
    # A stored zero (or duplicates that cancel) is not an event.
    v.eliminate_zeros()
    return v


def _dense_rows(block, rows, n_rows, dtype):
    """Dense ``(len(rows) or n_rows, n_steps)`` of a CSC block, rows renumbered by ``rows``."""
    n_steps = block.shape[1]
    out = np.zeros((n_rows, n_steps), dtype=dtype)
    index = block.indices if rows is None else np.searchsorted(rows, block.indices)
    out[index, np.repeat(np.arange(n_steps), np.diff(block.indptr))] = block.data
    return out


def _sparse_matmul(view, x, side, binary):
    """Handler for ``conn @ x`` / ``x @ conn`` with a scipy sparse ``x``."""
    _check_operand(view, x, side)
    dtype = result_dtype(x.dtype, view.dtype, binary)
    v = _lines_by_steps(x, side)
    if dtype.kind == "c":
        # conn @ (a + ib) = conn @ a + i (conn @ b): both parts side by side
        # as time steps of one real operand, so every line is generated once.
        steps = v.shape[1]
        parts = sp.hstack([v.real, v.imag], format="csc")
        parts.eliminate_zeros()
        real = _product(view, parts, side, binary, np.dtype(dtype.char.lower()))
        out = np.empty((real.shape[0], steps), dtype=dtype)
        out.real, out.imag = real[:, :steps], real[:, steps:]
    else:
        out = _product(view, v, side, binary, dtype)
    if x.ndim == 1:
        return out[:, 0]
    return out if side == "right" else out.T


def _product(view, v, side, binary, dtype):
    """``(n_out, steps)`` product of the window with the real CSC ``v`` (inner, steps)."""
    params, (k0, k1), (j0, j1) = view.line_space()
    on_major = view.scatters(side)
    n_out = (j1 - j0) if on_major else (k1 - k0)
    n_inner, n_steps = v.shape
    out = np.zeros((n_out, n_steps), dtype=dtype)
    steps = np.flatnonzero(np.diff(v.indptr))
    backend = backend_for(np).kernels()
    if steps.size and n_out:
        if on_major:
            # Upper bound on any block's active lines: bounds its dense slice.
            widest = np.unique(v.indices).size
        else:
            widest = n_inner
        # A slice as large as the dense result costs no more memory than the
        # result itself, and a gather regenerates every line once per block.
        per_block = max(1, max(_BLOCK_ELEMENTS, n_out * steps.size) // max(widest, 1))
        for start in range(0, steps.size, per_block):
            cols = steps[start:start + per_block]
            block = v[:, cols]
            if on_major:
                lines = np.unique(block.indices)
                if binary and cols.size == 1:
                    values = None  # one spike vector: weights are added, no multiply
                else:
                    values = _dense_rows(block, lines, lines.size, dtype)
                part = backend.scatter(params, lines + k0, values, j0, j1, view.dtype)
            else:
                vectors = _dense_rows(block, None, n_inner, dtype)
                part = backend.gather(params, k0, k1, j0, j1, vectors, view.dtype)
            out[:, cols] = part.astype(dtype, copy=False)
    if view.scale != 1.0:
        # As products.matmul: in float64, rounded once to the result dtype.
        with np.errstate(invalid="ignore", over="ignore"):
            out = (out.astype(np.float64) * view.scale).astype(dtype, copy=False)
    return out


#: SciPy sparse arrays and matrices: event-driven on the host kernels, NumPy results.
SPARSE = ArrayBackend("scipy.sparse", _sparse_matmul)

register(SPARSE, (sp.sparray, sp.spmatrix))
