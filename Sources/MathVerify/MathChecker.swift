/// The verdicts of DESIGN.md that a math check can give.
public enum MathVerdict: String, Sendable {
    case correct
    case wrongAnswer = "wrong_answer"
    case noAnswer = "no_answer"
}

public struct MathCheckResult: Sendable, Equatable {
    public let verdict: MathVerdict
    /// The final answer found in the completion (nil for `no_answer`).
    public let extracted: String?

    public var reward: Int { verdict == .correct ? 1 : 0 }
}

/// Scores a completion against a reference answer: extract, then decide equivalence.
public enum MathChecker {
    public static func check(completion: String, reference: String) -> MathCheckResult {
        guard let (answer, _) = extractAnswer(from: completion) else {
            return MathCheckResult(verdict: .noAnswer, extracted: nil)
        }
        let correct = MathEquivalence.equivalent(answer, reference)
        return MathCheckResult(verdict: correct ? .correct : .wrongAnswer, extracted: answer)
    }
}
