"""The CUDA twin of ``exp`` (lazyconn/kernels/jitc_exp.cuh) against the NumPy reference.

Runs only where CuPy imports and sees a usable GPU.  The header is compiled
both with and without ``--fmad=false``: its ``_rn`` intrinsics must forbid
contraction on their own, so the bits are the reference's either way.
"""

import hashlib
from pathlib import Path

import numpy as np
import pytest

from gpu_guard import cupy_or_skip  # noqa: E402

cp = cupy_or_skip()

from test_exp import GOLDEN_SHA256, _golden_grid, _twin_inputs  # noqa: E402

from lazyconn._exp import exp  # noqa: E402

pytestmark = pytest.mark.gpu

_KERNEL = r"""
extern "C" __global__ void jitc_exp_check(const double *x, double *y, long long n)
{
    const long long stride = (long long)blockDim.x * gridDim.x;
    for (long long i = blockIdx.x * (long long)blockDim.x + threadIdx.x; i < n; i += stride)
        y[i] = jitc_exp(x[i]);
}
"""


def _device_exp(x, options):
    header = (Path(__file__).parent.parent / "lazyconn" / "kernels" / "jitc_exp.cuh").read_text()
    module = cp.RawModule(code=header + _KERNEL, options=options)
    kernel = module.get_function("jitc_exp_check")
    x_device = cp.asarray(x, dtype=cp.float64)
    y_device = cp.empty_like(x_device)
    kernel((256,), (256,), (x_device, y_device, np.int64(x.size)))
    return cp.asnumpy(y_device)


@pytest.mark.parametrize("options", [("--std=c++17", "--fmad=false"), ("--std=c++17",)], ids=["fmad-off", "fmad-on"])
def test_cuda_exp_equals_numpy_bit_for_bit(options):
    x = _twin_inputs(4_000_000, seed=6)
    device = _device_exp(x, options)
    mismatch = np.flatnonzero(device.view(np.uint64) != exp(x).view(np.uint64))
    assert mismatch.size == 0, (mismatch.size, x[mismatch[:5]])


def test_cuda_exp_golden_checksum():
    device = _device_exp(_golden_grid(), ("--std=c++17",))
    assert hashlib.sha256(device.astype("<f8").tobytes()).hexdigest() == GOLDEN_SHA256
