// Inference matrix products in a fixed reduction order (see fixed_order.h). One generic body,
// written on clang's 16-float vector type, is compiled three times: for AVX-512, for AVX2 + FMA
// and for baseline x86-64. The three do the same IEEE operations on the same 16 logical lanes,
// so they give the same bits; only register tiling (how many rows and columns share one pass
// over k) differs, and tiling never changes an element's order.
#include "fixed_order.h"

#include <cpuid.h>
#include <pthread.h>
#include <stdlib.h>
#include <string.h>

// Every multiply-add below is an explicit fma; the compiler must not fuse anything else.
#pragma clang fp contract(off)
// The helpers below take and return 16-lane vectors; they are always inlined, so no call ever
// passes one across the different register conventions of the three compiled bodies.
#pragma clang diagnostic ignored "-Wpsabi"

typedef float v16 __attribute__((ext_vector_type(16)));
typedef float v8 __attribute__((ext_vector_type(8)));
typedef float v4 __attribute__((ext_vector_type(4)));
typedef float v2 __attribute__((ext_vector_type(2)));

#define INLINE static inline __attribute__((always_inline))
enum { LANES = 16, MAX_ROWS = 4, MAX_COLS = 6 };

INLINE v16 load16(const float *p) {
    v16 v;
    memcpy(&v, p, sizeof v);
    return v;
}

/// The last, partial chunk of k: the missing lanes are zeros (fma(0, 0, acc) keeps acc).
INLINE v16 load_partial(const float *p, ptrdiff_t count) {
    // Element by element rather than memset + memcpy into a padded array: those became two
    // library calls per vector, for every tile of a product whose k is not a multiple of 16.
    v16 v = (v16)0;
    for (int l = 0; l < LANES; l++)
        if (l < count) v[l] = p[l];
    return v;
}

/// The fixed lane-reduction tree: halves added pairwise down to one value.
INLINE float reduce16(v16 acc) {
    v8 s8 = acc.lo + acc.hi;
    v4 s4 = s8.lo + s8.hi;
    v2 s2 = s4.lo + s4.hi;
    return s2.x + s2.y;
}

/// One tile: rows [r0, r0 + R) x columns [c0, c0 + C), each element with its own 16-lane
/// accumulator. R and C are constants at every call site, so the loops unroll and the
/// accumulators live in registers; the R x-vectors and C w-vectors of a chunk are loaded once
/// and used R x C times.
INLINE void tile(float *y, const float *x, const float *w, ptrdiff_t ldw, const float *b, ptrdiff_t i, ptrdiff_t o,
                 ptrdiff_t r0, ptrdiff_t c0, const int R, const int C) {
    const float *xr[MAX_ROWS], *wc[MAX_COLS];
    for (int r = 0; r < R; r++) xr[r] = x + (r0 + r) * i;
    for (int c = 0; c < C; c++) wc[c] = w + (c0 + c) * ldw;
    const ptrdiff_t whole = i / LANES * LANES;
    // The first chunk (the partial one when i < 16) starts every accumulator as fma(x, w, 0),
    // which is the loop body on zeroed accumulators, without a zeroing loop: the compiler turned
    // that into a memset of the whole tile in memory, for every tile (5% of a small model's time).
    v16 acc[MAX_ROWS][MAX_COLS];
    {
        v16 xv[MAX_ROWS], wv[MAX_COLS];
        for (int r = 0; r < R; r++) xv[r] = whole > 0 ? load16(xr[r]) : load_partial(xr[r], i);
        for (int c = 0; c < C; c++) wv[c] = whole > 0 ? load16(wc[c]) : load_partial(wc[c], i);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) acc[r][c] = __builtin_elementwise_fma(xv[r], wv[c], (v16)0);
    }
    for (ptrdiff_t k = LANES; k < whole; k += LANES) {
        v16 xv[MAX_ROWS], wv[MAX_COLS];
        for (int r = 0; r < R; r++) xv[r] = load16(xr[r] + k);
        for (int c = 0; c < C; c++) wv[c] = load16(wc[c] + k);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) acc[r][c] = __builtin_elementwise_fma(xv[r], wv[c], acc[r][c]);
    }
    if (whole > 0 && whole < i) {
        v16 xv[MAX_ROWS], wv[MAX_COLS];
        for (int r = 0; r < R; r++) xv[r] = load_partial(xr[r] + whole, i - whole);
        for (int c = 0; c < C; c++) wv[c] = load_partial(wc[c] + whole, i - whole);
        for (int r = 0; r < R; r++)
            for (int c = 0; c < C; c++) acc[r][c] = __builtin_elementwise_fma(xv[r], wv[c], acc[r][c]);
    }
    for (int r = 0; r < R; r++)
        for (int c = 0; c < C; c++) {
            float sum = reduce16(acc[r][c]);
            if (b) sum += b[c0 + c];
            y[(r0 + r) * o + c0 + c] = sum;
        }
}

/// Loop order for cache reuse: a block of up to 64 rows of x (64 x i floats, L2-sized) is swept
/// by C-column panels of w (C x i floats, L1-sized for the widths we run), each panel by every
/// row tile of the block. Blocking never changes an element's reduction order.
enum { ROW_BLOCK = 64 };
/// The tiles of one panel of `cols` <= C columns (the last panel of a range may be narrower).
#define PANEL_TILES(R, C)                                                                          \
    switch (cols) {                                                                                \
    case 1: tile(y, x, w, ldw, b, i, o, r0, c0, R, 1); break;                                      \
    case 2: tile(y, x, w, ldw, b, i, o, r0, c0, R, 2 <= C ? 2 : 1); break;                         \
    case 3: tile(y, x, w, ldw, b, i, o, r0, c0, R, 3 <= C ? 3 : 1); break;                         \
    case 4: tile(y, x, w, ldw, b, i, o, r0, c0, R, 4 <= C ? 4 : 1); break;                         \
    case 5: tile(y, x, w, ldw, b, i, o, r0, c0, R, 5 <= C ? 5 : 1); break;                         \
    default: tile(y, x, w, ldw, b, i, o, r0, c0, R, C); break;                                     \
    }
#define DEFINE_LINEAR(NAME, ATTRIBUTES, R, C)                                                         \
    ATTRIBUTES static void NAME(float *y, const float *x, const float *w, ptrdiff_t ldw, const float *b,  \
                                ptrdiff_t n, ptrdiff_t i, ptrdiff_t o, ptrdiff_t c_begin, ptrdiff_t c_end) { \
        for (ptrdiff_t block = 0; block < n; block += ROW_BLOCK) {                                     \
            const ptrdiff_t block_end = n - block < ROW_BLOCK ? n : block + ROW_BLOCK;                 \
            for (ptrdiff_t c0 = c_begin; c0 < c_end; c0 += C) {                                       \
                const ptrdiff_t cols = c_end - c0 < C ? c_end - c0 : C;                                 \
                ptrdiff_t r0 = block;                                                                  \
                for (; r0 + R <= block_end; r0 += R) PANEL_TILES(R, C)                                  \
                for (; r0 < block_end; r0++) PANEL_TILES(1, C)                                          \
            }                                                                                          \
        }                                                                                              \
    }

// 32 zmm registers: 4 x 6 accumulators + 4 x-vectors + the w-vector in use (4 x 6 measured 1.4x
// faster than 4 x 4 at 32-128 rows: fewer loads per fma). 16 ymm (a 16-lane vector is two): 2 x 2.
// Baseline x86-64 has no FMA instruction: each lane is a call to libm's fmaf (correctly
// rounded, so the same result), slow but only on CPUs older than 2013.
DEFINE_LINEAR(linear_avx512, __attribute__((target("avx512f,fma"))), 4, 6)
DEFINE_LINEAR(linear_avx2, __attribute__((target("avx2,fma"))), 2, 2)
DEFINE_LINEAR(linear_generic, , 2, 2)

enum isa { ISA_GENERIC, ISA_AVX2, ISA_AVX512 };
static const char *const isa_names[] = {"generic", "avx2", "avx512"};
static enum isa chosen_isa = ISA_GENERIC;
static pthread_once_t choose_once = PTHREAD_ONCE_INIT;

/// What the CPU and the OS support (the OS must save the wider registers: XCR0).
static enum isa best_isa(void) {
    unsigned a, b, c, d;
    if (!__get_cpuid(1, &a, &b, &c, &d)) return ISA_GENERIC;
    const int fma = (c >> 12) & 1, osxsave = (c >> 27) & 1;
    if (!fma || !osxsave) return ISA_GENERIC;
    unsigned xcr0_low, xcr0_high;
    __asm__("xgetbv" : "=a"(xcr0_low), "=d"(xcr0_high) : "c"(0));
    if ((xcr0_low & 0x6) != 0x6 || !__get_cpuid_count(7, 0, &a, &b, &c, &d)) return ISA_GENERIC;
    const int avx2 = (b >> 5) & 1, avx512f = (b >> 16) & 1;
    if (avx512f && (xcr0_low & 0xE0) == 0xE0) return ISA_AVX512;
    return avx2 ? ISA_AVX2 : ISA_GENERIC;
}

static void choose_isa(void) {
    enum isa best = best_isa();
    chosen_isa = best;
    const char *forced = getenv("RESTEM_KERNEL_ISA");
    if (!forced) return;
    for (int candidate = ISA_GENERIC; candidate <= best; candidate++)
        if (strcmp(forced, isa_names[candidate]) == 0) chosen_isa = (enum isa)candidate;
}

int kernel_isa_level(void) {
    pthread_once(&choose_once, choose_isa);
    return (int)chosen_isa;
}

const char *fixed_order_isa(void) {
    pthread_once(&choose_once, choose_isa);
    return isa_names[chosen_isa];
}

void fixed_order_linear(float *y, const float *x, const float *w, const float *b,
                        ptrdiff_t n, ptrdiff_t i, ptrdiff_t o, ptrdiff_t c_begin, ptrdiff_t c_end) {
    fixed_order_linear_strided(y, x, w, i, b, n, i, o, c_begin, c_end);
}

void fixed_order_linear_strided(float *y, const float *x, const float *w, ptrdiff_t ldw, const float *b,
                                ptrdiff_t n, ptrdiff_t i, ptrdiff_t o, ptrdiff_t c_begin, ptrdiff_t c_end) {
    pthread_once(&choose_once, choose_isa);
    switch (chosen_isa) {
    case ISA_AVX512: linear_avx512(y, x, w, ldw, b, n, i, o, c_begin, c_end); break;
    case ISA_AVX2: linear_avx2(y, x, w, ldw, b, n, i, o, c_begin, c_end); break;
    default: linear_generic(y, x, w, ldw, b, n, i, o, c_begin, c_end); break;
    }
}

/// out[j] = sum over t of p[t] * v[t * ldv + j], t ascending: one fma per element per t, so
/// vectorizing over j changes nothing. Up to 4 chunks of 16 columns share one pass over t (four
/// independent fma chains instead of one waiting on its own latency), then the rest one by one.
INLINE void weighted_chunks(float *out, const float *p, const float *v, ptrdiff_t ldv, ptrdiff_t count, const int chunks) {
    v16 acc[4];
    for (int c = 0; c < chunks; c++) acc[c] = (v16)0;
    for (ptrdiff_t t = 0; t < count; t++) {
        const v16 weight = (v16)p[t];
        for (int c = 0; c < chunks; c++) acc[c] = __builtin_elementwise_fma(weight, load16(v + t * ldv + c * LANES), acc[c]);
    }
    memcpy(out, acc, (size_t)chunks * sizeof acc[0]);
}

INLINE void weighted_sum(float *out, const float *p, const float *v, ptrdiff_t ldv, ptrdiff_t count, ptrdiff_t width) {
    ptrdiff_t j = 0;
    for (; j + 4 * LANES <= width; j += 4 * LANES) weighted_chunks(out + j, p, v + j, ldv, count, 4);
    switch ((width - j) / LANES) {
    case 3: weighted_chunks(out + j, p, v + j, ldv, count, 3); break;
    case 2: weighted_chunks(out + j, p, v + j, ldv, count, 2); break;
    case 1: weighted_chunks(out + j, p, v + j, ldv, count, 1); break;
    }
    j += (width - j) / LANES * LANES;
    for (; j < width; j++) {
        float acc = 0;
        for (ptrdiff_t t = 0; t < count; t++) acc = __builtin_fmaf(p[t], v[t * ldv + j], acc);
        out[j] = acc;
    }
}

#define DEFINE_WEIGHTED_SUM(NAME, ATTRIBUTES)                                                              \
    ATTRIBUTES static void NAME(float *out, const float *p, const float *v, ptrdiff_t ldv, ptrdiff_t count, \
                                ptrdiff_t width) {                                                         \
        weighted_sum(out, p, v, ldv, count, width);                                                        \
    }

DEFINE_WEIGHTED_SUM(weighted_sum_avx512, __attribute__((target("avx512f,fma"))))
DEFINE_WEIGHTED_SUM(weighted_sum_avx2, __attribute__((target("avx2,fma"))))
DEFINE_WEIGHTED_SUM(weighted_sum_generic, )

void fixed_order_weighted_sum(float *out, const float *p, const float *v, ptrdiff_t ldv, ptrdiff_t count,
                              ptrdiff_t width) {
    pthread_once(&choose_once, choose_isa);
    switch (chosen_isa) {
    case ISA_AVX512: weighted_sum_avx512(out, p, v, ldv, count, width); break;
    case ISA_AVX2: weighted_sum_avx2(out, p, v, ldv, count, width); break;
    default: weighted_sum_generic(out, p, v, ldv, count, width); break;
    }
}
