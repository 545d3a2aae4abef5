"""The fixed-number rule on the GPU (``FixedNumberWalk``, kernels/jitc_rules.cuh) against the reference, bit for bit.

Four parts, from the most to the least widely runnable:

- The walk on the host: jitc_rules.cuh (with jitc_random.cuh's Philox and
  ``ln``) compiled for the CPU by the system's C++ compiler behind a small
  harness: its positions, slots and weights against the NumPy reference's
  on the regimes of the rule (every candidate taken, the last entry, ln1p
  steps, exact tests, windows, the diagonal).  The device runs the same
  source with the same IEEE operations (``--fmad=false``).  Skipped
  without ``g++``.
- The kernels on the host: jitc_dense, jitc_coo_*, jitc_degrees,
  jitc_gather and jitc_scatter themselves, compiled for the CPU with the
  CUDA built-ins emulated (tests/gpu_host_emulation.py), launched over
  grids, shared tiles and the global-memory path: bit-equal to the
  reference where the result is exact.  Skipped without ``g++``.
- nvcc: the kernels that _gpu_launch names for both rules, and the small
  kernels beside them, compiled for sm_90 with CuPy's ``-ftz=true``
  (compile errors surface without a GPU), and their PTX checked: no float32
  conversion or compare that flushes subnormals.  Skipped without ``nvcc``.
- GPU (CuPy and a usable device, marked ``gpu``): every entry point of
  :mod:`lazyconn.kernels.gpu` on fixed-number matrices, bit-equal to the
  reference where the result is exact (windows, connection lists, counts,
  one-hot products, binary Scalar events) and within the rounding of the
  sums elsewhere, deterministic or not; skipped elsewhere.
"""

import copy
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

import lazyconn
from lazyconn import _rule_fixed, rules
from lazyconn.kernels import reference
from lazyconn.laws import Exponential, LogNormal
from lazyconn.spec import Normal, Scalar, Spec, Uniform
from lazyconn.testing import (
    assert_products_match_reference,
    assert_same_bits,
    assert_window_matches_reference,
    to_numpy,
)

ROOT = Path(__file__).resolve().parents[1]
KERNELS = ROOT / "lazyconn" / "kernels"

#: Named cases in line space: (shape of an R matrix, num_conn, include_self, windows (k0, k1, j0, j1)).
REGIMES = {
    "empty": ((10, 10), 0, True, [(0, 10, 0, 10)]),
    "all": ((40, 300), 300, True, [(0, 40, 0, 300), (5, 9, 100, 299)]),
    "all but the diagonal": ((300, 300), 299, False, [(0, 300, 0, 300), (290, 300, 280, 300)]),
    "one per line": ((200, 5000), 1, True, [(0, 200, 0, 5000), (3, 150, 2500, 5000)]),
    "one of one": ((7, 1), 1, True, [(0, 7, 0, 1)]),
    "sparse lines (series steps)": ((64, 3000), 40, True, [(0, 64, 0, 3000), (10, 50, 1234, 2500)]),
    "dense lines (ln1p steps)": ((12, 1000), 800, True, [(0, 12, 0, 1000), (0, 12, 333, 777)]),
    "long lines": ((3, 4000), 700, True, [(0, 3, 0, 4000), (1, 3, 3000, 3999)]),
    "diagonal without self": ((3000, 3000), 100, False, [(100, 140, 90, 160), (2990, 3000, 7, 2995)]),
    "far from the origin": ((60_000, 3000), 150, True, [(50_000, 50_004, 100, 3000)]),
    "a long minor axis": ((4, 1_000_000), 2000, True, [(0, 4, 999_000, 1_000_000)]),
}
#: A case whose lines take F4's exact test (about two trials a line), in both of its products.
EXACT_REGIME = ((1000, 1000), 240, False, [(0, 200, 0, 1000), (0, 200, 500, 1000)])

LAWS = (Scalar(0.5), Normal(0.2, 1.5), Uniform(-1.0, 2.0), LogNormal(-0.5, 0.8), Exponential(1.5))
DTYPES = (np.float32, np.float64)


ONE = Scalar(1.0)


def _spec(shape, num_conn, include_self, law=ONE, dtype=np.float64, seed=5, orientation="R"):
    return Spec(shape, orientation, None, law, seed, dtype, include_self, num_conn=num_conn)


def _law_id(law):
    return type(law).__name__


# ------------------------------------------------------------------ host
#: The device qualifiers as plain C++: the start of every host build of the
#: CUDA headers below.
_HOST_QUALIFIERS = r"""#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
"""


def _build_host(folder, name, source, flags=()):
    """``source`` (C++ over the CUDA headers) compiled for the host as ``folder / name``; skips without g++."""
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler for the host build of the CUDA code")
    (folder / f"{name}.cpp").write_text(source)
    binary = folder / name
    # -ffp-contract=off: no fused multiply-add, as --fmad=false on the device.
    build = subprocess.run([compiler, "-std=c++17", "-O2", "-ffp-contract=off", f"-I{KERNELS}", *flags, "-o",
                            str(binary), str(folder / f"{name}.cpp"), "-lm"], capture_output=True, text=True,
                           check=False)
    assert build.returncode == 0, build.stderr[-4000:]
    return binary


_HARNESS = _HOST_QUALIFIERS + r"""
// The fixed-number walk of jitc_rules.cuh compiled for the host: the device
// qualifiers become plain C++ (above), the generator carries the fields the
// walk reads, Philox comes from jitc_random.cuh.
#include <stdio.h>
#include <stdlib.h>
#include "jitc_random.cuh"
#include "jitc_logc.cuh"

struct jitc_law_args { double a, b; };
struct jitc_gen {
    jitc_u32 key0, key1;
    int skip_diagonal;
    jitc_law_args law;
    int num_conn, n_eff;
};
static inline jitc_words jitc_philox_rk(jitc_u32 c0, jitc_u32 c1, jitc_u32 c2, jitc_u32 c3, const jitc_gen &g)
{
    return jitc_philox(c0, c1, c2, c3, g.key0, g.key1);
}
// Declared only: BernoulliWalk forwards to them, and is not instantiated here.
template <typename F> void jitc_walk(const jitc_gen &, jitc_u32, jitc_u32, int, F &&);
template <typename W, typename Law, bool PLAIN, int DRAWS, typename A, typename B, typename C, typename D>
void jitc_walk_items(const jitc_gen &, jitc_u32, int, int, int, int, int, int, int, int, A &&, B &&, C &&, D &&);
#include "jitc_rules.cuh"

// UniformLaw's weight (a + b * u).
struct HostUniformLaw {
    static constexpr bool CONSTANT = false;
    template <typename W, bool SMEM_ROWS>
    static W weight(const jitc_law_args &p, jitc_u32 word, jitc_u32) { return (W)(p.a + p.b * jitc_uniform(word)); }
};

// stdin: key0 key1 skip_diagonal num_conn n_eff a b, then windows k0 k1 j0 j1.
// stdout per window: "W k j slot" (walk, the kernels' windows: entries
// from j0 on) and "P k j weight" (walk_items, the products' walk), then "L k"
// after each line of walk_items.
int main()
{
    jitc_gen g = {};
    if (scanf("%u %u %d %d %d %lf %lf", &g.key0, &g.key1, &g.skip_diagonal, &g.num_conn, &g.n_eff, &g.law.a,
              &g.law.b) != 7)
        return 2;
    int k0, k1, j0, j1;
    while (scanf("%d %d %d %d", &k0, &k1, &j0, &j1) == 4) {
        for (int k = k0; k < k1; ++k)
            FixedNumberWalk::walk(g, (jitc_u32)k, 0u, j1, [&](int pos, jitc_u32 t, int i) {
                if (pos >= j0) printf("W %d %d %u\n", k, pos, 4u * t + (unsigned)i);
            });
        int base = 0;
        FixedNumberWalk::walk_items<double, HostUniformLaw, false, 1>(
            g, 0u, 0, k1 - k0, 1, 0, 1, j0, j1, j0, [&](int li) { return k0 + li; }, [&](int b) { base = b; },
            [&](int line, int b, int p, double w) { printf("P %d %d %.17g\n", line, b + p + j0, w); },
            [&](int li) { printf("L %d\n", k0 + li); });
        if (base != -j0) return 3;
    }
    return 0;
}
"""


#: The skip margin of a second host build of the walk (the device's is
#: 2**-44): wide enough that about a third of the trials leave the log
#: candidate undecided and take the pinned ln (jitc_fixed_skip).
WIDE_SKIP_MARGIN = "0.25"
#: The exact test's margin in that build (the device's is 2**-45): wide
#: enough that many exact tests leave the candidates undecided and take the
#: pinned logarithms (jitc_fixed_exact_accept).
WIDE_EXACT_MARGIN = "0x1p-10"
#: The squeeze's bound scale in that build (the device's is 1/3 (1 + 2**-48)
#: rounded up, jitc_fixed_proposal): large enough that every trial with a
#: skip above 0 computes F4's two bounds (jitc_fixed_deltas).
WIDE_DELTA_UP_SCALE = "0x1p40"


@pytest.fixture(scope="module", params=["device margin", "wide margin"])
def host_walk(tmp_path_factory, request):
    """Run the CUDA walk compiled for the host: ``run(params, windows) -> stdout lines``.

    Built twice: with the device's margins, and with wide ones under which
    the walk's exact skip route, the squeeze's exact bounds and the exact
    test's pinned logarithms run often (the same positions either way).
    """
    margin = [f"-DJITC_FIXED_SKIP_MARGIN={WIDE_SKIP_MARGIN}", f"-DJITC_FIXED_EXACT_MARGIN={WIDE_EXACT_MARGIN}",
              f"-DJITC_FIXED_DELTA_UP_SCALE={WIDE_DELTA_UP_SCALE}"] if request.param == "wide margin" else []
    binary = _build_host(tmp_path_factory.mktemp("host_walk"), "harness", _HARNESS, margin)

    def run(params, windows):
        n_eff = _rule_fixed.line_length(params.minor_size, not params.skip_diagonal)
        text = f"{params.key0} {params.key1} {int(params.skip_diagonal)} {params.num_conn} {n_eff} {params.a!r} " \
               f"{params.b!r}\n" + "".join(f"{k0} {k1} {j0} {j1}\n" for k0, k1, j0, j1 in windows)
        result = subprocess.run([str(binary)], input=text, capture_output=True, text=True, check=False)
        assert result.returncode == 0, result.stderr
        return result.stdout.splitlines()

    return run


def _host_check(run, spec, windows):
    """The host-built walk against the reference: positions, slots, weights, line order."""
    params = spec.kernel_params()
    lines = run(params, windows)
    at = 0
    for k0, k1, j0, j1 in windows:
        # walk(): the kernels' (k, j, slot) of the window.
        k = np.arange(k0, k1, dtype=np.int64)
        item, pos, slot = _rule_fixed.walk_lines((params.key0, params.key1), k, params.minor_size, params.num_conn,
                                                 params.skip_diagonal, np.full(k.size, j1))
        keep = pos >= j0
        order = np.lexsort((pos[keep], k[item[keep]]))
        expected = [f"W {a} {b} {c}" for a, b, c in zip(k[item[keep]][order], pos[keep][order], slot[keep][order])]
        got = [line for line in lines[at:at + len(expected)]]
        assert got == expected, (spec, (k0, k1, j0, j1))
        at += len(expected)
        # walk_items(): per line, its (j, weight) then the line's end.
        ref_k, ref_j, ref_w = reference.coo(params, k0, k1, j0, j1, np.float64)
        expected = []
        for line in range(k0, k1):
            here = ref_k == line
            expected += [f"P {line} {j} {w!r}" for j, w in zip(ref_j[here], ref_w[here].tolist())]
            expected.append(f"L {line}")
        got = []
        for line in lines[at:at + len(expected)]:
            tag, *fields = line.split()
            got.append(f"P {fields[0]} {fields[1]} {float(fields[2])!r}" if tag == "P" else line)
        assert got == expected, (spec, (k0, k1, j0, j1))
        at += len(expected)
    assert at == len(lines)


@pytest.mark.parametrize("regime", list(REGIMES))
def test_the_cuda_walk_built_for_the_host_equals_the_reference(host_walk, regime):
    shape, num_conn, include_self, windows = REGIMES[regime]
    if shape[1] > 100_000:
        windows = [(0, 2, 999_000, 1_000_000)]  # the reference's coo of the window stays small
    # Two seeds where the reference's walk is quick (it loops over the entries of a line).
    for seed in (5, 2**64 - 1)[: 2 if num_conn <= 300 else 1]:
        _host_check(host_walk, _spec(shape, num_conn, include_self, Uniform(-1.0, 2.0), seed=seed), windows)


_LOG_HARNESS = _HOST_QUALIFIERS + r"""
// jitc_log_candidate_of against the pinned ln, for the doubles on stdin (hex
// bits): the largest |L' - ln(x)| / |ln(x)|.
#include <math.h>
#include <stdio.h>
#include <string.h>
#include "jitc_random.cuh"
#include "jitc_logc.cuh"
int main()
{
    unsigned long long bits;
    double worst = 0.0;
    while (scanf("%llx", &bits) == 1) {
        double x;
        memcpy(&x, &bits, sizeof x);
        const double exact = jitc_ln(x);
        const double rel = fabs(jitc_log_candidate_of(x) - exact) / fabs(exact);
        if (rel > worst) worst = rel;
    }
    printf("%.17g\n", worst);
    return 0;
}
"""


def test_the_log_candidate_of_any_double_below_one_is_within_its_bound(tmp_path):
    # The exact test decides from jitc_log_candidate_of(Y), Y a product of
    # factors in [2**-100, 1): its bound (jitc_logc.cuh, 2**-46.9 of the pinned
    # ln) measured on doubles over that range, at every row and next to 1.
    binary = _build_host(tmp_path, "log", _LOG_HARNESS)
    rng = np.random.default_rng(46)
    x = np.concatenate([
        np.exp2(-rng.uniform(0.0, 100.0, 400_000)),          # every binade down to 2**-100
        1.0 - rng.uniform(0.0, 2.0**-9, 100_000),           # the last row, next to 1
        1.0 - np.ldexp(1.0, -rng.integers(1, 54, 1_000)),   # 1 - 2**-k, k <= 53
        np.array([2.0**-100, 0.5, np.nextafter(1.0, 0.0)]),
    ])
    x = x[(x > 0.0) & (x < 1.0)]
    text = "\n".join(f"{b:x}" for b in x.view(np.uint64).tolist())
    result = subprocess.run([str(binary)], input=text, capture_output=True, text=True, check=True)
    assert 0.0 < float(result.stdout) <= 2.0**-46.9


def test_the_host_built_walk_takes_the_exact_test(host_walk, monkeypatch):
    shape, num_conn, include_self, windows = EXACT_REGIME
    spec = _spec(shape, num_conn, include_self, Uniform(0.5, 1.0), seed=3)
    _assert_exact_tests_run(spec, windows[0], monkeypatch)
    _host_check(host_walk, spec, windows)


def _assert_exact_tests_run(spec, window, monkeypatch):
    """The reference's walk of ``window`` reaches F4's exact test (else the case tests nothing of it)."""
    calls = []
    exact = _rule_fixed._exact_accept
    monkeypatch.setattr(_rule_fixed, "_exact_accept", lambda *args: calls.append(args) or exact(*args))
    reference.coo(spec.kernel_params(), *window, np.float64)
    monkeypatch.setattr(_rule_fixed, "_exact_accept", exact)
    # Both products of Y (S <= n - 1 and S > n - 1), accepted and rejected.
    shorter = [skip <= n - 1 for skip, n, *_ in calls]
    outcomes = {exact(*args) for args in calls}
    assert any(shorter) and not all(shorter) and outcomes == {True, False}, "pick a case taking the exact test"


# ------------------------------------------------ the kernels on the host
#: (spec, windows) run through the GPU kernels emulated on the host
#: (tests/gpu_host_emulation.py): fixed-number cases for each (W, Law)
#: compiled there, and a Bernoulli case that checks the emulation itself.
EMULATED = [
    (_spec((300, 300), 299, False, Uniform(-1.0, 2.0)), [(0, 300, 0, 300), (290, 300, 280, 300)]),
    (_spec((64, 3000), 40, True, Uniform(-1.0, 2.0)), [(10, 50, 1234, 2500)]),
    (_spec((12, 1000), 800, True, LogNormal(-0.5, 0.8), seed=7), [(0, 12, 333, 777)]),
    (_spec((3000, 3000), 100, False, Scalar(0.5), np.float32), [(100, 140, 90, 160), (2990, 3000, 7, 2995)]),
    (_spec((1000, 1000), 240, False, Uniform(0.5, 1.0), seed=3, orientation="C"), [(0, 40, 0, 1000)]),
    (_spec((40, 3000), 1, True, Exponential(1.5), np.float32), [(0, 40, 0, 3000)]),
    (Spec((200, 5000), "R", 0.01, Uniform(-1.0, 2.0), 5, np.float64), [(0, 30, 0, 5000), (3, 40, 1000, 4500)]),
]


@pytest.fixture(scope="module")
def host_kernels(tmp_path_factory):
    from gpu_host_emulation import build

    return build(tmp_path_factory.mktemp("gpu_host"))


@pytest.mark.parametrize("geometry", ["default", "small tiles"])
@pytest.mark.parametrize("case", range(len(EMULATED)), ids=lambda i: f"{EMULATED[i][0].num_conn}-{_law_id(EMULATED[i][0].law)}")
def test_the_gpu_kernels_run_on_the_host_equal_the_reference(host_kernels, case, geometry):
    # The kernels' source with its fixed-number walk, compiled for the CPU:
    # windows, connection lists and counts bit for bit; one-hot products
    # (one connection per output) bit for bit; other products within
    # rounding.  "small tiles": the global-memory paths, more threads.
    spec, windows = EMULATED[case]
    kernels = host_kernels
    if geometry == "small tiles":
        kernels = copy.copy(host_kernels)
        kernels.threads, kernels.tile_bytes, kernels.lines_per_seg = 4, 256, 2
    params, dtype = spec.kernel_params(), spec.dtype
    rng = np.random.default_rng(case)
    tol = {"rtol": 1e-4, "atol": 1e-4} if dtype == np.float32 else {"rtol": 1e-12, "atol": 1e-12}
    for window in windows:
        k0, k1, j0, j1 = window
        dense = assert_window_matches_reference(kernels, params, window, dtype, scales=(1.0, 1e-300))
        width, lines = j1 - j0, k1 - k0
        if width * lines <= 300 * 300:
            assert_same_bits(kernels.gather(params, *window, np.eye(width, dtype=dtype), dtype), dense)
            assert_same_bits(kernels.scatter(params, np.arange(k0, k1), np.eye(lines, dtype=dtype), j0, j1, dtype),
                             np.ascontiguousarray(dense.T))
        column, row = width // 2, lines // 2
        one = np.zeros((width, 1), dtype=dtype)
        one[column] = 1
        assert_same_bits(kernels.gather(params, *window, one, dtype), dense[:, column:column + 1])
        assert_same_bits(kernels.scatter(params, [k0 + row], np.ones((1, 1), dtype), j0, j1, dtype),
                         np.ascontiguousarray(dense[row:row + 1].T))
        vectors = rng.normal(size=(width, 3)).astype(dtype)
        np.testing.assert_allclose(kernels.gather(params, *window, vectors, dtype),
                                   reference.gather(params, *window, vectors, dtype), **tol)
        active = np.flatnonzero(rng.random(lines) < 0.4) + k0
        values = rng.normal(size=(active.size, 2)).astype(dtype)
        np.testing.assert_allclose(kernels.scatter(params, active, values, j0, j1, dtype),
                                   reference.scatter(params, active, values, j0, j1, dtype), **tol)
        events = reference.scatter(params, active, None, j0, j1, dtype)
        np.testing.assert_allclose(kernels.scatter(params, active, None, j0, j1, dtype), events, **tol)
        if isinstance(spec.law, Scalar):
            counts = kernels.scatter(params, active, None, j0, j1, dtype, counts=True)
            assert_same_bits((counts * np.float64(np.dtype(dtype).type(params.a)))[:, None], events)
        # The deterministic scatter (fixed point, one level: |values| in [0.5, 2)).
        values = (rng.uniform(0.5, 2.0, size=(active.size, 3)) * rng.choice([-1, 1], size=(active.size, 3)))
        values = values.astype(dtype)
        np.testing.assert_allclose(kernels.scatter_fixed(params, active, values, j0, j1, dtype),
                                   reference.scatter(params, active, values, j0, j1, dtype), **tol)
        np.testing.assert_allclose(kernels.scatter_fixed(params, active, None, j0, j1, dtype), events, **tol)


# ------------------------------------------------------------------ nvcc
def _source_and_instances():
    from kernel_instances import source_and_instances

    return source_and_instances(ROOT)


def test_the_kernels_of_both_rules_compile_with_nvcc(tmp_path):
    nvcc = shutil.which("nvcc")
    if nvcc is None:
        pytest.skip("nvcc is not installed")
    code, names, _ = _source_and_instances()
    assert "jitc_gather<float, float, 1, true, NormalLaw, false, FixedNumberWalk>" in names
    assert "jitc_dense<float, NormalLaw, BernoulliWalk>" in names and len(names) >= 40
    from kernel_instances import instantiated

    source = tmp_path / "jitc_all.cu"
    source.write_text(instantiated(code, names))
    # The options of _gpu_launch._OPTIONS (NVRTC's spelling of -fmad is nvcc's
    # too), then -ftz=true, which CuPy appends to every compile.
    result = subprocess.run([nvcc, "-arch=sm_90", "-std=c++17", "-fmad=false", "-DJITC_WITH_UTILS", "-ptx",
                             "-ftz=true", str(source), "-o", str(tmp_path / "jitc_all.ptx")], capture_output=True,
                            text=True, check=False)
    assert result.returncode == 0, result.stderr[-4000:]
    ptx = (tmp_path / "jitc_all.ptx").read_text()
    assert ptx.count(".entry _Z") >= len(names)
    # --fmad=false holds for the walk: a kernel whose law has no explicit
    # fma() (the products' accumulations and the float32 routes have)
    # carries no fused multiply-add but the log candidate's six
    # (jitc_logc.cuh: one row of its table read per candidate), nor does the
    # exact skip; the exact test has two candidates.
    for name in ("_Z12jitc_degreesIf9ScalarLaw15FixedNumberWalkEv", "_Z23jitc_fixed_exact_accept",
                 "_Z21jitc_fixed_skip_exact"):
        start = re.search(r"\.(entry|func)[^;{]*" + name + r"[^;{]*\{", ptx).end()  # the definition
        body = ptx[start:ptx.index("\n}\n", start)]
        fused = re.findall(r"\bfma\.\S+", body)
        # The walk evaluates one candidate, the exact test two (A' and LY'),
        # the exact skip none.
        candidates = {"_Z12": 1, "_Z23": 2, "_Z21": 0}[name[:4]]
        assert fused == ["fma.rn.f64"] * 6 * candidates and "ret;" in body, (name, fused)
        assert ("jitc_log_table" in body) == (candidates > 0), name
    # Under -ftz=true no float32 conversion or compare may flush subnormals
    # (weights, operand entries and results keep the spec's bits): only the
    # float32 gap fast path (values provably normal) and the atomic scatter
    # (float atomics flush anyway) compute with .ftz.
    function = None
    for line in ptx.splitlines():
        found = re.match(r"\.(?:visible |weak )?\.(?:entry|func)\s+(?:\([^)]*\)\s*)?(\w+)", line)
        if found:
            function = found.group(1)
        opcode = line.split()[0] if line.split() else ""
        if ".ftz" in opcode and opcode.startswith(("cvt", "setp")):
            assert opcode.startswith("setp") and function.startswith("_Z12jitc_scatterI"), (function, line.strip())


def test_the_kernels_of_both_rules_compile_with_nvrtc():
    # NVRTC is what CuPy compiles the kernels with, and it refuses some code
    # that nvcc accepts: every instance above, through the same source and
    # options as _gpu_launch._function (-ftz=true as CuPy appends it).
    from nvrtc_compile import compile_ptx, library

    lib = library()
    if lib is None:
        pytest.skip("no NVRTC library (the nvidia-cuda-nvrtc wheel of the test extra)")
    code, names, options = _source_and_instances()
    options += ("-DJITC_WITH_UTILS", "-ftz=true", "-arch=compute_90")
    ok, log, lowered = compile_ptx(lib, code, names, options)
    assert ok, log[-4000:]
    assert sorted(lowered) == sorted(names), set(names) - set(lowered)


# ------------------------------------------------------------------ GPU
@pytest.fixture(scope="module")
def gpu():
    """``(lazyconn.kernels.gpu, cupy)``; skips without CuPy or a usable GPU."""
    from gpu_guard import cupy_or_skip

    cp = cupy_or_skip()
    from lazyconn.kernels import gpu as module

    return module, cp


@pytest.fixture
def host_reference(monkeypatch):
    """NumPy operands of the public API run on the NumPy reference (the oracle)."""
    monkeypatch.setenv("LAZYCONN_BACKEND", "reference")


def _one_hot_checks(module, cp, params, window, dtype, value_dtype):
    """Products whose every output is one connection's weight (or 0): bit-equal to the dense window."""
    k0, k1, j0, j1 = window
    expected = reference.dense(params, *window, dtype).astype(value_dtype)
    width, lines = j1 - j0, k1 - k0
    # gather with the identity: out[k, c] = L[k, j0 + c].
    assert_same_bits(module.gather(params, *window, cp.eye(width, dtype=value_dtype), dtype), expected)
    if width:
        column = width // 2  # one column: the one-column kernel
        vector = cp.zeros((width, 1), dtype=value_dtype)
        vector[column] = 1
        assert_same_bits(module.gather(params, *window, vector, dtype), expected[:, column:column + 1])
    # scatter with identity values: out[j - j0, c] = L[k0 + c, j] (float adds of one term and zeros).
    with lazyconn.set_options(deterministic=False):
        got = module.scatter(params, cp.arange(k0, k1, dtype=cp.int64), cp.eye(lines, dtype=value_dtype), j0, j1,
                             dtype)
    assert_same_bits(got, np.ascontiguousarray(expected.T))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("law", LAWS, ids=_law_id)
@pytest.mark.parametrize("regime", list(REGIMES))
def test_gpu_windows_and_one_hot_products_are_bit_equal(gpu, regime, law, dtype):
    module, cp = gpu
    shape, num_conn, include_self, windows = REGIMES[regime]
    params = _spec(shape, num_conn, include_self, law, dtype).kernel_params()
    for window in windows:
        dense = assert_window_matches_reference(module, params, window, dtype, scales=(1.0, -3.0, 1e-300))
        if window[2:] == (0, shape[1]):
            assert np.all((dense != 0).sum(axis=1) == num_conn)
        if (window[1] - window[0]) * (window[3] - window[2]) <= 300 * 300:
            _one_hot_checks(module, cp, params, window, dtype, dtype)
            _one_hot_checks(module, cp, params, window, dtype, np.float64)


@pytest.mark.gpu
@pytest.mark.parametrize("law", [Scalar(0.5), Normal(0.2, 1.5)], ids=_law_id)
def test_gpu_lines_taking_the_exact_test_are_bit_equal(gpu, law, monkeypatch):
    module, cp = gpu
    shape, num_conn, include_self, windows = EXACT_REGIME
    spec = _spec(shape, num_conn, include_self, law, np.float32, seed=3)
    _assert_exact_tests_run(spec, windows[0], monkeypatch)
    for window in windows:
        assert_window_matches_reference(module, spec.kernel_params(), window, np.float32)
        _one_hot_checks(module, cp, spec.kernel_params(), window, np.float32, np.float32)


@pytest.mark.gpu
@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
@pytest.mark.parametrize("law", LAWS, ids=_law_id)
def test_gpu_products_match_the_reference(gpu, law, dtype, deterministic):
    module, cp = gpu
    with lazyconn.set_options(deterministic=deterministic):
        for regime in ("sparse lines (series steps)", "dense lines (ln1p steps)", "diagonal without self"):
            shape, num_conn, include_self, windows = REGIMES[regime]
            params = _spec(shape, num_conn, include_self, law, dtype).kernel_params()
            for seed, window in enumerate(windows):
                for n_cols, value_dtype in ((1, dtype), (5, np.float64), (9, np.float32)):
                    assert_products_match_reference(module, params, window, dtype, n_cols=n_cols,
                                                    value_dtype=value_dtype, seed=seed, xp=cp)


@pytest.mark.gpu
def test_gpu_small_launch_geometry(gpu, monkeypatch):
    # Few threads, tiny tiles (the global-memory path) and short segments:
    # lines dealt over many CTAs and threads.
    module, cp = gpu
    from lazyconn.kernels import _gpu_launch

    monkeypatch.setattr(_gpu_launch, "_THREADS", 32)
    monkeypatch.setattr(_gpu_launch, "_TILE_BYTES", 1024)
    monkeypatch.setattr(_gpu_launch, "_MIN_LINES_PER_SEGMENT", 3)
    for regime in ("sparse lines (series steps)", "diagonal without self", "all but the diagonal"):
        shape, num_conn, include_self, windows = REGIMES[regime]
        for law in (Scalar(0.5), Normal(0.2, 1.5)):
            params = _spec(shape, num_conn, include_self, law, np.float32).kernel_params()
            for window in windows:
                assert_window_matches_reference(module, params, window, np.float32)
                _one_hot_checks(module, cp, params, window, np.float32, np.float32)
                for deterministic in (True, False):
                    with lazyconn.set_options(deterministic=deterministic):
                        assert_products_match_reference(module, params, window, np.float32, n_cols=3, xp=cp)


@pytest.mark.gpu
def test_gpu_event_lines_spread_over_the_grid(gpu, monkeypatch):
    # Lines found on the device, without a tile, are spread over every CTA
    # of the grid (jitc_scatter_lines), a warp's worth at least each: few
    # lines on a grid of many CTAs, many lines on a grid of few.  The
    # products are the reference's whatever the spread.
    module, cp = gpu
    from lazyconn.kernels import _gpu_launch

    rng = np.random.default_rng(3)
    values = rng.standard_normal((4000, 1)).astype(np.float32)
    for law in (Scalar(0.5), Normal(0.2, 1.5)):
        params = _spec((4000, 500), 20, True, law, np.float32).kernel_params()
        for active in (0.001, 0.05, 1.0):
            spikes = rng.random(4000) < active
            lines = np.flatnonzero(spikes).astype(np.int64)
            counts = reference.scatter(params, lines, None, 0, 500, np.float32)
            sums = reference.scatter(params, lines, values[lines], 0, 500, np.float32)
            for per_sm in (1, 3, 64):
                monkeypatch.setattr(_gpu_launch, "_CTAS_PER_SM_SPREAD", per_sm)
                for deterministic in (True, False):
                    with lazyconn.set_options(deterministic=deterministic):
                        got = module.scatter_rows(params, 0, cp.asarray(spikes[:, None]), True, 0, 500, np.float32,
                                                  np.float32)
                        np.testing.assert_allclose(cp.asnumpy(got), counts, rtol=1e-5, atol=1e-4)
                        got = module.scatter_rows(params, 0, cp.asarray(values * spikes[:, None]), False, 0, 500,
                                                  np.float32, np.float32)
                        np.testing.assert_allclose(cp.asnumpy(got), sums, rtol=1e-5, atol=1e-4)


@pytest.mark.gpu
@pytest.mark.parametrize("deterministic", [True, False])
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_gpu_binary_scalar_events_count_exactly(gpu, dtype, deterministic):
    # Binary events with a Scalar law are integer counts times the weight:
    # exact, so equal to the reference's float64 sums rounded once.
    module, cp = gpu
    params = _spec((3000, 3000), 100, False, Scalar(0.5), dtype).kernel_params()
    rng = np.random.default_rng(1)
    spikes = rng.random(3000) < 0.3
    lines = np.flatnonzero(spikes).astype(np.int64)
    expected = reference.scatter(params, lines, None, 0, 3000, dtype).astype(dtype)
    with lazyconn.set_options(deterministic=deterministic):
        assert_same_bits(module.scatter(params, cp.asarray(lines), None, 0, 3000, dtype), expected)
        rows = cp.asarray(spikes[:, None])
        assert_same_bits(module.scatter_rows(params, 0, rows, True, 0, 3000, dtype, dtype), expected)
        everyone = module.scatter_rows(params, 0, cp.ones((3000, 1), dtype=bool), True, 0, 3000, dtype, dtype)
    # Every line sends exactly K: the column sums of all lines add up to K * lines * weight.
    assert float(to_numpy(everyone).astype(np.float64).sum()) == 100 * 3000 * 0.5


@pytest.mark.gpu
@pytest.mark.parametrize("law", [Normal(0.2, 1.5), LogNormal(-0.5, 0.8)], ids=_law_id)
def test_gpu_deterministic_products_repeat_bit_for_bit(gpu, law):
    module, cp = gpu
    params = _spec((2000, 3000), 150, True, law, np.float32).kernel_params()
    rng = np.random.default_rng(2)
    vectors = cp.asarray(rng.normal(size=(3000, 3)).astype(np.float32))
    rows = cp.asarray((rng.normal(size=(2000, 2)) * (rng.random((2000, 1)) < 0.2)).astype(np.float32))
    with lazyconn.set_options(deterministic=True):
        first = (module.gather(params, 0, 2000, 0, 3000, vectors, np.float32),
                 module.scatter_rows(params, 0, rows, False, 0, 3000, np.float32, np.float32))
        again = (module.gather(params, 0, 2000, 0, 3000, vectors, np.float32),
                 module.scatter_rows(params, 0, rows, False, 0, 3000, np.float32, np.float32))
    for a, b in zip(first, again):
        assert_same_bits(a, to_numpy(b))


@pytest.mark.gpu
@pytest.mark.parametrize("dtype", DTYPES, ids=str)
def test_gpu_public_api_fixed_in_degree(gpu, host_reference, dtype):
    # A C matrix with num_conn=K: every column has exactly K inputs, on the
    # device as on the host; its transpose is the R matrix of the same seed.
    _, cp = gpu
    conn = lazyconn.from_spec(_spec((500, 300), 25, True, Normal(0.2, 1.5), dtype, seed=9, orientation="C"))
    expected = conn.todense()
    dense = conn.todense(xp=cp)
    assert_same_bits(dense, expected)
    assert np.all((to_numpy(dense) != 0).sum(axis=0) == 25)
    transposed = lazyconn.from_spec(_spec((300, 500), 25, True, Normal(0.2, 1.5), dtype, seed=9, orientation="R"))
    assert_same_bits(transposed.todense(xp=cp), np.ascontiguousarray(expected.T))
    rng = np.random.default_rng(4)
    x = rng.normal(size=300).astype(dtype)
    y = rng.normal(size=500).astype(dtype)
    tol = {np.float32: 1e-4, np.float64: 1e-11}[dtype]
    np.testing.assert_allclose(to_numpy(conn @ cp.asarray(x)), expected.astype(np.float64) @ x, rtol=tol, atol=tol)
    np.testing.assert_allclose(to_numpy(cp.asarray(y) @ conn), y @ expected.astype(np.float64), rtol=tol, atol=tol)
    spikes = rng.random(500) < 0.1
    np.testing.assert_allclose(to_numpy(lazyconn.BinaryArray(cp.asarray(spikes)) @ conn),
                               spikes.astype(np.float64) @ expected, rtol=tol, atol=tol)


@pytest.mark.gpu
def test_gpu_generator_record_carries_the_rule(gpu):
    from lazyconn.kernels import _gpu_launch

    device, host = _gpu_launch.gen_layout()
    assert device == host
    record = _gpu_launch._gen_args(_spec((30, 40), 8, True).kernel_params()).view(_gpu_launch._GEN_DTYPE)[0]
    assert (int(record["num_conn"]), int(record["n_eff"])) == (8, 40)
    record = _gpu_launch._gen_args(_spec((40, 40), 8, False).kernel_params()).view(_gpu_launch._GEN_DTYPE)[0]
    assert (int(record["num_conn"]), int(record["n_eff"]), int(record["skip_diagonal"])) == (8, 39, 1)
    bernoulli = Spec((30, 40), "R", 0.2, Scalar(1.0), 0, np.float64).kernel_params()
    record = _gpu_launch._gen_args(bernoulli).view(_gpu_launch._GEN_DTYPE)[0]
    assert (int(record["num_conn"]), int(record["n_eff"])) == (0, 0)


@pytest.mark.gpu
def test_gpu_refuses_a_rule_without_a_walk(gpu, monkeypatch):
    module, cp = gpu
    params = _spec((30, 40), 8, True).kernel_params()
    toy = rules.Rule(name="Toy", code=params.rule, params=(), check=None, block_log2=None, reference_walk=None,
                     numba_walk="", cuda_type="", domain=9)
    monkeypatch.setattr(rules, "by_code", lambda code: toy)
    for call in (lambda: module.dense(params, 0, 3, 0, 40, np.float64),
                 lambda: module.coo(params, 0, 3, 0, 40, np.float64),
                 lambda: module.degrees(params, 0, 3, 0, 40, np.float64),
                 lambda: module.gather(params, 0, 3, 0, 40, cp.ones((40, 1)), np.float64),
                 lambda: module.scatter(params, cp.arange(3), None, 0, 40, np.float64),
                 lambda: module.scatter_rows(params, 0, cp.ones((3, 1), dtype=bool), True, 0, 40, np.float64,
                                             np.float64)):
        with pytest.raises(NotImplementedError, match="no kernels for the Toy connection rule.*LAZYCONN_BACKEND"):
            call()


@pytest.mark.gpu
def test_gpu_fixed_indegree_demo_network(gpu):
    # The demo's network on the GPU: its spike products equal the exact sum
    # rounded once for the Scalar inhibitory weights (binary events count
    # in integers) and within float32 rounding of it for the Normal
    # excitatory ones; a simulation with one batched product per step equals
    # the one stepped product by product.
    from lazyconn import demo

    _, cp = gpu
    params = demo.fixed_indegree_parameters()
    conn_exc, conn_inh, derived = demo.build_network(1000, seed=5, params=params)
    spikes = np.random.default_rng(3).random(conn_exc.shape[0]) < 0.05
    for conn in (conn_exc, conn_inh):
        s = spikes[: conn.shape[0]]
        exact = s.astype(np.float64) @ conn.todense().astype(np.float64)
        got = cp.asnumpy(cp.asarray(s) @ conn)
        assert got.dtype == conn.dtype
        if conn is conn_inh:
            np.testing.assert_array_equal(got, exact.astype(conn.dtype))
        else:
            np.testing.assert_allclose(got, exact, rtol=1e-5, atol=1e-6 * np.abs(exact).max())
    batched = demo.simulate(conn_exc, conn_inh, derived, 200, seed=5, params=params, xp=cp, progress=False)
    stepped = demo.simulate(conn_exc, conn_inh, derived, 200, seed=5, params=params, xp=cp, progress=False,
                            batch=False)
    assert batched["counts"].sum() > 0
    np.testing.assert_array_equal(batched["counts"], stepped["counts"])
    np.testing.assert_array_equal(batched["raster"], stepped["raster"])
