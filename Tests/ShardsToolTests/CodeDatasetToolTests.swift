import Foundation
import Testing

/// `shards import mbpp|apps` with `--task-ids`, and `verify` on the imported references, as the
/// Makefile's DATA=mbpp and DATA=apps blocks run them.
@Suite struct CodeDatasetToolTests {
    let dir = ToolTempDir()

    @Test func mbppStandardSplitByTaskIDs() throws {
        let file = "\(datasetSlices)/mbpp/mbpp.jsonl"
        let splits = [("train", "601-974", ["mbpp/601", "mbpp/602", "mbpp/974"]), ("validation", "511-600", ["mbpp/520"]),
                      ("test", "11-510", ["mbpp/11", "mbpp/12", "mbpp/13", "mbpp/14"]), ("few", "1-10,12", ["mbpp/2", "mbpp/12"])]
        for (name, ranges, ids) in splits {
            let out = dir.path("\(name).jsonl.zst")
            let result = try runTool("shards", ["import", "mbpp", file, "--task-ids", ranges, "-o", out])
            #expect(result.status == 0, "\(result.stderr)")
            #expect(result.stderr == "imported \(ids.count) (task ids \(ranges)) of 9 mbpp problems into \(out)\n")
            let found = try runTool("/bin/sh", ["-c", "zstdcat '\(out)' | jq -r .id"]).stdout.split(separator: "\n")
            #expect(found.map(String.init) == ids)
        }
        let none = dir.path("none.jsonl.zst")
        let empty = try runTool("shards", ["import", "mbpp", file, "--task-ids", "975-2000", "-o", none])
        #expect(empty.status == 1)
        #expect(empty.stderr == "shards import: \(file): no problem has a task id in 975-2000\n")
        #expect(!FileManager.default.fileExists(atPath: none), "no output file")
        for bad in ["5-x", "10-1", "", "1-2-3", "-5"] {
            #expect(try runTool("shards", ["import", "mbpp", file, "--task-ids", bad, "-o", none]).status == 64, "\(bad)")
        }
    }

    @Test func appsReferencesVerifyCorrect() throws {
        let shard = dir.path("apps.jsonl.zst")
        let result = try runTool("shards", ["import", "apps", "\(datasetSlices)/apps/test.jsonl", "-o", shard])
        #expect(result.stderr == "imported 5 apps problems into \(shard); skipped 1 (no tests)\n")
        let samples = try runTool("/bin/sh", ["-c", "zstdcat '\(shard)' | jq -c '. + {completion: .solution, sample: 0}'"])
        let verdicts = try runTool("verify", ["-", "-o", "-"], stdin: samples.stdout)
        #expect(verdicts.status == 0, "\(verdicts.stderr)")
        #expect(verdicts.stderr.hasPrefix("verified 5 samples: correct 5\n"), "\(verdicts.stderr)")
        #expect(verdicts.stdout.split(separator: "\n").allSatisfy { $0.contains(#""verifier":"code/2""#) })
    }

    @Test func verifyCPUTimeOption() throws {
        func record(_ id: String, _ program: String) -> String {
            let escaped = program.replacingOccurrences(of: "\n", with: "\\n")
            return #"{"id":"\#(id)","task":"code","sample":0,"completion":"\#(escaped)","tests":{"stdio":[{"input":"","output":"ok\n"}]}}"#
        }
        let input = [record("sleep", "import time\ntime.sleep(1.5)\nprint('ok')"),
                     record("quick", "print('ok')")].joined(separator: "\n") + "\n"
        let result = try runTool("verify", ["-", "--timeout", "1", "--cpu-time", "0.5", "-o", "-"], stdin: input)
        #expect(result.status == 0, "\(result.stderr)")
        let lines = result.stdout.split(separator: "\n").map(String.init)
        #expect(lines.count == 2)
        // Asleep for 1.5 s: past --timeout 1, within the backstop of 3 x 0.5 + 1 s; no CPU used.
        #expect(lines.first?.contains(#""verdict":"correct""#) == true, "\(lines)")
        #expect(lines.last?.contains(#""verdict":"correct""#) == true)
        // A spinner is stopped by CPU time (RLIMIT_CPU one second above), long before the
        // 10 s wall clock, however loaded the machine.
        let spin = try runTool("verify", ["-", "--timeout", "10", "--cpu-time", "0.3", "-o", "-"],
                               stdin: record("spin", "while True:\n    pass") + "\n")
        #expect(spin.stdout.contains(#""verdict":"timeout""#) && spin.stdout.contains("CPU time limit of 0.3 s"), "\(spin.stdout)")
        let usage = try runTool("verify", ["-", "--cpu-time", "0"], stdin: input)
        #expect(usage.status == 64)
    }

    /// The Makefile's DATA=mbpp and DATA=apps data preparation and `make eval-humaneval`, on the
    /// fixtures and the shipped demo base, with the test build's tools.
    func make(_ arguments: [String]) throws -> ToolResult {
        let bin = URL(fileURLWithPath: toolPath("generate")).deletingLastPathComponent().path
        return try runTool("/usr/bin/make", ["-C", LoopTests.root, "--no-print-directory", "RUNS=\(dir.path("runs"))",
                                             "SWIFT_BUILD=true", "BIN=\(bin)"] + arguments)
    }

    func ids(_ path: String) throws -> [String] {
        try runTool("/bin/sh", ["-c", "zstdcat '\(dir.path(path))' | jq -r .id"]).stdout.split(separator: "\n").map(String.init)
    }

    @Test func makefileDataPreparation() throws {
        func splits(_ run: String) -> [String] { ["train", "validation", "test"].map { dir.path("runs/\(run)/data/\($0).jsonl.zst") } }
        let mbpp = try make(["DATA=mbpp", "MBPP=\(datasetSlices)/mbpp/mbpp.jsonl"] + splits("mbpp"))
        #expect(mbpp.status == 0, "\(mbpp.stderr)")
        #expect(try ids("runs/mbpp/data/train.jsonl.zst") == ["mbpp/601", "mbpp/602", "mbpp/974"])
        #expect(try ids("runs/mbpp/data/validation.jsonl.zst") == ["mbpp/520"])
        #expect(try ids("runs/mbpp/data/test.jsonl.zst") == ["mbpp/11", "mbpp/12", "mbpp/13", "mbpp/14"])
        let missing = try make(["DATA=mbpp", dir.path("runs/other/data/test.jsonl.zst")])
        #expect(missing.status != 0)
        #expect(missing.stderr.contains("DATA=mbpp needs MBPP=path/to/mbpp.jsonl"), "\(missing.stderr)")

        let apps = try make(["DATA=apps", "APPS=\(datasetSlices)/apps", "APPS_VALIDATION=1/2"] + splits("apps"))
        #expect(apps.status == 0, "\(apps.stderr)")
        let train = try ids("runs/apps/data/train.jsonl.zst"), validation = try ids("runs/apps/data/validation.jsonl.zst")
        #expect(!train.isEmpty && !validation.isEmpty)
        #expect(Set(train).isDisjoint(with: validation))
        #expect((train + validation).sorted() == (0..<6).map { "apps/train/000\($0)" }, "every train problem, once")
        #expect(try ids("runs/apps/data/test.jsonl.zst") == (0..<5).map { "apps/test/000\($0)" })
        #expect(try make(["DATA=apps", dir.path("runs/x/data/test.jsonl.zst")]).stderr.contains("DATA=apps needs APPS="))
    }

    @Test func evalHumanEvalPlumbing() throws {
        let run = try make(["eval-humaneval", "MODEL=\(LoopTests.root)/demo/base", "EVAL_NAME=demo",
                            "HUMANEVAL=\(datasetSlices)/humaneval/HumanEval.jsonl.gz", "HUMANEVAL_TOKENS=16"])
        #expect(run.status == 0, "\(run.stderr)")
        // The demo base is a character-level arithmetic model: it solves none, but every problem
        // is sampled once, greedily, and verified.
        #expect(run.stdout.contains("| 20 | 1 | 0.0 | 0.0 |"), "\(run.stdout)")
        #expect(try ids("runs/eval-humaneval/demo/verdicts.jsonl.zst").count == 20)
        let verdicts = dir.path("runs/eval-humaneval/demo/verdicts.jsonl.zst")
        let settings = try runTool("/bin/sh", ["-c", "zstdcat '\(verdicts)' | jq -r '.gen.temperature' | sort -u"])
        #expect(settings.stdout == "0\n")
        let noModel = try make(["eval-humaneval", "MODEL=/nonexistent", "HUMANEVAL=\(datasetSlices)/humaneval/HumanEval.jsonl.gz"])
        #expect(noModel.status != 0)
        #expect(noModel.stderr.contains("eval-humaneval needs MODEL="), "\(noModel.stderr)")
    }
}
