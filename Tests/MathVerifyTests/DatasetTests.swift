import Formats
import Foundation
import Testing
@testable import MathVerify

let sharedData = URL(fileURLWithPath: #filePath).deletingLastPathComponent().deletingLastPathComponent()
    .deletingLastPathComponent().appendingPathComponent("../shared/data").standardizedFileURL.path

func importRecords(_ dataset: Dataset, _ path: String) throws -> [Record] {
    var records: [Record] = []
    _ = try Importer.run(dataset, path: path) { records.append($0) }
    return records
}

@Suite struct DatasetTests {
    /// Every MATH500 reference solution, run through extraction and equivalence, matches its
    /// own answer.
    @Test func math500ReferenceSolutionsAreCorrect() throws {
        let records = try importRecords(.math, "\(sharedData)/math500/test.jsonl")
        #expect(records.count == 500)
        var wrong: [String] = []
        for record in records {
            let verdict = MathChecker.check(completion: record["solution"]!.stringValue!, reference: record["answer"]!.stringValue!)
            if verdict.verdict != .correct { wrong.append(record.id!) }
        }
        #expect(wrong.isEmpty, "\(wrong)")
    }

    /// Each MATH500 answer against every other problem's answer (124,750 pairs): wrong, except
    /// identical strings and the pairs listed below, each checked by hand to be the same value.
    @Test func math500AnswersOfOtherProblemsAreWrong() throws {
        let records = try importRecords(.math, "\(sharedData)/math500/test.jsonl")
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

    @Test func gsm8kReferenceSolutionsAreCorrect() throws {
        let records = try importRecords(.gsm8k, "\(sharedData)/gsm8k/test.jsonl")
        #expect(records.count == 1319)
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
