import Foundation
import Testing
@testable import Model

/// Writes the tiny model directories the reference trajectories were computed from, when
/// RESTEM_WRITE_FIXTURES is set (a maintenance step, not a test of behaviour).
@Test(.enabled(if: ProcessInfo.processInfo.environment["RESTEM_WRITE_FIXTURES"] != nil))
func writeFixtureModels() throws {
    let root = modelFixtures.appendingPathComponent("models").path
    for (name, architecture, tied) in [("llama", Architecture.llama, true), ("qwen2", .qwen2, false), ("gpt2", .gpt2, true)] {
        var config = ModelConfig(architecture: architecture, vocabSize: 40, hiddenSize: 16, intermediateSize: 24, layers: 2, heads: 4,
                                 kvHeads: architecture == .gpt2 ? 4 : 2, ropeTheta: 10_000, normEps: 1e-5, tiedEmbeddings: tied, maxPositions: 32)
        config.eosTokenIDs = [0]
        let model = Transformer(config: config)
        model.initializeRandomly(seed: 11)
        // Larger than default weights, so ten steps move the loss visibly.
        for tensor in model.tensors where tensor.decays {
            for i in tensor.offset..<(tensor.offset + tensor.count) { model.parameters[i] *= 10 }
        }
        try model.save(directory: root + "/" + name)
    }
}
