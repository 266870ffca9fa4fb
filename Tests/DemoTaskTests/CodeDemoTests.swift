import Testing
@testable import DemoTask
import Foundation
import Formats
import Model

@Suite struct CodeDemoTests {
    func small(seed: UInt64 = 0) -> CodeDemoDataset {
        var options = CodeDemoDataset.Options()
        options.seed = seed
        (options.train, options.validation, options.test, options.pretrainProblems, options.factLines) = (400, 80, 160, 400, 50)
        return CodeDemoDataset(options)
    }

    @Test func modelSolutionIsOneOperationPerLine() {
        let program = ListProgram(operations: [.reverse, .add(4), .take(3)], specs: ["rev", "add 3->7", "take 7-4"], format: .call)
        #expect(program.problem == "f:rev;add 3->7;take 7-4")
        #expect(program.modelSolution == "def f(a):\n a=a[::-1]\n a=[x+4 for x in a]\n a=a[:3]\n return a\n")
        #expect(program.apply([1, 2, 3, 4, 5]) == [9, 8, 7])
        let script = ListProgram(operations: [.greater(5), .sort], specs: ["gt 2+3", "sort"], format: .stdio)
        #expect(script.problem == "io:gt 2+3;sort")
        #expect(script.modelSolution == "a=eval(input())\na=[x for x in a if x>5]\na=sorted(a)\nprint(a)\n")
    }

    /// Each spec's example or sum gives exactly the parameter of its operation.
    @Test func specsDetermineTheParameters() {
        var random = DemoRandom(seed: 5)
        for _ in 0..<3000 {
            for kind in ListProgram.Operation.kinds {
                let (operation, spec) = ListProgram.draw(kind: kind, using: &random)
                let words = spec.split(separator: " ")
                #expect(String(words[0]) == kind)
                guard words.count == 2 else { continue }
                let argument = String(words[1])
                if let arrow = argument.range(of: "->") {
                    let from = Int(argument[..<arrow.lowerBound])!, to = Int(argument[arrow.upperBound...])!
                    #expect((0...19).contains(from) && (0...19).contains(to))
                    #expect(operation.apply([from]) == [to], "\(spec)")
                } else {
                    let sign = argument.firstIndex { $0 == "+" || $0 == "-" }!
                    let p = Int(argument[..<sign])!, q = Int(argument[argument.index(after: sign)...])!
                    #expect((0...19).contains(p) && (1...9).contains(q))
                    let value = argument[sign] == "+" ? p + q : p - q
                    switch operation {
                    case .greater(let t): #expect(t == value)
                    case .take(let n), .drop(let n): #expect(n == value)
                    default: Issue.record("\(spec) has an unexpected argument")
                    }
                }
            }
        }
    }

    @Test func sameSeedSameData() {
        #expect(small().train == small().train)
        #expect(small().pretrain == small().pretrain)
        #expect(small(seed: 1).test != small().test)
    }

    /// Regression: at the default sizes the one-operation specs run out, and 750 one-operation
    /// pretraining problems used to repeat 27 test, 24 train and some validation problems (a
    /// repeat was accepted after 200 redraws). No split's problem may be in the corpus.
    @Test func defaultPretrainingCorpusHoldsNoSplitProblem() {
        let data = CodeDemoDataset(CodeDemoDataset.Options())
        let pretrainPrompts = Set(data.pretrain.compactMap { $0["prompt"]?.stringValue })
        for split in [data.train, data.validation, data.test] {
            let repeated = split.compactMap { $0["problem"]?.stringValue }.filter { pretrainPrompts.contains("#\($0)\n") }
            #expect(repeated.isEmpty, "\(repeated.count) problems of a split are in the pretraining corpus")
        }
        #expect(data.pretrain.count == CodeDemoDataset.Options().pretrainProblems + CodeDemoDataset.Options().factLines)
    }

    @Test func splitsAreBalancedDisjointAndFitTheContext() throws {
        let data = small()
        #expect(data.train.count == 400 && data.validation.count == 80 && data.test.count == 160)
        for split in [data.train, data.validation, data.test] {
            let lengths = split.compactMap { $0["difficulty"]?.intValue }
            for n in 1...4 { #expect(lengths.filter { $0 == n }.count == split.count / 4) }
            let stdio = split.filter { $0["format"]?.stringValue == "stdio" }.count
            #expect(stdio > split.count / 10 && stdio < split.count * 3 / 10)
        }
        let problems = [data.train, data.validation, data.test].map { Set($0.compactMap { $0["problem"]?.stringValue }) }
        #expect(problems[0].isDisjoint(with: problems[1]) && problems[0].isDisjoint(with: problems[2])
                && problems[1].isDisjoint(with: problems[2]))
        let pretrainPrompts = Set(data.pretrain.compactMap { $0["prompt"]?.stringValue })
        #expect(problems[2].allSatisfy { !pretrainPrompts.contains("#\($0)\n") })
        // Prompt + model solution + eos within the config's context (and SEQ_TOKENS = 160).
        for record in data.train {
            let prompt = "#" + (try record.string("problem")) + "\n"
            #expect(prompt.count + (try record.string("clean_solution")).count + 1 <= 160)
        }
        for record in data.pretrain {
            #expect((try record.string("prompt")).count + (try record.string("completion")).count + 1 <= 160)
        }
    }

    @Test func testsAreDiscriminatingAndNeverAllEmpty() throws {
        for record in small().test {
            let tests = try #require(record["tests"]?.objectValue)
            if let call = tests["call"]?.objectValue {
                #expect(call["inputs"]?.arrayValue?.count == 5 && call["fn_name"]?.stringValue == "f")
                // The first case is the probe, whose result is never empty: `return []` fails.
                #expect(call["outputs"]?.arrayValue?.first?.arrayValue?.isEmpty == false)
            } else {
                let cases = try #require(tests["stdio"]?.arrayValue)
                #expect(cases.count == 3)
                #expect(cases.first?.objectValue?["output"]?.stringValue != "[]\n")
            }
        }
    }

    @Test func humanMixFollowsTheWeights() throws {
        let styles = small().train.compactMap { $0["solution_style"]?.stringValue }
        let share = { (s: String) in Double(styles.filter { $0 == s }.count) / Double(styles.count) }
        #expect(abs(share("idioms") - 0.3) < 0.07 && abs(share("merged") - 0.4) < 0.07 && abs(share("one_line") - 0.3) < 0.07)
        // The pretraining corpus never shows a human style: every completion uses `a` or is facts.
        for record in small().pretrain {
            let completion = try record.string("completion")
            let isFacts = completion.allSatisfy { "0123456789+-*=;".contains($0) }
            #expect(completion.hasPrefix("def f(a):\n") || completion.hasPrefix("a=eval(input())\n") || isFacts, "\(completion)")
            #expect(!completion.contains("lambda") && !completion.contains("reversed"))
        }
    }

    /// Every model-style and human-style solution, run by Python on every hidden test case,
    /// gives the expected output (what `verify` checks in the sandbox, here in one process).
    @Test func everySolutionStyleIsCorrectPython() throws {
        var random = DemoRandom(seed: 11)
        var script = "import io, sys\nfailures = []\n"
        func literal(_ text: String) -> String { JSON.string(text).serialized() }
        for i in 0..<240 {
            let format: ListProgram.Format = i % 3 == 0 ? .stdio : .call
            let program = ListProgram.random(length: i % 4 + 1, format: format, using: &random)
            let tests = program.tests(using: &random)
            var solutions = [program.modelSolution]
            for style in ListProgram.HumanStyle.allCases { solutions.append(program.humanSolution(style, using: &random)) }
            for solution in solutions {
                if let call = tests.objectValue?["call"]?.objectValue {
                    let inputs = call["inputs"]!.serialized(), outputs = call["outputs"]!.serialized()
                    script += "ns = {}\nexec(\(literal(solution)), ns)\n"
                    script += "for (arg,), want in zip(\(inputs), \(outputs)):\n"
                    script += "    if ns['f'](list(arg)) != want: failures.append(\(literal(solution)))\n"
                } else {
                    for testCase in tests.objectValue!["stdio"]!.arrayValue! {
                        let input = testCase.objectValue!["input"]!.serialized(), output = testCase.objectValue!["output"]!.serialized()
                        script += "sys.stdin, sys.stdout = io.StringIO(\(input)), io.StringIO()\n"
                        script += "exec(\(literal(solution)), {})\ngot = sys.stdout.getvalue()\n"
                        script += "sys.stdin, sys.stdout = sys.__stdin__, sys.__stdout__\n"
                        script += "if got != \(output): failures.append(\(literal(solution)))\n"
                    }
                }
            }
        }
        script += "print(len(failures))\nfor f in failures[:5]: print(f)\n"
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/python3")
        // The script is too long for an argument: a file.
        let file = FileManager.default.temporaryDirectory.appendingPathComponent("code-demo-\(UUID().uuidString).py")
        try script.write(to: file, atomically: true, encoding: .utf8)
        defer { try? FileManager.default.removeItem(at: file) }
        process.arguments = [file.path]
        let pipe = Pipe()
        process.standardOutput = pipe
        try process.run()
        let output = String(decoding: pipe.fileHandleForReading.readDataToEndOfFile(), as: UTF8.self)
        process.waitUntilExit()
        #expect(process.terminationStatus == 0)
        #expect(output.hasPrefix("0\n"), "\(output)")
    }

    /// The tokenizer is one token per character (space, newline and tab in ByteLevel's
    /// spelling), and the shipped base was built with exactly this file and vocabulary.
    @Test func oneTokenPerCharacterAndTheShippedBaseAgrees() throws {
        let tokenizer = try Tokenizer(json: JSON.parse(CodeDemoDataset.tokenizerJSON))
        let text = "#f:rev;add 3->7\ndef f(a):\n\ta=[x+4 for x in a if x%2==0]\n return sorted(a)[::-1]\n"
        let ids = tokenizer.encode(text)
        #expect(ids == text.map { CodeDemoDataset.alphabet.firstIndex(of: $0)! + 1 })
        #expect(tokenizer.decode(ids + [0], skipSpecialTokens: true) == text)
        let data = small()
        for record in data.train {
            for field in ["solution", "clean_solution"] {
                let solution = try record.string(field)
                #expect(solution.allSatisfy { CodeDemoDataset.alphabet.contains($0) }, "\(solution)")
            }
        }
        let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent().deletingLastPathComponent()
        let shipped = try String(contentsOf: root.appendingPathComponent("code-demo/base/tokenizer.json"), encoding: .utf8)
        #expect(shipped == CodeDemoDataset.tokenizerJSON)
        let config = try ModelConfig(json: JSON.parse(String(contentsOf: root.appendingPathComponent("code-demo/base/config.json"),
                                                             encoding: .utf8)))
        #expect(config.vocabSize == CodeDemoDataset.alphabet.count + 1 && config.maxPositions >= 160)
    }
}
