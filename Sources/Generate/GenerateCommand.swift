import ArgumentParser
import Foundation
import Formats
import Model
import ToolSupport

@main
struct GenerateCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "generate",
        abstract: "Sample K completions per problem from a model directory (CPU engine).",
        discussion: """
            Writes one record per sample: the problem's fields plus prompt, completion, sample \
            and gen {model, temperature, top_k, top_p, seed, tokens, finish}. Each sample's \
            random stream derives from (seed, problem id, sample index), so results do not \
            depend on --batch-size, --threads or --shard. Work is written in chunks under \
            OUT.parts/; rerunning after an interruption skips finished chunks and the final \
            output is identical to an uninterrupted run.

            Examples:
              generate --model base/ problems.jsonl.zst -o samples.jsonl.zst --samples 4 --temperature 0.8 --top-k 40
              generate --model base/ val.jsonl.zst -o greedy.jsonl.zst --temperature 0
              generate --model m/ problems.jsonl.zst -o - --samples 2 --stop "\\n\\n" | verify - --keep correct
            """)

    @Option(help: "Model directory (config.json, model.safetensors, tokenizer.json).") var model: String
    @Argument(help: "Problem shards.") var files: [String] = []
    @Option(name: .shortAndLong, help: "Output shard ('-' for stdout).") var output = "-"
    @Option(help: "Samples per problem (K).") var samples = 1
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0
    @Option(help: "Keep the k most likely tokens (0 = all).") var topK = 0
    @Option(help: "Nucleus sampling mass.") var topP: Float = 1
    @Option(help: "Maximum new tokens per sample.") var maxTokens = 256
    @Option(help: "Stop string (repeatable; not part of the completion).") var stop: [String] = []
    @Option(help: "Seed of the random streams.") var seed: UInt64 = 0
    @Option(help: "Prompt template file ({{field}} placeholders; default: the problem).") var template: String?
    @Flag(help: "Wrap the prompt in the model's chat format (ChatML or Llama 3).") var chat = false
    @Option(help: "Only problems of shard i of n (by id).") var shard: String?
    @Option(help: "Sequences decoded together.") var batchSize = 64
    @Option(help: "Problems per resumable chunk.") var chunk = 64
    @Option(help: "BLAS threads.") var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        if samples < 1 || maxTokens < 1 || batchSize < 1 || chunk < 1 { throw ValidationError("--samples, --max-tokens, --batch-size and --chunk must be positive") }
        if temperature < 0 || topP <= 0 || topP > 1 || topK < 0 { throw ValidationError("need --temperature >= 0, 0 < --top-p <= 1, --top-k >= 0") }
        if let shard { do { _ = try ShardSelection(shard) } catch { throw ValidationError("\(error)") } }
    }

    func run() throws {
        try reportingDataErrors(tool: "generate") {
            BLAS.setThreads(threads)
            let inputs = try resolveInputs(files)
            let engine = try Transformer.load(directory: model)
            let tokenizer = try Tokenizer(path: model + "/tokenizer.json")
            var eos = Set(engine.config.eosTokenIDs)
            if eos.isEmpty, let id = ["<|endoftext|>", "</s>", "<|im_end|>", "<|eot_id|>"].lazy.compactMap(tokenizer.id(of:)).first { eos = [id] }
            if chat, let id = tokenizer.id(of: "<|im_end|>") ?? tokenizer.id(of: "<|eot_id|>") { eos.insert(id) }
            let promptTemplate = try template.map(PromptTemplate.load) ?? .problemOnly
            let selection = try shard.map(ShardSelection.init) ?? .all

            // Problems, with prompts rendered up front so bad records fail before any work.
            var problems: [(record: Record, prompt: String)] = []
            for path in inputs {
                let reader = try ShardReader(path: path)
                try reader.forEachRecord { record in
                    guard let id = record.id else { throw DataError("field \"id\" missing") }
                    guard selection.contains(id: id) else { return }
                    var prompt = try promptTemplate.prompt(for: record)
                    if chat { prompt = try chatFormat(prompt, tokenizer: tokenizer) }
                    problems.append((record, prompt))
                }
            }
            var parameters = SamplingParameters()
            parameters.temperature = temperature
            parameters.topK = topK
            parameters.topP = topP
            parameters.maxTokens = maxTokens
            parameters.stop = stop
            parameters.seed = seed
            let generator = Generator(model: engine, tokenizer: tokenizer, eos: eos)
            let modelName = URL(fileURLWithPath: model).lastPathComponent

            let partsDirectory = output == "-" ? nil : output + ".parts"
            if let partsDirectory { try FileManager.default.createDirectory(atPath: partsDirectory, withIntermediateDirectories: true) }
            let chunkCount = (problems.count + chunk - 1) / chunk
            let progress = ProgressLine("generating", total: problems.count)
            var generatedTokens = 0, reused = 0
            var chunkFiles: [String] = []
            for c in 0..<chunkCount {
                let range = (c * chunk)..<min((c + 1) * chunk, problems.count)
                let name = partsDirectory.map { "\($0)/chunk-\(String(format: "%06d", c)).jsonl.zst" }
                if let name { chunkFiles.append(name) }
                if let name, FileManager.default.fileExists(atPath: name) {
                    reused += 1
                    progress.advance(by: range.count)
                    continue
                }
                let write: (ShardWriter) throws -> Void = { writer in
                    let prompts = range.map { (id: problems[$0].record.id!, prompt: problems[$0].prompt) }
                    try generator.generate(prompts: prompts, samples: samples, parameters: parameters, maxLive: batchSize) { index, completions in
                        let problem = problems[range.lowerBound + index]
                        for completion in completions {
                            var record = problem.record
                            record["prompt"] = .string(problem.prompt)
                            record["completion"] = .string(completion.text)
                            record["sample"] = .number(JSONNumber(completion.sample))
                            record["gen"] = .object(JSONObject([
                                ("model", .string(modelName)), ("temperature", .number(JSONNumber(Double("\(temperature)")!))),
                                ("top_k", .number(JSONNumber(topK))), ("top_p", .number(JSONNumber(Double("\(topP)")!))),
                                ("seed", .number(JSONNumber(Int(seed)))), ("tokens", .number(JSONNumber(completion.tokens))),
                                ("finish", .string(completion.finish)),
                            ]))
                            generatedTokens += completion.tokens
                            try writer.write(record)
                        }
                        progress.detail = "\(Int(Double(generatedTokens) / max(progress.elapsedSeconds, 1e-3))) tok/s"
                        progress.advance()
                    }
                }
                try writeShard(to: name ?? "-", write)
            }
            progress.finish()
            if let partsDirectory {
                // Concatenated zstd shards are one shard: join the chunks into the output.
                let file = try AtomicFile(path: output)
                do {
                    for name in chunkFiles {
                        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: name)))
                        try bytes.withUnsafeBytes { try file.write($0) }
                    }
                    try file.commit()
                } catch {
                    file.abort()
                    throw error
                }
                try? FileManager.default.removeItem(atPath: partsDirectory)
            }
            let seconds = progress.elapsedSeconds
            printError("generated \(problems.count * samples) samples for \(problems.count) problems, \(generatedTokens) tokens in \(String(format: "%.1f", seconds)) s (\(Int(Double(generatedTokens) / max(seconds, 1e-3))) tok/s)" + (reused > 0 ? "; \(reused) chunks reused from an earlier run" : ""))
        }
    }

    /// ChatML (Qwen and others) or the Llama 3 header format, chosen by the tokenizer's tokens.
    func chatFormat(_ prompt: String, tokenizer: Tokenizer) throws -> String {
        if tokenizer.id(of: "<|im_start|>") != nil {
            return "<|im_start|>user\n\(prompt)<|im_end|>\n<|im_start|>assistant\n"
        }
        if tokenizer.id(of: "<|start_header_id|>") != nil {
            return "<|start_header_id|>user<|end_header_id|>\n\n\(prompt)<|eot_id|><|start_header_id|>assistant<|end_header_id|>\n\n"
        }
        throw DataError("--chat: the tokenizer has neither ChatML nor Llama 3 chat tokens")
    }
}
