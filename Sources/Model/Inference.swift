import CKernels
import Foundation

/// Keys and values of one sequence: per layer one contiguous buffer holding the keys, then the
/// values, written in place by every step (no copy-on-write arrays). Keys are stored in blocks
/// of 16 positions, [kvHeads, capacity / 16, headDim, 16], so that a query's scores are fma
/// chains over d that run down 16 keys per vector and the keys in use are contiguous
/// (`attention_row`); values are [kvHeads, capacity, headDim], the layout the weighted sum
/// reads. The capacity is a multiple of 16 and unused positions are zeros: the kernel reads a
/// last block whole.
///
/// A cache made by `fork` holds only the positions after its prefix: positions below
/// `prefixLength` are read from the cache it was forked from (the K samples of a problem share
/// one prefilled prompt instead of K copies of it).
public final class KVCache {
    let layers: Int, heads: Int, headDim: Int
    /// Room for positions from `prefixLength` on.
    public private(set) var capacity: Int
    private(set) var storage: [UnsafeMutablePointer<Float>] = []  // a layer's buffer each
    /// Every position, the prefix's included.
    public internal(set) var length = 0
    /// The cache holding positions 0..<prefixLength (nil: this one holds them all).
    let prefix: KVCache?
    let prefixLength: Int

    init(layers: Int, heads: Int, headDim: Int, capacity: Int, prefix: KVCache? = nil) {
        self.layers = layers
        self.heads = heads
        self.headDim = headDim
        self.capacity = Self.rounded(capacity)
        self.prefix = prefix
        prefixLength = prefix?.length ?? 0
        length = prefixLength
        storage = (0..<layers).map { [floats = layerFloats] _ in ZeroPages.allocate(floats: floats) }
    }

    private static func rounded(_ positions: Int) -> Int { max(16, (positions + 15) / 16 * 16) }

    /// Floats of a layer's buffer: its keys and values, and 16 more (the attention kernel reads
    /// a head's last value row in whole 16-float vectors).
    private var layerFloats: Int { 2 * heads * capacity * headDim + 16 }

    deinit { for buffer in storage { ZeroPages.free(buffer, floats: layerFloats) } }

    /// Keys of `head` in `layer`, in blocks of 16 positions: [capacity / 16, headDim, 16], from
    /// position `prefixLength`.
    func keys(_ layer: Int, head: Int) -> UnsafeMutablePointer<Float> { storage[layer] + head * capacity * headDim }
    /// Values of `head` in `layer`: [capacity, headDim], from position `prefixLength`.
    func values(_ layer: Int, head: Int) -> UnsafeMutablePointer<Float> {
        storage[layer] + (heads + head) * capacity * headDim
    }

    /// Writes the key and value rows [heads * headDim] of `position` (at or past the prefix).
    func store(_ layer: Int, at position: Int, keys k: ConstBuffer, values v: ConstBuffer) {
        let index = position - prefixLength
        precondition(index >= 0, "a forked cache cannot write into its prefix")
        for h in 0..<heads {
            let keys = self.keys(layer, head: h) + index / 16 * 16 * headDim + index % 16, key = k + h * headDim
            for j in 0..<headDim { keys[j * 16] = key[j] }
            (values(layer, head: h) + index * headDim).initialize(from: v + h * headDim, count: headDim)
        }
    }

    /// Copies this cache's own positions from `source`, its buffers before they grew.
    private func copyPositions(from source: [UnsafeMutablePointer<Float>], capacity from: Int) {
        let own = length - prefixLength
        let whole = (own + 15) / 16 * 16  // positions of the key blocks in use
        for l in 0..<layers {
            for h in 0..<heads {
                (storage[l] + h * capacity * headDim).update(from: source[l] + h * from * headDim, count: whole * headDim)
                (storage[l] + (heads + h) * capacity * headDim)
                    .update(from: source[l] + (heads + h) * from * headDim, count: own * headDim)
            }
        }
    }

    /// A cache that continues this one: its positions so far are the new cache's prefix, read
    /// from here, and the new cache has room for `capacity` positions after them. This cache may
    /// go on too (its later positions are past the fork's prefix); it stays alive as long as its
    /// forks.
    public func fork(capacity: Int) -> KVCache {
        precondition(prefix == nil, "fork a cache that holds all its positions")
        return KVCache(layers: layers, heads: heads, headDim: headDim, capacity: capacity, prefix: self)
    }

    /// Room for `needed` positions in all.
    func reserve(_ needed: Int) {
        guard needed - prefixLength > capacity else { return }
        let old = storage, oldCapacity = capacity, oldFloats = layerFloats
        capacity = Self.rounded(max(needed - prefixLength, capacity * 2))
        storage = (0..<layers).map { [floats = layerFloats] _ in ZeroPages.allocate(floats: floats) }
        copyPositions(from: old, capacity: oldCapacity)
        for buffer in old { ZeroPages.free(buffer, floats: oldFloats) }
    }
}

/// The activations of one cached forward call, kept between calls so that decoding allocates
/// nothing per step: buffers grow to the largest row count seen and are reused. One workspace
/// serves one caller at a time (the `Generator`, a benchmark loop).
public final class InferenceWorkspace {
    private(set) var rows = 0
    // [N, d], [N, qOut], [N, kvOut], [N, ff] rows of the current call.
    private(set) var x = Scratch(), normed = Scratch(), q = Scratch(), k = Scratch(), v = Scratch()
    private(set) var attended = Scratch(), projected = Scratch(), gate = Scratch(), up = Scratch(), hidden = Scratch()
    /// Attention scratch of each parallel part: one query row's scores [T rounded up to 16, + 16].
    private(set) var scores: [Scratch] = []
    /// RoPE rotations [position, headDim / 2], computed once per position.
    private(set) var cosines = Scratch(), sines = Scratch()
    private(set) var ropePositions = 0
    private var ropeShape: (headDim: Int, theta: Float) = (0, 0)

    public init() {}

    /// A growable buffer whose contents need not survive growth.
    struct Scratch {
        private(set) var pointer = UnsafeMutablePointer<Float>.allocate(capacity: 1)
        private(set) var count = 1

        mutating func reserve(_ needed: Int) {
            guard needed > count else { return }
            pointer.deallocate()
            count = max(needed, count * 2)
            pointer = .allocate(capacity: count)
        }

        func free() { pointer.deallocate() }
    }

    deinit {
        for scratch in [x, normed, q, k, v, attended, projected, gate, up, hidden, cosines, sines] + scores {
            scratch.free()
        }
    }

    func prepare(rows n: Int, config: ModelConfig, longest: Int, parts: Int) {
        let d = config.hiddenSize, ff = config.intermediateSize
        let qOut = config.heads * config.headDim, kvOut = config.kvHeads * config.headDim
        x.reserve(n * d); normed.reserve(n * d); projected.reserve(n * d)
        q.reserve(n * qOut); attended.reserve(n * qOut)
        k.reserve(n * kvOut); v.reserve(n * kvOut)
        gate.reserve(n * ff); up.reserve(n * ff); hidden.reserve(n * ff)
        while scores.count < parts { scores.append(Scratch()) }
        for part in 0..<parts { scores[part].reserve((longest + 15) / 16 * 16 + 16) }  // one row at a time
        rows = n
    }

    /// cos and sin of position * theta^(-2j/D) for every position below `positions`, computed
    /// exactly as `Kernels.rope` computes them (same Float expressions, so the same bits).
    func prepareRope(positions: Int, headDim: Int, theta: Float) {
        if (headDim, theta) != ropeShape { ropePositions = 0; ropeShape = (headDim, theta) }  // another model
        guard positions > ropePositions else { return }
        let half = headDim / 2
        let grown = max(positions, 2 * ropePositions)
        let oldCosines = cosines, oldSines = sines
        cosines = Scratch(); sines = Scratch()
        cosines.reserve(grown * half); sines.reserve(grown * half)
        if ropePositions > 0 {
            cosines.pointer.update(from: oldCosines.pointer, count: ropePositions * half)
            sines.pointer.update(from: oldSines.pointer, count: ropePositions * half)
        }
        oldCosines.free(); oldSines.free()
        for j in 0..<half {
            let frequency = Foundation.pow(theta, -Float(2 * j) / Float(headDim))
            for position in ropePositions..<grown {
                let angle = Float(position) * frequency
                cosines.pointer[position * half + j] = Foundation.cos(angle)
                sines.pointer[position * half + j] = Foundation.sin(angle)
            }
        }
        ropePositions = grown
    }
}

/// Every weight matrix cached inference multiplies by, packed once (`PackedMatrix`), by its
/// offset in the parameter buffer. A copy of those weights: memory for speed, freed when the
/// parameters change.
final class InferenceWeights: @unchecked Sendable {
    private let matrices: [Int: PackedMatrix]

    init(_ model: Transformer) {
        let config = model.config, d = config.hiddenSize, ff = config.intermediateSize
        let qOut = config.heads * config.headDim, kvOut = config.kvHeads * config.headDim
        var shapes: [(offset: Int, outputs: Int, inputs: Int)] = [(model.head, config.vocabSize, d)]
        for block in model.blocks {
            shapes += [(block.q, qOut, d), (block.k, kvOut, d), (block.v, kvOut, d), (block.o, d, qOut),
                       (block.up, ff, d), (block.down, d, ff)]
            if let gate = block.gate { shapes.append((gate, ff, d)) }
        }
        matrices = model.parameters.withUnsafeBufferPointer { p in
            Dictionary(uniqueKeysWithValues: shapes.map { shape in
                let w = p.baseAddress! + shape.offset
                return (shape.offset, PackedMatrix(w_OI: w, outputs: shape.outputs, inputs: shape.inputs))
            })
        }
    }

    subscript(offset: Int) -> PackedMatrix { matrices[offset]! }
}

extension Transformer {
    /// The packed weights, built now if the parameters changed since the last call.
    func inferenceWeights() -> InferenceWeights {
        inferenceWeightsLock.withLock {
            if let packed = packedInferenceWeights { return packed }
            let packed = InferenceWeights(self)
            packedInferenceWeights = packed
            return packed
        }
    }

    public func makeCache(capacity: Int = 64) -> KVCache {
        KVCache(layers: config.layers, heads: config.kvHeads, headDim: config.headDim, capacity: capacity)
    }

    /// Runs rows of tokens through the model with KV caches: row r is token `tokens[r]` at
    /// position `caches[r].length + (earlier rows of the same cache)`, appended to its cache.
    /// Rows of one cache must be consecutive (a prompt) and attend causally; rows of different
    /// caches are independent sequences decoded together, so every projection is one matrix
    /// product over all rows. Returns logits [rows listed in `logitRows`, vocab].
    ///
    /// A row's result does not depend on the other rows, the thread count or the CPU: the
    /// products (weights and attention's) run on training's kernel, one fma chain per element in
    /// ascending k, and norms and softmax are per-row loops in a fixed order (Swift never fuses a
    /// multiply and an add on its own).
    ///
    /// `workspace` keeps the activations between calls (a decoding loop passes the same one every
    /// step); without one, the call allocates its own.
    public func forward(tokens: [Int], caches: [KVCache], logitRows: [Int], workspace: InferenceWorkspace? = nil) -> [Float] {
        let n = tokens.count, d = config.hiddenSize
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
        let longest = (positions.max() ?? 0) + 1
        let work = workspace ?? InferenceWorkspace()
        work.prepare(rows: n, config: config, longest: longest, parts: Parallel.threads * Parallel.piecesPerThread)
        if config.architecture != .gpt2 {
            work.prepareRope(positions: longest, headDim: config.headDim, theta: config.ropeTheta)
        }
        var logits = [Float](repeating: 0, count: logitRows.count * config.vocabSize)
        let weights = inferenceWeights()
        parameters.withUnsafeBufferPointer { pb in
            let p = pb.baseAddress!
            let x_ND = work.x.pointer
            for (row, token) in tokens.enumerated() {
                let x = x_ND + row * d
                x.update(from: p + embedding + token * d, count: d)
                if let positionsOffset = self.positions {
                    let position = p + positionsOffset + positions[row] * d
                    for j in 0..<d { x[j] += position[j] }
                }
            }
            for (l, block) in blocks.enumerated() {
                inferenceBlock(layer: l, block, n: n, positions: positions, caches: caches, work: work, parameters: p,
                               weights: weights)
            }
            // The final norm and the head only for the rows whose logits are wanted (the norm is
            // per row, so the other rows need not be normalized).
            let selected_LD = work.normed.pointer
            for (i, r) in logitRows.enumerated() {
                inferenceNorm(selected_LD + i * d, x: x_ND + r * d, weight: p + finalNormW, bias: finalNormB.map { p + $0 })
            }
            logits.withUnsafeMutableBufferPointer { lb in
                InferenceProducts.linear(y_NO: lb.baseAddress!, x_NI: selected_LD, w: weights[head], b_O: nil,
                                         n: logitRows.count)
            }
        }
        for cache in caches { cache.length = next[ObjectIdentifier(cache)]! }
        return logits
    }

    /// One block on the workspace's rows x [N, d], in place: norm, q/k/v, RoPE, keys and values
    /// into the caches, attention over each row's cache, o, residual, norm, MLP, residual.
    private func inferenceBlock(layer l: Int, _ block: BlockOffsets, n: Int, positions: [Int], caches: [KVCache],
                                work: InferenceWorkspace, parameters p: ConstBuffer, weights: InferenceWeights) {
        let d = config.hiddenSize, ff = config.intermediateSize
        let hd = config.headDim, qOut = config.heads * hd, kvOut = config.kvHeads * hd
        let x_ND = work.x.pointer, normed_ND = work.normed.pointer, projected_ND = work.projected.pointer
        let q_NQ = work.q.pointer, k_NK = work.k.pointer, v_NK = work.v.pointer, attended_NQ = work.attended.pointer
        let norm1W = p + block.norm1W, norm1B = block.norm1B.map { p + $0 }
        forRows(n, cost: 4 * d) { rows in
            inferenceNorm(normed_ND + rows.lowerBound * d, x: x_ND + rows.lowerBound * d, rows: rows.count, weight: norm1W,
                          bias: norm1B)
        }
        InferenceProducts.linears([.init(y: q_NQ, w: weights[block.q], b: block.qB.map { p + $0 }),
                            .init(y: k_NK, w: weights[block.k], b: block.kB.map { p + $0 }),
                            .init(y: v_NK, w: weights[block.v], b: block.vB.map { p + $0 })], x_NI: normed_ND, n: n)
        // RoPE, then each row's keys and values into its cache at its position (rows write
        // disjoint places, so they can run in parallel; attention reads them after). Each key
        // value lands on a cache line of its own (keys are stored in blocks of 16 positions), a
        // line usually in memory, not in cache: about 64 multiply-adds' time per value. (Costed
        // as RoPE's arithmetic alone, this loop ran on one thread: 0.35 s of 7.8 s at 128
        // sequences of the 25.6M model.)
        let rope = config.architecture != .gpt2, half = hd / 2, heads = config.heads, kvHeads = config.kvHeads
        let cosines_PH = work.cosines.pointer, sines_PH = work.sines.pointer
        forRows(n, cost: 4 * (qOut + kvOut) + 64 * kvOut) { rows in
            for r in rows {
                let position = positions[r]
                if rope {
                    let cosines = cosines_PH + position * half, sines = sines_PH + position * half
                    rope_row(q_NQ + r * qOut, heads, hd, cosines, sines, 0)  // as `Kernels.rope`
                    rope_row(k_NK + r * kvOut, kvHeads, hd, cosines, sines, 0)
                }
                caches[r].store(l, at: position, keys: k_NK + r * kvOut, values: v_NK + r * kvOut)
            }
        }
        attend(layer: l, n: n, positions: positions, caches: caches, work: work)
        InferenceProducts.linear(y_NO: projected_ND, x_NI: attended_NQ, w: weights[block.o], b_O: block.oB.map { p + $0 },
                                 n: n)
        // Residual, then the second norm, row by row.
        let norm2W = p + block.norm2W, norm2B = block.norm2B.map { p + $0 }
        forRows(n, cost: 5 * d) { rows in
            for j in (rows.lowerBound * d)..<(rows.upperBound * d) { x_ND[j] += projected_ND[j] }
            inferenceNorm(normed_ND + rows.lowerBound * d, x: x_ND + rows.lowerBound * d, rows: rows.count, weight: norm2W,
                          bias: norm2B)
        }
        let up_NF = work.up.pointer, hidden_NF = work.hidden.pointer
        if let gateOffset = block.gate {
            let gate_NF = work.gate.pointer
            // gate and up, then SwiGLU (silu(gate) * up, the 16-lane kernel training uses, with our
            // own exp), by columns: each piece combines the columns it has just computed.
            InferenceProducts.sideBySide([.init(y: gate_NF, w: weights[gateOffset], b: nil),
                                   .init(y: up_NF, w: weights[block.up], b: block.upB.map { p + $0 })],
                                  x_NI: normed_ND, n: n) { columns in
                for r in 0..<n {
                    let start = r * ff + columns.lowerBound
                    swiglu_forward(hidden_NF + start, gate_NF + start, up_NF + start, columns.count)
                }
            }
        } else {
            InferenceProducts.linear(y_NO: up_NF, x_NI: normed_ND, w: weights[block.up], b_O: block.upB.map { p + $0 },
                                     n: n)
            // GELU, tanh approximation, as Kernels.geluForward.
            let scale: Float = (2 / Float.pi).squareRoot()
            forRows(n, cost: 16 * ff) { rows in
                for j in (rows.lowerBound * ff)..<(rows.upperBound * ff) {
                    let v = up_NF[j]
                    hidden_NF[j] = 0.5 * v * (1 + Foundation.tanh(scale * (v + 0.044715 * v * v * v)))
                }
            }
        }
        InferenceProducts.linear(y_NO: projected_ND, x_NI: hidden_NF, w: weights[block.down],
                                 b_O: block.downB.map { p + $0 }, n: n)
        forRows(n, cost: d) { rows in
            for j in (rows.lowerBound * d)..<(rows.upperBound * d) { x_ND[j] += projected_ND[j] }
        }
    }

    /// Runs `body` on ranges of the n rows: split among the threads when there is enough work
    /// (`cost` per row, in about multiply-adds) to pay for the hand-off, else on this thread.
    /// Rows are independent and each row's arithmetic is the same either way. The bar is 8 times
    /// that of the products: these loops are short, and on a shared machine a hand-off can wait
    /// for a core far longer than the loop takes.
    private func forRows(_ n: Int, cost: Int, _ body: (Range<Int>) -> Void) {
        Parallel.forRanges(n, parts: InferenceProducts.pieces(count: n, work: n * cost / 8), body)
    }

    /// The architecture's norm of `rows` consecutive rows: the row functions training's norms run.
    private func inferenceNorm(_ y: Buffer, x: ConstBuffer, rows: Int = 1, weight w: ConstBuffer, bias b: ConstBuffer?) {
        let c = config.hiddenSize, eps = config.normEps
        if let b {
            for r in 0..<rows { _ = Kernels.layerNormRow(y + r * c, x: x + r * c, w: w, b: b, c: c, eps: eps) }
        } else {
            rms_norm_rows(y, nil, x, w, rows, c, eps)
        }
    }

    /// Attention of every row over its cache up to and including its own position. Rows are
    /// independent, so parts of the rows run in parallel; each row's arithmetic is the same.
    private func attend(layer l: Int, n: Int, positions: [Int], caches: [KVCache], work: InferenceWorkspace) {
        let hd = config.headDim, qOut = config.heads * hd
        let cost = positions.reduce(0) { $0 + ($1 + 1) } * qOut * 2
        let parts = InferenceProducts.pieces(count: n, work: cost)
        let job = AttentionJob(model: self, layer: l, positions: positions, caches: caches, work: work, parts: parts, n: n)
        Parallel.run(parts: parts) { part in job.run(part) }
    }

    /// Rows [n * part / parts, n * (part + 1) / parts) of one layer's attention.
    private struct AttentionJob: @unchecked Sendable {
        let model: Transformer, layer: Int, positions: [Int], caches: [KVCache], work: InferenceWorkspace
        let parts: Int, n: Int

        func run(_ part: Int) {
            let config = model.config
            let hd = config.headDim, qOut = config.heads * hd
            let group = config.heads / config.kvHeads
            let scale = 1 / Float(hd).squareRoot()
            let scores = work.scores[part].pointer
            let q_NQ = work.q.pointer, attended_NQ = work.attended.pointer
            for r in (n * part / parts)..<(n * (part + 1) / parts) {
                let cache = caches[r], count = positions[r] + 1
                // Per KV head, each query head of its group against the cache (`attention_row`:
                // the chains and the softmax of training's attention), the prefix's positions
                // (a forked cache's) first.
                let prefix = cache.prefix ?? cache, split = cache.prefix == nil ? count : cache.prefixLength
                for kvHead in 0..<config.kvHeads {
                    let keys = cache.keys(layer, head: kvHead), values = cache.values(layer, head: kvHead)
                    let prefixKeys = prefix.keys(layer, head: kvHead), prefixValues = prefix.values(layer, head: kvHead)
                    for g in 0..<group {
                        let q0 = r * qOut + (kvHead * group + g) * hd
                        attention_row(attended_NQ + q0, q_NQ + q0, prefixKeys, prefixValues, split, keys, values,
                                      count - split, hd, scale, scores)
                    }
                }
            }
        }
    }
}
