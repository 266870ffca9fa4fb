import Foundation
import Testing
@testable import CodeVerify
import Datasets
@testable import Formats
import TestSupport

/// verify's verdicts on the MBPP- and APPS-format fixtures: every reference solution is correct,
/// and wrong programs for the same problems are not.
@Suite struct CodeDatasetTests {
    func problems(_ dataset: Dataset, _ file: String) throws -> [Record] {
        var records: [Record] = []
        _ = try Importer.run(dataset, path: "\(datasetSlices)/\(file)") { records.append($0) }
        return records
    }

    /// The record as `generate` leaves it: prompt from the template, and a completion.
    func sample(_ problem: Record, template: String, completion: String) throws -> Record {
        var record = problem
        record["prompt"] = .string(try PromptTemplate.load(path: projectRoot.appendingPathComponent(template).path).render(problem))
        record["completion"] = .string(completion)
        return record
    }

    func verdicts(_ records: [Record], template: String, completions: (Record) -> String) throws -> [String: CodeVerdict] {
        let c = checker()
        var out: [String: CodeVerdict] = [:]
        for problem in records {
            out[problem.id!] = try c.check(try sample(problem, template: template, completion: completions(problem))).verdict
        }
        return out
    }

    @Test func mbppReferenceSolutionsPassAndWrongOnesDoNot() throws {
        let records = try problems(.mbpp, "mbpp/mbpp.jsonl")
        // templates/mbpp.txt ends inside a ```python fence: the completion is the code up to the
        // fence that closes it, here followed by prose the model may go on with.
        let references = try verdicts(records, template: "templates/mbpp.txt") {
            $0["solution"]!.stringValue! + "\n```\nThis function passes the tests.\n```python\nraise SystemExit(1)\n```\n"
        }
        #expect(references.values.allSatisfy { $0 == .correct }, "\(references)")
        // With no prompt (the dataset's own solutions checked as completions) the completion is
        // the whole program: MBPP's problem is prose (tests.continues_problem false).
        let c = checker()
        for problem in records {
            var record = problem
            record["completion"] = problem["solution"]
            #expect(try c.check(record).verdict == .correct, "\(problem.id!)")
        }
        var continuing = records[1]
        var tests = continuing["tests"]!.objectValue!
        tests["continues_problem"] = true
        continuing["tests"] = .object(tests)
        continuing["completion"] = continuing["solution"]
        #expect(try c.check(continuing).verdict == .compileError, "prose before the code")
        tests["continues_problem"] = "no"
        continuing["tests"] = .object(tests)
        #expect(throws: DataError.self) { try c.check(continuing) }

        let returnsNone = try verdicts(records, template: "templates/mbpp.txt") { problem in
            "def \(problem["tests"]!.objectValue!["entry_point"]!.stringValue!)(*args):\n    return None\n```\n"
        }
        // A wrong answer, or a TypeError where a test computes with the None (runtime_error).
        #expect(returnsNone.values.allSatisfy { $0 == .wrongAnswer || $0 == .runtimeError }, "\(returnsNone)")
        #expect(returnsNone.values.filter { $0 == .wrongAnswer }.count >= 7, "\(returnsNone)")
        let wrong: [String: String] = [
            "mbpp/11": "def count_vowels(s):\n  return sum(1 for ch in s if ch in 'aeiou')\n",   // misses capitals
            "mbpp/12": "def circle_area(r):\n  return 3.14159 * r * r\n",                        // not isclose
            "mbpp/13": "def is_Perfect_Square(n):\n  return n % 2 == 0\n",
            "mbpp/974": "def fib(n):\n  return n if n < 2 else fib(n - 1) + fib(n - 2)\n",      // right, far too slow
        ]
        let limited = try records.filter { wrong[$0.id!] != nil }.map { problem in
            var record = try sample(problem, template: "templates/mbpp.txt", completion: wrong[problem.id!]!)
            var tests = record["tests"]!.objectValue!
            tests["time_limit"] = 1
            record["tests"] = .object(tests)
            return record
        }
        let found = try limited.map { try c.check($0).verdict }
        #expect(found == [.wrongAnswer, .wrongAnswer, .wrongAnswer, .timeout])
    }

    @Test func appsReferenceSolutionsPassAndWrongOnesDoNot() throws {
        let records = try problems(.apps, "apps/test.jsonl") + problems(.apps, "apps/train.jsonl")
        #expect(records.count == 11)
        let references = try verdicts(records, template: "templates/apps.txt") { $0["solution"]!.stringValue! + "```\n" }
        #expect(references.values.allSatisfy { $0 == .correct }, "\(references)")
        // Without the prelude the LeetCode solution's `List` annotation is a NameError.
        var bare = records.first { $0.id == "apps/test/0004" }!
        var tests = bare["tests"]!.objectValue!
        tests["prelude"] = nil
        bare["tests"] = .object(tests)
        bare["completion"] = bare["solution"]
        #expect(try checker().check(bare).verdict == .runtimeError)

        let wrong: [String: (String, CodeVerdict)] = [
            "apps/test/0000": ("a, b = map(int, input().split())\nprint(a - b)\n", .wrongAnswer),
            "apps/test/0001": ("n = int(input())\na = list(map(int, input().split()))\nprint('%.4f' % (sum(a) / n))\n",
                               .wrongAnswer),   // 1.3333 is 3e-5 off
            "apps/test/0002": ("n = int(input())\nprint('yes' if n % 2 else 'no')\n", .wrongAnswer),
            "apps/test/0003": ("def double(x):\n    return x + 2\n", .wrongAnswer),
            "apps/test/0004": ("class Solution:\n    def twoSum(self, nums, target):\n        return [0, 1]\n", .wrongAnswer),
            "apps/train/0004": ("n = int(input())\nfor i in range(1, n + 1):\n    print(i * i)\nprint(0)\n", .wrongAnswer),
            "apps/train/0005": ("while True:\n    pass\n", .timeout),
        ]
        let c = checker(timeout: 3)
        for problem in records {
            guard let (program, expected) = wrong[problem.id!] else { continue }
            var record = try sample(problem, template: "templates/apps.txt", completion: program)
            var tests = record["tests"]!.objectValue!
            tests["time_limit"] = 1   // APPS's 4 s, shortened for the infinite loop
            record["tests"] = .object(tests)
            let result = try c.check(record)
            #expect(result.verdict == expected, "\(problem.id!): \(result.details)")
        }
        // The any-case problem accepts the answer in lower case.
        let anyCase = records.first { $0.id == "apps/test/0002" }!
        let lower = try sample(anyCase, template: "templates/apps.txt",
                               completion: "n = int(input())\nprint('yes' if n % 2 == 0 else 'no')\n")
        #expect(try c.check(lower).verdict == .correct)
        // A model that closes the prompt's fence at once and writes a fenced block of its own.
        let reopened = try sample(records.first { $0.id == "apps/test/0000" }!, template: "templates/apps.txt",
                                  completion: "```\nHere:\n```python\na, b = map(int, input().split())\nprint(a + b)\n```\n")
        #expect(try c.check(reopened).verdict == .correct)
        // A fenced answer in a chat-style completion with no fence in the prompt.
        var chat = records.first { $0.id == "apps/test/0000" }!
        chat["completion"] = "Sure:\n```python\na, b = map(int, input().split())\nprint(a + b)\n```\n"
        #expect(try c.check(chat).verdict == .correct)
    }

    @Test func promptFenceRules() {
        #expect(endsInsideCodeFence("task\n```python\n"))
        #expect(endsInsideCodeFence("task\n```\n"))
        #expect(!endsInsideCodeFence("task\n```python\nx = 1\n```\n"))
        #expect(!endsInsideCodeFence("task\n```text\n"), "a fence of another language is not code")
        #expect(!endsInsideCodeFence("def f(x):\n    \"\"\"doc\"\"\"\n"))
        #expect(splitAtClosingFence("x = 1\n```\nprose\n") == ("x = 1\n", "prose\n"))
        #expect(splitAtClosingFence("x = 1\n") == ("x = 1\n", ""))
    }
}
