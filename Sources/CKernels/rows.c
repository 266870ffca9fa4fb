// RMSNorm and RoPE rows (see rows.h): one generic body on clang's 16-float vectors, compiled per
// code path like the other kernels.
#include "rows.h"
#include "isa.h"
#include "vector16.h"

#include <math.h>

/// Rows per group whose sums run side by side.
enum { GROUP = 4 };

/// sum_j x_j x_j of up to GROUP rows, each one chain in ascending j (a short group repeats its
/// last row, whose sum is dropped).
INLINE void sums_of_squares(float *sums, const float *x, ptrdiff_t group, ptrdiff_t c) {
    const float *row[GROUP];
    float sum[GROUP] = {0};
    for (int g = 0; g < GROUP; g++) row[g] = x + (g < group ? g : group - 1) * c;
    for (ptrdiff_t j = 0; j < c; j++)
#pragma unroll
        for (int g = 0; g < GROUP; g++) sum[g] += row[g][j] * row[g][j];
    for (int g = 0; g < group; g++) sums[g] = sum[g];
}

INLINE void rms_norm_rows_body(float *y, float *rstd_out, const float *x, const float *w, ptrdiff_t rows, ptrdiff_t c,
                               float eps) {
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += GROUP) {
        const ptrdiff_t group = rows - r0 < GROUP ? rows - r0 : GROUP;
        float sums[GROUP];
        sums_of_squares(sums, x + r0 * c, group, c);
        for (ptrdiff_t g = 0; g < group; g++) {
            const float rstd = 1 / sqrtf(sums[g] / (float)c + eps);
            if (rstd_out) rstd_out[r0 + g] = rstd;
            const float *xr = x + (r0 + g) * c;
            float *yr = y + (r0 + g) * c;
            ptrdiff_t j = 0;
            for (; j + 16 <= c; j += 16) store16(yr + j, load16(xr + j) * rstd * load16(w + j));
            for (; j < c; j++) yr[j] = xr[j] * rstd * w[j];
        }
    }
}

INLINE void rms_norm_backward_rows_body(float *dx, float *dw, const float *dy, const float *x, const float *w,
                                        const float *rstd, ptrdiff_t rows, ptrdiff_t c, int accumulate) {
    for (ptrdiff_t r0 = 0; r0 < rows; r0 += GROUP) {
        const ptrdiff_t group = rows - r0 < GROUP ? rows - r0 : GROUP;
        const float *xr[GROUP], *dyr[GROUP];
        float dot[GROUP] = {0};
        for (int g = 0; g < GROUP; g++) {
            const ptrdiff_t row = r0 + (g < group ? g : group - 1);
            xr[g] = x + row * c;
            dyr[g] = dy + row * c;
        }
        for (ptrdiff_t j = 0; j < c; j++)
#pragma unroll
            for (int g = 0; g < GROUP; g++) dot[g] += dyr[g][j] * w[j] * xr[g][j];
        for (ptrdiff_t g = 0; g < group; g++) {
            const float r = rstd[r0 + g], scale = dot[g] * r * r * r / (float)c;
            const float *xg = xr[g], *dyg = dyr[g];
            float *dxg = dx + (r0 + g) * c;
            ptrdiff_t j = 0;
            for (; j + 16 <= c; j += 16) {
                const v16 dyv = load16(dyg + j), xv = load16(xg + j);
                store16(dw + j, load16(dw + j) + dyv * xv * r);
                const v16 value = dyv * load16(w + j) * r - xv * scale;
                store16(dxg + j, accumulate ? load16(dxg + j) + value : value);
            }
            for (; j < c; j++) {
                dw[j] += dyg[j] * xg[j] * r;
                const float value = dyg[j] * w[j] * r - xg[j] * scale;
                dxg[j] = accumulate ? dxg[j] + value : value;
            }
        }
    }
}

INLINE void rope_row_body(float *x, ptrdiff_t heads, ptrdiff_t head_dim, const float *cosines, const float *sines,
                          int inverse) {
    const ptrdiff_t half = head_dim / 2;
    for (ptrdiff_t h = 0; h < heads; h++) {
        float *a = x + h * head_dim, *b = a + half;
        ptrdiff_t j = 0;
        for (; j + 16 <= half; j += 16) {
            const v16 av = load16(a + j), bv = load16(b + j), cv = load16(cosines + j);
            const v16 sv = inverse ? -load16(sines + j) : load16(sines + j);
            store16(a + j, av * cv - bv * sv);
            store16(b + j, bv * cv + av * sv);
        }
        for (; j < half; j++) {
            const float av = a[j], bv = b[j], cv = cosines[j], sv = inverse ? -sines[j] : sines[j];
            a[j] = av * cv - bv * sv;
            b[j] = bv * cv + av * sv;
        }
    }
}

#define DEFINE_PATHS(SUFFIX, ATTRIBUTES)                                                                       \
    ATTRIBUTES static void rms_norm_rows_##SUFFIX(float *y, float *rstd, const float *x, const float *w,      \
                                                  ptrdiff_t rows, ptrdiff_t c, float eps) {                    \
        rms_norm_rows_body(y, rstd, x, w, rows, c, eps);                                                       \
    }                                                                                                         \
    ATTRIBUTES static void rms_norm_backward_rows_##SUFFIX(float *dx, float *dw, const float *dy, const float *x, \
                                                           const float *w, const float *rstd, ptrdiff_t rows,   \
                                                           ptrdiff_t c, int accumulate) {                       \
        rms_norm_backward_rows_body(dx, dw, dy, x, w, rstd, rows, c, accumulate);                              \
    }                                                                                                         \
    ATTRIBUTES static void rope_row_##SUFFIX(float *x, ptrdiff_t heads, ptrdiff_t head_dim, const float *cosines, \
                                             const float *sines, int inverse) {                                \
        rope_row_body(x, heads, head_dim, cosines, sines, inverse);                                            \
    }

DEFINE_PATHS(avx512, __attribute__((target("avx512f,fma"))))
DEFINE_PATHS(avx2, __attribute__((target("avx2,fma"))))
DEFINE_PATHS(generic, )

void rms_norm_rows(float *y, float *rstd, const float *x, const float *w, ptrdiff_t rows, ptrdiff_t c, float eps) {
    DISPATCH(rms_norm_rows, y, rstd, x, w, rows, c, eps);
}

void rms_norm_backward_rows(float *dx, float *dw, const float *dy, const float *x, const float *w, const float *rstd,
                            ptrdiff_t rows, ptrdiff_t c, int accumulate) {
    DISPATCH(rms_norm_backward_rows, dx, dw, dy, x, w, rstd, rows, c, accumulate);
}

void rope_row(float *x, ptrdiff_t heads, ptrdiff_t head_dim, const float *cosines, const float *sines, int inverse) {
    DISPATCH(rope_row, x, heads, head_dim, cosines, sines, inverse);
}
