"""GPU backend: spec v1 in CUDA, compiled through CuPy (NVRTC).

The kernels live in ``jitc_kernels.cu`` (products, windows) and
``jitc_events.cu`` (event finding, checks), ``jitc_fixed.cu`` (the
deterministic scatter, driven by ``_gpu_fixed``) beside this file, the random
primitives (Philox4x32-10, the deterministic ``ln`` and ``ndtri``) in
``jitc_random.cuh``, the weight laws in ``jitc_laws.cuh`` and the connection
rules' walks (Bernoulli, fixed-number) in ``jitc_rules.cuh``, each kernel a
template of its (rule, law); all are compiled once per process and kernel variant
with ``--fmad=false``, so every realised matrix is bit-identical to
:mod:`lazyconn.kernels.reference`.  The interface is the reference's, on
CuPy arrays (see that module's docstring), plus :func:`scatter_rows`, which
the product driver uses on the GPU: it finds an operand's active rows on the
device and scatters them without synchronising with the host.

The compilation, the generator's arguments, the launch tunables and the
tile geometry live in :mod:`lazyconn.kernels._gpu_launch`, shared with the
deterministic scatter (:mod:`lazyconn.kernels._gpu_fixed`); neither imports
this module.

CuPy operands reach these kernels through :mod:`lazyconn._cupy`, which
registers ``cupy.ndarray`` with :mod:`lazyconn.dispatch`; this module
imports neither.

Launch geometry
---------------
Products run on a 2-D grid of (tile of G minor blocks) x (segment of lines);
a scatter's segments deal the device-side list of rows round-robin, and
CTAs beyond what its length needs leave at once.
A tile of the input (gather) or of the output (scatter) sits in shared
memory when it fits in ``_TILE_BYTES``; otherwise (very small ``prob``, hence
blocks of up to 2**22 entries, or many batched columns) the same kernels
address global memory.  The constants of ``_gpu_launch`` set the geometry;
tests shrink them to reach multi-tile, multi-segment and global paths on
small matrices.
"""

from __future__ import annotations

import functools
from typing import NamedTuple

import numpy as np

try:
    import cupy as cp
except ImportError as exc:  # pragma: no cover - exercised only without CuPy
    raise ImportError(
        "lazyconn's GPU backend needs CuPy: install the wheel matching your CUDA "
        "(e.g. pip install cupy-cuda12x), or keep using NumPy operands, which run on the CPU"
    ) from exc

from ..config import get_options
from . import _gpu_fixed
from .. import _float
from . import _gpu_launch as _launch
from ._gpu_launch import (
    _CTYPES, _blocks, _find_events, _gap_constants, _gen_args, _grid_1d, _int32, _is_empty, _kernel, _ndtri_bound,
    _ndtri_smem_bytes, _ndtri_table, _plain, _product_geometry, _scalar_weight, _segments, _sm_count, compile_seconds,
    constant_law, law_type, rule_type,
)

__all__ = [
    "NAME", "dense", "coo", "scatter", "scatter_rows", "gather", "degrees", "compile_seconds", "gap_check",
    "ndtri_check", "law32_check", "ln_check",
]

NAME = "gpu"

# The launch tunables (_THREADS, _TILE_BYTES, _CTAS_PER_SM, ...) live in
# _gpu_launch, shared with the deterministic scatter, and are read there at
# each call (_launch._THREADS), never copied here: tests and sweeps change
# them on _gpu_launch.

# The gather's per-tile partial sums (see gather): at most this many bytes,
# whatever the shape; a product needing more runs in chunks of tiles (and,
# for very many lines, of lines), launched one after another.
_PARTIAL_BYTES = 64 * 2**20
# A chunk holds at least this many tiles while the lines allow, so that each
# launch still fills the GPU; lines are cut into chunks instead.
_MIN_CHUNK_TILES = 16
_MODE_VALUES, _MODE_EVENTS, _MODE_COUNTS = 0, 1, 2


# ---------------------------------------------------------------------------
def _require_device(name, array):
    """Refuse host arrays with a TypeError that names the fix."""
    if not isinstance(array, cp.ndarray):
        raise TypeError(
            f"the GPU backend needs CuPy arrays, got {type(array).__module__}.{type(array).__name__} "
            f"for {name}; move it with cupy.asarray(...) or pass NumPy operands throughout "
            "to run on the CPU (host and device operands cannot be mixed)"
        )


# ---------------------------------------------------------------------------
def dense(params, k0, k1, j0, j1, dtype):
    """Dense block ``L[k0:k1, j0:j1]`` as a CuPy array of ``dtype``."""
    law = law_type(params)
    dtype = np.dtype(dtype)
    n_lines = k1 - k0
    out = cp.zeros((max(n_lines, 0), max(j1 - j0, 0)), dtype=dtype)
    if _is_empty(params, n_lines, j0, j1):
        return out
    b0, b1 = _blocks(params, j0, j1)
    n_items = n_lines * (b1 - b0)
    _kernel("jitc_dense", dtype, law=law, rule=rule_type(params))(
        _grid_1d(n_items), (_launch._THREADS,),
        (_gen_args(params), _int32(k0), _int32(n_lines), _int32(j0), _int32(j1), _int32(b0), _int32(b1 - b0), out),
    )
    return out


def coo(params, k0, k1, j0, j1, dtype):
    """Connections of lines ``k0:k1`` in the minor window ``j0:j1``, on the GPU.

    Returns
    -------
    k, j : cupy.ndarray of int64
        Global line and minor indices, sorted by ``(k, j)``.
    w : cupy.ndarray of ``dtype``
    """
    law = law_type(params)
    dtype = np.dtype(dtype)
    n_lines = k1 - k0
    if _is_empty(params, n_lines, j0, j1):
        return cp.empty(0, cp.int64), cp.empty(0, cp.int64), cp.empty(0, dtype)
    b0, b1 = _blocks(params, j0, j1)
    n_items = n_lines * (b1 - b0)
    geometry = (_int32(k0), _int32(n_lines), _int32(j0), _int32(j1), _int32(b0), _int32(b1 - b0))
    gen = _gen_args(params)
    counts = cp.empty(n_items, dtype=cp.int64)
    rule = rule_type(params)
    _kernel("jitc_coo_count", dtype, rule=rule)(_grid_1d(n_items), (_launch._THREADS,), (gen, *geometry, counts))
    ends = cp.cumsum(counts)
    total = int(ends[-1])
    offsets = ends - counts
    k = cp.empty(total, cp.int64)
    j = cp.empty(total, cp.int64)
    w = cp.empty(total, dtype)
    if total:
        _kernel("jitc_coo_fill", dtype, law=law, rule=rule)(_grid_1d(n_items), (_launch._THREADS,),
                                                            (gen, *geometry, offsets, k, j, w))
    return k, j, w


def degrees(params, k0, k1, j0, j1, dtype, scale=1.0):
    """Exact int64 counts of nonzero entries per line and per minor index.

    Parameters
    ----------
    scale : float
        Count the entries of the scaled matrix: an entry of weight ``w``
        (already rounded to ``dtype``) counts when ``dtype(float64(w) * scale)``
        is nonzero, so weights that the scale underflows to zero do not.
    """
    law = law_type(params)
    n_lines = k1 - k0
    per_line = cp.zeros(max(n_lines, 0), cp.uint64)
    per_minor = cp.zeros(max(j1 - j0, 0), cp.uint64)
    if not _is_empty(params, n_lines, j0, j1):
        b0, b1 = _blocks(params, j0, j1)
        n_items = n_lines * (b1 - b0)
        _kernel("jitc_degrees", dtype, law=law, rule=rule_type(params))(
            _grid_1d(n_items), (_launch._THREADS,),
            (_gen_args(params), _int32(k0), _int32(n_lines), _int32(j0), _int32(j1), _int32(b0), _int32(b1 - b0),
             np.float64(scale), per_line, per_minor),
        )
    return per_line.view(cp.int64), per_minor.view(cp.int64)



def _value_dtype(array):
    dtype = np.dtype(array.dtype)
    return dtype if dtype in _CTYPES else np.dtype(np.float64)


def gather(params, k0, k1, j0, j1, vectors, dtype):
    """Gather along lines: ``L[k0:k1, j0:j1] @ vectors``, on the GPU.

    With ``set_options(deterministic=True)``: each (line, tile) partial sum is a sequential sum over
    the tile's connections in position order, and the partials of a line are
    added in tile order by a second kernel (``jitc_sum_partials``), so the
    bits do not change from run to run, nor between ``M @ y`` and
    ``y @ M.T`` (the same gather).  The partials take at most
    ``_PARTIAL_BYTES`` of GPU memory: larger products run in chunks of tiles
    and lines, which leave the summation order unchanged.

    Parameters
    ----------
    vectors : cupy.ndarray, shape (j1 - j0, n_cols)
        float32 or float64 (others are computed in float64).
    dtype : numpy.dtype
        Matrix dtype: weights are rounded to it before use.

    Returns
    -------
    cupy.ndarray of the vectors' float dtype, shape (k1 - k0, n_cols)
    """
    law = law_type(params)
    _require_device("vectors", vectors)
    value_dtype = _value_dtype(vectors)
    vectors = cp.ascontiguousarray(vectors, dtype=value_dtype)
    n_lines, n_cols = k1 - k0, vectors.shape[1]
    out = cp.zeros((max(n_lines, 0), n_cols), dtype=value_dtype)
    if _is_empty(params, n_lines, j0, j1) or n_cols == 0:
        return out
    gen = _gen_args(params)
    scalar_w = _scalar_weight(params, dtype, value_dtype)
    for col0 in range(0, n_cols, _launch._MAX_COLUMNS):
        nc = min(_launch._MAX_COLUMNS, n_cols - col0)
        b0, b1, G, n_tiles, _, _, use_smem, smem = _product_geometry(
            params, n_lines, j0, j1, nc, value_dtype.itemsize, _ndtri_smem_bytes(params, dtype)
        )
        kernel = _kernel(
            "jitc_gather", dtype, value_dtype, 1 if nc == 1 else _launch._MAX_COLUMNS, use_smem, law,
            _plain(params, j0), rule=rule_type(params),
        )

        def launch(line0, lines, tile0, tiles, target, ld, out_col0, part_stride,
                   kernel=kernel, b0=b0, b1=b1, G=G, col0=col0, nc=nc, smem=smem, use_smem=use_smem):
            """Lines ``line0 + [0, lines)`` over tiles ``tile0 + [0, tiles)`` into ``target``."""
            per_seg, n_segs = _segments(lines, tiles, use_smem)
            kernel(
                (tiles, n_segs), (_launch._THREADS,),
                (gen, _int32(k0 + line0), _int32(lines), _int32(j0), _int32(j1), _int32(b0 + tile0 * G),
                 _int32(b1), _int32(G), _int32(per_seg), vectors, _int32(n_cols), _int32(col0), _int32(nc),
                 target, _int32(ld), _int32(out_col0), np.int64(part_stride), scalar_w),
                shared_mem=smem,
            )

        if not get_options()["deterministic"]:
            # One atomic add per (line, tile) into the output: faster, but
            # the order of the adds, hence the last bits, vary from run to
            # run.
            launch(0, n_lines, 0, n_tiles, out, n_cols, col0, -1)
        elif n_tiles == 1:
            # One partial per line: stored straight into the output.
            launch(0, n_lines, 0, 1, out, n_cols, col0, 0)
        else:
            _gather_in_chunks(launch, n_lines, n_tiles, nc, value_dtype, out, col0)
    return out


def _gather_in_chunks(launch, n_lines, n_tiles, nc, value_dtype, out, col0):
    """Run a gather's tiles in bounded chunks, their partials summed into ``out`` in tile order."""
    entry = nc * value_dtype.itemsize
    budget = max(1, _PARTIAL_BYTES // entry)  # partial entries (line, tile) in the buffer
    tiles = min(n_tiles, max(budget // n_lines, min(_MIN_CHUNK_TILES, budget)))
    lines = min(n_lines, max(1, budget // tiles))
    parts = cp.empty(tiles * lines * nc, dtype=value_dtype)
    stride = lines * nc
    sum_kernel = _kernel(f"jitc_sum_partials<{_CTYPES[value_dtype]}>", np.float64)
    for line0 in range(0, n_lines, lines):
        chunk_lines = min(lines, n_lines - line0)
        target = out[line0 : line0 + chunk_lines]
        for tile0 in range(0, n_tiles, tiles):
            chunk_tiles = min(tiles, n_tiles - tile0)
            launch(line0, chunk_lines, tile0, chunk_tiles, parts, nc, 0, stride)
            sum_kernel(
                _grid_1d(chunk_lines * nc), (_launch._THREADS,),
                (parts, _int32(chunk_tiles), np.int64(stride), _int32(chunk_lines), _int32(nc), target,
                 _int32(out.shape[1]), _int32(col0)),
            )


def scatter(params, lines, values, j0, j1, dtype):
    """Scatter lines onto the minor window: ``values.T @ L[lines, j0:j1]``, on the GPU.

    Event-driven: only the given lines are generated, one work item per
    (line, block).  Binary events (``values=None``) skip the multiply, and with
    a Scalar law count connections in integers, scaled once at the end.

    Parameters
    ----------
    lines : cupy.ndarray of int64
        Line indices (typically only the active ones).
    values : cupy.ndarray of shape (len(lines), n_cols), or None
        Per-line factors; None means one column of ones (binary events).
    dtype : numpy.dtype
        Matrix dtype: weights are rounded to it before use.

    Returns
    -------
    cupy.ndarray, shape (j1 - j0, n_cols)
        Of the values' float dtype, or of ``dtype`` for binary events.
    """
    law_type(params)
    dtype = np.dtype(dtype)
    _require_device("lines", lines)
    if values is not None:
        _require_device("values", values)
        values = cp.asarray(values, dtype=_value_dtype(values))
    if _fixed_point(params, values is None):
        return _gpu_fixed.scatter(params, lines, values, j0, j1, dtype)
    value_dtype = dtype if values is None else np.dtype(values.dtype)
    n_cols = 1 if values is None else values.shape[1]
    out, counts, _ = _scatter_output(params, values is None, max(j1 - j0, 0), n_cols, value_dtype)
    n_lines = int(lines.size)
    if n_lines:
        rows = cp.asarray(lines, dtype=cp.int32)  # lines < 2**31
        n_rows = cp.full(1, n_lines, dtype=cp.uint32)
        _scatter_into(params, rows, n_rows, n_lines, 0, values, False, j0, j1, dtype, out, counts)
    return _scatter_result(params, out, counts, dtype, value_dtype)


def scatter_rows(params, k0, rows, binary, j0, j1, dtype, value_dtype):
    """``rows.T @ L[k0:k0 + len(rows), j0:j1]`` for an operand on the device, event-driven.

    The product driver's entry point on the GPU (``products.matmul`` uses it
    when a backend has one).  The active rows (any nonzero entry) are found
    on the device, chunk by chunk (at most ``_ROWS_PER_CHUNK`` rows), and
    scattered from there: no synchronisation with the host, and the memory
    beyond the operand and the result is one int32 per row of a chunk
    (at most 8 MiB), however many rows the operand has.

    Parameters
    ----------
    rows : cupy.ndarray, shape (n_rows, n_cols)
        The operand, one row per line ``k0 + i``.
    binary : bool
        Rows hold 0/1 events: the multiply is skipped (one column only).
    value_dtype : numpy.dtype
        Dtype of the product.

    Returns
    -------
    cupy.ndarray, shape (j1 - j0, n_cols), of ``value_dtype``
    """
    law_type(params)
    dtype, value_dtype = np.dtype(dtype), np.dtype(value_dtype)
    _require_device("rows", rows)
    events = binary and rows.shape[1] == 1
    if _fixed_point(params, events):
        return _gpu_fixed.scatter_rows(params, k0, rows, binary, j0, j1, dtype, value_dtype)
    n_cols = rows.shape[1]
    kernel_dtype = dtype if events else (value_dtype if value_dtype in _CTYPES else np.dtype(np.float64))
    out, counts, n_active = _scatter_output(params, events, max(j1 - j0, 0), n_cols, kernel_dtype)
    if _is_empty(params, rows.shape[0], j0, j1) or n_cols == 0:
        return _float.astype(_scatter_result(params, out, counts, dtype, kernel_dtype), value_dtype)
    chunk = _launch._ROWS_PER_CHUNK
    active = cp.empty(min(chunk, rows.shape[0]), dtype=cp.int32)
    for r0 in range(0, rows.shape[0], chunk):
        part = rows[r0 : r0 + chunk]
        if part.dtype.kind != "b" and part.dtype not in _CTYPES:
            part = part != 0 if events else _float.astype(part, kernel_dtype)
        if r0:
            n_active.fill(0)
        _find_events(part, active, n_active)
        values = None
        if not events:
            # The operand itself, read row by row in the kernel: no copy.
            values = part if part.dtype == kernel_dtype else _float.astype(part, kernel_dtype)
        _scatter_into(params, active, n_active, part.shape[0], k0 + r0, values, True, j0, j1, dtype, out, counts)
    return _float.astype(_scatter_result(params, out, counts, dtype, kernel_dtype), value_dtype)


def _fixed_point(params, events):
    """Whether a scatter runs in fixed point (``_gpu_fixed``): under ``deterministic=True``, unless counted.

    Binary events with a Scalar law count connections in integers: exact
    already, on either route.
    """
    return get_options()["deterministic"] and not (events and constant_law(params))


def _scatter_output(params, events, width, n_cols, value_dtype):
    """Zeroed ``(out, counts, spare)`` of a scatter; binary Scalar events count in uint32.

    ``spare`` is one more zeroed uint32 (for a device-side count), from the
    same allocation: one fill kernel fewer for short event products.
    ``counts`` is unused (and may alias ``spare``) unless ``out is counts``.
    """
    if events and constant_law(params):
        buffer = cp.zeros(width + 1, dtype=cp.uint32)
        counts = buffer[:width]
        return counts, counts, buffer[width:]
    spare = cp.zeros(1, dtype=cp.uint32)
    return cp.zeros((width, n_cols), dtype=value_dtype), spare, spare


def _scatter_result(params, out, counts, dtype, value_dtype):
    if out is counts:
        # Exact (jitc_scale_counts): the count times the weight of the matrix
        # dtype, rounded once, as the reference's float64 sum of equal weights.
        weight = value_dtype.type(dtype.type(params.a))
        result = cp.empty((counts.size, 1), dtype=value_dtype)
        _kernel(f"jitc_scale_counts<{_CTYPES[value_dtype]}>", np.float64)(
            _grid_1d(counts.size), (_launch._THREADS,), (counts, np.int64(counts.size), weight, result)
        )
        return result
    return out


def _scatter_into(params, rows, n_rows, max_rows, line0, values, values_by_row, j0, j1, dtype, out, counts):
    """Add the scatter of lines ``line0 + rows[:n_rows]`` into ``out`` (or ``counts``), on the GPU.

    Parameters
    ----------
    rows : cupy.ndarray of int32
        Row offsets of the lines; ``n_rows`` (a one-element uint32 device
        array) says how many are valid, ``max_rows`` bounds it on the host.
    values : cupy.ndarray of shape (n, n_cols), or None
        Per-row factors, indexed by the row offset (``values_by_row``: the
        operand itself) or by position in ``rows``; None: binary events.
    dtype : numpy.dtype
        Matrix dtype: weights are rounded to it before use.
    out, counts : cupy.ndarray
        From :func:`_scatter_output`.
    """
    if values is None:
        value_dtype, n_cols = (dtype if out is counts else np.dtype(out.dtype)), 1
        mode = _MODE_COUNTS if out is counts else _MODE_EVENTS
        strides = (0, 0)
        values = out  # never read
    else:
        value_dtype, n_cols = np.dtype(values.dtype), values.shape[1]
        mode = _MODE_VALUES
        if abs(values.strides[0]) >= 2**31 * values.itemsize:  # the kernel takes an int32 row stride
            values = cp.ascontiguousarray(values)
        strides = tuple(stride // values.itemsize for stride in values.strides)
    if _is_empty(params, max_rows, j0, j1) or n_cols == 0:
        return
    plan = _scatter_plan(
        params, max_rows, line0, strides, values_by_row, n_cols, mode, j0, j1, np.dtype(dtype), value_dtype,
        out.shape[1] if out.ndim == 2 else 1, cp.cuda.Device().id, _launch._geometry(),
    )
    for launch in plan:
        launch.kernel(launch.grid, (_launch._THREADS,), launch.args(rows, n_rows, values, out, counts),
                      shared_mem=launch.smem)



@functools.lru_cache(maxsize=256)
def _scatter_plan(params, max_rows, line0, strides, values_by_row, n_cols, mode, j0, j1, dtype, value_dtype, out_ld,
                  device_id, geometry):
    """Kernels, grids and every argument but the arrays, per column chunk of a scatter.

    Cached: a sparse product is short enough for the Python that builds its
    launch to show.
    """
    gen = _gen_args(params)
    plan = []
    for col0 in range(0, n_cols, _launch._MAX_COLUMNS):
        nc = min(_launch._MAX_COLUMNS, n_cols - col0)
        itemsize = 4 if mode == _MODE_COUNTS else value_dtype.itemsize
        b0, b1, G, n_tiles, _, _, use_smem, smem = _product_geometry(
            params, max_rows, j0, j1, nc, itemsize, _ndtri_smem_bytes(params, dtype)
        )
        # Rows are dealt round-robin over the grid's height, sized for the
        # most rows the list can hold (its length is known on the device only).
        n_segs, lines_per_thread = _launch._scatter_segments(max_rows, n_tiles, mode != _MODE_VALUES, use_smem,
                                                             device_id)
        kernel = _kernel(
            "jitc_scatter", dtype, value_dtype, 1 if nc == 1 else _launch._MAX_COLUMNS, use_smem, law_type(params),
            _plain(params, j0), mode, rule_type(params),
        )
        plan.append(_ScatterLaunch(
            kernel=kernel, grid=(n_tiles, n_segs), smem=smem, gen=gen,
            chunk_rows=_int32(max_rows if values_by_row else -1), line0=_int32(line0),
            val_rs=_int32(strides[0]), val_cs=np.int64(strides[1]), values_by_row=_int32(values_by_row),
            col0=_int32(col0), nc=_int32(nc), j0=_int32(j0), j1=_int32(j1), b0=_int32(b0), b1=_int32(b1),
            G=_int32(G), out_ld=_int32(out_ld), scalar_w=_scalar_weight(params, dtype, value_dtype),
            lines_per_thread=_int32(lines_per_thread),
        ))
    return tuple(plan)


class _ScatterLaunch(NamedTuple):
    """One launch of ``jitc_scatter`` (jitc_kernels.cu): the kernel, its grid, and every argument but
    the arrays, by the kernel's parameter names."""

    kernel: object
    grid: tuple
    smem: int
    gen: object
    chunk_rows: np.int32
    line0: np.int32
    val_rs: np.int32
    val_cs: np.int64
    values_by_row: np.int32
    col0: np.int32
    nc: np.int32
    j0: np.int32
    j1: np.int32
    b0: np.int32
    b1: np.int32
    G: np.int32
    out_ld: np.int32
    scalar_w: object
    lines_per_thread: np.int32

    def args(self, rows, n_rows, values, out, counts):
        """The kernel's arguments in its order, with the arrays of this launch."""
        return (self.gen, rows, n_rows, self.chunk_rows, self.line0, values, self.val_rs, self.val_cs,
                self.values_by_row, self.col0, self.nc, self.j0, self.j1, self.b0, self.b1, self.G, out,
                self.out_ld, counts, self.scalar_w, self.lines_per_thread)


# ---------------------------------------------------------------------------
def gap_check(inv_log_q, first=0, count=2**32):
    """Compare the float32 gap fast path with the float64 gap on 32-bit words.

    Parameters
    ----------
    inv_log_q : float
        ``1 / ln1p(-prob)`` of the matrix (``Spec.kernel_params().inv_log_q``).
    first, count : int
        The words ``first, ..., first + count - 1`` (default: all 2**32).

    Returns
    -------
    mismatches, fallbacks : int
        Words whose fast gap differs from the float64 one (must be 0), and
        words that took the float64 fallback.
    """
    counters = cp.zeros(2, cp.uint64)
    _, c2, tol = _gap_constants(inv_log_q)
    kernel = _kernel("jitc_gap_check", np.float32)
    kernel(
        (_sm_count(cp.cuda.Device().id) * 16,), (_launch._THREADS,),
        (np.float64(inv_log_q), c2, tol, np.uint64(first), np.uint64(count), counters[:1], counters[1:]),
    )
    mismatches, fallbacks = counters.get().tolist()
    return mismatches, fallbacks


def ndtri_check(first=0, count=2**31):
    """Measure the device's float32 Normal candidate against AS241 on 32-bit words.

    The kernels evaluate the candidate ``v'`` for ``ndtri(u)`` their own way
    (fused multiply-adds, see ``jitc_random.cuh``), so its error is measured
    here rather than inherited from :mod:`lazyconn.kernels._ndtri_fast`.

    Parameters
    ----------
    first, count : int
        The words ``first, ..., first + count - 1``, all below ``2**31``
        (default: every one; the words above mirror them exactly).

    Returns
    -------
    violations : int
        Words with ``|v' - ndtri(u)| > |u - 0.5| * E / 2``, ``E`` the bound the
        kernels use (the table's largest); must be 0.
    worst : float
        The largest ``|v' - ndtri(u)| / |u - 0.5|`` seen.
    """
    if not 0 <= first <= first + count <= 2**31:
        raise ValueError(f"words [first, first + count) must lie in [0, 2**31), got first={first}, count={count}")
    device_id = cp.cuda.Device().id
    counters = cp.zeros(2, cp.uint64)
    kernel = _kernel("jitc_ndtri_check", np.float64)
    kernel(
        (_sm_count(device_id) * 16,), (_launch._THREADS,),
        (_ndtri_table(device_id), np.float64(_ndtri_bound()), np.uint64(first), np.uint64(count), counters[:1],
         counters[1:]),
    )
    violations, worst_bits = counters.get().tolist()
    return violations, float(np.array(worst_bits, np.uint64).view(np.float64))


def law32_check(params, first=0, count=2**32):
    """Compare a law's float32 route with its exact float64 route on 32-bit weight words.

    The float32 Normal, LogNormal and Exponential kernels keep a cheap
    candidate only where a proven bound decides the float32 rounding
    (``jitc_laws.cuh``); this runs that route (``weight32``) and the exact
    route (``exact``) of the law on every word.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
        Parameters of a matrix whose law has a float32 route (Normal,
        LogNormal, Exponential); only the law and its ``(a, b)`` matter.
    first, count : int
        The words ``first, ..., first + count - 1`` (default: all 2**32).

    Returns
    -------
    mismatches, fallbacks : int
        Decided words whose float32 weight differs from the exact route's
        (must be 0), and words the route leaves to the exact route.
    """
    if not 0 <= first <= first + count <= 2**32:
        raise ValueError(f"words [first, first + count) must lie in [0, 2**32), got first={first}, count={count}")
    device_id = cp.cuda.Device().id
    counters = cp.zeros(2, cp.uint64)
    kernel = _launch._function(f"jitc_law32_check<{law_type(params)}>", device_id)
    kernel(
        (_sm_count(device_id) * 16,), (_launch._THREADS,),
        (_gen_args(params), np.uint64(first), np.uint64(count), counters[:1], counters[1:]),
    )
    mismatches, fallbacks = counters.get().tolist()
    return mismatches, fallbacks


def ln_check(first=0, count=2**32):
    """Measure the log candidate (the float32 Exponential route's, the fixed-number skip's) against the pinned ``ln``.

    The candidate (``jitc_log_candidate``, ``jitc_logc.cuh``) has a derived
    bound of ``2**-47``; the route decides with ``2**-45``.

    Parameters
    ----------
    first, count : int
        The words ``first, ..., first + count - 1`` (default: all 2**32),
        each as its spec uniform ``u``.

    Returns
    -------
    violations : int
        Words with ``|L' - ln(u)| > 2**-46 |ln(u)|``, ``L'`` the candidate:
        half the bound the route decides with; must be 0.
    worst : float
        The largest ``|L' - ln(u)| / |ln(u)|`` seen.
    """
    if not 0 <= first <= first + count <= 2**32:
        raise ValueError(f"words [first, first + count) must lie in [0, 2**32), got first={first}, count={count}")
    device_id = cp.cuda.Device().id
    counters = cp.zeros(2, cp.uint64)
    kernel = _launch._function("jitc_ln_check", device_id)
    kernel(
        (_sm_count(device_id) * 16,), (_launch._THREADS,),
        (np.uint64(first), np.uint64(count), counters[:1], counters[1:]),
    )
    violations, worst_bits = counters.get().tolist()
    return violations, float(np.array(worst_bits, np.uint64).view(np.float64))
