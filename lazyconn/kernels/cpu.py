"""CPU backend: spec v1 in Numba, parallel, bit-identical to the reference.

Same interface as :mod:`lazyconn.kernels.reference` (read its docstring):
``dense``, ``coo``, ``scatter``, ``gather``, ``degrees``, all in line space.
``dense`` and ``coo`` are byte-equal to the reference for every window;
products agree to float tolerance (the summation order differs, and sums
are accumulated in the result dtype, float32 or float64).

How the work is laid out (DESIGN §2b):

* An *item* is one (line, block) stream.  Its gaps are computed for a run
  of draws at a time into a small buffer (a straight-line loop that LLVM
  vectorises: Philox, ``ln``, clamp, convert), then walked; weights likewise.
* ``gather`` (``L @ y``) and ``dense`` split the lines between threads: each
  output row belongs to one thread, no races.
* ``scatter`` (``x @ L``, event-driven: only the given lines) splits the
  *blocks* between threads: a block is a column range of the output, so each
  thread owns its columns and there are no private copies to reduce.  When
  there are too few blocks to keep every thread busy, lines are also split
  into a few groups with private accumulators, summed at the end.
* Batched operands (``n_cols > 1``) are applied to each generated
  connection in an inner loop, so every line is generated once.

Every kernel is compiled with ``cache=True`` and ``error_model="numpy"``,
without fastmath (no FMA contraction, no reassociation), and one version
per argument dtype is compiled on first use and cached on disk.
"""

from __future__ import annotations

import math

import numba
import numpy as np

from ..spec import LAW_SCALAR
from ._cpu_random import JIT_OPTIONS, fill_gaps, fill_weights, round_keys

__all__ = ["NAME", "dense", "coo", "scatter", "gather", "degrees", "num_threads"]

NAME = "cpu"

PARALLEL_OPTIONS = dict(JIT_OPTIONS, parallel=True)

#: Most draws (4 slots each) computed per batch; also the buffer size unit.
_MAX_DRAWS = 64
#: Draws per batch after the first one, which is sized from the expected count.
_NEXT_DRAWS = 4
#: Byte budget for private scatter/degree accumulators (kept well below the
#: 64 MiB peak-memory target of issue 3).
_PRIVATE_BYTES = 16 << 20


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
    )


def _empty(params, j0, j1):
    return j1 <= j0 or params.inv_log_q == -math.inf


def _block_range(params, j0, j1):
    shift = params.block_log2
    return j0 >> shift, ((j1 - 1) >> shift) + 1


def _accumulator_dtype(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float64)


def _line_chunks(n_lines):
    # A few chunks per thread smooth out uneven lines and noisy neighbours.
    return max(1, min(n_lines, 8 * numba.get_num_threads()))


# ------------------------------------------------------------ the item walker
@numba.njit(**JIT_OPTIONS)
def _first_draws(prob, end):
    """Draws in an item's first batch: the expected count plus 2 sigma."""
    expected = prob * end
    draws = np.int64((expected + 2.0 * math.sqrt(expected) + 5.0) * 0.25) + 1
    return min(max(draws, 1), _MAX_DRAWS)


@numba.njit(**JIT_OPTIONS)
def _batch(gen, line, block, j0, j1, t0, n_draws, pos, gaps, uniforms, weights, js, ws):
    """Walk draws ``t0 .. t0 + n_draws`` of item ``(line, block)`` from ``pos``.

    Fills ``js[:count]`` with the global minor indices of the connections in
    ``[j0, j1)`` (diagonal dropped when asked) and ``ws[:count]`` with their
    weights, rounded to the matrix dtype and stored in ``ws``'s dtype.

    Returns
    -------
    count, pos, done
    """
    rk0, rk1, log2, inv_log_q, law, a, b, skip, round32, scalar_w, prob = gen
    block_start = block << log2
    end = min(np.int64(1) << log2, j1 - block_start)
    fill_gaps(rk0, rk1, line, block, t0, n_draws, inv_log_q, gaps)
    n_slots = 4 * n_draws
    walked = n_slots
    done = False
    for s in range(n_slots):
        pos += gaps[s] + 1
        if pos >= end:
            walked = s
            done = True
            break
        gaps[s] = pos
    if law != LAW_SCALAR and walked:
        fill_weights(rk0, rk1, line, block, t0, (walked + 3) >> 2, law, a, b, round32, uniforms, weights)
    count = 0
    for s in range(walked):
        j = block_start + gaps[s]
        keep = j >= j0 and not (skip and j == line)
        js[count] = j
        ws[count] = scalar_w if law == LAW_SCALAR else weights[s]
        count += keep
    return count, pos, done


@numba.njit(**JIT_OPTIONS)
def _buffers(ws_like):
    n = 4 * _MAX_DRAWS
    gaps = np.empty(n, dtype=np.int64)
    uniforms = np.empty(n, dtype=np.float64)
    weights = np.empty(n, dtype=np.float64)
    js = np.empty(n, dtype=np.int64)
    ws = np.empty(n, dtype=ws_like.dtype)
    return gaps, uniforms, weights, js, ws


# ------------------------------------------------------------------- kernels
@numba.njit(**PARALLEL_OPTIONS)
def _dense_kernel(gen, k0, k1, j0, j1, b0, b1, n_chunks, out):
    prob = gen[10]
    log2 = gen[2]
    n_lines = k1 - k0
    for chunk in numba.prange(n_chunks):
        gaps, uniforms, weights, js, ws = _buffers(out)
        for k in range(k0 + chunk * n_lines // n_chunks, k0 + (chunk + 1) * n_lines // n_chunks):
            row = out[k - k0]
            for block in range(b0, b1):
                end = min(np.int64(1) << log2, j1 - (block << log2))
                n_draws = _first_draws(prob, end)
                pos = np.int64(-1)
                t = np.int64(0)
                while True:
                    count, pos, done = _batch(gen, k, block, j0, j1, t, n_draws, pos, gaps, uniforms, weights, js, ws)
                    for s in range(count):
                        row[js[s] - j0] = ws[s]
                    if done:
                        break
                    t += n_draws
                    n_draws = _NEXT_DRAWS


@numba.njit(**PARALLEL_OPTIONS)
def _coo_kernel(gen, k0, k1, j0, j1, b0, b1, n_chunks, offsets, count_only, ks, jout, wout):
    """Connections of lines ``k0:k1``: counts per line, or ``(k, j, w)``.

    With ``count_only`` it writes the count of line ``k`` to
    ``offsets[k - k0 + 1]``; otherwise it writes the connections of line
    ``k`` from ``offsets[k - k0]`` on, already sorted by ``j``.
    """
    prob = gen[10]
    log2 = gen[2]
    n_lines = k1 - k0
    for chunk in numba.prange(n_chunks):
        gaps, uniforms, weights, js, ws = _buffers(wout)
        for k in range(k0 + chunk * n_lines // n_chunks, k0 + (chunk + 1) * n_lines // n_chunks):
            at = offsets[k - k0]
            total = 0
            for block in range(b0, b1):
                end = min(np.int64(1) << log2, j1 - (block << log2))
                n_draws = _first_draws(prob, end)
                pos = np.int64(-1)
                t = np.int64(0)
                while True:
                    count, pos, done = _batch(gen, k, block, j0, j1, t, n_draws, pos, gaps, uniforms, weights, js, ws)
                    if not count_only:
                        for s in range(count):
                            ks[at + s] = k
                            jout[at + s] = js[s]
                            wout[at + s] = ws[s]
                        at += count
                    total += count
                    if done:
                        break
                    t += n_draws
                    n_draws = _NEXT_DRAWS
            if count_only:
                offsets[k - k0 + 1] = total


@numba.njit(**PARALLEL_OPTIONS)
def _degrees_kernel(gen, k0, k1, j0, j1, b0, b1, n_chunks, per_line, per_minor_private):
    """Nonzero entries per line, and per minor index in private rows per chunk."""
    prob = gen[10]
    log2 = gen[2]
    n_lines = k1 - k0
    for chunk in numba.prange(n_chunks):
        gaps, uniforms, weights, js, ws = _buffers(per_line.astype(np.float64)[:0])
        per_minor = per_minor_private[chunk]
        for k in range(k0 + chunk * n_lines // n_chunks, k0 + (chunk + 1) * n_lines // n_chunks):
            total = 0
            for block in range(b0, b1):
                end = min(np.int64(1) << log2, j1 - (block << log2))
                n_draws = _first_draws(prob, end)
                pos = np.int64(-1)
                t = np.int64(0)
                while True:
                    count, pos, done = _batch(gen, k, block, j0, j1, t, n_draws, pos, gaps, uniforms, weights, js, ws)
                    for s in range(count):
                        nonzero = ws[s] != 0.0
                        total += nonzero
                        per_minor[js[s] - j0] += nonzero
                    if done:
                        break
                    t += n_draws
                    n_draws = _NEXT_DRAWS
            per_line[k - k0] = total


@numba.njit(**PARALLEL_OPTIONS)
def _gather_kernel(gen, k0, k1, j0, j1, b0, b1, n_chunks, vectors, out):
    prob = gen[10]
    log2 = gen[2]
    n_lines = k1 - k0
    n_cols = vectors.shape[1]
    for chunk in numba.prange(n_chunks):
        gaps, uniforms, weights, js, ws = _buffers(out)
        for k in range(k0 + chunk * n_lines // n_chunks, k0 + (chunk + 1) * n_lines // n_chunks):
            row = out[k - k0]
            acc = row[0]  # zero, in the accumulator dtype
            for block in range(b0, b1):
                end = min(np.int64(1) << log2, j1 - (block << log2))
                n_draws = _first_draws(prob, end)
                pos = np.int64(-1)
                t = np.int64(0)
                while True:
                    count, pos, done = _batch(gen, k, block, j0, j1, t, n_draws, pos, gaps, uniforms, weights, js, ws)
                    if n_cols == 1:
                        for s in range(count):
                            acc += ws[s] * vectors[js[s] - j0, 0]
                    else:
                        for s in range(count):
                            w = ws[s]
                            vec = vectors[js[s] - j0]
                            for c in range(n_cols):
                                row[c] += w * vec[c]
                    if done:
                        break
                    t += n_draws
                    n_draws = _NEXT_DRAWS
            if n_cols == 1:
                row[0] = acc


@numba.njit(**PARALLEL_OPTIONS)
def _scatter_kernel(gen, lines, values, binary, j0, j1, b0, b1, n_groups, out_private):
    """``out_private[g, j - j0, c] += values[i, c] * L[lines[i], j]``.

    Work item ``(g, block)``: lines of group ``g`` on one block, i.e. one
    column range of group ``g``'s accumulator; no two items write the same
    entry, so there are no races.
    """
    prob = gen[10]
    log2 = gen[2]
    n_lines = lines.shape[0]
    n_blocks = b1 - b0
    n_cols = out_private.shape[2]
    for item in numba.prange(n_groups * n_blocks):
        group = item // n_blocks
        block = b0 + item % n_blocks
        out = out_private[group]
        gaps, uniforms, weights, js, ws = _buffers(out)
        end = min(np.int64(1) << log2, j1 - (block << log2))
        first_draws = _first_draws(prob, end)
        for i in range(group * n_lines // n_groups, (group + 1) * n_lines // n_groups):
            k = lines[i]
            n_draws = first_draws
            pos = np.int64(-1)
            t = np.int64(0)
            while True:
                count, pos, done = _batch(gen, k, block, j0, j1, t, n_draws, pos, gaps, uniforms, weights, js, ws)
                if binary:
                    for s in range(count):
                        out[js[s] - j0, 0] += ws[s]
                elif n_cols == 1:
                    v = values[i, 0]
                    for s in range(count):
                        out[js[s] - j0, 0] += ws[s] * v
                else:
                    vals = values[i]
                    for s in range(count):
                        w = ws[s]
                        dst = out[js[s] - j0]
                        for c in range(n_cols):
                            dst[c] += w * vals[c]
                if done:
                    break
                t += n_draws
                n_draws = _NEXT_DRAWS


# --------------------------------------------------------- public interface
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
    out = np.zeros((k1 - k0, j1 - j0), dtype=dtype)
    if k1 <= k0 or _empty(params, j0, j1):
        return out
    b0, b1 = _block_range(params, j0, j1)
    _dense_kernel(_generator(params, dtype), k0, k1, j0, j1, b0, b1, _line_chunks(k1 - k0), out)
    return out


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
    offsets = np.zeros(n_lines + 1, dtype=np.int64)
    if n_lines == 0 or _empty(params, j0, j1):
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy(), np.empty(0, dtype=dtype)
    b0, b1 = _block_range(params, j0, j1)
    gen = _generator(params, dtype)
    chunks = _line_chunks(n_lines)
    ks = np.empty(0, dtype=np.int64)
    _coo_kernel(gen, k0, k1, j0, j1, b0, b1, chunks, offsets, True, ks, ks, np.empty(0, dtype=dtype))
    np.cumsum(offsets, out=offsets)
    total = int(offsets[-1])
    ks = np.empty(total, dtype=np.int64)
    js = np.empty(total, dtype=np.int64)
    ws = np.empty(total, dtype=dtype)
    _coo_kernel(gen, k0, k1, j0, j1, b0, b1, chunks, offsets, False, ks, js, ws)
    return ks, js, ws


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
    threads = numba.get_num_threads()
    # Enough items to keep every thread busy; private copies only if needed.
    n_groups = 1
    if n_blocks < 4 * threads:
        copy_bytes = width * n_cols * acc_dtype.itemsize
        n_groups = max(1, min(-(-4 * threads // n_blocks), lines.size, _PRIVATE_BYTES // max(copy_bytes, 1)))
    out = np.zeros((n_groups, width, n_cols), dtype=acc_dtype)
    _scatter_kernel(_generator(params, dtype), lines, values, binary, j0, j1, b0, b1, n_groups, out)
    return out[0] if n_groups == 1 else out.sum(axis=0)


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
    _gather_kernel(_generator(params, dtype), k0, k1, j0, j1, b0, b1, _line_chunks(n_lines), vectors, out)
    return out


def degrees(params, k0, k1, j0, j1, dtype):
    """Exact counts of nonzero entries of ``L[k0:k1, j0:j1]``.

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
    b0, b1 = _block_range(params, j0, j1)
    chunks = max(1, min(_line_chunks(n_lines), _PRIVATE_BYTES // (8 * width)))
    per_minor = np.zeros((chunks, width), dtype=np.int64)
    _degrees_kernel(_generator(params, dtype), k0, k1, j0, j1, b0, b1, chunks, per_line, per_minor)
    return per_line, per_minor.sum(axis=0)
