"""JAX arrays: products on the array's device, results as JAX arrays there.

Registered with :mod:`lazyconn.dispatch` the first time a JAX array is
looked up.  An array on a GPU runs on the CuPy kernels without a copy
(DLPack both ways); a CPU array runs on the host kernels, and its result
is put on that CPU device (not JAX's default device).  The result's dtype
follows JAX's: with 64-bit types disabled (JAX's default) a float64 result
comes back as float32, as ``jnp.asarray`` would make it.
``x @ conn`` reaches lazyconn because JAX's ``__matmul__`` returns
NotImplemented for operands it does not know.  Products are not traceable:
call them outside ``jax.jit`` / ``jax.grad``.
"""

from __future__ import annotations

import jax
import jax.dlpack
import jax.numpy as jnp

from ._dlpack import bridge_matmul
from .backends import ArrayBackend
from .dispatch import register

__all__ = ["JAX"]

_TRACER = getattr(getattr(jax, "core", None), "Tracer", None)


def _to_device(out):
    import cupy as cp

    # With 64-bit types off, JAX holds float32 where NumPy promotes to float64.
    dtype = jax.dtypes.canonicalize_dtype(out.dtype)
    # JAX imports dense row-major buffers reliably; the CuPy stream is
    # synchronised because JAX may read on a stream of its own.
    out = cp.ascontiguousarray(out.astype(dtype, copy=False))
    cp.cuda.get_current_stream().synchronize()
    return jax.dlpack.from_dlpack(out)


def _matmul(view, x, side, binary):
    """``conn @ x`` / ``x @ conn`` for a JAX array: same device, JAX result."""
    if _TRACER is not None and isinstance(x, _TRACER):
        raise TypeError(
            "a JITC product cannot be traced by jax.jit, jax.grad or jax.vmap (it runs outside XLA); "
            "call it outside the transformation, or through jax.pure_callback"
        )
    devices = x.devices()
    if len(devices) != 1:
        raise TypeError(
            f"this JAX array is sharded over {len(devices)} devices; a JITC product takes an array on "
            "one device: multiply each shard, or jax.device_put(x, device) first"
        )
    if x.dtype == jnp.bool_:
        x = x.astype(jnp.uint8)
    x.block_until_ready()
    (device,) = devices
    return bridge_matmul(
        view, x, side, binary, library="JAX",
        # On the operand's device, not JAX's default one (a GPU if it has one).
        to_host=lambda out: jax.device_put(out, device), to_device=_to_device,
        host_hint="jax.device_put(x, jax.devices('cpu')[0])",
    )


#: JAX arrays, on the host or a GPU.
JAX = ArrayBackend("jax", _matmul)

# Tracers too, so that a product inside jax.jit says why it cannot be traced.
register(JAX, (jax.Array,) if _TRACER is None else (jax.Array, _TRACER))
