"""Hypothesis strategies, case lists and assertions for JITC matrices (public).

Use them to test code that takes lazyconn matrices, and to test backends:
lazyconn's own suite is built on them (``tests/test_backends.py`` is the
conformance suite every kernel backend passes).

A new weight law is covered by adding one entry to :data:`LAW_KINDS` (and,
if it has edge parameters, to :data:`LAW_EXAMPLES`; if some backend does not
implement it yet, to :data:`LAW_BACKENDS`); a new backend by adding one
:class:`BackendCase` to :data:`BACKENDS`.

Examples
--------
>>> from hypothesis import given
>>> from lazyconn.testing import matrices, assert_matmul_matches_dense
>>> @given(matrices(max_side=20))
... def test_products(conn):
...     assert_matmul_matches_dense(conn, "right")
"""

from __future__ import annotations

import importlib
from dataclasses import dataclass

import numpy as np
from hypothesis import strategies as st

from ._rule_fixed import line_length
from .laws import Exponential, LogNormal
from .matrix import from_spec
from .spec import Normal, Scalar, Spec, Uniform

__all__ = [
    "probabilities",
    "seeds",
    "laws",
    "specs",
    "matrices",
    "windows",
    "windowed_matrices",
    "operands",
    "line_windows",
    "line_window_cases",
    "assert_matmul_matches_dense",
    "assert_same_bits",
    "assert_coo_equal",
    "assert_sums_close",
    "assert_window_matches_reference",
    "assert_products_match_reference",
    "to_numpy",
    "law_id",
    "law_kind",
    "BackendCase",
    "BACKENDS",
    "EDGE_PROBABILITIES",
    "EDGE_SEEDS",
    "LAW_KINDS",
    "LAWS",
    "LAW_EXAMPLES",
    "LAW_BACKENDS",
    "RULE_BACKENDS",
    "num_conns",
    "fixed_number_window_cases",
    "ORIENTATIONS",
    "DTYPES",
]

#: Probabilities where the walk has special behaviour (empty, full, B clamped, dense).
EDGE_PROBABILITIES = (0.0, 1.0, 1e-6, 0.01, 0.3, 0.7, 0.99)


def probabilities():
    """Connection probabilities: the edge cases and uniform draws in [1e-3, 1].

    Returns
    -------
    hypothesis.strategies.SearchStrategy of float
    """
    return st.sampled_from(EDGE_PROBABILITIES) | st.floats(1e-3, 1.0)


def seeds():
    """Seeds, including the extremes 0 and 2**64 - 1.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of int
    """
    return st.sampled_from([0, 2**64 - 1]) | st.integers(0, 2**64 - 1)


#: Seeds at the ends of the key range.
EDGE_SEEDS = (0, 2**64 - 1)

#: Both storage orientations.
ORIENTATIONS = ("R", "C")

#: Matrix dtypes every backend supports.
DTYPES = (np.dtype(np.float32), np.dtype(np.float64))

_FINITE = st.floats(-10.0, 10.0, allow_nan=False, allow_infinity=False)

#: Weight laws by kind: a typical instance (the grid of parametrised tests)
#: and a strategy of moderate finite instances.  One entry per law;
#: :data:`LAWS`, :func:`laws` and :func:`specs` draw from this table.
LAW_KINDS = {
    "scalar": (Scalar(0.5), _FINITE.map(Scalar)),
    "normal": (Normal(0.2, 1.5), st.builds(Normal, _FINITE, st.floats(0.0, 5.0))),
    "uniform": (Uniform(-1.0, 2.0), st.tuples(_FINITE, _FINITE).map(lambda ab: Uniform(min(ab), max(ab)))),
    "lognormal": (LogNormal(-0.5, 0.8), st.builds(LogNormal, st.floats(-3.0, 3.0), st.floats(0.0, 2.0))),
    "exponential": (Exponential(1.5), st.floats(1e-3, 10.0).map(Exponential)),
}

#: Backends (:attr:`BackendCase.name`) that implement a law kind, for the
#: kinds that some backend does not implement yet; every other kind runs on
#: every backend.  Empty: every backend implements every law (the GPU's
#: from the laws header, ``kernels/jitc_laws.cuh``).  A backend left out of
#: a kind's set must refuse its matrices with a TypeError naming the law,
#: which the conformance suite checks in place of that backend's rows.
LAW_BACKENDS = {}

#: One typical instance per law kind, in :data:`LAW_KINDS` order.
LAWS = tuple(typical for typical, _ in LAW_KINDS.values())

#: :data:`LAWS` plus edge parameters (negative, narrow, degenerate), sampled
#: by the strategies.
LAW_EXAMPLES = LAWS + (Scalar(-1.25), Normal(0.0, 1.0), Normal(1.0, 0.3), Uniform(0.25, 0.25),
                       LogNormal(0.0, 0.0), LogNormal(2.0, 1.5), Exponential(1e-3))


def law_id(law):
    """A test id for a law instance, e.g. ``"Normal(loc=0.2,scale=1.5)"``.

    Parameters
    ----------
    law : a registered law's instance
        The law instance.

    Returns
    -------
    str
    """
    return repr(law).replace(" ", "")


def law_kind(law):
    """The :data:`LAW_KINDS` key of a law instance, e.g. ``"lognormal"``.

    Parameters
    ----------
    law : a registered law's instance
        The law, e.g. ``LogNormal(0.0, 1.0)``.

    Returns
    -------
    str
    """
    return type(law).__name__.lower()


def laws(kinds=tuple(LAW_KINDS)):
    """Weight laws with moderate finite parameters.

    Parameters
    ----------
    kinds : tuple of str
        Which laws to draw: keys of :data:`LAW_KINDS`.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of registered laws' instances
    """
    unknown = set(kinds) - set(LAW_KINDS)
    if unknown:
        raise ValueError(f"unknown law kinds {sorted(unknown)}; choose from {sorted(LAW_KINDS)}")
    return st.one_of([LAW_KINDS[kind][1] for kind in kinds])


#: Backends (:attr:`BackendCase.name`) that implement a connection rule
#: other than Bernoulli, which every backend implements.  A backend left
#: out of a rule's set must refuse it with a NotImplementedError naming the
#: host route, which the conformance suite checks in place of its rows.
RULE_BACKENDS = {
    "FixedNumber": frozenset({"reference", "cpu", "gpu"}),
}


def num_conns(minor_size, include_self):
    """Entries per line of the fixed-number rule: the edges 0 and all, and any count between.

    Parameters
    ----------
    minor_size : int
        Length of a line.
    include_self : bool
        False: the line draws among its ``minor_size - 1`` off-diagonal entries.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of int
    """
    limit = line_length(minor_size, include_self)
    return st.sampled_from(sorted({0, limit, max(limit - 1, 0)})) | st.integers(0, limit)


@st.composite
def specs(draw, max_side=40, orientations=ORIENTATIONS, law_kinds=tuple(LAW_KINDS),
          dtypes=DTYPES, probs=None, rules=("Bernoulli",)):
    """Whole-matrix :class:`~lazyconn.spec.Spec` objects.

    Parameters
    ----------
    max_side : int
        Largest number of rows or columns (0 is drawn too).
    orientations : tuple of {"R", "C"}
    law_kinds : tuple of str
        Keys of :data:`LAW_KINDS`.
    dtypes : tuple of dtype
    probs : strategy, optional
        Defaults to :func:`probabilities`.
    rules : tuple of str, optional
        Connection rules drawn: ``"Bernoulli"`` (``prob``) and
        ``"FixedNumber"`` (``num_conn`` from :func:`num_conns`).
    """
    m = draw(st.integers(0, max_side))
    n = draw(st.integers(0, max_side))
    include_self = True if m != n else draw(st.booleans())
    orientation = draw(st.sampled_from(orientations))
    rule = rules[0] if len(rules) == 1 else draw(st.sampled_from(rules))
    if rule == "FixedNumber":
        prob, num_conn = None, draw(num_conns(n if orientation == "R" else m, include_self))
    else:
        prob, num_conn = draw(probabilities() if probs is None else probs), None
    return Spec(
        shape=(m, n),
        orientation=orientation,
        prob=prob,
        law=draw(laws(law_kinds)),
        seed=draw(seeds()),
        dtype=np.dtype(draw(st.sampled_from(dtypes))),
        include_self=include_self,
        num_conn=num_conn,
    )


def matrices(**kwargs):
    """Public JITC matrix objects.

    Parameters
    ----------
    **kwargs
        Passed to :func:`specs`.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of JITCMatrix
    """
    return specs(**kwargs).map(from_spec)


@st.composite
def _bounds(draw, length):
    start = draw(st.integers(0, length))
    stop = draw(st.integers(start, length))
    return slice(start, stop)


def windows(shape):
    """``(row_slice, col_slice)`` pairs of step 1 inside ``shape``.

    Parameters
    ----------
    shape : tuple of int
        The matrix shape.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of tuple of slice
    """
    return st.tuples(_bounds(shape[0]), _bounds(shape[1]))


def windowed_matrices(**kwargs):
    """``(full, view)``: a matrix and a lazy window of it (maybe transposed or scaled).

    Parameters
    ----------
    **kwargs
        Passed to :func:`specs`.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of tuple
    """

    @st.composite
    def build(draw):
        full = draw(matrices(**kwargs))
        rows, cols = draw(windows(full.shape))
        view = full[rows, cols]
        if draw(st.booleans()):
            view = view.T
        if draw(st.booleans()):
            view = view * draw(st.sampled_from([-1.0, 0.5, 3.0]))
        return full, view

    return build()


@st.composite
def operands(draw, shape, side, batch=None, dtype=np.float64, zero_fraction=0.5):
    """NumPy operands for ``conn @ x`` (side "right") or ``x @ conn`` ("left").

    Parameters
    ----------
    shape : tuple of int
        The matrix shape.
    side : {"left", "right"}
    batch : int or None
        None draws a 1-D vector; an int draws a 2-D operand with that many
        vectors.
    dtype : dtype
    zero_fraction : float
        Expected fraction of zeros, so event skipping is exercised.
    """
    inner = shape[1] if side == "right" else shape[0]
    seed = draw(st.integers(0, 2**32 - 1))
    rng = np.random.default_rng(seed)
    dims = (inner,) if batch is None else ((inner, batch) if side == "right" else (batch, inner))
    x = rng.normal(size=dims)
    x[rng.random(dims) < zero_fraction] = 0.0
    if np.dtype(dtype).kind in "iub":
        x = np.round(x * 3)
        if np.dtype(dtype).kind in "ub":
            x = np.abs(x)
    return x.astype(dtype)


def assert_matmul_matches_dense(conn, side, x=None, rtol=None, atol=None):
    """Assert that a lazy product equals the product with ``conn.todense()``.

    Parameters
    ----------
    conn : JITCMatrix
        The lazy matrix (any window, orientation or scale).
    side : {"left", "right"}
        ``conn @ x`` ("right") or ``x @ conn`` ("left").
    x : ndarray, optional
        Operand; a random vector with zeros is made if omitted.
    rtol, atol : float, optional
        Tolerances; default to the float32/float64 resolution of the result.
    """
    if x is None:
        rng = np.random.default_rng(0)
        inner = conn.shape[1] if side == "right" else conn.shape[0]
        x = rng.normal(size=inner) * (rng.random(inner) < 0.5)
    dense = conn.todense().astype(np.float64)
    lazy = conn @ x if side == "right" else x @ conn
    expected = dense @ x.astype(np.float64) if side == "right" else x.astype(np.float64) @ dense
    result_dtype = np.result_type(x.dtype if x.dtype != np.bool_ else conn.dtype, conn.dtype)
    assert lazy.dtype == result_dtype, (lazy.dtype, result_dtype)
    assert lazy.shape == expected.shape, (lazy.shape, expected.shape)
    # A scaled float32 matrix is rounded to float32 after scaling when
    # materialised, but scaled in the result dtype in a product.
    tiny = max(np.finfo(result_dtype).eps, np.finfo(conn.dtype).eps)
    scale = np.abs(dense).sum() * np.abs(x).max(initial=0.0) + 1.0
    np.testing.assert_allclose(
        lazy.astype(np.float64),
        expected,
        rtol=100 * tiny if rtol is None else rtol,
        atol=100 * tiny * scale if atol is None else atol,
    )


# ----------------------------------------------------------------- backends
@dataclass(frozen=True)
class BackendCase:
    """A kernel backend as the conformance suite sees it.

    Parameters
    ----------
    name : str
        Test id, e.g. ``"cpu"``.
    module : str
        Import path of the module with the kernel interface documented in
        :mod:`lazyconn.kernels.reference` (``dense``, ``coo``, ``scatter``,
        ``gather``, ``degrees``; ``scatter_rows`` optional).
    array_module : str
        Namespace of its array arguments and results: ``"numpy"`` or
        ``"cupy"``.
    host_choice : str
        ``LAZYCONN_BACKEND`` value that routes NumPy operands of the public
        API to it; for a device backend, the host oracle (``"reference"``).
    """

    name: str
    module: str
    array_module: str = "numpy"
    host_choice: str = "reference"

    def supports(self, law):
        """Whether this backend implements ``law`` (see :data:`LAW_BACKENDS`).

        Parameters
        ----------
        law : a registered law's instance
            The law of the matrix to test.

        Returns
        -------
        bool
        """
        return self.name in LAW_BACKENDS.get(law_kind(law), (self.name,))

    def supports_rule(self, name):
        """Whether this backend implements the connection rule ``name`` (see :data:`RULE_BACKENDS`).

        Parameters
        ----------
        name : str
            A rule's name, e.g. ``"FixedNumber"``.

        Returns
        -------
        bool
        """
        return self.name in RULE_BACKENDS.get(name, (self.name,))

    @property
    def on_device(self):
        """True when the backend takes and returns device (non-NumPy) arrays."""
        return self.array_module != "numpy"

    def load(self):
        """Import the backend and its array namespace.

        Returns
        -------
        (module, module)
            The kernel module and the array namespace (``numpy`` or ``cupy``).

        Raises
        ------
        ImportError
            When the backend or its array library is not installed.
        """
        return importlib.import_module(self.module), importlib.import_module(self.array_module)


#: Every kernel backend: the NumPy oracle, Numba on the CPU, CuPy on the GPU.
BACKENDS = (
    BackendCase("reference", "lazyconn.kernels.reference", "numpy", "reference"),
    BackendCase("cpu", "lazyconn.kernels.cpu", "numpy", "cpu"),
    BackendCase("gpu", "lazyconn.kernels.gpu", "cupy", "reference"),
)


# -------------------------------------------------------- line-space cases
@st.composite
def line_windows(draw, spec):
    """Windows ``(k0, k1, j0, j1)`` in the line space of ``spec``, empty ones included.

    Parameters
    ----------
    spec : Spec
        The matrix; windows are in its line space (major x minor).

    Returns
    -------
    hypothesis.strategies.SearchStrategy of tuple of int
    """
    major, minor = spec.major_size, spec.minor_size
    k0 = draw(st.integers(0, major))
    k1 = draw(st.integers(k0, major))
    j0 = draw(st.integers(0, minor))
    j1 = draw(st.integers(j0, minor))
    return k0, k1, j0, j1


def _draw_line_window(draw, major, minor, square, max_lines, max_width):
    """``(k0, k1, j0, j1)``: at most ``max_lines`` lines and ``max_width`` entries anywhere in a
    ``(major, minor)`` line space, half the time on the diagonal of a square one."""
    n_lines = draw(st.integers(0, min(max_lines, major)))
    k0 = draw(st.integers(0, major - n_lines))
    width = draw(st.integers(0, min(max_width, minor)))
    if square and draw(st.booleans()):
        j0 = min(k0, minor - width)  # on the diagonal
    else:
        j0 = draw(st.integers(0, minor - width))
    return k0, k0 + n_lines, j0, j0 + width


@st.composite
def line_window_cases(draw, max_lines=24, max_width=700, max_minor=2**23, max_major=2**20,
                      law_examples=LAW_EXAMPLES):
    """A spec on a long minor axis and a small line-space window inside it.

    The minor axis is up to ``max_minor`` long and the window lands anywhere
    on it, so windows start mid-block, straddle block boundaries, sit in
    blocks far from the first for small ``prob``, and (square specs) lie on
    the diagonal where ``include_self=False`` bites.

    Parameters
    ----------
    max_lines, max_width : int
        Largest window: lines and minor extent (0 is drawn too).
    max_minor, max_major : int
        Largest matrix sides.
    law_examples : sequence of laws
        Laws sampled for the spec.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of (Spec, (k0, k1, j0, j1))
    """
    prob = draw(st.sampled_from(EDGE_PROBABILITIES + (3e-4, 0.05)) | st.floats(1e-5, 1.0))
    square = draw(st.booleans())
    minor = draw(st.integers(1, max_minor))
    major = minor if square else draw(st.integers(1, max_major))
    spec = Spec(
        shape=(major, minor),
        orientation="R",
        prob=prob,
        law=draw(st.sampled_from(law_examples)),
        seed=draw(seeds()),
        dtype=draw(st.sampled_from(DTYPES)),
        include_self=not (square and draw(st.booleans())),
    )
    return spec, _draw_line_window(draw, major, minor, square, max_lines, max_width)


@st.composite
def fixed_number_window_cases(draw, max_lines=16, max_width=700, max_minor=2**22, max_major=2**20,
                              max_num_conn=3000, law_examples=LAW_EXAMPLES):
    """A fixed-number spec on a long minor axis and a small line-space window inside it.

    The window lands anywhere on the line, so its walk starts from the
    line's start and stops at the window's end (docs/spec.md, fixed-number
    rule, "Windows"); square specs put it on the diagonal too.

    Parameters
    ----------
    max_lines, max_width : int
        Largest window: lines and minor extent (0 is drawn too).
    max_minor, max_major : int
        Largest matrix sides.
    max_num_conn : int
        Largest number of entries per line (the walk is O(K) per line).
    law_examples : sequence of laws
        Laws sampled for the spec.

    Returns
    -------
    hypothesis.strategies.SearchStrategy of (Spec, (k0, k1, j0, j1))
    """
    square = draw(st.booleans())
    minor = draw(st.integers(1, max_minor))
    major = minor if square else draw(st.integers(1, max_major))
    include_self = not (square and draw(st.booleans()))
    limit = line_length(minor, include_self)
    num_conn = draw(st.sampled_from([0, min(limit, 1), min(limit, max_num_conn)])
                    | st.integers(0, min(limit, max_num_conn)))
    spec = Spec(
        shape=(major, minor),
        orientation="R",
        prob=None,
        law=draw(st.sampled_from(law_examples)),
        seed=draw(seeds()),
        dtype=draw(st.sampled_from(DTYPES)),
        include_self=include_self,
        num_conn=num_conn,
    )
    return spec, _draw_line_window(draw, major, minor, square, max_lines, max_width)


# --------------------------------------------------------------- assertions
def to_numpy(array):
    """A NumPy copy of a NumPy or CuPy array (anything with ``.get()``).

    Parameters
    ----------
    array : array_like
        NumPy or CuPy array, or anything ``numpy.asarray`` takes.

    Returns
    -------
    numpy.ndarray
    """
    return array.get() if hasattr(array, "get") and not isinstance(array, np.ndarray) else np.asarray(array)


def assert_same_bits(ours, expected):
    """Assert equal dtype, shape and bytes (NaN, signed zero and all).

    Parameters
    ----------
    ours : array_like
        NumPy or CuPy array.
    expected : numpy.ndarray
        The oracle's array.
    """
    ours = to_numpy(ours)
    assert ours.dtype == expected.dtype, (ours.dtype, expected.dtype)
    assert ours.shape == expected.shape, (ours.shape, expected.shape)
    assert np.ascontiguousarray(ours).tobytes() == np.ascontiguousarray(expected).tobytes()


def assert_coo_equal(ours, expected):
    """Assert two ``(k, j, w)`` connection lists are bit-equal.

    Parameters
    ----------
    ours : tuple of three arrays
        The backend's ``(k, j, w)`` (NumPy or CuPy).
    expected : tuple of three numpy.ndarray
        The reference's ``(k, j, w)``.
    """
    assert len(ours) == len(expected) == 3
    for a, b in zip(ours, expected):
        assert_same_bits(a, b)


def assert_sums_close(ours, expected, abs_sums, counts, dtype):
    """Assert sums agree within the rounding of summing in ``dtype``.

    The bound of entry ``i`` is ``(counts[i] + 2) * eps(dtype) * abs_sums[i]``:
    any order of ``counts[i]`` additions of terms whose magnitudes add up to
    ``abs_sums[i]``, plus the rounding of the result.

    Parameters
    ----------
    ours : array_like
        The backend's sums (NumPy or CuPy).
    expected : numpy.ndarray
        The reference's sums (float64).
    abs_sums : numpy.ndarray
        Sum of the absolute values of each entry's terms.
    counts : numpy.ndarray
        Number of terms of each entry.
    dtype : dtype
        Accumulation dtype.
    """
    ours = to_numpy(ours).astype(np.float64)
    assert ours.shape == expected.shape, (ours.shape, expected.shape)
    bound = (np.asarray(counts) + 2) * np.finfo(dtype).eps * np.asarray(abs_sums) + np.finfo(dtype).tiny
    error = np.abs(ours - expected)
    bad = ~(error <= bound) & ~(np.isnan(ours) & np.isnan(expected)) & ~(ours == expected)
    assert not bad.any(), f"{bad.sum()} sums off: ours {ours[bad][:5]}, expected {expected[bad][:5]}, bound {bound[bad][:5]}"


def _backend_and_xp(backend):
    if isinstance(backend, BackendCase):
        return backend.load()
    return backend, np


def assert_window_matches_reference(backend, params, window, dtype, scales=(1.0,)):
    """Assert a backend's ``dense``, ``coo`` and ``degrees`` are bit-equal to the reference.

    Parameters
    ----------
    backend : module or BackendCase
        A kernel module or a case.
    params : lazyconn.spec.KernelParams
        The generator (``spec.kernel_params()``).
    window : tuple of int
        ``(k0, k1, j0, j1)`` in line space.
    dtype : dtype
        Matrix dtype.
    scales : sequence of float
        Scales passed to ``degrees`` (counts of the scaled window).

    Returns
    -------
    numpy.ndarray
        The reference's dense window (for further checks).
    """
    from .kernels import reference

    module, _ = _backend_and_xp(backend)
    dtype = np.dtype(dtype)
    expected = reference.dense(params, *window, dtype)
    assert_same_bits(module.dense(params, *window, dtype), expected)
    expected_coo = reference.coo(params, *window, dtype)
    assert_coo_equal(module.coo(params, *window, dtype), expected_coo)
    for scale in scales:
        ours = module.degrees(params, *window, dtype, scale=scale)
        for a, b in zip(ours, reference.degrees(params, *window, dtype, scale=scale)):
            assert_same_bits(a, b)
    return expected


def assert_products_match_reference(backend, params, window, dtype, n_cols=1, value_dtype=np.float64,
                                    seed=0, active=0.5, xp=None):
    """Assert a backend's ``gather``, ``scatter`` (and ``scatter_rows``) agree with the reference.

    Checks ``gather`` of random vectors, ``scatter`` of random values on a
    random subset of the window's lines, binary ``scatter`` (``values=None``)
    and, where the backend has it, ``scatter_rows`` with values and with
    binary rows: result shape, dtype (the reference's is float64; other
    backends accumulate in ``value_dtype``, or the matrix dtype for binary
    events) and values within the rounding of :func:`assert_sums_close`.

    Parameters
    ----------
    backend : module or BackendCase
        A kernel module or a case.
    params : lazyconn.spec.KernelParams
        The generator (``spec.kernel_params()``).
    window : tuple of int
        ``(k0, k1, j0, j1)`` in line space.
    dtype : dtype
        Matrix dtype.
    n_cols : int
        Columns of the operands.
    value_dtype : dtype
        Operand dtype; promoted to ``dtype`` if narrower.
    seed : int
        Seed of the operands.
    active : float
        Fraction of the window's lines that scatter.
    xp : module, optional
        Array namespace of ``backend`` (default: the case's, or NumPy).
    """
    from .kernels import reference

    module, namespace = _backend_and_xp(backend)
    xp = namespace if xp is None else xp
    is_reference = module is reference
    dtype = np.dtype(dtype)
    acc = np.result_type(np.dtype(value_dtype), dtype)
    k0, k1, j0, j1 = window
    rng = np.random.default_rng(seed)
    k, j, w = reference.coo(params, *window, dtype)
    aw = np.abs(w.astype(np.float64))

    def check(ours, expected, abs_sums, counts, result_dtype):
        if not is_reference:
            assert ours.dtype == result_dtype, (ours.dtype, result_dtype)
        assert_sums_close(ours, expected, abs_sums, counts, result_dtype)

    vectors = rng.normal(size=(j1 - j0, n_cols)).astype(acc)
    expected = reference.gather(params, *window, vectors, dtype)
    abs_sums = np.stack([np.bincount(k - k0, aw * np.abs(vectors[j - j0, c]), k1 - k0) for c in range(n_cols)], 1)
    counts = np.bincount(k - k0, minlength=k1 - k0)[:, None]
    check(module.gather(params, *window, xp.asarray(vectors), dtype), expected, abs_sums, counts, acc)

    lines = np.flatnonzero(rng.random(k1 - k0) < active).astype(np.int64) + k0
    values = rng.normal(size=(lines.size, n_cols)).astype(acc)
    row = np.minimum(np.searchsorted(lines, k), max(lines.size - 1, 0))
    hit = lines[row] == k if lines.size else np.zeros(k.size, dtype=bool)
    counts = np.bincount(j[hit] - j0, minlength=j1 - j0)[:, None]
    # Each reference sum is computed once: scatter_rows is checked against the same.
    expected_values = reference.scatter(params, lines, values, j0, j1, dtype)
    abs_sums = np.stack([np.bincount(j[hit] - j0, aw[hit] * np.abs(values[row[hit], c]), j1 - j0)
                         for c in range(n_cols)], 1)
    check(module.scatter(params, xp.asarray(lines), xp.asarray(values), j0, j1, dtype),
          expected_values, abs_sums, counts, acc)
    expected_binary = reference.scatter(params, lines, None, j0, j1, dtype)
    binary_sums = np.bincount(j[hit] - j0, aw[hit], j1 - j0)[:, None]
    check(module.scatter(params, xp.asarray(lines), None, j0, j1, dtype), expected_binary, binary_sums, counts, dtype)

    if hasattr(module, "scatter_rows"):
        rows = np.zeros((k1 - k0, n_cols), dtype=acc)
        rows[lines - k0] = values
        ours = module.scatter_rows(params, k0, xp.asarray(rows), False, j0, j1, dtype, acc)
        check(ours, expected_values, abs_sums, counts, acc)
        spikes = np.zeros((k1 - k0, 1), dtype=bool)
        spikes[lines - k0] = True
        ours = module.scatter_rows(params, k0, xp.asarray(spikes), True, j0, j1, dtype, dtype)
        check(ours, expected_binary, binary_sums, counts, dtype)
