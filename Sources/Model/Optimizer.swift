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

    public mutating func update(_ model: Transformer, learningRate lr: Float) {
        step += 1
        let correction1 = 1 - Foundation.pow(beta1, Float(step))
        let correction2 = 1 - Foundation.pow(beta2, Float(step))
        let (b1, b2, eps, wd) = (beta1, beta2, epsilon, weightDecay)
        model.parameters.withUnsafeMutableBufferPointer { p in
            model.gradients.withUnsafeBufferPointer { g in
                firstMoment.withUnsafeMutableBufferPointer { m in
                    secondMoment.withUnsafeMutableBufferPointer { v in
                        for tensor in model.tensors where !(model.config.tiedEmbeddings && tensor.name == "lm_head.weight") {
                            let decay = tensor.decays ? lr * wd : 0
                            for i in tensor.offset..<(tensor.offset + tensor.count) {
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

/// Scales gradients so their global L2 norm is at most `maxNorm`; returns the norm before.
@discardableResult
public func clipGradients(_ gradients: inout [Float], maxNorm: Float) -> Float {
    var sum: Double = 0
    for g in gradients { sum += Double(g) * Double(g) }
    let norm = Float(sum.squareRoot())
    if maxNorm > 0 && norm > maxNorm {
        let scale = maxNorm / (norm + 1e-6)
        for i in gradients.indices { gradients[i] *= scale }
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
