import Foundation
#if canImport(FoundationXML)
import FoundationXML
#endif
import Formats
import Testing
@testable import Scoring

@Suite struct ScoringTests {
    /// The estimator against its definition: the fraction of k-subsets of n samples that hold
    /// at least one of the c correct ones, counted by enumeration.
    @Test func passAtKMatchesSubsetEnumeration() {
        for n in 1...8 {
            for c in 0...n {
                for k in 1...n {
                    var hits = 0, total = 0
                    for mask in 0..<(1 << n) where mask.nonzeroBitCount == k {
                        total += 1
                        if mask & ((1 << c) - 1) != 0 { hits += 1 }
                    }
                    #expect(abs(unbiasedPassAtK(n: n, c: c, k: k) - Double(hits) / Double(total)) < 1e-12, "n \(n) c \(c) k \(k)")
                }
            }
        }
        #expect(unbiasedPassAtK(n: 200, c: 0, k: 100) == 0)
        #expect(unbiasedPassAtK(n: 200, c: 150, k: 100) == 1)
    }

    func record(_ id: String, _ sample: Int, _ reward: Int, _ extracted: String?, level: Int = 1) -> Record {
        Record(["id": .string(id), "sample": .number(JSONNumber(sample)), "reward": .number(JSONNumber(reward)),
                "extracted": extracted.map(JSON.string) ?? .null, "level": .number(JSONNumber(level))])
    }

    @Test func majorityVoteAndScores() throws {
        let records = [
            // a: the majority answer (7, twice) is right.
            record("a", 0, 0, "5"), record("a", 1, 1, "7"), record("a", 2, 1, " 7"), record("a", 3, 0, nil),
            // b: the majority (3, twice) is wrong although one sample is right.
            record("b", 2, 0, "3", level: 2), record("b", 0, 1, "4", level: 2), record("b", 1, 0, "3", level: 2), record("b", 3, 0, "9", level: 2),
        ]
        let problems = try groupByProblem(records, groupField: "level")
        #expect(problems.map(\.id) == ["a", "b"])
        #expect(problems[1].samples.map(\.index) == [0, 1, 2, 3])
        #expect(problems[0].majorityCorrect(k: 4))
        #expect(!problems[1].majorityCorrect(k: 4))
        // With k = 1 the vote is the first sample alone.
        #expect(!problems[0].majorityCorrect(k: 1) && problems[1].majorityCorrect(k: 1))
        let scores = Scores(problems, ks: [1, 4])
        #expect(scores.passAt1 == (0.5 + 0.25) / 2)
        #expect(scores.passAtK[4] == 1)
        #expect(scores.majAtK[4] == 0.5)
        #expect(problems.map(\.group) == ["1", "2"])
        #expect(throws: DataError.self) { try groupByProblem([Record(["id": "x"])], groupField: nil) }
    }

    @Test func plotIsWellFormedSVG() {
        let chart = LineChart(title: "pass@1 <test> & more", xLabels: ["iter1", "iter2", "iter3"],
                              series: [(name: "ReST-EM", values: [31.5, 35, nil], color: "#c0392b")],
                              references: [(name: "base", value: 25.2, color: "#7f8c8d"), (name: "sft", value: 29.6, color: "#2980b9")])
        let svg = chart.svg()
        let parser = XMLParser(data: Data(svg.utf8))
        #expect(parser.parse(), "\(String(describing: parser.parserError))")
        #expect(svg.contains("base 25.2%") && svg.contains("&lt;test&gt;") == false && svg.contains("&lt;test>"))
        #expect(svg.components(separatedBy: "<circle").count - 1 == 2)
    }
}
