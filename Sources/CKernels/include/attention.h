#ifndef ATTENTION_H
#define ATTENTION_H

#include <stddef.h>

/// One query row's attention over `count + more_count` cached positions of one KV head: the
/// first `count` from one run of a cache, the rest from a second (a forked cache's prefix, then
/// its own positions; `more_count` may be 0). In the chains of training's attention (gemm.h), so
/// the same bits as its products, whatever the split:
///   scores[t] = fma chain over d ascending, from 0, of q[d] * key(t)[d];
///   scores = softmax_row(scores, total - 1, total, scale) (activations.h);
///   out[j] = fma chain over t ascending (the first run, then the second), from 0, of
///            scores[t] * values[t * head_dim + j].
/// A run's keys are stored in blocks of 16 positions, each block [head_dim][16]: key(t)[d] at
/// keys[(t / 16) * 16 * head_dim + d * 16 + t % 16], so the keys of the positions in use are
/// contiguous (transposed rows of a fixed capacity made the hardware prefetchers fetch every
/// row's unused tail too). A last block is read whole: its unused positions (zeros in the
/// cache) are computed and dropped. Likewise the values are read in whole
/// vectors: when head_dim is not a multiple of 16, up to 15 floats past a run's last row must be
/// readable. `scores` has room for the total rounded up to 16, plus 16.
/// Denormals count as zero in the two products (DAZ/FTZ for them only), as in gemm_f32.
void attention_row(float *out, const float *q, const float *keys, const float *values, ptrdiff_t count,
                   const float *more_keys, const float *more_values, ptrdiff_t more_count, ptrdiff_t head_dim,
                   float scale, float *scores);

#endif
