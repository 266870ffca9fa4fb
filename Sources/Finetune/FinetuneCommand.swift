import ArgumentParser
import Foundation
import Datasets
import Formats
import Model
import ToolSupport

@main
struct FinetuneCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "finetune",
        abstract: "Supervised fine-tuning of a Hugging Face model directory on prompt/completion shards (CPU).",
        discussion: """
            Each record becomes encode(prompt) + encode(target) + [eos]; the loss is on the target \
            tokens and the eos. The prompt is the record's "prompt" field, or the --template \
            rendered from the record (the same rendering generate uses). The result is a model \
            directory (config.json, model.safetensors, tokenizer files) that transformers loads.

            Examples:
              finetune --base base/ --data kept.jsonl.zst --out iter1/model --steps 300 --lr 1e-3
              finetune --base base/ --data train.jsonl.zst --target solution --out sft/model --epochs 2
              finetune --init random --config tiny.json --tokenizer tokenizer.json --data d.jsonl --out m
              finetune --base base/ --data kept.jsonl.zst --out run/steps/300 --steps 300 --snapshot-every 100 --snapshots run/steps
              finetune --base iter1/model --data val.jsonl.zst --eval-only
            """)

    @Option(help: "Base model directory (config.json, model.safetensors, tokenizer.json).") var base: String?
    @Option(help: "Start from random weights instead of --base ('random').") var `init`: String?
    @Option(help: "With --init random: the config.json to build.") var config: String?
    @Option(help: "With --init random: a tokenizer.json, or a directory holding one.") var tokenizer: String?
    @Option(parsing: .upToNextOption, help: "Training shards.") var data: [String] = []
    @Option(help: "Output model directory.") var out: String?
    @Option(help: "Record field to learn: completion, or solution for the human-data baseline.") var target = "completion"
    @Option(help: "Prompt template file ({{field}} placeholders; default: the problem).") var template: String?
    @Option(help: "Optimizer steps (default: --epochs over the data).") var steps: Int?
    @Option(help: "Passes over the data when --steps is not given.") var epochs = 1
    @Option(help: "Peak learning rate.") var lr: Float = 1e-4
    @Option(help: "Schedule after warmup: constant, linear, cosine.") var schedule: String = "cosine"
    @Option(help: "Linear warmup steps.") var warmup = 0
    @Option(help: "Sequences per step.") var batchSize = 8
    @Option(help: "Maximum tokens per sequence (prompt start is dropped first).") var maxTokens = 512
    @Option(help: "AdamW decoupled weight decay (matrices and embeddings only).") var weightDecay: Float = 0
    @Option var beta1: Float = 0.9
    @Option var beta2: Float = 0.999
    @Option var eps: Float = 1e-8
    @Option(help: "Global gradient-norm clip (0 = off).") var gradClip: Float = 1
    @Option(help: "Seed for the data order.") var seed: UInt64 = 0
    @Option(help: "BLAS threads.") var threads = ProcessInfo.processInfo.activeProcessorCount
    @Option(help: "JSONL training log: one line per step.") var log: String?
    @Option(parsing: .upToNextOption, help: "Validation shards, evaluated every --eval-every steps and at the end.")
    var evalData: [String] = []
    @Option(help: "Steps between validation losses.") var evalEvery = 0
    @Option(help: "Steps between checkpoints (for --resume).") var checkpointEvery = 50
    @Option(help: "Also save the model every N steps as SNAPSHOTS/<step> (to choose the step on validation).")
    var snapshotEvery = 0
    @Option(help: "Directory of the --snapshot-every models (default: OUT.snapshots).") var snapshots: String?
    @Flag(help: "Continue from OUT.checkpoint after an interruption.") var resume = false
    @Flag(help: "Only print the mean loss of --data: {\"loss\": L, \"tokens\": N}.") var evalOnly = false

    func validate() throws {
        if (base == nil) == (self.`init` == nil) { throw ValidationError("give exactly one of --base DIR or --init random") }
        if let initKind = self.`init` {
            guard initKind == "random" else { throw ValidationError("--init takes 'random'") }
            guard config != nil, tokenizer != nil else { throw ValidationError("--init random needs --config and --tokenizer") }
        }
        if data.isEmpty { throw ValidationError("give --data SHARD...") }
        if !evalOnly && out == nil { throw ValidationError("give --out DIR") }
        if LearningRateSchedule(rawValue: schedule) == nil { throw ValidationError("--schedule is constant, linear or cosine") }
        if batchSize < 1 || maxTokens < 2 || epochs < 1 { throw ValidationError("--batch-size, --epochs and --max-tokens must be positive") }
        if let steps, steps < 1 { throw ValidationError("--steps must be positive") }
        if snapshotEvery < 0 { throw ValidationError("--snapshot-every must be 0 or more") }
    }

    func run() throws {
        try reportingDataErrors(tool: "finetune") {
            BLAS.setThreads(threads)
            let model: Transformer
            let tokenizerSource: String
            if let base {
                model = try Transformer.load(directory: base)
                tokenizerSource = base
            } else {
                model = Transformer(config: try ModelConfig.load(path: config!))
                model.initializeRandomly(seed: seed)
                tokenizerSource = tokenizer!
            }
            let tok = try Tokenizer.load(modelOrFile: tokenizerSource)
            guard let eos = model.config.endOfSequenceIDs(tokenizer: tok).first else {
                throw DataError("no end-of-sequence token: set eos_token_id in config.json")
            }
            let promptTemplate = try template.map(PromptTemplate.load) ?? .problemOnly
            let examples = try loadExamples(data, tokenizer: tok, eos: eos, template: promptTemplate)
            if examples.isEmpty { throw DataError("no training records in \(data.joined(separator: ", "))") }

            if evalOnly {
                let (loss, tokens) = model.evaluate(examples, batchSize: batchSize)
                print(JSON.object(JSONObject([("loss", .number(JSONNumber(loss))), ("tokens", .number(JSONNumber(tokens)))])).serialized())
                return
            }
            let evalExamples = try loadExamples(evalData, tokenizer: tok, eos: eos, template: promptTemplate)
            var options = FinetuneOptions()
            options.steps = steps
            options.epochs = epochs
            options.learningRate = lr
            options.schedule = LearningRateSchedule(rawValue: schedule)!
            options.warmup = warmup
            options.batchSize = batchSize
            options.weightDecay = weightDecay
            options.beta1 = beta1
            options.beta2 = beta2
            options.epsilon = eps
            options.gradientClip = gradClip
            options.seed = seed
            options.evaluateEvery = evalEvery
            options.checkpointEvery = checkpointEvery
            let trainer = Finetuner(model: model, examples: examples, options: options)
            let outDirectory = out!
            let checkpointDirectory = outDirectory + ".checkpoint"
            if resume, FileManager.default.fileExists(atPath: checkpointDirectory + "/state.safetensors") {
                let reached = try trainer.loadCheckpoint(directory: checkpointDirectory)
                printError("finetune: resuming from \(checkpointDirectory) at step \(reached)/\(trainer.totalSteps)")
            } else if FileManager.default.fileExists(atPath: checkpointDirectory) {
                printError("finetune: ignoring \(checkpointDirectory) (no --resume); starting over")
            }
            let logWriter = try log.map { try TrainingLog(path: $0, keepingStepsUpTo: trainer.step) }
            printError("finetune: \(model.config.architecture.rawValue), \(model.parameterCount) parameters, \(examples.count) sequences, \(trainer.totalSteps) steps of \(batchSize)")
            let progress = ProgressLine("training", total: trainer.totalSteps)
            progress.advance(by: trainer.step)
            var lastLoss = 0.0
            func evaluate(_ step: Int) throws {
                guard !evalExamples.isEmpty else { return }
                let (loss, tokens) = model.evaluate(evalExamples, batchSize: batchSize)
                try logWriter?.append([("step", .number(JSONNumber(step))), ("eval_loss", .number(JSONNumber(loss))),
                                       ("eval_tokens", .number(JSONNumber(tokens)))])
                printError("finetune: step \(step) validation loss \(String(format: "%.4f", loss)) over \(tokens) tokens")
            }
            try trainer.train(report: { report in
                lastLoss = report.loss
                try logWriter?.append([("step", .number(JSONNumber(report.step))), ("loss", .number(JSONNumber(report.loss))),
                                       ("lr", .number(JSONNumber(Double(report.learningRate)))),
                                       ("tokens", .number(JSONNumber(report.tokens))),
                                       ("tokens_per_second", .number(JSONNumber(report.tokensPerSecond.rounded())))])
                progress.detail = "loss \(String(format: "%.4f", report.loss))"
                progress.advance()
                if snapshotEvery > 0, report.step % snapshotEvery == 0, report.step < report.totalSteps {
                    try model.save(directory: "\(snapshots ?? outDirectory + ".snapshots")/\(report.step)", tokenizerSource: tokenizerSource)
                }
            }, checkpoint: { try $0.saveCheckpoint(directory: checkpointDirectory) }, evaluate: evaluate)
            progress.finish()
            if evalEvery == 0 || trainer.totalSteps % max(evalEvery, 1) != 0 { try evaluate(trainer.totalSteps) }
            try model.save(directory: outDirectory, tokenizerSource: tokenizerSource)
            try? FileManager.default.removeItem(atPath: checkpointDirectory)
            printError("finetune: wrote \(outDirectory) (last training loss \(String(format: "%.4f", lastLoss)))")
        }
    }

    func loadExamples(_ paths: [String], tokenizer: Tokenizer, eos: Int, template: PromptTemplate) throws -> [TrainingExample] {
        var examples: [TrainingExample] = []
        for path in paths {
            let reader = try ShardReader(path: path)
            try reader.forEachRecord { record in
                let prompt = try template.prompt(for: record)
                let completion = try record.string(target)
                examples.append(TrainingExample(prompt: prompt, completion: completion, tokenizer: tokenizer, eos: eos, maxTokens: maxTokens))
            }
        }
        return examples
    }
}

/// The JSONL training log. On resume, lines past the checkpoint's step are dropped first, so
/// the log of an interrupted and resumed run reads like an uninterrupted one.
final class TrainingLog {
    let handle: FileHandle

    init(path: String, keepingStepsUpTo step: Int) throws {
        var kept: [String] = []
        if step > 0, let existing = try? String(contentsOfFile: path, encoding: .utf8) {
            for line in existing.split(separator: "\n") {
                if let entry = try? JSON.parse(String(line)), let s = entry.objectValue?["step"]?.intValue, s <= step { kept.append(String(line)) }
            }
        }
        try (kept.map { $0 + "\n" }.joined()).write(toFile: path, atomically: true, encoding: .utf8)
        guard let handle = FileHandle(forWritingAtPath: path) else { throw DataError("cannot write", at: path) }
        handle.seekToEndOfFile()
        self.handle = handle
    }

    func append(_ fields: [(String, JSON)]) throws {
        handle.write(Data((JSON.object(JSONObject(fields)).serialized() + "\n").utf8))
    }
}
