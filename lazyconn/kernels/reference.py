"""Reference backend: spec v1 in plain NumPy.  Clear, slow, and the oracle.

Every function works in *line space*: a line is a row of an 'R' matrix or a
column of a 'C' matrix (the major axis), and ``j`` indexes along it (the
minor axis).  The duck array maps rows and columns onto lines; kernels know
nothing of orientation, windows of the user's matrix, or the duck array.

Work is done in chunks of lines so that temporaries stay around
``_CHUNK_SLOTS`` connection slots, whatever the matrix size.

Kernel interface (shared by every backend)
------------------------------------------
``dense(params, k0, k1, j0, j1, dtype)``
    The block of lines ``k0:k1``, minor window ``j0:j1``.
``coo(params, k0, k1, j0, j1, dtype)``
    Its connections ``(k, j, w)``, sorted by ``(k, j)``.
``scatter(params, lines, values, j0, j1, dtype)``
    ``out[j - j0, c] = sum_i values[i, c] * L[lines[i], j]``; ``values=None``
    means all ones (binary events).  Returns shape ``(j1 - j0, n_cols)``.
``gather(params, k0, k1, j0, j1, vectors, dtype)``
    ``out[k - k0, c] = sum_j L[k, j] * vectors[j - j0, c]``.
``degrees(params, k0, k1, j0, j1, dtype, scale=1.0)``
    Exact int64 counts of nonzero entries per line and per minor index of
    the block times ``scale``: an entry of weight ``w`` (rounded to
    ``dtype``) counts when ``dtype(float64(w) * scale)`` is nonzero.
"""

from __future__ import annotations

import numpy as np

from .. import laws, rules
from ..random import philox4x32, words_to_uniform

__all__ = ["dense", "coo", "scatter", "gather", "degrees", "NAME"]

NAME = "reference"

DOMAIN_WEIGHTS = 1

# About 2**20 slots per chunk keeps every temporary in the tens of MiB.
_CHUNK_SLOTS = 1 << 20


def _block_range(params, j0, j1):
    """Blocks of a line that intersect the minor window ``[j0, j1)``."""
    if j1 <= j0:
        return 0, 0
    shift = params.block_log2
    return j0 >> shift, ((j1 - 1) >> shift) + 1


def _weights(params, lines, blocks, slots, count, dtype):
    """Weights of connections in the given slots, rounded once to ``dtype``."""
    law = laws.by_code(params.law)
    if law.constant:
        return np.full(count, params.a, dtype=np.float64).astype(dtype)
    words = philox4x32(
        (slots >> 2, blocks, lines, DOMAIN_WEIGHTS), (params.key0, params.key1)
    )
    word = np.choose((slots & 3).astype(np.intp), words)
    u = words_to_uniform(word)
    w = np.asarray(law.reference(u, params.a, params.b), dtype=np.float64)
    return w.astype(dtype)


def _connections(params, lines, j0, j1, dtype):
    """Yield ``(line_index, j, w)`` chunk by chunk for lines ``lines``.

    ``line_index`` indexes into ``lines``; ``j`` is the global minor index in
    ``[j0, j1)``; ``w`` has dtype ``dtype``.
    """
    lines = np.asarray(lines, dtype=np.int64)
    b0, b1 = _block_range(params, j0, j1)
    n_blocks = b1 - b0
    if lines.size == 0 or n_blocks == 0 or params.inv_log_q == -np.inf:
        return
    walk = rules.by_code(params.rule).reference_walk
    block_len = 1 << params.block_log2
    slots_per_item = rules.initial_slots(params, int(min(block_len, j1)))
    lines_per_chunk = max(1, _CHUNK_SLOTS // (slots_per_item * n_blocks))
    blocks = np.arange(b0, b1, dtype=np.int64)
    block_start = blocks * block_len
    # A block is walked from its start (the walk is sequential) but only up
    # to the window's end; entries before j0 are dropped after the walk.
    ends = np.minimum(block_len, j1 - block_start)
    for start in range(0, lines.size, lines_per_chunk):
        chunk = lines[start:start + lines_per_chunk]
        item_line = np.repeat(np.arange(chunk.size), n_blocks)
        item_block = np.tile(np.arange(n_blocks), chunk.size)
        item, pos, slot = walk(
            params,
            chunk[item_line].astype(np.uint64),
            blocks[item_block].astype(np.uint64),
            ends[item_block],
        )
        j = block_start[item_block[item]] + pos
        keep = j >= j0
        if params.skip_diagonal:
            keep &= j != chunk[item_line[item]]
        item, j, slot = item[keep], j[keep], slot[keep]
        w = _weights(
            params,
            chunk[item_line[item]].astype(np.uint64),
            blocks[item_block[item]].astype(np.uint64),
            slot.astype(np.uint64),
            item.size,
            dtype,
        )
        yield start + item_line[item], j, w


def coo(params, k0, k1, j0, j1, dtype):
    """Connections of lines ``k0:k1`` in the minor window ``j0:j1``.

    Returns
    -------
    k, j : ndarray of int64
        Global line and minor indices, sorted by ``(k, j)``.
    w : ndarray of ``dtype``
    """
    parts = list(_connections(params, np.arange(k0, k1), j0, j1, dtype))
    if not parts:
        empty = np.empty(0, dtype=np.int64)
        return empty, empty.copy(), np.empty(0, dtype=dtype)
    k = np.concatenate([p[0] for p in parts]) + k0
    j = np.concatenate([p[1] for p in parts])
    w = np.concatenate([p[2] for p in parts])
    order = np.lexsort((j, k))
    return k[order], j[order], w[order]


def dense(params, k0, k1, j0, j1, dtype):
    """Dense block ``L[k0:k1, j0:j1]`` with dtype ``dtype``."""
    out = np.zeros((k1 - k0, j1 - j0), dtype=dtype)
    for line_index, j, w in _connections(params, np.arange(k0, k1), j0, j1, dtype):
        out[line_index, j - j0] = w
    return out


def scatter(params, lines, values, j0, j1, dtype):
    """Scatter lines onto the minor window: ``values.T @ L[lines, j0:j1]``.

    Parameters
    ----------
    lines : ndarray of int64
        Line indices (typically only the active ones: event-driven).
    values : ndarray of shape (len(lines), n_cols) or None
        Per-line factors; None means one column of ones (binary events).
    dtype : numpy.dtype
        Matrix dtype: weights are rounded to it before use.

    Returns
    -------
    ndarray of float64, shape (j1 - j0, n_cols)
    """
    n_cols = 1 if values is None else values.shape[1]
    out = np.zeros((j1 - j0, n_cols), dtype=np.float64)
    for line_index, j, w in _connections(params, lines, j0, j1, dtype):
        w = w.astype(np.float64)
        for c in range(n_cols):
            # A non-finite operand entry times a zero weight is NaN: sparse
            # semantics (the connection exists), so no warning.
            with np.errstate(invalid="ignore"):
                weights = w if values is None else w * values[line_index, c]
            out[:, c] += np.bincount(j - j0, weights=weights, minlength=j1 - j0)
    return out


def gather(params, k0, k1, j0, j1, vectors, dtype):
    """Gather along lines: ``L[k0:k1, j0:j1] @ vectors``.

    Returns
    -------
    ndarray of float64, shape (k1 - k0, n_cols)
    """
    n_cols = vectors.shape[1]
    out = np.zeros((k1 - k0, n_cols), dtype=np.float64)
    for line_index, j, w in _connections(params, np.arange(k0, k1), j0, j1, dtype):
        w = w.astype(np.float64)
        for c in range(n_cols):
            with np.errstate(invalid="ignore"):  # inf * 0 weight is NaN: see scatter
                out[:, c] += np.bincount(line_index, weights=w * vectors[j - j0, c], minlength=k1 - k0)
    return out


def degrees(params, k0, k1, j0, j1, dtype, scale=1.0):
    """Exact counts of nonzero entries of ``L[k0:k1, j0:j1] * scale``.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
    k0, k1, j0, j1 : int
        The window in line space.
    dtype : numpy.dtype
        Matrix dtype: weights are rounded to it.
    scale : float, optional
        The entry of weight ``w`` is ``dtype(float64(w) * scale)``, as in
        ``(block.astype(float64) * scale).astype(dtype)``: a scale can
        underflow some weights (or all) to zero, which then do not count.

    Returns
    -------
    per_line : ndarray of int64, shape (k1 - k0,)
    per_minor : ndarray of int64, shape (j1 - j0,)
    """
    per_line = np.zeros(k1 - k0, dtype=np.int64)
    per_minor = np.zeros(j1 - j0, dtype=np.int64)
    for line_index, j, w in _connections(params, np.arange(k0, k1), j0, j1, dtype):
        with np.errstate(over="ignore"):  # a large scale rounds to inf: nonzero, as todense()
            nonzero = (w.astype(np.float64) * np.float64(scale)).astype(dtype) != 0
        per_line += np.bincount(line_index[nonzero], minlength=k1 - k0)
        per_minor += np.bincount(j[nonzero] - j0, minlength=j1 - j0)
    return per_line, per_minor
