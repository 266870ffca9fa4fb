import Foundation

extension Transformer {
    /// Mean cross-entropy over target tokens (targets < 0 are ignored) and, with
    /// `computeGradients`, the gradients of that mean in `gradients` (overwritten).
    /// `tokens` and `targets` are [batch * seq], row-major by sequence.
    @discardableResult
    public func step(tokens: [Int], targets: [Int], batch: Int, seq: Int, computeGradients: Bool = true) -> (loss: Double, targetCount: Int) {
        precondition(tokens.count == batch * seq && targets.count == tokens.count)
        let work = workspace(batch: batch, seq: seq)
        forwardBody(tokens: tokens, batch: batch, seq: seq, work: work)
        if computeGradients {
            gradients.withUnsafeMutableBufferPointer { Parallel.zero($0.baseAddress!, count: $0.count) }
        }
        let count = targets.filter { $0 >= 0 }.count
        let total = head(work: work, n: batch * seq, targets: targets, count: count, computeGradients: computeGradients)
        if computeGradients {
            backwardBody(tokens: tokens, batch: batch, seq: seq, work: work)
        }
        return (count > 0 ? total / Double(count) : 0, count)
    }

    /// Logits [batch * seq, vocab] of every position (for evaluation and reference decoding).
    public func logits(tokens: [Int], batch: Int, seq: Int) -> [Float] {
        let work = workspace(batch: batch, seq: seq)
        forwardBody(tokens: tokens, batch: batch, seq: seq, work: work)
        let n = batch * seq, v = config.vocabSize, d = config.hiddenSize
        var out = [Float](repeating: 0, count: n * v)
        parameters.withUnsafeBufferPointer { p in
            Kernels.linearForward(y_NO: &out, x_NI: work.finalNorm, w_OI: p.baseAddress! + head, b_O: nil, n: n, i: d, o: v)
        }
        return out
    }

    /// The workspace of the last step if this one fits in it, else a new one (the old one freed
    /// first, so two never coexist). Sequences are padded to the longest of their batch, so the
    /// length varies from step to step: room is made for a multiple of 64 positions (at most the
    /// model's context), or a run would reallocate, and fault in fresh pages, at every new maximum.
    private func workspace(batch: Int, seq: Int) -> TrainingWorkspace {
        if let work = trainingWorkspace, work.fits(batch: batch, seq: seq, heads: config.heads) { return work }
        trainingWorkspace = nil
        let room = max(seq, min(config.maxPositions, (seq + 63) / 64 * 64))
        let work = TrainingWorkspace(config: config, rows: batch * room, batch: batch, seq: room)
        trainingWorkspace = work
        return work
    }

    // MARK: forward

    private func forwardBody(tokens: [Int], batch: Int, seq: Int, work: TrainingWorkspace) {
        let n = batch * seq
        parameters.withUnsafeBufferPointer { pb in
            let p = pb.baseAddress!
            embed(tokens, seq: seq, into: work.residual[0], parameters: p)
            for (l, block) in blocks.enumerated() {
                trainingBlockForward(block, work.blocks[l], x: work.residual[l], out: work.residual[l + 1],
                                     batch: batch, seq: seq, rope: work.rope, parameters: p)
            }
            normForward(work.finalNorm, mean: work.finalMean, rstd: work.finalRstd, x: work.residual[blocks.count],
                        weight: finalNormW, bias: finalNormB, n: n, parameters: p)
        }
    }

    /// Token embeddings of the rows (row r at position r % seq), plus learned positions (gpt2).
    private func embed(_ tokens: [Int], seq: Int, into x: Buffer, parameters p: UnsafePointer<Float>) {
        let d = config.hiddenSize
        for (row, token) in tokens.enumerated() {
            (x + row * d).update(from: p + embedding + token * d, count: d)
            if let positions {
                let position = p + positions + (row % seq) * d
                for j in 0..<d { x[row * d + j] += position[j] }
            }
        }
    }

    /// One block of a training step: reads the rows `x` [N, d], writes `out` [N, d] and every
    /// activation the backward pass needs into `saved`.
    private func trainingBlockForward(_ block: BlockOffsets, _ saved: BlockActivations, x: ConstBuffer, out: Buffer,
                                      batch: Int, seq: Int, rope: RopeTable?, parameters p: UnsafePointer<Float>) {
        let n = batch * seq, d = config.hiddenSize, ff = config.intermediateSize
        let hd = config.headDim, qOut = config.heads * hd, kvOut = config.kvHeads * hd
        normForward(saved.norm1, mean: saved.mean1, rstd: saved.rstd1, x: x, weight: block.norm1W, bias: block.norm1B, n: n,
                    parameters: p)
        Kernels.linearForward(y_NO: saved.q, x_NI: saved.norm1, w_OI: p + block.q, b_O: block.qB.map { p + $0 }, n: n, i: d, o: qOut)
        Kernels.linearForward(y_NO: saved.k, x_NI: saved.norm1, w_OI: p + block.k, b_O: block.kB.map { p + $0 }, n: n, i: d, o: kvOut)
        Kernels.linearForward(y_NO: saved.v, x_NI: saved.norm1, w_OI: p + block.v, b_O: block.vB.map { p + $0 }, n: n, i: d, o: kvOut)
        if let rope {
            rope.apply(saved.q, rows: n, seq: seq, heads: config.heads)
            rope.apply(saved.k, rows: n, seq: seq, heads: config.kvHeads)
        }
        Kernels.attentionForward(out: saved.attention, probs_BHTT: saved.probs, q: saved.q, k: saved.k, v: saved.v,
                                 batch: batch, seq: seq, heads: config.heads, kvHeads: config.kvHeads, headDim: hd)
        // middle = x + o(attention): the product continues from the residual.
        Parallel.copy(saved.middle, from: x, count: n * d)
        Kernels.linearForward(y_NO: saved.middle, x_NI: saved.attention, w_OI: p + block.o, b_O: block.oB.map { p + $0 },
                              n: n, i: qOut, o: d, accumulate: true)
        normForward(saved.norm2, mean: saved.mean2, rstd: saved.rstd2, x: saved.middle, weight: block.norm2W, bias: block.norm2B,
                    n: n, parameters: p)
        Kernels.linearForward(y_NO: saved.up, x_NI: saved.norm2, w_OI: p + block.up, b_O: block.upB.map { p + $0 }, n: n, i: d, o: ff)
        if let gateOffset = block.gate, let gate = saved.gate {
            Kernels.linearForward(y_NO: gate, x_NI: saved.norm2, w_OI: p + gateOffset, b_O: nil, n: n, i: d, o: ff)
            Kernels.swigluForward(h_NF: saved.hidden, gate_NF: gate, up_NF: saved.up, count: n * ff)
        } else {
            Kernels.geluForward(y: saved.hidden, x: saved.up, count: n * ff)
        }
        Parallel.copy(out, from: saved.middle, count: n * d)
        Kernels.linearForward(y_NO: out, x_NI: saved.hidden, w_OI: p + block.down, b_O: block.downB.map { p + $0 }, n: n, i: ff, o: d,
                              accumulate: true)
    }

    /// The LM head fused with the loss, `headChunk` rows at a time: logits, cross-entropy, and
    /// (with `computeGradients`) the gradient into the final norm output (`work.dFinal`) and the
    /// head weight.
    private func head(work: TrainingWorkspace, n: Int, targets: [Int], count: Int, computeGradients: Bool) -> Double {
        let d = config.hiddenSize, v = config.vocabSize, chunk = TrainingWorkspace.headChunk
        var total = 0.0
        let scale: Float? = computeGradients ? 1 / Float(max(count, 1)) : nil
        parameters.withUnsafeBufferPointer { pb in
            gradients.withUnsafeMutableBufferPointer { gb in
                let w = pb.baseAddress! + head, dw = gb.baseAddress! + head
                var start = 0
                while start < n {
                    let rows = min(chunk, n - start)
                    let x = work.finalNorm + start * d
                    Kernels.linearForward(y_NO: work.logitsChunk, x_NI: x, w_OI: w, b_O: nil, n: rows, i: d, o: v)
                    total += Kernels.crossEntropySum(logits_NV: work.logitsChunk, targets: targets[start..<(start + rows)],
                                                     n: rows, v: v, gradientScale: scale)
                    if computeGradients {
                        Kernels.linearBackward(dx_NI: work.dFinal + start * d, dw_OI: dw, db_O: nil, dy_NO: work.logitsChunk,
                                               x_NI: x, w_OI: w, n: rows, i: d, o: v)
                    }
                    start += rows
                }
            }
        }
        return total
    }

    // MARK: backward

    private func backwardBody(tokens: [Int], batch: Int, seq: Int, work: TrainingWorkspace) {
        let n = batch * seq, d = config.hiddenSize, ff = config.intermediateSize
        let hd = config.headDim, qOut = config.heads * hd, kvOut = config.kvHeads * hd
        parameters.withUnsafeBufferPointer { pb in
            gradients.withUnsafeMutableBufferPointer { gb in
                let p = pb.baseAddress!, g = gb.baseAddress!
                // dx: the gradient of the residual stream, carried down through the blocks.
                let dx = work.dx, dN = work.dN
                normBackward(dx: dx, dy: work.dFinal, x: work.residual[blocks.count], mean: work.finalMean, rstd: work.finalRstd,
                             weight: finalNormW, bias: finalNormB, n: n, parameters: p, gradients: g)
                for (l, block) in blocks.enumerated().reversed() {
                    let saved = work.blocks[l]
                    // MLP: out = middle + down(act(norm2(middle))).
                    Kernels.linearBackward(dx_NI: work.dHidden, dw_OI: g + block.down, db_O: block.downB.map { g + $0 }, dy_NO: dx,
                                           x_NI: saved.hidden, w_OI: p + block.down, n: n, i: ff, o: d)
                    if let gateOffset = block.gate, let gate = saved.gate {
                        Kernels.swigluBackward(dgate_NF: work.dGate, dup_NF: work.dUp, dh_NF: work.dHidden, gate_NF: gate,
                                               up_NF: saved.up, count: n * ff)
                        Kernels.linearBackward(dx_NI: dN, dw_OI: g + gateOffset, db_O: nil, dy_NO: work.dGate, x_NI: saved.norm2,
                                               w_OI: p + gateOffset, n: n, i: d, o: ff)
                        Kernels.linearBackward(dx_NI: dN, dw_OI: g + block.up, db_O: nil, dy_NO: work.dUp, x_NI: saved.norm2,
                                               w_OI: p + block.up, n: n, i: d, o: ff, accumulateInput: true)
                    } else {
                        Kernels.geluBackward(dx: work.dUp, dy: work.dHidden, x: saved.up, count: n * ff)
                        Kernels.linearBackward(dx_NI: dN, dw_OI: g + block.up, db_O: block.upB.map { g + $0 }, dy_NO: work.dUp,
                                               x_NI: saved.norm2, w_OI: p + block.up, n: n, i: d, o: ff)
                    }
                    normBackward(dx: dx, dy: dN, x: saved.middle, mean: saved.mean2, rstd: saved.rstd2, weight: block.norm2W,
                                 bias: block.norm2B, n: n, parameters: p, gradients: g, accumulate: true)
                    // Attention: middle = x + o(attention(q, k, v)).
                    Kernels.linearBackward(dx_NI: work.dAttention, dw_OI: g + block.o, db_O: block.oB.map { g + $0 }, dy_NO: dx,
                                           x_NI: saved.attention, w_OI: p + block.o, n: n, i: qOut, o: d)
                    Kernels.attentionBackward(dq: work.dq, dk: work.dk, dv: work.dv, dout: work.dAttention, probs_BHTT: saved.probs,
                                              q: saved.q, k: saved.k, v: saved.v, batch: batch, seq: seq, heads: config.heads,
                                              kvHeads: config.kvHeads, headDim: hd)
                    if let rope = work.rope {
                        rope.apply(work.dq, rows: n, seq: seq, heads: config.heads, inverse: true)
                        rope.apply(work.dk, rows: n, seq: seq, heads: config.kvHeads, inverse: true)
                    }
                    Kernels.linearBackward(dx_NI: dN, dw_OI: g + block.q, db_O: block.qB.map { g + $0 }, dy_NO: work.dq,
                                           x_NI: saved.norm1, w_OI: p + block.q, n: n, i: d, o: qOut)
                    Kernels.linearBackward(dx_NI: dN, dw_OI: g + block.k, db_O: block.kB.map { g + $0 }, dy_NO: work.dk,
                                           x_NI: saved.norm1, w_OI: p + block.k, n: n, i: d, o: kvOut, accumulateInput: true)
                    Kernels.linearBackward(dx_NI: dN, dw_OI: g + block.v, db_O: block.vB.map { g + $0 }, dy_NO: work.dv,
                                           x_NI: saved.norm1, w_OI: p + block.v, n: n, i: d, o: kvOut, accumulateInput: true)
                    normBackward(dx: dx, dy: dN, x: work.residual[l], mean: saved.mean1, rstd: saved.rstd1, weight: block.norm1W,
                                 bias: block.norm1B, n: n, parameters: p, gradients: g, accumulate: true)
                }
                for row in 0..<n {
                    let token = tokens[row]
                    for j in 0..<d { g[embedding + token * d + j] += dx[row * d + j] }
                    if let positions { for j in 0..<d { g[positions + (row % seq) * d + j] += dx[row * d + j] } }
                }
            }
        }
    }
}
