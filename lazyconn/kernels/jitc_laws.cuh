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
//   weight<W, SMEM_ROWS>(p, word, smem_addr)
//                       one weight (SMEM_ROWS: a law's table from the CTA's
//                       copy at smem_addr, as weights4 reads it; else from
//                       global memory);
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
    template <typename W, bool SMEM_ROWS = false>
    __device__ static W weight(const jitc_law_args &p, jitc_u32, jitc_u32 = 0u)
    {
        return jitc_convert(p.a, W());
    }
    template <typename W>
    __device__ static void weights4(const jitc_law_args &p, const jitc_words &, unsigned, jitc_u32, W &w0, W &w1,
                                    W &w2, W &w3)
    {
        w0 = w1 = w2 = w3 = jitc_convert(p.a, W());
    }
};

// Uniform(low, high): a + b * u, a = low, b = high - low.
struct UniformLaw {
    static constexpr bool CONSTANT = false;
    template <typename W> __host__ __device__ static constexpr int smem_bytes() { return 0; }
    template <typename W> __device__ static void stage(const jitc_law_args &, void *) {}
    template <typename W, bool SMEM_ROWS = false>
    __device__ static W weight(const jitc_law_args &p, jitc_u32 word, jitc_u32 = 0u)
    {
        return jitc_convert(p.a + p.b * jitc_uniform(word), W());
    }
    template <typename W>
    __device__ static void weights4(const jitc_law_args &p, const jitc_words &wr, unsigned, jitc_u32, W &w0, W &w1,
                                    W &w2, W &w3)
    {
        double u0, u1, u2, u3;
        jitc_uniforms4(wr, u0, u1, u2, u3);
        w0 = jitc_convert(p.a + p.b * u0, W());
        w1 = jitc_convert(p.a + p.b * u1, W());
        w2 = jitc_convert(p.a + p.b * u2, W());
        w3 = jitc_convert(p.a + p.b * u3, W());
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
    template <typename W, bool SMEM_ROWS = false>
    __device__ static W weight(const jitc_law_args &p, jitc_u32 word, jitc_u32 smem_rows = 0u)
    {
        if (sizeof(W) == sizeof(float)) {
            float w;
            if (weight32<SMEM_ROWS>(p, word, smem_rows, w)) return jitc_convert(w, W());
        }
        return jitc_convert(p.a + p.b * jitc_ndtri(jitc_uniform(word)), W());
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
                const float f = jitc_convert(p.a + p.b * jitc_ndtri_exact_call(u), float());
                if (i == 0) f0 = f;
                else if (i == 1) f1 = f;
                else if (i == 2) f2 = f;
                else f3 = f;
            }
            w0 = jitc_convert(f0, W()), w1 = jitc_convert(f1, W());
            w2 = jitc_convert(f2, W()), w3 = jitc_convert(f3, W());
            return;
        }
        double u0, u1, u2, u3, v0, v1, v2, v3;
        jitc_uniforms4(wr, u0, u1, u2, u3);
        jitc_ndtri4(u0, u1, u2, u3, need, v0, v1, v2, v3);
        w0 = jitc_convert(p.a + p.b * v0, W());
        w1 = jitc_convert(p.a + p.b * v1, W());
        w2 = jitc_convert(p.a + p.b * v2, W());
        w3 = jitc_convert(p.a + p.b * v3, W());
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
// Accuracy of the pinned routines the bounds lean on, for normal (never
// subnormal) double results, where 1 ulp <= 2**-52 of the value:
//   the pinned jitc_exp and jitc_ln (fdlibm 5.3 e_exp.c / e_log.c): below 1
//   ulp (fdlibm's error analysis; jitc_exp measured at most 0.873 ulp,
//   lazyconn/_exp.py).
// The bounds below budget twice that (2 ulp, 2**-51 relative).  The
// candidates are our own (jitc_exp_candidate; jitc_log_candidate in jitc_logc.cuh): fused
// multiply-adds, products and sums only, with bounds derived below.

// The exact routes, out of line: one copy per kernel, run about once in
// 10**5 weights (LogNormal) or 10**6 (Exponential).
__device__ __noinline__ double jitc_lognormal_exact_call(double u, double a, double b)
{
    return jitc_exp(a + b * jitc_ndtri(u));
}
__device__ __noinline__ double jitc_ln_exact_call(double u) { return jitc_ln(u); }

// The exp candidate's table (lazyconn/kernels/_route_tables.py makes it and
// says what it holds): 2**(j/32); the log candidate and its table are in
// jitc_logc.cuh.  The candidates use the portable bit casts of
// jitc_random.cuh and plain loads of const tables, so that host builds of
// the header compile them.
// BEGIN tables: generated by `python -m lazyconn.kernels._route_tables`
__device__ const double jitc_exp2_table[32] = {
    0x1.0000000000000p+0, 0x1.059b0d3158574p+0, 0x1.0b5586cf9890fp+0, 0x1.11301d0125b51p+0,  // 0 ..
    0x1.172b83c7d517bp+0, 0x1.1d4873168b9aap+0, 0x1.2387a6e756238p+0, 0x1.29e9df51fdee1p+0,  // 4 ..
    0x1.306fe0a31b715p+0, 0x1.371a7373aa9cbp+0, 0x1.3dea64c123422p+0, 0x1.44e086061892dp+0,  // 8 ..
    0x1.4bfdad5362a27p+0, 0x1.5342b569d4f82p+0, 0x1.5ab07dd485429p+0, 0x1.6247eb03a5585p+0,  // 12 ..
    0x1.6a09e667f3bcdp+0, 0x1.71f75e8ec5f74p+0, 0x1.7a11473eb0187p+0, 0x1.82589994cce13p+0,  // 16 ..
    0x1.8ace5422aa0dbp+0, 0x1.93737b0cdc5e5p+0, 0x1.9c49182a3f090p+0, 0x1.a5503b23e255dp+0,  // 20 ..
    0x1.ae89f995ad3adp+0, 0x1.b7f76f2fb5e47p+0, 0x1.c199bdd85529cp+0, 0x1.cb720dcef9069p+0,  // 24 ..
    0x1.d5818dcfba487p+0, 0x1.dfc97337b9b5fp+0, 0x1.ea4afa2a490dap+0, 0x1.f50765b6e4540p+0,  // 28 ..
};
// END tables

// exp(y) for |y| <= 100, within 2**-48 of it (relative); anything (no
// trap) for other y, which the LogNormal route refuses.  Branch-free and
// short, unlike CUDA's exp(), whose range checks cost registers in the
// product loops.  With fused multiply-adds:
//   n = y * 32 / ln 2 rounded to an integer (t = fma(y, INVLN2_32, 1.5 *
//   2**52) rounds once to an integer, |n| <= 4617), so |y - n ln(2)/32| <=
//   ln(2)/64 (1 + 2**-39.8) < 0.01083;
//   r = fma(-n, LN2_32_LO, fma(-n, LN2_32_HI, y)), HI + LO = ln(2)/32 to
//   2**-110: |r - (y - n ln(2)/32)| <= 2 * 2**-53 * 0.0109 < 2**-58;
//   p = the Taylor polynomial of degree 5 by Horner's rule (fused),
//   coefficients 1/i! rounded: truncation <= |r|**6 / 720 * exp(|r|) <=
//   2**-48.65, five roundings <= 5 * 2**-53 * 1.012 <= 2**-50.6, relative to
//   exp(r) (>= exp(-0.0109)) at most 2**-48.55 and 2**-50.5; r's error and
//   the coefficients' add less than 2**-58;
//   n = 32 k + j (j = n & 31): S = 2**(j/32) (the table's, within 2**-53)
//   times 2**k, added to its exponent bits (exact: |k| <= 145 keeps S
//   normal); e = p * S rounds once (2**-53), the result being normal.
//   In all |e / exp(y) - 1| <= 2**-48.55 + 2**-50.5 + 2**-52 < 2**-48.
#define JITC_EXPC_INVLN2_32 0x1.71547652b82fep+5
#define JITC_EXPC_LN2_32_HI 0x1.62e42fefa39efp-6
#define JITC_EXPC_LN2_32_LO 0x1.abc9e3b39803fp-61
#define JITC_EXPC_C3 0x1.5555555555555p-3
#define JITC_EXPC_C4 0x1.5555555555555p-5
#define JITC_EXPC_C5 0x1.1111111111111p-7
__device__ __forceinline__ double jitc_exp_candidate(double y)
{
    const double t = fma(y, JITC_EXPC_INVLN2_32, JITC_EXP_SHIFTER);
    const double n = t - JITC_EXP_SHIFTER;
    const double r = fma(-n, JITC_EXPC_LN2_32_LO, fma(-n, JITC_EXPC_LN2_32_HI, y));
    double p = fma(JITC_EXPC_C5, r, JITC_EXPC_C4);
    p = fma(p, r, JITC_EXPC_C3);
    p = fma(p, r, 0.5);
    p = fma(p, r, 1.0);
    p = fma(p, r, 1.0);
    // t's low word is n (two's complement, |n| < 2**31); k = n >> 5 goes
    // into the exponent bits of 2**(j/32).
    const int n_int = (int)(jitc_u32)jitc_double_bits(t);
    const jitc_u64 k_bits = (jitc_u64)(jitc_i64)(n_int >> 5) << 52;
    return p * jitc_bits_double(jitc_double_bits(jitc_exp2_table[n_int & 31]) + k_bits);
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
//   3. e = jitc_exp_candidate(y') = exp(y') (1 + tc), |tc| <= 2**-46 (four
//      times its bound), and T = exp(Y) (1 + tp), |tp| <= 2**-51, while |y'| <=
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
#if defined(__CUDA_ARCH__)  // as jitc_ndtri_candidate
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
    const float lo = jitc_convert(fma(-e, r, e), float());
    const float hi = jitc_convert(fma(e, r, e), float());
    w = lo;
    return (__float_as_uint(lo) == __float_as_uint(hi)) & (fabs(y) <= 100.0) & (r <= 0x1p-20);
}
#endif

// Exponential, T = fl(a * L), L = jitc_ln(u), a = -scale < 0, u one of the
// 2**32 spec uniforms (u < 1, so L <= -2**-33 (1 - 2**-30), never 0).
//   1. L' = jitc_log_candidate(u): |L' - L| <= 2**-45 |L| (four times its
//      bound; gpu.ln_check measures it on all 2**32 words against half
//      that, 2**-46).
//   2. y = fl(a L') = a L' (1 + e1) and T = a L (1 + e2), |e1|, |e2| <=
//      2**-53 while both are normal doubles, so T / y lies in
//      [1 - 2**-44.9, 1 + 2**-44.9]; the ends fl(y (1 -+ 2**-44)) (both
//      factors exact) are below y (1 - 2**-44 + 2**-53) and above
//      y (1 + 2**-44 - 2**-53): they bracket T, and y > 0 makes both
//      non-negative.
//   3. y < 2**-1000 (subnormal intermediates, a tiny scale): then
//      a L < 2**-999 as well, T and both ends round to float32 +0.0, and the
//      route keeps +0.0, which is float32(T).  An overflowing y (+inf, scale
//      near the double maximum) makes T's float32 +inf too.
// Undecided (about 2 * 2**-44 / 2**-24 of words at most, some 10**-6): the
// caller runs jitc_ln_exact_call.
__device__ __forceinline__ bool jitc_exponential_weight32(double a, jitc_u32 word, float &w)
{
    const double y = a * jitc_log_candidate(word);
    const float lo = jitc_convert(y * (1.0 - 0x1p-44), float());
    const float hi = jitc_convert(y * (1.0 + 0x1p-44), float());
    w = lo;
    return __float_as_uint(lo) == __float_as_uint(hi);  // bits: see jitc_normal_weight32
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
        const double u = jitc_uniform(i == 0 ? wr.w0 : i == 1 ? wr.w1 : i == 2 ? wr.w2 : wr.w3);
        const float f = jitc_convert(exact(u), float());
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
#if defined(__CUDA_ARCH__)
        return jitc_lognormal_weight32<SMEM_ROWS>(p, word, smem_rows, w);
#else
        // Host builds have no Normal candidate (jitc_random.cuh): every word
        // takes the exact route, which gives the same bits.
        w = 0.0f;
        return false;
#endif
    }
    // The spec's float64 weight.
    __device__ static double exact(const jitc_law_args &p, double u) { return jitc_lognormal_exact_call(u, p.a, p.b); }
    template <typename W, bool SMEM_ROWS = false>
    __device__ static W weight(const jitc_law_args &p, jitc_u32 word, jitc_u32 smem_rows = 0u)
    {
        if (sizeof(W) == sizeof(float)) {
            float w;
            if (weight32<SMEM_ROWS>(p, word, smem_rows, w)) return jitc_convert(w, W());
            return jitc_convert(exact(p, jitc_uniform(word)), W());
        }
        return jitc_convert(jitc_exp(p.a + p.b * jitc_ndtri(jitc_uniform(word))), W());
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
            w0 = jitc_convert(f0, W()), w1 = jitc_convert(f1, W());
            w2 = jitc_convert(f2, W()), w3 = jitc_convert(f3, W());
            return;
        }
        double u0, u1, u2, u3, v0, v1, v2, v3;
        jitc_uniforms4(wr, u0, u1, u2, u3);
        jitc_ndtri4(u0, u1, u2, u3, need, v0, v1, v2, v3);
        w0 = jitc_convert(jitc_exp(p.a + p.b * v0), W());
        w1 = jitc_convert(jitc_exp(p.a + p.b * v1), W());
        w2 = jitc_convert(jitc_exp(p.a + p.b * v2), W());
        w3 = jitc_convert(jitc_exp(p.a + p.b * v3), W());
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
    template <typename W, bool SMEM_ROWS = false>
    __device__ static W weight(const jitc_law_args &p, jitc_u32 word, jitc_u32 = 0u)
    {
        if (sizeof(W) == sizeof(float)) {
            float w;
            if (weight32<false>(p, word, 0u, w)) return jitc_convert(w, W());
            return jitc_convert(exact(p, jitc_uniform(word)), W());
        }
        return jitc_convert(p.a * jitc_ln(jitc_uniform(word)), W());
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
            w0 = jitc_convert(f0, W()), w1 = jitc_convert(f1, W());
            w2 = jitc_convert(f2, W()), w3 = jitc_convert(f3, W());
            return;
        }
        double u0, u1, u2, u3;
        jitc_uniforms4(wr, u0, u1, u2, u3);
        w0 = jitc_convert(p.a * jitc_ln(u0), W());
        w1 = jitc_convert(p.a * jitc_ln(u1), W());
        w2 = jitc_convert(p.a * jitc_ln(u2), W());
        w3 = jitc_convert(p.a * jitc_ln(u3), W());
    }
};

#endif  // JITC_LAWS_CUH
