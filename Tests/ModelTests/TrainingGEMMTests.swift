import Foundation
import Testing
@testable import Model

@Suite(.serialized) struct TrainingGEMMTests {
    /// Every transpose combination, with and without accumulation, at sizes that cross the
    /// register tile (12 x 32 / 6 x 16 / 4 x 16), the row block (144) and the k block (256), with
    /// fewer rows than a tile both with A read in place (narrow C) and packed (wide C), and
    /// on strided views: each element must be exactly the fma chain in ascending k that gemm.h
    /// promises, computed here one element at a time.
    @Test(arguments: [(false, false), (true, false), (false, true), (true, true)])
    func everyElementIsTheFMAChainInAscendingK(transposeA: Bool, transposeB: Bool) {
        for (m, n, k) in [(1, 1, 1), (5, 7, 3), (13, 33, 17), (150, 70, 300), (37, 1, 600), (7, 300, 45), (1, 290, 260)] {
            for accumulate in [false, true] {
                let lda = (transposeA ? m : k) + 3, ldb = (transposeB ? k : n) + 2, ldc = n + 5
                let a = (0..<((transposeA ? k : m) * lda)).map { Float(($0 * 37) % 101) / 37 - 1.3 }
                let b = (0..<((transposeB ? n : k) * ldb)).map { Float(($0 * 13) % 97) / 29 - 1.7 }
                let initial = (0..<(m * ldc)).map { Float(($0 * 7) % 23) / 11 - 1 }
                func aAt(_ i: Int, _ p: Int) -> Float { transposeA ? a[p * lda + i] : a[i * lda + p] }
                func bAt(_ p: Int, _ j: Int) -> Float { transposeB ? b[j * ldb + p] : b[p * ldb + j] }
                for threads in [1, 2] {
                    var c = initial
                    TrainingGEMM.multiply(m: m, n: n, k: k, a: a, transposeA: transposeA, lda: lda, b: b, transposeB: transposeB,
                                          ldb: ldb, c: &c, ldc: ldc, accumulate: accumulate, threads: threads)
                    var wrong = 0
                    for i in 0..<m {
                        for j in 0..<n {
                            var chain: Float = accumulate ? initial[i * ldc + j] : 0
                            for p in 0..<k { chain.addProduct(aAt(i, p), bAt(p, j)) }
                            if c[i * ldc + j] != chain { wrong += 1 }
                        }
                        // Padding between rows of C is never written.
                        for j in n..<ldc where c[i * ldc + j] != initial[i * ldc + j] { wrong += 1 }
                    }
                    #expect(wrong == 0, "\(m)x\(n)x\(k) accumulate \(accumulate) threads \(threads): \(wrong) elements differ")
                }
            }
        }
    }

    /// The thread split is over whole tiles of the longer side; any split gives the same bits.
    @Test func resultDoesNotDependOnTheThreadCount() {
        let m = 300, n = 200, k = 500
        let a = (0..<(m * k)).map { Float(sin(Double($0))) }, b = (0..<(k * n)).map { Float(cos(Double($0) * 0.7)) }
        var one = [Float](repeating: 0, count: m * n), two = one, three = one
        TrainingGEMM.multiply(m: m, n: n, k: k, a: a, b: b, c: &one, threads: 1)
        TrainingGEMM.multiply(m: m, n: n, k: k, a: a, b: b, c: &two, threads: 2)
        TrainingGEMM.multiply(m: m, n: n, k: k, a: a, b: b, c: &three, threads: 3)
        #expect(one == two && two == three)
    }

    /// Denormal operands and results count as zero inside a product (DAZ/FTZ, which every x86-64
    /// CPU applies alike), and the caller's floating-point state comes back unchanged.
    @Test func denormalsAreFlushedInsideTheProductOnly() {
        let denormal = Float.leastNormalMagnitude / 8
        var c: [Float] = [7]
        TrainingGEMM.multiply(m: 1, n: 1, k: 1, a: [denormal], b: [1], c: &c, threads: 1)
        #expect(c == [0])  // input flushed: 7 is overwritten by 0 * 1
        TrainingGEMM.multiply(m: 1, n: 1, k: 1, a: [1e-20], b: [1e-20], c: &c, threads: 1)
        #expect(c == [0])  // 1e-40 is below the normal range: flushed
        TrainingGEMM.multiply(m: 1, n: 1, k: 2, a: [1e-20, 2], b: [1e-20, 3], c: &c, threads: 1)
        #expect(c == [6])
        // Outside the product, denormals are back: Swift's own arithmetic keeps them.
        let half = [denormal].map { $0 * 0.5 }[0]
        #expect(half > 0 && half == denormal / 2)
    }
}
