import CKernels
import Foundation
import Testing

/// The element-wise kernels of training (`Sources/CKernels/activations.c`) against Double
/// references: our exp, the SwiGLU forward and backward, and the causal softmax row.
@Suite struct ActivationKernelTests {
    @Test func expIsWithinThreeUnitsInTheLastPlaceOnItsRange() {
        let x = (0...100_000).map { -87 + 175 * Float($0) / 100_000 } + [0, -0.0, 1e-30, -1e-30]
        var y = [Float](repeating: 0, count: x.count)
        vector_exp(&y, x, x.count)
        let worst = zip(x, y).map { abs(Double($1) - Foundation.exp(Double($0))) / Foundation.exp(Double($0)) }.max()!
        #expect(worst < 3e-7)
        // Clamped outside [-87, 88]: finite and normal, never inf or a denormal.
        var edges = [Float](repeating: 0, count: 4)
        vector_exp(&edges, [-1000, -88, 89, 1000], 4)
        #expect(edges[0] == edges[1] && edges[0].isNormal && edges[2] == edges[3] && edges[2].isFinite)
    }

    @Test func swigluAndItsGradientMatchDouble() {
        let count = 1_000  // not a multiple of 16: the partial last vector too
        let gate = (0..<count).map { Float(sin(Double($0) * 0.37)) * 9 }, up = (0..<count).map { Float(cos(Double($0) * 0.11)) }
        let dh = (0..<count).map { Float(sin(Double($0) * 0.05 + 1)) }
        var h = [Float](repeating: 0, count: count), dgate = h, dup = h
        swiglu_forward(&h, gate, up, count)
        swiglu_backward(&dgate, &dup, dh, gate, up, count)
        for i in 0..<count {
            let g = Double(gate[i]), u = Double(up[i]), s = 1 / (1 + Foundation.exp(-g))
            #expect(abs(Double(h[i]) - g * s * u) <= 1e-6 * max(1, abs(g * s * u)))
            #expect(abs(Double(dup[i]) - Double(dh[i]) * g * s) <= 1e-6 * max(1, abs(g)))
            let expected = Double(dh[i]) * u * s * (1 + g * (1 - s))
            #expect(abs(Double(dgate[i]) - expected) <= 1e-6 * max(1, abs(expected)))
        }
    }

    @Test func causalSoftmaxRowSumsToOneAndZeroesTheFuture() {
        for last in [0, 5, 15, 16, 40] {
            var row = (0..<50).map { Float(($0 * 37) % 11) - 3 }
            let input = row
            softmax_row(&row, last, 50, 0.7)
            let logits = input[0...last].map { Double($0) * Double(Float(0.7)) }
            let top = logits.max()!, total = logits.map { Foundation.exp($0 - top) }.reduce(0, +)
            for s in 0...last { #expect(abs(Double(row[s]) - Foundation.exp(logits[s] - top) / total) < 1e-6) }
            #expect(row[(last + 1)...].allSatisfy { $0 == 0 })
        }
    }

    @Test func crossEntropyRowAndItsGradientMatchDouble() {
        for width in [1, 19, 512, 1000] {
            let logits = (0..<width).map { Float(sin(Double($0) * 0.9)) * 12 }
            let target = width / 3
            let top = logits.map(Double.init).max()!
            let sum = logits.map { Foundation.exp(Double($0) - top) }.reduce(0, +)
            var row = logits
            let loss = cross_entropy_row(&row, width, target, 0.25)
            #expect(abs(loss - (top + Foundation.log(sum) - Double(logits[target]))) < 1e-5)
            for j in 0..<width {
                let expected = (Foundation.exp(Double(logits[j]) - top) / sum - (j == target ? 1 : 0)) * 0.25
                #expect(abs(Double(row[j]) - expected) < 1e-7)
            }
            var untouched = logits
            _ = cross_entropy_row(&untouched, width, target, 0)  // scale 0: the loss only
            #expect(untouched == logits)
        }
    }
}
