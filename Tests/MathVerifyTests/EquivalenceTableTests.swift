import Foundation
import Testing
@testable import MathVerify

struct LabelledPair: CustomTestStringConvertible, Sendable {
    let line: Int
    let expected: Bool
    let candidate: String
    let reference: String
    let rule: String
    var testDescription: String { "line \(line): \(rule)" }
}

let fixtures = URL(fileURLWithPath: #filePath).deletingLastPathComponent().appendingPathComponent("Fixtures")

func labelledPairs() -> [LabelledPair] {
    let text = try! String(contentsOf: fixtures.appendingPathComponent("equivalence.tsv"), encoding: .utf8)
    return text.split(separator: "\n", omittingEmptySubsequences: false).enumerated().compactMap { index, line in
        if line.hasPrefix("#") || line.isEmpty { return nil }
        let columns = line.split(separator: "\t", omittingEmptySubsequences: false).map(String.init)
        precondition(columns.count == 4, "equivalence.tsv:\(index + 1): expected 4 columns")
        return LabelledPair(line: index + 1, expected: columns[0] == "1", candidate: columns[1],
                            reference: columns[2], rule: columns[3])
    }
}

@Suite struct EquivalenceTableTests {
    @Test func tableIsLargeAndBalanced() {
        let pairs = labelledPairs()
        #expect(pairs.count >= 300)
        #expect(pairs.filter(\.expected).count >= 100)
        #expect(pairs.filter { !$0.expected }.count >= 100)
    }

    @Test(arguments: labelledPairs())
    func labelledPair(_ pair: LabelledPair) {
        #expect(MathEquivalence.equivalent(pair.candidate, pair.reference) == pair.expected,
                "\(pair.candidate) vs \(pair.reference)")
    }

    /// Equivalence is symmetric for every labelled pair.
    @Test func symmetric() {
        for pair in labelledPairs() {
            #expect(MathEquivalence.equivalent(pair.candidate, pair.reference)
                    == MathEquivalence.equivalent(pair.reference, pair.candidate),
                    "line \(pair.line): \(pair.candidate) vs \(pair.reference)")
        }
    }
}
