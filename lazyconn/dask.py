"""Dask integration: graphs whose tasks regenerate their own window.

A JITC matrix travels through a Dask graph as its generator.  Every task
holds a *view* of the matrix -- a :class:`~lazyconn.products.View` of one
window (product tasks) or the matrix ``conn[a:b, c:d]`` (dense blocks), a
few hundred bytes when pickled -- and generates the entries of that window
itself, so the
graph never holds or ships the entries, chunking never changes a value, and
a task lost with a worker is simply run again.  No task gets a seed of its
own: the window of the one generator decides everything.

Three entry points:

``conn @ x``, ``x @ conn``, ``BinaryArray(x) @ conn``
    With ``x`` a ``dask.array.Array`` (1-D or 2-D) these return a lazy Dask
    array (registered with :mod:`lazyconn.dispatch`; Dask
    defers ``x @ conn`` to the matrix because the matrix defines
    ``__array_ufunc__`` and is not a Dask chunk type).
:func:`matmul`
    The same product with the knobs the operator cannot take: ``chunks``
    (output chunking along the matrix axis that survives the product) and
    ``split_every`` (fan-in of the tree reduction).
:func:`to_dask`
    The matrix as a Dask array of dense blocks generated inside tasks
    (also ``conn.to_dask(chunks)``).

Notes
-----
How products are cut.  Let the *inner* axis be the matrix axis the product
contracts (columns for ``conn @ x``, rows for ``x @ conn``) and the *outer*
axis the other one.  The inner axis is chunked like ``x``; the outer axis by
``chunks``.

* **Gather** (the inner axis is the minor axis of the generator: ``R @ x``,
  ``x @ C``): one task per outer block (and per chunk of ``x``'s free
  axis).  It regenerates its whole band of lines against all of ``x``:
  ``x``'s inner axis is rechunked to one chunk first, so the join happens
  once, not once per task.
* **Scatter** (the inner axis is the major axis: ``x @ R``, ``C @ x``, the
  event-driven direction): one task per (inner chunk, outer block) computes
  a partial output from its own chunk of ``x`` -- generating only the lines
  of that chunk's nonzero entries -- and the partials are summed by Dask's
  tree reduction (``split_every``).

Chunks of CuPy arrays follow ``meta``: the output's meta is derived from
``x._meta`` and each task dispatches on its own chunk's type, so CuPy chunks
reach the GPU kernels; ``to_dask(conn, meta=cupy.empty(0))`` generates its
blocks on the GPU (``tests/test_dask_gpu.py``, run on an H200).

Dask's own functions accept the matrix too, each task a window of the
generator:

* ``da.dot``, ``da.tensordot`` (one axis of the matrix contracted),
  ``da.matmul`` and ``da.einsum`` (product subscripts) cut it with
  ``from_array`` into views ``conn[a:b, c:d]`` (``array.chunk-size``); each
  task multiplies its chunk of ``x`` with its view through ``np.tensordot``
  / ``np.matmul`` / ``np.einsum`` of the matrix -- the product kernels, no
  dense block (:func:`as_dask_array` for the last two).
* ``da.asarray(conn)`` is ``to_dask(conn)`` (the ``to_dask_array`` hook):
  dense blocks generated inside tasks, each under ``array.chunk-size`` and
  ``max_dense_size``, for elementwise Dask code.

``x @ conn`` and :func:`matmul` remain the routes with the output chunking
under your control; the functions above follow Dask's auto chunks of the
whole matrix.
"""

from __future__ import annotations

import importlib
import math
import numbers
import sys

import numpy as np

try:
    import dask
    import dask.array as da
except ImportError as exc:  # the @ dispatch imports this module only once dask is in use
    raise ImportError(
        "lazyconn.dask needs Dask: pip install 'lazyconn[dask]' (dask[array], distributed, zarr)"
    ) from exc
from dask.array.core import getter_inline, normalize_chunks
from dask.array.utils import meta_from_array
from dask.base import tokenize
from dask.highlevelgraph import HighLevelGraph

from ._protocols import ArrayProtocols
from .backends import ArrayBackend
from .config import check_materialise, get_options
from .dispatch import register, route
from .events import BinaryArray
from .products import _check_operand, as_view, result_dtype

__all__ = ["as_dask_array", "matmul", "to_dask"]

#: Expected connections one gather task should generate when ``chunks="auto"``:
#: large enough that per-task overhead (scheduling, pickling the view, one
#: partial stream per line at each window edge) is negligible, small enough
#: that two cores get a dozen tasks or more on N = 200,000, p = 0.01.
_TARGET_CONNECTIONS = 1 << 24
#: Least expected connections per gather task when blocks are added to give
#: every core one (below this a task is dominated by its overhead).
_MIN_CONNECTIONS = 1 << 20


# --------------------------------------------------------------------- tasks
def _product_block(view, block, side, binary, partial):
    """Task body: ``view @ block`` (or ``block @ view``) in the chunk's namespace.

    ``partial`` adds a leading axis of length 1 so Dask can sum partials over it.
    """
    backend, block = route(block)
    out = backend.matmul(view, block, side, binary)
    return out[None] if partial else out


def _dense_block(view, namespace):
    """Task body: the dense window ``view`` in the array namespace named ``namespace``."""
    xp = None if namespace == "numpy" else importlib.import_module(namespace)
    return view.todense(xp=xp)


# ------------------------------------------------------------------- helpers
def _bounds(chunks):
    """``[(start, stop), ...]`` of consecutive chunk lengths."""
    edges = np.cumsum((0,) + tuple(chunks)).tolist()
    return list(zip(edges[:-1], edges[1:]))


def _namespace_name(meta):
    """Top-level module of a chunk type: ``"numpy"``, ``"cupy"``, ..."""
    return "numpy" if isinstance(meta, np.ndarray) else type(meta).__module__.partition(".")[0]


def _check_known_chunks(x):
    if any(math.isnan(size) for size in x.shape):
        raise ValueError(
            f"the Dask operand has unknown chunk sizes (shape {x.shape}); a JITC product needs "
            "them to cut the matrix into windows: call x.compute_chunk_sizes() first"
        )


def _outer_chunks(view, chunks, outer_len, inner_len, free_chunks, scatter, dtype):
    """Chunks of the outer axis: the user's ``chunks``, or the ``"auto"`` rule.

    ``"auto"``: a gather task does about ``_TARGET_CONNECTIONS`` expected
    connections, or less to give each core a block, down to
    ``_MIN_CONNECTIONS``; a scatter keeps the outer axis whole (its work is
    already split by ``x``'s inner chunks).  Either way an output block stays
    under Dask's ``array.chunk-size``.
    """
    if isinstance(chunks, str) and chunks == "auto":
        widest = max(free_chunks, default=1) or 1
        limit = dask.utils.parse_bytes(dask.config.get("array.chunk-size"))
        by_memory = max(1, limit // (widest * dtype.itemsize))
        if scatter:
            size = by_memory
        else:
            # Generating a connection costs several times applying it to one
            # more column, so the batch width does not enter the work estimate.
            total = max(1.0, view.prob * inner_len) * outer_len
            blocks = math.ceil(total / _TARGET_CONNECTIONS)
            # Smaller products still get a block per core when each block
            # keeps at least _MIN_CONNECTIONS of work.
            blocks = max(1, blocks, min(dask.system.CPU_COUNT, int(total // _MIN_CONNECTIONS)))
            size = min(by_memory, math.ceil(max(outer_len, 1) / blocks))
        return normalize_chunks(min(size, max(outer_len, 1)), (outer_len,))[0]
    if isinstance(chunks, numbers.Integral) and not isinstance(chunks, bool) and chunks <= 0:
        raise ValueError(f"chunks must be a positive integer, a tuple of block sizes or 'auto', got {chunks!r}")
    try:
        normalised = normalize_chunks(chunks, (outer_len,))[0]
    except (ValueError, TypeError) as exc:
        raise ValueError(
            f"chunks={chunks!r} does not split the output axis of length {outer_len}; pass a "
            "positive block size, a tuple of block sizes summing to it, or 'auto'"
        ) from exc
    return normalised


# ------------------------------------------------------------------ products
def _product(view, x, side, binary, chunks="auto", split_every=None):
    """Driver behind ``@`` and :func:`matmul` (arguments already sorted out)."""
    _check_known_chunks(x)
    _check_operand(view, x, side)
    dtype = result_dtype(x.dtype, view.dtype, binary)
    right = side == "right"
    inner_axis = 0 if right else x.ndim - 1
    free_axis = None if x.ndim == 1 else 1 - inner_axis
    outer_len = view.shape[0] if right else view.shape[1]
    inner_len = x.shape[inner_axis]
    # The inner axis is the generator's major axis exactly when the product
    # scatters lines (the decision products.matmul takes again per chunk).
    scatter = view.scatters(side)
    if not scatter and x.numblocks[inner_axis] > 1:
        x = x.rechunk({inner_axis: -1})
    free_chunks = (None,) if free_axis is None else x.chunks[free_axis]
    outer = _outer_chunks(
        view, chunks, outer_len, inner_len, () if free_axis is None else free_chunks, scatter, dtype
    )
    inner_bounds = _bounds(x.chunks[inner_axis])
    outer_bounds = _bounds(outer)
    n_free = len(free_chunks)
    partial = scatter and len(inner_bounds) > 1

    def window(inner, outer_span):
        rows, cols = (outer_span, inner) if right else (inner, outer_span)
        return view.subwindow(rows[0], rows[1], cols[0], cols[1])

    def x_key(j, c):
        if free_axis is None:
            return (x.name, j)
        return (x.name, j, c) if right else (x.name, c, j)

    def out_index(i, c):
        if free_axis is None:
            return (i,)
        return (i, c) if right else (c, i)

    name = ("jitc-scatter-" if partial else "jitc-product-") + tokenize(
        view.token(), x.name, side, binary, outer, split_every
    )
    layer = {}
    for i, outer_span in enumerate(outer_bounds):
        for c in range(n_free):
            if partial:
                for j, inner in enumerate(inner_bounds):
                    layer[(name, j) + out_index(i, c)] = (
                        _product_block, window(inner, outer_span), x_key(j, c), side, binary, True,
                    )
            else:
                # One inner chunk: a gather (rechunked above) or a scatter of a single chunk.
                layer[(name,) + out_index(i, c)] = (
                    _product_block, window((0, inner_len), outer_span), x_key(0, c), side, binary, False,
                )
    if free_axis is None:
        out_chunks = (outer,)
    else:
        out_chunks = (outer, free_chunks) if right else (free_chunks, outer)
    ndim = len(out_chunks)
    graph = HighLevelGraph.from_collections(name, layer, dependencies=[x])
    if not partial:
        return da.Array(graph, name, out_chunks, meta=meta_from_array(x._meta, ndim, dtype=dtype))
    partials = da.Array(
        graph, name, ((1,) * len(inner_bounds),) + out_chunks,
        meta=meta_from_array(x._meta, ndim + 1, dtype=dtype),
    )
    # Dask's tree reduction, with the meta given rather than inferred.
    return da.reduction(
        partials, np.sum, np.sum, axis=0, dtype=dtype, split_every=split_every,
        meta=meta_from_array(x._meta, ndim, dtype=dtype),
    )


def _dask_matmul(view, x, side, binary):
    """Handler for ``conn @ x`` / ``x @ conn`` with a Dask operand."""
    return _product(view, x, side, binary)


#: Dask arrays: graphs of product tasks, each chunk served by its own backend.
DASK = ArrayBackend("dask", _dask_matmul)

register(DASK, da.Array)


def _is_matrix(x):
    # A JITC matrix (any view of one): the lazy array that gives one View.
    # Composites give none and are refused here, as they are not matrices;
    # asked by its protocols, not its class, since lazyconn.matrix imports
    # this module (for to_dask) and so stands above it.
    return isinstance(x, ArrayProtocols) and hasattr(x, "as_view")


def matmul(a, b, *, chunks="auto", split_every=None):
    """Lazy product of a JITC matrix and a Dask array, in either order.

    Exactly one of ``a`` and ``b`` is a JITC matrix; the other is a
    ``dask.array.Array`` (1-D or 2-D) or a :class:`~lazyconn.BinaryArray`
    wrapping one.  ``matmul(conn, x)`` is ``conn @ x`` and ``matmul(x, conn)``
    is ``x @ conn``, with two extra knobs.

    Parameters
    ----------
    a, b : JITCMatrix, dask.array.Array or BinaryArray
        The operands, in product order.
    chunks : "auto", int or tuple of int, optional
        Chunking of the output along the matrix axis that survives the
        product (rows of ``conn @ x``, columns of ``x @ conn``); ``x``'s
        chunks decide the other output axis and the inner one.  ``"auto"``
        (default) gives gather products about ``2**24`` expected connections
        per task (and a block per core where each still gets ``2**20``) and
        keeps scatter outputs whole; both stay under Dask's
        ``array.chunk-size``.  The chunking never changes a value.
    split_every : int or None, optional
        Fan-in of the tree reduction that sums the partial outputs of a
        scatter product (Dask's default when None).  Unused for gathers.

    Returns
    -------
    dask.array.Array
        Lazy; its graph holds one small view of the matrix per task, never
        its entries.  The dtype is NumPy's promotion of ``x``'s dtype with
        the matrix dtype (the matrix dtype for binary events).

    Raises
    ------
    TypeError
        If neither or both operands are JITC matrices, or the other operand
        is not a Dask array.
    ValueError
        For shape mismatches, unknown chunk sizes or ``chunks`` that do not
        split the output axis.

    See Also
    --------
    to_dask : The matrix itself as a Dask array of dense blocks.

    Examples
    --------
    >>> import dask.array as da, lazyconn, lazyconn.dask
    >>> conn = lazyconn.JITCScalarR(1000, 400, prob=0.1, weight=0.5, seed=0)
    >>> spikes = lazyconn.BinaryArray(da.ones((8, 1000), dtype=bool, chunks=(4, 250)))
    >>> lazyconn.dask.matmul(spikes, conn, chunks=100).chunks
    ((4, 4), (100, 100, 100, 100))
    """
    a_is_matrix, b_is_matrix = _is_matrix(a), _is_matrix(b)
    if a_is_matrix == b_is_matrix:
        raise TypeError(
            "lazyconn.dask.matmul needs exactly one JITC matrix operand, got "
            f"{type(a).__name__} and {type(b).__name__}; for two dask arrays use dask.array.matmul"
        )
    conn, other, side = (a, b, "right") if a_is_matrix else (b, a, "left")
    binary = isinstance(other, BinaryArray)
    x = other.data if binary else other
    if not isinstance(x, da.Array):
        raise TypeError(
            f"lazyconn.dask.matmul needs a dask.array.Array operand, got {type(x).__name__}; "
            "wrap it with dask.array.from_array(x, chunks=...) or use the @ operator for in-memory arrays"
        )
    return _product(as_view(conn), x, side, binary, chunks, split_every)


# --------------------------------------------------------------- dense blocks
def _count_chunks(chunks, shape):
    """Chunks that int or per-axis int ``chunks`` would make, before Dask builds them.

    Dask's own normalisation lists every chunk's size, which for a
    2**31-long axis in chunks of 1 is itself a 2**31-element tuple: the
    count is checked first.  Returns None for forms counted afterwards.
    """
    per_axis = chunks if isinstance(chunks, tuple) and len(chunks) == 2 else (chunks, chunks)
    count = 1
    for size, length in zip(per_axis, shape):
        if isinstance(size, bool) or not isinstance(size, numbers.Integral):
            return None
        if size <= 0 and size != -1:
            raise ValueError(f"chunks must be positive sizes (or -1 for a whole axis), got {chunks!r}")
        count *= 1 if size == -1 or length == 0 else -(-length // int(size))
    return count


def _check_chunk_count(count, shape):
    limit = get_options()["max_dask_chunks"]
    if count is not None and count > limit:
        raise ValueError(
            f"to_dask of a {shape[0]} x {shape[1]} matrix would make {count:,} chunks, above "
            f"max_dask_chunks={limit:,}; pass larger chunks, take a window (conn[a:b, c:d]) first, "
            "or raise the limit with lazyconn.set_options(max_dask_chunks=...)"
        )


def to_dask(conn, chunks="auto", *, meta=None):
    """The matrix as a Dask array of dense blocks generated inside tasks.

    Each task holds one view ``conn[a:b, c:d]`` (a few hundred bytes) and
    generates that block when it runs, so the array can be far larger than
    memory; the values are bit-identical to ``conn.todense()`` for every
    chunking.  Task names are stable: ``tokenize`` of the matrix (generator,
    window, scale), the chunks and the chunk type.

    Parameters
    ----------
    conn : JITCMatrix
        The matrix (any window, transpose or scaled view of one).
    chunks : "auto", int, tuple or dict, optional
        As in ``dask.array`` (``"auto"`` follows ``array.chunk-size``).
    meta : array, optional
        An array of the chunk type (e.g. ``cupy.empty(0)``): blocks are then
        generated with ``conn.todense(xp=<that namespace>)``.  Default NumPy.

    Returns
    -------
    dask.array.Array
        Shape and dtype of ``conn``; chunk type that of ``meta``.

    Raises
    ------
    ValueError
        If one block would exceed ``max_dense_size``, or the graph
        ``max_dask_chunks`` chunks (see :func:`lazyconn.set_options`), or
        ``chunks`` is not a valid chunking.

    See Also
    --------
    JITCMatrix.to_dask : The same, as a method (NumPy blocks).
    matmul : Products with Dask arrays, which never materialise blocks.

    Examples
    --------
    >>> import lazyconn
    >>> conn = lazyconn.JITCNormalR(10_000, 10_000, prob=0.01, loc=1.0, scale=0.1, seed=0)
    >>> dense = conn.to_dask(chunks=2_500)
    >>> dense.numblocks
    (4, 4)
    """
    if not _is_matrix(conn):
        raise TypeError(f"to_dask needs a JITC matrix, got {type(conn).__name__}")
    dtype = conn.dtype
    meta = np.empty((0, 0), dtype=dtype) if meta is None else meta_from_array(meta, ndim=2, dtype=dtype)
    return dense_block_array(conn, chunks, lambda r0, r1, c0, c1: conn[r0:r1, c0:c1], "jitc-dense-", meta)


def dense_block_array(source, chunks, window, prefix, meta):
    """A Dask array of ``source``'s dense blocks, one window per task.

    The chunking is validated (positive sizes, at most ``max_dask_chunks``
    chunks, counted before Dask lists them; blocks within
    ``max_dense_size``), and each task holds ``window(r0, r1, c0, c1)`` (a
    lazy view of a few hundred bytes) and calls its ``todense()`` in the
    namespace of ``meta``.  Shared by JITC matrices and composites.

    Parameters
    ----------
    source : JITCMatrix or JITCComposite
        Gives ``shape`` and ``dtype``, and with ``chunks`` the task names.
    chunks : "auto", int, tuple or dict
        As in ``dask.array``.
    window : callable
        ``(r0, r1, c0, c1) -> view`` of ``source``.
    prefix : str
        Start of the graph's name.
    meta : array
        An empty 2-D array of the chunk type and dtype.

    Returns
    -------
    dask.array.Array
    """
    _check_chunk_count(_count_chunks(chunks, source.shape), source.shape)
    try:
        chunks = normalize_chunks(chunks, source.shape, dtype=source.dtype)
    except ZeroDivisionError:
        raise ValueError(f"chunks must be positive sizes, got {chunks!r}") from None
    rows, cols = chunks
    _check_chunk_count(len(rows) * len(cols), source.shape)
    largest = max(rows, default=0) * max(cols, default=0)
    check_materialise(
        largest, f"a {max(rows, default=0)} x {max(cols, default=0)} block of to_dask (pass smaller chunks)"
    )
    namespace = _namespace_name(meta)
    name = prefix + tokenize(source, chunks, namespace)
    layer = {
        (name, i, j): (_dense_block, window(r0, r1, c0, c1), namespace)
        for i, (r0, r1) in enumerate(_bounds(rows))
        for j, (c0, c1) in enumerate(_bounds(cols))
    }
    graph = HighLevelGraph.from_collections(name, layer, dependencies=())
    return da.Array(graph, name, chunks, meta=meta)



# ------------------------------------------------- dask.array functions
#: Dask functions that convert their operands with ``asarray`` and then only
#: multiply chunks: they get the matrix as views, multiplied inside tasks.
_PRODUCT_CALLERS = frozenset({
    ("dask.array.routines", "matmul"),
    ("dask.array.einsumfuncs", "parse_einsum_input"),
})


def _asarray_caller(depth):
    """``(module, function)`` of the code that called ``da.asarray`` / ``da.asanyarray``.

    ``depth`` frames up is the call to the hook itself; the frame above it
    must be Dask's ``asarray`` or ``asanyarray`` (anything else: None).
    Comprehension frames between them are skipped (Python < 3.12).
    """
    try:
        frame = sys._getframe(depth + 1)
    except ValueError:
        return None
    if frame.f_globals.get("__name__") != "dask.array.core" or frame.f_code.co_name not in ("asarray", "asanyarray"):
        return None
    frame = frame.f_back
    while frame is not None and frame.f_code.co_name.startswith("<"):
        frame = frame.f_back
    return None if frame is None else (frame.f_globals.get("__name__"), frame.f_code.co_name)


def as_dask_array(conn, depth=1):
    """The ``to_dask_array`` hook: what ``da.asarray(conn)`` returns.

    :func:`to_dask` (dense blocks generated inside tasks), except inside
    ``da.matmul`` and ``da.einsum``, which only multiply chunks: they get
    ``from_array`` views ``conn[a:b, c:d]`` (Dask's own conversion of an
    object with ``__array_function__``), multiplied with each chunk of the
    other operand through ``np.matmul`` / ``np.einsum`` -- the event-driven
    products, never a dense block.  ``da.dot`` and ``da.tensordot`` call
    ``from_array`` themselves and get the same views.

    Parameters
    ----------
    conn : JITCMatrix
        The matrix Dask converts.
    depth : int
        Frames between this function and Dask's ``asarray`` call (1: called
        from ``JITCMatrix.to_dask_array``).

    Returns
    -------
    dask.array.Array
    """
    if _asarray_caller(depth + 1) in _PRODUCT_CALLERS:
        return da.from_array(conn, getitem=getter_inline)
    return to_dask(conn)
