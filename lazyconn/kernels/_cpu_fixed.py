"""The fixed-number rule's walk in Numba: the CPU twin of :mod:`lazyconn._rule_fixed`.

:func:`fixed_walk` is the rule's batch walk (its record's ``numba_walk``),
compiled into the kernels of :mod:`._cpu_kernels` per (rule, law).  It
performs the operations of docs/spec.md "Fixed-number rule" F4 in the
reference's order, so its positions are bit-identical to the reference's.

A line is one item (block 0).  The kernels call the walk batch by batch:
batch ``t0 .. t0 + n_draws`` must produce the connection slots
``4 t0 .. 4 (t0 + n_draws) - 1``, i.e. the next ``4 n_draws`` chosen
entries of the line (fewer only when the line or the window ends), so that
the kernels' weight uniforms of those slots (counter ``(t, 0, k, 1)``) are
the rule's.  The state carried from batch to batch is ``pos`` (the
candidate index before the next one, ``e0 - 1``) and ``aux`` (the trials
read so far, ``tau``); the entries still to choose are ``K - 4 t0``.

The words of the trials are drawn ahead, a run of Philox draws at a time,
in a loop that LLVM vectorises; the sequential part (the proposal's
division, the squeeze) reads them.  ``ln(u1)`` of a trial is computed
where it is read: it does not depend on the walk's chain of divisions, so
it overlaps with them, and the walk needs no float buffer of its own (the
Bernoulli kernels then carry no array they do not use).

A trial is a function of its own (:func:`_trial`) that returns whether it
was accepted, and the walk's loop has no ``continue`` and a single exit
(``break``, then one ``return``): with the rejections written as
``continue`` and the ends as ``return`` inside the loop, the compiled walk
took about twice the time per entry (same operations, same bits; measured
in the product, see docs/performance_history.md).
"""

from __future__ import annotations

import numba
import numpy as np

from .. import _rule_fixed
from . import _numba_cache
from ._cpu_random import INLINE_OPTIONS, JIT_OPTIONS, ln, philox4x32, word_to_uniform

__all__ = ["fixed_walk", "fill_trials", "TRIAL_DRAWS"]

DOMAIN_FIXED = np.uint64(_rule_fixed.DOMAIN_FIXED)
_SKIP_CLAMP = _rule_fixed.SKIP_CLAMP
_EXACT_FLOOR = _rule_fixed.EXACT_FLOOR
_SERIES_MAX = _rule_fixed.SERIES_MAX
_ZERO = np.uint64(0)
_S32 = np.uint64(32)

#: Most Philox draws (two trials each) drawn ahead at a time: the walk's
#: ``words`` buffer holds their ``4 * TRIAL_DRAWS`` words.
TRIAL_DRAWS = 64


@numba.njit(**JIT_OPTIONS)
def fill_trials(rk0, rk1, line, d0, n_draws, words):
    """Words of draws ``d0 .. d0 + n_draws`` of line ``line`` (domain 2).

    Writes ``words[4 i + q]`` = word ``q`` of draw ``d0 + i``: trial
    ``2 (d0 + i) + h`` reads words ``4 i + 2 h`` (``u1``) and
    ``4 i + 2 h + 1`` (``w2``).
    """
    c2 = np.uint64(line)
    for i in range(n_draws):
        w0, w1, w2, w3 = philox4x32(np.uint64(d0 + i), _ZERO, c2, DOMAIN_FIXED, rk0, rk1)
        j = np.uint64(4 * i)  # unsigned: no wraparound test (see _cpu_random.fill_gaps)
        words[j] = w0
        words[j + np.uint64(1)] = w1
        words[j + np.uint64(2)] = w2
        words[j + np.uint64(3)] = w3


@numba.njit(**INLINE_OPTIONS)
def _proposal(b_f, n_f):
    """``(lam, delta_up, delta_lo)`` of a step (twin of ``_rule_fixed.proposal``).

    ``b_f = float(N_r - 1)``, ``n_f = float(n - 1)``, ``2 <= n < N_r``.
    """
    t = n_f / b_f
    t3 = (t * t) * t
    if t <= _SERIES_MAX:
        return -t * (1.0 + 0.5 * t), t3 / (3.0 * (1.0 - t)), t3 / 3.0
    x = -t
    v = 1.0 + x
    return ln(v) * (x / (v - 1.0)), 0.0, 0.0


@numba.njit(**JIT_OPTIONS)
def _exact_accept(skip, n, n_r, lam, u2):
    """The exact test ``u2 <= Y exp(-lam S)`` (rare; twin of ``_rule_fixed._exact_accept``)."""
    y = 1.0
    if skip <= n - 1:
        a = n_r - n
        b = n_r - 1
        for i in range(skip):
            y = y * (np.float64(a - i) / np.float64(b - i))
            if y < _EXACT_FLOOR:
                return False
    else:
        for i in range(n - 1):
            y = y * (np.float64(n_r - skip - 1 - i) / np.float64(n_r - 1 - i))
            if y < _EXACT_FLOOR:
                return False
    return ln(u2) <= ln(y) - np.float64(skip) * lam


@numba.njit(**INLINE_OPTIONS)
def _uniform_index(count, w1, w2):
    """``floor(count * (w1 * 2**32 + w2) / 2**64)`` in uint64 (twin of ``_rule_fixed.uniform_index``)."""
    c = np.uint64(count)
    return np.int64((c * w1 + ((c * w2) >> _S32)) >> _S32)


@numba.njit(**INLINE_OPTIONS)
def _trial(n, e0, b_f, n_f, fresh, lam, delta_up, delta_lo, n_r, w1, w2):
    """One trial of a step with ``n >= 1`` entries to choose among ``n_r > n`` candidates.

    Returns ``(accepted, p, b_f, fresh, lam, delta_up, delta_lo)``: the
    chosen candidate ``p`` if accepted, and the step's state (``b_f`` is
    only advanced by an accepted proposal; the last entry leaves it alone,
    the walk then ends).
    """
    if n == 1:  # the last entry: uniform over n_r, from both words
        return True, e0 + _uniform_index(n_r, w1, w2), b_f, fresh, lam, delta_up, delta_lo
    if fresh:
        lam, delta_up, delta_lo = _proposal(b_f, n_f)
        fresh = False
    a_f = b_f - n_f  # the largest skip, float(n_r - n)
    sf = np.floor(min(ln(word_to_uniform(w1)) / lam, _SKIP_CLAMP))
    if sf > a_f:
        return False, e0, b_f, fresh, lam, delta_up, delta_lo
    u2 = word_to_uniform(w2)
    num = n_f * (sf * (sf - 1.0))
    den_up = (2.0 * b_f) * ((a_f - sf) + 1.0)
    if not ((1.0 - u2) * den_up - num >= (sf * delta_up) * den_up):
        den_lo = (2.0 * a_f) * b_f
        if u2 * ((den_lo + num) + (sf * delta_lo) * den_lo) > den_lo:
            return False, e0, b_f, fresh, lam, delta_up, delta_lo
        if not _exact_accept(np.int64(sf), n, n_r, lam, u2):
            return False, e0, b_f, fresh, lam, delta_up, delta_lo
    return True, e0 + np.int64(sf), b_f - (sf + 1.0), fresh, lam, delta_up, delta_lo


@numba.njit(**INLINE_OPTIONS)
def fixed_walk(rk0, rk1, inv_log_q, table_base, table_threshold, num_conn, n_eff, skip, line, block, t0, n_draws,
               pos, aux, end, positions, words, at):
    """The fixed-number rule's walk: the chosen entries of slots ``4 t0 .. 4 (t0 + n_draws)`` of line ``line``.

    Writes ``positions[at + s]`` = the minor index of slot ``4 t0 + s``
    for every chosen entry before ``end``.  ``pos`` and ``aux`` are the
    state returned by the previous batch (``-1`` and ``0`` at the line's
    start); ``inv_log_q``, the gap table and ``block`` (always 0) are the
    Bernoulli rule's and unused here.

    Returns
    -------
    walked, pos, aux, done
        Entries found, the state reached, whether the line (or the window) ended.
    """
    cap = 4 * n_draws
    n = num_conn - 4 * t0  # entries still to choose
    e0 = pos + 1  # the next candidate
    n_r = n_eff - e0  # candidates left
    # The sequential chain of a trial is division, rounding, subtraction and
    # division again: in floats (exact, the integers are < 2**53) it needs no
    # int-float conversion.  b_f = float(n_r - 1), n_f = float(n - 1).
    b_f = np.float64(n_r - 1)
    n_f = np.float64(n - 1)
    # Without the diagonal, candidate e is entry e + (e >= line): the window's end in candidates.
    e_end = min(end - np.int64(skip and end > line), n_eff)
    tau = aux
    walked = 0
    avail = 0  # trials drawn ahead and not read yet, from trial `first` of the words
    first = 0
    fresh = True  # the step's constants need computing
    lam = delta_up = delta_lo = 0.0
    done = False
    ret = np.int64(0)
    while walked < cap:
        if n <= 0 or e0 >= e_end:
            done = True
            ret = e0 - 1
            break
        if n == n_r:  # every candidate left is chosen: no word is read
            accepted = True
            p = e0
            b_f -= 1.0
        else:
            if avail == 0:
                # Draw ahead: about the entries this batch still needs, and a few rejections.
                want = cap - walked
                n_fill = min(TRIAL_DRAWS, (want + (want >> 3) + 3 + (tau & 1)) >> 1)
                fill_trials(rk0, rk1, line, tau >> 1, n_fill, words)
                first = tau & 1
                avail = 2 * n_fill - first
            w1 = words[np.uint64(2 * first)]
            w2 = words[np.uint64(2 * first + 1)]
            first += 1
            avail -= 1
            tau += 1
            accepted, p, b_f, fresh, lam, delta_up, delta_lo = _trial(n, e0, b_f, n_f, fresh, lam, delta_up,
                                                                       delta_lo, n_r, w1, w2)
        if accepted:  # a flag, not `continue`: see the module docstring
            if p >= e_end:
                done = True
                ret = p
                break
            positions[np.uint64(at + walked)] = p + np.int64(skip and p >= line)
            walked += 1
            e0 = p + 1
            n_r = n_eff - e0
            n -= 1
            n_f -= 1.0
            fresh = True
    if not done:
        ret = e0 - 1
    return walked, ret, tau, done


_numba_cache.install(globals())  # last: every njit is defined, none compiled yet
