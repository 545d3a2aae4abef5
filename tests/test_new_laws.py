"""The LogNormal and Exponential weight laws (issue 14; docs/spec.md §5.1).

Their definitions bit for bit (LogNormal = the pinned ``exp`` of the Normal
law's value, Exponential = ``(-scale) * ln(u)``), their distributions
(Kolmogorov-Smirnov against scipy.stats, fixed seeds, so the p-values are
pinned numbers), the reference and CPU backends byte-equal on windows,
products against ``todense()``, validation, the overflow bounds, pickles and
reprs, and the GPU kernels (bit-equal to the reference).  The golden
checksums are in ``tests/golden.py`` (``GOLDEN_EXTENSION``), checked on
every backend by ``tests/test_backends.py``.
"""

import math
import pickle
import re
from pathlib import Path

import numpy as np
import pytest
from golden import GOLDEN_EXTENSION, checksum
from scipy import stats

import lazyconn
from lazyconn import _exp, laws
from lazyconn.kernels import reference
from lazyconn.random import ln
from lazyconn.spec import Spec
from lazyconn.testing import assert_matmul_matches_dense, assert_same_bits

ROOT = Path(lazyconn.__file__).resolve().parent.parent
DTYPES = (np.float32, np.float64)


def _cpu():
    return pytest.importorskip("lazyconn.kernels.cpu")


def _weights(conn):
    """The nonzero entries of a matrix, by the reference backend, in float64."""
    with pytest.MonkeyPatch.context() as patch:
        patch.setenv("LAZYCONN_BACKEND", "reference")
        dense = conn.todense()
    return dense[dense != 0].astype(np.float64)


# -------------------------------------------------------------- definitions
def test_codes_names_and_strategies_are_pinned():
    assert (laws.LOGNORMAL.code, laws.EXPONENTIAL.code) == (3, 4)
    assert [law.name for law in laws.registered()] == ["Scalar", "Normal", "Uniform", "LogNormal", "Exponential"]
    assert lazyconn.LogNormal is laws.law_class("LogNormal") and lazyconn.Exponential is laws.law_class("Exponential")
    assert lazyconn.LogNormal.code == 3 and lazyconn.Exponential.code == 4
    # Both defer their weights: LogNormal is the Normal law's two-pass batch
    # plus exp, Exponential one ln (with a divide) per weight, which is
    # faster over thousands of uniforms than over one batch's few
    # (asv_benchmarks/law_speed.py --strategies).
    assert laws.LOGNORMAL.deferred and not laws.LOGNORMAL.constant
    assert laws.EXPONENTIAL.deferred and not laws.EXPONENTIAL.constant
    assert lazyconn.LogNormal(0.5, 2.0).kernel_params() == (0.5, 2.0)
    assert lazyconn.Exponential(2.5).kernel_params() == (-2.5, 0.0)


@pytest.mark.parametrize("dtype", DTYPES)
def test_lognormal_weights_are_the_pinned_exp_of_the_normal_weights(dtype):
    # Same seed, same connectivity, same weight uniforms: the LogNormal
    # weight is exp (lazyconn._exp) of the float64 Normal weight, then
    # rounded once to the dtype.
    kw = dict(num_pre=30, num_post=2000, prob=0.3, seed=99)
    normal = lazyconn.JITCNormalR(**kw, loc=-0.3, scale=1.7, dtype=np.float64).todense()
    lognormal = lazyconn.JITCLogNormalR(**kw, mu=-0.3, sigma=1.7, dtype=dtype).todense()
    mask = normal != 0
    assert ((lognormal != 0) == mask).all()
    assert_same_bits(lognormal[mask], _exp.exp(normal[mask]).astype(dtype))


@pytest.mark.parametrize("dtype", DTYPES)
def test_exponential_weights_are_minus_scale_times_ln_u(dtype):
    # A Uniform(0, 1) float64 matrix holds the weight uniforms u themselves
    # (0 + 1 * u is exact).
    kw = dict(num_pre=2000, num_post=30, prob=0.3, seed=7)
    u = lazyconn.JITCUniformC(**kw, low=0.0, high=1.0, dtype=np.float64).todense()
    expo = lazyconn.JITCExponentialC(**kw, scale=0.37, dtype=dtype).todense()
    mask = u != 0
    assert ((expo != 0) == mask).all()
    assert_same_bits(expo[mask], ((-0.37) * ln(u[mask])).astype(dtype))


def test_the_connectivity_does_not_depend_on_the_law():
    kw = dict(num_pre=80, num_post=900, prob=0.05, seed=2**64 - 1)
    pattern = lazyconn.JITCScalarR(**kw, weight=1.0).todense() != 0
    assert (lazyconn.JITCLogNormalR(**kw, mu=0.0, sigma=1.0).todense() != 0).tolist() == pattern.tolist()
    assert (lazyconn.JITCExponentialR(**kw, scale=1.0).todense() != 0).tolist() == pattern.tolist()


# ---------------------------------------------------------- distributions
#: (matrix, scipy distribution, a distribution 3 % off that the same test
#: must reject).  ~240,000 weights each, fixed seeds: the p-values are fixed
#: numbers (scipy 1.17: 0.278, 0.638, 0.296, 0.844; the wrong laws below
#: 2e-9), so the tests cannot flake.
KS_CASES = {
    "lognormal": (
        lambda: lazyconn.JITCLogNormalR(400, 3000, 0.2, mu=0.4, sigma=0.9, seed=11, dtype=np.float64),
        stats.lognorm(s=0.9, scale=math.exp(0.4)),
        stats.lognorm(s=0.9 * 1.03, scale=math.exp(0.4)),
    ),
    "lognormal-float32": (
        lambda: lazyconn.JITCLogNormalC(3000, 400, 0.2, mu=-1.0, sigma=2.0, seed=12),
        stats.lognorm(s=2.0, scale=math.exp(-1.0)),
        stats.lognorm(s=2.0, scale=math.exp(-1.0) * 1.03),
    ),
    "exponential": (
        lambda: lazyconn.JITCExponentialR(400, 3000, 0.2, scale=2.5, seed=13, dtype=np.float64),
        stats.expon(scale=2.5),
        stats.expon(scale=2.5 * 1.03),
    ),
    "exponential-float32": (
        lambda: lazyconn.JITCExponentialC(3000, 400, 0.2, scale=1e-3, seed=14),
        stats.expon(scale=1e-3),
        stats.expon(scale=1e-3 * 1.03),
    ),
}
#: The significance level: a correct law passes it, a 3 % wrong one fails.
ALPHA = 1e-3


@pytest.mark.parametrize("case", list(KS_CASES))
def test_weights_follow_the_distribution_ks(case):
    make, law, wrong = KS_CASES[case]
    weights = _weights(make())
    assert weights.size > 200_000 and (weights > 0).all()
    assert stats.kstest(weights, law.cdf).pvalue > ALPHA
    assert stats.kstest(weights, wrong.cdf).pvalue < ALPHA  # the test has the power to tell


def test_lognormal_logarithms_are_normal_and_exponential_tail_is_memoryless():
    logs = np.log(_weights(lazyconn.JITCLogNormalR(400, 3000, 0.2, mu=1.5, sigma=0.25, seed=21, dtype=np.float64)))
    assert stats.kstest(logs, stats.norm(1.5, 0.25).cdf).pvalue > ALPHA
    w = _weights(lazyconn.JITCExponentialR(400, 3000, 0.2, scale=1.0, seed=22, dtype=np.float64))
    tail = w[w > 1.0] - 1.0  # P(W > 1 + t | W > 1) = P(W > t)
    assert stats.kstest(tail, stats.expon().cdf).pvalue > ALPHA


# ------------------------------------------------------- backends agree
WINDOWS = [(slice(None), slice(None)), (slice(3, 41), slice(250, 1777)), (slice(59, 60), slice(0, 1)),
           (slice(10, 10), slice(None))]


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("orientation", ["R", "C"])
@pytest.mark.parametrize("law", [lazyconn.LogNormal(0.3, 1.2), lazyconn.Exponential(4.0),
                                 lazyconn.LogNormal(0.0, 0.0), lazyconn.LogNormal(-300.0, 30.0)], ids=repr)
def test_cpu_windows_are_byte_equal_to_the_reference(law, orientation, dtype):
    cpu = _cpu()
    shape = (60, 2000) if orientation == "R" else (2000, 60)
    for prob, include_self in ((0.1, True), (1.0, True), (0.003, True)):
        spec = Spec(shape, orientation, prob, law, 5, dtype, include_self)
        params = spec.kernel_params()
        k, n = spec.major_size, spec.minor_size
        for rows, cols in WINDOWS:
            k0, k1, _ = rows.indices(k)
            j0, j1, _ = cols.indices(n)
            expected = reference.dense(params, k0, k1, j0, j1, dtype)
            assert_same_bits(cpu.dense(params, k0, k1, j0, j1, dtype), expected)
            for ours, theirs in zip(cpu.coo(params, k0, k1, j0, j1, dtype),
                                    reference.coo(params, k0, k1, j0, j1, dtype)):
                assert_same_bits(ours, theirs)
    square = Spec((500, 500), orientation, 0.2, law, 2**64 - 1, dtype, include_self=False).kernel_params()
    expected = reference.dense(square, 0, 500, 0, 500, dtype)
    assert not np.diagonal(expected).any()
    assert_same_bits(cpu.dense(square, 0, 500, 0, 500, dtype), expected)


@pytest.mark.parametrize("dtype", DTYPES)
@pytest.mark.parametrize("make", [
    lambda dtype: lazyconn.JITCLogNormalR(300, 4000, 0.05, 0.1, 0.8, seed=3, dtype=dtype),
    lambda dtype: lazyconn.JITCLogNormalC(4000, 300, 0.05, -2.0, 1.5, seed=3, dtype=dtype),
    lambda dtype: lazyconn.JITCExponentialR(300, 4000, 0.05, 0.5, seed=4, dtype=dtype),
    lambda dtype: lazyconn.JITCExponentialC(4000, 300, 0.05, 3.0, seed=4, dtype=dtype),
], ids=["LogNormalR", "LogNormalC", "ExponentialR", "ExponentialC"])
def test_products_match_the_dense_matrix(make, dtype):
    conn = make(dtype)
    rng = np.random.default_rng(0)
    for view in (conn, conn[7:250, 100:3900], conn[7:250, 100:3900].T, conn * -0.5):
        m, n = view.shape
        for side, x in (("right", rng.standard_normal(n)), ("left", rng.standard_normal(m)),
                        ("right", rng.standard_normal((n, 3)).astype(np.float32)),
                        ("left", (rng.random((2, m)) < 0.05).astype(np.float32))):
            assert_matmul_matches_dense(view, side, x)
    spikes = np.random.default_rng(1).random(conn.shape[0]) < 0.05
    dense = conn.todense().astype(np.float64)
    np.testing.assert_allclose(lazyconn.BinaryArray(spikes) @ conn, spikes @ dense,
                               rtol=1e-5 if dtype == np.float32 else 1e-12, atol=1e-4)


@pytest.mark.parametrize("cls, kwargs, expected", GOLDEN_EXTENSION,
                         ids=[f"{g[0].__name__}-{g[1].get('dtype', np.float32).__name__}" for g in GOLDEN_EXTENSION])
def test_golden_checksums_by_the_default_host_backend(cls, kwargs, expected):
    assert checksum(cls(**kwargs).todense()) == expected
    assert checksum(cls(**kwargs).T.T.todense()) == expected


def test_transpose_is_the_other_orientation():
    r = lazyconn.JITCLogNormalR(70, 90, 0.2, 0.0, 1.0, seed=8)
    c = lazyconn.JITCLogNormalC(90, 70, 0.2, 0.0, 1.0, seed=8)
    assert r.T.same_generator(c)
    assert_same_bits(r.todense().T.copy(), c.todense())


# ----------------------------------------------- API, pickles, validation
def test_classes_reprs_and_pickles():
    law = lazyconn.LogNormal(0.25, 1.5)
    assert repr(law) == "LogNormal(mu=0.25, sigma=1.5)"
    assert repr(lazyconn.Exponential(2)) == "Exponential(scale=2.0)"
    assert type(law).__module__ == "lazyconn.laws"
    for value in (law, lazyconn.Exponential(0.5)):
        assert pickle.loads(pickle.dumps(value)) == value
    conn = lazyconn.JITCLogNormalC(5, 6, 0.3, -1.0, 2.0, seed=3)
    assert repr(conn) == "JITCLogNormalC(num_pre=5, num_post=6, prob=0.3, mu=-1.0, sigma=2.0, seed=3, dtype=float32)"
    conn = lazyconn.JITCExponentialR(5, 6, 0.3, 2.0, seed=3, dtype=np.float64)
    assert repr(conn) == "JITCExponentialR(num_pre=5, num_post=6, prob=0.3, scale=2.0, seed=3, dtype=float64)"
    again = pickle.loads(pickle.dumps(conn[1:4, 2:]))
    assert again.same_generator(conn[1:4, 2:]) and again.todense().tobytes() == conn[1:4, 2:].todense().tobytes()
    assert "LogNormal(mu, sigma) weights" in lazyconn.JITCLogNormalR.__doc__
    assert "Parameters\n    ----------" in lazyconn.LogNormal.__doc__ and "scale" in lazyconn.Exponential.__doc__


@pytest.mark.parametrize("call, error, message", [
    (lambda: lazyconn.LogNormal(0.0, -1.0), ValueError, "sigma must be >= 0"),
    (lambda: lazyconn.LogNormal(math.nan, 1.0), ValueError, "mu must be finite"),
    (lambda: lazyconn.LogNormal(0.0, math.inf), ValueError, "sigma must be finite"),
    (lambda: lazyconn.LogNormal("0", 1.0), TypeError, "mu must be a real number"),
    (lambda: lazyconn.LogNormal(0.0, True), TypeError, "sigma must be a real number"),
    (lambda: lazyconn.Exponential(0.0), ValueError, r"scale must be > 0, got 0.0"),
    (lambda: lazyconn.Exponential(-2.0), ValueError, r"scale must be > 0.*conn \* -1.0"),
    (lambda: lazyconn.Exponential(math.nan), ValueError, "scale must be finite"),
    (lambda: lazyconn.Exponential(10**400), ValueError, "scale must be finite"),
    (lambda: lazyconn.JITCExponentialR(5, 5, 0.1), TypeError, "missing 1 required positional argument: 'scale'"),
    (lambda: lazyconn.JITCLogNormalR(5, 5, 0.1, 1.0), TypeError, "missing 1 required positional argument: 'sigma'"),
])
def test_invalid_parameters_are_refused_with_clear_errors(call, error, message):
    with pytest.raises(error, match=message):
        call()


def test_the_largest_weights_are_bounded_and_overflowing_parameters_refused():
    u_extremes = np.array([0.5 * 2.0**-32, 1.0 - 0.5 * 2.0**-32])  # the smallest and largest uniform
    # Exponential: the bound is the largest weight itself, scale * -ln(2**-33).
    for scale in (1.0, 3.7, 1e-300, 1e300):
        law = lazyconn.Exponential(scale)
        largest = laws.EXPONENTIAL.reference(u_extremes, *law.kernel_params()).max()
        assert law.max_abs_weight() == largest == scale * laws.LN_U_MAX
    assert laws.LN_U_MAX == float.fromhex("0x1.6dfb516f20bbfp+4")
    assert abs(laws.LN_U_MAX - 33 * math.log(2)) < 1e-14
    # LogNormal: exp(mu + 6.5 sigma) bounds exp(mu + sigma * ndtri(u)), |ndtri(u)| <= 6.34.
    assert np.abs(lazyconn.random.ndtri(u_extremes)).max() < laws.NDTRI_MAX
    for mu, sigma in ((0.0, 1.0), (80.0, 1.0), (-5.0, 3.0), (1.0, 0.0)):
        law = lazyconn.LogNormal(mu, sigma)
        assert laws.LOGNORMAL.reference(u_extremes, *law.kernel_params()).max() <= law.max_abs_weight()
    assert lazyconn.LogNormal(0.0, 0.0).max_abs_weight() == 1.0
    # Refused in float32, accepted in float64; the message names the fix.
    for law in (lazyconn.LogNormal(0.0, 14.0), lazyconn.LogNormal(89.0, 0.0), lazyconn.Exponential(2e37)):
        with pytest.raises(ValueError, match="overflow float32.*dtype=numpy.float64"):
            Spec((4, 4), "R", 0.5, law, 0, np.float32)
        Spec((4, 4), "R", 0.5, law, 0, np.float64)
    with pytest.raises(ValueError, match="overflow float64"):
        Spec((4, 4), "R", 0.5, lazyconn.LogNormal(700.0, 10.0), 0, np.float64)
    with pytest.raises(ValueError, match="overflow float64"):
        Spec((4, 4), "R", 0.5, lazyconn.LogNormal(0.0, 1e308), 0, np.float64)
    Spec((4, 4), "R", 0.5, lazyconn.LogNormal(88.0, 0.0), 0, np.float32)  # exp(88) = 1.65e38 fits
    Spec((4, 4), "R", 0.5, lazyconn.Exponential(1e37), 0, np.float32)  # 2.29e38 fits
    # A scale factor that would overflow the largest weight is refused too.
    conn = lazyconn.JITCExponentialR(4, 4, 0.5, 1e36, seed=0)
    with pytest.raises(ValueError):
        conn * 100.0


def test_tiny_lognormal_weights_underflow_to_zero_consistently():
    # exp(-300 + 30 z) spans 1e-300 * e**(+-190): most weights are 0 in float32.
    conn = lazyconn.JITCLogNormalR(40, 500, 0.5, -300.0, 30.0, seed=1, dtype=np.float32)
    dense = conn.todense()
    pattern = lazyconn.JITCScalarR(40, 500, 0.5, 1.0, seed=1).todense() != 0
    assert ((dense != 0) <= pattern).all() and (dense[pattern] == 0).any()
    assert conn.count_nonzero() == np.count_nonzero(dense)


# -------------------------------------------------------------- the GPU
def test_every_law_names_a_struct_of_the_gpu_laws_header():
    # The GPU kernels are instantiated per law from the record's cuda_type:
    # every law of the package has one, and it names a struct of the header.
    header = (ROOT / "lazyconn" / "kernels" / "jitc_laws.cuh").read_text()
    structs = set(re.findall(r"^struct (\w+Law) \{", header, re.M))
    package = (laws.SCALAR, laws.NORMAL, laws.UNIFORM, laws.LOGNORMAL, laws.EXPONENTIAL)
    assert {law.cuda_type for law in package} == structs
    # No law is named anywhere else on the GPU side.
    for name in ("gpu.py", "_gpu_launch.py", "_gpu_fixed.py", "jitc_kernels.cu", "jitc_fixed.cu"):
        source = (ROOT / "lazyconn" / "kernels" / name).read_text()
        for law in package:
            uses = re.findall(rf"\b{law.cuda_type}\b|\bLAW_{law.name.upper()}\b", source)
            assert not uses, (name, law.name)
    # The record says which structs keep the ndtri table in shared memory
    # (a smem_bytes<W>() that is not the constant 0), as the header does.
    bodies = dict(re.findall(r"^struct (\w+Law) \{(.*?)^\};", header, re.M | re.S))
    for law in package:
        constant_zero = re.search(r"smem_bytes\(\)\s*\{\s*return 0;\s*\}", bodies[law.cuda_type])
        assert law.cuda_float32_ndtri_table == (constant_zero is None), law.name
    assert not (ROOT / "lazyconn" / "kernels" / "_gpu_laws.py").exists()


@pytest.mark.parametrize("law", [laws.get(name) for name in ("Scalar", "Normal", "Uniform", "LogNormal",
                                                             "Exponential")], ids=lambda law: law.name)
def test_the_kernel_weight_bound_holds_at_the_extreme_words(law):
    # kernel_max_abs_weight(a, b) (the GPU's deterministic scatter sizes its
    # integers with it) bounds every weight: the laws are monotone in u, so
    # the extreme words 0 and 2**32 - 1 give the largest ones; and it agrees
    # with the public max_abs_weight of the same law.
    from lazyconn.testing import LAW_EXAMPLES

    for value in LAW_EXAMPLES:
        if type(value).__name__ != law.name:
            continue
        a, b = value.kernel_params()
        bound = law.kernel_max_abs_weight(a, b)
        assert bound >= value.max_abs_weight() * (1 - 2**-40), value
        if law.reference is not None:
            u = np.array([0.5 * 2.0**-32, 1.0 - 0.5 * 2.0**-32])
            assert np.abs(law.reference(u, a, b)).max() <= bound, value


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES)
def test_gpu_products_and_windows_of_the_extension_laws_equal_the_reference(dtype):
    from gpu_guard import cupy_or_skip

    cp = cupy_or_skip()
    for conn in (lazyconn.JITCLogNormalR(300, 260, 0.3, -0.2, 1.1, seed=1, dtype=dtype),
                 lazyconn.JITCExponentialC(280, 280, 0.3, 2.0, seed=2**64 - 1, dtype=dtype, include_self=False)):
        m, n = conn.shape
        with pytest.MonkeyPatch.context() as patch:
            patch.setenv("LAZYCONN_BACKEND", "reference")
            dense = conn.todense()
            window = conn[5:270, 7:200].todense()
        assert_same_bits(conn.todense(xp=cp), dense)
        assert_same_bits(conn[5:270, 7:200].todense(xp=cp), window)
        # One nonzero term per output: the products' weights are the dense kernel's bits.
        assert_same_bits(conn @ cp.asarray(np.eye(n, 9, dtype=dtype)), np.ascontiguousarray(dense[:, :9]))
        assert_same_bits(cp.asarray(np.eye(9, m, dtype=dtype)) @ conn, np.ascontiguousarray(dense[:9]))
        spikes = np.zeros(m, dtype=bool)
        spikes[17] = True
        assert_same_bits(lazyconn.BinaryArray(cp.asarray(spikes)) @ conn, dense[17])
        # The same with the deterministic (fixed-point) scatter: one term per output is exact.
        with lazyconn.set_options(deterministic=True):
            assert_same_bits(cp.asarray(np.eye(9, m, dtype=dtype)) @ conn, np.ascontiguousarray(dense[:9]))
            x = np.random.default_rng(3).standard_normal(m).astype(dtype)
            np.testing.assert_allclose((cp.asarray(x) @ conn).get(), x.astype(np.float64) @ dense.astype(np.float64),
                                       rtol=1e-4 if dtype == np.float32 else 1e-10, atol=1e-4)


@pytest.mark.gpu
def test_a_law_without_a_cuda_struct_is_refused_on_the_gpu():
    from gpu_guard import cupy_or_skip

    cp = cupy_or_skip()
    from lazyconn.kernels import gpu

    law = laws.get("Exponential")
    params = Spec((30, 20), "R", 0.5, lazyconn.Exponential(1.0), 0, np.float32).kernel_params()
    object.__setattr__(law, "cuda_type", None)  # a frozen record: as if registered without a CUDA struct
    try:
        for call in (lambda: gpu.dense(params, 0, 30, 0, 20, np.float32),
                     lambda: gpu.gather(params, 0, 30, 0, 20, cp.ones((20, 1)), np.float32),
                     lambda: gpu.scatter(params, cp.arange(3), None, 0, 20, np.float32)):
            with pytest.raises(TypeError, match="no kernels for Exponential weights.*NumPy operands"):
                call()
    finally:
        object.__setattr__(law, "cuda_type", "ExponentialLaw")


def test_every_gpu_entry_point_asks_for_the_law_type_first():
    source = (ROOT / "lazyconn" / "kernels" / "gpu.py").read_text()
    for name in ("dense", "coo", "degrees", "gather", "scatter", "scatter_rows"):
        body = re.search(rf'^def {name}\(params.*?"""\n(.*?)\n', source, re.S | re.M)
        assert body and body.group(1).strip() in ("law = law_type(params)", "law_type(params)"), name


# ------------------------------------------------------------- the spec
def test_the_spec_pins_the_codes_bounds_and_exp_constants_of_the_code():
    spec = (ROOT / "docs" / "spec.md").read_text()
    section = spec[spec.index("## 11. `exp`"):]
    constants = dict(re.findall(r"^\| (\w+) \| `(-?0x[0-9a-f.]+p[+-]\d+)`", section, re.M))
    assert set(constants) == {"O_THRESHOLD", "U_THRESHOLD", "INVLN2", "SHIFTER", "LN2_HI", "LN2_LO",
                              "P1", "P2", "P3", "P4", "P5"}
    for name, text in constants.items():
        assert float.fromhex(text) == getattr(_exp, name), name
    assert "| `LogNormal(mu, sigma)` | 3 |" in spec and "| `Exponential(scale)` | 4 |" in spec
    assert f"`scale * {laws.LN_U_MAX.hex()}`" in spec
    for cls, kwargs, expected in GOLDEN_EXTENSION:
        assert f"`{expected}`" in spec
