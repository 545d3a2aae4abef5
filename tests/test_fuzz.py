"""Hypothesis fuzz of the public API: every call is right or refused clearly.

The oracle
----------
Each fuzzed call has exactly two acceptable outcomes.

1. **A right answer**: the result equals the same computation on the dense
   matrix ``M.todense()`` of the same window:

   * windows, ``.T``, ``.T.T``, integer indexing: bit-identical to NumPy
     indexing / transposing of the dense matrix;
   * scaling (``M * s``, ``s * M``, ``M / s``, ``-M``): the float64 product
     ``todense() * s`` rounded to the matrix dtype, within a few ulps; no
     NaN anywhere (a NaN at an unconnected entry is wrong), no inf where the
     float64 reference is finite;
   * products (``@``, ``np.matmul``, ``np.dot``, BinaryArray): the float64
     dense product within float rounding of the result dtype, the result
     dtype being NumPy's promotion of the operand dtype with the matrix dtype
     (the matrix dtype for bool and BinaryArray operands);
   * reductions: ``sum`` within float rounding of the float64 dense sum;
     ``count_nonzero`` exactly ``np.count_nonzero(todense())`` (same axis,
     same shape);
   * pickling: ``pickle.loads(pickle.dumps(M))`` has the same class, repr and
     bit-identical ``todense()``.

2. **A clear error**: the call raises ``TypeError``, ``ValueError`` or
   ``IndexError`` (subclasses such as ``numpy.exceptions.AxisError``
   included) whose message names the offending argument or value -- each
   check lists the words that count as naming it (an argument name such as
   ``"weight"``, the dtype, ``"shape"``, the operand type) -- and is not one
   of the messages in ``_INTERNAL`` (NumPy or Python internals that name
   neither).  Every other exception is a failure: ``ZeroDivisionError``,
   ``OverflowError``, ``AttributeError``, ``pickle.UnpicklingError``,
   ``RuntimeWarning`` turned into an error by the test configuration, and so
   on.

Where an input is valid (a real or complex operand of a supported dtype and layout, a
finite moderate scale, a step-1 window, valid constructor arguments) a
refusal is a failure too: only outcome 1 is allowed.  Where it is invalid
(an object/str/longdouble operand, a masked array, a wrong shape,
NaN sizes, a non-finite or overflowing scale, an elementwise comparison ...)
only outcome 2 is allowed.  Inputs in between (``M * True``, a window with
a step, 0/1 longdouble events in a BinaryArray, ``np.dot(M, 2.0)``, a scale
that could overflow the law's largest weight although this window's entries
do not) may do either.

Every test uses ``derandomize=True`` and no example database, so CI runs the
same examples every time; strategies are small sampled lists, so a failure
shrinks to a short counterexample.
"""

from __future__ import annotations

import copy
import decimal
import fractions
import math
import numbers
import operator
import pickle

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

import lazyconn
from lazyconn.testing import matrices, windowed_matrices

class _Huge(int):
    """An int too large for a float, printed short so counterexamples stay readable."""

    def __repr__(self):
        return "10**400" if self > 0 else "-10**400"

    def _repr_pretty_(self, printer, cycle):
        printer.text(repr(self))


HUGE = _Huge(10**400)
MINUS_HUGE = _Huge(-(10**400))

# About 4 ms per example: some 12 s for the module on a 2-core machine once green.
FUZZ = settings(max_examples=200, deadline=None, derandomize=True, database=None)
#: The two tests with the most combinations (operand dtype x layout x entry, scale x op).
WIDE = settings(FUZZ, max_examples=600)

_ALLOWED = (TypeError, ValueError, IndexError)
#: Messages that come from NumPy or Python internals rather than lazyconn.
_INTERNAL = (
    "all returned notimplemented",
    "according to the rule",
    "cannot be used as an index",
    "int too large to convert",
    "bad operand type",
)

CLASSES = [
    lazyconn.JITCScalarR, lazyconn.JITCScalarC, lazyconn.JITCNormalR,
    lazyconn.JITCNormalC, lazyconn.JITCUniformR, lazyconn.JITCUniformC,
]


def _run(call):
    """``("ok", result)`` or ``("error", exception)``."""
    try:
        return "ok", call()
    except Exception as exc:  # noqa: BLE001 - the oracle judges the type
        return "error", exc


def assert_clear_error(exc, names):
    """``exc`` is an allowed type, names one of ``names``, and is not internal."""
    assert isinstance(exc, _ALLOWED), f"{type(exc).__name__} is not an allowed error: {exc}"
    message = str(exc).lower()
    assert not any(text in message for text in _INTERNAL), f"internal message: {exc}"
    assert any(str(name).lower() in message for name in names), (
        f"message does not name any of {names}: {type(exc).__name__}: {exc}"
    )


def _ok(outcome):
    kind, value = outcome
    if kind == "error":
        raise AssertionError(f"valid call refused: {type(value).__name__}: {value}") from value
    return value


def _dense_close(actual, expected, dtype, scale=1.0):
    """``actual`` equals the float64 ``expected`` within rounding of ``dtype``.

    ``scale`` is the sum of the magnitudes that were added (sums and
    products), or the largest magnitude (entries); the subnormal term allows
    a scale factor rounded to a subnormal of ``dtype``.
    """
    finfo = np.finfo(dtype)
    np.testing.assert_allclose(
        np.asarray(actual, dtype=np.complex128 if np.iscomplexobj(actual) else np.float64), expected,
        rtol=8 * finfo.eps,
        # Clamped: a sum of magnitudes near the float64 limit overflows.
        atol=min(32 * float(finfo.eps) * scale + 64 * float(finfo.smallest_subnormal), float(np.finfo(np.float64).max) / 4),
    )


# ------------------------------------------------------------- constructors
_LAW_ARGS = {"Scalar": ("weight",), "Normal": ("loc", "scale"), "Uniform": ("low", "high")}

VALID_SIZES = [0, 1, 5, 7, np.int32(6), np.uint8(3), 2**31 - 1]
HOSTILE_SIZES = [-1, 2**31, 2**63, HUGE, 3.0, True, float("nan"), float("inf"), None, "5",
                 np.float64(4.0), 1 + 0j]
VALID_PROBS = [0, 0.0, 1, 1.0, 0.25, np.float32(0.5), 1e-300, fractions.Fraction(1, 3)]
HOSTILE_PROBS = [-0.1, 1.0000001, float("nan"), float("inf"), -math.inf, True, None, "0.5",
                 HUGE, 0.5j, np.float64(-0.0) - 1]
VALID_REALS = [0.0, -1.5, 2, np.float32(3.0), np.int64(-4), fractions.Fraction(1, 2), 1e-30]
HOSTILE_REALS = [float("nan"), float("inf"), -math.inf, HUGE, MINUS_HUGE, True, None, "1",
                 1j, np.float32("nan"), decimal.Decimal("1.5")]
VALID_SEEDS = [None, 0, 1, 2**64 - 1, np.uint64(2**64 - 1), np.int64(5)]
HOSTILE_SEEDS = [-1, 2**64, 2**100, 1.0, True, "1", float("nan"), np.float64(3.0)]
VALID_DTYPES = [np.float32, np.float64, "float32", "f8", np.dtype(np.float64), None]
HOSTILE_DTYPES = [np.float16, np.int32, np.longdouble, np.complex64, object, "bogus", bool]


def _is_valid_size(v):
    return isinstance(v, numbers.Integral) and not isinstance(v, (bool, np.bool_)) and 0 <= v < 2**31


def _is_valid_real(v):
    if not isinstance(v, numbers.Real) or isinstance(v, (bool, np.bool_)) or not _fits_float(v):
        return False
    return math.isfinite(float(v))


def _fits_float(v):
    try:
        float(v)
    except (OverflowError, TypeError, ValueError):
        return False
    return True


def _arg(valid, hostile):
    return st.sampled_from(valid) | st.sampled_from(hostile)


@FUZZ
@given(
    st.sampled_from(CLASSES),
    _arg(VALID_SIZES, HOSTILE_SIZES), _arg(VALID_SIZES, HOSTILE_SIZES),
    _arg(VALID_PROBS, HOSTILE_PROBS),
    _arg(VALID_REALS, HOSTILE_REALS), _arg(VALID_REALS + [1.0, 5.0], HOSTILE_REALS + [-1.0]),
    _arg(VALID_SEEDS, HOSTILE_SEEDS), _arg(VALID_DTYPES, HOSTILE_DTYPES),
    st.sampled_from([True, False, np.bool_(True), 1, "yes", None]),
)
def test_constructor_hostile_arguments(cls, num_pre, num_post, prob, a, b, seed, dtype, include_self):
    law = cls.__name__[4:-1]
    law_names = _LAW_ARGS[law]
    law_values = (a,) if law == "Scalar" else (a, b)
    kwargs = dict(num_pre=num_pre, num_post=num_post, prob=prob, seed=seed, dtype=dtype,
                  include_self=include_self, **dict(zip(law_names, law_values)))
    invalid = [name for name, ok in (
        ("num_pre", _is_valid_size(num_pre)),
        ("num_post", _is_valid_size(num_post)),
        ("prob", isinstance(prob, numbers.Real) and not isinstance(prob, (bool, np.bool_))
         and _fits_float(prob) and 0.0 <= float(prob) <= 1.0),
        ("seed", seed is None or (isinstance(seed, numbers.Integral) and not isinstance(seed, (bool, np.bool_))
                                  and 0 <= seed < 2**64)),
        ("dtype", any(dtype is valid for valid in VALID_DTYPES)),
        ("include_self", isinstance(include_self, (bool, np.bool_))),
    ) if not ok]
    bad_law = [name for name, value in zip(law_names, law_values) if not _is_valid_real(value)]
    if not bad_law and law == "Normal" and float(b) < 0:
        bad_law.append("scale")
    if not bad_law and law == "Uniform" and float(a) > float(b):
        bad_law += ["low", "high"]
    invalid += bad_law
    if "include_self" not in invalid and not include_self and num_pre != num_post:
        invalid.append("include_self")
    kind, value = _run(lambda: cls(**kwargs))
    if invalid:
        assert kind == "error", f"accepted invalid {invalid}: {value!r}"
        assert_clear_error(value, invalid)
        return
    conn = _ok((kind, value))
    assert conn.shape == (int(num_pre), int(num_post))
    assert conn.dtype == np.dtype(np.float32 if dtype is None else dtype)
    if seed is not None:
        assert conn.seed == int(seed)
    window = conn[:6, :6]
    dense = window.todense()
    assert np.isfinite(dense).all()
    assert window.count_nonzero() == np.count_nonzero(dense)


@FUZZ
@given(
    st.sampled_from(CLASSES),
    st.sampled_from([1e300, -1e308, 3.5e38, 1e38, 1.7e308]),
    st.sampled_from([np.float32, np.float64]),
)
def test_huge_finite_law_parameters_give_finite_entries_or_refuse(cls, big, dtype):
    law = cls.__name__[4:-1]
    names = _LAW_ARGS[law]
    values = {"Scalar": (big,), "Normal": (big, 1.0), "Uniform": (big, big) if big > 0 else (big, 0.0)}[law]
    kind, value = _run(lambda: cls(8, 9, 0.5, *values, seed=3, dtype=dtype).todense())
    if kind == "error":
        assert_clear_error(value, names)
    else:
        assert np.isfinite(value).all(), f"finite law parameters gave {value[~np.isfinite(value)][:3]}"


# ------------------------------------------------------------------ windows
_SMALL_INT = st.integers(-12, 12)
_BOUND = st.none() | _SMALL_INT | st.sampled_from([2**63, -(2**63) - 1])
_COMPONENT = st.one_of(
    st.builds(slice, _BOUND, _BOUND, st.sampled_from([None, 1])),
    _SMALL_INT,
    st.sampled_from([Ellipsis, np.int64(2), np.uint8(1), 2**63]),
    st.builds(slice, _BOUND, _BOUND, st.sampled_from([2, -1, 0, 1.5])),
    st.sampled_from([None, True, 1.5, [0, 1], np.array([1]), "a"]),
)
_KEY = _COMPONENT | st.lists(_COMPONENT, min_size=1, max_size=3).map(tuple)


def _supported_key(key):
    """A key lazyconn must accept: at most two step-1 slices / integers and one Ellipsis."""
    key = key if isinstance(key, tuple) else (key,)
    if sum(k is Ellipsis for k in key) > 1 or len([k for k in key if k is not Ellipsis]) > 2:
        return False
    for k in key:
        if k is Ellipsis:
            continue
        if isinstance(k, slice):
            if k.step not in (None, 1):
                return False
        elif isinstance(k, (bool, np.bool_, list, np.ndarray, str, float)) or k is None:
            return False
    return True


@FUZZ
@given(matrices(max_side=9), _KEY)
def test_windows_match_dense_indexing(conn, key):
    dense = conn.todense()
    numpy_kind, expected = _run(lambda: dense[key])
    kind, value = _run(lambda: conn[key])
    if kind == "error":
        if _supported_key(key):
            assert numpy_kind == "error", f"valid window refused: {value!r}"
        assert_clear_error(value, ["index", "indices", "slice", "step", "ellipsis", "range"])
        return
    assert numpy_kind == "ok", f"lazyconn accepted {key!r}, NumPy refuses: {expected}"
    got = value.todense() if isinstance(value, lazyconn.JITCMatrix) else np.asarray(value)
    assert got.shape == np.shape(expected)
    np.testing.assert_array_equal(got, expected)
    if isinstance(value, lazyconn.JITCMatrix):
        assert value.count_nonzero() == np.count_nonzero(expected)


_STEP = st.one_of(
    st.just(("T",)),
    st.just(("neg",)),
    st.tuples(st.just("scale"), st.sampled_from([0.5, -2.0, 3.0, 0.0, 1.0])),
    st.tuples(st.just("slice"), st.integers(-10, 10), st.integers(-10, 10), st.integers(-10, 10), st.integers(-10, 10)),
)


@FUZZ
@given(matrices(max_side=10), st.lists(_STEP, max_size=5))
def test_view_chains_match_dense(conn, steps):
    view, dense = conn, conn.todense().astype(np.float64)
    for step in steps:
        if step[0] == "T":
            view, dense = view.T, dense.T
        elif step[0] == "neg":
            view, dense = -view, -dense
        elif step[0] == "scale":
            view, dense = view * step[1], dense * step[1]
        else:
            _, a, b, c, d = step
            view, dense = view[a:b, c:d], dense[a:b, c:d]
    got = view.todense()
    assert got.shape == dense.shape and got.dtype == conn.dtype
    _dense_close(got, dense, conn.dtype)
    assert view.count_nonzero() == np.count_nonzero(got)
    np.testing.assert_array_equal(view.count_nonzero(axis=0), np.count_nonzero(got, axis=0))
    twice = view.T.T
    assert type(twice) is type(view) and repr(twice) == repr(view)
    np.testing.assert_array_equal(twice.todense(), got)
    np.testing.assert_array_equal(view.T.todense(), got.T)


# ------------------------------------------------------------------ scaling
_HOSTILE_SCALES = [
    2.0, -0.5, 0, 0.0, -0.0, 1, np.float32(2.5), np.int64(-3), np.array(2.0), fractions.Fraction(1, 3),
    1e-300, 1e-45, 1e-40, 1e30, 1e39, 1e300, 1e308, -1e308, float("inf"), -math.inf, float("nan"),
    HUGE, MINUS_HUGE, True, False, "2", None, 1j, 2 + 0j, np.array([2.0]), decimal.Decimal(2), [2.0],
]
_SCALE_OPS = {
    "M * s": lambda m, s: m * s,
    "s * M": lambda m, s: s * m,
    "M / s": lambda m, s: m / s,
    "-(M * s)": lambda m, s: -(m * s),
    "np.multiply(M, s)": lambda m, s: np.multiply(m, s),
    "np.multiply(s, M)": lambda m, s: np.multiply(s, m),
    "np.divide(M, s)": lambda m, s: np.divide(m, s),
    "(M * s) * s": lambda m, s: (m * s) * s,
}


def _real_factor(s, op):
    """The float64 factor ``op`` applies, or None where ``s`` is not a real scalar."""
    if isinstance(s, np.ndarray):
        if s.ndim != 0 or s.dtype.kind not in "biuf":
            return None
        s = s[()]
    if not isinstance(s, (numbers.Real, np.bool_)):
        return None
    if not _fits_float(s):
        return math.inf
    s = float(s)
    if op in ("M / s", "np.divide(M, s)"):
        return math.inf if s == 0 else 1.0 / s
    if op == "-(M * s)":
        return -s
    return s * s if op == "(M * s) * s" else s


@WIDE
@given(matrices(max_side=8), st.sampled_from(_HOSTILE_SCALES), st.sampled_from(sorted(_SCALE_OPS)))
def test_scaling_matches_dense_or_refuses(conn, s, op):
    kind, value = _run(lambda: _SCALE_OPS[op](conn, s))
    factor = _real_factor(s, op)
    if factor is None:
        assert kind == "error", f"{op} with {s!r} gave {value!r}"
        assert_clear_error(value, [type(s).__name__, "scalar", "real", "elementwise"])
        return
    with np.errstate(over="ignore"):
        reference = conn.todense().astype(np.float64) * factor if math.isfinite(factor) else None
    limit = np.finfo(conn.dtype).max
    if reference is None or np.abs(reference).max(initial=0.0) > limit:
        # Non-finite factor, or a view whose entries overflow the dtype.
        assert kind == "error", f"{op} with {s!r} should raise ValueError, gave {value!r}"
        assert isinstance(value, ValueError), f"{type(value).__name__}: {value}"
        assert_clear_error(value, [repr(s), str(s), "scal", "factor", "zero", "finite", "overflow"])
        return
    if kind == "error" and isinstance(s, (bool, np.bool_)):
        assert_clear_error(value, ["bool", "scal"])
        return
    if kind == "error":
        # A scale that could overflow the law's largest weight may be refused.
        assert isinstance(value, ValueError), f"{type(value).__name__}: {value}"
        assert_clear_error(value, [repr(s), str(s), "scal", "factor", "overflow"])
        return
    got = value.todense()
    assert got.dtype == conn.dtype and got.shape == conn.shape
    assert not np.isnan(got).any(), f"{op} with {s!r}: NaN at {np.argwhere(np.isnan(got))[:3].tolist()}"
    _dense_close(got, reference.astype(conn.dtype), conn.dtype, scale=np.abs(reference).max(initial=0.0))
    assert value.count_nonzero() == np.count_nonzero(got)
    np.testing.assert_array_equal(value.count_nonzero(axis=1), np.count_nonzero(got, axis=1))
    x = np.linspace(-1.0, 1.0, conn.shape[1])
    # Scaled by a power of two (exact) so that the dense reference's own
    # partial sums cannot overflow where the true sum does not.
    exponent = int(np.frexp(np.abs(got).astype(np.float64).max(initial=1.0))[1])
    with np.errstate(over="ignore"):
        expected = np.ldexp(np.ldexp(got.astype(np.float64), -exponent) @ x, exponent)
    # The product scales in float64, todense() rounds each scaled entry to
    # the matrix dtype first: equal within the matrix dtype's rounding.
    with np.errstate(over="ignore"):
        magnitude = np.abs(got).astype(np.float64).sum() + 1.0
    _dense_close(value @ x, expected, conn.dtype, scale=magnitude)


# ----------------------------------------------------------------- products
REAL_DTYPES = [np.float64, np.float32, np.float16, np.bool_, np.int8, np.int16, np.int32, np.int64,
               np.uint8, np.uint16, np.uint32, np.uint64]
#: Complex operands are products of their real and imaginary parts (not events).
COMPLEX_DTYPES = [np.complex64, np.complex128]
REFUSED_DTYPES = [np.longdouble, np.clongdouble, object, str]
VALID_LAYOUTS = ["1-D", "2-D", "F-order", "strided", "reversed", "zero-size", "list"]
INVALID_LAYOUTS = ["wrong-shape", "3-D", "0-D", "masked"]
_ENTRIES = {
    "M @ x": ("right", lambda m, x: m @ x),
    "x @ M": ("left", lambda m, x: x @ m),
    "np.matmul(M, x)": ("right", lambda m, x: np.matmul(m, x)),
    "np.matmul(x, M)": ("left", lambda m, x: np.matmul(x, m)),
    "np.dot(M, x)": ("right", lambda m, x: np.dot(m, x)),
    "np.dot(x, M)": ("left", lambda m, x: np.dot(x, m)),
    "M @ BinaryArray(x)": ("right", lambda m, x: m @ lazyconn.BinaryArray(x)),
    "BinaryArray(x) @ M": ("left", lambda m, x: lazyconn.BinaryArray(x) @ m),
}


def _operand(shape, side, dtype, layout, batch, binary):
    """A small operand with zeros; values in [-3, 3] (0/1 for BinaryArray)."""
    inner = shape[1] if side == "right" else shape[0]
    rng = np.random.default_rng(inner * 31 + batch)
    if layout == "wrong-shape":
        inner += 1
    dims = {"1-D": (inner,), "0-D": (), "3-D": (2, inner, 2) if side == "left" else (inner, 2, 2)}.get(layout)
    if dims is None:
        width = 0 if layout == "zero-size" else batch
        dims = (inner, width) if side == "right" else (width, inner)
    values = rng.integers(-3, 4, size=dims).astype(np.float64)
    kind = np.dtype(dtype).kind
    if kind == "c" and not binary:
        values = values + 1j * rng.integers(-3, 4, size=dims)
    if binary or kind == "b":
        values = values != 0
    elif kind == "u":
        values = np.abs(values)
    x = np.asarray(values).astype(dtype)
    if layout == "strided":
        # Every other entry of a twice longer buffer along the inner axis.
        axis = 0 if side == "right" else x.ndim - 1
        holder = np.zeros(tuple(2 * d if i == axis else d for i, d in enumerate(dims)), dtype=x.dtype)
        view = (slice(None),) * axis + (slice(None, None, 2),)
        holder[view] = x
        x = holder[view]
    elif layout == "F-order":
        x = np.asfortranarray(x)
    elif layout == "reversed":
        x = x[::-1]
    elif layout == "masked":
        x = np.ma.masked_array(x, mask=np.arange(x.size).reshape(x.shape) % 3 == 0)
    elif layout == "list":
        x = x.tolist()
    return x


@WIDE
@given(
    windowed_matrices(max_side=9),
    st.sampled_from(sorted(_ENTRIES)),
    st.sampled_from(REAL_DTYPES + COMPLEX_DTYPES + REFUSED_DTYPES),
    st.sampled_from(VALID_LAYOUTS + INVALID_LAYOUTS),
    st.integers(1, 3),
)
def test_products_match_dense_or_refuse(pair, entry, dtype, layout, batch):
    _, conn = pair
    side, call = _ENTRIES[entry]
    binary = "BinaryArray" in entry
    x = _operand(conn.shape, side, dtype, layout, batch, binary)
    kind, value = _run(lambda: call(conn, x))
    # A list forgets the dtype: NumPy infers it again (object floats become float64).
    operand_dtype = np.asarray(x).dtype if layout == "list" else np.dtype(dtype)
    valid_dtype = operand_dtype in [np.dtype(d) for d in REAL_DTYPES + ([] if binary else COMPLEX_DTYPES)]
    if entry.startswith("np.dot") and layout == "0-D" and kind == "ok" and valid_dtype:
        # NumPy's dot with a scalar is scaling: a scaled view is a right answer.
        _dense_close(value.todense(), conn.todense().astype(np.float64) * float(x), conn.dtype)
        return
    if binary and operand_dtype == np.longdouble and layout not in INVALID_LAYOUTS and kind == "ok":
        # Events carry no magnitude, so 0/1 longdouble events may be accepted.
        valid_dtype = True
    if not valid_dtype or layout in INVALID_LAYOUTS:
        assert kind == "error", f"{entry} with a {np.dtype(dtype)} {layout} operand gave {value!r}"
        names = []
        if not valid_dtype:
            names += [str(operand_dtype), operand_dtype.name, "dtype", "longdouble"]
        if layout == "masked":
            names += ["filled", "mask"]
        elif layout in INVALID_LAYOUTS:
            names += ["shape", "-d", "dimension"]
        assert_clear_error(value, names)
        return
    result = _ok((kind, value))
    operand = np.asarray(x)
    dense = conn.todense().astype(np.float64)
    x64 = operand.astype(np.complex128 if operand.dtype.kind == "c" else np.float64)
    expected = dense @ x64 if side == "right" else x64 @ dense
    operand_dtype = conn.dtype if binary or operand.dtype == np.bool_ else operand.dtype
    result_dtype = np.result_type(operand_dtype, conn.dtype)
    assert isinstance(result, np.ndarray) and result.dtype == result_dtype, (type(result), getattr(result, "dtype", None))
    assert result.shape == expected.shape
    eps_dtype = np.float32 if np.float32 in (result_dtype, conn.dtype) or result_dtype == np.complex64 else np.float64
    _dense_close(result, expected, eps_dtype, scale=np.abs(dense).sum() * max(1.0, np.abs(x64).max(initial=0.0)))


# --------------------------------------------------------------- reductions
_AXES = [None, 0, 1, -1, -2, (0, 1), (1, 0), 2, -3, 1.5, "0", (0, 0), np.int64(1)]
_REDUCTIONS = {
    "M.sum": lambda m, axis, keepdims: m.sum(axis=axis, keepdims=keepdims),
    "np.sum": lambda m, axis, keepdims: np.sum(m, axis=axis, keepdims=keepdims),
    "M.count_nonzero": lambda m, axis, keepdims: m.count_nonzero(axis=axis),
    "np.count_nonzero": lambda m, axis, keepdims: np.count_nonzero(m, axis=axis, keepdims=keepdims),
}


@FUZZ
@given(windowed_matrices(max_side=10), st.sampled_from(sorted(_REDUCTIONS)), st.sampled_from(_AXES), st.booleans())
def test_reductions_match_dense(pair, name, axis, keepdims):
    _, conn = pair
    dense = conn.todense()
    if name == "M.count_nonzero":
        keepdims = False
    counting = "count_nonzero" in name
    numpy_kind, expected = _run(
        lambda: np.count_nonzero(dense, axis=axis, keepdims=keepdims) if counting
        else dense.astype(np.float64).sum(axis=axis, keepdims=keepdims)
    )
    kind, value = _run(lambda: _REDUCTIONS[name](conn, axis, keepdims))
    if numpy_kind == "error" or isinstance(axis, (float, str)):
        assert kind == "error", f"{name}(axis={axis!r}) gave {value!r}, NumPy raises {expected!r}"
        assert_clear_error(value, ["axis"])
        return
    value = _ok((kind, value))
    assert np.shape(value) == np.shape(expected)
    if counting:
        np.testing.assert_array_equal(value, expected)
    else:
        _dense_close(value, expected, conn.dtype, scale=np.abs(dense).astype(np.float64).sum() + 1.0)


# -------------------------------------------------------------- comparisons
_COMPARE_OPS = {
    "==": operator.eq, "!=": operator.ne, "<": operator.lt, "<=": operator.le,
    ">": operator.gt, ">=": operator.ge,
    "np.equal": np.equal, "np.not_equal": np.not_equal, "np.less": np.less,
}


@FUZZ
@given(matrices(max_side=6), st.sampled_from(sorted(_COMPARE_OPS)),
       st.sampled_from(["0", "0.0", "np.float32(0)", "zeros", "M", "M.T", "copy"]), st.booleans())
def test_comparisons_refuse_with_a_pointer(conn, op, other_name, reflected):
    other = {
        "0": 0, "0.0": 0.0, "np.float32(0)": np.float32(0), "zeros": np.zeros(conn.shape),
        "M": conn, "M.T": conn.T, "copy": pickle.loads(pickle.dumps(conn)),
    }[other_name]
    left, right = (other, conn) if reflected else (conn, other)
    kind, value = _run(lambda: _COMPARE_OPS[op](left, right))
    assert kind == "error", f"{op} gave {value!r}"
    assert isinstance(value, TypeError)
    assert_clear_error(value, ["count_nonzero", "todense"])


@FUZZ
@given(matrices(max_side=6), st.integers(0, 2**64 - 1))
def test_same_generator(conn, other_seed):
    assert conn.same_generator(pickle.loads(pickle.dumps(conn)))
    assert conn.same_generator(conn.T.T)
    other = lazyconn.from_spec(lazyconn.Spec(conn.spec.shape, conn.spec.orientation, conn.prob, conn.spec.law,
                                             other_seed, conn.dtype, conn.spec.include_self))
    assert conn.same_generator(other) == (other_seed == conn.seed)


# ----------------------------------------------------------------- pickling
@FUZZ
@given(windowed_matrices(max_side=10), st.sampled_from([0, 2, pickle.HIGHEST_PROTOCOL, "deepcopy"]))
def test_pickle_round_trip(pair, protocol):
    _, conn = pair
    back = copy.deepcopy(conn) if protocol == "deepcopy" else pickle.loads(pickle.dumps(conn, protocol))
    assert type(back) is type(conn)
    assert repr(back) == repr(conn)
    assert back.shape == conn.shape and back.dtype == conn.dtype
    np.testing.assert_array_equal(back.todense(), conn.todense())
    assert back.count_nonzero() == conn.count_nonzero()


class _Crafted:
    """Pickles as the given reduce tuple (a state an attacker or a bug could write)."""

    def __init__(self, reduced):
        self.reduced = reduced

    def __reduce__(self):
        return self.reduced


def _corrupt(conn, how):
    # Built on today's reduce format: (restore, (class, state, window, scale)).
    restore, (cls, state, window, scale) = conn.__reduce__()
    m, n = conn.spec.shape
    wrong_class = lazyconn.JITCScalarC if cls is not lazyconn.JITCScalarC else lazyconn.JITCNormalR
    args = {
        "window beyond the shape": (cls, state, (0, m + 1000, 0, n), scale),
        "window at 2**40": (cls, state, (2**40, 2**40 + 1, 0, n), scale),
        "negative window": (cls, state, (-5, m, 0, n), scale),
        # max(m, 1): with no rows, (m, 0) would be the valid empty window.
        "reversed window": (cls, state, (max(m, 1), 0, 0, n), scale),
        "float window": (cls, state, (0.5, m, 0, n), scale),
        "short window": (cls, state, (0, m), scale),
        "scale nan": (cls, state, window, float("nan")),
        "scale inf": (cls, state, window, math.inf),
        "scale str": (cls, state, window, "2"),
        "wrong class": (wrong_class, state, window, scale),
        "not a class": (int, state, window, scale),
        "orientation X": (cls, (state[0], "X") + tuple(state[2:]), window, scale),
    }[how]
    return _Crafted((restore, args))


_CORRUPTIONS = ["window beyond the shape", "window at 2**40", "negative window", "reversed window",
                "float window", "short window", "scale nan", "scale inf", "scale str", "wrong class",
                "not a class", "orientation X"]


@FUZZ
@given(matrices(max_side=8), st.sampled_from(_CORRUPTIONS))
def test_crafted_pickles_are_refused(conn, how):
    data = pickle.dumps(_corrupt(conn, how))
    kind, value = _run(lambda: pickle.loads(data))
    assert kind == "error", f"{how}: loaded as {value!r} with shape {getattr(value, 'shape', None)}"
    assert_clear_error(value, ["window", "scale", "class", "orientation", "state", "pickle"])
