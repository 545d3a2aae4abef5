"""The lazy duck array: a window of a JITC generator, with a scale factor.

A :class:`JITCMatrix` holds a :class:`~lazyconn.spec.Spec` (the whole
generator), a window ``[r0:r1, c0:c1]`` of it, and a scalar factor.  Slicing
narrows the window, ``.T`` mirrors the orientation, ``* s`` scales: none of
them generates anything.  Entries are generated only by products,
``todense()``, ``tocsr()``, reductions and scalar/row indexing.

The NumPy protocols (``__array_ufunc__``, ``__array_function__``,
``__array__``, ``__array_namespace__``) live in :mod:`lazyconn._protocols`.
"""

from __future__ import annotations

import numbers
import operator

import numpy as np

from . import _numpy_functions, _protocols, laws, reductions
from ._operators import OperatorsMixin, apply_scale, check_scale, scalar_float
from ._protocols import _JITC_PRODUCT_MESSAGE
from .config import check_materialise
from .dispatch import backend_for, route
from .events import BinaryArray
from .products import View
from .spec import Spec

__all__ = [
    "matmul",
    "JITCMatrix",
    "JITCScalarR",
    "JITCScalarC",
    "JITCNormalR",
    "JITCNormalC",
    "JITCUniformR",
    "JITCUniformC",
    "JITCLogNormalR",
    "JITCLogNormalC",
    "JITCExponentialR",
    "JITCExponentialC",
]


def _fresh_seed():
    """One fresh 64-bit seed from the OS entropy pool."""
    return int(np.random.SeedSequence().generate_state(1, np.uint64)[0])


class JITCMatrix(OperatorsMixin, _protocols.ArrayProtocols, _numpy_functions.NumpyMethods):
    """A just-in-time connectivity matrix: a generator, never its entries.

    Not constructed directly: use :class:`JITCScalarR`, :class:`JITCNormalC`
    and the other public classes.  Every view (slice, transpose, scaled
    matrix) is again a ``JITCMatrix`` of one of those classes.

    Parameters
    ----------
    *args, **kwargs
        Refused with a TypeError that names the public classes.

    Attributes
    ----------
    shape : tuple of int
    dtype : numpy.dtype
    spec : lazyconn.spec.Spec
        The whole generator this matrix is a window of.
    """

    #: Marks lazy matrices (this class and composites) for :func:`matmul`.
    _lazy_matrix = True

    __slots__ = ("_spec", "_window", "_scale")
    __array_priority__ = 100
    _orientation = None
    _mirror = None

    def __init__(self, *args, **kwargs):
        raise TypeError(
            "JITCMatrix is abstract; construct JITCScalarR/C, JITCNormalR/C or JITCUniformR/C"
        )

    @classmethod
    def _make(cls, spec, window=None, scale=1.0):
        """Build a view without validation (internal)."""
        self = object.__new__(cls)
        self._spec = spec
        m, n = spec.shape
        self._window = (0, m, 0, n) if window is None else tuple(int(v) for v in window)
        self._scale = float(scale)
        return self

    def _init_spec(self, num_pre, num_post, prob, law, seed, dtype, include_self, num_conn=None):
        if prob is None and num_conn is None:
            raise TypeError(
                f"{type(self).__name__}() needs prob (a connection probability, e.g. prob=0.01) or num_conn "
                "(exactly that many connections per line, e.g. num_conn=100)"
            )
        seed = _fresh_seed() if seed is None else seed
        spec = Spec((num_pre, num_post), self._orientation, prob, law, seed, dtype, include_self, num_conn)
        self._spec = spec
        self._window = (0, spec.shape[0], 0, spec.shape[1])
        self._scale = 1.0

    # ------------------------------------------------------------------ basics
    def as_view(self):
        """The generator, window and scale of this matrix, as one value.

        Products, the Dask graph builder and the reductions work from it
        (``lazyconn.products.View``): a matrix is its view plus the NumPy
        face.

        Returns
        -------
        lazyconn.products.View
        """
        return View(self._spec, self._window, self._scale)

    @property
    def spec(self):
        """The generator (:class:`~lazyconn.spec.Spec`) this matrix is a window of."""
        return self._spec

    @property
    def seed(self):
        """The 64-bit seed: the same seed gives the same matrix everywhere."""
        return self._spec.seed

    @property
    def prob(self):
        """Connection probability; with ``num_conn``, the probability ``K / N`` of an entry."""
        return self._spec.prob

    @property
    def num_conn(self):
        """Connections per line of the fixed-number rule (rows of R, columns of C), or None."""
        return self._spec.num_conn

    @property
    def shape(self):
        """Shape ``(rows, columns)`` of this window."""
        r0, r1, c0, c1 = self._window
        return (r1 - r0, c1 - c0)

    @property
    def dtype(self):
        """Dtype of the entries (float32 or float64)."""
        return self._spec.dtype

    @property
    def ndim(self):
        """Always 2."""
        return 2

    @property
    def size(self):
        """Number of entries (a Python int; may exceed 2**63 never, 2**62 at most)."""
        m, n = self.shape
        return m * n

    def __len__(self):
        return self.shape[0]

    @property
    def T(self):
        """The transpose: the same generator in the other orientation.

        ``R(m, n, seed).T`` is exactly ``C(n, m, seed)``; nothing is generated.
        """
        r0, r1, c0, c1 = self._window
        return self._mirror._make(self._spec.transposed, (c0, c1, r0, r1), self._scale)

    @property
    def mT(self):
        """The matrix transpose (same as :attr:`T` for a 2-D array)."""
        return self.T

    def astype(self, dtype, copy=True):
        """The same generator with another output dtype.

        Weights are computed in float64 and rounded once to ``dtype``, so a
        float32 matrix cast to float64 gives the float64 realisation (equal
        to the float32 one within float32 rounding), not a cast of it.

        Parameters
        ----------
        dtype : {numpy.float32, numpy.float64}
        copy : bool
            Accepted for NumPy compatibility; a matrix is never copied.

        Returns
        -------
        JITCMatrix
            A view of the same window and scale with the new dtype.
        """
        spec = self._spec.with_dtype(dtype)
        return type(self)._make(spec, self._window, check_scale(spec, self._scale))

    def same_generator(self, other):
        """True if ``other`` is the same view of the same generator.

        Same class, generator (shape, orientation, probability, law, seed,
        dtype, diagonal rule), window and scale: then every entry is equal
        by construction.  ``==`` is elementwise for arrays and is refused
        for JITC matrices (it would materialise them); this is the cheap
        question it is usually meant to ask.  False does not prove that
        the entries differ (two seeds with ``prob=0`` give the same zeros).
        To compare whole generators, compare ``a.spec == b.spec``.

        Parameters
        ----------
        other : object
            Anything; only a JITC matrix can be the same view.

        Returns
        -------
        bool
        """
        return (
            isinstance(other, JITCMatrix)
            and type(other) is type(self)
            and other._spec == self._spec
            and other._window == self._window
            and other._scale == self._scale
        )

    def __repr__(self):
        text = self._generator_repr()
        m, n = self._spec.shape
        if self._window != (0, m, 0, n):
            r0, r1, c0, c1 = self._window
            text += f"[{r0}:{r1}, {c0}:{c1}]"
        if self._scale != 1.0:
            text += f" * {self._scale!r}"
        return text

    def _generator_repr(self):
        spec = self._spec
        law = ", ".join(f"{name}={value!r}" for name, value in vars(spec.law).items())
        extra = "" if spec.include_self else ", include_self=False"
        rule = f"prob={spec.prob!r}" if spec.num_conn is None else f"num_conn={spec.num_conn}"
        return (
            f"{type(self).__name__}(num_pre={spec.shape[0]}, num_post={spec.shape[1]}, "
            f"{rule}, {law}, seed={spec.seed}, dtype={spec.dtype.name}{extra})"
        )

    def __reduce__(self):
        spec = self._spec
        state = (spec.shape, spec.orientation, spec.prob, spec.law, spec.seed, spec.dtype.name, spec.include_self)
        if spec.num_conn is not None:  # the fixed-number rule: prob is derived from num_conn
            state = (*state[:2], None, *state[3:], spec.num_conn)
        return (_restore, (type(self), state, self._window, self._scale))

    # --------------------------------------------------------------- indexing
    def __getitem__(self, key):
        """Rows, windows and entries.

        ``conn[i]`` is a dense row, ``conn[a:b]`` and ``conn[a:b, c:d]`` lazy
        windows, ``conn[i, j]`` a scalar, ``conn[a:b, j]`` a dense column.
        Slices must have step 1.
        """
        if not isinstance(key, tuple):
            key = (key,)
        if any(k is Ellipsis for k in key):
            position = next(i for i, k in enumerate(key) if k is Ellipsis)
            fill = (slice(None),) * (2 - (len(key) - 1))
            key = key[:position] + fill + key[position + 1:]
        if len(key) > 2:
            raise IndexError(f"too many indices for a 2-D JITC matrix: got {len(key)}")
        key = key + (slice(None),) * (2 - len(key))
        r0, r1, c0, c1 = self._window
        rows, row_is_int = _normalise_index(key[0], r1 - r0, "row")
        cols, col_is_int = _normalise_index(key[1], c1 - c0, "column")
        window = (r0 + rows[0], r0 + rows[1], c0 + cols[0], c0 + cols[1])
        view = type(self)._make(self._spec, window, self._scale)
        if not row_is_int and not col_is_int:
            return view
        block = view.todense()
        if row_is_int and col_is_int:
            return block[0, 0]
        return block[0] if row_is_int else block[:, 0]

    # ---------------------------------------------------------- materialise
    def todense(self, xp=None):
        """Materialise this window as a dense array.

        Parameters
        ----------
        xp : module, optional
            Array namespace of the result: ``numpy`` (default) or ``cupy``
            (generated on the GPU, bit-identical to the host).

        Returns
        -------
        ndarray
            Shape ``self.shape``, dtype ``self.dtype``, in namespace ``xp``.

        Raises
        ------
        ValueError
            If the window has more than ``max_dense_size`` entries (see
            :func:`lazyconn.set_options`).
        """
        m, n = self.shape
        check_materialise(m * n, f"todense() of a {m} x {n} window")
        params, (k0, k1), (j0, j1) = self.as_view().line_space()
        block = backend_for(xp).kernels().dense(params, k0, k1, j0, j1, self.dtype)
        if self._spec.orientation == "C":
            block = block.T.copy()
        return apply_scale(block, self._scale, self.dtype)

    def tocoo_arrays(self):
        """Connections of this window as ``(rows, cols, values)`` NumPy arrays.

        Returns
        -------
        rows, cols : ndarray of int64
            Indices relative to the window, sorted row-major.
        values : ndarray
            The entries, dtype ``self.dtype``.

        Raises
        ------
        ValueError
            If the expected number of connections exceeds ``max_dense_size``.
        """
        m, n = self.shape
        expected = int(self._spec.prob * m * n)
        check_materialise(expected, f"the connections of a {m} x {n} window (about {expected:,})")
        params, (k0, k1), (j0, j1) = self.as_view().line_space()
        # The kernels keep one offset per generated line.
        check_materialise(k1 - k0 + 1, f"the per-line offsets of the connections of a {m} x {n} window")
        k, j, w = backend_for(np).kernels().coo(params, k0, k1, j0, j1, self.dtype)
        w = apply_scale(w, self._scale, self.dtype)
        r0, _, c0, _ = self._window
        if self._spec.orientation == "R":
            return k - r0, j - c0, w
        rows, cols = j - r0, k - c0
        order = np.lexsort((cols, rows))
        return rows[order], cols[order], w[order]

    def tocsr(self):
        """This window as a ``scipy.sparse.csr_array`` (needs SciPy).

        Returns
        -------
        scipy.sparse.csr_array

        Raises
        ------
        ValueError
            If the expected number of connections exceeds ``max_dense_size``.
        """
        try:
            import scipy.sparse
        except ImportError as exc:
            raise ImportError("tocsr() needs SciPy: pip install scipy") from exc
        check_materialise(self.shape[0] + 1, f"the row pointer of tocsr() of a {self.shape[0]} x {self.shape[1]} window")
        rows, cols, values = self.tocoo_arrays()
        index_dtype = np.int32 if max(self.shape) < 2**31 - 1 and rows.size < 2**31 else np.int64
        return scipy.sparse.csr_array(
            (values, (rows.astype(index_dtype), cols.astype(index_dtype))), shape=self.shape
        )

    def aslinearoperator(self):
        """A ``scipy.sparse.linalg.LinearOperator`` that multiplies lazily.

        Returns
        -------
        scipy.sparse.linalg.LinearOperator
            ``matvec``/``matmat`` are ``conn @ x``, ``rmatvec``/``rmatmat``
            are ``x @ conn`` (the matrix is real).
        """
        from scipy.sparse.linalg import LinearOperator

        return LinearOperator(
            self.shape,
            matvec=lambda v: self @ np.asarray(v).reshape(-1),
            rmatvec=lambda v: np.asarray(v).reshape(-1) @ self,
            matmat=lambda x: self @ x,
            rmatmat=lambda x: (np.asarray(x).T @ self).T,
            dtype=self.dtype,
        )

    def to_dask(self, chunks="auto"):
        """This matrix as a ``dask.array.Array`` of blocks generated inside tasks.

        Parameters
        ----------
        chunks : int, tuple or "auto"
            Chunking of the dask array, as in ``dask.array``.

        Returns
        -------
        dask.array.Array
            Blocks generated inside tasks; nothing is generated until computed.
        """
        from .dask import to_dask

        return to_dask(self, chunks)

    def to_dask_array(self):
        """The hook of ``dask.array.asarray(conn)``: :meth:`to_dask` with ``"auto"`` chunks.

        Inside ``da.matmul`` and ``da.einsum`` the matrix becomes views
        multiplied in tasks instead (:func:`lazyconn.dask.as_dask_array`).

        Returns
        -------
        dask.array.Array
            Dense blocks generated inside tasks, as :meth:`to_dask`.
        """
        from .dask import as_dask_array

        return as_dask_array(self)

    def __dask_tokenize__(self):
        spec = self._spec
        return (
            type(self).__name__, spec.shape, spec.orientation, spec.prob, type(spec.law).__name__,
            tuple(vars(spec.law).values()), spec.seed, spec.dtype.str, spec.include_self,
            self._window, self._scale,
        )

    # ------------------------------------------------------------- reductions
    def sum(self, axis=None, dtype=None, keepdims=False):
        """Sum of entries, generated, never stored.

        The kernels sum each line in the matrix dtype (as ``conn @ ones``
        would); lines and tiles are added in float64.  The total needs O(1)
        memory; sums along an axis are refused above ``max_dense_size``
        results.

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2}
        dtype : numpy.dtype, optional
            Result dtype (default: the matrix dtype).
        keepdims : bool
            Keep the reduced axes with length one.

        Returns
        -------
        numpy scalar or ndarray
        """
        axis = _normalise_axis(axis)
        dtype = self.dtype if dtype is None else np.dtype(dtype)
        # Sums are float64 here; the scale is applied in float64, as in todense().
        result = reductions.sum_entries(self, axis) * self._scale
        return reductions.finish_reduction(result, axis, keepdims, self.shape, dtype)

    def count_nonzero(self, axis=None):
        """Exact number of nonzero entries (int64), generated, never stored.

        Equal to ``np.count_nonzero(conn.todense())`` for every window and
        scale (a scale that underflows a weight to zero removes it).  The
        total needs O(1) memory; per-row or per-column counts are refused
        above ``max_dense_size`` results.

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2}
            None: total; 0: per column; 1: per row.

        Returns
        -------
        int or ndarray of int64
        """
        return reductions.count_nonzero(self, _normalise_axis(axis))

    # --------------------------------------------------------------- products
    def _product(self, x, side, binary=False):
        backend, x = route(x)
        return backend.matmul(View(self._spec, self._window, self._scale), x, side, binary)

    def __matmul__(self, other):
        if isinstance(other, _protocols.ArrayProtocols):  # a matrix or a composite
            raise TypeError(_JITC_PRODUCT_MESSAGE)
        if isinstance(other, BinaryArray):
            return self._product(other.data, "right", binary=True)
        return self._product(other, "right")

    def __rmatmul__(self, other):
        if isinstance(other, BinaryArray):
            return self._product(other.data, "left", binary=True)
        return self._product(other, "left")

def matmul(x1, x2, /):
    """Matrix product with a JITC matrix, for operands of any array namespace.

    ``x1 @ x2`` when one side is a JITC matrix.  Some array-API libraries
    (``array_api_strict``) raise in their own ``__matmul__`` instead of
    deferring to the other operand, so ``strict_x @ conn`` never reaches
    lazyconn; ``lazyconn.matmul(strict_x, conn)`` does, and returns an
    array of ``strict_x``'s namespace.

    Parameters
    ----------
    x1, x2 : JITCMatrix or array
        Exactly one of them a JITC matrix (or a composite of them).

    Returns
    -------
    array
        In the namespace of the other operand.
    """
    # A JITC matrix or a composite of them (both set ``_lazy_matrix``).
    if getattr(type(x1), "_lazy_matrix", False):
        return x1 @ x2
    if getattr(type(x2), "_lazy_matrix", False):
        return x2.__rmatmul__(x1)
    raise TypeError(
        f"lazyconn.matmul needs a JITC matrix on one side, got {type(x1).__name__} and "
        f"{type(x2).__name__}; use the arrays' own matmul"
    )


def _restore(cls, state, window, scale):
    """Rebuild a pickled view, validating everything (class, generator, window, scale)."""
    if not (isinstance(cls, type) and cls in CLASS_FOR.values()):
        raise TypeError(f"invalid pickled JITC matrix: {cls!r} is not one of lazyconn's matrix classes")
    if not isinstance(state, tuple) or len(state) not in (7, 8):
        raise ValueError(f"invalid pickled JITC matrix: the generator state must be a 7-tuple, got {state!r}")
    shape, orientation, prob, law, seed, dtype, include_self, *num_conn = state
    try:
        spec = Spec(shape, orientation, prob, law, seed, np.dtype(dtype), include_self, *num_conn)
    except (TypeError, ValueError) as exc:
        raise type(exc)(f"invalid pickled JITC matrix: {exc}") from None
    expected = CLASS_FOR.get((type(spec.law), spec.orientation))
    if cls is not expected:
        raise TypeError(
            f"invalid pickled JITC matrix: class {cls.__name__} cannot hold a {spec.orientation} generator "
            f"with {type(spec.law).__name__} weights (that is {expected.__name__})"
        )
    m, n = spec.shape
    if not (isinstance(window, tuple) and len(window) == 4
            and all(isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) for v in window)):
        raise ValueError(f"invalid pickled JITC matrix: the window must be four integers, got {window!r}")
    r0, r1, c0, c1 = (int(v) for v in window)
    if not (0 <= r0 <= r1 <= m and 0 <= c0 <= c1 <= n):
        raise ValueError(
            f"invalid pickled JITC matrix: window rows {r0}:{r1}, columns {c0}:{c1} is not inside "
            f"the generator's shape {spec.shape}"
        )
    if isinstance(scale, (bool, np.bool_)) or not isinstance(scale, numbers.Real):
        raise TypeError(f"invalid pickled JITC matrix: the scale must be a real number, got {scale!r}")
    try:
        scale = check_scale(spec, scalar_float(scale, "the scale"))
    except ValueError as exc:
        raise ValueError(f"invalid pickled JITC matrix: {exc}") from None
    return cls._make(spec, (r0, r1, c0, c1), scale)


def _normalise_axis(axis):
    if axis is None:
        return None
    if isinstance(axis, tuple):
        if sorted(_normalise_axis(a) for a in axis) == [0, 1]:
            return None
        raise ValueError(f"axis must be None, 0, 1 or (0, 1), got {axis!r}")
    try:
        axis = operator.index(axis)
    except TypeError as exc:
        raise TypeError(f"axis must be an integer or None, got {axis!r}") from exc
    if axis not in (-2, -1, 0, 1):
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for a 2-D JITC matrix")
    return axis % 2


def _normalise_index(key, length, name):
    """Return ``((start, stop), is_int)`` for one axis of a window."""
    if isinstance(key, slice):
        start, stop, step = key.indices(length)
        if step != 1:
            raise IndexError(
                f"{name} slices of a JITC matrix must have step 1, got step {step}; "
                "take the contiguous window and index its todense()"
            )
        return (start, max(start, stop)), False
    if isinstance(key, (bool, np.bool_)):
        raise IndexError(f"boolean {name} index is not supported; use an integer or a slice")
    try:
        index = operator.index(key)
    except TypeError:
        raise IndexError(
            f"{name} index must be an integer or a slice, got {type(key).__name__}; for selected "
            "rows in a product use a BinaryArray or a vector with zeros elsewhere"
        ) from None
    if not -length <= index < length:
        raise IndexError(f"{name} index {index} is out of range for size {length}")
    index %= length
    return (index, index + 1), True


# ---------------------------------------------------------------- public classes
_SHARED_PARAMETERS = """
    seed : int or None, optional
        In ``[0, 2**64)``.  None draws one fresh 64-bit seed from the OS and
        stores it in ``.seed``, so the object is one fixed matrix.
    dtype : {numpy.float32, numpy.float64}, optional
        Entry dtype (default float32).  Weights are computed in float64 and
        rounded once.
    include_self : bool, optional
        False removes the diagonal (square matrices only).
"""


def _document(cls, orientation_text, law_text, law_params, params):
    rows = cls._orientation == "R"
    line, count, axis = ("row", "num_post", 1) if rows else ("column", "num_pre", 0)
    degree = "a fixed out-degree" if rows else "a fixed in-degree"
    name = cls.__name__
    example = ", ".join(f"{param}=1.0" for param in params)
    cls.__doc__ = f"""A JITC matrix {orientation_text} with {law_text}.

    Parameters
    ----------
    num_pre : int
        Rows (presynaptic neurons), ``0 <= num_pre <= 2**31 - 1``.
    num_post : int
        Columns (postsynaptic neurons), ``0 <= num_post <= 2**31 - 1``.
    prob : float, optional
        Connection probability in [0, 1]; each entry is connected
        independently (exact Bernoulli).  Give ``prob`` or ``num_conn``.
{law_params}{_SHARED_PARAMETERS}    num_conn : int, optional
        In place of ``prob``: exactly ``num_conn`` distinct connections per
        {line} ({degree}), uniform over the subsets of its {count} entries,
        or of its {count} - 1 off-diagonal ones with ``include_self=False``
        (the largest ``num_conn``).  Spec extension v2 (docs/spec.md,
        "Fixed-number rule"); computed by every backend (reference, CPU,
        GPU), bit for bit.

    Raises
    ------
    ValueError, TypeError
        For arguments out of range or of the wrong type; the message names
        the argument.

    Examples
    --------
    >>> import lazyconn
    >>> conn = lazyconn.{name}(200, 300, {example}, num_conn=20, seed=1)
    >>> bool(((conn.todense() != 0).sum(axis={axis}) == 20).all())
    True
    >>> conn.T.num_conn
    20
    """
    return cls


_ROW_TEXT = "generated row by row (event-driven ``spikes @ conn``)"
_COL_TEXT = "generated column by column (event-driven ``conn @ spikes``)"

#: Public class for each (law class, orientation), for building views from a Spec.
CLASS_FOR = {}


class _Required:
    """Default of a law parameter: ``prob`` may be left out (with ``num_conn``),
    so the parameters after it need a default; leaving them out is an error."""

    def __repr__(self):
        return "<required>"


_REQUIRED = _Required()

_INIT_TEMPLATE = """
def __init__(self, num_pre, num_post, prob=None, {defaults}, seed=None, *, dtype=np.float32, include_self=True,
             num_conn=None):
    missing = [name for name, value in zip({names!r}, ({params},)) if value is REQUIRED]
    if missing:
        raise TypeError(missing_message(type(self).__name__, missing))
    self._init_spec(num_pre, num_post, prob, law_class({params}), seed, dtype, include_self, num_conn)
"""


def _missing_message(cls_name, missing):
    """Python's own message for missing positional arguments."""
    quoted = [repr(name) for name in missing]
    names = quoted[0] if len(quoted) == 1 else ", ".join(quoted[:-1]) + f" and {quoted[-1]}"
    plural = "argument" if len(missing) == 1 else "arguments"
    return f"{cls_name}.__init__() missing {len(missing)} required positional {plural}: {names}"


def classes_for_law(name):
    """The two public matrix classes of a registered weight law, built once.

    ``JITC<name>R`` (generated row by row) and ``JITC<name>C`` (column by
    column), whose constructors take ``num_pre, num_post, prob``, the law's
    parameters, ``seed`` and the keywords ``dtype``, ``include_self`` and
    ``num_conn`` (in place of ``prob``: the fixed-number rule).

    Parameters
    ----------
    name : str
        A law registered in :mod:`lazyconn.laws`.

    Returns
    -------
    tuple of type
        ``(row_class, column_class)``.
    """
    law = laws.get(name)
    law_class = laws.law_class(name)
    if (law_class, "R") in CLASS_FOR:
        return CLASS_FOR[(law_class, "R")], CLASS_FOR[(law_class, "C")]
    # The constructor is generated from a template, as namedtuple does, so
    # that its signature (and Python's own argument errors) name the law's
    # parameters; they are identifiers (checked when the law was registered).
    made = []
    for orientation, text in (("R", _ROW_TEXT), ("C", _COL_TEXT)):
        namespace = {"np": np, "law_class": law_class, "__name__": __name__, "REQUIRED": _REQUIRED,
                     "missing_message": _missing_message}
        source = _INIT_TEMPLATE.format(
            params=", ".join(law.params), names=tuple(law.params),
            defaults=", ".join(f"{param}=REQUIRED" for param in law.params),
        )
        exec(source, namespace)  # noqa: S102
        cls = type(f"JITC{name}{orientation}", (JITCMatrix,), {
            "__slots__": (), "_orientation": orientation, "__init__": namespace["__init__"],
            "__module__": __name__,
        })
        cls.__init__.__qualname__ = f"{cls.__name__}.__init__"
        _document(cls, text, law.summary, law.matrix_params_doc, law.params)
        CLASS_FOR[(law_class, orientation)] = cls
        made.append(cls)
    made[0]._mirror, made[1]._mirror = made[1], made[0]
    return tuple(made)


JITCScalarR, JITCScalarC = classes_for_law("Scalar")
JITCNormalR, JITCNormalC = classes_for_law("Normal")
JITCUniformR, JITCUniformC = classes_for_law("Uniform")
JITCLogNormalR, JITCLogNormalC = classes_for_law("LogNormal")
JITCExponentialR, JITCExponentialC = classes_for_law("Exponential")


def from_spec(spec):
    """The public matrix object of a :class:`~lazyconn.spec.Spec`.

    Parameters
    ----------
    spec : lazyconn.spec.Spec
        The whole generator.

    Returns
    -------
    JITCMatrix
        An instance of the public class for the spec's law and orientation.
    """
    classes_for_law(type(spec.law).__name__)
    return CLASS_FOR[(type(spec.law), spec.orientation)]._make(spec)
