import Testing
@testable import Model

@Suite struct BLASTests {
    /// sgemm in every transpose combination against a plain triple loop.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func gemmMatchesNaiveProduct(transposeA: Bool, transposeB: Bool) {
        let m = 5, n = 7, k = 3
        let a = (0..<(m * k)).map { Float(($0 * 37) % 11) - 5 }
        let b = (0..<(k * n)).map { Float(($0 * 13) % 7) - 3 }
        var c = [Float](repeating: 1, count: m * n)
        func aAt(_ i: Int, _ p: Int) -> Float { transposeA ? a[p * m + i] : a[i * k + p] }
        func bAt(_ p: Int, _ j: Int) -> Float { transposeB ? b[j * k + p] : b[p * n + j] }
        BLAS.gemm(m: m, n: n, k: k, a: a, transposeA: transposeA, b: b, transposeB: transposeB,
                  c: &c, alpha: 2, beta: 0.5)
        for i in 0..<m {
            for j in 0..<n {
                let dot = (0..<k).reduce(Float(0)) { $0 + aAt(i, $1) * bAt($1, j) }
                #expect(c[i * n + j] == 2 * dot + 0.5)
            }
        }
    }
}
