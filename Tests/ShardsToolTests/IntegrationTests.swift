import Foundation
import Testing

/// The Python environment of `make test-integration` (torch CPU, transformers[serving], TRL,
/// accelerate under .build/integration-venv): its bin folder, or nil, and then these tests skip.
let integrationBin: String? = ProcessInfo.processInfo.environment["RESTEM_INTEGRATION_BIN"]

/// Scaling out against real engines on this CPU: shard jobs killed and rerun, `transformers
/// serve` behind SERVE, TRL's SFTTrainer behind TRAINER=trl. `make test-integration` runs them.
@Suite(.serialized, .enabled(if: integrationBin != nil, "make test-integration sets RESTEM_INTEGRATION_BIN"))
struct IntegrationTests {
    let dir = ToolTempDir()
    static let root = LoopTests.root
    static let demoFlags = "DEMO_FLAGS=--splits 24,8,8 --pretrain-problems 24 --fact-lines 8"

    init() {
        // The tools the Makefile starts (transformers, accelerate) come from the environment's bin.
        let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
        if let bin = integrationBin, !path.hasPrefix(bin + ":") { setenv("PATH", bin + ":" + path, 1) }
    }

    var bin: String { URL(fileURLWithPath: toolPath("generate")).deletingLastPathComponent().path }

    func makeArguments(_ extra: [String], runs: String) -> [String] {
        ["-C", Self.root, "--no-print-directory", "RUNS=\(dir.path(runs))", "RUN=mini", "SWIFT_BUILD=true", "BIN=\(bin)",
         "SEED=0", Self.demoFlags, "ITERS=1", "SAMPLES=3", "STEPS=4", "SNAPSHOT_EVERY=2", "BATCH=4", "MAX_TOKENS=24"]
            + extra
    }

    func make(_ extra: [String] = [], runs: String = "runs") throws -> ToolResult {
        try runTool("/usr/bin/make", makeArguments(extra, runs: runs))
    }

    /// make started in a session of its own, so the test can signal its whole process group as
    /// a terminal's Ctrl-C would. `setsid --wait` forks when it leads a process group already
    /// (as a child of Process does) and waits for make, so the session leader is its child.
    func startMake(_ extra: [String], runs: String) throws -> (process: Process, session: Int32) {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["--wait", "/usr/bin/make"] + makeArguments(extra, runs: runs)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        let pid = process.processIdentifier
        var session: Int32?
        _ = waitFor(seconds: 10) {
            let children = (try? String(contentsOfFile: "/proc/\(pid)/task/\(pid)/children", encoding: .utf8)) ?? ""
            session = children.split(separator: " ").first.flatMap { Int32($0) }
            return session != nil
        }
        return (process, session ?? pid)
    }

    /// Command lines of this machine's processes that contain every one of `words`.
    func processes(containing words: [String]) -> [(pid: Int32, command: String)] {
        let pids = (try? FileManager.default.contentsOfDirectory(atPath: "/proc"))?.compactMap { Int32($0) } ?? []
        return pids.compactMap { pid in
            guard let data = FileManager.default.contents(atPath: "/proc/\(pid)/cmdline") else { return nil }
            let command = String(decoding: data.map { $0 == 0 ? 0x20 : $0 }, as: UTF8.self)
            return words.allSatisfy(command.contains) ? (pid, command) : nil
        }
    }

    func waitFor(seconds: Double, _ condition: () -> Bool) -> Bool {
        let deadline = Date().addingTimeInterval(seconds)
        while Date() < deadline {
            if condition() { return true }
            usleep(100_000)
        }
        return condition()
    }

    func expectSameRun(_ a: String, _ b: String) {
        let files = runArtifacts(dir.path(a))
        #expect(files == runArtifacts(dir.path(b)))
        #expect(files.contains("report.md") && files.contains("iter1/kept.jsonl.zst"))
        for file in files {
            #expect(FileManager.default.contentsEqual(atPath: dir.path("\(a)/\(file)"), andPath: dir.path("\(b)/\(file)")),
                    "\(file) differs")
        }
    }

    /// SIGKILL of one shard job's generate in the middle of `make -j2 SHARDS=3`: make stops,
    /// the rerun redoes that job (its finished chunks kept) and the run equals SHARDS=1's.
    @Test func killedShardJobRerunsAloneToTheSameRun() throws {
        // 600 train problems and 16 samples: each E-step shard job runs long enough to be caught.
        let slow = ["DEMO_FLAGS=--splits 600,8,8 --pretrain-problems 24 --fact-lines 8", "SAMPLES=16", "TEST_SAMPLES=3"]
        let reference = try make(slow, runs: "ref/runs")
        #expect(reference.status == 0, "\(reference.stderr)")
        let (run, _) = try startMake(["SHARDS=3", "-j2"] + slow, runs: "three/runs")
        let marker = dir.path("three/runs/mini/iter1/samples.shards/1-of-3")
        var victim: Int32?
        #expect(waitFor(seconds: 300) {
            victim = processes(containing: ["--shard 1/3", marker]).first { $0.command.hasPrefix(bin + "/generate ") }?.pid
            return victim != nil || !run.isRunning
        })
        let killed = victim.map { kill($0, SIGKILL) == 0 } ?? false
        run.waitUntilExit()
        #expect(killed, "no E-step shard job 1/3 was seen running")
        #expect(run.terminationStatus != 0)
        #expect(!FileManager.default.fileExists(atPath: dir.path("three/runs/mini/iter1/samples.shards/1-of-3.jsonl.zst")))
        let rerun = try make(["SHARDS=3", "-j2"] + slow, runs: "three/runs")
        #expect(rerun.status == 0, "\(rerun.stderr)")
        // Only the killed job and what follows it ran again, not the other shards of the E-step.
        #expect(rerun.stdout.contains("--shard 1/3 -o \(marker)"))
        #expect(!rerun.stdout.contains("--shard 0/3 -o \(dir.path("three/runs/mini/iter1/samples.shards/0-of-3"))"))
        expectSameRun("ref/runs/mini", "three/runs/mini")
    }

    /// Demo data (the default validation split: 400 problems) and a model that `finetune` wrote.
    func demoDataAndFinetunedModel() throws -> (data: String, model: String) {
        let data = dir.path("data")
        let demo = try runTool("shards", ["demo", "--seed", "0", "-o", data])
        #expect(demo.status == 0, "\(demo.stderr)")
        let model = dir.path("sft")
        let tune = try runTool("finetune", ["--base", "\(Self.root)/demo/base", "--data", "\(data)/train.jsonl.zst",
                                            "--target", "solution", "--template", "\(data)/prompt.txt", "--out", model,
                                            "--steps", "30", "--batch-size", "16", "--lr", "1e-3", "--max-tokens", "64"])
        #expect(tune.status == 0, "\(tune.stderr)")
        return (data, model)
    }

    /// `transformers serve` (SERVE=transformers) on a model directory that finetune wrote: greedy
    /// completions through `generate --endpoint` equal the built-in engine's on every validation
    /// problem, and the server is gone afterwards.
    @Test func servedGreedyCompletionsMatchTheBuiltInEngine() throws {
        let (data, model) = try demoDataAndFinetunedModel()
        let common = ["\(data)/validation.jsonl.zst", "--template", "\(data)/prompt.txt", "--temperature", "0",
                      "--max-tokens", "48"]
        let local = try runTool("generate", ["--model", model] + common + ["-o", dir.path("local.jsonl")])
        #expect(local.status == 0, "\(local.stderr)")
        let served = try runTool("\(Self.root)/scripts/with-server", [
            "--serve", "transformers serve --host 127.0.0.1 --port {port} {model}", "--model", model, "--name", "{model}",
            "--log", dir.path("server.log"), "--", toolPath("generate"), "--endpoint", "{endpoint}", "--model", "{name}",
            "--concurrency", "4"] + common + ["-o", dir.path("served.jsonl")])
        #expect(served.status == 0, "\(served.stderr)")
        func completions(_ name: String) throws -> [String: String] {
            let lines = try String(contentsOfFile: dir.path(name), encoding: .utf8).split(separator: "\n")
            return try Dictionary(uniqueKeysWithValues: lines.map { line in
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                return (object["id"] as! String, object["completion"] as! String)
            })
        }
        let ours = try completions("local.jsonl"), theirs = try completions("served.jsonl")
        #expect(ours.count == 400 && theirs.count == 400)
        let differing = ours.keys.filter { ours[$0] != theirs[$0] }.sorted()
        #expect(differing.isEmpty, "\(differing.count) of 400 differ, e.g. \(differing.prefix(3).map { ($0, ours[$0]!, theirs[$0]!) })")
        #expect(processes(containing: ["transformers serve", model]).isEmpty)
    }

    /// A small loop with SERVE=transformers: every sampling stage through a server started for
    /// its model; it finishes with a report and leaves no server behind.
    @Test func loopWithServeFinishesAndLeavesNoServer() throws {
        let run = try make(["SERVE=transformers", "TEST_SAMPLES=0", "SNAPSHOT_EVERY=4"])
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr.suffix(3000))")
        #expect(run.stdout.contains("with-server --serve 'transformers serve"))
        #expect(run.stdout.contains("--server-kind transformers"))
        #expect(FileManager.default.fileExists(atPath: dir.path("runs/mini/report.md")))
        #expect(try String(contentsOfFile: dir.path("runs/mini/base/validation.shards/0-of-1.jsonl.zst.server.log"),
                           encoding: .utf8).contains("Uvicorn running"))
        #expect(processes(containing: ["transformers serve", dir.path("runs")]).isEmpty)
    }

    /// SIGINT to the whole make (a terminal's Ctrl-C) while a server is up: no server is left.
    @Test func interruptedLoopLeavesNoServer() throws {
        let (run, session) = try startMake(["SERVE=transformers", "TEST_SAMPLES=0"], runs: "runs")
        #expect(waitFor(seconds: 300) {
            !processes(containing: ["--endpoint http://127.0.0.1:", dir.path("runs")]).isEmpty || !run.isRunning
        }, "no sampling stage started")
        #expect(!processes(containing: ["transformers serve", dir.path("runs")]).isEmpty)
        kill(-session, SIGINT)
        run.waitUntilExit()
        #expect(run.terminationStatus != 0)
        #expect(waitFor(seconds: 30) { processes(containing: ["transformers serve", dir.path("runs")]).isEmpty },
                "\(processes(containing: ["transformers serve", dir.path("runs")]))")
    }

    /// TRAINER=trl: TRL's loss before the first step equals `finetune --eval-only` on the same
    /// records (its tokenization, masking and loss against ours), within 1e-4.
    @Test func trlLossAtStepZeroEqualsFinetune() throws {
        let data = dir.path("data")
        #expect(try runTool("shards", ["demo", "--seed", "0", "--splits", "200,40,40", "-o", data]).status == 0)
        for target in ["solution", "clean_solution"] {
            let common = ["--base", "\(Self.root)/demo/base", "--data", "\(data)/train.jsonl.zst", "--target", target,
                          "--template", "\(data)/prompt.txt", "--max-tokens", "64", "--eval-only"]
            let ours = try runTool("finetune", common)
            let trl = try runTool("\(integrationBin!)/python3", ["\(Self.root)/scripts/trl-finetune.py"] + common)
            #expect(ours.status == 0 && trl.status == 0, "\(ours.stderr)\n\(trl.stderr.suffix(2000))")
            func parse(_ text: String) throws -> (Double, Int) {
                let line = text.split(separator: "\n").last.map(String.init) ?? ""
                let object = try JSONSerialization.jsonObject(with: Data(line.utf8)) as! [String: Any]
                return ((object["loss"] as! NSNumber).doubleValue, (object["tokens"] as! NSNumber).intValue)
            }
            let (a, n) = try parse(ours.stdout), (b, m) = try parse(trl.stdout)
            #expect(n == m && n > 1000)
            #expect(abs(a - b) <= 1e-4, "finetune \(a), TRL \(b)")
        }
    }

    /// A small loop with TRAINER=trl: every fine-tune on TRL through accelerate launch; its model
    /// directories (written by transformers) load in `generate` for the evaluations and the report.
    @Test func loopWithTrlFinishesWithAReport() throws {
        let run = try make(["TRAINER=trl", "TEST_SAMPLES=0"])
        #expect(run.status == 0, "\(run.stdout.suffix(3000))\n\(run.stderr.suffix(3000))")
        #expect(run.stdout.contains("accelerate launch"))
        for stage in ["sft", "clean", "iter1"] {
            let config = try String(contentsOfFile: dir.path("runs/mini/\(stage)/steps/4/config.json"), encoding: .utf8)
            #expect(config.contains("transformers_version"), "\(stage) was not written by transformers")
            #expect(FileManager.default.fileExists(atPath: dir.path("runs/mini/\(stage)/steps/2.validation.jsonl.zst")))
        }
        #expect(FileManager.default.fileExists(atPath: dir.path("runs/mini/report.md")))
    }
}
