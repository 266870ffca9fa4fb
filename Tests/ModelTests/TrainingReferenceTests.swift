import Foundation
import Formats
import Testing
@testable import Model

/// The engine against PyTorch + Hugging Face transformers: the tiny model directories in
/// Fixtures/models (written by this toolkit and loaded there by `from_pretrained`) give the
/// same logits, and ten AdamW steps (weight decay on matrices, clipping at norm 1) the same
/// losses. Fixtures/reference_trajectory.py produced reference-trajectories.json.
@Suite struct TrainingReferenceTests {
    let reference: JSONObject = {
        let text = try! String(contentsOf: modelFixtures.appendingPathComponent("reference-trajectories.json"), encoding: .utf8)
        return try! JSON.parse(text).objectValue!
    }()

    @Test(arguments: ["llama", "qwen2", "gpt2"])
    func matchesTransformersLogitsAndAdamWTrajectory(name: String) throws {
        let model = try Transformer.load(directory: modelFixtures.appendingPathComponent("models/\(name)").path)
        let tokens = reference["tokens"]!.arrayValue!.flatMap { $0.arrayValue!.map { $0.intValue! } }
        let targets = reference["targets"]!.arrayValue!.flatMap { $0.arrayValue!.map { $0.intValue! } }
        let expected = reference["models"]!.objectValue![name]!.objectValue!
        let seq = tokens.count / 2

        let logits = model.logits(tokens: Array(tokens[0..<seq]), batch: 1, seq: seq)
        let referenceLogits = expected["first_sequence_logits"]!.arrayValue!.map { Float($0.doubleValue!) }
        let worst = zip(logits, referenceLogits).map { abs($0 - $1) }.max()!
        #expect(worst < 1e-4, "\(name): logits differ by up to \(worst)")

        var optimizer = AdamW(parameterCount: model.parameterCount)
        optimizer.weightDecay = 0.1
        let losses = expected["losses"]!.arrayValue!.map { $0.doubleValue! }
        for (step, referenceLoss) in losses.enumerated() {
            let loss = model.step(tokens: tokens, targets: targets, batch: 2, seq: seq).loss
            #expect(abs(loss - referenceLoss) < 2e-4 * max(1, referenceLoss), "\(name) step \(step): \(loss) vs \(referenceLoss)")
            clipGradients(&model.gradients, maxNorm: 1)
            optimizer.update(model, learningRate: 0.01)
        }
    }
}
