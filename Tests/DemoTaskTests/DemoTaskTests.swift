import Testing
@testable import DemoTask
import Foundation
import Formats
import Model

@Suite struct ArithmeticChainTests {
    @Test func solutionsSpellTheSteps() {
        let chain = ArithmeticChain(start: 12, steps: [(.add, 3), (.subtract, 5), (.multiply, 2)])
        #expect(chain.problem == "12+3-5*2")
        #expect(chain.values == [12, 15, 10, 20])
        #expect(chain.stepByStepSolution == "12+3=15;15-5=10;10*2=20;####20")
        #expect(chain.writtenSolution(merging: 0..<2, swapping: []) == "12+3-5=10;10*2=20;####20")
        #expect(chain.writtenSolution(merging: 1..<3, swapping: []) == "12+3=15;15-5*2=20;####20")
        #expect(chain.writtenSolution(merging: nil, swapping: [0, 1, 2]) == "3+12=15;15-5=10;2*10=20;####20")
    }

    @Test func choicesAreNeverEmptyAndStayInRange() {
        for value in 0...ArithmeticChain.maximumValue {
            let choices = ArithmeticChain.choices(from: value)
            #expect(!choices.isEmpty)
            for (operation, operands) in choices {
                for operand in operands {
                    let result = ArithmeticChain.apply(operation, value, operand)
                    #expect((0...ArithmeticChain.maximumValue).contains(result))
                    #expect(operation == .multiply ? operand >= 2 : (1...9).contains(operand))
                }
            }
        }
        #expect(DemoDataset.allFacts.count == 293)
    }

    @Test func randomChainsKeepEveryValueInRange() {
        var random = DemoRandom(seed: 7)
        for i in 0..<5000 {
            let chain = ArithmeticChain.random(length: i % 4 + 1, using: &random)
            #expect(chain.steps.count == i % 4 + 1)
            #expect(chain.values.allSatisfy { (0...19).contains($0) })
        }
    }

    @Test func humanSolutionsAreCorrectInEveryStyle() throws {
        var random = DemoRandom(seed: 3)
        for i in 0..<400 {
            let chain = ArithmeticChain.random(length: i % 4 + 1, using: &random)
            for style in ArithmeticChain.HumanStyle.allCases {
                let text = chain.humanSolution(style, using: &random)
                #expect(text.hasSuffix("####\(chain.answer)"))
                // Every written step is true arithmetic, read left to right.
                for step in text.split(separator: ";").dropLast() {
                    let sides = step.split(separator: "=")
                    #expect(sides.count == 2)
                    #expect(evaluateLeftToRight(String(sides[0])) == Int(sides[1]))
                }
                if style == .answerOnly { #expect(text == "####\(chain.answer)") }
            }
        }
    }

    func evaluateLeftToRight(_ text: String) -> Int {
        var value = 0, operand = 0, operation: Character = "+"
        for c in text + "+" {
            if let digit = c.wholeNumberValue { operand = operand * 10 + digit; continue }
            value = operation == "+" ? value + operand : operation == "-" ? value - operand : value * operand
            operation = c
            operand = 0
        }
        return value
    }
}

@Suite struct DemoDatasetTests {
    func small(seed: UInt64 = 0) -> DemoDataset {
        var options = DemoDataset.Options()
        options.seed = seed
        (options.train, options.validation, options.test, options.pretrainProblems, options.factLines) = (400, 80, 160, 400, 50)
        return DemoDataset(options)
    }

    @Test func sameSeedSameData() {
        #expect(small().train == small().train)
        #expect(small().pretrain == small().pretrain)
        #expect(small(seed: 1).test != small().test)
    }

    @Test func splitsAreBalancedAndLongProblemsDisjoint() throws {
        let data = small()
        #expect(data.train.count == 400 && data.validation.count == 80 && data.test.count == 160)
        for split in [data.train, data.validation, data.test] {
            let lengths = split.compactMap { $0["difficulty"]?.intValue }
            for n in 1...4 { #expect(lengths.filter { $0 == n }.count == split.count / 4) }
        }
        func longProblems(_ records: [Record]) -> Set<String> {
            Set(records.filter { ($0["difficulty"]?.intValue ?? 0) >= 2 }.compactMap { $0["problem"]?.stringValue })
        }
        let train = longProblems(data.train), test = longProblems(data.test), validation = longProblems(data.validation)
        #expect(train.isDisjoint(with: test) && train.isDisjoint(with: validation) && test.isDisjoint(with: validation))
        let pretrainPrompts = Set(data.pretrain.compactMap { $0["prompt"]?.stringValue })
        #expect(test.allSatisfy { !pretrainPrompts.contains("Q\($0):") })
    }

    @Test func humanMixFollowsTheWeights() throws {
        let styles = small().train.compactMap { $0["solution_style"]?.stringValue }
        let share = { (s: String) in Double(styles.filter { $0 == s }.count) / Double(styles.count) }
        #expect(abs(share("full") - 0.3) < 0.07 && abs(share("merged") - 0.4) < 0.07 && abs(share("answer_only") - 0.3) < 0.07)
        for record in small().train {
            let clean = try record.string("clean_solution")
            #expect(clean.hasSuffix("####" + (try record.string("answer"))))
        }
    }
}

@Suite struct DemoTokenizerTests {
    /// The generated tokenizer.json is one token per character, `<eos>` first, and the shipped
    /// base model was built with exactly this file.
    @Test func oneTokenPerCharacterAndTheShippedBaseAgrees() throws {
        let tokenizer = try Tokenizer(json: JSON.parse(DemoDataset.tokenizerJSON))
        let text = "Q12+3-5*2:12+3=15;15-5=10;10*2=20;####20"
        let ids = tokenizer.encode(text)
        #expect(ids.count == text.count)
        #expect(ids == text.map { DemoDataset.alphabet.firstIndex(of: $0)! + 1 })
        #expect(tokenizer.decode(ids + [0], skipSpecialTokens: true) == text)
        #expect(tokenizer.encode("<eos>") == [0])
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = try String(contentsOf: root.appendingPathComponent("demo/base/tokenizer.json"), encoding: .utf8)
        #expect(shipped == DemoDataset.tokenizerJSON)
        let config = try ModelConfig(json: JSON.parse(String(contentsOf: root.appendingPathComponent("demo/base/config.json"), encoding: .utf8)))
        #expect(config.vocabSize == DemoDataset.alphabet.count + 1)
    }
}
