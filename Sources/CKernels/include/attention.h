#ifndef ATTENTION_H
#define ATTENTION_H

#include <stddef.h>

/// One query row's attention over `count + more_count` cached positions of one KV head: the
/// first `count` from one run of a cache, the rest from a second (a forked cache's prefix, then
/// its own positions; `more_count` may be 0). In the chains of training's attention (gemm.h), so
/// the same bits as its products, whatever the split:
///   scores[t] = fma chain over d ascending, from 0, of q[d] * keys_t[d * ldk + t];
///   scores = softmax_row(scores, total - 1, total, scale) (activations.h);
///   out[j] = fma chain over t ascending (the first run, then the second), from 0, of
///            scores[t] * values[t * head_dim + j].
/// keys_t is a run's keys transposed, [head_dim, ldk]; every row must be readable up to the
/// next multiple of 16 past its count (the cache's capacity is a multiple of 16, unused
/// positions zero): those lanes are computed and dropped. Likewise the values are read in whole
/// vectors: when head_dim is not a multiple of 16, up to 15 floats past a run's last row must be
/// readable. `scores` has room for the total rounded up to 16, plus 16.
/// Denormals count as zero in the two products (DAZ/FTZ for them only), as in gemm_f32.
void attention_row(float *out, const float *q, const float *keys_t, ptrdiff_t ldk, const float *values,
                   ptrdiff_t count, const float *more_keys_t, ptrdiff_t more_ldk, const float *more_values,
                   ptrdiff_t more_count, ptrdiff_t head_dim, float scale, float *scores);

#endif
