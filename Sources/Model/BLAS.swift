// The one file that talks to OpenBLAS. Matrices are row-major Float32.
import COpenBLAS

public enum BLAS {
    /// Sets OpenBLAS's thread count explicitly (the toolkit never relies on its default), and
    /// that of the engine's own kernels and loops (`Parallel.threads`), so one `--threads` governs both.
    public static func setThreads(_ count: Int) {
        openblas_set_num_threads(Int32(max(1, count)))
        Parallel.threads = max(1, count)
    }

    public static var threads: Int { Int(openblas_get_num_threads()) }

    /// C[m x n] = alpha * op(A) * op(B) + beta * C, where op(A) is m x k and op(B) is k x n;
    /// `transposeA` means A is stored as k x m (and likewise for B).
    /// Leading dimensions default to dense storage; pass them to address a strided view (one
    /// attention head inside a [tokens, heads x head_dim] matrix, say).
    public static func gemm(
        m: Int, n: Int, k: Int,
        a: UnsafePointer<Float>, transposeA: Bool = false, lda: Int? = nil,
        b: UnsafePointer<Float>, transposeB: Bool = false, ldb: Int? = nil,
        c: UnsafeMutablePointer<Float>, ldc: Int? = nil, alpha: Float = 1, beta: Float = 0
    ) {
        cblas_sgemm(
            CblasRowMajor,
            transposeA ? CblasTrans : CblasNoTrans,
            transposeB ? CblasTrans : CblasNoTrans,
            Int32(m), Int32(n), Int32(k), alpha,
            a, Int32(lda ?? (transposeA ? m : k)),
            b, Int32(ldb ?? (transposeB ? k : n)),
            beta, c, Int32(ldc ?? n))
    }
}
