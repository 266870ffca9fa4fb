/// A JSON value that round-trips: object keys keep their order and numbers keep their exact
/// text, so a tool that copies a record through writes back what it read (Foundation's
/// JSONSerialization reorders keys and rewrites numbers, which breaks byte-identical reruns).
public enum JSON: Sendable, Equatable {
    case null
    case bool(Bool)
    case number(JSONNumber)
    case string(String)
    case array([JSON])
    case object(JSONObject)

    public var stringValue: String? {
        if case .string(let s) = self { return s }
        return nil
    }
    public var objectValue: JSONObject? {
        if case .object(let o) = self { return o }
        return nil
    }
    public var arrayValue: [JSON]? {
        if case .array(let a) = self { return a }
        return nil
    }
    public var intValue: Int? {
        if case .number(let n) = self { return n.intValue }
        return nil
    }
    public var doubleValue: Double? {
        if case .number(let n) = self { return n.doubleValue }
        return nil
    }
    public var boolValue: Bool? {
        if case .bool(let b) = self { return b }
        return nil
    }

    /// The name used in error messages ("field \"x\" must be a string, not a number").
    public var kindName: String {
        switch self {
        case .null: "null"
        case .bool: "boolean"
        case .number: "number"
        case .string: "string"
        case .array: "array"
        case .object: "object"
        }
    }
}

extension JSON: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral, ExpressibleByBooleanLiteral,
    ExpressibleByArrayLiteral, ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral, ExpressibleByFloatLiteral
{
    public init(floatLiteral value: Double) { self = .number(JSONNumber(value)) }
    public init(stringLiteral value: String) { self = .string(value) }
    public init(integerLiteral value: Int) { self = .number(JSONNumber(value)) }
    public init(booleanLiteral value: Bool) { self = .bool(value) }
    public init(arrayLiteral elements: JSON...) { self = .array(elements) }
    public init(dictionaryLiteral elements: (String, JSON)...) {
        self = .object(JSONObject(elements))
    }
    public init(nilLiteral: ()) { self = .null }
}

/// A JSON number kept as its source text (already validated against the JSON grammar).
public struct JSONNumber: Sendable, Hashable, CustomStringConvertible {
    public let text: String

    public init(_ value: Int) { text = String(value) }

    /// Non-finite values have no JSON form; they are a programming error here.
    public init(_ value: Double) {
        precondition(value.isFinite, "JSON has no representation for \(value)")
        if value == value.rounded(), abs(value) < 1e15 {
            text = String(Int(value))
        } else {
            text = "\(value)"
        }
    }

    init(validatedText: String) { text = validatedText }

    public var intValue: Int? { Int(text) }
    public var doubleValue: Double? { Double(text) }
    public var description: String { text }
}

/// An object that keeps key order. Records have a handful of fields, so lookup is a linear
/// scan; that is faster than hashing for this size and keeps insertion order for free.
public struct JSONObject: Sendable, Equatable, Sequence {
    public private(set) var entries: [(key: String, value: JSON)] = []
    /// Positions by key, kept once the object outgrows a short scan: a tokenizer's vocabulary
    /// (50K to 150K keys) cost a scan per key while parsing, quadratic in the number of keys.
    private var positions: [String: Int]?
    static let indexedFrom = 16

    public init() {}

    /// Later duplicates replace earlier values in place, as Python's json module does.
    public init<S: Sequence>(_ pairs: S) where S.Element == (String, JSON) {
        for (k, v) in pairs { self[k] = v }
    }

    public var count: Int { entries.count }
    public var keys: [String] { entries.map(\.key) }

    private func position(of key: String) -> Int? {
        if let positions { return positions[key] }
        return entries.firstIndex { $0.key == key }
    }

    public subscript(key: String) -> JSON? {
        get { position(of: key).map { entries[$0].value } }
        set {
            if let index = position(of: key) {
                if let newValue {
                    entries[index].value = newValue
                } else {
                    entries.remove(at: index)
                    positions = nil
                    if entries.count >= Self.indexedFrom { buildIndex() }
                }
            } else if let newValue {
                entries.append((key, newValue))
                if positions != nil {
                    positions![key] = entries.count - 1
                } else if entries.count >= Self.indexedFrom {
                    buildIndex()
                }
            }
        }
    }

    private mutating func buildIndex() {
        var positions: [String: Int] = [:]
        positions.reserveCapacity(entries.count * 2)
        for (i, entry) in entries.enumerated() { positions[entry.key] = i }
        self.positions = positions
    }

    public func makeIterator() -> IndexingIterator<[(key: String, value: JSON)]> {
        entries.makeIterator()
    }

    public static func == (lhs: JSONObject, rhs: JSONObject) -> Bool {
        lhs.entries.count == rhs.entries.count
            && zip(lhs.entries, rhs.entries).allSatisfy { $0.key == $1.key && $0.value == $1.value }
    }
}
