import Foundation
import Formats

public struct SamplingParameters: Sendable {
    /// 0 means greedy.
    public var temperature: Float = 0
    public var topK = 0
    public var topP: Float = 1
    public var maxTokens = 256
    public var stop: [String] = []
    public var seed: UInt64 = 0
    /// The index of the first sample: samples `firstSample ..< firstSample + K` are drawn, each
    /// from its own stream, so sampling K in rounds of K/R gives the same samples as K at once.
    public var firstSample = 0

    public init() {}

    /// A `--stop` argument as a string: `\n` is a newline, `\t` a tab, `\\` a backslash (shells make
    /// the characters themselves awkward to type); any other backslash stays as it is.
    public static func stopString(fromArgument text: String) -> String {
        var out = "", escaped = false
        for c in text {
            if escaped {
                switch c {
                case "n": out.append("\n")
                case "t": out.append("\t")
                case "\\": out.append("\\")
                default: out.append("\\"); out.append(c)
                }
                escaped = false
            } else if c == "\\" {
                escaped = true
            } else {
                out.append(c)
            }
        }
        return escaped ? out + "\\" : out
    }
}

/// The random stream of one sample: derived from (seed, problem id, sample index) only, so a
/// sample is the same whatever the batch size, thread count or shard.
struct SampleRandom {
    var state: UInt64

    init(seed: UInt64, id: String, sample: Int) { state = stableHash(String(seed), id, String(sample)) }

    mutating func next() -> Double {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
        z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
        z ^= z >> 31
        return Double(z >> 11) / Double(1 << 53)
    }
}

/// Picks the next token from logits: argmax (lowest id on ties) at temperature 0, otherwise
/// temperature, then top-k, then top-p (nucleus), then one draw from the stream.
///
/// The candidates are ordered by logit, highest first (lowest id on ties), and every sum runs in
/// that order, so the same draw gives the same token on every machine. With top-k only the k best
/// are selected and sorted (a partial selection, not a sort of the vocabulary); either way the
/// order is that of sorting (id, logit) pairs, as the earlier implementation did (the test
/// `pickTokenEqualsTheFullSort` compares the two).
func pickToken(_ logits: ArraySlice<Float>, _ parameters: SamplingParameters, _ random: inout SampleRandom) -> Int {
    let base = logits.startIndex
    if parameters.temperature <= 0 {
        var best = base
        for i in logits.indices where logits[i] > logits[best] { best = i }
        return best - base
    }
    let count = logits.count
    let keep = parameters.topK > 0 && parameters.topK < count ? parameters.topK : count
    // One UInt64 per token whose ascending order is descending logit, then ascending id.
    var keys = [UInt64](unsafeUninitializedCapacity: count) { buffer, initialized in
        for id in 0..<count {
            buffer[id] = candidateKey(logit: logits[base + id] / parameters.temperature, id: id)
        }
        initialized = count
    }
    if keep < count {
        selectSmallest(&keys, keep)
        keys[0..<keep].sort()
    } else {
        sortKeysInIDOrder(&keys)
    }
    let candidates = keys[0..<keep].map { Int($0 & 0xFFFF_FFFF) }
    let maximum = logits[base + candidates[0]] / parameters.temperature
    var weights = candidates.map { Double(Foundation.exp(logits[base + $0] / parameters.temperature - maximum)) }
    let total = weights.reduce(0, +)
    weights = weights.map { $0 / total }
    if parameters.topP < 1 {
        var cumulative = 0.0, kept = 0
        while kept < weights.count { cumulative += weights[kept]; kept += 1; if cumulative >= Double(parameters.topP) { break } }
        weights.removeLast(weights.count - kept)
        let keptTotal = weights.reduce(0, +)
        weights = weights.map { $0 / keptTotal }
    }
    var draw = random.next()
    for (i, weight) in weights.enumerated() {
        draw -= weight
        if draw < 0 { return candidates[i] }
    }
    return candidates[weights.count - 1]
}

/// The sort key of a candidate: the logit's bits mapped to an unsigned order, inverted (highest
/// logit first), above the id (lowest id first among equal logits; -0 and +0 are equal).
@inline(__always)
func candidateKey(logit: Float, id: Int) -> UInt64 {
    let bits = (logit == 0 ? Float(0) : logit).bitPattern
    let ascending = bits & 0x8000_0000 != 0 ? ~bits : bits | 0x8000_0000
    return UInt64(~ascending) << 32 | UInt64(id)
}

/// Sorts candidate keys that are in ascending id order (as built): a vocabulary-sized array by a
/// stable radix sort on the logit half (the ids' order then breaks ties, as the full key does), in
/// a few linear passes instead of n log n comparisons; a short one by `sort`. Same order.
func sortKeysInIDOrder(_ keys: inout [UInt64]) {
    let count = keys.count
    guard count >= 1024 else { return keys.sort() }
    var other = [UInt64](repeating: 0, count: count)
    keys.withUnsafeMutableBufferPointer { a in
        other.withUnsafeMutableBufferPointer { b in
            var source = a, target = b
            for shift in stride(from: 32, to: 64, by: 8) {
                var counts = [Int](repeating: 0, count: 257)
                for key in source { counts[Int((key >> UInt64(shift)) & 0xFF) + 1] += 1 }
                if counts.contains(count) { continue }  // every key has the same digit: nothing to do
                for digit in 1...256 { counts[digit] += counts[digit - 1] }
                for key in source {
                    let digit = Int((key >> UInt64(shift)) & 0xFF)
                    target[counts[digit]] = key
                    counts[digit] += 1
                }
                swap(&source, &target)
            }
            if source.baseAddress != a.baseAddress { a.baseAddress!.update(from: source.baseAddress!, count: count) }
        }
    }
}

/// Rearranges `keys` so that its first k elements are its k smallest (in any order), by
/// quickselect: expected linear time, where a sort would take n log n.
func selectSmallest(_ keys: inout [UInt64], _ k: Int) {
    var low = 0, high = keys.count - 1
    keys.withUnsafeMutableBufferPointer { a in
        while low < high {
            // Median of three as the pivot, then Hoare's partition.
            let middle = low + (high - low) / 2
            if a[middle] < a[low] { a.swapAt(middle, low) }
            if a[high] < a[low] { a.swapAt(high, low) }
            if a[high] < a[middle] { a.swapAt(high, middle) }
            let pivot = a[middle]
            var i = low, j = high
            while i <= j {
                while a[i] < pivot { i += 1 }
                while a[j] > pivot { j -= 1 }
                if i <= j { a.swapAt(i, j); i += 1; j -= 1 }
            }
            // [low, j] <= pivot <= [i, high]; keep the side that holds position k - 1.
            if k - 1 <= j { high = j } else if k - 1 >= i { low = i } else { return }
        }
    }
}

/// One finished sample.
public struct Completion: Sendable, Equatable {
    public init(problem: Int, sample: Int, text: String, tokens: Int, finish: String) {
        self.problem = problem; self.sample = sample; self.text = text; self.tokens = tokens; self.finish = finish
    }

    public let problem: Int
    public let sample: Int
    public let text: String
    /// Tokens generated (-1 when a server did not say).
    public let tokens: Int
    /// "eos", "stop" or "length" (a server's own finish_reason with --endpoint).
    public let finish: String
}

/// Samples K completions for each prompt with one shared prefill per prompt and all live
/// sequences decoded together (one row each in every matrix product). Finished sequences
/// leave the batch and the next prompt's samples join.
public final class Generator {
    public let model: Transformer
    public let tokenizer: Tokenizer
    public let eos: Set<Int>

    /// Rows per prefill call at most (whole prompts; a longer prompt alone): enough rows for the
    /// products to run at full speed, few enough to keep the activations small.
    public static let prefillRows = 512

    public init(model: Transformer, tokenizer: Tokenizer, eos: Set<Int>) {
        self.model = model
        self.tokenizer = tokenizer
        self.eos = eos
    }

    final class Sequence {
        let problem: Int, sample: Int
        let cache: KVCache
        var random: SampleRandom
        var generated: [Int] = []
        var logits: [Float]
        init(problem: Int, sample: Int, cache: KVCache, random: SampleRandom, logits: [Float]) {
            self.problem = problem; self.sample = sample; self.cache = cache; self.random = random; self.logits = logits
        }
    }

    /// Calls `emit` with each problem's completions (samples in order), problems in order.
    public func generate(prompts: [(id: String, prompt: String)], samples: Int, parameters: SamplingParameters,
                         maxLive: Int, emit: (Int, [Completion]) throws -> Void) throws {
        var nextProblem = 0
        var live: [Sequence] = []
        var finished: [Int: [Completion]] = [:]
        var nextToEmit = 0
        let vocab = model.config.vocabSize
        let stopWindow = (parameters.stop.map(\.utf8.count).max() ?? 0) + 1
        let workspace = InferenceWorkspace()
        while nextProblem < prompts.count || !live.isEmpty {
            // Admit problems while there is room (always at least one), their prompts prefilled
            // together, up to `prefillRows` rows per call (rows are independent: same logits).
            var admitted: [(problem: Int, ids: [Int], cache: KVCache)] = []
            var admittedLive = live.count
            while nextProblem < prompts.count && (admittedLive == 0 || admittedLive + samples <= maxLive) {
                let promptIDs = tokenizer.encode(prompts[nextProblem].prompt)
                // Room for the prompt only: its samples' tokens go into forks of this cache.
                admitted.append((nextProblem, promptIDs, model.makeCache(capacity: promptIDs.count)))
                admittedLive += samples
                finished[nextProblem] = []
                nextProblem += 1
            }
            var first = 0
            while first < admitted.count {
                var end = first + 1, rows = admitted[first].ids.count
                while end < admitted.count && rows + admitted[end].ids.count <= Self.prefillRows { rows += admitted[end].ids.count; end += 1 }
                let part = admitted[first..<end]
                var lastRows: [Int] = [], row = 0
                for prompt in part { row += prompt.ids.count; lastRows.append(row - 1) }
                let logits = model.forward(tokens: part.flatMap(\.ids), caches: part.flatMap { Array(repeating: $0.cache, count: $0.ids.count) },
                                           logitRows: lastRows, workspace: workspace)
                for (index, prompt) in part.enumerated() {
                    let problemLogits = Array(logits[(index * vocab)..<((index + 1) * vocab)])
                    let room = parameters.maxTokens + 1
                    for s in parameters.firstSample..<(parameters.firstSample + samples) {
                        // Each sample continues the prompt's cache, sharing its positions.
                        live.append(Sequence(problem: prompt.problem, sample: s, cache: prompt.cache.fork(capacity: room),
                                             random: SampleRandom(seed: parameters.seed, id: prompts[prompt.problem].id, sample: s),
                                             logits: problemLogits))
                    }
                }
                first = end
            }
            // Sample one token for every live sequence; finish or continue.
            var continuing: [Sequence] = []
            for sequence in live {
                let token = pickToken(sequence.logits[0..<vocab], parameters, &sequence.random)
                var finish: String?
                if eos.contains(token) {
                    finish = "eos"
                } else {
                    sequence.generated.append(token)
                    // A new stop occurrence must include the new token; every token is at least one
                    // byte, so the last (longest stop in bytes + 1) tokens cover it. Decoding that
                    // window instead of the whole completion keeps each step O(1).
                    if !parameters.stop.isEmpty,
                       case let window = tokenizer.decode(Array(sequence.generated.suffix(stopWindow))),
                       parameters.stop.contains(where: window.contains) {
                        finish = "stop"
                    } else if sequence.generated.count >= parameters.maxTokens {
                        finish = "length"
                    }
                }
                if let finish {
                    var text = tokenizer.decode(sequence.generated)
                    if finish == "stop" {
                        let cut = parameters.stop.compactMap { text.range(of: $0)?.lowerBound }.min()!
                        text = String(text[..<cut])
                    }
                    finished[sequence.problem]!.append(Completion(problem: sequence.problem, sample: sequence.sample, text: text,
                                                                  tokens: sequence.generated.count + (finish == "eos" ? 1 : 0), finish: finish))
                } else {
                    continuing.append(sequence)
                }
            }
            live = continuing
            if !live.isEmpty {
                let logits = model.forward(tokens: live.map { $0.generated.last! }, caches: live.map(\.cache), logitRows: Array(live.indices),
                                           workspace: workspace)
                for (i, sequence) in live.enumerated() { sequence.logits = Array(logits[(i * vocab)..<((i + 1) * vocab)]) }
            }
            // Emit completed problems in order.
            while nextToEmit < nextProblem, let done = finished[nextToEmit], done.count == samples {
                try emit(nextToEmit, done.sorted { $0.sample < $1.sample })
                finished[nextToEmit] = nil
                nextToEmit += 1
            }
        }
    }
}
