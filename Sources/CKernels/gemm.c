// Training's matrix products (see gemm.h): a register-tiled product in the manner of GotoBLAS /
// BLIS (A packed into micro-panels, B packed when stored transposed, read in place otherwise),
// whose every element is one fma chain in ascending k. Blocking over k (KC)
// stores the partial chain in C and resumes it from there, which is the same chain, so no block
// size, tile shape or thread split changes a bit. One generic body on clang's 16-float vector
// type is compiled for AVX-512 (12 x 32 tile: 24 accumulators), AVX2 + FMA (6 x 16: 12 ymm
// pairs) and baseline x86-64 (libm fmaf per lane): per element the same IEEE operations.
#include "gemm.h"
#include "isa.h"
#include "vector16.h"

#include <pthread.h>
#include <xmmintrin.h>
#include <stdlib.h>
#include <string.h>

// KC x NR floats of B (32 KB at NR = 32) stay in L1 while a row block of A streams past them;
// MC x KC floats of A (144 KB) stay in L2; NC x KC of B (1 MB) in L2 or L3.
enum { KC = 256, MC = 144, NC = 1024, MAX_MR = 12, MAX_NR = 32 };

/// Rows [r0, r0 + rows) of op(A), k in [k0, k0 + kc), as MR-row micro-panels, each k-major
/// (MR values per k); rows past `rows` are zeros.
INLINE void pack_a(float *packed, const float *a, ptrdiff_t lda, int trans_a, ptrdiff_t r0, ptrdiff_t rows,
                   ptrdiff_t k0, ptrdiff_t kc, const int MR) {
    for (ptrdiff_t p = 0; p < rows; p += MR, packed += MR * kc) {
        const ptrdiff_t height = rows - p < MR ? rows - p : MR;
        if (trans_a) {
            for (ptrdiff_t kk = 0; kk < kc; kk++) {
                const float *source = a + (k0 + kk) * lda + r0 + p;
                float *target = packed + kk * MR;
                for (int r = 0; r < height; r++) target[r] = source[r];
                for (int r = (int)height; r < MR; r++) target[r] = 0;
            }
        } else {
            for (int r = 0; r < MR; r++) {
                if (r < height) {
                    const float *source = a + (r0 + p + r) * lda + k0;
                    for (ptrdiff_t kk = 0; kk < kc; kk++) packed[kk * MR + r] = source[kk];
                } else {
                    for (ptrdiff_t kk = 0; kk < kc; kk++) packed[kk * MR + r] = 0;
                }
            }
        }
    }
}

/// Columns [c0, c0 + cols) of op(B), k in [k0, k0 + kc), as NR-column panels, each k-major.
INLINE void pack_b(float *packed, const float *b, ptrdiff_t ldb, int trans_b, ptrdiff_t c0, ptrdiff_t cols,
                   ptrdiff_t k0, ptrdiff_t kc, const int NR) {
    for (ptrdiff_t q = 0; q < cols; q += NR, packed += NR * kc) {
        const ptrdiff_t width = cols - q < NR ? cols - q : NR;
        if (trans_b) {
            for (int j = 0; j < NR; j++) {
                if (j < width) {
                    const float *source = b + (c0 + q + j) * ldb + k0;
                    for (ptrdiff_t kk = 0; kk < kc; kk++) packed[kk * NR + j] = source[kk];
                } else {
                    for (ptrdiff_t kk = 0; kk < kc; kk++) packed[kk * NR + j] = 0;
                }
            }
        } else {
            for (ptrdiff_t kk = 0; kk < kc; kk++) {
                const float *source = b + (k0 + kk) * ldb + c0 + q;
                float *target = packed + kk * NR;
                if (width == NR) {  // whole vectors: a memcpy call per row of 32 floats cost 4% of a training step
                    for (int v = 0; v < NR / 16; v++) store16(target + 16 * v, load16(source + 16 * v));
                    continue;
                }
                memcpy(target, source, (size_t)width * sizeof(float));
                for (ptrdiff_t j = width; j < NR; j++) target[j] = 0;
            }
        }
    }
}

/// One MR x (16 NV) tile of C: continues each element's chain from C (`resume`) or from 0 over
/// kc values of k. The accumulators live in registers for the whole k loop. B's rows are `ldbp`
/// floats apart: NR in a packed panel, or B's own stride when B is read in place.
INLINE void micro_tile(const float *ap, ptrdiff_t rs_a, ptrdiff_t cs_a, const float *bp, ptrdiff_t ldbp, ptrdiff_t kc,
                       float *c, ptrdiff_t ldc, int resume, const float *next, const int MR, const int NV) {
    // Fully unrolled at every optimization level (-O2 otherwise keeps acc in memory: 2.5x slower).
    v16 acc[MAX_MR][MAX_NR / 16];
#pragma unroll
    for (int r = 0; r < MR; r++)
#pragma unroll
        for (int v = 0; v < NV; v++) acc[r][v] = resume ? load16(c + r * ldc + 16 * v) : (v16)0;
    // The k loop in two forms, so that every address is a register plus a constant or plus k:
    // A's MR values of one k adjacent (packed, or A stored transposed), or A's rows in place.
    if (rs_a == 1) {
        for (ptrdiff_t kk = 0; kk < kc; kk++) {
            const float *a_k = ap + kk * cs_a;
            v16 bv[MAX_NR / 16];
#pragma unroll
            for (int v = 0; v < NV; v++) bv[v] = load16(bp + kk * ldbp + 16 * v);
#pragma unroll
            for (int v = 0; v < NV; v++) __builtin_prefetch(next + kk * ldbp + 16 * v, 0, 2);
#pragma unroll
            for (int r = 0; r < MR; r++) {
                const v16 av = (v16)a_k[r];
#pragma unroll
                for (int v = 0; v < NV; v++) acc[r][v] = __builtin_elementwise_fma(av, bv[v], acc[r][v]);
            }
        }
    } else {
        const float *rows[MAX_MR];
#pragma unroll
        for (int r = 0; r < MR; r++) rows[r] = ap + r * rs_a;
        for (ptrdiff_t kk = 0; kk < kc; kk++) {
            v16 bv[MAX_NR / 16];
#pragma unroll
            for (int v = 0; v < NV; v++) bv[v] = load16(bp + kk * ldbp + 16 * v);
#pragma unroll
            for (int v = 0; v < NV; v++) __builtin_prefetch(next + kk * ldbp + 16 * v, 0, 2);
#pragma unroll
            for (int r = 0; r < MR; r++) {
                const v16 av = (v16)rows[r][kk * cs_a];
#pragma unroll
                for (int v = 0; v < NV; v++) acc[r][v] = __builtin_elementwise_fma(av, bv[v], acc[r][v]);
            }
        }
    }
#pragma unroll
    for (int r = 0; r < MR; r++)
#pragma unroll
        for (int v = 0; v < NV; v++) store16(c + r * ldc + 16 * v, acc[r][v]);
}

/// One or two rows of C across WIDE whole column panels at once, for products of one or two rows
/// (decoding one or two sequences): a normal tile of one row has only NV accumulators, so its k
/// loop waits on the fma latency, and reads one stream of B, which one hardware prefetcher does
/// not bring from L3 or memory as fast as the loop consumes it (every weight is read once per
/// decoding step). Here P (4, or 2 when two panels are left) times NV chains run side by side
/// over P streams (panels `ps` floats apart), each prefetched PREFETCH_K steps of k ahead. Same
/// chains.
enum { WIDE = 4, PREFETCH_K = 32 };
INLINE void wide_tile(const float *ap, ptrdiff_t rs_a, ptrdiff_t cs_a, const float *bp, ptrdiff_t ps, ptrdiff_t ldbp,
                      ptrdiff_t kc, float *c, ptrdiff_t ldc, int resume, const int R, const int P, const int VP) {
    const int NV = P * VP;
    v16 acc[2][WIDE * MAX_NR / 16];
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int v = 0; v < NV; v++) acc[r][v] = resume ? load16(c + r * ldc + 16 * v) : (v16)0;
    for (ptrdiff_t kk = 0; kk < kc; kk++) {
        v16 bv[WIDE * MAX_NR / 16];
#pragma unroll
        for (int v = 0; v < NV; v++) bv[v] = load16(bp + (v / VP) * ps + kk * ldbp + 16 * (v % VP));
#pragma unroll
        for (int v = 0; v < NV; v++) __builtin_prefetch(bp + (v / VP) * ps + (kk + PREFETCH_K) * ldbp + 16 * (v % VP));
#pragma unroll
        for (int r = 0; r < R; r++) {
            const v16 av = (v16)ap[r * rs_a + kk * cs_a];
#pragma unroll
            for (int v = 0; v < NV; v++) acc[r][v] = __builtin_elementwise_fma(av, bv[v], acc[r][v]);
        }
    }
#pragma unroll
    for (int r = 0; r < R; r++)
#pragma unroll
        for (int v = 0; v < NV; v++) store16(c + r * ldc + 16 * v, acc[r][v]);
}

/// A tile at the edge of C (fewer than MR rows or NR columns) goes through a full-size copy.
INLINE void edge_tile(const float *ap, ptrdiff_t rs_a, ptrdiff_t cs_a, const float *bp, ptrdiff_t ldbp, ptrdiff_t kc,
                      float *c, ptrdiff_t ldc, int resume, ptrdiff_t rows, ptrdiff_t cols, const float *next, const int MR,
                      const int NV) {
    float scratch[MAX_MR * MAX_NR] = {0};
    const int NR = 16 * NV;
    for (ptrdiff_t r = 0; r < rows; r++)
        for (ptrdiff_t j = 0; j < cols; j++) scratch[r * NR + j] = resume ? c[r * ldc + j] : 0;
    micro_tile(ap, rs_a, cs_a, bp, ldbp, kc, scratch, NR, 1, next, MR, NV);
    for (ptrdiff_t r = 0; r < rows; r++)
        for (ptrdiff_t j = 0; j < cols; j++) c[r * ldc + j] = scratch[r * NR + j];
}

/// A tile of fewer than MR rows: the micro-tile of exactly that many rows, so a product of one
/// or a few rows (decoding) does a few rows' work, not MR rows' (scratch only for a partial
/// column panel). The rows' chains are the ones a full tile computes.
INLINE void short_tile(const float *ap, ptrdiff_t rs_a, ptrdiff_t cs_a, const float *bp, ptrdiff_t ldbp, ptrdiff_t kc,
                       float *c, ptrdiff_t ldc, int resume, ptrdiff_t rows, ptrdiff_t cols, const float *next, const int MR,
                       const int NV) {
#define SHORT_TILE_CASE(R)                                                                                        \
    case R:                                                                                                       \
        if (R < MR) {                                                                                             \
            if (cols == 16 * NV) micro_tile(ap, rs_a, cs_a, bp, ldbp, kc, c, ldc, resume, next, R, NV);           \
            else edge_tile(ap, rs_a, cs_a, bp, ldbp, kc, c, ldc, resume, R, cols, next, R, NV);                   \
        }                                                                                                         \
        break;
    switch (rows) {
        SHORT_TILE_CASE(1) SHORT_TILE_CASE(2) SHORT_TILE_CASE(3) SHORT_TILE_CASE(4) SHORT_TILE_CASE(5)
        SHORT_TILE_CASE(6) SHORT_TILE_CASE(7) SHORT_TILE_CASE(8) SHORT_TILE_CASE(9) SHORT_TILE_CASE(10)
        SHORT_TILE_CASE(11)
    }
#undef SHORT_TILE_CASE
}

/// Per-thread packing buffers, grown on demand and kept for the thread's life (freed when it
/// exits): a product of a few thousand multiply-adds (one attention head) must not pay for a
/// megabyte of malloc.
static __thread float *thread_buffer;
static __thread size_t thread_buffer_floats;
static pthread_key_t buffer_key;
static pthread_once_t buffer_key_once = PTHREAD_ONCE_INIT;

static void make_buffer_key(void) { pthread_key_create(&buffer_key, free); }

static float *packing_buffer(size_t floats) {
    if (floats > thread_buffer_floats) {
        pthread_once(&buffer_key_once, make_buffer_key);
        free(thread_buffer);
        thread_buffer = aligned_alloc(64, (floats * sizeof(float) + 63) / 64 * 64);
        if (!thread_buffer) abort();
        thread_buffer_floats = floats;
        pthread_setspecific(buffer_key, thread_buffer);  // its destructor frees it at thread exit
    }
    return thread_buffer;
}

/// `prepacked`: op(B) already packed whole by `gemm_pack_b` (then b, ldb and trans_b are unused).
INLINE void gemm_body(ptrdiff_t k, const float *a, ptrdiff_t lda, int trans_a, const float *b, ptrdiff_t ldb,
                      int trans_b, const float *prepacked, float *c, ptrdiff_t ldc, int accumulate,
                      ptrdiff_t row_begin, ptrdiff_t row_end, ptrdiff_t col_begin, ptrdiff_t col_end, const int MR,
                      const int NV) {
    const int NR = 16 * NV;
    // A is packed when a packed micro-panel serves many column panels; for a narrow C (up to
    // 8 panels) the packing costs more than it saves, and A is read in place with its strides.
    const int IN_PLACE_A = col_end - col_begin <= 8 * NR;
    // A's strides as the tiles read it: rows rs apart, k steps cs apart.
    const ptrdiff_t rs = !IN_PLACE_A || trans_a ? 1 : lda, cs = !IN_PLACE_A ? MR : trans_a ? lda : 1;
    // Blocks of k keep a B block in L1 for the row tiles after the first; with one row tile
    // (decoding a few sequences on packed weights) nothing is reused, and one pass over k streams
    // each packed panel start to end instead of in pieces.
    const ptrdiff_t kc_block = prepacked && row_end - row_begin <= MR ? k : KC;
    const ptrdiff_t kc_max = k < kc_block ? k : kc_block;
    const ptrdiff_t rows_max = row_end - row_begin < MC ? row_end - row_begin : MC;
    const ptrdiff_t cols_max = col_end - col_begin < NC ? col_end - col_begin : NC;
    // B is packed into NR-column panels (a panel's KC rows contiguous in L1) when stored
    // transposed, where a panel's NR values of one k lie far apart, and when many row tiles will
    // read it: in place, a panel's rows are ldb floats apart, and with ldb a multiple of 512
    // (d = 512) they fall into 2 of L1's 64 sets and evict each other (packing measured up to
    // 1.3x faster on the 25.6M model's shapes). B stored [k, n] for a few row tiles is read in
    // place (only a last, narrower panel is packed).
    const int PACK_B = !prepacked && (trans_b || row_end - row_begin > 4 * MR);
    const ptrdiff_t a_floats = (rows_max + MR) * kc_max, b_floats = PACK_B ? (cols_max + NR) * kc_max : NR * kc_max;
    float *packed_a = packing_buffer((size_t)(a_floats + b_floats));
    float *packed_b = packed_a + a_floats;
    if (k == 0 && !accumulate)  // no chain at all: the empty sum
        for (ptrdiff_t r = row_begin; r < row_end; r++) memset(c + r * ldc + col_begin, 0, sizeof(float) * (col_end - col_begin));
    for (ptrdiff_t k0 = 0; k0 < k; k0 += kc_block) {
        const ptrdiff_t kc = k - k0 < kc_block ? k - k0 : kc_block;
        const int resume = accumulate || k0 > 0;
        for (ptrdiff_t c0 = col_begin; c0 < col_end; c0 += NC) {
            const ptrdiff_t cols = col_end - c0 < NC ? col_end - c0 : NC;
            if (PACK_B) pack_b(packed_b, b, ldb, trans_b, c0, cols, k0, kc, NR);
            else if (!prepacked && cols % NR)  // in place but for a last, narrower panel
                pack_b(packed_b, b, ldb, trans_b, c0 + cols / NR * NR, cols % NR, k0, kc, NR);
            for (ptrdiff_t r0 = row_begin; r0 < row_end; r0 += MC) {
                const ptrdiff_t rows = row_end - r0 < MC ? row_end - r0 : MC;
                if (!IN_PLACE_A) pack_a(packed_a, a, lda, trans_a, r0, rows, k0, kc, MR);
                // Row r0 of A at k0, in place or in the packed block, and the step to row r0 + 1
                // (in the packed block, MR-row micro-panels kc values of k long).
                const float *a_block = !IN_PLACE_A ? packed_a : trans_a ? a + k0 * lda + r0 : a + r0 * lda + k0;
                const ptrdiff_t row_step = IN_PLACE_A ? rs : kc;
                for (ptrdiff_t q = 0; q < cols; q += NR) {
                    const int in_place = !prepacked && !PACK_B && cols - q >= NR;
                    const float *bp = prepacked  ? prepacked + (c0 + q) * k + k0 * NR
                                      : in_place ? b + k0 * ldb + c0 + q
                                      : PACK_B   ? packed_b + q * kc
                                                 : packed_b;
                    const ptrdiff_t ldbp = in_place ? ldb : NR;
                    if (rows <= 2 && cols - q >= 2 * NR) {  // whole panels: packed, or read in place
                        const float *ap = a_block;
                        const ptrdiff_t ps = prepacked ? NR * k : in_place ? NR : NR * kc;  // panel to panel
                        float *tile = c + r0 * ldc + c0 + q;
                        const int panels = cols - q >= WIDE * NR ? WIDE : 2;
                        if (panels == WIDE) {
                            if (rows == 1) wide_tile(ap, rs, cs, bp, ps, ldbp, kc, tile, ldc, resume, 1, WIDE, NV);
                            else wide_tile(ap, rs, cs, bp, ps, ldbp, kc, tile, ldc, resume, 2, WIDE, NV);
                        } else {
                            if (rows == 1) wide_tile(ap, rs, cs, bp, ps, ldbp, kc, tile, ldc, resume, 1, 2, NV);
                            else wide_tile(ap, rs, cs, bp, ps, ldbp, kc, tile, ldc, resume, 2, 2, NV);
                        }
                        q += (panels - 1) * NR;
                        continue;
                    }
                    // Packed weights come from memory (inference reads each once per step): the row
                    // tiles of a panel prefetch the next panel into L2 while they run, the last panel
                    // of a block of k the first of the next block (measured with 300 MB of weights,
                    // 2 threads: 32 rows 142 -> 195 GFLOP/s, 128 rows 221 -> 264); other products
                    // "prefetch" their own panel, in L1, nearly free.
                    const float *next_panel = !prepacked        ? bp
                                              : cols - q > NR     ? bp + NR * k
                                              : k0 + kc < k       ? prepacked + col_begin * k + (k0 + kc) * NR
                                                                  : bp;
                    for (ptrdiff_t p = 0; p < rows; p += MR) {
                        float *tile = c + (r0 + p) * ldc + c0 + q;
                        const int full_rows = rows - p >= MR;
                        const ptrdiff_t width = cols - q < NR ? cols - q : NR;
                        const float *ap = a_block + p * row_step, *next = next_panel;
                        if (!full_rows) short_tile(ap, rs, cs, bp, ldbp, kc, tile, ldc, resume, rows - p, width, next, MR, NV);
                        else if (width == NR) micro_tile(ap, rs, cs, bp, ldbp, kc, tile, ldc, resume, next, MR, NV);
                        else edge_tile(ap, rs, cs, bp, ldbp, kc, tile, ldc, resume, MR, width, next, MR, NV);
                    }
                }
            }
        }
    }
}

#define DEFINE_GEMM(NAME, ATTRIBUTES, MR, NV)                                                                  \
    ATTRIBUTES static void NAME(ptrdiff_t k, const float *a, ptrdiff_t lda, int trans_a, const float *b,      \
                                ptrdiff_t ldb, int trans_b, const float *prepacked, float *c, ptrdiff_t ldc,  \
                                int accumulate, ptrdiff_t r0, ptrdiff_t r1, ptrdiff_t c0, ptrdiff_t c1) {     \
        gemm_body(k, a, lda, trans_a, b, ldb, trans_b, prepacked, c, ldc, accumulate, r0, r1, c0, c1, MR, NV); \
    }

DEFINE_GEMM(gemm_avx512, __attribute__((target("avx512f,fma"))), 12, 2)
DEFINE_GEMM(gemm_avx2, __attribute__((target("avx2,fma"))), 6, 1)
DEFINE_GEMM(gemm_generic, , 4, 1)

ptrdiff_t gemm_tile_rows(void) {
    const enum path path = (enum path)kernel_isa_level();
    return path == PATH_AVX512 ? 12 : path == PATH_AVX2 ? 6 : 4;
}

ptrdiff_t gemm_tile_columns(void) { return (enum path)kernel_isa_level() == PATH_AVX512 ? 32 : 16; }

static void gemm_dispatch(ptrdiff_t k, const float *a, ptrdiff_t lda, int trans_a, const float *b, ptrdiff_t ldb,
                          int trans_b, const float *prepacked, float *c, ptrdiff_t ldc, int accumulate,
                          ptrdiff_t row_begin, ptrdiff_t row_end, ptrdiff_t col_begin, ptrdiff_t col_end) {
    if (row_begin >= row_end || col_begin >= col_end) return;
    // Denormals flushed to zero, inputs (DAZ) and results (FTZ), for this product only: one
    // denormal operand costs an x86 FMA a microcode assist, and a model that has learned its task
    // is full of them (softmax tails, their gradients): 75x slower in a measured product.
    const unsigned int saved_csr = _mm_getcsr();
    _mm_setcsr(saved_csr | 0x8040);
    switch ((enum path)kernel_isa_level()) {
    case PATH_AVX512:
        gemm_avx512(k, a, lda, trans_a, b, ldb, trans_b, prepacked, c, ldc, accumulate, row_begin, row_end, col_begin,
                    col_end);
        break;
    case PATH_AVX2:
        gemm_avx2(k, a, lda, trans_a, b, ldb, trans_b, prepacked, c, ldc, accumulate, row_begin, row_end, col_begin,
                  col_end);
        break;
    default:
        gemm_generic(k, a, lda, trans_a, b, ldb, trans_b, prepacked, c, ldc, accumulate, row_begin, row_end,
                     col_begin, col_end);
        break;
    }
    _mm_setcsr(saved_csr);
}

void gemm_f32(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k, const float *a, ptrdiff_t lda, int trans_a, const float *b,
              ptrdiff_t ldb, int trans_b, float *c, ptrdiff_t ldc, int accumulate, ptrdiff_t row_begin,
              ptrdiff_t row_end, ptrdiff_t col_begin, ptrdiff_t col_end) {
    (void)m;
    (void)n;
    gemm_dispatch(k, a, lda, trans_a, b, ldb, trans_b, NULL, c, ldc, accumulate, row_begin, row_end, col_begin,
                  col_end);
}

size_t gemm_packed_b_floats(ptrdiff_t n, ptrdiff_t k) {
    const ptrdiff_t nr = gemm_tile_columns();
    return (size_t)((n + nr - 1) / nr * nr * k);
}

void gemm_pack_b(float *packed, const float *b, ptrdiff_t ldb, int trans_b, ptrdiff_t n, ptrdiff_t k) {
    const int nr = (int)gemm_tile_columns();
    // Whole panels, k-major, one after another: the layout gemm_body's own packing gives one
    // KC block of, with kc = k.
    if (nr == 32) pack_b(packed, b, ldb, trans_b, 0, n, 0, k, 32);
    else pack_b(packed, b, ldb, trans_b, 0, n, 0, k, 16);
}

void gemm_f32_prepacked(ptrdiff_t k, const float *a, ptrdiff_t lda, int trans_a, const float *packed_b, float *c,
                        ptrdiff_t ldc, int accumulate, ptrdiff_t row_begin, ptrdiff_t row_end, ptrdiff_t col_begin,
                        ptrdiff_t col_end) {
    gemm_dispatch(k, a, lda, trans_a, NULL, 0, 0, packed_b, c, ldc, accumulate, row_begin, row_end, col_begin,
                  col_end);
}
