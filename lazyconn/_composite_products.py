"""Products of a JITC composite: every leaf through the operand registry, summed per block.

``C @ x`` and ``x @ C`` find the operand's
:class:`~lazyconn.backends.ArrayBackend` once, with
:func:`lazyconn.dispatch.route` -- the lookup a single matrix uses -- and
hand each leaf's view and its slice of the operand to that entry's
``matmul``.  So a composite takes every operand a matrix takes (NumPy,
CuPy, Dask, ``scipy.sparse`` rasters, PyTorch tensors, JAX arrays, other
array-API arrays, 0/1 events) with the same result type and device rules:
each leaf product is already of the result's library on the operand's
device, and the pieces are added per output block there:

* NumPy and CuPy results are written into one output (the first leaf of a
  block assigned, the others added, in leaf order: the order of
  ``todense()``);
* any other library's results (Dask, PyTorch, JAX, array-API) are cut into
  bands at the leaves' edges, each band the sum of the leaf pieces that
  cover it, and concatenated in that library -- no item assignment, no
  host copy.

This module imports nothing that imports the composite: it reads the
composite through ``shape``, ``dtype`` and ``leaves``.
"""

from __future__ import annotations

import contextlib
import importlib

import numpy as np

from .dispatch import route
from .products import as_view, result_dtype

__all__ = ["product"]

#: Libraries whose results take item assignment (one output, pieces written in).
_ASSIGNABLE = ("numpy", "cupy")


def _along(axis, start, stop, ndim):
    """Index of ``start:stop`` along ``axis`` of an ``ndim``-D array, every axis named (array API)."""
    return (slice(None),) * axis + (slice(start, stop),) + (slice(None),) * (ndim - axis - 1)


def _numpy_dtype(dtype):
    """NumPy's name for an operand dtype (PyTorch's ``torch.float32`` too); None if it has none."""
    try:
        return np.dtype(dtype)
    except TypeError:
        try:
            return np.dtype(str(dtype).rpartition(".")[2])
        except TypeError:
            return None


def _library(x):
    return type(x).__module__.partition(".")[0]


def _library_dtype(backend, dtype):
    """``dtype`` as the operand's library holds it (JAX without 64-bit types: float32)."""
    if backend.name == "jax":
        import jax

        return jax.dtypes.canonicalize_dtype(dtype)
    return dtype


def _cast(x, dtype):
    """``x`` as ``dtype`` in its own library (``astype``, or the array-API ``xp.astype``)."""
    if hasattr(x, "astype"):
        return x.astype(dtype)
    import array_api_compat

    xp = array_api_compat.array_namespace(x)
    return xp.astype(x, getattr(xp, dtype.name))


def product(comp, x, side, binary=False):
    """``comp @ x`` (``side="right"``) or ``x @ comp`` (``"left"``) for an operand of any served library.

    Parameters
    ----------
    comp : JITCComposite
    x : array
        1-D or 2-D operand (the data of a BinaryArray when ``binary``).
    side : {"right", "left"}
    binary : bool
        ``x`` holds 0/1 events (already checked by BinaryArray).

    Returns
    -------
    array
        Of the library and device a matrix product with ``x`` returns.
    """
    backend, x = route(x)
    m, n = comp.shape
    if x.ndim not in (1, 2):
        raise ValueError(f"operand must be 1-D or 2-D, got {x.ndim}-D with shape {tuple(x.shape)}")
    right = side == "right"
    # The contracted axis of x is also the axis of the result that the leaves fill.
    axis = 0 if right else x.ndim - 1
    inner, outer = (n, m) if right else (m, n)
    if x.shape[axis] != inner:
        need = f"C @ x needs x.shape[0] == {n}" if right else f"x @ C needs x.shape[-1] == {m}"
        raise ValueError(
            f"matmul: shape mismatch, the composite has shape {comp.shape} and the operand "
            f"{tuple(x.shape)}: {need}"
        )
    operand_dtype = _numpy_dtype(x.dtype)
    dtype = None if operand_dtype is None else result_dtype(operand_dtype, comp.dtype, binary)
    leaves = comp.leaves
    if not binary and dtype is not None and len({v.dtype for v, _, _ in leaves}) > 1:
        # Mixed leaf dtypes: every leaf accumulates in the result dtype.
        x = _cast(x, _library_dtype(backend, dtype))
    if x.ndim == 2 and getattr(x, "format", None) in ("coo", "dia", "bsr", "dok", "lil"):
        # A scipy.sparse raster that takes no (fast) slices: compressed along the sliced axis, once.
        x = x.tocsr() if axis == 0 else x.tocsc()
    pieces = []
    for view, r0, c0 in leaves:
        h, w = view.shape
        (i0, i1), (o0, o1) = ((c0, c0 + w), (r0, r0 + h)) if right else ((r0, r0 + h), (c0, c0 + w))
        part = x[_along(axis, i0, i1, x.ndim)]
        pieces.append((o0, o1, backend.matmul(as_view(view), part, side, binary)))
    shape = tuple(x.shape[:axis]) + (outer,) + tuple(x.shape[axis + 1:])
    if not pieces:
        return _zeros(backend, x, shape, dtype)
    like = pieces[0][2]
    if _library(like) in _ASSIGNABLE:
        return _written(pieces, shape, axis, like, dtype)
    return _bands(pieces, shape, axis, like)


def _written(pieces, shape, axis, like, dtype):
    """NumPy or CuPy: one output, each block assigned once and added to after (leaf order)."""
    xp = importlib.import_module(_library(like))
    if dtype is None:
        dtype = np.result_type(*(p.dtype for _, _, p in pieces))
    device = getattr(like, "device", None) if xp is not np else None
    with (device if device is not None else contextlib.nullcontext()):
        out = xp.zeros(shape, dtype=dtype)
        written = []
        for a, b, piece in pieces:
            if any(a < wb and wa < b for wa, wb in written):
                out[_along(axis, a, b, out.ndim)] += piece
            else:
                # Assigned, not added to zero, so a -0.0 stays -0.0 as in todense().
                out[_along(axis, a, b, out.ndim)] = piece
            written.append((a, b))
    return out


def _bands(pieces, shape, axis, like):
    """Other libraries: bands cut at the leaves' edges, each the sum of its covering pieces."""
    zeros, concat = _band_tools(like)
    length = shape[axis]
    edges = sorted({0, length} | {e for a, b, _ in pieces for e in (a, b)})
    bands = []
    for s, t in zip(edges[:-1], edges[1:]):
        band = None
        for a, b, piece in pieces:
            if a <= s and t <= b:
                part = piece[_along(axis, s - a, t - a, len(shape))]
                band = part if band is None else band + part
        if band is None:
            band_shape = shape[:axis] + (t - s,) + shape[axis + 1:]
            band = zeros(band_shape, pieces)
        bands.append(band)
    return bands[0] if len(bands) == 1 else concat(bands, axis)


def _band_tools(like):
    """``zeros(shape, pieces)`` and ``concat(bands, axis)`` in the library of ``like``."""
    if _library(like) == "dask":
        import dask.array as da

        def zeros(shape, pieces):
            dtype = np.result_type(*(p.dtype for _, _, p in pieces))
            return da.zeros_like(like, shape=shape, dtype=dtype)  # keeps the chunks' kind (CuPy meta)

        return zeros, lambda bands, axis: da.concatenate(bands, axis=axis)
    import array_api_compat

    xp = array_api_compat.array_namespace(like)
    device = array_api_compat.device(like)

    def zeros(shape, pieces):
        dtype = xp.result_type(*(p.dtype for _, _, p in pieces))
        return xp.zeros(shape, dtype=dtype, device=device)

    return zeros, lambda bands, axis: xp.concat(bands, axis=axis)


def _zeros(backend, x, shape, dtype):
    """The product of a composite of zero blocks alone: zeros where a matrix's result would be."""
    if dtype is None:
        dtype = np.dtype(np.float64)
    if backend.name in ("numpy", "scipy.sparse"):
        return np.zeros(shape, dtype=dtype)
    if backend.name == "dask":
        import dask.array as da

        return da.zeros_like(x, shape=shape, dtype=dtype)
    import array_api_compat

    xp = array_api_compat.array_namespace(x)
    dtype = _library_dtype(backend, dtype)
    xp_dtype = getattr(xp, np.dtype(dtype).name)
    with (x.device if backend.name == "cupy" else contextlib.nullcontext()):
        return xp.zeros(shape, dtype=xp_dtype, device=array_api_compat.device(x))
