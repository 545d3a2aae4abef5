"""The GPU weight laws' float32 routes, compiled for the host, for tests without a GPU.

``jitc_random.cuh``, ``jitc_exp.cuh`` and ``jitc_laws.cuh`` (the very text
the GPU backend hands NVRTC) are compiled by the system's C++ compiler with
contraction off, as device code: ``__CUDA_ARCH__`` is defined and a prelude
emulates the CUDA built-ins they use (bit casts, ``fma``, the shared-memory
loads of the Normal route's table from a host array).  A small driver runs a
law's ``weight<float>`` (table rows from global memory),
``weights4<float>`` (rows from the emulated shared-memory copy that
``stage`` fills) and the route alone (``weight32``) on given words.

The routes' candidates use only fused multiply-adds, IEEE ``+ - *`` and
bit operations, each correctly rounded on both sides, so the host computes
the device's very bits; what it cannot show is scheduling.  ``tests/gpu_host_emulation.py``
of the fixed-number work runs whole kernels; this one runs the law structs
only, with the float32 routes that it leaves out.

Use :func:`build` (skips without ``g++``), then :func:`run`.
"""

import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lazyconn import laws
from lazyconn.kernels import _ndtri_fast

KERNELS = Path(__file__).resolve().parents[1] / "lazyconn" / "kernels"
#: Law structs the driver is compiled for.
LAWS = ("NormalLaw", "LogNormalLaw", "ExponentialLaw")
#: Row stride of the device's ndtri table (_gpu_launch._NDTRI_STRIDE).
NDTRI_STRIDE = 10

_PRELUDE = r"""// Host emulation of the CUDA built-ins the law headers use.
#define __CUDA_ARCH__ 900
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#define __device__
#define __host__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __align__(n) __attribute__((aligned(n)))
struct jitc_dim3 { unsigned x, y, z; };
static jitc_dim3 threadIdx = {0, 0, 0}, blockDim = {1, 1, 1};
struct double2 { double x, y; };
static unsigned char jitc_smem_host[1 << 15];
static inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline long long __double_as_longlong(double x) { long long b; memcpy(&b, &x, sizeof b); return b; }
static inline double __longlong_as_double(long long b) { double x; memcpy(&x, &b, sizeof x); return x; }
static inline int __double2hiint(double x) { return (int)(__double_as_longlong(x) >> 32); }
static inline int __double2loint(double x) { return (int)(uint32_t)__double_as_longlong(x); }
static inline double __hiloint2double(int hi, int lo)
{
    return __longlong_as_double((long long)(((uint64_t)(uint32_t)hi << 32) | (uint32_t)lo));
}
static inline unsigned __funnelshift_l(unsigned lo, unsigned hi, unsigned shift)
{
    shift &= 31;
    return shift ? (hi << shift) | (lo >> (32 - shift)) : hi;
}
static inline double2 __ldg(const double2 *p) { return *p; }
static inline double __ldg(const double *p) { return *p; }
static inline double __dsqrt_rn(double x) { return sqrt(x); }
static inline double __dmul_rn(double a, double b) { return a * b; }
static inline double __dadd_rn(double a, double b) { return a + b; }
static inline double __dsub_rn(double a, double b) { return a - b; }
static inline double __ddiv_rn(double a, double b) { return a / b; }
static inline float __uint2float_rn(unsigned x) { return (float)x; }
static inline int __float_as_int(float x) { int b; memcpy(&b, &x, sizeof b); return b; }
static inline unsigned __float_as_uint(float x) { unsigned b; memcpy(&b, &x, sizeof b); return b; }
static inline float __fmaf_rn(float a, float b, float c) { return fmaf(a, b, c); }
static inline void jitc_host_ld2(unsigned at, double &x, double &y)
{
    memcpy(&x, jitc_smem_host + at, 8);
    memcpy(&y, jitc_smem_host + at + 8, 8);
}
"""

_DRIVER = r"""
// argv: law index, a, b, bq_bound, bv_slack, a_slack, table file, words file,
// then the output files: weight<float>, weights4<float>, weight32's value,
// weight32's decided flag (uint8).
static void *jitc_read(const char *path, size_t &bytes)
{
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot read %s\n", path); exit(4); }
    fseek(f, 0, SEEK_END);
    bytes = (size_t)ftell(f);
    fseek(f, 0, SEEK_SET);
    void *data = malloc(bytes ? bytes : 1);
    if (fread(data, 1, bytes, f) != bytes) exit(4);
    fclose(f);
    return data;
}
static void jitc_write(const char *path, const void *data, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes) { fprintf(stderr, "cannot write %s\n", path); exit(4); }
    fclose(f);
}
template <typename Law> static void jitc_run(const jitc_law_args &p, const jitc_u32 *words, size_t n, char **out)
{
    Law::template stage<float>(p, jitc_smem_host);  // one thread stages every row
    float *w1 = (float *)malloc(n * 4), *w4 = (float *)malloc(n * 4), *f32 = (float *)malloc(n * 4);
    unsigned char *ok = (unsigned char *)malloc(n);
    for (size_t e = 0; e < n; ++e) {
        w1[e] = Law::template weight<float>(p, words[e]);
        ok[e] = Law::template weight32<false>(p, words[e], 0u, f32[e]) ? 1 : 0;
        float smem_value;
        const bool smem_ok = Law::template weight32<true>(p, words[e], 0u, smem_value);
        if (smem_ok != (bool)ok[e] || (smem_ok && __float_as_int(smem_value) != __float_as_int(f32[e]))) {
            fprintf(stderr, "shared and global rows differ at word %u\n", words[e]);
            exit(6);
        }
    }
    for (size_t e = 0; e + 4 <= n; e += 4) {
        const jitc_words wr = {words[e], words[e + 1], words[e + 2], words[e + 3]};
        Law::template weights4<float>(p, wr, 15u, 0u, w4[e], w4[e + 1], w4[e + 2], w4[e + 3]);
    }
    for (size_t e = n & ~(size_t)3; e < n; ++e) w4[e] = w1[e];
    jitc_write(out[0], w1, n * 4);
    jitc_write(out[1], w4, n * 4);
    jitc_write(out[2], f32, n * 4);
    jitc_write(out[3], ok, n);
}
int main(int argc, char **argv)
{
    if (argc != 13) { fprintf(stderr, "usage\n"); return 5; }
    jitc_law_args p;
    p.a = strtod(argv[2], nullptr);
    p.b = strtod(argv[3], nullptr);
    p.ndtri_bq_bound = strtod(argv[4], nullptr);
    p.ndtri_bv_slack = strtod(argv[5], nullptr);
    p.ndtri_a_slack = strtod(argv[6], nullptr);
    size_t table_bytes, word_bytes;
    p.ndtri_table = (const double *)jitc_read(argv[7], table_bytes);
    const jitc_u32 *words = (const jitc_u32 *)jitc_read(argv[8], word_bytes);
    const size_t n = word_bytes / 4;
    switch (atoi(argv[1])) {
    case 0: jitc_run<NormalLaw>(p, words, n, argv + 9); break;
    case 1: jitc_run<LogNormalLaw>(p, words, n, argv + 9); break;
    case 2: jitc_run<ExponentialLaw>(p, words, n, argv + 9); break;
    default: return 5;
    }
    return 0;
}
"""


def _host_source():
    text = "\n".join((KERNELS / name).read_text() for name in ("jitc_random.cuh", "jitc_logc.cuh", "jitc_exp.cuh", "jitc_laws.cuh"))
    # The PTX of the shared-memory row loads and of lg2.approx, as host code.
    text, n_loads = re.subn(
        r'asm\("ld\.shared\.v2\.f64 \{%0, %1\}, \[%2(?: \+ (\d+))?\];" : '
        r'"=d"\((\w+)\.x\), "=d"\(\2\.y\) : "r"\((\w+)\)\);',
        lambda m: f"jitc_host_ld2({m.group(3)} + {m.group(1) or 0}, {m.group(2)}.x, {m.group(2)}.y);", text)
    text, n_lg2 = re.subn(r'asm\("lg2\.approx\.ftz\.f32 %0, %1;" : "=f"\((\w+)\) : "f"\((\w+)\)\);',
                          r"\1 = log2f(\2);", text)
    # The conversions without flush to zero (jitc_convert): the host's casts.
    text, n_cvt = re.subn(r'asm\("cvt\.(?:rn\.f32\.f64|f64\.f32) %0, %1;" : "=[fd]"\((\w+)\) : "[fd]"\((\w+)\)\);',
                          lambda m: f"{m.group(1)} = {m.group(2)};", text)
    assert n_loads == 3 and n_lg2 == 1 and n_cvt == 2, (n_loads, n_lg2, n_cvt)
    assert "asm(" not in text
    return _PRELUDE + text + _DRIVER


def build(directory):
    """Compile the driver into ``directory``; returns its path (skips the test without ``g++``)."""
    compiler = shutil.which("g++")
    if compiler is None:
        pytest.skip("g++ is not available")
    directory = Path(directory)
    source = directory / "laws32.cpp"
    source.write_text(_host_source())
    binary = directory / "laws32"
    subprocess.run([compiler, "-std=c++17", "-O2", "-ffp-contract=off", "-fno-fast-math", "-o", str(binary),
                    str(source)], check=True, capture_output=True, text=True)
    return binary


def device_table():
    """The Normal route's table as the device holds it (_gpu_launch._ndtri_table), float64 rows of 10."""
    table = _ndtri_fast.load_table()
    padded = np.zeros((table.shape[0], NDTRI_STRIDE))
    padded[:, : table.shape[1]] = table
    padded[:, : _ndtri_fast.DEGREE + 1] *= 2.0**-32
    return padded


def law_args(a, b):
    """The law's constants as _gpu_launch._gen_args_on fills jitc_law_args (pointer aside)."""
    bound = float(_ndtri_fast.load_table()[:, -1].max())
    return (a, b, abs(b) * bound * 2.0**-32 * (1.0 + 2.0**-40), abs(b) * 2.0**-49 * (1.0 + 2.0**-40),
            abs(a) * 2.0**-50 * (1.0 + 2.0**-40))


def run(binary, law, a, b, words, directory):
    """The law's float32 weights of ``words`` on the host.

    Returns
    -------
    weight, weights4, route, decided : numpy.ndarray
        ``weight<float>`` per word, ``weights4<float>`` over groups of four
        words (every slot needed), the route's value alone and whether it
        decided (bool).
    """
    directory = Path(directory)
    table = directory / "table.bin"
    if not table.exists():
        device_table().tofile(table)
    words_file = directory / "words.bin"
    np.asarray(words, dtype=np.uint32).tofile(words_file)
    outs = [directory / f"out{i}.bin" for i in range(4)]
    args = [repr(float(x)) for x in law_args(a, b)]
    subprocess.run([str(binary), str(LAWS.index(law)), *args, str(table), str(words_file), *map(str, outs)],
                   check=True, capture_output=True, text=True)
    weight, weights4, route = (np.fromfile(o, dtype=np.float32) for o in outs[:3])
    return weight, weights4, route, np.fromfile(outs[3], dtype=np.uint8).astype(bool)


def reference64(law, a, b, words):
    """The spec's float64 weights of ``words`` (the law's NumPy reference)."""
    record = laws.get({"NormalLaw": "Normal", "LogNormalLaw": "LogNormal", "ExponentialLaw": "Exponential"}[law])
    u = (np.asarray(words, dtype=np.float64) + 0.5) * 2.0**-32
    return record.reference(u, a, b)


def reference32(law, a, b, words):
    """The spec's float32 weights of ``words``: the reference, rounded once."""
    return reference64(law, a, b, words).astype(np.float32)
