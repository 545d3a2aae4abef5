"""NumPy functions computed lazily on a JITC window, and the matching methods.

Every function here reads the window once, in tiles of bounded memory, and
never stores it: extremes (``np.max``, ``np.min``), means, norms, the
diagonal and the trace, and the products spelled as ``np.inner``,
``np.tensordot`` and ``np.einsum``.  Results equal NumPy on ``todense()`` of
the same window -- exactly for extremes and the diagonal, within rounding for
sums -- including the implicit zeros of a dense matrix: the maximum of a
window with one unconnected entry is at least 0.

Extremes and norms need the entries themselves, not their sums: the window
is walked with the kernels' ``coo`` in tiles whose minor side is a multiple
of the block length (so no block is walked twice) and whose expected number
of connections is at most :data:`TILE_CONNECTIONS`.
"""

from __future__ import annotations

import math
import numbers
import operator
import warnings

import numpy as np

from ._operators import apply_scale
from ._protocols import _JITC_PRODUCT_MESSAGE, ArrayProtocols, implements
from .config import check_materialise
from .kernels import host_backend
from .products import line_space
from .reductions import LINE_TILE, finish_reduction, sum_entries

__all__ = ["NumpyMethods", "TILE_CONNECTIONS"]

#: Expected connections per tile of a walk over values (about 24 MiB of coo arrays).
TILE_CONNECTIONS = 1 << 20
#: Target minor width of a tile, rounded to a multiple of the block length.
_MINOR_WIDTH = 1 << 16

_NO_VALUE = np._NoValue


def _is_jitc(x):
    # A matrix or a composite of them: both have @, .T and the methods below.
    return isinstance(x, ArrayProtocols)


# ------------------------------------------------------------------ walks
def _value_tiles(conn):
    """Yield ``(rows, cols, values)`` of the window's connections, tile by tile.

    ``rows`` and ``cols`` are int64 indices relative to the window (user
    orientation); ``values`` are the scaled entries ``dtype(w * scale)``,
    exactly as ``todense()`` holds them.
    """
    params, (k0, k1), (j0, j1) = line_space(conn)
    if k1 <= k0 or j1 <= j0 or conn._spec.prob == 0.0:
        return
    backend = host_backend()
    dtype, scale = conn.dtype, conn._scale
    block = 1 << params.block_log2
    width = block * max(1, _MINOR_WIDTH // block)
    per_line = conn._spec.prob * min(width, j1 - j0) + 1.0
    lines = int(max(1, min(LINE_TILE, TILE_CONNECTIONS // per_line)))
    by_rows = conn._spec.orientation == "R"
    ja = j0
    while ja < j1:
        # Minor tiles on the global grid of the block length: none cuts a block.
        jb = min(j1, (ja // width + 1) * width)
        for ka in range(k0, k1, lines):
            kb = min(k1, ka + lines)
            k, j, w = backend.coo(params, ka, kb, ja, jb, dtype)
            if k.size:
                w = apply_scale(w, scale, dtype)
                yield (k - k0, j - j0, w) if by_rows else (j - j0, k - k0, w)
        ja = jb


def _output_length(conn, axis, what):
    """Length of a per-row (axis=1) or per-column (axis=0) result, checked against the limit."""
    m, n = conn.shape
    length = m if axis == 1 else n
    check_materialise(length, f"{what}(axis={axis}) of a {m} x {n} window ({length:,} results)")
    return length


def _reduced_length(conn, axis):
    m, n = conn.shape
    return m * n if axis is None else (n if axis == 1 else m)


def _zero_size(op):
    return ValueError(f"zero-size array to reduction operation {op.__name__} which has no identity")


def _extreme(conn, axis, op, initial=_NO_VALUE, transform=None):
    """``op.reduce`` (np.maximum or np.minimum) of the window with its implicit zeros.

    ``transform`` (np.abs for norms) is applied to each entry first; it
    must map zero to zero.
    """
    dtype = conn.dtype
    reduced = _reduced_length(conn, axis)
    start = -np.inf if op is np.maximum else np.inf
    if axis is None:
        best, count = start, 0
        for _, _, w in _value_tiles(conn):
            best = op(best, op.reduce(w if transform is None else transform(w)))
            count += w.size
        if reduced == 0 and initial is _NO_VALUE:
            raise _zero_size(op)
        result = np.asarray(best if count == reduced else op(best, 0.0), dtype=dtype)
    else:
        length = _output_length(conn, axis, op.__name__)
        if reduced == 0 and initial is _NO_VALUE:
            raise _zero_size(op)
        out = np.full(length, start, dtype=dtype)
        counts = np.zeros(length, dtype=np.int64)
        for rows, cols, w in _value_tiles(conn):
            index = rows if axis == 1 else cols
            op.at(out, index, w if transform is None else transform(w))
            counts += np.bincount(index, minlength=length)
        # A line with an unconnected entry holds a zero, as the dense matrix does.
        result = np.where(counts < reduced, op(out, dtype.type(0)), out).astype(dtype, copy=False)
    if initial is not _NO_VALUE:
        result = op(result, np.asarray(initial).astype(dtype))
    return result


def _weighted_sum(conn, axis, transform):
    """Sum of ``transform(float64 entry)`` over the window (axis None) or along an axis, in float64."""
    if axis is None:
        total = 0.0
        for _, _, w in _value_tiles(conn):
            total += float(transform(w.astype(np.float64)).sum())
        return total
    length = _output_length(conn, axis, "sum")
    out = np.zeros(length, dtype=np.float64)
    for rows, cols, w in _value_tiles(conn):
        out += np.bincount(rows if axis == 1 else cols, weights=transform(w.astype(np.float64)), minlength=length)
    return out


# ------------------------------------------------------------------ axes
def _normalise_axis(axis):
    """NumPy's axis argument of a 2-D array as None (both axes), 0 or 1."""
    if axis is None:
        return None
    if isinstance(axis, tuple):
        axes = [_one_axis(a) for a in axis]
        if len(set(axes)) != len(axes):
            raise ValueError(f"duplicate value in 'axis': {axis!r}")
        if len(axes) == 2:
            return None
        if len(axes) == 1:
            return axes[0]
        raise TypeError(
            "axis=() reduces nothing, so the result would be the dense matrix; "
            "take conn[a:b, c:d].todense() of a small window"
        )
    return _one_axis(axis)


def _one_axis(axis, what="JITC matrix"):
    """``axis`` as 0 or 1; ``what`` names the object in the errors (matrices and composites)."""
    try:
        axis = operator.index(axis)
    except TypeError:
        raise TypeError(f"'axis' must be None, an integer or a tuple of integers, got {axis!r}") from None
    if axis not in (-2, -1, 0, 1):
        raise np.exceptions.AxisError(f"axis {axis} is out of bounds for a 2-D {what}")
    return axis % 2


_MATRIX_WHERE_HINT = (
    "take a window conn[a:b, c:d] or apply the mask to conn[a:b, c:d].todense() of a small window"
)


def _refuse_out(name, out, where=True, what="JITC matrix", where_hint=_MATRIX_WHERE_HINT):
    """Refuse NumPy's ``out=`` and ``where=`` (shared by matrices and composites)."""
    if out is not None:
        raise TypeError(f"{name}(..., out=) is not supported with a {what}; assign the result instead")
    if where is not True and where is not _NO_VALUE:
        raise TypeError(f"{name}(..., where=) is not supported with a {what}; {where_hint}")


def _keep(keepdims):
    return False if keepdims is _NO_VALUE else bool(keepdims)


# ------------------------------------------------------------------ mean, max, min
def _mean(conn, axis=None, dtype=None, keepdims=False):
    axis = _normalise_axis(axis)
    if dtype is None:
        dtype = conn.dtype
    dtype = np.dtype(dtype)
    if dtype.kind != "f":
        raise TypeError(f"mean of a JITC matrix is floating point; dtype={dtype} is not supported")
    if axis is not None:
        _output_length(conn, axis, "mean")
    count = _reduced_length(conn, axis)
    total = np.asarray(sum_entries(conn, axis), dtype=np.float64) * conn._scale
    if count == 0 and total.size:
        warnings.warn("Mean of empty slice.", RuntimeWarning, stacklevel=3)
    with np.errstate(invalid="ignore", divide="ignore"):
        result = total / count if count else np.full(total.shape, np.nan)
    return finish_reduction(result, axis, keepdims, conn.shape, dtype)


@implements(np.mean)
def _np_mean(a, axis=None, dtype=None, out=None, keepdims=_NO_VALUE, *, where=_NO_VALUE):
    _refuse_out("np.mean", out, where)
    return a.mean(axis=axis, dtype=dtype, keepdims=_keep(keepdims))


def _max_or_min(conn, op, axis, keepdims, initial):
    axis = _normalise_axis(axis)
    return finish_reduction(_extreme(conn, axis, op, initial), axis, keepdims, conn.shape)


@implements(np.max, np.amax)
def _np_max(a, axis=None, out=None, keepdims=_NO_VALUE, initial=_NO_VALUE, where=_NO_VALUE):
    _refuse_out("np.max", out, where)
    return a.max(axis=axis, keepdims=_keep(keepdims), initial=initial)


@implements(np.min, np.amin)
def _np_min(a, axis=None, out=None, keepdims=_NO_VALUE, initial=_NO_VALUE, where=_NO_VALUE):
    _refuse_out("np.min", out, where)
    return a.min(axis=axis, keepdims=_keep(keepdims), initial=initial)


# ------------------------------------------------------------------ diagonal, trace
def _diagonal_bands(conn, offset):
    """Yield ``(positions, values)`` of the connected entries of diagonal ``offset``.

    Entry ``i`` of the diagonal is ``conn[i0 + i, i0 + i + offset]`` with
    ``i0 = max(0, -offset)``.  The diagonal is generated in bands of lines,
    each from the thin tile that holds its part of the diagonal, so the work
    follows the number of lines it touches, not the window.
    """
    m, n = conn.shape
    i0, i1 = max(0, -offset), min(m, n - offset)
    if i1 <= i0 or conn._spec.prob == 0.0:
        return
    params, _, _ = line_space(conn)
    r0, _, c0, _ = conn._window
    shift = c0 + offset - r0  # global column minus global row on this diagonal
    if conn._spec.orientation == "R":
        first_line, minor_shift = r0 + i0, shift
    else:
        first_line, minor_shift = c0 + offset + i0, -shift
    lines = int(min(4096, max(32, 64.0 / conn._spec.prob)))
    backend = host_backend()
    dtype = conn.dtype
    for ka in range(first_line, first_line + (i1 - i0), lines):
        kb = min(first_line + (i1 - i0), ka + lines)
        k, j, w = backend.coo(params, ka, kb, ka + minor_shift, kb + minor_shift, dtype)
        on_diagonal = j - k == minor_shift
        yield k[on_diagonal] - first_line, apply_scale(w[on_diagonal], conn._scale, dtype)


def _diagonal_length(shape, offset):
    m, n = shape
    return max(0, min(m, n - offset) - max(0, -offset))


def _check_offset(offset):
    if isinstance(offset, (bool, np.bool_)):
        raise TypeError(f"offset must be an integer, got {offset!r}")
    return operator.index(offset)


def _axes_pair(axis1, axis2):
    """True when ``(axis1, axis2)`` is ``(1, 0)``: the call is on the transpose."""
    a, b = _one_axis(axis1), _one_axis(axis2)
    if a == b:
        raise ValueError("axis1 and axis2 cannot be the same")
    return a == 1


def _diagonal(conn, offset=0, axis1=0, axis2=1):
    offset = _check_offset(offset)
    if _axes_pair(axis1, axis2):
        conn = conn.T
    length = _diagonal_length(conn.shape, offset)
    m, n = conn.shape
    check_materialise(length, f"diagonal(offset={offset}) of a {m} x {n} window ({length:,} entries)")
    out = np.zeros(length, dtype=conn.dtype)
    for positions, values in _diagonal_bands(conn, offset):
        out[positions] = values
    return out


def _trace(conn, offset=0, axis1=0, axis2=1, dtype=None):
    offset = _check_offset(offset)
    if _axes_pair(axis1, axis2):
        conn = conn.T
    total = 0.0
    for _, values in _diagonal_bands(conn, offset):
        total += float(values.astype(np.float64).sum())
    return np.asarray(total).astype(conn.dtype if dtype is None else np.dtype(dtype))[()]


@implements(np.diagonal)
def _np_diagonal(a, offset=0, axis1=0, axis2=1):
    return a.diagonal(offset, axis1, axis2)


@implements(np.trace)
def _np_trace(a, offset=0, axis1=0, axis2=1, dtype=None, out=None):
    _refuse_out("np.trace", out)
    return a.trace(offset, axis1, axis2, dtype)


# ------------------------------------------------------------------ norms
_SVD_MESSAGE = (
    "needs singular values, which a JITC matrix cannot give in one pass; estimate it with "
    "scipy.sparse.linalg.svds(conn.aslinearoperator(), k=...) (the largest singular value is the "
    "2-norm), or use ord='fro', 1, -1, inf or -inf, which are lazy"
)


def _matrix_norm(conn, ord):
    """Matrix norm over both axes (rows, then columns, as given)."""
    dtype = conn.dtype
    if ord is None or ord in ("fro", "f"):
        return np.asarray(math.sqrt(conn._value_sum(None, np.square))).astype(dtype)
    if isinstance(ord, str):
        if ord == "nuc":
            raise TypeError(f"np.linalg.norm(conn, 'nuc') {_SVD_MESSAGE}")
        raise ValueError("Invalid norm order for matrices.")
    if ord in (2, -2):
        raise TypeError(f"np.linalg.norm(conn, {ord!r}) {_SVD_MESSAGE}")
    if ord in (1, -1):
        sums = conn._value_sum(0, np.abs)  # column sums
    elif ord in (np.inf, -np.inf):
        sums = conn._value_sum(1, np.abs)  # row sums
    else:
        raise ValueError("Invalid norm order for matrices.")
    sums = sums.astype(dtype)
    # As NumPy: the largest of no sums is 0, the smallest is refused.
    return np.max(sums, initial=0) if ord > 0 else np.min(sums)


def _vector_norm(conn, ord, axis):
    """Norms of the rows (axis=1), columns (axis=0) or all entries (None), as NumPy's vector norms."""
    dtype = conn.dtype
    if isinstance(ord, str):
        raise ValueError(f"Invalid norm order '{ord}' for vectors")
    if ord is None or ord == 2:
        return np.sqrt(np.asarray(conn._value_sum(axis, np.square))).astype(dtype)
    if ord in (np.inf, -np.inf):
        if ord > 0:  # as NumPy: the largest |entry| of an empty line is 0
            return conn._value_extreme(axis, np.maximum, initial=0, transform=np.abs)
        return conn._value_extreme(axis, np.minimum, transform=np.abs)
    if ord == 0:
        return np.asarray(conn.count_nonzero(axis=axis)).astype(dtype)
    if ord == 1:
        return np.asarray(conn._value_sum(axis, np.abs)).astype(dtype)
    if not isinstance(ord, numbers.Real) or ord != ord:
        raise ValueError(f"Invalid norm order {ord!r} for vectors")
    if ord < 0:
        raise TypeError(
            f"the vector norm of order {ord!r} of a JITC matrix (a negative order) is not computed lazily; "
            "use conn[a:b, c:d].todense() of a small window"
        )
    with np.errstate(over="ignore"):
        powers = np.asarray(conn._value_sum(axis, lambda w: np.abs(w) ** ord))
        return (powers ** (1.0 / ord)).astype(dtype)


@implements(np.linalg.norm)
def _np_norm(x, ord=None, axis=None, keepdims=False):
    m, n = x.shape
    if axis is None:
        axes = (0, 1)
    elif isinstance(axis, tuple):
        axes = tuple(_one_axis(a) for a in axis)
    else:
        try:
            axes = (_one_axis(axis),)
        except TypeError:
            raise TypeError("'axis' must be None, an integer or a tuple of integers") from None
    if len(axes) == 1:
        # Vector norms of each column (axis 0) or row (axis 1).
        axis = axes[0]
        result = _vector_norm(x, ord, axis)
        return result.reshape((1, n) if axis == 0 else (m, 1)) if keepdims else result
    if len(axes) != 2:
        raise ValueError("Improper number of dimensions to norm.")
    if axes[0] == axes[1]:
        raise ValueError("Duplicate axes given.")
    result = _matrix_norm(x if axes == (0, 1) else x.T, ord)
    result = np.asarray(result)
    return result.reshape(1, 1) if keepdims else result[()]


@implements(np.linalg.vector_norm)
def _np_vector_norm(x, /, *, axis=None, keepdims=False, ord=2):
    axis = _normalise_axis(axis)
    return finish_reduction(_vector_norm(x, ord, axis), axis, keepdims, x.shape)


@implements(np.linalg.matrix_norm)
def _np_matrix_norm(x, /, *, keepdims=False, ord="fro"):
    return _np_norm(x, ord, (-2, -1), keepdims)


@implements(np.linalg.trace)
def _np_linalg_trace(x, /, *, offset=0, dtype=None):
    return x.trace(offset, dtype=dtype)


@implements(np.linalg.diagonal)
def _np_linalg_diagonal(x, /, *, offset=0):
    return x.diagonal(offset)


# ------------------------------------------------------------------ products
_PRODUCT_ROUTE = (
    "lazy products are conn @ x and x @ conn; for anything else take conn[a:b, c:d].todense() of "
    "a small window, or conn.aslinearoperator() for iterative solvers"
)


def _operand(x):
    return x if hasattr(x, "shape") and hasattr(x, "ndim") else np.asarray(x)


def _contract(conn, x, conn_axis, x_axis, conn_first):
    """Contract axis ``conn_axis`` of the matrix with axis ``x_axis`` of ``x``.

    The result's axes are the matrix's free axis then ``x``'s free axes
    (``conn_first``), or ``x``'s free axes then the matrix's, as
    ``np.tensordot`` orders them.  Computed as one lazy product.
    """
    if _is_jitc(x):
        raise TypeError(_JITC_PRODUCT_MESSAGE)
    x = _operand(x)
    if x.ndim == 0:
        raise TypeError(f"contracting a JITC matrix with a 0-d operand is not a product; {_PRODUCT_ROUTE}")
    x_axis = x_axis % x.ndim
    # conn_first: sum_t A[i, t] x[..t..] with A = conn or conn.T; else sum_t x[..t..] A[t, i].
    matrix = conn if (conn_axis == 1) == conn_first else conn.T
    if x.ndim == 1:
        return matrix @ x if conn_first else x @ matrix
    if x.ndim == 2:
        if conn_first:
            return matrix @ (x if x_axis == 0 else x.T)
        return (x if x_axis == 1 else x.T) @ matrix
    rest = [a for a in range(x.ndim) if a != x_axis]
    rest_shape = tuple(x.shape[a] for a in rest)
    size = math.prod(rest_shape)
    if conn_first:
        flat = x.transpose([x_axis] + rest).reshape(x.shape[x_axis], size)
        return (matrix @ flat).reshape((matrix.shape[0],) + rest_shape)
    flat = x.transpose(rest + [x_axis]).reshape(size, x.shape[x_axis])
    return (flat @ matrix).reshape(rest_shape + (matrix.shape[1],))


@implements(np.inner)
def _np_inner(a, b, /):
    if _is_jitc(a) and _is_jitc(b):
        raise TypeError(_JITC_PRODUCT_MESSAGE)
    conn, x = (a, b) if _is_jitc(a) else (b, a)
    x = _operand(x)
    if x.ndim == 0:
        return conn * x  # NumPy: inner with a scalar is a multiplication
    return _contract(conn, x, 1, -1, conn_first=_is_jitc(a))


def _tensordot_axes(axes, a_ndim, b_ndim):
    try:
        count = operator.index(axes)
    except TypeError:
        a_axes, b_axes = axes
        a_axes = [a_axes] if isinstance(a_axes, numbers.Integral) else list(a_axes)
        b_axes = [b_axes] if isinstance(b_axes, numbers.Integral) else list(b_axes)
    else:
        if count < 0 or count > min(a_ndim, b_ndim):
            raise ValueError(f"tensordot: axes={count} does not fit operands of {a_ndim} and {b_ndim} dimensions")
        a_axes, b_axes = list(range(a_ndim - count, a_ndim)), list(range(count))
    if len(a_axes) != len(b_axes):
        raise ValueError("shape-mismatch for sum")
    return a_axes, b_axes


@implements(np.tensordot)
def _np_tensordot(a, b, axes=2):
    if _is_jitc(a) and _is_jitc(b):
        raise TypeError(_JITC_PRODUCT_MESSAGE)
    a_op, b_op = (a if _is_jitc(a) else _operand(a)), (b if _is_jitc(b) else _operand(b))
    a_axes, b_axes = _tensordot_axes(axes, a_op.ndim, b_op.ndim)
    if len(a_axes) != 1:
        raise TypeError(
            f"np.tensordot of a JITC matrix over {len(a_axes)} axis pairs is not a product (only one "
            f"contracted axis is lazy, e.g. axes=1 or axes=([1], [0])); {_PRODUCT_ROUTE}"
        )
    if _is_jitc(a):
        return _contract(a, b_op, _one_axis(a_axes[0]), b_axes[0], conn_first=True)
    return _contract(b, a_op, _one_axis(b_axes[0]), a_axes[0], conn_first=False)


def _einsum_subscripts(operands):
    """``(subscripts, arrays)`` of either calling convention of ``np.einsum``."""
    if isinstance(operands[0], str):
        return operands[0].replace(" ", ""), list(operands[1:])
    # Interleaved: op0, sublist0, op1, sublist1, ..., [sublistout].
    arrays, lists = list(operands[0::2]), list(operands[1::2])
    output = None
    if len(operands) % 2:
        output = arrays.pop()
    letters = "abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ"

    def spell(sublist):
        if any(s is Ellipsis for s in sublist):
            return "."
        return "".join(letters[operator.index(s)] for s in sublist)

    text = ",".join(spell(s) for s in lists)
    return (text if output is None else text + "->" + spell(output)), arrays


def _einsum_refusal(subscripts, why):
    return TypeError(f"np.einsum({subscripts!r}, ...) with a JITC matrix {why}; {_PRODUCT_ROUTE}")


@implements(np.einsum)
def _np_einsum(*operands, out=None, optimize=False, **kwargs):
    if kwargs.get("dtype", False) is None:
        # NumPy's default, passed explicitly by da.einsum on every chunk.
        del kwargs["dtype"]
    if out is not None or kwargs:
        raise TypeError(
            f"np.einsum with a JITC matrix supports optimize= only, got {['out'] if out is not None else sorted(kwargs)}"
        )
    subscripts, arrays = _einsum_subscripts(operands)
    if "." in subscripts:
        raise _einsum_refusal(subscripts, "and an ellipsis is not computed lazily")
    if "->" in subscripts:
        inputs, output = subscripts.split("->")
    else:
        inputs = subscripts
        letters = inputs.replace(",", "")
        output = "".join(sorted(c for c in set(letters) if letters.count(c) == 1))
    inputs = inputs.split(",")
    if len(inputs) != len(arrays):
        raise ValueError(f"np.einsum: {len(inputs)} operand subscripts for {len(arrays)} operands")
    if len(set(output)) != len(output) or not set(output) <= set("".join(inputs)):
        raise ValueError(f"np.einsum: invalid output subscripts {output!r} for inputs {inputs}")
    if len(arrays) == 1:
        return _einsum_one(subscripts, inputs[0], output, arrays[0])
    if len(arrays) != 2 or all(_is_jitc(a) for a in arrays):
        if len(arrays) == 2:
            raise TypeError(_JITC_PRODUCT_MESSAGE)
        raise _einsum_refusal(subscripts, f"of {len(arrays)} operands is not a single product")
    return _einsum_two(subscripts, inputs, output, arrays)


def _einsum_one(subscripts, letters, output, conn):
    if len(letters) != 2:
        raise ValueError(f"np.einsum: {letters!r} has {len(letters)} subscripts for a 2-D operand")
    p, q = letters
    if p == q:
        if conn.shape[0] != conn.shape[1]:
            raise ValueError(
                f"np.einsum({subscripts!r}): the repeated index {p!r} needs a square operand, "
                f"got shape {conn.shape}"
            )
        if output == "":
            return conn.trace()
        return conn.diagonal()
    if output == "":
        return conn.sum()
    if output == p:
        return conn.sum(axis=1)
    if output == q:
        return conn.sum(axis=0)
    return conn if output == letters else conn.T


def _einsum_two(subscripts, inputs, output, arrays):
    first = _is_jitc(arrays[0])
    conn, x = (arrays[0], _operand(arrays[1])) if first else (arrays[1], _operand(arrays[0]))
    conn_letters, x_letters = (inputs[0], inputs[1]) if first else (inputs[1], inputs[0])
    if len(conn_letters) != 2:
        raise ValueError(f"np.einsum: {conn_letters!r} has {len(conn_letters)} subscripts for a 2-D operand")
    if len(x_letters) != x.ndim:
        raise ValueError(f"np.einsum: {x_letters!r} has {len(x_letters)} subscripts for a {x.ndim}-D operand")
    shared = [c for c in conn_letters if c in x_letters]
    if (conn_letters[0] == conn_letters[1] or len(set(x_letters)) != len(x_letters)
            or len(shared) != 1 or shared[0] in output):
        raise _einsum_refusal(subscripts, "is not a product (one index shared and summed) or a reduction")
    contracted = shared[0]
    free = conn_letters.replace(contracted, "")
    # Indices of x that are neither kept nor contracted are summed before the product.
    summed = tuple(a for a, c in enumerate(x_letters) if c not in output and c != contracted)
    if summed:
        # In the product's dtype, so summing first rounds no more than the product would.
        dtype = np.result_type(x.dtype, conn.dtype) if np.dtype(x.dtype).kind in "biuf" else None
        x = x.sum(axis=summed, dtype=dtype)
        x_letters = "".join(c for c in x_letters if c in output or c == contracted)
    result = _contract(conn, x, conn_letters.index(contracted), x_letters.index(contracted), conn_first=first)
    x_free = x_letters.replace(contracted, "")
    order = free + x_free if first else x_free + free
    if free not in output:
        result = result.sum(axis=order.index(free))
        order = order.replace(free, "")
    perm = [order.index(c) for c in output]
    return result if perm == sorted(perm) else result.transpose(perm)


# ------------------------------------------------------------------ methods
class NumpyMethods:
    """Mixin: the ndarray methods of a JITC matrix that reduce it lazily."""

    __slots__ = ()

    # The two walks the norms are built from; a composite has its own
    # (lazyconn._composite_functions), made of its leaves' ones.
    def _value_sum(self, axis, transform):
        return _weighted_sum(self, axis, transform)

    def _value_extreme(self, axis, op, initial=_NO_VALUE, transform=None):
        return _extreme(self, axis, op, initial, transform)

    def mean(self, axis=None, dtype=None, out=None, keepdims=False):
        """Mean of the entries, with the unconnected ones as zeros, never stored.

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2} or tuple of int
            None (or both axes): the mean of the window; 0: per column;
            1: per row.
        dtype : numpy.dtype, optional
            Floating result dtype (default: the matrix dtype).
        out : None
            Accepted for NumPy compatibility; must be None.
        keepdims : bool
            Keep the reduced axes with length one.

        Returns
        -------
        numpy scalar or ndarray
            ``np.mean(conn.todense(), axis)`` within rounding (sums are
            added in float64).
        """
        _refuse_out("mean", out)
        return _mean(self, axis, dtype, keepdims)

    def max(self, axis=None, out=None, keepdims=False, initial=_NO_VALUE, where=True):
        """Largest entry, counting the unconnected entries as zeros.

        One pass over the window's connections in bounded tiles; equal to
        ``np.max(conn.todense(), axis)`` exactly, so a window with any
        unconnected entry has a maximum of at least 0.

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2} or tuple of int
            None: the whole window; 0: per column; 1: per row.
        out : None
            Accepted for NumPy compatibility; must be None.
        keepdims : bool
            Keep the reduced axes with length one.
        initial : scalar, optional
            A lower bound of the result, as in NumPy (allows empty windows).
        where : True
            Accepted for NumPy compatibility; must be True.

        Returns
        -------
        numpy scalar or ndarray
            Of the matrix dtype.

        Raises
        ------
        ValueError
            For an empty reduction without ``initial``, as NumPy.
        """
        _refuse_out("max", out, where)
        return _max_or_min(self, np.maximum, axis, keepdims, initial)

    def min(self, axis=None, out=None, keepdims=False, initial=_NO_VALUE, where=True):
        """Smallest entry, counting the unconnected entries as zeros.

        Equal to ``np.min(conn.todense(), axis)`` exactly (see :meth:`max`).

        Parameters
        ----------
        axis : {None, 0, 1, -1, -2} or tuple of int
            None: the whole window; 0: per column; 1: per row.
        out : None
            Accepted for NumPy compatibility; must be None.
        keepdims : bool
            Keep the reduced axes with length one.
        initial : scalar, optional
            An upper bound of the result, as in NumPy (allows empty windows).
        where : True
            Accepted for NumPy compatibility; must be True.

        Returns
        -------
        numpy scalar or ndarray
            Of the matrix dtype.

        Raises
        ------
        ValueError
            For an empty reduction without ``initial``, as NumPy.
        """
        _refuse_out("min", out, where)
        return _max_or_min(self, np.minimum, axis, keepdims, initial)

    def diagonal(self, offset=0, axis1=0, axis2=1, *, k=None):
        """The entries ``conn[i, i + offset]`` as a dense vector.

        Generated in bands of lines from the thin tiles that hold the
        diagonal: the work follows the length of the diagonal, not the
        window.  A square generator with ``include_self=False`` has a zero
        main diagonal.

        Parameters
        ----------
        offset : int
            Diagonal offset: positive above the main diagonal.
        axis1, axis2 : {0, 1}
            ``(1, 0)`` takes the diagonal of the transpose, as NumPy.
        k : int, optional
            The offset under the name ``scipy.sparse`` gives it
            (``diagonal(k=1)``); overrides ``offset``.

        Returns
        -------
        ndarray
            Equal to ``np.diagonal(conn.todense(), offset)``, dtype of the
            matrix (a new, writeable array).

        Raises
        ------
        ValueError
            If the diagonal is longer than ``max_dense_size``.
        """
        return _diagonal(self, offset if k is None else k, axis1, axis2)

    def trace(self, offset=0, axis1=0, axis2=1, dtype=None, out=None):
        """Sum of the diagonal ``conn[i, i + offset]``, in O(1) memory.

        Parameters
        ----------
        offset : int
            Diagonal offset: positive above the main diagonal.
        axis1, axis2 : {0, 1}
            ``(1, 0)`` takes the trace of the transpose, as NumPy.
        dtype : numpy.dtype, optional
            Result dtype (default: the matrix dtype).
        out : None
            Accepted for NumPy compatibility; must be None.

        Returns
        -------
        numpy scalar
            ``np.trace(conn.todense(), offset)`` within rounding (added in
            float64; exact for integer weights).
        """
        _refuse_out("trace", out)
        return _trace(self, offset, axis1, axis2, dtype)
