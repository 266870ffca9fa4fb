/// An error in data a user gave us, worded for the user: `where: what`, for example
/// `train.jsonl.zst:1841: field "problem" missing` or `x.jsonl.zst: byte 4096: truncated`.
/// Tools print it on one line and exit 1.
public struct DataError: Error, Sendable, CustomStringConvertible, Equatable {
    public var location: String?
    public var message: String

    public init(_ message: String, at location: String? = nil) {
        self.message = message
        self.location = location
    }

    public var description: String {
        if let location { return "\(location): \(message)" }
        return message
    }

    /// Adds an outer location only when none is set (the innermost location is the precise one).
    public func located(_ location: String) -> DataError {
        self.location == nil ? DataError(message, at: location) : self
    }
}

/// A write to a pipe whose reader went away (`shards cat x | head`): not a failure of ours.
public struct BrokenPipe: Error, Sendable {}

/// The error for a failed system call, with the OS's reason.
public func systemError(_ what: String, _ path: String, errno code: Int32) -> DataError {
    DataError("\(what): \(String(cString: strerror(code)))", at: path)
}

#if canImport(Glibc)
import Glibc
#elseif canImport(Darwin)
import Darwin
#endif
