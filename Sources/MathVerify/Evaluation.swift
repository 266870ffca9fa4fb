import BigInt
import Foundation

/// A value: exact when every step was rational, approximate (a double) otherwise.
enum Value {
    case exact(Rational)
    case approximate(Double)

    var double: Double {
        switch self {
        case .exact(let r): r.doubleValue
        case .approximate(let d): d
        }
    }

    var isExact: Bool { if case .exact = self { true } else { false } }

    /// An exact nonzero number that a double rounds to zero or a subnormal.
    var isTiny: Bool {
        guard case .exact(let r) = self, !r.isZero else { return false }
        return Swift.abs(r.doubleValue) < 1e-300
    }
}

/// Evaluates expressions. Without variables it stays exact as long as it can (rationals,
/// perfect-square roots, integer powers, factorials, binomials); with variable bindings it
/// works in doubles. Every exact step has a size bound (`Rational.maxBits`, factorial and
/// binomial limits), so no input can make it run long.
struct Evaluator {
    static let maxFactorial = 5000
    /// Factorial and binomial factors one evaluation may multiply in all: `5000! + 5000! + ...`
    /// must not make one check take seconds.
    static let productBudget = 12_000
    var bindings: [String: Double] = [:]
    /// Shared by the whole evaluation of one expression (the evaluator is a value).
    private let spent = Budget()

    private final class Budget {
        var products = 0
    }

    init(bindings: [String: Double] = [:]) { self.bindings = bindings }

    /// Charges `n` multiplications; false once the budget is gone.
    private func charge(_ n: Int) -> Bool {
        spent.products += n
        return spent.products <= Self.productBudget
    }

    func evaluate(_ expr: Expr) -> Value? {
        switch expr {
        case .number(let r, _): return .exact(r)
        case .variable(let name):
            guard let value = bindings[name] else { return nil }
            return .approximate(value)
        case .pi: return .approximate(Double.pi)
        case .euler: return .approximate(M_E)
        case .infinity: return .approximate(.infinity)
        case .negate(let a):
            guard let v = evaluate(a) else { return nil }
            if case .exact(let r) = v { return .exact(-r) }
            return .approximate(-v.double)
        case .add(let a, let b): return combine(a, b, exact: +, approximate: +)
        case .subtract(let a, let b): return combine(a, b, exact: -, approximate: -)
        case .multiply(let a, let b): return combine(a, b, exact: *, approximate: *)
        case .divide(let a, let b):
            guard let denominator = evaluate(b) else { return nil }
            if case .exact(let d) = denominator, d.isZero { return nil }
            return combine(a, b, exact: /, approximate: /)
        case .power(let a, let b): return power(a, b)
        case .factorial(let a):
            guard case .exact(let r)? = evaluate(a), r.isInteger, let n = Int(exactly: r.numerator),
                  (0...Self.maxFactorial).contains(n), charge(n) else { return nil }
            var product = BigInt(1)
            for k in stride(from: 2, through: n, by: 1) { product *= BigInt(k) }
            return .exact(Rational(integer: product))
        case .binomial(let a, let b):
            guard case .exact(let nr)? = evaluate(a), case .exact(let kr)? = evaluate(b), nr.isInteger, kr.isInteger,
                  let n = Int(exactly: nr.numerator), let k = Int(exactly: kr.numerator),
                  (0...Self.maxFactorial).contains(n) else { return nil }
            guard (0...n).contains(k) else { return .exact(Rational(0)) }
            // One exact division of two products: no gcd per step.
            let m = min(k, n - k)
            guard charge(2 * m) else { return nil }
            var top = BigInt(1), bottom = BigInt(1)
            for i in 0..<m {
                top *= BigInt(n - i)
                bottom *= BigInt(i + 1)
            }
            return .exact(Rational(integer: top / bottom))
        case .root(let indexExpr, let a):
            guard let radicand = evaluate(a), let index = evaluate(indexExpr) else { return nil }
            if case .exact(let n) = index, n == Rational(2), case .exact(let r) = radicand, let root = r.exactSquareRoot() {
                return .exact(root)
            }
            let x = radicand.double, n = index.double
            guard n != 0 else { return nil }
            if x < 0 {
                // Odd roots of negatives are real.
                guard n.rounded() == n, let whole = Int(exactly: n), whole % 2 != 0 else { return nil }
                return .approximate(-Foundation.pow(-x, 1 / n))
            }
            if case .exact(let r) = radicand, n.rounded() == n, n > 2, n <= 64 {
                // Exact integer roots (\sqrt[3]{27}) are exact.
                let guess = Foundation.pow(x, 1 / n).rounded()
                if let whole = Int(exactly: guess), let candidate = Rational(decimal: String(whole)),
                   candidate.power(Int(n)) == r {
                    return .exact(candidate)
                }
            }
            return .approximate(Foundation.pow(x, 1 / n))
        case .log(let baseExpr, let a):
            guard let base = evaluate(baseExpr)?.double, let x = evaluate(a)?.double, base > 0, base != 1, x > 0 else { return nil }
            return .approximate(Foundation.log(x) / Foundation.log(base))
        case .function(let name, let a):
            guard let x = evaluate(a)?.double else { return nil }
            if name == "abs", case .exact(let r)? = evaluate(a) {
                return .exact(r.numerator < 0 ? -r : r)
            }
            if let special = specialAngle(name, a, x) { return .exact(special) }
            let y: Double
            switch name {
            case "abs": y = Swift.abs(x)
            case "sin": y = Foundation.sin(x)
            case "cos": y = Foundation.cos(x)
            case "tan": y = Foundation.tan(x)
            case "sec": y = 1 / Foundation.cos(x)
            case "csc": y = 1 / Foundation.sin(x)
            case "cot": y = 1 / Foundation.tan(x)
            case "arcsin": y = Foundation.asin(x)
            case "arccos": y = Foundation.acos(x)
            case "arctan": y = Foundation.atan(x)
            case "sinh": y = Foundation.sinh(x)
            case "cosh": y = Foundation.cosh(x)
            case "tanh": y = Foundation.tanh(x)
            case "ln": y = Foundation.log(x)
            case "log": y = Foundation.log(x)
            case "exp": y = Foundation.exp(x)
            default: return nil
            }
            return y.isNaN ? nil : .approximate(y)
        }
    }

    /// sin, cos and tan of a multiple of pi/12 written with pi and no decimal literal are exact
    /// where the value is rational (`\\cos\\frac{\\pi}{3}` is 1/2), so they can equal `0.5`.
    private func specialAngle(_ name: String, _ argument: Expr, _ x: Double) -> Rational? {
        guard ["sin", "cos", "tan"].contains(name), argument.mentionsPi, !argument.hasDecimalLiteral, bindings.isEmpty else { return nil }
        let twelfths = x / Double.pi * 12
        guard Swift.abs(twelfths) < 1e6, Swift.abs(twelfths - twelfths.rounded()) < 1e-9 else { return nil }
        let n = ((Int(twelfths.rounded()) % 24) + 24) % 24
        // sin at k * 30 degrees: 0, 1/2, 1, 1/2, 0, -1/2, -1, -1/2 (k = n / 2 when n is even).
        let sines: [Int: Rational] = [0: Rational(0), 2: Rational(1, 2)!, 6: Rational(1), 10: Rational(1, 2)!,
                                      12: Rational(0), 14: Rational(-1, 2)!, 18: Rational(-1), 22: Rational(-1, 2)!]
        let sine = sines[n], cosine = sines[(n + 6) % 24]
        switch name {
        case "sin": return sine
        case "cos": return cosine
        default:
            // tan at multiples of 45 degrees: 0, 1, undefined, -1.
            let tangents: [Int: Rational] = [0: Rational(0), 3: Rational(1), 9: Rational(-1), 12: Rational(0),
                                             15: Rational(1), 21: Rational(-1)]
            return tangents[n]
        }
    }

    private func combine(_ a: Expr, _ b: Expr, exact: (Rational, Rational) -> Rational?,
                         approximate: (Double, Double) -> Double) -> Value? {
        guard let x = evaluate(a), let y = evaluate(b) else { return nil }
        if case .exact(let r) = x, case .exact(let s) = y, let result = exact(r, s) { return .exact(result) }
        // An exact number too large (or small) for a double cannot meet an approximate one:
        // 2^3000 sqrt2 and 2^3000 sqrt3 would both be inf.
        guard x.double.isFinite || !x.isExact, y.double.isFinite || !y.isExact, !x.isTiny, !y.isTiny else { return nil }
        let result = approximate(x.double, y.double)
        return usable(result, from: x.double, y.double)
    }

    /// NaN is undefined; an infinity from finite inputs is overflow, which says nothing about
    /// equality (10^{10^{10}} and 10^{10^{10}}+1 both overflow), so both are "unknown".
    private func usable(_ result: Double, from x: Double, _ y: Double) -> Value? {
        if result.isNaN || (result.isInfinite && x.isFinite && y.isFinite) { return nil }
        return .approximate(result)
    }

    private func power(_ a: Expr, _ b: Expr) -> Value? {
        guard let base = evaluate(a), let exponent = evaluate(b) else { return nil }
        if case .exact(let r) = base, case .exact(let e) = exponent {
            if e.isInteger, let n = Int(exactly: e.numerator), let result = r.power(n) { return .exact(result) }
            // Rational exponents of perfect squares: 4^{3/2} = 8.
            if e.denominator == 2, let n = Int(exactly: e.numerator), let root = r.exactSquareRoot(), let result = root.power(n) {
                return .exact(result)
            }
        }
        let x = base.double, y = exponent.double
        // An exact base beyond a double's range: (5000!)^2 and (4999!)^2 would both be inf.
        if (base.isExact && !x.isFinite) || base.isTiny { return nil }
        if x < 0, y.rounded() != y {
            // Real odd roots: (-8)^{2/3} = 4, as \\sqrt[3]{(-8)^2}.
            guard case .exact(let e) = exponent, let q = Int(exactly: e.denominator), q % 2 == 1,
                  let p = Int(exactly: e.numerator) else { return nil }
            let magnitude = Foundation.pow(-x, y)
            return usable(p % 2 == 0 ? magnitude : -magnitude, from: x, y)
        }
        return usable(Foundation.pow(x, y), from: x, y)
    }
}
