"""The Numba kernels of the CPU backend: the item walk, fused with each product.

:mod:`lazyconn.kernels.cpu` is the driver (sizes, parts, threads, the
public interface) and its docstring says how the work is laid out; this
module holds what Numba compiles: the walk of one (line, block) item in
vectorised batches, the deferred Normal weights, and the three parallel
kernels (materialising lines, gather, scatter).  Every function is compiled
with ``cache=True`` through :mod:`lazyconn.kernels._numba_cache`.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..spec import LAW_SCALAR, LAW_UNIFORM
from . import _numba_cache
from ._cpu_random import (
    INLINE_OPTIONS,
    JIT_OPTIONS,
    central_weights,
    fill_gap_words,
    fill_gaps,
    fill_uniforms,
    table_gap,
    uniforms_to_weights,
)

PARALLEL_OPTIONS = dict(JIT_OPTIONS, parallel=True)

#: Most draws (4 slots each) computed per batch; also the buffer size unit.
_MAX_DRAWS = 64
#: Draws per batch after the first one, which is sized from the expected count.
_NEXT_DRAWS = 8


# ------------------------------------------------------------ the item walker
@numba.njit(**JIT_OPTIONS)
def _first_draws(prob, end):
    """Draws in an item's first batch: the expected count plus one sigma.

    Batches are multiples of 8 draws: the batch loops are vectorised 8
    lanes wide (AVX-512) and a remainder runs scalar, 3-4x slower per slot.
    """
    expected = prob * end
    draws = np.int64((expected + math.sqrt(expected) + 1.0) * 0.25)
    return min((draws + 8) & ~np.int64(7), _MAX_DRAWS)


@numba.njit(**JIT_OPTIONS)
def _scratch():
    """Per-thread batch buffers: positions, uniforms, weights, tail lanes, words."""
    n = 4 * _MAX_DRAWS
    return (
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.float64),
        np.empty(n, dtype=np.float64),
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.float64),
        np.empty(n, dtype=np.uint64),
    )


@numba.njit(**INLINE_OPTIONS)
def _walk(rk0, rk1, inv_log_q, law, table_base, table_threshold, line, block, t0, n_draws, pos, end, gaps,
          uniforms, words, at):
    """Walk draws ``t0 .. t0 + n_draws`` of item ``(line, block)`` from ``pos``.

    Writes ``gaps[at + s]`` = the block-local position of slot ``4*t0 + s``
    for every slot before the stop (each such slot is a connection), and
    for a weight law ``uniforms[at:at + 4 * n_draws]`` = the weight
    uniforms of the batch.  Gaps come from the gap table where the matrix
    has one (``words`` holds its raw words).

    Arrays come in one by one, never in a tuple, and this is inlined into
    the kernels: taking an array out of a tuple, or a row view of a 2-D
    array, is an atomic reference-count increment and decrement, ~12 ns
    here, which per batch was a third of the Scalar gather's time.

    Returns
    -------
    walked, pos, done
        Connections found, the position reached, whether the block ended.
    """
    n_slots = 4 * n_draws
    if law != LAW_SCALAR:
        # Weight uniforms of the whole batch, here: n_draws is a multiple of
        # 8, so this loop has no scalar remainder (cheaper than computing
        # only the walked slots later).
        fill_uniforms(rk0, rk1, line, block, t0, n_slots, uniforms, at)
    if table_base.size:
        fill_gap_words(rk0, rk1, line, block, t0, n_draws, words)
        for s in range(n_slots):
            pos += table_gap(words[s], inv_log_q, table_base, table_threshold) + 1
            if pos >= end:
                return s, pos, True
            gaps[np.uint64(at + s)] = pos  # unsigned: no wraparound test
        return n_slots, pos, False
    fill_gaps(rk0, rk1, line, block, t0, n_draws, inv_log_q, gaps, at)
    for s in range(n_slots):
        j = np.uint64(at + s)  # unsigned: no wraparound test
        pos += gaps[j] + 1
        if pos >= end:
            return s, pos, True
        gaps[j] = pos
    return n_slots, pos, False


@numba.njit(**INLINE_OPTIONS)
def _walk_batch(rk0, rk1, inv_log_q, law, table_base, table_threshold, line, block, t0, n_draws, pos, end, gaps,
                uniforms, words, positions, dus, n_deferred):
    """:func:`_walk` for the products: Scalar and Uniform batches into the
    scratch ``gaps``/``uniforms``, Normal ones straight into the deferral
    buffers ``positions``/``dus`` at the running count ``n_deferred``."""
    if law == LAW_SCALAR or law == LAW_UNIFORM:
        return _walk(rk0, rk1, inv_log_q, law, table_base, table_threshold, line, block, t0, n_draws, pos, end, gaps,
                     uniforms, words, 0)
    return _walk(rk0, rk1, inv_log_q, law, table_base, table_threshold, line, block, t0, n_draws, pos, end, positions,
                 dus, words, n_deferred)


@numba.njit(**INLINE_OPTIONS)
def _line_block(gen, table_base, table_threshold, line, block, j0, j1, gaps, uniforms, weights, tail_index, tail_r,
                words, js, ws):
    """All connections of item ``(line, block)`` inside ``[j0, j1)``, batch by batch.

    A generator would be the natural shape; Numba's are slow, so this
    returns the whole item instead, into ``js``/``ws`` (grown by doubling).

    Returns
    -------
    count, js, ws
        Global minor indices (sorted) and weights in ``ws``'s dtype.
    """
    rk0, rk1, log2, inv_log_q, law, a, b, skip, round32, scalar_w, prob = gen[:11]
    block_start = block << log2
    end = min(np.int64(1) << log2, j1 - block_start)
    low = j0 - block_start
    diagonal = line - block_start if skip else np.int64(-1)
    n_draws = _first_draws(prob, end)
    pos = np.int64(-1)
    t = np.int64(0)
    count = 0
    while True:
        walked, pos, done = _walk(rk0, rk1, inv_log_q, law, table_base, table_threshold, line, block, t, n_draws,
                                  pos, end, gaps, uniforms, words, 0)
        if law != LAW_SCALAR and walked:
            uniforms_to_weights(walked, law, a, b, round32, uniforms, weights, tail_index, tail_r)
        if count + walked > js.size:
            size = 2 * (count + walked)
            js_new = np.empty(size, dtype=js.dtype)
            ws_new = np.empty(size, dtype=ws.dtype)
            js_new[:count] = js[:count]
            ws_new[:count] = ws[:count]
            js, ws = js_new, ws_new
        for s in range(walked):
            p = gaps[s]
            js[count] = block_start + p
            ws[count] = scalar_w if law == LAW_SCALAR else weights[s]
            count += p >= low and p != diagonal
        if done:
            return count, js, ws
        t += n_draws
        n_draws = _NEXT_DRAWS


@numba.njit(**INLINE_OPTIONS)
def _add_scaled_row(dst, i, w, src, j):
    """``dst[i, :] += w * src[j, :]``, indexed in 2-D: a row view would cost
    a reference-count pair per call (see :func:`_walk`)."""
    for c in range(dst.shape[1]):
        dst[i, c] += w * src[j, c]


#: Normal connections whose weights are deferred, then computed together:
#: enough lanes for the tail pass to be vectorised too (a batch has ~6).
_DEFER = 2048
_DEFER_CAPACITY = _DEFER + 4 * _MAX_DRAWS


@numba.njit(**JIT_OPTIONS)
def _deferred(law):
    """Buffers of deferred Normal connections (empty for the other laws).

    Block-local positions and weight uniforms, which :func:`_walk` writes
    there directly; weights and tail scratch for :func:`uniforms_to_weights`;
    and runs, one per batch: (row, column offset, end of the run's
    connections).  A batch's connections share its row and offset, so they
    are stored once per batch, not per connection.  They take 147 KiB, and
    every chunk or scatter item allocates its own: empty ones spare small
    products the allocation (an mmap and munmap at this size).
    """
    n = _DEFER_CAPACITY if law != LAW_SCALAR and law != LAW_UNIFORM else 0
    return (
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.float64),
        np.empty(n, dtype=np.float64),
        np.empty(n, dtype=np.int64),
        np.empty(n, dtype=np.float64),
        np.empty((n, 3), dtype=np.int64),
    )


@numba.njit(**INLINE_OPTIONS)
def _defer(walked, end, n, low, diagonal, row, column_offset, positions, uniforms, runs, n_runs):
    """Keep the batch that :func:`_walk` wrote at ``positions[n:]`` and
    ``uniforms[n:]``: drop the connections outside the window (compacting),
    and record the batch's run.  Returns the new counts ``(n, n_runs)``."""
    kept = walked
    if low > 0 or (0 <= diagonal < end):
        kept = 0
        for s in range(walked):
            p = positions[n + s]
            positions[n + kept] = p
            uniforms[n + kept] = uniforms[n + s]
            kept += p >= low and p != diagonal
    if kept:
        runs[n_runs, 0] = row
        runs[n_runs, 1] = column_offset
        runs[n_runs, 2] = n + kept
        n_runs += 1
    return n + kept, n_runs


@numba.njit(**JIT_OPTIONS)
def _flush_gather(gen, n_runs, positions, uniforms, weights, tail_index, tail_r, runs, vectors, out, cast):
    """``out[row, c] += w * vectors[position + offset, c]`` for the deferred connections."""
    law, a, b, round32 = gen[4], gen[5], gen[6], gen[8]
    uniforms_to_weights(runs[n_runs - 1, 2], law, a, b, round32, uniforms, weights, tail_index, tail_r)
    n_cols = vectors.shape[1]
    start = 0
    for r in range(n_runs):
        row, offset, stop = runs[r, 0], runs[r, 1], runs[r, 2]
        if n_cols == 1:
            acc = out[row, 0] * 0  # a run's sum in a register
            for s in range(start, stop):
                # Unsigned indices: no wraparound tests (all are >= 0).
                j = np.uint64(s)
                acc += weights[j] * vectors[np.uint64(positions[j] + offset), 0]
            out[row, 0] += acc
        else:
            for s in range(start, stop):
                cast[0] = weights[s]
                _add_scaled_row(out, row, cast[0], vectors, positions[s] + offset)
        start = stop


@numba.njit(**JIT_OPTIONS)
def _flush_scatter(gen, n_runs, positions, uniforms, weights, tail_index, tail_r, runs, values, binary, out, cast):
    """``out[position + offset, c] += w * values[row, c]`` for the deferred connections."""
    law, a, b, round32 = gen[4], gen[5], gen[6], gen[8]
    uniforms_to_weights(runs[n_runs - 1, 2], law, a, b, round32, uniforms, weights, tail_index, tail_r)
    n_cols = out.shape[1]
    start = 0
    for r in range(n_runs):
        row, offset, stop = runs[r, 0], runs[r, 1], runs[r, 2]
        if n_cols == 1:
            # The run's operand entry, read once (1.0 for events: w * 1.0 is w).
            value = 1.0 if binary else np.float64(values[row, 0])
            for s in range(start, stop):
                cast[0] = weights[s]
                out[np.uint64(positions[s] + offset), 0] += cast[0] * value  # unsigned: no wraparound tests
        else:
            for s in range(start, stop):
                cast[0] = weights[s]
                _add_scaled_row(out, positions[s] + offset, cast[0], values, row)
        start = stop


# ------------------------------------------------------------------- kernels
_MODE_DENSE = 0
_MODE_COUNT = 1
_MODE_COO = 2
_MODE_DEGREES = 3


@numba.njit(**PARALLEL_OPTIONS)
def _lines_kernel(gen, mode, k0, k1, j0, j1, b0, b1, n_chunks, dense_out, offsets, ks, jout, wout, per_line, per_minor,
                  by_thread, scale):
    """Every connection of lines ``k0:k1`` in ``[j0, j1)``, lines split by chunks.

    One kernel for the four materialising operations (one compile instead
    of four; they are not the hot path), chosen by ``mode``:

    * dense: ``dense_out[k - k0, j - j0] = w``;
    * count: ``offsets[k - k0 + 1]`` = connections of line ``k``;
    * coo: ``(ks, jout, wout)`` from ``offsets[k - k0]`` on, sorted by ``j``;
    * degrees: weights ``w`` with ``dtype(w * scale)`` nonzero, per line into
      ``per_line``, per minor index into a private row of ``per_minor``: if
      ``by_thread``, the running thread's (integer counts: the order does not
      matter), which stays in cache from chunk to chunk and part to part;
      otherwise the chunk's (then there are at most as many chunks as rows).

    Weights are float64 holding the value already rounded to the matrix
    dtype, so the caller's cast to float32 is exact.
    """
    round32, table_base, table_threshold = gen[8], gen[11], gen[12]
    n_lines = k1 - k0
    for chunk in numba.prange(n_chunks):
        row = np.int64(numba.get_thread_id()) if by_thread else np.int64(chunk)
        gaps, uniforms, weights, tail_index, tail_r, words = _scratch()
        js = np.empty(4 * _MAX_DRAWS, dtype=np.int64)
        ws = np.empty(4 * _MAX_DRAWS, dtype=np.float64)
        for k in range(k0 + chunk * n_lines // n_chunks, k0 + (chunk + 1) * n_lines // n_chunks):
            at = offsets[k - k0] if mode == _MODE_COO else 0  # offsets is empty otherwise
            total = 0
            for block in range(b0, b1):
                count, js, ws = _line_block(gen, table_base, table_threshold, k, block, j0, j1, gaps, uniforms,
                                            weights, tail_index, tail_r, words, js, ws)
                if mode == _MODE_DENSE:
                    for s in range(count):
                        dense_out[k - k0, js[s] - j0] = ws[s]
                elif mode == _MODE_COO:
                    for s in range(count):
                        ks[at + s] = k
                        jout[at + s] = js[s]
                        wout[at + s] = ws[s]
                    at += count
                elif mode == _MODE_DEGREES:
                    for s in range(count):
                        # The scaled entry, rounded once to the matrix dtype.
                        scaled = ws[s] * scale
                        nonzero = np.float32(scaled) != 0 if round32 else scaled != 0.0
                        total += nonzero
                        per_minor[row, js[s] - j0] += nonzero
                else:
                    total += count
            if mode == _MODE_COUNT:
                offsets[k - k0 + 1] = total
            elif mode == _MODE_DEGREES:
                per_line[k - k0] = total


@numba.njit(**PARALLEL_OPTIONS)
def _gather_kernel(gen, k0, k1, j0, j1, b0, b1, n_chunks, vectors, out):
    """``out[k - k0, c] = sum_j L[k, j] * vectors[j - j0, c]``, lines split by chunks.

    The walk is fused with the gather.  For the Scalar law the vector
    entries are summed and multiplied by the weight once per line.  With
    one column a chunk is done line by line (the sum in a register); with
    several, block by block, so that the operand rows read (one block's)
    and the output rows written (the chunk's) stay in cache.
    """
    rk0, rk1, log2, inv_log_q, law, a, b, skip, round32, scalar_w, prob, table_base, table_threshold = gen
    n_lines = k1 - k0
    n_cols = vectors.shape[1]
    n_blocks = b1 - b0
    w0 = out[0, 0]  # zero, in the accumulator dtype
    w0 += scalar_w
    for chunk in numba.prange(n_chunks):
        gaps, uniforms, weights, tail_index, tail_r, words = _scratch()
        cast = np.empty(1, dtype=out.dtype)  # float64 -> accumulator dtype
        positions, dus, dws, d_tail_index, d_tail_r, runs = _deferred(law)
        n_deferred = 0
        n_runs = 0
        first = k0 + chunk * n_lines // n_chunks
        chunk_lines = k0 + (chunk + 1) * n_lines // n_chunks - first
        acc = out[first - k0, 0] * 0  # a float64 zero
        for item in range(chunk_lines * n_blocks):
            if n_cols == 1:
                k = first + item // n_blocks
                block = b0 + item % n_blocks
                if block == b0:
                    acc = out[k - k0, 0] * 0
            else:
                k = first + item % chunk_lines
                block = b0 + item // chunk_lines
            block_start = block << log2
            end = min(np.int64(1) << log2, j1 - block_start)
            low = j0 - block_start
            diagonal = k - block_start if skip else np.int64(-1)
            # vectors row of block-local position p is p + offset
            offset = block_start - j0
            n_draws = _first_draws(prob, end)
            pos = np.int64(-1)
            t = np.int64(0)
            while True:
                walked, pos, done = _walk_batch(rk0, rk1, inv_log_q, law, table_base, table_threshold, k, block, t,
                                                n_draws, pos, end, gaps, uniforms, words, positions, dus, n_deferred)
                if law == LAW_SCALAR:
                    if n_cols == 1:
                        for s in range(walked):
                            p = gaps[s]
                            if p >= low and p != diagonal:
                                acc += vectors[p + offset, 0]
                    else:
                        for s in range(walked):
                            p = gaps[s]
                            if p >= low and p != diagonal:
                                for c in range(n_cols):
                                    out[k - k0, c] += vectors[p + offset, c]
                elif law == LAW_UNIFORM and walked:
                    # Cheap weights: computed per batch, applied at once.
                    central_weights(walked, law, a, b, round32, uniforms, weights)
                    for s in range(walked):
                        p = gaps[s]
                        if p >= low and p != diagonal:
                            if n_cols == 1:
                                acc += weights[s] * vectors[p + offset, 0]
                            else:
                                cast[0] = weights[s]
                                _add_scaled_row(out, k - k0, cast[0], vectors, p + offset)
                elif walked:
                    # Normal: deferred, so that the tail lanes of many
                    # batches are computed together (vectorised).
                    n_deferred, n_runs = _defer(walked, end, n_deferred, low, diagonal, k - k0, offset, positions,
                                                dus, runs, n_runs)
                    if n_deferred >= _DEFER:
                        _flush_gather(gen, n_runs, positions, dus, dws, d_tail_index, d_tail_r, runs, vectors, out,
                                      cast)
                        n_deferred = n_runs = 0
                if done:
                    break
                t += n_draws
                n_draws = _NEXT_DRAWS
            if n_cols == 1 and block == b1 - 1:
                if law == LAW_SCALAR:
                    out[k - k0, 0] = acc * w0
                elif law == LAW_UNIFORM:
                    out[k - k0, 0] = acc
        if law == LAW_SCALAR and n_cols > 1:
            for k in range(first, first + chunk_lines):
                for c in range(n_cols):
                    out[k - k0, c] *= w0
        if n_runs:
            _flush_gather(gen, n_runs, positions, dus, dws, d_tail_index, d_tail_r, runs, vectors, out, cast)


@numba.njit(**PARALLEL_OPTIONS)
def _scatter_kernel(gen, lines, values, binary, j0, j1, b0, b1, n_groups, part, n_parts, out_private):
    """``out_private[g, j - j0, c] += values[i, c] * L[lines[i], j]``.

    Work item ``(g, block)``: slice ``part`` of ``n_parts`` of the lines of
    group ``g`` on one block, i.e. one column range of group ``g``'s
    accumulator.  No two items write the same entry, so there are no races.
    The walk is fused with the scatter.
    """
    rk0, rk1, log2, inv_log_q, law, a, b, skip, round32, scalar_w, prob, table_base, table_threshold = gen
    n_lines = lines.shape[0]
    n_blocks = b1 - b0
    n_cols = out_private.shape[2]
    w0 = np.zeros(1, dtype=out_private.dtype)[0]  # not out_private[0, 0, 0]: earlier parts wrote there
    w0 += scalar_w
    for item in numba.prange(n_groups * n_blocks):
        group = item // n_blocks
        block = b0 + item % n_blocks
        first = group * n_lines // n_groups
        group_lines = (group + 1) * n_lines // n_groups - first
        start = first + part * group_lines // n_parts
        stop = first + (part + 1) * group_lines // n_parts
        if start == stop:
            continue
        out = out_private[group]
        gaps, uniforms, weights, tail_index, tail_r, words = _scratch()
        cast = np.empty(1, dtype=out_private.dtype)  # float64 -> accumulator dtype
        positions, dus, dws, d_tail_index, d_tail_r, runs = _deferred(law)
        n_deferred = 0
        n_runs = 0
        block_start = block << log2
        end = min(np.int64(1) << log2, j1 - block_start)
        low = j0 - block_start
        offset = block_start - j0
        first_draws = _first_draws(prob, end)
        for i in range(start, stop):
            k = lines[i]
            diagonal = k - block_start if skip else np.int64(-1)
            if law == LAW_SCALAR:
                scale = w0 if binary else values[i, 0] * w0
            n_draws = first_draws
            pos = np.int64(-1)
            t = np.int64(0)
            while True:
                walked, pos, done = _walk_batch(rk0, rk1, inv_log_q, law, table_base, table_threshold, k, block, t,
                                                n_draws, pos, end, gaps, uniforms, words, positions, dus, n_deferred)
                if law == LAW_SCALAR and n_cols == 1:
                    for s in range(walked):
                        p = gaps[s]
                        if p >= low and p != diagonal:
                            out[p + offset, 0] += scale
                elif law == LAW_SCALAR:
                    for s in range(walked):
                        p = gaps[s]
                        if p >= low and p != diagonal:
                            _add_scaled_row(out, p + offset, w0, values, i)
                elif law == LAW_UNIFORM and walked:
                    # Cheap weights: computed per batch, applied at once.
                    central_weights(walked, law, a, b, round32, uniforms, weights)
                    # The line's operand entry, read once (1.0 for events: w * 1.0 is w).
                    value = 1.0 if binary else np.float64(values[i, 0])
                    for s in range(walked):
                        p = gaps[s]
                        if p >= low and p != diagonal:
                            if n_cols == 1:
                                out[p + offset, 0] += weights[s] * value
                            else:
                                cast[0] = weights[s]
                                _add_scaled_row(out, p + offset, cast[0], values, i)
                elif walked:
                    # Normal: deferred, so that the tail lanes of many
                    # batches are computed together (vectorised).
                    n_deferred, n_runs = _defer(walked, end, n_deferred, low, diagonal, i, offset, positions, dus,
                                                runs, n_runs)
                    if n_deferred >= _DEFER:
                        _flush_scatter(gen, n_runs, positions, dus, dws, d_tail_index, d_tail_r, runs, values, binary,
                                       out, cast)
                        n_deferred = n_runs = 0
                if done:
                    break
                t += n_draws
                n_draws = _NEXT_DRAWS
        if n_runs:
            _flush_scatter(gen, n_runs, positions, dus, dws, d_tail_index, d_tail_r, runs, values, binary, out, cast)


_numba_cache.install(globals())  # last: every kernel is defined, none compiled yet
