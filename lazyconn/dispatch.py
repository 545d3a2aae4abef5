"""Operand type -> product handler, through one explicit table.

``x @ conn`` and ``conn @ x`` look up ``type(x)`` here.  NumPy arrays are
registered eagerly; CuPy and Dask register lazily, the first time an operand
from their top-level module is seen, so importing lazyconn never imports
them.  SciPy sparse arrays and matrices register the same way
(:mod:`lazyconn._sparse`).  Types that are not registered but speak the array
API go through the host kernels and come back in their own namespace.

A handler has the signature ``handler(conn, x, side, binary)`` where
``side`` is ``"left"`` for ``x @ conn`` and ``"right"`` for ``conn @ x``.
"""

from __future__ import annotations

import importlib
import sys

import numpy as np

__all__ = ["Dispatch", "matmul_dispatch", "scipy_sparse_is_converting", "is_scipy_spmatrix"]


class Dispatch:
    """A registry from operand types to handlers, with lazy registration.

    Parameters
    ----------
    name : str
        Operation name, for error messages.
    """

    def __init__(self, name):
        self.name = name
        self._lookup = {}
        self._lazy = {}

    def register(self, cls, handler=None):
        """Register ``handler`` for ``cls`` (usable as a decorator)."""

        def wrapper(func):
            self._lookup[cls] = func
            return func

        return wrapper(handler) if handler is not None else wrapper

    def register_lazy(self, toplevel, module_name):
        """Import ``module_name`` (which registers its types) when a type from
        the package ``toplevel`` is first dispatched."""
        self._lazy[toplevel] = module_name

    def dispatch(self, cls):
        """Return the handler for ``cls``, or None if there is none."""
        for base in cls.__mro__:
            if base in self._lookup:
                return self._lookup[base]
        toplevel = cls.__module__.partition(".")[0]
        module_name = self._lazy.pop(toplevel, None)
        if module_name is not None:
            importlib.import_module(module_name)
            return self.dispatch(cls)
        return None


matmul_dispatch = Dispatch("matmul")
matmul_dispatch.register_lazy("cupy", "lazyconn.kernels.gpu")
matmul_dispatch.register_lazy("dask", "lazyconn.dask")
matmul_dispatch.register_lazy("scipy", "lazyconn._sparse")


def scipy_sparse_is_converting(depth=2):
    """True when scipy.sparse's matmul is converting a JITC matrix with ``np.asanyarray``.

    ``S @ conn`` with a scipy sparse ``S`` runs ``S.__matmul__`` first (the
    left operand), and scipy turns any operand it does not know into a dense
    array -- which would materialise the matrix -- before ``conn.__rmatmul__``
    is ever tried.  scipy returns ``NotImplemented`` (so Python tries
    ``conn.__rmatmul__``, the event-driven product) when that conversion
    gives a 0-d object array; ``__array__`` gives one exactly when this
    function says it is scipy's product asking.  Any other caller, or another
    scipy version without this code path, gets the dense array as before
    (bounded by ``max_dense_size``).

    Parameters
    ----------
    depth : int
        Frames between this function and the code that called
        ``np.asanyarray`` (2: called from ``__array__``).
    """
    try:
        frame = sys._getframe(depth)
    except ValueError:
        return False
    return (
        frame.f_code.co_name == "_matmul_dispatch"
        and frame.f_globals.get("__name__", "").startswith("scipy.sparse")
    )


@matmul_dispatch.register(np.ndarray)
def _numpy_matmul(conn, x, side, binary):
    from . import products
    from .kernels import host_backend

    return products.matmul(conn, x, side, binary, host_backend(), np)


def _array_api_matmul(conn, x, side, binary):
    """Any other array-API array on the host: compute in NumPy, return in kind."""
    namespace = x.__array_namespace__()
    try:
        host = np.from_dlpack(x)
    except (TypeError, AttributeError, BufferError, RuntimeError):
        host = np.asarray(x)
    result = _numpy_matmul(conn, host, side, binary)
    return namespace.asarray(result)


def is_scipy_spmatrix(x):
    """True for a ``scipy.sparse`` *matrix* (``*`` is its matrix product); never imports scipy."""
    module = sys.modules.get("scipy.sparse")
    return module is not None and isinstance(x, module.spmatrix)


def handler_for(x):
    """Return ``(handler, operand)``: the product handler for ``x``.

    Lists, tuples and Python scalars become NumPy arrays; unregistered types
    with ``__array_namespace__`` use the array-API route.

    Raises
    ------
    TypeError
        If ``x`` is not an array of any known kind, or is a masked array.
    """
    if isinstance(x, np.ma.MaskedArray):
        # The kernels read the data and never the mask: masked entries would
        # silently take part (or not) depending on the path.
        raise TypeError(
            "cannot multiply a JITC matrix with a masked array: its mask would be ignored; "
            "pass x.filled(0) to treat masked entries as zero (or x.filled(value) for another value)"
        )
    handler = matmul_dispatch.dispatch(type(x))
    if handler is not None:
        return handler, x
    if hasattr(x, "__array_namespace__"):
        return _array_api_matmul, x
    if isinstance(x, (list, tuple, int, float, bool, np.generic)):
        return _numpy_matmul, np.asarray(x)
    raise TypeError(
        f"cannot multiply a JITC matrix with an operand of type {type(x).__name__}; "
        "pass a NumPy, CuPy or Dask array, a scipy.sparse array, a BinaryArray, or any array-API array"
    )

