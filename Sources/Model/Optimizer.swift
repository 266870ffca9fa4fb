import Foundation

/// AdamW with PyTorch's semantics: decoupled weight decay (p -= lr * wd * p, applied before
/// the Adam update) on the tensors marked `decays` only, and bias-corrected moments.
public struct AdamW: Sendable {
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var weightDecay: Float = 0.0
    public private(set) var step = 0
    public var firstMoment: [Float]
    public var secondMoment: [Float]

    public init(parameterCount: Int) {
        firstMoment = [Float](repeating: 0, count: parameterCount)
        secondMoment = [Float](repeating: 0, count: parameterCount)
    }

    /// Restores the state saved by a checkpoint.
    public init(step: Int, firstMoment: [Float], secondMoment: [Float]) {
        self.step = step
        self.firstMoment = firstMoment
        self.secondMoment = secondMoment
    }

    /// Values per piece of the parallel update.
    static let piece = 1 << 14

    public mutating func update(_ model: Transformer, learningRate lr: Float) {
        step += 1
        let correction1 = 1 - Foundation.pow(beta1, Float(step))
        let correction2 = 1 - Foundation.pow(beta2, Float(step))
        let (b1, b2, eps, wd) = (beta1, beta2, epsilon, weightDecay)
        model.parameters.withUnsafeMutableBufferPointer { p in
            model.gradients.withUnsafeBufferPointer { g in
                firstMoment.withUnsafeMutableBufferPointer { m in
                    secondMoment.withUnsafeMutableBufferPointer { v in
                        let (p, g, m, v) = (p.baseAddress!, g.baseAddress!, m.baseAddress!, v.baseAddress!)
                        // Pieces of every tensor in one parallel loop: a small model's tensors (16K values
                        // at d = 128) are each too small to split, and one after another ran serially.
                        var pieces: [(values: Range<Int>, decay: Float)] = []
                        for tensor in model.tensors where !(model.config.tiedEmbeddings && tensor.name == "lm_head.weight") {
                            for start in stride(from: 0, to: tensor.count, by: Self.piece) {
                                let values = (tensor.offset + start)..<(tensor.offset + min(tensor.count, start + Self.piece))
                                pieces.append((values, tensor.decays ? lr * wd : 0))
                            }
                        }
                        Parallel.forRanges(pieces.count, grain: 1) { range in
                            for (values, decay) in pieces[range] {
                                for i in values {
                                    m[i] = b1 * m[i] + (1 - b1) * g[i]
                                    v[i] = b2 * v[i] + (1 - b2) * g[i] * g[i]
                                    p[i] -= decay * p[i]
                                    p[i] -= lr * (m[i] / correction1) / ((v[i] / correction2).squareRoot() + eps)
                                }
                            }
                        }
                    }
                }
            }
        }
    }
}

/// Scales gradients so their global L2 norm is at most `maxNorm`; returns the norm before.
/// The squares are summed in Double over fixed chunks, then the chunks in order: the same
/// norm for every thread count.
@discardableResult
public func clipGradients(_ gradients: inout [Float], maxNorm: Float) -> Float {
    let chunk = 1 << 16, count = gradients.count
    let chunks = (count + chunk - 1) / chunk
    var partials = [Double](repeating: 0, count: chunks)
    gradients.withUnsafeMutableBufferPointer { gb in
        partials.withUnsafeMutableBufferPointer { pb in
            let g = gb.baseAddress!, partial = pb.baseAddress!
            Parallel.forRanges(chunks, grain: 1) { range in
                for c in range {
                    var sum: Double = 0
                    for i in (c * chunk)..<min(count, (c + 1) * chunk) { sum += Double(g[i]) * Double(g[i]) }
                    partial[c] = sum
                }
            }
        }
    }
    let norm = Float(partials.reduce(0, +).squareRoot())
    if maxNorm > 0 && norm > maxNorm {
        let scale = maxNorm / (norm + 1e-6)
        gradients.withUnsafeMutableBufferPointer { gb in
            let g = gb.baseAddress!
            Parallel.forRanges(count, grain: 1 << 16) { range in for i in range { g[i] *= scale } }
        }
    }
    return norm
}

public enum LearningRateSchedule: String, Sendable, CaseIterable {
    case constant, linear, cosine

    /// The rate at `step` (1-based) of `total`: linear warmup over `warmup` steps, then
    /// constant, linear decay to 0, or cosine decay to 0.
    public func rate(step: Int, total: Int, warmup: Int, peak: Float) -> Float {
        if warmup > 0 && step <= warmup { return peak * Float(step) / Float(warmup) }
        let progress = total > warmup ? Float(step - warmup) / Float(total - warmup) : 1
        switch self {
        case .constant: return peak
        case .linear: return peak * max(0, 1 - progress)
        case .cosine: return peak * 0.5 * (1 + Foundation.cos(Float.pi * min(1, progress)))
        }
    }
}
