"""Composites take every operand a matrix takes, with the matrix's result rules.

Each operand library multiplies a composite on both sides, with events, and
a composite of zero blocks alone; results are compared with ``todense()``
of the composite and must be of the library (and on the device) a matrix
product with the same operand returns.  PyTorch and JAX parts skip without
their library; their GPU parts run on the GPU machine.
"""

from __future__ import annotations

import numpy as np
import pytest

import lazyconn
from lazyconn import BinaryArray


def _composite():
    """Zero row and column bands, overlapping leaves, mixed dtypes, a window and a transpose."""
    e = lazyconn.JITCNormalR(20, 16, prob=0.3, loc=0.0, scale=1.0, seed=1, dtype=np.float32)
    i = lazyconn.JITCScalarC(9, 20, prob=0.4, weight=-2.0, seed=2, dtype=np.float64).T  # (20, 9)
    u = lazyconn.JITCUniformR(40, 30, prob=0.3, low=-1.0, high=1.0, seed=3, dtype=np.float32)[5:11, 2:18]
    blocks = np.block([[e, lazyconn.zeros((20, 4)), i], [u, lazyconn.zeros((6, 13))], [lazyconn.zeros((3, 29))]])
    over = lazyconn.JITCScalarR(29, 29, prob=0.2, weight=0.5, seed=4)
    return blocks + over


COMP = _composite()
DENSE = COMP.todense()
PROBE = lazyconn.JITCNormalC(*COMP.shape, prob=0.2, loc=0.0, scale=1.0, seed=9, dtype=COMP.dtype)


def _expected(x, side, dense=DENSE):
    x = np.asarray(x, dtype=np.float64)
    d = dense.astype(np.float64)
    return d @ x if side == "right" else x @ d


def _close(result, expected):
    np.testing.assert_allclose(np.asarray(result, dtype=np.float64), expected, rtol=2e-5, atol=2e-5)


def _operands(rng, dtype=np.float64):
    m, n = COMP.shape
    return [
        ("right", rng.standard_normal(n).astype(dtype)),
        ("right", rng.standard_normal((n, 3)).astype(dtype)),
        ("left", rng.standard_normal(m).astype(dtype)),
        ("left", rng.standard_normal((4, m)).astype(dtype)),
    ]


def _check_library(make, to_numpy, same_kind, dtype=np.float64):
    """Products, events and zero composites in the library ``make`` builds."""
    rng = np.random.default_rng(0)
    m, n = COMP.shape
    for side, x in _operands(rng, dtype):
        t = make(x)
        result = COMP @ t if side == "right" else COMP.__rmatmul__(t)
        # A matrix of the same shape and dtype gives the kind, device and dtype to match.
        same_kind(result, PROBE @ t if side == "right" else PROBE.__rmatmul__(t))
        assert tuple(result.shape) == _expected(x, side).shape
        _close(to_numpy(result), _expected(x, side))
    spikes = rng.random(m) < 0.3
    events = COMP.__rmatmul__(BinaryArray(make(spikes)))
    same_kind(events, PROBE.__rmatmul__(BinaryArray(make(spikes))))
    _close(to_numpy(events), _expected(spikes, "left"))
    raster = rng.random((n, 2)) < 0.3
    _close(to_numpy(COMP @ BinaryArray(make(raster))), _expected(raster, "right"))
    x = rng.standard_normal((n, 2)).astype(dtype)
    zero = lazyconn.zeros((5, n)) @ make(x)
    # Zeros alone have no dtype of their own: float64, as np.zeros @ x.
    same_kind(zero, lazyconn.JITCScalarR(5, n, prob=0.1, weight=1.0, seed=0, dtype=np.float64) @ make(x))
    assert tuple(zero.shape) == (5, 2) and not np.asarray(to_numpy(zero)).any()


# ------------------------------------------------------------------ host
def _numpy_kind(result, probe):
    assert type(result) is np.ndarray and result.dtype == probe.dtype


def test_numpy_and_lists():
    _check_library(np.asarray, np.asarray, _numpy_kind)
    _check_library(np.asarray, np.asarray, _numpy_kind, dtype=np.float32)
    _close(COMP @ ([1.0] * COMP.shape[1]), _expected(np.ones(COMP.shape[1]), "right"))


def test_refusals_name_the_route():
    with pytest.raises(TypeError, match="masked array"):
        COMP @ np.ma.masked_array(np.ones(COMP.shape[1]))
    with pytest.raises(TypeError, match="cannot multiply"):
        COMP @ object()
    with pytest.raises(ValueError, match="shape mismatch"):
        COMP @ np.ones(3)
    with pytest.raises(ValueError, match="shape mismatch"):
        np.ones(3) @ COMP


def _strict_kind(result, probe):
    assert type(result) is type(probe) and result.dtype == probe.dtype


def test_array_api_strict_operands_come_back_in_kind():
    xp = pytest.importorskip("array_api_strict")
    _check_library(xp.asarray, np.asarray, _strict_kind)


def test_array_api_compat_namespace_routes_to_the_composite():
    compat = pytest.importorskip("array_api_compat")
    x = np.random.default_rng(1).standard_normal(COMP.shape[1])
    xp = compat.array_namespace(x, COMP)
    _close(xp.matmul(COMP, x), _expected(x, "right"))
    _close(xp.matmul(x[: COMP.shape[0]], COMP), _expected(x[: COMP.shape[0]], "left"))


@pytest.mark.parametrize("fmt", ["csr_array", "csc_array", "coo_array", "coo_matrix", "csr_matrix"])
def test_scipy_sparse_rasters_give_dense_numpy(fmt):
    sp = pytest.importorskip("scipy.sparse")
    make = getattr(sp, fmt)
    rng = np.random.default_rng(2)
    m, n = COMP.shape
    right = (rng.random((n, 5)) < 0.2) * rng.standard_normal((n, 5))
    left = (rng.random((7, m)) < 0.2) * rng.standard_normal((7, m))
    result = COMP @ make(right)
    assert type(result) is np.ndarray
    _close(result, _expected(right, "right"))
    result = make(left) @ COMP  # scipy defers to the composite: never densified
    assert type(result) is np.ndarray
    _close(result, _expected(left, "left"))
    spikes = rng.random((3, m)) < 0.2
    _close(BinaryArray(make(spikes)) @ COMP, _expected(spikes, "left"))
    if fmt == "coo_array":
        vector = sp.coo_array(right[:, 0])
        _close(COMP @ vector, _expected(right[:, 0], "right"))
    assert not (lazyconn.zeros((4, n)) @ make(right)).any()


def test_dask_left_products_with_zero_bands():
    da = pytest.importorskip("dask.array")
    rng = np.random.default_rng(3)
    x = rng.standard_normal((3, COMP.shape[0]))
    result = da.from_array(x, chunks=(2, 7)) @ COMP
    assert isinstance(result, da.Array)
    _close(result.compute(scheduler="synchronous"), _expected(x, "left"))
    y = rng.standard_normal((COMP.shape[1], 2))
    _close((COMP @ da.from_array(y, chunks=(5, 1))).compute(scheduler="synchronous"), _expected(y, "right"))
    # da.asarray generates dense blocks in tasks (not chunks holding composites);
    # da.dot, da.tensordot, da.einsum and da.matmul multiply windows in tasks.
    dense = da.asarray(COMP).compute(scheduler="synchronous")
    assert type(dense) is np.ndarray and np.array_equal(dense, DENSE)
    lazy_x = da.from_array(x, chunks=(2, 7))
    for product in (da.dot(lazy_x, COMP), da.tensordot(lazy_x, COMP, axes=1), da.matmul(lazy_x, COMP),
                    da.einsum("ij,jk->ik", lazy_x, COMP)):
        _close(product.compute(scheduler="synchronous"), _expected(x, "left"))


# ------------------------------------------------------------------ PyTorch
def _torch_kind(result, probe):
    import torch

    assert isinstance(result, torch.Tensor) and result.device == probe.device and result.dtype == probe.dtype


def test_torch_cpu_tensors():
    torch = pytest.importorskip("torch")
    _check_library(torch.from_numpy, lambda r: r.numpy(), _torch_kind)
    _check_library(torch.from_numpy, lambda r: r.numpy(), _torch_kind, dtype=np.float32)
    with pytest.raises(TypeError, match="detach"):
        COMP @ torch.ones(COMP.shape[1], requires_grad=True)


@pytest.mark.gpu
def test_torch_cuda_tensors_stay_on_the_gpu(monkeypatch):
    torch = pytest.importorskip("torch")
    from gpu_guard import cupy_or_skip

    cp = cupy_or_skip()
    if not torch.cuda.is_available():
        pytest.skip("PyTorch sees no CUDA device")
    for name in ("__array__", "numpy", "cpu"):
        monkeypatch.setattr(torch.Tensor, name, _no_host_copy, raising=False)
    to_numpy = lambda r: cp.asnumpy(cp.from_dlpack(r))  # noqa: E731
    _check_library(lambda x: torch.as_tensor(x, device="cuda"), to_numpy, _torch_kind, dtype=np.float32)


def _no_host_copy(*args, **kwargs):
    raise AssertionError("a GPU operand was copied to the host")


# ----------------------------------------------------------------------- JAX
def _jax_kind(result, probe):
    import jax

    assert isinstance(result, jax.Array) and result.devices() == probe.devices() and result.dtype == probe.dtype


def test_jax_cpu_arrays():
    jax = pytest.importorskip("jax")
    cpu = jax.devices("cpu")[0]
    _check_library(lambda x: jax.device_put(x, cpu), np.asarray, _jax_kind, dtype=np.float32)


@pytest.mark.gpu
def test_jax_gpu_arrays_stay_on_the_gpu():
    jax = pytest.importorskip("jax")
    from gpu_guard import cupy_or_skip

    cp = cupy_or_skip()
    try:
        gpu = jax.devices("gpu")[0]
    except RuntimeError:
        pytest.skip("JAX sees no GPU")
    to_numpy = lambda r: cp.asnumpy(cp.from_dlpack(r))  # noqa: E731
    with jax.transfer_guard_device_to_host("disallow"):
        _check_library(lambda x: jax.device_put(x, gpu), to_numpy, _jax_kind, dtype=np.float32)


# ----------------------------------------------------------------------- CuPy
def _cupy_kind(result, probe):
    assert type(result) is type(probe) and result.device == probe.device and result.dtype == probe.dtype


@pytest.mark.gpu
def test_cupy_operands_with_zero_bands_both_sides():
    from gpu_guard import cupy_or_skip

    cp = cupy_or_skip()
    _check_library(cp.asarray, cp.asnumpy, _cupy_kind, dtype=np.float32)


# --------------------------------------------------------------- SciPy, complex
def test_scipy_linear_algebra_takes_the_raw_composite():
    sla = pytest.importorskip("scipy.sparse.linalg")
    d = DENSE.astype(np.float64)
    top = np.sort(np.abs(sla.eigs(COMP, k=3, tol=1e-10)[0]))
    np.testing.assert_allclose(top, np.sort(np.abs(np.linalg.eigvals(d)))[-3:], rtol=1e-5)
    np.testing.assert_allclose(np.sort(sla.svds(COMP, k=3, tol=1e-10)[1]), np.linalg.svd(d, compute_uv=False)[2::-1],
                               rtol=1e-5)
    np.testing.assert_allclose(sla.onenormest(COMP), np.linalg.norm(d, 1), rtol=1e-5)
    op = sla.aslinearoperator(COMP)
    x = np.random.default_rng(5).standard_normal((COMP.shape[1], 2))
    _close(op.matvec(x[:, 0]), d @ x[:, 0])
    _close(op.rmatvec(x[:, 0]), x[:, 0] @ d)
    _close(op.matmat(x), d @ x)
    _close(op.rmatmat(x), d.T @ x)
    _close(COMP.H @ x, d.T @ x)
    _close(COMP.adjoint().dot(x), d.T @ x)
    assert COMP.conj() is COMP


def test_complex_operands_both_sides():
    rng = np.random.default_rng(6)
    m, n = COMP.shape
    z = rng.standard_normal((n, 2)) + 1j * rng.standard_normal((n, 2))
    result = COMP @ z
    assert result.dtype == np.complex128
    np.testing.assert_allclose(result, DENSE.astype(np.float64) @ z, rtol=2e-5, atol=2e-5)
    w = rng.standard_normal(m).astype(np.complex64)
    np.testing.assert_allclose(w @ COMP, w.astype(np.complex128) @ DENSE.astype(np.float64), rtol=2e-5, atol=2e-5)


def test_lazyconn_matmul_takes_a_composite_on_either_side():
    # array_api_strict raises in its own __matmul__ instead of deferring, so
    # lazyconn.matmul is the documented route for ``strict_x @ composite``.
    xp = pytest.importorskip("array_api_strict")
    rng = np.random.default_rng(5)
    left = rng.standard_normal(COMP.shape[0])
    right = rng.standard_normal(COMP.shape[1])
    out_left = lazyconn.matmul(xp.asarray(left), COMP)
    out_right = lazyconn.matmul(COMP, xp.asarray(right))
    assert type(out_left) is type(xp.asarray(left)) and type(out_right) is type(xp.asarray(right))
    np.testing.assert_allclose(np.asarray(out_left), left @ DENSE, rtol=1e-5, atol=1e-5)
    np.testing.assert_allclose(np.asarray(out_right), DENSE @ right, rtol=1e-5, atol=1e-5)
    with pytest.raises(TypeError, match="JITC matrix on one side"):
        lazyconn.matmul(xp.asarray(left), xp.asarray(left))
