#ifndef ATTENTION_H
#define ATTENTION_H

#include <stddef.h>

/// One query row's attention over the first `count` positions of one KV head of a cache, in the
/// chains of training's attention (gemm.h), so the same bits as its products:
///   scores[t] = fma chain over d ascending, from 0, of q[d] * keys_t[d * ldk + t];
///   scores = softmax_row(scores, count - 1, count, scale) (activations.h);
///   out[j] = fma chain over t ascending, from 0, of scores[t] * values[t * head_dim + j].
/// keys_t is the head's keys transposed, [head_dim, ldk]; every row must be readable up to the
/// next multiple of 16 past `count` (the cache's capacity is a multiple of 16, unused positions
/// zero): those lanes are computed and dropped. Likewise the values are read in whole vectors:
/// when head_dim is not a multiple of 16, up to 15 floats past the last row must be readable.
/// `scores` has room for count rounded up to 16.
/// Denormals count as zero in the two products (DAZ/FTZ for them only), as in gemm_f32.
void attention_row(float *out, const float *q, const float *keys_t, ptrdiff_t ldk, const float *values,
                   ptrdiff_t count, ptrdiff_t head_dim, float scale, float *scores);

#endif
