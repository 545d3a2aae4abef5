"""CPU backend: spec v1 in Numba, parallel, bit-identical to the reference.

Same interface as :mod:`lazyconn.kernels.reference` (read its docstring):
``dense``, ``coo``, ``scatter``, ``gather``, ``degrees``, all in line space.
``dense`` and ``coo`` are byte-equal to the reference for every window;
products agree to float tolerance (the summation order differs, and sums
are accumulated in the result dtype, float32 or float64).

How the work is laid out (DESIGN §2b):

* An *item* is one (line, block) stream.  Its gap words are computed for a
  run of draws at a time (a multiple of 8, sized from the expected count)
  into a small buffer by a loop that LLVM vectorises, then walked.  Gaps
  come from the exact per-probability gap table (``ln`` only in the few
  buckets with several steps), or from ``ln`` itself for p below ~1e-3.
* Weight uniforms are drawn for the same batch, in a second vector loop.  Uniform
  weights are applied per batch; Normal weights are deferred: the uniforms
  of ~2,000 connections are collected, turned into weights in one
  vectorised pass (AS241's central branch on all lanes, the ~15 % tail
  lanes compressed and done contiguously in a second pass), then applied.
* Jobs with fewer than ``_SERIAL_BELOW`` expected connections run on one
  thread: waking the others can cost milliseconds on a busy machine.
* ``gather`` (``L @ y``) and ``dense`` split the lines between threads: each
  output row belongs to one thread, no races.  Batched gathers go block by
  block inside a chunk of lines, to keep operand and output rows in cache.
* ``scatter`` (``x @ L``, event-driven: only the given lines) splits the
  *blocks* between threads: a block is a column range of the output, so each
  thread owns its columns and there are no private copies to reduce.  When
  there are too few blocks to keep every thread busy, lines are also split
  into a few groups with private accumulators, summed at the end.
* Product bits do not depend on the thread count: a gather sums each output
  row in one fixed order (line by line, block by block) whatever the chunks,
  and the scatter's groups are sized from constants and the job's shape,
  never from the threads, and summed in a fixed order.
* Batched operands (``n_cols > 1``) are applied to each generated
  connection in an inner loop, so every line is generated once.

Every kernel is compiled with ``cache=True`` and ``error_model="numpy"``,
without fastmath (no FMA contraction, no reassociation), and one version
per argument dtype is compiled on first use and cached on disk.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import threading

import numba
import numpy as np

from ..spec import LAW_SCALAR, LAW_UNIFORM
from . import _numba_cache
from ._cpu_random import (
    INLINE_OPTIONS,
    JIT_OPTIONS,
    fill_gaps,
    fill_gap_words,
    central_weights,
    fill_uniforms,
    gap_table,
    round_keys,
    table_gap,
    uniforms_to_weights,
)

__all__ = ["NAME", "dense", "coo", "scatter", "gather", "degrees", "num_threads"]


NAME = "cpu"

PARALLEL_OPTIONS = dict(JIT_OPTIONS, parallel=True)

#: Most draws (4 slots each) computed per batch; also the buffer size unit.
_MAX_DRAWS = 64
#: Draws per batch after the first one, which is sized from the expected count.
_NEXT_DRAWS = 8
#: Below this many expected connections a kernel runs on one thread.  Waking
#: the other threads costs little on an idle machine but up to 8 ms on a
#: loaded one (measured on a shared 2-core machine: 200 spike rows of a
#: 20,000-column matrix, 40,000 connections, took 0.4 ms on one thread and
#: 8 ms on two; 1,000 rows of a 100,000-column matrix, 1e6 connections,
#: took 6.2 ms on one thread and 3.7 ms on two).  2**17 connections take
#: under 1 ms on one core.
_SERIAL_BELOW = 1 << 17
#: Iterations handed to a thread at a time (0 would be a static split).
_CHUNKSIZE = 1
#: Byte budget for private scatter/degree accumulators (kept well below the
#: 64 MiB peak-memory target of issue 3).
_PRIVATE_BYTES = 16 << 20
#: Work launched at a time per thread, in expected connections (plus
#: ``_ITEM_WORK`` per (line, block) item).  Python sees Ctrl-C only between
#: two launches, so a part must take well under a second even on a slow
#: thread (2**26 connections: about 0.15 s of the Scalar gather on one idle
#: core, 0.4 s at 6 ns each).  Parts never change a bit: a part is a range
#: of whole lines, or in a scatter a range of each group's lines (added in
#: order) times a range of blocks (disjoint output columns).  Every part
#: ends with the threads waiting for the slowest one, so parts are no
#: smaller than needed.
_PART_WORK = 1 << 26
#: An item without connections still computes its first batch of draws:
#: about the cost of this many connections.
_ITEM_WORK = 32
#: Scatter work items (group, block) wanted.  With fewer blocks the lines are
#: split into groups with private accumulators.  A constant, never the
#: thread count: the groups decide the order in which an output entry's
#: terms are added, so the bits must not depend on the threads (4 items per
#: thread for up to 8 threads).
_SCATTER_ITEMS = 32
#: A private accumulator adds ``width * n_cols`` entries to zero and to sum:
#: a group gets at least this many expected connections per output column.
_GROUP_CONNECTIONS_PER_COLUMN = 16


def num_threads():
    """Number of threads the Numba kernels run on.

    Returns
    -------
    int
        ``numba.get_num_threads()``: set it with ``NUMBA_NUM_THREADS`` or
        ``numba.set_num_threads``.
    """
    return numba.get_num_threads()


# --------------------------------------------------------------------- driver
def _generator(params, dtype):
    """Kernel-side scalars of a matrix: a plain tuple (kernels never see Spec).

    The last entry is the connection probability for sizing batches only;
    it never influences a bit of the output.
    """
    rk0, rk1 = round_keys(np.uint64(params.key0), np.uint64(params.key1))
    if params.inv_log_q == 0.0:
        prob = 1.0
    elif params.inv_log_q == -math.inf:
        prob = 0.0
    else:
        prob = -math.expm1(1.0 / params.inv_log_q)
    scalar_weight = float(np.dtype(dtype).type(params.a))  # rounded once, as the reference
    table_base, table_threshold = _gap_table(float(params.inv_log_q))
    return (
        rk0,
        rk1,
        np.int64(params.block_log2),
        np.float64(params.inv_log_q),
        np.int64(params.law),
        np.float64(params.a),
        np.float64(params.b),
        bool(params.skip_diagonal),
        np.dtype(dtype) == np.float32,
        np.float64(scalar_weight),
        np.float64(prob),
        table_base,
        table_threshold,
    )


_TABLES = {}
_NO_TABLE = (np.empty(0, dtype=np.int32), np.empty(0, dtype=np.uint32))
#: The table is used when at most this fraction of words needs the exact ln.
_TABLE_MAX_FALLBACK = 1 / 16


def _gap_table(inv_log_q):
    """The gap table of a probability (cached), or empty arrays where it does not pay.

    For small p most buckets hold several gap steps and would fall back to
    ``ln`` anyway (DESIGN §2b: useless below p = 1e-3), so no table is used.
    """
    if inv_log_q == -math.inf or inv_log_q == 0.0:
        return _NO_TABLE
    if inv_log_q not in _TABLES:
        base, threshold = gap_table(inv_log_q)
        useful = np.count_nonzero(base < 0) <= _TABLE_MAX_FALLBACK * base.size
        if len(_TABLES) >= 32:  # a handful of probabilities per program, typically
            _TABLES.pop(next(iter(_TABLES)))
        _TABLES[inv_log_q] = (base, threshold) if useful else _NO_TABLE
    return _TABLES[inv_log_q]


def _launch(kernel, expected_connections, *args):
    """Run a parallel kernel, on one thread when the job is small.

    ``numba.set_num_threads`` is thread-local, so concurrent callers (Dask
    workers) do not affect each other.  Iterations are handed out
    dynamically, one at a time: on a shared machine a thread that is
    descheduled no longer holds back a fixed share of the work.
    """
    threads = numba.get_num_threads()
    serial = expected_connections < _SERIAL_BELOW
    if serial:
        numba.set_num_threads(1)
    try:
        with _LAUNCH_LOCK, numba.parallel_chunksize(_CHUNKSIZE):
            kernel(*args)
    finally:
        if serial:
            numba.set_num_threads(threads)


def _workqueue_only():
    """True when Numba's threading layer will be ``workqueue``.

    That layer aborts the process when two threads launch parallel kernels
    at once (Dask's threaded scheduler does), so launches are serialised
    there; the OpenMP and TBB layers take concurrent launches.
    """
    if numba.config.THREADING_LAYER == "workqueue":
        return True
    for pool in ("tbbpool", "omppool"):
        try:
            importlib.import_module(f"numba.np.ufunc.{pool}")
        except ImportError:
            continue
        return False
    return True


_LAUNCH_LOCK = threading.Lock() if _workqueue_only() else contextlib.nullcontext()


def _expected(params, n_lines, width):
    """Expected connections of ``n_lines`` lines of ``width`` entries (sizing only)."""
    if params.inv_log_q == 0.0:
        return float(n_lines) * width
    return float(n_lines) * width * -math.expm1(1.0 / params.inv_log_q)


def _empty(params, j0, j1):
    return j1 <= j0 or params.inv_log_q == -math.inf


def _block_range(params, j0, j1):
    shift = params.block_log2
    return j0 >> shift, ((j1 - 1) >> shift) + 1


def _accumulator_dtype(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float64)


def _line_parts(params, k0, k1, j0, j1, min_lines=1, n_cols=1):
    """Line ranges ``(p0, p1)`` of lines ``k0:k1`` of about ``_part_work()``
    each (a line is never split; at least ``min_lines`` unless that is over 4
    parts' work), to launch one after another."""
    b0, b1 = _block_range(params, j0, j1)
    per_line = (_expected(params, 1, j1 - j0) + _ITEM_WORK * (b1 - b0)) * _column_cost(n_cols)
    step = max(1, int(_part_work() // max(per_line, 1.0)))
    step = max(step, min(min_lines, 4 * step))
    for p0 in range(k0, k1, step):
        yield p0, min(k1, p0 + step)


def _part_work():
    """Work of one part: ``_PART_WORK`` per thread that can run at once."""
    return _PART_WORK * max(1, min(numba.get_num_threads(), os.cpu_count() or 1))


def _column_cost(n_cols):
    # Each further column adds a multiply-add per connection (64 columns
    # cost about 5 times one).
    return 1.0 + (n_cols - 1) / 16.0


def _line_chunks(n_lines, expected_connections):
    # A few chunks per thread smooth out uneven lines and noisy neighbours.
    # A job that runs on one thread (see _launch) takes one chunk: each
    # chunk allocates its scratch buffers, which in a small product cost
    # more than the product itself.
    if expected_connections < _SERIAL_BELOW:
        return 1
    return max(1, min(n_lines, 8 * numba.get_num_threads()))


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


# --------------------------------------------------------- public interface
_NO_INT = np.empty(0, dtype=np.int64)
_NO_FLOAT = np.empty(0, dtype=np.float64)
_NO_DENSE = np.empty((0, 0), dtype=np.float64)
_NO_MINOR = np.empty((0, 0), dtype=np.int64)


def _lines(params, mode, k0, k1, j0, j1, dtype, dense_out=_NO_DENSE, offsets=_NO_INT, ks=_NO_INT, jout=_NO_INT,
           wout=_NO_FLOAT, per_line=_NO_INT, per_minor=_NO_MINOR, scale=1.0):
    b0, b1 = _block_range(params, j0, j1)
    gen = _generator(params, dtype)
    # numba.get_num_threads() inside a kernel would stop Numba caching it.
    by_thread = per_minor.shape[0] >= numba.get_num_threads()
    # Part by part (Ctrl-C is seen between them); per-line arrays are sliced
    # to the part, those indexed by offsets (ks, jout, wout) are not.
    for p0, p1 in _line_parts(params, k0, k1, j0, j1):
        expected = _expected(params, p1 - p0, j1 - j0)
        n_chunks = _line_chunks(p1 - p0, expected)
        if per_minor.shape[0] and not by_thread:  # one private per-minor row per chunk
            n_chunks = min(n_chunks, per_minor.shape[0])
        a, b = p0 - k0, p1 - k0
        _launch(
            _lines_kernel, expected,
            gen, mode, p0, p1, j0, j1, b0, b1, n_chunks,
            dense_out[a:b], offsets[a:b + 1], ks, jout, wout, per_line[a:b], per_minor, by_thread,
            np.float64(scale),
        )


def dense(params, k0, k1, j0, j1, dtype):
    """Dense block ``L[k0:k1, j0:j1]`` with dtype ``dtype``.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
    k0, k1 : int
        Line range.
    j0, j1 : int
        Minor window.
    dtype : numpy.dtype
        float32 or float64.

    Returns
    -------
    ndarray of shape (k1 - k0, j1 - j0)
        Byte-equal to :func:`lazyconn.kernels.reference.dense`.
    """
    dtype = np.dtype(dtype)
    shape = (max(k1 - k0, 0), max(j1 - j0, 0))
    if shape[0] == 0 or _empty(params, j0, j1):
        return np.zeros(shape, dtype=dtype)
    # Generated in float64 (weights already rounded to dtype): the cast is exact.
    out = np.zeros(shape, dtype=np.float64)
    _lines(params, _MODE_DENSE, k0, k1, j0, j1, dtype, dense_out=out)
    return out if dtype == np.float64 else out.astype(dtype)


def coo(params, k0, k1, j0, j1, dtype):
    """Connections of lines ``k0:k1`` in the minor window ``j0:j1``.

    Returns
    -------
    k, j : ndarray of int64
        Global line and minor indices, sorted by ``(k, j)``.
    w : ndarray of ``dtype``
    """
    dtype = np.dtype(dtype)
    n_lines = max(k1 - k0, 0)
    if n_lines == 0 or _empty(params, j0, j1):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=dtype)
    offsets = np.zeros(n_lines + 1, dtype=np.int64)
    _lines(params, _MODE_COUNT, k0, k1, j0, j1, dtype, offsets=offsets)
    np.cumsum(offsets, out=offsets)
    total = int(offsets[-1])
    ks = np.empty(total, dtype=np.int64)
    js = np.empty(total, dtype=np.int64)
    ws = np.empty(total, dtype=np.float64)
    _lines(params, _MODE_COO, k0, k1, j0, j1, dtype, offsets=offsets, ks=ks, jout=js, wout=ws)
    return ks, js, ws.astype(dtype, copy=False)


def degrees(params, k0, k1, j0, j1, dtype, scale=1.0):
    """Exact counts of nonzero entries of ``L[k0:k1, j0:j1] * scale``.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
    k0, k1, j0, j1 : int
        The window in line space.
    dtype : numpy.dtype
        float32 or float64.
    scale : float, optional
        The entry of weight ``w`` is ``dtype(float64(w) * scale)``: equal to
        :func:`lazyconn.kernels.reference.degrees` with the same scale.

    Returns
    -------
    per_line : ndarray of int64, shape (k1 - k0,)
    per_minor : ndarray of int64, shape (j1 - j0,)
    """
    dtype = np.dtype(dtype)
    n_lines = max(k1 - k0, 0)
    width = max(j1 - j0, 0)
    per_line = np.zeros(n_lines, dtype=np.int64)
    if n_lines == 0 or _empty(params, j0, j1):
        return per_line, np.zeros(width, dtype=np.int64)
    # One private per-minor row per thread, within the memory budget.
    rows = max(1, min(numba.get_num_threads(), _PRIVATE_BYTES // (8 * width)))
    per_minor = np.zeros((rows, width), dtype=np.int64)
    offsets = np.zeros(n_lines + 1, dtype=np.int64)
    _lines(params, _MODE_DEGREES, k0, k1, j0, j1, dtype, offsets=offsets, per_line=per_line, per_minor=per_minor,
           scale=scale)
    return per_line, per_minor.sum(axis=0)


def scatter(params, lines, values, j0, j1, dtype):
    """Scatter lines onto the minor window: ``values.T @ L[lines, j0:j1]``.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
    lines : ndarray of int64
        Line indices (typically only the active ones: event-driven).
    values : ndarray of shape (len(lines), n_cols) or None
        Per-line factors; None means one column of ones (binary events),
        and no multiply is done.
    j0, j1 : int
        Minor window.
    dtype : numpy.dtype
        Matrix dtype: weights are rounded to it before use.

    Returns
    -------
    ndarray of shape (j1 - j0, n_cols)
        Accumulated in ``values.dtype`` (float32 or float64; float64 for
        other dtypes) or, for binary events, in ``dtype``.
    """
    dtype = np.dtype(dtype)
    lines = np.ascontiguousarray(lines, dtype=np.int64)
    binary = values is None
    if binary:
        acc_dtype = dtype
        values = np.empty((0, 1), dtype=acc_dtype)
    else:
        acc_dtype = _accumulator_dtype(values.dtype)
        values = np.ascontiguousarray(values, dtype=acc_dtype)
    n_cols = values.shape[1]
    width = max(j1 - j0, 0)
    if lines.size == 0 or _empty(params, j0, j1):
        return np.zeros((width, n_cols), dtype=acc_dtype)
    b0, b1 = _block_range(params, j0, j1)
    n_blocks = b1 - b0
    expected = _expected(params, lines.size, width)
    n_groups = _scatter_groups(lines.size, n_blocks, width, n_cols * acc_dtype.itemsize, expected)
    out = np.zeros((n_groups, width, n_cols), dtype=acc_dtype)
    gen = _generator(params, dtype)
    # Part by part (Ctrl-C is seen between them): part p takes the p-th
    # slice of every group's lines, so each group adds its lines in order
    # whatever the number of parts; a line too long for one part is also
    # split by blocks (disjoint output columns).
    work = (expected + _ITEM_WORK * n_blocks * lines.size) * _column_cost(n_cols)
    # Batched: each part reloads every item's accumulator (a block's columns
    # times n_cols) into cache, so parts are twice as large.
    n_parts = max(1, int(-(-work // (_part_work() * (2 if n_cols > 1 else 1)))))
    n_block_parts = 1
    longest = -(-lines.size // n_groups)
    if n_parts > longest:
        n_block_parts = min(n_blocks, -(-n_parts // longest))
        n_parts = longest
    for part in range(n_parts):
        for q in range(n_block_parts):
            _launch(
                _scatter_kernel, expected / (n_parts * n_block_parts),
                gen, lines, values, binary, j0, j1, b0 + q * n_blocks // n_block_parts,
                b0 + (q + 1) * n_blocks // n_block_parts, n_groups, part, n_parts, out,
            )
    # Groups are summed in a fixed order (0, 1, ...): same bits on any thread count.
    return out[0] if n_groups == 1 else out.sum(axis=0)


def _scatter_groups(n_lines, n_blocks, width, row_bytes, expected):
    """Line groups of a scatter, each with a private accumulator.

    Enough (group, block) items to keep the threads busy, from constants
    and the job's shape only: the groups fix the summation order of every
    output entry (group by group, lines in order within a group), so a
    function of the thread count would make the bits depend on it.
    """
    if n_blocks >= _SCATTER_ITEMS:
        return 1
    return max(1, min(
        -(-_SCATTER_ITEMS // n_blocks),
        n_lines,
        _PRIVATE_BYTES // max(width * row_bytes, 1),
        int(expected // (_GROUP_CONNECTIONS_PER_COLUMN * max(width, 1))),
    ))


def gather(params, k0, k1, j0, j1, vectors, dtype):
    """Gather along lines: ``L[k0:k1, j0:j1] @ vectors``.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
    k0, k1, j0, j1 : int
        The window in line space.
    vectors : ndarray of shape (j1 - j0, n_cols)
    dtype : numpy.dtype
        Matrix dtype.

    Returns
    -------
    ndarray of shape (k1 - k0, n_cols)
        Accumulated in ``vectors.dtype`` (float32 or float64).
    """
    dtype = np.dtype(dtype)
    acc_dtype = _accumulator_dtype(vectors.dtype)
    vectors = np.ascontiguousarray(vectors, dtype=acc_dtype)
    n_lines = max(k1 - k0, 0)
    out = np.zeros((n_lines, vectors.shape[1]), dtype=acc_dtype)
    if n_lines == 0 or vectors.shape[1] == 0 or _empty(params, j0, j1):
        return out
    b0, b1 = _block_range(params, j0, j1)
    n_cols = vectors.shape[1]
    gen = _generator(params, dtype)
    # A chunk's output rows are revisited once per block: keep them within
    # ~256 KiB of cache (see _gather_kernel).
    rows_per_chunk = max(1, (256 << 10) // (n_cols * acc_dtype.itemsize))
    # Part by part, whole lines each (Ctrl-C is seen between them): every
    # output row is summed in one fixed order whatever the parts and chunks.
    # Batched: parts of at least 8 cache-sized chunks per thread, so that
    # the threads' last chunks of a part end close together.
    min_lines = 8 * numba.get_num_threads() * rows_per_chunk if n_cols > 1 else 1
    for p0, p1 in _line_parts(params, k0, k1, j0, j1, min_lines, n_cols):
        n = p1 - p0
        expected = _expected(params, n, j1 - j0)
        chunks = _line_chunks(n, expected)
        if n_cols > 1:
            chunks = max(chunks, min(n, -(-n // rows_per_chunk)))
        _launch(_gather_kernel, expected, gen, p0, p1, j0, j1, b0, b1, chunks, vectors, out[p0 - k0:p1 - k0])
    return out


_numba_cache.install(globals())  # last: every kernel is defined, none compiled yet
