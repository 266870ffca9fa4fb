import Formats

/// The code demo's data (`shards code-demo`), all drawn from one seeded stream like the math
/// demo's: problem splits with hidden tests, the human-style solutions of the train split, and
/// a pretraining corpus for the base model (arithmetic facts plus model-style solutions of
/// other problems; it never shows a human-style solution).
public struct CodeDemoDataset: Sendable {
    public struct Options: Sendable {
        public var seed: UInt64 = 0
        public var train = 400
        public var validation = 100
        public var test = 300
        /// Problems whose model-style solutions are in the pretraining corpus.
        public var pretrainProblems = 3000
        /// Lines of random arithmetic facts (`7-3=4;2*4=8;...`) in the pretraining corpus.
        public var factLines = 1000
        /// The share of problems that are scripts reading stdin rather than functions.
        public var stdioShare = 0.2
        /// The human data's mix of styles: idioms, merged, one line.
        public var humanMix: (idioms: Double, merged: Double, oneLine: Double) = (0.3, 0.4, 0.3)

        public init() {}
    }

    public var train: [Record] = []
    public var validation: [Record] = []
    public var test: [Record] = []
    public var pretrain: [Record] = []

    /// The prompt: a comment line with the spec, after which the completion is the program.
    public static let promptTemplate = "#{{problem}}\n"
    /// Characters of every prompt and solution (model and human style); the tokenizer's
    /// vocabulary after `<eos>`.
    public static let alphabet = Array("0123456789abcdefghijklmnopqrstuvwxyz \n\t#:;()[]=+-*%<>,.")

    public init(_ options: Options) {
        var random = DemoRandom(seed: options.seed ^ 0xC0DE)
        // Problems are unique across the splits and the pretraining problems by their spec
        // text; after a bounded number of redraws a repeat is accepted (no endless loop), except
        // that a split's problem never enters the pretraining corpus: the one-operation specs are
        // few, and 750 one-operation pretraining problems used to repeat 27 test problems.
        var used: Set<String> = []
        func draw(_ count: Int, never forbidden: Set<String> = []) -> [ListProgram] {
            (0..<count).map { i in
                var length = i % 4 + 1
                let format: ListProgram.Format = random.unit() < options.stdioShare ? .stdio : .call
                var program = ListProgram.random(length: length, format: format, using: &random)
                var redraws = 0
                while used.contains(program.problem) && redraws < 200 {
                    program = ListProgram.random(length: length, format: format, using: &random)
                    redraws += 1
                }
                while forbidden.contains(program.problem) {  // a longer program instead
                    length = min(4, length + 1)
                    program = ListProgram.random(length: length, format: format, using: &random)
                }
                used.insert(program.problem)
                return program
            }
        }
        let testPrograms = draw(options.test), validationPrograms = draw(options.validation)
        let trainPrograms = draw(options.train)
        let pretrainPrograms = draw(options.pretrainProblems, never: used)

        func problemRecord(_ program: ListProgram, split: String, _ index: Int) -> Record {
            Record(["id": .string("code-demo/\(split)/\(index)"), "task": "code", "problem": .string(program.problem),
                    "tests": program.tests(using: &random), "format": .string(program.format.rawValue),
                    "difficulty": .number(JSONNumber(program.operations.count))])
        }
        test = testPrograms.enumerated().map { problemRecord($1, split: "test", $0) }
        validation = validationPrograms.enumerated().map { problemRecord($1, split: "validation", $0) }
        let mix = options.humanMix
        let total = mix.idioms + mix.merged + mix.oneLine
        train = trainPrograms.enumerated().map { index, program in
            var record = problemRecord(program, split: "train", index)
            let u = random.unit() * total
            let style: ListProgram.HumanStyle = u < mix.idioms ? .idioms : u < mix.idioms + mix.merged ? .merged : .oneLine
            record["solution"] = .string(program.humanSolution(style, using: &random))
            record["solution_style"] = .string(style.rawValue)
            record["clean_solution"] = .string(program.modelSolution)
            return record
        }

        pretrain = pretrainPrograms.enumerated().map { index, program in
            Record(["id": .string("code-demo/pretrain/\(index)"), "prompt": .string("#\(program.problem)\n"),
                    "completion": .string(program.modelSolution)])
        }
        // The arithmetic the specs hide their parameters behind: sums, differences, products
        // in 0...19 (the math demo's facts).
        let facts = DemoDataset.allFacts
        for line in 0..<options.factLines {
            let text = (0..<6).map { _ in facts[random.int(0...(facts.count - 1))] }.joined()
            pretrain.append(Record(["id": .string("code-demo/facts/\(line)"), "prompt": "", "completion": .string(text)]))
        }
    }

    /// The character-level tokenizer of `alphabet` (CharacterModel).
    public static var tokenizerJSON: String { CharacterModel.tokenizerJSON(alphabet: alphabet) }

    /// The base model: the math demo's llama layout with a context of 160, enough for the
    /// longest prompt and model solution.
    public static var baseConfigJSON: String {
        CharacterModel.configJSON(vocabularySize: alphabet.count + 1, context: 160)
    }
}
