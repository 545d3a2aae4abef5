"""Which backend serves an operand: the one registry of array types and namespaces.

``x @ conn``, ``conn @ x`` and ``conn.todense(xp=...)`` find their
:class:`~lazyconn.backends.ArrayBackend` through :func:`backend_for`, by the
operand's type or the namespace's name.  Every library registers the same
way: a module of lazyconn (``lazyconn._host`` for NumPy, ``lazyconn._cupy``,
``lazyconn.dask``, ``lazyconn._sparse`` for SciPy sparse arrays,
``lazyconn._torch`` and ``lazyconn._jax``) calls :func:`register` when it is
imported, and it is imported the first time a type from its library's
top-level package (or a namespace of that name) is looked up -- so
importing lazyconn imports none of them, and none of their libraries.
Types that are not registered but speak the array API go through the host
kernels and come back in their own namespace (:func:`route`).
"""

from __future__ import annotations

import importlib
import sys
import types

import numpy as np

from .backends import ArrayBackend

__all__ = [
    "register", "register_lazy", "backend_for", "route", "scipy_sparse_is_converting", "is_scipy_spmatrix",
]

#: type -> ArrayBackend, for registered types and (cached) their subclasses.
_BY_TYPE = {}
#: namespace name (``"cupy"``, ``"array_api_compat.numpy"``) -> ArrayBackend.
_BY_NAMESPACE = {}
#: top-level package or namespace name -> the lazyconn module that registers it.
_LAZY = {}


def register(backend, classes=(), namespaces=()):
    """Register ``backend`` for arrays of ``classes`` and namespaces named ``namespaces``.

    Parameters
    ----------
    backend : lazyconn.backends.ArrayBackend
    classes : type or tuple of type
        Array types it serves (their subclasses too).
    namespaces : tuple of str
        Names (``module.__name__``) of array namespaces it serves for
        ``todense(xp=...)``.
    """
    if not isinstance(backend, ArrayBackend):
        raise TypeError(f"register needs an ArrayBackend, got {type(backend).__name__}")
    for cls in (classes if isinstance(classes, tuple) else (classes,)):
        _BY_TYPE[cls] = backend
    for name in namespaces:
        _BY_NAMESPACE[name] = backend


def register_lazy(module_name, *names):
    """Import ``module_name`` (which registers its backend) when a type from a
    top-level package in ``names``, or a namespace so named, is first looked up.

    A name starting with a dot is relative to this package (``"._cupy"``).
    """
    for name in names:
        _LAZY[name] = module_name


register_lazy("._host", "numpy", "array_api_compat", "array_api_compat.numpy")
register_lazy("._cupy", "cupy", "array_api_compat.cupy")
register_lazy(".dask", "dask")
register_lazy("._sparse", "scipy")
register_lazy("._torch", "torch")
register_lazy("._jax", "jax", "jaxlib")


def _load(name):
    """Import the module registering ``name``'s library; False if there is none.

    The entry is kept, not popped: threads (Dask's scheduler) looking up the
    same library at once all wait in the import system for the one import,
    so none of them finds the table still empty.
    """
    module_name = _LAZY.get(name)
    if module_name is None:
        return False
    importlib.import_module(module_name, __package__)
    return True


def _for_type(cls, load=True):
    backend = _BY_TYPE.get(cls)
    if backend is not None:
        return backend
    for base in cls.__mro__[1:]:
        backend = _BY_TYPE.get(base)
        if backend is not None:
            _BY_TYPE[cls] = backend
            return backend
    for registered, backend in list(_BY_TYPE.items()):
        # Abstract bases (``jax.Array``) that are not in the concrete type's MRO.
        if getattr(registered, "__abstractmethods__", None) is not None and issubclass(cls, registered):
            _BY_TYPE[cls] = backend
            return backend
    if load and _load(cls.__module__.partition(".")[0]):
        return _for_type(cls, load=False)
    return None


def _for_namespace(xp):
    name = getattr(xp, "__name__", None)
    if not isinstance(name, str):
        return None
    backend = _BY_NAMESPACE.get(name)
    if backend is None and (_load(name) or _load(name.partition(".")[0])):
        backend = _BY_NAMESPACE.get(name)
    return backend


def backend_for(obj):
    """The :class:`~lazyconn.backends.ArrayBackend` of an array, array type or namespace.

    Parameters
    ----------
    obj : array, type, module or None
        An operand (looked up by its type), an array type, or an array
        namespace (``numpy``, ``cupy``, ``array_api_compat.numpy``; None
        is NumPy).

    Returns
    -------
    lazyconn.backends.ArrayBackend

    Raises
    ------
    TypeError
        If nothing is registered for it (see :func:`route` for operands
        that lazyconn still accepts: lists, array-API arrays).
    """
    if obj is None:
        obj = np
    if isinstance(obj, types.ModuleType):
        backend = _for_namespace(obj)
        what = f"array namespace {obj.__name__!r}"
    else:
        cls = obj if isinstance(obj, type) else type(obj)
        backend = _for_type(cls)
        what = f"arrays of type {cls.__module__}.{cls.__name__}"
    if backend is None:
        raise TypeError(f"lazyconn has no backend for {what}; use numpy or cupy (or a dask array of them)")
    return backend


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


def _array_api_matmul(view, x, side, binary):
    """Any other array-API array on the host: compute in NumPy, return in kind."""
    namespace = x.__array_namespace__()
    try:
        host = np.from_dlpack(x)
    except (TypeError, AttributeError, BufferError, RuntimeError):
        host = np.asarray(x)
    result = backend_for(np).matmul(view, host, side, binary)
    return namespace.asarray(result)


#: Operands that speak the array API but are registered nowhere.
ARRAY_API = ArrayBackend("array-api", _array_api_matmul)


def is_scipy_spmatrix(x):
    """True for a ``scipy.sparse`` *matrix* (``*`` is its matrix product); never imports scipy."""
    module = sys.modules.get("scipy.sparse")
    return module is not None and isinstance(x, module.spmatrix)


def route(x):
    """Return ``(backend, operand)``: the :class:`~lazyconn.backends.ArrayBackend` serving ``x``.

    Lists, tuples and Python scalars become NumPy arrays; unregistered types
    with ``__array_namespace__`` use the array-API route (host kernels,
    result in ``x``'s namespace).

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
    cls = type(x)
    backend = _BY_TYPE.get(cls) or _for_type(cls)
    if backend is not None:
        return backend, x
    if hasattr(x, "__array_namespace__"):
        return ARRAY_API, x
    if isinstance(x, (list, tuple, int, float, bool, np.generic)):
        x = np.asarray(x)
        return backend_for(x), x
    raise TypeError(
        f"cannot multiply a JITC matrix with an operand of type {cls.__name__}; "
        "pass a NumPy, CuPy or Dask array, a PyTorch tensor or JAX array, a scipy.sparse array, "
        "a BinaryArray, or any array-API array"
    )
