import Formats
/// A prompt template: text with `{{field}}` placeholders filled from a record's string (or
/// number) fields. `generate` and `finetune` share it, so a model is trained on exactly the
/// prompts it will be sampled with. The default template is just `{{problem}}`.
public struct PromptTemplate: Sendable, Equatable {
    enum Piece: Equatable, Sendable { case text(String), field(String) }
    let pieces: [Piece]
    public let source: String

    public static let problemOnly = try! PromptTemplate("{{problem}}")

    public init(_ source: String) throws {
        self.source = source
        var pieces: [Piece] = []
        var rest = Substring(source)
        while let open = rest.range(of: "{{") {
            if open.lowerBound > rest.startIndex { pieces.append(.text(String(rest[..<open.lowerBound]))) }
            guard let close = rest[open.upperBound...].range(of: "}}") else {
                throw DataError("unclosed {{ in template")
            }
            let name = rest[open.upperBound..<close.lowerBound].trimmingSpaces()
            guard !name.isEmpty, name.allSatisfy({ $0.isLetter || $0.isNumber || $0 == "_" }) else {
                throw DataError("invalid placeholder {{\(rest[open.upperBound..<close.lowerBound])}} in template")
            }
            pieces.append(.field(name))
            rest = rest[close.upperBound...]
        }
        if !rest.isEmpty { pieces.append(.text(String(rest))) }
        self.pieces = pieces
    }

    public static func load(path: String) throws -> PromptTemplate {
        do { return try PromptTemplate(try readTextFile(path)) } catch let error as DataError { throw error.located(path) }
    }

    public var fields: [String] { pieces.compactMap { if case .field(let name) = $0 { name } else { nil } } }

    /// The filled template; a placeholder naming a field the record lacks is an error that
    /// names it.
    public func render(_ record: Record) throws -> String {
        var out = ""
        for piece in pieces {
            switch piece {
            case .text(let text): out += text
            case .field(let name):
                switch record[name] {
                case .string(let s)?: out += s
                case .number(let n)?: out += n.text
                case nil: throw DataError("template placeholder {{\(name)}}: field \"\(name)\" missing")
                case let other?: throw DataError("template placeholder {{\(name)}}: field \"\(name)\" is a \(other.kindName), expected a string")
                }
            }
        }
        return out
    }

    /// The record's `prompt` if it has one (a sample from `generate`), else the rendered template.
    /// The record's text fields must be strings (Record.checkTextFields): a number in `problem`
    /// would otherwise become a prompt silently.
    public func prompt(for record: Record) throws -> String {
        try record.checkTextFields()
        if let prompt = record["prompt"]?.stringValue { return prompt }
        return try render(record)
    }
}

private extension Substring {
    func trimmingSpaces() -> String { String(drop { $0 == " " }.reversed().drop { $0 == " " }.reversed()) }
}
