// CUDA kernels of the GPU backend (lazyconn/kernels/gpu.py), spec v1.
//
// Work is cut into *items*: one (line, block) pair of the generator, walked by
// one thread from the block's first slot (the walk is sequential) to the end
// of the minor window.  Kernels compute in line space, exactly like
// lazyconn/kernels/reference.py; orientation and windows of the user's matrix
// are the caller's business.
//
// Products use a 2-D grid: blockIdx.x picks a *tile* of G consecutive blocks
// of the minor axis, blockIdx.y a segment of lines.  A CTA stages its tile of
// the input (gather) or accumulates into its tile (scatter) in shared memory,
// so each connection costs a shared-memory access instead of a global one.
// When a tile does not fit (very small p: blocks of up to 2**22 entries) the
// same kernels, instantiated with SMEM = false, address global memory instead.
//
// Which entries of a line are connected is the connection rule's business:
// every kernel takes the rule's walk struct (lazyconn.rules names it in the
// rule's record, Rule.cuda_type) as its template parameter Rule, like the
// weight law's struct Law.  BernoulliWalk (spec v1, the walk of this file:
// jitc_walk, jitc_walk_items) and FixedNumberWalk (the fixed-number rule)
// live in jitc_rules.cuh, pasted after this file and before the kernels are
// instantiated (the kernels name Rule only as a template argument).
//
// Compile with --fmad=false: the generator must round like NumPy.  The
// product accumulations use explicit fma() calls, which that flag leaves
// alone, since their summation order differs from the host's anyway.
#ifndef JITC_RANDOM_CUH
#include "jitc_random.cuh"
#endif
#ifndef JITC_EXP_CUH
#include "jitc_exp.cuh"
#endif
#ifndef JITC_LAWS_CUH
#include "jitc_laws.cuh"
#endif

#define JITC_MODE_VALUES 0  // scatter weighted rows: out += w * values[line]
#define JITC_MODE_EVENTS 1  // binary events, weights summed
#define JITC_MODE_COUNTS 2  // binary events, Scalar law: integer counts

// The generator's arguments, one record passed by value to every kernel
// (in the parameter bank: reading a field costs no instruction).  Filled on
// the host by _gpu_launch._gen_args, whose NumPy dtype mirrors this layout
// (the static_asserts below pin it): lazyconn.spec.KernelParams, the
// float32 gap constants c2 = fl32(inv_log_q * ln 2), |c2| * 2**-20 and the
// fast-path switch (see jitc_random.cuh), the law's arguments
// (jitc_laws.cuh), and the Philox round keys (key + r * Weyl increment,
// mod 2**32), so that the kernels compute none.  num_conn and n_eff are
// the fixed-number rule's K and its candidates per line, N' (0 for
// Bernoulli matrices).
struct jitc_gen {
    jitc_u32 key0, key1;
    int block_log2;
    int fast;
    double inv_log_q;
    float gap_scale;
    float gap_tol;
    int skip_diagonal;
    jitc_law_args law;
    jitc_u32 rk0[10], rk1[10];
    int num_conn, n_eff;
};
// The offsets are checked on the device against the host's dtype
// (jitc_gen_layout, run by the GPU tests); NVRTC has no offsetof.
static_assert(sizeof(jitc_law_args) == 48 && sizeof(jitc_gen) == 176, "jitc_gen layout: see _gpu_launch._GEN_DTYPE");

// Every kernel takes the generator as its first argument, `gen`, and reads
// it through a local copy (the fields then come straight from the
// parameter bank, however the inlined helpers take it).
#define JITC_GEN_PARAMS const jitc_gen gen
#define JITC_GEN_INIT const jitc_gen g = gen

// Philox4x32-10 with precomputed round keys: the same function as jitc_philox.
__device__ __forceinline__ jitc_words jitc_philox_rk(jitc_u32 c0, jitc_u32 c1, jitc_u32 c2, jitc_u32 c3,
                                                     const jitc_gen &g)
{
#pragma unroll
    for (int round = 0; round < 10; ++round) {
        const jitc_u32 hi0 = __umulhi(JITC_PHILOX_M0, c0);
        const jitc_u32 lo0 = JITC_PHILOX_M0 * c0;
        const jitc_u32 hi1 = __umulhi(JITC_PHILOX_M1, c2);
        const jitc_u32 lo1 = JITC_PHILOX_M1 * c2;
        c0 = hi1 ^ c1 ^ g.rk0[round];
        c1 = lo1;
        c2 = hi0 ^ c3 ^ g.rk1[round];
        c3 = lo0;
    }
    jitc_words out = {c0, c1, c2, c3};
    return out;
}

// Walk item (line, blk) up to block-local position `end` (exclusive), calling
// emit(pos, t, i) for each connection: slot 4t + i of the gap stream.  The
// four gaps of a Philox block are computed before the walk consumes them, so
// their logarithms overlap instead of waiting on each other's branches.
template <typename F>
__device__ __forceinline__ void jitc_walk(const jitc_gen &g, jitc_u32 line, jitc_u32 blk, int end, F &&emit)
{
    int pos = -1;
    for (jitc_u32 t = 0;; ++t) {
        const jitc_words r = jitc_philox(t, blk, line, 0u, g.key0, g.key1);
        const int g0 = jitc_gap(r.w0, g.inv_log_q, g.gap_scale, g.gap_tol, g.fast);
        const int g1 = jitc_gap(r.w1, g.inv_log_q, g.gap_scale, g.gap_tol, g.fast);
        const int g2 = jitc_gap(r.w2, g.inv_log_q, g.gap_scale, g.gap_tol, g.fast);
        const int g3 = jitc_gap(r.w3, g.inv_log_q, g.gap_scale, g.gap_tol, g.fast);
        pos += g0 + 1;
        if (pos >= end) return;
        emit(pos, t, 0);
        pos += g1 + 1;
        if (pos >= end) return;
        emit(pos, t, 1);
        pos += g2 + 1;
        if (pos >= end) return;
        emit(pos, t, 2);
        pos += g3 + 1;
        if (pos >= end) return;
        emit(pos, t, 3);
    }
}

// Weight of the connection in slot 4t + i of item (line, blk), in float64 and
// rounded once to W, as reference._weights does.  `cache` keeps the Philox
// block of draw `cache_t` so the four slots of one draw share one call.
template <typename Law, typename W>
__device__ __forceinline__ W jitc_weight(const jitc_gen &g, jitc_u32 line, jitc_u32 blk, jitc_u32 t, int i,
                                         jitc_words &cache, jitc_u32 &cache_t)
{
    if (Law::CONSTANT) return Law::template weight<W>(g.law, 0u);
    if (cache_t != t) {
        cache = jitc_philox(t, blk, line, 1u, g.key0, g.key1);
        cache_t = t;
    }
    return Law::template weight<W>(g.law, jitc_word(cache, i));
}

// Loads from a shared-memory byte address held in a register: the compiler
// otherwise re-derives the shared window's base for every access.
__device__ __forceinline__ float jitc_lds(unsigned addr, float)
{
    float v;
    asm("ld.shared.f32 %0, [%1];" : "=f"(v) : "r"(addr));
    return v;
}
__device__ __forceinline__ double jitc_lds(unsigned addr, double)
{
    double v;
    asm("ld.shared.f64 %0, [%1];" : "=d"(v) : "r"(addr));
    return v;
}

// Shared-memory reductions at a shared-window address (see jitc_lds).  Float
// adds become a compare-and-swap loop on Hopper; u32 adds are native.
__device__ __forceinline__ void jitc_red_shared(unsigned addr, jitc_u32 v)
{
    asm volatile("red.shared.add.u32 [%0], %1;" ::"r"(addr), "r"(v));
}
__device__ __forceinline__ void jitc_red_shared(unsigned addr, float v)
{
    asm volatile("red.shared.add.f32 [%0], %1;" ::"r"(addr), "f"(v));
}
__device__ __forceinline__ void jitc_red_shared(unsigned addr, double v)
{
    asm volatile("red.shared.add.f64 [%0], %1;" ::"r"(addr), "d"(v));
}

// A CTA's dynamic shared memory as a shared-window address, pinned in a
// register: left to itself the compiler re-derives it (S2R + LEA) at every
// access inside the walk.
__device__ __forceinline__ unsigned jitc_pinned_shared_address(const void *p)
{
    unsigned addr = (unsigned)__cvta_generic_to_shared(p);
    asm volatile("" : "+r"(addr));
    return addr;
}

// The gather's float32 sums keep subnormals, as the host's do (CuPy's
// -ftz=true would flush them: see jitc_convert).
__device__ __forceinline__ float jitc_fma(float a, float b, float c)
{
    float r;
    asm("fma.rn.f32 %0, %1, %2, %3;" : "=f"(r) : "f"(a), "f"(b), "f"(c));
    return r;
}
__device__ __forceinline__ double jitc_fma(double a, double b, double c) { return fma(a, b, c); }
__device__ __forceinline__ float jitc_add(float a, float b)
{
    float r;
    asm("add.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
    return r;
}
__device__ __forceinline__ double jitc_add(double a, double b) { return a + b; }
__device__ __forceinline__ float jitc_mul(float a, float b)
{
    float r;
    asm("mul.rn.f32 %0, %1, %2;" : "=f"(r) : "f"(a), "f"(b));
    return r;
}
__device__ __forceinline__ double jitc_mul(double a, double b) { return a * b; }

// Block-local end of the walk for block `blk` inside the minor window [j0, j1).
__device__ __forceinline__ int jitc_block_end(const jitc_gen &g, int blk, int j1)
{
    const jitc_i64 start = (jitc_i64)blk << g.block_log2;
    const jitc_i64 len = 1ll << g.block_log2;
    const jitc_i64 rest = (jitc_i64)j1 - start;
    return (int)(rest < len ? rest : len);
}

// ---------------------------------------------------------------------------
// Window -> dense block out[(k - k0) * (j1 - j0) + (j - j0)]; out is zeroed.
template <typename W, typename Law, typename Rule>
__global__ void jitc_dense(JITC_GEN_PARAMS, int k0, int n_lines, int j0, int j1, int b0, int n_blocks, W *out)
{
    JITC_GEN_INIT;
    const jitc_i64 n_items = (jitc_i64)n_lines * n_blocks;
    const jitc_i64 width = (jitc_i64)j1 - j0;
    for (jitc_i64 item = (jitc_i64)blockIdx.x * blockDim.x + threadIdx.x; item < n_items;
         item += (jitc_i64)gridDim.x * blockDim.x) {
        const int li = (int)(item / n_blocks);
        const int blk = b0 + (int)(item % n_blocks);
        const int line = k0 + li;
        const int start = blk << g.block_log2;  // < j1 <= 2**31 - 1
        W *row = out + li * width;
        jitc_words cache;
        jitc_u32 cache_t = 0xFFFFFFFFu;
        Rule::walk(g, (jitc_u32)line, (jitc_u32)blk, jitc_block_end(g, blk, j1), [&](int pos, jitc_u32 t, int i) {
            const int j = start + pos;
            if (j < j0 || (g.skip_diagonal && j == line)) return;
            row[j - j0] = jitc_weight<Law, W>(g, (jitc_u32)line, (jitc_u32)blk, t, i, cache, cache_t);
        });
    }
}

#ifdef JITC_WITH_UTILS
// Connections per item, for the exclusive scan that places coo output.
template <typename Rule>
__global__ void jitc_coo_count(JITC_GEN_PARAMS, int k0, int n_lines, int j0, int j1, int b0, int n_blocks,
                               jitc_i64 *counts)
{
    JITC_GEN_INIT;
    const jitc_i64 n_items = (jitc_i64)n_lines * n_blocks;
    for (jitc_i64 item = (jitc_i64)blockIdx.x * blockDim.x + threadIdx.x; item < n_items;
         item += (jitc_i64)gridDim.x * blockDim.x) {
        const int line = k0 + (int)(item / n_blocks);
        const int blk = b0 + (int)(item % n_blocks);
        const int start = blk << g.block_log2;
        jitc_i64 count = 0;
        Rule::walk(g, (jitc_u32)line, (jitc_u32)blk, jitc_block_end(g, blk, j1), [&](int pos, jitc_u32, int) {
            const int j = start + pos;
            if (j < j0 || (g.skip_diagonal && j == line)) return;
            ++count;
        });
        counts[item] = count;
    }
}
#endif  // JITC_WITH_UTILS

// Connections of each item at offsets[item]: items run line-major, then by
// block, so the output is sorted by (k, j) like reference.coo.
template <typename W, typename Law, typename Rule>
__global__ void jitc_coo_fill(JITC_GEN_PARAMS, int k0, int n_lines, int j0, int j1, int b0, int n_blocks,
                              const jitc_i64 *offsets, jitc_i64 *out_k, jitc_i64 *out_j, W *out_w)
{
    JITC_GEN_INIT;
    const jitc_i64 n_items = (jitc_i64)n_lines * n_blocks;
    for (jitc_i64 item = (jitc_i64)blockIdx.x * blockDim.x + threadIdx.x; item < n_items;
         item += (jitc_i64)gridDim.x * blockDim.x) {
        const int line = k0 + (int)(item / n_blocks);
        const int blk = b0 + (int)(item % n_blocks);
        const int start = blk << g.block_log2;
        jitc_i64 at = offsets[item];
        jitc_words cache;
        jitc_u32 cache_t = 0xFFFFFFFFu;
        Rule::walk(g, (jitc_u32)line, (jitc_u32)blk, jitc_block_end(g, blk, j1), [&](int pos, jitc_u32 t, int i) {
            const int j = start + pos;
            if (j < j0 || (g.skip_diagonal && j == line)) return;
            out_k[at] = line;
            out_j[at] = j;
            out_w[at] = jitc_weight<Law, W>(g, (jitc_u32)line, (jitc_u32)blk, t, i, cache, cache_t);
            ++at;
        });
    }
}

// Exact nonzero counts per line and per minor index of the entries scaled by
// `scale` (weights rounded to W, times scale in float64, rounded to W).
template <typename W, typename Law, typename Rule>
__global__ void jitc_degrees(JITC_GEN_PARAMS, int k0, int n_lines, int j0, int j1, int b0, int n_blocks,
                             double scale, jitc_u64 *per_line, jitc_u64 *per_minor)
{
    JITC_GEN_INIT;
    const jitc_i64 n_items = (jitc_i64)n_lines * n_blocks;
    for (jitc_i64 item = (jitc_i64)blockIdx.x * blockDim.x + threadIdx.x; item < n_items;
         item += (jitc_i64)gridDim.x * blockDim.x) {
        const int li = (int)(item / n_blocks);
        const int line = k0 + li;
        const int blk = b0 + (int)(item % n_blocks);
        const int start = blk << g.block_log2;
        jitc_u64 count = 0;
        jitc_words cache;
        jitc_u32 cache_t = 0xFFFFFFFFu;
        Rule::walk(g, (jitc_u32)line, (jitc_u32)blk, jitc_block_end(g, blk, j1), [&](int pos, jitc_u32 t, int i) {
            const int j = start + pos;
            if (j < j0 || (g.skip_diagonal && j == line)) return;
            // The scaled entry: the weight (rounded to W) times scale in
            // float64, rounded once to W.  Whether that is zero is decided
            // in float64: a float result is nonzero exactly when
            // |w * scale| > 2**-150 (a tie rounds to even, zero), whatever
            // the device's float32 denormal mode (flushing would drop
            // subnormal entries the host keeps).
            const W w = jitc_weight<Law, W>(g, (jitc_u32)line, (jitc_u32)blk, t, i, cache, cache_t);
            const double scaled = jitc_convert(w, double()) * scale;
            if (sizeof(W) == 4 ? !(fabs(scaled) > 0x1p-150) : scaled == 0.0) return;
            ++count;
            atomicAdd(per_minor + (j - j0), 1ull);
        });
        if (count) atomicAdd(per_line + li, count);
    }
}

// ---------------------------------------------------------------------------
// Products.  Tile x = blocks [b0 + x * G, min(b0 + (x + 1) * G, b1)), its minor
// range clipped to the window: [lo, hi).
struct jitc_tile {
    int first, last;
    int lo, hi;
};

__device__ __forceinline__ jitc_tile jitc_tile_of(const jitc_gen &g, int b0, int b1, int G, int j0, int j1)
{
    jitc_tile tile;
    tile.first = b0 + (int)blockIdx.x * G;
    tile.last = min(tile.first + G, b1);
    const jitc_i64 lo = (jitc_i64)tile.first << g.block_log2;
    const jitc_i64 hi = (jitc_i64)tile.last << g.block_log2;
    tile.lo = (int)(lo > j0 ? lo : j0);
    tile.hi = (int)(hi < j1 ? hi : j1);
    return tile;
}

// The work of one thread in a product: lines li = li, li + stride, ... < li_end,
// each over blocks [first, last), walked as ONE loop.  Each iteration draws
// DRAWS Philox blocks of gaps (and, for a weight law, DRAWS = 1, the
// matching block of weight words: the same counter in domain 1) and consumes
// their 4 * DRAWS slots; when an item ends the lane moves straight on to its
// next item, so lanes of a warp never wait for the warp's longest item, only
// for the longest total.  The walk is latency-bound: the next iteration's
// Philox waits for the branch on this one's gaps.  With DRAWS = 2 the second
// draw's Philox does not wait for the first one's gaps, so that chain serves
// eight slots instead of four, for about 4% of draws computed past an item's
// end (their slots connect nothing: positions only grow).
// ndtri_smem: the shared-window address of the law's share of the CTA's
// shared memory (the float32 Normal route's table; jitc_law_smem_bytes).
//   line_of(li) -> line index (and loads per-line data);
//   on_base(base) whenever the current block's offset in the tile changes
//     (once per thread when a tile holds one block), so that address
//     arithmetic on it is not redone for every connection;
//   emit(line, base, p, weight) for each connection of the window, base + p
//     being its offset from the start of the current tile (j - tile_lo);
//   line_done(li) after the last block of a line.
// The window's lower edge and the diagonal are per-item bounds on the
// block-local position: p >= p_first and p != p_skip.  PLAIN (the window
// starts on a block boundary and the diagonal is kept) drops both tests:
// then "p < end" alone says which slots connect.
template <typename W, typename Law, bool PLAIN, int DRAWS, typename LineOf, typename OnBase, typename Emit,
          typename LineDone>
__device__ __forceinline__ void jitc_walk_items(const jitc_gen &g, jitc_u32 ndtri_smem, int li, int li_end,
                                                int stride, int first, int last, int j0, int j1, int tile_lo,
                                                LineOf &&line_of, OnBase &&on_base, Emit &&emit,
                                                LineDone &&line_done)
{
    constexpr bool WEIGHTED = !Law::CONSTANT;
    if (li >= li_end || first >= last) return;
    // Kept in registers: re-deriving them from the CTA's indices at every
    // line change (what the compiler prefers) costs a dozen instructions on
    // a path some lane of a warp takes almost every iteration.
    asm volatile("" : "+r"(li_end), "+r"(first), "+r"(last), "+r"(tile_lo));
    const int block_len = 1 << g.block_log2;
    int line = line_of(li);
    int blk = first;
    int start = blk << g.block_log2;
    int end = min(block_len, j1 - start);
    int p_first = j0 - start;
    int p_skip = g.skip_diagonal ? line - start : -1;
    int base = start - tile_lo;  // offset of block-local positions in the tile
    on_base(base);
    // One block per tile (the usual geometry): a line change keeps the block,
    // and with it every block-dependent bound.
    const bool one_block = last - first == 1;
    constexpr int SLOTS = 4 * DRAWS;
    const float gap_lo_add = -(g.gap_tol + 0.5f), gap_hi_add = g.gap_tol - 0.5f;
    float gap_c2_lo, gap_c2_hi;
    jitc_gap_scales(g.gap_scale, gap_c2_lo, gap_c2_hi);
    int pos = -1;
    jitc_u32 t = 0;
    for (;;) {
        jitc_words r[DRAWS];
#pragma unroll
        for (int d = 0; d < DRAWS; ++d) r[d] = jitc_philox_rk(t + d, (jitc_u32)blk, (jitc_u32)line, 0u, g);
        jitc_words wr = {0u, 0u, 0u, 0u};
        if (WEIGHTED) wr = jitc_philox_rk(t, (jitc_u32)blk, (jitc_u32)line, 1u, g);
        // Branch-free float32 candidates, then the rare float64 fallbacks.
        // Gaps carry the candidate's bias (JITC_ROUND_MAGIC_BITS), removed in
        // the position updates below at no cost.
        int gap[SLOTS];
        if (g.fast) {
            // Both ends' floors; they differ where the float32 route cannot
            // decide.  One test of their XORs ORed together (three-input
            // logic ops) is cheaper than a predicate per slot.
            int floor_hi[SLOTS];
            int undecided = 0;
#pragma unroll
            for (int s = 0; s < SLOTS; ++s) {
                gap[s] = jitc_gap_ends_biased(jitc_word(r[s / 4], s % 4), gap_c2_lo, gap_c2_hi, gap_lo_add,
                                              gap_hi_add, floor_hi[s]);
                undecided |= gap[s] ^ floor_hi[s];
            }
            if (undecided) {
#pragma unroll
                for (int s = 0; s < SLOTS; ++s)
                    if (gap[s] != floor_hi[s])
                        gap[s] = jitc_gap_exact(jitc_word(r[s / 4], s % 4), g.inv_log_q) + JITC_ROUND_MAGIC_BITS;
            }
        } else {
#pragma unroll
            for (int s = 0; s < SLOTS; ++s)
                gap[s] = jitc_gap_exact(jitc_word(r[s / 4], s % 4), g.inv_log_q) + JITC_ROUND_MAGIC_BITS;
        }
        // Positions only grow, so "p < end" alone says which slots connect
        // (slots past the item's end, the second draw's included, emit nothing).
        // p_first <= p < end as one unsigned comparison.
        const jitc_u32 span = (jitc_u32)end - (jitc_u32)p_first;
        int p[SLOTS];
        bool e[SLOTS];
#pragma unroll
        for (int s = 0; s < SLOTS; ++s) {
            p[s] = (s ? p[s - 1] : pos) + gap[s] + (1 - JITC_ROUND_MAGIC_BITS);
            e[s] = PLAIN ? p[s] < end : (jitc_u32)p[s] - (jitc_u32)p_first < span && p[s] != p_skip;
        }
        W w[4] = {(W)0, (W)0, (W)0, (W)0};
        if (WEIGHTED)
            Law::template weights4<W>(g.law, wr,
                                      (e[0] ? 1u : 0u) | (e[1] ? 2u : 0u) | (e[2] ? 4u : 0u) | (e[3] ? 8u : 0u),
                                      ndtri_smem, w[0], w[1], w[2], w[3]);
#pragma unroll
        for (int s = 0; s < SLOTS; ++s)
            if (e[s]) emit(line, base, p[s], w[s % 4]);
        if (p[SLOTS - 1] < end) {
            pos = p[SLOTS - 1];
            t += DRAWS;
            continue;
        }
        pos = -1;
        t = 0;
        if (one_block) {
            // The next line, same block: only the diagonal moves.  Tested
            // first, so this path (some lane of a warp takes it almost every
            // iteration) issues nothing for block changes.
            line_done(li);
            li += stride;
            if (li >= li_end) return;
            line = line_of(li);
            if (!PLAIN) p_skip = g.skip_diagonal ? line - start : -1;
            continue;
        }
        if (++blk == last) {
            line_done(li);
            li += stride;
            if (li >= li_end) return;
            line = line_of(li);
            blk = first;
        }
        start = blk << g.block_log2;
        end = min(block_len, j1 - start);
        p_first = j0 - start;
        p_skip = g.skip_diagonal ? line - start : -1;
        base = start - tile_lo;
        on_base(base);
    }
}

// Gather: out[li, col0 + c] += sum_j L[k0 + li, j] * vec[j - j0, col0 + c], c < nc <= NC.
// Each thread owns lines of the segment and walks their items in the tile,
// keeping the partial sums in registers: one global atomic per (line, tile).
// At most 256 threads per CTA (_gpu_launch._THREADS), and registers capped
// so that four such CTAs fit on an SM (64 registers): the walk is
// latency-bound and needs warps.  The one-column Scalar scatter, whose
// shared-memory float adds are compare-and-swap loops that wait on each
// other, gains from six (40 registers, a few spilled) with the Bernoulli
// walk; the fixed-number walk spills ~100 bytes there and takes three (its
// rule's CONSTANT_SCATTER_CTAS).  Its gather loses.  Weighted walks keep
// four CTAs (64 registers): fewer CTAs, with more registers each, run both
// products slower.  (Law, NC and Rule are the kernels' template arguments;
// the bound is a function because NVRTC, unlike nvcc, rejects a launch
// bound that is a member of a template argument, "bad attribute argument
// substitution": tests/test_gpu_fixed_number.py compiles with NVRTC.)
template <bool ONE_CONSTANT, typename Rule>
__host__ __device__ constexpr int jitc_scatter_ctas()
{
    return ONE_CONSTANT ? Rule::CONSTANT_SCATTER_CTAS : 4;
}
#define JITC_GATHER_BOUNDS __launch_bounds__(256, 4)
#define JITC_SCATTER_BOUNDS __launch_bounds__(256, (jitc_scatter_ctas<(Law::CONSTANT && NC == 1), Rule>()))

// The lines li = first, first + stride, ... < n of this thread in a scatter
// of n lines found on the device (jitc_scatter, jitc_scatter_fixed); false
// if its CTA (grid row blockIdx.y) has none, and then leaves before touching
// its tile.  A CTA's threads take lines_per_thread each, so that the CTAs
// in use pay back their shared tile.  Without a tile (SMEM false: one line
// per thread, nothing to pay back) the lines are spread over every CTA of
// the grid, at least a warp's worth each: a few long lines (1 % spikes of
// an R matrix with fixed-number lines) then run on every SM instead of
// eight warps on each of the first few.  The host sizes such a grid to the
// CTAs that fit at once (_gpu_launch._scatter_segments), so there is one
// wave.
template <bool SMEM>
__device__ __forceinline__ bool jitc_scatter_lines(int n, int lines_per_thread, int &first, int &stride)
{
    int threads = (int)blockDim.x;  // the threads of a CTA that take lines
    if (!SMEM) {
        const int share = n / (int)gridDim.y + (n % (int)gridDim.y != 0);
        threads = min(threads, max(32, (share + 31) & ~31));
    }
    const int per_seg = lines_per_thread * threads;
    const int segs = min((int)gridDim.y, max(1, n / per_seg + (n % per_seg != 0)));
    if ((int)blockIdx.y >= segs) return false;
    first = (int)threadIdx.x < threads ? (int)blockIdx.y * threads + (int)threadIdx.x : n;
    stride = segs * threads;
    return true;
}

// Bytes of a product CTA's dynamic shared memory that the law takes before
// the tile (the float32 Normal route's copy of its table; _gpu_launch.py
// allots the same), and their filling.
template <typename W, typename Law>
__host__ __device__ constexpr int jitc_law_smem_bytes()
{
    return Law::CONSTANT ? 0 : Law::template smem_bytes<W>();
}
template <typename W, typename Law>
__device__ __forceinline__ void jitc_law_stage(const jitc_gen &g, void *dst)
{
    if (jitc_law_smem_bytes<W, Law>()) Law::template stage<W>(g.law, dst);
}

// part_stride >= 0 (the deterministic route, gpu.gather): CTA column x
// stores its partial sums, plain stores, at out + x * part_stride +
// li * out_ld + out_col0; a second kernel (jitc_sum_partials) adds them up in
// tile order.  Every (line, tile) pair is stored exactly once, so the
// partials need no zeroing.  part_stride < 0: atomic adds into out (the
// reduction order then varies from run to run; kept for measurements).
template <typename W, typename T, int NC, bool SMEM, typename Law, bool PLAIN, typename Rule>
__global__ void JITC_GATHER_BOUNDS jitc_gather(JITC_GEN_PARAMS, int k0, int n_lines, int j0, int j1, int b0, int b1, int G,
                            int lines_per_seg, const T *vec, int vec_ld, int col0, int nc, T *out, int out_ld,
                            int out_col0, jitc_i64 part_stride, T scalar_w)
{
    JITC_GEN_INIT;
    extern __shared__ __align__(16) unsigned char jitc_smem[];
    constexpr bool WEIGHTED = !Law::CONSTANT;
    constexpr int ndtri_bytes = jitc_law_smem_bytes<W, Law>();
    jitc_law_stage<W, Law>(g, jitc_smem);
    const jitc_u32 ndtri_smem = jitc_pinned_shared_address(jitc_smem);  // read only when ndtri_bytes
    T *tile_x = reinterpret_cast<T *>(jitc_smem + ndtri_bytes);
    const jitc_tile tile = jitc_tile_of(g, b0, b1, G, j0, j1);
    if (SMEM) {
        const int n = (tile.hi - tile.lo) * nc;
        for (int e = threadIdx.x; e < n; e += blockDim.x)
            tile_x[e] = vec[(jitc_i64)(tile.lo - j0 + e / nc) * vec_ld + col0 + e % nc];
    }
    if (SMEM || ndtri_bytes) __syncthreads();
    const int s0 = (int)blockIdx.y * lines_per_seg;
    const int s1 = min(s0 + lines_per_seg, n_lines);
    T acc[NC];
#pragma unroll
    for (int c = 0; c < NC; ++c) acc[c] = (T)0;
    const int ncols = NC == 1 ? 1 : nc;  // a compile-time 1 for the common case
    const unsigned tile_addr = jitc_pinned_shared_address(tile_x);
    const unsigned row_bytes = (unsigned)ncols * (unsigned)sizeof(T);
    unsigned block_addr = tile_addr;  // shared address of the current block's position 0
    // The current line's output row, advanced as lines go by.
    const bool store = part_stride >= 0;
    T *out_line = out + (store ? (jitc_i64)blockIdx.x * part_stride : 0) + (jitc_i64)(s0 + (int)threadIdx.x) * out_ld +
                  out_col0;
    jitc_i64 out_step = (jitc_i64)blockDim.x * out_ld * (jitc_i64)sizeof(T);  // bytes
    asm volatile("" : "+l"(out_step));  // kept, not recomputed at every line change
    // WEIGHTED: a law with a weight stream.  Scalar: the operand entries are summed
    // and the sum multiplied once by scalar_w (the weight rounded to W, as T).
    // A one-column float32 Scalar gather walks two draws per iteration (see
    // jitc_walk_items); three spill, and so would two with several columns
    // or float64 sums.
    Rule::template walk_items<W, Law, PLAIN, !WEIGHTED && NC == 1 && sizeof(T) == sizeof(float) ? 2 : 1>(
        g, ndtri_smem, s0 + (int)threadIdx.x, s1, (int)blockDim.x, tile.first, tile.last, j0, j1, tile.lo,
        [&](int li) { return k0 + li; },
        [&](int base) { block_addr = tile_addr + (unsigned)base * row_bytes; },
        [&](int, int base, int p, W weight) {
            const int at = base + p;
            if (SMEM) {
                const unsigned x = block_addr + (unsigned)p * row_bytes;
#pragma unroll
                for (int c = 0; c < NC; ++c)
                    if (c < ncols) {
                        const T value = jitc_lds(x + c * (unsigned)sizeof(T), T());
                        acc[c] = WEIGHTED ? jitc_fma(jitc_convert(weight, T()), value, acc[c]) : jitc_add(acc[c], value);
                    }
            } else {
                const T *x = vec + (jitc_i64)(at + tile.lo - j0) * vec_ld + col0;
#pragma unroll
                for (int c = 0; c < NC; ++c)
                    if (c < ncols)
                        acc[c] = WEIGHTED ? jitc_fma(jitc_convert(weight, T()), x[c], acc[c]) : jitc_add(acc[c], x[c]);
            }
        },
        [&](int li) {
#pragma unroll
            for (int c = 0; c < NC; ++c) {
                // No test for a zero sum: that branch cost more, on a path
                // some lane takes almost every iteration, than the rare
                // atomic add of a zero.
                const T sum = WEIGHTED ? acc[c] : jitc_mul(acc[c], scalar_w);
                if (c < ncols) {
                    if (store)
                        out_line[c] = sum;
                    else
                        atomicAdd(out_line + c, sum);
                }
                acc[c] = (T)0;
            }
            out_line = reinterpret_cast<T *>(reinterpret_cast<char *>(out_line) + out_step);  // lines go by blockDim.x
        });
}

// out[li * out_ld + col0 + c] += parts[x * part_stride + li * nc + c] for x =
// 0, 1, ..., n_parts - 1 in that order, li < n_lines, c < nc: the gather's
// per-tile partial sums added in tile order, one thread per output entry, so
// the bits do not depend on scheduling (nor on how tiles are cut into
// launches: the running sum goes on from the value already in out).
template <typename T>
__global__ void jitc_sum_partials(const T *parts, int n_parts, jitc_i64 part_stride, int n_lines, int nc, T *out,
                                  int out_ld, int col0)
{
    const jitc_i64 n = (jitc_i64)n_lines * nc;
    for (jitc_i64 e = (jitc_i64)blockIdx.x * blockDim.x + threadIdx.x; e < n; e += (jitc_i64)gridDim.x * blockDim.x) {
        const jitc_i64 li = e / nc;
        const int c = (int)(e % nc);
        T *dst = out + li * out_ld + col0 + c;
        T sum = *dst;
        for (int x = 0; x < n_parts; ++x) sum = jitc_add(sum, parts[x * part_stride + e]);
        *dst = sum;
    }
}

// Scatter: out[j - j0, col0 + c] += sum_i v(i, col0 + c) * L[line0 + rows[i], j],
// i < *n_rows, where v(i, c) = values[r * val_rs + c * val_cs] with r = rows[i]
// (values_by_row: the operand itself, row by row) or r = i (values listed
// with the rows).  The list and its length live on the device, so a product
// can find its active rows (jitc_find_events) and scatter them without
// synchronising with the host.  CTAs of grid row y take rows i = y * 256 +
// thread, stepping by the rows of CTAs in use, and walk their items in the tile,
// adding into the CTA's shared tile; the tile is flushed with one global
// atomic per nonzero entry.  Binary events skip the multiply; with a Scalar
// law they count connections in integers (mode COUNTS, into `counts`), which
// the host scales once by the weight.
// MODE (JITC_MODE_*) is a template argument: the emit of each connection
// then holds no branch on it, and a Scalar law's contribution of a line is
// computed once, at the line.
template <typename W, typename T, int NC, bool SMEM, typename Law, bool PLAIN, int MODE, typename Rule>
__global__ void JITC_SCATTER_BOUNDS jitc_scatter(JITC_GEN_PARAMS, const int *rows, const jitc_u32 *n_rows, int chunk_rows,
                             int line0, const T *values, int val_rs, jitc_i64 val_cs, int values_by_row, int col0,
                             int nc, int j0, int j1, int b0, int b1, int G, T *out, int out_ld, jitc_u32 *counts,
                             T scalar_w, int lines_per_thread)
{
    constexpr int mode = MODE;
    JITC_GEN_INIT;
    const int n = (int)*n_rows;
    int first_line, line_stride;
    if (!jitc_scatter_lines<SMEM>(n, lines_per_thread, first_line, line_stride)) return;
    extern __shared__ __align__(16) unsigned char jitc_smem[];
    constexpr bool WEIGHTED = !Law::CONSTANT;
    constexpr int ndtri_bytes = jitc_law_smem_bytes<W, Law>();
    jitc_law_stage<W, Law>(g, jitc_smem);
    const jitc_u32 ndtri_smem = jitc_pinned_shared_address(jitc_smem);  // read only when ndtri_bytes
    T *tile_acc = reinterpret_cast<T *>(jitc_smem + ndtri_bytes);
    jitc_u32 *tile_count = reinterpret_cast<jitc_u32 *>(jitc_smem + ndtri_bytes);
    const jitc_tile tile = jitc_tile_of(g, b0, b1, G, j0, j1);
    const int width = tile.hi - tile.lo;
    if (SMEM) {
        if (mode == JITC_MODE_COUNTS)
            for (int e = threadIdx.x; e < width; e += blockDim.x) tile_count[e] = 0u;
        else
            for (int e = threadIdx.x; e < width * nc; e += blockDim.x) tile_acc[e] = (T)0;
    }
    if (SMEM || ndtri_bytes) __syncthreads();
    const unsigned tile_addr = jitc_pinned_shared_address(jitc_smem + ndtri_bytes);
    // Bytes per tile position: 4 for counts, else ncols values.
    const unsigned row_bytes = mode == JITC_MODE_COUNTS ? 4u : (unsigned)((NC == 1 ? 1 : nc) * (int)sizeof(T));
    unsigned block_addr = tile_addr;  // shared address of the current block's position 0
    T v[NC];
    const int ncols = NC == 1 ? 1 : nc;
    // Every row of the chunk active (a dense operand; chunk_rows is -1 for a
    // given list of lines): any order of them will do, so line li is row li,
    // without reading the list (and operand rows are then read by
    // neighbouring lanes together).
    const bool all_rows = n == chunk_rows;
    const T *values_col = values + (jitc_i64)col0 * val_cs;
    // One draw per iteration: with two, the scatter needs the registers that
    // its six CTAs per SM take, and gains nothing.
    Rule::template walk_items<W, Law, PLAIN, 1>(
        g, ndtri_smem, first_line, n, line_stride, tile.first, tile.last, j0, j1, tile.lo,
        [&](int li) {
            const int row = all_rows ? li : rows[li];
            const T *value_row = values_col + (jitc_i64)(values_by_row ? row : li) * val_rs;
#pragma unroll
            for (int c = 0; c < NC; ++c) {
                v[c] = (mode == JITC_MODE_VALUES && c < ncols) ? value_row[(jitc_i64)c * val_cs] : (T)1;
                if (!WEIGHTED) v[c] = mode == JITC_MODE_EVENTS ? scalar_w : scalar_w * v[c];  // the line's contribution
            }
            return line0 + row;
        },
        [&](int base) { block_addr = tile_addr + (unsigned)base * row_bytes; },
        [&](int, int base, int p, W weight) {
            const int at = base + p;
            if (mode == JITC_MODE_COUNTS) {
                if (SMEM)
                    jitc_red_shared(block_addr + (unsigned)p * 4u, 1u);
                else
                    atomicAdd(counts + (at + tile.lo - j0), 1u);
                return;
            }
            const auto contribution = [&](int c) {
                if (!WEIGHTED) return v[c];
                return mode == JITC_MODE_EVENTS ? jitc_convert(weight, T()) : jitc_convert(weight, T()) * v[c];
            };
            if (SMEM) {
                const unsigned dst = block_addr + (unsigned)p * row_bytes;
#pragma unroll
                for (int c = 0; c < NC; ++c)
                    if (c < ncols) jitc_red_shared(dst + c * (unsigned)sizeof(T), contribution(c));
            } else {
                T *dst = out + (jitc_i64)(at + tile.lo - j0) * out_ld + col0;
#pragma unroll
                for (int c = 0; c < NC; ++c)
                    if (c < ncols) atomicAdd(dst + c, contribution(c));
            }
        },
        [&](int) {});
    if (!SMEM) return;
    __syncthreads();
    if (mode == JITC_MODE_COUNTS) {
        for (int e = threadIdx.x; e < width; e += blockDim.x) {
            const jitc_u32 count = tile_count[e];
            if (count) atomicAdd(counts + (tile.lo - j0 + e), count);
        }
    } else {
        for (int e = threadIdx.x; e < width * nc; e += blockDim.x) {
            const T value = tile_acc[e];
            if (value != (T)0) atomicAdd(out + (jitc_i64)(tile.lo - j0 + e / nc) * out_ld + col0 + e % nc, value);
        }
    }
}

