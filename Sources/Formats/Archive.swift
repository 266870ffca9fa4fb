// The one file that talks to libarchive: gzip/bzip2/xz streams and tar archives, read straight
// from an InputFile (so pipes work) without unpacking anything to disk.
import CArchive

/// Feeds libarchive from an InputFile through its read callback.
private final class ArchiveFeed {
    let input: InputFile
    let buffer = UnsafeMutableRawBufferPointer.allocate(byteCount: 1 << 17, alignment: 16)
    var failure: Error?

    init(input: InputFile) { self.input = input }
    deinit { buffer.deallocate() }
}

/// An open libarchive reader. Owns the C handle.
private final class ArchiveHandle {
    let handle: OpaquePointer
    let feed: ArchiveFeed
    let name: String

    init(input: InputFile, raw: Bool) throws {
        name = input.name
        feed = ArchiveFeed(input: input)
        handle = archive_read_new()
        archive_read_support_filter_all(handle)
        if raw {
            archive_read_support_format_raw(handle)
        } else {
            archive_read_support_format_all(handle)
        }
        let status = archive_read_open(handle, Unmanaged.passUnretained(feed).toOpaque(), nil, { _, client, out in
            let feed = Unmanaged<ArchiveFeed>.fromOpaque(client!).takeUnretainedValue()
            do {
                let n = try feed.input.read(into: feed.buffer)
                out?.pointee = UnsafeRawPointer(feed.buffer.baseAddress)
                return n
            } catch {
                feed.failure = error
                return -1
            }
        }, nil)
        if status != ARCHIVE_OK { throw failure("cannot open archive") }
    }

    deinit { archive_read_free(handle) }

    func failure(_ what: String) -> DataError {
        if let inner = feed.failure as? DataError { return inner }
        let reason = archive_error_string(handle).map { String(cString: $0) } ?? "unknown error"
        return DataError("\(what): \(reason)", at: name)
    }

    /// The next entry's path, or nil at the end.
    func nextEntry() throws -> String? {
        var entry: OpaquePointer?
        switch archive_read_next_header(handle, &entry) {
        case ARCHIVE_OK, ARCHIVE_WARN:
            return archive_entry_pathname(entry).map { String(cString: $0) } ?? ""
        case ARCHIVE_EOF:
            return nil
        default:
            throw failure("cannot read archive")
        }
    }

    func readData(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        let n = archive_read_data(handle, buffer.baseAddress, buffer.count)
        if n < 0 { throw failure("cannot decompress") }
        return n
    }
}

/// A gzip, bzip2 or xz stream, decompressed.
final class DecompressedStream: ByteSource {
    private let archive: ArchiveHandle

    init(input: InputFile) throws {
        archive = try ArchiveHandle(input: input, raw: true)
        guard try archive.nextEntry() != nil else { throw DataError("empty compressed stream", at: input.name) }
    }

    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        try archive.readData(into: buffer)
    }

    /// Magic numbers of the compressions this reads: gzip, bzip2, xz.
    static func recognizes(_ head: [UInt8]) -> Bool {
        head.starts(with: [0x1F, 0x8B]) || head.starts(with: Array("BZh".utf8))
            || head.starts(with: [0xFD, 0x37, 0x7A, 0x58, 0x5A, 0x00])
    }
}

/// The regular files of an archive (tar, tar.gz, zip, ...), in archive order.
public final class ArchiveReader {
    private let archive: ArchiveHandle
    public let name: String

    public init(path: String) throws {
        let input = try InputFile(path: path)
        name = input.name
        archive = try ArchiveHandle(input: input, raw: false)
    }

    /// Calls `body` with each entry's path and whole contents. Directories arrive with empty
    /// contents; callers pick the files they want by name.
    public func forEachFile(_ body: (String, [UInt8]) throws -> Void) throws {
        var chunk = [UInt8](repeating: 0, count: 1 << 16)
        while let path = try archive.nextEntry() {
            var data: [UInt8] = []
            while true {
                let n = try chunk.withUnsafeMutableBytes { buffer throws in try archive.readData(into: buffer) }
                if n == 0 { break }
                data.append(contentsOf: chunk[0..<n])
            }
            try body(path, data)
        }
    }
}
