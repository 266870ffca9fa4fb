import Formats
import Foundation
import MathVerify

/// Dataset importers: each turns a public dataset's own file format into problem records with
/// the fields of DESIGN.md (`id`, `task`, `problem`, `answer` or `tests`, `solution`).
public enum Dataset: String, CaseIterable, Sendable {
    case gsm8k, math, humaneval, mbpp, apps

    public var summary: String {
        switch self {
        case .gsm8k: "GSM8K jsonl (question, answer ending '#### N')"
        case .math: "MATH: MATH500-style jsonl, or the original release as .tar/.tar.gz of per-problem JSON"
        case .humaneval: "HumanEval jsonl or jsonl.gz (task_id, prompt, test, entry_point)"
        case .mbpp: "MBPP jsonl (task_id, text, code, test_list)"
        case .apps: "APPS: .tar/.tar.gz of problem folders, or the jsonl with the same fields"
        }
    }
}

public struct ImportSummary: Sendable {
    public var imported = 0
    public var skipped: [String: Int] = [:]

    public init() {}
}

public enum Importer {
    /// Reads `path` as `dataset` and calls `emit` with each problem record, in a stable order.
    /// `split` names the split in generated ids (default: the file name without extensions).
    public static func run(_ dataset: Dataset, path: String, split: String? = nil,
                           emit: (Record) throws -> Void) throws -> ImportSummary {
        let split = split ?? defaultSplit(of: path)
        var summary = ImportSummary()
        var imported = 0
        let counted: (Record) throws -> Void = { record in
            try emit(record)
            imported += 1
        }
        switch dataset {
        case .gsm8k: try importGSM8K(path: path, split: split, emit: counted)
        case .math:
            if isArchive(path) { try importMATHArchive(path: path, emit: counted) } else {
                try importMATHLines(path: path, split: split, emit: counted)
            }
        case .humaneval: try importHumanEval(path: path, emit: counted)
        case .mbpp: try importMBPP(path: path, emit: counted)
        case .apps:
            if isArchive(path) {
                try importAPPSArchive(path: path, emit: counted, skipped: &summary.skipped)
            } else {
                try importAPPSLines(path: path, split: split, emit: counted, skipped: &summary.skipped)
            }
        }
        summary.imported = imported
        if imported == 0 { throw DataError("no problems found", at: path) }
        return summary
    }

    static func isArchive(_ path: String) -> Bool {
        [".tar", ".tar.gz", ".tgz", ".tar.bz2", ".tar.xz", ".zip"].contains { path.hasSuffix($0) }
    }

    /// `data/test.jsonl.gz` -> `test`.
    static func defaultSplit(of path: String) -> String {
        let file = path.split(separator: "/").last.map(String.init) ?? path
        return String(file.split(separator: ".").first ?? Substring(file))
    }

    // MARK: GSM8K

    /// `problem` = question, `answer` = the number after `####` without separators,
    /// `solution` = the worked solution as given (calculator annotations included).
    static func importGSM8K(path: String, split: String, emit: (Record) throws -> Void) throws {
        let reader = try ShardReader(path: path)
        var index = 0
        try reader.forEachRecord { row in
            let question = try row.string("question")
            let solution = try row.string("answer")
            guard let marker = solution.range(of: "####") else {
                throw DataError("field \"answer\" has no '#### N' final answer")
            }
            let answer = solution[marker.upperBound...].trimmingCharacters(in: .whitespacesAndNewlines)
                .replacingOccurrences(of: ",", with: "")
            guard !answer.isEmpty else { throw DataError("empty final answer after '####'") }
            try emit(Record(["id": .string("gsm8k/\(split)/\(index)"), "task": "math", "problem": .string(question), "answer": .string(answer), "solution": .string(solution)]))
            index += 1
        }
    }

    // MARK: MATH

    static func mathRecord(id: String, row: Record) throws -> Record {
        let problem = try row.string("problem")
        let solution = try row.string("solution")
        let answer: String
        if let given = row["answer"]?.stringValue {
            answer = given
        } else if let boxed = lastBoxed(in: solution) {
            answer = boxed
        } else {
            throw DataError("no \"answer\" field and no \\boxed{} in the solution")
        }
        var record = Record(["id": .string(id), "task": "math", "problem": .string(problem), "answer": .string(answer), "solution": .string(solution)])
        if let subject = row["subject"] ?? row["type"] { record["subject"] = subject }
        if let level = row["level"] {
            // The original release writes "Level 3"; MATH500 writes 3.
            if let text = level.stringValue, text.hasPrefix("Level "), let n = Int(text.dropFirst(6)) {
                record["level"] = .number(JSONNumber(n))
            } else {
                record["level"] = level
            }
        }
        return record
    }

    static func importMATHLines(path: String, split: String, emit: (Record) throws -> Void) throws {
        let reader = try ShardReader(path: path)
        var index = 0
        try reader.forEachRecord { row in
            let id = row["unique_id"]?.stringValue ?? row["id"]?.stringValue ?? "math/\(split)/\(index)"
            try emit(try mathRecord(id: id, row: row))
            index += 1
        }
    }

    /// The original MATH release: `MATH/{train,test}/{subject}/{n}.json`. Ids are the path from
    /// the split on (`test/algebra/1.json`), the same ids MATH500 uses.
    static func importMATHArchive(path: String, emit: (Record) throws -> Void) throws {
        var problems: [(id: String, row: Record)] = []
        try ArchiveReader(path: path).forEachFile { entry, data in
            guard entry.hasSuffix(".json") else { return }
            let location = "\(path): \(entry)"
            guard case .object(let object) = try parseJSON(data, location: location) else {
                throw DataError("expected a JSON object", at: location)
            }
            let components = entry.split(separator: "/").map(String.init)
            let start = components.lastIndex { $0 == "train" || $0 == "test" } ?? max(0, components.count - 3)
            problems.append((components[start...].joined(separator: "/"), Record(object)))
        }
        for (id, row) in problems.sorted(by: { naturalOrder($0.id, $1.id) }) {
            do { try emit(try mathRecord(id: id, row: row)) } catch let error as DataError {
                throw error.located("\(path): \(id)")
            }
        }
    }

    // MARK: HumanEval

    static func importHumanEval(path: String, emit: (Record) throws -> Void) throws {
        let reader = try ShardReader(path: path)
        try reader.forEachRecord { row in
            let entryPoint = try row.string("entry_point")
            let tests = JSONObject([("python", .string(try row.string("test"))), ("entry_point", .string(entryPoint))])
            try emit(Record([
                "id": .string(try row.string("task_id")), "task": "code",
                "problem": .string(try row.string("prompt")), "tests": .object(tests),
                "solution": .string(try row.string("canonical_solution")),
            ]))
        }
    }

    // MARK: MBPP

    /// MBPP's tests are bare asserts that call the function by name. They are wrapped into
    /// `def check(candidate):` so both code datasets share one test shape (HumanEval's), and the
    /// problem statement lists the tests as the MBPP paper's prompt does (it names the function).
    static func importMBPP(path: String, emit: (Record) throws -> Void) throws {
        let reader = try ShardReader(path: path)
        try reader.forEachRecord { row in
            let id = try row.identifier("task_id")
            let text = try row["text"] != nil ? row.string("text") : row.string("prompt")
            guard let asserts = row["test_list"]?.arrayValue?.compactMap(\.stringValue), !asserts.isEmpty else {
                throw DataError("field \"test_list\" missing or not a list of strings")
            }
            guard let entryPoint = calledFunction(in: asserts[0]) else {
                throw DataError("cannot find the function called by \"\(asserts[0])\"")
            }
            var setup = row["test_setup_code"]?.stringValue ?? ""
            if let imports = row["test_imports"]?.arrayValue?.compactMap(\.stringValue), !imports.isEmpty {
                setup = imports.joined(separator: "\n")
            }
            var test = setup.isEmpty ? "" : setup + "\n\n"
            test += "def check(candidate):\n" + asserts.map { "    " + $0 }.joined(separator: "\n") + "\n"
            let problem = text + "\nYour code should pass these tests:\n\n" + asserts.joined(separator: "\n")
            // The completion is a whole program: the problem is prose, not code to continue.
            let tests = JSONObject([("python", .string(test)), ("entry_point", .string(entryPoint)),
                                    ("continues_problem", false)])
            var record = Record(["id": .string("mbpp/\(id)"), "task": "code", "problem": .string(problem),
                                 "tests": .object(tests)])
            if let code = row["code"]?.stringValue { record["solution"] = .string(code) }
            try emit(record)
        }
    }

    /// `assert foo(1, 2) == 3` -> `foo`; also `assert not foo(...)`, `assert math.isclose(foo(...), ...)`
    /// falls back to the first call that is not a known helper.
    static func calledFunction(in assertion: String) -> String? {
        let helpers: Set<String> = ["assert", "not", "set", "sorted", "abs", "round", "math", "isclose", "list", "tuple", "str", "int", "float", "len"]
        var identifier = ""
        for character in assertion {
            if character.isLetter || character.isNumber || character == "_" {
                identifier.append(character)
                continue
            }
            if character == "(", !identifier.isEmpty, !helpers.contains(identifier),
               !(identifier.first!.isNumber)
            {
                return identifier
            }
            identifier = ""
        }
        return nil
    }

    // MARK: APPS

    /// The parts of one APPS problem, from a folder of the archive or a jsonl row.
    struct APPSParts {
        var question: String?
        var inputOutput: JSON?
        var solutions: JSON?
        var metadata: JSON?
        var starterCode: String?
    }

    enum APPSSkip: String, Error { case noTests = "no tests", noQuestion = "no question" }

    static func appsRecord(id: String, parts: APPSParts, location: String) throws -> Result<Record, APPSSkip> {
        guard let question = parts.question else { return .failure(.noQuestion) }
        guard case .object(let io)? = parts.inputOutput,
              let inputs = io["inputs"]?.arrayValue, let outputs = io["outputs"]?.arrayValue, !inputs.isEmpty
        else { return .failure(.noTests) }
        guard inputs.count == outputs.count else {
            throw DataError("input_output has \(inputs.count) inputs but \(outputs.count) outputs", at: location)
        }
        let tests: JSONObject
        if let function = io["fn_name"]?.stringValue {
            tests = JSONObject([("call", .object(JSONObject([
                ("fn_name", .string(function)), ("inputs", .array(inputs)), ("outputs", .array(outputs)),
            ])))])
        } else {
            // Stdio cases are text; a few problems store them as lists of lines.
            func text(_ value: JSON) -> JSON {
                if let lines = value.arrayValue {
                    return .string(lines.map { $0.stringValue ?? $0.serialized() }.joined(separator: "\n"))
                }
                return value.stringValue.map(JSON.string) ?? .string(value.serialized())
            }
            tests = JSONObject([("stdio", .array(zip(inputs, outputs).map { input, output in
                .object(JSONObject([("input", text(input)), ("output", text(output))]))
            }))])
        }
        var judged = tests
        // APPS's own evaluation (eval/testing_util.py) gives every test 4 seconds and runs every
        // program after a block of imports, which reference solutions rely on.
        judged["time_limit"] = .number(JSONNumber(appsTimeLimit))
        judged["prelude"] = .string(appsPrelude)
        if judged["stdio"] != nil && allowsAnyLetterCase(question) { judged["case_sensitive"] = false }
        var record = Record(["id": .string(id), "task": "code", "problem": .string(question), "tests": .object(judged)])
        if let first = parts.solutions?.arrayValue?.first?.stringValue { record["solution"] = .string(first) }
        if let difficulty = parts.metadata?.objectValue?["difficulty"] { record["difficulty"] = difficulty }
        if let url = parts.metadata?.objectValue?["url"]?.stringValue { record["url"] = .string(url) }
        // Always present (often empty), with the answer format, so templates/apps.txt can write
        // the APPS paper's prompt for every problem.
        record["starter_code"] = .string(parts.starterCode ?? "")
        record["io_format"] = .string(tests["call"] != nil ? "Call-Based" : "Standard Input")
        return .success(record)
    }

    /// CPU seconds per test of APPS problems: the 4 s of APPS's evaluation harness.
    static let appsTimeLimit = 4

    /// The imports APPS's harness puts before every program (eval/testing_util.py), without
    /// `import numpy as np`: numpy is not part of Python, and a missing module would fail every
    /// program; solutions that use numpy fail with a runtime error instead.
    static let appsPrelude = """
        import sys
        import time
        import itertools
        from itertools import accumulate, product, permutations, combinations
        import collections
        from collections import Counter, OrderedDict, deque, defaultdict, ChainMap
        from functools import lru_cache
        import math
        from math import sqrt, sin, cos, tan, ceil, fabs, floor, gcd, exp, log, log2
        import fractions
        from typing import List, Tuple
        import random
        import heapq
        from heapq import *
        """

    /// Whether a statement says the letter case of the output does not matter, as Codeforces
    /// statements do ("You can print each letter in any case (upper or lower)", 'You may print
    /// "YES" and "NO" in any case (for example, "yEs" will be recognized as a positive
    /// answer)', "in any register"). A sentence must name the phrase and also letters, case or
    /// an example answer, so "In any case, print the answer modulo 10^9+7" does not count.
    static func allowsAnyLetterCase(_ statement: String) -> Bool {
        let phrases = ["in any case", "in any register", "case-insensitive", "case insensitive", "in any letter case"]
        let context = ["letter", "upper", "lower", "register", "recogni", "\"yes\"", "insensitive"]
        let sentences = statement.lowercased().split { $0 == "\n" || $0 == "." || $0 == ";" }
        return sentences.contains { sentence in
            phrases.contains { sentence.contains($0) } && context.contains { sentence.contains($0) }
        }
    }

    /// The APPS release: `APPS/{train,test}/NNNN/{question.txt, input_output.json, solutions.json,
    /// metadata.json, starter_code.py}`. Problems without tests cannot be verified and are
    /// skipped (and counted).
    static func importAPPSArchive(path: String, emit: (Record) throws -> Void, skipped: inout [String: Int]) throws {
        var folders: [String: APPSParts] = [:]
        try ArchiveReader(path: path).forEachFile { entry, data in
            let components = entry.split(separator: "/").map(String.init)
            guard components.count >= 3 else { return }
            let file = components[components.count - 1]
            let folder = components[components.count - 3] + "/" + components[components.count - 2]
            let location = "\(path): \(entry)"
            var parts = folders[folder] ?? APPSParts()
            switch file {
            case "question.txt": parts.question = try text(data, location: location)
            case "input_output.json": parts.inputOutput = try parseJSON(data, location: location)
            case "solutions.json": parts.solutions = try parseJSON(data, location: location)
            case "metadata.json": parts.metadata = try parseJSON(data, location: location)
            case "starter_code.py": parts.starterCode = try text(data, location: location)
            default: return
            }
            folders[folder] = parts
        }
        for folder in folders.keys.sorted(by: naturalOrder) {
            switch try appsRecord(id: "apps/\(folder)", parts: folders[folder]!, location: "\(path): \(folder)") {
            case .success(let record): try emit(record)
            case .failure(let reason): skipped[reason.rawValue, default: 0] += 1
            }
        }
    }

    /// APPS as jsonl (`problem_id`, `question`, and `input_output` / `solutions` as JSON text).
    static func importAPPSLines(path: String, split: String, emit: (Record) throws -> Void,
                                skipped: inout [String: Int]) throws {
        let reader = try ShardReader(path: path)
        var skips: [String: Int] = [:]
        try reader.forEachRecord { row in
            func embedded(_ key: String) throws -> JSON? {
                guard let value = row[key] else { return nil }
                guard let text = value.stringValue else { return value }
                if text.isEmpty { return nil }
                do { return try parseJSON(Array(text.utf8), location: "") } catch let error as DataError {
                    // Unlocated, so the reader names the file and line.
                    throw DataError("field \"\(key)\": \(error.message)")
                }
            }
            let id = try row.identifier("problem_id")
            var parts = APPSParts(question: try row.string("question"))
            parts.inputOutput = try embedded("input_output")
            parts.solutions = try embedded("solutions")
            var metadata = JSONObject()
            if let difficulty = row["difficulty"] { metadata["difficulty"] = difficulty }
            if let url = row["url"] { metadata["url"] = url }
            parts.metadata = .object(metadata)
            parts.starterCode = row["starter_code"]?.stringValue
            let padded = id.count < 4 ? String(repeating: "0", count: 4 - id.count) + id : id
            switch try appsRecord(id: "apps/\(split)/\(padded)", parts: parts, location: reader.location) {
            case .success(let record): try emit(record)
            case .failure(let reason): skips[reason.rawValue, default: 0] += 1
            }
        }
        skipped.merge(skips, uniquingKeysWith: +)
    }

    // MARK: helpers

    static func parseJSON(_ data: [UInt8], location: String) throws -> JSON {
        let result: Result<JSON, JSONSyntaxError> = data.withUnsafeBufferPointer { bytes in
            Result { () throws(JSONSyntaxError) in try JSON.parse(bytes) }
        }
        switch result {
        case .success(let value): return value
        case .failure(let error): throw DataError("malformed JSON: \(error)", at: location)
        }
    }

    static func text(_ data: [UInt8], location: String) throws -> String {
        guard let text = String(validating: data, as: UTF8.self) else {
            throw DataError("invalid UTF-8", at: location)
        }
        return text
    }

    /// Orders `test/algebra/10.json` after `test/algebra/9.json`: digit runs compare as numbers.
    static func naturalOrder(_ a: String, _ b: String) -> Bool {
        func chunks(_ s: String) -> [(Int?, String)] {
            var out: [(Int?, String)] = []
            var current = ""
            var digits = false
            for c in s {
                if c.isASCII && c.isNumber != digits && !current.isEmpty {
                    out.append((digits ? Int(current) : nil, current))
                    current = ""
                }
                digits = c.isASCII && c.isNumber
                current.append(c)
            }
            if !current.isEmpty { out.append((digits ? Int(current) : nil, current)) }
            return out
        }
        for (x, y) in zip(chunks(a), chunks(b)) {
            if let m = x.0, let n = y.0, m != n { return m < n }
            if x.1 != y.1 { return x.1 < y.1 }
        }
        return a.count < b.count
    }
}
