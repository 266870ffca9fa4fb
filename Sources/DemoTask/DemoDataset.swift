import Formats

/// The demo's data, all drawn from one seeded stream: problem splits, the human-data
/// solutions of the train split, and a pretraining corpus for the base model (arithmetic facts
/// plus step-by-step solutions of other problems; it never shows a human-style solution).
public struct DemoDataset: Sendable {
    public struct Options: Sendable {
        public var seed: UInt64 = 0
        public var train = 2000
        public var validation = 400
        public var test = 800
        /// Problems whose step-by-step solutions are in the pretraining corpus.
        public var pretrainProblems = 2000
        /// Lines of random arithmetic facts (`7*2=14;3+9=12;...`) in the pretraining corpus.
        public var factLines = 1000
        /// The human data's mix of styles: full steps, merged steps, answer only.
        public var humanMix: (full: Double, merged: Double, answerOnly: Double) = (0.3, 0.4, 0.3)

        public init() {}
    }

    public var train: [Record] = []
    public var validation: [Record] = []
    public var test: [Record] = []
    public var pretrain: [Record] = []

    /// The prompt the model sees: `Q12+3-5*2:`.
    public static let promptTemplate = "Q{{problem}}:"
    /// Characters of every prompt and solution; the tokenizer's vocabulary after `<eos>`.
    public static let alphabet = Array("0123456789+-*=;#Q:")

    public init(_ options: Options) {
        var random = DemoRandom(seed: options.seed)
        // Problems of two or more operations are unique across all splits and the pretraining
        // problems. One-operation problems are only 293, so they repeat once used up: after a
        // bounded number of redraws the repeat is accepted (no loop can run forever).
        var used: Set<String> = []
        func draw(_ count: Int) -> [ArithmeticChain] {
            (0..<count).map { i in
                let length = i % 4 + 1
                var chain = ArithmeticChain.random(length: length, using: &random)
                var redraws = 0
                while used.contains(chain.problem) && redraws < 200 {
                    chain = ArithmeticChain.random(length: length, using: &random)
                    redraws += 1
                }
                used.insert(chain.problem)
                return chain
            }
        }
        let testChains = draw(options.test), validationChains = draw(options.validation)
        let trainChains = draw(options.train), pretrainChains = draw(options.pretrainProblems)

        func problemRecord(_ chain: ArithmeticChain, split: String, _ index: Int) -> Record {
            Record(["id": .string("demo/\(split)/\(index)"), "task": "math", "problem": .string(chain.problem),
                    "answer": .string(String(chain.answer)), "difficulty": .number(JSONNumber(chain.steps.count))])
        }
        test = testChains.enumerated().map { problemRecord($1, split: "test", $0) }
        validation = validationChains.enumerated().map { problemRecord($1, split: "validation", $0) }
        let mix = options.humanMix
        let total = mix.full + mix.merged + mix.answerOnly
        train = trainChains.enumerated().map { index, chain in
            var record = problemRecord(chain, split: "train", index)
            let u = random.unit() * total
            let style: ArithmeticChain.HumanStyle = u < mix.full ? .full : u < mix.full + mix.merged ? .merged : .answerOnly
            record["solution"] = .string(chain.humanSolution(style, using: &random))
            record["solution_style"] = .string(style.rawValue)
            record["clean_solution"] = .string(chain.stepByStepSolution)
            return record
        }

        let facts = Self.allFacts
        pretrain = pretrainChains.enumerated().map { index, chain in
            Record(["id": .string("demo/pretrain/\(index)"), "prompt": .string("Q\(chain.problem):"),
                    "completion": .string(chain.stepByStepSolution)])
        }
        for line in 0..<options.factLines {
            let text = (0..<6).map { _ in facts[random.int(0...(facts.count - 1))] }.joined()
            pretrain.append(Record(["id": .string("demo/facts/\(line)"), "prompt": "", "completion": .string(text)]))
        }
    }

    /// Every one-operation fact in range, as the model writes a step: `12+3=15;`.
    public static var allFacts: [String] {
        (0...ArithmeticChain.maximumValue).flatMap { value in
            ArithmeticChain.choices(from: value).sorted { $0.key.rawValue < $1.key.rawValue }.flatMap { operation, operands in
                operands.map { "\(value)\(operation.rawValue)\($0)=\(ArithmeticChain.apply(operation, value, $0));" }
            }
        }
    }

    /// A character-level tokenizer.json (Hugging Face tokenizers format): `<eos>` is id 0, then
    /// one token per character of `alphabet`, no merges. ByteLevel pre-tokenization maps these
    /// ASCII characters to themselves, so the same file works here and in `tokenizers`.
    public static var tokenizerJSON: String {
        var vocab = JSONObject([("<eos>", JSON.number(JSONNumber(0)))])
        for (i, c) in alphabet.enumerated() { vocab[String(c)] = .number(JSONNumber(i + 1)) }
        let byteLevel: JSON = ["type": "ByteLevel", "add_prefix_space": false, "trim_offsets": true, "use_regex": false]
        let tokenizer: JSON = [
            "version": "1.0", "truncation": nil, "padding": nil,
            "added_tokens": [["id": 0, "content": "<eos>", "single_word": false, "lstrip": false, "rstrip": false,
                              "normalized": false, "special": true]],
            "normalizer": nil, "pre_tokenizer": byteLevel, "post_processor": nil, "decoder": byteLevel,
            "model": ["type": "BPE", "dropout": nil, "unk_token": nil, "continuing_subword_prefix": nil,
                      "end_of_word_suffix": nil, "fuse_unk": false, "byte_fallback": false, "ignore_merges": false,
                      "vocab": .object(vocab), "merges": []],
        ]
        return tokenizer.serialized() + "\n"
    }

    /// The base model's architecture: a llama-style decoder of about 335k parameters (width 96,
    /// 3 layers, 4 heads, context 64, tied embeddings).
    public static var baseConfigJSON: String {
        let config: JSON = [
            "architectures": ["LlamaForCausalLM"], "model_type": "llama", "hidden_size": 96, "intermediate_size": 256,
            "num_hidden_layers": 3, "num_attention_heads": 4, "num_key_value_heads": 4,
            "vocab_size": .number(JSONNumber(alphabet.count + 1)), "max_position_embeddings": 64,
            "rms_norm_eps": 1e-5, "rope_theta": 10000.0, "tie_word_embeddings": true, "hidden_act": "silu",
            "bos_token_id": nil, "eos_token_id": 0, "torch_dtype": "float32",
        ]
        return config.serialized() + "\n"
    }
}
