#ifndef FIXED_ORDER_H
#define FIXED_ORDER_H

#include <stddef.h>

/// y[r, c] = sum_k x[r, k] * w[c, k] (+ b[c]) for every row r < n and the columns c in
/// [c_begin, c_end) of y [n, o]; x is [n, i], w is [o, i] (nn.Linear's layout), b is [o] or NULL.
///
/// Every element is one dot product in one fixed order, whatever n, the column range, the
/// thread that computes it or the CPU: 16 lanes, lane l accumulating
/// acc[l] = fma(x[16 j + l], w[16 j + l], acc[l]) for j = 0, 1, ... (zeros past i), then the
/// lanes summed as (0..7 + 8..15), (0..3 + 4..7), (0,1 + 2,3), (0 + 1), then + b[c]. The
/// instruction set (AVX-512, AVX2 + FMA, or plain SSE2 with libm's correctly rounded fmaf)
/// changes only the speed: each lane's operations are IEEE multiply-adds rounded once.
void fixed_order_linear(float *y, const float *x, const float *w, const float *b,
                        ptrdiff_t n, ptrdiff_t i, ptrdiff_t o, ptrdiff_t c_begin, ptrdiff_t c_end);

/// The same with the rows of w `ldw` floats apart (w[c, k] at w[c * ldw + k]): attention
/// scores, q against the keys of one head inside a KV cache row.
void fixed_order_linear_strided(float *y, const float *x, const float *w, ptrdiff_t ldw, const float *b,
                                ptrdiff_t n, ptrdiff_t i, ptrdiff_t o, ptrdiff_t c_begin, ptrdiff_t c_end);

/// out[j] = sum over t < count of p[t] * v[t * ldv + j] for j < width, each element
/// accumulated with fma in ascending t from 0 (attention's weighted sum of values).
void fixed_order_weighted_sum(float *out, const float *p, const float *v, ptrdiff_t ldv, ptrdiff_t count,
                              ptrdiff_t width);

/// The code path `fixed_order_linear` runs: "avx512", "avx2" or "generic". The environment
/// variable RESTEM_KERNEL_ISA (same values) forces a path, for tests and benchmarks; a path the
/// CPU lacks falls back to the best one it has.
const char *fixed_order_isa(void);

/// The same choice as a number, for the other kernels of the module: 0 generic, 1 avx2, 2 avx512.
int kernel_isa_level(void);

#endif
