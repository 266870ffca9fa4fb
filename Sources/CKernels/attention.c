// Attention of one query row over its KV cache (see attention.h): a decoding step's attention is
// tiny products (one row against ~100 keys of 64 dimensions) run thousands of times a step, too
// small for gemm_f32's packing and dispatch, and one row has too few independent chains for
// the fma latency. Here 8 chains of scores and up to 4 of values run side by side, in the
// orders gemm_f32 uses. One generic body on clang's 16-float vectors, compiled per code path.
#include "attention.h"
#include "activations.h"
#include "isa.h"
#include "vector16.h"

#include <string.h>
#include <xmmintrin.h>

/// scores[t0 .. t0 + 16 V) = chains over d of q[d] * keys_t[d, t].
INLINE void score_block(float *scores, const float *q, const float *keys_t, ptrdiff_t ldk, ptrdiff_t t0,
                        ptrdiff_t head_dim, const int V) {
    v16 acc[8];
#pragma unroll
    for (int v = 0; v < V; v++) acc[v] = (v16)0;
    for (ptrdiff_t d = 0; d < head_dim; d++) {
        const v16 qd = (v16)q[d];
        const float *row = keys_t + d * ldk + t0;
#pragma unroll
        for (int v = 0; v < V; v++) acc[v] = FMA(qd, load16(row + 16 * v), acc[v]);
    }
#pragma unroll
    for (int v = 0; v < V; v++) store16(scores + t0 + 16 * v, acc[v]);
}

/// out[j0 .. j0 + 16 V) = chains over t of p[t] * values[t, j].
INLINE void value_block(float *out, const float *p, const float *values, ptrdiff_t head_dim, ptrdiff_t count,
                        ptrdiff_t j0, const int V) {
    v16 acc[4];
#pragma unroll
    for (int v = 0; v < V; v++) acc[v] = (v16)0;
    for (ptrdiff_t t = 0; t < count; t++) {
        const v16 weight = (v16)p[t];
        const float *row = values + t * head_dim + j0;
#pragma unroll
        for (int v = 0; v < V; v++) acc[v] = FMA(weight, load16(row + 16 * v), acc[v]);
    }
#pragma unroll
    for (int v = 0; v < V; v++) store16(out + j0 + 16 * v, acc[v]);
}

INLINE void scores_body(float *scores, const float *q, const float *keys_t, ptrdiff_t ldk, ptrdiff_t count,
                        ptrdiff_t head_dim) {
    ptrdiff_t t = 0;
    for (; t + 128 <= count; t += 128) score_block(scores, q, keys_t, ldk, t, head_dim, 8);
    if (t + 64 <= count) { score_block(scores, q, keys_t, ldk, t, head_dim, 4); t += 64; }
    if (t + 32 <= count) { score_block(scores, q, keys_t, ldk, t, head_dim, 2); t += 32; }
    if (t < count) score_block(scores, q, keys_t, ldk, t, head_dim, count - t > 16 ? 2 : 1);
}

INLINE void values_body(float *out, const float *p, const float *values, ptrdiff_t count, ptrdiff_t head_dim) {
    ptrdiff_t j = 0;
    for (; j + 64 <= head_dim; j += 64) value_block(out, p, values, head_dim, count, j, 4);
    if (j + 32 <= head_dim) { value_block(out, p, values, head_dim, count, j, 2); j += 32; }
    if (j + 16 <= head_dim) { value_block(out, p, values, head_dim, count, j, 1); j += 16; }
    for (; j < head_dim; j++) {  // a head dimension that is not a multiple of 16
        float acc = 0;
        for (ptrdiff_t t = 0; t < count; t++) acc = __builtin_fmaf(p[t], values[t * head_dim + j], acc);
        out[j] = acc;
    }
}

#define DEFINE_PATHS(SUFFIX, ATTRIBUTES)                                                                      \
    ATTRIBUTES static void scores_##SUFFIX(float *scores, const float *q, const float *keys_t, ptrdiff_t ldk, \
                                           ptrdiff_t count, ptrdiff_t head_dim) {                             \
        scores_body(scores, q, keys_t, ldk, count, head_dim);                                                 \
    }                                                                                                         \
    ATTRIBUTES static void values_##SUFFIX(float *out, const float *p, const float *values, ptrdiff_t count,  \
                                           ptrdiff_t head_dim) {                                              \
        values_body(out, p, values, count, head_dim);                                                         \
    }

DEFINE_PATHS(avx512, __attribute__((target("avx512f,fma"))))
DEFINE_PATHS(avx2, __attribute__((target("avx2,fma"))))
DEFINE_PATHS(generic, )

enum path { PATH_GENERIC, PATH_AVX2, PATH_AVX512 };

void attention_row(float *out, const float *q, const float *keys_t, ptrdiff_t ldk, const float *values,
                   ptrdiff_t count, ptrdiff_t head_dim, float scale, float *scores) {
    const enum path path = (enum path)kernel_isa_level();
    const unsigned int saved_csr = _mm_getcsr(), flushing = saved_csr | 0x8040;  // DAZ | FTZ, as gemm_f32
    _mm_setcsr(flushing);
    if (path == PATH_AVX512) scores_avx512(scores, q, keys_t, ldk, count, head_dim);
    else if (path == PATH_AVX2) scores_avx2(scores, q, keys_t, ldk, count, head_dim);
    else scores_generic(scores, q, keys_t, ldk, count, head_dim);
    _mm_setcsr(saved_csr);  // the softmax runs as training runs it, between its products
    softmax_row(scores, count - 1, count, scale);
    _mm_setcsr(flushing);
    if (path == PATH_AVX512) values_avx512(out, scores, values, count, head_dim);
    else if (path == PATH_AVX2) values_avx2(out, scores, values, count, head_dim);
    else values_generic(out, scores, values, count, head_dim);
    _mm_setcsr(saved_csr);
}
