"""The deterministic ``exp`` (lazyconn/_exp.py) and its twins, and ``ln`` on the weight grid.

Oracles: ``decimal`` (correctly rounded at 25 digits, so the error of
``exp`` is measured in fractions of an ulp), ``math.exp`` / ``math.log``
(libm, within about 0.52 ulp), fdlibm's published constants, and a pinned
checksum of ``exp`` over a fixed grid (any change of any bit fails).
The LogNormal law uses ``exp``, the Exponential law ``-scale * ln(u)``:
the last tests hold the existing ``ln`` to 1 ulp and to monotonicity on
the weight uniforms ``u = (w + 0.5) * 2**-32``.
"""

import decimal
import hashlib
import math
import platform
import re
import shutil
import struct
import subprocess
from pathlib import Path

import numba
import numpy as np
import pytest

from lazyconn import _exp
from lazyconn._exp import O_THRESHOLD, U_THRESHOLD, exp, exp_scalar
from lazyconn.random import ln, words_to_uniform

_CONTEXT = decimal.Context(prec=25)
LN2 = math.log(2.0)


def _non_decreasing(y, axis=-1):
    """Whether ``y`` never decreases along ``axis`` (inf allowed: no ``diff``)."""
    y = np.moveaxis(y, axis, -1)
    return bool(np.all(y[..., 1:] >= y[..., :-1]))


def _bits(x):
    return np.ascontiguousarray(x, dtype=np.float64).view(np.uint64)


def _assert_same_bits(a, b):
    a, b = _bits(a), _bits(b)
    mismatch = np.flatnonzero(a != b)
    assert mismatch.size == 0, (mismatch.size, mismatch[:5])


def _exact_ulps(x, y, function):
    """|y - f(x)| in ulps of the exact f(x) (ulp 2**-1074 below the normal range)."""
    exact = function(decimal.Decimal(x))
    below = float(abs(exact))
    if decimal.Decimal(below) > abs(exact):  # the ulp of the binade that holds f(x)
        below = math.nextafter(below, 0.0)
    return float(abs(decimal.Decimal(y) - exact) / decimal.Decimal(math.ulp(below)))


def _floats_around(centres, half_width):
    """Rows of the ``2 * half_width`` consecutive floats around each centre, ascending.

    Works across zero: floats are ordered by the integer ``bits`` for
    ``x >= 0`` and ``-(bits & ~sign)`` for ``x < 0`` (both zeros map to 0).
    """
    bits = np.atleast_1d(np.asarray(centres, dtype=np.float64)).view(np.int64)
    ordered = np.where(bits >= 0, bits, -(bits & np.int64(2**63 - 1)))
    ordered = ordered[:, None] + np.arange(-half_width, half_width)[None, :]
    bits = np.where(ordered >= 0, ordered, (-ordered) | np.int64(-(2**63)))
    return bits.view(np.float64)


def _switch_windows(half_width):
    """Contiguous float windows straddling every point where the reduction's k changes."""
    k = np.arange(-1076, 1025)
    centres = (k + 0.5) * LN2
    return _floats_around(centres[(centres > U_THRESHOLD) & (centres < O_THRESHOLD)], half_width)


# ---------------------------------------------------------------------------
# Constants and special values


FDLIBM_WORDS = {
    "O_THRESHOLD": 0x40862E42_FEFA39EF,
    "U_THRESHOLD": 0xC0874910_D52D3051,
    "LN2_HI": 0x3FE62E42_FEE00000,
    "LN2_LO": 0x3DEA39EF_35793C76,
    "INVLN2": 0x3FF71547_652B82FE,
    "P1": 0x3FC55555_5555553E,
    "P2": 0xBF66C16C_16BEBD93,
    "P3": 0x3F11566A_AF25DE2C,
    "P4": 0xBEBBBD41_C5D26BF1,
    "P5": 0x3E663769_72BEA4D0,
    "SHIFTER": 0x43380000_00000000,
}


@pytest.mark.parametrize("name, word", FDLIBM_WORDS.items())
def test_constants_are_fdlibm_e_exp_words(name, word):
    assert struct.unpack("<Q", struct.pack("<d", getattr(_exp, name)))[0] == word


SPECIAL = [
    (0.0, 1.0),
    (-0.0, 1.0),
    (math.inf, math.inf),
    (-math.inf, 0.0),
    (5e-324, 1.0),  # subnormal inputs
    (-5e-324, 1.0),
    (2.0**-60, 1.0),
    (-(2.0**-60), 1.0),
    (-(2.0**-54), 1.0),  # a tie below 1 - 2**-53 ... rounds to 1
    (-(2.0**-53), 1.0 - 2.0**-53),  # ... and exp(-2**-53) is the double below 1
    (2.0**-52, 1.0 + 2.0**-52),
    (1.0, float.fromhex("0x1.5bf0a8b14576ap+1")),  # fdlibm's (and Java StrictMath's) exp(1)
    (O_THRESHOLD, float.fromhex("0x1.fffffffffff2ap+1023")),
    (math.nextafter(O_THRESHOLD, math.inf), math.inf),
    (1000.0, math.inf),
    (U_THRESHOLD, 5e-324),
    (math.nextafter(U_THRESHOLD, -math.inf), 0.0),
    (-1000.0, 0.0),
    (-708.5, float.fromhex("0x0.e6cf6d08897acp-1022")),  # a subnormal result
]


@pytest.mark.parametrize("x, expected", SPECIAL)
def test_special_values(x, expected):
    assert exp_scalar(x) == expected and math.copysign(1.0, exp_scalar(x)) == 1.0
    _assert_same_bits(exp(np.array([x])), [expected])


def test_nan_is_returned_unchanged_with_its_payload():
    nans = np.array([0x7FF8000000000000, 0xFFF8000000000001, 0x7FF0000000000001, 0x7FFFFFFFFFFFFFFF], dtype=np.uint64)
    x = nans.view(np.float64)
    _assert_same_bits(exp(x), x)
    for value in x:
        _assert_same_bits([exp_scalar(value)], [value])


def test_overflow_and_underflow_thresholds_match_the_correctly_rounded_exp():
    # Above O_THRESHOLD exp(x) rounds to +inf; below U_THRESHOLD to 0.
    assert math.exp(O_THRESHOLD) < math.inf
    with pytest.raises(OverflowError):
        math.exp(math.nextafter(O_THRESHOLD, math.inf))
    assert math.exp(U_THRESHOLD) == 5e-324
    assert math.exp(math.nextafter(U_THRESHOLD, -math.inf)) == 0.0


def test_reduction_range_and_exact_steps():
    # k spans [-1075, 1024], so 2**floor(k/2) and 2**(k - floor(k/2)) are
    # normal; hi = x - k * LN2_HI is exact (checked with fractions).
    from fractions import Fraction

    _, k = _exp._exp_core(np.array([U_THRESHOLD, O_THRESHOLD]))
    assert k.tolist() == [-1075.0, 1024.0]
    x = _accuracy_inputs(20_000, seed=9)
    x = x[(x >= U_THRESHOLD) & (x <= O_THRESHOLD)]
    _, k = _exp._exp_core(x)
    for xi, ki in zip(x.tolist(), k.tolist()):
        assert Fraction(xi - ki * _exp.LN2_HI) == Fraction(xi) - Fraction(ki) * Fraction(_exp.LN2_HI)


# ---------------------------------------------------------------------------
# Accuracy


def _accuracy_inputs(n, seed):
    rng = np.random.default_rng(seed)
    return np.concatenate(
        [
            rng.uniform(U_THRESHOLD, O_THRESHOLD, n // 2),
            rng.normal(0.0, 3.0, n // 4),  # LogNormal arguments mu + sigma * z
            rng.uniform(-750.0, -700.0, n // 8),  # subnormal and near-subnormal results
            rng.uniform(-1e-6, 1e-6, n // 16),
            _switch_windows(8)[::7].ravel(),
            [O_THRESHOLD, U_THRESHOLD, 0.5 * LN2, -0.5 * LN2, 1.5 * LN2, LN2, -LN2, 1.0, -1.0],
        ]
    )


def test_within_one_ulp_of_the_exact_exp():
    x = _accuracy_inputs(100_000, seed=0)
    x = x[(x >= U_THRESHOLD) & (x <= O_THRESHOLD)]
    y = exp(x)
    errors = np.array([_exact_ulps(a, b, _CONTEXT.exp) for a, b in zip(x.tolist(), y.tolist())])
    # fdlibm's bound is "always less than 1 ulp"; 0.873 measured on 930,000 inputs.
    assert errors.max() < 1.0, (errors.max(), x[errors.argmax()])
    # ... and it is mostly the correctly rounded value.
    assert np.mean(errors <= 0.5) > 0.85


def test_within_one_ulp_of_libm_over_a_million_inputs():
    # Both are within 1 ulp of the exact value (libm within ~0.52), so they
    # differ by at most one step of the float grid.
    x = _accuracy_inputs(1_000_000, seed=1)
    x = x[(x >= U_THRESHOLD) & (x <= O_THRESHOLD)]
    ours = exp(x)
    libm = np.array([math.exp(v) for v in x.tolist()])
    steps = np.abs(ours.view(np.int64) - libm.view(np.int64))
    assert steps.max() <= 1


# ---------------------------------------------------------------------------
# Monotonicity


def test_non_decreasing_across_every_reduction_switch_point():
    x = _switch_windows(512)
    # Each window really straddles a switch: k differs at its two ends.
    _, k = _exp._exp_core(x)
    assert np.all(k[:, 0] != k[:, -1])
    y = exp(x)
    assert _non_decreasing(y)
    with np.errstate(over="ignore"):
        y32 = y.astype(np.float32)
    assert _non_decreasing(y32)


@pytest.mark.parametrize(
    "centre",
    [k * LN2 for k in (-1074, -1022, -1021, -1, 0, 1, 2, 1023)]  # y crosses 1, results cross binades
    + [-708.3964185322641, U_THRESHOLD, O_THRESHOLD, 2.0**-26, -(2.0**-26), 1.0, -1.0],
)
def test_non_decreasing_on_contiguous_floats(centre):
    x = _floats_around(centre, 2**15)[0]
    assert np.all(np.diff(x) > 0)
    y = exp(x)
    assert _non_decreasing(y)


def test_non_decreasing_on_random_runs_across_the_range():
    starts = np.random.default_rng(4).uniform(U_THRESHOLD, O_THRESHOLD, 2000)
    x = _floats_around(starts, 500)
    y = exp(x)
    assert _non_decreasing(y)
    with np.errstate(over="ignore"):
        assert _non_decreasing(y.astype(np.float32))


# ---------------------------------------------------------------------------
# Twins: NumPy array, Python scalar, Numba (and the CUDA header compiled for the host)


def _twin_inputs(n, seed):
    rng = np.random.default_rng(seed)
    patterns = np.frombuffer(rng.bytes(8 * (n // 4)), dtype=np.float64)  # NaN payloads, subnormals, infs
    return np.concatenate(
        [
            _accuracy_inputs(n // 2, seed),
            patterns,
            _switch_windows(64).ravel()[: n // 4],
            [s for s, _ in SPECIAL],
        ]
    )


def test_scalar_twin_equals_array_twin():
    x = _twin_inputs(40_000, seed=5)
    _assert_same_bits([exp_scalar(v) for v in x.tolist()], exp(x))


def test_numba_twin_equals_numpy_bit_for_bit():
    _cpu_exp = pytest.importorskip("lazyconn.kernels._cpu_exp")
    x = _twin_inputs(4_000_000, seed=6)
    out = np.empty_like(x)
    _cpu_exp.exp_array(x, out)
    _assert_same_bits(out, exp(x))


def test_numba_twin_has_no_fused_multiply_add():
    _cpu_exp = pytest.importorskip("lazyconn.kernels._cpu_exp")
    # A fresh, uncached compile with the module's options (code loaded from
    # Numba's cache cannot be inspected).
    options = {key: value for key, value in _cpu_exp.JIT_OPTIONS.items() if key != "cache"}
    kernel = numba.njit(**options)(_cpu_exp.exp_array.py_func)
    x = np.zeros(4)
    kernel(x, x)
    signature = kernel.signatures[0]
    llvm = kernel.inspect_llvm(signature)
    assert "fmul" in llvm  # the IR of the whole loop, exp inlined
    assert "llvm.fma" not in llvm and "fmuladd" not in llvm and " contract " not in llvm
    if platform.machine() in ("x86_64", "AMD64"):
        asm = kernel.inspect_asm(signature)
        assert "mulpd" in asm or "mulsd" in asm
        assert not re.search(r"\bv?f(n)?m(add|sub)\d", asm)


def test_cuda_header_compiled_for_the_host_equals_numpy(tmp_path):
    # The device path differs only in spelling each operation as its _rn
    # intrinsic; this checks the header's operation order without a GPU.
    ctypes = pytest.importorskip("ctypes")
    compiler = shutil.which("cc") or shutil.which("gcc") or shutil.which("clang")
    if compiler is None:
        pytest.skip("no C compiler")
    header = Path(_exp.__file__).parent / "kernels" / "jitc_exp.cuh"
    source = tmp_path / "exp_host.c"
    source.write_text(
        f'#include "{header}"\n'
        "void exp_array(const double *x, double *y, long n) { for (long i = 0; i < n; ++i) y[i] = jitc_exp(x[i]); }\n"
    )
    library = tmp_path / "exp_host.so"
    flags = ["-O2", "-ffp-contract=off", "-shared", "-fPIC"]
    if platform.machine() == "x86_64":
        flags.append("-mfma")  # FMA available, contraction off: still no fusion
    subprocess.run([compiler, *flags, str(source), "-o", str(library)], check=True, capture_output=True)
    function = ctypes.CDLL(str(library)).exp_array
    x = _twin_inputs(1_000_000, seed=7)
    y = np.empty_like(x)
    pointer = ctypes.POINTER(ctypes.c_double)
    function.argtypes = [pointer, pointer, ctypes.c_long]
    function(x.ctypes.data_as(pointer), y.ctypes.data_as(pointer), x.size)
    _assert_same_bits(y, exp(x))


# ---------------------------------------------------------------------------
# Golden checksum: any change of any bit of exp fails here.


def _golden_grid():
    # Exact grid: every multiple of 2**-9 in [-750, 712) (exact in float64),
    # then 2**16 deterministic pseudo-random floats in [-746, 710) from a
    # splitmix64 stream (integer arithmetic; one rounded * and one rounded +).
    grid = (np.arange(-750 * 512, 712 * 512, dtype=np.int64).astype(np.float64)) * 2.0**-9
    state = np.arange(1, 2**16 + 1, dtype=np.uint64) * np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    z = z ^ (z >> np.uint64(31))
    scattered = (z >> np.uint64(11)).astype(np.float64) * (1456.0 * 2.0**-53) + -746.0
    specials = np.array([s for s, _ in SPECIAL] + [math.nan])
    return np.concatenate([grid, scattered, specials])


GOLDEN_SHA256 = "3ad9cb97e5a813304f2b8d93deb364086d660386987fb4a85ddb1bc3e8254db2"


def test_golden_checksum():
    grid = _golden_grid()
    assert grid.size == 814_100
    assert hashlib.sha256(exp(grid).astype("<f8").tobytes()).hexdigest() == GOLDEN_SHA256


def test_golden_checksum_numba():
    _cpu_exp = pytest.importorskip("lazyconn.kernels._cpu_exp")
    out = _cpu_exp.exp_array(_golden_grid(), np.empty(814_100))
    assert hashlib.sha256(out.astype("<f8").tobytes()).hexdigest() == GOLDEN_SHA256


# ---------------------------------------------------------------------------
# ln on the weight uniforms (the Exponential law, -scale * ln(u))


def _switch_words():
    """Words where u crosses a power of two or ln's sqrt(2) reduction switch."""
    words = []
    for e in range(1, 33):  # u = (w + 0.5) 2**-32 crosses 2**-e between w = 2**(32-e) - 1 and 2**(32-e)
        words.append(2 ** (32 - e))
        # u * 2**e crosses sqrt(2) / 2 * 2: the fraction switch of binade 2**-e.
        words.append(int(math.sqrt(0.5) * 2.0 ** (33 - e)))
    return [w for w in words if 0 < w < 2**32]


def test_ln_within_one_ulp_on_weight_uniforms():
    rng = np.random.default_rng(8)
    words = np.concatenate(
        [rng.integers(0, 2**32, 50_000, dtype=np.uint64), [0, 1, 2, 2**31 - 1, 2**31, 2**32 - 2, 2**32 - 1], _switch_words()]
    ).astype(np.uint64)
    u = words_to_uniform(words)
    ours = ln(u)
    errors = np.array([_exact_ulps(a, b, _CONTEXT.ln) for a, b in zip(u.tolist(), ours.tolist())])
    # 0.788 measured on 315,765 words (switch points and both ends included).
    assert errors.max() < 1.0, (errors.max(), u[errors.argmax()])
    # libm over a million words: at most one float step apart.
    words = rng.integers(0, 2**32, 1_000_000, dtype=np.uint64)
    u = words_to_uniform(words)
    libm = np.array([math.log(v) for v in u.tolist()])
    assert np.abs(ln(u).view(np.int64) - libm.view(np.int64)).max() <= 1


def test_ln_non_decreasing_around_every_switch_of_the_weight_grid():
    centres = np.array(_switch_words(), dtype=np.int64)
    words = centres[:, None] + np.arange(-(2**12), 2**12)[None, :]
    words = words[:, (words.min(axis=0) >= 0)]
    words = np.clip(words, 0, 2**32 - 1).astype(np.uint64)
    values = ln(words_to_uniform(words.ravel())).reshape(words.shape)
    assert np.all(np.diff(values, axis=1) >= 0)


def test_exponential_weights_are_positive_and_non_increasing_in_the_word():
    # -scale * ln(u) > 0 for every u < 1, down to the top word's 2**-33.
    scale = 2.5
    words = np.concatenate([np.arange(2**32 - 2**16, 2**32), np.arange(0, 2**16)]).astype(np.uint64)
    weights = -scale * ln(words_to_uniform(words))
    assert np.all(weights > 0)
    top = weights[: 2**16]
    assert np.all(np.diff(top) <= 0)
    assert weights[2**16 - 1] == -scale * ln(np.array([1.0 - 2.0**-33]))[0]
