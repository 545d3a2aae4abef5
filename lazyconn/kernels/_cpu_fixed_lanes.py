"""The fixed-number walk on ``LANES`` lines at once, one line per SIMD lane.

The product kernels of :mod:`._cpu_kernels` walk the lines of a chunk in
groups of ``LANES`` with :func:`lanes_walk`, which writes every chosen
entry of each line (up to the window's end) into a per-thread buffer, and
then run their usual per-line loop, batch by batch, with :func:`lanes_batch`
in place of the rule's batch walk: it copies the next entries of the line
from the buffer (and draws the batch's weight uniforms as the batch walk
does), so the batches, their weights, the order of every sum and the
deferral runs are those of :func:`._cpu_fixed.fixed_walk`, and so are the
bits.

The walk of docs/spec.md F4, vectorised.  All lines of a group start at
trial 0 and every live line performs one trial per iteration, so each reads
the words of the same trial ``tau`` (counter ``(tau // 2, 0, k, 2)``): a
block of ``ITB`` trials is drawn for the group at once (Philox, ``ln(u1)``
and ``u2``, the loop over lanes innermost).  :func:`_vector_step` performs
one Method D trial of every lane without a branch, so that LLVM vectorises
its loop over the lanes: each lane's state (``b_f = N_r - 1``,
``n_f = n - 1``, ``e0``, exact integers held in float64, and the window's
end) is a lane of one small array, the proposal is recomputed every trial
(a pure function of the state, so the same bits as computing it once per
step), and the squeeze tests are masks.  What it does not decide (the exact
test, about 0.2 % of the trials; ``n == 1``; ``n == N_r``; a dense step's
``ln1p`` proposal) is flagged and redone by the scalar trial of
:mod:`._cpu_fixed` from the unchanged state.  Each lane's accepted candidate
of each iteration (or -1) goes to ``acc[it, lane]``, compacted per line
after each block.

Why not 8 lanes (one AVX-512 register): LLVM's loop vectoriser treats a
loop of fewer than 16 iterations as optimised for size and then refuses the
runtime pointer checks that this loop needs; with 8 lanes it stays scalar.
With 16 or more it runs 8 float64 lanes wide (AVX-512), or narrower where
the CPU has no such registers.
"""

from __future__ import annotations

import numba
import numpy as np

from .. import _rule_fixed
from . import _numba_cache
from ._cpu_fixed import _trial
from ._cpu_random import INLINE_OPTIONS, JIT_OPTIONS, fill_uniforms, ln, philox4x32, word_to_uniform

__all__ = ["LANES", "MAX_LANES_CONN", "by_lanes", "lanes_scratch", "lanes_walk", "lanes_batch", "lanes_gather_sum",
           "lanes_scatter_add"]

#: Lines walked at once (a power of two, at least 16: see the module
#: docstring).  32 (four registers per operation) overlaps more of the
#: trial's dependent chain than 16: about 10 % faster in the products.
LANES = 32
_LOG_LANES = LANES.bit_length() - 1
#: Trials per lane drawn ahead at a time (even).
ITB = 64
#: Largest ``num_conn`` walked by lanes: the entries buffer holds
#: ``LANES * num_conn`` positions per thread (int32: sides are < 2**31;
#: 2 MiB at this bound).
MAX_LANES_CONN = 1 << 14

_U = np.uint64
_DOMAIN = np.uint64(_rule_fixed.DOMAIN_FIXED)
_CLAMP = _rule_fixed.SKIP_CLAMP
_SERIES_MAX = _rule_fixed.SERIES_MAX
# Offsets of the state fields in the state array, one lane each.
_BF, _NF, _E0, _EE = 0, LANES, 2 * LANES, 3 * LANES


@numba.njit(**INLINE_OPTIONS)
def by_lanes(num_conn, n_eff, n_blocks):
    """Whether the kernels walk by lanes: one item per line, the buffer bound, and sparse lines.

    Where ``num_conn`` is more than a fifth of the candidates, most steps
    are dense (``t > 1/4``: the scalar ``ln1p`` proposal) and the lanes
    only add work.
    """
    return n_blocks == 1 and num_conn <= MAX_LANES_CONN and 5 * num_conn <= n_eff


@numba.njit(**JIT_OPTIONS)
def lanes_scratch(num_conn):
    """Per-thread buffers of :func:`lanes_walk`: entries, counts, state, uniforms, accepted, tails, lines."""
    cap = num_conn if num_conn <= MAX_LANES_CONN else 0
    return (
        np.empty((LANES, cap), dtype=np.int32),
        np.zeros(LANES, dtype=np.int64),
        np.empty(4 * LANES, dtype=np.float64),
        np.empty(2 * ITB * LANES, dtype=np.float64),
        np.empty(ITB * LANES, dtype=np.float64),
        np.zeros(2 * LANES, dtype=np.int64),
        np.zeros(LANES, dtype=np.uint64),
    )


@numba.njit(**INLINE_OPTIONS)
def _fill_uniforms(rk0, rk1, lines_g, d0, n_it, tw):
    """Trials ``2 d0 .. 2 d0 + n_it`` of the group's lines (``n_it`` even, at most ``ITB``).

    Trial ``2 d0 + it`` of lane ``l``: ``tw[it * 2 LANES + l]`` = ``ln(u1)``,
    ``tw[it * 2 LANES + LANES + l]`` = ``u2``.  The words themselves are not
    kept (the rare scalar trials draw theirs again): the buffers then fit in
    the L1 cache (about 8 % of the walk's time).
    """
    for d in range(n_it // 2):
        base = _U(d) * _U(4 * LANES)  # trial 2d from base, trial 2d + 1 from base + 2 LANES
        t = _U(d0) + _U(d)
        for lane in range(LANES):
            l = _U(lane)
            w0, w1, w2, w3 = philox4x32(t, _U(0), lines_g[l], _DOMAIN, rk0, rk1)
            j = base + l
            tw[j] = ln(word_to_uniform(w0))
            tw[j + _U(LANES)] = word_to_uniform(w1)
            tw[j + _U(2 * LANES)] = ln(word_to_uniform(w2))
            tw[j + _U(3 * LANES)] = word_to_uniform(w3)


@numba.njit(**INLINE_OPTIONS)
def _vector_step(it, st, tw, acc):
    """One trial of every lane, without a branch; returns the number of flagged lanes.

    Writes ``acc[it * LANES + l]``: the accepted candidate, -1.0 (rejected,
    or the line is done) or -2.0 (flagged: the state is left unchanged for
    the scalar pass).  A lane is live while ``n_f >= 0`` and ``e0 < e_end``.
    """
    flagged = 0
    base = _U(it) * _U(2 * LANES)
    out = _U(it) * _U(LANES)
    for lane in range(LANES):
        l = _U(lane)
        bf = st[l + _U(_BF)]
        nf = st[l + _U(_NF)]
        e0 = st[l + _U(_E0)]
        ee = st[l + _U(_EE)]
        lu = tw[base + l]
        u2 = tw[base + _U(LANES) + l]
        # The trial of _cpu_fixed._trial, every path computed.
        af = bf - nf
        t = nf / bf
        t3 = (t * t) * t
        lam = -t * (1.0 + 0.5 * t)
        delta_up = t3 / (3.0 * (1.0 - t))
        delta_lo = t3 / 3.0
        sf = np.floor(min(lu / lam, _CLAMP))
        num = nf * (sf * (sf - 1.0))
        den_up = (2.0 * bf) * ((af - sf) + 1.0)
        squeeze_accept = (1.0 - u2) * den_up - num >= (sf * delta_up) * den_up
        den_lo = (2.0 * af) * bf
        squeeze_reject = u2 * ((den_lo + num) + (sf * delta_lo) * den_lo) > den_lo
        in_range = sf <= af
        # Bitwise operators, not `and`/`or`: no branch.
        alive = (nf >= 0.0) & (e0 < ee)
        regular = alive & (nf >= 1.0) & (af >= 1.0) & (t <= _SERIES_MAX)  # 2 <= n < N_r, a series step
        accepted = regular & in_range & squeeze_accept
        rare = alive & ~(regular & (~in_range | squeeze_accept | squeeze_reject))
        step = (sf + 1.0) if accepted else 0.0
        acc[out + l] = (e0 + sf) if accepted else (-2.0 if rare else -1.0)
        st[l + _U(_BF)] = bf - step
        st[l + _U(_NF)] = nf - (1.0 if accepted else 0.0)
        st[l + _U(_E0)] = e0 + step
        flagged += np.int64(rare)
    return flagged


@numba.njit(**JIT_OPTIONS)
def _scalar_pass(rk0, rk1, lines_g, d0, it, st, acc, tail):
    """The flagged trials of iteration ``it`` (trial ``2 d0 + it``): the walk's scalar trial, from the same state."""
    for lane in range(LANES):
        k = it * LANES + lane
        if acc[k] != -2.0:
            continue
        bf, nf, e0f = st[_BF + lane], st[_NF + lane], st[_E0 + lane]
        n = np.int64(nf) + 1
        n_r = np.int64(bf) + 1
        e0 = np.int64(e0f)
        acc[k] = -1.0
        if n == n_r:  # every candidate left is chosen: no word is read, the line ends
            tail[lane] = e0
            tail[LANES + lane] = n
            st[_NF + lane] = -1.0
        else:
            q0, q1, q2, q3 = philox4x32(_U(d0 + (it >> 1)), _U(0), lines_g[lane], _DOMAIN, rk0, rk1)
            w1 = q2 if it & 1 else q0
            w2 = q3 if it & 1 else q1
            accepted, p, b_f, _, _, _, _ = _trial(n, e0, bf, nf, True, 0.0, 0.0, 0.0, n_r, w1, w2)
            if accepted:
                acc[k] = np.float64(p)
                st[_BF + lane] = b_f
                st[_NF + lane] = nf - 1.0
                st[_E0 + lane] = np.float64(p + 1)


@numba.njit(**JIT_OPTIONS)
def _compact(n_lines, n_it, skip, lines_g, entries, counts, st, acc):
    """Append each line's accepted candidates of the block (those before its end), as entries."""
    for lane in range(n_lines):
        line = np.int64(lines_g[lane])
        ee = st[_EE + lane]
        c = counts[lane]
        for it in range(n_it):
            v = acc[it * LANES + lane]
            if v >= 0.0 and v < ee:
                e = np.int64(v)
                entries[lane, c] = np.int32(e + np.int64(skip and e >= line))
                c += 1
        counts[lane] = c


@numba.njit(**JIT_OPTIONS)
def lanes_walk(rk0, rk1, num_conn, n_eff, skip, n_lines, end, entries, counts, st, tw, acc, tail, lines_g):
    """The entries of lines ``lines_g[:n_lines]`` (at most ``LANES`` lines) before ``end``.

    Writes ``entries[lane, :counts[lane]]`` = the minor indices of line
    ``lines_g[lane]`` below ``end``, in increasing order: exactly those of
    :func:`._cpu_fixed.fixed_walk` walking the line batch by batch.  The
    buffers are those of :func:`lanes_scratch` (``num_conn <= MAX_LANES_CONN``),
    ``lines_g`` filled by the caller.
    """
    for lane in range(LANES):
        used = lane < n_lines
        if not used:
            lines_g[lane] = 0
        line = np.int64(lines_g[lane])
        st[_BF + lane] = np.float64(n_eff - 1)
        st[_NF + lane] = np.float64(num_conn - 1) if used else -1.0
        st[_E0 + lane] = 0.0
        # Without the diagonal, candidate e is entry e + (e >= line): the end in candidates.
        st[_EE + lane] = np.float64(min(end - np.int64(skip and end > line), n_eff))
        tail[lane] = 0
        tail[LANES + lane] = 0
        counts[lane] = 0
    d0 = 0
    while True:
        # A block of as many trials as the live line with the most entries
        # left needs at least (short lines draw no words they do not read).
        most = 0.0
        for lane in range(LANES):
            if st[_NF + lane] >= 0.0 and st[_E0 + lane] < st[_EE + lane]:
                most = max(most, st[_NF + lane] + 1.0)
        if most == 0.0:
            break
        n_it = min(ITB, (np.int64(most) + 1) & ~np.int64(1))
        _fill_uniforms(rk0, rk1, lines_g, d0, n_it, tw)
        for it in range(n_it):
            if _vector_step(it, st, tw, acc):
                _scalar_pass(rk0, rk1, lines_g, d0, it, st, acc, tail)
        _compact(n_lines, n_it, skip, lines_g, entries, counts, st, acc)
        d0 += n_it // 2
    for lane in range(n_lines):  # the entries chosen all at once (n == N_r), up to the end
        line = np.int64(lines_g[lane])
        c = counts[lane]
        for e in range(tail[lane], min(tail[lane] + tail[LANES + lane], np.int64(st[_EE + lane]))):
            entries[lane, c] = np.int32(e + np.int64(skip and e >= line))
            c += 1
        counts[lane] = c


@numba.njit(**INLINE_OPTIONS)
def lanes_batch(rk0, rk1, line, block, t0, n_draws, pos, aux, entries, counts, lane, deferred, per_batch, gaps,
                uniforms, positions, dus, n_deferred):
    """A batch of line ``line`` (lane ``lane`` of the last :func:`lanes_walk`), as the kernels' batch walk.

    Writes the entries of slots ``4 t0 .. 4 (t0 + n_draws)`` where the batch
    walk writes them (``gaps``, or for deferred weights ``positions`` from
    ``n_deferred``) and draws the same weight uniforms.

    Returns
    -------
    walked, pos, aux, done
        ``pos`` and ``aux`` unchanged; ``done`` once the line's entries are
        all given out (a batch walk may report it one empty batch later).
    """
    start = 4 * t0
    walked = max(min(4 * n_draws, counts[lane] - start), 0)
    if deferred:
        fill_uniforms(rk0, rk1, line, block, t0, 4 * n_draws, dus, n_deferred)
        for s in range(walked):
            positions[n_deferred + s] = np.int64(entries[lane, start + s])
    else:
        if per_batch:
            fill_uniforms(rk0, rk1, line, block, t0, 4 * n_draws, uniforms, 0)
        for s in range(walked):
            gaps[s] = np.int64(entries[lane, start + s])
    return walked, pos, aux, start + walked >= counts[lane]


@numba.njit(**INLINE_OPTIONS)
def lanes_gather_sum(entries, counts, lane, low, diagonal, offset, vectors, acc):
    """``acc + sum vectors[p + offset, 0]`` over the line's entries ``p`` in the window, in order.

    For a constant weight and one column the batches do not matter: the
    gather's sum of the line, term by term in the same order as batch by
    batch, so the same bits, without the replay.
    """
    for s in range(counts[lane]):
        p = np.int64(entries[lane, s])
        if p >= low and p != diagonal:
            acc += vectors[p + offset, 0]
    return acc


@numba.njit(**INLINE_OPTIONS)
def lanes_scatter_add(entries, counts, lane, low, diagonal, offset, out, scale):
    """``out[p + offset, 0] += scale`` for the line's entries ``p`` in the window, in order (as the gather's)."""
    for s in range(counts[lane]):
        p = np.int64(entries[lane, s])
        if p >= low and p != diagonal:
            out[p + offset, 0] += scale


_numba_cache.install(globals())  # last: every njit is defined, none compiled yet
