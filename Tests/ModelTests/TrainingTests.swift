import Foundation
import Formats
import Testing
@testable import Model

@Suite struct TrainingTests {
    /// AdamW against PyTorch's published algorithm, re-implemented here in Double.
    @Test func adamWMatchesTheReferenceAlgorithm() {
        let model = tinyModel(tinyConfig(.llama, tied: false))
        var optimizer = AdamW(parameterCount: model.parameterCount)
        optimizer.weightDecay = 0.1
        var p = model.parameters.map(Double.init)
        var m = [Double](repeating: 0, count: p.count), v = m
        let decays = model.tensors.flatMap { tensor in [Bool](repeating: tensor.decays, count: tensor.count) }
        var state: UInt64 = 7
        for step in 1...5 {
            for i in model.gradients.indices {
                state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
                model.gradients[i] = Float(Double(state >> 11) / Double(1 << 53) - 0.5)
            }
            let lr = 0.01
            optimizer.update(model, learningRate: Float(lr))
            for i in p.indices {
                let g = Double(model.gradients[i])
                if decays[i] { p[i] *= 1 - lr * 0.1 }
                m[i] = 0.9 * m[i] + 0.1 * g
                v[i] = 0.999 * v[i] + 0.001 * g * g
                let mHat = m[i] / (1 - pow(0.9, Double(step))), vHat = v[i] / (1 - pow(0.999, Double(step)))
                p[i] -= lr * mHat / (vHat.squareRoot() + 1e-8)
            }
        }
        let worst = zip(model.parameters, p).map { abs(Double($0) - $1) }.max()!
        #expect(worst < 1e-5, "worst difference \(worst)")
    }

    @Test func schedulesAndClipping() {
        #expect(LearningRateSchedule.cosine.rate(step: 5, total: 105, warmup: 10, peak: 1) == 0.5)
        #expect(LearningRateSchedule.cosine.rate(step: 10, total: 110, warmup: 10, peak: 1) == 1)
        #expect(abs(LearningRateSchedule.cosine.rate(step: 60, total: 110, warmup: 10, peak: 1) - 0.5) < 1e-6)
        #expect(LearningRateSchedule.linear.rate(step: 110, total: 110, warmup: 10, peak: 1) == 0)
        #expect(LearningRateSchedule.constant.rate(step: 99, total: 110, warmup: 10, peak: 3) == 3)
        var g: [Float] = [3, 4]
        #expect(clipGradients(&g, maxNorm: 1) == 5)
        #expect(abs(g[0] - 0.6) < 1e-4 && abs(g[1] - 0.8) < 1e-4)
    }

    /// A learnable toy task (each token is followed by token + 1 mod 11) drives the loss near 0.
    @Test(arguments: [Architecture.llama, .gpt2])
    func trainingOnAToyTaskDrivesLossNearZero(architecture: Architecture) {
        let model = Transformer(config: tinyConfig(architecture))
        model.initializeRandomly(seed: 3)
        var optimizer = AdamW(parameterCount: model.parameterCount)
        let batch = 4, seq = 8
        var loss = Double.infinity, first = 0.0
        for step in 1...150 {
            var tokens: [Int] = [], targets: [Int] = []
            for b in 0..<batch {
                let start = (step * 3 + b * 5) % 11
                let sequence = (0...seq).map { (start + $0) % 11 }
                tokens += sequence.dropLast()
                targets += sequence.dropFirst()
            }
            loss = model.step(tokens: tokens, targets: targets, batch: batch, seq: seq).loss
            if step == 1 { first = loss }
            clipGradients(&model.gradients, maxNorm: 1)
            optimizer.update(model, learningRate: 0.02)
        }
        #expect(first > 2)
        #expect(loss < 0.05, "loss after 150 steps: \(loss)")
    }

    @Test(arguments: [(Architecture.llama, true), (.llama, false), (.qwen2, false), (.gpt2, true)])
    func saveAndLoadGiveIdenticalLogits(architecture: Architecture, tied: Bool) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("restem-model-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        let model = tinyModel(tinyConfig(architecture, tied: tied))
        try model.save(directory: dir)
        let loaded = try Transformer.load(directory: dir)
        #expect(loaded.config == model.config)
        let tokens = [3, 1, 4, 1, 5, 9]
        #expect(loaded.logits(tokens: tokens, batch: 1, seq: 6) == model.logits(tokens: tokens, batch: 1, seq: 6))
        // Saving again replaces the directory whole.
        try loaded.save(directory: dir)
        #expect(try FileManager.default.contentsOfDirectory(atPath: dir).sorted() == ["config.json", "model.safetensors"])
        let names = try SafetensorsFile(path: dir + "/model.safetensors").entries.keys
        #expect(names.contains("lm_head.weight") == !tied)
        if architecture == .gpt2 { #expect(try SafetensorsFile(path: dir + "/model.safetensors").entries["transformer.h.0.attn.c_attn.weight"]?.shape == [8, 24]) }
    }

    @Test func badModelDirectoriesFailClearly() throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("restem-bad-\(UUID().uuidString)").path
        defer { try? FileManager.default.removeItem(atPath: dir) }
        try tinyModel(tinyConfig(.llama)).save(directory: dir)
        // A config missing a field.
        let config = try String(contentsOfFile: dir + "/config.json", encoding: .utf8)
        try config.replacingOccurrences(of: "\"hidden_size\"", with: "\"hidden\"").write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        #expect(dataErrorMessage { _ = try Transformer.load(directory: dir) }?.contains("field \"hidden_size\" missing") == true)
        try config.replacingOccurrences(of: "\"intermediate_size\":12", with: "\"intermediate_size\":13").write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        #expect(dataErrorMessage { _ = try Transformer.load(directory: dir) }?.contains("has shape [12, 8], config.json implies [13, 8]") == true)
        try config.write(toFile: dir + "/config.json", atomically: true, encoding: .utf8)
        // A truncated safetensors file.
        let weights = try Data(contentsOf: URL(fileURLWithPath: dir + "/model.safetensors"))
        try weights.prefix(weights.count - 10).write(to: URL(fileURLWithPath: dir + "/model.safetensors"))
        #expect(dataErrorMessage { _ = try Transformer.load(directory: dir) }?.contains("truncated") == true)
    }
}

func dataErrorMessage(_ body: () throws -> Void) -> String? {
    do { try body() } catch let error as DataError { return error.description } catch { return "\(error)" }
    return nil
}
