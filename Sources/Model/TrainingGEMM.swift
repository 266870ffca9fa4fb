import CKernels

/// The matrix products of training (and of the uncached `logits`): our own packed kernel, whose
/// every element is one fma chain in ascending k (`Sources/CKernels/gemm.c`), so training gives
/// the same bits for every thread count and on every x86-64 CPU. OpenBLAS picks its kernel by
/// CPU model (and falls back to its SSE3 one on CPUs newer than it knows, 4x slower here).
public enum TrainingGEMM {
    /// Multiply-adds below which one thread does the whole product: handing work to a second
    /// thread costs about as much.
    static let workPerThread = 1 << 18

    /// C[m x n] = op(A) op(B), or += with `accumulate`; op(A) is m x k (`transposeA`: A is stored
    /// k x m), op(B) is k x n (`transposeB`: stored n x k). Leading dimensions default to dense
    /// storage; pass them to address a strided view (one attention head inside a row of heads).
    /// `threads` defaults to the tools' `--threads`; 1 when the caller runs products in parallel.
    public static func multiply(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, transposeA: Bool = false, lda: Int? = nil,
        b: UnsafePointer<Float>, transposeB: Bool = false, ldb: Int? = nil,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil, accumulate: Bool = false, threads: Int? = nil
    ) {
        let product = Product(m: m, n: n, k: k, a: a, lda: lda ?? (transposeA ? m : k), transposeA: transposeA,
                              b: b, ldb: ldb ?? (transposeB ? k : n), transposeB: transposeB,
                              c: c, ldc: ldc ?? n, accumulate: accumulate)
        let parts = max(1, min(threads ?? Parallel.threads, m * n * k / workPerThread))
        guard parts > 1 else {
            product.run(rows: 0..<m, columns: 0..<n)
            return
        }
        // Split the longer side of C into whole register tiles, one block per thread.
        let splitRows = m >= n
        let tile = splitRows ? gemm_tile_rows() : gemm_tile_columns()
        let length = splitRows ? m : n, tiles = (length + tile - 1) / tile
        Parallel.run(parts: parts) { part in
            let range = min(length, tiles * part / parts * tile)..<min(length, tiles * (part + 1) / parts * tile)
            if splitRows { product.run(rows: range, columns: 0..<n) } else { product.run(rows: 0..<m, columns: range) }
        }
    }

    private struct Product: @unchecked Sendable {
        let m: Int, n: Int, k: Int
        let a: UnsafePointer<Float>, lda: Int, transposeA: Bool
        let b: UnsafePointer<Float>, ldb: Int, transposeB: Bool
        let c: UnsafeMutablePointer<Float>, ldc: Int, accumulate: Bool

        func run(rows: Range<Int>, columns: Range<Int>) {
            gemm_f32(m, n, k, a, lda, transposeA ? 1 : 0, b, ldb, transposeB ? 1 : 0, c, ldc, accumulate ? 1 : 0,
                     rows.lowerBound, rows.upperBound, columns.lowerBound, columns.upperBound)
        }
    }
}
