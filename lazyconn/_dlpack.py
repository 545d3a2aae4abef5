"""Arrays of other libraries (PyTorch, JAX) multiplied where they live, through DLPack.

An operand that exports DLPack is handed to the kernels of its device
without a copy: a CUDA (or ROCm) array becomes a CuPy array on the same
device (``cupy.from_dlpack``) and runs on the GPU kernels; a host array
becomes a NumPy array (``numpy.from_dlpack``) and runs on the host kernels.
The result goes back to the operand's library on the same device, again
without a copy.  :mod:`lazyconn._torch` and :mod:`lazyconn._jax` register
the libraries and say how their arrays are prepared and wrapped.
"""

from __future__ import annotations

import importlib

import numpy as np

from .dispatch import backend_for

__all__ = ["bridge_matmul"]

#: DLPack device types: host memory (CPU, CUDA and ROCm pinned host) ...
_HOST = {1, 3, 11}
#: ... and GPU memory (CUDA, ROCm, CUDA managed), which CuPy reads.
_GPU = {2, 10, 13}

_IMPORT_ERRORS = (TypeError, ValueError, BufferError, RuntimeError, AttributeError, NotImplementedError)


def _cupy(library, what):
    try:
        cp = importlib.import_module("cupy")
    except ImportError:
        raise TypeError(
            f"a {library} array on the GPU runs on lazyconn's CuPy kernels, and CuPy is not installed: "
            f"pip install cupy-cuda12x (matching your CUDA), or move the operand to the host ({what})"
        ) from None
    return cp


def bridge_matmul(view, x, side, binary, *, library, to_host, to_device, host_hint):
    """``conn @ x`` / ``x @ conn`` for a DLPack operand ``x`` of ``library``, on ``x``'s device.

    Parameters
    ----------
    view : lazyconn.products.View
    x : array
        Exports ``__dlpack__`` and ``__dlpack_device__``; already prepared
        by the library module (no autograd, no bool: see there).
    side, binary
        As for every product handler.
    library : str
        For messages (``"PyTorch"``, ``"JAX"``).
    to_host, to_device : callable
        Wrap a NumPy (host) or CuPy (GPU) result as an array of ``library``
        on ``x``'s device.
    host_hint : str
        How a user moves ``x`` to the host, for messages.

    Returns
    -------
    array of ``library``
    """
    kind, ordinal = (int(v) for v in x.__dlpack_device__())
    if kind in _GPU:
        cp = _cupy(library, host_hint)
        with cp.cuda.Device(ordinal):
            try:
                y = cp.from_dlpack(x)
            except _IMPORT_ERRORS as exc:
                raise TypeError(
                    f"CuPy cannot take this {library} array of dtype {x.dtype} through DLPack ({exc}); "
                    "pass a float32, float64, integer or bool array"
                ) from None
            return to_device(backend_for(y).matmul(view, y, side, binary))
    if kind in _HOST:
        try:
            host = np.from_dlpack(x)
        except _IMPORT_ERRORS as exc:
            raise TypeError(
                f"NumPy cannot take this {library} array of dtype {x.dtype} through DLPack ({exc}); "
                "pass a float32, float64, integer or bool array"
            ) from None
        return to_host(backend_for(host).matmul(view, host, side, binary))
    raise TypeError(
        f"lazyconn has kernels for host and CUDA/ROCm memory, not for this {library} array's device "
        f"(DLPack device type {kind}); move it to the host ({host_hint}) or to a CUDA device"
    )
