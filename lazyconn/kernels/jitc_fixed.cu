// Deterministic scatter of the GPU backend (set_options(deterministic=True);
// host side: lazyconn/kernels/_gpu_fixed.py).  _gpu_launch.py compiles this
// file after jitc_kernels.cu, in one translation unit: it walks with
// the rule's walk (Rule::walk_items, jitc_rules.cuh) and the generator of
// that file.
//
// Fixed point: every contribution w * x of column c becomes an integer
// multiple of the column's resolution q_c = 2**-S_c, rounded to nearest,
// and the integers are added with integer atomics.  Integer addition is
// associative, so the sum, hence the result, does not depend on the order
// of the adds: not on scheduling, launch geometry, tiles or row chunks.
//
// Scale.  With every finite |x| of column c below 2**E_c (E_c from
// jitc_fixed_exponents), every |w| at most 2**ew and at most 2**L terms per
// output (one per operand row), S_c = min(62 - L, 51) - E_c - ew makes every
// |w * x| * 2**S_c < 2**min(62 - L, 51): a sum of at most 2**L rounded terms
// stays below 2**62 + 2**L, so the int64 sum never overflows, whatever the
// values (and each term rounds with one add, jitc_fixed_rint).
// The shift is applied with ldexp (exact; S_c can exceed the exponent range
// of one double factor), once per line, not per connection.
//
// NW = 1 (float32 products): one int64 word, resolution 2**-S_c; each term
// is off by at most half of it.  NW = 2 (float64): a second word holds the
// rounding remainder of each term at 31 more bits (|remainder| <= 2**30 per
// term, so at most 2**61 in all): resolution 2**-(S_c + 31).
//
// Levels.  That error is absolute, set by the column's largest entry.  An
// entry x with E_c - frexp_exponent(x) = d >= B (level_bits, from
// _fixed_plan.py) is left out of this sum and added by a second launch of
// the same kernel into level k = d / B: words of its own, with E_c - k B
// for E_c (resolution 2**-(S_c + k B)); its terms stay below
// 2**min(62 - L, 51) as at level 0, and every term is resolved to half an
// ulp of 2**ew |x| of the dtype (_gpu_fixed.py splits the operand).
// jitc_fixed_finish adds the levels; n_levels = 1 (usual operands) is the
// single-level sum, unchanged.
//
// Non-finite operand entries add nothing to the integers; they set flags
// per output entry instead (atomicOr: also order-free) that
// jitc_fixed_finish resolves as float addition would: NaN if a NaN (or
// 0 * inf) arrived or both infinities did, else the infinity.
#define JITC_FIXED_NAN 1u
#define JITC_FIXED_POS_INF 2u
#define JITC_FIXED_NEG_INF 4u
// Below every finite exponent: a column without a finite nonzero entry.
#define JITC_FIXED_NO_EXPONENT (-2000)
// Clamp of E_c used in the shift (a column without a finite nonzero entry
// then has a moderate shift; it adds only zeros).
#define JITC_FIXED_MIN_EXPONENT (-1080)
#define JITC_FIXED_LO_BITS 31

// Largest (smallest) frexp exponent E (|x| < 2**E) of the finite nonzero
// entries of each column of data[r * rs + c * cs], r < n_rows, c < n_cols,
// maxed into emax[c] (which starts at JITC_FIXED_NO_EXPONENT), minned into
// emin[c] (from -JITC_FIXED_NO_EXPONENT).  Two atomics per warp.
template <typename S>
__global__ void jitc_fixed_exponents(const S *data, jitc_i64 rs, jitc_i64 cs, int n_rows, int n_cols, int *emax,
                                     int *emin)
{
    for (int c = blockIdx.y; c < n_cols; c += gridDim.y) {
        int m = JITC_FIXED_NO_EXPONENT, lo = -JITC_FIXED_NO_EXPONENT;
        for (jitc_i64 r = (jitc_i64)blockIdx.x * blockDim.x + threadIdx.x; r < n_rows;
             r += (jitc_i64)gridDim.x * blockDim.x) {
            const double v = jitc_convert(data[r * rs + c * cs], double());
            if (isfinite(v) && v != 0.0) {
                m = max(m, ilogb(v) + 1);
                lo = min(lo, ilogb(v) + 1);
            }
        }
        m = __reduce_max_sync(0xFFFFFFFFu, m);
        lo = __reduce_min_sync(0xFFFFFFFFu, lo);
        if ((threadIdx.x & 31) == 0 && m != JITC_FIXED_NO_EXPONENT) {
            atomicMax(emax + c, m);
            atomicMin(emin + c, lo);
        }
    }
}

// The shift S_c of a column (see the top of this file).
__device__ __forceinline__ int jitc_fixed_shift(int shift0, int e)
{
    return shift0 - max(e, JITC_FIXED_MIN_EXPONENT);
}

// rint(t) as an integer, for |t| < 2**51: adding 1.5 * 2**52 rounds t to an
// integer (to nearest, ties to even, as __double2ll_rn) in the low bits of
// the sum; one add and one integer subtract instead of a slow conversion.
#define JITC_FIXED_MAGIC 0x1.8p52
__device__ __forceinline__ jitc_i64 jitc_fixed_rint(double t, double &rounded)
{
    const double d = t + JITC_FIXED_MAGIC;
    rounded = d - JITC_FIXED_MAGIC;  // exact
    return __double_as_longlong(d) - __double_as_longlong(JITC_FIXED_MAGIC);
}

// Integer words of the scaled term a * b (|a * b| < 2**51).  float32
// operands: the double product is exact.  float64 (NW = 2): its rounding
// error, exact from fma, joins the remainder t - rint(t) (exact), so the
// second word holds the exact product to 2**-31.
template <int NW>
__device__ __forceinline__ void jitc_fixed_split(double a, double b, jitc_i64 &hi, jitc_i64 &lo)
{
    const double t = a * b;
    double rounded;
    hi = jitc_fixed_rint(t, rounded);
    if (NW == 2) lo = jitc_fixed_rint(((t - rounded) + fma(a, b, -t)) * 0x1p31, rounded);
}

__device__ __forceinline__ void jitc_red_shared_u64(unsigned addr, jitc_i64 v)
{
    asm volatile("red.shared.add.u64 [%0], %1;" ::"r"(addr), "l"((jitc_u64)v));
}

// Flags of w * x for the non-finite x of class cls (JITC_FIXED_*).
__device__ __forceinline__ jitc_u32 jitc_fixed_class(jitc_u32 cls, double w)
{
    if (cls == JITC_FIXED_NAN || w == 0.0) return JITC_FIXED_NAN;  // 0 * inf is NaN
    return w > 0.0 ? cls : cls ^ (JITC_FIXED_POS_INF | JITC_FIXED_NEG_INF);
}

// jitc_scatter with fixed-point accumulation: acc[((j - j0) * acc_ld + col0 +
// c) * NW + word] += the words of sum_i v(i, col0 + c) * L[line0 + rows[i], j],
// rows and values as in jitc_scatter (EVENTS: binary events, v = 1).  A CTA
// adds into its shared tile of int64 words, then flushes the tile with one
// global atomic per nonzero word.  shift0 = min(62 - L, 51) - ew; emax[col0 + c] the
// column's exponent.
// MIN_CTAS: CTAs per SM the registers must allow (_gpu_fixed picks it).
template <typename W, typename T, int NC, bool SMEM, typename Law, bool PLAIN, bool EVENTS, int NW, int MIN_CTAS,
          typename Rule>
__global__ void __launch_bounds__(256, MIN_CTAS) jitc_scatter_fixed(JITC_GEN_PARAMS, const int *rows, const jitc_u32 *n_rows,
                                                       int chunk_rows, int line0, const T *values, int val_rs,
                                                       jitc_i64 val_cs, int values_by_row, int col0, int nc, int j0,
                                                       int j1, int b0, int b1, int G, jitc_u64 *acc, int acc_ld,
                                                       jitc_u32 *flags, const int *emax, int shift0, T scalar_w,
                                                       int lines_per_thread)
{
    JITC_GEN_INIT;
    constexpr bool WEIGHTED = !Law::CONSTANT;
    const int n = (int)*n_rows;
    int first_line, line_stride;
    if (!jitc_scatter_lines<SMEM>(n, lines_per_thread, first_line, line_stride)) return;
    extern __shared__ __align__(16) unsigned char jitc_smem[];
    constexpr int ndtri_bytes = jitc_law_smem_bytes<W, Law>();
    jitc_law_stage<W, Law>(g, jitc_smem);
    const jitc_u32 ndtri_smem = jitc_pinned_shared_address(jitc_smem);
    jitc_u64 *tile_acc = reinterpret_cast<jitc_u64 *>(jitc_smem + ndtri_bytes);
    const jitc_tile tile = jitc_tile_of(g, b0, b1, G, j0, j1);
    const int width = tile.hi - tile.lo;
    const int ncols = NC == 1 ? 1 : nc;
    const int words = ncols * NW;  // int64 words per tile position
    if (SMEM)
        for (int e = threadIdx.x; e < width * words; e += blockDim.x) tile_acc[e] = 0ull;
    if (SMEM || ndtri_bytes) __syncthreads();
    const unsigned tile_addr = jitc_pinned_shared_address(jitc_smem + ndtri_bytes);
    const unsigned row_bytes = (unsigned)words * 8u;
    unsigned block_addr = tile_addr;
    // S_c of each column: ldexp scales exactly, over the whole int range.
    int shift[NC];
#pragma unroll
    for (int c = 0; c < NC; ++c) shift[c] = c < ncols ? jitc_fixed_shift(shift0, emax[col0 + c]) : 0;
    // The current line: its scaled operand entries (xs), or with a Scalar law
    // its terms' words (hi, lo); `bad` holds 3 flag bits per column whose
    // entry is not finite (rare: tested once per connection, one branch).
    double xs[NC];
    jitc_i64 hi[NC], lo[NC];
    jitc_u32 bad = 0u;
    const bool all_rows = n == chunk_rows;
    const T *values_col = values + (jitc_i64)col0 * val_cs;
    Rule::template walk_items<W, Law, PLAIN, 1>(
        g, ndtri_smem, first_line, n, line_stride, tile.first, tile.last, j0, j1, tile.lo,
        [&](int li) {
            const int row = all_rows ? li : rows[li];
            const T *value_row = values_col + (jitc_i64)(values_by_row ? row : li) * val_rs;
            bad = 0u;
#pragma unroll
            for (int c = 0; c < NC; ++c) {
                double x = 1.0;
                if (!EVENTS) x = c < ncols ? jitc_convert(value_row[(jitc_i64)c * val_cs], double()) : 0.0;
                if (!EVENTS && !isfinite(x)) {
                    bad |= (isnan(x) ? JITC_FIXED_NAN : x > 0.0 ? JITC_FIXED_POS_INF : JITC_FIXED_NEG_INF) << (3 * c);
                    x = 0.0;
                }
                xs[c] = ldexp(x, shift[c]);
                lo[c] = 0;
                if (!WEIGHTED) jitc_fixed_split<NW>(jitc_convert(scalar_w, double()), xs[c], hi[c], lo[c]);
            }
            return line0 + row;
        },
        [&](int base) { block_addr = tile_addr + (unsigned)base * row_bytes; },
        [&](int, int base, int p, W weight) {
            const int at = base + p;
#pragma unroll
            for (int c = 0; c < NC; ++c)
                if (c < ncols) {
                    jitc_i64 h = hi[c], l = lo[c];
                    if (WEIGHTED) jitc_fixed_split<NW>(jitc_convert(weight, double()), xs[c], h, l);
                    if (SMEM) {
                        const unsigned dst = block_addr + (unsigned)p * row_bytes + (unsigned)(c * NW) * 8u;
                        jitc_red_shared_u64(dst, h);
                        if (NW == 2) jitc_red_shared_u64(dst + 8u, l);
                    } else {
                        jitc_u64 *dst = acc + ((jitc_i64)(at + tile.lo - j0) * acc_ld + col0 + c) * NW;
                        atomicAdd(dst, (jitc_u64)h);
                        if (NW == 2) atomicAdd(dst + 1, (jitc_u64)l);
                    }
                }
            if (bad) {
                // Each converted on its own: a ternary would widen scalar_w to
                // double by a C conversion, which -ftz=true flushes.
                const double w = WEIGHTED ? jitc_convert(weight, double()) : jitc_convert(scalar_w, double());
                for (int c = 0; c < ncols; ++c) {
                    const jitc_u32 cls = (bad >> (3 * c)) & 7u;
                    if (cls) atomicOr(flags + (jitc_i64)(at + tile.lo - j0) * acc_ld + col0 + c, jitc_fixed_class(cls, w));
                }
            }
        },
        [&](int) {});
    if (!SMEM) return;
    __syncthreads();
    for (int e = threadIdx.x; e < width * words; e += blockDim.x) {
        const jitc_u64 value = tile_acc[e];
        if (value) atomicAdd(acc + (jitc_i64)(tile.lo - j0 + e / words) * acc_ld * NW + col0 * NW + e % words, value);
    }
}

// s + err += v, with err collecting the rounding errors exactly (TwoSum).
__device__ __forceinline__ void jitc_fixed_two_sum(double &s, double &err, double v)
{
    const double t = s + v;
    const double bv = t - s;
    err += (s - (t - bv)) + (v - bv);
    s = t;
}

// out[e] for e < n_entries (n_cols columns a row): the fixed-point sum back
// to T, or the value its flags say.  The int64 word is split into a double
// and its exact integer remainder, so the sum is rounded once to double
// (then once more to T, and scaled by 2**-S_c exactly unless it over- or
// underflows T, as a float sum would).  Finer levels (n_levels > 1) join
// the sum first, with their rounding errors carried in a second double.
template <typename T, int NW>
__global__ void jitc_fixed_finish(const jitc_i64 *acc, const jitc_u32 *flags, int has_flags, const int *emax,
                                  int shift0, jitc_i64 n_entries, int n_cols, T *out, const jitc_i64 *fine,
                                  jitc_i64 fine_plane, int n_levels, int level_bits)
{
    for (jitc_i64 e = (jitc_i64)blockIdx.x * blockDim.x + threadIdx.x; e < n_entries;
         e += (jitc_i64)gridDim.x * blockDim.x) {
        const jitc_u32 f = has_flags ? flags[e] : 0u;  // binary events have none
        double value;
        if ((f & JITC_FIXED_NAN) || (f & (JITC_FIXED_POS_INF | JITC_FIXED_NEG_INF)) ==
                                        (JITC_FIXED_POS_INF | JITC_FIXED_NEG_INF)) {
            value = __longlong_as_double(0x7FF8000000000000ll);
        } else if (f) {
            value = f == JITC_FIXED_POS_INF ? __longlong_as_double(0x7FF0000000000000ll)
                                            : __longlong_as_double(0xFFF0000000000000ll);
        } else {
            const jitc_i64 h = acc[e * NW];
            const double head = (double)h;  // |h| < 2**63: (jitc_i64)head does not overflow
            double rest = (double)(h - (jitc_i64)head);
            if (NW == 2) rest += ldexp((double)acc[e * NW + 1], -JITC_FIXED_LO_BITS);
            double sum = head + rest;
            if (n_levels > 1) {
                // Levels in units of level 0 (scaled by exact powers of two,
                // far from underflow: at most 7 levels of at most 29 bits),
                // added with compensation (TwoSum): the partial sums' roundings
                // are carried, not lost to cancellation between levels.
                double s = head, err = 0.0;
                jitc_fixed_two_sum(s, err, rest);
                for (int k = 1; k < n_levels; ++k) {
                    const jitc_i64 *w = fine + (k - 1) * fine_plane + e * NW;
                    const double scale = ldexp(1.0, -k * level_bits);
                    const double fh = (double)w[0];
                    jitc_fixed_two_sum(s, err, fh * scale);
                    jitc_fixed_two_sum(s, err, (double)(w[0] - (jitc_i64)fh) * scale);
                    if (NW == 2) jitc_fixed_two_sum(s, err, ldexp((double)w[1], -JITC_FIXED_LO_BITS) * scale);
                }
                sum = s + err;
            }
            value = ldexp(sum, -jitc_fixed_shift(shift0, emax[(int)(e % n_cols)]));
        }
        out[e] = jitc_convert(value, T());
    }
}
