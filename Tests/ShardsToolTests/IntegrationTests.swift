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

    /// make started in a session of its own (setsid), so the test can signal its whole process
    /// group as a terminal's Ctrl-C would.
    func startMake(_ extra: [String], runs: String) throws -> Process {
        let process = Process()
        process.executableURL = URL(fileURLWithPath: "/usr/bin/setsid")
        process.arguments = ["/usr/bin/make"] + makeArguments(extra, runs: runs)
        process.standardOutput = FileHandle.nullDevice
        process.standardError = FileHandle.nullDevice
        try process.run()
        return process
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

    /// Every artifact of a run (training logs hold timings; .shards folders are the parts).
    func artifacts(_ root: String) -> [String] {
        let base = dir.path(root)
        return (FileManager.default.enumerator(atPath: base)?.compactMap { $0 as? String } ?? []).filter { path in
            if path.split(separator: "/").contains(where: { $0.hasSuffix(".shards") }) { return false }
            if path.hasSuffix("train-log.jsonl") || path.hasSuffix(".server.log") { return false }
            var isDirectory: ObjCBool = false
            FileManager.default.fileExists(atPath: "\(base)/\(path)", isDirectory: &isDirectory)
            return !isDirectory.boolValue && (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(base)/\(path)")) == nil
        }.sorted()
    }

    func expectSameRun(_ a: String, _ b: String) {
        let files = artifacts(a)
        #expect(files == artifacts(b))
        #expect(files.contains("report.md") && files.contains("iter1/kept.jsonl.zst"))
        for file in files {
            #expect(FileManager.default.contentsEqual(atPath: dir.path("\(a)/\(file)"), andPath: dir.path("\(b)/\(file)")),
                    "\(file) differs")
        }
    }

    /// SIGKILL of one shard job's generate in the middle of `make -j2 SHARDS=3`: make stops,
    /// the rerun redoes that job (its finished chunks kept) and the run equals SHARDS=1's.
    @Test func killedShardJobRerunsAloneToTheSameRun() throws {
        let one = try make(runs: "one/runs")
        #expect(one.status == 0, "\(one.stderr)")
        let slow = ["SAMPLES=16", "TEST_SAMPLES=3"]
        let reference = try make(slow, runs: "ref/runs")
        #expect(reference.status == 0, "\(reference.stderr)")
        let run = try startMake(["SHARDS=3", "-j2"] + slow, runs: "three/runs")
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
}
