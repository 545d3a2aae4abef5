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
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32) { return jitc_convert(p.a, W()); }
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
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32 word)
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
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32 word)
    {
        if (sizeof(W) == sizeof(float)) {
            float w;
            if (weight32<false>(p, word, 0u, w)) return jitc_convert(w, W());
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
// candidates are our own (jitc_exp_candidate, jitc_log_candidate): fused
// multiply-adds, products and sums only, with bounds derived below.

// The exact routes, out of line: one copy per kernel, run about once in
// 10**5 weights (LogNormal) or 10**6 (Exponential).
__device__ __noinline__ double jitc_lognormal_exact_call(double u, double a, double b)
{
    return jitc_exp(a + b * jitc_ndtri(u));
}
__device__ __noinline__ double jitc_ln_exact_call(double u) { return jitc_ln(u); }

// The candidates' tables (lazyconn/kernels/_route_tables.py makes them and
// says what they hold): 2**(j/32), and the log rows {inv_c, t}.  The
// candidates use the portable bit casts of jitc_random.cuh and plain loads
// of these const tables, so that host builds of the header compile them.
struct __align__(16) jitc_log_row {
    double inv_c, t;
};
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
__device__ const jitc_log_row jitc_log_table[256] = {
    {0x1.ff007fc01ff00p-1, -0x1.61e46fda56466p-1}, {0x1.fd04794a10e6ap-1, -0x1.5fe66db228992p-1},  // 0, 1
    {0x1.fb0c610d5e939p-1, -0x1.5dea65985a350p-1}, {0x1.f9182b6813bafp-1, -0x1.5bf053a48690ep-1},  // 2, 3
    {0x1.f727cce5f530ap-1, -0x1.59f833f9d4290p-1}, {0x1.f53b3a3fa204ep-1, -0x1.580202c6c7353p-1},  // 4, 5
    {0x1.f3526859b8cecp-1, -0x1.560dbc45153c7p-1}, {0x1.f16d4c4401f17p-1, -0x1.541b5cb979809p-1},  // 6, 7
    {0x1.ef8bdb389ebadp-1, -0x1.522ae0738a3d8p-1}, {0x1.edae0a9b3d3a5p-1, -0x1.503c43cd8eb68p-1},  // 8, 9
    {0x1.ebd3cff850b0cp-1, -0x1.4e4f832c560ddp-1}, {0x1.e9fd21044e799p-1, -0x1.4c649aff0ee16p-1},  // 10, 11
    {0x1.e829f39aef509p-1, -0x1.4a7b87bf1fa82p-1}, {0x1.e65a3dbe74d6bp-1, -0x1.489445efffcccp-1},  // 12, 13
    {0x1.e48df596f3394p-1, -0x1.46aed21f117fcp-1}, {0x1.e2c511719ee16p-1, -0x1.44cb28e37c3eep-1},  // 14, 15
    {0x1.e0ff87c01e100p-1, -0x1.42e946de080c0p-1}, {0x1.df3d4f17de4dbp-1, -0x1.410928b8f950fp-1},  // 16, 17
    {0x1.dd7e5e316d94cp-1, -0x1.3f2acb27ed6c7p-1}, {0x1.dbc2abe7d71d4p-1, -0x1.3d4e2ae7b7e2bp-1},  // 18, 19
    {0x1.da0a2f3803b41p-1, -0x1.3b7344be40311p-1}, {0x1.d854df401d855p-1, -0x1.399a157a603e7p-1},  // 20, 21
    {0x1.d6a2b33ef7448p-1, -0x1.37c299f3c366ap-1}, {0x1.d4f3a293769cap-1, -0x1.35eccf0ac61d0p-1},  // 22, 23
    {0x1.d347a4bc01d34p-1, -0x1.3418b1a85622cp-1}, {0x1.d19eb155f08a4p-1, -0x1.32463ebdd34eap-1},  // 24, 25
    {0x1.cff8c01cff8c0p-1, -0x1.30757344f0e13p-1}, {0x1.ce55c8eac7900p-1, -0x1.2ea64c3f97654p-1},  // 26, 27
    {0x1.ccb5c3b636e3ap-1, -0x1.2cd8c6b7c716fp-1}, {0x1.cb18a8930de60p-1, -0x1.2b0cdfbf7ad03p-1},  // 28, 29
    {0x1.c97e6fb15e44dp-1, -0x1.294294708b773p-1}, {0x1.c7e7115d0ce95p-1, -0x1.2779e1ec93ecbp-1},  // 30, 31
    {0x1.c65285fd56843p-1, -0x1.25b2c55cd5762p-1}, {0x1.c4c0c61456a8ep-1, -0x1.23ed3bf21ca33p-1},  // 32, 33
    {0x1.c331ca3e91679p-1, -0x1.222942e4a6a9dp-1}, {0x1.c1a58b327f576p-1, -0x1.2066d7740737ep-1},  // 34, 35
    {0x1.c01c01c01c01cp-1, -0x1.1ea5f6e70eb83p-1}, {0x1.be9526d0769fap-1, -0x1.1ce69e8bb106bp-1},  // 36, 37
    {0x1.bd10f365451b6p-1, -0x1.1b28cbb6ec93ep-1}, {0x1.bb8f609879493p-1, -0x1.196c7bc4b1f3ap-1},  // 38, 39
    {0x1.ba10679bd8488p-1, -0x1.17b1ac17cbd5bp-1}, {0x1.b89401b89401cp-1, -0x1.15f85a19c765cp-1},  // 40, 41
    {0x1.b71a284ee6b34p-1, -0x1.1440833add112p-1}, {0x1.b5a2d4d5b081fp-1, -0x1.128a24f1d9affp-1},  // 42, 43
    {0x1.b42e00da17007p-1, -0x1.10d53cbc080f8p-1}, {0x1.b2bba5ff26a23p-1, -0x1.0f21c81d1adc3p-1},  // 44, 45
    {0x1.b14bbdfd760e6p-1, -0x1.0d6fc49f16e93p-1}, {0x1.afde42a2cb482p-1, -0x1.0bbf2fd23dd41p-1},  // 46, 47
    {0x1.ae732dd1c2a09p-1, -0x1.0a10074cf9019p-1}, {0x1.ad0a798177693p-1, -0x1.086248abc4f3bp-1},  // 48, 49
    {0x1.aba41fbd2e5b1p-1, -0x1.06b5f1911cf52p-1}, {0x1.aa401aa401aa4p-1, -0x1.050affa5671a5p-1},  // 50, 51
    {0x1.a8de64688ebabp-1, -0x1.03617096e0952p-1}, {0x1.a77ef750a56dap-1, -0x1.01b942198a5a1p-1},  // 52, 53
    {0x1.a621cdb4f8fdfp-1, -0x1.001271e716158p-1}, {0x1.a4c6e200d2637p-1, -0x1.fcd9fb7da6defp-2},  // 54, 55
    {0x1.a36e2eb1c432dp-1, -0x1.f991c6cb3b37ap-2}, {0x1.a217ae575ff2fp-1, -0x1.f64c414b926c5p-2},  // 56, 57
    {0x1.a0c35b92ecdf1p-1, -0x1.f309669e24cf9p-2}, {0x1.9f713117200d0p-1, -0x1.efc9326d16ab9p-2},  // 58, 59
    {0x1.9e2129a7d5f0ap-1, -0x1.ec8ba06d15ad8p-2}, {0x1.9cd34019cd340p-1, -0x1.e950ac5d36dc1p-2},  // 60, 61
    {0x1.9b876f5262dd1p-1, -0x1.e6185206d516fp-2}, {0x1.9a3db2474fb98p-1, -0x1.e2e28d3d701ccp-2},  // 62, 63
    {0x1.98f603fe670a0p-1, -0x1.dfaf59de8c15ep-2}, {0x1.97b05f8d56652p-1, -0x1.dc7eb3d1919ebp-2},  // 64, 65
    {0x1.966cc01966cc0p-1, -0x1.d9509707ae52fp-2}, {0x1.952b20d73ee97p-1, -0x1.d624ff7bb5d46p-2},  // 66, 67
    {0x1.93eb7d0aa6759p-1, -0x1.d2fbe932034c8p-2}, {0x1.92add0064ab74p-1, -0x1.cfd550385b659p-2},  // 68, 69
    {0x1.9172152b841ddp-1, -0x1.ccb130a5cebb0p-2}, {0x1.903847ea1cec1p-1, -0x1.c98f869a9cbbcp-2},  // 70, 71
    {0x1.8f0063c018f00p-1, -0x1.c6704e4016ff7p-2}, {0x1.8dca64397e408p-1, -0x1.c35383c8850b0p-2},  // 72, 73
    {0x1.8c9644f01efbcp-1, -0x1.c039236f08819p-2}, {0x1.8b64018b64019p-1, -0x1.bd21297781c30p-2},  // 74, 75
    {0x1.8a3395c018a34p-1, -0x1.ba0b922e74f23p-2}, {0x1.8904fd503744bp-1, -0x1.b6f859e8ef639p-2},  // 76, 77
    {0x1.87d8340ab6e97p-1, -0x1.b3e77d046d728p-2}, {0x1.86ad35cb59a84p-1, -0x1.b0d8f7e6c0b84p-2},  // 78, 79
    {0x1.8583fe7a7c018p-1, -0x1.adccc6fdf6a80p-2}, {0x1.845c8a0ce5129p-1, -0x1.aac2e6c03f895p-2},  // 80, 81
    {0x1.8336d48397a24p-1, -0x1.a7bb53abd5d21p-2}, {0x1.8212d9eba4018p-1, -0x1.a4b60a46e5dd2p-2},  // 82, 83
    {0x1.80f0965dfabcbp-1, -0x1.a1b3071f75fd9p-2}, {0x1.7fd005ff40180p-1, -0x1.9eb246cb4eea2p-2},  // 84, 85
    {0x1.7eb124ffa053bp-1, -0x1.9bb3c5e7e4814p-2}, {0x1.7d93ef9aa4b46p-1, -0x1.98b7811a3ee5cp-2},  // 86, 87
    {0x1.7c7862170949fp-1, -0x1.95bd750ee3ed3p-2}, {0x1.7b5e78c693733p-1, -0x1.92c59e79c0e55p-2},  // 88, 89
    {0x1.7a463005e918cp-1, -0x1.8fcffa1614aa0p-2}, {0x1.792f843c689c3p-1, -0x1.8cdc84a65a0bep-2},  // 90, 91
    {0x1.781a71dc01782p-1, -0x1.89eb3af432875p-2}, {0x1.7706f5610d8d0p-1, -0x1.86fc19d05148ep-2},  // 92, 93
    {0x1.75f50b522b17cp-1, -0x1.840f1e12667f1p-2}, {0x1.74e4b040174e5p-1, -0x1.812444990af64p-2},  // 94, 95
    {0x1.73d5e0c5899f7p-1, -0x1.7e3b8a49ac007p-2}, {0x1.72c899870f91fp-1, -0x1.7b54ec1077a48p-2},  // 96, 97
    {0x1.71bcd732e940ap-1, -0x1.787066e04915fp-2}, {0x1.70b29680e66fap-1, -0x1.758df7b29572cp-2},  // 98, 99
    {0x1.6fa9d43244380p-1, -0x1.72ad9b8758c60p-2}, {0x1.6ea28d118b474p-1, -0x1.6fcf4f65034fdp-2},  // 100, 101
    {0x1.6d9cbdf26eaefp-1, -0x1.6cf31058670ecp-2}, {0x1.6c9863b1ab429p-1, -0x1.6a18db74a58c4p-2},  // 102, 103
    {0x1.6b957b34e7803p-1, -0x1.6740add31de95p-2}, {0x1.6a94016a94017p-1, -0x1.646a84935b2a3p-2},  // 104, 105
    {0x1.6993f349cc726p-1, -0x1.61965cdb02c1ep-2}, {0x1.68954dd2390bap-1, -0x1.5ec433d5c35aep-2},  // 106, 107
    {0x1.67980e0bf08c7p-1, -0x1.5bf406b543db1p-2}, {0x1.669c31075ab40p-1, -0x1.5925d2b112a59p-2},  // 108, 109
    {0x1.65a1b3dd13357p-1, -0x1.565995069514cp-2}, {0x1.64a893adcd25fp-1, -0x1.538f4af8f72fcp-2},  // 110, 111
    {0x1.63b0cda236e1cp-1, -0x1.50c6f1d11b97bp-2}, {0x1.62ba5eeade65ep-1, -0x1.4e0086dd8baccp-2},  // 112, 113
    {0x1.61c544c0161c5p-1, -0x1.4b3c077267e9ap-2}, {0x1.60d17c61da198p-1, -0x1.487970e958771p-2},  // 114, 115
    {0x1.5fdf0317b5c6fp-1, -0x1.45b8c0a17df12p-2}, {0x1.5eedd630a9fb3p-1, -0x1.42f9f3ff62641p-2},  // 116, 117
    {0x1.5dfdf303137b6p-1, -0x1.403d086cea79bp-2}, {0x1.5d0f56ec91e57p-1, -0x1.3d81fb5946dbcp-2},  // 118, 119
    {0x1.5c21ff51ef005p-1, -0x1.3ac8ca38e5c5dp-2}, {0x1.5b35e99f06714p-1, -0x1.3811728564cb2p-2},  // 120, 121
    {0x1.5a4b1346add2bp-1, -0x1.355bf1bd82c8bp-2}, {0x1.596179c29d2cep-1, -0x1.32a84565120a9p-2},  // 122, 123
    {0x1.58791a9357ccep-1, -0x1.2ff66b04ea9d5p-2}, {0x1.5791f34015792p-1, -0x1.2d46602adccefp-2},  // 124, 125
    {0x1.56ac0156ac015p-1, -0x1.2a982269a3dbep-2}, {0x1.55c7426b79286p-1, -0x1.27ebaf58d8c9cp-2},  // 126, 127
    {0x1.54e3b4194ce66p-1, -0x1.25410494e56c8p-2}, {0x1.5401540154015p-1, -0x1.22981fbef797ap-2},  // 128, 129
    {0x1.53201fcb02fb1p-1, -0x1.1ff0fe7cf47a9p-2}, {0x1.5240152401524p-1, -0x1.1d4b9e796c245p-2},  // 130, 131
    {0x1.516131c015161p-1, -0x1.1aa7fd638d33ep-2}, {0x1.508373590ec9cp-1, -0x1.180618ef18adep-2},  // 132, 133
    {0x1.4fa6d7aeb597cp-1, -0x1.1565eed455fc2p-2}, {0x1.4ecb5c86b3d24p-1, -0x1.12c77cd00713cp-2},  // 134, 135
    {0x1.4df0ffac83c01p-1, -0x1.102ac0a35cc1bp-2}, {0x1.4d17bef15cb4ep-1, -0x1.0d8fb813eb1efp-2},  // 136, 137
    {0x1.4c3f982c20723p-1, -0x1.0af660eb9e278p-2}, {0x1.4b68893948d1cp-1, -0x1.085eb8f8ae799p-2},  // 138, 139
    {0x1.4a928ffad5b5cp-1, -0x1.05c8be0d9635ap-2}, {0x1.49bdaa583b401p-1, -0x1.03346e0106062p-2},  // 140, 141
    {0x1.48e9d63e504d1p-1, -0x1.00a1c6adda472p-2}, {0x1.4817119f3d325p-1, -0x1.fc218be620a5fp-3},  // 142, 143
    {0x1.47455a726abf2p-1, -0x1.f702d36777df0p-3}, {0x1.4674aeb4717e9p-1, -0x1.f1e75fadf9bdep-3},  // 144, 145
    {0x1.45a50c670938fp-1, -0x1.eccf2c8fe920bp-3}, {0x1.44d67190f8b43p-1, -0x1.e7ba35eb77e2ap-3},  // 146, 147
    {0x1.4408dc3e05b22p-1, -0x1.e2a877a6b2c0fp-3}, {0x1.433c4a7ee52b4p-1, -0x1.dd99edaf6d7e9p-3},  // 148, 149
    {0x1.4270ba692bc4dp-1, -0x1.d88e93fb2f451p-3}, {0x1.41a62a173e821p-1, -0x1.d38666871f467p-3},  // 150, 151
    {0x1.40dc97a843ae8p-1, -0x1.ce816157f1985p-3}, {0x1.4014014014014p-1, -0x1.c97f8079d44ecp-3},  // 152, 153
    {0x1.3f4c65072bf74p-1, -0x1.c480c0005cccfp-3}, {0x1.3e85c12a9d651p-1, -0x1.bf851c067555cp-3},  // 154, 155
    {0x1.3dc013dc013dcp-1, -0x1.ba8c90ae4ad19p-3}, {0x1.3cfb5b51698ebp-1, -0x1.b5971a213acd9p-3},  // 156, 157
    {0x1.3c3795c553afbp-1, -0x1.b0a4b48fc1b44p-3}, {0x1.3b74c1769aa5cp-1, -0x1.abb55c31693aep-3},  // 158, 159
    {0x1.3ab2dca869b81p-1, -0x1.a6c90d44b704cp-3}, {0x1.39f1e5a22f36ep-1, -0x1.a1dfc40f1b7f1p-3},  // 160, 161
    {0x1.3931daaf8f721p-1, -0x1.9cf97cdce0ec1p-3}, {0x1.3872ba2057e04p-1, -0x1.981634011aa74p-3},  // 162, 163
    {0x1.37b4824872744p-1, -0x1.9335e5d594985p-3}, {0x1.36f7317fd9212p-1, -0x1.8e588ebac2dc1p-3},  // 164, 165
    {0x1.363ac622898b1p-1, -0x1.897e2b17b19a6p-3}, {0x1.357f3e9078e5bp-1, -0x1.84a6b759f512dp-3},  // 166, 167
    {0x1.34c4992d87fd9p-1, -0x1.7fd22ff599d4cp-3}, {0x1.340ad461776d3p-1, -0x1.7b0091651528bp-3},  // 168, 169
    {0x1.3351ee97dbfc6p-1, -0x1.7631d82935a84p-3}, {0x1.3299e6401329ap-1, -0x1.716600c914055p-3},  // 170, 171
    {0x1.31e2b9cd37dc2p-1, -0x1.6c9d07d203fc4p-3}, {0x1.312c67b6173eep-1, -0x1.67d6e9d785770p-3},  // 172, 173
    {0x1.3076ee7525c2cp-1, -0x1.6313a37335d76p-3}, {0x1.2fc24c8874486p-1, -0x1.5e533144c1718p-3},  // 174, 175
    {0x1.2f0e8071a5703p-1, -0x1.59958ff1d52f4p-3}, {0x1.2e5b88b5e3104p-1, -0x1.54dabc26105d3p-3},  // 176, 177
    {0x1.2da963ddd3cfbp-1, -0x1.5022b292f6a45p-3}, {0x1.2cf8107590e67p-1, -0x1.4b6d6fefe22a5p-3},  // 178, 179
    {0x1.2c478d0c9c013p-1, -0x1.46baf0f9f5db8p-3}, {0x1.2b97d835d548ep-1, -0x1.420b32740fdd6p-3},  // 180, 181
    {0x1.2ae8f087718d0p-1, -0x1.3d5e3126bc281p-3}, {0x1.2a3ad49af0907p-1, -0x1.38b3e9e027477p-3},  // 182, 183
    {0x1.298d830d13780p-1, -0x1.340c59741142dp-3}, {0x1.28e0fa7dd35a3p-1, -0x1.2f677cbbc0a98p-3},  // 184, 185
    {0x1.2835399057efdp-1, -0x1.2ac55095f5c5bp-3}, {0x1.278a3eeaee650p-1, -0x1.2625d1e6ddf55p-3},  // 186, 187
    {0x1.26e009370049cp-1, -0x1.2188fd9807266p-3}, {0x1.263697210aa18p-1, -0x1.1ceed09853755p-3},  // 188, 189
    {0x1.258de75895121p-1, -0x1.185747dbecf34p-3}, {0x1.24e5f89029305p-1, -0x1.13c2605c398bfp-3},  // 190, 191
    {0x1.243ec97d49eaep-1, -0x1.0f301717cf0fbp-3}, {0x1.239858d86b11fp-1, -0x1.0aa06912675d5p-3},  // 192, 193
    {0x1.22f2a55ce8fc5p-1, -0x1.06135354d4b19p-3}, {0x1.224dadc900489p-1, -0x1.0188d2ecf613ep-3},  // 194, 195
    {0x1.21a970ddc5ba7p-1, -0x1.fa01c9db57ce7p-4}, {0x1.2105ed5f1e336p-1, -0x1.f0f70cdd992e4p-4},  // 196, 197
    {0x1.20632213b6c6dp-1, -0x1.e7f1691a32d3ap-4}, {0x1.1fc10dc4fce8bp-1, -0x1.def0d8d466dbbp-4},  // 198, 199
    {0x1.1f1faf3f16b64p-1, -0x1.d5f55659210e1p-4}, {0x1.1e7f0550db594p-1, -0x1.ccfedbfee13a8p-4},  // 200, 201
    {0x1.1ddf0ecbcb841p-1, -0x1.c40d6425a5cb4p-4}, {0x1.1d3fca840a074p-1, -0x1.bb20e936d6976p-4},  // 202, 203
    {0x1.1ca13750547fep-1, -0x1.b23965a52ff04p-4}, {0x1.1c035409fc1dfp-1, -0x1.a956d3ecade60p-4},  // 204, 205
    {0x1.1b661f8cde833p-1, -0x1.a0792e9277cadp-4}, {0x1.1ac998b75eb90p-1, -0x1.97a07024cbe6ep-4},  // 206, 207
    {0x1.1a2dbe6a5e3e4p-1, -0x1.8ecc933aeb6e2p-4}, {0x1.19928f89362b7p-1, -0x1.85fd927506a46p-4},  // 208, 209
    {0x1.18f80af9b06dcp-1, -0x1.7d33687c293c8p-4}, {0x1.185e2fa401186p-1, -0x1.746e100226edbp-4},  // 210, 211
    {0x1.17c4fc72bfcb9p-1, -0x1.6bad83c1883bap-4}, {0x1.172c7052e1316p-1, -0x1.62f1be7d7774ap-4},  // 212, 213
    {0x1.16948a33b08fap-1, -0x1.5a3abb01ade21p-4}, {0x1.15fd4906c96f1p-1, -0x1.5188742261311p-4},  // 214, 215
    {0x1.1566abc011567p-1, -0x1.48dae4bc3101dp-4}, {0x1.14d0b155b19aep-1, -0x1.403207b414b79p-4},  // 216, 217
    {0x1.143b58c01143bp-1, -0x1.378dd7f74970fp-4}, {0x1.13a6a0f9cf01ep-1, -0x1.2eee507b402ffp-4},  // 218, 219
    {0x1.131288ffbb3b6p-1, -0x1.26536c3d8c36cp-4}, {0x1.127f0fd0d2295p-1, -0x1.1dbd2643d1913p-4},  // 220, 221
    {0x1.11ec346e36092p-1, -0x1.152b799bb3cd0p-4}, {0x1.1159f5db29606p-1, -0x1.0c9e615ac4e19p-4},  // 222, 223
    {0x1.10c8531d0952ep-1, -0x1.0415d89e7444bp-4}, {0x1.10374b3b480aap-1, -0x1.f723b517fc51fp-5},  // 224, 225
    {0x1.0fa6dd3f67322p-1, -0x1.e624c4a0b5e15p-5}, {0x1.0f170834f27fap-1, -0x1.d52ed6405d87ap-5},  // 226, 227
    {0x1.0e87cb297a51ep-1, -0x1.c441e06f72a93p-5}, {0x1.0df9252c8e5e6p-1, -0x1.b35dd9b58baa8p-5},  // 228, 229
    {0x1.0d6b154fb86f9p-1, -0x1.a282b8a936174p-5}, {0x1.0cdd9aa677344p-1, -0x1.91b073efd7314p-5},  // 230, 231
    {0x1.0c50b446391f3p-1, -0x1.80e7023d8ccc8p-5}, {0x1.0bc4614657569p-1, -0x1.70265a550e77bp-5},  // 232, 233
    {0x1.0b38a0c010b39p-1, -0x1.5f6e73078efc3p-5}, {0x1.0aad71ce84d16p-1, -0x1.4ebf43349e26ap-5},  // 234, 235
    {0x1.0a22d38eaf2bfp-1, -0x1.3e18c1ca0ae99p-5}, {0x1.0998c51f624d5p-1, -0x1.2d7ae5c3c5bb7p-5},  // 236, 237
    {0x1.090f45a1430aap-1, -0x1.1ce5a62bc3540p-5}, {0x1.08865436c3cf7p-1, -0x1.0c58fa19dfaabp-5},  // 238, 239
    {0x1.07fdf0041ff7cp-1, -0x1.f7a9b16782855p-6}, {0x1.0776182f57386p-1, -0x1.d6b272597981fp-6},  // 240, 241
    {0x1.06eecbe029155p-1, -0x1.b5cc258b718e7p-6}, {0x1.06680a4010668p-1, -0x1.94f6b99a24473p-6},  // 242, 243
    {0x1.05e1d27a3ee9cp-1, -0x1.74321d3d006d2p-6}, {0x1.055c23bb98e2ap-1, -0x1.537e3f45f354ep-6},  // 244, 245
    {0x1.04d6fd32b0c7bp-1, -0x1.32db0ea132e10p-6}, {0x1.04525e0fc2fcbp-1, -0x1.12487a5507f68p-6},  // 246, 247
    {0x1.03ce4584b19a0p-1, -0x1.e38ce30333100p-7}, {0x1.034ab2c50040dp-1, -0x1.a2a9c6c17044dp-7},  // 248, 249
    {0x1.02c7a505cffbfp-1, -0x1.61e77e8b53f9fp-7}, {0x1.02451b7ddb2d2p-1, -0x1.2145e939ef1bcp-7},  // 250, 251
    {0x1.01c315657186bp-1, -0x1.c189cbb0e283fp-8}, {0x1.014191f674111p-1, -0x1.40c8a7478788dp-8},  // 252, 253
    {0x1.00c0906c513cfp-1, -0x1.809048289860ap-9}, {0x1.0000000000000p-1, 0x0.0p+0},  // 254, 255
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

// The log candidate of the Exponential route: ln(u) within 2**-47 |ln(u)|
// for every spec uniform u = (w + 0.5) * 2**-32, from the table
// jitc_log_table (above; lazyconn/kernels/_route_tables.py says how it is
// made) and a polynomial, fused multiply-adds only:
//   u = 2**E m, m in [1, 2), E in [-33, -1], from u's bits; row i = the top
//   8 fraction bits of m, {inv_c, t}: inv_c = 1 / c rounded (c the middle of
//   the row's interval of m; c = 2, inv_c = 0.5 on the last row) and
//   t = t* = -ln(2 inv_c) of that double, rounded (|t - t*| <= 2**-54 |t*|).
//   With z* = m inv_c - 1, m = (1 + z*) / inv_c exactly, so
//   ln(u) = (E + 1) ln 2 + t* + log1p(z*), |z*| <= 2**-9 (1 + 2**-40).
//   z = fma(m, inv_c, -1) = z* (1 + e), |e| <= 2**-53;
//   P = z q(z), q = 1 - z/2 + z**2/3 - z**3/4 + z**4/5 by Horner (fused):
//   truncation <= |z|**5 / 6 * 1.004 <= 2**-47.58 of |log1p(z)|, the
//   roundings of q, of z q and of z <= 3.03 * 2**-53 of it: |P - log1p(z*)|
//   <= 2**-47.4 |log1p(z*)|;
//   L' = fl(fma(E + 1, LN2, t) + P), LN2 = ln 2 rounded.
// Relative to |ln(u)|:
//   E <= -2 (u < 1/2, |ln(u)| > ln 2): (E + 1)(LN2 - ln 2) <= 32 * 2**-54,
//   the fma's rounding <= 2**-53 * 22.9, t's <= 2**-54, P's <= 2**-56.4
//   absolute, over ln 2, plus the last rounding 2**-53: <= 2**-47;
//   E = -1: the fma is t exactly.  On the last row t = 0 and L' = fl(P):
//   <= 2**-47.3.  On the others u < 1 - 2**-9, so |ln(u)| > 2**-9 >=
//   |log1p(z*)| / 1.002, and |t*| <= 2.002 |ln(u)|: t's rounding 2**-52,
//   P's 2**-47.4 * 1.002, the last rounding 2**-53: <= 2**-47.
// So |L' - ln(u)| <= 2**-47 |ln(u)|, and with the pinned ln's 1 ulp,
// |L' - jitc_ln(u)| <= 2**-46.9 |jitc_ln(u)|.  The candidate uses only
// fma, *, + and bit operations, so the host emulation
// (tests/gpu_law_host.py) computes the device's very bits: measured there
// on all 2**32 words, at most 2**-47.54; gpu.ln_check measures it on the
// device too.
#define JITC_LOGC_LN2 0x1.62e42fefa39efp-1
#define JITC_LOGC_C3 0x1.5555555555555p-2  // 1/3
#define JITC_LOGC_C5 0x1.999999999999ap-3  // 1/5
__device__ __forceinline__ double jitc_log_candidate(jitc_u32 word)
{
    const jitc_u64 bits = jitc_double_bits(jitc_uniform(word));
    const int hi = (int)(bits >> 32);
    const double m = jitc_bits_double((bits & 0x000FFFFFFFFFFFFFull) | 0x3FF0000000000000ull);
    const jitc_log_row row = jitc_log_table[(hi >> 12) & 0xFF];
    const double z = fma(m, row.inv_c, -1.0);
    double q = fma(JITC_LOGC_C5, z, -0.25);
    q = fma(q, z, JITC_LOGC_C3);
    q = fma(q, z, -0.5);
    q = fma(q, z, 1.0);
    const double e1 = (double)((hi >> 20) - 1022);  // E + 1
    return fma(e1, JITC_LOGC_LN2, row.t) + z * q;
}

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
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32 word)
    {
        if (sizeof(W) == sizeof(float)) {
            float w;
            if (weight32<false>(p, word, 0u, w)) return jitc_convert(w, W());
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
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32 word)
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
