import Foundation
import Testing

/// End-to-end tests of the `verify` executable.
@Suite struct VerifyToolTests {
    let dir = ToolTempDir()

    /// GSM8K test problems (in `folder`) with their reference solutions as completions, plus a
    /// wrong and an empty completion each.
    func makeSamples(folder: String = datasetSlices) throws -> String {
        let problems = dir.path("t.jsonl.zst"), samples = dir.path("s.jsonl")
        _ = try runTool("shards", ["import", "gsm8k", "\(folder)/gsm8k/test.jsonl", "-o", problems])
        let jq = #". + {completion: .solution, sample: 0}, . + {completion: "so \\boxed{-1}", sample: 1}, . + {completion: "no idea", sample: 2}"#
        let result = try runTool("/bin/sh", ["-c", "zstdcat '\(problems)' | jq -c '\(jq)' > '\(samples)'"])
        #expect(result.status == 0)
        return samples
    }

    /// The committed slice: 40 GSM8K test problems.
    @Test func scoresGSM8KReferenceSolutions() throws { try checkGSM8KReferenceSolutions(folder: datasetSlices, count: 40) }

    func checkGSM8KReferenceSolutions(folder: String, count n: Int) throws {
        let samples = try makeSamples(folder: folder)
        let out = dir.path("v.jsonl.zst")
        let result = try runTool("verify", [samples, "-o", out, "--jobs", "2"])
        #expect(result.status == 0)
        #expect(result.stderr.contains("verified \(3 * n) samples: correct \(n), no_answer \(n), wrong_answer \(n)"),
                "\(result.stderr)")
        #expect(result.stderr.contains("problems solved \(n)/\(n)"))
        let serial = try runTool("verify", [samples, "-o", dir.path("v1.jsonl.zst"), "--jobs", "1"])
        #expect(serial.status == 0)
        #expect(FileManager.default.contentsEqual(atPath: out, andPath: dir.path("v1.jsonl.zst")))
    }

    @Test func keepCorrectWithCap() throws {
        let samples = try makeSamples()
        let kept = try runTool("verify", [samples, "--keep", "correct", "--cap", "1"])
        #expect(kept.status == 0)
        let lines = kept.stdout.split(separator: "\n")
        #expect(lines.count == 40)
        #expect(lines.allSatisfy { $0.contains(#""reward":1,"verdict":"correct""#) })

        // --verdicts: every scored record beside the kept ones, in one pass.
        let both = try runTool("verify", [samples, "--keep", "correct", "--cap", "1", "--verdicts", dir.path("all.jsonl.zst"), "-o", dir.path("kept.jsonl.zst")])
        #expect(both.status == 0, "\(both.stderr)")
        #expect(try runTool("shards", ["count", dir.path("all.jsonl.zst")]).stdout == "120\n")
        #expect(try runTool("shards", ["count", dir.path("kept.jsonl.zst")]).stdout == "40\n")
        #expect(try runTool("verify", [samples, "--verdicts", dir.path("x.jsonl.zst")]).status == 64)
    }

    @Test func dedupNormalizedKeepsOneOfEachSolution() throws {
        // Math: two solutions, one written three ways; code: a comment is not a new solution,
        // a '#' inside a string literal is.
        let math = ["so \\\\boxed{7}", "so  \\\\boxed{7}\\n", "7+0: \\\\boxed{7}", " so \\\\boxed{7}"]
            .enumerated().map { #"{"id":"m","task":"math","answer":"7","completion":"\#($1)","sample":\#($0)}"# }
        let code = [#"print(\"7\")"#, #"print(\"7\")  # seven"#, ##"print(\"7\" if \"#\" else \"\")"##]
            .enumerated().map {
                #"{"id":"c","task":"code","completion":"\#($1)\n","sample":\#($0),"#
                    + #""tests":{"stdio":[{"input":"","output":"7\n"}]}}"#
            }
        try (math + code).joined(separator: "\n").appending("\n")
            .write(to: dir.url("s.jsonl"), atomically: true, encoding: .utf8)
        func keptSamples(_ arguments: [String]) throws -> [String] {
            let result = try runTool("verify", [dir.path("s.jsonl"), "--keep", "correct"] + arguments)
            #expect(result.status == 0, "\(result.stderr)")
            return result.stdout.split(separator: "\n").map {
                String($0.firstMatch(of: /"id":"(.)".*"sample":(\d)/).map { "\($0.1)\($0.2)" } ?? "?")
            }
        }
        #expect(try keptSamples([]).count == 7)
        let normalized = try keptSamples(["--dedup", "normalized"])
        #expect(normalized.filter { $0.hasPrefix("m") }.count == 2, "\(normalized)")
        #expect(normalized.filter { $0.hasPrefix("c") }.count == 2, "\(normalized)")
        #expect(normalized.contains("m2") && normalized.contains("c2"))
        #expect(try keptSamples(["--dedup", "normalized", "--cap", "3"]) == normalized)
        #expect(try keptSamples(["--cap", "3"]).count == 6)
        #expect(try runTool("verify", [dir.path("s.jsonl"), "--dedup", "normalized"]).status == 64)
    }

    @Test func badRecordsFailWithFileAndLine() throws {
        try "{\"id\":\"a\",\"task\":\"math\",\"answer\":\"1\",\"completion\":\"\\\\boxed{1}\"}\n{\"id\":\"b\",\"task\":\"math\",\"answer\":\"1\"}\n"
            .write(to: dir.url("bad.jsonl"), atomically: true, encoding: .utf8)
        let result = try runTool("verify", [dir.path("bad.jsonl"), "-o", dir.path("out.jsonl.zst")])
        #expect(result.status == 1)
        #expect(result.stderr == "verify: \(dir.path("bad.jsonl")):2: field \"completion\" missing\n")
        #expect(!dir.contents().contains { $0.hasPrefix("out") })
        #expect(try runTool("verify", [dir.path("bad.jsonl"), "--cap", "2"]).status == 64)
    }

    /// A text field holding a number or an object is an error naming file, line and field, with
    /// exit 1 and no output (a number in a code problem used to become an empty prefix).
    @Test func nonStringTextFieldsFailWithFileAndLine() throws {
        let good = #"{"id":"a","task":"math","answer":"1","completion":"\\boxed{1}"}"#
        let tests = #""tests":{"python":"def check(candidate):\n    assert candidate(1) == 1\n","entry_point":"f"}"#
        let cases: [(record: String, error: String)] = [
            (#"{"id":"b","task":"math","answer":1,"completion":"\\boxed{1}"}"#,
             #"field "answer" must be a string, not a number"#),
            (#"{"id":"b","task":"math","answer":"1","completion":{"text":"1"}}"#,
             #"field "completion" must be a string, not an object"#),
            (#"{"id":"b","task":"code","problem":7,"completion":"def f(x):\n    return x\n",\#(tests)}"#,
             #"field "problem" must be a string, not a number"#),
            (#"{"id":"b","task":"math","answer":"1","solution":1,"completion":"\\boxed{1}"}"#,
             #"field "solution" must be a string, not a number"#),
        ]
        for (record, error) in cases {
            try (good + "\n" + record + "\n").write(to: dir.url("bad.jsonl"), atomically: true, encoding: .utf8)
            for jobs in ["1", "2"] {
                let result = try runTool("verify", [dir.path("bad.jsonl"), "--jobs", jobs, "-o", dir.path("out.jsonl.zst")])
                #expect(result.status == 1, "\(record)")
                #expect(result.stderr == "verify: \(dir.path("bad.jsonl")):2: \(error)\n", "\(result.stderr)")
                #expect(!dir.contents().contains { $0.hasPrefix("out") })
            }
        }
    }
}

/// `verify --help` and the README say who sandboxed programs run as, as the code does: one
/// unprivileged uid per program from a block of 10,000 (the help text used to say "nobody").
@Suite struct VerifyHelpTests {
    static let readme = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().appendingPathComponent("README.md").path

    /// Text with line breaks and runs of spaces as single spaces (the help is wrapped to the terminal).
    func words(_ text: String) -> String { text.split(whereSeparator: \.isWhitespace).joined(separator: " ") }

    @Test func helpAndReadmeNameTheUidsTheSandboxUses() throws {
        let help = try runTool("verify", ["--help"])
        #expect(help.status == 0)
        let text = words(help.stdout)
        #expect(!text.contains("nobody"), "\(text)")
        #expect(text.contains("an unprivileged uid and gid of its own, one per program, taken in turn from 1000000-1009999"),
                "\(text)")
        let readme = words(try String(contentsOfFile: Self.readme, encoding: .utf8))
        #expect(readme.contains("an unprivileged uid and gid of its own, one per program, taken in turn from 1000000-1009999"))
        #expect(!readme.contains("nobody"))
    }

    @Test func helpDocumentsTheSandboxChoice() throws {
        let text = words(try runTool("verify", ["--help"]).stdout)
        #expect(text.contains("--sandbox <sandbox> Code sandbox: warm (default) or cold."), "\(text)")
        #expect(text.contains("cold: a fresh Python process per program."))
    }
}

/// `verify` on HumanEval through the command line: canonical solutions all pass, empty bodies
/// none, and the summary says what isolation the sandbox had.
@Suite struct VerifyCodeToolTests {
    let dir = ToolTempDir()

    /// The committed slice: the first 20 HumanEval problems.
    @Test func humanEvalThroughTheTool() throws { try checkHumanEval(folder: datasetSlices, count: 20) }

    func checkHumanEval(folder: String, count n: Int) throws {
        let problems = dir.path("h.jsonl.zst"), samples = dir.path("s.jsonl")
        let imported = try runTool("shards", ["import", "humaneval", "\(folder)/humaneval/HumanEval.jsonl.gz", "-o", problems])
        #expect(imported.status == 0)
        let jq = #". + {completion: .solution, sample: 0}, . + {completion: "    pass\n", sample: 1}"#
        #expect(try runTool("/bin/sh", ["-c", "zstdcat '\(problems)' | jq -c '\(jq)' > '\(samples)'"]).status == 0)
        // Warm (the default) and cold give the same verdicts, record for record.
        var verdicts: [String] = []
        let modes = [("warm", "each program forked from a warm interpreter"), ("cold", "a fresh interpreter per program")]
        for (mode, summary) in modes {
            let output = dir.path("v-\(mode).jsonl.zst")
            let result = try runTool("verify", [samples, "--jobs", "2", "--timeout", "10", "--sandbox", mode,
                                                "-o", output])
            #expect(result.status == 0)
            #expect(result.stderr.contains("verified \(2 * n) samples: correct \(n),"), "\(result.stderr)")
            #expect(result.stderr.contains("problems solved \(n)/\(n)"))
            #expect(result.stderr.contains("sandbox: ") && result.stderr.contains(summary), "\(result.stderr)")
            #expect(!result.stderr.contains("run cold"), "\(result.stderr)")
            let kept = try runTool("/bin/sh",
                                   ["-c", "zstdcat '\(output)' | jq -c 'select(.reward == 1) | .sample' | sort -u"])
            #expect(kept.stdout == "0\n")
            let verdict = try runTool("/bin/sh", ["-c", "zstdcat '\(output)' | jq -c '[.id, .sample, .verdict]'"])
            verdicts.append(verdict.stdout)
        }
        #expect(verdicts[0] == verdicts[1])
        #expect(verdicts[0].split(separator: "\n").count == 2 * n)
    }
}

/// `verify` on the full datasets (1,319 GSM8K test problems, 164 HumanEval), run only when
/// RESTEM_DATA_DIR names their folder: `make datasets` does.
@Suite(.enabled(if: fullDatasets != nil, "RESTEM_DATA_DIR names the full datasets"))
struct VerifyToolFullDataTests {
    @Test func scoresGSM8KReferenceSolutions() throws {
        try VerifyToolTests().checkGSM8KReferenceSolutions(folder: fullDatasets!, count: 1319)
    }
    @Test func humanEvalThroughTheTool() throws {
        try VerifyCodeToolTests().checkHumanEval(folder: fullDatasets!, count: 164)
    }
}
