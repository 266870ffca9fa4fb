import Formats

/// `verify --compare`: old verdict records against the same records scored again by the current
/// checkers. A record changed when its verdict differs, or when the math answer extracted
/// differs (where the old record has `extracted`); a new `verifier` alone is no change, so a
/// version bump that decides the same lists nothing.
public struct VerdictComparison {
    public struct Change: Sendable, Equatable {
        public let id: String
        public let sample: String
        public let oldVerdict: String
        public let newVerdict: String
        /// `extracted` as JSON text (`"12"`, `null`), nil where the record has none (code).
        public let oldExtracted: String?
        public let newExtracted: String?
        public let oldVerifier: String?
        public let newVerifier: String?
    }

    public private(set) var records = 0
    public private(set) var changes: [Change] = []
    /// Changed records by "old -> new" verdict.
    public private(set) var transitions: [String: Int] = [:]

    public init() {}

    public mutating func add(old: Record, new: Record) throws {
        guard let oldVerdict = old["verdict"] else {
            throw DataError("field \"verdict\" missing (--compare re-scores verdict shards)")
        }
        guard let oldVerdict = oldVerdict.stringValue else {
            throw DataError("field \"verdict\" is a \(oldVerdict.kindName), expected a string")
        }
        records += 1
        let newVerdict = new["verdict"]?.stringValue ?? "?"
        let oldExtracted = old["extracted"]?.serialized(), newExtracted = new["extracted"]?.serialized()
        guard oldVerdict != newVerdict || (oldExtracted != nil && oldExtracted != newExtracted) else { return }
        changes.append(Change(
            id: old["id"].map(Self.text) ?? "-", sample: old["sample"].map(Self.text) ?? "-",
            oldVerdict: oldVerdict, newVerdict: newVerdict, oldExtracted: oldExtracted, newExtracted: newExtracted,
            oldVerifier: old["verifier"].map(Self.text), newVerifier: new["verifier"].map(Self.text)))
        transitions["\(oldVerdict) -> \(newVerdict)", default: 0] += 1
    }

    /// A string as itself, anything else (a numeric id) as JSON.
    static func text(_ value: JSON) -> String { value.stringValue ?? value.serialized() }

    /// A tab or newline inside an id would break the row; as JSON it stays one field.
    static func field(_ text: String) -> String {
        text.contains { $0 == "\t" || $0.isNewline } ? JSON.string(text).serialized() : text
    }

    /// The report: a count line, changed records by old -> new verdict (most first), then one
    /// tab-separated row per changed record under a header. `extracted` stays JSON (quoted, or
    /// `null`) so an answer with tabs or spaces is still one field; `-` marks a missing field.
    public func lines() -> [String] {
        guard !changes.isEmpty else { return ["compared \(records) records: nothing changed"] }
        var lines = ["compared \(records) records: \(changes.count) changed, \(records - changes.count) unchanged"]
        lines += transitions.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            .map { "\($0.key): \($0.value)" }
        lines.append("")
        let header = ["id", "sample", "old verdict", "new verdict", "old extracted", "new extracted",
                      "old verifier", "new verifier"]
        lines.append(header.joined(separator: "\t"))
        for change in changes {
            let fields = [change.id, change.sample, change.oldVerdict, change.newVerdict, change.oldExtracted ?? "-",
                          change.newExtracted ?? "-", change.oldVerifier ?? "-", change.newVerifier ?? "-"]
            lines.append(fields.map(Self.field).joined(separator: "\t"))
        }
        return lines
    }
}
