import Foundation

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
        // Different units on both sides (`30 minutes`, `30 hours`), or dollars against percent.
        if !a.units.isEmpty && !b.units.isEmpty && a.units != b.units { return false }
        if (a.currency && b.percent) || (a.percent && b.currency) { return false }
        if a.text == b.text && a.percent == b.percent { return true }
        if a.text.isEmpty || b.text.isEmpty { return false }
        if squeezed(a.text) == squeezed(b.text) && a.percent == b.percent { return true }
        guard a.text.utf8.count <= maxParsedLength, b.text.utf8.count <= maxParsedLength else { return false }
        if isWords(a.text) || isWords(b.text) { return wordsKey(a.text) == wordsKey(b.text) }
        let x = AnswerParser.parse(a.text), y = AnswerParser.parse(b.text)
        if same(x, y) { return true }
        // A percent sign on one side: 50\% matches 0.5 as well as 50.
        if a.percent != b.percent, case .expression(let e, let d) = x, case .expression(let f, let g) = y {
            let hundred = Expr.number(Rational(100), decimal: false)
            return a.percent ? sameExpression(.divide(e, hundred), d, f, g) : sameExpression(e, d, .divide(f, hundred), g)
        }
        return false
    }

    // MARK: structure

    static func same(_ x: Answer, _ y: Answer) -> Bool {
        switch (x, y) {
        case (.expression(let a, let da), .expression(let b, let db)):
            return sameExpression(a, da, b, db)
        case (.named(let m, let a), .named(let n, let b)):
            if m.key == n.key { return same(a, b) }
            // `y = 2x + 1` and `x = (y - 1) / 2` are one line under two names.
            guard let l = m.expr, let r = n.expr, case .expression(let e, _) = a, case .expression(let f, _) = b else { return false }
            return proportional(.subtract(l, e), .subtract(r, f)) != nil
        case (.named(let m, let a), .equation(let l, let r)), (.equation(let l, let r), .named(let m, let a)):
            guard let name = m.expr, case .expression(let e, _) = a else { return false }
            return proportional(.subtract(name, e), .subtract(l, r)) != nil
        case (.named(_, let a), _) where !isNamedList(y):
            return same(a, y)
        case (_, .named(_, let b)) where !isNamedList(x):
            return same(x, b)
        case (.relation, _), (_, .relation):
            return sameRelation(x, y)
        case (.collection(let a, let aSet), .collection(let b, let bSet)):
            return sameList(aSet || bSet ? distinct(a) : a, aSet || bSet ? distinct(b) : b)
        case (.union(let a), .union(let b)):
            if let s = realSet(x), let t = realSet(y) { return s.same(t) }
            return sameUnordered(a, b)
        case (.union, .sequence), (.sequence, .union):
            guard let s = realSet(x), let t = realSet(y) else { return false }
            return s.same(t)
        case (.collection(let a, _), _) where a.count == 1:
            return same(a[0], y)
        case (_, .collection(let b, _)) where b.count == 1:
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
            return proportional(.subtract(l1, r1), .subtract(l2, r2)) != nil
        case (.ratio(let a), .ratio(let b)):
            // `2:3` is `4:6`: every cross product agrees. A zero term (`2:0`) is no ratio to compare.
            let zero = Expr.number(Rational(0), decimal: false)
            guard a.count == b.count, !(a + b).contains(where: { sameExpression($0, false, zero, false) }) else { return false }
            return (1..<a.count).allSatisfy { k in
                sameExpression(.multiply(a[0], b[k]), false, .multiply(a[k], b[0]), false)
            } && !sameExpression(a[0], false, .number(Rational(0), decimal: false), false)
              && !sameExpression(b[0], false, .number(Rational(0), decimal: false), false)
        case (.text(let a), .text(let b)):
            // Unparsed math (`\\lfloor 2.5 \\rfloor`): every symbol counts, only spaces and case do not.
            return squeezed(a).lowercased() == squeezed(b).lowercased()
        default:
            return false
        }
    }

    private static func isNamedList(_ answer: Answer) -> Bool {
        if case .collection(let items, _) = answer, items.count >= 2, items.contains(where: { if case .named = $0 { true } else { false } }) {
            return true
        }
        return false
    }

    /// Two lists. Values with distinct names (`PQ = 6, RS = 9`) are matched by name against
    /// another named list and in the written order against an unnamed one; values that all
    /// share one name (`t = -3 and t = 5/2`) are a set of solutions, compared without order.
    static func sameList(_ a: [Answer], _ b: [Answer]) -> Bool {
        let aNames = a.map(name), bNames = b.map(name)
        let aNamed = aNames.contains { $0 != nil }, bNamed = bNames.contains { $0 != nil }
        if !aNamed && !bNamed { return sameUnordered(a, b) }
        guard a.count == b.count else { return false }
        let aDistinct = Set(aNames.compactMap { $0 }).count > 1, bDistinct = Set(bNames.compactMap { $0 }).count > 1
        if aNamed && bNamed {
            // Named on both sides: the same names, each with the same values.
            guard aNames.allSatisfy({ $0 != nil }), bNames.allSatisfy({ $0 != nil }),
                  aNames.map({ $0! }).sorted() == bNames.map({ $0! }).sorted() else { return false }
            if !aDistinct { return sameUnordered(a.map(value), b.map(value)) }
            for key in Set(aNames.map { $0! }) {
                let x = a.indices.filter { aNames[$0] == key }.map { value(a[$0]) }
                let y = b.indices.filter { bNames[$0] == key }.map { value(b[$0]) }
                if !sameUnordered(x, y) { return false }
            }
            return true
        }
        if aDistinct || bDistinct { return zip(a.map(value), b.map(value)).allSatisfy { same($0, $1) } }
        return sameUnordered(a.map(value), b.map(value))
    }

    private static func name(_ answer: Answer) -> String? {
        if case .named(let label, _) = answer { return label.key }
        return nil
    }

    private static func value(_ answer: Answer) -> Answer {
        if case .named(_, let value) = answer { return value }
        return answer
    }

    /// The items of a set without repeats.
    static func distinct(_ items: [Answer]) -> [Answer] {
        // Past 64 items nothing is compared (sameUnordered refuses them): never cut a set short.
        guard items.count <= 64 else { return items }
        var kept: [Answer] = []
        for item in items where !kept.contains(where: { same($0, item) }) { kept.append(item) }
        return kept
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

    // MARK: relations

    /// A relation against a relation, an interval or a union: as sets of real numbers where
    /// both are (a relation in one variable only against one in the same variable); otherwise
    /// two single comparisons whose sides differ by a factor of the right sign.
    static func sameRelation(_ x: Answer, _ y: Answer) -> Bool {
        if case .relation(let r) = x, case .relation(let s) = y {
            if let a = r.realSet, let b = s.realSet { return a.variable == b.variable && a.set.same(b.set) }
            guard r.isSingleComparison, s.isSingleComparison else { return false }
            let (f, fOp) = positiveForm(r.alternatives[0][0]), (g, gOp) = positiveForm(s.alternatives[0][0])
            guard fOp == gOp, let ratio = proportional(f, g) else { return false }
            return fOp == .notEqual || ratio > 0
        }
        guard let a = realSet(x), let b = realSet(y) else { return false }
        return a.same(b)
    }

    /// `L < R` as `R - L > 0`, `L \ge R` as `L - R \ge 0`: a side and an operator among
    /// greater, greaterEqual and notEqual.
    private static func positiveForm(_ chain: RelationChain) -> (Expr, RelationOperator) {
        let l = chain.sides[0], r = chain.sides[1]
        switch chain.ops[0] {
        case .less: return (.subtract(r, l), .greater)
        case .lessEqual: return (.subtract(r, l), .greaterEqual)
        case .greater, .greaterEqual, .notEqual: return (.subtract(l, r), chain.ops[0])
        }
    }

    /// The answer as a set of real numbers: a relation in one variable, an interval written as
    /// a pair with brackets, or a union of those.
    static func realSet(_ answer: Answer) -> RealSet? {
        switch answer {
        case .relation(let system): return system.realSet?.set
        case .union(let parts):
            var set = RealSet.empty
            for part in parts {
                guard let s = realSet(part) else { return nil }
                set = set.union(s)
            }
            return set
        case .sequence(let open, let close, let ends) where ends.count == 2:
            guard case .expression(let a, let da) = ends[0], case .expression(let b, let db) = ends[1],
                  a.variables.isEmpty, b.variables.isEmpty else { return nil }
            let evaluator = Evaluator()
            func end(_ e: Expr, _ decimal: Bool, infinity: Expr) -> Endpoint?? {
                if e == infinity { return .some(nil) }
                guard let v = evaluator.evaluate(e), v.double.isFinite else { return nil }
                return .some(Endpoint(value: v, decimal: decimal))
            }
            guard let lower = end(a, da, infinity: .negate(.infinity)), let upper = end(b, db, infinity: .infinity) else { return nil }
            let interval = RealInterval(lower: lower, lowerClosed: open == "[", upper: upper, upperClosed: close == "]")
            // `(3, 1)` and `(3, 3)` are points, not intervals (`[3, 3]` is the set {3}).
            if let l = lower, let u = upper, l.order(u) > 0 || (l.order(u) == 0 && !(open == "[" && close == "]")) {
                return nil
            }
            return RealSet(intervals: [interval])
        default: return nil
        }
    }

    // MARK: expressions

    static let relativeTolerance = 1e-14
    static let pointTolerance = 1e-12

    static func sameExpression(_ a: Expr, _ aDecimal: Bool, _ b: Expr, _ bDecimal: Bool) -> Bool {
        if a == b { return true }
        let variables = a.variables.union(b.variables)
        if variables.isEmpty {
            guard let x = Evaluator().evaluate(a), let y = Evaluator().evaluate(b) else { return false }
            return sameValue(x, aDecimal, y, bDecimal)
        }
        guard variables.count <= 8 else { return false }
        var compared = 0
        for point in samplePoints(for: variables) {
            let evaluator = Evaluator(bindings: point)
            let x = evaluator.evaluate(a)?.double, y = evaluator.evaluate(b)?.double
            switch (x, y) {
            case (let x?, let y?):
                if !close(x, y, tolerance: pointTolerance) { return false }
                compared += 1
            case (nil, nil):
                continue
            default:
                // Defined on one side only (`\\ln(x^2)` against `2\\ln x` at x < 0): not the same.
                return false
            }
        }
        return compared >= 4
    }

    /// `f = 0` and `g = 0` describe the same set when f = c g for a constant c != 0: c, or nil.
    static func proportional(_ f: Expr, _ g: Expr) -> Double? {
        let variables = f.variables.union(g.variables)
        guard !variables.isEmpty, variables.count <= 8 else { return nil }
        var ratio: Double?
        var compared = 0
        for point in samplePoints(for: variables) {
            let evaluator = Evaluator(bindings: point)
            guard let x = evaluator.evaluate(f)?.double, let y = evaluator.evaluate(g)?.double else { continue }
            if Swift.abs(x) < 1e-12 && Swift.abs(y) < 1e-12 { continue }
            guard Swift.abs(y) >= 1e-12 else { return nil }
            let r = x / y
            if let ratio, !close(r, ratio, tolerance: pointTolerance) { return nil }
            ratio = r
            compared += 1
        }
        guard compared >= 3, let ratio, ratio != 0 else { return nil }
        return ratio
    }

    /// Within `tolerance` relative to the larger, or `absolute` (rounding noise of an identity
    /// that is zero at a sample point).
    static func close(_ x: Double, _ y: Double, tolerance: Double, absolute: Double = 1e-13) -> Bool {
        if x.isInfinite || y.isInfinite { return x == y }
        let scale = max(Swift.abs(x), Swift.abs(y))
        return Swift.abs(x - y) <= tolerance * scale || Swift.abs(x - y) < absolute
    }

    /// Twenty fixed pseudo-random points per variable set (deterministic across runs), away from
    /// integers and zero where coincidences live: sixteen of magnitude 0.3 to 2.7 and four of 4 to
    /// 40 (so `|x - 3|` is not `3 - x`), each variable with its own sign (so `|xy|` is not `xy`).
    static func samplePoints(for variables: Set<String>) -> [[String: Double]] {
        let names = variables.sorted()
        var state: UInt64 = 0x9E37_79B9_7F4A_7C15
        func next() -> Double {
            state = state &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
            return Double(state >> 11) / Double(1 << 53)
        }
        return (0..<20).map { k in
            var point: [String: Double] = [:]
            for (i, name) in names.enumerated() {
                let magnitude = k < 16 ? 0.3 + 2.4 * next() : 4 + 36 * next()
                // Each variable is negative at half the near and half the far points, and up to three
                // variables see every combination of signs among the near ones (each one twice).
                let negative = k < 16 ? (k >> (i % 3)) & 1 == 1 : ((k - 16) >> ((i + 1) % 2)) & 1 == 1
                point[name] = negative ? -magnitude : magnitude
            }
            return point
        }
    }

    // MARK: words and helpers

    /// Answers that are words ("Monday", "\\text{odd}", "New York."): a run of three letters and
    /// nothing but letters, spaces and sentence punctuation; compared case-insensitively.
    static func isWords(_ s: String) -> Bool {
        if ["no", "ok"].contains(s.lowercased()) { return true }
        guard s.allSatisfy({ ($0.isLetter && $0.isASCII) || " .,;:!?'\"-".contains($0) }) else { return false }
        var run = 0
        for c in s {
            run = c.isLetter ? run + 1 : 0
            if run >= 3 { return true }
        }
        return false
    }

    /// Words without case, spaces and sentence punctuation.
    static func wordsKey(_ s: String) -> String {
        String(s.lowercased().filter { !" .,;:!?'\"".contains($0) })
    }

    /// Without spaces, except one between two digits: `1 2` is not `12`.
    static func squeezed(_ s: String) -> String {
        var out = ""
        var previous: Character?
        var pendingSpace = false
        for c in s {
            if c == " " { pendingSpace = true; continue }
            if pendingSpace, c.isASCIIDigit, previous?.isASCIIDigit == true { out.append(" ") }
            pendingSpace = false
            out.append(c)
            previous = c
        }
        return out
    }
}
