"""Deterministic GPU scatter: fixed-point (integer) accumulation.

With ``set_options(deterministic=True)`` the GPU backend's scatters (dense
``x @ M`` of an R matrix, ``M @ y`` of a C matrix, binary events with a
Normal or Uniform law, and batched columns of each) run here instead of
adding float contributions with float atomics, whose order varies from run
to run.  Every contribution ``w * x`` of an operand column becomes an integer
multiple of that column's resolution, and integers are added with integer
atomics: integer addition is associative, so the bits depend neither on
scheduling nor on the launch geometry, the tiles or the row chunks.  Binary
events with a Scalar law count connections in integers already (exact) and
keep their route.

The resolution of column ``c`` is ``2**-S_c`` with ``S_c = min(62 - L, 51) -
E_c - ew``: every finite ``|x|`` of the column is below ``2**E_c`` (found on
the device before the walk), every ``|w|`` at most ``2**ew`` (the law's
bound), and an output receives at most ``2**L`` terms (one per operand row).
So no partial sum can exceed ``2**62`` in magnitude: the int64 words never
overflow, whatever the values (the bound is formed from exponents and never
overflows either).  Each term is rounded to the resolution (float32
products: one int64 word; float64: a second word keeps 31 more bits).
That error is absolute: an entry far below the column's largest would lose
its relative accuracy.  So the pre-pass also finds the smallest exponent of
each column, and entries ``B`` or more exponents below the largest are
left out of that sum and added into finer levels (words of their own at
``2**-(S_c + k B)``, by the same kernel launched again over only the lines
holding such entries): every term is then resolved to half an ulp of
``2**ew * |x|``
(:mod:`._fixed_plan` has the arithmetic; a column whose span needs more
than :data:`._fixed_plan.MAX_LEVELS` levels raises a ValueError before any
work).  Usual operands have one level: the same words, kernels and bits as
without levels.  NaN and infinite entries of the operand set per-output
flags that the final kernel resolves as float addition would (see
jitc_fixed.cu).
The kernels are in ``jitc_fixed.cu``.
"""

from __future__ import annotations

import copy
import functools
import math
import warnings

import numpy as np

import cupy as cp

from .. import _float
from . import _gpu_launch as _launch
from ._fixed_plan import NO_EXPONENT as _NO_EXPONENT
from ._fixed_plan import level_bits, plan_levels, term_bits

# Shared memory for a CTA's tile of int64 words: one 4096-entry block
# (p = 0.01) of one float32 column.  Beyond 48 KiB a CTA (tile and ndtri
# table) needs the kernel's opt-in, asked for below.
_TILE_BYTES = 32 * 1024
_SMEM_LIMIT = 64 * 1024
# int64 words per output entry of a float32 product (float64: always 2).
# One word resolves 62 - L bits below the column's largest possible term;
# a second adds 31 bits for a second shared-memory atomic per connection.
_FLOAT32_WORDS = 1
# CTAs per SM the fixed-point scatter's registers must allow (its
# __launch_bounds__), by (weighted, columns).  Unlike the float scatter's
# Scalar walk, the unweighted one-column walk keeps 64 registers too: at 40
# (six CTAs) its per-line scaling spills and it runs slower
# (asv_benchmarks/gpu_determinism.py times both).
_MIN_CTAS = {(True, 1): 4, (True, 8): 4, (False, 1): 4, (False, 8): 4}


@functools.lru_cache(maxsize=None)
def _level_of():
    """The elementwise kernel of each operand entry's level.

    Broadcast against the column exponents ``emax``: 0 for zeros, non-finite
    entries and those within ``bits`` exponents of their column's largest
    (jitc_fixed.cu), else ``(emax - e) // bits``, at most ``top``.  Made at
    the first split, not at import (no device is touched then).
    """
    return cp.ElementwiseKernel(
        "T x, int32 emax, int32 bits, int32 top", "int8 level",
        "const double v = lazyconn_widen(x);"
        "level = (isfinite(v) && v != 0.0) ? (signed char)min((emax - (ilogb(v) + 1)) / bits, top) : (signed char)0;",
        "lazyconn_fixed_level",
        # CuPy compiles with -ftz=true, which would flush float32 subnormals
        # in the conversion; this one keeps them, as jitc_fixed_exponents does.
        preamble=(
            "__device__ double lazyconn_widen(float x)"
            '{ double r; asm("cvt.f64.f32 %0, %1;" : "=d"(r) : "f"(x)); return r; }'
            "__device__ double lazyconn_widen(double x) { return x; }"
        ),
    )


def weight_exponent(params):
    """``ew``: every weight of the law, rounded to the matrix dtype, is at most ``2**ew`` in magnitude.

    Clamped to ``[-900, 1025]`` (a larger bound stays a bound), so that the
    kernels' scaled operand entries stay within the double range.
    """
    bound = _launch.weight_bound(params)  # from the law's record
    if not math.isfinite(bound):
        return 1025
    if bound == 0.0:
        return 0
    # bound < 2**e; rounding a weight to float32 may reach 2**e, still a bound.
    return min(max(math.frexp(bound)[1], -900), 1025)


class _Sum:
    """The integer words, flags and column exponents of one deterministic scatter."""

    def __init__(self, params, width, n_cols, value_dtype, n_rows, events):
        self.value_dtype = np.dtype(value_dtype)
        self.words = 2 if self.value_dtype == np.float64 else _FLOAT32_WORDS
        self.acc = cp.zeros((width, n_cols, self.words), dtype=cp.uint64)
        # Binary events are finite: no flags (one word, never read or written).
        self.flags = cp.zeros(1 if events else (width, n_cols), dtype=cp.uint32)
        self.shape = (width, n_cols)
        # Binary events: every entry is 1 = 0.5 * 2**1.
        self.emax = cp.full(n_cols, 1 if events else _NO_EXPONENT, dtype=cp.int32)
        self.emin = cp.full(n_cols, 1 if events else -_NO_EXPONENT, dtype=cp.int32)
        self.n_rows = n_rows
        self.shift0 = term_bits(n_rows) - weight_exponent(params)
        self.events = events
        # One level until plan(): the finer levels' words (never touched then).
        self.levels, self.fine = 1, self.acc
        self.bits = level_bits(n_rows, self.value_dtype, self.words)

    def exponents(self, part):
        """Max (min) the column exponents of ``part`` (rows, n_cols) of float32/float64 into ``emax`` (``emin``)."""
        if self.events or part.shape[0] == 0:
            return
        ctype = _launch._CTYPES[np.dtype(part.dtype)]
        kernel = _launch._function(f"jitc_fixed_exponents<{ctype}>", cp.cuda.Device().id)
        rs, cs = (stride // part.itemsize for stride in part.strides)
        grid = (_launch._grid_1d(part.shape[0])[0], min(part.shape[1], 65535))
        kernel(grid, (_launch._THREADS,), (part, np.int64(rs), np.int64(cs), np.int32(part.shape[0]),
                                        np.int32(part.shape[1]), self.emax, self.emin))

    def plan(self):
        """Levels from the exponents (one small copy to the host); a ValueError for a span beyond them.

        Called once every exponent is in, before the first scatter launch.
        """
        if self.events:
            return
        self.levels = plan_levels(cp.asnumpy(self.emax), cp.asnumpy(self.emin), self.n_rows, self.value_dtype,
                                  self.words)
        if self.levels > 1:
            self.fine = cp.zeros((self.levels - 1, *self.shape, self.words), dtype=cp.uint64)

    def split(self, part):
        """``part`` without its finer levels' entries, and ``(level, lines, entries)`` of each finer level.

        ``lines`` indexes the rows of ``part`` holding an entry of the level,
        ``entries`` (one row per line) keeps that level's entries only.
        Only with more than one level; ``lines`` costs a copy to the host.
        """
        level = _level_of()(part, self.emax, np.int32(self.bits), np.int32(self.levels - 1))
        zero = part.dtype.type(0)
        finer = []
        for k in range(1, self.levels):
            lines = cp.flatnonzero((level == k).any(axis=1))
            if lines.size:
                finer.append((k, lines, cp.where(level[lines] == k, part[lines], zero)))
        return cp.where(level == 0, part, zero), finer

    def level(self, k):
        """This sum seen as level ``k``: the level's words, and the exponents less ``k * bits``."""
        view = copy.copy(self)
        view.acc = self.fine[k - 1]
        view.emax = self.emax - np.int32(k * self.bits)
        return view

    def add_finer(self, params, finer, rows, line0, j0, j1, dtype):
        """Scatter each finer level's entries (from :meth:`split`) into its words."""
        for k, lines, entries in finer:
            _scatter_into(params, rows[lines] if rows is not None else lines.astype(cp.int32),
                          cp.full(1, lines.size, dtype=cp.uint32), int(lines.size), line0, entries, False, j0, j1,
                          dtype, self.level(k))

    def finish(self):
        """The sums as an array of ``value_dtype``, shape ``(width, n_cols)``."""
        width, n_cols = self.shape
        out = cp.empty((width, n_cols), dtype=self.value_dtype)
        n = width * n_cols
        if n:
            ctype = _launch._CTYPES[self.value_dtype]
            kernel = _launch._function(f"jitc_fixed_finish<{ctype}, {self.words}>", cp.cuda.Device().id)
            kernel(_launch._grid_1d(n), (_launch._THREADS,),
                   (self.acc, self.flags, np.int32(not self.events), self.emax, np.int32(self.shift0), np.int64(n),
                    np.int32(n_cols), out, self.fine, np.int64(n * self.words), np.int32(self.levels),
                    np.int32(self.bits)))
        return out


def scatter(params, lines, values, j0, j1, dtype):
    """:func:`lazyconn.kernels.gpu.scatter`, deterministic (same interface)."""
    dtype = np.dtype(dtype)
    events = values is None
    value_dtype = dtype if events else np.dtype(values.dtype)
    n_cols = 1 if events else values.shape[1]
    n_lines = int(lines.size)
    total = _Sum(params, max(j1 - j0, 0), n_cols, value_dtype, n_lines, events)
    if n_lines and not _launch._is_empty(params, n_lines, j0, j1) and n_cols:
        rows = cp.asarray(lines, dtype=cp.int32)
        if not events:
            values = cp.ascontiguousarray(values)
            total.exponents(values)
            total.plan()
            if total.levels > 1:
                values, finer = total.split(values)
                total.add_finer(params, finer, rows, 0, j0, j1, dtype)
        n_rows = cp.full(1, n_lines, dtype=cp.uint32)
        _scatter_into(params, rows, n_rows, n_lines, 0, values, False, j0, j1, dtype, total)
    return total.finish()


def scatter_rows(params, k0, rows, binary, j0, j1, dtype, value_dtype):
    """:func:`lazyconn.kernels.gpu.scatter_rows`, deterministic (same interface).

    Two passes over the operand's row chunks: the column exponents first
    (they fix the resolution and the levels for every chunk), then the
    scatter.
    """
    dtype, value_dtype = np.dtype(dtype), np.dtype(value_dtype)
    events = binary and rows.shape[1] == 1
    n_cols = rows.shape[1]
    kernel_dtype = dtype if events else (value_dtype if value_dtype in _launch._CTYPES else np.dtype(np.float64))
    total = _Sum(params, max(j1 - j0, 0), n_cols, kernel_dtype, rows.shape[0], events)
    if _launch._is_empty(params, rows.shape[0], j0, j1) or n_cols == 0:
        return _float.astype(total.finish(), value_dtype)
    chunk = _launch._ROWS_PER_CHUNK

    def prepared(part):
        if events:
            return part if part.dtype.kind == "b" or part.dtype in _launch._CTYPES else part != 0
        return part if part.dtype == kernel_dtype else _float.astype(part, kernel_dtype)

    if not events:
        for r0 in range(0, rows.shape[0], chunk):
            total.exponents(prepared(rows[r0 : r0 + chunk]))
        total.plan()
    active = cp.empty(min(chunk, rows.shape[0]), dtype=cp.int32)
    n_active = cp.zeros(1, dtype=cp.uint32)
    for r0 in range(0, rows.shape[0], chunk):
        part = prepared(rows[r0 : r0 + chunk])
        if total.levels > 1:
            part, finer = total.split(part)
            total.add_finer(params, finer, None, k0 + r0, j0, j1, dtype)
        if r0:
            n_active.fill(0)
        _launch._find_events(part, active, n_active)
        _scatter_into(params, active, n_active, part.shape[0], k0 + r0, None if events else part, True, j0, j1,
                      dtype, total)
    return _float.astype(total.finish(), value_dtype)


@functools.lru_cache(maxsize=None)
def _allow_shared(kernel, nbytes, device_id):
    """Opt ``kernel`` in to ``nbytes`` of dynamic shared memory on the current device; False if refused."""
    try:
        with warnings.catch_warnings():
            # Newer CuPy moved the setter to RawKernel.function (same effect).
            warnings.simplefilter("ignore", DeprecationWarning)
            kernel.max_dynamic_shared_size_bytes = nbytes
    except Exception:  # an old driver or CuPy: the caller takes a smaller tile
        return False
    return True


def _scatter_into(params, rows, n_rows, max_rows, line0, values, values_by_row, j0, j1, dtype, total):
    """Add the scatter of lines ``line0 + rows[:n_rows]`` into ``total`` (see gpu._scatter_into)."""
    events = values is None
    if events:
        value_dtype, n_cols, strides, values = dtype, 1, (0, 0), total.emax  # values never read
    else:
        value_dtype, n_cols = np.dtype(values.dtype), values.shape[1]
        if abs(values.strides[0]) >= 2**31 * values.itemsize:  # the kernel takes an int32 row stride
            values = cp.ascontiguousarray(values)
        strides = tuple(stride // values.itemsize for stride in values.strides)
    device_id = cp.cuda.Device().id
    gen = _launch._gen_args(params)
    law = _launch.law_type(params)
    weighted = not _launch.constant_law(params)
    reserved = _launch._ndtri_smem_bytes(params, dtype)
    for col0 in range(0, n_cols, _launch._MAX_COLUMNS):
        nc = min(_launch._MAX_COLUMNS, n_cols - col0)
        columns = 1 if nc == 1 else _launch._MAX_COLUMNS
        for limit in (_SMEM_LIMIT, 48 * 1024):
            b0, b1, G, n_tiles, _, _, use_smem, smem = _launch._product_geometry(
                params, max_rows, j0, j1, nc, 8 * total.words, reserved, tile_bytes=_TILE_BYTES, smem_limit=limit
            )
            plain = _launch._plain(params, j0)
            flags = ", ".join("true" if f else "false" for f in (plain, events))
            expression = (f"jitc_scatter_fixed<{_launch._CTYPES[dtype]}, {_launch._CTYPES[value_dtype]}, {columns}, "
                          f"{'true' if use_smem else 'false'}, {law}, {flags}, {total.words}, "
                          f"{_MIN_CTAS[weighted, columns]}, {_launch.rule_type(params)}>")
            kernel = _launch._function(expression, device_id)
            if smem <= 48 * 1024 or _allow_shared(kernel, smem, device_id):
                break
        n_segs, lines_per_thread = _launch._scatter_segments(max_rows, n_tiles, events, use_smem, device_id)
        kernel(
            (n_tiles, n_segs), (_launch._THREADS,),
            (gen, rows, n_rows, np.int32(max_rows if values_by_row else -1), np.int32(line0), values,
             np.int32(strides[0]), np.int64(strides[1]), np.int32(values_by_row), np.int32(col0), np.int32(nc),
             np.int32(j0), np.int32(j1), np.int32(b0), np.int32(b1), np.int32(G), total.acc,
             np.int32(total.shape[1]), total.flags, total.emax, np.int32(total.shift0),
             _launch._scalar_weight(params, dtype, value_dtype),
             np.int32(lines_per_thread)),
            shared_mem=smem,
        )
