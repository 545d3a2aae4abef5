"""Deterministic ``exp`` for float64, pinned like ``ln`` (docs/spec.md).

The LogNormal weight law needs ``exp(mu + sigma * z)`` with the same bits on
every backend.  Platform ``exp`` (glibc, SVML, CUDA's ``exp``, NumPy's SIMD
loops) differs between machines in the last bit, so this module computes it
from correctly rounded IEEE-754 ``+ - * /`` and integer bit operations only,
in one fixed order that the Numba twin (``lazyconn/kernels/_cpu_exp.py``)
and the CUDA twin (``lazyconn/kernels/jitc_exp.cuh``) repeat verbatim.

Algorithm
---------
Sun Microsystems fdlibm 5.3, ``e_exp.c`` (K. C. Ng, 1993-2004): its argument
reduction, its Remez coefficients ``P1 .. P5`` and its reconstruction, written
here with one branch only (no ``|x| < 0.5 ln 2`` or ``|x| < 1.5 ln 2`` cases,
and a rounding by the 1.5 * 2**52 shifter in place of fdlibm's truncation of
``x / ln 2 +- 0.5``), so that the whole operation order fits in the spec:

1. Reduction, ``x = k ln 2 + r`` with ``|r| <= ln(2) / 2`` (up to rounding)::

       t  = x * INVLN2 + SHIFTER       # SHIFTER = 1.5 * 2**52: t - SHIFTER
       k  = t - SHIFTER                #   is x / ln 2 rounded to an integer
       hi = x - k * LN2_HI             # exact: LN2_HI has 32 significant
       lo = k * LN2_LO                 #   bits and |k| <= 1075 (Sterbenz)
       r  = hi - lo

2. ``exp(r)`` from fdlibm's minimax polynomial for
   ``R(z) = r (exp(r) + 1) / (exp(r) - 1) ~ 2 + P1 z + ... + P5 z**5``,
   ``z = r * r`` (error below 2**-59 on ``[0, 0.34658]``)::

       z = r * r
       c = r - z * (P1 + z * (P2 + z * (P3 + z * (P4 + z * P5))))
       y = 1 - ((lo - (r * c) / (2 - c)) - hi)        # exp(r), in [0.7, 1.42]

3. Scaling, ``exp(x) = y * 2**k``, as two exact-or-once-rounded products
   with normal powers of two (so subnormal results are rounded once)::

       k1 = floor(k / 2);  k2 = k - k1                # both in [-538, 512]
       exp(x) = (y * 2**k1) * 2**k2

Edges (checked before the steps above, in this order): NaN returns ``x``
itself (its bits kept); ``x > O_THRESHOLD`` (709.782712893384, +inf included)
returns +inf; ``x < U_THRESHOLD`` (-745.1332191019411, -inf included) returns
+0.0.  ``exp(+-0) = 1`` exactly, and tiny ``|x|`` gives the correctly rounded
``1 + x``.  fdlibm bounds the error below 1 ulp; measured against
``decimal`` (correctly rounded, 25 digits) on 930,000 inputs across the
range: at most 0.873 ulp (subnormal results: 0.739 units of 2**-1074), 92 %
correctly rounded.  Non-decreasing across every reduction switch point
(tests/test_exp.py).

Why NumPy and Python give exactly these operations: each NumPy ufunc call
(``np.multiply``, ``np.add``, ...) stores its float64 result to memory,
rounded once, before the next call reads it, so no two operations can be
fused into an FMA; NumPy has no expression compiler that could contract
them.  The scalar twin runs one CPython bytecode per operation on C doubles,
which is the same.  Both run on SSE2 (x86-64) or NEON (AArch64) doubles,
never x87 extended precision.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = [
    "O_THRESHOLD",
    "U_THRESHOLD",
    "exp",
    "exp_scalar",
]

# fdlibm 5.3 e_exp.c constants (hex float; the bits are the definition).
O_THRESHOLD = float.fromhex("0x1.62e42fefa39efp+9")  # 7.09782712893383973096e+02
U_THRESHOLD = float.fromhex("-0x1.74910d52d3051p+9")  # -7.45133219101941108420e+02
LN2_HI = float.fromhex("0x1.62e42fee00000p-1")  # 6.93147180369123816490e-01
LN2_LO = float.fromhex("0x1.a39ef35793c76p-33")  # 1.90821492927058770002e-10
INVLN2 = float.fromhex("0x1.71547652b82fep+0")  # 1.44269504088896338700e+00
P1 = float.fromhex("0x1.555555555553ep-3")  # 1.66666666666666019037e-01
P2 = float.fromhex("-0x1.6c16c16bebd93p-9")  # -2.77777777770155933842e-03
P3 = float.fromhex("0x1.1566aaf25de2cp-14")  # 6.61375632143793436117e-05
P4 = float.fromhex("-0x1.bbd41c5d26bf1p-20")  # -1.65339022054652515390e-06
P5 = float.fromhex("0x1.6376972bea4d0p-25")  # 4.13813679705723846039e-08
# Adding 1.5 * 2**52 rounds any |v| < 2**51 to an integer (ties to even),
# and subtracting it again is exact.
SHIFTER = float.fromhex("0x1.8p+52")

_EXPONENT_BIAS = 1023


def _exp_core(x):
    """Steps 1-3 of the module docstring for finite ``x`` in the thresholds.

    Works on NumPy arrays and on Python floats alike: the operations are the
    same, written once, so the scalar and array twins cannot drift apart.
    Returns ``y`` and ``k`` (float); the caller scales.
    """
    t = x * INVLN2 + SHIFTER
    k = t - SHIFTER
    hi = x - k * LN2_HI
    lo = k * LN2_LO
    r = hi - lo
    z = r * r
    c = r - z * (P1 + z * (P2 + z * (P3 + z * (P4 + z * P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    return y, k


def exp(x):
    """Deterministic ``exp`` of float64 values, bit-identical on every backend.

    Parameters
    ----------
    x : array_like of float64
        Any values, non-finite included.

    Returns
    -------
    ndarray of float64
        ``exp(x)`` within 1 ulp (subnormal results: within 1 unit of
        ``2**-1074``); +inf for ``x > O_THRESHOLD``; +0.0 for
        ``x < U_THRESHOLD``; a NaN ``x`` is returned unchanged.  The shape
        of ``x``.
    """
    x = np.asarray(x, dtype=np.float64)
    inside = (x >= U_THRESHOLD) & (x <= O_THRESHOLD)  # False for NaN
    # The core sees only in-range values (0.0 elsewhere), so that it raises
    # no floating-point warnings and its integer step cannot overflow.
    xin = np.where(inside, x, 0.0)
    y, k = _exp_core(xin)
    k1 = np.floor(k * 0.5)  # exact
    k2 = k - k1  # exact
    scale1 = ((k1.astype(np.int64) + _EXPONENT_BIAS) << 52).view(np.float64)
    scale2 = ((k2.astype(np.int64) + _EXPONENT_BIAS) << 52).view(np.float64)
    core = (y * scale1) * scale2
    out = np.where(x > O_THRESHOLD, np.inf, np.where(inside, core, 0.0))
    return np.where(np.isnan(x), x, out)


def _pow2(n):
    """``2.0 ** n`` for an integer ``-1022 <= n <= 1023``, from its bits."""
    return np.array((n + _EXPONENT_BIAS) << 52, dtype=np.int64).view(np.float64).item()


def exp_scalar(x):
    """Deterministic ``exp`` of one float, by the operations of :func:`exp`.

    Parameters
    ----------
    x : float
        Any value, non-finite included.

    Returns
    -------
    float
        The same bits as ``exp(np.array([x]))[0]``.
    """
    x = float(x)
    if math.isnan(x):
        return x
    if x > O_THRESHOLD:
        return math.inf
    if x < U_THRESHOLD:
        return 0.0
    y, k = _exp_core(x)
    k1 = math.floor(k * 0.5)
    k2 = int(k) - k1
    return (y * _pow2(k1)) * _pow2(k2)
