import CKernels
import Foundation

/// What one block computes over its N rows in a training step, kept for the backward pass.
struct BlockActivations {
    let norm1: Buffer, mean1: Buffer, rstd1: Buffer   // [N, d], [N], [N]
    let q: Buffer, k: Buffer, v: Buffer               // after RoPE: [N, heads * hd], [N, kvHeads * hd] x 2
    let probs: Buffer                                 // attention probabilities [batch, heads, seq, seq]
    let attention: Buffer                             // [N, heads * hd]
    let middle: Buffer                                // residual after attention [N, d]
    let norm2: Buffer, mean2: Buffer, rstd2: Buffer
    let gate: Buffer?, up: Buffer, hidden: Buffer      // [N, ff]; no gate in gpt2
}

/// Every buffer of a training step, allocated once and reused by the following steps (a
/// fresh gigabyte per step of the 25.6M model cost more in page faults than the matrix products
/// of its MLPs). Sized by capacity: a step with fewer rows or a shorter sequence reuses it; a
/// larger one replaces it. Nothing here needs zeros: every buffer is written before it is read.
final class TrainingWorkspace {
    let rows: Int, probsPerBlock: Int
    private var allocations: [Buffer] = []

    let residual: [Buffer]          // input of each block [N, d], plus the output of the last
    let blocks: [BlockActivations]
    let finalNorm: Buffer, finalMean: Buffer, finalRstd: Buffer
    let logitsChunk: Buffer         // [TrainingWorkspace.headChunk, vocab]
    // Backward scratch.
    let dFinal: Buffer, dx: Buffer, dN: Buffer    // [N, d]
    let dHidden: Buffer, dUp: Buffer, dGate: Buffer  // [N, ff]
    let dAttention: Buffer, dq: Buffer, dk: Buffer, dv: Buffer
    let rope: RopeTable?

    /// Rows of logits the LM head computes at once (the loss never holds [N, vocab]).
    static let headChunk = 128

    init(config: ModelConfig, rows n: Int, batch: Int, seq: Int) {
        rows = n
        probsPerBlock = batch * config.heads * seq * seq
        var allocations: [Buffer] = []
        func buffer(_ count: Int) -> Buffer {
            let pointer = Buffer.allocate(capacity: max(count, 1))
            allocations.append(pointer)
            return pointer
        }
        let d = config.hiddenSize, ff = config.intermediateSize
        let qOut = config.heads * config.headDim, kvOut = config.kvHeads * config.headDim
        residual = (0...config.layers).map { _ in buffer(n * d) }
        blocks = (0..<config.layers).map { _ in
            BlockActivations(norm1: buffer(n * d), mean1: buffer(n), rstd1: buffer(n),
                             q: buffer(n * qOut), k: buffer(n * kvOut), v: buffer(n * kvOut),
                             probs: buffer(batch * config.heads * seq * seq), attention: buffer(n * qOut),
                             middle: buffer(n * d), norm2: buffer(n * d), mean2: buffer(n), rstd2: buffer(n),
                             gate: config.architecture == .gpt2 ? nil : buffer(n * ff), up: buffer(n * ff),
                             hidden: buffer(n * ff))
        }
        finalNorm = buffer(n * d)
        finalMean = buffer(n)
        finalRstd = buffer(n)
        logitsChunk = buffer(Self.headChunk * config.vocabSize)
        dFinal = buffer(n * d)
        dx = buffer(n * d)
        dN = buffer(n * d)
        dHidden = buffer(n * ff)
        dUp = buffer(n * ff)
        dGate = buffer(n * ff)
        dAttention = buffer(n * qOut)
        dq = buffer(n * qOut)
        dk = buffer(n * kvOut)
        dv = buffer(n * kvOut)
        rope = config.architecture == .gpt2 ? nil : RopeTable(positions: seq, headDim: config.headDim, theta: config.ropeTheta)
        self.allocations = allocations
    }

    deinit { for pointer in allocations { pointer.deallocate() } }

    /// Whether a step of `batch` x `seq` fits.
    func fits(batch: Int, seq: Int, heads: Int) -> Bool {
        batch * seq <= rows && batch * heads * seq * seq <= probsPerBlock && (rope.map { seq <= $0.positions } ?? true)
    }
}

/// RoPE's cosines and sines for positions 0..<positions, computed once per workspace with the
/// arithmetic of `Kernels.rope`: [position, headDim / 2] each.
struct RopeTable {
    let positions: Int, half: Int
    let cosine: [Float], sine: [Float]

    init(positions: Int, headDim: Int, theta: Float) {
        self.positions = positions
        half = headDim / 2
        var cosine = [Float](repeating: 0, count: positions * half), sine = cosine
        for position in 0..<positions {
            for j in 0..<half {
                let frequency = Foundation.pow(theta, -Float(2 * j) / Float(headDim))
                let angle = Float(position) * frequency
                cosine[position * half + j] = Foundation.cos(angle)
                sine[position * half + j] = Foundation.sin(angle)
            }
        }
        self.cosine = cosine
        self.sine = sine
    }

    /// Rotates each head of the N = batch x seq rows of `x_NHD` in place (row r is at position
    /// r % seq); `inverse` applies the transpose rotation (the backward pass).
    func apply(_ x_NHD: Buffer, rows: Int, seq: Int, heads: Int, inverse: Bool = false) {
        let headDim = 2 * half
        cosine.withUnsafeBufferPointer { cosines in
            sine.withUnsafeBufferPointer { sines in
                let cosine = cosines.baseAddress!, sine = sines.baseAddress!
                Parallel.forRanges(rows, grain: Kernels.rowGrain(heads * headDim)) { range in
                    for row in range {
                        let position = row % seq
                        rope_row(x_NHD + row * heads * headDim, heads, headDim, cosine + position * half, sine + position * half,
                                 inverse ? 1 : 0)
                    }
                }
            }
        }
    }
}
