import Foundation
import Testing
@testable import MathVerify

struct LabelledPair: CustomTestStringConvertible, Sendable {
    let file: String
    let line: Int
    let expected: Bool
    let candidate: String
    let reference: String
    let rule: String
    var testDescription: String { "\(file):\(line): \(rule)" }
}

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

/// The pairs of a labelled table: `expected candidate reference rule`, tab-separated, `#` comments.
/// In completions.tsv the candidate is a whole completion with its newlines written as ⏎.
func labelledPairs(_ file: String) -> [LabelledPair] {
    let text = try! String(contentsOf: fixtures.appendingPathComponent(file), encoding: .utf8)
    return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line in
        if line.hasPrefix("#") || line.isEmpty { return nil }
        let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        precondition(columns.count == 4, "\(file):\(index + 1): expected 4 columns")
        precondition(columns[0] == "1" || columns[0] == "0", "\(file):\(index + 1): label must be 0 or 1")
        return LabelledPair(file: file, line: index + 1, expected: columns[0] == "1",
                            candidate: columns[1].replacingOccurrences(of: "⏎", with: "\n"),
                            reference: columns[2], rule: columns[3])
    }
}

/// equivalence.tsv (the reference styles), model-answers.tsv (the styles models write) and
/// red-team.tsv (near misses written to make the checker accept wrong answers).
func answerPairs() -> [LabelledPair] {
    labelledPairs("equivalence.tsv") + labelledPairs("model-answers.tsv") + labelledPairs("red-team.tsv")
}

func completionPairs() -> [LabelledPair] { labelledPairs("completions.tsv") + labelledPairs("red-team-completions.tsv") }

@Suite struct EquivalenceTableTests {
    @Test func tableIsLargeAndBalanced() {
        let pairs = answerPairs()
        #expect(pairs.count >= 670)
        #expect(pairs.filter(\.expected).count >= 250)
        #expect(pairs.filter { !$0.expected }.count >= 250)
        #expect(labelledPairs("completions.tsv").count >= 40)
    }

    @Test(arguments: answerPairs())
    func labelledPair(_ pair: LabelledPair) {
        #expect(MathEquivalence.equivalent(pair.candidate, pair.reference) == pair.expected,
                "\(pair.candidate) vs \(pair.reference)")
    }

    /// Equivalence is symmetric for every labelled pair.
    @Test func symmetric() {
        for pair in answerPairs() {
            #expect(MathEquivalence.equivalent(pair.candidate, pair.reference)
                    == MathEquivalence.equivalent(pair.reference, pair.candidate),
                    "\(pair.file):\(pair.line): \(pair.candidate) vs \(pair.reference)")
        }
    }

    /// Whole completions: which answer is extracted (the last marker, a final group of boxes)
    /// and whether it matches.
    @Test(arguments: completionPairs())
    func labelledCompletion(_ pair: LabelledPair) {
        let result = MathChecker.check(completion: pair.candidate, reference: pair.reference)
        #expect((result.verdict == .correct) == pair.expected, "extracted \(result.extracted ?? "nothing") vs \(pair.reference)")
    }
}
