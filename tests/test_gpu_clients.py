"""PyTorch tensors and JAX arrays as operands: run where they live, come back in kind.

Each part skips cleanly without its library; the GPU tests also without
CuPy, a usable GPU, or a GPU build of the library.  Results are compared
with ``todense()`` of the same window (and, on the GPU, with the CuPy
product of the same data).
"""

from __future__ import annotations

import os
import pathlib
import subprocess
import sys

import numpy as np
import pytest

import lazyconn
from lazyconn import BinaryArray


def _matrices():
    normal = lazyconn.JITCNormalR(300, 200, prob=0.1, loc=0.0, scale=1.0, seed=5)
    scalar_c = lazyconn.JITCScalarC(260, 310, prob=0.05, weight=0.5, seed=6)
    # A window of a larger generator, scaled: the view travels, not the entries.
    window = lazyconn.JITCUniformR(500, 400, prob=0.08, low=-1.0, high=1.0, seed=7)[40:340, 30:230] * 1.5
    return [normal, scalar_c, window]


def _expected(conn, x, side):
    dense = conn.todense().astype(np.float64)
    x = np.asarray(x, dtype=np.float64)
    return dense @ x if side == "right" else x @ dense


def _close(result, expected):
    np.testing.assert_allclose(np.asarray(result, dtype=np.float64), expected, rtol=2e-5, atol=2e-5)


def _operands(conn, rng):
    m, n = conn.shape
    return {
        ("right", 1): rng.standard_normal(n).astype(np.float32),
        ("right", 2): rng.standard_normal((n, 3)).astype(np.float32),
        ("left", 1): rng.standard_normal(m).astype(np.float32),
        ("left", 2): rng.standard_normal((4, m)).astype(np.float32),
    }


def _products(conn, make, to_numpy, check_kind):
    rng = np.random.default_rng(0)
    for (side, _), x in _operands(conn, rng).items():
        t = make(x)
        result = conn @ t if side == "right" else t @ conn
        check_kind(result, t)
        _close(to_numpy(result), _expected(conn, x, side))
    m, n = conn.shape
    spikes = rng.random(m) < 0.1
    events = BinaryArray(make(spikes)) @ conn
    check_kind(events, make(spikes))
    _close(to_numpy(events), _expected(conn, spikes, "left"))
    right = conn @ BinaryArray(make(rng.random(n) < 0.1))
    assert right.shape == (m,)


# ------------------------------------------------------------------- PyTorch
def _torch_kind(result, t):
    import torch

    assert isinstance(result, torch.Tensor) and result.device == t.device


@pytest.mark.parametrize("index", range(3))
def test_torch_cpu_tensors_run_on_the_host_kernels(index):
    torch = pytest.importorskip("torch")
    conn = _matrices()[index]
    _products(conn, torch.from_numpy, lambda r: r.numpy(), _torch_kind)


def test_torch_refusals_name_the_route():
    torch = pytest.importorskip("torch")
    conn = _matrices()[0]
    with pytest.raises(TypeError, match="detach"):
        conn @ torch.ones(200, requires_grad=True)
    with pytest.raises(ValueError, match="shape mismatch"):
        conn @ torch.ones(7)


# ----------------------------------------------------------------------- JAX
def _jax_kind(result, x):
    import jax

    assert isinstance(result, jax.Array) and result.devices() == x.devices()


@pytest.mark.parametrize("index", range(3))
def test_jax_cpu_arrays_run_on_the_host_kernels(index):
    jax = pytest.importorskip("jax")
    cpu = jax.devices("cpu")[0]
    conn = _matrices()[index]
    _products(conn, lambda x: jax.device_put(x, cpu), np.asarray, _jax_kind)


def test_jax_refuses_tracing_with_the_reason():
    jax = pytest.importorskip("jax")
    conn = _matrices()[0]
    with pytest.raises(TypeError, match="jax.jit"):
        jax.jit(lambda v: conn @ v)(jax.numpy.ones(200))


# ----------------------------------------------------------------------- GPU
def _cupy():
    from gpu_guard import cupy_or_skip

    return cupy_or_skip()


@pytest.mark.gpu
@pytest.mark.parametrize("index", range(3))
def test_torch_cuda_tensors_run_on_the_cupy_kernels(index, monkeypatch):
    torch = pytest.importorskip("torch")
    cp = _cupy()
    if not torch.cuda.is_available():
        pytest.skip("PyTorch sees no CUDA device")
    # No host copy: converting a tensor to NumPy would fail the test.
    for name in ("__array__", "numpy", "cpu"):
        monkeypatch.setattr(torch.Tensor, name, _no_host_copy, raising=False)
    conn = _matrices()[index]
    to_numpy = lambda r: cp.asnumpy(cp.from_dlpack(r))  # noqa: E731
    _products(conn, lambda x: torch.as_tensor(x, device="cuda"), to_numpy, _torch_kind)
    # Same kernels as a CuPy operand of the same data (scatters add with
    # float atomics on the GPU: equal within rounding).
    x = cp.asarray(np.random.default_rng(1).standard_normal(conn.shape[1]).astype(np.float32))
    np.testing.assert_allclose(to_numpy(conn @ torch.from_dlpack(x)), (conn @ x).get(), rtol=1e-5, atol=1e-5)


def _no_host_copy(*args, **kwargs):
    raise AssertionError("a GPU operand was copied to the host")


@pytest.mark.gpu
def test_torch_tensor_on_the_left_defers_to_the_matrix():
    torch = pytest.importorskip("torch")
    _cupy()
    if not torch.cuda.is_available():
        pytest.skip("PyTorch sees no CUDA device")
    conn = _matrices()[0]
    t = torch.ones(300, device="cuda")
    assert t.__matmul__(conn) is NotImplemented
    result = t @ conn
    assert result.device == t.device and result.dtype == torch.float32
    assert torch.allclose(result, conn.__rmatmul__(t), rtol=1e-5, atol=1e-5)


@pytest.mark.gpu
@pytest.mark.parametrize("index", range(3))
def test_jax_gpu_arrays_run_on_the_cupy_kernels(index):
    jax = pytest.importorskip("jax")
    cp = _cupy()
    try:
        gpu = jax.devices("gpu")[0]
    except RuntimeError:
        pytest.skip("JAX sees no GPU")
    conn = _matrices()[index]
    to_numpy = lambda r: cp.asnumpy(cp.from_dlpack(r))  # noqa: E731
    # No host copy: JAX raises on an implicit device-to-host transfer.
    with jax.transfer_guard_device_to_host("disallow"):
        _products(conn, lambda x: jax.device_put(x, gpu), to_numpy, _jax_kind)
    x = cp.asarray(np.random.default_rng(1).standard_normal(conn.shape[0]).astype(np.float32))
    result = jax.device_put(cp.asnumpy(x), gpu) @ conn
    assert result.dtype == np.float32
    np.testing.assert_allclose(to_numpy(result), (x @ conn).get(), rtol=1e-5, atol=1e-5)
    # An int32 operand promotes to float64 in NumPy; JAX without x64 holds float32.
    ints = jax.device_put(np.arange(conn.shape[1], dtype=np.int32) % 3, gpu)
    out = conn @ ints
    assert out.dtype == jax.dtypes.canonicalize_dtype(np.float64)
    _close(to_numpy(out), _expected(conn, np.arange(conn.shape[1]) % 3, "right"))


def test_jax_results_stay_on_the_operands_device_not_the_default_one():
    pytest.importorskip("jax")
    # Two host devices: the operand on the second, JAX's default the first
    # (on a GPU machine the default would be the GPU).
    code = (
        "import jax, numpy as np, lazyconn\n"
        "d1 = jax.devices('cpu')[1]\n"
        "c = lazyconn.JITCNormalR(30, 20, 0.3, 0.0, 1.0, seed=1)\n"
        "r = c @ jax.device_put(np.arange(20, dtype=np.int32), d1)\n"
        "l = jax.device_put(np.ones(30, np.float32), d1) @ c\n"
        "print(r.devices() == l.devices() == {d1}, r.dtype, l.dtype)\n"
    )
    env = dict(os.environ, XLA_FLAGS="--xla_force_host_platform_device_count=2", JAX_PLATFORMS="cpu")
    root = pathlib.Path(lazyconn.__file__).resolve().parent.parent
    out = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, check=True, cwd=root)
    assert out.stdout.split() == ["True", "float32", "float32"]
