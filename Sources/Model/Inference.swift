import Foundation

/// Keys and values of one sequence, per layer: [capacity, kvHeads * headDim] each.
public final class KVCache {
    let width: Int
    public private(set) var capacity: Int
    var keys: [[Float]]
    var values: [[Float]]
    public internal(set) var length = 0

    init(layers: Int, width: Int, capacity: Int) {
        self.width = width
        self.capacity = capacity
        keys = Array(repeating: [Float](repeating: 0, count: capacity * width), count: layers)
        values = keys
    }

    /// An independent copy (the K samples of a problem share one prefill).
    public func copy() -> KVCache {
        let clone = KVCache(layers: 0, width: width, capacity: 0)
        clone.capacity = capacity
        clone.keys = keys
        clone.values = values
        clone.length = length
        return clone
    }

    func reserve(_ needed: Int) {
        guard needed > capacity else { return }
        let grown = max(needed, capacity * 2)
        for l in keys.indices {
            keys[l] += [Float](repeating: 0, count: (grown - capacity) * width)
            values[l] += [Float](repeating: 0, count: (grown - capacity) * width)
        }
        capacity = grown
    }
}

extension Transformer {
    public func makeCache(capacity: Int = 64) -> KVCache {
        KVCache(layers: config.layers, width: config.kvHeads * config.headDim, capacity: capacity)
    }

    /// Runs rows of tokens through the model with KV caches: row r is token `tokens[r]` at
    /// position `caches[r].length + (earlier rows of the same cache)`, appended to its cache.
    /// Rows of one cache must be consecutive (a prompt) and attend causally; rows of different
    /// caches are independent sequences decoded together, so every projection is one matrix
    /// product over all rows. Returns logits [rows listed in `logitRows`, vocab].
    ///
    /// A row's result does not depend on the other rows, the thread count or the CPU: the
    /// products run on `FixedOrder.linear`, and attention, norms and softmax are per-row loops in
    /// a fixed order (Swift never fuses a multiply and an add on its own).
    public func forward(tokens: [Int], caches: [KVCache], logitRows: [Int]) -> [Float] {
        let n = tokens.count, d = config.hiddenSize
        let hd = config.headDim, qOut = config.heads * hd, kvOut = config.kvHeads * hd
        let group = config.heads / config.kvHeads
        // Position of each row, and reserve cache room.
        var positions = [Int](repeating: 0, count: n)
        var next: [ObjectIdentifier: Int] = [:]
        for (r, cache) in caches.enumerated() {
            let id = ObjectIdentifier(cache)
            let position = next[id] ?? cache.length
            positions[r] = position
            next[id] = position + 1
        }
        for cache in caches { cache.reserve(next[ObjectIdentifier(cache)]!) }
        var logits = [Float](repeating: 0, count: logitRows.count * config.vocabSize)
        parameters.withUnsafeBufferPointer { pb in
            let p = pb.baseAddress!
            var x = embed(tokens, positions: positions, parameters: p)
            let longest = (positions.max() ?? 0) + 1
            var scores = [Float](repeating: 0, count: group * longest), weights = [Float](repeating: 0, count: longest)
            let scale = 1 / Float(hd).squareRoot()
            for (l, block) in blocks.enumerated() {
                _ = blockForward(&x, block, n: n, positions: positions, parameters: p, fixedOrder: true) { q, k, v in
                    // Append each row's keys and values to its cache, then attend over the cache
                    // up to and including the row's own position.
                    for r in 0..<n {
                        let cache = caches[r], base = positions[r] * kvOut
                        for j in 0..<kvOut {
                            cache.keys[l][base + j] = k[r * kvOut + j]
                            cache.values[l][base + j] = v[r * kvOut + j]
                        }
                    }
                    // Per row and KV head: the group's query heads (consecutive in q) against the
                    // cache up to and including the row's own position, softmax, weighted values.
                    var attended = [Float](repeating: 0, count: n * qOut)
                    q.withUnsafeBufferPointer { qb in
                        attended.withUnsafeMutableBufferPointer { ab in
                            for r in 0..<n {
                                let cache = caches[r], count = positions[r] + 1
                                cache.keys[l].withUnsafeBufferPointer { keys in
                                    cache.values[l].withUnsafeBufferPointer { values in
                                        for kvHead in 0..<config.kvHeads {
                                            let q0 = r * qOut + kvHead * group * hd
                                            FixedOrder.scores(&scores, q_RD: qb.baseAddress! + q0, keys: keys.baseAddress! + kvHead * hd,
                                                              stride: kvOut, rows: group, headDim: hd, count: count)
                                            for g in 0..<group {
                                                let row = g * count
                                                var maximum = -Float.infinity
                                                for t in 0..<count { scores[row + t] *= scale; maximum = max(maximum, scores[row + t]) }
                                                var sum: Float = 0
                                                for t in 0..<count { weights[t] = Foundation.exp(scores[row + t] - maximum); sum += weights[t] }
                                                for t in 0..<count { weights[t] /= sum }
                                                FixedOrder.weightedSum(ab.baseAddress! + q0 + g * hd, weights_T: weights,
                                                                       values: values.baseAddress! + kvHead * hd, stride: kvOut,
                                                                       count: count, width: hd)
                                            }
                                        }
                                    }
                                }
                            }
                        }
                    }
                    return attended
                }
            }
            var normed = [Float](repeating: 0, count: n * d), mean = [Float](repeating: 0, count: n), rstd = [Float](repeating: 0, count: n)
            normForward(&normed, mean: &mean, rstd: &rstd, x: x, weight: finalNormW, bias: finalNormB, n: n, parameters: p)
            var selected = [Float](repeating: 0, count: logitRows.count * d)
            for (i, r) in logitRows.enumerated() { for j in 0..<d { selected[i * d + j] = normed[r * d + j] } }
            FixedOrder.linear(y_NO: &logits, x_NI: selected, w_OI: p + head, b_O: nil, n: logitRows.count, i: d, o: config.vocabSize)
        }
        for cache in caches { cache.length = next[ObjectIdentifier(cache)]! }
        return logits
    }
}
