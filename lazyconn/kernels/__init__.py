"""Kernel backends: one module per backend, one small interface.

Every backend module provides ``dense``, ``coo``, ``scatter``, ``gather``
and ``degrees`` with the signatures documented in
:mod:`lazyconn.kernels.reference`, which is the oracle for the others.
"""

from __future__ import annotations

import os

from . import reference

__all__ = ["host_backend", "backend_for_namespace", "reference"]

_ENV_VAR = "LAZYCONN_BACKEND"
_HOST_CHOICES = ("auto", "reference", "cpu")


def host_backend():
    """Return the kernel module used for NumPy operands.

    ``LAZYCONN_BACKEND=reference`` forces the NumPy oracle; ``cpu`` requires
    the Numba backend; ``auto`` (default) takes Numba when importable.

    Returns
    -------
    module
    """
    choice = os.environ.get(_ENV_VAR, "auto").strip().lower() or "auto"
    if choice not in _HOST_CHOICES:
        raise ValueError(f"{_ENV_VAR} must be one of {_HOST_CHOICES}, got {choice!r}")
    if choice == "reference":
        return reference
    try:
        from . import cpu
    except ImportError:
        if choice == "cpu":
            raise
        return reference
    return cpu


def backend_for_namespace(xp):
    """Return the kernel module for arrays of namespace ``xp``.

    Parameters
    ----------
    xp : module or None
        ``numpy`` (or None) for the host backend, ``cupy`` for the GPU one.

    Raises
    ------
    TypeError
        For a namespace lazyconn has no kernels for.
    """
    name = "numpy" if xp is None else getattr(xp, "__name__", str(xp)).split(".")[-1]
    if name in ("numpy", "array_api_compat"):
        return host_backend()
    if name == "cupy":
        from . import gpu

        return gpu
    raise TypeError(f"no lazyconn kernels for array namespace {name!r}; use numpy or cupy")
