import Datasets
import Formats
import Foundation
import Testing
@testable import MathVerify
import TestSupport


func importRecords(_ dataset: Dataset, _ path: String) throws -> [Record] {
    var records: [Record] = []
    _ = try Importer.run(dataset, path: path) { records.append($0) }
    return records
}

/// On the committed slices: 40 MATH500 problems (chosen to hold pairs of answers that are equal
/// in another spelling) and 40 GSM8K test problems.
@Suite struct DatasetTests {
    @Test func math500ReferenceSolutionsAreCorrect() throws {
        try checkMATH500ReferenceSolutions(folder: datasetSlices, count: 40)
    }

    /// The slice holds four of the hand-checked pairs, so the check below is not vacuous.
    @Test func math500AnswersOfOtherProblemsAreWrong() throws {
        let equal = try checkMATH500CrossPairs(folder: datasetSlices)
        #expect(Set(equal).isSuperset(of: [#"5 == x=5"#, #"120^\circ == 120"#, #"\frac{1}{4} == \frac14"#,
                                           #"10,\!080 == 10080"#]), "\(equal)")
    }

    @Test func gsm8kReferenceSolutionsAreCorrect() throws {
        try checkGSM8KReferenceSolutions(folder: datasetSlices, count: 40)
    }

    /// Every MATH500 reference solution, run through extraction and equivalence, matches its
    /// own answer.
    func checkMATH500ReferenceSolutions(folder: String, count: Int) throws {
        let records = try importRecords(.math, "\(folder)/math500/test.jsonl")
        #expect(records.count == count)
        var wrong: [String] = []
        for record in records {
            let verdict = MathChecker.check(completion: record["solution"]!.stringValue!, reference: record["answer"]!.stringValue!)
            if verdict.verdict != .correct { wrong.append(record.id!) }
        }
        #expect(wrong.isEmpty, "\(wrong)")
    }

    /// Each MATH500 answer against every other problem's answer (124,750 pairs in the full set):
    /// wrong, except identical strings and the pairs listed below, each checked by hand to be the
    /// same value. Returns the pairs judged equal.
    @discardableResult
    func checkMATH500CrossPairs(folder: String) throws -> [String] {
        let records = try importRecords(.math, "\(folder)/math500/test.jsonl")
        let answers = records.map { $0["answer"]!.stringValue! }
        var equal: [String] = []
        for i in answers.indices {
            for j in (i + 1)..<answers.count where MathEquivalence.equivalent(answers[i], answers[j]) {
                equal.append("\(answers[i]) == \(answers[j])")
            }
        }
        let trulyEqual = Set(equal.filter { pair in
            let sides = pair.components(separatedBy: " == ")
            return sides[0].filter { $0 != " " } == sides[1].filter { $0 != " " } || handChecked.contains(pair)
        })
        #expect(Set(equal) == trulyEqual, "\(Set(equal).subtracting(trulyEqual).sorted())")
        print("MATH500 cross pairs judged equal: \(equal.count)")
        return equal
    }

    /// Units and markup are not part of the value (degrees, dollars, a base subscript, `\\!`,
    /// a unit with a power), lists are unordered, and `x=5` names the value 5.
    static let handCheckedPairs: Set<String> = [
        #"1,-2 == -2,1"#,
        #"10,\!080 == 10080"#,
        #"120 == 120^\circ"#,
        #"120^\circ == 120"#,
        #"30 == 30^\circ"#,
        #"30^\circ == 30"#,
        #"36 == 36^\circ"#,
        #"36 == \$36"#,
        #"36^\circ == 36"#,
        #"36^\circ == \$36"#,
        #"40_9 == 40"#,
        #"5 == x=5"#,
        #"90 == 90^\circ"#,
        #"90^\circ == 90"#,
        #"\frac14 == \frac{1}{4}"#,
        #"\frac{1}{4} == \frac14"#,
        #"x=5 == 5"#,
        #"15 == 15\mbox{ cm}^2"#,
        #"15\mbox{ cm}^2 == 15"#,
    ]
    var handChecked: Set<String> { Self.handCheckedPairs }

    func checkGSM8KReferenceSolutions(folder: String, count: Int) throws {
        let records = try importRecords(.gsm8k, "\(folder)/gsm8k/test.jsonl")
        #expect(records.count == count)
        let wrong = records.filter {
            MathChecker.check(completion: $0["solution"]!.stringValue!, reference: $0["answer"]!.stringValue!).verdict != .correct
        }
        #expect(wrong.isEmpty, "\(wrong.prefix(5).map(\.id))")
        // And against the next problem's answer, only equal numbers match.
        for (a, b) in zip(records, records.dropFirst()) {
            let same = a["answer"] == b["answer"]
            #expect(MathChecker.check(completion: a["solution"]!.stringValue!, reference: b["answer"]!.stringValue!).verdict
                    == (same ? .correct : .wrongAnswer))
        }
    }
}

/// The full datasets: 500/500 MATH500 reference solutions correct, the 124,750 cross pairs, 1319/1319
/// GSM8K. Run only when RESTEM_DATA_DIR names their folder: `make datasets` does.
@Suite(.enabled(if: fullDatasets != nil, "RESTEM_DATA_DIR names the full datasets"))
struct DatasetFullDataTests {
    @Test func math500ReferenceSolutionsAreCorrect() throws {
        try DatasetTests().checkMATH500ReferenceSolutions(folder: fullDatasets!, count: 500)
    }
    @Test func math500AnswersOfOtherProblemsAreWrong() throws {
        try DatasetTests().checkMATH500CrossPairs(folder: fullDatasets!)
    }
    @Test func gsm8kReferenceSolutionsAreCorrect() throws {
        try DatasetTests().checkGSM8KReferenceSolutions(folder: fullDatasets!, count: 1319)
    }
}
