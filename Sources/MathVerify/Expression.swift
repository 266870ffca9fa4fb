/// A mathematical expression parsed from LaTeX.
indirect enum Expr: Equatable {
    /// A literal; `decimal` records a decimal point (an approximation, not an exact value).
    case number(Rational, decimal: Bool)
    case variable(String)
    case pi, euler, infinity
    case negate(Expr)
    case add(Expr, Expr)
    case subtract(Expr, Expr)
    case multiply(Expr, Expr)
    case divide(Expr, Expr)
    case power(Expr, Expr)
    case factorial(Expr)
    case function(String, Expr)
    case root(index: Expr, Expr)
    case log(base: Expr, Expr)
    case binomial(Expr, Expr)

    var variables: Set<String> {
        switch self {
        case .variable(let name): [name]
        case .number, .pi, .euler, .infinity: []
        case .negate(let a), .factorial(let a), .function(_, let a): a.variables
        case .add(let a, let b), .subtract(let a, let b), .multiply(let a, let b), .divide(let a, let b),
             .power(let a, let b), .root(let a, let b), .log(let a, let b), .binomial(let a, let b):
            a.variables.union(b.variables)
        }
    }

    var mentionsPi: Bool {
        switch self {
        case .pi: true
        case .number, .variable, .euler, .infinity: false
        case .negate(let a), .factorial(let a), .function(_, let a): a.mentionsPi
        case .add(let a, let b), .subtract(let a, let b), .multiply(let a, let b), .divide(let a, let b),
             .power(let a, let b), .root(let a, let b), .log(let a, let b), .binomial(let a, let b):
            a.mentionsPi || b.mentionsPi
        }
    }

    var hasDecimalLiteral: Bool {
        switch self {
        case .number(_, let decimal): decimal
        case .variable, .pi, .euler, .infinity: false
        case .negate(let a), .factorial(let a), .function(_, let a): a.hasDecimalLiteral
        case .add(let a, let b), .subtract(let a, let b), .multiply(let a, let b), .divide(let a, let b),
             .power(let a, let b), .root(let a, let b), .log(let a, let b), .binomial(let a, let b):
            a.hasDecimalLiteral || b.hasDecimalLiteral
        }
    }
}

struct ParseFailure: Error {}

/// Recursive descent over the bytes of a normalized answer. Handles `\frac`, `\sqrt[n]{}`,
/// powers with LaTeX's one-character exponents, implicit multiplication (`2\pi r`, `3(x+1)`),
/// mixed numbers (`2\frac{1}{2}`), scientific notation, factorials, `|x|`, functions, base
/// subscripts (`204_5`), and named variables. Depth is bounded.
struct ExpressionParser {
    static let maxDepth = 100
    static let functions: Set<String> = ["sin", "cos", "tan", "sec", "csc", "cot", "arcsin", "arccos", "arctan",
                                         "sinh", "cosh", "tanh", "ln", "exp", "log"]
    static let greek: Set<String> = ["alpha", "beta", "gamma", "delta", "epsilon", "varepsilon", "zeta", "eta", "theta",
                                     "vartheta", "iota", "kappa", "lambda", "mu", "nu", "xi", "rho", "sigma", "tau",
                                     "upsilon", "phi", "varphi", "chi", "psi", "omega", "Gamma", "Delta", "Theta",
                                     "Lambda", "Xi", "Sigma", "Phi", "Psi", "Omega"]

    let bytes: [UInt8]
    var index = 0
    var depth = 0

    init(_ text: String) { bytes = Array(text.utf8) }

    static func parse(_ text: String) -> Expr? {
        var parser = ExpressionParser(text)
        guard let expr = try? parser.parseExpression() else { return nil }
        parser.skipSpaces()
        return parser.index == parser.bytes.count ? expr : nil
    }

    private var current: UInt8? { index < bytes.count ? bytes[index] : nil }

    mutating func skipSpaces() {
        while index < bytes.count, bytes[index] == 0x20 { index += 1 }
    }

    private mutating func peek() -> UInt8? {
        skipSpaces()
        return current
    }

    private mutating func consume(_ byte: UInt8) -> Bool {
        if peek() == byte { index += 1; return true }
        return false
    }

    /// A backslash command name at the cursor (without consuming it), e.g. "frac".
    private func commandName(at position: Int) -> String? {
        guard position < bytes.count, bytes[position] == UInt8(ascii: "\\") else { return nil }
        var end = position + 1
        while end < bytes.count, isLetter(bytes[end]) { end += 1 }
        return end > position + 1 ? String(decoding: bytes[(position + 1)..<end], as: UTF8.self) : nil
    }

    private mutating func consumeCommand(_ name: String) -> Bool {
        skipSpaces()
        if commandName(at: index) == name { index += name.utf8.count + 1; return true }
        return false
    }

    private func isLetter(_ b: UInt8) -> Bool { (b | 0x20) >= 0x61 && (b | 0x20) <= 0x7A }
    private func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }

    private mutating func nested<T>(_ body: (inout ExpressionParser) throws -> T) throws -> T {
        depth += 1
        defer { depth -= 1 }
        if depth > Self.maxDepth { throw ParseFailure() }
        return try body(&self)
    }

    /// Terms of one sum or factors of one product: a chain builds a tree as deep as it is long,
    /// and evaluating a 300-term sum overflowed a test thread's stack.
    static let maxChain = 150

    mutating func parseExpression() throws -> Expr {
        try nested { p in
            var left = try p.parseTerm()
            var terms = 1
            while true {
                if terms > Self.maxChain { throw ParseFailure() }
                terms += 1
                if p.consume(UInt8(ascii: "+")) { left = .add(left, try p.parseTerm()) }
                else if p.consume(UInt8(ascii: "-")) { left = .subtract(left, try p.parseTerm()) }
                else { return left }
            }
        }
    }

    private mutating func parseTerm() throws -> Expr {
        var left = try parseUnary()
        var factors = 1
        while true {
            if factors > Self.maxChain { throw ParseFailure() }
            factors += 1
            if consume(UInt8(ascii: "*")) || consumeCommand("cdot") || consumeCommand("times") {
                left = .multiply(left, try parseUnary())
            } else if consume(UInt8(ascii: "/")) || consumeCommand("div") {
                left = .divide(left, try parseUnary())
            } else if startsFactor() {
                left = .multiply(left, try parsePower())
            } else {
                return left
            }
        }
    }

    /// Whether the next token can begin an implicitly multiplied factor.
    private mutating func startsFactor() -> Bool {
        guard let b = peek() else { return false }
        // `2 3` is not 6: a digit after white space is another number, not a factor.
        if isDigit(b), index > 0, bytes[index - 1] == 0x20 { return false }
        if isDigit(b) || isLetter(b) || b == UInt8(ascii: "(") || b == UInt8(ascii: "{") || b == UInt8(ascii: ".") { return true }
        if let name = commandName(at: index) {
            return !["cdot", "times", "div", "cup", "cap", "le", "ge", "pm", "mp", "in"].contains(name)
        }
        return false
    }

    private mutating func parseUnary() throws -> Expr {
        try nested { p in
            if p.consume(UInt8(ascii: "-")) { return .negate(try p.parseUnary()) }
            if p.consume(UInt8(ascii: "+")) { return try p.parseUnary() }
            return try p.parsePower()
        }
    }

    private mutating func parsePower() throws -> Expr {
        let base = try parsePostfix()
        if consume(UInt8(ascii: "^")) {
            let exponent = try parseScript()
            return .power(base, exponent)
        }
        return base
    }

    /// A superscript: `{...}`, or LaTeX's single token (`2^10` is 2^1 followed by 0). A sign may
    /// precede the token (`2^-1`).
    private mutating func parseScript(wholeNumber: Bool = true) throws -> Expr {
        try nested { p in
            if p.peek() == UInt8(ascii: "{") { return try p.parseGroup() }
            if p.consume(UInt8(ascii: "-")) { return .negate(try p.parseScript(wholeNumber: wholeNumber)) }
            guard let b = p.current else { throw ParseFailure() }
            if p.isDigit(b) {
                // `2^10`: LaTeX would raise to 1 only, but writers mean 10, so an exponent takes
                // the digit run; a command argument (`\frac12`) takes one digit, as LaTeX does.
                if wholeNumber { return try p.parseNumber() }
                p.index += 1
                return .number(Rational(Int(b - 0x30)), decimal: false)
            }
            if p.isLetter(b) {
                p.index += 1
                return .variable(String(UnicodeScalar(b)))
            }
            return try p.parsePrimary()
        }
    }

    private mutating func parsePostfix() throws -> Expr {
        var value = try parsePrimary()
        var factorials = 0
        while current == UInt8(ascii: "!") {
            // `3!!` is read as (3!)!; longer runs are not answers.
            factorials += 1
            if factorials > 2 { throw ParseFailure() }
            index += 1
            value = .factorial(value)
        }
        return value
    }

    private mutating func parseGroup() throws -> Expr {
        guard consume(UInt8(ascii: "{")) else { throw ParseFailure() }
        let inner = try parseExpression()
        guard consume(UInt8(ascii: "}")) else { throw ParseFailure() }
        return inner
    }

    /// A command argument: `{...}` or a single character (`\frac12`).
    private mutating func parseArgument() throws -> Expr {
        if peek() == UInt8(ascii: "{") { return try parseGroup() }
        return try parseScript(wholeNumber: false)
    }

    private mutating func parsePrimary() throws -> Expr {
        try nested { p in
            guard let b = p.peek() else { throw ParseFailure() }
            switch b {
            case UInt8(ascii: "0")...UInt8(ascii: "9"), UInt8(ascii: "."): return try p.parseNumber()
            case UInt8(ascii: "("), UInt8(ascii: "["):
                p.index += 1
                let inner = try p.parseExpression()
                guard p.consume(b == UInt8(ascii: "(") ? UInt8(ascii: ")") : UInt8(ascii: "]")) else { throw ParseFailure() }
                return inner
            case UInt8(ascii: "{"): return try p.parseGroup()
            case UInt8(ascii: "|"):
                p.index += 1
                let inner = try p.parseExpression()
                guard p.consume(UInt8(ascii: "|")) else { throw ParseFailure() }
                return .function("abs", inner)
            case UInt8(ascii: "\\"): return try p.parseCommand()
            default:
                guard p.isLetter(b) else { throw ParseFailure() }
                p.index += 1
                var name = String(UnicodeScalar(b))
                // `f(g(x))` is a composition, not a product f g x: not an expression we evaluate.
                if "fgh".utf8.contains(b), p.current == UInt8(ascii: "(") { throw ParseFailure() }
                if name == "e" && !p.subscriptFollows() { return .euler }
                if p.consume(UInt8(ascii: "_")) { name += "_" + (try p.subscriptText()) }
                return .variable(name)
            }
        }
    }

    private func subscriptFollows() -> Bool { current == UInt8(ascii: "_") }

    /// The text of a subscript, used as part of a name (`x_{10}` -> "x_10").
    private mutating func subscriptText() throws -> String {
        if current == UInt8(ascii: "{") {
            let start = index + 1
            var depth = 0
            while index < bytes.count {
                if bytes[index] == UInt8(ascii: "{") { depth += 1 }
                if bytes[index] == UInt8(ascii: "}") { depth -= 1; if depth == 0 { break } }
                index += 1
            }
            guard index < bytes.count else { throw ParseFailure() }
            index += 1
            return String(decoding: bytes[start..<(index - 1)], as: UTF8.self).replacingSpaces()
        }
        guard let b = current, isDigit(b) || isLetter(b) else { throw ParseFailure() }
        index += 1
        return String(UnicodeScalar(b))
    }

    private mutating func parseNumber() throws -> Expr {
        let start = index
        while let b = current, isDigit(b) { index += 1 }
        var decimal = false
        if current == UInt8(ascii: "."), index + 1 < bytes.count, isDigit(bytes[index + 1]) {
            decimal = true
            index += 1
            while let b = current, isDigit(b) { index += 1 }
        }
        let digits = String(decoding: bytes[start..<index], as: UTF8.self)
        guard !digits.isEmpty, digits != ".", var value = Rational(decimal: digits) else { throw ParseFailure() }
        // Scientific notation: 1.5e3, 2E-4.
        if let e = current, e | 0x20 == UInt8(ascii: "e") {
            var look = index + 1
            var negative = false
            if look < bytes.count, bytes[look] == UInt8(ascii: "-") || bytes[look] == UInt8(ascii: "+") {
                negative = bytes[look] == UInt8(ascii: "-")
                look += 1
            }
            let expStart = look
            while look < bytes.count, isDigit(bytes[look]) { look += 1 }
            if look > expStart, look - expStart <= 5, let exponent = Int(String(decoding: bytes[expStart..<look], as: UTF8.self)) {
                index = look
                guard let scale = Rational(10).power(negative ? -exponent : exponent), let scaled = value * scale else { throw ParseFailure() }
                value = scaled
                return .number(value, decimal: true)
            }
        }
        // A base subscript (`204_5`): the digits are compared as written.
        if current == UInt8(ascii: "_") {
            index += 1
            _ = try subscriptText()
        }
        // A mixed number: an integer directly followed by \frac of two integers.
        if !decimal, commandName(at: indexAfterSpaces()) == "frac" {
            let save = index
            if case .divide(.number(let n, false), .number(let d, false))? = try? parseFracCommand(),
               n.isInteger, d.isInteger, n.numerator >= 0, d.numerator > 0,
               let fraction = n / d, let mixed = value + fraction
            {
                return .number(mixed, decimal: false)
            }
            index = save
        }
        return .number(value, decimal: decimal)
    }

    private func indexAfterSpaces() -> Int {
        var i = index
        while i < bytes.count, bytes[i] == 0x20 { i += 1 }
        return i
    }

    /// `\sin 2x` is sin(2x): the argument runs over implicitly multiplied plain factors, but
    /// stops at another function (`\sin x \cos x`) or an operator.
    private mutating func parseFunctionArgument() throws -> Expr {
        var argument = try parseUnary()
        while let b = peek(), isDigit(b) || isLetter(b) || commandName(at: index).map({ $0 == "pi" || Self.greek.contains($0) }) == true {
            argument = .multiply(argument, try parsePower())
        }
        return argument
    }

    private mutating func parseFracCommand() throws -> Expr {
        guard consumeCommand("frac") else { throw ParseFailure() }
        let numerator = try parseArgument()
        let denominator = try parseArgument()
        return .divide(numerator, denominator)
    }

    private mutating func parseCommand() throws -> Expr {
        skipSpaces()
        guard let name = commandName(at: index) else { throw ParseFailure() }
        switch name {
        case "frac": return try parseFracCommand()
        case "binom", "dbinom", "tbinom":
            index += name.utf8.count + 1
            return .binomial(try parseArgument(), try parseArgument())
        case "sqrt":
            index += 5
            if consume(UInt8(ascii: "[")) {
                let rootIndex = try parseExpression()
                guard consume(UInt8(ascii: "]")) else { throw ParseFailure() }
                return .root(index: rootIndex, try parseArgument())
            }
            return .root(index: .number(Rational(2), decimal: false), try parseArgument())
        case "pi": index += 3; return .pi
        case "infty", "infinity": index += name.utf8.count + 1; return .infinity
        default:
            index += name.utf8.count + 1
            if Self.greek.contains(name) { return .variable(name) }
            guard Self.functions.contains(name) else { throw ParseFailure() }
            var base: Expr?
            if name == "log", consume(UInt8(ascii: "_")) { base = try parseScript() }
            var power: Expr?
            if consume(UInt8(ascii: "^")) { power = try parseScript() }
            let argument = try parseFunctionArgument()
            var result: Expr = base.map { .log(base: $0, argument) } ?? .function(name, argument)
            if let power { result = .power(result, power) }
            return result
        }
    }
}

private extension String {
    func replacingSpaces() -> String { filter { $0 != " " } }
}
