import BigInt

/// An exact rational number in lowest terms with a positive denominator. Exactness is what
/// keeps `1/2004!` and `1/2006!` apart: both round to 0 as doubles.
struct Rational: Equatable, Sendable {
    /// Results wider than this are abandoned (the check then falls back or fails): a bound on
    /// work and memory for inputs like `10^{10^{10}}`.
    static let maxBits = 1 << 16

    let numerator: BigInt
    let denominator: BigInt

    init(_ value: Int) {
        numerator = BigInt(value)
        denominator = 1
    }

    init(integer: BigInt) {
        numerator = integer
        denominator = 1
    }

    /// nil when the denominator is zero or the result is too wide.
    init?(_ numerator: BigInt, _ denominator: BigInt) {
        guard denominator != 0 else { return nil }
        guard numerator.bitWidth <= Self.maxBits, denominator.bitWidth <= Self.maxBits else { return nil }
        if denominator == 1 || numerator == 0 {
            self.numerator = numerator
            self.denominator = numerator == 0 ? 1 : denominator
            return
        }
        let divisor = numerator.greatestCommonDivisor(with: denominator)
        var n = numerator / divisor, d = denominator / divisor
        if d < 0 { n = -n; d = -d }
        self.numerator = n
        self.denominator = d
    }

    /// A decimal literal such as `12.50` as the exact fraction 1250/100.
    init?(decimal digits: String) {
        let parts = digits.split(separator: ".", omittingEmptySubsequences: false)
        guard parts.count <= 2, parts[0].count + (parts.count == 2 ? parts[1].count : 0) <= 4000 else { return nil }
        let whole = String(parts[0]), fraction = parts.count == 2 ? String(parts[1]) : ""
        guard let n = BigInt(whole + fraction + (whole.isEmpty && fraction.isEmpty ? "0" : "")) else { return nil }
        self.init(n, BigInt(10).power(fraction.count))
    }

    var isInteger: Bool { denominator == 1 }
    var isZero: Bool { numerator == 0 }

    static func + (a: Rational, b: Rational) -> Rational? {
        Rational(a.numerator * b.denominator + b.numerator * a.denominator, a.denominator * b.denominator)
    }
    static func - (a: Rational, b: Rational) -> Rational? {
        Rational(a.numerator * b.denominator - b.numerator * a.denominator, a.denominator * b.denominator)
    }
    static func * (a: Rational, b: Rational) -> Rational? {
        Rational(a.numerator * b.numerator, a.denominator * b.denominator)
    }
    static func / (a: Rational, b: Rational) -> Rational? {
        Rational(a.numerator * b.denominator, a.denominator * b.numerator)
    }
    static prefix func - (a: Rational) -> Rational { Rational(-a.numerator, a.denominator)! }

    /// Integer powers, refused when the result would be wider than `maxBits`.
    func power(_ exponent: Int) -> Rational? {
        if exponent == 0 { return isZero ? nil : Rational(1) }
        if numerator.magnitude == 1 && denominator == 1 {
            return exponent % 2 == 0 ? Rational(1) : self
        }
        let widest = max(numerator.bitWidth, denominator.bitWidth)
        guard abs(exponent) <= Self.maxBits, widest * abs(exponent) <= Self.maxBits * 2 else { return nil }
        let n = numerator.power(abs(exponent)), d = denominator.power(abs(exponent))
        return exponent > 0 ? Rational(n, d) : Rational(d, n)
    }

    /// The exact square root when numerator and denominator are perfect squares.
    func exactSquareRoot() -> Rational? {
        guard numerator >= 0 else { return nil }
        let n = numerator.squareRoot(), d = denominator.squareRoot()
        guard n * n == numerator, d * d == denominator else { return nil }
        return Rational(n, d)
    }

    /// The nearest double, computed from the top bits so that huge numerators and denominators
    /// give the right magnitude instead of inf/inf.
    var doubleValue: Double {
        let nBits = numerator.magnitude.bitWidth, dBits = denominator.bitWidth
        let nShift = max(0, nBits - 62), dShift = max(0, dBits - 62)
        let n = Double(numerator >> nShift), d = Double(denominator >> dShift)
        let scale = nShift - dShift
        let ratio = n / d
        if abs(scale) > 2000 { return scale > 0 ? ratio.sign == .minus ? -.infinity : .infinity : 0 * ratio }
        return ratio * pow2(scale)
    }
}

private func pow2(_ exponent: Int) -> Double {
    var result = 1.0
    var e = exponent
    while e > 0 { let step = min(e, 1000); result *= Double(sign: .plus, exponent: step, significand: 1); e -= step }
    while e < 0 { let step = min(-e, 1000); result /= Double(sign: .plus, exponent: step, significand: 1); e += step }
    return result
}
