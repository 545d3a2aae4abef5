"""NumPy and array-API protocols of the JITC duck array.

NEP-13 (``__array_ufunc__``) handles ``np.matmul`` in both directions and
scaling by a scalar; NEP-18 (``__array_function__``) handles the functions in
``HANDLED_FUNCTIONS`` (filled here and in :mod:`lazyconn._numpy_functions`)
and refuses everything else with a TypeError that lists them, instead of
silently materialising.  ``__array__``
materialises only under ``max_dense_size``.
"""

from __future__ import annotations

import numpy as np

from .config import get_options

__all__ = ["ArrayProtocols", "HANDLED_FUNCTIONS", "implements"]

#: NumPy function -> implementation taking the same arguments.
HANDLED_FUNCTIONS = {}

#: Why ``conn @ conn`` (and np.matmul, np.dot, ... of two JITC operands) is refused.
_JITC_PRODUCT_MESSAGE = (
    "the product of two JITC matrices is a dense matrix and is not computed lazily; "
    "materialise one side with .todense() (on a small window) first"
)


def implements(*numpy_functions):
    """Register an implementation for one or more NumPy functions."""

    def decorator(func):
        for numpy_function in numpy_functions:
            HANDLED_FUNCTIONS[numpy_function] = func
        return func

    return decorator


def _is_jitc(x):
    return isinstance(x, ArrayProtocols)


class ArrayProtocols:
    """Mixin holding the NumPy protocol methods (see module docstring)."""

    __slots__ = ()

    def __array__(self, dtype=None, copy=None):
        from .dispatch import scipy_sparse_is_converting

        if scipy_sparse_is_converting():
            # ``S @ conn``: a 0-d object array makes scipy return
            # NotImplemented, so Python calls conn.__rmatmul__ (lazyconn.dispatch).
            return np.empty((), dtype=object)
        if copy is False:
            raise ValueError(
                "a JITC matrix has no stored entries, so np.asarray(conn, copy=False) is impossible; "
                "use conn.todense() (small windows) or a product"
            )
        m, n = self.shape
        limit = get_options()["max_dense_size"]
        if m * n > limit:
            # Usually a library's np.asarray (scikit-learn's check_array,
            # jnp.asarray, a scipy.sparse product): say so, and the lazy routes.
            raise ValueError(
                f"something converted a {m} x {n} JITC matrix to a dense array (np.asarray or "
                f"__array__), which would materialise {m * n:,} entries, above max_dense_size="
                f"{limit:,}. Lazy routes: conn @ x and x @ conn, conn.aslinearoperator() (or the raw "
                "matrix) for scipy.sparse.linalg, conn.to_dask() for Dask; for a small window "
                "conn[a:b, c:d].todense(); or raise the limit with lazyconn.set_options(max_dense_size=...)"
            )
        dense = self.todense()
        return dense if dtype is None else dense.astype(dtype)

    @property
    def device(self):
        """``"cpu"``: the generator lives on the host; products run on the operand's device."""
        return "cpu"

    def to_device(self, device, /, *, stream=None):
        """The matrix on ``device``: itself for ``"cpu"`` (array API).

        A JITC matrix holds no entries, so there is nothing to move: its
        products run where their operand lives (a CuPy operand on its GPU).

        Parameters
        ----------
        device : str or object
            ``"cpu"``.
        stream : None
            Accepted for the array API; must be None.

        Returns
        -------
        JITCMatrix
        """
        if device != "cpu" or stream is not None:
            raise ValueError(
                f"a JITC matrix has no entries to move to device {device!r}: it stays a generator, "
                "and a product with an array on that device (a CuPy array) runs there"
            )
        return self

    def __array_ufunc__(self, ufunc, method, *inputs, **kwargs):
        if method == "__call__" and "out" not in kwargs and not kwargs:
            if ufunc is np.matmul and len(inputs) == 2:
                left, right = inputs
                if _is_jitc(left) and _is_jitc(right):
                    raise TypeError(_JITC_PRODUCT_MESSAGE)
                return left.__matmul__(right) if _is_jitc(left) else right.__rmatmul__(left)
            if ufunc is np.negative and len(inputs) == 1:
                return -self
            if ufunc in (np.positive, np.conjugate) and len(inputs) == 1:
                # Real entries: the conjugate is the matrix itself (SciPy's
                # array-API adjoint takes np.conj(A.T)).
                return self
            if ufunc is np.multiply and len(inputs) == 2:
                left, right = inputs
                return self.__mul__(right if left is self else left)
            if ufunc is np.true_divide and len(inputs) == 2 and inputs[0] is self:
                return self.__truediv__(inputs[1])
        # Everything else (comparisons, sums of arrays, reductions, ``out=``)
        # would materialise the matrix: refuse with the lazy alternatives
        # instead of NumPy's bare "operand type(s) all returned NotImplemented".
        call = f"np.{ufunc.__name__}" + ("" if method == "__call__" else f".{method}")
        detail = " with out=" if "out" in kwargs else ""
        raise TypeError(
            f"{call}{detail} of a JITC matrix is not computed lazily (it would materialise the "
            "matrix). Lazy: conn @ x, x @ conn, conn * scalar, conn.sum(), conn.count_nonzero(); "
            "for elementwise work take conn[a:b, c:d].todense() of a small window"
        )

    def __array_function__(self, func, types, args, kwargs):
        implementation = HANDLED_FUNCTIONS.get(func)
        if implementation is None:
            if all(issubclass(t, (ArrayProtocols, np.ndarray)) for t in types):
                raise TypeError(_unhandled_message(func))
            # Another array type (Dask, CuPy, ...) may implement it.
            return NotImplemented
        # No check of the other operands' types: every implementation here
        # goes through ``@`` or a method, where the operand dispatch table
        # (lazyconn.dispatch) serves NumPy, CuPy, Dask and array-API arrays
        # and refuses anything else with a TypeError.
        return implementation(*args, **kwargs)

    def __array_namespace__(self, api_version=None):
        """The array-API namespace of host operands (``array_api_compat.numpy``).

        A JITC matrix has no device of its own; it joins the namespace of
        the NumPy arrays it is used with, so
        ``array_api_compat.array_namespace(x, conn)`` works for NumPy ``x``.
        """
        import array_api_compat.numpy

        return array_api_compat.numpy


def _numpy_name(func):
    module = getattr(func, "__module__", "numpy") or "numpy"
    return module.replace("numpy", "np", 1) + "." + getattr(func, "__name__", repr(func))


def _unhandled_message(func):
    lazy = ", ".join(sorted({_numpy_name(f) for f in HANDLED_FUNCTIONS}))
    return (
        f"{_numpy_name(func)} of a JITC matrix is not computed lazily (it would materialise the "
        f"matrix). Lazy NumPy functions: {lazy}. Otherwise take conn[a:b, c:d].todense() of a small "
        "window, or use conn.aslinearoperator() for iterative solvers"
    )


@implements(np.dot)
def _dot(a, b, out=None):
    if out is not None:
        raise TypeError("np.dot(..., out=) is not supported with a JITC matrix; assign the result instead")
    return a @ b


@implements(np.transpose)
def _transpose(a, axes=None):
    if axes is None or tuple(np.asarray(axes) % 2) == (1, 0):
        return a.T
    if tuple(np.asarray(axes) % 2) == (0, 1):
        return a
    raise ValueError(f"axes must be a permutation of (0, 1), got {axes!r}")


@implements(np.swapaxes)
def _swapaxes(a, axis1, axis2):
    if {axis1 % 2, axis2 % 2} == {0, 1}:
        return a.T
    return a


@implements(np.matrix_transpose)
def _matrix_transpose(x, /):
    return x.mT


@implements(np.sum)
def _sum(a, axis=None, dtype=None, out=None, keepdims=False, **kwargs):
    if out is not None or kwargs:
        raise TypeError(f"np.sum of a JITC matrix supports axis, dtype and keepdims only, got {sorted(kwargs) or ['out']}")
    return a.sum(axis=axis, dtype=dtype, keepdims=keepdims)


@implements(np.count_nonzero)
def _count_nonzero(a, axis=None, *, keepdims=False):
    result = a.count_nonzero(axis=axis)
    if keepdims:
        result = np.reshape(result, (1, -1) if axis in (0, -2) else (-1, 1) if axis is not None else (1, 1))
    return result


@implements(np.shape)
def _shape(a):
    return a.shape


@implements(np.ndim)
def _ndim(a):
    return a.ndim


@implements(np.size)
def _size(a, axis=None):
    return a.size if axis is None else a.shape[axis]


def _at_least(make, arys):
    # A JITC matrix is already 2-D: it is its own result.  SciPy's array-API
    # path of ``aslinearoperator`` calls ``atleast_2d`` on any array it is given.
    results = [a if isinstance(a, ArrayProtocols) else make(a) for a in arys]
    return results[0] if len(results) == 1 else tuple(results)


@implements(np.atleast_1d)
def _atleast_1d(*arys):
    return _at_least(np.atleast_1d, arys)


@implements(np.atleast_2d)
def _atleast_2d(*arys):
    return _at_least(np.atleast_2d, arys)


@implements(np.astype)
def _astype(x, dtype, /, *, copy=True, device=None):
    return x.astype(dtype, copy=copy)
