import Foundation

/// A fresh temporary directory per test, removed when the test ends.
final class ToolTempDir: @unchecked Sendable {
    let root: URL
    init() {
        root = FileManager.default.temporaryDirectory.appendingPathComponent("restem-tool-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: root, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: root) }

    func path(_ name: String) -> String { root.appendingPathComponent(name).path }
    func url(_ name: String) -> URL { root.appendingPathComponent(name) }
    func contents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: root.path)) ?? []).sorted()
    }
}

/// Slices of GSM8K, MATH500 and HumanEval committed with the tests (Tests/Fixtures/datasets), so
/// the tests pass in a clone in any folder.
let datasetSlices = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .appendingPathComponent("Fixtures/datasets").path
/// The folder of the full datasets when RESTEM_DATA_DIR names one (`make datasets` sets it); the
/// full-data suites run only then.
let fullDatasets: String? = ProcessInfo.processInfo.environment["RESTEM_DATA_DIR"]

/// The built tools sit beside the test bundle in SwiftPM's build directory.
func toolPath(_ name: String) -> String {
    if name.hasPrefix("/") { return name }
    let executable = URL(fileURLWithPath: "/proc/self/exe").resolvingSymlinksInPath()
    return executable.deletingLastPathComponent().appendingPathComponent(name).path
}

struct ToolResult {
    var status: Int32
    var stdout: String
    var stderr: String
}

/// Runs a tool to completion with stdout and stderr captured through files (no pipe deadlocks).
/// `environment` adds to (or overrides) the test's own environment.
func runTool(_ name: String, _ arguments: [String], stdin: String? = nil, environment: [String: String] = [:]) throws -> ToolResult {
    let scratch = ToolTempDir()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: toolPath(name))
    process.arguments = arguments
    if !environment.isEmpty {
        process.environment = ProcessInfo.processInfo.environment.merging(environment) { $1 }
    }
    _ = FileManager.default.createFile(atPath: scratch.path("out"), contents: nil)
    _ = FileManager.default.createFile(atPath: scratch.path("err"), contents: nil)
    process.standardOutput = try FileHandle(forWritingTo: scratch.url("out"))
    process.standardError = try FileHandle(forWritingTo: scratch.url("err"))
    if let stdin {
        try stdin.write(to: scratch.url("in"), atomically: true, encoding: .utf8)
        process.standardInput = try FileHandle(forReadingFrom: scratch.url("in"))
    } else {
        process.standardInput = FileHandle.nullDevice
    }
    try process.run()
    process.waitUntilExit()
    return ToolResult(
        status: process.terminationStatus,
        stdout: try String(contentsOf: scratch.url("out"), encoding: .utf8),
        stderr: try String(contentsOf: scratch.url("err"), encoding: .utf8))
}

/// The files a run folder holds that must not depend on how it was run: no links, no shard
/// parts (`*.shards/`), no training logs (timings) and no server logs, relative and sorted.
func runArtifacts(_ base: String) -> [String] {
    (FileManager.default.enumerator(atPath: base)?.compactMap { $0 as? String } ?? []).filter { path in
        if path.split(separator: "/").contains(where: { $0.hasSuffix(".shards") }) { return false }
        if path.hasSuffix("train-log.jsonl") || path.hasSuffix(".server.log") { return false }
        var isDirectory: ObjCBool = false
        _ = FileManager.default.fileExists(atPath: "\(base)/\(path)", isDirectory: &isDirectory)
        return !isDirectory.boolValue && (try? FileManager.default.destinationOfSymbolicLink(atPath: "\(base)/\(path)")) == nil
    }.sorted()
}
