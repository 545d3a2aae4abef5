"""The GPU backend's launch layer: compilation, generator arguments, geometry.

What :mod:`lazyconn.kernels.gpu` (the float kernels) and
:mod:`lazyconn.kernels._gpu_fixed` (the deterministic scatter) share: the
CUDA source and its compilation through CuPy (NVRTC), the dtype table, the
generator's kernel argument (one record, ``jitc_gen``), the weight law's
and the connection rule's kernel instances (from their records,
``Law.cuda_type`` and ``Rule.cuda_type``), the launch
tunables and the grid and tile geometry, and the device-side event finding.  It imports neither of them, so
that they import it without a cycle.

Launch tunables
---------------
The module-level constants below set the launch geometry.  Tests shrink them
(``monkeypatch.setattr(_gpu_launch, "_THREADS", 32)``) to reach multi-tile,
multi-segment and global-memory paths on small matrices, and
``asv_benchmarks/gpu_targets.py --sweep`` varies them: the modules using
them read them here at each call (``_gpu_launch._THREADS``), never from a
copy taken at import.  Past measurements behind the chosen values are in
``docs/performance_history.md``.
"""

from __future__ import annotations

import functools
import math
import time
from pathlib import Path

import numpy as np

import cupy as cp

from .. import laws, rules
from .._rule_fixed import line_length
from . import _ndtri_fast
from ..random import PHILOX_W0, PHILOX_W1

# Threads per CTA (at most 256: the product kernels' __launch_bounds__).
_THREADS = 256
# Shared memory per CTA for a product tile, and at most this many blocks
# per tile.  One block per tile (4096 float32 entries at p = 0.01): a block
# change is then a line change, the cheapest item change of the walk.
_TILE_BYTES = 16 * 1024
_MAX_TILE_BLOCKS = 1
# Aim for this many CTAs per SM when cutting lines into segments (many
# waves: the last, partial wave then costs little).  Binary events, whose
# few active lines are spread over all CTAs, want fewer: every CTA zeroes
# and flushes a whole tile.
_CTAS_PER_SM = 64
_CTAS_PER_SM_EVENTS = 16
# Binary events without a tile (lines longer than any tile: the
# fixed-number rule) are spread over the grid's CTAs by the kernel
# (jitc_scatter_lines); a grid of as many CTAs as fit on the GPU at once
# (three per SM under every scatter's launch bounds) runs them in one wave.
_CTAS_PER_SM_SPREAD = 3
# The scatter's grid is sized on the host for every row of the operand; on
# the device only enough CTAs for this many active lines per thread run (the
# active count is known there only).  Four keeps the 1e6-row, 1% spikes
# product at its best measured grid, and small sparse products small.
_EVENT_LINES_PER_THREAD = 4
# A segment holds at least this many lines (four per thread), so that
# loading, zeroing or flushing a tile is paid back by the connections walked
# in it.
_MIN_LINES_PER_SEGMENT = 1024
# Largest number of batched columns handled per kernel launch (register
# accumulators); wider operands are processed in chunks of this many.
_MAX_COLUMNS = 8
# Operand rows (times columns) whose events are detected per chunk in
# scatter_rows: bounds the active-line list and the gathered values (at most
# 16 MiB each) whatever the number of rows.
_ROWS_PER_CHUNK = 1 << 21

_OPTIONS = ("--std=c++17", "--fmad=false")
_HERE = Path(__file__).resolve().parent
_CTYPES = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}
# Row stride of the ndtri table on the device (JITC_NDTRI_STRIDE).
_NDTRI_STRIDE = 10
# float32 Normal products copy the table's coefficients (six doubles a row)
# into each CTA's shared memory, ahead of the tile: JITC_NDTRI_SMEM_BYTES.
_NDTRI_SMEM_BYTES = _ndtri_fast.N_INTERVALS * (_ndtri_fast.DEGREE + 1) * 8

_compile_seconds = {}


#: The translation unit, in order: the random primitives, the log candidate,
#: the pinned exp, the weight laws, the kernels, then the connection rules'
#: walks (which use the kernels' generator and Bernoulli walk; the kernels
#: name them only as template arguments).
_SOURCES = ("jitc_random.cuh", "jitc_logc.cuh", "jitc_exp.cuh", "jitc_laws.cuh", "jitc_kernels.cu", "jitc_rules.cuh",
            "jitc_events.cu", "jitc_fixed.cu")


def _source():
    """The CUDA translation unit: the headers pasted before the kernels.

    Pasting (rather than ``-I``) makes the text CuPy hashes for its on-disk
    cache cover the headers too, so an edited header is never served stale.
    """
    return "\n".join((_HERE / name).read_text() for name in _SOURCES)


_UTILS = ("jitc_coo_count", "jitc_gap_check", "jitc_ndtri_check", "jitc_gen_layout", "jitc_law32_check",
          "jitc_ln_check")


@functools.lru_cache(maxsize=None)
def _function(expression, device_id):
    """Compile (once per process and device) the module holding one kernel instantiation.

    One small module per kernel keeps the first call's compile short: a
    product compiles only the variant it runs (the header is shared text, so
    each module costs one NVRTC pass over a few hundred lines).
    """
    start = time.perf_counter()
    options = _OPTIONS + (("-DJITC_WITH_UTILS",) if expression.partition("<")[0] in _UTILS else ())
    module = cp.RawModule(code=_source(), options=options, name_expressions=[expression])
    function = module.get_function(expression)
    _compile_seconds.setdefault(expression, time.perf_counter() - start)
    return function


def _kernel(name, matrix_dtype, value_dtype=None, columns=None, smem=True, law=None, plain=False, mode=None,
            rule=None):
    """The compiled kernel ``name`` for the given template arguments.

    ``law`` is the weight law's CUDA struct (:func:`law_type`), for the
    kernels that generate weights; ``rule`` the connection rule's walk
    struct (:func:`rule_type`), for every kernel that walks.
    """
    matrix_dtype = np.dtype(matrix_dtype)
    value_dtype = matrix_dtype if value_dtype is None else np.dtype(value_dtype)
    w, t = _CTYPES[matrix_dtype], _CTYPES[value_dtype]
    if name.startswith(("jitc_find_events", "jitc_scale_counts", "jitc_sum_partials")):
        expression = name
    elif name == "jitc_coo_count":
        expression = f"{name}<{rule}>"
    elif name in ("jitc_dense", "jitc_coo_fill", "jitc_degrees"):
        expression = f"{name}<{w}, {law}, {rule}>"
    elif name in ("jitc_gather", "jitc_scatter"):
        expression = f"{name}<{w}, {t}, {columns}, {_flag(smem)}, {law}, {_flag(plain)}" + (
            "" if mode is None else f", {mode}") + f", {rule}>"
    else:
        expression = name
    # A module is loaded on the device current when it is compiled: key the
    # cache on the device too (CuPy's disk cache makes a second device cheap).
    return _function(expression, cp.cuda.Device().id)


def _flag(value):
    """A C++ bool literal."""
    return "true" if value else "false"


def law_type(params):
    """The CUDA struct of the generator's weight law (``jitc_laws.cuh``), from the law's record.

    Every GPU entry point asks this first: a law registered without a CUDA
    struct (``Law.cuda_type`` None) is refused rather than computed with
    another law's weights.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams

    Returns
    -------
    str
        ``Law.cuda_type``: the kernels' template argument.

    Raises
    ------
    TypeError
        If the law has no CUDA struct; the message names the law and the
        host route.
    """
    law = laws.by_code(params.law)
    if law.cuda_type is None:
        raise TypeError(
            f"the GPU backend has no kernels for {law.name} weights (law code {law.code}: its record has no "
            "cuda_type); use the host: NumPy operands (conn @ numpy_array, numpy_array @ conn) and conn.todense() "
            "without xp= run on the CPU, bit-identical to every other backend; move the result with "
            "cupy.asarray(...) if you need it on the device"
        )
    return law.cuda_type


def rule_type(params):
    """The CUDA struct of the generator's connection rule (``jitc_rules.cuh``), from the rule's record.

    Every GPU entry point asks this (through :func:`_is_empty` or
    :func:`_gen_args`): a rule registered without a walk struct
    (``Rule.cuda_type`` empty) is refused rather than computed with
    another rule's positions.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams

    Returns
    -------
    str
        ``Rule.cuda_type``: the kernels' template argument ``Rule``.

    Raises
    ------
    NotImplementedError
        If the rule has no walk struct; the message names the rule and the
        host route.
    """
    rule = rules.by_code(params.rule)
    if not rule.cuda_type:
        raise NotImplementedError(
            f"the GPU backend has no kernels for the {rule.name} connection rule yet; "
            "set LAZYCONN_BACKEND=reference to compute it with the NumPy reference (host arrays only)"
        )
    return rule.cuda_type


def weight_bound(params):
    """A bound on ``|weight|`` of the generator's law, from its record (``Law.kernel_max_abs_weight``).

    Raises
    ------
    TypeError
        If the law's record gives no such bound.
    """
    law = laws.by_code(params.law)
    if law.kernel_max_abs_weight is None:
        raise TypeError(
            f"the GPU's deterministic scatter needs a bound on {law.name} weights: the law's record has no "
            "kernel_max_abs_weight; add one, or run with set_options(deterministic=False)"
        )
    return law.kernel_max_abs_weight(params.a, params.b)


def constant_law(params):
    """Whether every weight of the generator's law is ``a`` (a Scalar law: no weight stream)."""
    return laws.by_code(params.law).constant


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


# The generator's kernel argument, one record laid out as jitc_gen and
# jitc_law_args of jitc_kernels.cu / jitc_laws.cuh (whose static_asserts pin
# the same offsets and size as the checks below).
_LAW_ARGS_DTYPE = np.dtype(
    [("a", np.float64), ("b", np.float64), ("ndtri_table", np.uint64), ("ndtri_bq_bound", np.float64),
     ("ndtri_bv_slack", np.float64), ("ndtri_a_slack", np.float64)],
    align=True,
)
_GEN_DTYPE = np.dtype(
    [("key0", np.uint32), ("key1", np.uint32), ("block_log2", np.int32), ("fast", np.int32),
     ("inv_log_q", np.float64), ("gap_scale", np.float32), ("gap_tol", np.float32), ("skip_diagonal", np.int32),
     ("law", _LAW_ARGS_DTYPE), ("rk0", np.uint32, (10,)), ("rk1", np.uint32, (10,)), ("num_conn", np.int32),
     ("n_eff", np.int32)],
    align=True,
)
assert _LAW_ARGS_DTYPE.itemsize == 48 and _GEN_DTYPE.itemsize == 176  # as static_assert-ed in jitc_kernels.cu
_GEN_BYTES = np.dtype((np.void, _GEN_DTYPE.itemsize))


def _leaf_offsets(dtype, base=0):
    """Byte offsets of a structured dtype's leaf fields, in declaration order."""
    offsets = []
    for name in dtype.names:
        field, offset = dtype.fields[name][:2]
        offsets += _leaf_offsets(field, base + offset) if field.names else [base + offset]
    return offsets


def gen_layout():
    """``(device, host)``: jitc_gen's size and field offsets as compiled on the device, and as ``_GEN_DTYPE`` has them.

    The two must be equal (the GPU tests check it): the kernels read the
    record CuPy copies from the host's bytes.
    """
    out = cp.zeros(19, dtype=cp.uint64)
    _function("jitc_gen_layout", cp.cuda.Device().id)((1,), (1,), (out,))
    return out.get().tolist(), [_GEN_DTYPE.itemsize] + _leaf_offsets(_GEN_DTYPE)


def _gen_args(params):
    """The generator's kernel argument: one ``_GEN_DTYPE`` record, as a one-element bytes array."""
    rule_type(params)  # a rule without kernels raises here
    return _gen_args_on(params, cp.cuda.Device().id)


@functools.lru_cache(maxsize=256)
def _gen_args_on(params, device_id):
    # Cached: building it is Python work that a sparse event product would
    # otherwise pay after its host sync.  (Never written to after this.)
    law_type(params)  # a law without kernels raises here, on every call (errors are not cached)
    fast, c2, tol = _gap_constants(params.inv_log_q)
    gen = np.zeros(1, dtype=_GEN_DTYPE)
    record = gen[0]
    record["key0"], record["key1"] = params.key0, params.key1
    record["block_log2"] = params.block_log2
    record["fast"] = int(fast)
    record["inv_log_q"] = params.inv_log_q
    record["gap_scale"], record["gap_tol"] = c2, tol
    record["skip_diagonal"] = int(bool(params.skip_diagonal))
    law = record["law"]
    a, b = float(params.a), float(params.b)
    law["a"], law["b"] = a, b
    # The float32 Normal route's table and the constants of its error bound
    # (jitc_normal_weight32): each a product of the law's a or b with the
    # table's largest bound and powers of two, rounded up by 1 + 2**-40.
    law["ndtri_table"] = _ndtri_table(device_id).data.ptr
    law["ndtri_bq_bound"] = abs(b) * _ndtri_bound() * 2.0**-32 * (1.0 + 2.0**-40)
    law["ndtri_bv_slack"] = abs(b) * 2.0**-49 * (1.0 + 2.0**-40)
    law["ndtri_a_slack"] = abs(a) * 2.0**-50 * (1.0 + 2.0**-40)
    record["rk0"], record["rk1"] = _round_keys(params.key0, params.key1)
    if params.rule != rules.BERNOULLI.code:
        # The fixed-number rule's K and N' (its only other rule so far).
        record["num_conn"] = params.num_conn
        record["n_eff"] = line_length(params.minor_size, not params.skip_diagonal)
    # Handed to CuPy as the same bytes without their field names: CuPy reads
    # a by-value argument's address from __array_interface__, which costs
    # microseconds per launch for a structured dtype (its field list is
    # rebuilt every time) and a fraction of that for plain bytes.
    return gen.view(_GEN_BYTES)


def _round_keys(key0, key1):
    """Philox4x32-10 round keys 0..9 (key + r * Weyl increment, mod 2**32) of both key words, as uint32."""
    rounds = range(10)
    return ([(key0 + r * PHILOX_W0) & 0xFFFFFFFF for r in rounds],
            [(key1 + r * PHILOX_W1) & 0xFFFFFFFF for r in rounds])


def _scalar_weight(params, matrix_dtype, value_dtype):
    """A Scalar law's weight rounded to the matrix dtype, as a value_dtype scalar."""
    return value_dtype.type(np.dtype(matrix_dtype).type(params.a))


def _int32(value):
    return np.int32(value)


# ---------------------------------------------------------------------------
def _blocks(params, j0, j1):
    """Blocks ``[b0, b1)`` of a line that meet the minor window ``[j0, j1)``."""
    if j1 <= j0:
        return 0, 0
    return j0 >> params.block_log2, ((j1 - 1) >> params.block_log2) + 1


def _is_empty(params, n_lines, j0, j1):
    rule_type(params)  # every public kernel asks this first
    return n_lines <= 0 or j1 <= j0 or params.inv_log_q == -math.inf


@functools.lru_cache(maxsize=None)
def _sm_count(device_id):
    return cp.cuda.Device(device_id).attributes["MultiProcessorCount"]


def _grid_1d(n_items):
    """Grid of a grid-stride kernel: enough CTAs to fill the GPU, no more."""
    limit = _sm_count(cp.cuda.Device().id) * 32
    return (max(1, min(limit, -(-n_items // _THREADS))),)


def _geometry():
    """The launch tunables, as a cache key (tests and sweeps change them)."""
    return (_THREADS, _TILE_BYTES, _MAX_TILE_BLOCKS, _CTAS_PER_SM, _CTAS_PER_SM_EVENTS, _MIN_LINES_PER_SEGMENT,
            _EVENT_LINES_PER_THREAD)


def _ndtri_smem_bytes(params, dtype):
    """Shared memory a product's CTA spends on its law's share (jitc_law_smem_bytes).

    The law's record says whether its float32 kernels copy the ndtri table
    (``Law.cuda_float32_ndtri_table``); every other product takes none.
    """
    law_type(params)
    if laws.by_code(params.law).cuda_float32_ndtri_table and np.dtype(dtype) == np.float32:
        return _NDTRI_SMEM_BYTES
    return 0


def _product_geometry(params, n_lines, j0, j1, columns, itemsize, reserved=0, tile_bytes=None, smem_limit=48 * 1024):
    """Tiling of a product: ``(b0, b1, G, n_tiles, lines_per_seg, n_segs, use_smem, smem_bytes)``.

    ``reserved`` bytes of shared memory (the ndtri table's copy) come before
    the tile; the tile takes at most ``tile_bytes`` (default ``_TILE_BYTES``)
    and the CTA at most ``smem_limit``.
    """
    b0, b1 = _blocks(params, j0, j1)
    block = 1 << params.block_log2
    # Dynamic shared memory beyond 48 KiB needs a per-kernel opt-in, which
    # only the deterministic scatter makes (_gpu_fixed): a larger _TILE_BYTES
    # (a tuning knob) is capped.
    capacity = min(_TILE_BYTES if tile_bytes is None else tile_bytes, smem_limit - reserved) // itemsize
    # A tile never holds more than the window, however large the blocks.
    use_smem = min(block, j1 - j0) * columns <= capacity
    G = max(1, min(_MAX_TILE_BLOCKS, capacity // (block * columns))) if use_smem else 1
    n_tiles = -(-(b1 - b0) // G)
    smem_bytes = reserved + (min(G * block, j1 - j0) * columns * itemsize if use_smem else 0)
    lines_per_seg, n_segs = _segments(n_lines, n_tiles, use_smem)
    return b0, b1, G, n_tiles, lines_per_seg, n_segs, use_smem, smem_bytes


def _segments(n_lines, n_tiles, use_smem=True):
    """``(lines_per_seg, n_segs)``: lines of a launch over ``n_tiles`` tiles cut into segments (grid rows).

    Without a shared tile to pay back (``use_smem`` False: the fixed-number
    rule's lines, longer than any tile) a segment may be as small as one
    line per thread (as :func:`_scatter_segments`).
    """
    target = _sm_count(cp.cuda.Device().id) * _CTAS_PER_SM
    lines_per_seg = max(_fewest_lines(use_smem), -(-n_lines * n_tiles // target), -(-n_lines // 65535))
    lines_per_seg = min(lines_per_seg, n_lines)
    # Lines are dealt to threads round-robin: a multiple of the CTA size gives
    # every thread the same number (else some get one more line than the
    # rest, and their warps run that much longer: 25 % for 2-3 lines each).
    lines_per_seg = -(-lines_per_seg // _THREADS) * _THREADS
    n_segs = -(-n_lines // lines_per_seg)
    return lines_per_seg, n_segs


def _scatter_segments(max_rows, n_tiles, events, use_smem, device_id):
    """``(n_segs, lines_per_thread)`` of a scatter: its grid's height, and the lines each thread takes.

    With a shared tile, a CTA's lines pay back loading and flushing it, so
    event scatters give each thread ``_EVENT_LINES_PER_THREAD`` lines.
    Without one (a line longer than any tile: the fixed-number rule's one
    item per line) there is nothing to pay back, and a thread takes one
    line: a line's walk is sequential, so lines in flight set the time.
    The kernel then spreads the lines it finds over the grid, which for
    events is one wave of CTAs.
    """
    lines_per_thread = _EVENT_LINES_PER_THREAD if events and use_smem else 1
    per_sm = (_CTAS_PER_SM_EVENTS if use_smem else _CTAS_PER_SM_SPREAD) if events else _CTAS_PER_SM
    target = _sm_count(device_id) * per_sm
    n_segs = max(1, min(-(-target // n_tiles), -(-max_rows // _fewest_lines(use_smem)), 65535))
    return n_segs, lines_per_thread


def _fewest_lines(use_smem):
    """The fewest lines of a segment: enough to pay back a shared tile, else one per thread."""
    return _MIN_LINES_PER_SEGMENT if use_smem else _THREADS


def _plain(params, j0):
    """Whether a product may use the kernels' PLAIN walk: no per-item window or diagonal tests.

    A Bernoulli walk's notion: other rules' walks ignore the flag, so they
    always take False (one instantiation, not two).
    """
    return params.rule == rules.BERNOULLI.code and j0 % (1 << params.block_log2) == 0 and not params.skip_diagonal


# ---------------------------------------------------------------------------
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
