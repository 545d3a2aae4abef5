"""GPU backend: spec v1 in CUDA, compiled through CuPy (NVRTC).

The kernels live in ``jitc_kernels.cu`` (products, windows) and
``jitc_events.cu`` (event finding, checks) beside this file, the random
primitives (Philox4x32-10, the deterministic ``ln`` and ``ndtri``) in
``jitc_random.cuh``; all are compiled once per process and kernel variant
with ``--fmad=false``, so every realised matrix is bit-identical to
:mod:`lazyconn.kernels.reference`.  The interface is the reference's, on
CuPy arrays (see that module's docstring), plus :func:`scatter_rows`, which
the product driver uses on the GPU: it finds an operand's active rows on the
device and scatters them without synchronising with the host.

Importing this module registers ``cupy.ndarray`` with
:data:`lazyconn.dispatch.matmul_dispatch`, so ``conn @ x`` with a CuPy ``x``
runs here and returns CuPy arrays.

Launch geometry
---------------
Products run on a 2-D grid of (tile of G minor blocks) x (segment of lines);
a scatter's segments deal the device-side list of rows round-robin, and
CTAs beyond what its length needs leave at once.
A tile of the input (gather) or of the output (scatter) sits in shared
memory when it fits in ``_TILE_BYTES``; otherwise (very small ``prob``, hence
blocks of up to 2**22 entries, or many batched columns) the same kernels
address global memory.  The module-level constants below set the geometry;
tests shrink them to reach multi-tile, multi-segment and global paths on
small matrices.
"""

from __future__ import annotations

import functools
import math
import sys
import time
from pathlib import Path

import numpy as np

try:
    import cupy as cp
except ImportError as exc:  # pragma: no cover - exercised only without CuPy
    raise ImportError(
        "lazyconn's GPU backend needs CuPy: install the wheel matching your CUDA "
        "(e.g. pip install cupy-cuda12x), or keep using NumPy operands, which run on the CPU"
    ) from exc

from .. import dispatch, products, rules
from ..config import get_options
from . import _ndtri_fast
from ..random import PHILOX_W0, PHILOX_W1
from ..spec import LAW_NORMAL, LAW_SCALAR

__all__ = [
    "NAME", "dense", "coo", "scatter", "scatter_rows", "gather", "degrees", "compile_seconds", "gap_check",
    "ndtri_check",
]

NAME = "gpu"

# Threads per CTA (at most 256: the product kernels' __launch_bounds__).
_THREADS = 256
# Shared memory per CTA for a product tile, and at most this many blocks
# per tile.  One block of 4096 float32 entries per tile (p = 0.01) measured
# best on an H200 (gpu_targets.py --sweep: 19.8 ms gather and 0.43 ms
# spikes against 20.6 and 0.45 with two blocks, dense scatter even): a block
# change is then a line change, the cheapest item change of the walk.
_TILE_BYTES = 16 * 1024
_MAX_TILE_BLOCKS = 1
# Aim for this many CTAs per SM when cutting lines into segments (many
# waves: the last, partial wave then costs little).  Binary events, whose
# few active lines are spread over all CTAs, want fewer: every CTA zeroes
# and flushes a whole tile.  Measured on an H200 at N = 1e6, p = 0.01 (CTAs
# per SM 16 / 32 / 64): gather 18.9 / 18.6 / 18.3 ms, dense scatter 42.2 /
# 39.7 / 38.8 ms, 1% spikes 0.342 / 0.347 / 0.367 ms.
_CTAS_PER_SM = 64
_CTAS_PER_SM_EVENTS = 16
# The scatter's grid is sized on the host for every row of the operand; on
# the device only enough CTAs for this many active lines per thread run (the
# active count is known there only).  Four keeps the 1e6-row, 1% spikes
# product at its best measured grid, and small sparse products small.
_EVENT_LINES_PER_THREAD = 4
# A segment holds at least this many lines (four per thread), so that
# loading, zeroing or flushing a tile is paid back by the connections walked
# in it (H200, p = 0.01, 64 CTAs per SM: gather 0.285 ms with 512 and 0.268
# ms with 1024 at N = 1e5; 17.2 and 16.9 ms at N = 1e6).
_MIN_LINES_PER_SEGMENT = 1024
# Largest number of batched columns handled per kernel launch (register
# accumulators); wider operands are processed in chunks of this many.
_MAX_COLUMNS = 8
# The gather's per-tile partial sums (see gather): at most this many bytes,
# whatever the shape; a product needing more runs in chunks of tiles (and,
# for very many lines, of lines), launched one after another.
_PARTIAL_BYTES = 64 * 2**20
# A chunk holds at least this many tiles while the lines allow, so that each
# launch still fills the GPU; lines are cut into chunks instead.
_MIN_CHUNK_TILES = 16
# Operand rows (times columns) whose events are detected per chunk in
# scatter_rows: bounds the active-line list and the gathered values (at most
# 16 MiB each) whatever the number of rows.
_ROWS_PER_CHUNK = 1 << 21

_OPTIONS = ("--std=c++17", "--fmad=false")
_HERE = Path(__file__).resolve().parent
_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
_MODE_VALUES, _MODE_EVENTS, _MODE_COUNTS = 0, 1, 2
# Row stride of the ndtri table on the device (JITC_NDTRI_STRIDE).
_NDTRI_STRIDE = 10
# float32 Normal products copy the table's coefficients (six doubles a row)
# into each CTA's shared memory, ahead of the tile: JITC_NDTRI_SMEM_BYTES.
_NDTRI_SMEM_BYTES = _ndtri_fast.N_INTERVALS * (_ndtri_fast.DEGREE + 1) * 8

_compile_seconds = {}


def _source():
    """The CUDA translation unit: the header pasted before the kernels.

    Pasting (rather than ``-I``) makes the text CuPy hashes for its on-disk
    cache cover the header too, so an edited header is never served stale.
    """
    header = (_HERE / "jitc_random.cuh").read_text()
    kernels = (_HERE / "jitc_kernels.cu").read_text()
    events = (_HERE / "jitc_events.cu").read_text()
    return header + "\n" + kernels + events


_UTILS = ("jitc_coo_count", "jitc_gap_check", "jitc_ndtri_check")


@functools.lru_cache(maxsize=None)
def _function(expression, device_id):
    """Compile (once per process and device) the module holding one kernel instantiation.

    One small module per kernel keeps the first call's compile short: a
    product compiles only the variant it runs (the header is shared text, so
    each module costs one NVRTC pass over a few hundred lines).
    """
    start = time.perf_counter()
    options = _OPTIONS + (("-DJITC_WITH_UTILS",) if expression in _UTILS else ())
    module = cp.RawModule(code=_source(), options=options, name_expressions=[expression])
    function = module.get_function(expression)
    _compile_seconds.setdefault(expression, time.perf_counter() - start)
    return function


def _kernel(name, matrix_dtype, value_dtype=None, columns=None, smem=True, weighted=False, plain=False, mode=None):
    """The compiled kernel ``name`` for the given template arguments."""
    matrix_dtype = np.dtype(matrix_dtype)
    value_dtype = matrix_dtype if value_dtype is None else np.dtype(value_dtype)
    w, t = _CTYPES[matrix_dtype], _CTYPES[value_dtype]
    if name.startswith(("jitc_find_events", "jitc_scale_counts", "jitc_sum_partials")):
        expression = name
    elif name in ("jitc_dense", "jitc_coo_fill", "jitc_degrees"):
        expression = f"{name}<{w}>"
    elif name in ("jitc_gather", "jitc_scatter"):
        flags = ", ".join("true" if f else "false" for f in (smem, weighted, plain))
        expression = f"{name}<{w}, {t}, {columns}, {flags}" + (">" if mode is None else f", {mode}>")
    else:
        expression = name
    # A module is loaded on the device current when it is compiled: key the
    # cache on the device too (CuPy's disk cache makes a second device cheap).
    return _function(expression, cp.cuda.Device().id)


def compile_seconds():
    """Seconds spent compiling (or loading) each kernel so far in this process.

    Returns
    -------
    dict
        ``{"jitc_gather<float, float, 1, true, false, true>": seconds, ...}``; a
        kernel served from CuPy's on-disk cache shows its (short) load time.
    """
    return dict(_compile_seconds)


# ---------------------------------------------------------------------------
def _require_device(name, array):
    """Refuse host arrays with a TypeError that names the fix."""
    if not isinstance(array, cp.ndarray):
        raise TypeError(
            f"the GPU backend needs CuPy arrays, got {type(array).__module__}.{type(array).__name__} "
            f"for {name}; move it with cupy.asarray(...) or pass NumPy operands throughout "
            "to run on the CPU (host and device operands cannot be mixed)"
        )


def _gap_constants(inv_log_q):
    """``(fast, c2, tol)`` of the float32 gap path (see jitc_random.cuh)."""
    c = float(inv_log_q)
    # float32 resolves gaps only while |c| is moderate (prob > ~1.5e-5); the
    # kernels' floor trick also needs |c| < 2**16, and their one-rounding
    # interval ends |c2| >= 2**-3 (prob < 0.996; see jitc_random.cuh).
    fast = math.isfinite(c) and 2.0**-3 <= abs(c * math.log(2.0)) and abs(c) < 2.0**16
    c2 = np.float32(c * math.log(2.0)) if fast else np.float32(0.0)
    return fast, c2, np.float32(abs(float(c2)) * 2.0**-20)


@functools.lru_cache(maxsize=None)
def _ndtri_table(device_id):
    """The float32 Normal route's table on a device, rows padded to 10 doubles.

    The coefficients are scaled by 2**-32 (exact): the kernels multiply the
    polynomial by ``|q| * 2**32``, which they form in one exact subtraction.
    """
    table = _ndtri_fast.load_table()
    padded = np.zeros((table.shape[0], _NDTRI_STRIDE))
    padded[:, : table.shape[1]] = table
    padded[:, : _ndtri_fast.DEGREE + 1] *= 2.0**-32
    with cp.cuda.Device(device_id):
        return cp.asarray(padded)


@functools.lru_cache(maxsize=None)
def _ndtri_bound():
    """The largest error bound of the float32 Normal route's table: the kernels decide with it."""
    return float(_ndtri_fast.load_table()[:, -1].max())


def _gen_args(params):
    """The generator's arguments in the order of JITC_GEN_PARAMS."""
    rules.require_bernoulli(params, "GPU")
    return _gen_args_on(params, cp.cuda.Device().id)


@functools.lru_cache(maxsize=256)
def _gen_args_on(params, device_id):
    # Cached: building them costs tens of microseconds of Python, which a
    # sparse event product would otherwise pay after its host sync.
    fast, c2, tol = _gap_constants(params.inv_log_q)
    return (
        np.uint32(params.key0),
        np.uint32(params.key1),
        np.int32(params.block_log2),
        np.float64(params.inv_log_q),
        c2,
        tol,
        np.int32(fast),
        np.int32(params.law),
        np.float64(params.a),
        np.float64(params.b),
        np.int32(bool(params.skip_diagonal)),
        *_round_keys(params.key0, params.key1),
        _ndtri_table(device_id),
        np.float64(_ndtri_bound()),
    )


def _round_keys(key0, key1):
    """Philox4x32-10 round keys 1..9, interleaved (k0_r, k1_r), as uint32."""
    keys = []
    for r in range(1, 10):
        keys.append(np.uint32((key0 + r * PHILOX_W0) & 0xFFFFFFFF))
        keys.append(np.uint32((key1 + r * PHILOX_W1) & 0xFFFFFFFF))
    return keys


def _blocks(params, j0, j1):
    """Blocks ``[b0, b1)`` of a line that meet the minor window ``[j0, j1)``."""
    if j1 <= j0:
        return 0, 0
    return j0 >> params.block_log2, ((j1 - 1) >> params.block_log2) + 1


def _is_empty(params, n_lines, j0, j1):
    rules.require_bernoulli(params, "GPU")  # every public kernel asks this first
    return n_lines <= 0 or j1 <= j0 or params.inv_log_q == -math.inf


@functools.lru_cache(maxsize=None)
def _sm_count(device_id):
    return cp.cuda.Device(device_id).attributes["MultiProcessorCount"]


def _grid_1d(n_items):
    """Grid of a grid-stride kernel: enough CTAs to fill the GPU, no more."""
    limit = _sm_count(cp.cuda.Device().id) * 32
    return (max(1, min(limit, -(-n_items // _THREADS))),)


def _int32(value):
    return np.int32(value)


# ---------------------------------------------------------------------------
def dense(params, k0, k1, j0, j1, dtype):
    """Dense block ``L[k0:k1, j0:j1]`` as a CuPy array of ``dtype``."""
    dtype = np.dtype(dtype)
    n_lines = k1 - k0
    out = cp.zeros((max(n_lines, 0), max(j1 - j0, 0)), dtype=dtype)
    if _is_empty(params, n_lines, j0, j1):
        return out
    b0, b1 = _blocks(params, j0, j1)
    n_items = n_lines * (b1 - b0)
    _kernel("jitc_dense", dtype)(
        _grid_1d(n_items), (_THREADS,),
        (*_gen_args(params), _int32(k0), _int32(n_lines), _int32(j0), _int32(j1), _int32(b0), _int32(b1 - b0), out),
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
    dtype = np.dtype(dtype)
    n_lines = k1 - k0
    if _is_empty(params, n_lines, j0, j1):
        return cp.empty(0, cp.int64), cp.empty(0, cp.int64), cp.empty(0, dtype)
    b0, b1 = _blocks(params, j0, j1)
    n_items = n_lines * (b1 - b0)
    geometry = (_int32(k0), _int32(n_lines), _int32(j0), _int32(j1), _int32(b0), _int32(b1 - b0))
    gen = _gen_args(params)
    counts = cp.empty(n_items, dtype=cp.int64)
    _kernel("jitc_coo_count", dtype)(_grid_1d(n_items), (_THREADS,), (*gen, *geometry, counts))
    ends = cp.cumsum(counts)
    total = int(ends[-1])
    offsets = ends - counts
    k = cp.empty(total, cp.int64)
    j = cp.empty(total, cp.int64)
    w = cp.empty(total, dtype)
    if total:
        _kernel("jitc_coo_fill", dtype)(_grid_1d(n_items), (_THREADS,), (*gen, *geometry, offsets, k, j, w))
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
    n_lines = k1 - k0
    per_line = cp.zeros(max(n_lines, 0), cp.uint64)
    per_minor = cp.zeros(max(j1 - j0, 0), cp.uint64)
    if not _is_empty(params, n_lines, j0, j1):
        b0, b1 = _blocks(params, j0, j1)
        n_items = n_lines * (b1 - b0)
        _kernel("jitc_degrees", dtype)(
            _grid_1d(n_items), (_THREADS,),
            (*_gen_args(params), _int32(k0), _int32(n_lines), _int32(j0), _int32(j1), _int32(b0), _int32(b1 - b0),
             np.float64(scale), per_line, per_minor),
        )
    return per_line.view(cp.int64), per_minor.view(cp.int64)


# ---------------------------------------------------------------------------
def _ndtri_smem_bytes(params, dtype):
    """Shared memory a product's CTA spends on its copy of the ndtri table (jitc_ndtri_smem_bytes)."""
    if params.law == LAW_NORMAL and np.dtype(dtype) == np.float32:
        return _NDTRI_SMEM_BYTES
    return 0


def _product_geometry(params, n_lines, j0, j1, columns, itemsize, reserved=0):
    """Tiling of a product: ``(b0, b1, G, n_tiles, lines_per_seg, n_segs, use_smem, smem_bytes)``.

    ``reserved`` bytes of shared memory (the ndtri table's copy) come before the tile.
    """
    b0, b1 = _blocks(params, j0, j1)
    block = 1 << params.block_log2
    # Dynamic shared memory beyond 48 KiB needs a per-kernel opt-in, which
    # these kernels do not make: a larger _TILE_BYTES (a tuning knob) is capped.
    capacity = min(_TILE_BYTES, 48 * 1024 - reserved) // itemsize
    # A tile never holds more than the window, however large the blocks.
    use_smem = min(block, j1 - j0) * columns <= capacity
    G = max(1, min(_MAX_TILE_BLOCKS, capacity // (block * columns))) if use_smem else 1
    n_tiles = -(-(b1 - b0) // G)
    smem_bytes = reserved + (min(G * block, j1 - j0) * columns * itemsize if use_smem else 0)
    lines_per_seg, n_segs = _segments(n_lines, n_tiles)
    return b0, b1, G, n_tiles, lines_per_seg, n_segs, use_smem, smem_bytes


def _segments(n_lines, n_tiles):
    """``(lines_per_seg, n_segs)``: lines of a launch over ``n_tiles`` tiles cut into segments (grid rows)."""
    target = _sm_count(cp.cuda.Device().id) * _CTAS_PER_SM
    lines_per_seg = max(_MIN_LINES_PER_SEGMENT, -(-n_lines * n_tiles // target), -(-n_lines // 65535))
    lines_per_seg = min(lines_per_seg, n_lines)
    # Lines are dealt to threads round-robin: a multiple of the CTA size gives
    # every thread the same number (else some get one more line than the
    # rest, and their warps run that much longer: 25 % for 2-3 lines each).
    lines_per_seg = -(-lines_per_seg // _THREADS) * _THREADS
    n_segs = -(-n_lines // lines_per_seg)
    return lines_per_seg, n_segs


def _plain(params, j0):
    """Whether a product may use the kernels' PLAIN walk: no per-item window or diagonal tests."""
    return j0 % (1 << params.block_log2) == 0 and not params.skip_diagonal


def _scalar_weight(params, matrix_dtype, value_dtype):
    """A Scalar law's weight rounded to the matrix dtype, as a value_dtype scalar."""
    return value_dtype.type(np.dtype(matrix_dtype).type(params.a))


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
    _require_device("vectors", vectors)
    value_dtype = _value_dtype(vectors)
    vectors = cp.ascontiguousarray(vectors, dtype=value_dtype)
    n_lines, n_cols = k1 - k0, vectors.shape[1]
    out = cp.zeros((max(n_lines, 0), n_cols), dtype=value_dtype)
    if _is_empty(params, n_lines, j0, j1) or n_cols == 0:
        return out
    gen = _gen_args(params)
    scalar_w = _scalar_weight(params, dtype, value_dtype)
    for col0 in range(0, n_cols, _MAX_COLUMNS):
        nc = min(_MAX_COLUMNS, n_cols - col0)
        b0, b1, G, n_tiles, _, _, use_smem, smem = _product_geometry(
            params, n_lines, j0, j1, nc, value_dtype.itemsize, _ndtri_smem_bytes(params, dtype)
        )
        kernel = _kernel(
            "jitc_gather", dtype, value_dtype, 1 if nc == 1 else _MAX_COLUMNS, use_smem, params.law != LAW_SCALAR,
            _plain(params, j0),
        )

        def launch(line0, lines, tile0, tiles, target, ld, out_col0, part_stride,
                   kernel=kernel, b0=b0, b1=b1, G=G, col0=col0, nc=nc, smem=smem):
            """Lines ``line0 + [0, lines)`` over tiles ``tile0 + [0, tiles)`` into ``target``."""
            per_seg, n_segs = _segments(lines, tiles)
            kernel(
                (tiles, n_segs), (_THREADS,),
                (*gen, _int32(k0 + line0), _int32(lines), _int32(j0), _int32(j1), _int32(b0 + tile0 * G),
                 _int32(b1), _int32(G), _int32(per_seg), vectors, _int32(n_cols), _int32(col0), _int32(nc),
                 target, _int32(ld), _int32(out_col0), np.int64(part_stride), scalar_w),
                shared_mem=smem,
            )

        if not get_options()["deterministic"]:
            # One atomic add per (line, tile) into the output: 10-15 % faster
            # (H200, N = 1e6), but the order of the adds, hence the last
            # bits, vary from run to run.
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
                _grid_1d(chunk_lines * nc), (_THREADS,),
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
    dtype = np.dtype(dtype)
    _require_device("lines", lines)
    if values is not None:
        _require_device("values", values)
        values = cp.asarray(values, dtype=_value_dtype(values))
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
    dtype, value_dtype = np.dtype(dtype), np.dtype(value_dtype)
    _require_device("rows", rows)
    events = binary and rows.shape[1] == 1
    n_cols = rows.shape[1]
    kernel_dtype = dtype if events else (value_dtype if value_dtype in _CTYPES else np.dtype(np.float64))
    out, counts, n_active = _scatter_output(params, events, max(j1 - j0, 0), n_cols, kernel_dtype)
    if _is_empty(params, rows.shape[0], j0, j1) or n_cols == 0:
        return _scatter_result(params, out, counts, dtype, kernel_dtype).astype(value_dtype, copy=False)
    chunk = _ROWS_PER_CHUNK
    active = cp.empty(min(chunk, rows.shape[0]), dtype=cp.int32)
    for r0 in range(0, rows.shape[0], chunk):
        part = rows[r0 : r0 + chunk]
        if part.dtype.kind != "b" and part.dtype not in _CTYPES:
            part = part != 0 if events else part.astype(kernel_dtype)
        if r0:
            n_active.fill(0)
        _find_events(part, active, n_active)
        values = None
        if not events:
            # The operand itself, read row by row in the kernel: no copy.
            values = part if part.dtype == kernel_dtype else part.astype(kernel_dtype)
        _scatter_into(params, active, n_active, part.shape[0], k0 + r0, values, True, j0, j1, dtype, out, counts)
    return _scatter_result(params, out, counts, dtype, kernel_dtype).astype(value_dtype, copy=False)


def _find_events(part, active, n_active):
    """Indices of the rows of ``part`` with a nonzero entry into ``active``, their count into ``n_active``."""
    kernel, grid, static = _find_events_plan(
        np.dtype(part.dtype), part.shape, part.strides, cp.cuda.Device().id, _THREADS
    )
    kernel(grid, (_THREADS,), (part, *static, active, n_active))


@functools.lru_cache(maxsize=256)
def _find_events_plan(dtype, shape, strides, device_id, threads):
    # Cached: a sparse product is short enough for its Python to show.
    ctype = "unsigned char" if dtype.kind == "b" else _CTYPES[dtype]
    rs, cs = (stride // dtype.itemsize for stride in strides)
    kernel = _kernel(f"jitc_find_events<{ctype}>", np.float64)
    static = (np.int64(rs), np.int64(cs), _int32(shape[0]), _int32(shape[1]))
    return kernel, _grid_1d(shape[0]), static


def _scatter_output(params, events, width, n_cols, value_dtype):
    """Zeroed ``(out, counts, spare)`` of a scatter; binary Scalar events count in uint32.

    ``spare`` is one more zeroed uint32 (for a device-side count), from the
    same allocation: one fill kernel fewer for short event products.
    ``counts`` is unused (and may alias ``spare``) unless ``out is counts``.
    """
    if events and params.law == LAW_SCALAR:
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
            _grid_1d(counts.size), (_THREADS,), (counts, np.int64(counts.size), weight, result)
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
        out.shape[1] if out.ndim == 2 else 1, cp.cuda.Device().id, _geometry(),
    )
    for kernel, grid, smem, gen, head, middle, tail in plan:
        kernel(grid, (_THREADS,), (*gen, rows, n_rows, *head, values, *middle, out, tail[0], counts, *tail[1:]),
               shared_mem=smem)


def _geometry():
    """The launch tunables, as a cache key (tests and sweeps change them)."""
    return (_THREADS, _TILE_BYTES, _MAX_TILE_BLOCKS, _CTAS_PER_SM, _CTAS_PER_SM_EVENTS, _MIN_LINES_PER_SEGMENT,
            _EVENT_LINES_PER_THREAD)


@functools.lru_cache(maxsize=256)
def _scatter_plan(params, max_rows, line0, strides, values_by_row, n_cols, mode, j0, j1, dtype, value_dtype, out_ld,
                  device_id, geometry):
    """Kernels, grids and every argument but the arrays, per column chunk of a scatter.

    Cached: a sparse product is short enough for the Python that builds its
    launch to show (about a third of a 1%-spikes product at N = 1e6).
    """
    gen = _gen_args(params)
    plan = []
    for col0 in range(0, n_cols, _MAX_COLUMNS):
        nc = min(_MAX_COLUMNS, n_cols - col0)
        itemsize = 4 if mode == _MODE_COUNTS else value_dtype.itemsize
        b0, b1, G, n_tiles, _, _, use_smem, smem = _product_geometry(
            params, max_rows, j0, j1, nc, itemsize, _ndtri_smem_bytes(params, dtype)
        )
        # Rows are dealt round-robin over the grid's height, sized for the
        # most rows the list can hold (its length is known on the device only).
        per_sm = _CTAS_PER_SM if mode == _MODE_VALUES else _CTAS_PER_SM_EVENTS
        target = _sm_count(device_id) * per_sm
        n_segs = max(1, min(-(-target // n_tiles), -(-max_rows // _MIN_LINES_PER_SEGMENT), 65535))
        kernel = _kernel(
            "jitc_scatter", dtype, value_dtype, 1 if nc == 1 else _MAX_COLUMNS, use_smem, params.law != LAW_SCALAR,
            _plain(params, j0), mode,
        )
        head = (_int32(max_rows if values_by_row else -1), _int32(line0))
        middle = (_int32(strides[0]), np.int64(strides[1]), _int32(values_by_row), _int32(col0), _int32(nc),
                  _int32(j0), _int32(j1), _int32(b0), _int32(b1), _int32(G))
        tail = (_int32(out_ld), _scalar_weight(params, dtype, value_dtype),
                _int32(1 if mode == _MODE_VALUES else _EVENT_LINES_PER_THREAD))
        plan.append((kernel, (n_tiles, n_segs), smem, gen, head, middle, tail))
    return tuple(plan)


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
        (_sm_count(cp.cuda.Device().id) * 16,), (_THREADS,),
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
        (_sm_count(device_id) * 16,), (_THREADS,),
        (_ndtri_table(device_id), np.float64(_ndtri_bound()), np.uint64(first), np.uint64(count), counters[:1],
         counters[1:]),
    )
    violations, worst_bits = counters.get().tolist()
    return violations, float(np.array(worst_bits, np.uint64).view(np.float64))


# ---------------------------------------------------------------------------
def _cupy_matmul(conn, x, side, binary):
    """``conn @ x`` / ``x @ conn`` for a CuPy ``x``: run on x's device, return CuPy."""
    with x.device:
        return products.matmul(conn, x, side, binary, sys.modules[__name__], cp)


dispatch.matmul_dispatch.register(cp.ndarray, _cupy_matmul)
