// Weight laws of the GPU kernels: one struct per law (lazyconn/laws.py names
// it in the law's record, Law.cuda_type), passed to the kernels as a template
// parameter, so that a kernel is compiled per law and no law is tested at run
// time.  Each struct turns the weight words of a connection (domain 1 of the
// streams) into weights with exactly the float64 operations of the law's
// NumPy reference (Law.reference), each weight rounded once to W:
//
//   CONSTANT            true: every weight is a, no weight word is read (the
//                       products then sum the operand and multiply once);
//   smem_bytes<W>()     bytes of a product CTA's dynamic shared memory that
//                       the law takes before the tile (the host allots the
//                       same: _gpu_launch._ndtri_smem_bytes);
//   stage<W>(p, smem)   fills them (every thread of the CTA calls it);
//   weight<W>(p, word)  one weight;
//   weights4<W>(p, wr, need, smem_addr, w0..w3)
//                       the four weights of one Philox block of weight words,
//                       for the slots in the bit mask `need` (the others may
//                       hold anything).
//
// Compiled after jitc_random.cuh and jitc_exp.cuh, in one translation unit
// with the kernels (_gpu_launch._source); device code only.
#ifndef JITC_LAWS_CUH
#define JITC_LAWS_CUH

// The law's share of the generator's arguments (jitc_gen, filled on the
// host by _gpu_launch._gen_args): the record's kernel parameters (a, b), the
// table of the float32 Normal route and the constants of its error bound
// (jitc_normal_weight32; read by NormalLaw only).
struct jitc_law_args {
    double a, b;
    const double *ndtri_table;
    double ndtri_bq_bound, ndtri_bv_slack, ndtri_a_slack;
};

// The tail of ndtri is long: one out-of-line copy per kernel instead of one
// per call site keeps the kernels small and quick to compile.
__device__ __noinline__ double jitc_ndtri_tail_call(double u) { return jitc_ndtri_tail(u); }
__device__ __noinline__ double jitc_ndtri_exact_call(double u) { return jitc_ndtri(u); }

// The four words of a Philox block as float64 uniforms.
__device__ __forceinline__ void jitc_uniforms4(const jitc_words &wr, double &u0, double &u1, double &u2, double &u3)
{
    u0 = jitc_uniform(wr.w0), u1 = jitc_uniform(wr.w1);
    u2 = jitc_uniform(wr.w2), u3 = jitc_uniform(wr.w3);
}

// ndtri of four uniforms, for the slots in `need`.  The central branch of
// AS241 runs for all four at once; the tails (15% of draws) are then taken
// one per pass, so a warp makes as many tail passes as its lane with the most
// tails (mostly 1 or 2), not one per slot.  Same operations as jitc_ndtri,
// so the same bits.
__device__ __forceinline__ void jitc_ndtri4(double u0, double u1, double u2, double u3, unsigned need, double &v0,
                                            double &v1, double &v2, double &v3)
{
    const double q0 = u0 - 0.5, q1 = u1 - 0.5, q2 = u2 - 0.5, q3 = u3 - 0.5;
    unsigned tails = need & ((fabs(q0) > 0.425 ? 1u : 0u) | (fabs(q1) > 0.425 ? 2u : 0u) |
                             (fabs(q2) > 0.425 ? 4u : 0u) | (fabs(q3) > 0.425 ? 8u : 0u));
    v0 = jitc_ndtri_central(q0);
    v1 = jitc_ndtri_central(q1);
    v2 = jitc_ndtri_central(q2);
    v3 = jitc_ndtri_central(q3);
    while (tails) {
        const int i = __ffs(tails) - 1;
        tails &= tails - 1;
        const double v = jitc_ndtri_tail_call(i == 0 ? u0 : i == 1 ? u1 : i == 2 ? u2 : u3);
        if (i == 0) v0 = v;
        else if (i == 1) v1 = v;
        else if (i == 2) v2 = v;
        else v3 = v;
    }
}

// Scalar(weight): a.
struct ScalarLaw {
    static constexpr bool CONSTANT = true;
    template <typename W> __host__ __device__ static constexpr int smem_bytes() { return 0; }
    template <typename W> __device__ static void stage(const jitc_law_args &, void *) {}
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32) { return (W)p.a; }
    template <typename W>
    __device__ static void weights4(const jitc_law_args &p, const jitc_words &, unsigned, jitc_u32, W &w0, W &w1,
                                    W &w2, W &w3)
    {
        w0 = w1 = w2 = w3 = (W)p.a;
    }
};

// Uniform(low, high): a + b * u, a = low, b = high - low.
struct UniformLaw {
    static constexpr bool CONSTANT = false;
    template <typename W> __host__ __device__ static constexpr int smem_bytes() { return 0; }
    template <typename W> __device__ static void stage(const jitc_law_args &, void *) {}
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32 word)
    {
        return (W)(p.a + p.b * jitc_uniform(word));
    }
    template <typename W>
    __device__ static void weights4(const jitc_law_args &p, const jitc_words &wr, unsigned, jitc_u32, W &w0, W &w1,
                                    W &w2, W &w3)
    {
        double u0, u1, u2, u3;
        jitc_uniforms4(wr, u0, u1, u2, u3);
        w0 = (W)(p.a + p.b * u0);
        w1 = (W)(p.a + p.b * u1);
        w2 = (W)(p.a + p.b * u2);
        w3 = (W)(p.a + p.b * u3);
    }
};

// Normal(loc, scale): a + b * ndtri(u).  float32 weights take the verified
// polynomial route (jitc_normal_weight32), AS241 only where it cannot decide;
// a product CTA reads the route's table from its own copy in shared memory.
struct NormalLaw {
    static constexpr bool CONSTANT = false;
    template <typename W> __host__ __device__ static constexpr int smem_bytes()
    {
        return sizeof(W) == sizeof(float) ? JITC_NDTRI_SMEM_BYTES : 0;
    }
    // The coefficients of every row into dst (JITC_NDTRI_SMEM_STRIDE doubles a row).
    template <typename W> __device__ static void stage(const jitc_law_args &p, void *dst)
    {
        if (sizeof(W) != sizeof(float)) return;
        double *rows = reinterpret_cast<double *>(dst);
        for (int e = threadIdx.x; e < JITC_NDTRI_ROWS * JITC_NDTRI_SMEM_STRIDE; e += blockDim.x)
            rows[e] = p.ndtri_table[(e / JITC_NDTRI_SMEM_STRIDE) * JITC_NDTRI_STRIDE + e % JITC_NDTRI_SMEM_STRIDE];
    }
    template <bool SMEM_ROWS>
    __device__ static bool weight32(const jitc_law_args &p, jitc_u32 word, jitc_u32 smem_rows, float &w)
    {
        return jitc_normal_weight32<SMEM_ROWS>(word, p.a, p.b, p.ndtri_bq_bound, p.ndtri_bv_slack, p.ndtri_a_slack,
                                               p.ndtri_table, smem_rows, w);
    }
    // The spec's float64 weight, out of line (gpu.law32_check compares with it).
    __device__ static double exact(const jitc_law_args &p, double u) { return p.a + p.b * jitc_ndtri_exact_call(u); }
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32 word)
    {
        if (sizeof(W) == sizeof(float)) {
            float w;
            if (weight32<false>(p, word, 0u, w)) return (W)w;
        }
        return (W)(p.a + p.b * jitc_ndtri(jitc_uniform(word)));
    }
    template <typename W>
    __device__ static void weights4(const jitc_law_args &p, const jitc_words &wr, unsigned need, jitc_u32 smem_rows,
                                    W &w0, W &w1, W &w2, W &w3)
    {
        if (sizeof(W) == sizeof(float)) {
            float f0, f1, f2, f3;
            unsigned slow = (weight32<true>(p, wr.w0, smem_rows, f0) ? 0u : 1u) |
                            (weight32<true>(p, wr.w1, smem_rows, f1) ? 0u : 2u) |
                            (weight32<true>(p, wr.w2, smem_rows, f2) ? 0u : 4u) |
                            (weight32<true>(p, wr.w3, smem_rows, f3) ? 0u : 8u);
            slow &= need;
            while (slow) {  // rare: a warp seldom takes this loop
                const int i = __ffs(slow) - 1;
                slow &= slow - 1;
                const double u = jitc_uniform(i == 0 ? wr.w0 : i == 1 ? wr.w1 : i == 2 ? wr.w2 : wr.w3);
                const float f = (float)(p.a + p.b * jitc_ndtri_exact_call(u));
                if (i == 0) f0 = f;
                else if (i == 1) f1 = f;
                else if (i == 2) f2 = f;
                else f3 = f;
            }
            w0 = (W)f0, w1 = (W)f1, w2 = (W)f2, w3 = (W)f3;
            return;
        }
        double u0, u1, u2, u3, v0, v1, v2, v3;
        jitc_uniforms4(wr, u0, u1, u2, u3);
        jitc_ndtri4(u0, u1, u2, u3, need, v0, v1, v2, v3);
        w0 = (W)(p.a + p.b * v0);
        w1 = (W)(p.a + p.b * v1);
        w2 = (W)(p.a + p.b * v2);
        w3 = (W)(p.a + p.b * v3);
    }
};

// ---------------------------------------------------------------------------
// float32 LogNormal and Exponential weights by a cheap candidate and a proven
// error bound, the exact float64 route only where the bound cannot decide
// (docs/performance_history.md, "float32 LogNormal and Exponential routes").
// As for Normal (jitc_normal_weight32): the candidate's float64 interval
// [lo, hi] provably holds the spec's float64 weight T, rounding to float32
// is monotone (cvt.rn.f32.f64, subnormals and overflow to +inf included),
// so float32(lo) == float32(hi) is float32(T).  Both ends are positive here
// (no -0.0 == +0.0 to mistake).  Every weight is therefore the spec's, bit
// for bit; only the time changes.
//
// Accuracy of the two libraries the routes lean on, both for normal
// (never subnormal) double results, where 1 ulp <= 2**-52 of the value:
//   CUDA's double log(): at most 1 ulp (CUDA C Programming Guide,
//   "Mathematical Functions", double-precision table; libdevice evaluates
//   it with explicit fused multiply-adds, so --fmad=false leaves it as
//   documented);
//   the pinned jitc_exp and jitc_ln (fdlibm 5.3 e_exp.c / e_log.c): below 1
//   ulp (fdlibm's error analysis; jitc_exp measured at most 0.873 ulp,
//   lazyconn/_exp.py).
// The bounds below budget twice that (2 ulp, 2**-51 relative, for each).
// LogNormal's exp candidate is our own (jitc_exp_candidate), with its bound
// derived below.

// The exact routes, out of line: one copy per kernel, run about once in
// 10**5 weights (LogNormal) or 10**6 (Exponential).
__device__ __noinline__ double jitc_lognormal_exact_call(double u, double a, double b)
{
    return jitc_exp(a + b * jitc_ndtri(u));
}
__device__ __noinline__ double jitc_ln_exact_call(double u) { return jitc_ln(u); }

// exp(y) for |y| <= 100, within 2**-47 of it (relative); anything (no
// trap) for other y, which the LogNormal route refuses.  Branch-free and
// short, unlike CUDA's exp(), whose range checks cost registers in the
// product loops.  With fused multiply-adds:
//   k = y / ln 2 rounded to an integer (t = fma(y, INVLN2, 1.5 * 2**52)
//   rounds once to an integer, |k| <= 145), so |y - k ln 2| <= ln(2) / 2 +
//   2**-45;
//   r = fma(-k, LN2_LO, fma(-k, LN2_HI, y)) (fdlibm's split of ln 2):
//   |r - (y - k ln 2)| <= 2 * 2**-53 * 0.35 + 145 * 2**-86 < 2**-53, and
//   |r| < 0.3466;
//   p = the Taylor polynomial of degree 12 by Horner's rule, coefficients
//   1/i! rounded to double: truncation <= |r|**13 / 13! * exp(|r|), the
//   thirteen roundings of the fused Horner steps <= 13 * 2**-53 * (1 +
//   2**-40) * exp(|r|) (Higham, "Accuracy and Stability of Numerical
//   Algorithms", 5.1), coefficient roundings <= 2**-53 * exp(|r|); relative
//   to exp(r) >= exp(-|r|) that is at most (3.4e-16 + 15 * 2**-53 * 1.0001)
//   * exp(0.6932) < 2**-47.5, and r's own error adds 2**-52.9;
//   exp(y) = p * 2**k, the power of two built from k's bits: exact, the
//   result being a normal double.
#define JITC_EXPC_C3 0x1.5555555555555p-3
#define JITC_EXPC_C4 0x1.5555555555555p-5
#define JITC_EXPC_C5 0x1.1111111111111p-7
#define JITC_EXPC_C6 0x1.6c16c16c16c17p-10
#define JITC_EXPC_C7 0x1.a01a01a01a01ap-13
#define JITC_EXPC_C8 0x1.a01a01a01a01ap-16
#define JITC_EXPC_C9 0x1.71de3a556c734p-19
#define JITC_EXPC_C10 0x1.27e4fb7789f5cp-22
#define JITC_EXPC_C11 0x1.ae64567f544e4p-26
#define JITC_EXPC_C12 0x1.1eed8eff8d898p-29
__device__ __forceinline__ double jitc_exp_candidate(double y)
{
    const double t = fma(y, JITC_EXP_INVLN2, JITC_EXP_SHIFTER);
    const double k = t - JITC_EXP_SHIFTER;
    const double r = fma(-k, JITC_EXP_LN2_LO, fma(-k, JITC_EXP_LN2_HI, y));
    double p = fma(JITC_EXPC_C12, r, JITC_EXPC_C11);
    p = fma(p, r, JITC_EXPC_C10);
    p = fma(p, r, JITC_EXPC_C9);
    p = fma(p, r, JITC_EXPC_C8);
    p = fma(p, r, JITC_EXPC_C7);
    p = fma(p, r, JITC_EXPC_C6);
    p = fma(p, r, JITC_EXPC_C5);
    p = fma(p, r, JITC_EXPC_C4);
    p = fma(p, r, JITC_EXPC_C3);
    p = fma(p, r, 0.5);
    p = fma(p, r, 1.0);
    p = fma(p, r, 1.0);
    // t's low word is k (two's complement, |k| < 2**31): 2**k has the high
    // word (k + 1023) << 20.
    const jitc_u32 k_bits = (jitc_u32)__double2loint(t);
    return p * __hiloint2double((int)((k_bits + 1023u) << 20), 0);
}

// LogNormal, T = exp_pinned(Y) with Y = fl(a + fl(b * ndtri(u))), the
// Normal law's float64 value.
//   1. The Normal route's candidate: y' = fma(b, v', a) and its bound d
//      (jitc_normal_weight32, with the same three constants) satisfy
//      |Y - y'| <= d + 2**-1070: jitc_normal_weight32's argument shows the
//      terms of d cover |b| |v' - V| (<= |b q| E / 2, measured on every word
//      by gpu.ndtri_check) plus the roundings of Y and y' (2**-53 of |a| and
//      |b v'| each) with the rounding of d itself; the 2**-1070 covers
//      intermediates that underflow to subnormals (absolute 2**-1075 each).
//      Write delta = d + 2**-1070.
//   2. exp(Y) = exp(y') exp(Y - y'), and for delta <= 2**-20
//      exp(delta) <= 1 + delta (1 + 2**-19), exp(-delta) >= 1 - delta.
//   3. e = jitc_exp_candidate(y') = exp(y') (1 + tc), |tc| <= 2**-46 (twice
//      its bound), and T = exp(Y) (1 + tp), |tp| <= 2**-51, while |y'| <=
//      100 (results in [2**-146, 2**146], normal doubles).  Hence T / e lies
//      in [(1 - delta)(1 - 2**-45.9), (1 + delta (1 + 2**-19))(1 + 2**-45.9)]
//      inside [1 - rho, 1 + rho], rho = delta (1 + 2**-18) + 2**-45.8.
//   4. r = fma(d, 1 + 2**-16, 2**-44) >= (d (1 + 2**-16) + 2**-44)(1 - 2**-53)
//      >= rho + 2**-45, and the ends fma(-e, r, e) = e (1 - r)(1 + eps),
//      fma(e, r, e) = e (1 + r)(1 + eps'), |eps| <= 2**-53, lie below
//      e (1 - rho) and above e (1 + rho): they bracket T.
// The route decides only when |y'| <= 100 and r <= 2**-20 (which gives
// delta <= 2**-20 for step 2); NaN fails both.  Otherwise, as when the ends
// differ (about 2 r / 2**-24 of weights, some 10**-5 for
// sigma = 1), the caller runs jitc_lognormal_exact_call.
template <bool SMEM_ROWS>
__device__ __forceinline__ bool jitc_lognormal_weight32(const jitc_law_args &p, jitc_u32 word, jitc_u32 smem_rows,
                                                        float &w)
{
    double q_abs32;
    const double v = jitc_ndtri_candidate<SMEM_ROWS>(word, p.ndtri_table, smem_rows, q_abs32);
    const double y = fma(p.b, v, p.a);
    const double d = fma(q_abs32, p.ndtri_bq_bound, fma(fabs(v), p.ndtri_bv_slack, p.ndtri_a_slack));
    const double r = fma(d, 1.0 + 0x1p-16, 0x1p-44);
    const double e = jitc_exp_candidate(y);
    const float lo = (float)fma(-e, r, e);
    const float hi = (float)fma(e, r, e);
    w = lo;
    return (lo == hi) & (fabs(y) <= 100.0) & (r <= 0x1p-20);
}

// Exponential, T = fl(a * L), L = jitc_ln(u), a = -scale < 0, u one of the
// 2**32 spec uniforms (u < 1, so L <= -2**-33 (1 - 2**-30), never 0).
//   1. L' = log(u) (CUDA): |L' - L| <= 2**-50 |L| (twice the documented 2
//      ulp of the two routines together; gpu.ln_check measures it on all
//      2**32 words against half that, 2**-51).
//   2. y = fl(a L') = a L' (1 + e1) and T = a L (1 + e2), |e1|, |e2| <=
//      2**-53 while both are normal doubles, so T / y lies in
//      [1 - 2**-49.4, 1 + 2**-49.4]; the ends fl(y (1 -+ 2**-46)) (both
//      factors exact) are below y (1 - 2**-46 + 2**-53) and above
//      y (1 + 2**-46 - 2**-53): they bracket T, and y > 0 makes both
//      non-negative.
//   3. y < 2**-1000 (subnormal intermediates, a tiny scale): then
//      a L < 2**-999 as well, T and both ends round to float32 +0.0, and the
//      route keeps +0.0, which is float32(T).  An overflowing y (+inf, scale
//      near the double maximum) makes T's float32 +inf too.
// Undecided (about 2 * 2**-46 / 2**-24 of words, some 10**-6): the caller
// runs jitc_ln_exact_call.
__device__ __forceinline__ bool jitc_exponential_weight32(double a, jitc_u32 word, float &w)
{
    const double y = a * log(jitc_uniform(word));
    const float lo = (float)(y * (1.0 - 0x1p-46));
    const float hi = (float)(y * (1.0 + 0x1p-46));
    w = lo;
    return lo == hi;
}

// The slots of `slow` (a bit mask) as float32 exact(u) of their words:
// the float32 routes' fallback for the few slots they leave undecided.
template <typename Exact>
__device__ __forceinline__ void jitc_fallback4(const jitc_words &wr, unsigned slow, Exact exact, float &f0,
                                               float &f1, float &f2, float &f3)
{
    while (slow) {  // rare: a warp seldom takes this loop
        const int i = __ffs(slow) - 1;
        slow &= slow - 1;
        const float f = (float)exact(jitc_uniform(i == 0 ? wr.w0 : i == 1 ? wr.w1 : i == 2 ? wr.w2 : wr.w3));
        if (i == 0) f0 = f;
        else if (i == 1) f1 = f;
        else if (i == 2) f2 = f;
        else f3 = f;
    }
}

// LogNormal(mu, sigma): exp(a + b * ndtri(u)), the Normal law's float64
// value (a = mu, b = sigma) through the pinned exp (jitc_exp.cuh), as
// laws._lognormal_reference.  float32 weights take the route of
// jitc_lognormal_weight32 (the Normal route's candidate and table, copied
// to shared memory in a product CTA as NormalLaw does), the float64 route
// only where it cannot decide; float64 weights always take the float64
// route.
struct LogNormalLaw {
    static constexpr bool CONSTANT = false;
    template <typename W> __host__ __device__ static constexpr int smem_bytes()
    {
        return sizeof(W) == sizeof(float) ? JITC_NDTRI_SMEM_BYTES : 0;
    }
    template <typename W> __device__ static void stage(const jitc_law_args &p, void *dst)
    {
        NormalLaw::stage<W>(p, dst);
    }
    template <bool SMEM_ROWS>
    __device__ static bool weight32(const jitc_law_args &p, jitc_u32 word, jitc_u32 smem_rows, float &w)
    {
        return jitc_lognormal_weight32<SMEM_ROWS>(p, word, smem_rows, w);
    }
    // The spec's float64 weight.
    __device__ static double exact(const jitc_law_args &p, double u) { return jitc_lognormal_exact_call(u, p.a, p.b); }
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32 word)
    {
        if (sizeof(W) == sizeof(float)) {
            float w;
            if (weight32<false>(p, word, 0u, w)) return (W)w;
            return (W)exact(p, jitc_uniform(word));
        }
        return (W)jitc_exp(p.a + p.b * jitc_ndtri(jitc_uniform(word)));
    }
    template <typename W>
    __device__ static void weights4(const jitc_law_args &p, const jitc_words &wr, unsigned need, jitc_u32 smem_rows,
                                    W &w0, W &w1, W &w2, W &w3)
    {
        if (sizeof(W) == sizeof(float)) {
            float f0, f1, f2, f3;
            const unsigned slow = (weight32<true>(p, wr.w0, smem_rows, f0) ? 0u : 1u) |
                                  (weight32<true>(p, wr.w1, smem_rows, f1) ? 0u : 2u) |
                                  (weight32<true>(p, wr.w2, smem_rows, f2) ? 0u : 4u) |
                                  (weight32<true>(p, wr.w3, smem_rows, f3) ? 0u : 8u);
            jitc_fallback4(wr, slow & need, [&](double u) { return exact(p, u); }, f0, f1, f2, f3);
            w0 = (W)f0, w1 = (W)f1, w2 = (W)f2, w3 = (W)f3;
            return;
        }
        double u0, u1, u2, u3, v0, v1, v2, v3;
        jitc_uniforms4(wr, u0, u1, u2, u3);
        jitc_ndtri4(u0, u1, u2, u3, need, v0, v1, v2, v3);
        w0 = (W)jitc_exp(p.a + p.b * v0);
        w1 = (W)jitc_exp(p.a + p.b * v1);
        w2 = (W)jitc_exp(p.a + p.b * v2);
        w3 = (W)jitc_exp(p.a + p.b * v3);
    }
};

// Exponential(scale): a * ln(u), a = -scale, with the pinned ln of the gaps
// (jitc_ln), as laws._exponential_reference.  float32 weights take the
// route of jitc_exponential_weight32, the pinned ln only where it cannot
// decide; float64 weights always take the pinned ln.
struct ExponentialLaw {
    static constexpr bool CONSTANT = false;
    template <typename W> __host__ __device__ static constexpr int smem_bytes() { return 0; }
    template <typename W> __device__ static void stage(const jitc_law_args &, void *) {}
    template <bool SMEM_ROWS>
    __device__ static bool weight32(const jitc_law_args &p, jitc_u32 word, jitc_u32, float &w)
    {
        return jitc_exponential_weight32(p.a, word, w);
    }
    // The spec's float64 weight.
    __device__ static double exact(const jitc_law_args &p, double u) { return p.a * jitc_ln_exact_call(u); }
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32 word)
    {
        if (sizeof(W) == sizeof(float)) {
            float w;
            if (weight32<false>(p, word, 0u, w)) return (W)w;
            return (W)exact(p, jitc_uniform(word));
        }
        return (W)(p.a * jitc_ln(jitc_uniform(word)));
    }
    template <typename W>
    __device__ static void weights4(const jitc_law_args &p, const jitc_words &wr, unsigned need, jitc_u32, W &w0,
                                    W &w1, W &w2, W &w3)
    {
        if (sizeof(W) == sizeof(float)) {
            float f0, f1, f2, f3;
            const unsigned slow = (weight32<false>(p, wr.w0, 0u, f0) ? 0u : 1u) |
                                  (weight32<false>(p, wr.w1, 0u, f1) ? 0u : 2u) |
                                  (weight32<false>(p, wr.w2, 0u, f2) ? 0u : 4u) |
                                  (weight32<false>(p, wr.w3, 0u, f3) ? 0u : 8u);
            jitc_fallback4(wr, slow & need, [&](double u) { return exact(p, u); }, f0, f1, f2, f3);
            w0 = (W)f0, w1 = (W)f1, w2 = (W)f2, w3 = (W)f3;
            return;
        }
        double u0, u1, u2, u3;
        jitc_uniforms4(wr, u0, u1, u2, u3);
        w0 = (W)(p.a * jitc_ln(u0));
        w1 = (W)(p.a * jitc_ln(u1));
        w2 = (W)(p.a * jitc_ln(u2));
        w3 = (W)(p.a * jitc_ln(u3));
    }
};

#endif  // JITC_LAWS_CUH
