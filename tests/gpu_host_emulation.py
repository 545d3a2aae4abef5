"""The GPU backend's CUDA kernels run on the host, for tests on machines without a GPU.

The very source that :mod:`lazyconn.kernels._gpu_launch` hands NVRTC
(``jitc_random.cuh``, ``jitc_exp.cuh``, ``jitc_laws.cuh``,
``jitc_kernels.cu``, ``jitc_rules.cuh``) is compiled for the CPU by the
system's C++ compiler (contraction off, as ``--fmad=false``), behind a
prelude that emulates the CUDA built-ins (one thread at a time, shared
memory a host array, atomics plain adds; the kernels' PTX ``asm`` for
shared memory replaced by host loads and adds) and a driver that launches
``jitc_dense``, ``jitc_coo_count``/``jitc_coo_fill``, ``jitc_degrees``,
``jitc_gather``, ``jitc_scatter`` and ``jitc_scatter_fixed`` over a grid, block by block and thread
by thread.  A kernel that shares a tile between its threads runs with one
thread per block (the emulation has no concurrent threads).  What it cannot
show: the device's own rounding of intrinsics (the float32 Normal route and
the gaps' float32 fast path are left out: ``fast = 0`` takes the float64
gaps, and float32 Normal matrices have no case here), scheduling, and the
deterministic scatter's levels (one level here: jitc_scatter_fixed and
jitc_fixed_finish of jitc_fixed.cu, as _gpu_fixed runs them for usual
operands).

Use :func:`build` (skips without ``g++``), then :class:`HostKernels`'
methods, which take the reference backend's arguments.
"""

import math
import re
import shutil
import subprocess
from pathlib import Path

import numpy as np
import pytest

from lazyconn import _rule_fixed, laws, rules
from lazyconn.kernels._fixed_plan import NO_EXPONENT, term_bits

KERNELS = Path(__file__).resolve().parents[1] / "lazyconn" / "kernels"

#: (W, Law, Rule) combinations the driver is compiled for.
CASES = (
    ("double", "UniformLaw", "FixedNumberWalk"),
    ("float", "ScalarLaw", "FixedNumberWalk"),
    ("double", "LogNormalLaw", "FixedNumberWalk"),
    ("float", "ExponentialLaw", "FixedNumberWalk"),
    ("double", "UniformLaw", "BernoulliWalk"),
)

_PRELUDE = r"""// Host emulation of the CUDA built-ins the GPU kernels use: one thread at a
// time (the caller loops over blocks and threads), shared memory a host
// array, atomics plain read-modify-writes.
#define JITC_WITH_UTILS
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <string>
#include <vector>
#define __device__
#define __host__
#define __global__
#define __forceinline__ inline
#define __noinline__ __attribute__((noinline))
#define __launch_bounds__(...)
#define __shared__
#define __align__(n)
struct jitc_dim3 { unsigned x, y, z; };
static jitc_dim3 threadIdx, blockIdx, blockDim, gridDim;
static unsigned char jitc_smem_host[1 << 17];
#define jitc_smem jitc_smem_host
static inline void __syncthreads() {}
static inline unsigned __umulhi(unsigned a, unsigned b) { return (unsigned)(((uint64_t)a * b) >> 32); }
static inline int __ffs(int x) { return __builtin_ffs(x); }
static inline int min(int a, int b) { return a < b ? a : b; }
static inline int max(int a, int b) { return a > b ? a : b; }
static inline long long min(long long a, long long b) { return a < b ? a : b; }
static inline long long max(long long a, long long b) { return a > b ? a : b; }
static inline size_t __cvta_generic_to_shared(const void *p) { return (size_t)((const unsigned char *)p - jitc_smem_host); }
template <typename T> static inline T atomicAdd(T *p, T v) { const T old = *p; *p = old + v; return old; }
template <typename T> static inline T atomicOr(T *p, T v) { const T old = *p; *p = old | v; return old; }
static inline int atomicMax(int *p, int v) { const int old = *p; *p = old > v ? old : v; return old; }
static inline int atomicMin(int *p, int v) { const int old = *p; *p = old < v ? old : v; return old; }
static inline int __reduce_max_sync(unsigned, int v) { return v; }
static inline int __reduce_min_sync(unsigned, int v) { return v; }
static inline long long __double_as_longlong(double x) { long long b; memcpy(&b, &x, sizeof b); return b; }
static inline double __longlong_as_double(long long b) { double x; memcpy(&x, &b, sizeof x); return x; }
static inline unsigned __float_as_uint(float x) { unsigned b; memcpy(&b, &x, sizeof b); return b; }
template <typename T> static inline void jitc_host_red(unsigned addr, T v)
{
    T old;
    memcpy(&old, jitc_smem_host + addr, sizeof old);
    old = old + v;
    memcpy(jitc_smem_host + addr, &old, sizeof old);
}
"""

_DRIVER = r"""// The driver: one job per process, arguments on the command line, arrays in
// binary files (native byte order, C order).  <string> and <vector> are
// included in the prelude, before __noinline__ is defined: libstdc++ 13
// spells __attribute__((__noinline__)) in its headers.

static std::vector<char> jitc_read(const char *path)
{
    std::vector<char> data;
    FILE *f = fopen(path, "rb");
    if (!f) { fprintf(stderr, "cannot read %s\n", path); exit(4); }
    char buffer[65536];
    size_t n;
    while ((n = fread(buffer, 1, sizeof buffer, f)) > 0) data.insert(data.end(), buffer, buffer + n);
    fclose(f);
    return data;
}
static void jitc_write(const char *path, const void *data, size_t bytes)
{
    FILE *f = fopen(path, "wb");
    if (!f || fwrite(data, 1, bytes, f) != bytes) { fprintf(stderr, "cannot write %s\n", path); exit(4); }
    fclose(f);
}

// Every block of the grid, every thread of a block, one after another.  A
// kernel that shares memory between its threads (a shared tile) runs with
// one thread per block here (blockDim.x = 1).
template <typename K> static void jitc_launch(unsigned gx, unsigned gy, unsigned bx, K &&kernel)
{
    gridDim = {gx, gy, 1};
    blockDim = {bx, 1, 1};
    for (unsigned y = 0; y < gy; ++y)
        for (unsigned x = 0; x < gx; ++x) {
            memset(jitc_smem_host, 0xA5, sizeof jitc_smem_host);  // what a kernel reads it must write first
            for (unsigned t = 0; t < bx; ++t) {
                blockIdx = {x, y, 0};
                threadIdx = {t, 0, 0};
                kernel();
            }
        }
}

struct jitc_args {
    int argc, at;
    char **argv;
    const char *s() { if (at >= argc) { fprintf(stderr, "missing argument %d\n", at); exit(5); } return argv[at++]; }
    long long i() { return atoll(s()); }
    double d() { return strtod(s(), nullptr); }
};

template <typename W, typename Law, typename Rule> static int jitc_job(const std::string &job, const jitc_gen &g, jitc_args &a)
{
    if (job == "dense") {
        const int k0 = a.i(), n_lines = a.i(), j0 = a.i(), j1 = a.i(), b0 = a.i(), n_blocks = a.i(), bx = a.i();
        std::vector<W> out((size_t)n_lines * (j1 - j0), (W)0);
        jitc_launch(3, 1, bx, [&] { jitc_dense<W, Law, Rule>(g, k0, n_lines, j0, j1, b0, n_blocks, out.data()); });
        jitc_write(a.s(), out.data(), out.size() * sizeof(W));
    } else if (job == "coo") {
        const int k0 = a.i(), n_lines = a.i(), j0 = a.i(), j1 = a.i(), b0 = a.i(), n_blocks = a.i(), bx = a.i();
        const long long n_items = (long long)n_lines * n_blocks;
        std::vector<jitc_i64> counts(n_items), offsets(n_items);
        jitc_launch(2, 1, bx, [&] { jitc_coo_count<Rule>(g, k0, n_lines, j0, j1, b0, n_blocks, counts.data()); });
        jitc_i64 total = 0;
        for (long long e = 0; e < n_items; ++e) offsets[e] = total, total += counts[e];
        std::vector<jitc_i64> k(total), j(total);
        std::vector<W> w(total);
        jitc_launch(2, 1, bx, [&] {
            jitc_coo_fill<W, Law, Rule>(g, k0, n_lines, j0, j1, b0, n_blocks, offsets.data(), k.data(), j.data(),
                                        w.data());
        });
        jitc_write(a.s(), k.data(), total * 8);
        jitc_write(a.s(), j.data(), total * 8);
        jitc_write(a.s(), w.data(), total * sizeof(W));
    } else if (job == "degrees") {
        const int k0 = a.i(), n_lines = a.i(), j0 = a.i(), j1 = a.i(), b0 = a.i(), n_blocks = a.i(), bx = a.i();
        const double scale = a.d();
        std::vector<jitc_u64> per_line(n_lines), per_minor(j1 - j0);
        jitc_launch(2, 1, bx, [&] {
            jitc_degrees<W, Law, Rule>(g, k0, n_lines, j0, j1, b0, n_blocks, scale, per_line.data(), per_minor.data());
        });
        jitc_write(a.s(), per_line.data(), per_line.size() * 8);
        jitc_write(a.s(), per_minor.data(), per_minor.size() * 8);
    } else if (job == "gather") {
        // out[li, c] = sum_j L[k0 + li, j] vec[j - j0, c], columns in chunks of 8 as gpu.gather launches them.
        const int k0 = a.i(), n_lines = a.i(), j0 = a.i(), j1 = a.i(), b0 = a.i(), b1 = a.i();
        const int lines_per_seg = a.i(), bx = a.i(), tile_bytes = a.i(), n_cols = a.i();
        std::vector<char> vec = jitc_read(a.s());
        const W scalar_w = (W)a.d();
        std::vector<W> out((size_t)n_lines * n_cols, (W)0);
        const W *v = reinterpret_cast<const W *>(vec.data());
        const int n_segs = (n_lines + lines_per_seg - 1) / lines_per_seg;
        for (int col0 = 0; col0 < n_cols; col0 += 8) {
            const int nc = n_cols - col0 < 8 ? n_cols - col0 : 8;
            const bool smem = (long long)(j1 - j0) * nc * (long long)sizeof(W) <= tile_bytes;
            bool ran = false;
            // One tile per block (G = 1); partial sums added into out (part_stride -1).
            jitc_launch(b1 - b0, n_segs, smem ? 1 : bx, [&] {
#define JITC_GATHER(NC, SMEM)                                                                                     \
    if ((nc == 1) == (NC == 1) && smem == SMEM && (ran = true))                                                   \
        jitc_gather<W, W, NC, SMEM, Law, false, Rule>(g, k0, n_lines, j0, j1, b0, b1, 1, lines_per_seg, v, n_cols, \
                                                      col0, nc, out.data(), n_cols, col0, -1, scalar_w);
                JITC_GATHER(1, true) JITC_GATHER(1, false) JITC_GATHER(8, true) JITC_GATHER(8, false)
            });
            if (!ran) return 8;
        }
        jitc_write(a.s(), out.data(), out.size() * sizeof(W));
    } else if (job == "scatter") {
        // out[j - j0, c] = sum_i values[i, c] L[rows[i], j] (mode 0), or binary events (mode 1: weights, 2: counts).
        const int mode = a.i();
        std::vector<char> rows = jitc_read(a.s());
        const jitc_u32 n_rows = (jitc_u32)a.i();
        std::vector<char> values = jitc_read(a.s());
        const int n_cols = a.i(), j0 = a.i(), j1 = a.i(), b0 = a.i(), b1 = a.i(), n_segs = a.i(), bx = a.i();
        const int tile_bytes = a.i();
        const W scalar_w = (W)a.d();
        std::vector<W> out((size_t)(j1 - j0) * n_cols, (W)0);
        std::vector<jitc_u32> counts(j1 - j0 + 1, 0u);
        const int *r = reinterpret_cast<const int *>(rows.data());
        const W *v = reinterpret_cast<const W *>(values.data());
        for (int col0 = 0; col0 < n_cols; col0 += 8) {
            const int nc = n_cols - col0 < 8 ? n_cols - col0 : 8;
            const int item = mode == 2 ? 4 : (int)sizeof(W);
            const bool smem = (long long)(j1 - j0) * nc * item <= tile_bytes;
            bool ran = false;
            jitc_launch(b1 - b0, n_segs, smem ? 1 : bx, [&] {
#define JITC_SCATTER(NC, SMEM, MODE)                                                                              \
    if ((nc == 1) == (NC == 1) && smem == SMEM && mode == MODE && (ran = true))                                   \
        jitc_scatter<W, W, NC, SMEM, Law, false, MODE, Rule>(g, r, &n_rows, -1, 0, v, n_cols, 1, 0, col0, nc, j0, \
                                                             j1, b0, b1, 1, out.data(), n_cols, counts.data(),     \
                                                             scalar_w, 1);
                JITC_SCATTER(1, true, 0) JITC_SCATTER(1, false, 0) JITC_SCATTER(8, true, 0) JITC_SCATTER(8, false, 0)
                JITC_SCATTER(1, true, 1) JITC_SCATTER(1, false, 1) JITC_SCATTER(1, true, 2) JITC_SCATTER(1, false, 2)
            });
            if (!ran) return 8;
        }
        jitc_write(a.s(), out.data(), out.size() * sizeof(W));
        jitc_write(a.s(), counts.data(), (size_t)(j1 - j0) * 4);
    } else if (job == "scatter_fixed") {
        // The deterministic scatter (jitc_fixed.cu): integer words per output, then jitc_fixed_finish (one level).
        constexpr int NW = sizeof(W) == 8 ? 2 : 1;
        const int events = a.i();
        std::vector<char> rows = jitc_read(a.s());
        const jitc_u32 n_rows = (jitc_u32)a.i();
        std::vector<char> values = jitc_read(a.s());
        const int n_cols = a.i(), j0 = a.i(), j1 = a.i(), b0 = a.i(), b1 = a.i(), n_segs = a.i(), bx = a.i();
        const int tile_bytes = a.i();
        const W scalar_w = (W)a.d();
        std::vector<char> emax_bytes = jitc_read(a.s());
        const int shift0 = a.i();
        const long long n = (long long)(j1 - j0) * n_cols;
        std::vector<jitc_u64> acc((size_t)n * NW + 1, 0ull);
        std::vector<jitc_u32> flags((size_t)n + 1, 0u);
        std::vector<W> out((size_t)n, (W)0);
        const int *r = reinterpret_cast<const int *>(rows.data());
        const W *v = reinterpret_cast<const W *>(values.data());
        const int *emax = reinterpret_cast<const int *>(emax_bytes.data());
        for (int col0 = 0; col0 < n_cols; col0 += 8) {
            const int nc = n_cols - col0 < 8 ? n_cols - col0 : 8;
            const bool smem = (long long)(j1 - j0) * nc * 8 * NW <= tile_bytes;
            bool ran = false;
            jitc_launch(b1 - b0, n_segs, smem ? 1 : bx, [&] {
#define JITC_SCATTER_FIXED(NC, SMEM, EVENTS)                                                                      \
    if ((nc == 1) == (NC == 1) && smem == SMEM && events == EVENTS && (ran = true))                               \
        jitc_scatter_fixed<W, W, NC, SMEM, Law, false, EVENTS, NW, 4, Rule>(                                      \
            g, r, &n_rows, -1, 0, v, n_cols, 1, 0, col0, nc, j0, j1, b0, b1, 1, acc.data(), n_cols, flags.data(), \
            emax, shift0, scalar_w, 1);
                JITC_SCATTER_FIXED(1, true, 0) JITC_SCATTER_FIXED(1, false, 0) JITC_SCATTER_FIXED(8, true, 0)
                JITC_SCATTER_FIXED(8, false, 0) JITC_SCATTER_FIXED(1, true, 1) JITC_SCATTER_FIXED(1, false, 1)
            });
            if (!ran) return 8;
        }
        jitc_launch(1, 1, 1, [&] {
            jitc_fixed_finish<W, NW>(reinterpret_cast<const jitc_i64 *>(acc.data()), flags.data(), !events, emax,
                                     shift0, n, n_cols, out.data(), reinterpret_cast<const jitc_i64 *>(acc.data()),
                                     0, 1, 0);
        });
        jitc_write(a.s(), out.data(), out.size() * sizeof(W));
    } else {
        fprintf(stderr, "unknown job %s\n", job.c_str());
        return 6;
    }
    return 0;
}

// argv: job law rule key0 key1 block_log2 inv_log_q skip_diagonal a b num_conn n_eff, then the job's.
int main(int argc, char **argv)
{
    jitc_args a = {argc, 1, argv};
    const std::string job = a.s(), law = a.s(), rule = a.s();
    jitc_gen g = {};
    g.key0 = (jitc_u32)a.i();
    g.key1 = (jitc_u32)a.i();
    g.block_log2 = (int)a.i();
    g.fast = 0;  // the float64 gaps (the fast path's result is the same, proved and checked on the GPU)
    g.inv_log_q = a.d();
    g.skip_diagonal = (int)a.i();
    g.law.a = a.d();
    g.law.b = a.d();
    g.num_conn = (int)a.i();
    g.n_eff = (int)a.i();
    for (int r = 0; r < 10; ++r) {
        g.rk0[r] = g.key0 + (jitc_u32)r * JITC_PHILOX_W0;
        g.rk1[r] = g.key1 + (jitc_u32)r * JITC_PHILOX_W1;
    }
#define JITC_CASE(W, LAW, RULE)                                                                                   \
    if (law == #W ":" #LAW && rule == #RULE) return jitc_job<W, LAW, RULE>(job, g, a);
    JITC_CASES
    fprintf(stderr, "no case %s %s\n", law.c_str(), rule.c_str());
    return 7;
}
"""

#: The kernels' inline PTX and its host stand-ins.
_ASM = {
    'asm("ld.shared.f32 %0, [%1];" : "=f"(v) : "r"(addr));': "memcpy(&v, jitc_smem_host + addr, sizeof v);",
    'asm("ld.shared.f64 %0, [%1];" : "=d"(v) : "r"(addr));': "memcpy(&v, jitc_smem_host + addr, sizeof v);",
    'asm volatile("red.shared.add.u32 [%0], %1;" ::"r"(addr), "r"(v));': "jitc_host_red(addr, v);",
    'asm volatile("red.shared.add.f32 [%0], %1;" ::"r"(addr), "f"(v));': "jitc_host_red(addr, v);",
    'asm volatile("red.shared.add.f64 [%0], %1;" ::"r"(addr), "d"(v));': "jitc_host_red(addr, v);",
    'asm volatile("red.shared.add.u64 [%0], %1;" ::"r"(addr), "l"((jitc_u64)v));': "jitc_host_red(addr, (jitc_u64)v);",
    # float32 arithmetic without flush to zero: the host's own.  (jitc_convert's
    # PTX, in jitc_random.cuh, is behind __CUDA_ARCH__, undefined here.)
    'asm("fma.rn.f32 %0, %1, %2, %3;" : "=f"(r) : "f"(a), "f"(b), "f"(c));': "r = fmaf(a, b, c);",
    'asm("add.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));': "r = a + b;",
    'asm("mul.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));': "r = a * b;",
}


def _host(name):
    """A CUDA source file with its inline PTX replaced by host code."""
    text = (KERNELS / name).read_text()
    for old, new in _ASM.items():
        text = text.replace(old, new)
    text = re.sub(r'asm volatile\(""[^;]*\);', ";", text)  # register pins: nothing to do on the host
    assert "asm" not in re.sub(r"//.*", "", text), f"{name} has inline PTX the host build does not know"
    return text


def source():
    """The host translation unit: prelude, the GPU sources (PTX replaced), the driver."""
    cases = "\n".join(f"    JITC_CASE({w}, {law}, {rule})" for w, law, rule in CASES)
    return "\n".join([
        _PRELUDE,
        (KERNELS / "jitc_random.cuh").read_text(),
        (KERNELS / "jitc_logc.cuh").read_text(),
        # The float32 Normal route is device code: no host case reaches it.
        ("template <bool S> bool jitc_normal_weight32(jitc_u32, double, double, double, double, double, "
         "const double *, jitc_u32, float &) { abort(); }"),
        (KERNELS / "jitc_exp.cuh").read_text(),
        (KERNELS / "jitc_laws.cuh").read_text(),
        _host("jitc_kernels.cu"),
        (KERNELS / "jitc_rules.cuh").read_text(),
        _host("jitc_fixed.cu"),
        _DRIVER.replace("    JITC_CASES", cases),
    ])


def build(folder):
    """Compile the host kernels into ``folder``; a :class:`HostKernels`.  Skips without a C++ compiler."""
    compiler = shutil.which("g++") or shutil.which("c++")
    if compiler is None:
        pytest.skip("no C++ compiler for the host build of the GPU kernels")
    folder = Path(folder)
    (folder / "gpu_host.cpp").write_text(source())
    binary = folder / "gpu_host"
    result = subprocess.run([compiler, "-std=c++20", "-O1", "-ffp-contract=off", "-w", "-o", str(binary),
                             str(folder / "gpu_host.cpp")], capture_output=True, text=True, check=False)
    assert result.returncode == 0, result.stderr[-6000:]
    return HostKernels(binary, folder)


_CTYPE = {np.dtype(np.float32): "float", np.dtype(np.float64): "double"}


def _weight(params, dtype):
    """A Scalar law's weight rounded to the matrix dtype, as the kernels' scalar_w argument."""
    return repr(float(np.dtype(dtype).type(params.a)))


class HostKernels:
    """The GPU kernels on the host, with the reference backend's interface (NumPy arrays).

    ``threads`` is the CTA size of kernels without a shared tile (tiled
    kernels run one thread per CTA), ``tile_bytes`` the shared tile's limit
    (``_gpu_launch._TILE_BYTES``), ``lines_per_seg`` the gather's segment.
    """

    def __init__(self, binary, folder, threads=3, tile_bytes=16 * 1024, lines_per_seg=5):
        self.binary, self.folder = binary, Path(folder)
        self.threads, self.tile_bytes, self.lines_per_seg = threads, tile_bytes, lines_per_seg

    def _run(self, job, params, dtype, *args):
        law = laws.by_code(params.law).cuda_type
        rule = rules.by_code(params.rule)
        fixed = rule.code != rules.BERNOULLI.code
        n_eff = _rule_fixed.line_length(params.minor_size, not params.skip_diagonal) if fixed else 0
        head = [job, f"{_CTYPE[np.dtype(dtype)]}:{law}", rule.cuda_type, params.key0, params.key1,
                params.block_log2, repr(float(params.inv_log_q)), int(params.skip_diagonal), repr(float(params.a)),
                repr(float(params.b)), params.num_conn if fixed else 0, n_eff]
        result = subprocess.run([str(self.binary)] + [str(a) for a in head + list(args)], capture_output=True,
                                text=True, check=False)
        assert result.returncode == 0, (job, result.returncode, result.stderr)

    def _path(self, name):
        return self.folder / name

    @staticmethod
    def _blocks(params, j0, j1):
        return (j0 >> params.block_log2, ((j1 - 1) >> params.block_log2) + 1) if j1 > j0 else (0, 0)

    def dense(self, params, k0, k1, j0, j1, dtype):
        b0, b1 = self._blocks(params, j0, j1)
        self._run("dense", params, dtype, k0, k1 - k0, j0, j1, b0, b1 - b0, self.threads, self._path("dense"))
        return np.fromfile(self._path("dense"), dtype=dtype).reshape(k1 - k0, j1 - j0)

    def coo(self, params, k0, k1, j0, j1, dtype):
        b0, b1 = self._blocks(params, j0, j1)
        paths = [self._path(name) for name in ("k", "j", "w")]
        self._run("coo", params, dtype, k0, k1 - k0, j0, j1, b0, b1 - b0, self.threads, *paths)
        return tuple(np.fromfile(path, dtype=t) for path, t in zip(paths, (np.int64, np.int64, dtype)))

    def degrees(self, params, k0, k1, j0, j1, dtype, scale=1.0):
        b0, b1 = self._blocks(params, j0, j1)
        paths = [self._path(name) for name in ("per_line", "per_minor")]
        self._run("degrees", params, dtype, k0, k1 - k0, j0, j1, b0, b1 - b0, self.threads, repr(float(scale)), *paths)
        return tuple(np.fromfile(path, dtype=np.uint64).view(np.int64) for path in paths)

    def gather(self, params, k0, k1, j0, j1, vectors, dtype):
        """``L[k0:k1, j0:j1] @ vectors`` in the matrix dtype (the kernels' T = W)."""
        b0, b1 = self._blocks(params, j0, j1)
        vectors = np.ascontiguousarray(vectors, dtype=dtype)
        vectors.tofile(self._path("vectors"))
        self._run("gather", params, dtype, k0, k1 - k0, j0, j1, b0, b1, self.lines_per_seg, self.threads,
                  self.tile_bytes, vectors.shape[1], self._path("vectors"), _weight(params, dtype), self._path("out"))
        return np.fromfile(self._path("out"), dtype=dtype).reshape(k1 - k0, vectors.shape[1])

    def scatter(self, params, lines, values, j0, j1, dtype, counts=False):
        """``values.T @ L[lines, j0:j1]``; ``values=None``: binary events (``counts``: Scalar counts, mode 2)."""
        b0, b1 = self._blocks(params, j0, j1)
        np.asarray(lines, dtype=np.int32).tofile(self._path("rows"))
        mode = 0 if values is not None else 2 if counts else 1
        values = np.zeros((1, 1), dtype) if values is None else np.ascontiguousarray(values, dtype=dtype)
        values.tofile(self._path("values"))
        n_cols = 1 if mode else values.shape[1]
        n_segs = max(1, -(-len(lines) // (2 * self.threads)))
        self._run("scatter", params, dtype, mode, self._path("rows"), len(lines), self._path("values"), n_cols, j0,
                  j1, b0, b1, n_segs, self.threads, self.tile_bytes, _weight(params, dtype), self._path("out"),
                  self._path("counts"))
        if mode == 2:
            return np.fromfile(self._path("counts"), dtype=np.uint32)
        return np.fromfile(self._path("out"), dtype=dtype).reshape(j1 - j0, n_cols)

    def scatter_fixed(self, params, lines, values, j0, j1, dtype):
        """:meth:`scatter` by the deterministic (fixed-point) kernels, one level: as ``_gpu_fixed.scatter``.

        Every nonzero ``|values|`` of a column must lie within ``level_bits``
        exponents of the column's largest (the caller's to choose).
        """
        b0, b1 = self._blocks(params, j0, j1)
        lines = np.asarray(lines, dtype=np.int32)
        lines.tofile(self._path("rows"))
        events = values is None
        values = np.ones((1, 1), dtype) if events else np.ascontiguousarray(values, dtype=dtype)
        values.tofile(self._path("values"))
        n_cols = values.shape[1]
        finite = np.where(np.isfinite(values) & (values != 0), values, 0).astype(np.float64)
        emax = np.full(n_cols, NO_EXPONENT, dtype=np.int32)
        for c in range(n_cols):
            nonzero = finite[:, c][finite[:, c] != 0]
            if nonzero.size:
                emax[c] = np.frexp(nonzero)[1].max()
        if events:
            emax[:] = 1
        emax.tofile(self._path("emax"))
        shift0 = term_bits(lines.size) - _weight_exponent(params)
        n_segs = max(1, -(-lines.size // (2 * self.threads)))
        self._run("scatter_fixed", params, dtype, int(events), self._path("rows"), lines.size, self._path("values"),
                  n_cols, j0, j1, b0, b1, n_segs, self.threads, self.tile_bytes, _weight(params, dtype),
                  self._path("emax"), shift0, self._path("out"))
        return np.fromfile(self._path("out"), dtype=dtype).reshape(j1 - j0, n_cols)


def _weight_exponent(params):
    """``_gpu_fixed.weight_exponent`` (which needs CuPy to import): every |weight| <= 2**ew."""
    bound = laws.by_code(params.law).kernel_max_abs_weight(params.a, params.b)
    if not math.isfinite(bound):
        return 1025
    if bound == 0.0:
        return 0
    return min(max(math.frexp(bound)[1], -900), 1025)
