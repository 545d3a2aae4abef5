"""float32 <-> float64 conversions that keep subnormals on every array library.

CuPy compiles its elementwise kernels with ``-ftz=true``, so on the GPU
``x.astype(float32)`` flushes subnormal results to zero and
``x.astype(float64)`` of a float32 array flushes subnormal inputs, where
NumPy (and the spec, which rounds weights as NumPy does) keeps them.  The
two functions here convert with integer and float64 operations only, which
no such mode touches, so a JITC matrix's entries and products have the same
bits on the host and on the GPU.  On NumPy arrays they are plain ``astype``.
"""

from __future__ import annotations

import numpy as np

__all__ = ["astype", "scaled"]

_SUBNORMAL32 = 2.0**-126  # the smallest normal float32
_ULP_SUBNORMAL32 = 2.0**149  # 1 / (the smallest subnormal float32)


def _flushes(x):
    """True for arrays of a library that may flush float32 subnormals (not NumPy)."""
    return not isinstance(x, (np.ndarray, np.generic))


def astype(x, dtype):
    """``x.astype(dtype)`` for float32/float64, subnormals kept (IEEE round to nearest even).

    Parameters
    ----------
    x : array
        A NumPy or CuPy (or other array-API) array.
    dtype : dtype
        The target dtype; only float32 <-> float64 conversions are treated
        specially, any other pair is ``x.astype(dtype, copy=False)``.

    Returns
    -------
    array
        Of the same library as ``x``.
    """
    dtype = np.dtype(dtype)
    if x.dtype == dtype or not _flushes(x):
        return x.astype(dtype, copy=False)
    if x.dtype == np.float64 and dtype == np.float32:
        return _narrow(x)
    if x.dtype == np.float32 and dtype == np.float64:
        return _widen(x)
    return x.astype(dtype, copy=False)


def scaled(values, scale, dtype):
    """``dtype(float64(values) * scale)``, subnormals kept: how a scaled view's entries round.

    Parameters
    ----------
    values : array
        float32 or float64 entries.
    scale : float
    dtype : dtype
        float32 or float64.

    Returns
    -------
    array
    """
    if scale == 1.0:
        return values
    if np.dtype(dtype) == np.float64:
        return values * scale
    return astype(astype(values, np.float64) * scale, dtype)


def _narrow(y):
    """float64 -> float32: the library's cast, then the subnormal range by its bits."""
    xp = _namespace(y)
    out = y.astype(xp.float32)
    tiny = xp.abs(y) < _SUBNORMAL32
    # |y| * 2**149 is exact, and so is rint of it (ties to even, as the
    # float32 rounding of a subnormal); 2**23 there is the smallest normal's
    # bit pattern, which is right too.  The sign bit comes from y.  (No test
    # of tiny.any(): on a GPU it would wait for the device.)
    magnitude = xp.rint(xp.where(tiny, xp.abs(y), 0.0) * _ULP_SUBNORMAL32).astype(xp.uint32)
    bits = magnitude | (xp.signbit(y).astype(xp.uint32) << 31)
    # Selected as integers: no float32 instruction touches a subnormal.
    return xp.where(tiny, bits, out.view(xp.uint32)).view(xp.float32)


def _widen(x):
    """float32 -> float64: the library's cast, then subnormals from their bits."""
    xp = _namespace(x)
    out = x.astype(xp.float64)
    bits = x.view(xp.uint32)
    subnormal = ((bits & 0x7F800000) == 0) & ((bits & 0x007FFFFF) != 0)
    magnitude = (bits & 0x007FFFFF).astype(xp.float64) / _ULP_SUBNORMAL32
    value = xp.where((bits >> 31) != 0, -magnitude, magnitude)
    return xp.where(subnormal, value, out)


def _namespace(x):
    """The array library of ``x`` (CuPy's module for CuPy arrays)."""
    import importlib

    return importlib.import_module(type(x).__module__.split(".")[0])
