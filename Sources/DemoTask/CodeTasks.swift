import Formats

/// The embedded code task: a Python function `f(a)` that applies 1 to 4 list operations to a
/// list of small integers. The spec names the operations but not all their parameters: those
/// must be worked out, from a one-number example (`add 3->7` is `x+4`, `mul 2->8` is `x*4`,
/// `sub 9->4` is `x-5`) or from a small sum or difference (`gt 2+3` keeps `x>5`, `take 7-4` is
/// `a[:3]`). Without that step the task is pure translation (each name one fixed line) and a
/// tiny model learns all of it at once; with it the model must do arithmetic, as in the math demo.
///
/// A problem is a function (`call`, the completion defines `f`) or a script (`stdio`, the
/// completion reads a list with `eval(input())` and prints the result). Two ways of writing a
/// solution matter:
/// - the model's own form, one operation per line on the variable `a`
///   (`def f(a):\n a=a[::-1]\n a=[x+4 for x in a]\n return a\n`), which the base model is
///   pretrained on (on other problems) and which ReST^EM samples;
/// - the "human data": correct but written as people do — other idioms (`list(reversed(a))`,
///   `filter` and `lambda`, in-place `sort()`), other names, several operations merged into one
///   nested expression, or the whole function as one line.
public struct ListProgram: Sendable, Equatable {
    public enum Operation: Sendable, Equatable {
        case reverse, sort, even, odd
        case add(Int), subtract(Int), multiply(Int), greater(Int), take(Int), drop(Int)

        var kind: String {
            switch self {
            case .reverse: "rev"
            case .sort: "sort"
            case .even: "even"
            case .odd: "odd"
            case .add: "add"
            case .subtract: "sub"
            case .multiply: "mul"
            case .greater: "gt"
            case .take: "take"
            case .drop: "drop"
            }
        }

        static let kinds = ["rev", "sort", "even", "odd", "add", "sub", "mul", "gt", "take", "drop"]

        public func apply(_ a: [Int]) -> [Int] {
            switch self {
            case .reverse: a.reversed()
            case .sort: a.sorted()
            case .even: a.filter { $0 % 2 == 0 }
            case .odd: a.filter { $0 % 2 != 0 }
            case .add(let k): a.map { $0 + k }
            case .subtract(let k): a.map { $0 - k }
            case .multiply(let k): a.map { $0 * k }
            case .greater(let t): a.filter { $0 > t }
            case .take(let n): Array(a.prefix(n))
            case .drop(let n): Array(a.dropFirst(n))
            }
        }

        /// The model's line: `a=a[::-1]`, `a=[x+4 for x in a]`, ...
        var modelLine: String {
            switch self {
            case .reverse: "a=a[::-1]"
            case .sort: "a=sorted(a)"
            case .even: "a=[x for x in a if x%2==0]"
            case .odd: "a=[x for x in a if x%2==1]"
            case .add(let k): "a=[x+\(k) for x in a]"
            case .subtract(let k): "a=[x-\(k) for x in a]"
            case .multiply(let k): "a=[x*\(k) for x in a]"
            case .greater(let t): "a=[x for x in a if x>\(t)]"
            case .take(let n): "a=a[:\(n)]"
            case .drop(let n): "a=a[\(n):]"
            }
        }

        /// A human's expression for this operation applied to the list expression `e`, with
        /// element name `y`; `variant` picks one of the idioms (taken modulo their count).
        func expression(of e: String, element y: String, variant: Int) -> String {
            func pick(_ options: [String]) -> String { options[variant % options.count] }
            switch self {
            case .reverse: return pick(["\(e)[::-1]", "list(reversed(\(e)))"])
            case .sort: return "sorted(\(e))"
            case .even: return pick(["[\(y) for \(y) in \(e) if \(y)%2==0]", "[\(y) for \(y) in \(e) if not \(y)%2]",
                                     "list(filter(lambda \(y):\(y)%2==0,\(e)))"])
            case .odd: return pick(["[\(y) for \(y) in \(e) if \(y)%2]", "list(filter(lambda \(y):\(y)%2,\(e)))"])
            case .add(let k): return pick(["[\(y)+\(k) for \(y) in \(e)]", "list(map(lambda \(y):\(y)+\(k),\(e)))",
                                           "[\(k)+\(y) for \(y) in \(e)]"])
            case .subtract(let k): return pick(["[\(y)-\(k) for \(y) in \(e)]", "list(map(lambda \(y):\(y)-\(k),\(e)))"])
            case .multiply(let k): return pick(["[\(y)*\(k) for \(y) in \(e)]", "[\(k)*\(y) for \(y) in \(e)]",
                                                "list(map(lambda \(y):\(k)*\(y),\(e)))"])
            case .greater(let t): return pick(["[\(y) for \(y) in \(e) if \(y)>\(t)]", "list(filter(lambda \(y):\(y)>\(t),\(e)))",
                                               "[\(y) for \(y) in \(e) if \(t)<\(y)]"])
            case .take(let n): return pick(["\(e)[:\(n)]", "\(e)[0:\(n)]"])
            case .drop(let n): return "\(e)[\(n):]"
            }
        }
    }

    public enum Format: String, Sendable, CaseIterable { case call, stdio }

    public let operations: [Operation]
    /// How the spec gives each operation (`add 3->7`, `gt 2+3`, `rev`), in order.
    public let specs: [String]
    public let format: Format

    public init(operations: [Operation], specs: [String], format: Format) {
        precondition(operations.count == specs.count)
        self.operations = operations; self.specs = specs; self.format = format
    }

    /// `f:rev;add 3->7;take 7-4` (a function) or `io:...` (a script reading stdin).
    public var problem: String { (format == .call ? "f:" : "io:") + specs.joined(separator: ";") }

    public func apply(_ a: [Int]) -> [Int] { operations.reduce(a) { $1.apply($0) } }

    // MARK: drawing problems

    /// An operation of `kind` with its parameter and its spec, which hides the parameter
    /// behind an example or a sum/difference of numbers in 0...19 (so the arithmetic facts of
    /// the math demo are the facts needed).
    static func draw(kind: String, using random: inout DemoRandom) -> (Operation, String) {
        /// `p+q` or `p-q` equal to `value`, q in 1...9.
        func sum(_ value: Int) -> String {
            if value >= 1 && random.int(0...1) == 0 {
                let q = random.int(1...min(9, value))
                return "\(value - q)+\(q)"
            }
            let q = random.int(1...9)
            return "\(value + q)-\(q)"
        }
        switch kind {
        case "rev": return (.reverse, "rev")
        case "sort": return (.sort, "sort")
        case "even": return (.even, "even")
        case "odd": return (.odd, "odd")
        case "add":
            let k = random.int(1...9), v = random.int(0...(19 - k))
            return (.add(k), "add \(v)->\(v + k)")
        case "sub":
            let k = random.int(1...9), v = random.int(k...19)
            return (.subtract(k), "sub \(v)->\(v - k)")
        case "mul":
            let k = random.int(2...4), v = random.int(1...(19 / k))
            return (.multiply(k), "mul \(v)->\(v * k)")
        case "gt":
            let t = random.int(1...7)
            return (.greater(t), "gt \(sum(t))")
        case "take":
            let n = random.int(1...5)
            return (.take(n), "take \(sum(n))")
        default:
            let n = random.int(1...4)
            return (.drop(n), "drop \(sum(n))")
        }
    }

    /// A problem of `length` operations: kinds drawn uniformly, never the same kind twice in a
    /// row, at most one sort and one of even/odd, and redrawn (a bounded number of times)
    /// until the result on 0...9 in a shuffled order keeps at least one element, so that
    /// returning `[]` never passes.
    public static func random(length: Int, format: Format, using random: inout DemoRandom) -> ListProgram {
        var best: ListProgram?
        for _ in 0..<50 {
            var operations: [Operation] = [], specs: [String] = []
            var kinds: [String] = []
            while operations.count < length {
                let kind = Operation.kinds[random.int(0...(Operation.kinds.count - 1))]
                if kind == kinds.last { continue }
                if kind == "sort" && kinds.contains("sort") { continue }
                if ["even", "odd"].contains(kind) && (kinds.contains("even") || kinds.contains("odd")) { continue }
                let (operation, spec) = draw(kind: kind, using: &random)
                operations.append(operation); specs.append(spec); kinds.append(kind)
            }
            let program = ListProgram(operations: operations, specs: specs, format: format)
            best = program
            if !program.apply(Self.probe).isEmpty { break }
        }
        return best!
    }

    /// A fixed shuffle of 0...9, the first test of every problem: most wrong parameters change
    /// the result on it (unless an earlier filter removed the elements that would tell).
    static let probe = [3, 8, 1, 6, 0, 9, 4, 7, 2, 5]

    // MARK: tests

    /// Hidden tests: the probe plus random lists (3 to 7 elements in 0...9). Call problems get
    /// 5 cases (one sandbox run for all); stdio problems 3 (a process per case, so fewer).
    public func tests(using random: inout DemoRandom) -> JSON {
        let count = format == .call ? 5 : 3
        var inputs = [Self.probe]
        while inputs.count < count {
            inputs.append((0..<random.int(3...7)).map { _ in random.int(0...9) })
        }
        func list(_ a: [Int]) -> JSON { .array(a.map { .number(JSONNumber($0)) }) }
        switch format {
        case .call:
            return ["call": ["fn_name": "f", "inputs": .array(inputs.map { .array([list($0)]) }),
                             "outputs": .array(inputs.map { list(apply($0)) })]]
        case .stdio:
            return ["stdio": .array(inputs.map { input in
                ["input": .string(Self.pythonList(input) + "\n"), "output": .string(Self.pythonList(apply(input)) + "\n")]
            })]
        }
    }

    /// How Python prints a list of ints: `[4, 2]`.
    static func pythonList(_ a: [Int]) -> String { "[" + a.map(String.init).joined(separator: ", ") + "]" }

    // MARK: solutions

    /// The model's form: one operation per line on `a`.
    public var modelSolution: String {
        let lines = operations.map(\.modelLine)
        switch format {
        case .call: return "def f(a):\n" + lines.map { " \($0)\n" }.joined() + " return a\n"
        case .stdio: return "a=eval(input())\n" + lines.map { "\($0)\n" }.joined() + "print(a)\n"
        }
    }

    public enum HumanStyle: String, Sendable, CaseIterable { case idioms, merged, oneLine = "one_line" }

    /// A human-style solution, correct and varied: `idioms` writes one operation per statement
    /// but with other idioms (`list(reversed(v))`, `filter`/`lambda`, in-place `v.sort()`),
    /// another variable name and indentation; `merged` also nests 2 or more consecutive
    /// operations into one expression (a one-operation problem has nothing to merge and is
    /// written as `idioms`); `one_line` nests all of them (`f=lambda v:sorted(v)[:3]`, or
    /// `return ...`, or `print(...)` around `eval(input())`).
    public func humanSolution(_ style: HumanStyle, using random: inout DemoRandom) -> String {
        let names = ["l", "xs", "nums", "b", "arr", "lst", "s", "data"], elements = ["y", "n", "i", "e", "v", "k", "t"]
        let v = names[random.int(0...(names.count - 1))], y = elements[random.int(0...(elements.count - 1))]
        let indent = ["    ", "  ", "\t", " "][random.int(0...3)]
        func nested(_ range: Range<Int>, from e: String) -> String {
            operations[range].reduce(e) { inner, operation in
                operation.expression(of: inner, element: y, variant: random.int(0...5))
            }
        }
        if style == .oneLine {
            switch format {
            case .call:
                let body = nested(0..<operations.count, from: v)
                return random.int(0...1) == 0 ? "f=lambda \(v):\(body)\n" : "def f(\(v)):\n\(indent)return \(body)\n"
            case .stdio:
                return "print(\(nested(0..<operations.count, from: "eval(input())")))\n"
            }
        }
        var merge: Range<Int>?
        if style == .merged && operations.count >= 2 {
            let span = random.int(2...operations.count), start = random.int(0...(operations.count - span))
            merge = start..<(start + span)
        }
        var statements: [String] = []
        var index = 0
        while index < operations.count {
            if let merge, merge.lowerBound == index {
                statements.append("\(v)=\(nested(merge, from: v))")
                index = merge.upperBound
                continue
            }
            let operation = operations[index]
            // In place: people often sort or reverse the list itself.
            if operation == .sort && random.int(0...1) == 0 {
                statements.append("\(v).sort()")
            } else if operation == .reverse && random.int(0...2) == 0 {
                statements.append("\(v).reverse()")
            } else {
                statements.append("\(v)=\(operation.expression(of: v, element: y, variant: random.int(0...5)))")
            }
            index += 1
        }
        switch format {
        case .call:
            return "def f(\(v)):\n" + statements.map { "\(indent)\($0)\n" }.joined() + "\(indent)return \(v)\n"
        case .stdio:
            return "\(v)=eval(input())\n" + statements.map { "\($0)\n" }.joined() + "print(\(v))\n"
        }
    }
}

