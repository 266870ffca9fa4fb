#ifndef ROWS_H
#define ROWS_H

#include <stddef.h>

/// Per-row functions of training and inference (RMSNorm and RoPE), whose arithmetic is exactly
/// that of the plain loops they replace: every value one IEEE operation after another (no fma),
/// each row's sums one chain in ascending j. The kernels only run several rows' chains side by
/// side (a chain of c additions waits on the add latency c times) and the element-wise parts 16
/// lanes at a time, so the bits are the same on every code path and CPU.

/// For each of `rows` rows of `c` values (rows `c` apart): rstd = 1 / sqrt(sum_j x_j x_j / c +
/// eps) and y_j = x_j * rstd * w_j. `rstd` (one per row) may be NULL.
void rms_norm_rows(float *y, float *rstd, const float *x, const float *w, ptrdiff_t rows, ptrdiff_t c, float eps);

/// The backward of `rms_norm_rows` for `rows` rows: with dot = sum_j dy_j w_j x_j (one chain)
/// and scale = dot * rstd^3 / c, dx_j = dy_j w_j rstd - x_j scale (added to dx with
/// `accumulate`), and dw_j += dy_j x_j rstd, row after row.
void rms_norm_backward_rows(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                            ptrdiff_t rows, ptrdiff_t c, int accumulate);

/// Rotary position embedding of `heads` heads of one row (rotate-half pairs (j, j + D/2)):
/// a_j' = a_j cos_j - b_j sin_j and b_j' = b_j cos_j + a_j sin_j, with sin negated when
/// `inverse` (the backward pass). cosines and sines hold head_dim / 2 values.
void rope_row(float *x, ptrdiff_t heads, ptrdiff_t head_dim, const float *cosines, const float *sines, int inverse);

#endif
