"""Composites: np.block, concatenation and sums of JITC matrices, against np.block of todense().

Every result is compared with the dense assembly of the blocks' own
``todense()`` (float64 reference): entries, windows and counts exactly,
products and sums within the rounding of the blocks' dtypes.
"""

import copy
import pathlib
import pickle
import subprocess
import sys

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

import lazyconn
from lazyconn import BinaryArray, JITCComposite
from lazyconn import _composite_functions as composite_functions
from lazyconn import composite as composite_module

CLASSES = [
    lazyconn.JITCScalarR, lazyconn.JITCScalarC, lazyconn.JITCNormalR,
    lazyconn.JITCNormalC, lazyconn.JITCUniformR, lazyconn.JITCUniformC,
]
LAW_ARGS = {"Scalar": (0.75,), "Normal": (0.5, 1.0), "Uniform": (-1.0, 2.0)}
FUZZ = settings(max_examples=60, deadline=None, derandomize=True, database=None)


@pytest.fixture(params=["reference", "cpu"])
def backend(request, monkeypatch):
    """Each test on the NumPy oracle and on the Numba backend."""
    monkeypatch.setenv("LAZYCONN_BACKEND", request.param)
    return request.param


def make(cls, m, n, prob=0.3, seed=0, dtype=np.float32):
    law = next(v for k, v in LAW_ARGS.items() if k in cls.__name__)
    return cls(m, n, prob, *law, seed=seed, dtype=dtype)


def dense(block):
    """Dense value of a block as np.block sees it (zeros stay NumPy zeros).

    ``lazyconn.zeros`` has no dtype of its own: float32 zeros never promote.
    """
    if isinstance(block, JITCComposite) and not block.leaves and block._dtype is None:
        return np.zeros(block.shape, np.float32)
    return block if isinstance(block, np.ndarray) else block.todense()


def reference_block(blocks):
    return np.block([[dense(b) for b in row] for row in blocks])


def tolerance(comp):
    return 1e-5 if any(v.dtype == np.float32 for v, _, _ in comp.leaves) else 1e-12


def assert_product_close(actual, dense_matrix, x, side, tol):
    """``actual`` equals the float64 product within ``tol`` of the absolute product."""
    d = dense_matrix.astype(np.float64)
    x = np.asarray(x, dtype=np.float64)
    expected = d @ x if side == "right" else x @ d
    bound = (np.abs(d) @ np.abs(x) if side == "right" else np.abs(x) @ np.abs(d)) * tol + 1e-300
    assert actual.shape == expected.shape
    assert np.all(np.abs(np.asarray(actual, dtype=np.float64) - expected) <= bound)


def network():
    """A 2 x 2 network with mixed laws, orientations, dtypes and a zero block."""
    w_ee = make(lazyconn.JITCNormalR, 40, 40, seed=1)
    w_ei = make(lazyconn.JITCScalarC, 40, 12, seed=2, dtype=np.float64) * -2.0
    w_ie = make(lazyconn.JITCUniformR, 12, 40, seed=3)
    w_ii = np.zeros((12, 12))
    return [[w_ee, w_ei], [w_ie, w_ii]]


# ------------------------------------------------------------------ np.block
def test_block_is_lazy_and_equals_the_dense_assembly(backend):
    blocks = network()
    comp = np.block(blocks)
    expected = reference_block(blocks)
    assert isinstance(comp, JITCComposite)
    assert comp.shape == expected.shape == (52, 52) and comp.ndim == 2 and comp.size == 52 * 52
    assert comp.dtype == expected.dtype == np.float64
    assert len(comp.leaves) == 3  # the zero block holds no leaf
    result = comp.todense()
    assert result.dtype == expected.dtype
    assert np.array_equal(result, expected)
    # Bit for bit, including the sign of zeros (-2.0 * 0 entries of w_ei).
    assert result.tobytes() == expected.tobytes()
    assert np.array_equal(np.asarray(comp), expected)
    assert np.array_equal(comp.T.todense(), expected.T)


def test_products_both_sides_and_events(backend):
    blocks = network()
    comp = np.block(blocks)
    d = reference_block(blocks)
    rng = np.random.default_rng(0)
    tol = tolerance(comp)
    for x in (rng.standard_normal(52), rng.standard_normal((52, 3)), rng.standard_normal(52).astype(np.float32),
              np.arange(52) % 3):
        assert_product_close(comp @ x, d, x, "right", tol)
        assert_product_close(x.T @ comp, d, x.T, "left", tol)
        assert_product_close(np.matmul(comp, x), d, x, "right", tol)
        assert_product_close(np.dot(x.T, comp), d, x.T, "left", tol)
    spikes = rng.random(52) < 0.3
    assert_product_close(BinaryArray(spikes) @ comp, d, spikes, "left", tol)
    assert_product_close(comp @ BinaryArray(spikes), d, spikes, "right", tol)
    raster = rng.random((5, 52)) < 0.3
    assert_product_close(BinaryArray(raster) @ comp, d, raster, "left", tol)
    assert_product_close(comp @ BinaryArray(raster.T), d, raster.T, "right", tol)
    assert (comp @ rng.standard_normal(52)).dtype == np.float64


def test_block_products_add_the_leaves_products_bit_for_bit(backend):
    # The E/I demo's recurrent input: one product of the stacked matrix gives
    # the same bits as the sum of the two population products.
    exc = make(lazyconn.JITCNormalR, 50, 70, seed=4, prob=0.2)
    inh = make(lazyconn.JITCScalarR, 20, 70, seed=5, prob=0.2)
    spikes = np.random.default_rng(1).random(70) < 0.2
    stacked = np.vstack([exc, inh])
    separate = BinaryArray(spikes[:50]) @ exc + BinaryArray(spikes[50:]) @ inh
    together = BinaryArray(spikes) @ stacked
    assert together.dtype == np.float32
    assert together.tobytes() == separate.tobytes()


def test_windows_transposes_and_scalars(backend):
    blocks = network()
    comp = np.block(blocks)
    d = reference_block(blocks)
    for rows, cols in ((slice(30, 45), slice(5, 50)), (slice(None), slice(39, 41)), (slice(40, 52), slice(40, 52)),
                       (slice(3, 3), slice(None)), (Ellipsis, slice(10, 20))):
        window = comp[rows, cols]
        assert isinstance(window, JITCComposite)
        assert np.array_equal(window.todense(), d[rows, cols])
        assert np.array_equal(window.T.todense(), d[rows, cols].T)
    assert comp[41, 3] == d[41, 3]
    assert np.array_equal(comp[-1], d[-1]) and np.array_equal(comp[2:50, 44], d[2:50, 44])
    assert np.array_equal(comp[30:45][:, 38:42].todense(), d[30:45, 38:42])
    with pytest.raises(IndexError, match="step 1"):
        comp[::2]
    with pytest.raises(IndexError, match="too many"):
        comp[1, 2, 3]


def test_scaled_composites(backend):
    blocks = network()
    comp = np.block(blocks)
    d = reference_block(blocks)
    for scaled, factor in ((comp * 0.5, 0.5), (2 * comp, 2.0), (comp / 4, 0.25), (-comp, -1.0), (np.multiply(comp, 3), 3.0)):
        assert isinstance(scaled, JITCComposite)
        # Each leaf scales its own entries in float64 and rounds once, as a JITC matrix does.
        expected = np.block([[dense(b * factor) if not isinstance(b, np.ndarray) else b for b in row] for row in blocks])
        assert np.array_equal(scaled.todense(), expected)
        assert np.allclose(scaled.todense(), d * factor, rtol=1e-6)
    assert +comp is comp
    with pytest.raises(TypeError, match="real scalar"):
        comp * np.ones(52)
    with pytest.raises(ValueError, match="zero"):
        comp / 0


def test_reductions(backend):
    blocks = network()
    comp = np.block(blocks)
    d = reference_block(blocks)
    assert comp.count_nonzero() == np.count_nonzero(d) > 0
    for axis in (0, 1, -1, -2):
        assert np.array_equal(comp.count_nonzero(axis=axis), np.count_nonzero(d, axis=axis))
        assert np.allclose(comp.sum(axis=axis), d.sum(axis=axis), rtol=1e-5, atol=1e-5)
        assert np.array_equal(np.count_nonzero(comp, axis=axis), np.count_nonzero(d, axis=axis))
    assert np.isclose(comp.sum(), d.sum(), rtol=1e-5)
    assert np.isclose(np.sum(comp), d.sum(), rtol=1e-5)
    assert comp.sum(keepdims=True).shape == (1, 1)
    assert comp.sum(axis=0, keepdims=True).shape == (1, 52)
    assert comp.sum(dtype=np.float32).dtype == np.float32
    window = comp[35:45, 30:50]
    assert window.count_nonzero() == np.count_nonzero(d[35:45, 30:50])


# ---------------------------------------------------------- concatenation
def test_concatenate_hstack_vstack(backend):
    a = make(lazyconn.JITCScalarR, 10, 7, seed=1)
    b = make(lazyconn.JITCNormalC, 10, 5, seed=2)
    c = make(lazyconn.JITCUniformC, 4, 7, seed=3)
    assert np.array_equal(np.hstack([a, b]).todense(), np.hstack([a.todense(), b.todense()]))
    assert np.array_equal(np.concatenate([a, b], axis=1).todense(), np.hstack([a.todense(), b.todense()]))
    assert np.array_equal(np.concatenate((a, b), axis=-1).todense(), np.hstack([a.todense(), b.todense()]))
    assert np.array_equal(np.vstack([a, c]).todense(), np.vstack([a.todense(), c.todense()]))
    assert np.array_equal(np.concatenate([a, c]).todense(), np.vstack([a.todense(), c.todense()]))
    assert np.array_equal(np.block([a, b, np.zeros((10, 2), np.float32)]).todense(),
                          np.block([a.todense(), b.todense(), np.zeros((10, 2), np.float32)]))
    # Composites nest: their leaves are flattened with shifted offsets.
    nested = np.vstack([np.hstack([a, b]), np.hstack([c, lazyconn.zeros((4, 5))])])
    assert np.array_equal(nested.todense(), np.block([[a.todense(), b.todense()], [c.todense(), np.zeros((4, 5))]]))
    assert nested.dtype == np.float32 and len(nested.leaves) == 3


def test_dtype_follows_numpy_promotion():
    a32 = make(lazyconn.JITCScalarR, 6, 4, seed=1)
    b64 = make(lazyconn.JITCScalarR, 6, 4, seed=2, dtype=np.float64)
    assert np.hstack([a32, a32]).dtype == np.float32
    assert np.hstack([a32, b64]).dtype == np.float64
    # np.zeros is float64 and promotes, as for dense arrays; lazyconn.zeros has no dtype.
    assert np.hstack([a32, np.zeros((6, 2))]).dtype == np.float64
    assert np.hstack([a32, np.zeros((6, 2), np.float32)]).dtype == np.float32
    assert np.hstack([a32, lazyconn.zeros((6, 2))]).dtype == np.float32
    assert lazyconn.zeros((3, 2)).dtype == np.float64
    assert np.array_equal(lazyconn.zeros((3, 2)).todense(), np.zeros((3, 2)))
    assert (a32 + b64).dtype == np.float64
    assert np.hstack([a32, b64]).astype(np.float32).dtype == np.float32


def test_building_refusals_name_the_fix():
    a = make(lazyconn.JITCScalarR, 6, 4, seed=1)
    with pytest.raises(TypeError, match="zero blocks"):
        np.block([a, np.ones((6, 2))])
    with pytest.raises(ValueError, match="agree on axis 0"):
        np.hstack([a, make(lazyconn.JITCScalarR, 5, 4)])
    with pytest.raises(TypeError, match="out="):
        np.concatenate([a, a], out=np.empty((12, 4)))
    with pytest.raises(TypeError, match="axis 0 or 1"):
        np.concatenate([a, a], axis=None)
    with pytest.raises(TypeError, match="astype"):
        np.concatenate([a, a], dtype=np.float64)
    with pytest.raises(ValueError, match="two deep"):
        np.block([[[a]]])
    with pytest.raises(TypeError, match="np.block"):
        JITCComposite()
    with pytest.raises(ValueError, match="non-negative"):
        lazyconn.zeros((-1, 2))


# ------------------------------------------------------------------- sums
def test_sums_of_matrices_add_and_count_exactly(backend, monkeypatch):
    a = make(lazyconn.JITCNormalR, 30, 25, seed=1, prob=0.5)
    b = make(lazyconn.JITCScalarC, 30, 25, seed=2, prob=0.5, dtype=np.float64)
    total = a + b
    d = a.todense().astype(np.float64) + b.todense()
    assert isinstance(total, JITCComposite) and total.dtype == np.float64
    assert np.array_equal(total.todense(), d)
    # Small bands: the exact count is assembled from several row bands.
    monkeypatch.setattr(composite_functions, "BAND_CONNECTIONS", 16)
    assert total.count_nonzero() == np.count_nonzero(d)
    for axis in (0, 1):
        assert np.array_equal(total.count_nonzero(axis=axis), np.count_nonzero(d, axis=axis))
    rng = np.random.default_rng(2)
    x = rng.standard_normal((25, 2))
    assert_product_close(total @ x, d, x, "right", 1e-5)
    assert_product_close(x.T @ total.T, d.T, x.T, "left", 1e-5)
    assert np.allclose(total.sum(axis=1), d.sum(axis=1))
    # Cancellations are not counted: a sum of counts would give 2 * nnz(a).
    zero = a + a * -1
    assert np.array_equal(zero.todense(), np.zeros((30, 25), np.float32))
    assert zero.count_nonzero() == 0 and not zero.count_nonzero(axis=1).any()
    # A composite plus a matrix, a window of a sum, and sum() of a list.
    three = sum([a, b, a])
    assert np.array_equal(three.todense(), d + a.todense())
    assert np.array_equal(three[5:20, 3:9].todense(), (d + a.todense())[5:20, 3:9])
    assert three[5:20, 3:9].count_nonzero() == np.count_nonzero((d + a.todense())[5:20, 3:9])
    assert 0 + a is a


def test_a_sum_of_matrices_is_a_composite_after_import_lazyconn_alone():
    # ``+`` of two matrices reaches lazyconn.composite through the hook it
    # fills at import (_operators.set_add), not an import of its own: a
    # fresh interpreter that only ran ``import lazyconn`` must still sum.
    code = (
        "import numpy as np, lazyconn\n"
        "a = lazyconn.JITCNormalR(30, 25, prob=0.5, loc=0.5, scale=1.0, seed=1)\n"
        "b = lazyconn.JITCScalarC(30, 25, prob=0.5, weight=0.75, seed=2)\n"
        "for total in (a + b, b.__radd__(a), sum([a, b])):\n"
        "    assert type(total) is lazyconn.JITCComposite, type(total)\n"
        "    assert np.array_equal(total.todense(), a.todense() + b.todense())\n"
        "try:\n"
        "    a + np.ones((30, 25))\n"
        "except TypeError as exc:\n"
        "    assert 'todense()' in str(exc), exc\n"
        "else:\n"
        "    raise AssertionError('a + array was not refused')\n"
        "print('ok')\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False,
                         cwd=pathlib.Path(lazyconn.__file__).resolve().parents[1])
    assert out.returncode == 0 and out.stdout.strip() == "ok", out.stderr


def test_partially_overlapping_sums(backend):
    a = make(lazyconn.JITCNormalR, 20, 20, seed=1, prob=0.5)
    left = np.block([[a, lazyconn.zeros((20, 10))]])
    right = np.block([[lazyconn.zeros((20, 10)), a * -1.0]])
    total = left + right
    d = left.todense() + right.todense()
    assert np.array_equal(total.todense(), d)
    assert total.count_nonzero() == np.count_nonzero(d)
    assert np.array_equal(total.count_nonzero(axis=0), np.count_nonzero(d, axis=0))
    assert np.array_equal(total.count_nonzero(axis=1), np.count_nonzero(d, axis=1))


def test_elementwise_operations_stay_refused():
    a = make(lazyconn.JITCScalarR, 6, 4, seed=1)
    comp = np.hstack([a, a])
    for expression in ("a + 1", "1 + a", "a + np.ones((6, 4))", "np.ones((6, 4)) + a", "comp + 1", "comp == 0",
                       "comp - comp", "abs(comp)", "comp ** 2", "np.exp(comp)", "np.add(a, a)", "comp < 1",
                       "bool(comp)"):
        with pytest.raises(TypeError, match=r"count_nonzero\(\)|todense\(\)"):
            eval(expression, {"a": a, "comp": comp, "np": np})
    with pytest.raises(ValueError, match="shapes must be equal"):
        a + make(lazyconn.JITCScalarR, 6, 5)
    with pytest.raises(TypeError, match="two JITC matrices"):
        a @ np.vstack([a.T, a.T])
    with pytest.raises(TypeError, match="two JITC matrices"):
        comp @ a.T
    with pytest.raises(ValueError, match="shape mismatch"):
        comp @ np.ones(5)


# ------------------------------------------------------------- Hypothesis
@st.composite
def blocks_of(draw, m, n):
    """One block of shape (m, n): a JITC view of any kind, or zeros."""
    kind = draw(st.sampled_from(["plain", "window", "transpose", "scaled", "np-zeros", "zeros"]))
    if kind == "np-zeros":
        return np.zeros((m, n), dtype=draw(st.sampled_from([np.float32, np.float64])))
    if kind == "zeros":
        return lazyconn.zeros((m, n))
    cls = draw(st.sampled_from(CLASSES))
    dtype = draw(st.sampled_from([np.float32, np.float64]))
    prob = draw(st.sampled_from([0.0, 0.2, 0.7, 1.0]))
    seed = draw(st.integers(0, 2**64 - 1))
    if kind == "window":
        dr, dc = draw(st.integers(0, 3)), draw(st.integers(0, 3))
        return make(cls, m + dr + 1, n + dc + 2, prob, seed, dtype)[dr:dr + m, dc:dc + n]
    if kind == "transpose":
        return make(cls, n, m, prob, seed, dtype).T
    matrix = make(cls, m, n, prob, seed, dtype)
    return matrix * draw(st.sampled_from([-1.0, 0.5, 3.0])) if kind == "scaled" else matrix


@st.composite
def layouts(draw):
    """Blocks for np.block: 2 x 2, 1 x 3 or 3 x 1, of small sizes (0 included)."""
    grid = draw(st.sampled_from([(2, 2), (1, 3), (3, 1)]))
    heights = [draw(st.integers(0, 6)) for _ in range(grid[0])]
    widths = [draw(st.integers(0, 6)) for _ in range(grid[1])]
    return [[draw(blocks_of(h, w)) for w in widths] for h in heights]


def _has_jitc(blocks):
    return any(isinstance(b, lazyconn.JITCMatrix) for row in blocks for b in row)


@FUZZ
@given(layouts(), st.data())
def test_fuzz_layouts_against_the_dense_assembly(blocks, data):
    if not _has_jitc(blocks):
        blocks[0][0] = make(lazyconn.JITCScalarR, *dense(blocks[0][0]).shape, seed=7)
    comp = np.block(blocks)
    expected = reference_block(blocks)
    assert comp.shape == expected.shape and comp.dtype == expected.dtype
    assert comp.todense().tobytes() == expected.tobytes()
    m, n = comp.shape
    a, b = sorted(data.draw(st.tuples(st.integers(0, m), st.integers(0, m))))
    c, d = sorted(data.draw(st.tuples(st.integers(0, n), st.integers(0, n))))
    window = comp[a:b, c:d]
    part = expected[a:b, c:d]
    factor = data.draw(st.sampled_from([None, -2.0, 0.25]))
    if factor is not None:
        # A scaled window is the window of the blocks scaled one by one.
        window = window * factor
        scaled = [[b * factor if isinstance(b, lazyconn.JITCMatrix) else b for b in row] for row in blocks]
        part = reference_block(scaled)[a:b, c:d]
    if data.draw(st.booleans()):
        window, part = window.T, part.T
    assert window.todense().tobytes() == part.tobytes()
    assert window.count_nonzero() == np.count_nonzero(part)
    axis = data.draw(st.sampled_from([0, 1]))
    assert np.array_equal(window.count_nonzero(axis=axis), np.count_nonzero(part, axis=axis))
    rng = np.random.default_rng(data.draw(st.integers(0, 2**32 - 1)))
    x = rng.standard_normal(window.shape[1])
    y = rng.standard_normal((2, window.shape[0]))
    tol = tolerance(window) if window.leaves else 0.0
    assert_product_close(window @ x, part, x, "right", tol)
    assert_product_close(y @ window, part, y, "left", tol)
    spikes = rng.random(window.shape[0]) < 0.5
    assert_product_close(BinaryArray(spikes) @ window, part, spikes, "left", tol)
    assert np.allclose(window.sum(axis=axis), part.astype(np.float64).sum(axis=axis), rtol=1e-5, atol=1e-4)


@FUZZ
@given(st.integers(1, 7), st.integers(1, 7), st.data())
def test_fuzz_sums_against_the_dense_sum(m, n, data):
    terms = [data.draw(blocks_of(m, n)) for _ in range(data.draw(st.integers(2, 3)))]
    lazy_terms = [t for t in terms if isinstance(t, lazyconn.JITCMatrix)]
    if len(lazy_terms) < 2:
        lazy_terms.append(make(lazyconn.JITCNormalC, m, n, seed=9))
        lazy_terms.append(make(lazyconn.JITCScalarR, m, n, seed=10) * -1.0)
    total = sum(lazy_terms)
    expected = dense(lazy_terms[0])
    for term in lazy_terms[1:]:
        expected = expected + dense(term)
    assert total.dtype == expected.dtype
    assert np.array_equal(total.todense(), expected)
    assert total.count_nonzero() == np.count_nonzero(expected)
    axis = data.draw(st.sampled_from([0, 1]))
    assert np.array_equal(total.count_nonzero(axis=axis), np.count_nonzero(expected, axis=axis))
    a, b = sorted(data.draw(st.tuples(st.integers(0, m), st.integers(0, m))))
    assert np.array_equal(total[a:b, 1:].T.todense(), expected[a:b, 1:].T)
    x = np.random.default_rng(0).standard_normal(n)
    assert_product_close(total @ x, expected, x, "right", 1e-5)


@FUZZ
@given(layouts(), st.sampled_from([0, 2, pickle.HIGHEST_PROTOCOL, "deepcopy"]))
def test_fuzz_pickling_round_trips(blocks, protocol):
    if not _has_jitc(blocks):
        blocks[0][0] = make(lazyconn.JITCScalarR, *dense(blocks[0][0]).shape, seed=7)
    comp = np.block(blocks)
    back = copy.deepcopy(comp) if protocol == "deepcopy" else pickle.loads(pickle.dumps(comp, protocol))
    assert isinstance(back, JITCComposite) and back.shape == comp.shape and back.dtype == comp.dtype
    assert back.todense().tobytes() == comp.todense().tobytes()
    assert repr(back) == repr(comp)


def test_crafted_pickles_are_refused():
    a = make(lazyconn.JITCScalarR, 6, 4, seed=1)
    for args, error in (
        (((6, 4), "float32", ((a, 1, 0),)), ValueError),
        (((6, 4), "object", ((a, 0, 0),)), ValueError),
        (((6, 4), "float32", (("a", 0, 0),)), TypeError),
        (((6, -4), None, ()), ValueError),
        (((6, 4), "float32", ((a.astype(np.float64), 0, 0),)), ValueError),
    ):
        with pytest.raises(error, match="invalid pickled JITC composite"):
            composite_module._restore(*args)


# ------------------------------------------------------------------- Dask
def test_dask_blocks_and_products():
    da = pytest.importorskip("dask.array")
    blocks = network()
    comp = np.block(blocks)
    d = reference_block(blocks)
    lazy = comp.to_dask(chunks=(15, 20))
    assert lazy.shape == comp.shape and lazy.dtype == comp.dtype
    assert np.array_equal(lazy.compute(scheduler="synchronous"), d)
    assert lazy.name == comp.to_dask(chunks=(15, 20)).name  # stable task names
    rng = np.random.default_rng(3)
    x = rng.standard_normal((52, 3))
    product = comp @ da.from_array(x, chunks=(10, 2))
    assert isinstance(product, da.Array)
    assert_product_close(product.compute(scheduler="synchronous"), d, x, "right", 1e-5)
    left = da.from_array(x.T, chunks=(2, 13)) @ comp
    assert isinstance(left, da.Array)
    assert_product_close(left.compute(scheduler="synchronous"), d, x.T, "left", 1e-5)
    spikes = rng.random((4, 52)) < 0.3
    events = BinaryArray(da.from_array(spikes, chunks=(2, 26))) @ comp
    assert isinstance(events, da.Array)
    assert_product_close(events.compute(scheduler="synchronous"), d, spikes, "left", 1e-5)
    # Zero blocks alone give zeros of the operand's kind.
    zero = lazyconn.zeros((3, 52)) @ da.from_array(x, chunks=(10, 2))
    assert np.array_equal(zero.compute(), np.zeros((3, 3)))


def test_array_api_operands_come_back_in_kind():
    xp = pytest.importorskip("array_api_strict")
    blocks = network()
    comp = np.block(blocks)
    d = reference_block(blocks)
    x = np.random.default_rng(4).standard_normal(52)
    result = comp @ xp.asarray(x)
    assert type(result).__module__.startswith("array_api_strict")
    assert_product_close(np.asarray(result), d, x, "right", 1e-5)


def test_linear_operator_and_repr():
    pytest.importorskip("scipy")
    blocks = network()
    comp = np.block(blocks)
    d = reference_block(blocks)
    op = comp.aslinearoperator()
    x = np.random.default_rng(5).standard_normal(52)
    assert np.allclose(op.matvec(x), d @ x) and np.allclose(op.rmatvec(x), x @ d)
    text = repr(comp)
    assert text.startswith("JITCComposite(shape=(52, 52), dtype=float64") and "at (0, 40)" in text


# -------------------------------------------------------------------- GPU
@pytest.mark.gpu
def test_cupy_operands_run_on_the_leaves_gpu_kernels():
    from gpu_guard import cupy_or_skip

    cp = cupy_or_skip()
    blocks = network()
    comp = np.block(blocks)
    d = reference_block(blocks)
    assert np.array_equal(comp.todense(xp=cp).get(), d)
    rng = np.random.default_rng(6)
    x = rng.standard_normal((52, 2))
    right = comp @ cp.asarray(x)
    assert isinstance(right, cp.ndarray)
    assert_product_close(right.get(), d, x, "right", 1e-5)
    assert_product_close((cp.asarray(x.T) @ comp).get(), d, x.T, "left", 1e-5)
    spikes = rng.random(52) < 0.3
    assert_product_close((BinaryArray(cp.asarray(spikes)) @ comp).get(), d, spikes, "left", 1e-5)
    # The demo's stacked product on the GPU equals the two population
    # products: bit for bit with Scalar weights (events are counted in
    # integers); Normal-weighted events add with float atomics on the GPU,
    # so there only within rounding (docs/howto/gpu.rst).
    s = cp.asarray(rng.random(70) < 0.2)
    for law, exact in ((lazyconn.JITCScalarR, True), (lazyconn.JITCNormalR, False)):
        exc = make(law, 50, 70, seed=4, prob=0.2)
        inh = make(lazyconn.JITCScalarR, 20, 70, seed=5, prob=0.2)
        separate = BinaryArray(s[:50]) @ exc + BinaryArray(s[50:]) @ inh
        together = BinaryArray(s) @ np.vstack([exc, inh])
        assert isinstance(together, cp.ndarray)
        if exact:
            assert together.get().tobytes() == separate.get().tobytes()
        else:
            np.testing.assert_allclose(together.get(), separate.get(), rtol=1e-5, atol=1e-6)


def test_numpy_functions_without_a_composite_implementation_are_refused_by_name(monkeypatch):
    # A NumPy function lazyconn implements for matrices but not from a
    # composite's leaves is refused by name, with the routes; a function
    # lazyconn does not implement at all is refused as for a matrix.
    from lazyconn import _protocols

    a = lazyconn.JITCScalarR(30, 20, prob=0.2, weight=1.0, seed=0)
    b = lazyconn.JITCNormalR(30, 10, prob=0.2, loc=0.0, scale=1.0, seed=1)
    stacked = np.block([[a, b]])
    monkeypatch.setitem(_protocols.HANDLED_FUNCTIONS, np.ptp, lambda *args, **kwargs: 0.0)
    with pytest.raises(TypeError, match=r"np.ptp of a JITC composite is not computed lazily.*todense\(\)"):
        np.ptp(stacked)
    with pytest.raises(TypeError, match=r"np.cumsum of a JITC matrix is not computed lazily.*todense\(\)"):
        np.cumsum(stacked)
    x = np.linspace(0.0, 1.0, 30)
    np.testing.assert_allclose(np.tensordot(stacked, x, axes=1), stacked.todense().astype(np.float64) @ x,
                               rtol=1e-6)
