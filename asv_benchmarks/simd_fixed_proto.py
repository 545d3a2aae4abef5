"""Prototype: the fixed-number walk on 16 lines at once, one line per SIMD lane (issue 14).

Usage (from the repository root)::

    PYTHONPATH=$PWD python3 asv_benchmarks/simd_fixed_proto.py [--lines 4000] [--rounds 5] [--asm]

A go/no-go measurement, not product code.  ``LANES`` lines are walked in
lockstep: every lane performs one trial per iteration (all lanes of a group
start at trial 0, so every live lane is at the same trial ``tau``), the
ordinary Method D trial of docs/spec.md F4 written without branches so that
LLVM vectorises the loop over the lanes: each lane's state (``b_f``, ``n_f``,
``e0``, exact integers held in float64) is a lane of a small array, the
proposal is recomputed every trial (a pure function of the state: the same
bits), and the squeeze tests are masks.  What the vector step does not do
(the exact test, ``n == 1``, ``n == N_r``, the dense-step ``ln1p``
proposal) is flagged and redone by the scalar trial of
:mod:`lazyconn.kernels._cpu_fixed` from the unchanged state, so the
positions are the same bits.  Each lane's accepted candidate (or -1) of each
iteration goes to ``acc[it, lane]``; a scalar loop compacts it per line.

Why 16 lanes (two zmm registers per operation), not 8: LLVM's loop
vectoriser treats a loop of fewer than 16 iterations as "optimise for size"
and then refuses the runtime pointer checks that this loop needs (its arrays
may alias, as far as it knows): with 8 lanes it stays scalar ("loop not
vectorized: runtime pointer checks needed"); with 16 it is vectorised
(width 8, interleaved 2).

The trial words of a block of iterations (draws ``tau0 / 2 ...`` of counter
``(t, 0, k, 2)``) are drawn for the lines at once (vectorised Philox, the
loop over lanes innermost and contiguous), with ``ln(u1)`` and ``u2``
computed ahead, lane-contiguous.

Compared with today's walk (:func:`lazyconn.kernels._cpu_fixed.fixed_walk`,
called batch by batch as the product kernels do): identical positions are
asserted for every line (and against the NumPy reference on a few), then ns
per connection (process CPU time, minimum of interleaved rounds) for both,
one thread.
"""

from __future__ import annotations

import argparse
import re
import time

import numba
import numpy as np

from lazyconn import _rule_fixed
from lazyconn.kernels._cpu_fixed import _trial, fixed_walk
from lazyconn.kernels._cpu_random import (
    JIT_OPTIONS,
    ln,
    philox4x32,
    round_key_arrays,
    word_to_uniform,
)

LANES = 16  # a power of two; 16 (two zmm) meets LLVM's minimum trip count for vectorising
LOG_LANES = LANES.bit_length() - 1
ITB = 64  # iterations (trials per lane) per block of drawn words
_U = np.uint64
_DOMAIN = np.uint64(_rule_fixed.DOMAIN_FIXED)
_CLAMP = _rule_fixed.SKIP_CLAMP
_SERIES_MAX = _rule_fixed.SERIES_MAX
SEED = 20240601
JIT = dict(JIT_OPTIONS, cache=False, boundscheck=False)
_ASM_OPS = ("vpmuludq", "vdivpd", "vmulpd", "vaddpd", "vrndscalepd", "vdivsd", "vmulsd")


@numba.njit(**JIT)
def _fill_words(rk0, rk1, lines_g, d0, ww, tw):
    """Words of trials ``2 d0 .. 2 d0 + ITB`` of the ``LANES`` lines ``lines_g``.

    Trial ``2 d0 + it`` of lane ``l``: ``ww[it * 2 LANES + l]`` = w1,
    ``ww[it * 2 LANES + LANES + l]`` = w2; ``tw`` the same with ``ln(u1)``
    and ``u2``.  The inner loop over the lanes is the vectorised one.
    """
    for d in range(ITB // 2):
        base = _U(d) * _U(4 * LANES)  # trial 2d at base, trial 2d + 1 at base + 2 LANES
        t = _U(d0) + _U(d)
        for lane in range(LANES):
            l = _U(lane)
            w0, w1, w2, w3 = philox4x32(t, _U(0), lines_g[l], _DOMAIN, rk0, rk1)
            j = base + l
            ww[j] = w0
            ww[j + _U(LANES)] = w1
            ww[j + _U(2 * LANES)] = w2
            ww[j + _U(3 * LANES)] = w3
            tw[j] = ln(word_to_uniform(w0))
            tw[j + _U(LANES)] = word_to_uniform(w1)
            tw[j + _U(2 * LANES)] = ln(word_to_uniform(w2))
            tw[j + _U(3 * LANES)] = word_to_uniform(w3)


@numba.njit(**JIT)
def _vector_step(it, st, tw, acc):
    """One trial of each lane, branch-free; returns the number of flagged lanes.

    ``st[l]`` = ``b_f`` (``N_r - 1``), ``st[LANES + l]`` = ``n_f`` (``n - 1``,
    -1 once the line is done), ``st[2 LANES + l]`` = ``e0``.  ``acc[it * LANES + l]``:
    the accepted candidate, -1.0 (rejected or done) or -2.0 (flagged: the
    scalar pass redoes this trial from the unchanged state).
    """
    flagged = 0
    base = _U(it) * _U(2 * LANES)
    out = _U(it) * _U(LANES)
    for lane in range(LANES):
        l = _U(lane)
        bf = st[l]
        nf = st[l + _U(LANES)]
        e0 = st[l + _U(2 * LANES)]
        lu = tw[base + l]
        u2 = tw[base + _U(LANES) + l]
        af = bf - nf
        t = nf / bf
        t3 = (t * t) * t
        lam = -t * (1.0 + 0.5 * t)
        dup = t3 / (3.0 * (1.0 - t))
        dlo = t3 / 3.0
        sf = np.floor(min(lu / lam, _CLAMP))
        num = nf * (sf * (sf - 1.0))
        den_up = (2.0 * bf) * ((af - sf) + 1.0)
        acc1 = (1.0 - u2) * den_up - num >= (sf * dup) * den_up
        den_lo = (2.0 * af) * bf
        rej2 = u2 * ((den_lo + num) + (sf * dlo) * den_lo) > den_lo
        inrange = sf <= af
        live = (nf >= 1.0) & (af >= 1.0) & (t <= _SERIES_MAX)
        alive = nf >= 0.0
        accepted = live & inrange & acc1
        rare = alive & ~(live & (~inrange | acc1 | rej2))
        step = (sf + 1.0) if accepted else 0.0
        acc[out + l] = (e0 + sf) if accepted else (-2.0 if rare else -1.0)
        st[l] = bf - step
        st[l + _U(LANES)] = nf - (1.0 if accepted else 0.0)
        st[l + _U(2 * LANES)] = e0 + step
        flagged += np.int64(rare)
    return flagged


@numba.njit(**JIT)
def _scalar_pass(it, st, ww, acc, tail):
    """The flagged trials of iteration ``it``, by the scalar trial of today's walk."""
    for lane in range(LANES):
        k = it * LANES + lane
        if acc[k] != -2.0:
            continue
        bf, nf, e0f = st[lane], st[lane + LANES], st[lane + 2 * LANES]
        n = np.int64(nf) + 1
        n_r = np.int64(bf) + 1
        e0 = np.int64(e0f)
        if n == n_r:  # every candidate left: no word read, the line ends
            tail[lane] = e0
            tail[lane + LANES] = n
            st[lane + LANES] = -1.0
            acc[k] = -1.0
            continue
        w1 = ww[it * 2 * LANES + lane]
        w2 = ww[it * 2 * LANES + LANES + lane]
        accepted, p, b_f, _, _, _, _ = _trial(n, e0, bf, nf, True, 0.0, 0.0, 0.0, n_r, w1, w2)
        if accepted:
            acc[k] = np.float64(p)
            st[lane] = b_f
            st[lane + LANES] = nf - 1.0
            st[lane + 2 * LANES] = np.float64(p + 1)
        else:
            acc[k] = -1.0


@numba.njit(**JIT)
def simd_walk(rk0, rk1, num_conn, n_eff, skip, lines, out, counts):
    """Whole lines ``lines`` walked LANES at a time: ``out[i, :counts[i]]`` = the entries of line ``lines[i]``."""
    n_lines = lines.size
    st = np.empty(3 * LANES, dtype=np.float64)
    tw = np.empty(2 * ITB * LANES, dtype=np.float64)
    ww = np.empty(2 * ITB * LANES, dtype=np.uint64)
    acc = np.empty(ITB * LANES, dtype=np.float64)
    tail = np.zeros(2 * LANES, dtype=np.int64)
    lines_g = np.empty(LANES, dtype=np.uint64)
    for g in range(0, n_lines, LANES):
        for lane in range(LANES):
            i = g + lane
            live = i < n_lines
            lines_g[lane] = np.uint64(lines[i] if live else 0)
            st[lane] = np.float64(n_eff - 1)
            st[lane + LANES] = np.float64(num_conn - 1) if live else -1.0
            st[lane + 2 * LANES] = 0.0
            tail[lane] = 0
            tail[lane + LANES] = 0
            if live:
                counts[i] = 0
        d0 = 0
        while True:
            alive = 0
            for lane in range(LANES):
                alive += st[lane + LANES] >= 0.0
            if alive == 0:
                break
            _fill_words(rk0, rk1, lines_g, d0, ww, tw)
            for it in range(ITB):
                if _vector_step(it, st, tw, acc):
                    _scalar_pass(it, st, ww, acc, tail)
            for lane in range(LANES):
                i = g + lane
                if i >= n_lines:
                    continue
                line = lines[i]
                c = counts[i]
                for it in range(ITB):
                    v = acc[it * LANES + lane]
                    if v >= 0.0:
                        e = np.int64(v)
                        out[i, c] = e + np.int64(skip and e >= line)
                        c += 1
                counts[i] = c
            d0 += ITB // 2
        for lane in range(LANES):
            i = g + lane
            if i >= n_lines:
                continue
            line = lines[i]
            c = counts[i]
            for e in range(tail[lane], tail[lane] + tail[lane + LANES]):
                out[i, c] = e + np.int64(skip and e >= line)
                c += 1
            counts[i] = c


@numba.njit(**JIT)
def today_walk(rk0, rk1, num_conn, n_eff, n_minor, skip, lines, out, counts, first_draws):
    """Today's walk, batch by batch as the product kernels call it (first batch, then 8 draws)."""
    positions = np.empty(4 * 64, dtype=np.int64)
    words = np.empty(4 * 64, dtype=np.uint64)
    tb = np.empty(1, dtype=np.int64)
    tt = np.empty(1, dtype=np.uint32)
    for i in range(lines.size):
        line = lines[i]
        pos = np.int64(-1)
        aux = np.int64(0)
        t = np.int64(0)
        n_draws = first_draws
        c = 0
        while True:
            walked, pos, aux, done = fixed_walk(rk0, rk1, 0.0, tb, tt, num_conn, n_eff, skip, line, 0, t, n_draws,
                                                pos, aux, n_minor, positions, words, 0)
            for s in range(walked):
                out[i, c] = positions[s]
                c += 1
            if done:
                break
            t += n_draws
            n_draws = 8
        counts[i] = c


def _first_draws(prob, end):
    expected = prob * end
    draws = int((expected + np.sqrt(expected) + 1.0) * 0.25)
    return min((draws + 8) & ~7, 64)


def main():
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--n", type=int, default=100_000)
    parser.add_argument("--k", type=int, default=1000)
    parser.add_argument("--lines", type=int, default=4000)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--asm", action="store_true", help="print the vector step's machine code summary")
    args = parser.parse_args()
    numba.set_num_threads(1)
    rk0, rk1 = round_key_arrays(SEED & 0xFFFFFFFF, SEED >> 32)
    n, k = args.n, args.k
    lines = np.arange(args.lines, dtype=np.int64)
    for skip in (False, True):
        n_eff = n - 1 if skip else n
        fd = _first_draws(k / n_eff, n)
        outs = {}
        runs = {
            "today": lambda o, c, n_eff=n_eff, skip=skip, fd=fd: today_walk(rk0, rk1, k, n_eff, n, skip, lines, o, c,
                                                                            fd),
            "lanes": lambda o, c, n_eff=n_eff, skip=skip: simd_walk(rk0, rk1, k, n_eff, skip, lines, o, c),
        }
        for name, f in runs.items():
            o = np.full((lines.size, k), -7, dtype=np.int64)
            c = np.zeros(lines.size, dtype=np.int64)
            f(o, c)
            outs[name] = (o, c)
        (o1, c1), (o2, c2) = outs["today"], outs["lanes"]
        assert (c1 == k).all() and (c2 == k).all(), (c1.min(), c2.min(), c2.max())
        assert np.array_equal(o1, o2), np.argwhere(o1 != o2)[:5]
        # The reference on a few lines (the lanes' walk against the spec's own walk).
        item, pos, _ = _rule_fixed.walk_lines((SEED & 0xFFFFFFFF, SEED >> 32), lines[:9], n, k, skip,
                                                 np.full(9, n))
        for r in range(9):
            assert np.array_equal(pos[item == r], o2[r]), r
        times = {name: [] for name in runs}
        o = np.empty((lines.size, k), dtype=np.int64)
        c = np.empty(lines.size, dtype=np.int64)
        for _ in range(args.rounds):
            for name, f in runs.items():
                t0 = time.process_time()
                f(o, c)
                times[name].append(time.process_time() - t0)
        per = {name: min(v) / max(lines.size * k, 1) * 1e9 for name, v in times.items()}
        print(f"include_self={not skip}: N'={n_eff} K={k} lines={lines.size}: positions identical; "
              f"today {per['today']:.2f} ns/conn, {LANES}-lane {per['lanes']:.2f} ns/conn, "
              f"speed-up {per['today'] / per['lanes']:.2f}x")
    if args.asm:
        for fn in (_fill_words, _vector_step):
            asm = fn.inspect_asm(fn.signatures[0])
            found = {op: (len(re.findall(op + r"\s[^\n]*zmm", asm)), len(re.findall(op + r"\s[^\n]*ymm", asm)),
                          len(re.findall(op + r"\s", asm))) for op in _ASM_OPS}
            print(fn.__name__, "(zmm, ymm, all):", ", ".join(f"{op} {v}" for op, v in found.items() if v[2]))

if __name__ == "__main__":
    main()
