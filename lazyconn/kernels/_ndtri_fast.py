"""A cheap, verified route to float32 Normal weights, bit-identical to AS241.

A Normal weight of spec v1 is ``float32(a + b * ndtri(u))`` with ``ndtri``
the float64 AS241 routine (:func:`lazyconn.random.ndtri`): two degree-7
polynomials and a division for 85 % of draws, plus ``ln`` and ``sqrt`` for
the tails.  For float32 output most of that precision is thrown away by the
final rounding, so the kernels first evaluate a cheap *candidate* and keep
it only when it provably rounds to the same float32; otherwise (about one
weight in 10**5) they run AS241.  The weights are therefore exactly the
spec's, on every backend.  float64 output always runs AS241.

The candidate
-------------
AS241 is odd in ``q = u - 0.5`` exactly (``1 - u`` and ``u - 0.5`` are exact
for the spec's uniforms, and the central branch is ``q`` times a function of
``q * q``), so the folded uniform ``f = min(u, 1 - u)`` (in ``(0, 0.5)``)
decides everything: ``ndtri(u) = q * g(f)`` with ``g(f) = ndtri(f) / (f - 0.5)``,
a smooth positive function.  ``f = (h + 0.5) * 2**-32`` for an integer word
``h < 2**31``.  The range of ``h`` is cut into :data:`N_INTERVALS` intervals:
one per word below 16, then each binade ``[2**e, 2**(e + 1))`` (e = 4 .. 30)
into 16 equal parts.  The interval of ``f`` is read from its float64 bits
(exponent and top four fraction bits) and on it ``g`` is a degree-5
polynomial in ``t = f * scale - offset`` (in ``[-1, 1]``; exact, both are
powers of two or small integers).  So::

    v' = q * P_i(t)                    (the candidate for ndtri(u))
    y' = a + b * v'                    (float64)
    D  = |b * q| * E_i + (|b * v'| + |y'|) * 2**-50
    float32(y' - D) == float32(y' + D)  ->  that is the weight, else AS241.

``E_i`` is twice the largest ``|v' - ndtri(u)| / |q|`` over *every* word of
interval ``i`` (measured exhaustively, :func:`measure_bounds`), so the exact
``y = a + b * ndtri(u)`` (float64, as the reference rounds it) lies in
``[y' - D, y' + D]``: the ``2**-50`` term covers the two roundings on each
side and those of ``D`` and ``y' +- D``.  Rounding to float32 is monotone,
so equal ends mean ``float32(y)`` is that value.

The candidate uses only ``+``, ``-``, ``*`` in a fixed order (no FMA), so it
is the same number in NumPy and Numba, and the bounds measured here hold for
both.  The CUDA kernels evaluate their own candidate, with fused
multiply-adds and ``t`` read from the bits of ``h + 0.5`` (``jitc_random.cuh``),
and decide with the table's largest bound: :func:`lazyconn.kernels.gpu.ndtri_check`
measures that candidate on every word against half that bound (the GPU
tests run it).  Either way a weight is kept only when it is provably the
spec's, so the route changes speed, never bits.

The table (coefficients, scale, offset, bound per interval) is pinned in
``ndtri_fast_table.npy``: the fit uses LAPACK, whose last bits may vary
between machines, and the bounds are valid only for the very coefficients
they were measured with.  ``python -m lazyconn.kernels._ndtri_fast`` rebuilds
and re-measures it (about a minute on 2 cores); ``tests/test_ndtri_fast.py``
re-measures the pinned table on every word.
"""

from __future__ import annotations

import hashlib
import math
from pathlib import Path

import numba
import numpy as np

from . import _numba_cache
from ._cpu_random import INLINE_OPTIONS, JIT_OPTIONS, _float64_bits, ndtri

__all__ = [
    "DEGREE",
    "N_INTERVALS",
    "TABLE_COLUMNS",
    "load_table",
    "build_table",
    "measure_bounds",
    "normal_weight32",
    "candidate",
    "normal_weights32_batch",
]

#: Degree of the polynomial on each interval.
DEGREE = 5
#: Parts per binade of the folded word h.
_PARTS = 16
#: Words below this get an interval each.
_SMALL = 16
#: 16 single-word intervals, then 16 per binade for e = 4 .. 30.
N_INTERVALS = _SMALL + _PARTS * (31 - 4)
#: Columns of a table row: c0 .. c5 (lowest power first), scale, offset, bound.
TABLE_COLUMNS = DEGREE + 4
_COL_SCALE = DEGREE + 1
_COL_OFFSET = DEGREE + 2
_COL_BOUND = DEGREE + 3
#: bits >> 48 of f = (h + 0.5) * 2**-32 for h = 16 (biased exponent 995, top
#: fraction bits 0), minus the 16 single-word rows before it.
_INDEX_BIAS = (995 << 4) - _SMALL
_SMALL_F = _SMALL * 2.0**-32
_TWO_P32 = 2.0**32
_SLACK = 2.0**-50
_MARGIN = 2.0

_TABLE_FILE = Path(__file__).resolve().parent / "ndtri_fast_table.npy"
#: sha256 of the pinned table file (guards against a silently edited table).
TABLE_SHA256 = "954fc5d25424931f9a1e918a37e275ab0ba88f0749c2d879c5ff5eb2d0f449fa"


def _interval_words(i):
    """First word and word count of interval ``i`` of the folded word h."""
    if i < _SMALL:
        return i, 1
    e, part = divmod(i - _SMALL, _PARTS)
    e += 4
    width = 1 << (e - 4)
    return (1 << e) + part * width, width


def build_table():
    """Fit the coefficients, scale and offset of every interval (bounds zero).

    ``g(f) = ndtri(f) / (f - 0.5)`` is fitted by least squares on Chebyshev
    nodes of each interval (the reference AS241 evaluated at the nodes).

    Returns
    -------
    numpy.ndarray
        float64 array of shape ``(N_INTERVALS, TABLE_COLUMNS)``; the bound
        column is zero until :func:`measure_bounds` fills it.
    """
    from .. import random as _ref

    table = np.zeros((N_INTERVALS, TABLE_COLUMNS))
    n_nodes = 4 * DEGREE + 8
    nodes = np.cos(np.pi * (np.arange(n_nodes) + 0.5) / n_nodes)
    for i in range(N_INTERVALS):
        first, width = _interval_words(i)
        half = width / 2  # in words: t = (h + 0.5 - mid) / half
        mid = first + half
        if width == 1:  # t is 0 for the one word: g there, exactly
            f = np.array([mid * 2.0**-32])
            coefficients = np.zeros(DEGREE + 1)
            coefficients[0] = (_ref.ndtri(f) / (f - 0.5))[0]
        else:
            f = (mid + half * nodes) * 2.0**-32
            coefficients = np.polynomial.polynomial.polyfit(nodes, _ref.ndtri(f) / (f - 0.5), DEGREE)
        table[i, :_COL_SCALE] = coefficients
        # t = f * (2**32 / half) - mid / half: both exact (half is a power of 2).
        table[i, _COL_SCALE] = _TWO_P32 / half
        table[i, _COL_OFFSET] = mid / half
    return table


@numba.njit(**INLINE_OPTIONS)
def candidate(u, table):
    """The candidate ``v'`` for ``ndtri(u)`` and its table row index.

    ``u`` is a spec uniform ``(w + 0.5) * 2**-32``.  Only ``+ - *`` in a fixed
    order: the same value on every backend.
    """
    q = u - 0.5
    f = u if q < 0.0 else 1.0 - u  # exact
    if f < _SMALL_F:
        i = np.int64(f * _TWO_P32)
    else:
        i = np.int64(_float64_bits(f) >> np.uint64(48)) - _INDEX_BIAS
    t = f * table[i, _COL_SCALE] - table[i, _COL_OFFSET]
    p = table[i, 5] * t + table[i, 4]
    p = p * t + table[i, 3]
    p = p * t + table[i, 2]
    p = p * t + table[i, 1]
    p = p * t + table[i, 0]
    return q * p, i


@numba.njit(**INLINE_OPTIONS)
def normal_weight32(u, a, b, table):
    """``float32(a + b * ndtri(u))`` as a float64, or NaN when undecided.

    NaN (about one call in 10**5) means the candidate's interval straddles a
    float32 rounding boundary: the caller computes AS241 instead.
    """
    v, i = candidate(u, table)
    bv = b * v
    y = a + bv
    d = abs(b * (u - 0.5)) * table[i, _COL_BOUND] + (abs(bv) + abs(y)) * _SLACK
    lo = np.float32(y - d)
    hi = np.float32(y + d)
    return np.float64(lo) if lo == hi else math.nan


@numba.njit(**JIT_OPTIONS)
def normal_weights32_batch(uniforms, a, b, table):
    """:func:`normal_weight32` of every uniform (NaN where undecided); for tests."""
    out = np.empty(uniforms.size)
    for s in range(uniforms.size):
        out[s] = normal_weight32(uniforms[s], a, b, table)
    return out


def _index_of_word(h, table):
    """Table row the candidate reads for folded word ``h``; for tests."""
    return int(candidate((h + 0.5) * 2.0**-32, table)[1])


@numba.njit(parallel=True, **JIT_OPTIONS)
def _measure(table, n_chunks):
    """Per chunk and interval, the largest ``|v' - ndtri(u)| / |q|`` over all words."""
    worst = np.zeros((n_chunks, table.shape[0]))
    total = np.int64(1) << 31
    for chunk in numba.prange(n_chunks):
        first = chunk * total // n_chunks
        last = (chunk + 1) * total // n_chunks
        for h in range(first, last):
            u = (np.float64(h) + 0.5) * 2.0**-32
            v, i = candidate(u, table)
            error = abs(v - ndtri(u)) / abs(u - 0.5)
            if error > worst[chunk, i]:
                worst[chunk, i] = error
    return worst


def measure_bounds(table, n_chunks=4096):
    """Largest relative candidate error per interval, over every word.

    Every folded word ``h < 2**31`` is evaluated (the words ``>= 2**31``
    fold onto them exactly).  Takes about 10-20 s on 2 cores.

    Parameters
    ----------
    table : numpy.ndarray
        Table from :func:`build_table` (its bound column is ignored).
    n_chunks : int, optional
        Work items of the parallel loop.

    Returns
    -------
    numpy.ndarray
        ``max |v' - ndtri(u)| / |u - 0.5|`` per interval, float64.
    """
    return _measure(np.ascontiguousarray(table, dtype=np.float64), n_chunks).max(axis=0)


def load_table():
    """The pinned table, float64 of shape ``(N_INTERVALS, TABLE_COLUMNS)``, read-only.

    Raises
    ------
    RuntimeError
        When the file's checksum differs from :data:`TABLE_SHA256`.
    """
    data = _TABLE_FILE.read_bytes()
    if hashlib.sha256(data).hexdigest() != TABLE_SHA256:
        raise RuntimeError(f"{_TABLE_FILE.name} does not match its pinned checksum; rebuild it with "
                           "`python -m lazyconn.kernels._ndtri_fast`")
    table = np.load(_TABLE_FILE)
    table.setflags(write=False)
    return table


def _main():
    table = build_table()
    bounds = measure_bounds(table)
    table[:, _COL_BOUND] = _MARGIN * bounds
    np.save(_TABLE_FILE, table)
    digest = hashlib.sha256(_TABLE_FILE.read_bytes()).hexdigest()
    print(f"wrote {_TABLE_FILE}: largest bound {bounds.max():.3g}, sha256 {digest}")


_numba_cache.install(globals())  # after every njit, before any call

if __name__ == "__main__":
    _main()
