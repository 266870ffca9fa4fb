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

/// The run report's choices (final iteration and baseline on validation) and its words.
@Suite struct RunReportTests {
    /// `correct` of `count` problems solved, one greedy sample each, difficulty = index % 2 + 1.
    func greedy(_ correct: Int, of count: Int) -> [ProblemSamples] {
        (0..<count).map { i in
            var p = ProblemSamples(id: "p\(i)", group: String(i % 2 + 1))
            p.samples = [(0, i < correct ? 1 : 0, "1")]
            return p
        }
    }

    func model(_ name: String, validation: Int, test: Int) -> RunReport.Model {
        RunReport.Model(name: name, title: name, splits: ["validation": greedy(validation, of: 100), "test": greedy(test, of: 200)])
    }

    @Test func choosesOnValidationAndReportsTheGap() {
        let report = RunReport(run: "runs/x", base: model("base", validation: 30, test: 60), sft: model("sft", validation: 35, test: 80),
                               control: model("clean", validation: 80, test: 170),
                               iterations: [model("iter1", validation: 40, test: 90), model("iter2", validation: 50, test: 96),
                                            model("iter3", validation: 50, test: 120)],
                               eSteps: [], humanStyles: [("merged", 0.4), ("full", 0.3), ("answer_only", 0.3)], groupField: "difficulty")
        // iter2 and iter3 tie on validation: the earlier one is chosen, whatever test says.
        #expect(report.bestIteration?.name == "iter2")
        #expect(report.baseline.name == "sft")
        let text = report.markdown()
        #expect(text.contains("| iter2 (best on validation) | 50.0 | 48.0 |"), "\(text)")
        #expect(text.contains("| sft (baseline) | 35.0 | 40.0 |"))
        #expect(text.contains("On test it scores 48.0% against 40.0% for the baseline, SFT on human data: +8.0 points"))
        #expect(text.contains("Iteration 1 against the base model on test: 45.0% vs 30.0% (+15.0 points)"))
        #expect(text.contains("scores 85.0% on test. So the human data loses because of how it is written (40% merged, 30% full, 30% answer only)"))
        #expect(text.contains("| difficulty 1 | difficulty 2 |"))
        let json = report.json()
        #expect(json.objectValue?["best_iteration"]?.stringValue == "iter2")
    }

    @Test func baseStandsInWhenSFTIsWorseOnValidation() {
        let report = RunReport(run: "r", base: model("base", validation: 40, test: 80), sft: model("sft", validation: 39, test: 100),
                               control: nil, iterations: [model("iter1", validation: 45, test: 100)], eSteps: [],
                               humanStyles: [], groupField: nil)
        #expect(report.baseline.name == "base")
        #expect(report.markdown().contains("for the baseline, the base model (SFT on human data was worse on validation): +10.0 points"))
        let svg = report.chart().svg()
        #expect(svg.contains("ReST-EM test") && svg.contains("SFT human") && svg.contains("base 40.0%"))
    }
}

extension RunReportTests {
    /// Regression: the words said "the human data loses" when ReST^EM had lost to it.
    @Test func wordsFollowTheNumbersWhenReSTLoses() {
        let report = RunReport(run: "r", base: model("base", validation: 10, test: 28), sft: model("sft", validation: 30, test: 72),
                               control: model("clean", validation: 70, test: 140), iterations: [model("iter1", validation: 20, test: 40)],
                               eSteps: [], humanStyles: [], groupField: nil)
        let text = report.markdown()
        #expect(text.contains("-16.0 points"))
        #expect(text.contains("Here ReST^EM did not beat the human data"))
        #expect(!text.contains("the human data loses"))
    }
}

extension RunReportTests {
    /// The E-step table gives the failed samples by verdict (a code run: timeouts, runtime
    /// errors, wrong answers) and, for code, the kept samples with tampering patterns.
    @Test func eStepTableCountsFailuresByVerdict() {
        let step = RunReport.EStep(iteration: 1, samples: greedy(3, of: 10), kept: 3,
                                   verdicts: ["correct": 3, "wrong_answer": 4, "runtime_error": 2, "timeout": 1], suspicious: 0)
        let report = RunReport(run: "r", base: model("base", validation: 10, test: 20), sft: nil, control: nil,
                               iterations: [model("iter1", validation: 20, test: 40)], eSteps: [step], humanStyles: [], groupField: nil)
        let text = report.markdown()
        #expect(text.contains("| 3/10 | 3 | wrong_answer 4, runtime_error 2, timeout 1 |"), "\(text)")
        #expect(text.contains("(harness tampering): iteration 1: 0 of 3."), "\(text)")
        let json = report.json().objectValue?["e_steps"]?.arrayValue?.first?.objectValue
        #expect(json?["verdicts"]?.objectValue?["timeout"]?.intValue == 1 && json?["kept_suspicious"]?.intValue == 0)
        // A math run: no pattern count, and a step with no failure says so.
        let clean = RunReport.EStep(iteration: 1, samples: greedy(10, of: 10), kept: 10, verdicts: ["correct": 10])
        let math = RunReport(run: "r", base: model("base", validation: 10, test: 20), sft: nil, control: nil,
                             iterations: [model("iter1", validation: 20, test: 40)], eSteps: [clean], humanStyles: [], groupField: nil)
        #expect(math.markdown().contains("| 10/10 | 10 | none |") && !math.markdown().contains("tampering"))
    }
}

extension RunReportTests {
    /// Regression: when SFT fell below the base (so the base is the baseline) and ReST^EM lost
    /// to the base, the words said the human data had won.
    @Test func wordsNameTheBaseWhenItIsTheBaseline() {
        let report = RunReport(run: "r", base: model("base", validation: 17, test: 41), sft: model("sft", validation: 1, test: 2),
                               control: model("clean", validation: 15, test: 46), iterations: [model("iter1", validation: 15, test: 36)],
                               eSteps: [], humanStyles: [], groupField: nil)
        let text = report.markdown()
        #expect(text.contains("Here ReST^EM did not beat the base model, and SFT on the human data fell below the base (1.0% on test)"),
                "\(text)")
        #expect(!text.contains("one human solution per problem taught more"))
    }
}
