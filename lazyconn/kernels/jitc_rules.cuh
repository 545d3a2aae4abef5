// Connection rules of the GPU kernels: one walk struct per rule (lazyconn's
// rule record names it, Rule.cuda_type), passed to every kernel as its
// template parameter Rule, so that a kernel is compiled per (rule, law) and
// no rule is tested at run time.  Each struct yields the connections of a
// line, in increasing minor index, with their connection slots, exactly as
// the rule's NumPy reference walk (Rule.reference_walk) does:
//
//   walk(g, line, blk, end, emit)
//       emit(pos, t, i) for each connection of item (line, blk) at
//       block-local position pos < end, slot 4 t + i, whose weight word is
//       word i of Philox counter (t, blk, line, 1) (jitc_weight);
//   walk_items<W, Law, PLAIN, DRAWS>(g, ndtri_smem, li, li_end, stride,
//                                    first, last, j0, j1, tile_lo,
//                                    line_of, on_base, emit, line_done)
//       the products' walk over the lines li, li + stride, ... < li_end and
//       the blocks [first, last) of a tile, weights included (the callbacks
//       are those of jitc_walk_items, jitc_kernels.cu).
//
// _gpu_launch._source pastes this file after jitc_kernels.cu (whose
// generator, Philox and Bernoulli walk it uses) and before the kernels are
// instantiated.
#ifndef JITC_RULES_CUH
#define JITC_RULES_CUH

// Bernoulli(p), spec v1 sections 2-4: the gap walk of jitc_kernels.cu.
struct BernoulliWalk {
    // CTAs per SM of a one-column constant-law scatter (JITC_SCATTER_BOUNDS).
    static constexpr int CONSTANT_SCATTER_CTAS = 6;
    template <typename F>
    __device__ __forceinline__ static void walk(const jitc_gen &g, jitc_u32 line, jitc_u32 blk, int end, F &&emit)
    {
        jitc_walk(g, line, blk, end, emit);
    }
    template <typename W, typename Law, bool PLAIN, int DRAWS, typename LineOf, typename OnBase, typename Emit,
              typename LineDone>
    __device__ __forceinline__ static void walk_items(const jitc_gen &g, jitc_u32 ndtri_smem, int li, int li_end,
                                                      int stride, int first, int last, int j0, int j1, int tile_lo,
                                                      LineOf &&line_of, OnBase &&on_base, Emit &&emit,
                                                      LineDone &&line_done)
    {
        jitc_walk_items<W, Law, PLAIN, DRAWS>(g, ndtri_smem, li, li_end, stride, first, last, j0, j1, tile_lo,
                                              line_of, on_base, emit, line_done);
    }
};

// ---------------------------------------------------------------------------
// The fixed-number rule (docs/spec.md "Fixed-number rule"; the NumPy
// reference is lazyconn/_rule_fixed.py, the Numba twin
// lazyconn/kernels/_cpu_fixed.py): exactly K = g.num_conn distinct entries
// per line among its N' = g.n_eff candidates, by Vitter's Method D with a
// geometric proposal (F4).  A line is one item (block 0, block_log2 = 31),
// walked by one thread from its start.  Trial tau of line k reads words
// 2 (tau % 2) and 2 (tau % 2) + 1 of Philox counter (tau / 2, 0, k, 2); the
// s-th chosen entry has slot s, so its weight word is word s % 4 of counter
// (s / 4, 0, k, 1), as a Bernoulli slot of block 0 (jitc_weight reads it).
//
// Every floating-point step is F4's, in its order and parenthesisation,
// each correctly rounded (the module is compiled with --fmad=false, so no
// multiply-add is fused; double division and floor are IEEE), with the
// pinned jitc_ln (or a candidate proven to give the same skip, see
// jitc_fixed_skip, and a bound proven to give the same squeeze, see
// jitc_fixed_proposal): the positions are the reference's, bit for bit.  Integers
// are below 2**31, so their conversions to double are exact and the CPU
// twin's float bookkeeping (b_f, n_f, a_f) gives the same values.
#define JITC_FIXED_DOMAIN 2u
#define JITC_FIXED_SKIP_CLAMP 2147483648.0  // 2**31, _rule_fixed.SKIP_CLAMP
#define JITC_FIXED_EXACT_FLOOR 0x1p-100     // _rule_fixed.EXACT_FLOOR
#define JITC_FIXED_SERIES_MAX 0.25          // _rule_fixed.SERIES_MAX
// A candidate index no line reaches (candidates are < 2**31 - 1): the
// diagonal of a matrix that keeps it.
#define JITC_FIXED_NO_DIAGONAL 0x7FFFFFFF

// floor(count * (w1 * 2**32 + w2) / 2**64) for count < 2**31, in uint64
// (_rule_fixed.uniform_index): the last entry of a line.
__device__ __forceinline__ int jitc_fixed_uniform_index(int count, jitc_u32 w1, jitc_u32 w2)
{
    const jitc_u64 c = (jitc_u64)count;
    return (int)((c * (jitc_u64)w1 + ((c * (jitc_u64)w2) >> 32)) >> 32);
}

// A step's lam and up_bound from b_f = float(N_r - 1) and n_f = float(n - 1),
// 2 <= n < N_r (_rule_fixed.proposal computes lam, delta_up and delta_lo).
// F4's two bounds cost a division each and only the squeeze reads them, so
// a step keeps up_bound >= delta_up instead, found by products alone.  On a
// series step (0 < t <= 1/4): delta_up = fl(t3 / fl(3 fl(1 - t))) <=
// (t3 / 3) / (1 - t) (1 + 3.01 2**-53) (three roundings); 1 / (1 - t) <=
// 1 + 2 t for t <= 1/2; and up_bound = fl(fl(t3 C) fl(1 + 2 t)) >=
// t3 C (1 + 2 t) (1 - 2**-53)**3 with C = JITC_FIXED_DELTA_UP_SCALE >=
// (1 + 2**-48) / 3, which is more.  On an ln1p step delta_up = 0 =
// up_bound.  Rounding is monotone and sf, den_up >= 0, so
// fl(fl(sf up_bound) den_up) >= fl(fl(sf delta_up) den_up): the squeeze's
// acceptance against up_bound implies F4's, and only the trials it does
// not accept (those F4's squeeze does not accept either, and a sliver
// beside them) compute the bounds (jitc_fixed_squeeze_accept).  A macro, so
// that the host tests can widen it: any larger C keeps the proof, and the
// positions do not depend on it.
#ifndef JITC_FIXED_DELTA_UP_SCALE
#define JITC_FIXED_DELTA_UP_SCALE 0x1.555555555556bp-2
#endif
__device__ __forceinline__ void jitc_fixed_proposal(double b_f, double n_f, double &lam, double &up_bound)
{
    const double t = n_f / b_f;
    if (t <= JITC_FIXED_SERIES_MAX) {
        lam = (-t) * (1.0 + 0.5 * t);
        up_bound = (((t * t) * t) * JITC_FIXED_DELTA_UP_SCALE) * (1.0 + 2.0 * t);
    } else {
        // ln1p(x) of spec section 4, x = -t: v is neither 0 nor 1 here.
        const double x = -t;
        const double v = 1.0 + x;
        lam = jitc_ln(v) * (x / (v - 1.0));
        up_bound = 0.0;
    }
}

// F4's bounds (delta_up, delta_lo) of a step (b_f, n_f as above).
__device__ __forceinline__ void jitc_fixed_deltas(double b_f, double n_f, double &delta_up, double &delta_lo)
{
    const double t = n_f / b_f;
    if (t <= JITC_FIXED_SERIES_MAX) {
        const double t3 = (t * t) * t;
        delta_up = t3 / (3.0 * (1.0 - t));
        delta_lo = t3 / 3.0;
    } else {
        delta_up = 0.0;
        delta_lo = 0.0;
    }
}

// The proposed skip S = floor(min(jitc_ln(u1) / lam, 2**31)) of F4, from the
// log candidate (jitc_log_candidate, jitc_logc.cuh) where that decides it,
// the pinned jitc_ln only where it cannot:
//   x = fl(L / lam), L = jitc_ln(u1) < 0, lam < 0, so x > 0.  The candidate
//   L' = L (1 + e1), |e1| <= 2**-46.9 (derived in jitc_logc.cuh; on all
//   2**32 words at most 2**-47.54), and xc = fl(L' / lam): xc / x lies in
//   1 +- (2**-46.9 + 2 * 2**-53) < 1 +- 2**-46.8.  xc is a normal double
//   (2**-33 / 23 <= xc < 2**36: |lam| <= 23 and >= 2**-31), so the ends
//   fl(xc (1 -+ M)), M = JITC_FIXED_SKIP_MARGIN = 2**-44 (1 -+ M exact),
//   lie below and above x; floor is monotone, so equal at both ends and
//   below 2**31 (where the clamp changes nothing) it is S.  They differ
//   about 2 M x of the time (x is some hundreds at most on sparse lines),
//   and a proposal near or past the clamp is left undecided (any such skip
//   is rejected: lines are shorter); then the exact route runs.  The
//   margin is a macro so that the host tests can widen it and take the
//   exact route often; the decided value does not depend on it.
// Division by lam rather than a product by a reciprocal kept per step: one
// register fewer, which the atomic scatters measurably need (H100).
#ifndef JITC_FIXED_SKIP_MARGIN
#define JITC_FIXED_SKIP_MARGIN 0x1p-44
#endif
__device__ __noinline__ double jitc_fixed_skip_exact(jitc_u32 w1, double lam)
{
    const double x = jitc_ln(jitc_uniform(w1)) / lam;
    return floor(x < JITC_FIXED_SKIP_CLAMP ? x : JITC_FIXED_SKIP_CLAMP);  // clamp before converting
}
__device__ __forceinline__ double jitc_fixed_skip(jitc_u32 w1, double lam)
{
    const double xc = jitc_log_candidate(w1) / lam;
    const double s_lo = floor(xc * (1.0 - JITC_FIXED_SKIP_MARGIN));
    const double s_hi = floor(xc * (1.0 + JITC_FIXED_SKIP_MARGIN));
    // Below the clamp at both ends, min(., 2**31) leaves them alone: the
    // decided path holds no clamp.
    return (s_lo == s_hi && s_hi < JITC_FIXED_SKIP_CLAMP) ? s_lo : jitc_fixed_skip_exact(w1, lam);
}

// The exact test u2 <= Y exp(-lam S) (rare; _rule_fixed._exact_accept): Y
// by its shorter product, stopped (rejected) once below 2**-100, then
// accept iff A <= R, A = jitc_ln(u2), R = fl(jitc_ln(Y) - fl(S lam)).  Out
// of line: it is taken about once a line, and inlined it would hold
// registers that the walk needs.  A warp runs it for one lane at a time,
// which makes it a sizeable share of a product (performance_history.md), so
// its two pinned logarithms are decided from the log candidates where they
// can be: A' = jitc_log_candidate(w2), LY' = jitc_log_candidate_of(Y) (0 for
// Y = 1, whose ln is 0), R' = fl(LY' - fl(S lam)).  Each candidate is within
// 2**-46.9 of its pinned value (jitc_logc.cuh), so |A' - A| + |R' - R| <=
// 2**-46.8 (|A'| + |LY'| + |S lam|) with the roundings of R and R'; the
// margin d = M (|A'| + |LY'| + |S lam|), M = JITC_FIXED_EXACT_MARGIN =
// 2**-45, covers that and the rounding of A' -+ d, so A' + d < R' means
// A < R (accept) and A' - d > R' means A > R (reject); between them the
// pinned route decides.  A macro, so that the host tests can widen it.
#ifndef JITC_FIXED_EXACT_MARGIN
#define JITC_FIXED_EXACT_MARGIN 0x1p-45
#endif
__device__ __noinline__ bool jitc_fixed_exact_accept(int skip, int n, int n_r, double lam, jitc_u32 w2)
{
    double y = 1.0;
    if (skip <= n - 1) {
        const int a = n_r - n, b = n_r - 1;
        for (int i = 0; i < skip; ++i) {
            y = y * ((double)(a - i) / (double)(b - i));
            if (y < JITC_FIXED_EXACT_FLOOR) return false;
        }
    } else {
        for (int i = 0; i < n - 1; ++i) {
            y = y * ((double)(n_r - skip - 1 - i) / (double)(n_r - 1 - i));
            if (y < JITC_FIXED_EXACT_FLOOR) return false;
        }
    }
    const double s_lam = (double)skip * lam;
    const double a_c = jitc_log_candidate(w2);
    const double ly_c = y == 1.0 ? 0.0 : jitc_log_candidate_of(y);
    const double r_c = ly_c - s_lam;
    const double d = ((fabs(a_c) + fabs(ly_c)) + fabs(s_lam)) * JITC_FIXED_EXACT_MARGIN;
    if (a_c + d < r_c) return true;
    if (a_c - d > r_c) return false;
    return jitc_ln(jitc_uniform(w2)) <= jitc_ln(y) - s_lam;
}

// F4's squeeze, then its exact test, for a trial that the walk's squeeze
// against up_bound (jitc_fixed_proposal) did not accept: whether F4 accepts
// skip sf (n, n_r the step, lam its proposal, w2 the trial's second word).
// It takes t again from the integers (a division, on this rare path), so
// that a step keeps only lam and up_bound; its other operands are the
// walk's own expressions, which the inlined code shares with the walk.
// Inlined: out of line, the registers saved around the call cost more than
// it spares (performance_history.md).
__device__ __forceinline__ bool jitc_fixed_squeeze_accept(double sf, jitc_u32 w2, int n, int n_r, double lam)
{
    const double b_f = (double)(n_r - 1), n_f = (double)(n - 1), a_f = (double)(n_r - n);
    const double u2 = jitc_uniform(w2);
    const double num = n_f * (sf * (sf - 1.0));
    const double den_up = (2.0 * b_f) * ((a_f - sf) + 1.0);
    double delta_up, delta_lo;
    jitc_fixed_deltas(b_f, n_f, delta_up, delta_lo);
    if ((1.0 - u2) * den_up - num >= (sf * delta_up) * den_up) return true;
    const double den_lo = (2.0 * a_f) * b_f;
    if (u2 * ((den_lo + num) + (sf * delta_lo) * den_lo) > den_lo) return false;
    return jitc_fixed_exact_accept((int)sf, n, n_r, lam, w2);
}

// The walk of line `line` (F4) up to candidate e_end (exclusive; at most
// N'): chosen(e, s) for each chosen candidate e < e_end, in increasing e, s
// being its slot.  Entries before a window's start are the caller's to drop:
// the walk is sequential, every line starts at candidate 0.
template <typename F>
__device__ __forceinline__ void jitc_fixed_line(const jitc_gen &g, jitc_u32 line, int e_end, F &&chosen)
{
    const int n_eff = g.n_eff;
    int n = g.num_conn;  // entries still to choose
    int e0 = 0;          // the next candidate
    int n_r = n_eff;     // candidates left
    int s = 0;           // the next entry's slot
    jitc_u32 tau = 0;    // trials read
    jitc_words r = {0u, 0u, 0u, 0u};  // draw tau / 2, read by trials tau and tau + 1
    double lam = 0.0, up_bound = 0.0;
    bool fresh = true;  // the step's constants need computing
    while (n > 0 && e0 < e_end) {
        int p;
        if (n == n_r) {
            p = e0;  // every candidate left is chosen: no word is read
        } else {
            if (!(tau & 1u)) r = jitc_philox_rk(tau >> 1, 0u, line, JITC_FIXED_DOMAIN, g);
            const jitc_u32 w1 = (tau & 1u) ? r.w2 : r.w0;
            const jitc_u32 w2 = (tau & 1u) ? r.w3 : r.w1;
            ++tau;
            if (n == 1) {
                p = e0 + jitc_fixed_uniform_index(n_r, w1, w2);  // the last entry: uniform over N_r
            } else {
                const double b_f = (double)(n_r - 1);  // B
                const double n_f = (double)(n - 1);
                if (fresh) {
                    jitc_fixed_proposal(b_f, n_f, lam, up_bound);
                    fresh = false;
                }
                const double a_f = (double)(n_r - n);  // A, the largest skip
                const double sf = jitc_fixed_skip(w1, lam);
                if (sf > a_f) continue;  // reject
                const double u2 = jitc_uniform(w2);
                const double num = n_f * (sf * (sf - 1.0));
                const double den_up = (2.0 * b_f) * ((a_f - sf) + 1.0);
                if (!((1.0 - u2) * den_up - num >= (sf * up_bound) * den_up) &&
                    !jitc_fixed_squeeze_accept(sf, w2, n, n_r, lam))
                    continue;  // reject
                p = e0 + (int)sf;
            }
        }
        if (p >= e_end) return;
        chosen(p, s);
        ++s;
        e0 = p + 1;
        n_r = n_eff - e0;
        --n;
        fresh = true;
    }
}

struct FixedNumberWalk {
    // Three CTAs per SM (up to 80 registers; it takes 60-64) for a
    // one-column constant-law scatter: at six (40) the walk spills ~100
    // bytes a thread inside its loop (performance_history.md, "Fixed-number
    // scatters: registers and the spread of event lines").
    static constexpr int CONSTANT_SCATTER_CTAS = 3;
    // The candidate that stands for minor index j1 (a window's end): without
    // the diagonal, candidate e is entry e + (e >= line).
    __device__ __forceinline__ static int candidate_end(const jitc_gen &g, int diagonal, int j1)
    {
        const int e_end = j1 - (j1 > diagonal ? 1 : 0);
        return e_end < g.n_eff ? e_end : g.n_eff;
    }

    // blk is 0 (one item per line) and `end` the window's end j1 on the line.
    template <typename F>
    __device__ __forceinline__ static void walk(const jitc_gen &g, jitc_u32 line, jitc_u32, int end, F &&emit)
    {
        const int diagonal = g.skip_diagonal ? (int)line : JITC_FIXED_NO_DIAGONAL;
        jitc_fixed_line(g, line, candidate_end(g, diagonal, end), [&](int e, int s) {
            emit(e + (e >= diagonal ? 1 : 0), (jitc_u32)(s >> 2), s & 3);
        });
    }

    // The products' walk: each line of the thread from its start to the
    // window's end j1 (the tile is the whole window: one block per line).
    // Each connection inside the window takes its own weight (Law::weight,
    // the law's table from the CTA's copy), from the Philox block of weight
    // words of its slot group, drawn at the group's first connection inside
    // the window; connections before j0 take no weight.  One weight a
    // connection, not the group's four at its first: the lanes of a warp
    // reach their groups' first connections at different trials (their
    // lines reject different trials), so four at a time ran the four-weight
    // code with a quarter of the lanes nearly every trial.  PLAIN and DRAWS
    // are the Bernoulli walk's and unused here.
    template <typename W, typename Law, bool PLAIN, int DRAWS, typename LineOf, typename OnBase, typename Emit,
              typename LineDone>
    __device__ __forceinline__ static void walk_items(const jitc_gen &g, jitc_u32 ndtri_smem, int li, int li_end,
                                                      int stride, int first, int last, int j0, int j1, int tile_lo,
                                                      LineOf &&line_of, OnBase &&on_base, Emit &&emit,
                                                      LineDone &&line_done)
    {
        constexpr bool WEIGHTED = !Law::CONSTANT;
        if (li >= li_end || first >= last) return;
        const int base = -tile_lo;  // block 0 starts at minor index 0: positions are minor indices
        on_base(base);
        for (; li < li_end; li += stride) {
            const int line = line_of(li);
            const int diagonal = g.skip_diagonal ? line : JITC_FIXED_NO_DIAGONAL;
            jitc_u32 group = 0xFFFFFFFFu;  // the slot group whose weight words wr holds
            jitc_words wr = {0u, 0u, 0u, 0u};
            jitc_fixed_line(g, (jitc_u32)line, candidate_end(g, diagonal, j1), [&](int e, int s) {
                const int j = e + (e >= diagonal ? 1 : 0);
                if (j < j0) return;
                if (WEIGHTED && (jitc_u32)(s >> 2) != group) {
                    group = (jitc_u32)(s >> 2);
                    wr = jitc_philox_rk(group, 0u, (jitc_u32)line, 1u, g);
                }
                emit(line, base, j, Law::template weight<W, true>(g.law, jitc_word(wr, s & 3), ndtri_smem));
            });
            line_done(li);
        }
    }
};

#endif  // JITC_RULES_CUH
