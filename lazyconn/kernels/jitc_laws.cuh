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

// LogNormal(mu, sigma): exp(a + b * ndtri(u)), the Normal law's float64
// value (a = mu, b = sigma) through the pinned exp (jitc_exp.cuh), as
// laws._lognormal_reference.  Both dtypes take the float64 route: float32
// has no shortcut here, since the polynomial route decides float32(a + b *
// ndtri(u)), not the float64 value that exp needs.
struct LogNormalLaw {
    static constexpr bool CONSTANT = false;
    template <typename W> __host__ __device__ static constexpr int smem_bytes() { return 0; }
    template <typename W> __device__ static void stage(const jitc_law_args &, void *) {}
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32 word)
    {
        return jitc_convert(jitc_exp(p.a + p.b * jitc_ndtri(jitc_uniform(word))), W());
    }
    template <typename W>
    __device__ static void weights4(const jitc_law_args &p, const jitc_words &wr, unsigned need, jitc_u32, W &w0,
                                    W &w1, W &w2, W &w3)
    {
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
// (jitc_ln), as laws._exponential_reference.
struct ExponentialLaw {
    static constexpr bool CONSTANT = false;
    template <typename W> __host__ __device__ static constexpr int smem_bytes() { return 0; }
    template <typename W> __device__ static void stage(const jitc_law_args &, void *) {}
    template <typename W> __device__ static W weight(const jitc_law_args &p, jitc_u32 word)
    {
        return jitc_convert(p.a * jitc_ln(jitc_uniform(word)), W());
    }
    template <typename W>
    __device__ static void weights4(const jitc_law_args &p, const jitc_words &wr, unsigned, jitc_u32, W &w0, W &w1,
                                    W &w2, W &w3)
    {
        double u0, u1, u2, u3;
        jitc_uniforms4(wr, u0, u1, u2, u3);
        w0 = jitc_convert(p.a * jitc_ln(u0), W());
        w1 = jitc_convert(p.a * jitc_ln(u1), W());
        w2 = jitc_convert(p.a * jitc_ln(u2), W());
        w3 = jitc_convert(p.a * jitc_ln(u3), W());
    }
};

#endif  // JITC_LAWS_CUH
