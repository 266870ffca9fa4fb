import Foundation
import Testing
@testable import Model

@Suite struct GenerationTests {
    /// Greedy decoding with the KV cache and batched rows equals a plain decoder that reruns
    /// the whole sequence without a cache for every token.
    @Test(arguments: ["llama", "qwen2", "gpt2"])
    func cachedGreedyEqualsPlainDecoder(name: String) throws {
        let model = try Transformer.load(directory: modelFixtures.appendingPathComponent("models/\(name)").path)
        let vocab = model.config.vocabSize
        let prompts = [[3, 17, 5], [11, 4, 39, 1, 0, 25], [7]]
        // Plain reference.
        var reference: [[Int]] = []
        for prompt in prompts {
            var sequence = prompt
            for _ in 0..<10 {
                let logits = model.logits(tokens: sequence, batch: 1, seq: sequence.count)
                let last = logits[((sequence.count - 1) * vocab)...]
                sequence.append(last.indices.max { last[$0] < last[$1] || (last[$0] == last[$1] && $0 > $1) }! - last.startIndex)
            }
            reference.append(Array(sequence.dropFirst(prompt.count)))
        }
        // Cached, all three sequences decoded together after separate prefills.
        let caches = prompts.map { _ in model.makeCache(capacity: 4) }
        var outputs = [[Int]](repeating: [], count: prompts.count)
        var last: [Int] = []
        for (i, prompt) in prompts.enumerated() {
            let logits = model.forward(tokens: prompt, caches: Array(repeating: caches[i], count: prompt.count), logitRows: [prompt.count - 1])
            last.append(logits.indices.max { logits[$0] < logits[$1] || (logits[$0] == logits[$1] && $0 > $1) }!)
        }
        for step in 0..<10 {
            for i in prompts.indices { outputs[i].append(last[i]) }
            if step == 9 { break }
            let logits = model.forward(tokens: last, caches: caches, logitRows: Array(prompts.indices))
            last = prompts.indices.map { i in
                let row = logits[(i * vocab)..<((i + 1) * vocab)]
                return row.indices.max { row[$0] < row[$1] || (row[$0] == row[$1] && $0 > $1) }! - row.startIndex
            }
        }
        #expect(outputs == reference)
    }

    /// The packed copy of the weights that cached inference multiplies by follows every change of
    /// the parameters (an optimizer step, a load): a stale copy would sample from the old model,
    /// e.g. in fine-tuning's validation between snapshots.
    @Test func cachedForwardFollowsParameterChanges() {
        let model = Transformer(config: tinyConfig(.llama))
        model.initializeRandomly(seed: 3)
        func lastLogits(_ model: Transformer) -> [Float] {
            model.forward(tokens: [1, 2, 3], caches: Array(repeating: model.makeCache(), count: 3), logitRows: [2])
        }
        let before = lastLogits(model)
        // An AdamW step, which writes the parameters through a buffer pointer.
        model.gradients = model.parameters.indices.map { Float($0 % 7) - 3 }
        var optimizer = AdamW(parameterCount: model.parameterCount)
        optimizer.update(model, learningRate: 0.05)
        let fresh = Transformer(config: model.config)
        fresh.parameters = model.parameters
        let after = lastLogits(model)
        #expect(after != before)
        #expect(after.map(\.bitPattern) == lastLogits(fresh).map(\.bitPattern))
        // An element written directly.
        model.parameters[model.tensors[1].offset] += 1
        fresh.parameters = model.parameters
        #expect(lastLogits(model).map(\.bitPattern) == lastLogits(fresh).map(\.bitPattern))
    }

    func generator() throws -> Generator {
        var config = tinyConfig(.llama)
        config.vocabSize = 600
        let model = Transformer(config: config)
        model.initializeRandomly(seed: 5)
        for i in model.parameters.indices { model.parameters[i] *= 20 }  // sharper distributions
        let tokenizer = try Tokenizer(path: modelFixtures.appendingPathComponent("tokenizer-llama3.json").path)
        return Generator(model: model, tokenizer: tokenizer, eos: [0])
    }

    func sample(_ generator: Generator, maxLive: Int, seed: UInt64) throws -> [Completion] {
        var parameters = SamplingParameters()
        parameters.temperature = 0.8
        parameters.topK = 40
        parameters.topP = 0.95
        parameters.maxTokens = 12
        parameters.seed = seed
        var all: [Completion] = []
        let prompts = (0..<9).map { (id: "p\($0)", prompt: "the answer is \($0 * 7)") }
        try generator.generate(prompts: prompts, samples: 4, parameters: parameters, maxLive: maxLive) { _, completions in
            all += completions
        }
        return all
    }

    @Test func samplesDoNotDependOnBatchSizeButOnSeed() throws {
        let g = try generator()
        let one = try sample(g, maxLive: 1, seed: 1)
        #expect(one.count == 36)
        #expect(try sample(g, maxLive: 7, seed: 1) == one)
        #expect(try sample(g, maxLive: 64, seed: 1) == one)
        #expect(try sample(g, maxLive: 64, seed: 2) != one)
        #expect(Set(one.map(\.text)).count > 9)
        #expect(one.map(\.problem) == (0..<9).flatMap { [Int](repeating: $0, count: 4) })
    }

    /// Caches that grow (keys are stored in blocks of 16 positions; growing in the middle of a
    /// block, by several positions in one call), and a fork that grows, give the bits of caches
    /// made with room for every position.
    @Test(arguments: ["llama", "gpt2"])
    func growingCachesKeepTheBits(name: String) throws {
        let model = try Transformer.load(directory: modelFixtures.appendingPathComponent("models/\(name)").path)
        let steps = 12  // the cache reaches 5 + 3 x 12 = 41 positions, the fork 12 of its own
        func run(capacity: Int) -> [UInt32] {
            let cache = model.makeCache(capacity: capacity)
            var out = model.forward(tokens: [3, 1, 4, 1, 5], caches: Array(repeating: cache, count: 5), logitRows: [4]).map(\.bitPattern)
            let fork = cache.fork(capacity: capacity)
            for step in 0..<steps {
                let logits = model.forward(tokens: [step % 7, (step * 3) % 5, 2, step % 3], caches: [cache, cache, cache, fork],
                                           logitRows: [2, 3])
                out += logits.map(\.bitPattern)
            }
            return out
        }
        let grown = run(capacity: 1), roomy = run(capacity: 64)
        #expect(grown == roomy, "\(zip(grown, roomy).filter { $0 != $1 }.count) of \(grown.count) logits differ")
    }

    /// A cache's room costs memory only where positions are written: `generate` gives every
    /// sample room for `--max-tokens` and most answers stop far sooner. A cache with room for 8M
    /// positions (1 GB of keys and values on this model) grows the resident memory by far less,
    /// and gives the logits of a cache with just enough room. (Zeroing the room up front made 128
    /// samples of the 25.6M model with room for 1024 tokens, 128 used, peak at 4.5 GB, not 1 GB.)
    @Test func unusedCacheRoomCostsNoMemory() throws {
        let model = try Transformer.load(directory: modelFixtures.appendingPathComponent("models/llama").path)
        func run(capacity: Int) throws -> (logits: [UInt32], grown: Int) {
            let before = try residentBytes()
            let cache = model.makeCache(capacity: capacity)
            var out = model.forward(tokens: [3, 1, 4, 1, 5], caches: Array(repeating: cache, count: 5), logitRows: [4]).map(\.bitPattern)
            for step in 0..<20 { out += model.forward(tokens: [step % 7], caches: [cache], logitRows: [0]).map(\.bitPattern) }
            return (out, try residentBytes() - before)  // while the cache is alive
        }
        let roomy = try run(capacity: 1 << 23)
        #expect(roomy.grown < 256 << 20, "resident memory grew by \(roomy.grown >> 20) MB for 25 positions")
        #expect(roomy.logits == (try run(capacity: 25)).logits)
    }

    /// This process's resident memory (/proc/self/statm: pages).
    private func residentBytes() throws -> Int {
        let fields = try String(contentsOfFile: "/proc/self/statm", encoding: .utf8).split(separator: " ")
        return Int(fields[1])! * Int(sysconf(Int32(_SC_PAGESIZE)))
    }

    /// One workspace reused across calls of different row counts (prompts batched, then decode
    /// steps, a cache forked, forks and caches grown) gives the bits of fresh workspaces and one
    /// prompt per call.
    @Test(arguments: ["llama", "qwen2", "gpt2"])
    func reusedWorkspaceAndBatchedPrefillKeepTheBits(name: String) throws {
        let model = try Transformer.load(directory: modelFixtures.appendingPathComponent("models/\(name)").path)
        let vocab = model.config.vocabSize
        let prompts = [[3, 17, 5], [11, 4, 39, 1, 0, 25], [7]]
        func run(shared: InferenceWorkspace?, batchedPrefill: Bool) -> [[UInt32]] {
            var caches = prompts.map { _ in model.makeCache(capacity: 2) }
            var logits: [[Float]] = []
            if batchedPrefill {
                let all = model.forward(tokens: prompts.flatMap { $0 }, caches: prompts.indices.flatMap { Array(repeating: caches[$0], count: prompts[$0].count) },
                                        logitRows: [2, 8, 9], workspace: shared)
                logits = prompts.indices.map { Array(all[($0 * vocab)..<(($0 + 1) * vocab)]) }
            } else {
                logits = prompts.indices.map { i in
                    model.forward(tokens: prompts[i], caches: Array(repeating: caches[i], count: prompts[i].count),
                                  logitRows: [prompts[i].count - 1], workspace: shared)
                }
            }
            caches.append(caches[1].fork(capacity: 2))
            var out = logits.map { $0.map(\.bitPattern) }
            for step in 0..<6 {
                let tokens = caches.indices.map { ($0 * 5 + step) % vocab }
                let all = model.forward(tokens: tokens, caches: caches, logitRows: Array(caches.indices), workspace: shared)
                out.append(all.map(\.bitPattern))
                if step == 2 { caches.removeFirst() }
            }
            return out
        }
        let reference = run(shared: nil, batchedPrefill: false)
        #expect(run(shared: InferenceWorkspace(), batchedPrefill: false) == reference)
        #expect(run(shared: InferenceWorkspace(), batchedPrefill: true) == reference)
    }

    /// Regression: `generate --stop "\n\n"` (as its help shows) used to stop on a literal
    /// backslash-n and never on a blank line.
    @Test func stopArgumentsReadEscapes() {
        #expect(SamplingParameters.stopString(fromArgument: #"\n\n"#) == "\n\n")
        #expect(SamplingParameters.stopString(fromArgument: #"a\tb\\n\x\"#) == "a\tb\\n\\x\\")
        #expect(SamplingParameters.stopString(fromArgument: "plain") == "plain")
    }

    @Test func stopStringsAndLengthLimit() throws {
        let g = try generator()
        var parameters = SamplingParameters()
        parameters.maxTokens = 5
        var result: [Completion] = []
        try g.generate(prompts: [(id: "a", prompt: "emoji")], samples: 1, parameters: parameters, maxLive: 4) { result += $1 }
        #expect(result[0].finish == "length" || result[0].finish == "eos")
        let text = result[0].text
        guard text.count >= 2 else { return }
        let stop = String(text.dropFirst(text.count / 2).prefix(1))
        parameters.stop = [stop]
        var stopped: [Completion] = []
        try g.generate(prompts: [(id: "a", prompt: "emoji")], samples: 1, parameters: parameters, maxLive: 4) { stopped += $1 }
        #expect(stopped[0].finish == "stop")
        #expect(!stopped[0].text.contains(stop))
        #expect(text.hasPrefix(stopped[0].text))
    }
}
