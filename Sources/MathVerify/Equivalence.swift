import Foundation

/// The shape of a final answer: one expression, an equation, an ordered tuple or interval, an
/// unordered collection, a union of intervals, a matrix, or words.
indirect enum Answer {
    case expression(Expr, decimal: Bool)
    case equation(Expr, Expr)
    /// `(1, 2)`, `[0, 1)`, `(1, 2, 3)`: ordered; the brackets matter for pairs (intervals).
    case sequence(open: Character, close: Character, [Answer])
    /// `1, 2`, `\{1, 2\}`, `1 \pm \sqrt 2`: order does not matter.
    case collection([Answer])
    case union([Answer])
    case matrix([[Answer]])
    case text(String)
}

/// Decides whether two final answers are mathematically the same. Cosmetic differences are
/// removed first (see `normalize`); then answers are compared by structure and their
/// expressions by value: exactly as rationals where both sides are rational, by relative
/// tolerance 1e-9 where either is irrational (but a decimal never equals an irrational), and at
/// random points where there are variables. Every step is bounded, so each call is fast.
public enum MathEquivalence {
    /// Longer answers are compared as normalized text only.
    static let maxParsedLength = 2000

    public static func equivalent(_ candidate: String, _ reference: String) -> Bool {
        if candidate.trimmed == reference.trimmed { return true }
        // Normalizing is linear, but its rewrites are not free: huge answers only compare as text.
        guard candidate.utf8.count <= 4 * maxParsedLength, reference.utf8.count <= 4 * maxParsedLength else { return false }
        let a = normalize(candidate), b = normalize(reference)
        if a.text == b.text && a.percent == b.percent { return true }
        if a.text.isEmpty || b.text.isEmpty { return false }
        if squeezed(a.text) == squeezed(b.text) && a.percent == b.percent { return true }
        guard a.text.utf8.count <= maxParsedLength, b.text.utf8.count <= maxParsedLength else { return false }
        if isWords(a.text) || isWords(b.text) { return wordsKey(a.text) == wordsKey(b.text) }
        let x = parseAnswer(a.text), y = parseAnswer(b.text)
        if same(x, y) { return true }
        // A percent sign on one side: 50\% matches 0.5 as well as 50.
        if a.percent != b.percent, case .expression(let e, let d) = x, case .expression(let f, let g) = y {
            let hundred = Expr.number(Rational(100), decimal: false)
            return a.percent ? sameExpression(.divide(e, hundred), d, f, g) : sameExpression(e, d, .divide(f, hundred), g)
        }
        return false
    }

    // MARK: structure

    static func parseAnswer(_ text: String) -> Answer {
        let s = text.trimmed
        if s.contains("\\begin{") , let matrix = parseMatrix(s) { return matrix }
        let unionParts = splitTopLevel(s, separators: ["\\cup"])
        if unionParts.count >= 2 { return .union(unionParts.map(parseAnswer)) }
        if s.hasPrefix("\\{"), s.hasSuffix("\\}"), enclosesWhole(s, openLength: 2) {
            let inner = String(s.dropFirst(2).dropLast(2))
            return .collection(splitTopLevel(inner, separators: [","]).map(parseAnswer))
        }
        if let open = s.first, let close = s.last, "([".contains(open), ")]".contains(close), enclosesWhole(s, openLength: 1) {
            let items = splitTopLevel(String(s.dropFirst().dropLast()), separators: [","])
            if items.count >= 2 { return .sequence(open: open, close: close, items.map(parseAnswer)) }
        }
        let items = splitTopLevel(s, separators: [",", ";", " and ", " or "])
        if items.count >= 2 { return .collection(items.map(parseAnswer)) }
        for (sign, other) in [("\\pm", "\\mp"), ("\\mp", "\\pm")] where s.contains(sign) {
            let plus = s.replacingFirst(sign, with: sign == "\\pm" ? "+" : "-")
            let minus = s.replacingFirst(sign, with: sign == "\\pm" ? "-" : "+")
            _ = other
            return .collection([parseAnswer(plus), parseAnswer(minus)])
        }
        let sides = splitTopLevel(s, separators: ["="])
        if sides.count == 2, case .sequence(_, _, let names) = parseAnswer(sides[0]),
           names.allSatisfy({ if case .expression(.variable, _) = $0 { true } else { false } }) {
            // `(x, y) = (1, 2)`: the value is the right side.
            return parseAnswer(sides[1])
        }
        if sides.count == 2, let left = ExpressionParser.parse(sides[0]), let right = ExpressionParser.parse(sides[1]) {
            return .equation(left, right)
        }
        if sides.count > 2, let last = sides.last, let right = ExpressionParser.parse(last),
           sides.dropLast().allSatisfy({ ExpressionParser.parse($0).map { if case .variable = $0 { true } else { false } } ?? false }) {
            // `x = y = 3`: the value is the last side.
            return .expression(right, decimal: right.hasDecimalLiteral)
        }
        if let expr = ExpressionParser.parse(s) { return .expression(expr, decimal: expr.hasDecimalLiteral) }
        return .text(s)
    }

    static func same(_ x: Answer, _ y: Answer) -> Bool {
        switch (x, y) {
        case (.expression(let a, let da), .expression(let b, let db)):
            return sameExpression(a, da, b, db)
        case (.collection(let a), .collection(let b)), (.union(let a), .union(let b)):
            return sameUnordered(a, b)
        case (.collection(let a), _) where a.count == 1:
            return same(a[0], y)
        case (_, .collection(let b)) where b.count == 1:
            return same(x, b[0])
        case (.sequence(let o1, let c1, let a), .sequence(let o2, let c2, let b)):
            guard a.count == b.count else { return false }
            if a.count == 2, o1 != o2 || c1 != c2 { return false }
            return zip(a, b).allSatisfy { same($0, $1) }
        case (.matrix(let a), .matrix(let b)):
            return a.count == b.count && zip(a, b).allSatisfy { r, s in r.count == s.count && zip(r, s).allSatisfy { same($0, $1) } }
        case (.matrix(let m), .sequence("(", ")", let items)), (.sequence("(", ")", let items), .matrix(let m)):
            // A column or row vector written as a tuple.
            let flat = m.count == 1 ? m[0] : m.allSatisfy({ $0.count == 1 }) ? m.map { $0[0] } : []
            return flat.count == items.count && zip(flat, items).allSatisfy { same($0, $1) }
        case (.equation(let l1, let r1), .equation(let l2, let r2)):
            if case .variable(let v) = l1, case .variable(let w) = l2, v == w {
                return sameExpression(r1, r1.hasDecimalLiteral, r2, r2.hasDecimalLiteral)
            }
            return proportional(.subtract(l1, r1), .subtract(l2, r2))
        case (.equation(let l, let r), .expression(let e, let d)), (.expression(let e, let d), .equation(let l, let r)):
            // `x = 5` against `5`: the equation names the variable.
            if case .variable = l { return sameExpression(r, r.hasDecimalLiteral, e, d) }
            if case .variable = r { return sameExpression(l, l.hasDecimalLiteral, e, d) }
            return false
        case (.text(let a), .text(let b)):
            return wordsKey(a) == wordsKey(b)
        default:
            return false
        }
    }

    /// Unordered comparison: every item matched to a distinct item of the other side.
    static func sameUnordered(_ a: [Answer], _ b: [Answer]) -> Bool {
        guard a.count == b.count, a.count <= 64 else { return false }
        var unused = Array(b.indices)
        for item in a {
            guard let k = unused.firstIndex(where: { same(item, b[$0]) }) else { return false }
            unused.remove(at: k)
        }
        return true
    }

    // MARK: expressions

    static let relativeTolerance = 1e-9
    static let pointTolerance = 1e-7

    static func sameExpression(_ a: Expr, _ aDecimal: Bool, _ b: Expr, _ bDecimal: Bool) -> Bool {
        if a == b { return true }
        let variables = a.variables.union(b.variables)
        if variables.isEmpty {
            guard let x = Evaluator().evaluate(a), let y = Evaluator().evaluate(b) else { return false }
            switch (x, y) {
            case (.exact(let r), .exact(let s)): return r == s
            case (.exact, .approximate): if aDecimal { return false }
            case (.approximate, .exact): if bDecimal { return false }
            default: break
            }
            return close(x.double, y.double, tolerance: relativeTolerance)
        }
        guard variables.count <= 8 else { return false }
        var compared = 0
        for point in samplePoints(for: variables) {
            let evaluator = Evaluator(bindings: point)
            let x = evaluator.evaluate(a)?.double, y = evaluator.evaluate(b)?.double
            switch (x, y) {
            case (nil, nil): continue
            case (let x?, let y?):
                if !close(x, y, tolerance: pointTolerance) { return false }
                compared += 1
            default: return false
            }
        }
        return compared >= 3
    }

    /// `f = 0` and `g = 0` describe the same set when f = c g for a constant c != 0.
    static func proportional(_ f: Expr, _ g: Expr) -> Bool {
        let variables = f.variables.union(g.variables)
        guard !variables.isEmpty, variables.count <= 8 else { return false }
        var ratio: Double?
        var compared = 0
        for point in samplePoints(for: variables) {
            let evaluator = Evaluator(bindings: point)
            guard let x = evaluator.evaluate(f)?.double, let y = evaluator.evaluate(g)?.double else { continue }
            if Swift.abs(x) < 1e-12 && Swift.abs(y) < 1e-12 { continue }
            guard Swift.abs(y) >= 1e-12 else { return false }
            let r = x / y
            if let ratio, !close(r, ratio, tolerance: pointTolerance) { return false }
            ratio = r
            compared += 1
        }
        return compared >= 3 && ratio != 0
    }

    static func close(_ x: Double, _ y: Double, tolerance: Double) -> Bool {
        if x.isInfinite || y.isInfinite { return x == y }
        let scale = max(Swift.abs(x), Swift.abs(y))
        return Swift.abs(x - y) <= tolerance * scale || Swift.abs(x - y) < 1e-13
    }

    /// Eight fixed pseudo-random points per variable set (deterministic across runs), away
    /// from integers and zero where coincidences live.
    static func samplePoints(for variables: Set<String>) -> [[String: Double]] {
        let names = variables.sorted()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        return (0..<8).map { k in
            var point: [String: Double] = [:]
            for name in names {
                let magnitude = 0.3 + 2.4 * next()
                point[name] = k % 4 == 3 ? -magnitude : magnitude
            }
            return point
        }
    }

    // MARK: words and helpers

    /// Answers that are words ("Monday", "\text{odd}", "(C)"): compared case-insensitively.
    static func isWords(_ s: String) -> Bool {
        var run = 0
        var previous: Character = " "
        for c in s {
            if c.isLetter && c.isASCII && previous != "\\" && (run > 0 || !previous.isLetter) {
                run += 1
                if run >= 3 { return !s.contains { $0.isNumber } && !s.contains("\\") }
            } else if !(c.isLetter && c.isASCII) {
                run = 0
            }
            previous = c
        }
        return false
    }

    static func wordsKey(_ s: String) -> String {
        String(s.lowercased().filter { $0.isLetter || $0.isNumber })
    }

    static func squeezed(_ s: String) -> String { s.filter { $0 != " " } }

    static func parseMatrix(_ s: String) -> Answer? {
        for kind in ["pmatrix", "bmatrix", "matrix", "vmatrix", "Bmatrix"] {
            let begin = "\\begin{\(kind)}", end = "\\end{\(kind)}"
            guard s.hasPrefix(begin), s.hasSuffix(end) else { continue }
            let body = String(s.dropFirst(begin.count).dropLast(end.count))
            let rows = body.components(separatedBy: "\\\\").map { $0.trimmed }.filter { !$0.isEmpty }
            return .matrix(rows.map { row in row.split(separator: "&").map { parseAnswer(String($0)) } })
        }
        return nil
    }

    /// Whether the bracket opening `s` closes at its very end.
    static func enclosesWhole(_ s: String, openLength: Int) -> Bool {
        var depth = 0
        let chars = Array(s)
        var i = 0
        while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count, chars[i + 1] == "{" || chars[i + 1] == "}" {
                depth += chars[i + 1] == "{" ? 1 : -1
                i += 2
            } else {
                if "([{".contains(c) { depth += 1 }
                if ")]}".contains(c) { depth -= 1 }
                i += 1
            }
            if depth == 0 && i < chars.count { return false }
        }
        return depth == 0
    }

    /// Splits at separators that are outside all brackets.
    static func splitTopLevel(_ s: String, separators: [String]) -> [String] {
        let chars = Array(s)
        let seps = separators.map(Array.init)
        var parts: [String] = []
        var current: [Character] = []
        var depth = 0
        var i = 0
        outer: while i < chars.count {
            let c = chars[i]
            if c == "\\", i + 1 < chars.count, chars[i + 1] == "{" || chars[i + 1] == "}" {
                depth += chars[i + 1] == "{" ? 1 : -1
                current += chars[i...(i + 1)]
                i += 2
                continue
            }
            if "([{".contains(c) { depth += 1 }
            if ")]}".contains(c) { depth -= 1 }
            if depth == 0 {
                for sep in seps where i + sep.count <= chars.count && Array(chars[i..<(i + sep.count)]) == sep {
                    // `\cup` must not match the start of a longer command.
                    if sep.first == "\\", i + sep.count < chars.count, chars[i + sep.count].isLetter { continue }
                    parts.append(String(current).trimmed)
                    current = []
                    i += sep.count
                    continue outer
                }
            }
            current.append(c)
            i += 1
        }
        parts.append(String(current).trimmed)
        return parts.count >= 2 && parts.allSatisfy({ !$0.isEmpty }) ? parts : [s]
    }
}

extension String {
    func replacingFirst(_ target: String, with replacement: String) -> String {
        guard let range = range(of: target) else { return self }
        return replacingCharacters(in: range, with: replacement)
    }
}
