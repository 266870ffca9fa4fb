import CKernels
import Testing
@testable import Model

@Suite struct InferenceProductsTests {
    /// The contract of inference's products, written out plainly: each element one fma chain
    /// over k in ascending order from 0 (training's kernel, gemm.h), then the bias.
    static func definition(x: [Float], w: [Float], b: [Float]?, n: Int, i: Int, o: Int) -> [Float] {
        var y = [Float](repeating: 0, count: n * o)
        for r in 0..<n {
            for c in 0..<o {
                var chain: Float = 0
                for k in 0..<i { chain.addProduct(x[r * i + k], w[c * i + k]) }
                y[r * o + c] = chain + (b?[c] ?? 0)
            }
        }
        return y
    }

    static func withOptional(_ values: [Float]?, _ body: (UnsafePointer<Float>?) -> Void) {
        if let values { values.withUnsafeBufferPointer { body($0.baseAddress) } } else { body(nil) }
    }

    /// Bit for bit the definition on packed weights, for shapes with partial k blocks and partial
    /// row and column tiles, with and without bias, on one thread and split over two; so a row's
    /// outputs never depend on the rows beside it, the tiling or the threads.
    @Test(arguments: [(1, 5, 3), (9, 16, 4), (13, 37, 21), (70, 100, 40), (3, 256, 19), (6, 48, 11), (5, 33, 38),
                      (2, 20, 100), (1, 300, 290), (12, 260, 33)])
    func matchesTheDefinitionBitForBit(n: Int, i: Int, o: Int) {
        let x = (0..<(n * i)).map { Float(($0 * 7919) % 2003) / 1001 - 1 }
        let w = (0..<(o * i)).map { Float(($0 * 104_729) % 997) / 498 - 1 }
        let bias = (0..<o).map { Float($0 % 5) / 3 - 0.5 }
        let packed = PackedMatrix(w_OI: w, outputs: o, inputs: i)
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        for b in [nil, bias] {
            let expected = Self.definition(x: x, w: w, b: b, n: n, i: i, o: o)
            for threads in [1, 2] {
                Parallel.threads = threads
                var y = [Float](repeating: .nan, count: n * o)
                Self.withOptional(b) { InferenceProducts.linear(y_NO: &y, x_NI: x, w: packed, b_O: $0, n: n) }
                #expect(y.map(\.bitPattern) == expected.map(\.bitPattern), "n \(n) i \(i) o \(o) threads \(threads)")
            }
            // Each row alone gives the bits it has inside the batch.
            let last = n - 1
            var alone = [Float](repeating: .nan, count: o)
            Array(x[(last * i)...]).withUnsafeBufferPointer { row in
                Self.withOptional(b) {
                    InferenceProducts.linear(y_NO: &alone, x_NI: row.baseAddress!, w: packed, b_O: $0, n: 1)
                }
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
        let packed = zip(ws, widths).map { PackedMatrix(w_OI: $0, outputs: $1, inputs: i) }
        let bias = (0..<48).map { Float($0 % 5) / 3 - 0.5 }
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        for threads in [1, 2] {
            Parallel.threads = threads
            let ys = widths.map { o in UnsafeMutablePointer<Float>.allocate(capacity: n * o) }
            defer { for y in ys { y.deallocate() } }
            bias.withUnsafeBufferPointer { b in
                InferenceProducts.linears([.init(y: ys[0], w: packed[0], b: nil), .init(y: ys[1], w: packed[1], b: b.baseAddress!),
                                    .init(y: ys[2], w: packed[2], b: nil)], x_NI: x, n: n)
            }
            for (index, o) in widths.enumerated() {
                let expected = Self.definition(x: x, w: ws[index], b: index == 1 ? bias : nil, n: n, i: i, o: o)
                let got = Array(UnsafeBufferPointer(start: ys[index], count: n * o))
                #expect(got.map(\.bitPattern) == expected.map(\.bitPattern), "product \(index) threads \(threads)")
            }
        }
    }

    /// Side by side (gate and up, combined per column piece) gives each product's bits, and
    /// `combine` sees every column exactly once.
    @Test(arguments: [1, 13])
    func sideBySideEqualsEachAlone(n: Int) {
        let i = 24, o = 100
        let x = (0..<(n * i)).map { Float(($0 * 7919) % 2003) / 1001 - 1 }
        let ws: [[Float]] = (0..<2).map { s in (0..<(o * i)).map { Float(($0 * 104_729 + s) % 997) / 498 - 1 } }
        let packed = ws.map { PackedMatrix(w_OI: $0, outputs: o, inputs: i) }
        let saved = Parallel.threads
        defer { Parallel.threads = saved }
        for threads in [1, 2] {
            Parallel.threads = threads
            let gate = UnsafeMutableBufferPointer<Float>.allocate(capacity: n * o)
            let up = UnsafeMutableBufferPointer<Float>.allocate(capacity: n * o)
            defer { gate.deallocate(); up.deallocate() }
            let seen = UnsafeMutableBufferPointer<Int>.allocate(capacity: o)  // pieces run on several threads
            defer { seen.deallocate() }
            seen.initialize(repeating: 0)
            let products = [InferenceProducts.Product(y: gate.baseAddress!, w: packed[0], b: nil),
                            InferenceProducts.Product(y: up.baseAddress!, w: packed[1], b: nil)]
            InferenceProducts.sideBySide(products, x_NI: x, n: n) { columns in
                for c in columns { seen[c] += 1 }
            }
            #expect(Array(seen) == [Int](repeating: 1, count: o))
            let expectedGate = Self.definition(x: x, w: ws[0], b: nil, n: n, i: i, o: o)
            let expectedUp = Self.definition(x: x, w: ws[1], b: nil, n: n, i: i, o: o)
            #expect(Array(gate).map(\.bitPattern) == expectedGate.map(\.bitPattern))
            #expect(Array(up).map(\.bitPattern) == expectedUp.map(\.bitPattern))
        }
    }

    /// Keys [t][d] (t < count) in the cache's layout: blocks of 16 positions, each [d][16], zeros
    /// past the end, room for `capacity` positions.
    static func blocked(_ keys: (Int, Int) -> Float, count: Int, headDim: Int, capacity: Int) -> [Float] {
        var out = [Float](repeating: 0, count: capacity * headDim)
        for t in 0..<count { for d in 0..<headDim { out[t / 16 * 16 * headDim + d * 16 + t % 16] = keys(t, d) } }
        return out
    }

    /// One query row's attention over a cache (keys in blocks of 16 positions, capacity a
    /// multiple of 16, zeros past the end) gives the bits of training's way: the scores as a
    /// product, the shared softmax, the weighted values as a product.
    @Test(arguments: [(1, 64), (15, 64), (16, 24), (17, 40), (33, 64), (100, 8), (130, 64), (200, 128)])
    func attentionRowIsTrainingsProducts(count: Int, headDim: Int) {
        let capacity = (count + 15) / 16 * 16 + 16
        let q: [Float] = (0..<headDim).map { Float(($0 * 7919) % 2003) / 1001 - 1 }
        func key(_ t: Int, _ d: Int) -> Float { Float((d * 31 + t * 17) % 97) / 48 - 1 }
        var keysT = [Float](repeating: 0, count: headDim * capacity)  // [d][t], for the reference product
        for d in 0..<headDim { for t in 0..<count { keysT[d * capacity + t] = key(t, d) } }
        let keys = Self.blocked(key, count: count, headDim: headDim, capacity: capacity)
        let values: [Float] = (0..<(capacity * headDim)).map { Float(($0 * 104_729) % 997) / 498 - 1 }
        let scale = 1 / Float(headDim).squareRoot()
        var scores = [Float](repeating: .nan, count: capacity), out = [Float](repeating: .nan, count: headDim)
        attention_row(&out, q, keys, values, count, keys, values, 0, headDim, scale, &scores)
        var expectedScores = [Float](repeating: 0, count: count), expected = [Float](repeating: 0, count: headDim)
        TrainingGEMM.multiply(m: 1, n: count, k: headDim, a: q, b: keysT, ldb: capacity, c: &expectedScores, threads: 1)
        softmax_row(&expectedScores, count - 1, count, scale)
        TrainingGEMM.multiply(m: 1, n: headDim, k: count, a: expectedScores, b: values, c: &expected, threads: 1)
        #expect(out.map(\.bitPattern) == expected.map(\.bitPattern))
        #expect(Array(scores[..<count]).map(\.bitPattern) == expectedScores.map(\.bitPattern))
        // Split into two runs (a forked cache's prefix and its own positions), anywhere: the
        // same bits.
        for split in Set([0, 1, count / 3, count / 2, count - 1, count].filter { $0 >= 0 && $0 <= count }) {
            let rest = count - split, restCapacity = (rest + 15) / 16 * 16 + 16
            let prefixKeys = Self.blocked(key, count: split, headDim: headDim, capacity: capacity)
            let restKeys = Self.blocked({ key(split + $0, $1) }, count: rest, headDim: headDim, capacity: restCapacity)
            let restValues = Array(values[(split * headDim)...]) + [Float](repeating: 0, count: 16)
            var splitScores = [Float](repeating: .nan, count: capacity + 16)
            var splitOut = [Float](repeating: .nan, count: headDim)
            attention_row(&splitOut, q, prefixKeys, values, split, restKeys, restValues, rest, headDim, scale, &splitScores)
            #expect(splitOut.map(\.bitPattern) == expected.map(\.bitPattern), "split at \(split)")
        }
    }
}
