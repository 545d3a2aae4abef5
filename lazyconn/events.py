"""BinaryArray: spike vectors and rasters whose entries are 0 or 1.

Multiplying a JITC matrix by a BinaryArray is event-driven: only the lines of
active entries are generated, and their weights are added without a multiply.
"""

from __future__ import annotations

import numpy as np

from . import _float

__all__ = ["BinaryArray"]


class BinaryArray:
    """A 1-D or 2-D array of events (bool, or numbers equal to 0 or 1).

    Parameters
    ----------
    data : array_like
        NumPy, CuPy or Dask array, PyTorch tensor, JAX array, ``scipy.sparse``
        array or matrix (or
        anything ``numpy.asarray`` accepts) of bool, or of integers/floats
        that are all 0 or 1.  A sparse raster is checked on its stored values
        and never densified; products with it generate only the active lines.  Shape ``(m,)`` for
        one spike vector, ``(b, m)`` for ``b`` vectors (``spikes @ conn``) or
        ``(n, b)`` on the right of ``conn @ spikes``.

    Raises
    ------
    TypeError
        For complex, object or string data.
    ValueError
        For data that is not 1-D or 2-D, or holds values other than 0 and 1.

    Examples
    --------
    >>> import numpy as np, lazyconn
    >>> conn = lazyconn.JITCScalarR(1000, 500, prob=0.1, weight=0.5, seed=0)
    >>> spikes = lazyconn.BinaryArray(np.arange(1000) % 100 == 0)
    >>> (spikes @ conn).shape
    (500,)
    """

    __array_priority__ = 101

    def __init__(self, data):
        if not hasattr(data, "dtype") or not hasattr(data, "ndim"):
            data = np.asarray(data)
        kind = _dtype_kind(data)
        if kind not in "biuf":
            raise TypeError(
                f"BinaryArray data must be bool or 0/1 numbers, got dtype {data.dtype}; "
                "pass e.g. (voltages > threshold)"
            )
        if data.ndim not in (1, 2):
            raise ValueError(f"BinaryArray data must be 1-D or 2-D, got shape {tuple(data.shape)}")
        if kind != "b" and _is_concrete(data):
            if not _all_binary(_stored_values(data)):
                raise ValueError(
                    "BinaryArray data must hold only 0 and 1; for weighted inputs multiply "
                    "by the plain array instead (x @ conn)"
                )
        self._data = data

    @property
    def data(self):
        """The wrapped array, in its own namespace."""
        return self._data

    @property
    def shape(self):
        """Shape of the events."""
        return tuple(self._data.shape)

    @property
    def ndim(self):
        """1 or 2."""
        return self._data.ndim

    @property
    def dtype(self):
        """Always ``bool``: events carry no magnitude."""
        return np.dtype(bool)

    @property
    def T(self):
        """Transposed events (2-D)."""
        return BinaryArray(self._data.T)

    def __len__(self):
        return self.shape[0]

    def __repr__(self):
        return f"BinaryArray(shape={self.shape}, data type {type(self._data).__module__}.{type(self._data).__name__})"

    def __array__(self, dtype=None, copy=None):
        return np.asarray(_dense(self._data), dtype=bool if dtype is None else dtype)

    def __matmul__(self, other):
        from ._protocols import ArrayProtocols

        if isinstance(other, ArrayProtocols):  # a JITC matrix or composite
            return other.__rmatmul__(self)
        return np.matmul(np.asarray(_dense(self._data), dtype=np.result_type(other, np.float32)), other)

    def __rmatmul__(self, other):
        from ._protocols import ArrayProtocols

        if isinstance(other, ArrayProtocols):  # a JITC matrix or composite
            return other.__matmul__(self)
        return np.matmul(other, np.asarray(_dense(self._data), dtype=np.result_type(other, np.float32)))


def _all_binary(values):
    """True if every value is 0 or 1, computed in ``values``' own library (on its device).

    float32 arrays of a library that may flush subnormals (CuPy compiles
    with ``-ftz=true``, where ``1e-40 == 0`` holds) are tested by their
    bits, so that a subnormal is refused as NumPy refuses it rather than
    taken for a zero here and for an event by the kernels.
    """
    if _flushing_float32(values):
        bits = values.view(_float._namespace(values).uint32)
        ok = ((bits & 0x7FFFFFFF) == 0) | (bits == 0x3F800000)
    else:
        ok = (values == 0) | (values == 1)
    if hasattr(ok, "__array_namespace__"):
        return bool(ok.__array_namespace__().all(ok))
    # PyTorch tensors (no array-API namespace of their own) have the method.
    return bool(ok.all() if hasattr(ok, "all") else np.all(ok))


def _flushing_float32(values):
    """True for a float32 array with a ``view`` method, of a library that may flush subnormals (CuPy)."""
    if not _float._flushes(values) or not hasattr(values, "view"):
        return False
    try:
        return np.dtype(values.dtype) == np.float32
    except TypeError:  # a dtype NumPy cannot read (array_api_strict's, PyTorch's)
        return False


def _dtype_kind(data):
    """NumPy's kind letter of ``data``'s dtype, also for array-API and PyTorch dtypes NumPy cannot read."""
    try:
        return np.dtype(data.dtype).kind
    except TypeError:
        pass
    namespace = data.__array_namespace__() if hasattr(data, "__array_namespace__") else None
    if namespace is None or not hasattr(namespace, "isdtype"):
        # ``torch.float32`` and the like: NumPy's dtype of the same name.
        try:
            return np.dtype(str(data.dtype).rpartition(".")[2]).kind
        except TypeError:
            return "O"
    for kind, name in (("b", "bool"), ("i", "signed integer"), ("u", "unsigned integer"), ("f", "real floating")):
        if namespace.isdtype(data.dtype, name):
            return kind
    return "O"


def _is_concrete(data):
    """True for arrays whose values can be checked now (not lazy Dask arrays)."""
    return not hasattr(data, "dask")


def _is_scipy_sparse(data):
    # By module, so that scipy is imported only for its own arrays.
    return type(data).__module__.startswith("scipy.sparse") and hasattr(data, "tocoo")


def _stored_values(data):
    """The values to check: a sparse raster's stored values (summed duplicates), else ``data``."""
    if _is_scipy_sparse(data):
        from ._sparse import canonical_values

        return canonical_values(data)
    return data


def _dense(data):
    """``data`` as something NumPy converts: a sparse raster's dense array."""
    return data.toarray() if _is_scipy_sparse(data) else data
