import Foundation
import Testing

/// A miniature of `make`: the whole ReST^EM Makefile on a few demo problems, the shipped base
/// model, one iteration and a few fine-tuning steps, with the test build's tools. It checks that
/// the artifacts chain together and that a finished run is up to date. And the pretraining of a
/// base for other seeds, with its choice of snapshot.
@Suite struct LoopTests {
    let dir = ToolTempDir()
    static let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
        .deletingLastPathComponent().path

    func make(_ extra: [String] = [], seed: Int = 0, runs: String = "runs") throws -> ToolResult {
        let bin = URL(fileURLWithPath: toolPath("generate")).deletingLastPathComponent().path
        return try runTool("/usr/bin/make", ["-C", Self.root, "--no-print-directory", "RUNS=\(dir.path(runs))", "RUN=mini",
                                             "SWIFT_BUILD=true", "BIN=\(bin)", "SEED=\(seed)", "DEMO_FLAGS=--splits 24,8,8 --pretrain-problems 24 --fact-lines 8",
                                             "PRETRAIN_STEPS=4", "PRETRAIN_EVERY=2",
                                             "ITERS=1", "SAMPLES=3", "STEPS=4", "SNAPSHOT_EVERY=2", "BATCH=4", "MAX_TOKENS=24"] + extra)
    }

    func lines(_ path: String) throws -> [String] {
        try runTool("shards", ["cat", dir.path(path)]).stdout.split(separator: "\n").map(String.init)
    }

    @Test func miniatureLoopChainsTheArtifacts() throws {
        let run = try make()
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let out = "runs/mini"
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.path("\(out)/base/model")).hasSuffix("demo/base"))
        // E-step: 3 samples per train problem, all verdicts kept beside the correct ones.
        #expect(try lines("\(out)/iter1/samples.jsonl.zst").count == 72)
        let verdicts = try lines("\(out)/iter1/verdicts.jsonl.zst"), kept = try lines("\(out)/iter1/kept.jsonl.zst")
        #expect(verdicts.count == 72)
        #expect(kept.allSatisfy { $0.contains(#""reward":1,"verdict":"correct""#) })
        #expect(kept.count == verdicts.filter { $0.contains(#""reward":1"#) }.count)  // SAMPLES 3 < CAP 4
        // M-step: snapshots at 2 and 4 steps, each scored on validation; model is the better one.
        for model in ["sft", "clean", "iter1"] {
            for step in ["2", "4"] {
                #expect(FileManager.default.fileExists(atPath: dir.path("\(out)/\(model)/steps/\(step)/model.safetensors")))
                #expect(try lines("\(out)/\(model)/steps/\(step).validation.jsonl.zst").count == 8)
            }
            let link = try FileManager.default.destinationOfSymbolicLink(atPath: dir.path("\(out)/\(model)/model"))
            #expect(["steps/2", "steps/4"].contains(link))
            for (split, count) in [("validation", 8), ("test", 8), ("train", 24)] {
                #expect(try lines("\(out)/\(model)/\(split).jsonl.zst").count == count)
            }
        }
        let report = try String(contentsOfFile: dir.path("\(out)/report.md"), encoding: .utf8)
        #expect(report.contains("ReST^EM iteration 1 (best on validation)"), "\(report)")
        // Test pass@k and maj@k: SAMPLES samples per test problem from base, SFT and the final model.
        for model in ["base", "sft", "final"] { #expect(try lines("\(out)/passk/\(model).jsonl.zst").count == 24) }
        #expect(report.contains("| final ReST^EM model |") && report.contains("maj@3"), "\(report)")
        #expect(FileManager.default.fileExists(atPath: dir.path("\(out)/report-passk.svg")))
        #expect(report.contains("control: SFT on clean full-step data"))
        #expect(FileManager.default.fileExists(atPath: dir.path("\(out)/report.svg")))
        #expect(try FileManager.default.destinationOfSymbolicLink(atPath: dir.path("\(out)/final")) == "iter1/model")
        // Finished means finished: a second make has nothing to do.
        let rerun = try make()
        #expect(rerun.status == 0)
        #expect(!rerun.stdout.contains("finetune") && !rerun.stdout.contains("generate --model"), "\(rerun.stdout)")
        // Regression: new kept samples used to find the old steps/ and skip training. Newer data
        // now drops the old snapshots and their scores; the same data gives the same model.
        let before = try Data(contentsOf: dir.url("\(out)/iter1/model/model.safetensors"))
        let keptPath = dir.path("\(out)/iter1/kept.jsonl.zst")
        try FileManager.default.setAttributes([.modificationDate: Date().addingTimeInterval(5)], ofItemAtPath: keptPath)
        let retrain = try make()
        #expect(retrain.status == 0)
        #expect(retrain.stdout.contains("iter1/steps/4 --snapshots") && retrain.stdout.contains("iter1: step 2 on validation"), "\(retrain.stdout)")
        #expect(!retrain.stdout.contains("sft/steps"))
        #expect(try Data(contentsOf: dir.url("\(out)/iter1/model/model.safetensors")) == before)
    }

    /// The knobs of the ablations together: adaptive rounds (ROUNDS), fine-tuning the previous
    /// model (FROM=previous), half of the train problems (TRAIN_PART) and no cap (CAP=all).
    @Test func adaptiveRoundsPreviousModelAndPartOfTrain() throws {
        let run = try make(["ITERS=2", "ROUNDS=3", "FROM=previous", "TRAIN_PART=0/2", "CAP=all", "TEST_SAMPLES=0"])
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        let out = "runs/mini"
        let part = try lines("\(out)/train-part.jsonl.zst")
        #expect(part.count > 0 && part.count < 24)
        for iteration in ["iter1", "iter2"] {
            // A problem with 3 correct samples (CAP=all: SAMPLES) is done; others get a sample per round.
            let rounds = try (0..<3).map { try lines("\(out)/\(iteration)/rounds/\($0).problems.jsonl.zst").count }
            #expect(rounds[0] == part.count && rounds[1] <= rounds[0] && rounds[2] <= rounds[1], "\(rounds)")
            let samples = try lines("\(out)/\(iteration)/samples.jsonl.zst")
            #expect(samples.count == rounds.reduce(0, +))
            for r in 0..<3 { #expect(samples.filter { $0.contains(#""sample":\#(r),"#) }.count == rounds[r]) }
        }
        #expect(run.stdout.contains("--base \(dir.path(out))/iter1/model --data \(dir.path(out))/iter2/kept.jsonl.zst"), "\(run.stdout)")
        #expect(!FileManager.default.fileExists(atPath: dir.path("\(out)/passk")))
        let settings = try String(contentsOfFile: dir.path("\(out)/settings.txt"), encoding: .utf8)
        #expect(settings.contains("ROUNDS=3\nFROM=previous\n"))
    }

    /// The same run in two folders gives the same report, scores.json and settings: no absolute
    /// path of the run folder is recorded (TEMPLATE and the report's title used to hold one, so
    /// scripts/kill-and-resume.sh ended with a difference).
    @Test func runsInDifferentFoldersReportTheSame() throws {
        for runs in ["a/runs", "elsewhere/b/runs"] {
            let run = try make(runs: runs)
            #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        }
        for file in ["report.md", "scores.json", "report.svg", "settings.txt"] {
            let a = try String(contentsOfFile: dir.path("a/runs/mini/\(file)"), encoding: .utf8)
            let b = try String(contentsOfFile: dir.path("elsewhere/b/runs/mini/\(file)"), encoding: .utf8)
            #expect(a == b, "\(file) differs")
            #expect(!a.contains(dir.root.path), "\(file) holds the run folder's path")
        }
        let settings = try String(contentsOfFile: dir.path("a/runs/mini/settings.txt"), encoding: .utf8)
        #expect(settings.contains("TEMPLATE=data/prompt.txt\n"), "\(settings)")
        #expect(try String(contentsOfFile: dir.path("a/runs/mini/report.md"), encoding: .utf8)
            .hasPrefix("# ReST^EM report: mini\n"))
    }

    /// SHARDS=3 under `make -j2`: every sampling stage as three shard jobs, merged in problem
    /// order, gives the same bytes as SHARDS=1 in every artifact (training logs hold timings).
    @Test func threeShardJobsGiveTheSameRunAsOne() throws {
        let one = try make(runs: "one/runs")
        #expect(one.status == 0, "\(one.stdout)\n\(one.stderr)")
        let three = try make(["SHARDS=3", "-j2"], runs: "three/runs")
        #expect(three.status == 0, "\(three.stdout)\n\(three.stderr)")
        #expect(three.stdout.contains("--shard 2/3") && !one.stdout.contains("--shard 2/3"))
        let files = runArtifacts(dir.path("one/runs/mini"))
        #expect(runArtifacts(dir.path("three/runs/mini")) == files)
        #expect(files.contains("iter1/kept.jsonl.zst") && files.contains("passk/final.jsonl.zst") && files.contains("report.md"))
        for file in files {
            #expect(FileManager.default.contentsEqual(atPath: dir.path("one/runs/mini/\(file)"),
                                                      andPath: dir.path("three/runs/mini/\(file)")), "\(file) differs")
        }
    }

    /// Pretraining snapshots at 2 and 4 steps: the first to reach BASE_TARGET becomes the base;
    /// when none does (a target of 101%), the last.
    @Test(arguments: [("0", "2"), ("101", "4")])
    func pretrainingPicksTheFirstSnapshotAtTheTarget(target: String, chosen: String) throws {
        let out = "runs/mini"
        let run = try make(["BASE_TARGET=\(target)", dir.path("\(out)/pretrained/model.safetensors")], seed: 1)
        #expect(run.status == 0, "\(run.stdout)\n\(run.stderr)")
        #expect(run.stdout.contains("base: pretraining step \(chosen) (target \(target)% on validation)"))
        #expect(FileManager.default.contentsEqual(atPath: dir.path("\(out)/pretraining/\(chosen)/model.safetensors"),
                                                  andPath: dir.path("\(out)/pretrained/model.safetensors")))
    }
}
