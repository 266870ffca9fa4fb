import Foundation
import Formats

/// One table across run folders (their scores.json): what each changed against the first run,
/// which iteration it chose, its test result, the tokens its E-steps sampled and the samples
/// they kept. `make ablations` writes it.
public struct RunComparison {
    public struct Run {
        public let name: String
        public let scores: JSON
        public init(name: String, scores: JSON) { self.name = name; self.scores = scores }

        var settings: [String] { scores.objectValue?["settings"]?.arrayValue?.compactMap(\.stringValue) ?? [] }

        func testPassAt1(_ model: String?) -> Double? {
            guard let model else { return nil }
            return scores.objectValue?["models"]?.objectValue?[model]?.objectValue?["test"]?.objectValue?["pass@1"]?.doubleValue
        }

        var best: String? { scores.objectValue?["best_iteration"]?.stringValue }
        var eSteps: [JSONObject] { scores.objectValue?["e_steps"]?.arrayValue?.compactMap(\.objectValue) ?? [] }

        /// Sums of an E-step field over the iterations (nil when any iteration lacks it).
        func total(_ field: String) -> Int? {
            let values = eSteps.map { $0[field]?.intValue }
            return values.isEmpty || values.contains(where: { $0 == nil }) ? nil : values.reduce(0) { $0 + $1! }
        }

        func finalSamples(_ metric: String) -> (k: String, value: Double)? {
            guard let table = scores.objectValue?["test_samples"]?.objectValue?["final"]?.objectValue?[metric]?.objectValue,
                  let k = table.keys.compactMap(Int.init).max(), let value = table["\(k)"]?.doubleValue else { return nil }
            return ("\(k)", value)
        }
    }

    public let runs: [Run]
    public init(runs: [Run]) { self.runs = runs }

    public func markdown() -> String {
        guard let reference = runs.first else { return "" }
        let referenceSettings = Set(reference.settings)
        var out = ["| run | changed settings | final | test pass@1 final | iter 1 | SFT baseline | tokens sampled | kept | "
                   + "test pass@K final | maj@K final |", "|---|---|---|---|---|---|---|---|---|---|"]
        func percent(_ value: Double?) -> String { value.map { String(format: "%.1f", $0 * 100) } ?? "-" }
        for run in runs {
            let changed = run.settings.filter { !referenceSettings.contains($0) && !$0.hasPrefix("TEMPLATE=") }
            let pass = run.finalSamples("pass@k"), maj = run.finalSamples("maj@k")
            let description: String
            if !changed.isEmpty {
                description = changed.map { "`\($0)`" }.joined(separator: " ")
            } else {
                description = run.name == reference.name ? "(reference)" : "-"
            }
            let passCell: String = pass.map { "\(percent($0.value)) (K=\($0.k))" } ?? "-"
            let majCell: String = maj.map { percent($0.value) } ?? "-"
            var tokens: String = run.total("tokens").map { String($0) } ?? "-"
            // Tokens saved (or spent) against the reference run, e.g. by adaptive rounds.
            if run.name != reference.name, let mine = run.total("tokens"), let theirs = reference.total("tokens"), theirs > 0 {
                tokens += String(format: " (%+.0f%%)", (Double(mine) / Double(theirs) - 1) * 100)
            }
            let kept: String = run.total("kept").map { String($0) } ?? "-"
            var cells: [String] = [run.name, description, run.best ?? "-"]
            cells += [percent(run.testPassAt1(run.best)), percent(run.testPassAt1("iter1")), percent(run.testPassAt1("sft"))]
            cells += [tokens, kept, passCell, majCell]
            out.append("| " + cells.joined(separator: " | ") + " |")
        }
        return out.joined(separator: "\n") + "\n"
    }
}
