import Foundation
import Testing
@testable import Formats
import TestSupport

@Suite struct ShardTests {
    static let hostile: [Record] = [
        Record(["id": "a", "problem": "naïve café – 漢字 – 🎉", "n": 1.25, "nested": ["k": [1, nil, true]]]),
        Record(["id": "b", "unknown_field": "kept", "text": "line\nbreak \"quoted\" back\\slash \t tab \u{0}"]),
        Record(["id": "c", "big": .string(String(repeating: "x", count: 1_000_000) + "é")]),
        Record(["id": "d"]),
    ]

    @Test(arguments: ["r.jsonl", "r.jsonl.zst"])
    func roundTripsEveryFieldExactly(name: String) throws {
        let dir = TempDir()
        try writeAll(Self.hostile, to: dir.path(name))
        #expect(try readAll(dir.path(name)) == Self.hostile)
        #expect(dir.contents() == [name])
    }

    @Test func zstdShardsAreStandardFramesWithChecksums() throws {
        let dir = TempDir()
        try writeAll(Self.hostile, to: dir.path("r.jsonl.zst"))
        let data = [UInt8](try Data(contentsOf: dir.url.appendingPathComponent("r.jsonl.zst")))
        #expect(data.starts(with: Zstd.magic))
        // Frame header descriptor byte: bit 2 is the content checksum flag.
        #expect(data[4] & 0b100 != 0)
    }

    @Test func sameRecordsGiveIdenticalBytes() throws {
        let dir = TempDir()
        try writeAll(Self.hostile, to: dir.path("1.jsonl.zst"))
        try writeAll(Self.hostile, to: dir.path("2.jsonl.zst"))
        #expect(FileManager.default.contentsEqual(atPath: dir.path("1.jsonl.zst"), andPath: dir.path("2.jsonl.zst")))
    }

    @Test func concatenatedShardsReadAsOne() throws {
        let dir = TempDir()
        let first = Array(Self.hostile.prefix(2)), second = Array(Self.hostile.suffix(2))
        try writeAll(first, to: dir.path("a.jsonl.zst"))
        try writeAll(second, to: dir.path("b.jsonl.zst"))
        let joined = try Data(contentsOf: dir.url.appendingPathComponent("a.jsonl.zst"))
            + Data(contentsOf: dir.url.appendingPathComponent("b.jsonl.zst"))
        try joined.write(to: dir.url.appendingPathComponent("ab.jsonl.zst"))
        #expect(try readAll(dir.path("ab.jsonl.zst")) == first + second)
    }

    /// 10 MB of records spans several frames; a file cut after a whole frame is a valid shard
    /// holding a prefix of the records, and one cut inside a frame reads up to that frame and
    /// then reports the truncation with its byte offset.
    @Test func closesFramesSoDamageLosesOnlyTheLastFrame() throws {
        let dir = TempDir()
        let records = (0..<2500).map { i in
            Record(["id": .string("p\(i)"), "text": .string(String(repeating: "word\(i % 97) ", count: 700))])
        }
        try writeAll(records, to: dir.path("big.jsonl.zst"))
        let data = [UInt8](try Data(contentsOf: dir.url.appendingPathComponent("big.jsonl.zst")))
        let frames = Zstd.completeFrameSizes(data)
        #expect(frames.count >= 3)
        #expect(frames.reduce(0, +) == data.count)

        try Data(data[0..<frames[0]]).write(to: dir.url.appendingPathComponent("cut.jsonl.zst"))
        let prefix = try readAll(dir.path("cut.jsonl.zst"))
        #expect(!prefix.isEmpty && prefix == Array(records.prefix(prefix.count)))

        let middle = frames[0] + frames[1] / 2
        try Data(data[0..<middle]).write(to: dir.url.appendingPathComponent("torn.jsonl.zst"))
        let reader = try ShardReader(path: dir.path("torn.jsonl.zst"))
        var readBeforeError = 0
        let error = dataError { while try reader.nextRecord() != nil { readBeforeError += 1 } }
        #expect(readBeforeError >= prefix.count)
        #expect(error?.description == "\(dir.path("torn.jsonl.zst")): byte \(middle): truncated zstd stream (the last frame is incomplete)")
    }

    @Test func corruptedByteIsReported() throws {
        let dir = TempDir()
        let records = (0..<300).map { Record(["id": .string("p\($0)"), "text": .string("value \($0 * 7919)")]) }
        try writeAll(records, to: dir.path("x.jsonl.zst"))
        var data = [UInt8](try Data(contentsOf: dir.url.appendingPathComponent("x.jsonl.zst")))
        data[data.count / 2] ^= 0x5A
        try Data(data).write(to: dir.url.appendingPathComponent("x.jsonl.zst"))
        let error = dataError { _ = try readAll(dir.path("x.jsonl.zst")) }
        #expect(error?.message.hasPrefix("corrupt zstd data") == true, "\(String(describing: error))")
        #expect(error?.location?.hasPrefix(dir.path("x.jsonl.zst") + ": byte ") == true)
    }

    @Test func malformedLineIsNamedByFileAndLine() throws {
        let dir = TempDir()
        try "{\"id\":\"a\"}\n\n{\"id\":\"b\"}\r\n{\"id\": oops}\n".write(toFile: dir.path("bad.jsonl"), atomically: true, encoding: .utf8)
        let error = dataError { _ = try readAll(dir.path("bad.jsonl")) }
        #expect(error?.description == "\(dir.path("bad.jsonl")):4: malformed JSON: unexpected character 'o' (column 8)")
    }

    @Test func invalidUTF8IsNamedByFileAndLine() throws {
        let dir = TempDir()
        var bytes = Array("{\"id\":\"a\"}\n{\"id\":\"".utf8)
        bytes += [0xFF, 0xFE]
        bytes += Array("\"}\n".utf8)
        try Data(bytes).write(to: dir.url.appendingPathComponent("u.jsonl"))
        let error = dataError { _ = try readAll(dir.path("u.jsonl")) }
        #expect(error?.description == "\(dir.path("u.jsonl")):2: invalid UTF-8 in string (column 8)")
    }

    @Test func nonObjectLineIsAnError() throws {
        let dir = TempDir()
        try "[1,2]\n".write(toFile: dir.path("a.jsonl"), atomically: true, encoding: .utf8)
        #expect(dataError { _ = try readAll(dir.path("a.jsonl")) }?.description
                == "\(dir.path("a.jsonl")):1: expected a JSON object, found a array")
    }

    @Test func emptyAndMissingFilesAreErrors() throws {
        let dir = TempDir()
        _ = FileManager.default.createFile(atPath: dir.path("empty.jsonl"), contents: Data())
        #expect(dataError { _ = try readAll(dir.path("empty.jsonl")) }?.description
                == "\(dir.path("empty.jsonl")): empty file (expected JSONL records)")
        #expect(dataError { _ = try readAll(dir.path("missing.jsonl")) }?.description
                == "\(dir.path("missing.jsonl")): cannot open: No such file or directory")
    }

    @Test func missingFieldErrorCarriesTheRecordLocation() throws {
        let dir = TempDir()
        try writeAll([Record(["id": "a", "problem": "p"]), Record(["id": "b"])], to: dir.path("p.jsonl.zst"))
        let reader = try ShardReader(path: dir.path("p.jsonl.zst"))
        let error = dataError { try reader.forEachRecord { _ = try $0.string("problem") } }
        #expect(error?.description == "\(dir.path("p.jsonl.zst")):2: field \"problem\" missing")
    }

    @Test func readsGzipCompressedJSONL() throws {
        let dir = TempDir()
        try writeAll(Self.hostile, to: dir.path("g.jsonl"))
        let gzip = Process()
        gzip.executableURL = URL(fileURLWithPath: "/bin/gzip")
        gzip.arguments = [dir.path("g.jsonl")]
        try gzip.run()
        gzip.waitUntilExit()
        #expect(try readAll(dir.path("g.jsonl.gz")) == Self.hostile)
    }

    @Test func abortedWriterLeavesNoFileAndKeepsTheOldOne() throws {
        let dir = TempDir()
        try "precious\n".write(toFile: dir.path("out.jsonl.zst"), atomically: true, encoding: .utf8)
        struct Boom: Error {}
        #expect(throws: Boom.self) {
            try writeShard(to: dir.path("out.jsonl.zst")) { writer in
                try writer.write(Record(["id": "x"]))
                throw Boom()
            }
        }
        #expect(dir.contents() == ["out.jsonl.zst"])
        #expect(try String(contentsOfFile: dir.path("out.jsonl.zst"), encoding: .utf8) == "precious\n")

        do {
            let writer = try ShardWriter(path: dir.path("new.jsonl"))
            try writer.write(Record(["id": "x"]))
            #expect(dir.contents().contains { $0.hasPrefix("new.jsonl.tmp-") })
        }
        #expect(dir.contents() == ["out.jsonl.zst"])
    }

    /// Regression: a SIGKILLed writer's `NAME.tmp-PID` stayed beside the output forever (make
    /// killed during verify left two). The next writer of NAME removes those of dead processes.
    @Test func writerRemovesTemporariesOfDeadWritersOnly() throws {
        let dir = TempDir()
        let finished = Process()
        finished.executableURL = URL(fileURLWithPath: "/bin/true")
        try finished.run()
        finished.waitUntilExit()
        let dead = finished.processIdentifier, live = getppid()
        for pid in [dead, live] { try "partial".write(toFile: dir.path("out.jsonl.zst.tmp-\(pid)"), atomically: false, encoding: .utf8) }
        try FileManager.default.createDirectory(atPath: dir.path("other.jsonl.tmp-\(dead)"), withIntermediateDirectories: true)
        try writeShard(to: dir.path("out.jsonl.zst")) { try $0.write(Record(["id": "x"])) }
        #expect(dir.contents() == ["other.jsonl.tmp-\(dead)", "out.jsonl.zst", "out.jsonl.zst.tmp-\(live)"])
    }

    @Test func emptyZstdShardIsValidAndEmpty() throws {
        let dir = TempDir()
        try writeAll([], to: dir.path("none.jsonl.zst"))
        #expect(try readAll(dir.path("none.jsonl.zst")).isEmpty)
    }

    @Test func shardSelectionMatchesAReferenceHashAndCoversEveryId() throws {
        // Reference values computed independently (Python, FNV-1a 64 + splitmix64 finalizer).
        #expect((0..<12).map { ShardSelection.bucket(of: "gsm8k/test/\($0)", count: 4) } == [2, 3, 1, 3, 1, 1, 0, 2, 1, 1, 0, 2])
        #expect(ShardSelection.bucket(of: "HumanEval/0", count: 7) == 1)
        #expect(ShardSelection.bucket(of: "ü", count: 3) == 0)
        let selections = try (0..<3).map { try ShardSelection("\($0)/3") }
        for i in 0..<1000 {
            #expect(selections.filter { $0.contains(id: "id\(i)") }.count == 1)
        }
        for bad in ["3/3", "-1/2", "1", "a/b", "0/0"] {
            #expect(throws: DataError.self) { try ShardSelection(bad) }
        }
    }
}
