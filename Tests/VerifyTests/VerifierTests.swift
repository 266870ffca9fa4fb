import CodeVerify
import Formats
import MathVerify
import Testing
@testable import Verify

@Suite struct VerifierTests {
    func sample(_ id: String, _ completion: String, answer: String = "12", sample: Int = 0) -> Record {
        Record(["id": .string(id), "task": "math", "answer": .string(answer), "completion": .string(completion),
                "sample": .number(JSONNumber(sample)), "custom": ["kept": true]])
    }

    @Test func addsVerdictFieldsAndKeepsTheRest() throws {
        let scored = try Verifier().score(sample("p", "so \\boxed{12}"))
        #expect(scored["reward"] == 1)
        #expect(scored["verdict"] == "correct")
        #expect(scored["extracted"] == "12")
        #expect(scored["custom"] == ["kept": true])
        #expect(scored["verifier"] == "math/2")
        #expect(scored.fields.keys == ["id", "task", "answer", "completion", "sample", "custom",
                                       "reward", "verdict", "extracted", "verifier"])
        let none = try Verifier().score(sample("p", "hmm"))
        #expect(none["verdict"] == "no_answer")
        #expect(none["extracted"] == .null)
        #expect(none["reward"] == 0)
    }

    @Test func verifierNamesTheCheckerAndItsVersion() throws {
        #expect(MathChecker.version == "math/2")
        #expect(CodeChecker.version == "code/2")
        // Re-scoring an old verdict record replaces its fields in place and drops stale ones.
        var old = sample("p", "so \\boxed{12}")
        old["reward"] = 0
        old["verdict"] = "wrong_answer"
        old["extracted"] = "1"
        old["details"] = ["stderr": "old"]
        let rescored = try Verifier().score(old)
        #expect(rescored["verdict"] == "correct")
        #expect(!rescored.fields.keys.contains("details"))
        #expect(rescored.fields.keys == ["id", "task", "answer", "completion", "sample", "custom",
                                         "reward", "verdict", "extracted", "verifier"])
    }

    @Test(.enabled(if: CodeChecker.defaultPython() != nil))
    func codeVerdictsNameTheCodeChecker() throws {
        let record = Record(["id": "c", "task": "code", "completion": "print(input())\n", "extracted": "stale",
                             "tests": ["stdio": [["input": "7\n", "output": "7\n"]]]])
        let scored = try Verifier().score(record)
        #expect(scored["verdict"] == "correct", "\(scored.jsonLine())")
        #expect(scored["verifier"] == "code/2")
        #expect(!scored.fields.keys.contains("extracted"))
    }

    /// The answer is text (DESIGN.md, "Records"): a JSON number there is an error that names the
    /// field, as in every text field (a number in a code problem used to become an empty prefix).
    @Test func textFieldsMustBeStringsAndTheTaskIsInferred() throws {
        var record = Record(["id": "p", "answer": "7", "completion": "#### 7"])
        #expect(try Verifier().score(record)["verdict"] == "correct")
        record["answer"] = 7
        #expect(throws: DataError("field \"answer\" must be a string, not a number")) { try Verifier().score(record) }
        let code = Record(["id": "c", "task": "code", "problem": ["text": "def f(x):"], "completion": "    return x\n",
                           "tests": ["python": "def check(candidate):\n    assert candidate(1) == 1\n", "entry_point": "f"]])
        #expect(throws: DataError("field \"problem\" must be a string, not an object")) { try Verifier().score(code) }
        record["answer"] = "7"
        record["task"] = "chess"
        #expect(throws: DataError.self) { try Verifier().score(record) }
    }

    @Test func parallelScoringKeepsOrderAndResults() throws {
        let batch = (0..<500).map { sample("p\($0 % 37)", "\\boxed{\($0 % 13)}", sample: $0) }
        #expect(try Verifier().score(batch: batch, jobs: 1) == Verifier().score(batch: batch, jobs: 2))
        #expect(try Verifier().score(batch: batch, jobs: 4).map { $0["sample"] } == batch.map { $0["sample"] })
    }

    @Test func capKeepsAtMostNPreferringDistinctSolutions() {
        var selection = CapSelection(cap: 3, seed: 0)
        // Problem a: 6 correct samples, only 2 distinct solutions.
        for i in 0..<6 { selection.add(sample("a", i % 2 == 0 ? "x \\boxed{12}" : "y  \\boxed{12}", sample: i), id: "a") }
        // Problem b: 2 samples, fewer than the cap.
        for i in 0..<2 { selection.add(sample("b", "z\(i)", sample: i), id: "b") }
        let chosen = selection.selected()
        let a = chosen.filter { $0.id == "a" }
        #expect(a.count == 3)
        #expect(Set(a.map { CapSelection.solutionKey($0) }).count == 2)
        #expect(chosen.filter { $0.id == "b" }.count == 2)
        // Problems in first-seen order, samples in input order.
        #expect(chosen.map(\.id) == ["a", "a", "a", "b", "b"])
        let samples = a.map { $0["sample"]!.intValue! }
        #expect(samples == samples.sorted())
    }

    @Test func capIsReproducibleAndIndependentOfInputOrder() {
        let records = (0..<20).map { sample("a", "solution \($0)", sample: $0) }
        func choose(_ input: [Record], seed: UInt64) -> Set<Int> {
            var selection = CapSelection(cap: 4, seed: seed)
            input.forEach { selection.add($0, id: "a") }
            return Set(selection.selected().map { $0["sample"]!.intValue! })
        }
        #expect(choose(records, seed: 1) == choose(records.reversed(), seed: 1))
        let seeds = (0..<5).map { choose(records, seed: $0) }
        #expect(Set(seeds).count > 1)
    }
}
