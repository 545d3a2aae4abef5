"""NumPy operands: the host kernels (Numba, or the NumPy reference).

Registered with :mod:`lazyconn.dispatch` the first time a NumPy array or
namespace is looked up.  The kernel module is chosen at each call by
:func:`lazyconn.kernels.host_backend` (``LAZYCONN_BACKEND``).
"""

from __future__ import annotations

import os

import numpy as np

from . import kernels, products
from .backends import ArrayBackend
from .dispatch import register

__all__ = ["HOST"]


def _kernels():
    # Looked up at each call: LAZYCONN_BACKEND may change between products.
    return kernels.host_backend()


#: (chooser, ``LAZYCONN_BACKEND`` value) -> the host kernel module chosen:
#: reading the variable at each call keeps the choice live, and looking it
#: up here spares a small product the parsing and import in
#: :func:`kernels.host_backend`.  The chooser is part of the key, so a
#: replaced ``kernels.host_backend`` (tests do that) is still asked.
_CHOSEN = {}


def _host_kernels():
    key = (kernels.host_backend, os.environ.get(kernels._ENV_VAR))
    module = _CHOSEN.get(key)
    if module is None:
        module = kernels.host_backend()
        if len(_CHOSEN) < 16:
            _CHOSEN[key] = module
    return module


def _matmul(view, x, side, binary):
    """``conn @ x`` / ``x @ conn`` for a NumPy ``x``: host kernels, NumPy result."""
    return products.matmul(view, x, side, binary, _host_kernels(), np)


#: The host backend: NumPy arrays, host kernels.
HOST = ArrayBackend("numpy", _matmul, kernels=_kernels, xp=np)

register(HOST, np.ndarray, namespaces=("numpy", "array_api_compat", "array_api_compat.numpy"))
