"""NumPy functions on composites, each against the same function on ``todense()``.

Extremes, diagonals and counts are compared exactly; means, traces, norms
and products within the rounding of the leaves' dtypes.  Layouts cover
zero blocks, overlapping sums (cells merged from several leaves), leaves
crossing the diagonal, windows, transposes and scaled composites.
"""

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st
from test_composite import FUZZ, _has_jitc, dense, layouts, make, reference_block

import lazyconn
from lazyconn import JITCComposite


def _layouts():
    """Composites of every kind, by name."""
    e = make(lazyconn.JITCNormalR, 24, 20, seed=1)
    i = make(lazyconn.JITCScalarC, 24, 9, seed=2, dtype=np.float64) * -2.0
    u = make(lazyconn.JITCUniformR, 7, 20, seed=3)
    network = np.block([[e, i], [u, np.zeros((7, 9))]])
    # Overlapping sums: a full-size term plus blocks that cover part of it.
    full = make(lazyconn.JITCUniformC, 31, 29, seed=4, prob=0.5, dtype=np.float64)
    partial = np.block([[make(lazyconn.JITCScalarR, 12, 29, seed=5, prob=0.6), lazyconn.zeros((12, 0))],
                        [lazyconn.zeros((19, 29))]])
    overlapped = full + partial + network * 0.5
    wide = np.hstack([make(lazyconn.JITCNormalC, 10, 13, seed=6), lazyconn.zeros((10, 4)),
                      make(lazyconn.JITCScalarR, 10, 11, seed=7, prob=1.0)])
    float32 = np.vstack([make(lazyconn.JITCNormalR, 9, 15, seed=8), lazyconn.zeros((6, 15)),
                         make(lazyconn.JITCUniformC, 8, 15, seed=9)])
    return {
        "network": network,
        "overlapped": overlapped,
        "window-T": overlapped[3:29, 2:27].T,
        "scaled": network / -3.0,
        "wide": wide,
        "float32": float32,
        "self-sum": float32 + float32 * -1.0,  # every entry cancels
        "zeros": lazyconn.zeros((5, 4)),
    }


LAYOUTS = _layouts()


@pytest.fixture(params=sorted(LAYOUTS))
def comp(request):
    return LAYOUTS[request.param]


def _tol(comp):
    # Float32 leaves' sums are taken by the leaves (in float64 from their
    # generated weights): within float32 rounding of the dense float32 entries.
    return 2e-5 if any(v.dtype == np.float32 for v, _, _ in comp.leaves) else 1e-10


def _close(actual, expected, comp):
    expected = np.asarray(expected)
    assert np.shape(actual) == expected.shape
    np.testing.assert_allclose(np.asarray(actual, dtype=np.float64), expected.astype(np.float64),
                               rtol=_tol(comp), atol=_tol(comp))


@pytest.mark.parametrize("axis", [None, 0, 1, -1, (0, 1), (1,)])
def test_mean_max_min(comp, axis):
    d = comp.todense()
    _close(np.mean(comp, axis=axis), np.mean(d, axis=axis), comp)
    _close(comp.mean(axis=axis, keepdims=True), np.mean(d, axis=axis, keepdims=True), comp)
    for function in (np.max, np.min, np.amax, np.amin):
        result = function(comp, axis=axis)
        assert np.array_equal(result, function(d, axis=axis)) and np.asarray(result).dtype == d.dtype
        assert np.array_equal(function(comp, axis=axis, keepdims=True, initial=0.25),
                              function(d, axis=axis, keepdims=True, initial=0.25))


def test_extremes_count_the_zero_blocks_and_unconnected_entries():
    # All weights positive, one zero block: the minimum is the zeros, as dense.
    a = lazyconn.JITCScalarR(6, 5, prob=1.0, weight=2.0, seed=0)
    comp = np.block([[a, np.zeros((6, 2))]])
    assert comp.min() == 0.0 and comp.max() == 2.0
    assert np.array_equal(comp.min(axis=0), [2.0] * 5 + [0.0] * 2)
    full = lazyconn.JITCScalarR(6, 7, prob=1.0, weight=1.0, seed=1)
    assert (full + comp).min() == 1.0  # every entry connected in the sum


def test_empty_reductions_as_numpy():
    empty = np.block([[lazyconn.JITCNormalR(0, 4, 0.5, 0.0, 1.0, seed=0)]])
    with pytest.raises(ValueError, match="zero-size"):
        np.max(empty)
    assert np.max(empty, initial=-1.0) == -1.0
    assert np.array_equal(np.min(empty, axis=1), np.min(np.zeros((0, 4)), axis=1))
    with pytest.warns(RuntimeWarning, match="Mean of empty slice"):
        assert np.isnan(np.mean(empty))


@pytest.mark.parametrize("offset", [-30, -7, -1, 0, 1, 3, 12, 40])
def test_diagonal_and_trace(comp, offset):
    d = comp.todense()
    assert np.array_equal(np.diagonal(comp, offset), np.diagonal(d, offset))
    assert np.array_equal(comp.diagonal(k=offset), np.diagonal(d, offset))
    assert np.array_equal(np.diagonal(comp, offset, axis1=1, axis2=0), np.diagonal(d, offset, axis1=1, axis2=0))
    assert np.array_equal(np.linalg.diagonal(comp, offset=offset), np.linalg.diagonal(d, offset=offset))
    _close(np.trace(comp, offset), np.trace(d, offset), comp)
    _close(np.trace(comp, offset, axis1=1, axis2=0), np.trace(d, offset, axis1=1, axis2=0), comp)
    _close(np.linalg.trace(comp, offset=offset), np.linalg.trace(d, offset=offset), comp)
    assert np.trace(comp, dtype=np.float64).dtype == np.float64


@pytest.mark.parametrize("ord", [None, "fro", 1, -1, np.inf, -np.inf])
def test_matrix_norms(comp, ord):
    d = comp.todense()
    _close(np.linalg.norm(comp, ord), np.linalg.norm(d, ord), comp)
    _close(np.linalg.norm(comp, ord, axis=(1, 0), keepdims=True), np.linalg.norm(d, ord, axis=(1, 0), keepdims=True),
           comp)
    if ord is not None:
        _close(np.linalg.matrix_norm(comp, ord=ord), np.linalg.matrix_norm(d, ord=ord), comp)


@pytest.mark.parametrize("ord", [None, 1, 2, np.inf, -np.inf, 0, 3])
@pytest.mark.parametrize("axis", [0, 1])
def test_vector_norms(comp, ord, axis):
    d = comp.todense()
    _close(np.linalg.norm(comp, ord, axis=axis), np.linalg.norm(d, ord, axis=axis), comp)
    if ord is not None:
        _close(np.linalg.vector_norm(comp, ord=ord, axis=axis), np.linalg.vector_norm(d, ord=ord, axis=axis), comp)


def test_two_norm_is_refused_with_the_route():
    comp = LAYOUTS["network"]
    for ord in (2, -2, "nuc"):
        with pytest.raises(TypeError, match="svds"):
            np.linalg.norm(comp, ord)


EINSUM = ["ij,j->i", "ij,jk->ik", "i,ij->j", "ki,ij->kj", "ij,kj->ik", "ij->i", "ij->j", "ij->", "ij->ji",
          "ij,j", "ij,jk->ki", "ij,jkl->ikl", "ij,jk->i"]


@pytest.mark.parametrize("subscripts", EINSUM)
def test_einsum_products_and_reductions(comp, subscripts):
    d = comp.todense()
    m, n = comp.shape
    sizes = {"i": m, "j": n, "k": 3, "l": 2}
    inputs = subscripts.split("->")[0].split(",")
    rng = np.random.default_rng(0)
    operands = [comp if letters == "ij" else rng.standard_normal([sizes[c] for c in letters]) for letters in inputs]
    dense_operands = [d if o is comp else o for o in operands]
    expected = np.einsum(subscripts, *[o.astype(np.float64) for o in dense_operands])
    _close(np.einsum(subscripts, *operands), expected, comp)


def test_square_einsum_inner_tensordot():
    comp = LAYOUTS["overlapped"][:29, :29]
    d = comp.todense()
    _close(np.einsum("ii->", comp), np.einsum("ii->", d), comp)
    assert np.array_equal(np.einsum("ii->i", comp), np.einsum("ii->i", d))
    x = np.random.default_rng(1).standard_normal((4, 29))
    _close(np.inner(comp, x), np.inner(d, x), comp)
    _close(np.inner(x, comp), np.inner(x, d), comp)
    _close(np.tensordot(x, comp, axes=1), np.tensordot(x, d, axes=1), comp)
    _close(np.tensordot(comp, x, axes=([1], [1])), np.tensordot(d, x, axes=([1], [1])), comp)
    with pytest.raises(TypeError, match="not a product"):
        np.einsum("ij,ij->", comp, d)
    with pytest.raises(TypeError, match="two JITC matrices"):
        np.einsum("ij,jk->ik", comp, comp)
    with pytest.raises(TypeError, match="over 2 axis pairs"):
        np.tensordot(comp, d, axes=2)


def test_functions_keep_out_and_where_refused():
    comp = LAYOUTS["network"]
    with pytest.raises(TypeError, match="out="):
        np.mean(comp, out=np.zeros(()))
    with pytest.raises(TypeError, match="where="):
        np.max(comp, where=np.ones(comp.shape, bool))
    with pytest.raises(TypeError, match="floating point"):
        comp.mean(dtype=np.int64)
    with pytest.raises(np.exceptions.AxisError):
        comp.max(axis=2)


@FUZZ
@given(layouts(), st.data())
def test_fuzz_functions_against_the_dense_assembly(blocks, data):
    if not _has_jitc(blocks):
        blocks[0][0] = make(lazyconn.JITCScalarR, *dense(blocks[0][0]).shape, seed=7)
    comp = np.block(blocks)
    d = reference_block(blocks)
    if data.draw(st.booleans()):
        # A full-size term over every block: cells merged from several leaves.
        prob = data.draw(st.sampled_from([0.3, 1.0]))
        comp = comp + make(lazyconn.JITCNormalC, *comp.shape, prob=prob, seed=data.draw(st.integers(0, 99))) * -0.5
    if data.draw(st.booleans()):
        comp = comp.T * 1.5
    d = comp.todense()
    assert isinstance(comp, JITCComposite)
    axis = data.draw(st.sampled_from([None, 0, 1]))
    if comp.size:
        assert np.array_equal(np.max(comp, axis=axis), np.max(d, axis=axis))
        assert np.array_equal(np.min(comp, axis=axis), np.min(d, axis=axis))
        _close(np.mean(comp, axis=axis), np.mean(d, axis=axis), comp)
    offset = data.draw(st.integers(-8, 8))
    assert np.array_equal(np.diagonal(comp, offset), np.diagonal(d, offset))
    _close(np.trace(comp, offset), np.trace(d, offset), comp)
    ord = data.draw(st.sampled_from([None, 1, np.inf]))
    if comp.size:
        _close(np.linalg.norm(comp, ord), np.linalg.norm(d, ord), comp)
    assert comp.count_nonzero() == np.count_nonzero(d)
