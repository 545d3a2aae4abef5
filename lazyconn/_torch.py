"""PyTorch tensors: products on the tensor's device, results as tensors there.

Registered with :mod:`lazyconn.dispatch` the first time a tensor is looked
up.  A CUDA tensor runs on the CuPy kernels without a copy (DLPack both
ways); a CPU tensor runs on the host kernels, also without a copy.
``t @ conn`` reaches lazyconn because ``Tensor.__matmul__`` returns
NotImplemented for operands that are not tensors.
"""

from __future__ import annotations

import torch

from ._dlpack import bridge_matmul
from .backends import ArrayBackend
from .dispatch import register

__all__ = ["TORCH"]


def _matmul(view, x, side, binary):
    """``conn @ t`` / ``t @ conn`` for a tensor ``t``: same device, tensor result."""
    if x.requires_grad:
        raise TypeError(
            "torch.autograd cannot differentiate through a JITC product (it runs outside PyTorch); "
            "pass t.detach(), and use conn.T products for gradients you write yourself"
        )
    # A conjugate or negative view bit cannot travel through DLPack; bool
    # becomes uint8 (same 0/1 values, same result dtype), which every
    # DLPack consumer reads.
    x = x.resolve_conj().resolve_neg()
    if x.dtype == torch.bool:
        x = x.to(torch.uint8)
    return bridge_matmul(
        view, x, side, binary, library="PyTorch", to_host=torch.from_numpy, to_device=torch.from_dlpack,
        host_hint="t.cpu()",
    )


#: PyTorch tensors, on the host or a CUDA device.
TORCH = ArrayBackend("torch", _matmul)

register(TORCH, torch.Tensor)
