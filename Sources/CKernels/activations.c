// Training's element-wise functions (see activations.h), one generic body on clang's 16-float
// vector type compiled for AVX-512, AVX2 + FMA and baseline x86-64 like the matrix kernels.
#include "activations.h"
#include "isa.h"
#include "vector16.h"

#include <math.h>
#include <string.h>

typedef int i16v __attribute__((ext_vector_type(16)));
typedef float v8 __attribute__((ext_vector_type(8)));
typedef float v4 __attribute__((ext_vector_type(4)));
typedef float v2 __attribute__((ext_vector_type(2)));

/// The first `count` (< 16) values, the rest `fill`.
INLINE v16 load_partial(const float *p, ptrdiff_t count, float fill) {
    float padded[16];
    for (int l = 0; l < 16; l++) padded[l] = fill;
    memcpy(padded, p, (size_t)count * sizeof(float));
    return load16(padded);
}

INLINE void store_partial(float *p, v16 v, ptrdiff_t count) {
    float padded[16];
    memcpy(padded, &v, sizeof v);
    memcpy(p, padded, (size_t)count * sizeof(float));
}

/// exp(x) = 2^n * e^r with n = round(x / ln 2) and |r| <= ln(2)/2, e^r by its Taylor polynomial
/// to degree 6 (truncation error below 1.2e-7 relative). Inputs are clamped to [-87, 88], where
/// the result is a normal float.
INLINE v16 exp16(v16 x) {
    x = __builtin_elementwise_min(__builtin_elementwise_max(x, (v16)-87.0f), (v16)88.0f);
    const v16 shifter = (v16)12582912.0f;  // 1.5 * 2^23: adding it rounds to an integer
    const v16 n = FMA(x, (v16)1.44269504088896341f, shifter) - shifter;
    v16 r = FMA(n, (v16)-0.693145751953125f, x);      // ln 2, high part (exact product)
    r = FMA(n, (v16)-1.42860682030941723e-6f, r);     // ln 2, low part
    v16 p = (v16)(1.0f / 720);
    p = FMA(p, r, (v16)(1.0f / 120));
    p = FMA(p, r, (v16)(1.0f / 24));
    p = FMA(p, r, (v16)(1.0f / 6));
    p = FMA(p, r, (v16)0.5f);
    p = FMA(p, r, (v16)1.0f);
    p = FMA(p, r, (v16)1.0f);
    const i16v bits = (__builtin_convertvector(n, i16v) + 127) << 23;
    v16 scale;
    memcpy(&scale, &bits, sizeof scale);
    return p * scale;
}

INLINE float reduce_add(v16 v) {
    v8 s8 = v.lo + v.hi;
    v4 s4 = s8.lo + s8.hi;
    v2 s2 = s4.lo + s4.hi;
    return s2.x + s2.y;
}

INLINE float reduce_max(v16 v) {
    v8 s8 = __builtin_elementwise_max(v.lo, v.hi);
    v4 s4 = __builtin_elementwise_max(s8.lo, s8.hi);
    v2 s2 = __builtin_elementwise_max(s4.lo, s4.hi);
    return s2.x > s2.y ? s2.x : s2.y;
}

INLINE v16 sigmoid16(v16 g) { return (v16)1.0f / ((v16)1.0f + exp16(-g)); }

INLINE void swiglu_forward_body(float *h, const float *gate, const float *up, ptrdiff_t count) {
    ptrdiff_t i = 0;
    for (; i + 16 <= count; i += 16) {
        const v16 g = load16(gate + i);
        store16(h + i, g * sigmoid16(g) * load16(up + i));
    }
    if (i < count) {
        const v16 g = load_partial(gate + i, count - i, 0);
        store_partial(h + i, g * sigmoid16(g) * load_partial(up + i, count - i, 0), count - i);
    }
}

INLINE void swiglu_backward_body(float *dgate, float *dup, const float *dh, const float *gate, const float *up,
                                 ptrdiff_t count) {
    for (ptrdiff_t i = 0; i < count; i += 16) {
        const ptrdiff_t n = count - i < 16 ? count - i : 16;
        const v16 g = n == 16 ? load16(gate + i) : load_partial(gate + i, n, 0);
        const v16 u = n == 16 ? load16(up + i) : load_partial(up + i, n, 0);
        const v16 d = n == 16 ? load16(dh + i) : load_partial(dh + i, n, 0);
        const v16 s = sigmoid16(g);
        const v16 du = d * (g * s), dg = d * u * s * ((v16)1.0f + g * ((v16)1.0f - s));
        if (n == 16) {
            store16(dup + i, du);
            store16(dgate + i, dg);
        } else {
            store_partial(dup + i, du, n);
            store_partial(dgate + i, dg, n);
        }
    }
}

/// `v` with its lanes from `n` on replaced by `fill`: a whole vector read inside a row, its lanes
/// past the row's end dropped (on AVX-512 a masked load).
INLINE v16 keep_first(v16 v, ptrdiff_t n, float fill) {
    const i16v lane = {0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15};
    return lane < (int)n ? v : (v16)fill;
}

/// The 16 values from x + s of a row of `width` values, lanes from `n` on `fill`: a whole
/// vector when it lies inside the row, else through a padded copy.
INLINE v16 load_row(const float *x, ptrdiff_t s, ptrdiff_t n, ptrdiff_t width, float fill) {
    return s + 16 <= width ? keep_first(load16(x + s), n, fill) : load_partial(x + s, n, fill);
}

/// Stores the first n lanes of v at x + s; a whole vector (its other lanes must be zeros)
/// when it lies inside the row, whose values past `last` are zeros in the end.
INLINE void store_row(float *x, ptrdiff_t s, v16 v, ptrdiff_t n, ptrdiff_t width) {
    if (s + 16 <= width) store16(x + s, v);
    else store_partial(x + s, v, n);
}

/// x[s ..< width] = 0, in whole vectors while they fit (a memset call per row costs more).
INLINE void zero_tail(float *x, ptrdiff_t s, ptrdiff_t width) {
    for (; s + 16 <= width; s += 16) store16(x + s, (v16)0);
    for (; s < width; s++) x[s] = 0;
}

INLINE void softmax_row_body(float *x, ptrdiff_t last, ptrdiff_t width, float scale) {
    const ptrdiff_t count = last + 1;
    v16 maximum = (v16)-INFINITY;
    for (ptrdiff_t s = 0; s < count; s += 16) {
        const ptrdiff_t n = count - s < 16 ? count - s : 16;
        maximum = __builtin_elementwise_max(maximum, load_row(x, s, n, width, -INFINITY) * scale);
    }
    const float top = reduce_max(maximum);
    v16 sum = (v16)0;
    for (ptrdiff_t s = 0; s < count; s += 16) {
        const ptrdiff_t n = count - s < 16 ? count - s : 16;
        const v16 e = keep_first(exp16(load_row(x, s, n, width, 0) * scale - top), n, 0);
        store_row(x, s, e, n, width);
        sum += e;
    }
    const float total = reduce_add(sum);
    // Each value divided by the sum (an IEEE division: the same bits in a vector lane as alone);
    // the lanes past `last` of a whole vector are zeros, and stay zeros.
    ptrdiff_t s = 0;
    for (; s < count && s + 16 <= width; s += 16) store16(x + s, load16(x + s) / total);
    for (; s < count; s++) x[s] /= total;
    zero_tail(x, s, width);
}

/// Rows `first ..< first + rows` of a causal softmax's backward (row t sees keys 0...t), rows
/// `ld` floats apart: ds = p * (ds - dot(p, ds)) * scale over the visible keys, 0 past them.
/// Each row's dot is one chain in ascending key order; four rows' chains run side by side.
INLINE void softmax_backward_rows_body(float *ds, const float *p, ptrdiff_t ld, ptrdiff_t first, ptrdiff_t rows,
                                       ptrdiff_t width, float scale) {
    for (ptrdiff_t i = 0; i < rows; i += 4) {
        const ptrdiff_t group = rows - i < 4 ? rows - i : 4, t = first + i;
        float dots[4] = {0, 0, 0, 0};
        const float *pr[4], *dr[4];
        for (int g = 0; g < 4; g++) {  // a short group repeats its last row (its dot is dropped)
            const ptrdiff_t row = t + (g < group ? g : group - 1) - first;
            pr[g] = p + row * ld;
            dr[g] = ds + row * ld;
        }
        for (ptrdiff_t s = 0; s <= t; s++)
            for (int g = 0; g < 4; g++) dots[g] += pr[g][s] * dr[g][s];
        for (int g = 1; g < group; g++)
            for (ptrdiff_t s = t + 1; s <= t + g; s++) dots[g] += pr[g][s] * dr[g][s];
        for (int g = 0; g < group; g++) {
            const ptrdiff_t count = t + g + 1;
            float *d = ds + (t + g - first) * ld;
            const float *q = p + (t + g - first) * ld;
            const v16 dot = (v16)dots[g];
            for (ptrdiff_t s = 0; s < count; s += 16) {
                const ptrdiff_t n = count - s < 16 ? count - s : 16;
                const v16 value = load_row(q, s, n, width, 0) * (load_row(d, s, n, width, 0) - dot) * scale;
                store_row(d, s, keep_first(value, n, 0), n, width);
            }
            zero_tail(d, count, width);
        }
    }
}

/// Cross-entropy of one row of logits: returns log(sum exp(x)) - x[target] in Double; with
/// `scale` > 0 the row becomes its gradient (softmax(x) - onehot(target)) * scale.
INLINE double cross_entropy_row_body(float *x, ptrdiff_t width, ptrdiff_t target, float scale) {
    v16 maximum = (v16)-INFINITY;
    for (ptrdiff_t j = 0; j < width; j += 16) {
        const ptrdiff_t n = width - j < 16 ? width - j : 16;
        maximum = __builtin_elementwise_max(maximum, n == 16 ? load16(x + j) : load_partial(x + j, n, -INFINITY));
    }
    const float top = reduce_max(maximum);
    v16 sum = (v16)0;
    for (ptrdiff_t j = 0; j < width; j += 16) {
        const ptrdiff_t n = width - j < 16 ? width - j : 16;
        // Padding lanes hold -inf - top: exp16 clamps it to a tiny normal, so mask them to 0.
        v16 e = exp16((n == 16 ? load16(x + j) : load_partial(x + j, n, -INFINITY)) - top);
        if (n < 16) {
            float lanes[16];
            memcpy(lanes, &e, sizeof e);
            for (ptrdiff_t l = n; l < 16; l++) lanes[l] = 0;
            memcpy(&e, lanes, sizeof e);
        }
        sum += e;
    }
    const float total = reduce_add(sum);
    const double loss = (double)top + log((double)total) - (double)x[target];
    if (scale > 0) {
        const v16 factor = (v16)(scale / total);  // softmax * scale = exp(x - top) * (scale / sum)
        for (ptrdiff_t j = 0; j < width; j += 16) {
            const ptrdiff_t n = width - j < 16 ? width - j : 16;
            const v16 p = exp16((n == 16 ? load16(x + j) : load_partial(x + j, n, 0)) - top) * factor;
            if (n == 16) store16(x + j, p);
            else store_partial(x + j, p, n);
        }
        x[target] -= scale;
    }
    return loss;
}

INLINE void vector_exp_body(float *y, const float *x, ptrdiff_t count) {
    for (ptrdiff_t i = 0; i < count; i += 16) {
        const ptrdiff_t m = count - i < 16 ? count - i : 16;
        store_partial(y + i, exp16(load_partial(x + i, m, 0)), m);
    }
}

#define DEFINE_PATHS(SUFFIX, ATTRIBUTES)                                                                        \
    ATTRIBUTES static void swiglu_forward_##SUFFIX(float *h, const float *g, const float *u, ptrdiff_t n) {     \
        swiglu_forward_body(h, g, u, n);                                                                       \
    }                                                                                                          \
    ATTRIBUTES static void swiglu_backward_##SUFFIX(float *dg, float *du, const float *dh, const float *g,     \
                                                   const float *u, ptrdiff_t n) {                              \
        swiglu_backward_body(dg, du, dh, g, u, n);                                                             \
    }                                                                                                          \
    ATTRIBUTES static void softmax_row_##SUFFIX(float *x, ptrdiff_t last, ptrdiff_t width, float scale) {      \
        softmax_row_body(x, last, width, scale);                                                               \
    }                                                                                                          \
    ATTRIBUTES static void softmax_backward_rows_##SUFFIX(float *ds, const float *p, ptrdiff_t ld, ptrdiff_t first, \
                                                         ptrdiff_t rows, ptrdiff_t width, float scale) {           \
        softmax_backward_rows_body(ds, p, ld, first, rows, width, scale);                                      \
    }                                                                                                          \
    ATTRIBUTES static double cross_entropy_row_##SUFFIX(float *x, ptrdiff_t width, ptrdiff_t target, float scale) { \
        return cross_entropy_row_body(x, width, target, scale);                                                \
    }                                                                                                          \
    ATTRIBUTES static void vector_exp_##SUFFIX(float *y, const float *x, ptrdiff_t n) {                        \
        vector_exp_body(y, x, n);                                                                              \
    }

DEFINE_PATHS(avx512, __attribute__((target("avx512f,fma"))))
DEFINE_PATHS(avx2, __attribute__((target("avx2,fma"))))
DEFINE_PATHS(generic, )

void swiglu_forward(float *h, const float *gate, const float *up, ptrdiff_t count) {
    DISPATCH(swiglu_forward, h, gate, up, count);
}

void swiglu_backward(float *dgate, float *dup, const float *dh, const float *gate, const float *up, ptrdiff_t count) {
    DISPATCH(swiglu_backward, dgate, dup, dh, gate, up, count);
}

void softmax_row(float *x, ptrdiff_t last, ptrdiff_t width, float scale) { DISPATCH(softmax_row, x, last, width, scale); }

void softmax_backward_rows(float *ds, const float *p, ptrdiff_t ld, ptrdiff_t first, ptrdiff_t rows, ptrdiff_t width,
                           float scale) {
    DISPATCH(softmax_backward_rows, ds, p, ld, first, rows, width, scale);
}

void vector_exp(float *y, const float *x, ptrdiff_t count) { DISPATCH(vector_exp, y, x, count); }

double cross_entropy_row(float *x, ptrdiff_t width, ptrdiff_t target, float scale) {
    const enum path path = (enum path)kernel_isa_level();
    if (path == PATH_AVX512) return cross_entropy_row_avx512(x, width, target, scale);
    if (path == PATH_AVX2) return cross_entropy_row_avx2(x, width, target, scale);
    return cross_entropy_row_generic(x, width, target, scale);
}
