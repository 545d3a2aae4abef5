"""Issue 11's refusals and edges: comparisons, masked operands, scaled views,
pickles, bounded reductions, operand dtypes and error messages.

Each test states the behaviour that was silently wrong or unclear before
and checks the result against ``todense()`` of the same window, or the
refusal's type and message.
"""

import pickle
import tracemalloc

import numpy as np
import pytest

import lazyconn
from lazyconn import reductions
from lazyconn.matrix import _restore


def _matrices():
    return [
        lazyconn.JITCScalarR(30, 40, prob=0.2, weight=0.5, seed=1),
        lazyconn.JITCNormalC(30, 40, prob=0.2, loc=0.0, scale=1.0, seed=2),
        lazyconn.JITCUniformR(30, 40, prob=0.2, low=-1.0, high=2.0, seed=3, dtype=np.float64),
    ]


# ------------------------------------------------------------ comparisons
@pytest.mark.parametrize("expression", [
    "conn == 0", "conn != 0", "0 != conn", "conn < 1", "conn >= conn", "np.zeros((30, 40)) == conn",
    "np.equal(conn, 0)", "np.not_equal(conn, 0)", "conn + 1", "conn + np.ones((30, 40))", "conn - 1", "abs(conn)", "conn ** 2",
    "1 / conn", "np.exp(conn)", "np.add(conn, 1)", "~conn", "conn & conn",
])
def test_elementwise_operations_are_refused_with_the_lazy_routes(expression):
    conn = _matrices()[0]
    with pytest.raises(TypeError, match=r"count_nonzero\(\)|todense\(\)"):
        eval(expression, {"conn": conn, "np": np})


def test_sum_of_a_comparison_no_longer_counts_one():
    # Was 1 (identity comparison), where the dense matrix has many nonzeros.
    conn = _matrices()[0]
    with pytest.raises(TypeError):
        np.sum(conn != 0)
    assert conn.count_nonzero() == np.count_nonzero(conn.todense()) > 1


def test_same_generator_answers_the_identity_question():
    conn = _matrices()[0]
    assert conn.same_generator(conn.T.T)
    assert conn.same_generator(pickle.loads(pickle.dumps(conn)))
    assert conn.same_generator(lazyconn.JITCScalarR(30, 40, prob=0.2, weight=0.5, seed=1))
    assert not conn.same_generator(conn * 2)
    assert not conn.same_generator(conn[:5])
    assert not conn.same_generator(lazyconn.JITCScalarR(30, 40, prob=0.2, weight=0.5, seed=2))
    assert not conn.same_generator(conn.todense())
    assert conn.spec == conn[:5].spec  # same generator, other window
    assert {conn: 1}[conn] == 1  # still hashable, by identity


# ---------------------------------------------------------------- masked
@pytest.mark.parametrize("conn", _matrices())
def test_masked_operands_are_refused(conn):
    x = np.ma.masked_array(np.ones(conn.shape[1]), mask=np.arange(conn.shape[1]) % 2 == 0)
    z = np.ma.masked_array(np.ones(conn.shape[0]), mask=np.arange(conn.shape[0]) % 3 == 0)
    for call in (lambda: conn @ x, lambda: z @ conn, lambda: np.dot(conn, x), lambda: np.matmul(z, conn),
                 lambda: conn @ lazyconn.BinaryArray(x > 0)):
        with pytest.raises(TypeError, match=r"filled\(0\)"):
            call()
    np.testing.assert_allclose(conn @ x.filled(0), conn.todense().astype(np.float64) @ x.filled(0), rtol=1e-5)


# ------------------------------------------------------------ scaled views
def test_scaling_never_creates_nan_and_overflow_is_refused():
    conn = lazyconn.JITCNormalR(50, 60, prob=0.3, loc=0.0, scale=1.0, seed=4)  # float32
    with pytest.raises(ValueError, match="overflow float32"):
        conn * 1e300
    with pytest.raises(ValueError, match="finite"):
        conn * np.inf
    with pytest.raises(ValueError, match="finite"):
        conn * float("nan")
    with pytest.raises(ValueError, match="overflow"):
        (conn * 1e30) * 1e30
    # float64 has the room: no NaN, no inf, zeros stay zero.
    big = conn.astype(np.float64) * 1e300
    dense = big.todense()
    assert np.isfinite(dense).all()
    assert ((dense == 0) == (conn.todense() == 0)).all()
    with pytest.raises(ValueError, match="overflow float32"):
        big.astype(np.float32)


@pytest.mark.parametrize("scale", [1.0, -1.0, 0.5, 0.1, 1e-30, 1e-40, 1e-44, 1e-300, 0.0])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_count_nonzero_equals_the_dense_count_of_a_scaled_view(scale, dtype):
    for conn in (
        lazyconn.JITCNormalR(40, 50, prob=0.4, loc=0.0, scale=1e-3, seed=5, dtype=dtype),
        lazyconn.JITCUniformC(40, 50, prob=0.4, low=0.0, high=1e-5, seed=6, dtype=dtype),
        lazyconn.JITCScalarR(40, 50, prob=0.4, weight=3e-8, seed=7, dtype=dtype),
    ):
        view = conn[3:37, 5:45] * scale
        dense = view.todense()
        assert not np.isnan(dense).any()
        assert view.count_nonzero() == np.count_nonzero(dense)
        np.testing.assert_array_equal(view.count_nonzero(axis=0), np.count_nonzero(dense, axis=0))
        np.testing.assert_array_equal(view.count_nonzero(axis=1), np.count_nonzero(dense, axis=1))


def test_scaled_entries_are_rounded_once_from_float64():
    conn = lazyconn.JITCUniformR(20, 30, prob=0.5, low=0.1, high=2.0, seed=8)
    scale = 0.1
    expected = (conn.todense().astype(np.float64) * scale).astype(np.float32)
    np.testing.assert_array_equal((conn * scale).todense(), expected)
    rows, cols, values = (conn * scale).tocoo_arrays()
    np.testing.assert_array_equal(values, expected[rows, cols])


# ----------------------------------------------------------------- pickles
class _Crafted:
    """Pickles as an arbitrary call of lazyconn's restore function."""

    def __init__(self, *args):
        self.args = args

    def __reduce__(self):
        return (_restore, self.args)


def _state(conn):
    return conn.__reduce__()[1]


@pytest.mark.parametrize("mutate, error", [
    (lambda c, s, w, k: (c, s, (0, 10**6, 0, 12), k), ValueError),    # window beyond the shape
    (lambda c, s, w, k: (c, s, (5, 2, 0, 12), k), ValueError),        # negative shape
    (lambda c, s, w, k: (c, s, (2**40, 2**40 + 1, 0, 12), k), ValueError),  # aliasing lines
    (lambda c, s, w, k: (c, s, (0.5, 10, 0, 12), k), ValueError),     # non-integer bounds
    (lambda c, s, w, k: (c, s, w, float("nan")), ValueError),
    (lambda c, s, w, k: (c, s, w, 1e300), ValueError),
    (lambda c, s, w, k: (c, s, w, "2"), TypeError),
    (lambda c, s, w, k: (lazyconn.JITCScalarC, s, w, k), TypeError),  # C class, R generator
    (lambda c, s, w, k: (lazyconn.JITCNormalR, s, w, k), TypeError),  # Normal class, Scalar law
    (lambda c, s, w, k: (dict, s, w, k), TypeError),
    (lambda c, s, w, k: (c, s[:6], w, k), ValueError),
    (lambda c, s, w, k: (c, ((-10, 12),) + s[1:], w, k), ValueError),
    (lambda c, s, w, k: (c, s[:2] + (1.5,) + s[3:], w, k), ValueError),  # prob
    (lambda c, s, w, k: (c, s[:5] + ("int8",) + s[6:], w, k), TypeError),  # dtype
])
def test_crafted_pickles_are_refused(mutate, error):
    conn = lazyconn.JITCScalarR(10, 12, prob=0.3, weight=0.5, seed=9)
    payload = pickle.dumps(_Crafted(*mutate(*_state(conn))))
    with pytest.raises(error, match="invalid pickled JITC matrix"):
        pickle.loads(payload)


def test_a_crafted_law_is_validated_on_restore():
    conn = lazyconn.JITCScalarR(10, 12, prob=0.3, weight=0.5, seed=9)
    law = lazyconn.Scalar(1.0)
    object.__setattr__(law, "weight", float("nan"))  # what a crafted pickle can hold
    cls, state, window, scale = _state(conn)
    with pytest.raises(ValueError, match="weight must be finite"):
        pickle.loads(pickle.dumps(_Crafted(cls, state[:3] + (law,) + state[4:], window, scale)))
    with pytest.raises(ValueError, match="weight must be finite"):
        pickle.loads(pickle.dumps(law))


def test_valid_pickles_round_trip():
    for conn in _matrices():
        view = conn[2:20, 3:30].T * -0.5
        back = pickle.loads(pickle.dumps(view))
        assert back.same_generator(view) and repr(back) == repr(view)
        np.testing.assert_array_equal(back.todense(), view.todense())


# -------------------------------------------------------- bounded memory
def test_reductions_of_a_huge_matrix_use_memory_bounded_by_tiles(monkeypatch):
    # (2**31 - 1)**2 with p = 1e-12: per-line or per-minor arrays of the
    # whole shape would be 16 GiB; tiles keep the peak small.
    conn = lazyconn.JITCScalarR(2**31 - 1, 2**31 - 1, prob=1e-12, weight=0.5, seed=10)
    window = conn[:600]  # every column: 512 minor tiles
    rows, _, values = window.tocoo_arrays()
    tracemalloc.start()
    try:
        count = window.count_nonzero()
        total = window.sum()
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    assert count == rows.size
    assert total == pytest.approx(values.astype(np.float64).sum())
    assert peak < 200 * 2**20
    np.testing.assert_array_equal(window.count_nonzero(axis=1), np.bincount(rows, minlength=600))


def test_tiles_cover_the_window_exactly(monkeypatch):
    monkeypatch.setattr(reductions, "LINE_TILE", 7)
    monkeypatch.setattr(reductions, "MINOR_TILE", 256)
    for conn in _matrices():
        big = type(conn)._make(conn.spec.__class__(
            (700, 900), conn.spec.orientation, 0.05, conn.spec.law, conn.seed, conn.dtype))
        view = big[3:650, 100:870] * 0.25
        dense = view.todense().astype(np.float64)
        assert view.count_nonzero() == np.count_nonzero(dense)
        for axis in (0, 1):
            np.testing.assert_array_equal(view.count_nonzero(axis=axis), np.count_nonzero(dense, axis=axis))
            np.testing.assert_allclose(view.sum(axis=axis), dense.sum(axis=axis), rtol=1e-5, atol=1e-6)
        assert view.sum() == pytest.approx(dense.sum(), rel=1e-5)


def test_per_line_results_and_graphs_too_large_are_refused_at_once():
    conn = lazyconn.JITCScalarR(2**31 - 1, 2**31 - 1, prob=1e-12, weight=0.5, seed=10)
    for call in (lambda: conn.count_nonzero(axis=0), lambda: conn.sum(axis=1), lambda: conn.tocsr(),
                 lambda: conn.T.tocoo_arrays(), lambda: conn.to_dask(), lambda: conn.to_dask(chunks=1)):
        with pytest.raises(ValueError, match="max_dense_size|max_dask_chunks"):
            call()
    with lazyconn.set_options(max_dask_chunks=4):
        assert conn[:10, :10].to_dask(chunks=5).numblocks == (2, 2)
        with pytest.raises(ValueError, match="max_dask_chunks=4"):
            conn[:10, :10].to_dask(chunks=4)


@pytest.mark.parametrize("chunks", [0, -2, (0, 5), (5, 0)])
def test_to_dask_refuses_non_positive_chunks(chunks):
    pytest.importorskip("dask.array")
    with pytest.raises(ValueError, match="chunks"):
        _matrices()[0].to_dask(chunks=chunks)


# ------------------------------------------------------------------ dtypes
@pytest.mark.parametrize("backend", ["reference", "cpu"])
def test_one_operand_dtype_policy_on_every_host_backend(backend, monkeypatch):
    monkeypatch.setenv("LAZYCONN_BACKEND", backend)
    conn = _matrices()[1]
    for dtype in (np.longdouble, np.clongdouble, object, "U3"):
        if np.dtype(dtype) in (np.dtype(np.float64), np.dtype(np.complex128)):
            continue  # platforms whose long double is double
        for call in (lambda: conn @ np.ones(40, dtype=dtype), lambda: np.ones(30, dtype=dtype) @ conn):
            with pytest.raises(TypeError, match="dtype"):
                call()
    for dtype in (np.bool_, np.int8, np.uint16, np.int64, np.float16, np.float32, np.float64):
        y = (np.arange(40) % 3).astype(dtype)
        out = conn @ y
        assert out.dtype == np.result_type(conn.dtype, dtype if dtype != np.bool_ else conn.dtype)
        np.testing.assert_allclose(out, conn.todense().astype(np.float64) @ y.astype(np.float64), rtol=1e-5,
                                   atol=1e-5)


def test_the_dask_product_follows_the_same_dtype_policy():
    da = pytest.importorskip("dask.array")
    import lazyconn.dask  # noqa: F401

    conn = _matrices()[0]
    if np.dtype(np.longdouble) != np.float64:
        with pytest.raises(TypeError, match="dtype"):
            conn @ da.ones(40, dtype=np.longdouble, chunks=20)


# ---------------------------------------------------------------- messages
@pytest.mark.parametrize("call, error, words", [
    (lambda: lazyconn.JITCScalarR(5, 5, 0.1, weight=10**400), ValueError, "weight"),
    (lambda: lazyconn.JITCNormalR(5, 5, 0.1, loc=0.0, scale=10**400), ValueError, "scale"),
    (lambda: lazyconn.JITCScalarR(5, 5, 0.1, 1.0) * 10**400, ValueError, "scale factor"),
    (lambda: lazyconn.JITCScalarR(5, 5, 0.1, 1.0) * "2", TypeError, "real scalar"),
    (lambda: "2" * lazyconn.JITCScalarR(5, 5, 0.1, 1.0), TypeError, "real scalar"),
    (lambda: abs(lazyconn.JITCScalarR(5, 5, 0.1, 1.0)), TypeError, "todense"),
    (lambda: lazyconn.JITCScalarR(5, 5, 0.1, 1.0) / 0, ValueError, "zero"),
    (lambda: lazyconn.JITCScalarR(5, 5, 10**400, 1.0), ValueError, "prob"),
    (lambda: lazyconn.JITCScalarR(5, 5, 0.5, 1e300), ValueError, "float64"),
    (lambda: lazyconn.JITCScalarR(5, 5, 0.5, 1e300, dtype=np.float64).astype(np.float32), ValueError, "overflow"),
])
def test_errors_name_the_value_and_the_fix(call, error, words):
    with pytest.raises(error, match=words):
        call()


def test_dtype_none_means_the_documented_default():
    assert lazyconn.JITCScalarR(5, 5, 0.1, 1.0, dtype=None).dtype == np.float32


def test_bench_help_prints_a_plain_percent(capsys):
    from lazyconn import cli

    with pytest.raises(SystemExit):
        cli.main(["bench", "--help"])
    text = capsys.readouterr().out
    assert "1% " in text and "%%" not in text


def test_signed_zero_parameters_are_different_generators():
    # A weight of -0.0 gives connected entries of -0.0: a matrix whose law
    # differs only in the sign of a zero must never reuse the other's
    # cached kernel parameters (found when the +0.0 twin ran first).
    plus = lazyconn.JITCScalarR(50, 50, 0.2, 0.0, seed=4)
    minus = lazyconn.JITCScalarR(50, 50, 0.2, -0.0, seed=4)
    assert not np.signbit(plus.todense()).any()
    dense = minus.todense()
    connected = lazyconn.JITCScalarR(50, 50, 0.2, 1.0, seed=4).todense() != 0
    assert np.array_equal(np.signbit(dense), connected)
    assert lazyconn.Scalar(0.0) != lazyconn.Scalar(-0.0)
    assert not plus.same_generator(minus)
    assert plus.spec.kernel_params() != minus.spec.kernel_params()
    normal_plus = lazyconn.Normal(0.0, 1.0)
    assert normal_plus == lazyconn.Normal(0.0, 1.0) and hash(normal_plus) == hash(lazyconn.Normal(0.0, 1.0))
