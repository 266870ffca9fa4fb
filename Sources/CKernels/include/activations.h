#ifndef ACTIVATIONS_H
#define ACTIVATIONS_H

#include <stddef.h>

/// Training's element-wise functions, 16 lanes at a time with an exp of our own (a degree-6
/// polynomial after range reduction, every step an IEEE multiply, add, fma or division), so the
/// bits are the same on every x86-64 CPU and instruction set, unlike libm's expf, which glibc
/// picks per CPU. Relative error of exp within 2e-7 on [-87, 88] (inputs are clamped there).

/// h = silu(gate) * up, silu(g) = g / (1 + exp(-g)).
void swiglu_forward(float *h, const float *gate, const float *up, ptrdiff_t count);

/// dup = dh * silu(gate); dgate = dh * up * s * (1 + g * (1 - s)), s = 1 / (1 + exp(-g)).
void swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up, ptrdiff_t count);

/// One causal softmax row: x[0...last] = softmax(scale * x[0...last]), x[last+1 ..< width] = 0.
/// The maximum and the sum are taken over 16 lanes (index mod 16), then a fixed tree.
void softmax_row(float *x, ptrdiff_t last, ptrdiff_t width, float scale);

/// The backward of `softmax_row` for rows first ..< first + rows (row t's last key is t), rows
/// `ld` floats apart: ds (holding dL/dp) becomes dL/dx = p * (ds - sum_s p[s] ds[s]) * scale on
/// keys 0...t, 0 on keys t+1 ..< width. Each sum is one chain in ascending s, product then add.
void softmax_backward_rows(float *ds, const float *p, ptrdiff_t ld, ptrdiff_t first, ptrdiff_t rows, ptrdiff_t width,
                           float scale);

/// The cross-entropy of one row of logits, log(sum_j exp(x_j)) - x[target] (the log-sum in
/// Double, from a float sum over 16 lanes); with `scale` > 0 the row is replaced by its
/// gradient (softmax(x) - onehot(target)) * scale.
double cross_entropy_row(float *x, ptrdiff_t width, ptrdiff_t target, float scale);

/// exp over `count` values (for tests against a reference).
void vector_exp(float *y, const float *x, ptrdiff_t count);

#endif
