"""The random primitives of spec v1, in NumPy.

Everything here is deterministic to the bit on every IEEE-754 machine:
Philox4x32-10 is integer arithmetic, and ``ln``/``ndtri`` use only correctly
rounded ``+ - * / sqrt`` in a fixed order plus integer bit manipulation.
Platform ``log`` is never used, because it differs between CPUs, libms and
GPUs in the last bit, and one such bit can move a whole block of synapses.

The CUDA twin of these routines lives beside the GPU kernels; the Numba twin
in ``lazyconn.kernels.cpu``.  ``tests/test_random.py`` holds them to the
Random123 known-answer vectors, to ``math.log`` (<= 1 ulp) and to
``statistics.NormalDist`` (which implements the same AS241 algorithm).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "philox4x32",
    "round_keys",
    "words_to_uniform",
    "ln",
    "ln1p_scalar",
    "ndtri",
    "PHILOX_ROUNDS",
]

# Philox4x32 constants: Salmon, Moraes, Dror & Shaw, "Parallel random numbers:
# as easy as 1, 2, 3", SC'11, and Random123's philox.h.
PHILOX_M0 = 0xD2511F53
PHILOX_M1 = 0xCD9E8D57
PHILOX_W0 = 0x9E3779B9  # golden ratio, Weyl key increment
PHILOX_W1 = 0xBB67AE85  # sqrt(3) - 1, Weyl key increment
PHILOX_ROUNDS = 10

_MASK32 = np.uint64(0xFFFFFFFF)
_SHIFT32 = np.uint64(32)


def philox4x32(counter, key):
    """Philox4x32-10 block function, vectorised.

    Parameters
    ----------
    counter : sequence of 4 array_like of uint32
        The four counter words ``(c0, c1, c2, c3)``; they broadcast together.
    key : tuple of 2 int
        The two key words ``(k0, k1)``, each in ``[0, 2**32)``.

    Returns
    -------
    tuple of 4 ndarray of uint32
        The four output words, with the broadcast shape of the counters.
    """
    c0, c1, c2, c3 = np.broadcast_arrays(*(np.asarray(c, dtype=np.uint64) for c in counter))
    m0 = np.uint64(PHILOX_M0)
    m1 = np.uint64(PHILOX_M1)
    for k0, k1 in zip(*round_keys(key[0], key[1])):
        # A 32x32 product fits exactly in uint64: hi/lo are its two halves.
        prod0 = m0 * c0
        prod1 = m1 * c2
        c0, c1, c2, c3 = (
            (prod1 >> _SHIFT32) ^ c1 ^ np.uint64(k0),
            prod1 & _MASK32,
            (prod0 >> _SHIFT32) ^ c3 ^ np.uint64(k1),
            prod0 & _MASK32,
        )
    return tuple(c.astype(np.uint32) for c in (c0, c1, c2, c3))


def round_keys(key0, key1):
    """The Philox4x32-10 key schedule: the key of each of the ten rounds.

    The one place the schedule is written on the host: the NumPy
    :func:`philox4x32` and the Numba kernels (through their driver) both
    take their round keys from here.

    Parameters
    ----------
    key0, key1 : int
        The two key words (only their low 32 bits are used).

    Returns
    -------
    rk0, rk1 : tuple of int
        ``PHILOX_ROUNDS`` words each: round ``r`` uses ``(rk0[r], rk1[r])``,
        the key plus ``r`` times the Weyl increments, modulo ``2**32``.
    """
    k0 = int(key0) & 0xFFFFFFFF
    k1 = int(key1) & 0xFFFFFFFF
    rk0 = tuple((k0 + r * PHILOX_W0) & 0xFFFFFFFF for r in range(PHILOX_ROUNDS))
    rk1 = tuple((k1 + r * PHILOX_W1) & 0xFFFFFFFF for r in range(PHILOX_ROUNDS))
    return rk0, rk1


_TWO_M32 = 2.0**-32


def words_to_uniform(words):
    """Map 32-bit words ``w`` to ``u = (w + 0.5) * 2**-32`` in (0, 1), exactly.

    Parameters
    ----------
    words : array_like of uint32

    Returns
    -------
    ndarray of float64
        Every value is an odd multiple of ``2**-33``, so ``1 - u`` is exact too.
    """
    return (np.asarray(words, dtype=np.float64) + 0.5) * _TWO_M32


# ---------------------------------------------------------------------------
# ln: an fdlibm-style logarithm (Sun Microsystems fdlibm 5.3, e_log.c: the
# reduction x = 2**k * (1 + f), s = f / (2 + f), and its minimax coefficients
# Lg1..Lg7 for log(1+f) = 2s + s*R(s*s)).  Written here with one branch only,
# so the exact operation order is short enough to pin in docs/spec.md and to
# repeat verbatim in the Numba and CUDA twins.
LN2_HI = float.fromhex("0x1.62e42fee00000p-1")  # 6.93147180369123816490e-01
LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")  # 1.90821492927058770002e-10
LG1 = float.fromhex("0x1.5555555555593p-1")  # 6.666666666666735130e-01
LG2 = float.fromhex("0x1.999999997fa04p-2")  # 3.999999999940941908e-01
LG3 = float.fromhex("0x1.2492494229359p-2")  # 2.857142874366239149e-01
LG4 = float.fromhex("0x1.c71c51d8e78afp-3")  # 2.222219843214978396e-01
LG5 = float.fromhex("0x1.7466496cb03dep-3")  # 1.818357216161805012e-01
LG6 = float.fromhex("0x1.39a09d078c69fp-3")  # 1.531383769920937332e-01
LG7 = float.fromhex("0x1.2f112df3e5244p-3")  # 1.479819860511658591e-01
# Mantissa bits of sqrt(2): a mantissa above this is halved (k += 1) so that
# 1 + f lies in [sqrt(2)/2, sqrt(2)].
SQRT2_FRACTION_BITS = 0x6A09E667F3BCD
_FRACTION_MASK = np.uint64((1 << 52) - 1)
_EXP_ONE = np.uint64(0x3FF << 52)
_EXP_HALF = np.uint64(0x3FE << 52)


def _ln_core(f, k):
    """Shared polynomial step of ``ln``: ``ln(2**k * (1 + f))``."""
    s = f / (2.0 + f)
    z = s * s
    w = z * z
    t1 = w * (LG2 + w * (LG4 + w * LG6))
    t2 = z * (LG1 + w * (LG3 + w * (LG5 + w * LG7)))
    r = t2 + t1
    hfsq = 0.5 * f * f
    return k * LN2_HI - ((hfsq - (s * (hfsq + r) + k * LN2_LO)) - f)


def ln(x):
    """Deterministic natural logarithm of positive normal float64 values.

    Parameters
    ----------
    x : array_like of float64
        Positive, finite, normal numbers (every ``u`` of the spec is one).

    Returns
    -------
    ndarray of float64
        Within 1 ulp of the exact logarithm; bit-identical on every backend.
    """
    x = np.ascontiguousarray(x, dtype=np.float64)
    bits = x.view(np.uint64)
    k = (bits >> np.uint64(52)).astype(np.int64) - 1023
    fraction = bits & _FRACTION_MASK
    upper = fraction > np.uint64(SQRT2_FRACTION_BITS)
    k = k + upper
    y = (fraction | np.where(upper, _EXP_HALF, _EXP_ONE)).view(np.float64)
    f = y - 1.0  # exact (Sterbenz)
    return _ln_core(f, k.astype(np.float64))


def _ln_scalar(x):
    """``ln`` of one Python float, by the same operations as :func:`ln`."""
    if x == 0.0:
        return -math.inf
    mantissa, exponent = math.frexp(x)  # x = mantissa * 2**exponent, mantissa in [0.5, 1)
    y = mantissa * 2.0  # exact
    k = exponent - 1
    if y > float.fromhex("0x1.6a09e667f3bcdp+0"):
        y *= 0.5
        k += 1
    return _ln_core(y - 1.0, float(k))


def ln1p_scalar(x):
    """Deterministic ``ln(1 + x)`` of one float, for per-matrix constants.

    Uses Goldberg's correction ``ln(1 + x) = ln(v) * x / (v - 1)`` with
    ``v = fl(1 + x)``, so tiny ``x`` keeps full relative accuracy.

    Parameters
    ----------
    x : float
        A number in ``[-1, inf)``.

    Returns
    -------
    float
        ``-inf`` for ``x == -1``.
    """
    x = float(x)
    v = 1.0 + x
    if v == 1.0:
        return x
    if v == 0.0:
        return -math.inf
    return _ln_scalar(v) * (x / (v - 1.0))


# ---------------------------------------------------------------------------
# ndtri: Wichura, "Algorithm AS 241: The percentage points of the normal
# distribution", Applied Statistics 37 (1988) 477-484, PPND16 coefficients.
AS241_A = (
    3.3871328727963666080e0,
    1.3314166789178437745e2,
    1.9715909503065514427e3,
    1.3731693765509461125e4,
    4.5921953931549871457e4,
    6.7265770927008700853e4,
    3.3430575583588128105e4,
    2.5090809287301226727e3,
)
AS241_B = (
    1.0,
    4.2313330701600911252e1,
    6.8718700749205790830e2,
    5.3941960214247511077e3,
    2.1213794301586595867e4,
    3.9307895800092710610e4,
    2.8729085735721942674e4,
    5.2264952788528545610e3,
)
AS241_C = (
    1.42343711074968357734e0,
    4.63033784615654529590e0,
    5.76949722146069140550e0,
    3.64784832476320460504e0,
    1.27045825245236838258e0,
    2.41780725177450611770e-1,
    2.27238449892691845833e-2,
    7.74545014278341407640e-4,
)
AS241_D = (
    1.0,
    2.05319162663775882187e0,
    1.67638483018380384940e0,
    6.89767334985100004550e-1,
    1.48103976427480074590e-1,
    1.51986665636164571966e-2,
    5.47593808499534494600e-4,
    1.05075007164441684324e-9,
)
AS241_E = (
    6.65790464350110377720e0,
    5.46378491116411436990e0,
    1.78482653991729133580e0,
    2.96560571828504891230e-1,
    2.65321895265761230930e-2,
    1.24266094738807843860e-3,
    2.71155556874348757815e-5,
    2.01033439929228813265e-7,
)
AS241_F = (
    1.0,
    5.99832206555887937690e-1,
    1.36929880922735805310e-1,
    1.48753612908506148525e-2,
    7.86869131145613259100e-4,
    1.84631831751005468180e-5,
    1.42151175831644588870e-7,
    2.04426310338993978564e-15,
)
AS241_SPLIT1 = 0.425
AS241_SPLIT2 = 5.0
AS241_CONST1 = 0.180625
AS241_CONST2 = 1.6


def _horner(coefficients, r):
    """Evaluate ``sum c[i] r**i`` by Horner's rule, highest power first."""
    acc = coefficients[-1]
    for c in coefficients[-2::-1]:
        acc = acc * r + c
    return acc


def ndtri(u):
    """Deterministic inverse of the standard normal CDF (AS241 PPND16).

    Parameters
    ----------
    u : array_like of float64
        Probabilities in (0, 1).

    Returns
    -------
    ndarray of float64
        About 1e-16 relative accuracy; bit-identical on every backend.
    """
    u = np.asarray(u, dtype=np.float64)
    q = u - 0.5
    central = np.abs(q) <= AS241_SPLIT1
    out = np.empty_like(u)

    qc = q[central]
    r = AS241_CONST1 - qc * qc
    out[central] = qc * _horner(AS241_A, r) / _horner(AS241_B, r)

    qt = q[~central]
    ut = u[~central]
    tail = np.where(qt < 0.0, ut, 1.0 - ut)  # 1 - u is exact for u > 0.5
    r = np.sqrt(-ln(tail))
    near = r <= AS241_SPLIT2
    value = np.empty_like(r)
    rn = r[near] - AS241_CONST2
    value[near] = _horner(AS241_C, rn) / _horner(AS241_D, rn)
    rf = r[~near] - AS241_SPLIT2
    value[~near] = _horner(AS241_E, rf) / _horner(AS241_F, rf)
    out[~central] = np.where(qt < 0.0, -value, value)
    return out
