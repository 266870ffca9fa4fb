import Testing
@testable import Model

@Suite struct FixedOrderTests {
    /// The kernel's contract, written out plainly: 16 lanes, lane l accumulating
    /// fma(x[16 j + l], w[16 j + l], acc) over j (zeros past the end), the lanes summed
    /// pairwise (0..7 + 8..15, then halves again), then the bias.
    static func definition(x: [Float], w: [Float], b: [Float]?, n: Int, i: Int, o: Int) -> [Float] {
        var y = [Float](repeating: 0, count: n * o)
        for r in 0..<n {
            for c in 0..<o {
                var lanes = [Float](repeating: 0, count: 16)
                for k in stride(from: 0, to: i, by: 16) {
                    for l in 0..<16 where k + l < i { lanes[l] = lanes[l].addingProduct(x[r * i + k + l], w[c * i + k + l]) }
                }
                var width = 8
                while width >= 1 {
                    for l in 0..<width { lanes[l] = lanes[l] + lanes[l + width] }
                    width /= 2
                }
                y[r * o + c] = lanes[0] + (b?[c] ?? 0)
            }
        }
        return y
    }

    /// Bit for bit the definition, for shapes with partial k-chunks and partial row and column
    /// tiles, with and without bias, on one thread and split over two; so a row's outputs never
    /// depend on the rows beside it, the tiling or the threads.
    @Test(arguments: [(1, 5, 3), (9, 16, 4), (13, 37, 21), (70, 100, 40), (3, 256, 19), (6, 48, 11), (5, 33, 38), (2, 20, 100)])
    func matchesTheDefinitionBitForBit(n: Int, i: Int, o: Int) {
        let x = (0..<(n * i)).map { Float(($0 * 7919) % 2003) / 1001 - 1 }
        let w = (0..<(o * i)).map { Float(($0 * 104_729) % 997) / 498 - 1 }
        let bias = (0..<o).map { Float($0 % 5) / 3 - 0.5 }
        let saved = FixedOrder.threads
        defer { FixedOrder.threads = saved }
        for b in [nil, bias] {
            let expected = Self.definition(x: x, w: w, b: b, n: n, i: i, o: o)
            for threads in [1, 2] {
                FixedOrder.threads = threads
                var y = [Float](repeating: .nan, count: n * o)
                FixedOrder.linear(y_NO: &y, x_NI: x, w_OI: w, b_O: b, n: n, i: i, o: o)
                #expect(y.map(\.bitPattern) == expected.map(\.bitPattern), "n \(n) i \(i) o \(o) threads \(threads)")
            }
            // Each row alone gives the bits it has inside the batch.
            let last = n - 1
            var alone = [Float](repeating: .nan, count: o)
            Array(x[(last * i)...]).withUnsafeBufferPointer { row in
                FixedOrder.linear(y_NO: &alone, x_NI: row.baseAddress!, w_OI: w, b_O: b, n: 1, i: i, o: o)
            }
            #expect(alone.map(\.bitPattern) == expected[(last * o)...].map(\.bitPattern))
        }
    }

    /// Several products of one x in one hand-off (`linears`: q, k, v) give the bits of each alone.
    @Test(arguments: [1, 7, 70])
    func productsTogetherEqualEachAlone(n: Int) {
        let i = 40, widths = [21, 48, 5]
        let x = (0..<(n * i)).map { Float(($0 * 7919) % 2003) / 1001 - 1 }
        let ws = widths.map { o in (0..<(o * i)).map { Float(($0 * 104_729 + o) % 997) / 498 - 1 } }
        let bias = (0..<48).map { Float($0 % 5) / 3 - 0.5 }
        let saved = FixedOrder.threads
        defer { FixedOrder.threads = saved }
        for threads in [1, 2] {
            FixedOrder.threads = threads
            let ys = widths.map { o in UnsafeMutablePointer<Float>.allocate(capacity: n * o) }
            defer { for y in ys { y.deallocate() } }
            ws[0].withUnsafeBufferPointer { w0 in ws[1].withUnsafeBufferPointer { w1 in ws[2].withUnsafeBufferPointer { w2 in
                bias.withUnsafeBufferPointer { b in
                    FixedOrder.linears([.init(y: ys[0], w: w0.baseAddress!, b: nil, o: widths[0]),
                                        .init(y: ys[1], w: w1.baseAddress!, b: b.baseAddress!, o: widths[1]),
                                        .init(y: ys[2], w: w2.baseAddress!, b: nil, o: widths[2])], x_NI: x, n: n, i: i)
                }
            } } }
            for (index, o) in widths.enumerated() {
                let expected = Self.definition(x: x, w: ws[index], b: index == 1 ? bias : nil, n: n, i: i, o: o)
                let got = Array(UnsafeBufferPointer(start: ys[index], count: n * o))
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "product \(index) threads \(threads)")
            }
        }
    }

    /// Attention scores read keys `stride` floats apart (one head inside a KV cache row): the same
    /// bits as the contiguous product of the same keys copied out.
    @Test func stridedScoresEqualTheContiguousProduct() {
        let rows = 3, headDim = 24, count = 37, stride = 96, offset = 48
        let q = (0..<(rows * headDim)).map { Float(($0 * 7919) % 2003) / 1001 - 1 }
        let cache = (0..<(count * stride)).map { Float(($0 * 104_729) % 997) / 498 - 1 }
        let keys = (0..<count).flatMap { t in cache[(t * stride + offset)..<(t * stride + offset + headDim)] }
        var scores = [Float](repeating: .nan, count: rows * count)
        cache.withUnsafeBufferPointer { c in
            FixedOrder.scores(&scores, q_RD: q, keys: c.baseAddress! + offset, stride: stride, rows: rows, headDim: headDim, count: count)
        }
        let expected = Self.definition(x: q, w: keys, b: nil, n: rows, i: headDim, o: count)
        #expect(scores.map(\.bitPattern) == expected.map(\.bitPattern))
    }

    /// The weighted sum of values is, per element, fma over positions in ascending order, for
    /// widths with and without a partial 16-lane chunk.
    @Test(arguments: [24, 64, 7, 40, 96, 130])
    func weightedSumIsFMAInAscendingPosition(width: Int) {
        let count = 29, stride = width + 5
        let weights = (0..<count).map { Float(($0 * 31) % 17) / 17 }
        let values = (0..<(count * stride)).map { Float(($0 * 7919) % 2003) / 1001 - 1 }
        var out = [Float](repeating: .nan, count: width)
        FixedOrder.weightedSum(&out, weights_T: weights, values: values, stride: stride, count: count, width: width)
        let expected = (0..<width).map { j in
            (0..<count).reduce(Float(0)) { acc, t in acc.addingProduct(weights[t], values[t * stride + j]) }
        }
        #expect(out.map(\.bitPattern) == expected.map(\.bitPattern))
    }
}
