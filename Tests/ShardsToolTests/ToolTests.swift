import Foundation
import Testing

/// End-to-end tests of the `shards` executable, run as a user would from a shell.
@Suite struct ShardsToolTests {
    let dir = ToolTempDir()

    // The committed slices: 40 GSM8K test problems, 40 MATH500 problems, 20 HumanEval problems.
    @Test func importsGSM8KIntoAStandardZstdShard() throws { try checkGSM8KImport(folder: datasetSlices, count: 40) }
    @Test func importsMATH500AndHumanEval() throws {
        try checkMATHAndHumanEvalImport(folder: datasetSlices, math: 40, code: 20)
    }

    func checkGSM8KImport(folder: String, count: Int) throws {
        let out = dir.path("t.jsonl.zst")
        let result = try runTool("shards", ["import", "gsm8k", "\(folder)/gsm8k/test.jsonl", "-o", out])
        #expect(result.status == 0)
        #expect(result.stderr == "imported \(count) gsm8k problems into \(out)\n")
        #expect(try runTool("shards", ["count", out]).stdout == "\(count)\n")
        #expect(try runTool("/usr/bin/zstd", ["-t", "-q", out]).status == 0)
        let answers = try runTool("/bin/sh", ["-c", "zstdcat '\(out)' | jq -r .answer"]).stdout.split(separator: "\n")
        #expect(answers.count == count)
        #expect(answers.prefix(3) == ["18", "3", "70000"])
        #expect(answers.allSatisfy { Double($0) != nil })
    }

    func checkMATHAndHumanEvalImport(folder: String, math mathCount: Int, code codeCount: Int) throws {
        let math = dir.path("m.jsonl.zst"), code = dir.path("h.jsonl")
        #expect(try runTool("shards", ["import", "math", "\(folder)/math500/test.jsonl", "-o", math]).status == 0)
        #expect(try runTool("shards", ["import", "humaneval", "\(folder)/humaneval/HumanEval.jsonl.gz", "-o", code])
            .status == 0)
        #expect(try runTool("shards", ["count", math, code]).stdout
                == "\(mathCount)\t\(math)\n\(codeCount)\t\(code)\n\(mathCount + codeCount)\ttotal\n")
        let stats = try runTool("shards", ["stats", "--json", math, code]).stdout
        #expect(stats.contains(#""tasks":{"math":\#(mathCount),"code":\#(codeCount)}"#), "\(stats)")
    }

    @Test func catHeadAndStdinPipes() throws {
        let shard = dir.path("t.jsonl.zst")
        _ = try runTool("shards", ["import", "gsm8k", "\(datasetSlices)/gsm8k/test.jsonl", "-o", shard])
        let piped = try runTool("/bin/sh", ["-c", "cat '\(shard)' | '\(toolPath("shards"))' head -n 2 | '\(toolPath("shards"))' count"])
        #expect(piped.stdout == "2\n")
        let head = try runTool("shards", ["head", "-n", "1", shard]).stdout
        #expect(head.hasPrefix(#"{"id":"gsm8k/test/0","task":"math","problem":"Janet’s ducks"#))
        #expect(head.hasSuffix("\"}\n"))
    }

    @Test func splitPartsMatchShardSelectionAndCoverEverything() throws {
        let shard = dir.path("t.jsonl.zst")
        _ = try runTool("shards", ["import", "gsm8k", "\(datasetSlices)/gsm8k/test.jsonl", "-o", shard])
        try FileManager.default.createDirectory(atPath: dir.path("parts"), withIntermediateDirectories: true)
        let split = try runTool("shards", ["split", "--shards", "3", shard, "-o", dir.path("parts/t.jsonl.zst")])
        #expect(split.status == 0)
        var all: [String] = []
        for i in 0..<3 {
            let part = dir.path("parts/t-0000\(i)-of-00003.jsonl.zst")
            let viaSplit = try runTool("shards", ["cat", part]).stdout
            let viaSelection = try runTool("shards", ["cat", "--shard", "\(i)/3", shard]).stdout
            #expect(viaSplit == viaSelection)
            all += viaSplit.split(separator: "\n").map(String.init)
        }
        let whole = try runTool("shards", ["cat", shard]).stdout.split(separator: "\n").map(String.init)
        #expect(all.sorted() == whole.sorted())
    }

    /// Each bad input: exit 1, one line on stderr naming the file (and line or byte), no output.
    @Test func badInputFailsCleanlyWithoutOutput() throws {
        let good = dir.path("good.jsonl.zst")
        _ = try runTool("shards", ["import", "gsm8k", "\(datasetSlices)/gsm8k/test.jsonl", "-o", good])
        let bytes = [UInt8](try Data(contentsOf: URL(fileURLWithPath: good)))
        try Data(bytes.prefix(bytes.count - 100)).write(to: dir.url("truncated.jsonl.zst"))
        var flipped = bytes
        flipped[bytes.count / 2] ^= 0x41
        try Data(flipped).write(to: dir.url("corrupt.jsonl.zst"))
        try "{\"id\":\"1\"}\n{\"id\":\"2\"}\n{\"id\":\"3\",}\n".write(to: dir.url("malformed.jsonl"), atomically: true, encoding: .utf8)
        try Data(Array("{\"id\":\"1\"}\n{\"id\":\"\u{1}".utf8).dropLast() + [0xC0, 0xAF] + Array("\"}\n".utf8))
            .write(to: dir.url("utf8.jsonl"))
        try "{\"question\":\"q\",\"answer\":\"#### 1\"}\n{\"answer\":\"#### 2\"}\n".write(to: dir.url("noq.jsonl"), atomically: true, encoding: .utf8)
        try "{\"id\":\"1\"}\n{\"x\":2}\n".write(to: dir.url("noid.jsonl"), atomically: true, encoding: .utf8)
        try Data().write(to: dir.url("empty.jsonl"))

        let cases: [(args: [String], error: String)] = [
            (["cat", dir.path("truncated.jsonl.zst")], "\(dir.path("truncated.jsonl.zst")): byte \(bytes.count - 100): truncated zstd stream"),
            (["cat", dir.path("corrupt.jsonl.zst")], "\(dir.path("corrupt.jsonl.zst")): byte "),
            (["count", dir.path("corrupt.jsonl.zst")], "\(dir.path("corrupt.jsonl.zst")): byte "),
            (["cat", dir.path("malformed.jsonl")], "\(dir.path("malformed.jsonl")):3: malformed JSON: expected a string key"),
            (["cat", dir.path("utf8.jsonl")], "\(dir.path("utf8.jsonl")):2: invalid UTF-8 in string"),
            (["import", "gsm8k", dir.path("noq.jsonl")], "\(dir.path("noq.jsonl")):2: field \"question\" missing"),
            (["split", "--shards", "2", dir.path("noid.jsonl")], "\(dir.path("noid.jsonl")):2: field \"id\" missing"),
            (["cat", dir.path("empty.jsonl")], "\(dir.path("empty.jsonl")): empty file"),
            (["cat", dir.path("nope.jsonl")], "\(dir.path("nope.jsonl")): cannot open: No such file or directory"),
        ]
        for (args, expected) in cases {
            let out = dir.path("out.jsonl.zst")
            let outArgs = args[0] == "split" ? ["-o", dir.path("part.jsonl.zst")] : args[0] == "count" ? [] : ["-o", out]
            let result = try runTool("shards", args + outArgs)
            #expect(result.status == 1, "\(args)")
            let lines = result.stderr.split(separator: "\n")
            #expect(lines.count == 1, "\(result.stderr)")
            #expect(result.stderr.hasPrefix("shards \(args[0]): \(expected)"), "\(result.stderr)")
            #expect(!dir.contents().contains { $0.hasPrefix("out.") || $0.hasPrefix("part") }, "\(args): \(dir.contents())")
        }
    }

    @Test func usageErrorsExit64() throws {
        #expect(try runTool("shards", ["split", dir.path("x.jsonl")]).status == 64)
        #expect(try runTool("shards", ["cat", "--shard", "4/4", dir.path("x.jsonl")]).status == 64)
        #expect(try runTool("shards", ["import", "nosuch", dir.path("x.jsonl")]).status == 64)
    }

    /// A tool killed mid-write leaves nothing under the output name, not even its temp file.
    @Test(arguments: [SIGTERM, SIGINT])
    func killedWriterLeavesNoFile(signal: Int32) throws {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: toolPath("shards"))
        process.arguments = ["cat", "-", "-o", dir.path("out.jsonl.zst")]
        let input = Pipe()
        process.standardInput = input
        process.standardError = FileHandle.nullDevice
        try process.run()
        let line = Data(#"{"id":"x","text":"some text to write"}"#.utf8 + [0x0A])
        for _ in 0..<2000 { input.fileHandleForWriting.write(line) }
        // Wait until the writer has created its temporary file, then kill it mid-stream.
        let deadline = Date().addingTimeInterval(10)
        while !dir.contents().contains(where: { $0.hasPrefix("out.jsonl.zst.tmp-") }) && Date() < deadline {
            usleep(10_000)
        }
        #expect(dir.contents().contains { $0.hasPrefix("out.jsonl.zst.tmp-") })
        kill(process.processIdentifier, signal)
        process.waitUntilExit()
        #expect(process.terminationReason == .uncaughtSignal)
        #expect(dir.contents().isEmpty, "\(dir.contents())")
        try? input.fileHandleForWriting.close()
    }

    @Test func countHelpText() throws {
        let help = try runTool("shards", ["count", "--help"]).stdout
        #expect(help == """
            OVERVIEW: Count records (per file and in total when several are given).

            Example:
              shards count iter1/samples.jsonl.zst

            USAGE: shards count [<files> ...]

            ARGUMENTS:
              <files>                 Shard files to read ('-' for stdin; stdin when none
                                      are given).

            OPTIONS:
              -h, --help              Show help information.


            """)
    }
}

@Suite struct DemoToolTests {
    let dir = ToolTempDir()

    @Test func sameSeedSameBytesAndBadArgumentsAreUsageErrors() throws {
        for out in ["a", "b"] {
            let result = try runTool("shards", ["demo", "--splits", "40,8,8", "--pretrain-problems", "10", "--fact-lines", "3", "-o", dir.path(out)])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr.contains("40 train, 8 validation, 8 test problems, 13 pretraining records (seed 0)"))
        }
        let files = try FileManager.default.contentsOfDirectory(atPath: dir.path("a")).sorted()
        #expect(files == ["config.json", "pretrain.jsonl.zst", "prompt.txt", "test.jsonl.zst", "tokenizer.json", "train.jsonl.zst", "validation.jsonl.zst"])
        for file in files { #expect(FileManager.default.contentsEqual(atPath: dir.path("a/\(file)"), andPath: dir.path("b/\(file)"))) }
        #expect(try String(contentsOfFile: dir.path("a/prompt.txt"), encoding: .utf8) == "Q{{problem}}:")
        for bad in [["--splits", "1,2"], ["--human-mix", "0,0,0"], ["--human-mix", "a,b,c"]] {
            #expect(try runTool("shards", ["demo", "-o", dir.path("c")] + bad).status == 64)
        }
        #expect(!FileManager.default.fileExists(atPath: dir.path("c")))
    }
}

/// The imports of the full datasets (1,319 GSM8K test problems, 500 MATH500, 164 HumanEval), run
/// only when RESTEM_DATA_DIR names their folder: `make datasets` does.
@Suite(.enabled(if: fullDatasets != nil, "RESTEM_DATA_DIR names the full datasets"))
struct ShardsToolFullDataTests {
    @Test func importsGSM8K() throws { try ShardsToolTests().checkGSM8KImport(folder: fullDatasets!, count: 1319) }
    @Test func importsMATH500AndHumanEval() throws {
        try ShardsToolTests().checkMATHAndHumanEvalImport(folder: fullDatasets!, math: 500, code: 164)
    }
}
