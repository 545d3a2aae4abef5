"""Python operators of the JITC duck array, and the SciPy LinearOperator surface.

Scaling by a real scalar is lazy (a view with a scale factor); every other
elementwise operation and comparison would materialise the matrix and is
refused with a TypeError that names the lazy alternatives, never answered
with Python's identity comparison.  ``matvec``, ``rmatvec``, ``matmat``,
``rmatmat``, ``adjoint``/``H`` and ``dot`` make the raw matrix usable where
SciPy accepts a linear operator (``aslinearoperator``, ``eigs``, ``svds``,
``gmres``, ``onenormest``).
"""

from __future__ import annotations

import math
import numbers

import numpy as np

from . import _float
from .spec import short_repr

__all__ = ["OperatorsMixin", "check_scale", "apply_scale", "scalar_float"]


def _is_real_scalar(value):
    if isinstance(value, (bool, np.bool_)):
        return True
    if isinstance(value, numbers.Real):
        return True
    return isinstance(value, np.ndarray) and value.ndim == 0 and value.dtype.kind in "biuf"


def _add_unset(a, b):
    raise TypeError(
        "a + b of JITC matrices is a lazyconn.composite.JITCComposite, and that module is "
        "not imported yet: `import lazyconn` loads it"
    )


#: ``a + b`` of JITC matrices and composites: :func:`lazyconn.composite.add`,
#: installed by :func:`set_add` when that module is imported (the package's
#: ``__init__`` imports it).  A hook, not an import: composites are built
#: from matrices, so this module, below the matrix, must not import them.
_ADD = _add_unset


def set_add(add):
    """Install the function that ``a + b`` of two JITC matrices calls.

    Parameters
    ----------
    add : callable
        ``add(a, b)`` returning the lazy sum or raising TypeError/ValueError.
    """
    global _ADD
    _ADD = add


class OperatorsMixin:
    """Mixin: scaling, refused elementwise operators, the LinearOperator surface."""

    __slots__ = ()

    def _scaled(self, factor, symbol="*"):
        if not _is_real_scalar(factor):
            raise TypeError(
                f"conn {symbol} {_describe(factor)}: only scaling by a real scalar is lazy "
                "(conn * 0.5, conn / 2); an elementwise operation with an array would materialise "
                "the matrix: use conn[a:b, c:d].todense() on a small window"
            )
        factor = scalar_float(factor, "the scale factor")
        if symbol == "/":
            if factor == 0.0:
                raise ValueError(
                    "division of a JITC matrix by zero would scale every weight to infinity; "
                    "divide by a nonzero finite number"
                )
            factor = 1.0 / factor
        return type(self)._make(self._spec, self._window, check_scale(self._spec, self._scale * factor))

    def __mul__(self, other):
        return self._scaled(other)

    def __rmul__(self, other):
        from .dispatch import is_scipy_spmatrix

        if is_scipy_spmatrix(other):
            # ``Sm * conn`` with a scipy sparse *matrix* is a matrix product
            # (np.matrix rules); scipy defers it here (lazyconn.dispatch).
            return self.__rmatmul__(other)
        return self._scaled(other)

    def __truediv__(self, other):
        return self._scaled(other, "/")

    def __neg__(self):
        return self._scaled(-1.0)

    def __pos__(self):
        return self

    # Elementwise comparisons and arithmetic would materialise the matrix:
    # each is refused with a TypeError that names the lazy alternative,
    # never answered with Python's identity comparison (``M != 0`` used to
    # be one bool, so ``np.sum(M != 0)`` was 1).
    def __eq__(self, other):
        _refuse_elementwise("==", other)

    def __ne__(self, other):
        _refuse_elementwise("!=", other)

    def __lt__(self, other):
        _refuse_elementwise("<", other)

    def __le__(self, other):
        _refuse_elementwise("<=", other)

    def __gt__(self, other):
        _refuse_elementwise(">", other)

    def __ge__(self, other):
        _refuse_elementwise(">=", other)

    # Hashable by identity, as before: dict and set lookups compare
    # identity first, so they never reach the refused ``==``.
    __hash__ = object.__hash__

    def __add__(self, other):
        # JITC + JITC (or a composite) of one shape is a lazy composite;
        # anything else is refused there as elementwise.
        return _ADD(self, other)

    def __radd__(self, other):
        return _ADD(other, self)

    def __sub__(self, other):
        _refuse_elementwise("-", other)

    __rsub__ = __sub__

    def __rtruediv__(self, other):
        _refuse_elementwise("/", other)

    def __floordiv__(self, other):
        _refuse_elementwise("//", other)

    __rfloordiv__ = __floordiv__

    def __mod__(self, other):
        _refuse_elementwise("%", other)

    __rmod__ = __mod__

    def __pow__(self, other):
        _refuse_elementwise("**", other)

    __rpow__ = __pow__

    def __and__(self, other):
        _refuse_elementwise("&", other)

    __rand__ = __and__

    def __or__(self, other):
        _refuse_elementwise("|", other)

    __ror__ = __or__

    def __xor__(self, other):
        _refuse_elementwise("^", other)

    __rxor__ = __xor__

    def __abs__(self):
        _refuse_elementwise("abs()", None)

    def __invert__(self):
        _refuse_elementwise("~", None)

    def __bool__(self):
        raise TypeError(
            "the truth value of a JITC matrix is ambiguous; use conn.count_nonzero() > 0"
        )

    def __float__(self):
        raise TypeError("a JITC matrix cannot be converted to a Python float")

    def __int__(self):
        raise TypeError("a JITC matrix cannot be converted to a Python int")

    def __complex__(self):
        raise TypeError("a JITC matrix cannot be converted to a Python complex")

    # ------------------------------------------------- LinearOperator surface
    # SciPy's aslinearoperator() takes any object with shape, dtype and
    # matvec (and uses rmatvec/rmatmat when present): with these the raw
    # matrix goes to eigs, eigsh, svds, gmres, onenormest, ...  The matrix
    # is real, so its adjoint is its transpose (nothing is conjugated).
    def dot(self, other):
        """``self @ other``, as ``numpy.ndarray.dot``.

        Parameters
        ----------
        other : array_like
            1-D or 2-D operand.

        Returns
        -------
        array
        """
        return self @ other

    def matvec(self, x):
        """``self @ x`` for one vector, as SciPy's ``LinearOperator.matvec``.

        Parameters
        ----------
        x : array of shape (n,) or (n, 1)
            Real or complex.

        Returns
        -------
        array of shape (m,) or (m, 1)
        """
        return self @ _one_vector(x, self.shape[1], "matvec")

    def rmatvec(self, x):
        """``self.H @ x`` (``self.T @ x``: the matrix is real), as SciPy's ``rmatvec``.

        Parameters
        ----------
        x : array of shape (m,) or (m, 1)

        Returns
        -------
        array of shape (n,) or (n, 1)
        """
        return self.T @ _one_vector(x, self.shape[0], "rmatvec")

    def matmat(self, x):
        """``self @ x`` for a 2-D ``x``, as SciPy's ``LinearOperator.matmat``.

        Parameters
        ----------
        x : array of shape (n, k)

        Returns
        -------
        array of shape (m, k)
        """
        return self @ _block(x, "matmat")

    def rmatmat(self, x):
        """``self.H @ x`` for a 2-D ``x`` (``self.T @ x``), as SciPy's ``rmatmat``.

        Parameters
        ----------
        x : array of shape (m, k)

        Returns
        -------
        array of shape (n, k)
        """
        return self.T @ _block(x, "rmatmat")

    def adjoint(self):
        """The Hermitian adjoint: the transpose, since every entry is real.

        Returns
        -------
        JITCMatrix
            ``self.T`` (nothing is generated).
        """
        return self.T

    @property
    def H(self):
        """The Hermitian adjoint (``self.T``), as on SciPy's LinearOperator."""
        return self.T

    def conj(self):
        """The complex conjugate: the matrix itself, every entry being real.

        Returns
        -------
        JITCMatrix
        """
        return self

    conjugate = conj

    def __index__(self):
        raise TypeError(
            "a JITC matrix cannot be used as an index or a repeat count (e.g. 'text' * conn); "
            "only scaling by a real scalar is lazy (conn * 0.5)"
        )


def _describe(value):
    if isinstance(value, np.ndarray):
        return f"a {value.dtype} array of shape {value.shape}"
    return f"{short_repr(value)} ({type(value).__name__})"


def _refuse_elementwise(symbol, other):
    """Raise the TypeError of an elementwise operation on a JITC matrix."""
    operand = "" if other is None else f" with {_describe(other)}"
    raise TypeError(
        f"elementwise '{symbol}' of a JITC matrix{operand} is not computed lazily (it would "
        "materialise the matrix). Use conn.count_nonzero() for nonzeros, conn.sum() for sums, "
        "conn[a:b, c:d].todense() for elementwise work on a small window, "
        "conn.same_generator(other) to ask whether two matrices are the same generator and window, "
        "and conn.aslinearoperator() for SciPy routines that form A - mu * I (expm_multiply)"
    )


def scalar_float(value, name):
    """``float(value)`` for a real scalar, with a ValueError naming it when it overflows."""
    try:
        return float(value)
    except OverflowError:
        raise ValueError(f"{name} {short_repr(value)} overflows a float64; pass a finite real number") from None


def check_scale(spec, scale):
    """Validate the scale of a view of ``spec``: finite, and no entry overflows the dtype.

    Scaled entries are ``dtype(w * scale)`` with the product in float64, so
    an unconnected entry stays exactly zero; a scale that would turn the
    largest possible weight into infinity is refused instead of creating
    infinities (and NaNs in products).

    Parameters
    ----------
    spec : lazyconn.spec.Spec
    scale : float

    Returns
    -------
    float
        ``scale``.

    Raises
    ------
    ValueError
        For a non-finite scale, or one whose product with the law's largest
        ``|weight|`` overflows the dtype.
    """
    if not math.isfinite(scale):
        raise ValueError(
            f"the scale factor of a JITC matrix must be finite, got {scale!r} (a product of "
            "scale factors can overflow); scale by a finite real number"
        )
    bound = spec.law.max_abs_weight()
    largest = float(np.finfo(spec.dtype).max) * (1.0 - 2.0**-20)
    if not bound * abs(scale) <= largest:
        raise ValueError(
            f"scaling by {scale!r} would overflow {spec.dtype.name}: the weights reach {bound:.6g} in "
            f"magnitude, and {bound:.6g} * {abs(scale):.6g} exceeds the largest {spec.dtype.name} "
            f"({largest:.6g}); use a smaller factor, or conn.astype(numpy.float64) first"
        )
    return scale


def apply_scale(values, scale, dtype):
    """``dtype(values * scale)`` with the product in float64 (zeros stay zero; subnormals kept on any library)."""
    return _float.scaled(values, scale, dtype)


def _one_vector(x, length, name):
    """``x`` if it is one vector of ``length`` entries, as 1-D or a column."""
    shape = tuple(getattr(x, "shape", np.shape(x)))
    if shape not in ((length,), (length, 1)):
        raise ValueError(f"{name} needs a vector of shape ({length},) or ({length}, 1), got shape {shape}")
    return x if hasattr(x, "__array_namespace__") or isinstance(x, np.ndarray) else np.asarray(x)


def _block(x, name):
    """``x`` if it is 2-D."""
    x = x if hasattr(x, "ndim") else np.asarray(x)
    if x.ndim != 2:
        raise ValueError(f"{name} needs a 2-D array, got shape {tuple(x.shape)}; use matvec for one vector")
    return x
