"""float32 subnormals on the GPU: the same bits as on the host.

CuPy compiles every kernel with ``-ftz=true`` (appended after the caller's
options), which flushes float32 subnormals in every float32 instruction,
conversions included.  The matrix's entries must keep the spec's bits on
every backend, so the kernels convert with PTX of their own and the Python
side with :mod:`lazyconn._float`.  Each test compares the GPU with the host
on entries or one-term products (exact), after checking that the host
result really holds subnormals.  Runs only where CuPy sees a usable GPU.
"""

import numpy as np
import pytest

from gpu_guard import cupy_or_skip  # noqa: E402

cp = cupy_or_skip()

import lazyconn  # noqa: E402
from lazyconn.laws import Exponential, LogNormal  # noqa: E402
from lazyconn.spec import Normal, Scalar, Spec, Uniform  # noqa: E402

pytestmark = pytest.mark.gpu

_TINY = float(np.finfo(np.float32).smallest_normal)

#: Laws whose float32 weights are (mostly) subnormal.  Normal takes the
#: float32 polynomial route, LogNormal exp(-92 + z), Exponential a tiny scale.
_LAWS = [Scalar(3e-40), Uniform(1e-41, 2e-39), Normal(0.0, 1e-39), LogNormal(-92.0, 1.0), Exponential(1e-39)]


def _subnormal_count(a):
    a = np.asarray(a)
    return int(((a != 0) & (np.abs(a) < _TINY)).sum())


def _within_flush(gpu_array, host_array, terms=1):
    """Equal, or differing by at most the float atomics' flushes: ``2**-126`` per term.

    Without ``deterministic=True`` float32 products add with float atomics,
    which flush subnormal contributions and sums to zero on every NVIDIA GPU
    (docs/guarantees.rst).  Where the result has no subnormal this is
    equality.
    """
    host = np.ascontiguousarray(host_array)
    got = np.ascontiguousarray(cp.asnumpy(gpu_array))
    assert got.dtype == host.dtype and got.shape == host.shape
    differ = got != host
    assert np.all(np.abs(host[differ].astype(np.float64)) < terms * _TINY), (
        f"entries differ beyond a flush; host {host[differ][:4]}, GPU {got[differ][:4]}")
    assert np.all(got[differ] == 0), f"a differing entry is not a flushed zero: {got[differ][:4]}"


def _same_bits(gpu_array, host_array):
    host = np.ascontiguousarray(host_array)
    got = np.ascontiguousarray(cp.asnumpy(gpu_array))
    assert got.dtype == host.dtype and got.shape == host.shape
    assert got.tobytes() == host.tobytes(), (
        f"{int((got != host).sum())} entries differ; host {host[got != host][:4]}, GPU {got[got != host][:4]}")


@pytest.mark.parametrize("law", _LAWS, ids=lambda law: type(law).__name__)
@pytest.mark.parametrize("rule", ["bernoulli", "fixed"])
def test_subnormal_weights_keep_their_bits(law, rule):
    kwargs = {"num_conn": 9} if rule == "fixed" else {}
    prob = None if rule == "fixed" else 0.2
    conn = lazyconn.from_spec(Spec((40, 70), "R", prob, law, 5, np.float32, **kwargs))
    host = conn.todense()
    assert _subnormal_count(host) > 0
    _same_bits(conn.todense(xp=cp), host)
    _same_bits(conn.T.todense(xp=cp), host.T)


def test_a_scaled_view_keeps_subnormal_entries():
    conn = lazyconn.from_spec(Spec((40, 70), "C", 0.2, Uniform(0.5, 1.0), 6, np.float32)) * 1e-39
    host = conn.todense()
    assert _subnormal_count(host) > 0
    _same_bits(conn.todense(xp=cp), host)


@pytest.mark.parametrize("orientation", ["R", "C"])
@pytest.mark.parametrize("deterministic", [True, False])
def test_one_term_products_keep_subnormal_weights(orientation, deterministic):
    # conn @ e_j is column j and e_i @ conn row i: one term each, exact.
    # Deterministic products keep the bits; float atomics may flush them.
    conn = lazyconn.from_spec(Spec((40, 70), orientation, 0.3, Uniform(1e-41, 2e-39), 7, np.float32))
    host = conn.todense()
    check = _same_bits if deterministic else _within_flush
    with lazyconn.set_options(deterministic=deterministic):
        for j in (0, 33, 69):
            e = np.zeros(70, np.float32)
            e[j] = 1.0
            check(conn @ cp.asarray(e), host[:, j])
        for i in (0, 17, 39):
            e = np.zeros(40, np.float32)
            e[i] = 1.0
            check(cp.asarray(e) @ conn, host[i])
    assert _subnormal_count(host[:, [0, 33, 69]]) + _subnormal_count(host[[0, 17, 39]]) > 0


@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("orientation", ["R", "C"])
@pytest.mark.parametrize("matrix_dtype", [np.float32, np.float64])
def test_subnormal_operand_entries_reach_the_product(matrix_dtype, orientation, deterministic):
    # A Scalar(1) matrix times a one-hot float32 subnormal: the product is
    # that subnormal where connected, converted exactly to the result dtype.
    # The operand's only nonzero entry is subnormal: the event finding must
    # not call it zero.  float64 results never flush; float32 ones may
    # without deterministic=True (float atomics).
    conn = lazyconn.from_spec(Spec((40, 70), orientation, 0.3, Scalar(1.0), 8, matrix_dtype))
    check = _same_bits if deterministic or matrix_dtype == np.float64 else _within_flush
    x = np.zeros(70, np.float32)
    x[12] = np.float32(3e-42)
    host = conn @ x
    assert _subnormal_count(host) > 0 or matrix_dtype == np.float64
    assert (host != 0).any()
    y = np.zeros(40, np.float32)
    y[9] = np.float32(-5e-41)
    assert (y @ conn != 0).any()
    with lazyconn.set_options(deterministic=deterministic):
        check(conn @ cp.asarray(x), host)
        check(cp.asarray(y) @ conn, y @ conn)


def test_binary_array_refuses_a_subnormal_on_the_gpu():
    # Under -ftz=true 1e-40 == 0 holds on the device: the check goes by bits,
    # as NumPy refuses it (the event kernels would take it for a spike).
    with pytest.raises(ValueError, match="only 0 and 1"):
        lazyconn.BinaryArray(cp.asarray([1e-40, 1.0], dtype=cp.float32))
    assert lazyconn.BinaryArray(cp.asarray([0.0, 1.0, -0.0], dtype=cp.float32)).shape == (3,)
