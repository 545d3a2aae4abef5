"""The one guard GPU test modules start with."""

import pytest


def cupy_or_skip():
    """Return the ``cupy`` module, or skip the calling test module.

    Skips when CuPy is not installed or sees no usable CUDA GPU (a CuPy
    without a driver may raise instead of answering ``is_available``).

    Returns
    -------
    module
    """
    cp = pytest.importorskip("cupy")
    try:
        usable = bool(cp.is_available())
    except Exception:
        usable = False
    if not usable:
        pytest.skip("CuPy sees no usable CUDA GPU", allow_module_level=True)
    return cp
