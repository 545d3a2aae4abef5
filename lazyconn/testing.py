"""Hypothesis strategies and assertions for JITC matrices (public).

Use them to test code that takes lazyconn matrices, and to test backends:
lazyconn's own suite is built on them.

Examples
--------
>>> from hypothesis import given
>>> from lazyconn.testing import matrices, assert_matmul_matches_dense
>>> @given(matrices(max_side=20))
... def test_products(conn):
...     assert_matmul_matches_dense(conn, "right")
"""

from __future__ import annotations

import numpy as np
from hypothesis import strategies as st

from .matrix import from_spec
from .spec import Normal, Scalar, Spec, Uniform

__all__ = [
    "probabilities",
    "seeds",
    "laws",
    "specs",
    "matrices",
    "windows",
    "windowed_matrices",
    "operands",
    "assert_matmul_matches_dense",
    "EDGE_PROBABILITIES",
]

#: Probabilities where the walk has special behaviour (empty, full, B clamped, dense).
EDGE_PROBABILITIES = (0.0, 1.0, 1e-6, 0.01, 0.3, 0.7, 0.99)


def probabilities():
    """Connection probabilities: the edge cases and uniform draws in [1e-3, 1].

    Returns
    -------
    hypothesis.strategies.SearchStrategy of float
    """
    return st.sampled_from(EDGE_PROBABILITIES) | st.floats(1e-3, 1.0)


def seeds():
    """Seeds, including the extremes 0 and 2**64 - 1.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of int
    """
    return st.sampled_from([0, 2**64 - 1]) | st.integers(0, 2**64 - 1)


def laws(kinds=("scalar", "normal", "uniform")):
    """Weight laws with moderate finite parameters.

    Parameters
    ----------
    kinds : tuple of {"scalar", "normal", "uniform"}
        Which laws to draw.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of Scalar, Normal or Uniform
    """
    finite = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)
    options = []
    if "scalar" in kinds:
        options.append(finite.map(Scalar))
    if "normal" in kinds:
        options.append(st.builds(Normal, finite, st.floats(0.0, 5.0)))
    if "uniform" in kinds:
        options.append(st.tuples(finite, finite).map(lambda ab: Uniform(min(ab), max(ab))))
    return st.one_of(options)


@st.composite
def specs(draw, max_side=40, orientations=("R", "C"), law_kinds=("scalar", "normal", "uniform"),
          dtypes=(np.float32, np.float64), probs=None):
    """Whole-matrix :class:`~lazyconn.spec.Spec` objects.

    Parameters
    ----------
    max_side : int
        Largest number of rows or columns (0 is drawn too).
    orientations : tuple of {"R", "C"}
    law_kinds : tuple of {"scalar", "normal", "uniform"}
    dtypes : tuple of dtype
    probs : strategy, optional
        Defaults to :func:`probabilities`.
    """
    m = draw(st.integers(0, max_side))
    n = draw(st.integers(0, max_side))
    include_self = True if m != n else draw(st.booleans())
    return Spec(
        shape=(m, n),
        orientation=draw(st.sampled_from(orientations)),
        prob=draw(probabilities() if probs is None else probs),
        law=draw(laws(law_kinds)),
        seed=draw(seeds()),
        dtype=np.dtype(draw(st.sampled_from(dtypes))),
        include_self=include_self,
    )


def matrices(**kwargs):
    """Public JITC matrix objects.

    Parameters
    ----------
    **kwargs
        Passed to :func:`specs`.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of JITCMatrix
    """
    return specs(**kwargs).map(from_spec)


@st.composite
def _bounds(draw, length):
    start = draw(st.integers(0, length))
    stop = draw(st.integers(start, length))
    return slice(start, stop)


def windows(shape):
    """``(row_slice, col_slice)`` pairs of step 1 inside ``shape``.

    Parameters
    ----------
    shape : tuple of int
        The matrix shape.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of tuple of slice
    """
    return st.tuples(_bounds(shape[0]), _bounds(shape[1]))


def windowed_matrices(**kwargs):
    """``(full, view)``: a matrix and a lazy window of it (maybe transposed or scaled).

    Parameters
    ----------
    **kwargs
        Passed to :func:`specs`.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of tuple
    """

    @st.composite
    def build(draw):
        full = draw(matrices(**kwargs))
        rows, cols = draw(windows(full.shape))
        view = full[rows, cols]
        if draw(st.booleans()):
            view = view.T
        if draw(st.booleans()):
            view = view * draw(st.sampled_from([-1.0, 0.5, 3.0]))
        return full, view

    return build()


@st.composite
def operands(draw, shape, side, batch=None, dtype=np.float64, zero_fraction=0.5):
    """NumPy operands for ``conn @ x`` (side "right") or ``x @ conn`` ("left").

    Parameters
    ----------
    shape : tuple of int
        The matrix shape.
    side : {"left", "right"}
    batch : int or None
        None draws a 1-D vector; an int draws a 2-D operand with that many
        vectors.
    dtype : dtype
    zero_fraction : float
        Expected fraction of zeros, so event skipping is exercised.
    """
    inner = shape[1] if side == "right" else shape[0]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dims = (inner,) if batch is None else ((inner, batch) if side == "right" else (batch, inner))
    x = rng.normal(size=dims)
    x[rng.random(dims) < zero_fraction] = 0.0
    if np.dtype(dtype).kind in "iub":
        x = np.round(x * 3)
        if np.dtype(dtype).kind in "ub":
            x = np.abs(x)
    return x.astype(dtype)


def assert_matmul_matches_dense(conn, side, x=None, rtol=None, atol=None):
    """Assert that a lazy product equals the product with ``conn.todense()``.

    Parameters
    ----------
    conn : JITCMatrix
        The lazy matrix (any window, orientation or scale).
    side : {"left", "right"}
        ``conn @ x`` ("right") or ``x @ conn`` ("left").
    x : ndarray, optional
        Operand; a random vector with zeros is made if omitted.
    rtol, atol : float, optional
        Tolerances; default to the float32/float64 resolution of the result.
    """
    if x is None:
        rng = np.random.default_rng(0)
        inner = conn.shape[1] if side == "right" else conn.shape[0]
        x = rng.normal(size=inner) * (rng.random(inner) < 0.5)
    dense = conn.todense().astype(np.float64)
    lazy = conn @ x if side == "right" else x @ conn
    expected = dense @ x.astype(np.float64) if side == "right" else x.astype(np.float64) @ dense
    result_dtype = np.result_type(x.dtype if x.dtype != np.bool_ else conn.dtype, conn.dtype)
    assert lazy.dtype == result_dtype, (lazy.dtype, result_dtype)
    assert lazy.shape == expected.shape, (lazy.shape, expected.shape)
    # A scaled float32 matrix is rounded to float32 after scaling when
    # materialised, but scaled in the result dtype in a product.
    tiny = max(np.finfo(result_dtype).eps, np.finfo(conn.dtype).eps)
    scale = np.abs(dense).sum() * np.abs(x).max(initial=0.0) + 1.0
    np.testing.assert_allclose(
        lazy.astype(np.float64),
        expected,
        rtol=100 * tiny if rtol is None else rtol,
        atol=100 * tiny * scale if atol is None else atol,
    )
