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
              score --best 100=steps/100.validation.jsonl.zst 200=steps/200.validation.jsonl.zst
              score --run runs/demo --by difficulty
              score --runs runs/demo runs/demo-cap1 runs/demo-previous

            --best prints only the label of the input with the highest pass@1 (the first on \
            ties): the Makefile picks checkpoints and iterations with it.

            --run DIR reads the run folder the Makefile writes (base/, sft/, clean/, iter1/, ... \
            each with validation, test and train greedy verdicts; iterN/verdicts.jsonl.zst and \
            kept.jsonl.zst from the E-step; settings.txt, KEY=value lines) and writes DIR/report.md (also printed), \
            DIR/report.svg and DIR/scores.json. The final iteration is the best on validation; \
            the baseline is SFT on human data, or the base model if SFT is worse on validation. \
            With DIR/passk/{base,sft,final}.jsonl.zst (K samples per test problem) it adds the \
            test pass@k and maj@k table and DIR/report-passk.svg.

            --runs DIR... prints one Markdown table across run folders (make ablations): the \
            settings each changed against the first, its final iteration, test pass@1, tokens \
            sampled, samples kept and test pass@K / maj@K of the final model.
            """)

    @Argument(help: "Verdict shards, as FILE or LABEL=FILE.") var inputs: [String] = []
    @Flag(help: "Print only the label of the input with the best pass@1.") var best = false
    @Option(name: .customLong("run"), help: "Write the report of a run folder (see above).") var runDirectory: String?
    @Option(parsing: .upToNextOption, help: "Compare run folders (their scores.json) in one table, the first as reference.")
    var runs: [String] = []
    @Option(help: "The k of pass@k and maj@k (comma-separated).") var k = "1"
    @Option(help: "Also break the scores down by this record field (level, difficulty, ...).") var by: String?
    @Option(help: "Write the scores as JSON to this file.") var json: String?
    @Option(help: "Write an SVG plot of pass@1 to this file.") var plot: String?
    @Option(help: "Title of the plot.") var title = "pass@1 (%)"

    func validate() throws {
        if [!inputs.isEmpty, runDirectory != nil, !runs.isEmpty].filter({ $0 }).count != 1 {
            throw ValidationError("give verdict shards, or --run DIR, or --runs DIR...")
        }
        if best && runDirectory != nil { throw ValidationError("--best compares inputs; it does not go with --run") }
        if ks == nil { throw ValidationError("--k takes positive integers separated by commas") }
    }

    var ks: [Int]? {
        let values = k.split(separator: ",").map { Int($0.trimmingCharacters(in: .whitespaces)) }
        return values.allSatisfy { ($0 ?? 0) >= 1 } ? values.compactMap { $0 } : nil
    }

    func run() throws {
        try reportingDataErrors(tool: "score") {
            if let runDirectory { return try report(runDirectory) }
            if !runs.isEmpty {
                let table = RunComparison(runs: try runs.map { directory in
                    let path = "\(directory)/scores.json"
                    guard FileManager.default.fileExists(atPath: path) else { throw DataError("no scores.json (run make first)", at: directory) }
                    return RunComparison.Run(name: URL(fileURLWithPath: directory).lastPathComponent,
                                             scores: try JSON.parse(readTextFile(path)))
                })
                return print(table.markdown(), terminator: "")
            }
            let ks = self.ks!
            var labelled: [(label: String, problems: [ProblemSamples])] = []
            for input in inputs {
                let parts = input.split(separator: "=", maxSplits: 1).map(String.init)
                let (label, path) = parts.count == 2 && !parts[0].contains("/") ? (parts[0], parts[1]) : (input, input)
                labelled.append((label, try loadProblems(path)))
            }
            if best {
                let winner = labelled.indices.reduce(0) { i, j in
                    Scores(labelled[j].problems, ks: [1]).passAt1 > Scores(labelled[i].problems, ks: [1]).passAt1 ? j : i
                }
                print(labelled[winner].label)
                return
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
            if let json { try writeTextFile(JSON.object(report).serialized() + "\n", to: json) }
            if let plot {
                let iterations = labelled.filter { $0.label.hasPrefix("iter") }
                let palette = ["#c0392b", "#7f8c8d", "#2980b9", "#8e44ad", "#16a085"]
                let references = labelled.filter { !$0.label.hasPrefix("iter") }.enumerated().map { i, run in
                    (name: run.label, value: Scores(run.problems, ks: [1]).passAt1 * 100, color: palette[(i + 1) % palette.count])
                }
                let chart = LineChart(title: title, xLabels: iterations.map(\.label),
                                      series: iterations.isEmpty ? [] : [(name: "ReST-EM", values: iterations.map { Scores($0.problems, ks: [1]).passAt1 * 100 }, color: palette[0])],
                                      references: references)
                try writeTextFile(chart.svg(), to: plot)
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

    func loadProblems(_ path: String) throws -> [ProblemSamples] {
        let (problems, _) = try loadVerdicts(path)
        return problems
    }

    /// The problems of a verdict shard, and its records (for fields such as solution_style).
    func loadVerdicts(_ path: String) throws -> ([ProblemSamples], [Record]) {
        var records: [Record] = []
        let reader = try ShardReader(path: path)
        try reader.forEachRecord { records.append($0) }
        do {
            return (try groupByProblem(records, groupField: by), records)
        } catch let error as DataError { throw error.located(path) }
    }

    /// DIR/passk/{base,sft,final}.jsonl.zst: K samples per test problem, where present.
    func testSamples(_ directory: String) throws -> [RunReport.TestSamples] {
        let models = [("base", "base model"), ("sft", "SFT on human data"), ("final", "final ReST^EM model")]
        return try models.compactMap { name, title in
            let path = "\(directory)/passk/\(name).jsonl.zst"
            guard FileManager.default.fileExists(atPath: path) else { return nil }
            return RunReport.TestSamples(name: name, title: title, problems: try loadProblems(path))
        }
    }

    /// The lines of the Makefile's settings.txt, if the run folder has one.
    func settingsLines(_ path: String) throws -> [String] {
        guard FileManager.default.fileExists(atPath: path) else { return [] }
        return try readTextFile(path).split(separator: "\n").map(String.init)
    }

    /// `score --run DIR`: the run folder's report, table, JSON and plot.
    func report(_ directory: String) throws {
        let files = FileManager.default
        var styleCounts: [String: Int] = [:]
        func model(_ name: String, _ title: String) throws -> RunReport.Model? {
            var splits: [String: [ProblemSamples]] = [:]
            for split in ["validation", "test", "train"] {
                let path = "\(directory)/\(name)/\(split).jsonl.zst"
                guard files.fileExists(atPath: path) else { continue }
                let (problems, records) = try loadVerdicts(path)
                splits[split] = problems
                if split == "train" && styleCounts.isEmpty {
                    for record in records { if let style = record["solution_style"]?.stringValue { styleCounts[style, default: 0] += 1 } }
                }
            }
            return splits.isEmpty ? nil : RunReport.Model(name: name, title: title, splits: splits)
        }
        guard let base = try model("base", "base model") else {
            throw DataError("no base model verdicts (base/validation.jsonl.zst, base/test.jsonl.zst)", at: directory)
        }
        var iterations: [RunReport.Model] = [], eSteps: [RunReport.EStep] = []
        var i = 1
        while files.fileExists(atPath: "\(directory)/iter\(i)") {
            if let iteration = try model("iter\(i)", "ReST^EM iteration \(i)") { iterations.append(iteration) }
            let samples = "\(directory)/iter\(i)/verdicts.jsonl.zst", kept = "\(directory)/iter\(i)/kept.jsonl.zst"
            if files.fileExists(atPath: samples), files.fileExists(atPath: kept) {
                var keptCount = 0, suspicious: Int?
                try ShardReader(path: kept).forEachRecord { record in
                    keptCount += 1
                    guard record.task == "code", let code = record["completion"]?.stringValue else { return }
                    let tampers = RunReport.EStep.suspiciousPatterns.contains { code.contains($0) }
                    suspicious = (suspicious ?? 0) + (tampers ? 1 : 0)
                }
                let (problems, records) = try loadVerdicts(samples)
                let counts = records.map { $0["gen"]?.objectValue?["tokens"]?.intValue }
                let tokens = counts.contains(where: { $0 == nil }) ? nil : counts.reduce(0) { $0 + $1! }
                var verdicts: [String: Int] = [:]
                for record in records { if let verdict = record["verdict"]?.stringValue { verdicts[verdict, default: 0] += 1 } }
                eSteps.append(RunReport.EStep(iteration: i, samples: problems, kept: keptCount, tokens: tokens, verdicts: verdicts,
                                              suspicious: suspicious))
            }
            i += 1
        }
        let total = max(styleCounts.values.reduce(0, +), 1)
        // The run is named by its folder's name, not its path, so the same run in another folder
        // gives the same report and scores.json.
        let name = URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent
        let report = RunReport(run: name, base: base, sft: try model("sft", "SFT on human data"),
                               control: try model("clean", "control: SFT on clean full-step data"),
                               iterations: iterations, eSteps: eSteps,
                               humanStyles: styleCounts.sorted { $0.value > $1.value }.map { ($0.key, Double($0.value) / Double(total)) },
                               groupField: by,
                               settings: try settingsLines("\(directory)/settings.txt"),
                               testSamples: try testSamples(directory))
        let markdown = report.markdown()
        try writeTextFile(markdown, to: "\(directory)/report.md")
        try writeTextFile(report.json().serialized() + "\n", to: json ?? "\(directory)/scores.json")
        try writeTextFile(report.chart().svg(), to: plot ?? "\(directory)/report.svg")
        if let chart = report.passAtKChart() { try writeTextFile(chart.svg(), to: "\(directory)/report-passk.svg") }
        print(markdown, terminator: "")
    }
}
