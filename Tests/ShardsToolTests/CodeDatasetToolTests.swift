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
}
