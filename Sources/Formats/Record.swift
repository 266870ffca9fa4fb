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
        guard let s = value.stringValue else { throw Self.notAString(key, value) }
        return s
    }

    /// The fields DESIGN.md defines as text. A number or an object in one of them is a mistake in
    /// the data (a converter that wrote `"answer": 18` or nested the problem), and using it
    /// anyway would train on, sample from or score against something else than what was meant.
    public static let textFields = ["problem", "answer", "solution", "prompt", "completion"]

    /// Fails with `field "problem" must be a string, not a number` for the first of `textFields`
    /// that the record has with a value other than a string. `generate`, `finetune` and `verify`
    /// check every record with it before using any field.
    public func checkTextFields() throws {
        for key in Self.textFields {
            if let value = fields[key], value.stringValue == nil { throw Self.notAString(key, value) }
        }
    }

    static func notAString(_ key: String, _ value: JSON) -> DataError {
        let kind = value.kindName
        let article = kind == "null" ? "" : ["array", "object"].contains(kind) ? "an " : "a "
        return DataError("field \"\(key)\" must be a string, not \(article)\(kind)")
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
