import CodeVerify
import Dispatch
import Formats
import MathVerify

/// Scores one sample record: adds `reward`, `verdict`, (for math) `extracted`, `verifier` (the
/// checker and its version) and (for code) `details`, keeping every other field. A record scored
/// before is re-scored: its verdict fields are replaced in place, and one the new verdict does
/// not set is removed, so no stale `details` or `extracted` survives. Fails with a DataError
/// naming the missing field for records it cannot score.
public struct Verifier: Sendable {
    /// The sandboxed checker for `task: "code"` records (nil: no Python interpreter found).
    public let code: CodeChecker?

    public init(code: CodeChecker? = CodeChecker.defaultPython().map { CodeChecker(python: $0) }) {
        self.code = code
    }

    public func score(_ record: Record) throws -> Record {
        // A number or an object in completion, answer or problem is bad data, not a value to
        // convert (a code problem that is not a string used to become an empty prefix).
        try record.checkTextFields()
        let task = record.task ?? (record["answer"] != nil ? "math" : nil)
        switch task {
        case "math":
            let completion = try record.string("completion")
            let reference = try record.string("answer")
            let result = MathChecker.check(completion: completion, reference: reference)
            var scored = record
            scored["reward"] = .number(JSONNumber(result.reward))
            scored["verdict"] = .string(result.verdict.rawValue)
            scored["extracted"] = result.extracted.map(JSON.string) ?? .null
            scored["verifier"] = .string(MathChecker.version)
            scored["details"] = nil
            return scored
        case "code":
            guard let code else { throw DataError("task \"code\" needs python3 (none found; give --python PATH)") }
            let result = try code.check(record)
            var scored = record
            scored["reward"] = .number(JSONNumber(result.reward))
            scored["verdict"] = .string(result.verdict.rawValue)
            scored["extracted"] = nil
            scored["verifier"] = .string(CodeChecker.version)
            scored["details"] = result.details.entries.isEmpty ? nil : .object(result.details)
            return scored
        case nil:
            throw DataError("field \"task\" missing (and no \"answer\" to infer a math task)")
        case let other?:
            throw DataError("unknown task \"\(other)\" (expected \"math\" or \"code\")")
        }
    }

    /// Scores a batch on `jobs` threads; results keep the input order. The first failing record
    /// (in input order) decides the error, so errors are reproducible too.
    public func score(batch: [Record], jobs: Int) throws -> [Record] {
        if jobs <= 1 || batch.count < 2 { return try batch.map(score) }
        let results = UnsafeResults(count: batch.count)
        let chunks = min(jobs * 4, batch.count)
        DispatchQueue.concurrentPerform(iterations: chunks) { chunk in
            let range = (batch.count * chunk / chunks)..<(batch.count * (chunk + 1) / chunks)
            for i in range {
                results.set(i, Result { try score(batch[i]) })
            }
        }
        return try results.values.map { try $0!.get() }
    }
}

/// Slots written by disjoint index ranges from concurrent workers. The storage is allocated
/// once: calling `withUnsafeMutableBufferPointer` on a shared Array from several threads is
/// itself a race (each call is an exclusive access that may copy the buffer), and it lost
/// writes under load.
private final class UnsafeResults: @unchecked Sendable {
    private let slots: UnsafeMutableBufferPointer<Result<Record, Error>?>

    init(count: Int) {
        slots = .allocate(capacity: count)
        slots.initialize(repeating: nil)
    }

    deinit {
        slots.deinitialize()
        slots.deallocate()
    }

    func set(_ index: Int, _ value: Result<Record, Error>) { slots[index] = value }

    var values: [Result<Record, Error>?] { Array(slots) }
}
