/// One line of a shard: a JSON object whose known fields (see DESIGN.md, "Records") have typed
/// accessors and whose other fields are carried through untouched, in order.
public struct Record: Sendable, Equatable {
    public var fields: JSONObject

    public init(_ fields: JSONObject = JSONObject()) { self.fields = fields }

    public init(_ pairs: KeyValuePairs<String, JSON>) {
        fields = JSONObject(pairs.map { ($0.key, $0.value) })
    }

    public subscript(key: String) -> JSON? {
        get { fields[key] }
        set { fields[key] = newValue }
    }

    public var id: String? { fields["id"]?.stringValue }
    public var task: String? { fields["task"]?.stringValue }

    /// The string in `key`, or an error that names the field ("field \"problem\" missing").
    public func string(_ key: String) throws -> String {
        guard let value = fields[key] else { throw DataError("field \"\(key)\" missing") }
        guard let s = value.stringValue else {
            throw DataError("field \"\(key)\" is a \(value.kindName), expected a string")
        }
        return s
    }

    /// Like `string`, but also accepts a number (ids are integers in some datasets).
    public func identifier(_ key: String) throws -> String {
        if case .number(let n)? = fields[key] { return n.text }
        return try string(key)
    }

    /// The record as one line of JSON, without the newline.
    public func jsonLine() -> String { JSON.object(fields).serialized() }

    public func write(to out: inout [UInt8]) { fields.write(to: &out) }
}
