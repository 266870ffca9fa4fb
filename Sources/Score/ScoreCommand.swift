import ArgumentParser
import Foundation
import Formats
import Scoring
import ToolSupport

@main
struct ScoreCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "score",
        abstract: "pass@1, unbiased pass@k and maj@k of verdict shards, as Markdown, JSON and an SVG plot.",
        discussion: """
            Inputs are verdict shards (from verify), optionally labelled LABEL=FILE. Labels that \
            start with "iter" are plotted as a line in the order given; other labels (base, \
            sft, ...) are drawn as reference lines.

            Examples:
              score verdicts.jsonl.zst --k 1,4,8
              score base=base/test.jsonl.zst sft=sft/test.jsonl.zst iter1=iter1/test.jsonl.zst --plot report.svg --json scores.json
              score iter2/test.jsonl.zst --by level
            """)

    @Argument(help: "Verdict shards, as FILE or LABEL=FILE.") var inputs: [String]
    @Option(help: "The k of pass@k and maj@k (comma-separated).") var k = "1"
    @Option(help: "Also break the scores down by this record field (level, difficulty, ...).") var by: String?
    @Option(help: "Write the scores as JSON to this file.") var json: String?
    @Option(help: "Write an SVG plot of pass@1 to this file.") var plot: String?
    @Option(help: "Title of the plot.") var title = "pass@1 (%)"

    func validate() throws {
        if inputs.isEmpty { throw ValidationError("give verdict shards") }
        if ks == nil { throw ValidationError("--k takes positive integers separated by commas") }
    }

    var ks: [Int]? {
        let values = k.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return values.allSatisfy { ($0 ?? 0) >= 1 } ? values.compactMap { $0 } : nil
    }

    func run() throws {
        try reportingDataErrors(tool: "score") {
            let ks = self.ks!
            var labelled: [(label: String, problems: [ProblemSamples])] = []
            for input in inputs {
                let parts = input.split(separator: "=", maxSplits: 1).map(String.init)
                let (label, path) = parts.count == 2 && !parts[0].contains("/") ? (parts[0], parts[1]) : (input, input)
                var records: [Record] = []
                let reader = try ShardReader(path: path)
                try reader.forEachRecord { records.append($0) }
                do {
                    labelled.append((label, try groupByProblem(records, groupField: by)))
                } catch let error as DataError { throw error.located(path) }
            }
            func percent(_ v: Double?) -> String { v.map { String(format: "%.1f", $0 * 100) } ?? "-" }
            var header = "| run | problems | samples | pass@1 |"
            for k in ks where k > 1 { header += " pass@\(k) |" }
            for k in ks { header += " maj@\(k) |" }
            var lines = [header, "|" + String(repeating: "---|", count: header.filter { $0 == "|" }.count - 1)]
            var report = JSONObject()
            for (label, problems) in labelled {
                let scores = Scores(problems, ks: ks)
                var row = "| \(label) | \(scores.problems) | \(scores.samplesPerProblem) | \(percent(scores.passAt1)) |"
                for k in ks where k > 1 { row += " \(percent(scores.passAtK[k])) |" }
                for k in ks { row += " \(percent(scores.majAtK[k])) |" }
                lines.append(row)
                var entry = scoresJSON(scores)
                if let by {
                    var groups = JSONObject()
                    let names = Array(Set(problems.map { $0.group ?? "-" })).sorted()
                    for name in names { groups[name] = .object(scoresJSON(Scores(problems.filter { ($0.group ?? "-") == name }, ks: ks))) }
                    entry["by_\(by)"] = .object(groups)
                }
                report[label] = .object(entry)
            }
            print(lines.joined(separator: "\n"))
            if let by {
                print("\npass@1 by \(by):\n")
                let names = Array(Set(labelled.flatMap { $0.problems.map { $0.group ?? "-" } })).sorted { a, b in
                    if let x = Int(a), let y = Int(b) { return x < y }
                    return a < b
                }
                print("| run | " + names.map { "\(by) \($0)" }.joined(separator: " | ") + " |")
                print("|---|" + String(repeating: "---|", count: names.count))
                for (label, problems) in labelled {
                    let cells = names.map { name -> String in
                        let subset = problems.filter { ($0.group ?? "-") == name }
                        return subset.isEmpty ? "-" : "\(percent(Scores(subset, ks: [1]).passAt1)) (\(subset.count))"
                    }
                    print("| \(label) | " + cells.joined(separator: " | ") + " |")
                }
            }
            if let json { try writeText(JSON.object(report).serialized() + "\n", to: json) }
            if let plot {
                let iterations = labelled.filter { $0.label.hasPrefix("iter") }
                let palette = ["#c0392b", "#7f8c8d", "#2980b9", "#8e44ad", "#16a085"]
                let references = labelled.filter { !$0.label.hasPrefix("iter") }.enumerated().map { i, run in
                    (name: run.label, value: Scores(run.problems, ks: [1]).passAt1 * 100, color: palette[(i + 1) % palette.count])
                }
                let chart = LineChart(title: title, xLabels: iterations.map(\.label),
                                      series: iterations.isEmpty ? [] : [(name: "ReST-EM", values: iterations.map { Scores($0.problems, ks: [1]).passAt1 * 100 }, color: palette[0])],
                                      references: references)
                try writeText(chart.svg(), to: plot)
            }
        }
    }

    func scoresJSON(_ scores: Scores) -> JSONObject {
        var o = JSONObject()
        o["problems"] = .number(JSONNumber(scores.problems))
        o["samples_per_problem"] = .number(JSONNumber(scores.samplesPerProblem))
        o["pass@1"] = .number(JSONNumber(scores.passAt1))
        for (k, v) in scores.passAtK.sorted(by: { $0.key < $1.key }) where k > 1 { o["pass@\(k)"] = .number(JSONNumber(v)) }
        for (k, v) in scores.majAtK.sorted(by: { $0.key < $1.key }) { o["maj@\(k)"] = .number(JSONNumber(v)) }
        return o
    }

    /// Whole-file text output, atomically.
    func writeText(_ text: String, to path: String) throws {
        let file = try AtomicFile(path: path)
        var copy = text
        try copy.withUTF8 { try file.write(UnsafeRawBufferPointer($0)) }
        try file.commit()
    }
}
