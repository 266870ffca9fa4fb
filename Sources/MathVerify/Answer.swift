import Foundation

/// The shape of a final answer: one expression, an equation, a value with a name (`BC = 7`),
/// a relation (`x \le 3`), an ordered tuple or interval, an unordered list or set, a union of
/// intervals, a matrix, a ratio, or words.
indirect enum Answer {
    case expression(Expr, decimal: Bool)
    /// An equation that is the answer itself (`x^2 + y^2 = 4`, `5 = 2b + d`).
    case equation(Expr, Expr)
    /// `BC = 7`, `f(2) = 9`, `y = 2x + 1`: the value, under a name that is not part of it.
    case named(AnswerLabel, Answer)
    case relation(RelationSystem)
    /// `(1, 2)`, `[0, 1)`, `(1; 4; -3)`: ordered; the brackets matter for pairs (intervals).
    case sequence(open: Character, close: Character, [Answer])
    /// `1, 2`, `\{1, 2\}`, `1 \pm \sqrt 2`: order does not matter; a set (`\{\}` written)
    /// also ignores repeated items.
    case collection([Answer], isSet: Bool)
    case union([Answer])
    case matrix([[Answer]])
    /// `2:3`.
    case ratio([Expr])
    case text(String)
}

/// The name in `name = value`: compared by its text (`a_{5}` and `a_5` are one name); `expr`
/// is the name as an expression where it is one (`x`, `BC`), so that `y = 2x + 1` can still be
/// compared as an equation with `2y = 4x + 2`.
struct AnswerLabel {
    let key: String
    let expr: Expr?
}

/// Turns normalized answer text into an `Answer`. Rules are tried from the outermost
/// structure in: matrices, relations, unions, sets, tuples and intervals, lists, `\pm`,
/// equations and names, ratios, then a single expression.
enum AnswerParser {
    static func parse(_ text: String) -> Answer {
        let s = text.trimmed
        if s.contains("\\begin{"), let matrix = parseMatrix(s) { return matrix }
        if ["\\mathbb{R}", "\\mathbb R", "\\R", "\\mathbf{R}"].contains(s) {
            return .sequence(open: "(", close: ")", [.expression(.negate(.infinity), decimal: false),
                                                     .expression(.infinity, decimal: false)])
        }
        // `x \in (-1, 4]`: the set is the answer.
        // `x \\in (-1, 4]`: the set, under the variable's name (`x \\in A and y \\in B` keeps both).
        let membership = hasSubstring(s, "\\in") ? splitTopLevel(s, separators: ["\\in"]) : [s]
        if membership.count == 2, case .variable(let name)? = ExpressionParser.parse(membership[0]) {
            return .named(AnswerLabel(key: name, expr: nil), parse(membership[1]))
        }
        if ["<", ">", "\\le", "\\ge", "\\ne"].contains(where: { hasSubstring(s, $0) }), let system = parseRelationSystem(s) {
            return .relation(system)
        }
        let unionParts = splitTopLevel(s, separators: ["\\cup"])
        if unionParts.count >= 2 { return .union(unionParts.map(parse)) }
        if s.hasPrefix("\\{"), s.hasSuffix("\\}"), enclosesWhole(s, openLength: 2) {
            let inner = String(s.dropFirst(2).dropLast(2))
            return .collection(list(inner, separators: [",", ";"]) ?? [parse(inner)], isSet: true)
        }
        if s.hasPrefix("{"), s.hasSuffix("}"), enclosesWhole(s, openLength: 1) {
            if let items = list(String(s.dropFirst().dropLast()), separators: [",", ";"]) { return .collection(items, isSet: true) }
        }
        if let open = s.first, let close = s.last, "([".contains(open), ")]".contains(close), enclosesWhole(s, openLength: 1) {
            let inner = String(s.dropFirst().dropLast())
            var items = splitTopLevel(inner, separators: [","])
            if items.count < 2 { items = splitTopLevel(inner, separators: [";"]) }
            if items.count >= 2 { return .sequence(open: open, close: close, items.map(parse)) }
        }
        if let items = list(s, separators: [", and ", ", or ", ",", ";", " and ", " or "]) { return .collection(items, isSet: false) }
        // Each sign doubles the values: three (eight values) is plenty for a real answer.
        for sign in ["\\pm", "\\mp"] where hasSubstring(s, sign) && s.components(separatedBy: "\\pm").count
            + s.components(separatedBy: "\\mp").count <= 5 {
            let plus = s.replacingFirst(sign, with: sign == "\\pm" ? "+" : "-")
            let minus = s.replacingFirst(sign, with: sign == "\\pm" ? "-" : "+")
            return .collection([parse(plus), parse(minus)], isSet: false)
        }
        if let equation = parseEquation(s) { return equation }
        let ratioParts = hasSubstring(s, ":") ? splitTopLevel(s, separators: [":"]) : [s]
        if ratioParts.count == 2, let name = label(ratioParts[0]), label(ratioParts[1]) == nil {
            // `Area: 12`
            return .named(name, parse(ratioParts[1]))
        }
        if ratioParts.count >= 2 {
            let terms = ratioParts.compactMap(ExpressionParser.parse)
            if terms.count == ratioParts.count { return .ratio(terms) }
        }
        if let expr = ExpressionParser.parse(s) { return .expression(expr, decimal: expr.hasDecimalLiteral) }
        return .text(s)
    }

    /// The items of a list; an item without a name after one with a name takes that name
    /// (`x = 1, 2` is x = 1 and x = 2). nil when there are fewer than two.
    static func list(_ s: String, separators: [String]) -> [Answer]? {
        let parts = splitTopLevel(s, separators: separators)
        guard parts.count >= 2 else { return nil }
        var items = parts.map(parse)
        var current: AnswerLabel?
        for k in items.indices {
            if case .named(let name, _) = items[k] {
                current = name
            } else if let name = current, !isNamedOrRelation(items[k]) {
                items[k] = .named(name, items[k])
            }
        }
        return items
    }

    private static func isNamedOrRelation(_ answer: Answer) -> Bool {
        switch answer {
        case .named, .relation, .equation: true
        default: false
        }
    }

    // MARK: equations and names

    /// `name = value`, `value = name`, a chain `x = 3 + 4 = 7` (its last side), an arithmetic
    /// statement `3 + 4 = 7` (its last side), or an equation.
    static func parseEquation(_ s: String) -> Answer? {
        let sides = splitTopLevel(s, separators: ["="])
        guard sides.count >= 2 else { return nil }
        if sides.count == 2, case .sequence(_, _, let names) = parse(sides[0]),
           names.allSatisfy({ if case .expression(.variable, _) = $0 { true } else { false } }) {
            // `(x, y) = (1, 2)` is the tuple (1, 2); `(y, x) = (2, 1)` is no answer (it is not (2, 1)).
            let order = names.map { if case .expression(.variable(let v), _) = $0 { v } else { "" } }
            guard order == order.sorted() else { return .text(s) }
            return .named(AnswerLabel(key: sides[0].filter { $0 != " " }, expr: nil), parse(sides[1]))
        }
        let last = sides[sides.count - 1]
        // `x = 3 + 4 = 7`: the sides after the first must agree where they are plain numbers;
        // `2 + 2 = 5` states nothing true and is no answer.
        let firstName = label(sides[0])
        let constants = sides.dropFirst(firstName == nil ? 0 : 1).compactMap(ExpressionParser.parse)
            .filter { $0.variables.isEmpty }
        if constants.count >= 2, !constants.dropFirst().allSatisfy({
            MathEquivalence.sameExpression($0, $0.hasDecimalLiteral, constants[0], constants[0].hasDecimalLiteral)
        }) {
            return .text(s)
        }
        if let name = firstName {
            let value = parse(last)
            // `x = 2x - 3` is an equation in x, not a value named x.
            if sides.count == 2, let nameExpr = name.expr, case .expression(let e, _) = value,
               !nameExpr.variables.isDisjoint(with: e.variables) {
                return ExpressionParser.parse(last).map { .equation(nameExpr, $0) }
            }
            return .named(name, value)
        }
        if sides.count == 2, let name = label(last) { return .named(name, parse(sides[0])) }
        let exprs = sides.compactMap(ExpressionParser.parse)
        guard exprs.count == sides.count else { return nil }
        if exprs.allSatisfy({ $0.variables.isEmpty }) {
            // `\\frac68 = \\frac34`: a true arithmetic statement is its value.
            let value = exprs[exprs.count - 1]
            return .expression(value, decimal: value.hasDecimalLiteral)
        }
        // `x^2 = 2 + 2 = 4` is not 4: only a chain that starts with a name is its last side.
        guard sides.count == 2 else { return .text(s) }
        return .equation(exprs[0], exprs[1])
    }

    private static let labelCommands = ["\\angle", "m\\angle", "\\measuredangle", "\\overline", "\\overarc", "\\widehat",
                                        "\\triangle", "\\arc", "\\vec", "\\overrightarrow"]
    private static let notWords: Set<String> = ["sin", "cos", "tan", "sec", "csc", "cot", "log", "ln", "exp", "and", "or"]

    /// Whether `side` is a name rather than a value: a variable (`x`, `a_5`, `\alpha`), a
    /// segment or figure (`BC`, `\angle A`, `\overline{PQ}`, `[ABC]`), an absolute value of a
    /// name (`|PQ|`), a function at simple arguments (`f(2)`, `P(A)`), a word (`Area`), or a
    /// ratio of names (`m:n`).
    static func label(_ side: String) -> AnswerLabel? {
        let s = side.trimmed
        guard !s.isEmpty, s.utf8.count <= 40 else { return nil }
        let key = s.filter { $0 != " " && $0 != "{" && $0 != "}" }
        // `\\angle A` is a name; `\\angle A + \\angle B` is a sum.
        if labelCommands.contains(where: { s.hasPrefix($0) }), !s.contains(where: { "+-*/=<>".contains($0) }) {
            return AnswerLabel(key: key, expr: nil)
        }
        if s.hasPrefix("|"), s.hasSuffix("|"), s.count >= 3, label(String(s.dropFirst().dropLast())) != nil {
            return AnswerLabel(key: key, expr: nil)
        }
        let letters = s.unicodeScalars
        if s.hasPrefix("["), s.hasSuffix("]"), s.count >= 4,
           s.dropFirst().dropLast().allSatisfy({ $0.isASCII && $0.isUppercase }) {
            return AnswerLabel(key: key, expr: nil)
        }
        if (2...4).contains(s.count), letters.allSatisfy({ $0.properties.isUppercase && $0.isASCII }) {
            return AnswerLabel(key: key, expr: ExpressionParser.parse(s))
        }
        if isFunctionCall(s) { return AnswerLabel(key: key, expr: nil) }
        let words = s.split(separator: " ")
        if s.count >= 3, words.allSatisfy({ $0.allSatisfy { $0.isASCII && $0.isLetter } }),
           words.contains(where: { $0.count >= 3 }), !words.contains(where: { notWords.contains($0.lowercased()) }) {
            return AnswerLabel(key: key, expr: nil)
        }
        let ratio = splitTopLevel(s, separators: [":"])
        if ratio.count == 2, ratio.allSatisfy({ label($0) != nil }) { return AnswerLabel(key: key, expr: nil) }
        if case .variable(let name)? = ExpressionParser.parse(s) { return AnswerLabel(key: name, expr: .variable(name)) }
        return nil
    }

    /// `f(2)`, `g(-1)`, `P(A)`, `f(x, y)`: one letter (maybe subscripted) applied to numbers or
    /// single letters.
    private static func isFunctionCall(_ s: String) -> Bool {
        guard let open = s.firstIndex(of: "("), s.hasSuffix(")") else { return false }
        let name = s[..<open]
        guard let first = name.first, first.isLetter, first.isASCII,
              name.count == 1 || (name.dropFirst().first == "_" && name.count <= 6) else { return false }
        let arguments = s[s.index(after: open)..<s.index(before: s.endIndex)].split(separator: ",")
        return !arguments.isEmpty && arguments.allSatisfy { argument in
            var a = argument.trimmed
            if a.hasPrefix("-") { a = String(a.dropFirst()).trimmed }
            return !a.isEmpty && (a.allSatisfy(\.isASCIIDigit) || (a.count == 1 && a.first!.isLetter)
                                  || (a.contains(".") && a.allSatisfy { $0.isASCIIDigit || $0 == "." })
                                  || ExpressionParser.parse(a).map({ $0.variables.isEmpty }) == true)
        }
    }

    // MARK: relations

    /// `-1 < x \le 4`, `x \ge 3`, `x < -1 \text{ or } x > 2`: alternatives joined by "or",
    /// conjunctions by "and". nil when there is no comparison at the top level or a part is not
    /// a chain of expressions.
    static func parseRelationSystem(_ s: String) -> RelationSystem? {
        guard relationChainParts(s) != nil || splitTopLevel(s, separators: [" or ", " and "]).count > 1 else { return nil }
        var alternatives: [[RelationChain]] = []
        for alternative in splitTopLevel(s, separators: [" or "]) {
            var conjunction: [RelationChain] = []
            for part in splitTopLevel(alternative, separators: [" and "]) {
                guard let (sides, ops) = relationChainParts(part) else { return nil }
                // `1 < x > 3` says nothing a reader can trust: no answer.
                let up = ops.contains { $0 == .less || $0 == .lessEqual }, down = ops.contains { $0 == .greater || $0 == .greaterEqual }
                if up && down { return nil }
                let exprs = sides.compactMap(ExpressionParser.parse)
                guard exprs.count == sides.count else { return nil }
                conjunction.append(RelationChain(sides: exprs, ops: ops))
            }
            alternatives.append(conjunction)
        }
        return RelationSystem(alternatives: alternatives)
    }

    /// The sides and operators of a chain such as `-1 < x \le 4`, split outside brackets.
    static func relationChainParts(_ s: String) -> ([String], [RelationOperator])? {
        let chars = Array(s)
        var sides: [String] = [], ops: [RelationOperator] = []
        var current: [Character] = []
        var depth = 0
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if "([{".contains(c) { depth += 1 }
            if ")]}".contains(c) { depth -= 1 }
            var op: RelationOperator?
            var length = 1
            if depth == 0 {
                if c == "<" { op = .less }
                if c == ">" { op = .greater }
                if c == "=" { return nil }
                if c == "\\" {
                    var end = i + 1
                    while end < chars.count, chars[end].isLetter { end += 1 }
                    switch String(chars[(i + 1)..<end]) {
                    case "le": op = .lessEqual
                    case "ge": op = .greaterEqual
                    case "ne": op = .notEqual
                    default: break
                    }
                    if op != nil { length = end - i }
                }
            }
            if let op {
                sides.append(String(current).trimmed)
                ops.append(op)
                current = []
                i += length
                continue
            }
            if c == "\\", i + 1 < chars.count {
                current += chars[i...(i + 1)]
                i += 2
                continue
            }
            current.append(c)
            i += 1
        }
        sides.append(String(current).trimmed)
        guard !ops.isEmpty, sides.allSatisfy({ !$0.isEmpty }) else { return nil }
        return (sides, ops)
    }

    // MARK: brackets

    static func parseMatrix(_ s: String) -> Answer? {
        // Not vmatrix: bars mean a determinant, a number, not a matrix.
        for kind in ["pmatrix", "bmatrix", "matrix", "Bmatrix"] {
            let begin = "\\begin{\(kind)}", end = "\\end{\(kind)}"
            guard s.hasPrefix(begin), s.hasSuffix(end) else { continue }
            let body = String(s.dropFirst(begin.count).dropLast(end.count))
            let rows = body.components(separatedBy: "\\\\").map { $0.trimmed }.filter { !$0.isEmpty }
            return .matrix(rows.map { row in row.split(separator: "&").map { parse(String($0)) } })
        }
        return nil
    }

    /// Whether the bracket opening `s` closes at its very end.
    static func enclosesWhole(_ s: String, openLength: Int) -> Bool {
        let bytes = Array(s.utf8)
        var depth = 0
        var i = 0
        while i < bytes.count {
            let c = bytes[i]
            if c == backslash, i + 1 < bytes.count, bytes[i + 1] == openBrace || bytes[i + 1] == closeBrace {
                depth += bytes[i + 1] == openBrace ? 1 : -1
                i += 2
            } else {
                depth += bracketDepthChange(c)
                i += 1
            }
            if depth == 0 && i < bytes.count { return false }
        }
        return depth == 0
    }

    /// Splits at separators that are outside all brackets (a byte scan: every separator is ASCII).
    static func splitTopLevel(_ s: String, separators: [String]) -> [String] {
        let bytes = Array(s.utf8)
        let seps = separators.map { Array($0.utf8) }.filter { sep in
            bytes.count >= sep.count && bytes.indices.contains { bytes[$0] == sep[0] }
        }
        guard !seps.isEmpty else { return [s] }
        var parts: [String] = []
        var start = 0
        var depth = 0
        var i = 0
        outer: while i < bytes.count {
            let c = bytes[i]
            if c == backslash, i + 1 < bytes.count, bytes[i + 1] == openBrace || bytes[i + 1] == closeBrace {
                depth += bytes[i + 1] == openBrace ? 1 : -1
                i += 2
                continue
            }
            depth += bracketDepthChange(c)
            if depth == 0 {
                for sep in seps where i + sep.count <= bytes.count && bytes[i..<(i + sep.count)].elementsEqual(sep) {
                    // `\cup` must not match the start of a longer command.
                    if sep[0] == backslash, i + sep.count < bytes.count, isASCIILetter(bytes[i + sep.count]) { continue }
                    parts.append(String(decoding: bytes[start..<i], as: UTF8.self).trimmed)
                    i += sep.count
                    start = i
                    continue outer
                }
            }
            i += 1
        }
        parts.append(String(decoding: bytes[start...], as: UTF8.self).trimmed)
        return parts.count >= 2 && parts.allSatisfy({ !$0.isEmpty }) ? parts : [s]
    }

    private static let backslash = UInt8(ascii: "\\"), openBrace = UInt8(ascii: "{"), closeBrace = UInt8(ascii: "}")

    private static func bracketDepthChange(_ c: UInt8) -> Int {
        switch c {
        case UInt8(ascii: "("), UInt8(ascii: "["), UInt8(ascii: "{"): 1
        case UInt8(ascii: ")"), UInt8(ascii: "]"), UInt8(ascii: "}"): -1
        default: 0
        }
    }

    private static func isASCIILetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
