"""Scale and levels of the deterministic GPU scatter's fixed point (no CuPy).

The arithmetic that decides, from exponents alone, how
:mod:`lazyconn.kernels._gpu_fixed` turns the terms ``w * x`` of one operand
column into integers (``jitc_fixed.cu`` does the work).  It imports no GPU
module, so that it is tested on every machine.

Let ``E`` be the largest frexp exponent of the column's finite nonzero
entries (every ``|x| < 2**E``), ``ew`` that of the law's weight bound
(``|w| <= 2**ew``), and ``2**L`` the most terms one output receives.  Level
``k`` of the column adds, in integers of ``2**-(S + k * B)`` with
``S = term_bits(L) - E - ew``, the terms of the entries whose exponent ``e``
has ``k * B <= E - e < (k + 1) * B``; each level is a sum of at most ``2**L``
terms below ``2**term_bits`` (rounded), so its int64 words never overflow.
``B`` (:func:`level_bits`) is chosen so that every term is off by at most
the unit roundoff of the dtype times ``2**ew * |x|`` (half an ulp of the
term at the weight bound): an output is then within
``u * 2**ew * sum(|x_i|)`` of the exact sum, over the entries it receives,
before its final rounding, whatever the span of the column.  Level 0 alone
(spans below ``B`` bits) is the single-resolution sum of earlier versions,
bit for bit.  A span that needs more than :data:`MAX_LEVELS` levels is
refused (:func:`plan_levels`).
"""

from __future__ import annotations

import numpy as np

# Levels (int64 words, or word pairs, per output entry) at most; jitc_fixed.cu
# packs a line's level per column in 4 bits.
MAX_LEVELS = 8
# The second word of a float64 sum keeps this many more bits of each term
# (JITC_FIXED_LO_BITS).
LO_BITS = 31
# Exponent arrays start here: below (emax) or above (emin) every finite one.
NO_EXPONENT = -2000


def row_exponent(n_rows):
    """``L``: an output receives at most ``n_rows <= 2**L`` terms."""
    return (max(int(n_rows), 1) - 1).bit_length()


def term_bits(n_rows):
    """Every scaled term is below ``2**term_bits`` (jitc_fixed.cu): ``min(62 - L, 51)``.

    ``2**L`` terms then sum below ``2**62``; 51 lets the kernels round a term
    with one floating-point add.
    """
    return min(62 - row_exponent(n_rows), 51)


def level_bits(n_rows, value_dtype, words):
    """``B``: the exponents one level covers, ``term_bits + 31 * (words - 1) - p``.

    ``p`` is the dtype's significand (24 or 53 bits): a level resolves the
    smallest entry it holds to ``2**-(p + 1)`` of its term's bound.
    """
    p = np.finfo(np.dtype(value_dtype)).nmant + 1
    return term_bits(n_rows) + LO_BITS * (words - 1) - p


def plan_levels(emax, emin, n_rows, value_dtype, words):
    """The number of levels a scatter needs, or a ValueError naming the span.

    Parameters
    ----------
    emax, emin : array_like of int
        Per operand column, the largest and smallest frexp exponent of its
        finite nonzero entries (``NO_EXPONENT`` and ``-NO_EXPONENT`` for a
        column without one).
    n_rows : int
        Operand rows (terms per output at most).
    value_dtype : dtype
        float32 or float64: the accumulation's dtype.
    words : int
        int64 words per level (1 or 2).

    Returns
    -------
    int
        Levels, ``1 <= levels <= MAX_LEVELS``.

    Raises
    ------
    ValueError
        When a column's entries span more than ``MAX_LEVELS`` levels.
    """
    emax = np.asarray(emax, dtype=np.int64)
    emin = np.asarray(emin, dtype=np.int64)
    bits = level_bits(n_rows, value_dtype, words)
    has = emax != NO_EXPONENT
    if not has.any():
        return 1
    span = np.where(has, emax - emin, 0)
    c = int(np.argmax(span))
    levels = int(span[c]) // bits + 1
    if levels > MAX_LEVELS:
        raise ValueError(
            f"operand column {c} spans 2**{int(span[c])} in magnitude (finite nonzero entries from "
            f"2**{int(emin[c]) - 1} to 2**{int(emax[c])}): the deterministic GPU scatter adds such a column "
            f"within float rounding up to a span of 2**{MAX_LEVELS * bits - 1} ({np.dtype(value_dtype).name}, "
            f"{int(n_rows)} rows); use lazyconn.set_options(deterministic=False) for this product, compute it "
            "on the host (a NumPy operand), or split the column by magnitude"
        )
    return levels
