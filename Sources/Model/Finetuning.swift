import Foundation
import Formats

/// One training sequence: `encode(prompt) + encode(completion) + [eos]`, as inputs and
/// next-token targets; targets inside the prompt are -1 (no loss), so the loss falls on the
/// completion tokens and the eos only.
public struct TrainingExample: Sendable, Equatable {
    public let inputs: [Int]
    public let targets: [Int]

    public init(prompt: String, completion: String, tokenizer: Tokenizer, eos: Int, maxTokens: Int) {
        var promptIDs = tokenizer.encode(prompt)
        var completionIDs = tokenizer.encode(completion, addSpecialTokens: false) + [eos]
        // Too long: keep the end of the prompt (nearest the answer), then cut the completion.
        let budget = maxTokens + 1
        if promptIDs.count + completionIDs.count > budget {
            let keep = max(1, budget - completionIDs.count)
            promptIDs = Array(promptIDs.suffix(min(keep, promptIDs.count)))
            completionIDs = Array(completionIDs.prefix(budget - promptIDs.count))
        }
        let sequence = promptIDs + completionIDs
        inputs = Array(sequence.dropLast())
        targets = (1..<sequence.count).map { $0 >= promptIDs.count ? sequence[$0] : -1 }
    }

    public var targetCount: Int { targets.filter { $0 >= 0 }.count }
}

public struct FinetuneOptions: Sendable {
    public var steps: Int?
    public var epochs = 1
    public var learningRate: Float = 1e-4
    public var schedule = LearningRateSchedule.cosine
    public var warmup = 0
    public var batchSize = 8
    public var weightDecay: Float = 0
    public var beta1: Float = 0.9
    public var beta2: Float = 0.999
    public var epsilon: Float = 1e-8
    public var gradientClip: Float = 1
    public var seed: UInt64 = 0
    public var evaluateEvery = 0
    public var checkpointEvery = 50

    public init() {}
}

/// What one optimizer step did, for the log and the progress display.
public struct StepReport: Sendable {
    public let step: Int
    public let totalSteps: Int
    public let loss: Double
    public let learningRate: Float
    public let tokens: Int
    public let tokensPerSecond: Double
    public let gradientNorm: Float
}

/// Supervised fine-tuning: batches of examples in a seeded order, AdamW, a schedule, clipping,
/// and checkpoints from which a rerun resumes to the same final weights.
public final class Finetuner {
    public let model: Transformer
    public let options: FinetuneOptions
    let examples: [TrainingExample]
    public private(set) var optimizer: AdamW
    public private(set) var step = 0
    private var cachedOrder: (epoch: Int, order: [Int])?

    public init(model: Transformer, examples: [TrainingExample], options: FinetuneOptions) {
        self.model = model
        self.examples = examples
        self.options = options
        optimizer = AdamW(parameterCount: model.parameterCount)
        applyHyperparameters()
    }

    private func applyHyperparameters() {
        optimizer.beta1 = options.beta1
        optimizer.beta2 = options.beta2
        optimizer.epsilon = options.epsilon
        optimizer.weightDecay = options.weightDecay
    }

    public var batchesPerEpoch: Int { (examples.count + options.batchSize - 1) / options.batchSize }
    public var totalSteps: Int { options.steps ?? options.epochs * batchesPerEpoch }

    /// The examples of optimizer step `step` (1-based): epochs visit every example once, in an
    /// order fixed by (seed, epoch).
    func batch(forStep step: Int) -> [TrainingExample] {
        let epoch = (step - 1) / batchesPerEpoch, index = (step - 1) % batchesPerEpoch
        if cachedOrder?.epoch != epoch {
            // One hash per example per epoch, not per comparison per step.
            let keys = examples.indices.map { stableHash(String(options.seed), String(epoch), String($0)) }
            cachedOrder = (epoch, examples.indices.sorted { keys[$0] < keys[$1] })
        }
        let order = cachedOrder!.order
        let start = index * options.batchSize
        return order[start..<min(start + options.batchSize, order.count)].map { examples[$0] }
    }

    /// Pads a batch to its longest sequence (padding has no target).
    static func pack(_ batch: [TrainingExample]) -> (tokens: [Int], targets: [Int], seq: Int) {
        let seq = batch.map(\.inputs.count).max() ?? 1
        var tokens: [Int] = [], targets: [Int] = []
        for example in batch {
            tokens += example.inputs + [Int](repeating: 0, count: seq - example.inputs.count)
            targets += example.targets + [Int](repeating: -1, count: seq - example.targets.count)
        }
        return (tokens, targets, seq)
    }

    /// Runs the remaining steps, calling `report` after each and `checkpoint` every
    /// `checkpointEvery` steps (and never after the last, which the caller saves as the result).
    public func train(report: (StepReport) throws -> Void, checkpoint: (Finetuner) throws -> Void,
                      evaluate: ((Int) throws -> Void)? = nil) throws {
        while step < totalSteps {
            let started = Date()
            let next = step + 1
            let batch = batch(forStep: next)
            let packed = Self.pack(batch)
            let (loss, count) = model.step(tokens: packed.tokens, targets: packed.targets, batch: batch.count, seq: packed.seq)
            let norm = clipGradients(&model.gradients, maxNorm: options.gradientClip)
            let rate = options.schedule.rate(step: next, total: totalSteps, warmup: options.warmup, peak: options.learningRate)
            optimizer.update(model, learningRate: rate)
            step = next
            let seconds = max(Date().timeIntervalSince(started), 1e-9)
            try report(StepReport(step: step, totalSteps: totalSteps, loss: loss, learningRate: rate, tokens: count,
                                  tokensPerSecond: Double(packed.tokens.count) / seconds, gradientNorm: norm))
            if let evaluate, options.evaluateEvery > 0, step % options.evaluateEvery == 0 { try evaluate(step) }
            if options.checkpointEvery > 0, step % options.checkpointEvery == 0, step < totalSteps { try checkpoint(self) }
        }
    }

    // MARK: checkpoints

    /// Writes parameters, optimizer moments and the step to `directory`, atomically.
    public func saveCheckpoint(directory: String) throws {
        let n = model.parameterCount
        try writeDirectoryAtomically(directory) { staging in
            try writeSafetensors([NamedTensor(name: "parameters", shape: [n], values: model.parameters),
                                  NamedTensor(name: "adam_m", shape: [n], values: optimizer.firstMoment),
                                  NamedTensor(name: "adam_v", shape: [n], values: optimizer.secondMoment)],
                                 metadata: ["step": String(optimizer.step), "finetune_step": String(step)],
                                 to: staging + "/state.safetensors")
        }
    }

    /// Restores what `saveCheckpoint` wrote; returns the step reached.
    public func loadCheckpoint(directory: String) throws -> Int {
        let file = try SafetensorsFile(path: directory + "/state.safetensors")
        let parameters = try file.floats("parameters")
        guard parameters.count == model.parameterCount, let saved = file.metadata["finetune_step"].flatMap(Int.init),
              let adamStep = file.metadata["step"].flatMap(Int.init) else {
            throw DataError("checkpoint does not match this model", at: directory)
        }
        model.parameters = parameters
        optimizer = AdamW(step: adamStep, firstMoment: try file.floats("adam_m"), secondMoment: try file.floats("adam_v"))
        applyHyperparameters()
        step = saved
        return saved
    }
}

extension Transformer {
    /// Mean loss in nats per target token over `examples`, in batches, without gradients.
    public func evaluate(_ examples: [TrainingExample], batchSize: Int) -> (loss: Double, tokens: Int) {
        var total = 0.0, tokens = 0
        var start = 0
        while start < examples.count {
            let batch = Array(examples[start..<min(start + batchSize, examples.count)])
            let packed = Finetuner.pack(batch)
            let (loss, count) = step(tokens: packed.tokens, targets: packed.targets, batch: batch.count, seq: packed.seq, computeGradients: false)
            total += loss * Double(count)
            tokens += count
            start += batchSize
        }
        return (tokens > 0 ? total / Double(tokens) : 0, tokens)
    }
}
