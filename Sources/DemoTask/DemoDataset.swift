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

    /// The character-level tokenizer of `alphabet` (CharacterModel).
    public static var tokenizerJSON: String { CharacterModel.tokenizerJSON(alphabet: alphabet) }

    /// The base model's architecture: about 335k parameters with a context of 64.
    public static var baseConfigJSON: String {
        CharacterModel.configJSON(vocabularySize: alphabet.count + 1, context: 64)
    }
}
