import Foundation
import Formats

/// The report of one ReST^EM run, from the verdict shards the Makefile leaves in a run folder:
/// greedy pass@1 of every model on validation, test and train; the E-step of every iteration
/// (sampled pass rate, pass@k, maj@k, coverage, kept samples); the choice of the final
/// iteration and of the baseline on validation (the paper's rule); per-difficulty tables.
public struct RunReport {
    /// One fine-tuned or base model and its greedy verdicts per split.
    public struct Model {
        public let name: String
        public let title: String
        public let splits: [String: [ProblemSamples]]
        /// Greedy pass@1 per split, computed once: the report asks for it many times.
        let passRates: [String: Double]

        public init(name: String, title: String, splits: [String: [ProblemSamples]]) {
            self.name = name; self.title = title; self.splits = splits
            passRates = splits.filter { !$0.value.isEmpty }.mapValues { Scores($0, ks: [1]).passAt1 }
        }

        public func passAt1(_ split: String) -> Double? { passRates[split] }
    }

    /// The E-step of one iteration: the samples drawn on train, the tokens they cost (nil when
    /// the sampler did not count them) and how many were kept.
    public struct EStep {
        public let iteration: Int
        public let samples: [ProblemSamples]
        public let kept: Int
        public let tokens: Int?
        /// How many samples got each verdict (`correct`, `wrong_answer`, `timeout`, ...); empty
        /// when the verdict records do not say.
        public let verdicts: [String: Int]
        /// Kept code samples whose program contains a pattern of harness tampering
        /// (`suspiciousPatterns`); nil when the kept samples are not code.
        public let suspicious: Int?
        public init(iteration: Int, samples: [ProblemSamples], kept: Int, tokens: Int? = nil, verdicts: [String: Int] = [:],
                    suspicious: Int? = nil) {
            self.iteration = iteration; self.samples = samples; self.kept = kept; self.tokens = tokens
            self.verdicts = verdicts; self.suspicious = suspicious
        }

        /// What a program that games the checker rather than solving the task would contain:
        /// leaving early, importing, touching files. Counted in the kept set, where a reward
        /// hack would first show up; none of the code demo's solutions needs any of them.
        public static let suspiciousPatterns = ["sys.exit", "os._exit", "__import__", "open(", "exit(", "import "]

        /// The failures by kind, most frequent first: `wrong_answer 812, runtime_error 95`.
        var failures: String {
            let failed = verdicts.filter { $0.key != "correct" }.sorted { $0.value != $1.value ? $0.value > $1.value : $0.key < $1.key }
            return failed.isEmpty ? (verdicts.isEmpty ? "-" : "none") : failed.map { "\($0.key) \($0.value)" }.joined(separator: ", ")
        }
    }

    /// K samples per test problem from one model, for pass@k and maj@k.
    public struct TestSamples {
        public let name: String
        public let title: String
        public let problems: [ProblemSamples]
        public init(name: String, title: String, problems: [ProblemSamples]) {
            self.name = name; self.title = title; self.problems = problems
        }

        /// 1, 2, 4, ... up to the samples per problem, which is always included.
        public var ks: [Int] {
            let n = problems.map(\.n).min() ?? 0
            guard n >= 1 else { return [] }
            var ks: [Int] = []
            var k = 1
            while k < n { ks.append(k); k *= 2 }
            return ks + [n]
        }
    }

    public let run: String
    public let base: Model
    public let sft: Model?
    public let control: Model?
    public let iterations: [Model]
    public let eSteps: [EStep]
    /// Shares of the human data's solution styles (`solution_style` of the train problems).
    public let humanStyles: [(style: String, share: Double)]
    public let groupField: String?
    /// The run's settings as the Makefile wrote them (`SAMPLES=16`, ...), shown as given.
    public let settings: [String]
    /// Test samples of the base, the SFT baseline and the final model (empty: none drawn).
    public let testSamples: [TestSamples]

    public init(run: String, base: Model, sft: Model?, control: Model?, iterations: [Model], eSteps: [EStep],
                humanStyles: [(style: String, share: Double)], groupField: String?, settings: [String] = [],
                testSamples: [TestSamples] = []) {
        self.run = run; self.base = base; self.sft = sft; self.control = control
        self.iterations = iterations; self.eSteps = eSteps; self.humanStyles = humanStyles; self.groupField = groupField
        self.settings = settings; self.testSamples = testSamples
        bestIteration = iterations.reduce(nil) { best, model in
            guard let value = model.passAt1("validation") else { return best }
            guard let best, let bestValue = best.passAt1("validation") else { return model }
            return value > bestValue ? model : best
        }
        if let sft, let s = sft.passAt1("validation"), let b = base.passAt1("validation"), s >= b {
            baseline = sft
        } else {
            baseline = base
        }
    }

    /// The iteration with the best validation pass@1 (the earliest on ties).
    public let bestIteration: Model?

    /// SFT on the human data, unless it is worse than the base on validation: then the base
    /// stands in (a practitioner would not ship a fine-tune that made the model worse).
    public let baseline: Model

    static func percent(_ value: Double?) -> String { value.map { String(format: "%.1f", $0 * 100) } ?? "-" }

    /// Standard error in points of the difference of two independent pass rates.
    static func standardError(_ a: Double, _ na: Int, _ b: Double, _ nb: Int) -> Double {
        100 * (a * (1 - a) / Double(max(na, 1)) + b * (1 - b) / Double(max(nb, 1))).squareRoot()
    }

    var models: [Model] { [base] + [sft, control].compactMap { $0 } + iterations }

    public func markdown() -> String {
        var out = ["# ReST^EM report: \(run)", ""]
        let splits = ["validation", "test", "train"].filter { split in models.contains { $0.splits[split] != nil } }
        let sizes = splits.map { split in "\(split) \(models.compactMap { $0.splits[split]?.count }.max() ?? 0)" }
        out.append("Greedy pass@1 (%) of every model; problems: \(sizes.joined(separator: ", ")).")
        out.append("")
        out.append("| model | " + splits.joined(separator: " | ") + " |")
        out.append("|---|" + String(repeating: "---|", count: splits.count))
        for model in models {
            let mark = model.name == bestIteration?.name ? " (best on validation)" : model.name == baseline.name ? " (baseline)" : ""
            out.append("| \(model.title)\(mark) | " + splits.map { Self.percent(model.passAt1($0)) }.joined(separator: " | ") + " |")
        }
        out.append("")
        out += verdict()
        let shown = settings.filter { !$0.hasSuffix("=") }
        if !shown.isEmpty { out += ["", "Settings: " + shown.map { "`\($0)`" }.joined(separator: " ")] }
        if let groupField {
            out += ["", "## Test pass@1 (%) by \(groupField)", ""]
            let groups = Array(Set(models.flatMap { $0.splits["test"]?.map { $0.group ?? "-" } ?? [] })).sorted(by: numericFirst)
            out.append("| model | " + groups.map { "\(groupField) \($0)" }.joined(separator: " | ") + " |")
            out.append("|---|" + String(repeating: "---|", count: groups.count))
            for model in models {
                guard let test = model.splits["test"] else { continue }
                let cells = groups.map { group -> String in
                    let subset = test.filter { ($0.group ?? "-") == group }
                    return subset.isEmpty ? "-" : Self.percent(Scores(subset, ks: [1]).passAt1)
                }
                out.append("| \(model.title) | " + cells.joined(separator: " | ") + " |")
            }
        }
        if !testSamples.isEmpty {
            let ks = testSamples.map(\.ks).min { $0.count < $1.count } ?? []
            let n = testSamples.compactMap { $0.problems.map(\.n).min() }.min() ?? 0
            out += ["", "## Test pass@k and maj@k (%): \(n) samples per test problem", ""]
            out.append("| model | " + ks.map { "pass@\($0)" }.joined(separator: " | ") + " | "
                       + ks.map { "maj@\($0)" }.joined(separator: " | ") + " |")
            out.append("|---|" + String(repeating: "---|", count: 2 * ks.count))
            for model in testSamples {
                let scores = Scores(model.problems, ks: ks)
                out.append("| \(model.title) | " + ks.map { Self.percent(scores.passAtK[$0]) }.joined(separator: " | ") + " | "
                           + ks.map { Self.percent(scores.majAtK[$0]) }.joined(separator: " | ") + " |")
            }
        }
        if !eSteps.isEmpty {
            out += ["", "## E-steps: samples of the previous model on the train problems", ""]
            out.append("| iteration | samples per problem | tokens sampled | sampled pass rate | pass@k | maj@k | problems solved | kept "
                       + "| failed samples by verdict |")
            out.append("|---|---|---|---|---|---|---|---|---|")
            for step in eSteps {
                // With adaptive rounds the problems solved early have fewer samples.
                let k = step.samples.map(\.n).min() ?? 0, most = step.samples.map(\.n).max() ?? 0
                let scores = Scores(step.samples, ks: [k].filter { $0 > 0 })
                let solved = step.samples.filter { $0.correct > 0 }.count
                out.append("| \(step.iteration) | \(k == most ? "\(k)" : "\(k)-\(most)") | \(step.tokens.map(String.init) ?? "-") "
                           + "| \(Self.percent(scores.passAt1)) | \(Self.percent(scores.passAtK[k])) (k=\(k)) "
                           + "| \(Self.percent(scores.majAtK[k])) | \(solved)/\(step.samples.count) | \(step.kept) | \(step.failures) |")
            }
            let checked = eSteps.compactMap { step in step.suspicious.map { (step.iteration, $0, step.kept) } }
            if !checked.isEmpty {
                let patterns = RunReport.EStep.suspiciousPatterns.map { "`\($0)`" }.joined(separator: ", ")
                out += ["", "Kept samples whose code contains \(patterns) (harness tampering): "
                        + checked.map { "iteration \($0.0): \($0.1) of \($0.2)" }.joined(separator: "; ") + "."]
            }
        }
        return out.joined(separator: "\n") + "\n"
    }

    /// The result in words, from the numbers: the headline comparison, iteration 1 against the
    /// base, and what the clean-data control says about where the difference comes from.
    func verdict() -> [String] {
        var out = ["## Result", ""]
        guard let best = bestIteration, let bestTest = best.passAt1("test"), let baseTest = base.passAt1("test"),
              let baselineTest = baseline.passAt1("test") else {
            return out + ["No ReST^EM iteration has test verdicts yet."]
        }
        let n = best.splits["test"]?.count ?? 0
        let gain = (bestTest - baselineTest) * 100
        let error = Self.standardError(bestTest, n, baselineTest, n)
        let baselineName = baseline.name == base.name ? "the base model (SFT on human data was worse on validation)" : "SFT on human data"
        out.append("- Final model: \(best.title), chosen on validation (\(Self.percent(best.passAt1("validation")))%). "
                   + "On test it scores \(Self.percent(bestTest))% against \(Self.percent(baselineTest))% for the baseline, "
                   + "\(baselineName): \(String(format: "%+.1f", gain)) points (standard error of the difference ±\(String(format: "%.1f", error))).")
        if let first = iterations.first, let firstTest = first.passAt1("test") {
            out.append("- Iteration 1 against the base model on test: \(Self.percent(firstTest))% vs \(Self.percent(baseTest))% "
                       + "(\(String(format: "%+.1f", (firstTest - baseTest) * 100)) points).")
        }
        if let control, let controlTest = control.passAt1("test") {
            let styles = humanStyles.map { "\(Int(($0.share * 100).rounded()))% \($0.style.replacingOccurrences(of: "_", with: " "))" }
            let mix = styles.isEmpty ? "" : " (\(styles.joined(separator: ", ")))"
            var words = "- Control: the same fine-tuning on clean, full-step solutions of the same train problems scores "
                + "\(Self.percent(controlTest))% on test. "
            let restWins = bestTest > baselineTest, cleanWins = controlTest > bestTest
            switch (restWins, cleanWins) {
            case (true, true):
                words += "So the human data loses because of how it is written\(mix), not because human data is "
                    + "worse in principle: the model learns better from several verified solutions in its own "
                    + "step-by-step form than from one terse human solution per problem, and clean step-by-step "
                    + "human solutions would beat both."
            case (true, false):
                words += "ReST^EM matches or beats even clean human solutions here: several verified samples per "
                    + "problem in the model's own form teach more than one human solution per problem."
            case (false, _) where baseline.name == base.name:
                // The baseline is the base (SFT fell below it): saying the human data won would be false.
                words += "Here ReST^EM did not beat the base model, and SFT on the human data\(mix) fell below the base "
                    + "(\(Self.percent(sft?.passAt1("test")))% on test): fine-tuning on the model's own verified samples "
                    + "did not improve on what pretraining gave."
            case (false, _):
                words += "Here ReST^EM did not beat the human data\(mix): one human solution per problem taught "
                    + "more than the model's own verified samples."
            }
            out.append(words)
        }
        return out
    }

    /// Scores of every model and E-step, for --json.
    public func json() -> JSON {
        var object = JSONObject()
        object["run"] = .string(run)
        var modelsJSON = JSONObject()
        for model in models {
            var entry = JSONObject()
            entry["title"] = .string(model.title)
            for (split, problems) in model.splits.sorted(by: { $0.key < $1.key }) {
                var scores = JSONObject([("pass@1", JSON.number(JSONNumber(model.passAt1(split) ?? 0))),
                                         ("problems", .number(JSONNumber(problems.count)))])
                if groupField != nil {
                    var groups = JSONObject()
                    for group in Array(Set(problems.map { $0.group ?? "-" })).sorted(by: numericFirst) {
                        groups[group] = .number(JSONNumber(Scores(problems.filter { ($0.group ?? "-") == group }, ks: [1]).passAt1))
                    }
                    scores["by_\(groupField!)"] = .object(groups)
                }
                entry[split] = .object(scores)
            }
            modelsJSON[model.name] = .object(entry)
        }
        object["models"] = .object(modelsJSON)
        object["best_iteration"] = bestIteration.map { .string($0.name) } ?? .null
        object["baseline"] = .string(baseline.name)
        object["settings"] = .array(settings.map(JSON.string))
        object["e_steps"] = .array(eSteps.map { step in
            let k = step.samples.map(\.n).min() ?? 0
            let scores = Scores(step.samples, ks: [k].filter { $0 > 0 })
            return .object(JSONObject([
                ("iteration", JSON.number(JSONNumber(step.iteration))), ("samples_per_problem", .number(JSONNumber(k))),
                ("pass@1", .number(JSONNumber(scores.passAt1))), ("pass@k", .number(JSONNumber(scores.passAtK[k] ?? 0))),
                ("maj@k", .number(JSONNumber(scores.majAtK[k] ?? 0))),
                ("problems_solved", .number(JSONNumber(step.samples.filter { $0.correct > 0 }.count))),
                ("kept", .number(JSONNumber(step.kept))),
                ("tokens", step.tokens.map { .number(JSONNumber($0)) } ?? .null),
                ("verdicts", .object(JSONObject(step.verdicts.sorted { $0.key < $1.key }
                    .map { ($0.key, JSON.number(JSONNumber($0.value))) }))),
                ("kept_suspicious", step.suspicious.map { .number(JSONNumber($0)) } ?? .null),
            ]))
        })
        var samplesJSON = JSONObject()
        for model in testSamples {
            let ks = model.ks, scores = Scores(model.problems, ks: ks)
            samplesJSON[model.name] = .object(JSONObject([
                ("samples_per_problem", JSON.number(JSONNumber(model.problems.map(\.n).min() ?? 0))),
                ("pass@k", .object(JSONObject(ks.map { ("\($0)", JSON.number(JSONNumber(scores.passAtK[$0] ?? 0))) }))),
                ("maj@k", .object(JSONObject(ks.map { ("\($0)", JSON.number(JSONNumber(scores.majAtK[$0] ?? 0))) }))),
            ]))
        }
        if !testSamples.isEmpty { object["test_samples"] = .object(samplesJSON) }
        return .object(object)
    }

    /// Test and train pass@1 per iteration (the base model as iteration 0), with the base, SFT on
    /// human data and the control as reference lines.
    public func chart() -> LineChart {
        // Iteration 0 is the base model, where every ReST^EM line starts.
        func line(_ split: String) -> [Double?] { ([base] + iterations).map { $0.passAt1(split).map { $0 * 100 } } }
        var series: [(name: String, values: [Double?], color: String)] = [("ReST-EM test", line("test"), "#c0392b")]
        if iterations.contains(where: { $0.splits["train"] != nil }) { series.append(("ReST-EM train", line("train"), "#e67e22")) }
        var references: [(name: String, value: Double, color: String)] = []
        if let v = base.passAt1("test") { references.append(("base", v * 100, "#7f8c8d")) }
        if let sft, let v = sft.passAt1("test") { references.append(("SFT human", v * 100, "#2980b9")) }
        if let control, let v = control.passAt1("test") { references.append(("SFT clean", v * 100, "#16a085")) }
        return LineChart(title: "greedy pass@1 (%) per ReST-EM iteration", xLabels: ["base"] + iterations.map(\.name),
                         series: series, references: references)
    }
}

extension RunReport {
    /// Test pass@k (solid) and maj@k (dashed) against k for the base, SFT and the final model.
    public func passAtKChart() -> LineChart? {
        guard !testSamples.isEmpty else { return nil }
        let ks = testSamples.map(\.ks).min { $0.count < $1.count } ?? []
        let colors = ["#7f8c8d", "#2980b9", "#c0392b", "#16a085"]
        var chart = LineChart(title: "test pass@k and maj@k (%)", xLabels: ks.map { "k=\($0)" })
        for (i, model) in testSamples.enumerated() {
            let scores = Scores(model.problems, ks: ks)
            chart.series.append(("\(model.name) pass@k", ks.map { scores.passAtK[$0].map { $0 * 100 } }, colors[i % colors.count]))
            chart.series.append(("\(model.name) maj@k", ks.map { scores.majAtK[$0].map { $0 * 100 } }, colors[i % colors.count]))
            chart.dashedSeries.insert("\(model.name) maj@k")
        }
        return chart
    }
}

/// "2" before "10"; text after numbers, alphabetically.
func numericFirst(_ a: String, _ b: String) -> Bool {
    switch (Int(a), Int(b)) {
    case let (x?, y?): x < y
    case (_?, nil): true
    case (nil, _?): false
    default: a < b
    }
}
