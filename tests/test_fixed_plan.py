"""Levels of the deterministic GPU scatter's fixed point: the plan and its bound, on the CPU.

Issue 11, item 11 (its last limit): one resolution per operand column made
the error absolute, so an output reached only by a column's small entries
lost its relative accuracy.  ``_fixed_plan`` splits such a column into
levels; here a model of the kernels' integer arithmetic (each term rounded to
its level's resolution, integers added exactly) checks the documented bound
with exact fractions, and the plan's refusals.  The GPU itself is tested in
tests/test_gpu_determinism.py.
"""

import math
from fractions import Fraction

import numpy as np
import pytest

from lazyconn.kernels import _fixed_plan as plan


def _exponent(v):
    return math.frexp(float(v))[1]


def _model(dense, x, ew, dtype, levels_on=True):
    """The kernels' sum of ``x @ dense`` (exact fractions), with levels or (``levels_on=False``) one resolution."""
    n_rows = dense.shape[0]
    words = 2 if dtype == np.float64 else 1
    nz = [v for v in x if v != 0]
    big = max(_exponent(v) for v in nz)
    small = min(_exponent(v) for v in nz)
    n_levels = plan.plan_levels([big], [small], n_rows, dtype, words) if levels_on else 1
    bits = plan.level_bits(n_rows, dtype, words)
    out = []
    for j in range(dense.shape[1]):
        words_ = [0] * n_levels
        for i in range(n_rows):
            if x[i] == 0 or dense[i, j] == 0:
                continue
            k = min((big - _exponent(x[i])) // bits, n_levels - 1)
            # float32: the double product is exact; float64: hi + lo * 2**-31
            # is the exact product rounded at 31 more bits (fma).
            shift = plan.term_bits(n_rows) - big - ew + k * bits + plan.LO_BITS * (words - 1)
            words_[k] += round(Fraction(float(dense[i, j])) * Fraction(float(x[i])) * Fraction(2) ** shift)
        out.append(sum(Fraction(w) / Fraction(2) ** (plan.term_bits(n_rows) - big - ew + k * bits
                                                    + plan.LO_BITS * (words - 1))
                       for k, w in enumerate(words_)))
    return out


def _exact(dense, x):
    return [sum((Fraction(float(w)) * Fraction(float(v)) for w, v in zip(dense[:, j], x)), Fraction(0))
            for j in range(dense.shape[1])]


def _operand(rng, n, dtype, spread):
    """Entries near 1, a few at ``10**spread`` and a few at ``10**-spread``, some zeros."""
    x = rng.standard_normal(n)
    x[rng.random(n) < 0.1] = 0
    x[: n // 10] *= 10.0**spread
    x[n // 10 : n // 5] *= 10.0**-spread
    rng.shuffle(x)
    return x.astype(dtype)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("spread", [0, 6, 12, 25])
def test_every_output_is_within_half_an_ulp_per_term(dtype, spread):
    # The documented bound: |sum - exact| <= 2**-(p + 1) * 2**ew * sum |x_i|
    # over the entries an output receives, whatever the span of the column.
    rng = np.random.default_rng(spread)
    n_rows = 60
    x = _operand(rng, n_rows, dtype, spread)
    dense = (rng.uniform(-1.0, 1.0, (n_rows, 40)) * (rng.random((n_rows, 40)) < 0.15)).astype(dtype)
    ew = 0  # |w| <= 1
    p = np.finfo(dtype).nmant + 1
    got, exact = _model(dense, x, ew, dtype), _exact(dense, x)
    reach = np.abs(x.astype(np.float64)) @ (dense != 0)
    for j in range(dense.shape[1]):
        assert abs(got[j] - exact[j]) <= Fraction(2.0 ** -(p + 1)) * Fraction(float(reach[j])) * (1 + 2**-40), j


def test_one_resolution_lost_the_small_outputs():
    # Why levels: with one resolution per column (before), an output reached
    # only by the entries near 1 of a column holding 1e12 is off by far more
    # than float32 rounding.
    rng = np.random.default_rng(3)
    n_rows = 60
    x = rng.standard_normal(n_rows).astype(np.float32)
    x[5] = 1e12
    dense = (rng.uniform(0.5, 1.0, (n_rows, 40)) * (rng.random((n_rows, 40)) < 0.15)).astype(np.float32)
    dense[5] = 0
    dense[5, 0] = 1.0
    exact = _exact(dense, x)
    reach = np.abs(x.astype(np.float64)) @ (dense != 0)
    worst = max(abs(float(g - e)) / reach[j] for j, (g, e) in
                enumerate(zip(_model(dense, x, 0, np.float32, levels_on=False), exact)) if j and reach[j])
    assert worst > 2.0**-14  # about 1e-4: a thousand float32 roundings
    worst = max(abs(float(g - e)) / reach[j] for j, (g, e) in
                enumerate(zip(_model(dense, x, 0, np.float32), exact)) if reach[j])
    assert worst <= 2.0**-25


def test_levels_of_a_span():
    # Level bits: min(62 - L, 51) (+ 31 for float64's second word) - p.
    assert plan.level_bits(1000, np.float32, 1) == 51 - 24
    assert plan.level_bits(1_000_000, np.float32, 1) == 42 - 24
    assert plan.level_bits(1_000_000, np.float64, 2) == 42 + 31 - 53
    bits = plan.level_bits(1000, np.float32, 1)
    assert plan.plan_levels([3, 5], [3 - bits + 1, -10], 1000, np.float32, 1) == 1
    assert plan.plan_levels([3, 5], [3 - bits, -10], 1000, np.float32, 1) == 2
    # Columns without a finite nonzero entry count for nothing.
    assert plan.plan_levels([plan.NO_EXPONENT, 2], [-plan.NO_EXPONENT, 2], 10, np.float64, 2) == 1
    assert plan.plan_levels([plan.NO_EXPONENT], [-plan.NO_EXPONENT], 10, np.float32, 1) == 1
    top = plan.MAX_LEVELS * bits - 1
    assert plan.plan_levels([10], [10 - top], 1000, np.float32, 1) == plan.MAX_LEVELS


def test_a_span_beyond_the_levels_is_refused_by_name():
    bits = plan.level_bits(1000, np.float32, 1)
    top = plan.MAX_LEVELS * bits - 1
    with pytest.raises(ValueError, match=rf"operand column 1 spans 2\*\*{top + 1} .*deterministic=False"):
        plan.plan_levels([0, 10], [0, 10 - top - 1], 1000, np.float32, 1)
    # float32's whole range (3e38 and the smallest subnormal) in one column.
    with pytest.raises(ValueError, match="the host"):
        plan.plan_levels([_exponent(3e38)], [_exponent(1e-45)], 1000, np.float32, 1)
