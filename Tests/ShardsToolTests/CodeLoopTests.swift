import Foundation
import Testing

/// A miniature of `make DATA=code-demo`: the whole loop on a few code problems, the shipped
/// code-demo base, one iteration of a few fine-tuning steps, with the test build's tools. Every
/// sample goes through the sandbox; the report's E-step table gives the failures by verdict and
/// the count of kept samples with tampering patterns.
@Suite struct CodeLoopTests {
    let dir = ToolTempDir()

    func lines(_ path: String) throws -> [String] {
        try runTool("shards", ["cat", dir.path(path)]).stdout.split(separator: "\n").map(String.init)
    }

    @Test func miniatureCodeLoopChainsTheArtifacts() throws {
        let bin = URL(fileURLWithPath: toolPath("generate")).deletingLastPathComponent().path
        let run = try runTool("/usr/bin/make", ["-C", LoopTests.root, "--no-print-directory", "DATA=code-demo", "RUNS=\(dir.path("runs"))",
                                                "RUN=mini", "SWIFT_BUILD=true", "BIN=\(bin)",
                                                "DEMO_FLAGS=--splits 12,4,4 --pretrain-problems 12 --fact-lines 4",
                                                "ITERS=1", "SAMPLES=2", "STEPS=2", "SNAPSHOT_EVERY=1", "BATCH=4"])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let out = "runs/mini"
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.path("\(out)/base/model")).hasSuffix("code-demo/base"))
        let verdicts = try lines("\(out)/iter1/verdicts.jsonl.zst")
        #expect(verdicts.count == 24 && verdicts.allSatisfy { $0.contains(#""verifier":"code/"#) })
        for model in ["sft", "clean", "iter1"] {
            for (split, count) in [("validation", 4), ("test", 4)] {
                #expect(try lines("\(out)/\(model)/\(split).jsonl.zst").count == count)
            }
            // Greedy train scores cost as much as an E-step: the code demo leaves them out.
            #expect(!FileManager.default.fileExists(atPath: dir.path("\(out)/\(model)/train.jsonl.zst")))
        }
        let report = try String(contentsOfFile: dir.path("\(out)/report.md"), encoding: .utf8)
        #expect(report.contains("failed samples by verdict"), "\(report)")
        #expect(report.contains("(harness tampering): iteration 1: 0 of "), "\(report)")
        #expect(report.contains("| difficulty 1 |") && report.contains("control: SFT on clean full-step data"))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.path("\(out)/final")) == "iter1/model")
    }
}
