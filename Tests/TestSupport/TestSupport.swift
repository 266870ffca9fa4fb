// Helpers shared by the test targets of the libraries (Formats, Datasets, Model, MathVerify).
import Foundation
import Formats
import Testing

/// A fresh temporary directory per test, removed when the test ends.
public final class TempDir {
    public let url: URL
    public init() {
        url = FileManager.default.temporaryDirectory.appendingPathComponent("restem-test-\(UUID().uuidString)")
        try! FileManager.default.createDirectory(at: url, withIntermediateDirectories: true)
    }
    deinit { try? FileManager.default.removeItem(at: url) }

    public func path(_ name: String) -> String { url.appendingPathComponent(name).path }

    /// Names in the directory (to check that no temporary or partial file is left).
    public func contents() -> [String] {
        ((try? FileManager.default.contentsOfDirectory(atPath: url.path)) ?? []).sorted()
    }
}

/// The project root, found from this file's location.
public let projectRoot = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent()
/// Slices of GSM8K, MATH500 and HumanEval committed with the tests (see its LICENSE-NOTES.md), so
/// the tests pass in a clone in any folder.
public let datasetSlices = projectRoot.appendingPathComponent("Tests/Fixtures/datasets").path
/// The folder of the full datasets when RESTEM_DATA_DIR names one (`make datasets` sets it); the
/// full-data suites run only then.
public let fullDatasets: String? = ProcessInfo.processInfo.environment["RESTEM_DATA_DIR"]

public func readAll(_ path: String) throws -> [Record] {
    let reader = try ShardReader(path: path)
    var records: [Record] = []
    while let record = try reader.nextRecord() { records.append(record) }
    return records
}

public func writeAll(_ records: [Record], to path: String) throws {
    try writeShard(to: path) { writer in
        for record in records { try writer.write(record) }
    }
}

/// The DataError a throwing call raises (failing the test if it raises none or another kind).
public func dataError(_ body: () throws -> Void) -> DataError? {
    do {
        try body()
        Issue.record("expected a DataError, got success")
    } catch let error as DataError {
        return error
    } catch {
        Issue.record("expected a DataError, got \(error)")
    }
    return nil
}
