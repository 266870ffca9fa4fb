import Formats

/// The embedded demo task: left-to-right arithmetic chains such as `12+3-5*2`, 1 to 4
/// operations, every value (start, operands, intermediate results) in 0...19, the second
/// operand of `+` and `-` a single digit. Small enough for a 350k-parameter model trained on
/// two CPU cores to solve some but not most of them.
///
/// Two ways of writing a solution matter to the demo:
/// - the model's own step-by-step form, `12+3=15;15-5=10;10*2=20;####20`, which the base model
///   is pretrained on (on other problems) and which ReST^EM samples;
/// - the "human data": correct but terse and varied, as people write — full steps with operands
///   sometimes swapped, several operations merged into one step, or just the answer.
/// The answer marker is GSM8K's `####`, so `verify` needs nothing demo-specific.
public struct ArithmeticChain: Sendable, Equatable {
    public enum Operation: Character, Sendable, CaseIterable { case add = "+", subtract = "-", multiply = "*" }

    public let start: Int
    public let steps: [(operation: Operation, operand: Int)]

    public static let maximumValue = 19

    public static func == (a: ArithmeticChain, b: ArithmeticChain) -> Bool {
        a.start == b.start && a.steps.elementsEqual(b.steps) { $0.operation == $1.operation && $0.operand == $1.operand }
    }

    /// The values after each step, starting with `start`.
    public var values: [Int] {
        var value = start
        return [start] + steps.map { step in
            value = Self.apply(step.operation, value, step.operand)
            return value
        }
    }

    public var answer: Int { values.last! }

    /// `12+3-5*2`.
    public var problem: String { "\(start)" + steps.map { "\($0.operation.rawValue)\($0.operand)" }.joined() }

    static func apply(_ operation: Operation, _ a: Int, _ b: Int) -> Int {
        switch operation {
        case .add: a + b
        case .subtract: a - b
        case .multiply: a * b
        }
    }

    /// Every (operation, operand) that keeps the value in range from `value`. Trivial steps
    /// (+0, -0, *0, *1) are left out. Never empty: from 0..18 `+1` is allowed, from 1..19 `-1`.
    static func choices(from value: Int) -> [Operation: ClosedRange<Int>] {
        var choices: [Operation: ClosedRange<Int>] = [:]
        if value < maximumValue { choices[.add] = 1...min(9, maximumValue - value) }
        if value > 0 { choices[.subtract] = 1...min(9, value) }
        if value >= 2 && value * 2 <= maximumValue { choices[.multiply] = 2...(maximumValue / value) }
        return choices
    }

    /// A chain of `length` operations: start uniform in 0...19, then at each step an operation
    /// drawn uniformly among those possible from the current value and an operand uniformly
    /// among its allowed ones. A fixed number of draws per step: it cannot loop.
    public static func random(length: Int, using random: inout DemoRandom) -> ArithmeticChain {
        let start = random.int(0...maximumValue)
        var value = start
        var steps: [(Operation, Int)] = []
        for _ in 0..<length {
            let choices = choices(from: value)
            let operations = Operation.allCases.filter { choices[$0] != nil }
            let operation = operations[random.int(0...(operations.count - 1))]
            let operand = random.int(choices[operation]!)
            value = apply(operation, value, operand)
            steps.append((operation, operand))
        }
        return ArithmeticChain(start: start, steps: steps)
    }

    // MARK: solutions

    /// The model's form: every step written out, then the answer.
    public var stepByStepSolution: String { writtenSolution(merging: nil, swapping: []) }

    /// A solution written from `segments` of the steps: `merging` joins the steps in that range
    /// into one (`12+3-5=10`); `swapping` lists steps written with the operands of a `+` or `*`
    /// swapped (`3+12=15`).
    func writtenSolution(merging: Range<Int>?, swapping: Set<Int>) -> String {
        let values = self.values
        var out = ""
        var index = 0
        while index < steps.count {
            let end = merging.map { $0.lowerBound == index ? $0.upperBound : index + 1 } ?? index + 1
            var left = "\(values[index])"
            for step in steps[index..<end] { left += "\(step.operation.rawValue)\(step.operand)" }
            if end == index + 1, swapping.contains(index), steps[index].operation != .subtract {
                left = "\(steps[index].operand)\(steps[index].operation.rawValue)\(values[index])"
            }
            out += "\(left)=\(values[end]);"
            index = end
        }
        return out + "####\(answer)"
    }

    public enum HumanStyle: String, Sendable, CaseIterable { case full, merged, answerOnly = "answer_only" }

    /// A human-style solution: `full` steps with each `+`/`*` step's operands swapped with
    /// probability 1/3, `merged` with 2 or more consecutive operations written as one step
    /// (a chain of one operation has nothing to merge and is written in full), or the answer only.
    public func humanSolution(_ style: HumanStyle, using random: inout DemoRandom) -> String {
        switch style {
        case .full:
            let swapped = Set(steps.indices.filter { _ in random.int(0...2) == 0 })
            return writtenSolution(merging: nil, swapping: swapped)
        case .merged:
            guard steps.count >= 2 else { return stepByStepSolution }
            let span = random.int(2...steps.count)
            let start = random.int(0...(steps.count - span))
            return writtenSolution(merging: start..<(start + span), swapping: [])
        case .answerOnly:
            return "####\(answer)"
        }
    }
}

/// SplitMix64: a small, fully specified generator, so the demo data is the same on every
/// machine and Swift version (the standard library's generators promise neither).
public struct DemoRandom: Sendable {
    var state: UInt64

    public init(seed: UInt64) { state = seed &* 0x9E37_79B9_7F4A_7C15 ^ 0xD1B5_4A32_D192_ED03 }

    public mutating func next() -> UInt64 {
        state &+= 0x9E37_79B9_7F4A_7C15
        var z = state
        z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
        z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
        return z ^ (z >> 31)
    }

    /// Uniform in `range` (the modulo bias is below 2^-58 for these tiny ranges).
    public mutating func int(_ range: ClosedRange<Int>) -> Int {
        range.lowerBound + Int(next() % UInt64(range.count))
    }

    public mutating func unit() -> Double { Double(next() >> 11) / Double(1 << 53) }
}
