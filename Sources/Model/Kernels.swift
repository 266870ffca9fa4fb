import CKernels
import Foundation

// The layers of the three architectures, forward and backward, on row-major Float buffers.
// Shapes are in the names: `x_NC` is N rows (tokens) of C channels. Backward functions
// accumulate (+=) into parameter gradients and overwrite input gradients unless noted, the
// convention llm.c uses. Matrix products run on `TrainingGEMM` with all N rows at once (cached
// inference runs the same kernel on weights packed once, `InferenceProducts`): one fma chain per
// element, so the same bits on every CPU, thread count and batch.

public typealias Buffer = UnsafeMutablePointer<Float>
public typealias ConstBuffer = UnsafePointer<Float>

public enum Kernels {
    /// The code path the C kernels run on this CPU: "avx512", "avx2" or "generic" (no FMA
    /// instruction: slow, same result). `RESTEM_KERNEL_ISA` can force a lesser one.
    public static var instructionSet: String { String(cString: kernel_isa_name()) }

    // MARK: linear: y = x W^T + b, W stored [out, in] (the Hugging Face nn.Linear layout)

    /// `accumulate` adds the product to y (the residual stream) instead of overwriting it.
    public static func linearForward(y_NO: Buffer, x_NI: ConstBuffer, w_OI: ConstBuffer, b_O: ConstBuffer?, n: Int, i: Int, o: Int,
                                     accumulate: Bool = false) {
        TrainingGEMM.multiply(m: n, n: o, k: i, a: x_NI, b: w_OI, transposeB: true, c: y_NO, accumulate: accumulate)
        if let b_O {
            for row in 0..<n { for col in 0..<o { y_NO[row * o + col] += b_O[col] } }
        }
    }

    /// dx = dy W (overwritten when `accumulateInput` is false), dW += dy^T x, db += sum_rows dy.
    public static func linearBackward(dx_NI: Buffer?, dw_OI: Buffer, db_O: Buffer?, dy_NO: ConstBuffer, x_NI: ConstBuffer,
                                      w_OI: ConstBuffer, n: Int, i: Int, o: Int, accumulateInput: Bool = false) {
        if let dx_NI { TrainingGEMM.multiply(m: n, n: i, k: o, a: dy_NO, b: w_OI, c: dx_NI, accumulate: accumulateInput) }
        TrainingGEMM.multiply(m: o, n: i, k: n, a: dy_NO, transposeA: true, b: x_NI, c: dw_OI, accumulate: true)
        if let db_O {
            for row in 0..<n { for col in 0..<o { db_O[col] += dy_NO[row * o + col] } }
        }
    }

    // MARK: RMSNorm (llama, qwen2): y = x / rms(x) * w
    // Rows run in parallel; the weight gradients are sums over rows in fixed chunks (`Parallel`).

    /// Rows per thread hand-off for row-wise loops of width `c` (about 32K values each).
    static func rowGrain(_ c: Int) -> Int { max(1, 32_768 / max(c, 1)) }

    /// `rstd_N` saves 1/rms per row for the backward pass.
    public static func rmsNormForward(y_NC: Buffer, rstd_N: Buffer, x_NC: ConstBuffer, w_C: ConstBuffer, n: Int, c: Int, eps: Float) {
        Parallel.forRanges(n, grain: rowGrain(c)) { rows in
            let first = rows.lowerBound
            rms_norm_rows(y_NC + first * c, rstd_N + first, x_NC + first * c, w_C, rows.count, c, eps)
        }
    }

    /// dx is overwritten, or added to with `accumulate`.
    public static func rmsNormBackward(dx_NC: Buffer, dw_C: Buffer, dy_NC: ConstBuffer, x_NC: ConstBuffer, w_C: ConstBuffer,
                                       rstd_N: ConstBuffer, n: Int, c: Int, accumulate: Bool = false) {
        Parallel.chunkedSum(rows: n, width: c, into: dw_C) { rows, dw in
            let first = rows.lowerBound
            rms_norm_backward_rows(dx_NC + first * c, dw, dy_NC + first * c, x_NC + first * c, w_C, rstd_N + first, rows.count,
                                   c, accumulate ? 1 : 0)
        }
    }

    // MARK: LayerNorm (gpt2): y = (x - mean) / std * w + b

    /// One row: y = (x - mean) / std * w + b; returns (mean, 1/std).
    @inline(__always)
    static func layerNormRow(_ y: Buffer, x: ConstBuffer, w: ConstBuffer, b: ConstBuffer, c: Int, eps: Float)
        -> (mean: Float, rstd: Float) {
        var mean: Float = 0
        for j in 0..<c { mean += x[j] }
        mean /= Float(c)
        var variance: Float = 0
        for j in 0..<c { variance += (x[j] - mean) * (x[j] - mean) }
        let rstd = 1 / (variance / Float(c) + eps).squareRoot()
        for j in 0..<c { y[j] = (x[j] - mean) * rstd * w[j] + b[j] }
        return (mean, rstd)
    }

    public static func layerNormForward(y_NC: Buffer, mean_N: Buffer, rstd_N: Buffer, x_NC: ConstBuffer, w_C: ConstBuffer,
                                        b_C: ConstBuffer, n: Int, c: Int, eps: Float) {
        Parallel.forRanges(n, grain: rowGrain(c)) { rows in
            for row in rows {
                (mean_N[row], rstd_N[row]) = layerNormRow(y_NC + row * c, x: x_NC + row * c, w: w_C, b: b_C, c: c, eps: eps)
            }
        }
    }

    /// dx is overwritten, or added to with `accumulate`.
    public static func layerNormBackward(dx_NC: Buffer, dw_C: Buffer, db_C: Buffer, dy_NC: ConstBuffer, x_NC: ConstBuffer,
                                         w_C: ConstBuffer, mean_N: ConstBuffer, rstd_N: ConstBuffer, n: Int, c: Int,
                                         accumulate: Bool = false) {
        // One chunked sum carries both parameter gradients: [dw | db], 2c wide.
        let both = Buffer.allocate(capacity: 2 * c)
        defer { both.deallocate() }
        both.initialize(repeating: 0, count: 2 * c)
        Parallel.chunkedSum(rows: n, width: 2 * c, into: both) { rows, partial in
            let dw = partial, db = partial + c
            for row in rows {
                let x = x_NC + row * c, dy = dy_NC + row * c, dx = dx_NC + row * c
                let mean = mean_N[row], rstd = rstd_N[row]
                var dnormMean: Float = 0, dnormDotNorm: Float = 0
                for j in 0..<c {
                    let norm = (x[j] - mean) * rstd
                    let dnorm = dy[j] * w_C[j]
                    dnormMean += dnorm
                    dnormDotNorm += dnorm * norm
                    dw[j] += dy[j] * norm
                    db[j] += dy[j]
                }
                dnormMean /= Float(c)
                dnormDotNorm /= Float(c)
                for j in 0..<c {
                    let norm = (x[j] - mean) * rstd
                    let gradient = (dy[j] * w_C[j] - dnormMean - norm * dnormDotNorm) * rstd
                    dx[j] = accumulate ? dx[j] + gradient : gradient
                }
            }
        }
        for j in 0..<c {
            dw_C[j] += both[j]
            db_C[j] += both[c + j]
        }
    }

    // MARK: activations (element-wise, in parallel)

    static let elementGrain = 1 << 15

    /// SwiGLU: h = silu(gate) * up. `gate_NF` and `up_NF` are kept for the backward pass. Runs on
    /// `Sources/CKernels/activations.c`: 16 lanes, an exp of our own (the same bits on every CPU,
    /// which libm's expf is not).
    public static func swigluForward(h_NF: Buffer, gate_NF: ConstBuffer, up_NF: ConstBuffer, count: Int) {
        Parallel.forRanges(count, grain: elementGrain) { range in
            swiglu_forward(h_NF + range.lowerBound, gate_NF + range.lowerBound, up_NF + range.lowerBound, range.count)
        }
    }

    public static func swigluBackward(dgate_NF: Buffer, dup_NF: Buffer, dh_NF: ConstBuffer, gate_NF: ConstBuffer, up_NF: ConstBuffer, count: Int) {
        Parallel.forRanges(count, grain: elementGrain) { range in
            let start = range.lowerBound
            swiglu_backward(dgate_NF + start, dup_NF + start, dh_NF + start, gate_NF + start, up_NF + start, range.count)
        }
    }

    private static let geluScale: Float = (2 / Float.pi).squareRoot()

    /// GELU, tanh approximation (GPT-2's gelu_new).
    public static func geluForward(y: Buffer, x: ConstBuffer, count: Int) {
        Parallel.forRanges(count, grain: elementGrain) { range in
            for i in range {
                let v = x[i]
                y[i] = 0.5 * v * (1 + Foundation.tanh(geluScale * (v + 0.044715 * v * v * v)))
            }
        }
    }

    public static func geluBackward(dx: Buffer, dy: ConstBuffer, x: ConstBuffer, count: Int) {
        Parallel.forRanges(count, grain: elementGrain) { range in
            for i in range {
                let v = x[i]
                let inner = geluScale * (v + 0.044715 * v * v * v)
                let t = Foundation.tanh(inner)
                let sech2 = 1 - t * t
                dx[i] = dy[i] * (0.5 * (1 + t) + 0.5 * v * sech2 * geluScale * (1 + 3 * 0.044715 * v * v))
            }
        }
    }

    // MARK: rotary position embedding (Hugging Face rotate-half convention)

    /// Rotates each head of `x_NHD` in place: pairs (j, j + D/2) by angle pos * theta^(-2j/D).
    /// `inverse` applies the transpose rotation, which is the backward pass.
    public static func rope(_ x_NHD: Buffer, positions: [Int], heads: Int, headDim: Int, theta: Float, inverse: Bool = false) {
        let half = headDim / 2
        for (row, position) in positions.enumerated() {
            for j in 0..<half {
                let frequency = Foundation.pow(theta, -Float(2 * j) / Float(headDim))
                let angle = Float(position) * frequency
                let cosine = Foundation.cos(angle), sine = inverse ? -Foundation.sin(angle) : Foundation.sin(angle)
                for h in 0..<heads {
                    let base = x_NHD + (row * heads + h) * headDim
                    let a = base[j], b = base[j + half]
                    base[j] = a * cosine - b * sine
                    base[j + half] = b * cosine + a * sine
                }
            }
        }
    }

    // MARK: causal self-attention with grouped-query heads
    // Queries go in blocks of `AttentionShape.block` rows; a block's products stop at its last
    // row's position, since every later key has probability 0. A chain that stops before such
    // terms equals the full one: fma(0, v, acc) is acc for every finite v.

    /// For each sequence b and head h: out = softmax(q k^T / sqrt(D) + causal mask) v, with KV
    /// head h / (H / KV). q is [B*T, H*D], k and v are [B*T, KV*D], out is [B*T, H*D]; the
    /// probabilities [B, H, T, T] are kept for the backward pass. Threads take whole (sequence,
    /// KV head) pairs; each head's products run on one thread.
    public static func attentionForward(out: Buffer, probs_BHTT: Buffer, q: ConstBuffer, k: ConstBuffer, v: ConstBuffer,
                                        batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim: Int) {
        let shape = AttentionShape(batch: batch, seq: seq, heads: heads, kvHeads: kvHeads, headDim: headDim)
        shape.forEachPair { b, kv, keysT in
            let kvOffset = b * seq * shape.kvStride + kv * headDim
            shape.pack(keysT, k + kvOffset)
            for h in (kv * shape.group)..<((kv + 1) * shape.group) {
                let p = probs_BHTT + ((b * heads + h) * seq * seq)
                let qOffset = b * seq * shape.qStride + h * headDim
                for rows in shape.blocks {
                    let keys = rows.upperBound  // positions 0..<keys are visible to some row of the block
                    shape.timesTransposed(keysT, rows: rows.count, keys: keys, a: q + qOffset + rows.lowerBound * shape.qStride,
                                          c: p + rows.lowerBound * seq)
                    // Zeros up to the block's last key only: no product reads a row past it.
                    for t in rows { softmax_row(p + t * seq, t, keys, shape.scale) }
                    TrainingGEMM.multiply(m: rows.count, n: headDim, k: keys, a: p + rows.lowerBound * seq, lda: seq,
                                          b: v + kvOffset, ldb: shape.kvStride,
                                          c: out + qOffset + rows.lowerBound * shape.qStride, ldc: shape.qStride, threads: 1)
                }
            }
        }
    }

    /// Gradients for q (overwritten), k and v (overwritten; grouped heads summed in ascending h).
    public static func attentionBackward(dq: Buffer, dk: Buffer, dv: Buffer, dout: ConstBuffer, probs_BHTT: ConstBuffer,
                                         q: ConstBuffer, k: ConstBuffer, v: ConstBuffer,
                                         batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim: Int) {
        let shape = AttentionShape(batch: batch, seq: seq, heads: heads, kvHeads: kvHeads, headDim: headDim)
        shape.forEachPair { b, kv, valuesT in
            let ds = Buffer.allocate(capacity: seq * seq)  // dp, then the scores' gradient, in place
            defer { ds.deallocate() }
            let kvOffset = b * seq * shape.kvStride + kv * headDim
            shape.pack(valuesT, v + kvOffset)
            for t in 0..<seq {  // this pair's part of dk and dv, which its key blocks add into
                (dk + kvOffset + t * shape.kvStride).update(repeating: 0, count: headDim)
                (dv + kvOffset + t * shape.kvStride).update(repeating: 0, count: headDim)
            }
            for h in (kv * shape.group)..<((kv + 1) * shape.group) {
                let p = probs_BHTT + ((b * heads + h) * seq * seq)
                let qOffset = b * seq * shape.qStride + h * headDim
                let douth = dout + qOffset
                for rows in shape.blocks {
                    let keys = rows.upperBound
                    // dp = dout v^T, then ds = p * (dp - sum(p * dp)) and the 1/sqrt(D) scale.
                    shape.timesTransposed(valuesT, rows: rows.count, keys: keys, a: douth + rows.lowerBound * shape.qStride,
                                          c: ds + rows.lowerBound * seq)
                    softmax_backward_rows(ds + rows.lowerBound * seq, p + rows.lowerBound * seq, seq, rows.lowerBound,
                                          rows.count, keys, shape.scale)
                    // dq = ds k over the visible keys.
                    TrainingGEMM.multiply(m: rows.count, n: headDim, k: keys, a: ds + rows.lowerBound * seq, lda: seq,
                                          b: k + kvOffset, ldb: shape.kvStride,
                                          c: dq + qOffset + rows.lowerBound * shape.qStride, ldc: shape.qStride, threads: 1)
                }
                // dv += p^T dout and dk += ds^T q: key s gets terms from queries t >= s only, so a
                // block of keys starts its chain at its first position.
                for keys in shape.blocks {
                    let first = keys.lowerBound, later = seq - first
                    TrainingGEMM.multiply(m: keys.count, n: headDim, k: later, a: p + first * seq + first, transposeA: true, lda: seq,
                                          b: douth + first * shape.qStride, ldb: shape.qStride,
                                          c: dv + kvOffset + first * shape.kvStride, ldc: shape.kvStride, accumulate: true,
                                          threads: 1)
                    TrainingGEMM.multiply(m: keys.count, n: headDim, k: later, a: ds + first * seq + first, transposeA: true, lda: seq,
                                          b: q + qOffset + first * shape.qStride, ldb: shape.qStride,
                                          c: dk + kvOffset + first * shape.kvStride, ldc: shape.kvStride, accumulate: true,
                                          threads: 1)
                }
            }
        }
    }

    // MARK: fused softmax cross-entropy

    /// The summed cross-entropy of the rows with a target (>= 0), one row at a time. With
    /// `gradient`, each such row's logits are replaced in place by (softmax - onehot) * scale,
    /// and rows without a target by zeros: the caller multiplies by the head weight right away,
    /// so no probability matrix for the whole batch ever exists.
    public static func crossEntropySum(logits_NV: Buffer, targets: ArraySlice<Int>, n: Int, v: Int, gradientScale: Float?) -> Double {
        var losses = [Double](repeating: 0, count: n)
        let targets = Array(targets)
        losses.withUnsafeMutableBufferPointer { losses in
            let loss_N = losses.baseAddress!
            Parallel.forRanges(min(n, targets.count), grain: rowGrain(v)) { rows in
                for row in rows {
                    let logits = logits_NV + row * v, target = targets[row]
                    guard target >= 0 else {
                        if gradientScale != nil { logits.update(repeating: 0, count: v) }
                        continue
                    }
                    loss_N[row] = cross_entropy_row(logits, v, target, gradientScale ?? 0)
                }
            }
        }
        return losses.reduce(0, +)
    }

    /// Mean cross-entropy over the rows whose target is >= 0 (a convenience over
    /// `crossEntropySum` that leaves the logits alone): `dlogits` receives
    /// (softmax - onehot) / targetCount, or 0 for rows without a target.
    @discardableResult
    public static func crossEntropy(logits_NV: ConstBuffer, targets: [Int], dlogits_NV: Buffer?, n: Int, v: Int) -> (loss: Double, count: Int) {
        let count = targets.filter { $0 >= 0 }.count
        let work = dlogits_NV ?? Buffer.allocate(capacity: n * v)
        defer { if dlogits_NV == nil { work.deallocate() } }
        work.update(from: logits_NV, count: n * v)
        let total = crossEntropySum(logits_NV: work, targets: targets[...], n: n, v: v,
                                    gradientScale: dlogits_NV == nil ? nil : 1 / Float(max(count, 1)))
        return (count > 0 ? total / Double(count) : 0, count)
    }
}

/// The sizes of one attention call, and the split of its work over threads.
struct AttentionShape {
    let batch: Int, seq: Int, heads: Int, kvHeads: Int, headDim: Int
    var group: Int { heads / kvHeads }
    var qStride: Int { heads * headDim }
    var kvStride: Int { kvHeads * headDim }
    var scale: Float { 1 / Float(headDim).squareRoot() }

    /// Query (and key) blocks: 48 rows, a few register tiles of the product kernel.
    var blocks: [Range<Int>] { stride(from: 0, to: seq, by: 48).map { $0..<min(seq, $0 + 48) } }

    /// Runs `body(b, kvHead, scratch)` for every sequence and KV head, in parallel over the tools'
    /// threads, with room for one head's keys or values packed (`pack`). Pairs touch disjoint
    /// outputs, so the split never changes a result.
    func forEachPair(_ body: (_ b: Int, _ kvHead: Int, _ packed: Buffer) -> Void) {
        let pairs = batch * kvHeads
        Parallel.forRanges(pairs, parts: min(Parallel.threads * Parallel.piecesPerThread, pairs)) { range in
            let packed = Buffer.allocate(capacity: gemm_packed_b_floats(seq, headDim))
            defer { packed.deallocate() }
            for pair in range { body(pair / kvHeads, pair % kvHeads, packed) }
        }
    }

    /// One head's keys (or values) [seq, headDim], rows `kvStride` apart, packed transposed as the
    /// product kernel's B: once per head instead of once per block of queries.
    func pack(_ packed: Buffer, _ rows: ConstBuffer) {
        gemm_pack_b(packed, rows, kvStride, 1, seq, headDim)
    }

    /// c [rows, keys] (rows `seq` apart) = a [rows, headDim] (rows `qStride` apart) times the
    /// packed keys' (or values') first `keys` rows, transposed: what `TrainingGEMM.multiply` with
    /// `transposeB` gives, bit for bit, without packing them again.
    func timesTransposed(_ packed: ConstBuffer, rows: Int, keys: Int, a: ConstBuffer, c: Buffer) {
        gemm_f32_prepacked(headDim, a, qStride, 0, packed, c, seq, 0, 0, rows, 0, keys)
    }
}
