"""Kernel backends: one module per backend, one small interface.

Every backend module satisfies :class:`lazyconn.backends.Backend`
(``dense``, ``coo``, ``scatter``, ``gather`` and ``degrees`` with the
signatures documented in :mod:`lazyconn.kernels.reference`, which is the
oracle for the others).  Which backend serves which array library is
decided by :func:`lazyconn.dispatch.backend_for`, not here; this package
only chooses the host kernels.
"""

from __future__ import annotations

import os

from . import reference

__all__ = ["host_backend", "reference"]

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
