"""CuPy operands: the GPU kernels (:mod:`lazyconn.kernels.gpu`), CuPy results.

Registered with :mod:`lazyconn.dispatch` the first time a CuPy array or the
``cupy`` namespace is looked up, so importing lazyconn never imports CuPy.
``conn @ x`` with a CuPy ``x`` runs on ``x``'s device and returns a CuPy
array there; ``conn.todense(xp=cupy)`` generates on the current device.
"""

from __future__ import annotations

import cupy as cp

from . import products
from .backends import SCATTER_ROWS, ArrayBackend
from .dispatch import register
from .kernels import gpu

__all__ = ["CUPY"]

#: What the GPU kernels offer beyond the required interface.
_CAPABILITIES = frozenset({SCATTER_ROWS})


def _matmul(view, x, side, binary):
    """``conn @ x`` / ``x @ conn`` for a CuPy ``x``: run on x's device, return CuPy."""
    with x.device:
        return products.matmul(view, x, side, binary, gpu, cp, _CAPABILITIES)


#: The CuPy backend: CuPy arrays, GPU kernels.
CUPY = ArrayBackend("cupy", _matmul, kernels=gpu, xp=cp, capabilities=_CAPABILITIES)

register(CUPY, cp.ndarray, namespaces=("cupy", "array_api_compat.cupy"))
