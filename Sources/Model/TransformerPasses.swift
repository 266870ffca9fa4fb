import Foundation

/// What one block computes over its N rows, in order. Training keeps it for the backward pass;
/// cached inference drops it.
struct BlockActivations {
    var norm1: [Float], mean1: [Float], rstd1: [Float]
    var q: [Float], k: [Float], v: [Float]        // after RoPE
    var attention: [Float]                         // [N, heads * headDim]
    var middle: [Float]                            // residual after attention [N, d]
    var norm2: [Float], mean2: [Float], rstd2: [Float]
    var gate: [Float], up: [Float], hidden: [Float]
}

/// Activations of one training step, kept for the backward pass. N = batch x seq rows.
final class Activations {
    let n: Int
    var residual: [[Float]] = []   // input of each block [N, d], plus the final output
    var blocks: [BlockActivations] = []
    var probs: [[Float]] = []      // attention probabilities per block [batch, heads, seq, seq]
    var finalNorm: [Float] = [], finalMean: [Float] = [], finalRstd: [Float] = []

    init(n: Int) { self.n = n }
}

extension Transformer {
    /// Mean cross-entropy over target tokens (targets < 0 are ignored) and, with
    /// `computeGradients`, the gradients of that mean in `gradients` (overwritten).
    /// `tokens` and `targets` are [batch * seq], row-major by sequence.
    @discardableResult
    public func step(tokens: [Int], targets: [Int], batch: Int, seq: Int, computeGradients: Bool = true) -> (loss: Double, targetCount: Int) {
        precondition(tokens.count == batch * seq && targets.count == tokens.count)
        let acts = Activations(n: batch * seq)
        forwardBody(tokens: tokens, batch: batch, seq: seq, acts: acts)
        if computeGradients {
            gradients.withUnsafeMutableBufferPointer { $0.update(repeating: 0) }
        }
        let count = targets.filter { $0 >= 0 }.count
        var dFinal = [Float](repeating: 0, count: computeGradients ? acts.n * config.hiddenSize : 0)
        let total = dFinal.withUnsafeMutableBufferPointer { buffer in
            head(acts: acts, targets: targets, count: count, dFinal: computeGradients ? buffer.baseAddress : nil)
        }
        if computeGradients {
            backwardBody(tokens: tokens, batch: batch, seq: seq, acts: acts, dFinal: dFinal)
        }
        return (count > 0 ? total / Double(count) : 0, count)
    }

    /// Logits [batch * seq, vocab] of every position (for evaluation and reference decoding).
    public func logits(tokens: [Int], batch: Int, seq: Int) -> [Float] {
        let acts = Activations(n: batch * seq)
        forwardBody(tokens: tokens, batch: batch, seq: seq, acts: acts)
        let v = config.vocabSize, d = config.hiddenSize
        var out = [Float](repeating: 0, count: acts.n * v)
        parameters.withUnsafeBufferPointer { p in
            Kernels.linearForward(y_NO: &out, x_NI: acts.finalNorm, w_OI: p.baseAddress! + head, b_O: nil, n: acts.n, i: d, o: v)
        }
        return out
    }

    // MARK: forward

    private func forwardBody(tokens: [Int], batch: Int, seq: Int, acts: Activations) {
        let n = batch * seq, d = config.hiddenSize, qOut = config.heads * config.headDim
        let positionOfRow = (0..<n).map { $0 % seq }
        parameters.withUnsafeBufferPointer { pb in
            let p = pb.baseAddress!
            var x = embed(tokens, positions: positionOfRow, parameters: p)
            for block in blocks {
                acts.residual.append(x)
                var probs: [Float] = []
                acts.blocks.append(blockForward(&x, block, n: n, positions: positionOfRow, parameters: p) { q, k, v in
                    probs = [Float](repeating: 0, count: batch * config.heads * seq * seq)
                    var att = [Float](repeating: 0, count: n * qOut)
                    Kernels.attentionForward(out: &att, probs_BHTT: &probs, q: q, k: k, v: v, batch: batch, seq: seq,
                                             heads: config.heads, kvHeads: config.kvHeads, headDim: config.headDim)
                    return att
                })
                acts.probs.append(probs)
            }
            acts.residual.append(x)
            acts.finalNorm = [Float](repeating: 0, count: n * d)
            acts.finalMean = [Float](repeating: 0, count: n)
            acts.finalRstd = [Float](repeating: 0, count: n)
            normForward(&acts.finalNorm, mean: &acts.finalMean, rstd: &acts.finalRstd, x: x, weight: finalNormW, bias: finalNormB,
                        n: n, parameters: p)
        }
    }

    /// Token embeddings [N, d] of the rows, plus learned position embeddings (gpt2).
    func embed(_ tokens: [Int], positions rowPositions: [Int], parameters p: UnsafePointer<Float>) -> [Float] {
        let d = config.hiddenSize
        var x = [Float](repeating: 0, count: tokens.count * d)
        for (row, token) in tokens.enumerated() {
            for j in 0..<d { x[row * d + j] = p[embedding + token * d + j] }
            if let positions { for j in 0..<d { x[row * d + j] += p[positions + rowPositions[row] * d + j] } }
        }
        return x
    }

    /// One block on the rows `x` [N, d], updated in place, with RoPE at `positions`. `attend`
    /// turns q [N, heads * headDim] and k, v [N, kvHeads * headDim] into the attention output:
    /// over the batch's own sequences in training, over each row's KV cache in inference.
    /// `fixedOrder` (inference) runs the matrix products on `FixedOrder.linear`, whose rows do not
    /// depend on each other; training keeps BLAS.
    func blockForward(_ x: inout [Float], _ block: BlockOffsets, n: Int, positions: [Int], parameters p: UnsafePointer<Float>,
                      fixedOrder: Bool = false,
                      attend: (_ q: [Float], _ k: [Float], _ v: [Float]) -> [Float]) -> BlockActivations {
        let linear = fixedOrder ? FixedOrder.linear : Kernels.linearForward
        let d = config.hiddenSize, ff = config.intermediateSize
        let hd = config.headDim, qOut = config.heads * hd, kvOut = config.kvHeads * hd
        var n1 = [Float](repeating: 0, count: n * d), mean1 = [Float](repeating: 0, count: n), rstd1 = [Float](repeating: 0, count: n)
        normForward(&n1, mean: &mean1, rstd: &rstd1, x: x, weight: block.norm1W, bias: block.norm1B, n: n, parameters: p)
        var q = [Float](repeating: 0, count: n * qOut), k = [Float](repeating: 0, count: n * kvOut), v = [Float](repeating: 0, count: n * kvOut)
        linear(&q, n1, p + block.q, block.qB.map { p + $0 }, n, d, qOut)
        linear(&k, n1, p + block.k, block.kB.map { p + $0 }, n, d, kvOut)
        linear(&v, n1, p + block.v, block.vB.map { p + $0 }, n, d, kvOut)
        if config.architecture != .gpt2 {
            Kernels.rope(&q, positions: positions, heads: config.heads, headDim: hd, theta: config.ropeTheta)
            Kernels.rope(&k, positions: positions, heads: config.kvHeads, headDim: hd, theta: config.ropeTheta)
        }
        let attention = attend(q, k, v)
        var projected = [Float](repeating: 0, count: n * d)
        linear(&projected, attention, p + block.o, block.oB.map { p + $0 }, n, qOut, d)
        for i in 0..<(n * d) { x[i] += projected[i] }
        let middle = x
        var n2 = [Float](repeating: 0, count: n * d), mean2 = [Float](repeating: 0, count: n), rstd2 = [Float](repeating: 0, count: n)
        normForward(&n2, mean: &mean2, rstd: &rstd2, x: x, weight: block.norm2W, bias: block.norm2B, n: n, parameters: p)
        var up = [Float](repeating: 0, count: n * ff), hidden = [Float](repeating: 0, count: n * ff)
        var gate: [Float] = []
        linear(&up, n2, p + block.up, block.upB.map { p + $0 }, n, d, ff)
        if let gateOffset = block.gate {
            gate = [Float](repeating: 0, count: n * ff)
            linear(&gate, n2, p + gateOffset, nil, n, d, ff)
            Kernels.swigluForward(h_NF: &hidden, gate_NF: gate, up_NF: up, count: n * ff)
        } else {
            Kernels.geluForward(y: &hidden, x: up, count: n * ff)
        }
        linear(&projected, hidden, p + block.down, block.downB.map { p + $0 }, n, ff, d)
        for i in 0..<(n * d) { x[i] += projected[i] }
        return BlockActivations(norm1: n1, mean1: mean1, rstd1: rstd1, q: q, k: k, v: v, attention: attention, middle: middle,
                                norm2: n2, mean2: mean2, rstd2: rstd2, gate: gate, up: up, hidden: hidden)
    }

    /// The LM head fused with the loss, 128 rows at a time: logits, cross-entropy, and (with
    /// `dFinal`) the gradient into the final norm output and the head weight.
    private func head(acts: Activations, targets: [Int], count: Int, dFinal: UnsafeMutablePointer<Float>?) -> Double {
        let n = acts.n, d = config.hiddenSize, v = config.vocabSize
        let chunk = 128
        var logits = [Float](repeating: 0, count: chunk * v)
        var total = 0.0
        let scale: Float? = dFinal == nil ? nil : 1 / Float(max(count, 1))
        parameters.withUnsafeBufferPointer { pb in
            gradients.withUnsafeMutableBufferPointer { gb in
                acts.finalNorm.withUnsafeBufferPointer { xb in
                    var start = 0
                    while start < n {
                        let rows = min(chunk, n - start)
                        let x = xb.baseAddress! + start * d
                        Kernels.linearForward(y_NO: &logits, x_NI: x, w_OI: pb.baseAddress! + head, b_O: nil, n: rows, i: d, o: v)
                        total += Kernels.crossEntropySum(logits_NV: &logits, targets: targets[start..<(start + rows)], n: rows, v: v, gradientScale: scale)
                        if let dFinal {
                            Kernels.linearBackward(dx_NI: dFinal + start * d, dw_OI: gb.baseAddress! + head, db_O: nil, dy_NO: logits,
                                                   x_NI: x, w_OI: pb.baseAddress! + head, n: rows, i: d, o: v)
                        }
                        start += rows
                    }
                }
            }
        }
        return total
    }

    // MARK: backward

    private func backwardBody(tokens: [Int], batch: Int, seq: Int, acts: Activations, dFinal: [Float]) {
        let n = batch * seq, d = config.hiddenSize, ff = config.intermediateSize
        let hd = config.headDim, qOut = config.heads * hd, kvOut = config.kvHeads * hd
        let positionOfRow = (0..<n).map { $0 % seq }
        let isGPT2 = config.architecture == .gpt2
        parameters.withUnsafeBufferPointer { pb in
            gradients.withUnsafeMutableBufferPointer { gb in
                let p = pb.baseAddress!, g = gb.baseAddress!
                var dx = [Float](repeating: 0, count: n * d)
                normBackward(dx: &dx, dy: dFinal, x: acts.residual.last!, mean: acts.finalMean, rstd: acts.finalRstd,
                             weight: finalNormW, bias: finalNormB, n: n, parameters: p, gradients: g)
                var scratchD = [Float](repeating: 0, count: n * d)
                var dHidden = [Float](repeating: 0, count: n * ff), dUp = [Float](repeating: 0, count: n * ff), dGate = [Float](repeating: 0, count: n * ff)
                var dN = [Float](repeating: 0, count: n * d)
                var dAtt = [Float](repeating: 0, count: n * qOut)
                var dq = [Float](repeating: 0, count: n * qOut), dk = [Float](repeating: 0, count: n * kvOut), dv = [Float](repeating: 0, count: n * kvOut)
                for (l, block) in blocks.enumerated().reversed() {
                    // MLP: x = middle + down(act(n2)).
                    Kernels.linearBackward(dx_NI: &dHidden, dw_OI: g + block.down, db_O: block.downB.map { g + $0 }, dy_NO: dx,
                                           x_NI: acts.blocks[l].hidden, w_OI: p + block.down, n: n, i: ff, o: d)
                    if let gateOffset = block.gate {
                        Kernels.swigluBackward(dgate_NF: &dGate, dup_NF: &dUp, dh_NF: dHidden, gate_NF: acts.blocks[l].gate, up_NF: acts.blocks[l].up, count: n * ff)
                        Kernels.linearBackward(dx_NI: &dN, dw_OI: g + gateOffset, db_O: nil, dy_NO: dGate, x_NI: acts.blocks[l].norm2,
                                               w_OI: p + gateOffset, n: n, i: d, o: ff)
                        Kernels.linearBackward(dx_NI: &dN, dw_OI: g + block.up, db_O: nil, dy_NO: dUp, x_NI: acts.blocks[l].norm2,
                                               w_OI: p + block.up, n: n, i: d, o: ff, accumulateInput: true)
                    } else {
                        Kernels.geluBackward(dx: &dUp, dy: dHidden, x: acts.blocks[l].up, count: n * ff)
                        Kernels.linearBackward(dx_NI: &dN, dw_OI: g + block.up, db_O: block.upB.map { g + $0 }, dy_NO: dUp,
                                               x_NI: acts.blocks[l].norm2, w_OI: p + block.up, n: n, i: d, o: ff)
                    }
                    normBackward(dx: &scratchD, dy: dN, x: acts.blocks[l].middle, mean: acts.blocks[l].mean2, rstd: acts.blocks[l].rstd2,
                                 weight: block.norm2W, bias: block.norm2B, n: n, parameters: p, gradients: g)
                    for i in 0..<(n * d) { dx[i] += scratchD[i] }
                    // Attention: middle = residual + o(attention(q, k, v)).
                    Kernels.linearBackward(dx_NI: &dAtt, dw_OI: g + block.o, db_O: block.oB.map { g + $0 }, dy_NO: dx, x_NI: acts.blocks[l].attention,
                                           w_OI: p + block.o, n: n, i: qOut, o: d)
                    Kernels.attentionBackward(dq: &dq, dk: &dk, dv: &dv, dout: dAtt, probs_BHTT: acts.probs[l], q: acts.blocks[l].q, k: acts.blocks[l].k, v: acts.blocks[l].v,
                                              batch: batch, seq: seq, heads: config.heads, kvHeads: config.kvHeads, headDim: hd)
                    if !isGPT2 {
                        Kernels.rope(&dq, positions: positionOfRow, heads: config.heads, headDim: hd, theta: config.ropeTheta, inverse: true)
                        Kernels.rope(&dk, positions: positionOfRow, heads: config.kvHeads, headDim: hd, theta: config.ropeTheta, inverse: true)
                    }
                    Kernels.linearBackward(dx_NI: &dN, dw_OI: g + block.q, db_O: block.qB.map { g + $0 }, dy_NO: dq, x_NI: acts.blocks[l].norm1,
                                           w_OI: p + block.q, n: n, i: d, o: qOut)
                    Kernels.linearBackward(dx_NI: &dN, dw_OI: g + block.k, db_O: block.kB.map { g + $0 }, dy_NO: dk, x_NI: acts.blocks[l].norm1,
                                           w_OI: p + block.k, n: n, i: d, o: kvOut, accumulateInput: true)
                    Kernels.linearBackward(dx_NI: &dN, dw_OI: g + block.v, db_O: block.vB.map { g + $0 }, dy_NO: dv, x_NI: acts.blocks[l].norm1,
                                           w_OI: p + block.v, n: n, i: d, o: kvOut, accumulateInput: true)
                    normBackward(dx: &scratchD, dy: dN, x: acts.residual[l], mean: acts.blocks[l].mean1, rstd: acts.blocks[l].rstd1,
                                 weight: block.norm1W, bias: block.norm1B, n: n, parameters: p, gradients: g)
                    for i in 0..<(n * d) { dx[i] += scratchD[i] }
                }
                for row in 0..<n {
                    let token = tokens[row]
                    for j in 0..<d { g[embedding + token * d + j] += dx[row * d + j] }
                    if let positions { for j in 0..<d { g[positions + positionOfRow[row] * d + j] += dx[row * d + j] } }
                }
            }
        }
    }
}
