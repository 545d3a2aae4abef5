"""Numba twin of :mod:`lazyconn._exp`: the deterministic ``exp``.

:func:`exp` performs exactly the operations of ``lazyconn._exp._exp_core``
and its scaling, in the same order, so it returns the same bits as the NumPy
reference for every float64 input (``tests/test_exp.py`` compares them on
millions of inputs, reduction switch points included).  It is compiled
without ``fastmath``: Numba then emits plain ``fmul``/``fadd`` without the
``contract`` flag, so LLVM may not fuse a multiply and an add into an FMA
even on a CPU that has one, nor reassociate; ``tests/test_exp.py`` also
checks the machine code of :func:`exp_array` for FMA instructions.

:func:`exp` is inlined at Numba-IR level into its callers and compiled with
*their* options: a kernel that calls it must keep ``fastmath`` off too
(fastmath's ``contract`` flag alone fuses 21 multiply-adds in
:func:`exp_array`).

The edges are selects, not branches, so that a loop over :func:`exp` (as in
:func:`exp_array`, or a weight kernel) stays vectorisable; the integer
``k`` is read from the bits of the shifted ``t`` (``t = 1.5 * 2**52 + k``
exactly), which needs no float-to-integer conversion.
"""

from __future__ import annotations

import math

import numba
import numpy as np
from llvmlite import ir
from numba.core import types
from numba.extending import intrinsic

from .. import _exp as _ref
from . import _numba_cache

__all__ = ["exp", "exp_array"]

# As in _cpu_random: no zero-division check (it blocks vectorisation), and
# fastmath off so that nothing is contracted or reordered.
JIT_OPTIONS = {"nogil": True, "cache": True, "error_model": "numpy", "fastmath": False}
INLINE_OPTIONS = {**JIT_OPTIONS, "inline": "always"}

_O_THRESHOLD = _ref.O_THRESHOLD
_U_THRESHOLD = _ref.U_THRESHOLD
_LN2_HI = _ref.LN2_HI
_LN2_LO = _ref.LN2_LO
_INVLN2 = _ref.INVLN2
_P1, _P2, _P3, _P4, _P5 = _ref.P1, _ref.P2, _ref.P3, _ref.P4, _ref.P5
_SHIFTER = _ref.SHIFTER
_SHIFTER_BITS = np.int64(np.array(_ref.SHIFTER).view(np.int64))
_BIAS = np.int64(1023)
_S52 = np.int64(52)
_INF = np.inf


@intrinsic
def _float64_bits(typingctx, x):
    """Reinterpret a float64 as its int64 bit pattern (an LLVM bitcast)."""
    if x != types.float64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.IntType(64))

    return types.int64(types.float64), codegen


@intrinsic
def _bits_float64(typingctx, x):
    """Reinterpret an int64 bit pattern as a float64 (an LLVM bitcast)."""
    if x != types.int64:
        return None

    def codegen(context, builder, signature, args):
        return builder.bitcast(args[0], ir.DoubleType())

    return types.float64(types.int64), codegen


@numba.njit(**INLINE_OPTIONS)
def exp(x):
    """Deterministic ``exp`` of one float64 (twin of ``lazyconn._exp.exp``).

    Parameters
    ----------
    x : float64
        Any value, non-finite included.

    Returns
    -------
    float64
        The bits of ``lazyconn._exp.exp`` for the same input.
    """
    inside = (x >= _U_THRESHOLD) & (x <= _O_THRESHOLD)  # False for NaN
    xin = x if inside else 0.0
    # Same operations, same order as lazyconn._exp._exp_core.
    t = xin * _INVLN2 + _SHIFTER
    k = t - _SHIFTER
    hi = xin - k * _LN2_HI
    lo = k * _LN2_LO
    r = hi - lo
    z = r * r
    c = r - z * (_P1 + z * (_P2 + z * (_P3 + z * (_P4 + z * _P5))))
    y = 1.0 - ((lo - (r * c) / (2.0 - c)) - hi)
    # t = 1.5 * 2**52 + k exactly, so k is the difference of the bits; an
    # arithmetic shift is floor(k / 2).
    k_int = _float64_bits(t) - _SHIFTER_BITS
    k1 = k_int >> np.int64(1)
    k2 = k_int - k1
    scale1 = _bits_float64((k1 + _BIAS) << _S52)
    scale2 = _bits_float64((k2 + _BIAS) << _S52)
    core = (y * scale1) * scale2
    outside = _INF if x > _O_THRESHOLD else 0.0
    value = core if inside else outside
    return x if math.isnan(x) else value


@numba.njit(**JIT_OPTIONS)
def exp_array(x, out):
    """``out[i] = exp(x[i])`` for 1-d float64 arrays of the same length.

    Parameters
    ----------
    x : ndarray of float64, 1-d
        Inputs.
    out : ndarray of float64, 1-d
        Written in place; may be ``x`` itself.

    Returns
    -------
    ndarray of float64
        ``out``.
    """
    for i in range(x.shape[0]):
        out[i] = exp(x[i])
    return out


_numba_cache.install(globals())  # last: every njit is defined, none compiled yet
