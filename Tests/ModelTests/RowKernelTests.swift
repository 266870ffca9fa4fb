import CKernels
import Foundation
import Testing

/// The per-row kernels (`rows.c`, and the softmax rows of `activations.c`) against the plain
/// Swift loops they replaced, bit for bit: they may run several rows' chains side by side and
/// 16 lanes at a time, never another order of operations. Sizes cover short groups of rows and
/// partial last vectors.
@Suite struct RowKernelTests {
    static func values(_ count: Int, _ seed: Int) -> [Float] {
        (0..<count).map { Float(sin(Double($0 * 7 + seed) * 0.37)) * 3 }
    }

    @Test(arguments: [1, 15, 16, 24, 96, 130])
    func rmsNormRowsAreThePlainLoops(c: Int) {
        for rows in [1, 3, 4, 5, 9] {
            let x = Self.values(rows * c, 1), w = Self.values(c, 2), eps: Float = 1e-5
            var y = [Float](repeating: .nan, count: rows * c), rstd = [Float](repeating: .nan, count: rows)
            rms_norm_rows(&y, &rstd, x, w, rows, c, eps)
            for r in 0..<rows {
                var sumSquares: Float = 0
                for j in 0..<c { sumSquares += x[r * c + j] * x[r * c + j] }
                let expected = 1 / (sumSquares / Float(c) + eps).squareRoot()
                #expect(rstd[r].bitPattern == expected.bitPattern, "rows \(rows) row \(r)")
                for j in 0..<c { #expect(y[r * c + j].bitPattern == (x[r * c + j] * expected * w[j]).bitPattern) }
            }
        }
    }

    @Test(arguments: [1, 15, 16, 24, 96, 130])
    func rmsNormBackwardRowsAreThePlainLoops(c: Int) {
        for rows in [1, 4, 7] {
            for accumulate in [false, true] {
                let x = Self.values(rows * c, 3), w = Self.values(c, 4), dy = Self.values(rows * c, 5)
                let rstd = (0..<rows).map { 0.5 + Float($0) / 7 }
                var dx = Self.values(rows * c, 6), dw = Self.values(c, 7)
                var expectedDx = dx, expectedDw = dw
                rms_norm_backward_rows(&dx, &dw, dy, x, w, rstd, rows, c, accumulate ? 1 : 0)
                for r in 0..<rows {
                    var dot: Float = 0
                    for j in 0..<c {
                        dot += dy[r * c + j] * w[j] * x[r * c + j]
                        expectedDw[j] += dy[r * c + j] * x[r * c + j] * rstd[r]
                    }
                    let scale = dot * rstd[r] * rstd[r] * rstd[r] / Float(c)
                    for j in 0..<c {
                        let value = dy[r * c + j] * w[j] * rstd[r] - x[r * c + j] * scale
                        expectedDx[r * c + j] = accumulate ? expectedDx[r * c + j] + value : value
                    }
                }
                #expect(dx.map(\.bitPattern) == expectedDx.map(\.bitPattern), "rows \(rows) accumulate \(accumulate)")
                #expect(dw.map(\.bitPattern) == expectedDw.map(\.bitPattern), "rows \(rows) accumulate \(accumulate)")
            }
        }
    }

    @Test(arguments: [2, 8, 24, 32, 64, 66])
    func ropeRowIsThePlainLoop(headDim: Int) {
        let heads = 3, half = headDim / 2
        let cosines = Self.values(half, 8), sines = Self.values(half, 9)
        for inverse in [false, true] {
            var x = Self.values(heads * headDim, 10)
            var expected = x
            rope_row(&x, heads, headDim, cosines, sines, inverse ? 1 : 0)
            for h in 0..<heads {
                for j in 0..<half {
                    let s = inverse ? -sines[j] : sines[j]
                    let a = expected[h * headDim + j], b = expected[h * headDim + j + half]
                    expected[h * headDim + j] = a * cosines[j] - b * s
                    expected[h * headDim + j + half] = b * cosines[j] + a * s
                }
            }
            #expect(x.map(\.bitPattern) == expected.map(\.bitPattern), "inverse \(inverse)")
        }
    }

    @Test(arguments: [(0, 1, 50), (0, 9, 50), (5, 6, 50), (48, 48, 128), (96, 32, 128), (40, 3, 45)])
    func softmaxBackwardRowsAreThePlainLoop(first: Int, rows: Int, width: Int) {
        let scale: Float = 0.125
        var p = Self.values(rows * width, 11).map { abs($0) / 10 }
        for r in 0..<rows { for s in (first + r + 1)..<max(width, first + r + 1) { p[r * width + s] = 0 } }
        var ds = Self.values(rows * width, 12)
        var expected = ds
        softmax_backward_rows(&ds, p, width, first, rows, width, scale)
        for r in 0..<rows {
            let t = first + r
            var dot: Float = 0
            for s in 0...t { dot += p[r * width + s] * expected[r * width + s] }
            for s in 0..<width {
                expected[r * width + s] = s <= t ? p[r * width + s] * (expected[r * width + s] - dot) * scale : 0
            }
        }
        #expect(ds.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    /// Whole vectors inside the row (a wider row) or a padded copy at its end: the same bits.
    @Test func softmaxRowIsTheSameForEveryWidth() {
        for last in [0, 5, 15, 16, 17, 40, 63] {
            let input = Self.values(last + 1, 13).map { $0 * 4 }
            var reference: [Float]?
            for width in Set([last + 1, (last + 16) / 16 * 16, (last + 16) / 16 * 16 + 16, last + 20]) {
                var row = input + [Float](repeating: .nan, count: width - last - 1)
                softmax_row(&row, last, width, 0.3)
                #expect(row[(last + 1)...].allSatisfy { $0 == 0 }, "last \(last) width \(width)")
                let bits = row[...last].map(\.bitPattern)
                if let reference { #expect(bits == reference.map(\.bitPattern), "last \(last) width \(width)") }
                else { reference = Array(row[...last]) }
            }
        }
    }
}
