import ArgumentParser
import Endpoint
import Foundation
import Datasets
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
              generate --endpoint http://127.0.0.1:8000/v1 --model Qwen/Qwen2.5-0.5B problems.jsonl.zst -o s.jsonl.zst --samples 32 --concurrency 16

            With --endpoint, --model names the served model and requests go to the server's \
            /v1/completions (n, temperature, top_p, top_k, max_tokens, stop, seed), retried with \
            backoff on 429, 5xx, timeouts and dropped connections.
            """)

    @Option(help: "Model directory (config.json, model.safetensors, tokenizer.json); with --endpoint, the served model's name.")
    var model: String
    @Option(help: "An OpenAI-compatible server (http://host:port[/v1]) to sample from instead of the local engine.")
    var endpoint: String?
    @Option(help: "Concurrent requests with --endpoint.") var concurrency = 8
    @Option(help: "Attempts per request with --endpoint before giving up.") var retries = 6
    @Argument(help: "Problem shards.") var files: [String] = []
    @Option(name: .shortAndLong, help: "Output shard ('-' for stdout).") var output = "-"
    @Option(help: "Samples per problem (K).") var samples = 1
    @Option(help: "Index of the first sample: draws samples N ..< N+K (rounds of an adaptive E-step).")
    var firstSample = 0
    @Option(help: """
        With --endpoint, how the server takes samples and top-k: vllm (also SGLang, llama.cpp: n samples per \
        request, a top_k field) or transformers (`transformers serve`: a request per sample, top_k inside \
        generation_config).
        """)
    var serverKind: ServerKind = .vllm
    @Option(help: "Sampling temperature (0 = greedy).") var temperature: Float = 0
    @Option(help: "Keep the k most likely tokens (0 = all).") var topK = 0
    @Option(help: "Nucleus sampling mass.") var topP: Float = 1
    @Option(help: "Maximum new tokens per sample.") var maxTokens = 256
    @Option(name: .customLong("stop"), help: "Stop string (repeatable; not part of the completion; \\n, \\t and \\\\ are newline, tab, backslash).")
    var stopArguments: [String] = []

    /// The stop strings with the escapes a shell makes awkward to type read as characters.
    var stop: [String] { stopArguments.map(SamplingParameters.stopString(fromArgument:)) }
    @Option(help: "Seed of the random streams.") var seed: UInt64 = 0
    @Option(help: "Prompt template file ({{field}} placeholders; default: the problem).") var template: String?
    @Flag(help: "Wrap the prompt in the model's chat format (ChatML or Llama 3).") var chat = false
    @Option(help: "Only problems of shard i of n (by id).") var shard: String?
    @Option(help: "Sequences decoded together.") var batchSize = 64
    @Option(help: "Problems per resumable chunk.") var chunk = 64
    @Option(help: "BLAS threads.") var threads = ProcessInfo.processInfo.activeProcessorCount

    func validate() throws {
        if samples < 1 || maxTokens < 1 || batchSize < 1 || chunk < 1 { throw ValidationError("--samples, --max-tokens, --batch-size and --chunk must be positive") }
        if firstSample < 0 { throw ValidationError("--first-sample must be 0 or more") }
        if temperature < 0 || topP <= 0 || topP > 1 || topK < 0 { throw ValidationError("need --temperature >= 0, 0 < --top-p <= 1, --top-k >= 0") }
        if let shard { do { _ = try ShardSelection(shard) } catch { throw ValidationError("\(error)") } }
        if endpoint != nil && chat { throw ValidationError("--chat needs the local tokenizer; with --endpoint put the chat format in --template") }
        if concurrency < 1 { throw ValidationError("--concurrency must be positive") }
        if endpoint == nil && serverKind != .vllm { throw ValidationError("--server-kind needs --endpoint") }
    }

    func run() throws {
        try reportingDataErrors(tool: "generate") {
            BLAS.setThreads(threads)
            let inputs = try resolveInputs(files)
            let client = try endpoint.map { try CompletionsClient(endpoint: $0, maxAttempts: retries) }
            var generator: Generator?
            var tokenizer: Tokenizer?
            if client == nil {
                let engine = try Transformer.load(directory: model)
                let tok = try Tokenizer.load(modelOrFile: model)
                var eos = Set(engine.config.endOfSequenceIDs(tokenizer: tok))
                if chat, let id = tok.id(of: "<|im_end|>") ?? tok.id(of: "<|eot_id|>") { eos.insert(id) }
                generator = Generator(model: engine, tokenizer: tok, eos: eos)
                tokenizer = tok
            }
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
                    if chat, let tokenizer { prompt = try chatFormat(prompt, tokenizer: tokenizer) }
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
            parameters.firstSample = firstSample
            let modelName = client == nil ? URL(fileURLWithPath: model).lastPathComponent : model

            let partsDirectory = output == "-" ? nil : output + ".parts"
            let chunkExtension = ShardWriter.compresses(output) ? ".jsonl.zst" : ".jsonl"
            if let partsDirectory { try FileManager.default.createDirectory(atPath: partsDirectory, withIntermediateDirectories: true) }
            let chunkCount = (problems.count + chunk - 1) / chunk
            let progress = ProgressLine("generating", total: problems.count)
            var generatedTokens = 0, reused = 0
            var chunkFiles: [String] = []
            do {
                for c in 0..<chunkCount {
                    let range = (c * chunk)..<min((c + 1) * chunk, problems.count)
                    // Chunks in the output's format: their concatenation is the output.
                    let name = partsDirectory.map { "\($0)/chunk-\(String(format: "%06d", c))\(chunkExtension)" }
                    if let name { chunkFiles.append(name) }
                    if let name, FileManager.default.fileExists(atPath: name) {
                        reused += 1
                        progress.advance(by: range.count)
                        continue
                    }
                    let write: (ShardWriter) throws -> Void = { writer in
                        func emit(_ index: Int, _ completions: [Completion]) throws {
                            let problem = problems[range.lowerBound + index]
                            for completion in completions {
                                var record = problem.record
                                record["prompt"] = .string(problem.prompt)
                                record["completion"] = .string(completion.text)
                                record["sample"] = .number(JSONNumber(completion.sample))
                                record["gen"] = .object(JSONObject([
                                    ("model", .string(modelName)), ("temperature", .number(JSONNumber(Double("\(temperature)")!))),
                                    ("top_k", .number(JSONNumber(topK))), ("top_p", .number(JSONNumber(Double("\(topP)")!))),
                                    ("seed", .number(JSONNumber(Int(seed)))),
                                    ("tokens", completion.tokens >= 0 ? .number(JSONNumber(completion.tokens)) : .null),
                                    ("finish", .string(completion.finish)),
                                ]))
                                generatedTokens += max(0, completion.tokens)
                                try writer.write(record)
                            }
                            progress.detail = "\(Int(Double(generatedTokens) / max(progress.elapsedSeconds, 1e-3))) tok/s"
                            progress.advance()
                        }
                        if let client {
                            for (index, completions) in try requestChunk(range, problems: problems, client: client).enumerated() {
                                try emit(index, completions)
                            }
                        } else {
                            let prompts = range.map { (id: problems[$0].record.id!, prompt: problems[$0].prompt) }
                            try generator!.generate(prompts: prompts, samples: samples, parameters: parameters, maxLive: batchSize, emit: emit)
                        }
                    }
                    try writeShard(to: name ?? "-", write)
                }
            } catch {
                // Keep finished chunks for a rerun; an empty parts directory is just clutter.
                if let partsDirectory, (try? FileManager.default.contentsOfDirectory(atPath: partsDirectory))?.isEmpty == true {
                    try? FileManager.default.removeItem(atPath: partsDirectory)
                }
                throw error
            }
            progress.finish()
            if let partsDirectory {
                // Concatenated shards (zstd frames, or JSONL lines) are one shard: join the chunks.
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

    /// The chunk's problems sent to the server, `--concurrency` requests at a time; results in
    /// problem order. The first failure (after retries) fails the chunk, which writes nothing.
    func requestChunk(_ range: Range<Int>, problems: [(record: Record, prompt: String)], client: CompletionsClient) throws -> [[Completion]] {
        let results = ChunkResults(count: range.count)
        let gate = DispatchSemaphore(value: concurrency)
        let group = DispatchGroup()
        for (index, problemIndex) in range.enumerated() {
            gate.wait()
            if results.failed { gate.signal(); break }
            group.enter()
            let problem = problems[problemIndex]
            // All K samples in one request, or (a server without `n`) one request per sample, each
            // with the seed of the sample it starts at.
            let perRequest = serverKind == .transformers ? 1 : samples
            let requests = stride(from: 0, to: samples, by: perRequest).map { offset in
                CompletionRequest(model: model, prompt: problem.prompt, n: perRequest, temperature: temperature, topP: topP,
                                  topK: topK, maxTokens: maxTokens, stop: stop,
                                  seed: Int(requestSeed(problem.record.id!, firstSample: firstSample + offset) & 0x7FFF_FFFF),
                                  kind: serverKind)
            }
            DispatchQueue.global().async {
                defer { gate.signal(); group.leave() }
                do {
                    let choices = try requests.flatMap { try client.complete($0) }
                    results.set(index, .success(choices.enumerated().map {
                        Completion(problem: problemIndex, sample: firstSample + $0.offset, text: $0.element.text, tokens: -1, finish: $0.element.finish)
                    }))
                } catch {
                    results.set(index, .failure(error))
                }
            }
        }
        group.wait()
        return try results.values.map { try ($0 ?? .failure(DataError("request not sent"))).get() }
    }

    /// A server draws all of a request's n samples from one seed: a request that starts at a later
    /// sample (a later round, or one request per sample) needs its own.
    func requestSeed(_ id: String, firstSample: Int) -> UInt64 {
        firstSample == 0 ? stableHash(String(seed), id) : stableHash(String(seed), id, "first sample \(firstSample)")
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

/// Per-problem results filled in by concurrent requests.
final class ChunkResults: @unchecked Sendable {
    private let lock = NSLock()
    private(set) var values: [Result<[Completion], Error>?]
    private(set) var failed = false
    init(count: Int) { values = Array(repeating: nil, count: count) }
    func set(_ index: Int, _ value: Result<[Completion], Error>) {
        lock.lock()
        values[index] = value
        if case .failure = value { failed = true }
        lock.unlock()
    }
}


extension ServerKind: ExpressibleByArgument {}
