// Attention of one query row over its KV cache (see attention.h): a decoding step's attention is
// tiny products (one row against ~100 keys of 64 dimensions) run thousands of times a step, too
// small for gemm_f32's packing and dispatch, and one row has too few independent chains for
// the fma latency. Here up to 8 chains of scores and 4 of values run side by side, in the
// orders gemm_f32 uses. One generic body on clang's 16-float vectors, compiled per code path.
#include "attention.h"
#include "activations.h"
#include "isa.h"
#include "vector16.h"

#include <string.h>
#include <xmmintrin.h>

/// scores[t0 .. t0 + 16 V) = chains over d of q[d] * key[t][d], the keys in blocks of 16
/// positions (see attention.h): each vector's keys are one contiguous block, read in d order.
INLINE void score_block(float *scores, const float *q, const float *keys, ptrdiff_t t0, ptrdiff_t head_dim,
                        const int V) {
    v16 acc[8];
#pragma unroll
    for (int v = 0; v < V; v++) acc[v] = (v16)0;
    const float *block = keys + t0 * head_dim;  // positions t0 .. t0 + 16: 16 x head_dim floats
    for (ptrdiff_t d = 0; d < head_dim; d++) {
        const v16 qd = (v16)q[d];
#pragma unroll
        for (int v = 0; v < V; v++) acc[v] = FMA(qd, load16(block + (16 * v) * head_dim + 16 * d), acc[v]);
    }
#pragma unroll
    for (int v = 0; v < V; v++) store16(scores + t0 + 16 * v, acc[v]);
}

/// One run of cached positions: keys in blocks of 16 positions, values [positions, head_dim].
typedef struct {
    const float *keys;
    const float *values;
    ptrdiff_t count;
} segment;

/// out[j0 .. j0 + width) = chains over t of p[t] * values[t, j], t ascending through the first
/// segment's positions, then the second's: one chain, whatever the split. width <= 16 V (a last
/// vector of a head dimension that is not a multiple of 16 is computed whole and stored in part).
INLINE void value_block(float *out, const float *p, const segment *runs, ptrdiff_t head_dim, ptrdiff_t j0,
                        ptrdiff_t width, const int V) {
    v16 acc[4];
#pragma unroll
    for (int v = 0; v < V; v++) acc[v] = (v16)0;
    for (int s = 0; s < 2; s++) {
        const float *values = runs[s].values;
        for (ptrdiff_t t = 0; t < runs[s].count; t++) {
            const v16 weight = (v16)p[t];
            const float *row = values + t * head_dim + j0;
#pragma unroll
            for (int v = 0; v < V; v++) acc[v] = FMA(weight, load16(row + 16 * v), acc[v]);
        }
        p += runs[s].count;
    }
    float whole[16 * 4];
#pragma unroll
    for (int v = 0; v < V; v++) store16(whole + 16 * v, acc[v]);
    memcpy(out + j0, whole, (size_t)width * sizeof(float));
}

INLINE void scores_body(float *scores, const float *q, const float *keys, ptrdiff_t count, ptrdiff_t head_dim) {
    // As many chains as there are vectors of keys, up to 8 (128 keys) per pass over d: one pass
    // for the usual cache lengths, the fma latency hidden behind the other chains.
    for (ptrdiff_t t = 0; t < count; t += 128) {
        switch ((count - t + 15) / 16) {
        case 1: score_block(scores, q, keys, t, head_dim, 1); break;
        case 2: score_block(scores, q, keys, t, head_dim, 2); break;
        case 3: score_block(scores, q, keys, t, head_dim, 3); break;
        case 4: score_block(scores, q, keys, t, head_dim, 4); break;
        case 5: score_block(scores, q, keys, t, head_dim, 5); break;
        case 6: score_block(scores, q, keys, t, head_dim, 6); break;
        case 7: score_block(scores, q, keys, t, head_dim, 7); break;
        default: score_block(scores, q, keys, t, head_dim, 8); break;
        }
    }
}

INLINE void values_body(float *out, const float *p, const segment *runs, ptrdiff_t head_dim) {
    for (ptrdiff_t j = 0; j < head_dim; j += 64) {
        const ptrdiff_t width = head_dim - j < 64 ? head_dim - j : 64;
        switch ((width + 15) / 16) {
        case 1: value_block(out, p, runs, head_dim, j, width, 1); break;
        case 2: value_block(out, p, runs, head_dim, j, width, 2); break;
        case 3: value_block(out, p, runs, head_dim, j, width, 3); break;
        default: value_block(out, p, runs, head_dim, j, width, 4); break;
        }
    }
}

#define DEFINE_PATHS(SUFFIX, ATTRIBUTES)                                                                      \
    ATTRIBUTES static void scores_##SUFFIX(float *scores, const float *q, const float *keys, ptrdiff_t count,  \
                                           ptrdiff_t head_dim) {                                              \
        scores_body(scores, q, keys, count, head_dim);                                                        \
    }                                                                                                         \
    ATTRIBUTES static void values_##SUFFIX(float *out, const float *p, const segment *runs, ptrdiff_t head_dim) { \
        values_body(out, p, runs, head_dim);                                                                  \
    }

DEFINE_PATHS(avx512, __attribute__((target("avx512f,fma"))))
DEFINE_PATHS(avx2, __attribute__((target("avx2,fma"))))
DEFINE_PATHS(generic, )

void attention_row(float *out, const float *q, const float *keys, const float *values, ptrdiff_t count,
                   const float *more_keys, const float *more_values, ptrdiff_t more_count, ptrdiff_t head_dim,
                   float scale, float *scores) {
    const segment runs[2] = {{keys, values, count}, {more_keys, more_values, more_count}};
    const unsigned int saved_csr = _mm_getcsr(), flushing = saved_csr | 0x8040;  // DAZ | FTZ, as gemm_f32
    _mm_setcsr(flushing);
    // Each score is its own chain: the second run's are computed after the first's, in place (a
    // first run's vector past its end is overwritten by the second run's first scores).
    ptrdiff_t at = 0;
    for (int s = 0; s < 2; s++) {
        if (runs[s].count == 0) continue;
        DISPATCH(scores, scores + at, q, runs[s].keys, runs[s].count, head_dim);
        at += runs[s].count;
    }
    const ptrdiff_t total = count + more_count;
    _mm_setcsr(saved_csr);  // the softmax runs as training runs it, between its products
    softmax_row(scores, total - 1, (total + 15) / 16 * 16, scale);  // whole vectors: zeros past the total
    _mm_setcsr(flushing);
    DISPATCH(values, out, scores, runs, head_dim);
    _mm_setcsr(saved_csr);
}
