"""CPU backend: spec v1 in Numba, parallel, bit-identical to the reference.

Same interface as :mod:`lazyconn.kernels.reference` (read its docstring):
``dense``, ``coo``, ``scatter``, ``gather``, ``degrees``, all in line space.
``dense`` and ``coo`` are byte-equal to the reference for every window;
products agree to float tolerance (the summation order differs, and sums
are accumulated in the result dtype, float32 or float64).

How the work is laid out (DESIGN §2b):

* An *item* is one (line, block) stream.  Its gap words are computed for a
  run of draws at a time (a multiple of 8, sized from the expected count)
  into a small buffer by a loop that LLVM vectorises, then walked.  Gaps
  come from the exact per-probability gap table (``ln`` only in the few
  buckets with several steps), or from ``ln`` itself for p below ~1e-3.
* Weight uniforms are drawn for the same batch, in a second vector loop.
  Cheap laws (Uniform) apply their weights per batch; dear ones (Normal)
  are deferred: the uniforms of ~2,000 connections are collected, turned
  into weights in one vectorised pass (for Normal: AS241's central branch
  on all lanes, the ~15 % tail lanes compressed and done contiguously in a
  second pass), then applied.  A constant law (Scalar) reads no weights.
  The kernels are compiled per (rule, law) (:func:`._cpu_kernels.kernels_for`).
* Jobs with fewer than ``_SERIAL_BELOW`` expected connections run on one
  thread: waking the others can cost milliseconds on a busy machine.
* ``gather`` (``L @ y``) and ``dense`` split the lines between threads: each
  output row belongs to one thread, no races.  Batched gathers go block by
  block inside a chunk of lines, to keep operand and output rows in cache.
* ``scatter`` (``x @ L``, event-driven: only the given lines) splits the
  *blocks* between threads: a block is a column range of the output, so each
  thread owns its columns and there are no private copies to reduce.  When
  there are too few blocks to keep every thread busy, lines are also split
  into a few groups with private accumulators, summed at the end.
* Product bits do not depend on the thread count: a gather sums each output
  row in one fixed order (line by line, block by block) whatever the chunks,
  and the scatter's groups are sized from constants and the job's shape,
  never from the threads, and summed in a fixed order.
* Batched operands (``n_cols > 1``) are applied to each generated
  connection in an inner loop, so every line is generated once.

Every kernel is compiled with ``cache=True`` and ``error_model="numpy"``,
without fastmath (no FMA contraction, no reassociation), and one version
per argument dtype is compiled on first use and cached on disk.
"""

from __future__ import annotations

import contextlib
import importlib
import math
import os
import signal
import threading

import numba
import numba.core.event
import numpy as np

from .. import laws, rules
from .._rule_fixed import line_length
from ._cpu_kernels import (
    _MODE_COO,
    _MODE_COUNT,
    _MODE_DEGREES,
    _MODE_DENSE,
    Generator,
    _scratch,  # noqa: F401  (the cache tests key a simple kernel)
    kernels_for,
)
from ._cpu_random import gap_table, round_key_arrays

__all__ = ["NAME", "dense", "coo", "scatter", "gather", "degrees", "num_threads"]


NAME = "cpu"

#: Below this many expected connections a kernel runs on one thread: waking
#: the other threads can cost more than the whole job on a loaded machine.
_SERIAL_BELOW = 1 << 17
#: Below this many expected connections a job runs the kernel compiled
#: without ``parallel``: no thread count to set and no parallel region to
#: start (about 5 us), but its walk is 2-25 % slower per connection than the
#: parallel kernel's on one thread (Numba optimises the outlined parallel
#: loop better), which outweighs that from a few thousand connections on.
_SERIAL_KERNEL_BELOW = 1 << 11
#: Iterations handed to a thread at a time (0 would be a static split).
_CHUNKSIZE = 1
#: Byte budget for private scatter/degree accumulators (kept well below the
#: 64 MiB peak-memory target of issue 3).
_PRIVATE_BYTES = 16 << 20
#: Work launched at a time per thread, in expected connections (plus
#: ``_ITEM_WORK`` per (line, block) item).  Python sees Ctrl-C only between
#: two launches, so a part must take well under a second even on a slow
#: thread.  Parts never change a bit: a part is a range
#: of whole lines, or in a scatter a range of each group's lines (added in
#: order) times a range of blocks (disjoint output columns).  Every part
#: ends with the threads waiting for the slowest one, so parts are no
#: smaller than needed.
_PART_WORK = 1 << 26
#: An item without connections still computes its first batch of draws:
#: about the cost of this many connections.
_ITEM_WORK = 32
#: Scatter work items (group, block) wanted.  With fewer blocks the lines are
#: split into groups with private accumulators.  A constant, never the
#: thread count: the groups decide the order in which an output entry's
#: terms are added, so the bits must not depend on the threads (4 items per
#: thread for up to 8 threads).
_SCATTER_ITEMS = 32
#: A private accumulator adds ``width * n_cols`` entries to zero and to sum:
#: a group gets at least this many expected connections per output column.
_GROUP_CONNECTIONS_PER_COLUMN = 16


def num_threads():
    """Number of threads the Numba kernels run on.

    Returns
    -------
    int
        ``numba.get_num_threads()``: set it with ``NUMBA_NUM_THREADS`` or
        ``numba.set_num_threads``.
    """
    return numba.get_num_threads()


# --------------------------------------------------------------------- driver
def _generator(params, dtype):
    """Kernel-side values of a matrix, as a named record (kernels never see Spec).

    Memoised per ``(params, dtype)``: building the record (round keys, gap
    table lookup) costs microseconds that a small product pays on every
    call.  Keyed on the identity of ``params`` (``Spec.kernel_params()`` is
    itself cached per matrix), never on its value: ``0.0 == -0.0`` and
    ``nan != nan`` would make a value key return another matrix's record
    or miss every time.  The record's arrays are only read by the kernels.
    """
    _require_walk(params)
    key = (id(params), np.dtype(dtype))
    cached = _GENERATORS.get(key)
    if cached is not None and cached[0] is params:
        return cached[1]
    gen = _make_generator(params, dtype)
    if len(_GENERATORS) >= 64:  # a handful of matrices per program, typically
        _GENERATORS.clear()  # one atomic step: Dask threads may be here at once
    _GENERATORS[key] = (params, gen)  # holds params: its id is not reused while cached
    return gen


_GENERATORS = {}


def _make_generator(params, dtype):
    rk0, rk1 = round_key_arrays(params.key0, params.key1)
    scalar_weight = float(np.dtype(dtype).type(params.a))  # rounded once, as the reference
    bernoulli = params.rule == rules.BERNOULLI.code
    # Only the Bernoulli walk reads the gap table.
    table_base, table_threshold = _gap_table(float(params.inv_log_q)) if bernoulli else _NO_TABLE
    n_eff = 0 if bernoulli else line_length(params.minor_size, not params.skip_diagonal)
    return Generator(
        rk0=rk0,
        rk1=rk1,
        block_log2=np.int64(params.block_log2),
        inv_log_q=np.float64(params.inv_log_q),
        a=np.float64(params.a),
        b=np.float64(params.b),
        skip_diagonal=bool(params.skip_diagonal),
        round32=np.dtype(dtype) == np.float32,
        scalar_weight=np.float64(scalar_weight),
        prob=np.float64(params.prob),
        table_base=table_base,
        table_threshold=table_threshold,
        num_conn=np.int64(params.num_conn),
        n_eff=np.int64(n_eff),
    )


def _require_walk(params):
    """Refuse a rule without a Numba walk (never a silent Bernoulli matrix)."""
    rule = rules.by_code(params.rule)
    if not rule.numba_walk:
        raise NotImplementedError(
            f"the CPU backend has no kernels for the {rule.name} connection rule yet; "
            "set LAZYCONN_BACKEND=reference to compute it with the NumPy reference (host arrays only)"
        )


def _kernels(params):
    """The kernels compiled for the matrix's (rule, law)."""
    return kernels_for(rules.by_code(params.rule), laws.by_code(params.law))


_TABLES = {}
_NO_TABLE = (np.empty(0, dtype=np.int32), np.empty(0, dtype=np.uint32))
#: The table is used when at most this fraction of words needs the exact ln.
_TABLE_MAX_FALLBACK = 1 / 16


def _gap_table(inv_log_q):
    """The gap table of a probability (cached), or empty arrays where it does not pay.

    For small p most buckets hold several gap steps and would fall back to
    ``ln`` anyway (DESIGN §2b: useless below p = 1e-3), so no table is used.
    """
    if inv_log_q == -math.inf or inv_log_q == 0.0:
        return _NO_TABLE
    if inv_log_q not in _TABLES:
        base, threshold = gap_table(inv_log_q)
        useful = np.count_nonzero(base < 0) <= _TABLE_MAX_FALLBACK * base.size
        if len(_TABLES) >= 32:  # a handful of probabilities per program, typically
            _TABLES.pop(next(iter(_TABLES)))
        _TABLES[inv_log_q] = (base, threshold) if useful else _NO_TABLE
    return _TABLES[inv_log_q]


class _CompileInterrupts(numba.core.event.Listener):
    """Keeps a Ctrl-C that lands while Numba compiles a kernel.

    Numba's compiler runs weakref callbacks, and CPython ignores (prints and
    drops) an exception raised inside one: a KeyboardInterrupt raised there
    is lost and the product would run to its end.  While the main thread
    compiles under Python's default SIGINT handler, SIGINT goes to a handler
    that raises as the default one does and also records the interrupt;
    :func:`_launch` raises it once the kernel returns.
    """

    def __init__(self):
        self.depth = 0
        self.pending = False
        self._previous = None

    def on_start(self, event):
        if threading.current_thread() is not threading.main_thread():
            return
        self.depth += 1
        if self.depth == 1 and signal.getsignal(signal.SIGINT) is signal.default_int_handler:
            self._previous = signal.signal(signal.SIGINT, self._interrupted)

    def on_end(self, event):
        if threading.current_thread() is not threading.main_thread():
            return
        self.depth = max(0, self.depth - 1)
        if self.depth == 0 and self._previous is not None:
            signal.signal(signal.SIGINT, self._previous)
            self._previous = None

    def _interrupted(self, signum, frame):
        self.pending = True
        raise KeyboardInterrupt


_COMPILE_INTERRUPTS = _CompileInterrupts()
numba.core.event.register("numba:compile", _COMPILE_INTERRUPTS)


def _launch(kernel, expected_connections, *args, serial_kernel=None):
    """Run a parallel kernel, on one thread when the job is small.

    A tiny job runs ``serial_kernel`` (the same kernel compiled without
    ``parallel``) where there is one: no thread count to set, no parallel
    region to start, which cost more than a tiny product.  Otherwise
    ``numba.set_num_threads`` (thread-local, so concurrent callers such as
    Dask workers do not affect each other) limits a small job to one thread.
    Iterations are handed out dynamically, one at a time: on a shared
    machine a thread that is descheduled no longer holds back a fixed share
    of the work.
    """
    _COMPILE_INTERRUPTS.pending = False
    if expected_connections >= _SERIAL_BELOW:
        with _LAUNCH_LOCK, numba.parallel_chunksize(_CHUNKSIZE):
            kernel(*args)
    elif serial_kernel is not None and expected_connections < _SERIAL_KERNEL_BELOW:
        serial_kernel(*args)
    else:
        # One thread: how iterations are handed out does not matter (and
        # never changes a bit), so the chunk size is left alone -- setting
        # and restoring it costs more than a small kernel.
        threads = numba.get_num_threads()
        numba.set_num_threads(1)
        try:
            with _LAUNCH_LOCK:
                kernel(*args)
        finally:
            numba.set_num_threads(threads)
    if _COMPILE_INTERRUPTS.pending:  # a Ctrl-C that compiling swallowed
        _COMPILE_INTERRUPTS.pending = False
        raise KeyboardInterrupt


def _workqueue_only():
    """True when Numba's threading layer will be ``workqueue``.

    That layer aborts the process when two threads launch parallel kernels
    at once (Dask's threaded scheduler does), so launches are serialised
    there; the OpenMP and TBB layers take concurrent launches.
    """
    if numba.config.THREADING_LAYER == "workqueue":
        return True
    for pool in ("tbbpool", "omppool"):
        try:
            importlib.import_module(f"numba.np.ufunc.{pool}")
        except ImportError:
            continue
        return False
    return True


_LAUNCH_LOCK = threading.Lock() if _workqueue_only() else contextlib.nullcontext()


def _expected(params, n_lines, width):
    """Expected connections of ``n_lines`` lines of ``width`` entries (sizing only)."""
    return float(n_lines) * width * params.prob


def _empty(params, j0, j1):
    _require_walk(params)  # every public kernel asks this first
    return j1 <= j0 or params.inv_log_q == -math.inf


def _block_range(params, j0, j1):
    shift = params.block_log2
    return j0 >> shift, ((j1 - 1) >> shift) + 1


def _accumulator_dtype(dtype):
    dtype = np.dtype(dtype)
    return dtype if dtype in (np.dtype(np.float32), np.dtype(np.float64)) else np.dtype(np.float64)


def _line_parts(params, k0, k1, j0, j1, min_lines=1, n_cols=1):
    """Line ranges ``(p0, p1)`` of lines ``k0:k1`` of about ``_part_work()``
    each (a line is never split; at least ``min_lines`` unless that is over 4
    parts' work), to launch one after another."""
    b0, b1 = _block_range(params, j0, j1)
    per_line = (_expected(params, 1, j1 - j0) + _ITEM_WORK * (b1 - b0)) * _column_cost(n_cols)
    if (k1 - k0) * per_line <= _PART_WORK:  # one part whatever the threads (_part_work() >= _PART_WORK)
        yield k0, k1
        return
    step = max(1, int(_part_work() // max(per_line, 1.0)))
    step = max(step, min(min_lines, 4 * step))
    for p0 in range(k0, k1, step):
        yield p0, min(k1, p0 + step)


def _part_work():
    """Work of one part: ``_PART_WORK`` per thread that can run at once."""
    return _PART_WORK * max(1, min(numba.get_num_threads(), os.cpu_count() or 1))


def _column_cost(n_cols):
    # Each further column adds a multiply-add per connection.
    return 1.0 + (n_cols - 1) / 16.0


def _line_chunks(n_lines, expected_connections):
    # A few chunks per thread smooth out uneven lines and noisy neighbours.
    # A job that runs on one thread (see _launch) takes one chunk: each
    # chunk allocates its scratch buffers, which in a small product cost
    # more than the product itself.
    if expected_connections < _SERIAL_BELOW:
        return 1
    return max(1, min(n_lines, 8 * numba.get_num_threads()))


# --------------------------------------------------------- public interface
_NO_INT = np.empty(0, dtype=np.int64)
_NO_FLOAT = np.empty(0, dtype=np.float64)
_NO_DENSE = np.empty((0, 0), dtype=np.float64)
_NO_MINOR = np.empty((0, 0), dtype=np.int64)


def _lines(params, mode, k0, k1, j0, j1, dtype, dense_out=_NO_DENSE, offsets=_NO_INT, ks=_NO_INT, jout=_NO_INT,
           wout=_NO_FLOAT, per_line=_NO_INT, per_minor=_NO_MINOR, scale=1.0):
    b0, b1 = _block_range(params, j0, j1)
    gen = _generator(params, dtype)
    # numba.get_num_threads() inside a kernel would stop Numba caching it.
    by_thread = per_minor.shape[0] >= numba.get_num_threads()
    # Part by part (Ctrl-C is seen between them); per-line arrays are sliced
    # to the part, those indexed by offsets (ks, jout, wout) are not.
    for p0, p1 in _line_parts(params, k0, k1, j0, j1):
        expected = _expected(params, p1 - p0, j1 - j0)
        n_chunks = _line_chunks(p1 - p0, expected)
        if per_minor.shape[0] and not by_thread:  # one private per-minor row per chunk
            n_chunks = min(n_chunks, per_minor.shape[0])
        a, b = p0 - k0, p1 - k0
        _launch(
            _kernels(params).lines, expected,
            gen, mode, p0, p1, j0, j1, b0, b1, n_chunks,
            dense_out[a:b], offsets[a:b + 1], ks, jout, wout, per_line[a:b], per_minor, by_thread,
            np.float64(scale),
        )


def dense(params, k0, k1, j0, j1, dtype):
    """Dense block ``L[k0:k1, j0:j1]`` with dtype ``dtype``.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
    k0, k1 : int
        Line range.
    j0, j1 : int
        Minor window.
    dtype : numpy.dtype
        float32 or float64.

    Returns
    -------
    ndarray of shape (k1 - k0, j1 - j0)
        Byte-equal to :func:`lazyconn.kernels.reference.dense`.
    """
    dtype = np.dtype(dtype)
    shape = (max(k1 - k0, 0), max(j1 - j0, 0))
    if shape[0] == 0 or _empty(params, j0, j1):
        return np.zeros(shape, dtype=dtype)
    # Generated in float64 (weights already rounded to dtype): the cast is exact.
    out = np.zeros(shape, dtype=np.float64)
    _lines(params, _MODE_DENSE, k0, k1, j0, j1, dtype, dense_out=out)
    return out if dtype == np.float64 else out.astype(dtype)


def coo(params, k0, k1, j0, j1, dtype):
    """Connections of lines ``k0:k1`` in the minor window ``j0:j1``.

    Returns
    -------
    k, j : ndarray of int64
        Global line and minor indices, sorted by ``(k, j)``.
    w : ndarray of ``dtype``
    """
    dtype = np.dtype(dtype)
    n_lines = max(k1 - k0, 0)
    if n_lines == 0 or _empty(params, j0, j1):
        return np.empty(0, dtype=np.int64), np.empty(0, dtype=np.int64), np.empty(0, dtype=dtype)
    offsets = np.zeros(n_lines + 1, dtype=np.int64)
    _lines(params, _MODE_COUNT, k0, k1, j0, j1, dtype, offsets=offsets)
    np.cumsum(offsets, out=offsets)
    total = int(offsets[-1])
    ks = np.empty(total, dtype=np.int64)
    js = np.empty(total, dtype=np.int64)
    ws = np.empty(total, dtype=np.float64)
    _lines(params, _MODE_COO, k0, k1, j0, j1, dtype, offsets=offsets, ks=ks, jout=js, wout=ws)
    return ks, js, ws.astype(dtype, copy=False)


def degrees(params, k0, k1, j0, j1, dtype, scale=1.0):
    """Exact counts of nonzero entries of ``L[k0:k1, j0:j1] * scale``.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
    k0, k1, j0, j1 : int
        The window in line space.
    dtype : numpy.dtype
        float32 or float64.
    scale : float, optional
        The entry of weight ``w`` is ``dtype(float64(w) * scale)``: equal to
        :func:`lazyconn.kernels.reference.degrees` with the same scale.

    Returns
    -------
    per_line : ndarray of int64, shape (k1 - k0,)
    per_minor : ndarray of int64, shape (j1 - j0,)
    """
    dtype = np.dtype(dtype)
    n_lines = max(k1 - k0, 0)
    width = max(j1 - j0, 0)
    per_line = np.zeros(n_lines, dtype=np.int64)
    if n_lines == 0 or _empty(params, j0, j1):
        return per_line, np.zeros(width, dtype=np.int64)
    # One private per-minor row per thread, within the memory budget.
    rows = max(1, min(numba.get_num_threads(), _PRIVATE_BYTES // (8 * width)))
    per_minor = np.zeros((rows, width), dtype=np.int64)
    offsets = np.zeros(n_lines + 1, dtype=np.int64)
    _lines(params, _MODE_DEGREES, k0, k1, j0, j1, dtype, offsets=offsets, per_line=per_line, per_minor=per_minor,
           scale=scale)
    return per_line, per_minor.sum(axis=0)


def scatter(params, lines, values, j0, j1, dtype):
    """Scatter lines onto the minor window: ``values.T @ L[lines, j0:j1]``.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
    lines : ndarray of int64
        Line indices (typically only the active ones: event-driven).
    values : ndarray of shape (len(lines), n_cols) or None
        Per-line factors; None means one column of ones (binary events),
        and no multiply is done.
    j0, j1 : int
        Minor window.
    dtype : numpy.dtype
        Matrix dtype: weights are rounded to it before use.

    Returns
    -------
    ndarray of shape (j1 - j0, n_cols)
        Accumulated in ``values.dtype`` (float32 or float64; float64 for
        other dtypes) or, for binary events, in ``dtype``.
    """
    dtype = np.dtype(dtype)
    lines = np.ascontiguousarray(lines, dtype=np.int64)
    binary = values is None
    if binary:
        acc_dtype = dtype
        values = np.empty((0, 1), dtype=acc_dtype)
    else:
        acc_dtype = _accumulator_dtype(values.dtype)
        values = np.ascontiguousarray(values, dtype=acc_dtype)
    n_cols = values.shape[1]
    width = max(j1 - j0, 0)
    if lines.size == 0 or _empty(params, j0, j1):
        return np.zeros((width, n_cols), dtype=acc_dtype)
    b0, b1 = _block_range(params, j0, j1)
    n_blocks = b1 - b0
    expected = _expected(params, lines.size, width)
    n_groups = _scatter_groups(lines.size, n_blocks, width, n_cols * acc_dtype.itemsize, expected)
    out = np.zeros((n_groups, width, n_cols), dtype=acc_dtype)
    gen = _generator(params, dtype)
    # Part by part (Ctrl-C is seen between them): part p takes the p-th
    # slice of every group's lines, so each group adds its lines in order
    # whatever the number of parts; a line too long for one part is also
    # split by blocks (disjoint output columns).
    work = (expected + _ITEM_WORK * n_blocks * lines.size) * _column_cost(n_cols)
    # Batched: each part reloads every item's accumulator (a block's columns
    # times n_cols) into cache, so parts are twice as large.
    # (A job within one thread's part is one part: _part_work() >= _PART_WORK.)
    n_parts = 1 if work <= _PART_WORK else max(1, int(-(-work // (_part_work() * (2 if n_cols > 1 else 1)))))
    n_block_parts = 1
    longest = -(-lines.size // n_groups)
    if n_parts > longest:
        n_block_parts = min(n_blocks, -(-n_parts // longest))
        n_parts = longest
    kernels = _kernels(params)
    for part in range(n_parts):
        for q in range(n_block_parts):
            _launch(
                kernels.scatter, expected / (n_parts * n_block_parts),
                gen, lines, values, binary, j0, j1, b0 + q * n_blocks // n_block_parts,
                b0 + (q + 1) * n_blocks // n_block_parts, n_groups, part, n_parts, out,
                serial_kernel=kernels.serial_scatter,
            )
    # Groups are summed in a fixed order (0, 1, ...): same bits on any thread count.
    return out[0] if n_groups == 1 else out.sum(axis=0)


def _scatter_groups(n_lines, n_blocks, width, row_bytes, expected):
    """Line groups of a scatter, each with a private accumulator.

    Enough (group, block) items to keep the threads busy, from constants
    and the job's shape only: the groups fix the summation order of every
    output entry (group by group, lines in order within a group), so a
    function of the thread count would make the bits depend on it.
    """
    if n_blocks >= _SCATTER_ITEMS:
        return 1
    return max(1, min(
        -(-_SCATTER_ITEMS // n_blocks),
        n_lines,
        _PRIVATE_BYTES // max(width * row_bytes, 1),
        int(expected // (_GROUP_CONNECTIONS_PER_COLUMN * max(width, 1))),
    ))


def gather(params, k0, k1, j0, j1, vectors, dtype):
    """Gather along lines: ``L[k0:k1, j0:j1] @ vectors``.

    Parameters
    ----------
    params : lazyconn.spec.KernelParams
    k0, k1, j0, j1 : int
        The window in line space.
    vectors : ndarray of shape (j1 - j0, n_cols)
    dtype : numpy.dtype
        Matrix dtype.

    Returns
    -------
    ndarray of shape (k1 - k0, n_cols)
        Accumulated in ``vectors.dtype`` (float32 or float64).
    """
    dtype = np.dtype(dtype)
    acc_dtype = _accumulator_dtype(vectors.dtype)
    vectors = np.ascontiguousarray(vectors, dtype=acc_dtype)
    n_lines = max(k1 - k0, 0)
    out = np.zeros((n_lines, vectors.shape[1]), dtype=acc_dtype)
    if n_lines == 0 or vectors.shape[1] == 0 or _empty(params, j0, j1):
        return out
    b0, b1 = _block_range(params, j0, j1)
    n_cols = vectors.shape[1]
    gen = _generator(params, dtype)
    # A chunk's output rows are revisited once per block: keep them within
    # ~256 KiB of cache (see the gather kernel in _cpu_kernels.py).
    rows_per_chunk = max(1, (256 << 10) // (n_cols * acc_dtype.itemsize))
    # Part by part, whole lines each (Ctrl-C is seen between them): every
    # output row is summed in one fixed order whatever the parts and chunks.
    # Batched: parts of at least 8 cache-sized chunks per thread, so that
    # the threads' last chunks of a part end close together.
    min_lines = 8 * numba.get_num_threads() * rows_per_chunk if n_cols > 1 else 1
    kernels = _kernels(params)
    for p0, p1 in _line_parts(params, k0, k1, j0, j1, min_lines, n_cols):
        n = p1 - p0
        expected = _expected(params, n, j1 - j0)
        chunks = _line_chunks(n, expected)
        if n_cols > 1:
            chunks = max(chunks, min(n, -(-n // rows_per_chunk)))
        _launch(kernels.gather, expected, gen, p0, p1, j0, j1, b0, b1, chunks, vectors, out[p0 - k0:p1 - k0],
                serial_kernel=kernels.serial_gather)
    return out

