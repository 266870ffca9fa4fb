import Foundation
import Testing
@testable import Model

@Suite struct PickTokenTests {
    /// The earlier implementation, kept as the reference: every candidate sorted by logit (id on
    /// ties), then top-k, softmax, top-p and the draw, all in that order.
    static func fullSort(_ logits: ArraySlice<Float>, _ parameters: SamplingParameters, _ random: inout SampleRandom) -> Int {
        let base = logits.startIndex
        var candidates = logits.indices.map { (id: $0 - base, logit: logits[$0] / parameters.temperature) }
        candidates.sort { $0.logit != $1.logit ? $0.logit > $1.logit : $0.id < $1.id }
        if parameters.topK > 0 && parameters.topK < candidates.count { candidates.removeLast(candidates.count - parameters.topK) }
        let maximum = candidates[0].logit
        var weights = candidates.map { Double(Foundation.exp($0.logit - maximum)) }
        let total = weights.reduce(0, +)
        weights = weights.map { $0 / total }
        if parameters.topP < 1 {
            var cumulative = 0.0, keep = 0
            while keep < weights.count { cumulative += weights[keep]; keep += 1; if cumulative >= Double(parameters.topP) { break } }
            weights.removeLast(weights.count - keep)
            let kept = weights.reduce(0, +)
            weights = weights.map { $0 / kept }
        }
        var draw = random.next()
        for (i, weight) in weights.enumerated() {
            draw -= weight
            if draw < 0 { return candidates[i].id }
        }
        return candidates[weights.count - 1].id
    }

    /// The partial selection picks exactly the token the full sort picks, for the same draw, on
    /// random logits with many ties (few distinct values, +0 and -0), huge ranges, top-k from 1 to
    /// past the vocabulary, top-p and temperatures.
    @Test func pickTokenEqualsTheFullSort() {
        var state: UInt64 = 12345
        func next() -> UInt64 {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return state >> 11
        }
        var compared = 0
        for trial in 0..<600 {
            let vocab = [1, 2, 7, 19, 100, 512, 3000][trial % 7]
            let logits: [Float] = (0..<vocab).map { _ in
                switch trial % 4 {
                case 0: return Float(Int(next() % 5)) - 2  // ties
                case 1: return next() % 3 == 0 ? (next() % 2 == 0 ? 0 : -0.0) : Float(Int(next() % 7)) / 4
                case 2: return Float(Double(next() % 100_000) / 1000 - 50)
                default: return Float(Double(next() % 1_000_000) / 10 - 50_000)  // mostly one token
                }
            }
            var parameters = SamplingParameters()
            parameters.temperature = [1, 0.7, 1.3, 0.05][trial % 4 == 0 ? (trial / 4) % 4 : trial % 3]
            parameters.topK = [0, 1, 5, 40, vocab, vocab + 3][(trial / 7) % 6]
            parameters.topP = [1, 0.95, 0.5, 0.0001][(trial / 3) % 4]
            let slice = logits[...]
            // Logits inside a larger array too (a slice not starting at 0).
            let padded = [Float](repeating: 9, count: 3) + logits
            for sample in 0..<4 {
                var a = SampleRandom(seed: UInt64(trial), id: "p", sample: sample), b = a, c = a
                let expected = Self.fullSort(slice, parameters, &a)
                #expect(pickToken(slice, parameters, &b) == expected, "trial \(trial) sample \(sample)")
                #expect(pickToken(padded[3...], parameters, &c) == expected, "trial \(trial) sample \(sample), offset")
                compared += 1
            }
        }
        #expect(compared == 2400)
    }

    /// The radix sort gives `sort`'s order on candidate keys built in id order, ties included.
    @Test func radixSortEqualsSort() {
        var state: UInt64 = 99
        for (count, distinct) in [(1023, 5), (1024, 3), (5000, 1), (5000, 50), (70_000, 100_000)] {
            var keys = (0..<count).map { id in
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                let logit = Float(Int(state >> 33) % distinct) / 7 - Float(distinct) / 14
                return candidateKey(logit: logit, id: id)
            }
            let expected = keys.sorted()
            sortKeysInIDOrder(&keys)
            #expect(keys == expected, "count \(count)")
        }
    }

    /// Quickselect leaves the k smallest keys in front.
    @Test func selectSmallestKeepsTheKSmallest() {
        var state: UInt64 = 7
        for n in [1, 2, 3, 10, 257] {
            for k in Set([1, 2, n / 2, n - 1, n].filter { $0 >= 1 && $0 <= n }) {
                var keys: [UInt64] = (0..<n).map { i in
                    state = state &* 6_364_136_223_846_793_005 &+ 1
                    return (state >> 40) << 32 | UInt64(i)
                }
                let expected = keys.sorted().prefix(k)
                selectSmallest(&keys, k)
                #expect(keys.prefix(k).sorted() == Array(expected), "n \(n) k \(k)")
            }
        }
    }
}
