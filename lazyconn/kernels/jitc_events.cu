// Small CUDA kernels of the GPU backend beside the products: device-side
// event finding, count scaling, and the exhaustive checks of the float32
// fast paths.  _gpu_launch.py compiles this file after jitc_kernels.cu, in
// one translation unit (the kernels use no symbol of each other).
// ---------------------------------------------------------------------------
// Active rows of an operand chunk: rows[i * rs + c * cs] != 0 for some c <
// n_cols.  Their indices go to active[0 .. *count) in no particular order (one
// atomic per warp reserves the warp's slots), for jitc_scatter to read from
// the device.  S: unsigned char (bool), float or double.
template <typename S>
__global__ void jitc_find_events(const S *data, jitc_i64 rs, jitc_i64 cs, int n_rows, int n_cols, int *active,
                                 jitc_u32 *count)
{
    const int lane = threadIdx.x & 31;
    for (jitc_i64 base = (jitc_i64)blockIdx.x * blockDim.x; base < n_rows; base += (jitc_i64)gridDim.x * blockDim.x) {
        const jitc_i64 r = base + threadIdx.x;
        bool on = false;
        if (r < n_rows)
            for (int c = 0; c < n_cols; ++c) on |= jitc_nonzero(data[r * rs + c * cs]);
        const unsigned mask = __ballot_sync(0xFFFFFFFFu, on);
        jitc_u32 first = 0;
        if (lane == 0 && mask) first = atomicAdd(count, (jitc_u32)__popc(mask));
        first = __shfl_sync(0xFFFFFFFFu, first, 0);
        if (on) active[first + __popc(mask & ((1u << lane) - 1u))] = (int)r;
    }
}

// out[e] = counts[e] * w, binary Scalar events' integer counts scaled once:
// the float64 product is exact for counts below 2**29 (a float32 weight has
// 24 significant bits), so out is that product rounded once to T, as the
// reference's float64 sum of equal weights, rounded to T, is.
template <typename T>
__global__ void jitc_scale_counts(const jitc_u32 *counts, jitc_i64 n, T w, T *out)
{
    for (jitc_i64 e = (jitc_i64)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (jitc_i64)gridDim.x * blockDim.x)
        out[e] = jitc_convert((double)counts[e] * jitc_convert(w, double()), T());
}

#ifdef JITC_WITH_UTILS
// ---------------------------------------------------------------------------
// Self-check of the float32 gap fast path: for words [first, first + count),
// count the words whose gap differs from the float64 gap (any gap of 2**22
// or more ends every block, so those compare equal) and the words that took
// the float64 fallback.
__global__ void jitc_gap_check(double inv_log_q, float gap_scale, float gap_tol, jitc_u64 first, jitc_u64 count,
                               jitc_u64 *mismatches, jitc_u64 *fallbacks)
{
    jitc_u64 bad = 0, slow = 0;
    for (jitc_u64 e = (jitc_u64)blockIdx.x * blockDim.x + threadIdx.x; e < count;
         e += (jitc_u64)gridDim.x * blockDim.x) {
        const jitc_u32 w = (jitc_u32)(first + e);
        const int fast = jitc_gap_try_fast(w, gap_scale, gap_tol);
        const int exact = jitc_gap_exact(w, inv_log_q);
        slow += fast < 0;
        bad += fast >= 0 && min(fast, 1 << 22) != min(exact, 1 << 22);
    }
    if (bad) atomicAdd(mismatches, bad);
    if (slow) atomicAdd(fallbacks, slow);
}

// The layout of jitc_gen as the device compiler lays it out: its size, then
// the offset of every field in declaration order (the law's fields inside
// it), for _gpu_launch.gen_layout to compare with the host's dtype.
__global__ void jitc_gen_layout(jitc_u64 *out)
{
    const jitc_gen g = {};
    const char *base = reinterpret_cast<const char *>(&g);
    const void *fields[] = {&g.key0,  &g.key1,  &g.block_log2, &g.fast,        &g.inv_log_q,
                            &g.gap_scale, &g.gap_tol, &g.skip_diagonal, &g.law.a, &g.law.b,
                            &g.law.ndtri_table, &g.law.ndtri_bq_bound, &g.law.ndtri_bv_slack,
                            &g.law.ndtri_a_slack, &g.rk0[0], &g.rk1[0], &g.num_conn, &g.n_eff};
    out[0] = sizeof(jitc_gen);
    for (int i = 0; i < 18; ++i) out[1 + i] = (jitc_u64)(reinterpret_cast<const char *>(fields[i]) - base);
}

// Self-check of the float32 Normal route's candidate (jitc_ndtri_candidate):
// for words [first, first + count) below 2**31 (u < 0.5; the words above
// mirror them exactly, candidate and AS241 alike), count the words where
// |v' - ndtri(u)| > |q| * bound / 2, and keep the largest |v' - ndtri(u)| /
// |q| (the bits of a non-negative double order as integers).
__global__ void jitc_ndtri_check(const double *table, double bound, jitc_u64 first, jitc_u64 count,
                                 jitc_u64 *violations, jitc_u64 *worst_bits)
{
    jitc_u64 bad = 0;
    double worst = 0.0;
    for (jitc_u64 e = (jitc_u64)blockIdx.x * blockDim.x + threadIdx.x; e < count;
         e += (jitc_u64)gridDim.x * blockDim.x) {
        const jitc_u32 w = (jitc_u32)(first + e);
        double q_abs32;
        const double v = jitc_ndtri_candidate<false>(w, table, 0u, q_abs32);
        const double q_abs = q_abs32 * 0x1p-32;
        const double error = fabs(v - jitc_ndtri(jitc_uniform(w)));
        bad += error > 0.5 * bound * q_abs;
        worst = fmax(worst, error / q_abs);
    }
    if (bad) atomicAdd(violations, bad);
    atomicMax(worst_bits, (jitc_u64)__double_as_longlong(worst));
}

// Self-check of a law's float32 route (Law::weight32, table rows from global
// memory) against its exact float64 route (Law::exact), for words [first,
// first + count): count the words the route decides with other bits than
// the exact route's (must be 0) and the words it leaves undecided.
template <typename Law>
__global__ void jitc_law32_check(JITC_GEN_PARAMS, jitc_u64 first, jitc_u64 count, jitc_u64 *mismatches,
                                 jitc_u64 *fallbacks)
{
    JITC_GEN_INIT;
    jitc_u64 bad = 0, slow = 0;
    for (jitc_u64 e = (jitc_u64)blockIdx.x * blockDim.x + threadIdx.x; e < count;
         e += (jitc_u64)gridDim.x * blockDim.x) {
        const jitc_u32 w = (jitc_u32)(first + e);
        float f;
        if (Law::template weight32<false>(g.law, w, 0u, f))
            bad += __float_as_uint(f) != __float_as_uint(jitc_convert(Law::exact(g.law, jitc_uniform(w)), float()));
        else
            ++slow;
    }
    if (bad) atomicAdd(mismatches, bad);
    if (slow) atomicAdd(fallbacks, slow);
}

// Self-check of the float32 Exponential route's candidate
// (jitc_log_candidate): for words [first, first + count), count the words
// where |L' - jitc_ln(u)| > 2**-46 |jitc_ln(u)| (half the bound the route
// decides with) and keep the largest |L' - jitc_ln(u)| / |jitc_ln(u)|.
__global__ void jitc_ln_check(jitc_u64 first, jitc_u64 count, jitc_u64 *violations, jitc_u64 *worst_bits)
{
    jitc_u64 bad = 0;
    double worst = 0.0;
    for (jitc_u64 e = (jitc_u64)blockIdx.x * blockDim.x + threadIdx.x; e < count;
         e += (jitc_u64)gridDim.x * blockDim.x) {
        const jitc_u32 w = (jitc_u32)(first + e);
        const double exact = jitc_ln(jitc_uniform(w));
        const double error = fabs(jitc_log_candidate(w) - exact) / fabs(exact);
        bad += error > 0x1p-46;
        worst = fmax(worst, error);
    }
    if (bad) atomicAdd(violations, bad);
    atomicMax(worst_bits, (jitc_u64)__double_as_longlong(worst));
}
#endif  // JITC_WITH_UTILS
