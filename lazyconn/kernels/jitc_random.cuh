// The random primitives of spec v1, CUDA twin of lazyconn/random.py.
//
// Every routine here performs exactly the operations of its NumPy original,
// in the same order, with correctly rounded IEEE-754 arithmetic only.  The
// module must be compiled with FMA contraction off (--fmad=false): a fused
// multiply-add rounds once where NumPy rounds twice, and one such bit can
// move every later synapse of a block.
//
// The header is self-contained (NVRTC has no standard headers) and is also
// compiled for the host by tests and developer tools, hence JITC_HD.
#ifndef JITC_RANDOM_CUH
#define JITC_RANDOM_CUH

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define JITC_HD __host__ __device__ __forceinline__
#else
#include <math.h>
#include <string.h>
#define JITC_HD static inline
#endif

typedef unsigned int jitc_u32;
typedef unsigned long long jitc_u64;
typedef long long jitc_i64;

// ---------------------------------------------------------------------------
// Philox4x32-10: Salmon, Moraes, Dror & Shaw, "Parallel random numbers: as
// easy as 1, 2, 3", SC'11; constants from Random123's philox.h.
#define JITC_PHILOX_M0 0xD2511F53u
#define JITC_PHILOX_M1 0xCD9E8D57u
#define JITC_PHILOX_W0 0x9E3779B9u  // golden ratio, Weyl key increment
#define JITC_PHILOX_W1 0xBB67AE85u  // sqrt(3) - 1, Weyl key increment

struct jitc_words {
    jitc_u32 w0, w1, w2, w3;
};

JITC_HD jitc_u32 jitc_mulhi(jitc_u32 a, jitc_u32 b)
{
#ifdef __CUDA_ARCH__
    return __umulhi(a, b);
#else
    return (jitc_u32)(((jitc_u64)a * (jitc_u64)b) >> 32);
#endif
}

// One Philox4x32-10 block: counter (c0, c1, c2, c3), key (k0, k1).
JITC_HD jitc_words jitc_philox(jitc_u32 c0, jitc_u32 c1, jitc_u32 c2, jitc_u32 c3,
                               jitc_u32 k0, jitc_u32 k1)
{
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        if (round) {
            k0 += JITC_PHILOX_W0;
            k1 += JITC_PHILOX_W1;
        }
        const jitc_u32 hi0 = jitc_mulhi(JITC_PHILOX_M0, c0);
        const jitc_u32 lo0 = JITC_PHILOX_M0 * c0;
        const jitc_u32 hi1 = jitc_mulhi(JITC_PHILOX_M1, c2);
        const jitc_u32 lo1 = JITC_PHILOX_M1 * c2;
        c0 = hi1 ^ c1 ^ k0;
        c1 = lo1;
        c2 = hi0 ^ c3 ^ k1;
        c3 = lo0;
    }
    jitc_words out = {c0, c1, c2, c3};
    return out;
}

// Word i of a Philox block; i is a compile-time constant after unrolling.
JITC_HD jitc_u32 jitc_word(const jitc_words &w, int i)
{
    return i == 0 ? w.w0 : i == 1 ? w.w1 : i == 2 ? w.w2 : w.w3;
}

// w + 0.5, exact in float64.  On the device it is formed without a
// conversion instruction: the double with bits 0x43300000:w is 2**52 + w,
// and subtracting 2**52 - 0.5 is exact (Sterbenz).
JITC_HD double jitc_word_plus_half(jitc_u32 w)
{
#ifdef __CUDA_ARCH__
    return __hiloint2double(0x43300000, (int)w) - 4503599627370495.5;
#else
    return (double)w + 0.5;
#endif
}

// Conversions between float and double that keep subnormals.  CuPy
// compiles every module with -ftz=true appended after the caller's options
// (cupy.cuda.compiler), and NVRTC honours the last occurrence, so every
// float32 instruction the compiler emits flushes subnormal inputs and
// results to zero, the conversions cvt.f32.f64 and cvt.f64.f32 included.
// The spec rounds weights to float32 as NumPy does, subnormals kept: every
// float <-> double conversion of a weight, an operand entry or a result goes
// through these, whose PTX ptxas takes as written (no .ftz).
// jitc_convert(x, T()) is x converted to T.
JITC_HD float jitc_convert(double x, float)
{
#ifdef __CUDA_ARCH__
    float r;
    asm("cvt.rn.f32.f64 %0, %1;" : "=f"(r) : "d"(x));
    return r;
#else
    return (float)x;
#endif
}
JITC_HD double jitc_convert(float x, double)
{
#ifdef __CUDA_ARCH__
    double r;
    asm("cvt.f64.f32 %0, %1;" : "=d"(r) : "f"(x));
    return r;
#else
    return (double)x;
#endif
}
JITC_HD float jitc_convert(float x, float) { return x; }
JITC_HD double jitc_convert(double x, double) { return x; }

// Whether an operand entry is nonzero: under -ftz=true a float compare with
// 0 calls a subnormal zero, so a float is widened (exactly, no flush) and
// compared in float64, which never flushes.
JITC_HD bool jitc_nonzero(float x) { return jitc_convert(x, double()) != 0.0; }
JITC_HD bool jitc_nonzero(double x) { return x != 0.0; }
JITC_HD bool jitc_nonzero(unsigned char x) { return x != 0; }

// u = (w + 0.5) * 2**-32: both steps are exact in float64.
JITC_HD double jitc_uniform(jitc_u32 w) { return jitc_word_plus_half(w) * 0x1p-32; }

JITC_HD jitc_u64 jitc_double_bits(double x)
{
#ifdef __CUDA_ARCH__
    return (jitc_u64)__double_as_longlong(x);
#else
    jitc_u64 bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
#endif
}

JITC_HD double jitc_bits_double(jitc_u64 bits)
{
#ifdef __CUDA_ARCH__
    return __longlong_as_double((long long)bits);
#else
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
#endif
}

// ---------------------------------------------------------------------------
// ln: fdlibm 5.3 e_log.c reduction and minimax coefficients, one branch, as in
// lazyconn.random.ln / _ln_core.  Valid for positive normal finite x.
#define JITC_LN2_HI 0x1.62e42fee00000p-1
#define JITC_LN2_LO 0x1.a39ef35793c76p-33
#define JITC_LG1 0x1.5555555555593p-1
#define JITC_LG2 0x1.999999997fa04p-2
#define JITC_LG3 0x1.2492494229359p-2
#define JITC_LG4 0x1.c71c51d8e78afp-3
#define JITC_LG5 0x1.7466496cb03dep-3
#define JITC_LG6 0x1.39a09d078c69fp-3
#define JITC_LG7 0x1.2f112df3e5244p-3
#define JITC_SQRT2_FRACTION_BITS 0x6A09E667F3BCDull

JITC_HD double jitc_ln_core(double f, double k)
{
    const double s = f / (2.0 + f);
    const double z = s * s;
    const double w = z * z;
    const double t1 = w * (JITC_LG2 + w * (JITC_LG4 + w * JITC_LG6));
    const double t2 = z * (JITC_LG1 + w * (JITC_LG3 + w * (JITC_LG5 + w * JITC_LG7)));
    const double r = t2 + t1;
    const double hfsq = 0.5 * f * f;
    return k * JITC_LN2_HI - ((hfsq - (s * (hfsq + r) + k * JITC_LN2_LO)) - f);
}

JITC_HD double jitc_ln(double x)
{
    const jitc_u64 bits = jitc_double_bits(x);
    jitc_i64 k = (jitc_i64)(bits >> 52) - 1023;
    const jitc_u64 fraction = bits & ((1ull << 52) - 1);
    const bool upper = fraction > JITC_SQRT2_FRACTION_BITS;
    k += upper ? 1 : 0;
    const double y = jitc_bits_double(fraction | (upper ? (0x3FEull << 52) : (0x3FFull << 52)));
    const double f = y - 1.0;  // exact (Sterbenz)
    return jitc_ln_core(f, (double)k);
}

// ---------------------------------------------------------------------------
// ndtri: Wichura, "Algorithm AS 241", Applied Statistics 37 (1988) 477-484,
// PPND16, evaluated as lazyconn.random.ndtri does (Horner, highest power first).
JITC_HD double jitc_horner8(const double c[8], double r)
{
    double acc = c[7];
    for (int i = 6; i >= 0; --i) acc = acc * r + c[i];
    return acc;
}

JITC_HD double jitc_sqrt(double x)
{
#ifdef __CUDA_ARCH__
    return __dsqrt_rn(x);
#else
    return sqrt(x);  // IEEE-754 requires a correctly rounded square root
#endif
}

// The two branches of AS241 as separate routines (the batched weight code
// evaluates them for several draws at once); jitc_ndtri composes them.
JITC_HD double jitc_ndtri_central(double q)  // |q| = |u - 0.5| <= 0.425
{
    const double A[8] = {3.3871328727963666080e0, 1.3314166789178437745e2, 1.9715909503065514427e3,
                         1.3731693765509461125e4, 4.5921953931549871457e4, 6.7265770927008700853e4,
                         3.3430575583588128105e4, 2.5090809287301226727e3};
    const double B[8] = {1.0, 4.2313330701600911252e1, 6.8718700749205790830e2, 5.3941960214247511077e3,
                         2.1213794301586595867e4, 3.9307895800092710610e4, 2.8729085735721942674e4,
                         5.2264952788528545610e3};
    const double r = 0.180625 - q * q;
    return q * jitc_horner8(A, r) / jitc_horner8(B, r);
}

JITC_HD double jitc_ndtri_tail(double u)  // |u - 0.5| > 0.425
{
    const double C[8] = {1.42343711074968357734e0, 4.63033784615654529590e0, 5.76949722146069140550e0,
                         3.64784832476320460504e0, 1.27045825245236838258e0, 2.41780725177450611770e-1,
                         2.27238449892691845833e-2, 7.74545014278341407640e-4};
    const double D[8] = {1.0, 2.05319162663775882187e0, 1.67638483018380384940e0, 6.89767334985100004550e-1,
                         1.48103976427480074590e-1, 1.51986665636164571966e-2, 5.47593808499534494600e-4,
                         1.05075007164441684324e-9};
    const double E[8] = {6.65790464350110377720e0, 5.46378491116411436990e0, 1.78482653991729133580e0,
                         2.96560571828504891230e-1, 2.65321895265761230930e-2, 1.24266094738807843860e-3,
                         2.71155556874348757815e-5, 2.01033439929228813265e-7};
    const double F[8] = {1.0, 5.99832206555887937690e-1, 1.36929880922735805310e-1, 1.48753612908506148525e-2,
                         7.86869131145613259100e-4, 1.84631831751005468180e-5, 1.42151175831644588870e-7,
                         2.04426310338993978564e-15};
    const double q = u - 0.5;
    const double tail = q < 0.0 ? u : 1.0 - u;  // 1 - u is exact for u > 0.5
    const double r = jitc_sqrt(-jitc_ln(tail));
    double value;
    if (r <= 5.0) {
        const double rn = r - 1.6;
        value = jitc_horner8(C, rn) / jitc_horner8(D, rn);
    } else {
        const double rf = r - 5.0;
        value = jitc_horner8(E, rf) / jitc_horner8(F, rf);
    }
    return q < 0.0 ? -value : value;
}

JITC_HD double jitc_ndtri(double u)
{
    const double q = u - 0.5;
    return fabs(q) <= 0.425 ? jitc_ndtri_central(q) : jitc_ndtri_tail(u);
}

// ---------------------------------------------------------------------------
// float32 Normal weights without AS241 (the device's route; the NumPy and
// Numba twin is lazyconn/kernels/_ndtri_fast.py, which holds the proof).  A
// degree-5 polynomial per interval of the folded uniform gives a candidate v'
// for ndtri(u); the weight float32(a + b * v') is kept when an error bound
// cannot move it across a float32 rounding boundary, else the caller runs
// AS241 (about 1 call in 10**5).  The weights are therefore the spec's, bit
// for bit, whatever rounding the candidate itself carries.
//
// The device evaluates the candidate its own way, for fewer instructions:
// fused multiply-adds, the interval and t = f * scale - offset read from the
// bits of h + 0.5 (h the folded word), and the table's largest bound for
// every row.  Its error is measured on every folded word by jitc_ndtri_check
// (gpu.ndtri_check, run by the GPU tests): |v' - ndtri(u)| <= |q| * bound / 2,
// the same factor-2 margin that the table's bounds carry.
#define JITC_NDTRI_STRIDE 10
// bits >> 48 of f = (h + 0.5) * 2**-32 for h = 16 is 995 << 4: row 16.
#define JITC_NDTRI_INDEX_BIAS ((995 << 4) - 16)
// Rows of the table, and the bytes of a CTA's copy of their coefficients in
// shared memory (JITC_NDTRI_SMEM_STRIDE doubles per row; _gpu_launch.py
// allots them).
#define JITC_NDTRI_ROWS 448
#define JITC_NDTRI_SMEM_STRIDE 6
#define JITC_NDTRI_SMEM_BYTES (JITC_NDTRI_ROWS * JITC_NDTRI_SMEM_STRIDE * 8)

#if defined(__CUDA_ARCH__)
// The candidate v' for ndtri(u), u = (w + 0.5) * 2**-32, and |q| * 2**32,
// q = u - 0.5.
//   h = w or ~w folds u onto f = (h + 0.5) * 2**-32 = min(u, 1 - u), and
//   x = h + 0.5 (exact) has f's fraction bits and f's exponent + 32.
//   Interval: i = h below 16, else x's exponent and top four fraction bits
//   (as _ndtri_fast.candidate reads f's).  On rows >= 16, f * scale lies in
//   [32, 64) and t = f * scale - offset = m - 3, m the double in [2, 4) whose
//   fraction is x's below its top four bits: exact, so the same t.  Rows
//   below 16 are constants (c1 .. c5 are zero), any finite t will do.
//   |q| * 2**32 = 2**31 - x exactly; q is negative for w < 2**31.
// The device's coefficients are the table's times 2**-32
// (_gpu_launch._ndtri_table; exact), so q * 2**32 times the polynomial is
// q * P(t), bit for bit.
// SMEM_ROWS: the coefficients come from the CTA's copy in shared memory at
// `smem_rows`, else from `table` in global memory through the read-only
// cache.  Lanes of a warp read scattered rows: each row a load touches costs
// an L1 wavefront, and that bounds the Normal products.
template <bool SMEM_ROWS>
__device__ __forceinline__ double jitc_ndtri_candidate(jitc_u32 w, const double *table, jitc_u32 smem_rows,
                                                       double &q_abs32)
{
    const jitc_u32 upper = (jitc_u32)((int)w >> 31);  // all ones when u > 0.5
    const jitc_u32 h = w ^ upper;
    const double x = jitc_word_plus_half(h);
    const int x_hi = __double2hiint(x);
    const jitc_u32 x_lo = (jitc_u32)__double2loint(x);
    const int i = h < 16u ? (int)h : (x_hi >> 16) - (JITC_NDTRI_INDEX_BIAS + (32 << 4));
    const double m = __hiloint2double(0x40000000 | (__funnelshift_l(x_lo, (jitc_u32)x_hi, 4) & 0x000FFFFF),
                                      (int)(x_lo << 4));
    const double t = m - 3.0;
    double2 c01, c23, c45;
    if (SMEM_ROWS) {
        const unsigned at = smem_rows + (unsigned)i * (JITC_NDTRI_SMEM_STRIDE * 8);
        asm("ld.shared.v2.f64 {%0, %1}, [%2];" : "=d"(c01.x), "=d"(c01.y) : "r"(at));
        asm("ld.shared.v2.f64 {%0, %1}, [%2 + 16];" : "=d"(c23.x), "=d"(c23.y) : "r"(at));
        asm("ld.shared.v2.f64 {%0, %1}, [%2 + 32];" : "=d"(c45.x), "=d"(c45.y) : "r"(at));
    } else {
        const double2 *row2 = reinterpret_cast<const double2 *>(table + i * JITC_NDTRI_STRIDE);
        c01 = __ldg(row2), c23 = __ldg(row2 + 1), c45 = __ldg(row2 + 2);
    }
    double p = fma(c45.y, t, c45.x);
    p = fma(p, t, c23.y);
    p = fma(p, t, c23.x);
    p = fma(p, t, c01.y);
    p = fma(p, t, c01.x);
    q_abs32 = 2147483648.0 - x;
    const double q32 = __hiloint2double(__double2hiint(q_abs32) ^ (int)(~upper & 0x80000000u), __double2loint(q_abs32));
    return q32 * p;
}

// true and w = float32(a + b * ndtri(u)) when decided.  With |v' - V| <=
// |q| E (V the float64 ndtri(u), E the table's largest bound), the float64
// weight Y = fl(a + fl(b V)) of the spec lies within
//   |b q| E + (|b v'| + |y'|) * 2**-50
// of y' = fl(a + b v') (the 2**-50 term covers the roundings of Y, of y',
// of D and of y' -+ D, with room to spare), and, as |y'| <= (|a| + |b v'|)
// (1 + 2**-53), within D = |q| 2**32 * bq_bound + |v'| * bv_slack + a_slack,
// the three constants being |b| E 2**-32, |b| 2**-49 and |a| 2**-50, each
// rounded up by a factor 1 + 2**-40 (jitc_gen).  Rounding to float32 is
// monotone, so equal float32 ends of [y' - D, y' + D] are float32(Y).
template <bool SMEM_ROWS>
__device__ __forceinline__ bool jitc_normal_weight32(jitc_u32 word, double a, double b, double bq_bound,
                                                     double bv_slack, double a_slack, const double *table,
                                                     jitc_u32 smem_rows, float &w)
{
    double q_abs32;
    const double v = jitc_ndtri_candidate<SMEM_ROWS>(word, table, smem_rows, q_abs32);
    const double y = fma(b, v, a);
    const double d = fma(q_abs32, bq_bound, fma(fabs(v), bv_slack, a_slack));
    const float lo = jitc_convert(y - d, float());
    const float hi = jitc_convert(y + d, float());
    w = lo;
    // Equal bits (a float compare would flush subnormals under -ftz=true and
    // call two different subnormals equal; -0 against +0 only costs AS241).
    return __float_as_uint(lo) == __float_as_uint(hi);
}
#endif  // __CUDA_ARCH__
// ---------------------------------------------------------------------------
// Gaps.  The exact gap of spec v1 is floor(min(ln(u) * c, 2**23)) with
// c = inv_log_q, all in float64 (jitc_gap_exact).  The fast path evaluates
// x = ln(u) * c in float32 as xf = log2f(uf) * c2, c2 = fl32(c * ln 2), and
// keeps floor(xf) only when an interval of half-width tol around xf, which
// provably holds the float64 x, contains no integer; otherwise it falls back
// to the float64 route.  The gap is therefore always the float64 one.
//
// Error bound (all relative errors of one rounding are <= 2**-24):
//   uf = fl(fl(w) * 2**-32 + 2**-33) = u (1 + d1), |d1| <= 2**-23, so
//     |log2 uf - log2 u| <= 2**-23 / ln 2 < 2**-22.4;
//   __log2f (MUFU.LG2): absolute error <= 2**-22 on [0.5, 2], at most 2 ulp
//     (relative 2**-22) elsewhere (CUDA C Programming Guide, "Intrinsic
//     Functions");
//   c2 and the product: relative 2**-24 each; the float64 x is within
//     2**-50 relative of the exact product.
// Hence |xf - x| <= |c2| * 2**-21.2 + |x| * 2**-21.4, and
//   tol = |xf| * 2**-19 + |c2| * 2**-20
// holds that with a factor of more than 2 to spare (which also absorbs the
// rounding of tol itself and of the interval's ends, see below).  gap_check()
// in gpu.py confirms the result on all 2**32 words for the probabilities the
// benchmark uses.  The host disables the fast path when |c| >= 2**16, where
// float32 cannot resolve integers anyway, and when |c2| < 2**-3 (p > 0.996).
//
#define JITC_GAP_CLAMP 8388608.0       // 2**23, spec.GAP_CLAMP
#define JITC_BLOCK_END_GAP 4194304.0f  // 2**22: any gap this large ends a block
#define JITC_ROUND_MAGIC 12582912.0f   // 1.5 * 2**23
#define JITC_ROUND_MAGIC_BITS 0x4B400000

JITC_HD int jitc_gap_exact(jitc_u32 w, double inv_log_q)
{
    double x = jitc_ln(jitc_uniform(w)) * inv_log_q;
    x = x < JITC_GAP_CLAMP ? x : JITC_GAP_CLAMP;
    return (int)floor(x);
}

#if defined(__CUDA_ARCH__)
// lg2.approx is the MUFU.LG2 behind __log2f; .ftz drops __log2f's subnormal
// rescaling, which uf (>= 2**-33) never needs.
__device__ __forceinline__ float jitc_log2f(float x)
{
    float y;
    asm("lg2.approx.ftz.f32 %0, %1;" : "=f"(y) : "f"(x));
    return y;
}
#define JITC_U2F(x) __uint2float_rn(x)
#define JITC_FLOAT_BITS(x) __float_as_int(x)
#define JITC_FMAF(a, b, c) __fmaf_rn(a, b, c)
#else
static inline float jitc_log2f(float x) { return log2f(x); }
#define JITC_U2F(x) ((float)(x))
#define JITC_FMAF(a, b, c) fmaf(a, b, c)
static inline int JITC_FLOAT_BITS(float x)
{
    int bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
}
#endif

// The float32 candidate, without branches: the floors of both ends of
// [xf - tol, xf + tol], which holds the float64 x, and ok when they agree.
// Each end v is formed as v - 0.5 by ONE fused multiply-add of the MUFU's
// log2 (xf >= 0, so xf -+ tol - 0.5 = log2(uf) * c2 * (1 -+ 2**-19) +
// (-+tol_abs - 0.5)), the factor c2 * (1 -+ 2**-19) rounded to float32
// beforehand (jitc_gap_scales).  That rounding stands where the product
// xf = fl(log2(uf) * c2) used to round (the same 2**-24 relative), and the
// FMA's single rounding, at most 2**-24 * (xf + 0.6), is covered by the
// bound's spare factor of 2 as long as |c2| >= 2**-3, which the host
// requires for the fast path.  Adding 1.5 * 2**23 then rounds v - 0.5 to an
// integer in the low mantissa bits (|v| < 2**21 here, since the host enables
// the fast path only for |c| < 2**16 and -ln u < 22.9): that is floor(v),
// except that an integer v may come out as v - 1 (ties to even), which can
// only make the two ends disagree (a fallback), never a wrong gap, because x
// lies strictly inside the interval.  A lower end below zero (xf < tol, one
// word in a million) also just falls back.  uf = fl(fl(w) * 2**-32 + 2**-33)
// is one fused rounding, within 2**-23 relative of u as the bound assumes.
//
// The floors come as float bits, gap + JITC_ROUND_MAGIC_BITS: callers fold
// the bias into the position update (one add either way).
// lo_add = -(tol_abs + 0.5) and hi_add = tol_abs - 0.5, rounded to float32.
// Returns the lower end's floor and sets floor_hi to the upper end's; equal
// floors are the gap.
JITC_HD int jitc_gap_ends_biased(jitc_u32 w, float c2_lo, float c2_hi, float lo_add, float hi_add, int &floor_hi)
{
    const float uf = JITC_FMAF(JITC_U2F(w), 0x1p-32f, 0x1p-33f);
    const float log2_u = jitc_log2f(uf);
    const float lo = JITC_FMAF(log2_u, c2_lo, lo_add);  // (xf - tol) - 0.5
    const float hi = JITC_FMAF(log2_u, c2_hi, hi_add);  // (xf + tol) - 0.5
    floor_hi = JITC_FLOAT_BITS(hi + JITC_ROUND_MAGIC);
    return JITC_FLOAT_BITS(lo + JITC_ROUND_MAGIC);
}

// The factors c2 * (1 - 2**-19) and c2 * (1 + 2**-19), rounded to float32.
JITC_HD void jitc_gap_scales(float c2, float &c2_lo, float &c2_hi)
{
    c2_lo = c2 * (1.0f - 0x1p-19f);
    c2_hi = c2 * (1.0f + 0x1p-19f);
}

JITC_HD int jitc_gap_try_fast(jitc_u32 w, float c2, float tol_abs)
{
    int floor_hi;
    float c2_lo, c2_hi;
    jitc_gap_scales(c2, c2_lo, c2_hi);
    const int floor_lo = jitc_gap_ends_biased(w, c2_lo, c2_hi, -(tol_abs + 0.5f), tol_abs - 0.5f, floor_hi);
    return floor_lo == floor_hi ? floor_lo - JITC_ROUND_MAGIC_BITS : -1;
}

// Gap of one word; fast != 0 enables the float32 route.
JITC_HD int jitc_gap(jitc_u32 w, double inv_log_q, float c2, float tol_abs, int fast)
{
    if (fast) {
        const int gap = jitc_gap_try_fast(w, c2, tol_abs);
        if (gap >= 0) return gap;
    }
    return jitc_gap_exact(w, inv_log_q);
}

#endif  // JITC_RANDOM_CUH
