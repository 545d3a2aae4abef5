// Deterministic exp, CUDA twin of lazyconn/_exp.py (fdlibm 5.3 e_exp.c,
// one branch; docs/spec.md pins the operation order).
//
// Every floating-point operation is a correctly rounded IEEE-754 intrinsic
// (__dmul_rn, __dadd_rn, __dsub_rn, __ddiv_rn): the compiler never contracts
// those into a fused multiply-add, whether or not the module is compiled
// with --fmad=false, so the bits equal the NumPy reference's on every GPU.
// Host compilers see plain operators: build host code with contraction off
// (-ffp-contract=off for GCC and Clang), as NumPy's separate ufunc calls are.
//
// Self-contained (NVRTC has no standard headers) and independent of
// jitc_random.cuh: its names all start with jitc_exp.
#ifndef JITC_EXP_CUH
#define JITC_EXP_CUH

#if defined(__CUDACC__) || defined(__CUDACC_RTC__)
#define JITC_EXP_HD __host__ __device__ __forceinline__
#else
#include <string.h>
#define JITC_EXP_HD static inline
#endif

// fdlibm 5.3 e_exp.c constants (lazyconn/_exp.py has the decimal values).
#define JITC_EXP_O_THRESHOLD 0x1.62e42fefa39efp+9
#define JITC_EXP_U_THRESHOLD (-0x1.74910d52d3051p+9)
#define JITC_EXP_LN2_HI 0x1.62e42fee00000p-1
#define JITC_EXP_LN2_LO 0x1.a39ef35793c76p-33
#define JITC_EXP_INVLN2 0x1.71547652b82fep+0
#define JITC_EXP_P1 0x1.555555555553ep-3
#define JITC_EXP_P2 (-0x1.6c16c16bebd93p-9)
#define JITC_EXP_P3 0x1.1566aaf25de2cp-14
#define JITC_EXP_P4 (-0x1.bbd41c5d26bf1p-20)
#define JITC_EXP_P5 0x1.6376972bea4d0p-25
// 1.5 * 2**52: adding it rounds |v| < 2**51 to an integer; its bits.
#define JITC_EXP_SHIFTER 0x1.8p+52
#define JITC_EXP_SHIFTER_BITS 0x4338000000000000ll

#ifdef __CUDA_ARCH__
#define JITC_EXP_MUL(a, b) __dmul_rn(a, b)
#define JITC_EXP_ADD(a, b) __dadd_rn(a, b)
#define JITC_EXP_SUB(a, b) __dsub_rn(a, b)
#define JITC_EXP_DIV(a, b) __ddiv_rn(a, b)
#else
#define JITC_EXP_MUL(a, b) ((a) * (b))
#define JITC_EXP_ADD(a, b) ((a) + (b))
#define JITC_EXP_SUB(a, b) ((a) - (b))
#define JITC_EXP_DIV(a, b) ((a) / (b))
#endif

JITC_EXP_HD long long jitc_exp_double_bits(double x)
{
#ifdef __CUDA_ARCH__
    return __double_as_longlong(x);
#else
    long long bits;
    memcpy(&bits, &x, sizeof bits);
    return bits;
#endif
}

JITC_EXP_HD double jitc_exp_bits_double(long long bits)
{
#ifdef __CUDA_ARCH__
    return __longlong_as_double(bits);
#else
    double x;
    memcpy(&x, &bits, sizeof x);
    return x;
#endif
}

// exp(x) for any double x: NaN returns x itself, x > O_THRESHOLD +inf,
// x < U_THRESHOLD +0.0, otherwise the steps of lazyconn._exp._exp_core.
JITC_EXP_HD double jitc_exp(double x)
{
    if (x != x) return x;
    if (x > JITC_EXP_O_THRESHOLD) return jitc_exp_bits_double(0x7FF0000000000000ll);
    if (x < JITC_EXP_U_THRESHOLD) return 0.0;
    // x = k ln2 + r: k = x / ln2 rounded by the shifter; hi and lo exact.
    const double t = JITC_EXP_ADD(JITC_EXP_MUL(x, JITC_EXP_INVLN2), JITC_EXP_SHIFTER);
    const double k = JITC_EXP_SUB(t, JITC_EXP_SHIFTER);
    const double hi = JITC_EXP_SUB(x, JITC_EXP_MUL(k, JITC_EXP_LN2_HI));
    const double lo = JITC_EXP_MUL(k, JITC_EXP_LN2_LO);
    const double r = JITC_EXP_SUB(hi, lo);
    // c = r - z * (P1 + z * (P2 + z * (P3 + z * (P4 + z * P5)))), z = r * r.
    const double z = JITC_EXP_MUL(r, r);
    double p = JITC_EXP_ADD(JITC_EXP_P4, JITC_EXP_MUL(z, JITC_EXP_P5));
    p = JITC_EXP_ADD(JITC_EXP_P3, JITC_EXP_MUL(z, p));
    p = JITC_EXP_ADD(JITC_EXP_P2, JITC_EXP_MUL(z, p));
    p = JITC_EXP_ADD(JITC_EXP_P1, JITC_EXP_MUL(z, p));
    const double c = JITC_EXP_SUB(r, JITC_EXP_MUL(z, p));
    // y = 1 - ((lo - (r * c) / (2 - c)) - hi) = exp(r).
    const double q = JITC_EXP_DIV(JITC_EXP_MUL(r, c), JITC_EXP_SUB(2.0, c));
    const double y = JITC_EXP_SUB(1.0, JITC_EXP_SUB(JITC_EXP_SUB(lo, q), hi));
    // y * 2**k as (y * 2**k1) * 2**k2, k1 = floor(k / 2): both powers are
    // normal, the first product is exact, the second rounds once.
    const long long k_int = jitc_exp_double_bits(t) - JITC_EXP_SHIFTER_BITS;
    const long long k1 = k_int >> 1;
    const long long k2 = k_int - k1;
    const double scale1 = jitc_exp_bits_double((k1 + 1023) << 52);
    const double scale2 = jitc_exp_bits_double((k2 + 1023) << 52);
    return JITC_EXP_MUL(JITC_EXP_MUL(y, scale1), scale2);
}

#endif  // JITC_EXP_CUH
