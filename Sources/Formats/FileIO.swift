#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
import CSignalCleanup
import Foundation

/// Something that yields bytes: a file, stdin, or a decompressor over one of those.
public protocol ByteSource: AnyObject {
    /// Fills the front of `buffer`; returns 0 at the end of the data.
    func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int

    /// Called when the data just read does not parse. A source with checksums reads on to the
    /// end of the current block and throws if the block is corrupt, so the user is told about
    /// the damage rather than about a garbled line.
    func checkIntegrityAfterBadData() throws
}

extension ByteSource {
    public func checkIntegrityAfterBadData() throws {}
}

/// Something that takes bytes: a file, stdout, or a compressor in front of one of those.
public protocol ByteSink: AnyObject {
    func write(_ bytes: UnsafeRawBufferPointer) throws
    /// Ends the data: flushes buffers and closes compression frames.
    func finish() throws
}

/// The display name of a path in messages: `-` is standard input or output.
func displayName(_ path: String, stdin: Bool) -> String {
    path == "-" ? (stdin ? "<stdin>" : "<stdout>") : path
}

/// A file or stdin read with read(2). The first bytes can be peeked (to detect compression)
/// and are then served again, so detection works on pipes too.
public final class InputFile: ByteSource {
    public let name: String
    private let fd: Int32
    private let ownsDescriptor: Bool
    private var pending: [UInt8] = []
    /// Bytes handed out so far (for error offsets in compressed data).
    public private(set) var offset = 0

    public init(path: String) throws {
        name = displayName(path, stdin: true)
        if path == "-" {
            fd = 0
            ownsDescriptor = false
            return
        }
        let opened = open(path, O_RDONLY | O_CLOEXEC)
        if opened < 0 { throw systemError("cannot open", path, errno: errno) }
        var info = stat()
        if fstat(opened, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR {
            close(opened)
            throw DataError("is a directory", at: path)
        }
        fd = opened
        ownsDescriptor = true
    }

    deinit { if ownsDescriptor { close(fd) } }

    /// Up to `count` bytes from the start, without consuming them.
    public func peek(_ count: Int) throws -> [UInt8] {
        while pending.count < count {
            var chunk = [UInt8](repeating: 0, count: count - pending.count)
            let n = try chunk.withUnsafeMutableBytes { buffer throws in try rawRead(buffer) }
            if n == 0 { break }
            pending.append(contentsOf: chunk[0..<n])
        }
        return Array(pending.prefix(count))
    }

    public func read(into buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        if !pending.isEmpty {
            let n = min(buffer.count, pending.count)
            pending.withUnsafeBytes { buffer.baseAddress!.copyMemory(from: $0.baseAddress!, byteCount: n) }
            pending.removeFirst(n)
            offset += n
            return n
        }
        let n = try rawRead(buffer)
        offset += n
        return n
    }

    private func rawRead(_ buffer: UnsafeMutableRawBufferPointer) throws -> Int {
        while true {
            let n = Glibc.read(fd, buffer.baseAddress, buffer.count)
            if n >= 0 { return n }
            if errno == EINTR { continue }
            throw systemError("read failed", name, errno: errno)
        }
    }
}

/// A file descriptor written with write(2) through a buffer.
final class OutputDescriptor: ByteSink {
    let name: String
    let fd: Int32
    private var buffer: [UInt8] = []
    private let capacity = 1 << 20

    init(fd: Int32, name: String) {
        self.fd = fd
        self.name = name
        buffer.reserveCapacity(capacity)
    }

    func write(_ bytes: UnsafeRawBufferPointer) throws {
        if buffer.count + bytes.count > capacity { try flush() }
        if bytes.count >= capacity {
            try writeAll(bytes)
        } else {
            buffer.append(contentsOf: bytes)
        }
    }

    func flush() throws {
        if buffer.isEmpty { return }
        var pendingError: Error?
        buffer.withUnsafeBytes { bytes in
            do { try writeAll(bytes) } catch { pendingError = error }
        }
        buffer.removeAll(keepingCapacity: true)
        if let pendingError { throw pendingError }
    }

    func finish() throws { try flush() }

    private func writeAll(_ bytes: UnsafeRawBufferPointer) throws {
        var done = 0
        while done < bytes.count {
            let n = Glibc.write(fd, bytes.baseAddress! + done, bytes.count - done)
            if n < 0 {
                if errno == EINTR { continue }
                if errno == EPIPE { throw DataError("broken pipe", at: name) }
                throw systemError("write failed", name, errno: errno)
            }
            done += n
        }
    }
}

/// An output file that appears under its final name only when complete: bytes go to
/// `NAME.tmp-PID` in the same directory, and `commit` flushes, fsyncs and renames it. If the
/// process is interrupted by SIGINT/SIGTERM/SIGHUP/SIGPIPE, the C signal handler removes the
/// temporary file; if the writer is dropped without `commit`, so does `deinit`.
public final class AtomicFile {
    public let path: String
    public let temporaryPath: String
    let output: OutputDescriptor
    private var cleanupSlot: Int32 = -1
    private var done = false

    public init(path: String) throws {
        self.path = path
        temporaryPath = "\(path).tmp-\(getpid())"
        removeStaleTemporaries(of: path)
        // Registered before the file exists, so there is no window in which a signal leaves it.
        cleanupSlot = signal_cleanup_register(temporaryPath)
        let fd = open(temporaryPath, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0o644)
        if fd < 0 {
            let code = errno
            signal_cleanup_unregister(cleanupSlot)
            throw systemError("cannot create", path, errno: code)
        }
        output = OutputDescriptor(fd: fd, name: path)
    }

    /// Appends raw bytes (already in the file's final format).
    public func write(_ bytes: UnsafeRawBufferPointer) throws { try output.write(bytes) }

    public func commit() throws {
        precondition(!done, "AtomicFile committed twice")
        do {
            try output.flush()
            if fsync(output.fd) != 0 { throw systemError("fsync failed", path, errno: errno) }
            if close(output.fd) != 0 { throw systemError("close failed", path, errno: errno) }
            if rename(temporaryPath, path) != 0 { throw systemError("cannot rename into place", path, errno: errno) }
        } catch {
            abort()
            throw error
        }
        done = true
        signal_cleanup_unregister(cleanupSlot)
    }

    /// Removes the temporary file; the final name is never touched.
    public func abort() {
        if done { return }
        done = true
        close(output.fd)
        unlink(temporaryPath)
        signal_cleanup_unregister(cleanupSlot)
    }

    deinit { abort() }
}


/// A whole (small) text file, as UTF-8; errors name the file.
public func readTextFile(_ path: String) throws -> String {
    let input = try InputFile(path: path)
    var bytes: [UInt8] = []
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
        let n = try chunk.withUnsafeMutableBytes { try input.read(into: $0) }
        if n == 0 { break }
        bytes += chunk[0..<n]
    }
    guard let text = String(validating: bytes, as: UTF8.self) else { throw DataError("invalid UTF-8", at: path) }
    return text
}

/// Writes a whole text file atomically (temp file, fsync, rename).
public func writeTextFile(_ text: String, to path: String) throws {
    let file = try AtomicFile(path: path)
    var copy = text
    try copy.withUTF8 { try file.write(UnsafeRawBufferPointer($0)) }
    try file.commit()
}

/// Writes a directory atomically: `body` fills `DIR.tmp-PID`, which then replaces `DIR` (the
/// old one is moved aside first and removed after), so `DIR` is never partial. On an error the
/// staging directory is removed and an existing `DIR` is untouched.
public func writeDirectoryAtomically(_ directory: String, _ body: (_ staging: String) throws -> Void) throws {
    let files = FileManager.default
    let staging = "\(directory).tmp-\(getpid())"
    removeStaleTemporaries(of: directory)
    try? files.removeItem(atPath: staging)
    try files.createDirectory(atPath: staging, withIntermediateDirectories: true)
    do {
        try body(staging)
        if files.fileExists(atPath: directory) {
            let old = "\(directory).old-\(getpid())"
            try files.moveItem(atPath: directory, toPath: old)
            try files.moveItem(atPath: staging, toPath: directory)
            try? files.removeItem(atPath: old)
        } else {
            try files.moveItem(atPath: staging, toPath: directory)
        }
    } catch {
        try? files.removeItem(atPath: staging)
        throw error
    }
}

/// Removes `PATH.tmp-PID` files and folders left by writers that no longer run (a SIGKILL
/// gives a process no chance to clean up), so a rerun does not leave litter beside its output.
/// Temporaries of live processes are kept: another writer may be at work.
public func removeStaleTemporaries(of path: String) {
    let url = URL(fileURLWithPath: path)
    let directory = url.deletingLastPathComponent().path, prefix = url.lastPathComponent + ".tmp-"
    guard let names = try? FileManager.default.contentsOfDirectory(atPath: directory) else { return }
    for name in names where name.hasPrefix(prefix) {
        guard let pid = Int32(name.dropFirst(prefix.count)), pid != getpid() else { continue }
        if kill(pid, 0) != 0 && errno == ESRCH { try? FileManager.default.removeItem(atPath: directory + "/" + name) }
    }
}
