"""NumPy operands: the host kernels (Numba, or the NumPy reference).

Registered with :mod:`lazyconn.dispatch` the first time a NumPy array or
namespace is looked up.  The kernel module is chosen at each call by
:func:`lazyconn.kernels.host_backend` (``LAZYCONN_BACKEND``).
"""

from __future__ import annotations

import numpy as np

from . import kernels, products
from .backends import ArrayBackend
from .dispatch import register

__all__ = ["HOST"]


def _kernels():
    # Looked up at each call: LAZYCONN_BACKEND may change between products.
    return kernels.host_backend()


def _matmul(view, x, side, binary):
    """``conn @ x`` / ``x @ conn`` for a NumPy ``x``: host kernels, NumPy result."""
    return products.matmul(view, x, side, binary, kernels.host_backend(), np)


#: The host backend: NumPy arrays, host kernels.
HOST = ArrayBackend("numpy", _matmul, kernels=_kernels, xp=np)

register(HOST, np.ndarray, namespaces=("numpy", "array_api_compat", "array_api_compat.numpy"))
