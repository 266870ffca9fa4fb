#ifndef GEMM_H
#define GEMM_H

#include <stddef.h>

/// Training's matrix products: C = op(A) op(B), or C += op(A) op(B) with `accumulate`, for the
/// rows [row_begin, row_end) and columns [col_begin, col_end) of C [m, n] (threads take disjoint
/// blocks). op(A) is m x k: A stored [m, lda] or, with `trans_a`, [k, lda] read transposed;
/// op(B) is k x n: B stored [k, ldb] or, with `trans_b`, [n, ldb] read transposed.
///
/// Every element is one chain of fused multiply-adds in ascending k, starting from 0 (or from
/// the element of C when accumulating): c = fma(a[r, 0], b[0, j], c), then k = 1, 2, ... So a
/// result does not depend on the block split, the thread count, the instruction set (AVX-512,
/// AVX2 + FMA, or libm's correctly rounded fmaf) or the CPU: training is the same bits on every
/// x86-64 machine, where OpenBLAS picks its kernel (and its rounding) by CPU model. Denormal
/// operands and results count as zero (the MXCSR flags DAZ and FTZ, set for the call and
/// restored): every x86-64 CPU flushes alike, and an FMA on a denormal is ~75x slower.
void gemm_f32(ptrdiff_t m, ptrdiff_t n, ptrdiff_t k,
              const float *a, ptrdiff_t lda, int trans_a,
              const float *b, ptrdiff_t ldb, int trans_b,
              float *c, ptrdiff_t ldc, int accumulate,
              ptrdiff_t row_begin, ptrdiff_t row_end, ptrdiff_t col_begin, ptrdiff_t col_end);

/// op(B) [k x n] packed once, for products that use the same B many times (inference's
/// weights): `gemm_packed_b_floats(n, k)` floats, filled by `gemm_pack_b` (arguments as for
/// gemm_f32's B), then `gemm_f32_prepacked` computes exactly what gemm_f32 computes with that B
/// (the same chains, bit for bit) without packing it again. Its column range must start at a
/// multiple of `gemm_tile_columns()`. The layout depends on the code path (the tile width).
size_t gemm_packed_b_floats(ptrdiff_t n, ptrdiff_t k);
void gemm_pack_b(float *packed, const float *b, ptrdiff_t ldb, int trans_b, ptrdiff_t n, ptrdiff_t k);
void gemm_f32_prepacked(ptrdiff_t k, const float *a, ptrdiff_t lda, int trans_a, const float *packed_b,
                        float *c, ptrdiff_t ldc, int accumulate,
                        ptrdiff_t row_begin, ptrdiff_t row_end, ptrdiff_t col_begin, ptrdiff_t col_end);

/// The register tile of the chosen code path: blocks of rows and columns given to threads
/// should be multiples of these (any split gives the same result; these waste no work).
ptrdiff_t gemm_tile_rows(void);
ptrdiff_t gemm_tile_columns(void);

#endif
