/// Writes records to a shard: zstd-compressed when the name ends in `.zst`, plain JSONL
/// otherwise, and plain JSONL on stdout for `-`. A named file is atomic (see AtomicFile): it
/// appears only after `commit()`, and never half-written.
public final class ShardWriter {
    public let name: String
    public private(set) var recordCount = 0
    /// Uncompressed bytes written (the JSONL text).
    public private(set) var byteCount = 0

    private let file: AtomicFile?
    private let sink: ByteSink
    private let encoder: ZstdEncoder?
    private var line: [UInt8] = []
    private var committed = false

    public init(path: String) throws {
        name = displayName(path, stdin: false)
        let base: ByteSink
        if path == "-" {
            file = nil
            base = OutputDescriptor(fd: 1, name: name)
        } else {
            let atomic = try AtomicFile(path: path)
            file = atomic
            base = atomic.output
        }
        if Self.compresses(path) {
            let encoder = ZstdEncoder(output: base)
            self.encoder = encoder
            sink = encoder
        } else {
            encoder = nil
            sink = base
        }
        line.reserveCapacity(1 << 12)
    }

    /// Whether a shard written under `path` is zstd-compressed: the output name decides (DESIGN.md,
    /// "Shards"). Tools that assemble a shard from pieces name the pieces by this too.
    public static func compresses(_ path: String) -> Bool { path.hasSuffix(".zst") }

    public func write(_ record: Record) throws {
        line.removeAll(keepingCapacity: true)
        record.write(to: &line)
        line.append(0x0A)
        try line.withUnsafeBytes { bytes throws in try sink.write(bytes) }
        try encoder?.recordBoundary()
        recordCount += 1
        byteCount += line.count
    }

    /// Finishes the data and moves the file into place.
    public func commit() throws {
        try sink.finish()
        try file?.commit()
        committed = true
    }

    /// Drops everything written; the output name is left as it was.
    public func abort() { file?.abort() }

    deinit { if !committed { abort() } }
}

/// Writes a whole shard or nothing: runs `body` with a writer and commits only if it returns.
@discardableResult
public func writeShard(to path: String, _ body: (ShardWriter) throws -> Void) throws -> ShardWriter {
    let writer = try ShardWriter(path: path)
    do {
        try body(writer)
        try writer.commit()
    } catch {
        writer.abort()
        throw error
    }
    return writer
}
