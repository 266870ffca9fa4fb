import Foundation
import Testing
@testable import Model

func tinyConfig(_ architecture: Architecture, tied: Bool = true) -> ModelConfig {
    ModelConfig(architecture: architecture, vocabSize: 11, hiddenSize: 8, intermediateSize: 12, layers: 2, heads: 2,
                kvHeads: architecture == .gpt2 ? 2 : 1, ropeTheta: 10_000, normEps: 1e-5, tiedEmbeddings: tied, maxPositions: 16)
}

/// A tiny model with larger-than-usual random weights, so gradients are big enough for
/// single-precision finite differences.
func tinyModel(_ config: ModelConfig, seed: UInt64 = 1) -> Transformer {
    let model = Transformer(config: config)
    model.initializeRandomly(seed: seed)
    var state = seed
    for tensor in model.tensors {
        for i in tensor.offset..<(tensor.offset + tensor.count) {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            let noise = Float(Double(state >> 11) / Double(1 << 53)) - 0.5
            model.parameters[i] = tensor.decays ? noise * 0.8 : model.parameters[i] + noise * 0.4
        }
    }
    return model
}

@Suite struct TransformerTests {
    let batch = 2, seq = 5
    let tokens = [1, 4, 2, 9, 3, 7, 0, 5, 5, 10]
    let targets = [4, 2, 9, 3, -1, 0, 5, 5, 10, 6]

    /// Every parameter tensor of every architecture (sampled entries) against central finite
    /// differences of the mean loss.
    @Test(arguments: [(Architecture.llama, true), (.llama, false), (.qwen2, false), (.gpt2, true)])
    func gradientsMatchFiniteDifferences(architecture: Architecture, tied: Bool) {
        let model = tinyModel(tinyConfig(architecture, tied: tied))
        model.step(tokens: tokens, targets: targets, batch: batch, seq: seq)
        let analytic = model.gradients
        let eps: Float = 1e-2
        var checked = 0
        for tensor in model.tensors {
            let picks = Set((0..<6).map { (($0 * 7919) + tensor.offset) % tensor.count })
            for pick in picks {
                let i = tensor.offset + pick
                let saved = model.parameters[i]
                model.parameters[i] = saved + eps
                let up = model.step(tokens: tokens, targets: targets, batch: batch, seq: seq, computeGradients: false).loss
                model.parameters[i] = saved - eps
                let down = model.step(tokens: tokens, targets: targets, batch: batch, seq: seq, computeGradients: false).loss
                model.parameters[i] = saved
                let numeric = (up - down) / Double(2 * eps)
                let error = abs(numeric - Double(analytic[i]))
                #expect(error <= 2e-3 + 3e-2 * abs(numeric), "\(tensor.name)[\(pick)]: analytic \(analytic[i]) numeric \(numeric)")
                checked += 1
            }
        }
        #expect(checked > 40)
    }

    @Test func causalLogitsDoNotSeeTheFuture() {
        let model = tinyModel(tinyConfig(.llama))
        let a = model.logits(tokens: [1, 2, 3, 4], batch: 1, seq: 4)
        let b = model.logits(tokens: [1, 2, 3, 9], batch: 1, seq: 4)
        let v = 11
        #expect(Array(a[0..<(3 * v)]) == Array(b[0..<(3 * v)]))
        #expect(Array(a[(3 * v)...]) != Array(b[(3 * v)...]))
    }
}
