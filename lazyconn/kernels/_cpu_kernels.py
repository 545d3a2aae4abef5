"""The Numba kernels of the CPU backend: the item walk, fused with each product.

:mod:`lazyconn.kernels.cpu` is the driver (sizes, parts, threads, the
public interface) and its docstring says how the work is laid out; this
module holds what Numba compiles: the walk of one (line, block) item in
vectorised batches, the deferred weights, and the three parallel kernels
(materialising lines, gather, scatter).

The kernels are specialised when compiled, per (rule, law): :func:`kernels_for`
builds them as closures over the rule's walk, the law's weight function and
the law's weight strategy (three constants, of which exactly one is true),
so no law or rule is tested at run time.  Numba prunes the branches of the
other strategies before typing, so each law compiles only its own path; the
dtypes and layouts of the operands specialise them further, as Numba does
for every signature.  What a (rule, law) pair compiles in is resolved in
:mod:`._cpu_specialise`.  Every function is compiled with ``cache=True``
through :mod:`lazyconn.kernels._numba_cache`, whose index key names the
(rule, law) of a closure.
"""

from __future__ import annotations

import functools
import math
from typing import NamedTuple

import numba
import numpy as np

from . import _numba_cache
from ._cpu_fixed_lanes import LANES, by_lanes, lanes_batch, lanes_gather_sum, lanes_scatter_add, lanes_scratch
from ._cpu_random import (
    INLINE_OPTIONS,
    JIT_OPTIONS,
    fill_gap_words,
    fill_gaps,
    fill_uniforms,
    table_gap,
)
from ._cpu_specialise import law_weights, resolve, serial, specialisation_key

__all__ = ["Generator", "Kernels", "kernels_for", "bernoulli_walk"]

PARALLEL_OPTIONS = dict(JIT_OPTIONS, parallel=True)

#: Most draws (4 slots each) computed per batch; also the buffer size unit.
_MAX_DRAWS = 64
#: Draws per batch after the first one, which is sized from the expected count.
_NEXT_DRAWS = 8


class Generator(NamedTuple):
    """Kernel-side values of one matrix, read by name (kernels never see a Spec).

    Attributes
    ----------
    rk0, rk1 : ndarray of uint32
        Philox round keys.
    block_log2 : int64
    inv_log_q : float64
    a, b : float64
        Law parameters.
    skip_diagonal : bool
    round32 : bool
        Whether weights are rounded to float32 (the matrix dtype).
    scalar_weight : float64
        ``a`` rounded once to the matrix dtype (constant laws).
    prob : float64
        For sizing batches only; never influences a bit.
    table_base, table_threshold : ndarray
        The gap table, or empty arrays.
    num_conn, n_eff : int64
        The fixed-number rule's entries per line and candidates per line
        (``N`` or ``N - 1`` without the diagonal); 0 for other rules.
    """

    rk0: np.ndarray
    rk1: np.ndarray
    block_log2: np.int64
    inv_log_q: np.float64
    a: np.float64
    b: np.float64
    skip_diagonal: bool
    round32: bool
    scalar_weight: np.float64
    prob: np.float64
    table_base: np.ndarray
    table_threshold: np.ndarray
    num_conn: np.int64
    n_eff: np.int64


class Kernels(NamedTuple):
    """The kernels of one (rule, law), from :func:`kernels_for`.

    ``serial_gather`` and ``serial_scatter`` are the same functions compiled
    without ``parallel``: a tiny job calls them without going through the
    threading layer (setting the thread count and starting a parallel
    region cost more than a tiny product's walk; their walk is slower per
    connection, so larger jobs do not).  Same loops in the same order
    without fastmath: the same bits.
    """

    lines: object
    gather: object
    scatter: object
    serial_gather: object
    serial_scatter: object


# ------------------------------------------------------------ the item walker
@numba.njit(**JIT_OPTIONS)
def _first_draws(prob, end):
    """Draws in an item's first batch: the expected count plus one sigma.

    Batches are multiples of 8 draws: the batch loops are vectorised 8
    lanes wide (AVX-512) and a remainder would run scalar.
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
def bernoulli_walk(rk0, rk1, inv_log_q, table_base, table_threshold, num_conn, n_eff, skip, line, block, t0,
                   n_draws, pos, aux, end, gaps, words, at):
    """The Bernoulli rule's walk: draws ``t0 .. t0 + n_draws`` of item ``(line, block)`` from ``pos``.

    Writes ``gaps[at + s]`` = the block-local position of slot ``4*t0 + s``
    for every slot before the stop (each such slot is a connection).  Gaps
    come from the gap table where the matrix has one (``words`` holds its
    raw words).

    Arrays come in one by one, never in a tuple, and this is inlined into
    the kernels: taking an array out of a tuple, or a row view of a 2-D
    array, is an atomic reference-count increment and decrement, a
    sizeable part of a batch's time.

    ``num_conn``, ``n_eff``, ``skip`` and ``aux`` are other
    rules' (the walk interface is shared: see :mod:`lazyconn.rules`); the
    diagonal is dropped by the kernels.

    Returns
    -------
    walked, pos, aux, done
        Connections found, the position reached, ``aux`` unchanged, whether the block ended.
    """
    n_slots = 4 * n_draws
    if table_base.size:
        fill_gap_words(rk0, rk1, line, block, t0, n_draws, words)
        for s in range(n_slots):
            pos += table_gap(words[s], inv_log_q, table_base, table_threshold) + 1
            if pos >= end:
                return s, pos, aux, True
            gaps[np.uint64(at + s)] = pos  # unsigned: no wraparound test
        return n_slots, pos, aux, False
    fill_gaps(rk0, rk1, line, block, t0, n_draws, inv_log_q, gaps, at)
    for s in range(n_slots):
        j = np.uint64(at + s)  # unsigned: no wraparound test
        pos += gaps[j] + 1
        if pos >= end:
            return s, pos, aux, True
        gaps[j] = pos
    return n_slots, pos, aux, False


@numba.njit(**JIT_OPTIONS)
def _grown(js, ws, count, size):
    """``js``, ``ws`` reallocated to ``size`` entries, keeping the first ``count``.

    A function of its own: written inline in :func:`kernels_for`'s
    ``line_block``, itself inlined into the parallel lines kernel, the
    reallocation fails in Numba 0.68 from the second one on (a line of the
    fixed-number rule grows them several times).  Module level, not a
    closure: closures of one qualname compiled in different processes can
    share a symbol name, and cached code would call the wrong one.
    """
    js_new = np.empty(size, dtype=js.dtype)
    ws_new = np.empty(size, dtype=ws.dtype)
    js_new[:count] = js[:count]
    ws_new[:count] = ws[:count]
    return js_new, ws_new


@numba.njit(**INLINE_OPTIONS)
def _add_scaled_row(dst, i, w, src, j):
    """``dst[i, :] += w * src[j, :]``, indexed in 2-D: a row view would cost
    a reference-count pair per call (see :func:`bernoulli_walk`)."""
    for c in range(dst.shape[1]):
        dst[i, c] += w * src[j, c]


#: Deferred connections whose weights are then computed together: enough
#: lanes for the tail pass of a two-pass law to be vectorised too (a batch
#: has ~6).
_DEFER = 2048
_DEFER_CAPACITY = _DEFER + 4 * _MAX_DRAWS


@numba.njit(**JIT_OPTIONS)
def _deferred(n):
    """Buffers of ``n`` deferred connections (``n`` is 0 for laws that do not defer).

    Block-local positions and weight uniforms, which the walk writes there
    directly; weights and tail scratch for the law's batch function; and
    runs, one per batch: (row, column offset, end of the run's
    connections).  A batch's connections share its row and offset, so they
    are stored once per batch, not per connection.  They take 147 KiB, and
    every chunk or scatter item allocates its own: empty ones spare small
    products the allocation (an mmap and munmap at this size).
    """
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
    """Keep the batch that the walk wrote at ``positions[n:]`` and
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


_MODE_DENSE = 0
_MODE_COUNT = 1
_MODE_COO = 2
_MODE_DEGREES = 3


@functools.lru_cache(maxsize=None)
def kernels_for(rule, law):
    """The parallel kernels of a (rule, law), compiled for it alone (memoised).

    Parameters
    ----------
    rule : lazyconn.rules.Rule
    law : lazyconn.laws.Law

    Returns
    -------
    Kernels
        ``lines`` (dense, count, coo, degrees), ``gather`` and ``scatter``:
        Numba dispatchers, compiled per operand dtype and layout on first
        use, and cached on disk under a key that names the rule and law.
    """
    key = specialisation_key(rule, law)
    walk = resolve(rule.numba_walk)
    # A rule that can walk LANES lines at once (the fixed-number rule): the
    # gather and the scatter walk them so and replay each line's batches from the result
    # (same batches, same bits); a constant, so pruned for the others.
    has_lanes = bool(rule.numba_lanes)
    lanes_walk = resolve(rule.numba_lanes) if has_lanes else walk
    weights_of = law_weights(law, key)
    # The law's weight strategy (exactly one is true): constants of the
    # closures, so Numba prunes the other two before typing.
    weights_constant = law.constant
    weights_deferred = law.deferred
    weights_per_batch = not (weights_constant or weights_deferred)
    defer_capacity = _DEFER_CAPACITY if weights_deferred else 0

    @numba.njit(**INLINE_OPTIONS)
    def walk_batch(rk0, rk1, inv_log_q, table_base, table_threshold, num_conn, n_eff, skip, line, block, t0, n_draws,
                   pos, aux, end, gaps, uniforms, words, positions, dus, n_deferred):
        """The walk of a batch, with its weight uniforms: into the scratch
        ``gaps``/``uniforms``, or for deferred weights straight into the
        deferral buffers ``positions``/``dus`` at the running count
        ``n_deferred``.  The uniforms of the whole batch are drawn: it is a
        multiple of 8 draws, so that loop has no scalar remainder (cheaper
        than drawing only the walked slots later)."""
        if weights_deferred:
            fill_uniforms(rk0, rk1, line, block, t0, 4 * n_draws, dus, n_deferred)
            return walk(rk0, rk1, inv_log_q, table_base, table_threshold, num_conn, n_eff, skip, line, block, t0,
                        n_draws, pos, aux, end, positions, words, n_deferred)
        if weights_per_batch:
            fill_uniforms(rk0, rk1, line, block, t0, 4 * n_draws, uniforms, 0)
        return walk(rk0, rk1, inv_log_q, table_base, table_threshold, num_conn, n_eff, skip, line, block, t0, n_draws,
                    pos, aux, end, gaps, words, 0)

    @numba.njit(**INLINE_OPTIONS)
    def line_block(gen, table_base, table_threshold, line, block, j0, j1, gaps, uniforms, weights, tail_index,
                   tail_r, words, js, ws, lanes_on, entries, counts, lane):
        """All connections of item ``(line, block)`` inside ``[j0, j1)``, batch by batch.

        A generator would be the natural shape; Numba's are slow, so this
        returns the whole item instead, into ``js``/``ws`` (grown by doubling).
        With ``lanes_on`` the line's batches are replayed from lane ``lane``
        of the last ``lanes_walk`` (same batches, same weights).

        Returns
        -------
        count, js, ws
            Global minor indices (sorted) and weights in ``ws``'s dtype.
        """
        rk0, rk1, log2, inv_log_q = gen.rk0, gen.rk1, gen.block_log2, gen.inv_log_q
        num_conn, n_eff = gen.num_conn, gen.n_eff
        a, b, skip, round32, scalar_w = gen.a, gen.b, gen.skip_diagonal, gen.round32, gen.scalar_weight
        block_start = block << log2
        end = min(np.int64(1) << log2, j1 - block_start)
        low = j0 - block_start
        diagonal = line - block_start if skip else np.int64(-1)
        n_draws = _first_draws(gen.prob, end)
        pos = np.int64(-1)
        aux = np.int64(0)
        t = np.int64(0)
        count = 0
        while True:
            if has_lanes and lanes_on:
                walked, pos, aux, done = lanes_batch(rk0, rk1, line, block, t, n_draws, pos, aux, entries, counts,
                                                     lane, False, not weights_constant, gaps, uniforms, gaps,
                                                     uniforms, 0)
            else:
                if not weights_constant:
                    fill_uniforms(rk0, rk1, line, block, t, 4 * n_draws, uniforms, 0)
                walked, pos, aux, done = walk(rk0, rk1, inv_log_q, table_base, table_threshold, num_conn, n_eff,
                                              skip, line, block, t, n_draws, pos, aux, end, gaps, words, 0)
            if walked and not weights_constant:
                weights_of(walked, a, b, round32, uniforms, weights, tail_index, tail_r)
            if count + walked > js.size:
                js, ws = _grown(js, ws, count, 2 * (count + walked))
            for s in range(walked):
                p = gaps[s]
                js[count] = block_start + p
                ws[count] = scalar_w if weights_constant else weights[s]
                count += p >= low and p != diagonal
            if done:
                return count, js, ws
            t += n_draws
            n_draws = _NEXT_DRAWS

    @numba.njit(**JIT_OPTIONS)
    def flush_gather(gen, n_runs, positions, uniforms, weights, tail_index, tail_r, runs, vectors, out, cast):
        """``out[row, c] += w * vectors[position + offset, c]`` for the deferred connections."""
        weights_of(runs[n_runs - 1, 2], gen.a, gen.b, gen.round32, uniforms, weights, tail_index, tail_r)
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
    def flush_scatter(gen, n_runs, positions, uniforms, weights, tail_index, tail_r, runs, values, binary, out,
                      cast):
        """``out[position + offset, c] += w * values[row, c]`` for the deferred connections."""
        weights_of(runs[n_runs - 1, 2], gen.a, gen.b, gen.round32, uniforms, weights, tail_index, tail_r)
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

    @numba.njit(**PARALLEL_OPTIONS)
    def lines_kernel(gen, mode, k0, k1, j0, j1, b0, b1, n_chunks, dense_out, offsets, ks, jout, wout, per_line,
                     per_minor, by_thread, scale):
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
        round32, table_base, table_threshold = gen.round32, gen.table_base, gen.table_threshold
        n_lines = k1 - k0
        for chunk in numba.prange(n_chunks):
            row = np.int64(numba.get_thread_id()) if by_thread else np.int64(chunk)
            gaps, uniforms, weights, tail_index, tail_r, words = _scratch()
            js = np.empty(4 * _MAX_DRAWS, dtype=np.int64)
            ws = np.empty(4 * _MAX_DRAWS, dtype=np.float64)
            first = k0 + chunk * n_lines // n_chunks
            last = k0 + (chunk + 1) * n_lines // n_chunks
            if has_lanes:  # as in the products
                lanes_on = by_lanes(gen.num_conn, gen.n_eff, b1 - b0)
                entries, counts, st, tw, accepted, tails, lines_g = lanes_scratch(gen.num_conn if lanes_on else 0)
            else:  # line_block's arguments, unread
                lanes_on = False
                entries, counts = np.empty((0, 0), dtype=np.int32), np.empty(0, dtype=np.int64)
            for k in range(first, last):
                at = offsets[k - k0] if mode == _MODE_COO else 0  # offsets is empty otherwise
                total = 0
                lane = (k - first) % LANES
                if has_lanes:
                    if lanes_on and lane == 0:
                        n_group = min(LANES, last - k)
                        for g in range(n_group):
                            lines_g[g] = k + g
                        end = min(np.int64(1) << gen.block_log2, j1 - (b0 << gen.block_log2))
                        lanes_walk(gen.rk0, gen.rk1, gen.num_conn, gen.n_eff, gen.skip_diagonal, n_group, end,
                                   entries, counts, st, tw, accepted, tails, lines_g)
                for block in range(b0, b1):
                    count, js, ws = line_block(gen, table_base, table_threshold, k, block, j0, j1, gaps, uniforms,
                                               weights, tail_index, tail_r, words, js, ws, lanes_on, entries, counts,
                                               lane)
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
    def gather_kernel(gen, k0, k1, j0, j1, b0, b1, n_chunks, vectors, out):
        """``out[k - k0, c] = sum_j L[k, j] * vectors[j - j0, c]``, lines split by chunks.

        The walk is fused with the gather.  For a constant law the vector
        entries are summed and multiplied by the weight once per line.  With
        one column a chunk is done line by line (the sum in a register); with
        several, block by block, so that the operand rows read (one block's)
        and the output rows written (the chunk's) stay in cache.
        """
        rk0, rk1, log2, inv_log_q = gen.rk0, gen.rk1, gen.block_log2, gen.inv_log_q
        num_conn, n_eff = gen.num_conn, gen.n_eff
        a, b, skip, round32, scalar_w = gen.a, gen.b, gen.skip_diagonal, gen.round32, gen.scalar_weight
        prob, table_base, table_threshold = gen.prob, gen.table_base, gen.table_threshold
        n_lines = k1 - k0
        n_cols = vectors.shape[1]
        n_blocks = b1 - b0
        w0 = out[0, 0]  # zero, in the accumulator dtype
        w0 += scalar_w
        for chunk in numba.prange(n_chunks):
            gaps, uniforms, weights, tail_index, tail_r, words = _scratch()
            cast = np.empty(1, dtype=out.dtype)  # float64 -> accumulator dtype
            positions, dus, dws, d_tail_index, d_tail_r, runs = _deferred(defer_capacity)
            n_deferred = 0
            n_runs = 0
            first = k0 + chunk * n_lines // n_chunks
            chunk_lines = k0 + (chunk + 1) * n_lines // n_chunks - first
            acc = out[first - k0, 0] * 0  # a float64 zero
            if has_lanes:
                lanes_on = by_lanes(num_conn, n_eff, n_blocks)
                entries, counts, st, tw, accepted, tails, lines_g = lanes_scratch(num_conn if lanes_on else 0)
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
                aux = np.int64(0)
                t = np.int64(0)
                if has_lanes:
                    lane = (k - first) % LANES
                    if lanes_on and lane == 0:
                        n_group = min(LANES, first + chunk_lines - k)
                        for g in range(n_group):
                            lines_g[g] = k + g
                        lanes_walk(rk0, rk1, num_conn, n_eff, skip, n_group, end, entries, counts, st, tw,
                                   accepted, tails, lines_g)
                while True:
                    if has_lanes and lanes_on:
                        if weights_constant and n_cols == 1:  # the line at once (same terms, same order)
                            acc = lanes_gather_sum(entries, counts, lane, low, diagonal, offset, vectors, acc)
                            walked, done = 0, True
                        else:
                            walked, pos, aux, done = lanes_batch(rk0, rk1, k, block, t, n_draws, pos, aux, entries,
                                                                 counts, lane, weights_deferred, weights_per_batch,
                                                                 gaps, uniforms, positions, dus, n_deferred)
                    else:
                        walked, pos, aux, done = walk_batch(rk0, rk1, inv_log_q, table_base, table_threshold,
                                                            num_conn, n_eff, skip, k, block, t, n_draws, pos, aux,
                                                            end, gaps, uniforms, words, positions, dus, n_deferred)
                    if weights_constant:
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
                    if weights_per_batch and walked:
                        # Cheap weights: computed per batch, applied at once.
                        weights_of(walked, a, b, round32, uniforms, weights, tail_index, tail_r)
                        for s in range(walked):
                            p = gaps[s]
                            if p >= low and p != diagonal:
                                if n_cols == 1:
                                    acc += weights[s] * vectors[p + offset, 0]
                                else:
                                    cast[0] = weights[s]
                                    _add_scaled_row(out, k - k0, cast[0], vectors, p + offset)
                    if weights_deferred and walked:
                        # Deferred, so that the weights of many batches are
                        # computed together (vectorised).
                        n_deferred, n_runs = _defer(walked, end, n_deferred, low, diagonal, k - k0, offset,
                                                    positions, dus, runs, n_runs)
                        if n_deferred >= _DEFER:
                            flush_gather(gen, n_runs, positions, dus, dws, d_tail_index, d_tail_r, runs, vectors,
                                         out, cast)
                            n_deferred = n_runs = 0
                    if done:
                        break
                    t += n_draws
                    n_draws = _NEXT_DRAWS
                if n_cols == 1 and block == b1 - 1:
                    if weights_constant:
                        out[k - k0, 0] = acc * w0
                    if weights_per_batch:
                        out[k - k0, 0] = acc
            if weights_constant:
                if n_cols > 1:
                    for k in range(first, first + chunk_lines):
                        for c in range(n_cols):
                            out[k - k0, c] *= w0
            if weights_deferred:
                if n_runs:
                    flush_gather(gen, n_runs, positions, dus, dws, d_tail_index, d_tail_r, runs, vectors, out,
                                 cast)

    @numba.njit(**PARALLEL_OPTIONS)
    def scatter_kernel(gen, lines, values, binary, j0, j1, b0, b1, n_groups, part, n_parts, out_private):
        """``out_private[g, j - j0, c] += values[i, c] * L[lines[i], j]``.

        Work item ``(g, block)``: slice ``part`` of ``n_parts`` of the lines of
        group ``g`` on one block, i.e. one column range of group ``g``'s
        accumulator.  No two items write the same entry, so there are no races.
        The walk is fused with the scatter.
        """
        rk0, rk1, log2, inv_log_q = gen.rk0, gen.rk1, gen.block_log2, gen.inv_log_q
        num_conn, n_eff = gen.num_conn, gen.n_eff
        a, b, skip, round32, scalar_w = gen.a, gen.b, gen.skip_diagonal, gen.round32, gen.scalar_weight
        prob, table_base, table_threshold = gen.prob, gen.table_base, gen.table_threshold
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
            positions, dus, dws, d_tail_index, d_tail_r, runs = _deferred(defer_capacity)
            n_deferred = 0
            n_runs = 0
            if has_lanes:  # as in the gather
                lanes_on = by_lanes(num_conn, n_eff, n_blocks)
                entries, counts, st, tw, accepted, tails, lines_g = lanes_scratch(num_conn if lanes_on else 0)
            block_start = block << log2
            end = min(np.int64(1) << log2, j1 - block_start)
            low = j0 - block_start
            offset = block_start - j0
            first_draws = _first_draws(prob, end)
            for i in range(start, stop):
                k = lines[i]
                diagonal = k - block_start if skip else np.int64(-1)
                if weights_constant:
                    scale = w0 if binary else values[i, 0] * w0
                n_draws = first_draws
                pos = np.int64(-1)
                aux = np.int64(0)
                t = np.int64(0)
                if has_lanes:
                    lane = (i - start) % LANES
                    if lanes_on and lane == 0:
                        n_group = min(LANES, stop - i)
                        for g in range(n_group):
                            lines_g[g] = lines[i + g]
                        lanes_walk(rk0, rk1, num_conn, n_eff, skip, n_group, end, entries, counts, st, tw,
                                   accepted, tails, lines_g)
                while True:
                    if has_lanes and lanes_on:
                        if weights_constant and n_cols == 1:  # the line at once (same terms, same order)
                            lanes_scatter_add(entries, counts, lane, low, diagonal, offset, out, scale)
                            walked, done = 0, True
                        else:
                            walked, pos, aux, done = lanes_batch(rk0, rk1, k, block, t, n_draws, pos, aux, entries,
                                                                 counts, lane, weights_deferred, weights_per_batch,
                                                                 gaps, uniforms, positions, dus, n_deferred)
                    else:
                        walked, pos, aux, done = walk_batch(rk0, rk1, inv_log_q, table_base, table_threshold,
                                                            num_conn, n_eff, skip, k, block, t, n_draws, pos, aux,
                                                            end, gaps, uniforms, words, positions, dus, n_deferred)
                    if weights_constant:
                        if n_cols == 1:
                            for s in range(walked):
                                p = gaps[s]
                                if p >= low and p != diagonal:
                                    out[p + offset, 0] += scale
                        else:
                            for s in range(walked):
                                p = gaps[s]
                                if p >= low and p != diagonal:
                                    _add_scaled_row(out, p + offset, w0, values, i)
                    if weights_per_batch and walked:
                        # Cheap weights: computed per batch, applied at once.
                        weights_of(walked, a, b, round32, uniforms, weights, tail_index, tail_r)
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
                    if weights_deferred and walked:
                        # Deferred, so that the weights of many batches are
                        # computed together (vectorised).
                        n_deferred, n_runs = _defer(walked, end, n_deferred, low, diagonal, i, offset, positions,
                                                    dus, runs, n_runs)
                        if n_deferred >= _DEFER:
                            flush_scatter(gen, n_runs, positions, dus, dws, d_tail_index, d_tail_r, runs, values,
                                          binary, out, cast)
                            n_deferred = n_runs = 0
                    if done:
                        break
                    t += n_draws
                    n_draws = _NEXT_DRAWS
            if weights_deferred:
                if n_runs:
                    flush_scatter(gen, n_runs, positions, dus, dws, d_tail_index, d_tail_r, runs, values, binary,
                                  out, cast)

    _numba_cache.install_closures(
        (walk_batch, line_block, flush_gather, flush_scatter, lines_kernel, gather_kernel, scatter_kernel),
        key,
    )
    serial_gather, serial_scatter = serial(gather_kernel), serial(scatter_kernel)
    # Their own key: they share the parallel kernels' qualname and bytecode.
    _numba_cache.install_closures((serial_gather, serial_scatter), key + " serial")
    return Kernels(lines=lines_kernel, gather=gather_kernel, scatter=scatter_kernel, serial_gather=serial_gather,
                   serial_scatter=serial_scatter)


_numba_cache.install(globals())  # last: every kernel is defined, none compiled yet
