import Foundation
import Testing
@testable import CodeVerify
import Datasets
@testable import Formats
import TestSupport

func checker(timeout: Double = 10, sandbox: SandboxMode = .warm) -> CodeChecker {
    var limits = SandboxLimits()
    limits.wallSeconds = timeout
    limits.memoryBytes = 512 << 20
    return CodeChecker(python: CodeChecker.defaultPython()!, limits: limits, sandbox: sandbox)
}

/// A HumanEval-shaped record: the program must define f with f(2) == 4.
func functionTask(_ program: String, tests: String = "def check(candidate):\n    assert candidate(2) == 4\n    assert candidate(3) == 9\n") -> Record {
    Record(["id": "t", "task": "code", "problem": "", "completion": .string(program),
            "tests": ["python": .string(tests), "entry_point": "f"]])
}

/// HumanEval's canonical solutions in `folder` all pass, and a body of `pass` passes none.
func checkHumanEvalCanonicalSolutions(folder: String, count: Int) throws {
    var problems: [Record] = []
    _ = try Importer.run(.humaneval, path: "\(folder)/humaneval/HumanEval.jsonl.gz") { problems.append($0) }
    #expect(problems.count == count)
    let check = checker()
    let all = problems
    let collected = Collected()
    DispatchQueue.concurrentPerform(iterations: all.count) { i in
        var record = all[i]
        record["completion"] = record["solution"]
        let canonical = Result { try check.check(record) }
        record["completion"] = "    pass\n"
        let empty = try? check.check(record)
        collected.add((try? canonical.get())?.verdict == .correct ? nil : "\(all[i].id!): \(canonical)",
                      empty?.verdict == .correct ? all[i].id! : nil)
    }
    let (canonicalFailures, emptyPasses) = collected.values
    #expect(canonicalFailures.isEmpty, "\(canonicalFailures)")
    #expect(emptyPasses.isEmpty, "\(emptyPasses)")
}

/// All 164 HumanEval problems, only when RESTEM_DATA_DIR names the full datasets (`make datasets`).
@Suite(.enabled(if: fullDatasets != nil, "RESTEM_DATA_DIR names the full datasets"))
struct CodeCheckerFullDataTests {
    @Test func humanEvalCanonicalSolutionsAllPassAndEmptyBodiesNone() throws {
        try checkHumanEvalCanonicalSolutions(folder: fullDatasets!, count: 164)
    }
}

@Suite struct CodeCheckerTests {
    /// The committed slice: the first 20 HumanEval problems.
    @Test func humanEvalCanonicalSolutionsAllPassAndEmptyBodiesNone() throws {
        try checkHumanEvalCanonicalSolutions(folder: datasetSlices, count: 20)
    }

    @Test func fencedBlockIsTheWholeProgram() throws {
        let completion = "Here you go:\n```python\ndef f(x):\n    return x * x\n```\nand a note.\n```text\nignored\n```\n"
        #expect(try checker().check(functionTask(completion)).verdict == .correct)
        #expect(fencedCode(in: completion) == "def f(x):\n    return x * x\n")
        // Without a fence the completion continues the problem's code.
        var record = functionTask("    return x * x\n")
        record["problem"] = "def f(x):\n"
        #expect(try checker().check(record).verdict == .correct)
    }

    @Test func verdictsForOrdinaryFailures() throws {
        let c = checker()
        #expect(try c.check(functionTask("def f(x):\n    return x + 2\n")).verdict == .wrongAnswer)
        #expect(try c.check(functionTask("def f(x) return x\n")).verdict == .compileError)
        #expect(try c.check(functionTask("def f(x):\n    return 1 / 0\n")).verdict == .runtimeError)
        #expect(try c.check(functionTask("def g(x):\n    return x * x\n")).verdict == .runtimeError)
        let wrong = try c.check(functionTask("def f(x):\n    return 4\n"))
        #expect(wrong.verdict == .wrongAnswer)
        #expect(wrong.details["detail"] == "tests.py:3: assert candidate(3) == 9")
    }

    @Test func stdioTests() throws {
        let tests: JSON = ["stdio": [["input": "1 2\n", "output": "3\n"], ["input": "0.1 0.2\n", "output": "0.3"]]]
        func record(_ program: String) -> Record {
            Record(["id": "s", "task": "code", "completion": .string(program), "tests": tests])
        }
        let c = checker()
        #expect(try c.check(record("a, b = map(float, input().split())\ns = a + b\nprint(int(s) if s == int(s) else s)   \n")).verdict == .correct)
        let wrong = try c.check(record("print(3)\n"))
        #expect(wrong.verdict == .wrongAnswer)
        #expect(wrong.details["test"] == 1)
        #expect(try c.check(record("print(int(input().split()[0]) +\n")).verdict == .compileError)
        #expect(try c.check(record("raise ValueError('boom')\n")).verdict == .runtimeError)
    }

    @Test func callTests() throws {
        let tests: JSON = ["call": ["fn_name": "double", "inputs": [[1], [2.5], [[1, 2]]], "outputs": [[2], 5.0, [[1, 2, 1, 2]]]]]
        func record(_ program: String) -> Record {
            Record(["id": "c", "task": "code", "completion": .string(program), "tests": tests])
        }
        #expect(try checker().check(record("def double(x):\n    return x * 2\n")).verdict == .correct)
        #expect(try checker().check(record("def double(x):\n    return x\n")).verdict == .wrongAnswer)
        #expect(stdioMatches("1 2.0000001  \n\n", "1 2.0\n"))
        #expect(!stdioMatches("1 2.0\n", "1 2\n"))
        #expect(!stdioMatches("10\n", "1\n"))
    }
}

/// Results gathered from concurrent workers.
final class Collected: @unchecked Sendable {
    private let lock = NSLock()
    private var failures: [String] = [], passes: [String] = []
    func add(_ failure: String?, _ pass: String?) {
        lock.lock()
        defer { lock.unlock() }
        if let failure { failures.append(failure) }
        if let pass { passes.append(pass) }
    }
    var values: ([String], [String]) { lock.lock(); defer { lock.unlock() }; return (failures, passes) }
}
