"""Numba twins of :mod:`lazyconn.random`: Philox4x32-10, ``ln`` and ``ndtri``; the laws' weights.

Every routine performs exactly the operations of its NumPy original, in the
same order, so the realised matrix is bit-identical to the reference backend.
Numba without ``fastmath`` emits no FMA contraction and no reassociation, and
``math.sqrt`` lowers to the correctly rounded ``llvm.sqrt``; that is what
makes the twins exact.  ``tests/test_cpu_kernels.py`` checks them word for
word against the NumPy routines.

On top of the scalar routines sit the batch fillers used by every kernel
(DESIGN §2b): gaps, gap-stream words and weight uniforms for a run of draws
are computed into small buffers by straight-line loops that LLVM vectorises
(the Philox rounds and ``ln`` are inlined at Numba-IR level for that), and
weights for many connections at once.  The exact gap table replaces ``ln``
for most gap words.

The Numba functions of the weight laws that need these primitives (Normal,
LogNormal with the ``exp`` of :mod:`._cpu_exp`, Exponential) live here too;
the law records in :mod:`lazyconn.laws` name them.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from .. import random as _ref
from ..spec import GAP_CLAMP
from . import _numba_cache
from ._cpu_exp import exp

__all__ = [
    "philox4x32",
    "word_to_uniform",
    "ln",
    "ndtri",
    "round_key_arrays",
    "fill_gaps",
    "fill_gap_words",
    "fill_uniforms",
    "table_gap",
    "gap_table",
    "gap_of_word",
    "normal_weight",
    "normal_weights",
    "lognormal_weight",
    "lognormal_weights",
    "exponential_weight",
    "round_to_float32",
]

# Every generator-path function shares these options: error_model="numpy"
# removes the zero-division check that blocks vectorisation (DESIGN §2b);
# fastmath stays off so that no operation is contracted or reordered.  The
# on-disk cache is keyed on every kernel source (_numba_cache.install below).
JIT_OPTIONS = dict(nogil=True, cache=True, error_model="numpy", fastmath=False)
# The per-draw primitives are inlined at Numba-IR level: LLVM's own inliner
# leaves the unrolled Philox as a call, and a call in a batch loop stops it
# from being vectorised.
INLINE_OPTIONS = dict(JIT_OPTIONS, inline="always")

# Philox4x32 constants, taken from lazyconn.random (Salmon et al., SC'11).
_M0 = np.uint64(_ref.PHILOX_M0)
_M1 = np.uint64(_ref.PHILOX_M1)
_MASK32 = np.uint64(0xFFFFFFFF)
_S32 = np.uint64(32)
_S52 = np.uint64(52)

_TWO_M32 = 2.0**-32
# ln constants (fdlibm 5.3 e_log.c), taken from lazyconn.random.
_LN2_HI = _ref.LN2_HI
_LN2_LO = _ref.LN2_LO
_LG1, _LG2, _LG3, _LG4 = _ref.LG1, _ref.LG2, _ref.LG3, _ref.LG4
_LG5, _LG6, _LG7 = _ref.LG5, _ref.LG6, _ref.LG7
_SQRT2_FRACTION_BITS = np.uint64(_ref.SQRT2_FRACTION_BITS)
_FRACTION_MASK = np.uint64((1 << 52) - 1)
_EXP_ONE = np.uint64(0x3FF << 52)
_EXP_HALF = np.uint64(0x3FE << 52)

_A0, _A1, _A2, _A3, _A4, _A5, _A6, _A7 = _ref.AS241_A
_B0, _B1, _B2, _B3, _B4, _B5, _B6, _B7 = _ref.AS241_B
_C0, _C1, _C2, _C3, _C4, _C5, _C6, _C7 = _ref.AS241_C
_D0, _D1, _D2, _D3, _D4, _D5, _D6, _D7 = _ref.AS241_D
_E0, _E1, _E2, _E3, _E4, _E5, _E6, _E7 = _ref.AS241_E
_F0, _F1, _F2, _F3, _F4, _F5, _F6, _F7 = _ref.AS241_F
_SPLIT1 = _ref.AS241_SPLIT1
_SPLIT2 = _ref.AS241_SPLIT2
_CONST1 = _ref.AS241_CONST1
_CONST2 = _ref.AS241_CONST2
_GAP_CLAMP = GAP_CLAMP

_U1, _U2, _U3 = np.uint64(1), np.uint64(2), np.uint64(3)
DOMAIN_GAPS = np.uint64(0)
DOMAIN_WEIGHTS = np.uint64(1)


@intrinsic
def _float64_bits(typingctx, x):
    """Reinterpret a float64 as its uint64 bit pattern (an LLVM bitcast)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.uint64(types.float64), codegen


@intrinsic
def _bits_float64(typingctx, x):
    """Reinterpret a uint64 bit pattern as a float64 (an LLVM bitcast)."""
    if x != types.uint64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.uint64), codegen


def round_key_arrays(key0, key1):
    """The ten Philox round keys of ``(key0, key1)``, as two uint32 arrays.

    The schedule is :func:`lazyconn.random.round_keys`; computing it once
    per matrix keeps the Weyl increments out of the per-draw loops, and
    storing the keys as uint32 tells LLVM that their high bits are zero, so
    the 32x32 products stay 32-bit multiplies (``vpmuludq``).

    Parameters
    ----------
    key0, key1 : int
        The Philox key words.

    Returns
    -------
    rk0, rk1 : ndarray of uint32, shape (10,)
    """
    rk0, rk1 = _ref.round_keys(key0, key1)
    return np.array(rk0, dtype=np.uint32), np.array(rk1, dtype=np.uint32)


@numba.njit(**INLINE_OPTIONS)
def _philox_round(c0, c1, c2, c3, k0, k1):
    p0 = _M0 * c0
    p1 = _M1 * c2
    return (
        (p1 >> _S32) ^ c1 ^ np.uint64(k0),
        p1 & _MASK32,
        (p0 >> _S32) ^ c3 ^ np.uint64(k1),
        p0 & _MASK32,
    )


@numba.njit(**INLINE_OPTIONS)
def philox4x32(c0, c1, c2, c3, rk0, rk1):
    """Philox4x32-10 of one counter (four uint64 words < 2**32).

    ``rk0``/``rk1`` are the round keys from :func:`round_key_arrays`.  The 32x32
    products fit exactly in uint64; hi/lo are their two halves, as in
    :func:`lazyconn.random.philox4x32`.  The ten rounds are written out so
    that the batch loops calling this are innermost loops, which LLVM
    vectorises.
    """
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, rk0[0], rk1[0])
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, rk0[1], rk1[1])
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, rk0[2], rk1[2])
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, rk0[3], rk1[3])
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, rk0[4], rk1[4])
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, rk0[5], rk1[5])
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, rk0[6], rk1[6])
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, rk0[7], rk1[7])
    c0, c1, c2, c3 = _philox_round(c0, c1, c2, c3, rk0[8], rk1[8])
    return _philox_round(c0, c1, c2, c3, rk0[9], rk1[9])


@numba.njit(**INLINE_OPTIONS)
def word_to_uniform(w):
    """``u = (w + 0.5) * 2**-32``, exact (``w`` is a uint64 < 2**32)."""
    return (np.float64(w) + 0.5) * _TWO_M32


@numba.njit(**INLINE_OPTIONS)
def _ln_core(f, k):
    # Same operations, same order as lazyconn.random._ln_core.
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (_LG2 + w * (_LG4 + w * _LG6))
    t2 = z * (_LG1 + w * (_LG3 + w * (_LG5 + w * _LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    return k * _LN2_HI - ((hfsq - (s * (hfsq + r) + k * _LN2_LO)) - f)


@numba.njit(**INLINE_OPTIONS)
def ln(x):
    """Deterministic ``ln`` of a positive normal float64 (twin of ``random.ln``)."""
    bits = _float64_bits(x)
    k = np.int64(bits >> _S52) - 1023
    fraction = bits & _FRACTION_MASK
    upper = fraction > _SQRT2_FRACTION_BITS
    # Select, not branch, so that batch loops stay vectorisable.
    k = k + np.int64(upper)
    exponent = _EXP_HALF if upper else _EXP_ONE
    f = _bits_float64(fraction | exponent) - 1.0  # exact (Sterbenz)
    return _ln_core(f, np.float64(k))


@numba.njit(**INLINE_OPTIONS)
def _ndtri_central(q):
    # |q| <= 0.425: q * A(r) / B(r), Horner highest power first.
    r = _CONST1 - q * q
    num = ((((((_A7 * r + _A6) * r + _A5) * r + _A4) * r + _A3) * r + _A2) * r + _A1) * r + _A0
    den = ((((((_B7 * r + _B6) * r + _B5) * r + _B4) * r + _B3) * r + _B2) * r + _B1) * r + _B0
    return q * num / den


@numba.njit(**INLINE_OPTIONS)
def _ndtri_near(r):
    # 0.425 < |q|, r <= 5: C(r - 1.6) / D(r - 1.6).
    r = r - _CONST2
    num = ((((((_C7 * r + _C6) * r + _C5) * r + _C4) * r + _C3) * r + _C2) * r + _C1) * r + _C0
    den = ((((((_D7 * r + _D6) * r + _D5) * r + _D4) * r + _D3) * r + _D2) * r + _D1) * r + _D0
    return num / den


@numba.njit(**INLINE_OPTIONS)
def _ndtri_far(r):
    # r > 5: E(r - 5) / F(r - 5).  Unreachable from the spec's uniforms
    # (u >= 2**-33 gives r <= 4.79), kept so that ndtri is the whole AS241.
    r = r - _SPLIT2
    num = ((((((_E7 * r + _E6) * r + _E5) * r + _E4) * r + _E3) * r + _E2) * r + _E1) * r + _E0
    den = ((((((_F7 * r + _F6) * r + _F5) * r + _F4) * r + _F3) * r + _F2) * r + _F1) * r + _F0
    return num / den


@numba.njit(**INLINE_OPTIONS)
def _ndtri_tail_r(u, q):
    # |q| > 0.425: 1 - u is exact for u > 0.5 (u is an odd multiple of 2**-33).
    tail = u if q < 0.0 else 1.0 - u
    return math.sqrt(-ln(tail))


@numba.njit(**JIT_OPTIONS)
def _ndtri_tail(u, q):
    r = _ndtri_tail_r(u, q)
    value = _ndtri_near(r) if r <= _SPLIT2 else _ndtri_far(r)
    return -value if q < 0.0 else value


@numba.njit(**JIT_OPTIONS)
def ndtri(u):
    """Inverse standard normal CDF, AS241 PPND16 (twin of ``random.ndtri``)."""
    q = u - 0.5
    if abs(q) <= _SPLIT1:
        return _ndtri_central(q)
    return _ndtri_tail(u, q)


@numba.njit(**INLINE_OPTIONS)
def gap_of_word(w, inv_log_q):
    """The gap of one gap-stream word: ``floor(min(ln(u) * inv_log_q, 2**23))``.

    The product is >= +0.0 (ln(u) < 0 and inv_log_q <= -0.0), so truncation
    equals floor.
    """
    return np.int64(min(ln(word_to_uniform(w)) * inv_log_q, _GAP_CLAMP))


@numba.njit(**JIT_OPTIONS)
def fill_gaps(rk0, rk1, line, block, t0, n_draws, inv_log_q, gaps, at):
    """Gaps of draws ``t0 .. t0 + n_draws`` of item ``(line, block)``.

    Writes ``gaps[at + 4 * i + q]`` = gap of connection slot ``4 * (t0 + i) + q``.
    """
    c1 = np.uint64(block)
    c2 = np.uint64(line)
    for i in range(n_draws):
        w0, w1, w2, w3 = philox4x32(np.uint64(t0 + i), c1, c2, DOMAIN_GAPS, rk0, rk1)
        # Unsigned indices: a signed one that LLVM cannot prove >= 0 carries
        # Numba's wraparound test, which keeps the loop from vectorising.
        j = np.uint64(at) + np.uint64(4 * i)
        gaps[j] = gap_of_word(w0, inv_log_q)
        gaps[j + _U1] = gap_of_word(w1, inv_log_q)
        gaps[j + _U2] = gap_of_word(w2, inv_log_q)
        gaps[j + _U3] = gap_of_word(w3, inv_log_q)


# ---------------------------------------------------------------------------
# The gap table (DESIGN §2b).  gap(w) is a non-increasing step function of the
# word w, because ln is non-decreasing on the u grid (tests/test_random.py
# checks it; the spec's author checked all 2**32 words).  So over a bucket of
# words sharing their top TABLE_BITS bits, gap(w) either is constant, or
# takes two values with one threshold word between them, or has several
# steps.  The table stores (base, threshold) for the first two cases and
# base = -1 for the third, where the exact ln is computed instead.  Every
# gap it gives is the exact gap: same bits, no ln for most connections.
TABLE_BITS = 14
_TABLE_SHIFT = np.uint64(32 - TABLE_BITS)
_BUCKET_LAST = np.uint64((1 << (32 - TABLE_BITS)) - 1)


@numba.njit(**JIT_OPTIONS)
def gap_table(inv_log_q):
    """Build the gap table of one connection probability.

    Returns
    -------
    base : ndarray of int32, shape (2**TABLE_BITS,)
        Gap of the bucket's last word, or -1 where the bucket has several steps.
    threshold : ndarray of uint32
        Words below it have gap ``base + 1``; 0 where the bucket is constant.
    """
    n = 1 << TABLE_BITS
    base = np.empty(n, dtype=np.int32)
    threshold = np.zeros(n, dtype=np.uint32)
    for bucket in range(n):
        lo = np.uint64(bucket) << _TABLE_SHIFT
        hi = lo + _BUCKET_LAST
        gap_lo = gap_of_word(lo, inv_log_q)
        gap_hi = gap_of_word(hi, inv_log_q)
        if gap_lo == gap_hi:
            base[bucket] = gap_hi
        elif gap_lo == gap_hi + 1:
            # Smallest word with the lower gap: gap(a) == gap_lo, gap(b) == gap_hi.
            a, b = lo, hi
            while b - a > np.uint64(1):
                mid = a + ((b - a) >> np.uint64(1))
                if gap_of_word(mid, inv_log_q) == gap_hi:
                    b = mid
                else:
                    a = mid
            base[bucket] = gap_hi
            threshold[bucket] = b
        else:
            base[bucket] = -1
    return base, threshold


@numba.njit(**JIT_OPTIONS)
def fill_gap_words(rk0, rk1, line, block, t0, n_draws, words):
    """The raw gap-stream words of draws ``t0 .. t0 + n_draws`` of ``(line, block)``.

    Used with the gap table: Philox is vectorised here, and the table lookup
    goes into the (scalar) walk.  Gathers from the table do not vectorise
    profitably on this hardware (LLVM keeps that loop scalar), so doing the
    lookups in a separate pass would only add a store and a load per slot.
    """
    c1 = np.uint64(block)
    c2 = np.uint64(line)
    for i in range(n_draws):
        w0, w1, w2, w3 = philox4x32(np.uint64(t0 + i), c1, c2, DOMAIN_GAPS, rk0, rk1)
        words[4 * i] = w0
        words[4 * i + 1] = w1
        words[4 * i + 2] = w2
        words[4 * i + 3] = w3


@numba.njit(**INLINE_OPTIONS)
def table_gap(w, inv_log_q, base, threshold):
    """The exact gap of word ``w`` from the gap table, or from ``ln`` in a several-step bucket."""
    bucket = w >> _TABLE_SHIFT
    gap = np.int64(base[bucket])
    if gap < 0:
        return _gap_exact(w, inv_log_q)
    return gap + np.int64(w < np.uint64(threshold[bucket]))


@numba.njit(**JIT_OPTIONS)
def _gap_exact(w, inv_log_q):
    # Not inlined on purpose: inlined, LLVM if-converts the rare fallback and
    # vectorises it, computing ln on every lane (slower than no table at all).
    return gap_of_word(w, inv_log_q)


@numba.njit(**JIT_OPTIONS)
def fill_uniforms(rk0, rk1, line, block, t0, n_slots, uniforms, at):
    """Weight uniforms of slots ``4 * t0 .. 4 * t0 + n_slots`` of item ``(line, block)``.

    Writes ``4 * ceil(n_slots / 4)`` values from ``uniforms[at]`` on: domain
    1, connection slot ``4 * t + q`` uses word ``q`` of draw ``t``.
    """
    c1 = np.uint64(block)
    c2 = np.uint64(line)
    for i in range((n_slots + 3) >> 2):
        w0, w1, w2, w3 = philox4x32(np.uint64(t0 + i), c1, c2, DOMAIN_WEIGHTS, rk0, rk1)
        j = np.uint64(at) + np.uint64(4 * i)  # unsigned: see fill_gaps
        uniforms[j] = word_to_uniform(w0)
        uniforms[j + _U1] = word_to_uniform(w1)
        uniforms[j + _U2] = word_to_uniform(w2)
        uniforms[j + _U3] = word_to_uniform(w3)


@numba.njit(**JIT_OPTIONS)
def normal_weight(u, a, b):
    """One Normal weight ``a + b * ndtri(u)`` (the Normal law's Numba function)."""
    return a + b * ndtri(u)


@numba.njit(**JIT_OPTIONS)
def normal_weights(n, a, b, uniforms, weights, tail_index, tail_r):
    """``weights[:n] = a + b * ndtri(uniforms[:n])``, bit-equal to :func:`normal_weight`.

    The Normal law's batch function.  AS241's central branch is computed
    on every lane in a vectorised pass, then the ~15 % tail lanes are
    compressed and computed in a second pass (DESIGN §2b): same bits, less
    time.  ``tail_index`` (int64) and ``tail_r`` are scratch of size ``n``.
    Callers pass hundreds of uniforms at once so that the tail pass is
    vectorised too.
    """
    # Pass 1, all lanes, vectorised: the central branch (85 % of draws).
    for s in range(n):
        weights[s] = a + b * _ndtri_central(uniforms[s] - 0.5)
    # Pass 2: compress the tail lanes (index and u, stored unconditionally
    # at the running count), compute them contiguously (vectorised), and
    # scatter them back; reading u through the index instead is slower.
    n_tail = 0
    for s in range(n):
        tail_index[n_tail] = s
        tail_r[n_tail] = uniforms[s]
        n_tail += abs(uniforms[s] - 0.5) > _SPLIT1
    for t in range(n_tail):
        u = tail_r[t]
        r = _ndtri_tail_r(u, u - 0.5)
        # Both branches as a select keeps this loop vectorised; the far
        # one is never chosen for the spec's uniforms (see _ndtri_far).
        value = _ndtri_near(r) if r <= _SPLIT2 else _ndtri_far(r)
        tail_r[t] = -value if u < 0.5 else value
    for t in range(n_tail):
        weights[tail_index[t]] = a + b * tail_r[t]


@numba.njit(**JIT_OPTIONS)
def lognormal_weight(u, a, b):
    """One LogNormal weight ``exp(a + b * ndtri(u))`` (the LogNormal law's Numba function)."""
    return exp(a + b * ndtri(u))


@numba.njit(**JIT_OPTIONS)
def lognormal_weights(n, a, b, uniforms, weights, tail_index, tail_r):
    """``weights[:n] = exp(a + b * ndtri(uniforms[:n]))``, bit-equal to :func:`lognormal_weight`.

    The LogNormal law's batch function: the Normal law's two passes
    (:func:`normal_weights`, which gives ``a + b * ndtri(u)`` with the bits
    of :func:`normal_weight`), then the deterministic ``exp`` on every lane
    in one vectorised pass (``exp`` is select-only, no branch).
    """
    normal_weights(n, a, b, uniforms, weights, tail_index, tail_r)
    for s in range(n):
        weights[s] = exp(weights[s])


@numba.njit(**INLINE_OPTIONS)
def exponential_weight(u, a, b):
    """One Exponential weight ``a * ln(u)``, ``a = -scale`` (the Exponential law's Numba function).

    Inlined, so that the kernels' loop over a batch is vectorised.
    """
    return a * ln(u)


@numba.njit(**JIT_OPTIONS)
def round_to_float32(n, weights):
    """Round ``weights[:n]`` once to float32 (stored back as float64)."""
    for s in range(n):
        weights[s] = np.float64(np.float32(weights[s]))


_numba_cache.install(globals())  # last: every njit is defined, none compiled yet
