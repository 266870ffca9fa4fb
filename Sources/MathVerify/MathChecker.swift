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
    /// Written into every math verdict record as `verifier`, so a verdict shard says which checker
    /// decided it. Bump it whenever any verdict or `extracted` answer can change (extraction,
    /// normalization or equivalence rules); `verify --compare` then shows what the bump changed.
    /// 2: relations, named answers, the last answer marker wins.
    public static let version = "math/2"

    public static func check(completion: String, reference: String) -> MathCheckResult {
        guard let (answer, _) = extractAnswer(from: completion) else {
            return MathCheckResult(verdict: .noAnswer, extracted: nil)
        }
        let correct = MathEquivalence.equivalent(answer, reference)
        return MathCheckResult(verdict: correct ? .correct : .wrongAnswer, extracted: answer)
    }
}
