"""The duck array: views, products, indexing, protocols, errors."""

import pickle

import numpy as np
import pytest
from hypothesis import given
from hypothesis import strategies as st

import lazyconn
from lazyconn.testing import assert_matmul_matches_dense, matrices, operands, windowed_matrices


def _conn(cls=lazyconn.JITCNormalR, shape=(30, 40), prob=0.2, seed=1, **kwargs):
    law = {"JITCScalar": dict(weight=0.5), "JITCNormal": dict(loc=0.0, scale=1.0), "JITCUniform": dict(low=-1.0, high=2.0)}
    return cls(shape[0], shape[1], prob, **law[cls.__name__[:-1]], seed=seed, **kwargs)


ALL_CLASSES = [
    lazyconn.JITCScalarR, lazyconn.JITCScalarC, lazyconn.JITCNormalR,
    lazyconn.JITCNormalC, lazyconn.JITCUniformR, lazyconn.JITCUniformC,
]


# ------------------------------------------------------------------ products
@given(windowed_matrices(max_side=30), st.sampled_from(["left", "right"]), st.data())
def test_vector_products_match_dense(pair, side, data):
    _, view = pair
    x = data.draw(operands(view.shape, side))
    assert_matmul_matches_dense(view, side, x)


@given(windowed_matrices(max_side=25), st.sampled_from(["left", "right"]), st.integers(1, 5), st.data())
def test_matrix_products_match_dense(pair, side, batch, data):
    _, view = pair
    x = data.draw(operands(view.shape, side, batch=batch))
    assert_matmul_matches_dense(view, side, x)


@pytest.mark.parametrize("dtype", [np.int8, np.int64, np.uint16, np.float32, np.float64, np.bool_])
@pytest.mark.parametrize("cls", [lazyconn.JITCNormalR, lazyconn.JITCUniformC])
def test_operand_dtypes_promote_as_numpy(dtype, cls):
    conn = _conn(cls)
    x = (np.arange(conn.shape[1]) % 3).astype(dtype)
    result = conn @ x
    assert result.dtype == (conn.todense() @ x).dtype
    np.testing.assert_allclose(result, conn.todense().astype(np.float64) @ x.astype(np.float64), rtol=1e-5, atol=1e-5)


def test_binary_events_equal_the_float_product():
    conn = _conn(lazyconn.JITCUniformR, shape=(200, 150), prob=0.1)
    mask = np.random.default_rng(3).random(200) < 0.1
    np.testing.assert_allclose(lazyconn.BinaryArray(mask) @ conn, mask.astype(np.float32) @ conn.todense(), rtol=1e-5, atol=1e-5)
    masks = np.random.default_rng(4).random((3, 200)) < 0.1
    np.testing.assert_allclose(lazyconn.BinaryArray(masks) @ conn, masks.astype(np.float32) @ conn.todense(), rtol=1e-5, atol=1e-5)
    right = np.random.default_rng(5).random(150) < 0.2
    np.testing.assert_allclose(conn @ lazyconn.BinaryArray(right), conn.todense() @ right.astype(np.float32), rtol=1e-5, atol=1e-5)


def test_products_through_numpy_entry_points():
    conn = _conn(lazyconn.JITCScalarC)
    dense = conn.todense()
    x, y = np.linspace(-1, 1, 30), np.linspace(0, 2, 40)
    for lazy, expected in [
        (np.matmul(x, conn), x @ dense),
        (np.matmul(conn, y), dense @ y),
        (np.dot(conn, y), dense @ y),
        (np.dot(x, conn), x @ dense),
        (x.tolist() @ conn, x @ dense),
        (conn @ y.tolist(), dense @ y),
    ]:
        np.testing.assert_allclose(lazy, expected, rtol=1e-6)


def test_array_api_namespace_route():
    array_api_compat = pytest.importorskip("array_api_compat")
    conn = _conn()
    x = np.ones(conn.shape[1])
    xp = array_api_compat.array_namespace(x, conn)
    np.testing.assert_allclose(xp.matmul(conn, x), conn.todense() @ x, rtol=1e-6)
    np.testing.assert_allclose(xp.matmul(np.ones(conn.shape[0]), conn), np.ones(conn.shape[0]) @ conn.todense(), rtol=1e-6)


def test_other_array_api_operands_come_back_in_their_namespace():
    xp = pytest.importorskip("array_api_strict")
    conn = _conn()
    x = xp.asarray(np.linspace(0, 1, conn.shape[1]))
    result = conn @ x
    assert type(result) is type(x)
    np.testing.assert_allclose(np.asarray(result), conn.todense() @ np.linspace(0, 1, conn.shape[1]), rtol=1e-6)


def test_example_from_the_issue_equals_dense_rows():
    conn = lazyconn.JITCScalarR(num_pre=100_000, num_post=100_000, prob=0.01, weight=0.5, seed=0)
    spikes = lazyconn.BinaryArray(np.random.default_rng(1).random(100_000) < 0.01)
    currents = spikes @ conn
    expected = np.zeros(100_000)
    for i in np.flatnonzero(spikes.data):
        expected += conn[i]
    assert currents.dtype == np.float32 and currents.shape == (100_000,)
    np.testing.assert_allclose(currents, expected, rtol=1e-6)
    assert 0.5 * 0.01 * 1000 * 0.8 < currents.mean() < 0.5 * 0.01 * 1000 * 1.2


def test_million_neuron_spikes_stay_within_memory():
    import tracemalloc

    conn = lazyconn.JITCScalarR(1_000_000, 1_000_000, prob=0.01, weight=1.0, seed=2)
    spikes = lazyconn.BinaryArray(np.random.default_rng(0).random(1_000_000) < 0.001)
    tracemalloc.start()
    currents = spikes @ conn
    _, peak = tracemalloc.get_traced_memory()
    tracemalloc.stop()
    assert peak < 200 * 2**20, f"peak {peak / 2**20:.0f} MiB"
    # ~1000 active rows x 10,000 synapses each, all weight 1.
    assert abs(currents.sum() - spikes.data.sum() * 10_000) < 6 * np.sqrt(spikes.data.sum() * 10_000)


# ------------------------------------------------------------- views, indexing
def test_transpose_is_the_mirrored_class():
    r = lazyconn.JITCNormalR(7, 11, 0.3, 0.0, 1.0, seed=9)
    c = lazyconn.JITCNormalC(11, 7, 0.3, 0.0, 1.0, seed=9)
    assert type(r.T) is lazyconn.JITCNormalC and r.T.spec == c.spec
    np.testing.assert_array_equal(r.T.todense(), c.todense())
    assert r.T.T.spec == r.spec and r.mT.spec == c.spec
    np.testing.assert_array_equal(np.transpose(r).todense(), c.todense())
    np.testing.assert_array_equal(np.swapaxes(r, 0, 1).todense(), c.todense())
    np.testing.assert_array_equal(np.matrix_transpose(r).todense(), c.todense())


@given(matrices(max_side=20), st.data())
def test_indexing_matches_dense(conn, data):
    dense = conn.todense()
    m, n = conn.shape
    if m and n:
        i = data.draw(st.integers(-m, m - 1))
        j = data.draw(st.integers(-n, n - 1))
        assert conn[i, j] == dense[i, j]
        np.testing.assert_array_equal(conn[i], dense[i])
        np.testing.assert_array_equal(conn[:, j], dense[:, j])
        np.testing.assert_array_equal(conn[..., j], dense[..., j])
    a, b = sorted(data.draw(st.tuples(st.integers(-m - 2, m + 2), st.integers(-m - 2, m + 2))))
    c, d = sorted(data.draw(st.tuples(st.integers(-n - 2, n + 2), st.integers(-n - 2, n + 2))))
    view = conn[a:b, c:d]
    assert isinstance(view, lazyconn.JITCMatrix)
    np.testing.assert_array_equal(view.todense(), dense[a:b, c:d])
    np.testing.assert_array_equal(conn[a:b].todense(), dense[a:b])
    np.testing.assert_array_equal(conn[a:b][:, c:d].T.todense(), dense[a:b, c:d].T)


def test_index_errors():
    conn = _conn()
    with pytest.raises(IndexError, match="out of range"):
        conn[30]
    with pytest.raises(IndexError, match="out of range"):
        conn[0, -41]
    with pytest.raises(IndexError, match="step 1"):
        conn[::2]
    with pytest.raises(IndexError, match="too many indices"):
        conn[1, 2, 3]
    with pytest.raises(IndexError, match="integer or a slice"):
        conn[[1, 2]]


def test_scaling_is_lazy_and_equals_the_scaled_materialisation():
    conn = _conn(lazyconn.JITCUniformC)
    dense = conn.todense()
    for lazy, expected in [
        (conn * 2.5, dense * 2.5), (3 * conn, 3 * dense), (conn / 4, dense / 4), (-conn, -dense),
        (np.multiply(conn, 2.0), dense * 2.0), (np.negative(conn), -dense), (np.float32(0.5) * conn, dense * 0.5),
    ]:
        assert isinstance(lazy, lazyconn.JITCMatrix)
        np.testing.assert_allclose(lazy.todense(), expected, rtol=1e-6)
    x = np.linspace(-1, 1, 40)
    np.testing.assert_allclose((conn * -2.0) @ x, -2.0 * (dense @ x), rtol=1e-5)
    np.testing.assert_allclose((conn * 0.0).count_nonzero(), 0)


def test_astype_keeps_the_connectivity():
    conn = _conn(lazyconn.JITCNormalR)
    wide = conn.astype(np.float64)
    assert wide.dtype == np.float64 and np.astype(conn, np.float64).dtype == np.float64
    np.testing.assert_array_equal(wide.todense() != 0, conn.todense() != 0)
    np.testing.assert_allclose(wide.todense(), conn.todense(), rtol=1e-7)
    np.testing.assert_array_equal(wide.todense().astype(np.float32), conn.todense())


# --------------------------------------------------------------- reductions
@given(windowed_matrices(max_side=25))
def test_sum_and_count_nonzero_are_exact(pair):
    _, view = pair
    dense = view.todense()
    np.testing.assert_array_equal(view.count_nonzero(axis=0), np.count_nonzero(dense, axis=0))
    np.testing.assert_array_equal(np.count_nonzero(view, axis=1), np.count_nonzero(dense, axis=1))
    assert view.count_nonzero() == np.count_nonzero(dense)
    assert isinstance(view.count_nonzero(), int)
    assert view.count_nonzero(axis=1).dtype == np.int64
    atol = 1e-4 * (np.abs(dense).sum() + 1)
    np.testing.assert_allclose(np.sum(view, axis=0), dense.astype(np.float64).sum(0), rtol=1e-5, atol=atol)
    np.testing.assert_allclose(view.sum(axis=1), dense.astype(np.float64).sum(1), rtol=1e-5, atol=atol)
    np.testing.assert_allclose(view.sum(), dense.astype(np.float64).sum(), rtol=1e-5, atol=atol)
    assert view.sum(axis=-1, keepdims=True).shape == (view.shape[0], 1)


# ---------------------------------------------------------------- protocols
def test_protocol_functions():
    conn = _conn(lazyconn.JITCScalarR)
    assert np.shape(conn) == (30, 40) and np.ndim(conn) == 2 and np.size(conn) == 1200
    assert conn.size == 1200 and len(conn) == 30
    with pytest.raises(TypeError, match="not computed lazily"):
        np.sort(conn)  # not handled: a TypeError naming the lazy routes
    with pytest.raises(TypeError, match="would materialise"):
        np.multiply(conn, np.ones((30, 40)))
    with pytest.raises(TypeError):
        np.add(conn, 1.0)


def test_array_conversion_respects_the_limit():
    conn = _conn(lazyconn.JITCScalarR)
    np.testing.assert_array_equal(np.asarray(conn), conn.todense())
    assert np.asarray(conn, dtype=np.float64).dtype == np.float64
    with pytest.raises(ValueError, match="copy=False"):
        np.asarray(conn, copy=False)
    big = lazyconn.JITCScalarR(1_000_000, 1_000_000, 0.01, 1.0, seed=0)
    with pytest.raises(ValueError, match="max_dense_size"):
        big.todense()
    with pytest.raises(ValueError, match="max_dense_size"):
        np.asarray(big)
    with pytest.raises(ValueError, match="max_dense_size"):
        big.tocsr()
    with lazyconn.set_options(max_dense_size=100):
        with pytest.raises(ValueError, match="max_dense_size=100"):
            conn.todense()
    assert conn.todense().shape == (30, 40)
    assert big[5].shape == (1_000_000,)  # one row is well under the limit


@pytest.mark.parametrize("method", [bool, float, int, complex])
def test_scalar_conversions_raise(method):
    with pytest.raises(TypeError):
        method(_conn())


# ------------------------------------------------------------- bad operands
@pytest.mark.parametrize(
    "operand, error, match",
    [
        (np.ones(31), ValueError, "shape mismatch"),
        (np.ones((3, 31)), ValueError, "shape mismatch"),
        (np.ones((2, 3, 40)), ValueError, "1-D or 2-D"),
        (np.ones(40, dtype=np.float16).view([("a", np.float16)]), TypeError, "not supported"),
        (np.array(["a"] * 40), TypeError, "not supported"),
        (np.ones(40, dtype=object), TypeError, "not supported"),
        ({"a": 1}, TypeError, "cannot multiply"),
    ],
)
def test_bad_operands(operand, error, match):
    conn = _conn()
    with pytest.raises(error, match=match):
        conn @ operand


def test_jitc_times_jitc_is_refused():
    with pytest.raises(TypeError, match="todense"):
        _conn() @ _conn(shape=(40, 5))


def test_direct_base_construction_is_refused():
    with pytest.raises(TypeError, match="abstract"):
        lazyconn.JITCMatrix()


# ---------------------------------------------------- identity, repr, pickle
@pytest.mark.parametrize("cls", ALL_CLASSES)
def test_pickle_is_small_and_exact(cls):
    conn = _conn(cls, seed=2**64 - 1)[3:20, 5:] * 2.0
    data = pickle.dumps(conn)
    assert len(data) < 500
    restored = pickle.loads(data)
    assert type(restored) is cls and restored.spec == conn.spec
    np.testing.assert_array_equal(restored.todense(), conn.todense())


def test_repr_shows_the_generator_not_entries():
    conn = lazyconn.JITCUniformC(10, 20, 0.1, -1.0, 1.0, seed=5, dtype=np.float64)
    assert repr(conn) == (
        "JITCUniformC(num_pre=10, num_post=20, prob=0.1, low=-1.0, high=1.0, seed=5, dtype=float64)"
    )
    assert repr(conn[2:4, 1:3] * 2) == repr(conn) + "[2:4, 1:3] * 2.0"


def test_seed_none_draws_and_stores_a_fresh_seed():
    a = lazyconn.JITCScalarR(50, 50, 0.3, 1.0)
    b = lazyconn.JITCScalarR(50, 50, 0.3, 1.0)
    assert 0 <= a.seed < 2**64 and a.seed != b.seed
    np.testing.assert_array_equal(a.todense(), a.todense())
    same = lazyconn.JITCScalarR(50, 50, 0.3, 1.0, seed=a.seed)
    np.testing.assert_array_equal(same.todense(), a.todense())


def test_bad_constructor_arguments_name_the_argument():
    with pytest.raises(ValueError, match="prob"):
        lazyconn.JITCScalarR(10, 10, 2.0, 1.0)
    with pytest.raises(ValueError, match="num_post"):
        lazyconn.JITCNormalC(10, -3, 0.1, 0.0, 1.0)
    with pytest.raises(ValueError, match="scale"):
        lazyconn.JITCNormalC(10, 3, 0.1, 0.0, -1.0)
    with pytest.raises(ValueError, match="low must be <= high"):
        lazyconn.JITCUniformR(10, 3, 0.1, 1.0, 0.0)
    with pytest.raises(TypeError, match="dtype"):
        lazyconn.JITCScalarR(10, 10, 0.1, 1.0, dtype=np.int32)


def test_largest_sides_work_without_allocating():
    side = 2**31 - 1
    conn = lazyconn.JITCNormalR(side, side, 1e-3, 0.0, 1.0, seed=1)
    assert conn.size == side * side
    corner = conn[-3:, -5000:]
    dense = corner.todense()
    assert dense.shape == (3, 5000) and 0 < np.count_nonzero(dense) < 60
    x = np.ones(5000)
    np.testing.assert_allclose(corner @ x, dense @ x, rtol=1e-5)
    np.testing.assert_array_equal(conn.T[-5000:, -3:].todense(), dense.T)


# ------------------------------------------------------------- scipy bridges
def test_tocsr_and_linear_operator():
    pytest.importorskip("scipy")
    conn = _conn(lazyconn.JITCNormalC)[4:, 3:37]
    np.testing.assert_array_equal(conn.tocsr().toarray(), conn.todense())
    op = conn.aslinearoperator()
    y, x = np.linspace(0, 1, conn.shape[1]), np.linspace(0, 1, conn.shape[0])
    np.testing.assert_allclose(op.matvec(y), conn.todense() @ y, rtol=1e-5)
    np.testing.assert_allclose(op.rmatvec(x), x @ conn.todense(), rtol=1e-5)
    np.testing.assert_allclose(op.matmat(np.eye(conn.shape[1])[:, :3]), conn.todense()[:, :3], rtol=1e-6)
