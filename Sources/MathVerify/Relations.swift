/// Inequalities and sets of real numbers: `x \le 3`, `-1 < x \le 4`, `x \ne 0`,
/// `x < -1 \text{ or } x > 2`, and the intervals and unions they equal.
///
/// A relation in one variable whose every comparison is linear in it is solved exactly into a
/// `RealSet` (`-y \ge -4` is `y \le 4`, `7 \ge t` is `t \le 7`), so it can be compared with
/// another relation in the same variable or with an interval or a union of intervals. Anything
/// else (two variables, `x^2 < 4`) is compared as a relation: the same kind of comparison of
/// proportional sides, the direction decided by the sign of the factor.
enum RelationOperator: Equatable {
    case less, lessEqual, greater, greaterEqual, notEqual

    var isStrict: Bool { self == .less || self == .greater }
}

/// `sides[0] ops[0] sides[1] ops[1] sides[2] ...`: a chain such as `-1 < x \le 4`.
struct RelationChain {
    var sides: [Expr]
    var ops: [RelationOperator]
}

/// Alternatives joined by "or", each a conjunction ("and") of chains.
struct RelationSystem {
    var alternatives: [[RelationChain]]

    var variables: Set<String> {
        alternatives.joined().reduce(into: []) { $0.formUnion($1.sides.reduce(into: Set<String>()) { $0.formUnion($1.variables) }) }
    }

    var isSingleComparison: Bool {
        alternatives.count == 1 && alternatives[0].count == 1 && alternatives[0][0].ops.count == 1
    }

    /// The set of values of the only variable that satisfy the system, when every comparison
    /// is linear in it; nil otherwise.
    var realSet: (variable: String, set: RealSet)? {
        let names = variables
        guard names.count == 1, let name = names.first else { return nil }
        var union = RealSet.empty
        for conjunction in alternatives {
            var set = RealSet.all
            for chain in conjunction {
                for (k, op) in chain.ops.enumerated() {
                    guard let solved = solveLinear(chain.sides[k], op, chain.sides[k + 1], variable: name) else { return nil }
                    set = set.intersection(solved)
                }
            }
            union = union.union(set)
        }
        return (name, union)
    }
}

/// A finite end of an interval.
struct Endpoint {
    let value: Value
    /// Written with a decimal point: an approximation, never equal to an irrational.
    let decimal: Bool

    func same(_ other: Endpoint) -> Bool { sameValue(value, decimal, other.value, other.decimal) }

    /// -1, 0 or 1; 0 exactly when the two are the same value.
    func order(_ other: Endpoint) -> Int {
        if same(other) { return 0 }
        if case .exact(let a) = value, case .exact(let b) = other.value, let d = a - b { return d.numerator < 0 ? -1 : 1 }
        return value.double < other.value.double ? -1 : 1
    }
}

/// Whether two values are equal (answers without variables and interval ends alike): exactly for
/// rationals, within a relative tolerance otherwise, and a decimal literal never equals an
/// irrational number.
func sameValue(_ x: Value, _ xDecimal: Bool, _ y: Value, _ yDecimal: Bool) -> Bool {
    switch (x, y) {
    case (.exact(let r), .exact(let s)): return r == s
    case (.exact, .approximate): if xDecimal { return false }
    case (.approximate, .exact): if yDecimal { return false }
    default: break
    }
    // An exact number beyond a double's range is not "close" to anything approximate.
    if (x.isExact && !x.double.isFinite) || (y.isExact && !y.double.isFinite) || x.isTiny || y.isTiny { return false }
    // Relative only: `e^{-50}` is not `e^{-40}`, however small both are.
    return MathEquivalence.close(x.double, y.double, tolerance: MathEquivalence.relativeTolerance, absolute: 0)
}

/// An interval of the real line; a nil end is infinite (and open).
struct RealInterval {
    var lower: Endpoint?
    var lowerClosed: Bool
    var upper: Endpoint?
    var upperClosed: Bool

    static let all = RealInterval(lower: nil, lowerClosed: false, upper: nil, upperClosed: false)

    var isEmpty: Bool {
        guard let lower, let upper else { return false }
        let order = lower.order(upper)
        return order > 0 || (order == 0 && !(lowerClosed && upperClosed))
    }

    func intersection(_ other: RealInterval) -> RealInterval {
        var result = self
        if let b = other.lower {
            if let a = result.lower {
                let order = a.order(b)
                if order < 0 { result.lower = b; result.lowerClosed = other.lowerClosed }
                if order == 0 { result.lowerClosed = result.lowerClosed && other.lowerClosed }
            } else {
                result.lower = b
                result.lowerClosed = other.lowerClosed
            }
        }
        if let b = other.upper {
            if let a = result.upper {
                let order = a.order(b)
                if order > 0 { result.upper = b; result.upperClosed = other.upperClosed }
                if order == 0 { result.upperClosed = result.upperClosed && other.upperClosed }
            } else {
                result.upper = b
                result.upperClosed = other.upperClosed
            }
        }
        return result
    }

    func same(_ other: RealInterval) -> Bool {
        func sameEnd(_ a: Endpoint?, _ ac: Bool, _ b: Endpoint?, _ bc: Bool) -> Bool {
            switch (a, b) {
            case (nil, nil): return true
            case (let a?, let b?): return ac == bc && a.same(b)
            default: return false
            }
        }
        return sameEnd(lower, lowerClosed, other.lower, other.lowerClosed)
            && sameEnd(upper, upperClosed, other.upper, other.upperClosed)
    }
}

/// A union of disjoint intervals in increasing order; two touching intervals are merged when
/// the point between them belongs to either, so every set has one way to be written.
struct RealSet {
    private(set) var intervals: [RealInterval]

    static let empty = RealSet(intervals: [])
    static let all = RealSet(intervals: [.all])

    init(intervals: [RealInterval]) {
        let sorted = intervals.filter { !$0.isEmpty }.sorted { a, b in
            switch (a.lower, b.lower) {
            case (nil, _): return b.lower != nil
            case (_, nil): return false
            case (let x?, let y?):
                let order = x.order(y)
                return order < 0 || (order == 0 && a.lowerClosed && !b.lowerClosed)
            }
        }
        var merged: [RealInterval] = []
        for interval in sorted {
            guard var last = merged.last else { merged.append(interval); continue }
            // Overlapping or touching with the shared point included: one interval.
            let touches: Bool
            if let end = last.upper, let start = interval.lower {
                let order = end.order(start)
                touches = order > 0 || (order == 0 && (last.upperClosed || interval.lowerClosed))
            } else {
                touches = true
            }
            guard touches else { merged.append(interval); continue }
            switch (last.upper, interval.upper) {
            case (nil, _): break
            case (_, nil): last.upper = nil; last.upperClosed = false
            case (let a?, let b?):
                let order = a.order(b)
                if order < 0 { last.upper = b; last.upperClosed = interval.upperClosed }
                if order == 0 { last.upperClosed = last.upperClosed || interval.upperClosed }
            }
            merged[merged.count - 1] = last
        }
        self.intervals = merged
    }

    func intersection(_ other: RealSet) -> RealSet {
        RealSet(intervals: intervals.flatMap { a in other.intervals.map { a.intersection($0) } })
    }

    func union(_ other: RealSet) -> RealSet { RealSet(intervals: intervals + other.intervals) }

    func same(_ other: RealSet) -> Bool {
        intervals.count == other.intervals.count && zip(intervals, other.intervals).allSatisfy { $0.same($1) }
    }
}

/// `left op right` solved for `variable` when `left - right` is linear in it with a nonzero
/// slope: the slope and intercept are computed exactly (at 0 and 1) and the linearity is then
/// confirmed at the fixed random points.
private func solveLinear(_ left: Expr, _ op: RelationOperator, _ right: Expr, variable: String) -> RealSet? {
    let f = Expr.subtract(left, right)
    let evaluator = Evaluator()
    guard let atZero = evaluator.evaluate(f.substituting(variable, with: .number(Rational(0), decimal: false))),
          let atOne = evaluator.evaluate(f.substituting(variable, with: .number(Rational(1), decimal: false)))
    else { return nil }
    let intercept = atZero
    let slope: Value
    if case .exact(let a) = atOne, case .exact(let b) = atZero, let d = a - b { slope = .exact(d) } else {
        slope = .approximate(atOne.double - atZero.double)
    }
    guard slope.double != 0, slope.double.isFinite, intercept.double.isFinite else { return nil }
    for point in MathEquivalence.samplePoints(for: [variable]) {
        guard let x = point[variable], let y = Evaluator(bindings: point).evaluate(f)?.double else { return nil }
        if !MathEquivalence.close(y, slope.double * x + intercept.double, tolerance: MathEquivalence.pointTolerance) {
            return nil
        }
    }
    // slope * v + intercept op 0  <=>  v op' -intercept / slope (op' flipped for a negative slope).
    let root: Value
    if case .exact(let a) = slope, case .exact(let b) = intercept, let r = (-b) / a { root = .exact(r) } else {
        root = .approximate(-intercept.double / slope.double)
    }
    let point = Endpoint(value: root, decimal: f.hasDecimalLiteral)
    let negative = slope.double < 0
    let below = RealSet(intervals: [RealInterval(lower: nil, lowerClosed: false, upper: point,
                                                 upperClosed: op == .lessEqual || op == .greaterEqual)])
    let above = RealSet(intervals: [RealInterval(lower: point, lowerClosed: op == .lessEqual || op == .greaterEqual,
                                                 upper: nil, upperClosed: false)])
    switch op {
    case .less, .lessEqual: return negative ? above : below
    case .greater, .greaterEqual: return negative ? below : above
    case .notEqual:
        let open = RealSet(intervals: [RealInterval(lower: nil, lowerClosed: false, upper: point, upperClosed: false),
                                       RealInterval(lower: point, lowerClosed: false, upper: nil, upperClosed: false)])
        return open
    }
}

extension Expr {
    /// This expression with every occurrence of the variable `name` replaced.
    func substituting(_ name: String, with value: Expr) -> Expr {
        switch self {
        case .variable(let v): return v == name ? value : self
        case .number, .pi, .euler, .infinity: return self
        case .negate(let a): return .negate(a.substituting(name, with: value))
        case .factorial(let a): return .factorial(a.substituting(name, with: value))
        case .function(let f, let a): return .function(f, a.substituting(name, with: value))
        case .add(let a, let b): return .add(a.substituting(name, with: value), b.substituting(name, with: value))
        case .subtract(let a, let b): return .subtract(a.substituting(name, with: value), b.substituting(name, with: value))
        case .multiply(let a, let b): return .multiply(a.substituting(name, with: value), b.substituting(name, with: value))
        case .divide(let a, let b): return .divide(a.substituting(name, with: value), b.substituting(name, with: value))
        case .power(let a, let b): return .power(a.substituting(name, with: value), b.substituting(name, with: value))
        case .root(let a, let b): return .root(index: a.substituting(name, with: value), b.substituting(name, with: value))
        case .log(let a, let b): return .log(base: a.substituting(name, with: value), b.substituting(name, with: value))
        case .binomial(let a, let b): return .binomial(a.substituting(name, with: value), b.substituting(name, with: value))
        }
    }
}
