import Foundation
import Testing
@testable import Datasets
import Formats
import MathVerify
import TestSupport

@Suite struct ImporterTests {
    func run(_ dataset: Dataset, _ path: String, split: String? = nil) throws -> [Record] {
        var records: [Record] = []
        _ = try Importer.run(dataset, path: path, split: split) { records.append($0) }
        return records
    }

    // The committed slices: 40 GSM8K test problems, 40 MATH500 problems, 20 HumanEval problems.
    @Test func gsm8kTestSplit() throws { try checkGSM8K(folder: datasetSlices, count: 40) }
    @Test func math500AnswersAreTheLastBoxedExpression() throws { try checkMATH500(folder: datasetSlices, count: 40) }
    @Test func humanEvalFromGzip() throws { try checkHumanEval(folder: datasetSlices, count: 20) }

    func checkGSM8K(folder: String, count: Int) throws {
        let records = try run(.gsm8k, "\(folder)/gsm8k/test.jsonl")
        #expect(records.count == count)
        #expect(records[0].id == "gsm8k/test/0")
        #expect(records[0]["answer"] == "18")
        #expect(records[2]["answer"] == "70000", "the separator of 70,000 is removed")
        #expect(records.allSatisfy { $0.task == "math" && $0["solution"] != nil && $0["problem"] != nil })
        // Every answer is a plain number: separators removed, nothing else left.
        let numeric = records.filter { Double($0["answer"]!.stringValue!) != nil }
        #expect(numeric.count == count)
        #expect(Set(records.compactMap(\.id)).count == count)
    }

    func checkMATH500(folder: String, count: Int) throws {
        let records = try run(.math, "\(folder)/math500/test.jsonl")
        #expect(records.count == count)
        #expect(records[0].id == "test/precalculus/807.json")
        #expect(records[0]["level"] == 2)
        #expect(records[0]["subject"] == "Precalculus")
        #expect(Set(records.compactMap { $0["subject"]?.stringValue }).count == 7)
        let disagreeing = records.filter { lastBoxed(in: $0["solution"]!.stringValue!) != $0["answer"]!.stringValue! }
        #expect(disagreeing.isEmpty, "\(disagreeing.prefix(3).map(\.id))")
    }

    func checkHumanEval(folder: String, count: Int) throws {
        let records = try run(.humaneval, "\(folder)/humaneval/HumanEval.jsonl.gz")
        #expect(records.count == count)
        #expect(records.map(\.id) == (0..<count).map { "HumanEval/\($0)" })
        let first = records[0]
        #expect(first.task == "code")
        #expect(first["tests"]?.objectValue?["entry_point"] == "has_close_elements")
        #expect(first["tests"]?.objectValue?["python"]?.stringValue?.contains("def check(candidate)") == true)
        #expect(first["solution"]?.stringValue?.contains("for idx, elem in enumerate(numbers)") == true)
    }

    @Test func mbppWrapsAssertsIntoACheckFunction() throws {
        let dir = TempDir()
        let rows = [
            #"{"task_id": 11, "text": "Write a python function to remove first and last occurrence of a given character from the string.", "code": "def remove_Occ(s,ch): \r\n    return s", "test_list": ["assert remove_Occ(\"hello\",\"l\") == \"heo\"", "assert remove_Occ(\"abcda\",\"a\") == \"bcd\""], "test_setup_code": "", "challenge_test_list": []}"#,
            #"{"task_id": 12, "text": "Sort.", "code": "def s(x): return sorted(x)", "test_list": ["assert set(s([2,1])) == {1,2}"], "test_setup_code": "import math", "challenge_test_list": []}"#,
        ]
        try rows.joined(separator: "\n").write(toFile: dir.path("mbpp.jsonl"), atomically: true, encoding: .utf8)
        let records = try run(.mbpp, dir.path("mbpp.jsonl"))
        #expect(records.map(\.id) == ["mbpp/11", "mbpp/12"])
        let tests = records[0]["tests"]!.objectValue!
        #expect(tests["entry_point"] == "remove_Occ")
        #expect(tests["continues_problem"] == false)
        #expect(tests["python"] == .string("def check(candidate):\n    assert remove_Occ(\"hello\",\"l\") == \"heo\"\n    assert remove_Occ(\"abcda\",\"a\") == \"bcd\"\n"))
        #expect(records[0]["problem"]!.stringValue!.hasSuffix("Your code should pass these tests:\n\nassert remove_Occ(\"hello\",\"l\") == \"heo\"\nassert remove_Occ(\"abcda\",\"a\") == \"bcd\""))
        #expect(records[1]["tests"]!.objectValue!["entry_point"] == "s")
        #expect(records[1]["tests"]!.objectValue!["python"]!.stringValue!.hasPrefix("import math\n\ndef check(candidate):\n"))
    }

    @Test func mbppRowWithoutTestsNamesTheLine() throws {
        let dir = TempDir()
        try "{\"task_id\": 1, \"text\": \"t\", \"code\": \"\", \"test_list\": [\"assert f(1)\"]}\n{\"task_id\": 2, \"text\": \"t\"}\n"
            .write(toFile: dir.path("m.jsonl"), atomically: true, encoding: .utf8)
        #expect(dataError { _ = try run(.mbpp, dir.path("m.jsonl")) }?.description
                == "\(dir.path("m.jsonl")):2: field \"test_list\" missing or not a list of strings")
    }

    /// Builds a tar.gz from a folder of files with the system tar.
    func makeArchive(_ files: [String: String], in dir: TempDir, name: String) throws -> String {
        let root = dir.url.appendingPathComponent("src")
        for (path, content) in files {
            let url = root.appendingPathComponent(path)
            try FileManager.default.createDirectory(at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
            try content.write(to: url, atomically: true, encoding: .utf8)
        }
        let tar = Process()
        tar.executableURL = URL(fileURLWithPath: "/bin/tar")
        tar.arguments = ["-czf", dir.path(name), "-C", root.path, "."]
        try tar.run()
        tar.waitUntilExit()
        #expect(tar.terminationStatus == 0)
        return dir.path(name)
    }

    @Test func mathOriginalReleaseArchive() throws {
        let dir = TempDir()
        let archive = try makeArchive([
            "MATH/test/algebra/10.json": #"{"problem": "What is $1+1$?", "level": "Level 1", "type": "Algebra", "solution": "It is $\\boxed{2}$."}"#,
            "MATH/test/algebra/9.json": #"{"problem": "Half?", "level": "Level 2", "type": "Algebra", "solution": "$\\boxed{\\frac{1}{2}}$"}"#,
            "MATH/train/geometry/1.json": #"{"problem": "Angle?", "level": "Level ?", "type": "Geometry", "solution": "So $\\boxed{90^\\circ}$."}"#,
            "MATH/README.txt": "not a problem",
        ], in: dir, name: "MATH.tar.gz")
        let records = try run(.math, archive)
        #expect(records.map(\.id) == ["test/algebra/9.json", "test/algebra/10.json", "train/geometry/1.json"])
        #expect(records.map { $0["answer"]!.stringValue! } == [#"\frac{1}{2}"#, "2", #"90^\circ"#])
        #expect(records[1]["level"] == 1)
        #expect(records[2]["level"] == "Level ?")
        #expect(records[0]["subject"] == "Algebra")
    }

    @Test func appsArchiveMapsStdioAndCallTests() throws {
        let dir = TempDir()
        let archive = try makeArchive([
            "APPS/test/0000/question.txt": "Read two numbers and print their sum.",
            "APPS/test/0000/input_output.json": #"{"inputs": ["1 2\n", ["3 4", ""]], "outputs": ["3\n", ["7"]]}"#,
            "APPS/test/0000/solutions.json": #"["a, b = map(int, input().split())\nprint(a + b)"]"#,
            "APPS/test/0000/metadata.json": #"{"difficulty": "introductory", "url": "x"}"#,
            "APPS/test/0001/question.txt": "Return double.",
            "APPS/test/0001/input_output.json": #"{"fn_name": "double", "inputs": [[1], [5]], "outputs": [2, 10]}"#,
            "APPS/test/0001/starter_code.py": "def double(x):\n",
            "APPS/train/0002/question.txt": "No tests here.",
        ], in: dir, name: "APPS.tar.gz")
        var records: [Record] = []
        let summary = try Importer.run(.apps, path: archive) { records.append($0) }
        #expect(summary.imported == 2)
        #expect(summary.skipped == ["no tests": 1])
        #expect(records.map(\.id) == ["apps/test/0000", "apps/test/0001"])
        #expect(records[0]["tests"]?.objectValue?["stdio"] == [["input": "1 2\n", "output": "3\n"], ["input": "3 4\n", "output": "7"]])
        #expect(records[0]["difficulty"] == "introductory")
        #expect(records[0]["solution"] == "a, b = map(int, input().split())\nprint(a + b)")
        #expect(records[1]["tests"]?.objectValue?["call"] == ["fn_name": "double", "inputs": [[1], [5]], "outputs": [2, 10]])
        #expect(records[1]["starter_code"] == "def double(x):\n")
    }

    @Test func appsJSONLWithEmbeddedJSONText() throws {
        let dir = TempDir()
        let row = Record(["problem_id": 7, "question": "Q", "input_output": #"{"inputs": ["1\n"], "outputs": ["1\n"]}"#,
                          "solutions": #"["print(input())"]"#, "difficulty": "interview", "starter_code": ""])
        try writeAll([row], to: dir.path("test.jsonl"))
        let records = try run(.apps, dir.path("test.jsonl"))
        #expect(records.map(\.id) == ["apps/test/0007"])
        #expect(records[0]["tests"]?.objectValue?["stdio"] == [["input": "1\n", "output": "1\n"]])
        #expect(records[0]["solution"] == "print(input())")
    }

    @Test func missingRequiredFieldIsNamedWithFileAndLine() throws {
        let dir = TempDir()
        try "{\"question\": \"q\", \"answer\": \"#### 3\"}\n{\"question\": \"q\"}\n"
            .write(toFile: dir.path("g.jsonl"), atomically: true, encoding: .utf8)
        #expect(dataError { _ = try run(.gsm8k, dir.path("g.jsonl")) }?.description
                == "\(dir.path("g.jsonl")):2: field \"answer\" missing")
    }
}

/// The same checks on the full datasets (1,319 GSM8K test problems, 500 MATH500, 164 HumanEval),
/// run only when RESTEM_DATA_DIR names their folder: `make datasets` does.
@Suite(.enabled(if: fullDatasets != nil, "RESTEM_DATA_DIR names the full datasets"))
struct ImporterFullDataTests {
    @Test func gsm8kTestSplit() throws { try ImporterTests().checkGSM8K(folder: fullDatasets!, count: 1319) }
    @Test func math500() throws { try ImporterTests().checkMATH500(folder: fullDatasets!, count: 500) }
    @Test func humanEval() throws { try ImporterTests().checkHumanEval(folder: fullDatasets!, count: 164) }
}

/// The MBPP- and APPS-format fixtures (written for this project in each dataset's published
/// format; Tests/Fixtures/datasets/{mbpp,apps}/README.md).
@Suite struct CodeDatasetImporterTests {
    func run(_ dataset: Dataset, _ path: String, split: String? = nil) throws -> (ImportSummary, [Record]) {
        var records: [Record] = []
        let summary = try Importer.run(dataset, path: path, split: split) { records.append($0) }
        return (summary, records)
    }

    @Test func mbppFixture() throws {
        let (summary, records) = try run(.mbpp, "\(datasetSlices)/mbpp/mbpp.jsonl")
        #expect(summary.imported == 9)
        #expect(records.map(\.id) == [2, 11, 12, 13, 14, 520, 601, 602, 974].map { "mbpp/\($0)" })
        #expect(records.allSatisfy { $0.task == "code" && $0["solution"]?.stringValue?.isEmpty == false })
        let entryPoints = records.map { $0["tests"]?.objectValue?["entry_point"]?.stringValue ?? "" }
        #expect(entryPoints == ["larger_of_two", "count_vowels", "circle_area", "is_Perfect_Square", "sort_by_second",
                                "reverse_words", "max_pair_product", "remove_duplicates", "fib"])
        let circle = records[2]["tests"]!.objectValue!["python"]!.stringValue!
        #expect(circle.hasPrefix("import math\n\ndef check(candidate):\n    assert math.isclose(circle_area(1), "))
        // Only test_list is judged (MBPP's standard evaluation); challenge tests stay out.
        #expect(records[3]["tests"]!.objectValue!["python"]!.stringValue!.contains("1 << 40") == false)
        #expect(records[1]["problem"]!.stringValue! == """
            Write a function to count the vowels in a given string.
            Your code should pass these tests:

            assert count_vowels("python") == 1
            assert count_vowels("AbcdE") == 2
            assert count_vowels("xyz") == 0
            """)
    }

    @Test func appsFixtureStdioCallAndJudgingFields() throws {
        let (summary, records) = try run(.apps, "\(datasetSlices)/apps/test.jsonl")
        #expect(summary.imported == 5)
        #expect(summary.skipped == ["no tests": 1])
        #expect(records.map(\.id) == (0..<5).map { "apps/test/000\($0)" })
        let tests = records.map { $0["tests"]!.objectValue! }
        #expect(tests[0]["stdio"]?.arrayValue?.count == 3)
        #expect(tests[0]["stdio"]?.arrayValue?[2] == ["input": "1000000000 1000000000\n", "output": "2000000000\n"])
        #expect(tests[3]["call"] == ["fn_name": "double", "inputs": [[1], [21], [-3]], "outputs": [[2], [42], [-6]]])
        #expect(tests.allSatisfy { $0["time_limit"] == 4 && $0["prelude"]?.stringValue?.contains("from typing import List") == true })
        #expect(tests.map { $0["case_sensitive"] } == [nil, nil, false, nil, nil], "only test 2 allows any letter case")
        #expect(records.map { $0["io_format"]?.stringValue ?? "" }
                == ["Standard Input", "Standard Input", "Standard Input", "Call-Based", "Call-Based"])
        #expect(records[0]["starter_code"] == "", "present for every problem, so the template can name it")
        #expect(records[4]["starter_code"]?.stringValue?.hasPrefix("class Solution:") == true)
        #expect(records[0]["url"] == "https://codeforces.com/problemset/problem/0/A")
        #expect(records[1]["difficulty"] == "introductory")
        let (_, train) = try run(.apps, "\(datasetSlices)/apps/train.jsonl")
        #expect(train.map(\.id) == (0..<6).map { "apps/train/000\($0)" })
    }

    @Test func anyLetterCaseNeedsTheStatementToSaySo() {
        let allowing = [
            "You can print each letter in any case (upper or lower).",
            "You can output \"YES\" and \"NO\" in any case (for example, strings \"yEs\", \"yes\" will be recognized as a positive answer).",
            "You may print every letter in any register: \"Yes\", \"yes\", \"yEs\" will all be recognized as positive answer.",
            "The checker is case-insensitive.",
        ]
        let notAllowing = [
            "In any case, print the answer modulo 10^9+7.",
            "Print YES or NO.",
            "In any case, the output must contain n lines. Print lowercase letters only",
            "",
        ]
        for text in allowing { #expect(Importer.allowsAnyLetterCase(text), "\(text)") }
        for text in notAllowing { #expect(!Importer.allowsAnyLetterCase(text), "\(text)") }
    }

    @Test func appsRowWithBrokenInputOutputNamesTheLine() throws {
        let dir = TempDir()
        let good = try readTextFile("\(datasetSlices)/apps/test.jsonl").split(separator: "\n")[0]
        let broken = #"{"problem_id": 9, "question": "q", "solutions": "[]", "input_output": "{\"inputs\": [1"}"#
        try (good + "\n" + broken + "\n").write(toFile: dir.path("test.jsonl"), atomically: true, encoding: .utf8)
        let message = dataError { _ = try run(.apps, dir.path("test.jsonl")) }?.description ?? ""
        #expect(message.hasPrefix("\(dir.path("test.jsonl")):2: "), "\(message)")
        #expect(message.contains("input_output"), "\(message)")
    }
}
