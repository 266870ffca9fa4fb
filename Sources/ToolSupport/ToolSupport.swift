import ArgumentParser
import Formats

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif

/// Writes a line to stderr (messages never go to stdout, which carries data).
public func printError(_ message: String) {
    writeStandardError(message + "\n")
}

/// Unbuffered write to file descriptor 2 (no shared C FILE state, safe under strict concurrency).
public func writeStandardError(_ text: String) {
    var copy = text
    copy.withUTF8 { bytes in
        var done = 0
        while done < bytes.count {
            let n = write(2, bytes.baseAddress! + done, bytes.count - done)
            if n <= 0 { if errno == EINTR { continue } else { return } }
            done += n
        }
    }
}

/// Runs a command body and turns data errors into the toolkit's convention: one line on
/// stderr naming file and line, exit status 1. Usage errors stay with ArgumentParser (64).
public func reportingDataErrors(tool: String, _ body: () throws -> Void) throws {
    do {
        try body()
    } catch let error as DataError {
        printError("\(tool): \(error)")
        throw ExitCode(1)
    }
}

/// Input files for a command: none given means stdin, which must then not be a terminal.
public func resolveInputs(_ files: [String]) throws -> [String] {
    if !files.isEmpty { return files }
    if isatty(0) != 0 {
        throw ValidationError("no input: name a shard file, or pipe one to stdin")
    }
    return ["-"]
}

/// Reads every record of every input, in order.
public func forEachRecord(in inputs: [String], _ body: (Record, ShardReader) throws -> Void) throws {
    for path in inputs {
        let reader = try ShardReader(path: path)
        try reader.forEachRecord { try body($0, reader) }
    }
}

/// A one-line progress display (count, rate, ETA) on stderr, shown only when stderr is a
/// terminal so logs and pipes stay clean.
public final class ProgressLine {
    private let label: String
    private let total: Int?
    private let enabled: Bool
    private let started = monotonicSeconds()
    private var lastDraw = 0.0
    public private(set) var done = 0

    public init(_ label: String, total: Int? = nil) {
        self.label = label
        self.total = total
        enabled = isatty(2) != 0
    }

    /// Extra text shown after the counts (for example the current loss).
    public var detail = ""

    public func advance(by n: Int = 1) {
        done += n
        guard enabled else { return }
        let now = monotonicSeconds()
        if now - lastDraw < 0.1 { return }
        lastDraw = now
        draw(now: now)
    }

    private func draw(now: Double) {
        let elapsed = max(now - started, 1e-9)
        let rate = Double(done) / elapsed
        var text = "\r\u{1B}[K\(label) \(done)"
        if let total, total > 0 {
            let fraction = min(1, Double(done) / Double(total))
            let width = 24
            let filled = Int(fraction * Double(width))
            text += "/\(total) [" + String(repeating: "#", count: filled) + String(repeating: ".", count: width - filled) + "]"
            if rate > 0 { text += " ETA \(formatDuration(Double(total - done) / rate))" }
        }
        text += " \(formatRate(rate))/s"
        if !detail.isEmpty { text += " " + detail }
        writeStandardError(text)
    }

    /// Clears the line (the caller prints its own summary).
    public func finish() {
        if enabled { writeStandardError("\r\u{1B}[K") }
    }

    public var elapsedSeconds: Double { monotonicSeconds() - started }
}

public func monotonicSeconds() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

func formatRate(_ rate: Double) -> String {
    rate >= 10_000 ? "\(Int(rate / 1000))k" : rate >= 100 ? "\(Int(rate))" : String(format1: rate)
}

func formatDuration(_ seconds: Double) -> String {
    let s = Int(seconds.rounded())
    return s >= 3600 ? "\(s / 3600)h\(s % 3600 / 60)m" : s >= 60 ? "\(s / 60)m\(s % 60)s" : "\(s)s"
}

extension String {
    /// One decimal place, without Foundation's locale-dependent formatting.
    init(format1 value: Double) {
        let tenths = Int((value * 10).rounded())
        self = "\(tenths / 10).\(abs(tenths % 10))"
    }
}
