"""Which weight laws the GPU kernels implement, and the refusal of the others.

The CUDA kernels (``jitc_kernels.cu``, ``jitc_fixed.cu``) branch on the law
codes of spec v1 (Scalar 0, Normal 1, Uniform 2).  A matrix of any other law
(LogNormal, Exponential: the extension of docs/spec.md §5.1) would be
silently computed with one of those three laws' weights, so every GPU entry
point calls :func:`require_gpu_law` first and refuses it with a TypeError
that names the law and the host route.  When the GPU laws header compiles
the laws from their records (``Law.cuda_type``), this table goes.

This module imports neither CuPy nor the kernels, so that the refusal can be
tested on a machine without a GPU.
"""

from __future__ import annotations

from .. import laws

__all__ = ["GPU_LAW_CODES", "require_gpu_law"]

#: The law codes the CUDA kernels implement (they branch on exactly these).
GPU_LAW_CODES = frozenset({laws.SCALAR.code, laws.NORMAL.code, laws.UNIFORM.code})


def require_gpu_law(params):
    """Refuse a matrix whose weight law the GPU kernels do not implement.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
        The generator about to be launched on the GPU.

    Raises
    ------
    TypeError
        If ``params.law`` is not in :data:`GPU_LAW_CODES`; the message names
        the law and the host route (NumPy operands, ``conn.todense()``).
    """
    if params.law in GPU_LAW_CODES:
        return
    name = laws.by_code(params.law).name
    raise TypeError(
        f"the GPU backend has no kernels for {name} weights yet (law code {params.law}); "
        "use the host: NumPy operands (conn @ numpy_array, numpy_array @ conn) and conn.todense() "
        "without xp= run on the CPU, bit-identical to every other backend; move the result with "
        "cupy.asarray(...) if you need it on the device"
    )
