"""The fixed-number connection rule (spec v2 extension): exactly K entries per line.

Every line holds exactly ``K = num_conn`` distinct entries, uniform over the
K-subsets of its minor axis (of the ``N - 1`` off-diagonal entries when
``include_self=False``).  The positions are drawn in increasing order by
Vitter's sequential sampling Method D (J. S. Vitter, "Faster methods for
random sampling", CACM 27(7), 1984, and "An efficient algorithm for
sequential random sampling", ACM TOMS 13(1), 1987), with a geometric
proposal like his ``g2``, which needs only ``ln``: each skip ``S`` between
chosen entries is proposed as ``floor(ln(u1) / lam)``, ``lam >= ln(q)`` (a
two-term series on sparse steps, so one ``ln`` per trial), and accepted
with probability ``Y(S) exp(-lam S) = f(S) / (c g(S))``; polynomial bounds
of that ratio decide almost every trial without a further logarithm.  The walk is pinned in
docs/spec.md ("Fixed-number rule"): O(K) expected work, O(1) state per
line, and a window ``[j0, j1)`` stops at ``j1``.

A line is one item (``block_log2 = 31`` covers every line), walked from the
words of Philox domain 2, counter ``(t, 0, k, 2)``: trial ``tau`` of line
``k`` reads words ``2 tau`` and ``2 tau + 1`` (draw ``tau // 2``); the
last entry of a line takes both as one 64-bit integer.  The
s-th chosen entry of a line has connection slot ``s``, so its weight is
word ``s % 4`` of counter ``(s // 4, 0, k, 1)``, as a Bernoulli slot of
block 0.  No Bernoulli matrix changes: its gap words are domain 0.

The CPU backend's walk is its Numba twin, ``kernels/_cpu_fixed.py``; the
GPU backend's is its CUDA twin, ``FixedNumberWalk`` in
``kernels/jitc_rules.cuh`` (the record's ``cuda_type``), the template
argument of every GPU kernel.
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import rules
from .random import _ln_scalar, ln, philox4x32, words_to_uniform

__all__ = [
    "FIXED_NUMBER",
    "DOMAIN_FIXED",
    "check_num_conn",
    "check_num_conn_for",
    "line_length",
    "proposal",
    "uniform_index",
    "walk_lines",
]

#: Philox domain of the fixed-number rule's words (0: Bernoulli gaps, 1: weights).
DOMAIN_FIXED = 2
#: One item per line: ``2**31`` entries cover every line (sides are < 2**31).
BLOCK_LOG2 = 31
#: A proposed skip is clamped here before conversion to an integer; any skip
#: this large is rejected, since a line has fewer than 2**31 entries.
SKIP_CLAMP = float(2**31)
#: The exact test stops (and rejects) once its product falls below this:
#: the acceptance ratio is then below 2**-66, less than any uniform.
EXACT_FLOOR = 2.0**-100
#: The proposal's log-ratio is a two-term series while t = (n-1)/(N_r-1) is
#: at most this (sparse steps), else ln1p(-t) (the series' bound loosens).
SERIES_MAX = 0.25
#: The NumPy walk goes line by line (Python scalars) once at most this many
#: lines are left: a vectorised round costs about as much as 100 scalar trials.
SCALAR_LINES = 64
#: Most trials whose words a line-by-line walk draws at once.
WORDS_PER_BATCH = 4096


def check_num_conn(num_conn):
    """Validate the type and sign of ``num_conn``: an integer >= 0.

    Parameters
    ----------
    num_conn : object

    Returns
    -------
    int

    Raises
    ------
    TypeError
        If it is not an integer (booleans are refused).
    ValueError
        If it is negative.
    """
    if isinstance(num_conn, (bool, np.bool_)) or not isinstance(num_conn, numbers.Integral):
        raise TypeError(
            f"num_conn must be an integer (the number of connections per line), got {num_conn!r} "
            f"of type {type(num_conn).__name__}"
        )
    num_conn = int(num_conn)
    if num_conn < 0:
        raise ValueError(f"num_conn must be >= 0, got {num_conn}; pass the number of connections per line")
    return num_conn


def line_length(minor_size, include_self):
    """Number of entries a line chooses from: ``N``, or ``N - 1`` without the diagonal.

    Parameters
    ----------
    minor_size : int
        Length ``N`` of a line.
    include_self : bool

    Returns
    -------
    int
    """
    return minor_size if include_self or minor_size == 0 else minor_size - 1


def check_num_conn_for(num_conn, minor_size, include_self, orientation):
    """Validate ``num_conn`` against the line length of a matrix.

    Parameters
    ----------
    num_conn : object
    minor_size : int
        Length of a line (``num_post`` for 'R', ``num_pre`` for 'C').
    include_self : bool
    orientation : {'R', 'C'}

    Returns
    -------
    int

    Raises
    ------
    TypeError, ValueError
        Naming the value, the bound and the fix.
    """
    num_conn = check_num_conn(num_conn)
    limit = line_length(minor_size, include_self)
    if num_conn > limit:
        side = "num_post" if orientation == "R" else "num_pre"
        line = "row" if orientation == "R" else "column"
        where = f"the {minor_size} entries of a {line} ({side})"
        if not include_self:
            where = f"the {limit} off-diagonal entries of a {line} ({side} - 1, include_self=False)"
        raise ValueError(
            f"num_conn must be <= {limit}, got {num_conn}: each {line} draws num_conn distinct entries "
            f"among {where}; pass num_conn <= {limit}"
        )
    return num_conn


def walk_lines(key, lines, minor_size, num_conn, skip_diagonal, ends, count_trials=False):
    """Walk the fixed-number rule on lines ``lines`` up to ``ends`` (NumPy).

    Parameters
    ----------
    key : tuple of 2 int
        Philox key ``(seed & 0xFFFFFFFF, seed >> 32)``.
    lines : array_like of int
        Line indices ``k``.
    minor_size : int
        Length ``N`` of a line.
    num_conn : int
        ``K``, at most :func:`line_length`.
    skip_diagonal : bool
        Draw among the ``N - 1`` entries ``j != k``.
    ends : array_like of int
        Minor end (exclusive) of each line's walk: the walk stops there.
    count_trials : bool, optional
        Also return the number of trials (pairs of words) each line used.

    Returns
    -------
    item, pos, slot : ndarray of int64
        One entry per connection ``pos < ends[item]`` of line
        ``lines[item]``: its minor index and connection slot.
    trials : ndarray of int64
        Only with ``count_trials``: trials per line (``ceil(trials / 2)``
        Philox draws).
    """
    lines = np.asarray(lines, dtype=np.int64).reshape(-1)
    ends = np.broadcast_to(np.asarray(ends, dtype=np.int64), lines.shape)
    n_items = lines.size
    n_eff = line_length(minor_size, not skip_diagonal)
    # The walk is in e-space, the n_eff candidates; without the diagonal,
    # j = e + (e >= k), so a minor end j1 is the e-end j1 - (j1 > k).
    e_end = ends - (skip_diagonal & (ends > lines)) if skip_diagonal else ends.copy()
    e_end = np.minimum(e_end, n_eff)
    remaining = np.full(n_items, n_eff, dtype=np.int64)  # candidates left (N_r)
    need = np.full(n_items, num_conn, dtype=np.int64)  # entries still to choose (n)
    base = np.zeros(n_items, dtype=np.int64)  # e-index of the next candidate
    trials = np.zeros(n_items, dtype=np.int64)
    # Every entry is tagged with the trials its line had used (its round: all
    # active lines take one trial per round) and whether it came from an
    # all-chosen run (0) or a trial (1); sorting by (round, kind, item) gives
    # the order of the round-by-round walk whichever way a line was walked.
    items, positions, slots, rounds, kinds = [], [], [], [], []
    active = np.nonzero((need > 0) & (base < e_end))[0]
    # Rounds are vectorised over lines; a round costs a fixed few hundred
    # NumPy calls, so the last few lines (long walks on a few lines) are
    # walked one by one in Python floats, by the same operations.
    while active.size > SCALAR_LINES:
        every = need[active] == remaining[active]
        if every.any():
            # n == N_r: every candidate left is chosen, no word is read.
            idx = active[every]
            count = np.minimum(need[idx], e_end[idx] - base[idx])
            owner = np.repeat(idx, count)
            offset = np.arange(owner.size) - np.repeat(np.cumsum(count) - count, count)
            items.append(owner)
            positions.append(base[owner] + offset)
            slots.append(num_conn - need[owner] + offset)
            rounds.append(trials[owner])
            kinds.append(np.zeros(owner.size, dtype=np.int64))
            need[idx] = 0
        idx = active[~every]
        if idx.size:
            _trial(key, lines, idx, remaining, need, base, trials, e_end, num_conn,
                   items, positions, slots, rounds, kinds)
        active = active[(need[active] > 0) & (base[active] < e_end[active])]
    for i in active.tolist():
        _walk_one(key, i, int(lines[i]), int(remaining[i]), int(need[i]), int(base[i]), int(e_end[i]),
                  num_conn, trials, items, positions, slots, rounds, kinds)
    if items:
        item, e, slot = np.concatenate(items), np.concatenate(positions), np.concatenate(slots)
        order = np.lexsort((item, np.concatenate(kinds), np.concatenate(rounds)))
        item, e, slot = item[order], e[order], slot[order]
    else:
        item = e = slot = np.empty(0, dtype=np.int64)
    pos = e + (e >= lines[item]) if skip_diagonal else e
    if count_trials:
        return item, pos, slot, trials
    return item, pos, slot


def _trial(key, lines, idx, remaining, need, base, trials, e_end, num_conn, items, positions, slots, rounds, kinds):
    """One trial of each line ``idx`` (1 <= n < N_r): propose a skip, accept or not, advance."""
    tau = trials[idx].astype(np.uint64)
    words = np.stack(
        philox4x32((tau >> np.uint64(1), 0, lines[idx].astype(np.uint64), DOMAIN_FIXED), key), axis=-1
    )
    first = 2 * (tau & np.uint64(1)).astype(np.intp)
    rows = np.arange(idx.size)
    w1, w2 = words[rows, first], words[rows, first + 1]
    trials[idx] += 1
    n_r, n = remaining[idx], need[idx]
    skip = np.zeros(idx.size, dtype=np.int64)
    accept = np.ones(idx.size, dtype=bool)
    last = n == 1
    skip[last] = uniform_index(n_r[last], w1[last], w2[last])
    d = np.nonzero(~last)[0]
    if d.size:
        skip[d], accept[d] = _method_d(n_r[d], n[d], words_to_uniform(w1[d]), words_to_uniform(w2[d]))
    chosen = idx[accept]
    p = base[chosen] + skip[accept]
    inside = p < e_end[chosen]
    items.append(chosen[inside])
    positions.append(p[inside])
    slots.append(num_conn - need[chosen[inside]])
    rounds.append(trials[chosen[inside]] - 1)
    kinds.append(np.ones(inside.sum(), dtype=np.int64))
    base[chosen] = p + 1
    remaining[chosen] -= skip[accept] + 1
    need[chosen] -= 1


def _walk_one(key, i, line, n_r, n, base, e_end, num_conn, trials, items, positions, slots, rounds, kinds):
    """Finish the walk of item ``i`` (line ``line``) from its state, in Python scalars.

    The same operations as :func:`_trial` in the same order on float64
    values, so the same bits; words are drawn for many trials at once.
    Appends the entries (tagged as in :func:`walk_lines`) and updates
    ``trials[i]``.
    """
    tau = int(trials[i])
    found_pos, found_slot, found_round, found_kind = [], [], [], []
    lam = delta_up = delta_lo = None  # the proposal of the current (n_r, n)
    first = tau  # words are cached for trials first .. first + len(w1) - 1
    w1 = w2 = u2 = ln_u1 = ()
    while n > 0 and base < e_end:
        if n == n_r:
            # Every candidate left is chosen, no word is read.
            count = min(n, e_end - base)
            found_pos.extend(range(base, base + count))
            found_slot.extend(range(num_conn - n, num_conn - n + count))
            found_round.extend([tau] * count)
            found_kind.extend([0] * count)
            n = 0
            break
        at = tau - first
        if at >= len(w1):
            first, at = tau, 0
            w1, w2, u2, ln_u1 = _trial_words(key, line, tau, n)
        tau += 1
        if n == 1:
            skip = (n_r * w1[at] + ((n_r * w2[at]) >> 32)) >> 32  # uniform_index, exactly
            accept = True
        else:
            if lam is None:
                lam, delta_up, delta_lo = _proposal_scalar(n_r, n)
            skip = math.floor(min(ln_u1[at] / lam, SKIP_CLAMP))
            a = n_r - n
            accept = False
            if skip <= a:
                u = u2[at]
                bf = float(n_r - 1)
                sf = float(skip)
                num = float(n - 1) * (sf * float(skip - 1))
                den_up = (2.0 * bf) * float(a - skip + 1)
                accept = (1.0 - u) * den_up - num >= (sf * delta_up) * den_up
                if not accept:
                    den_lo = (2.0 * float(a)) * bf
                    if not u * ((den_lo + num) + (sf * delta_lo) * den_lo) > den_lo:
                        accept = _exact_accept(skip, n, n_r, lam, u)
        if accept:
            p = base + skip
            if p < e_end:
                found_pos.append(p)
                found_slot.append(num_conn - n)
                found_round.append(tau - 1)
                found_kind.append(1)
            base = p + 1
            n_r -= skip + 1
            n -= 1
            lam = None
    trials[i] = tau
    if found_pos:
        pos = np.array(found_pos, dtype=np.int64)
        items.append(np.full(pos.size, i, dtype=np.int64))
        positions.append(pos)
        slots.append(np.array(found_slot, dtype=np.int64))
        rounds.append(np.array(found_round, dtype=np.int64))
        kinds.append(np.array(found_kind, dtype=np.int64))


def _trial_words(key, line, tau, n):
    """Words of trials ``tau, tau + 1, ...`` of ``line``, enough for about ``2 n`` trials.

    Returns Python lists: ``w1``, ``w2`` (ints), ``u2`` and ``ln(u1)``
    (floats), computed by the same NumPy operations as :func:`_trial`.
    """
    count = min(2 * n + 16, WORDS_PER_BATCH)
    d0, d1 = tau >> 1, ((tau + count - 1) >> 1) + 1
    draws = np.arange(d0, d1, dtype=np.uint64)
    flat = np.stack(philox4x32((draws, 0, np.uint64(line), DOMAIN_FIXED), key), axis=-1).reshape(-1)
    at = 2 * (tau & 1)
    w1, w2 = flat[at:at + 2 * count:2], flat[at + 1:at + 2 * count:2]
    return (w1.astype(np.int64).tolist(), w2.astype(np.int64).tolist(),
            words_to_uniform(w2).tolist(), ln(words_to_uniform(w1)).tolist())


def _proposal_scalar(n_r, n):
    """:func:`proposal` of one step, in Python floats (the same operations)."""
    t = float(n - 1) / float(n_r - 1)
    if t <= SERIES_MAX:
        t3 = (t * t) * t
        return -t * (1.0 + 0.5 * t), t3 / (3.0 * (1.0 - t)), t3 / 3.0
    x = -t
    v = 1.0 + x
    return _ln_scalar(v) * (x / (v - 1.0)), 0.0, 0.0


def uniform_index(count, w1, w2):
    """``floor(count * W / 2**64)`` for ``W = w1 * 2**32 + w2``, exactly, in uint64 arithmetic.

    The last entry of a line is uniform over its ``count < 2**31``
    candidates, up to ``count / 2**64``: ``(count * w1 + (count * w2 >> 32)) >> 32``.

    Parameters
    ----------
    count : ndarray of int64
    w1, w2 : ndarray of uint32

    Returns
    -------
    ndarray of int64
    """
    count = np.asarray(count).astype(np.uint64)
    high = count * np.asarray(w1).astype(np.uint64)
    low = (count * np.asarray(w2).astype(np.uint64)) >> np.uint64(32)
    return ((high + low) >> np.uint64(32)).astype(np.int64)


def proposal(n_r, n):
    """Per-step constants of a Method D trial: ``(lam, delta_up, delta_lo)`` (arrays).

    The proposal is geometric with log-ratio ``lam``, an upper bound of
    ``ln q``, ``q = 1 - t``, ``t = (n - 1) / (N_r - 1)``: the two-term series
    ``-t - t**2 / 2`` while ``t <= 1/4`` (no logarithm), else ``ln1p(-t)``
    as in spec v1 section 4.  ``delta_up >= lam - ln q >= delta_lo`` bound
    the difference (both 0 for ``ln1p``).  They change only when an entry
    is accepted.

    Parameters
    ----------
    n_r, n : ndarray of int64
        Candidates left and entries still to choose, ``2 <= n < N_r``.

    Returns
    -------
    lam, delta_up, delta_lo : ndarray of float64
    """
    t = (n - 1).astype(np.float64) / (n_r - 1).astype(np.float64)
    series = t <= SERIES_MAX
    t3 = (t * t) * t
    lam = np.where(series, -t * (1.0 + 0.5 * t), 0.0)
    delta_up = np.where(series, t3 / (3.0 * (1.0 - t)), 0.0)
    delta_lo = np.where(series, t3 / 3.0, 0.0)
    far = np.nonzero(~series)[0]
    if far.size:
        # ln1p(x), x = -t (Goldberg): v is neither 1 (t > 1/4) nor 0 (t < 1).
        x = -t[far]
        v = 1.0 + x
        lam[far] = ln(v) * (x / (v - 1.0))
    return lam, delta_up, delta_lo


def _method_d(n_r, n, u1, u2):
    """Method D trials with a geometric proposal, for ``2 <= n < N_r`` (arrays).

    Returns the proposed skips and whether each is accepted.
    """
    a = n_r - n  # the largest possible skip, >= 1
    b = n_r - 1
    af, bf = a.astype(np.float64), b.astype(np.float64)
    lam, delta_up, delta_lo = proposal(n_r, n)
    skip = np.floor(np.minimum(ln(u1) / lam, SKIP_CLAMP)).astype(np.int64)
    possible = skip <= a
    s = np.where(possible, skip, 0)
    sf = s.astype(np.float64)
    h = sf * (s - 1).astype(np.float64)
    num = (n - 1).astype(np.float64) * h
    # accept: u2 <= 1 - D_up, D_up = num / den_up + S delta_up, without a division
    den_up = (2.0 * bf) * (a - s + 1).astype(np.float64)
    accept = possible & ((1.0 - u2) * den_up - num >= (sf * delta_up) * den_up)
    # reject: u2 (1 + D_lo) > 1, D_lo = num / den_lo + S delta_lo
    den_lo = (2.0 * af) * bf
    reject = ~possible | (~accept & (u2 * ((den_lo + num) + (sf * delta_lo) * den_lo) > den_lo))
    for i in np.nonzero(~accept & ~reject)[0]:
        accept[i] = _exact_accept(int(skip[i]), int(n[i]), int(n_r[i]), float(lam[i]), float(u2[i]))
    return skip, accept


def _exact_accept(skip, n, n_r, lam, u2):
    """The exact test ``u2 <= Y exp(-lam S)`` (rare): ``Y`` by its shorter product."""
    y = 1.0
    if skip <= n - 1:
        # Y = prod_{i < S} (A - i) / (B - i)
        a, b = n_r - n, n_r - 1
        factors = ((a - i, b - i) for i in range(skip))
    else:
        # Y = prod_{i < n - 1} (N_r - S - 1 - i) / (N_r - 1 - i)
        factors = ((n_r - skip - 1 - i, n_r - 1 - i) for i in range(n - 1))
    for top, bottom in factors:
        y = y * (float(top) / float(bottom))
        if y < EXACT_FLOOR:
            return False
    ln_u2, ln_y = ln(np.array([u2, y]))
    return bool(ln_u2 <= ln_y - float(skip) * lam)


def fixed_reference_walk(params, lines, blocks, ends):
    """The rule's walk for the reference backend (see :mod:`lazyconn.rules`).

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
        With ``num_conn`` and ``minor_size``.
    lines, blocks : ndarray of uint64
        The items: every block is 0 (one item per line).
    ends : ndarray of int64

    Returns
    -------
    item, pos, slot : ndarray of int64
    """
    if np.any(np.asarray(blocks) != 0):
        raise ValueError("the fixed-number rule has one item per line: every block index must be 0")
    return walk_lines(
        (params.key0, params.key1), lines, params.minor_size, params.num_conn, params.skip_diagonal, ends
    )


FIXED_NUMBER = rules.register(rules.Rule(
    name="FixedNumber",
    code=1,
    params=("num_conn",),
    check=lambda num_conn: (check_num_conn(num_conn),),
    block_log2=lambda num_conn: BLOCK_LOG2,
    reference_walk=fixed_reference_walk,
    numba_walk=".kernels._cpu_fixed:fixed_walk",
    numba_lanes=".kernels._cpu_fixed_lanes:lanes_walk",
    cuda_type="FixedNumberWalk",  # kernels/jitc_rules.cuh
    domain=DOMAIN_FIXED,
))
