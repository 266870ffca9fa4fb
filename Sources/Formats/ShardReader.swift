#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Reads records from a shard: `.jsonl`, `.jsonl.zst` (any number of concatenated frames), or a
/// gzip/bzip2/xz-compressed JSONL file, or `-` for stdin. Compression is recognised by its magic
/// number rather than the file name, so piped and renamed shards read the same.
///
/// Every error names the file and the line (or byte offset for damaged compression). Blank lines
/// are skipped; a file of zero bytes is an error, because it is what a crashed or misdirected
/// writer leaves behind (a shard written by this toolkit with no records is still a zstd frame).
public final class ShardReader {
    public let name: String
    /// The line of the record returned last (1-based).
    public private(set) var lineNumber = 0

    private let source: ByteSource
    private var buffer: [UInt8]
    private var start = 0
    private var end = 0
    private var sourceEnded = false

    public init(path: String) throws {
        let input = try InputFile(path: path)
        name = input.name
        let head = try input.peek(6)
        if head.isEmpty { throw DataError("empty file (expected JSONL records)", at: name) }
        if head.starts(with: Zstd.magic) {
            source = ZstdDecoder(input: input)
        } else if DecompressedStream.recognizes(head) {
            source = try DecompressedStream(input: input)
        } else {
            source = input
        }
        buffer = [UInt8](repeating: 0, count: 1 << 18)
    }

    /// `name:line`, for errors about the record returned last.
    public var location: String { "\(name):\(lineNumber)" }

    /// An error about the record returned last.
    public func error(_ message: String) -> DataError { DataError(message, at: location) }

    /// The next record, or nil at the end of the shard.
    public func nextRecord() throws -> Record? {
        while let line = try nextLine() {
            let parsed: JSON
            let result: Result<JSON, JSONSyntaxError> = line.withUnsafeBufferPointer { bytes in
                Result { () throws(JSONSyntaxError) in try JSON.parse(bytes) }
            }
            switch result {
            case .success(let value): parsed = value
            case .failure(let error):
                try source.checkIntegrityAfterBadData()
                let what = error.message.contains("UTF-8") ? error.message : "malformed JSON: \(error.message)"
                throw DataError("\(what) (column \(error.offset + 1))", at: location)
            }
            guard case .object(let object) = parsed else {
                throw self.error("expected a JSON object, found a \(parsed.kindName)")
            }
            return Record(object)
        }
        return nil
    }

    /// Calls `body` with every record; errors thrown by `body` as DataError without a location
    /// get this record's location.
    public func forEachRecord(_ body: (Record) throws -> Void) throws {
        while let record = try nextRecord() {
            do { try body(record) } catch let error as DataError { throw error.located(location) }
        }
    }

    /// The next non-blank line without its newline (and without a trailing CR).
    private func nextLine() throws -> ArraySlice<UInt8>? {
        while true {
            if let newline = findNewline() {
                lineNumber += 1
                var lineEnd = newline
                if lineEnd > start, buffer[lineEnd - 1] == 0x0D { lineEnd -= 1 }
                let line = buffer[start..<lineEnd]
                start = newline + 1
                if isBlank(line) { continue }
                return line
            }
            if sourceEnded {
                if start == end { return nil }
                lineNumber += 1
                let line = buffer[start..<end]
                start = end
                if isBlank(line) { return nil }
                return line
            }
            try refill()
        }
    }

    private func findNewline() -> Int? {
        guard start < end else { return nil }
        return buffer.withUnsafeBytes { raw -> Int? in
            guard let hit = memchr(raw.baseAddress! + start, 0x0A, end - start) else { return nil }
            return raw.baseAddress!.distance(to: UnsafeRawPointer(hit))
        }
    }

    private func refill() throws {
        if start > 0 {
            // Move the partial line to the front.
            buffer.withUnsafeMutableBytes { raw in
                raw.baseAddress!.copyMemory(from: raw.baseAddress! + start, byteCount: end - start)
            }
            end -= start
            start = 0
        }
        if end == buffer.count { buffer.append(contentsOf: repeatElement(0, count: buffer.count)) }
        let n = try buffer.withUnsafeMutableBytes { raw throws in
            try source.read(into: UnsafeMutableRawBufferPointer(rebasing: raw[end...]))
        }
        if n == 0 { sourceEnded = true }
        end += n
    }

    private func isBlank(_ line: ArraySlice<UInt8>) -> Bool {
        line.allSatisfy { $0 == 0x20 || $0 == 0x09 || $0 == 0x0D }
    }
}
