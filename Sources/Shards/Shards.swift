import ArgumentParser
import DemoTask
import Datasets
import Formats
import Foundation
import ToolSupport

@main
struct Shards: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "shards",
        abstract: "Inspect, combine, split and import JSONL(.zst) record shards.",
        discussion: """
            Shards are JSON Lines files, plain (.jsonl) or zstd-compressed (.jsonl.zst); '-' or no \
            file means stdin/stdout. Compression is detected from the data when reading and \
            chosen by the output name's extension when writing. Outputs appear atomically.

            Examples:
              shards import gsm8k ../shared/data/gsm8k/test.jsonl -o gsm8k-test.jsonl.zst
              shards count gsm8k-test.jsonl.zst
              shards head -n 2 gsm8k-test.jsonl.zst | jq .
              shards split --shards 4 gsm8k-test.jsonl.zst -o parts/test.jsonl.zst
            """,
        subcommands: [Cat.self, Head.self, Count.self, Stats.self, Split.self, Merge.self, Pending.self, Import.self,
                      Demo.self, CodeDemo.self]
    )
}

struct InputFiles: ParsableArguments {
    @Argument(help: "Shard files to read ('-' for stdin; stdin when none are given).")
    var files: [String] = []
}

extension Shards {
    struct Cat: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Concatenate shards as JSONL on stdout, or into one shard with -o.",
            discussion: """
                Examples:
                  shards cat samples.jsonl.zst | jq -r .completion
                  shards cat part-*.jsonl.zst -o all.jsonl.zst
                  shards cat --shard 0/4 problems.jsonl.zst -o quarter.jsonl.zst
                """)

        @OptionGroup var input: InputFiles
        @Option(name: .shortAndLong, help: "Output shard ('-' for stdout).") var output = "-"
        @Option(help: "Keep only the problems of shard i of n, chosen stably by id (e.g. 0/4).")
        var shard: String?

        func validate() throws {
            if let shard {
                do { _ = try ShardSelection(shard) } catch { throw ValidationError("\(error)") }
            }
        }

        func run() throws {
            try reportingDataErrors(tool: "shards cat") {
                let selection = try shard.map(ShardSelection.init) ?? .all
                let inputs = try resolveInputs(input.files)
                try writeShard(to: output) { writer in
                    try forEachRecord(in: inputs) { record, reader in
                        if selection.count > 1 {
                            guard let id = record.id else { throw reader.error("field \"id\" missing (needed by --shard)") }
                            if !selection.contains(id: id) { return }
                        }
                        try writer.write(record)
                    }
                }
            }
        }
    }

    struct Pending: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The problems that still lack CAP correct samples in the given verdict shards.",
            discussion: """
                The rounds of an adaptive E-step (make ROUNDS=R): after each round, only the \
                problems with fewer than --cap correct samples (reward 1) so far are sampled again. \
                A count goes to stderr.

                Example:
                  shards pending train.jsonl.zst --verdicts round0.jsonl.zst --verdicts round1.jsonl.zst \\
                         --cap 4 -o todo.jsonl.zst
                """)

        @OptionGroup var input: InputFiles
        @Option(help: "Verdict shards written by verify (repeatable).") var verdicts: [String] = []
        @Option(help: "Correct samples a problem needs to be done.") var cap = 1
        @Option(name: .shortAndLong, help: "Output shard ('-' for stdout).") var output = "-"

        func validate() throws {
            if cap < 1 { throw ValidationError("--cap must be 1 or more") }
        }

        func run() throws {
            try reportingDataErrors(tool: "shards pending") {
                var correct: [String: Int] = [:]
                // No verdicts yet (the first round): every problem is pending.
                try forEachRecord(in: verdicts) { record, reader in
                    guard let id = record.id else { throw reader.error("field \"id\" missing") }
                    guard let reward = record["reward"]?.intValue else { throw reader.error("field \"reward\" missing (run verify first)") }
                    if reward == 1 { correct[id, default: 0] += 1 }
                }
                var total = 0
                let inputs = try resolveInputs(input.files)
                let written = try writeShard(to: output) { writer in
                    try forEachRecord(in: inputs) { record, reader in
                        guard let id = record.id else { throw reader.error("field \"id\" missing") }
                        total += 1
                        if correct[id, default: 0] < cap { try writer.write(record) }
                    }
                }
                printError("pending: \(written.recordCount) of \(total) problems have fewer than \(cap) correct samples")
            }
        }
    }

    struct Head: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "The first N records.",
            discussion: "Example:\n  shards head -n 5 samples.jsonl.zst | jq -c '{id, reward}'")

        @OptionGroup var input: InputFiles
        @Option(name: .short, help: "Number of records.") var n = 10
        @Option(name: .shortAndLong, help: "Output shard ('-' for stdout).") var output = "-"

        func validate() throws {
            if n < 0 { throw ValidationError("-n must be 0 or more") }
        }

        func run() throws {
            try reportingDataErrors(tool: "shards head") {
                let inputs = try resolveInputs(input.files)
                try writeShard(to: output) { writer in
                    for path in inputs where writer.recordCount < n {
                        let reader = try ShardReader(path: path)
                        while writer.recordCount < n, let record = try reader.nextRecord() {
                            try writer.write(record)
                        }
                    }
                }
            }
        }
    }

    struct Count: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Count records (per file and in total when several are given).",
            discussion: "Example:\n  shards count iter1/samples.jsonl.zst")

        @OptionGroup var input: InputFiles

        func run() throws {
            try reportingDataErrors(tool: "shards count") {
                let inputs = try resolveInputs(input.files)
                var total = 0
                for path in inputs {
                    let reader = try ShardReader(path: path)
                    var count = 0
                    while try reader.nextRecord() != nil { count += 1 }
                    total += count
                    if inputs.count > 1 { print("\(count)\t\(reader.name)") }
                }
                print(inputs.count > 1 ? "\(total)\ttotal" : "\(total)")
            }
        }
    }

    struct Stats: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Summarize shards: records, fields, tasks, verdicts, mean reward.",
            discussion: "Example:\n  shards stats iter1/verdicts.jsonl.zst\n  shards stats --json x.jsonl.zst | jq .verdicts")

        @OptionGroup var input: InputFiles
        @Flag(help: "Print the summary as JSON.") var json = false

        func run() throws {
            try reportingDataErrors(tool: "shards stats") {
                var stats = ShardStats()
                try forEachRecord(in: try resolveInputs(input.files)) { record, _ in stats.add(record) }
                print(json ? stats.json().serialized() : stats.table())
            }
        }
    }

    struct Split: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Split shards into N parts, each problem's records in one part (stable by id).",
            discussion: """
                Part i holds the records that '--shard i/N' selects in the other tools, in input \
                order. Output names number the parts: -o parts/train.jsonl.zst writes \
                parts/train-00000-of-00004.jsonl.zst and so on.

                Example:
                  shards split --shards 4 train.jsonl.zst -o parts/train.jsonl.zst
                """)

        @OptionGroup var input: InputFiles
        @Option(help: "Number of parts.") var shards: Int
        @Option(name: .shortAndLong, help: "Output name pattern (the part number is inserted before .jsonl).")
        var output: String

        func validate() throws {
            if shards < 1 { throw ValidationError("--shards must be at least 1") }
            if output == "-" { throw ValidationError("split writes files; give -o a file name") }
        }

        func run() throws {
            try reportingDataErrors(tool: "shards split") {
                let inputs = try resolveInputs(input.files)
                let writers = try (0..<shards).map { try ShardWriter(path: partName(output, $0, of: shards)) }
                do {
                    try forEachRecord(in: inputs) { record, reader in
                        guard let id = record.id else { throw reader.error("field \"id\" missing (split groups by id)") }
                        try writers[ShardSelection.bucket(of: id, count: shards)].write(record)
                    }
                    for writer in writers { try writer.commit() }
                } catch {
                    writers.forEach { $0.abort() }
                    throw error
                }
                printError("split \(writers.map(\.recordCount).reduce(0, +)) records into \(shards) parts: "
                           + writers.map { "\($0.recordCount)" }.joined(separator: " "))
            }
        }
    }

    struct Merge: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Merge the outputs of shard jobs back into the order of their problems.",
            discussion: """
                Each shard job (`generate --shard i/N`, then `verify`) keeps its problems in input \
                order, but its part holds only every N-th problem or so. merge puts every record back \
                at its problem's place in the --order shard, records of one problem in the order \
                they were written, so the merged shard equals the output of one unsharded run (make \
                SHARDS=N writes every stage's output this way, also for SHARDS=1). A record whose id \
                is not in --order, a problem id that --order holds twice, or a problem with records \
                in two parts (overlapping parts) is an error.

                Example:
                  shards merge --order train.jsonl.zst samples.shards/*-of-00004.jsonl.zst -o samples.jsonl.zst
                """)

        @Option(help: "The problem shard the parts were made from; the output follows its order.")
        var order: String
        @OptionGroup var input: InputFiles
        @Option(name: .shortAndLong, help: "Output shard ('-' for stdout).") var output = "-"

        func run() throws {
            try reportingDataErrors(tool: "shards merge") {
                var place: [String: Int] = [:]
                try forEachRecord(in: [order]) { record, reader in
                    guard let id = record.id else { throw reader.error("field \"id\" missing") }
                    if place[id] != nil { throw reader.error("problem \"\(id)\" appears twice (merge needs unique ids)") }
                    place[id] = place.count
                }
                var recordsByProblem = [[Record]](repeating: [], count: place.count)
                var partOfProblem = [Int?](repeating: nil, count: place.count)
                let inputs = try resolveInputs(input.files)
                for (part, path) in inputs.enumerated() {
                    try forEachRecord(in: [path]) { record, reader in
                        guard let id = record.id else { throw reader.error("field \"id\" missing") }
                        guard let index = place[id] else { throw reader.error("problem \"\(id)\" is not in \(order)") }
                        if let earlier = partOfProblem[index], earlier != part {
                            throw reader.error("problem \"\(id)\" also has records in \(inputs[earlier]): the parts overlap")
                        }
                        partOfProblem[index] = part
                        recordsByProblem[index].append(record)
                    }
                }
                try writeShard(to: output) { writer in
                    for records in recordsByProblem { for record in records { try writer.write(record) } }
                }
            }
        }
    }

    struct Import: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Import a public dataset into problem records.",
            discussion: """
                Datasets:
                \(Dataset.allCases.map { "  \($0.rawValue.padding(10)) \($0.summary)" }.joined(separator: "\n"))

                Examples:
                  shards import gsm8k ../shared/data/gsm8k/train.jsonl -o gsm8k-train.jsonl.zst
                  shards import math ../shared/data/math500/test.jsonl -o math500.jsonl.zst
                  shards import humaneval ../shared/data/humaneval/HumanEval.jsonl.gz -o humaneval.jsonl.zst
                  shards import apps APPS.tar.gz -o apps.jsonl.zst
                  shards import mbpp mbpp.jsonl --task-ids 11-510 -o mbpp-test.jsonl.zst   # MBPP's test split
                  shards import apps apps/train.jsonl --split train -o apps-train.jsonl.zst
                """)

        @Argument(help: "Dataset format: \(Dataset.allCases.map(\.rawValue).joined(separator: ", ")).")
        var dataset: Dataset
        @Argument(help: "The dataset file (jsonl, jsonl.gz, or an archive where the format allows).")
        var file: String
        @Option(name: .shortAndLong, help: "Output shard ('-' for stdout).") var output = "-"
        @Option(help: "Split name used in generated ids (default: the file name, e.g. 'test').")
        var split: String?
        @Option(help: ArgumentHelp("Keep only problems whose id ends in a number in these ranges (e.g. 11-510 or 1-10,20).",
                                   discussion: "The number is MBPP's task_id, APPS's problem_id, HumanEval's n."))
        var taskIds: String?

        func validate() throws {
            if let taskIds, TaskIDRanges(taskIds) == nil {
                throw ValidationError("--task-ids '\(taskIds)': expected ranges like 11-510 or 1-10,20")
            }
        }

        func run() throws {
            try reportingDataErrors(tool: "shards import") {
                let progress = ProgressLine("importing")
                var summary = ImportSummary()
                let ranges = taskIds.flatMap(TaskIDRanges.init)
                var kept = 0
                let writer = try writeShard(to: output) { writer in
                    summary = try Importer.run(dataset, path: file, split: split) { record in
                        progress.advance()
                        if let ranges, !ranges.contains(id: record.id ?? "") { return }
                        try writer.write(record)
                        kept += 1
                    }
                    if let taskIds, kept == 0 { throw DataError("no problem has a task id in \(taskIds)", at: file) }
                }
                progress.finish()
                let count = ranges == nil ? "\(summary.imported)" : "\(kept) (task ids \(taskIds!)) of \(summary.imported)"
                var message = "imported \(count) \(dataset.rawValue) problems into \(writer.name)"
                if !summary.skipped.isEmpty {
                    message += "; skipped " + summary.skipped.sorted { $0.key < $1.key }
                        .map { "\($0.value) (\($0.key))" }.joined(separator: ", ")
                }
                printError(message)
            }
        }
    }
}

extension Shards {
    struct Demo: ParsableCommand {
        static let configuration = CommandConfiguration(
            abstract: "Write the embedded demo task: arithmetic-chain problems, human data, a pretraining corpus.",
            discussion: """
                Problems like `12+3-5*2` (1 to 4 operations, every value in 0..19), prompted as \
                `Q12+3-5*2:`; the model's solution form is `12+3=15;15-5=10;10*2=20;####20`. Writes \
                into DIR: train.jsonl.zst (with `solution`, the human-style data: full steps, \
                merged steps or answer only; and `clean_solution`, full steps), validation and \
                test.jsonl.zst, pretrain.jsonl.zst (facts and step-by-step solutions of other \
                problems, for the base model), tokenizer.json (one token per character), \
                config.json (the base model's architecture) and prompt.txt (the template). The \
                same seed writes the same bytes on every machine.

                Examples:
                  shards demo -o runs/demo/data
                  shards demo --seed 1 --human-mix 1,0,0 -o full-step-data
                  zstdcat runs/demo/data/train.jsonl.zst | jq -r '.solution_style' | sort | uniq -c
                """)

        @Option(name: .shortAndLong, help: "Output directory.") var output: String
        @Option(help: "Seed of the problems and styles.") var seed: UInt64 = 0
        @Option(help: "Train, validation and test problems (comma-separated).") var splits = "2000,400,800"
        @Option(help: "Problems with step-by-step solutions in the pretraining corpus.") var pretrainProblems = 2000
        @Option(help: "Lines of arithmetic facts in the pretraining corpus.") var factLines = 1000
        @Option(help: "Human data mix: full steps, merged steps, answer only (weights).") var humanMix = "0.3,0.4,0.3"

        func numbers<T: LosslessStringConvertible>(_ text: String, _ count: Int) -> [T]? {
            let values = text.split(separator: ",").compactMap { T(String($0).trimmingCharacters(in: .whitespaces)) }
            return values.count == count ? values : nil
        }

        func validate() throws {
            guard let sizes: [Int] = numbers(splits, 3), sizes.allSatisfy({ $0 >= 0 }) else {
                throw ValidationError("--splits takes three counts: train,validation,test")
            }
            guard let mix: [Double] = numbers(humanMix, 3), mix.allSatisfy({ $0 >= 0 }), mix.reduce(0, +) > 0 else {
                throw ValidationError("--human-mix takes three non-negative weights: full,merged,answer-only")
            }
            if pretrainProblems < 0 || factLines < 0 { throw ValidationError("counts must be 0 or more") }
        }

        func run() throws {
            try reportingDataErrors(tool: "shards demo") {
                let sizes: [Int] = numbers(splits, 3)!, mix: [Double] = numbers(humanMix, 3)!
                var options = DemoDataset.Options()
                options.seed = seed
                (options.train, options.validation, options.test) = (sizes[0], sizes[1], sizes[2])
                options.pretrainProblems = pretrainProblems
                options.factLines = factLines
                options.humanMix = (mix[0], mix[1], mix[2])
                let dataset = DemoDataset(options)
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
                for (name, records) in [("train", dataset.train), ("validation", dataset.validation), ("test", dataset.test),
                                        ("pretrain", dataset.pretrain)] {
                    try writeShard(to: "\(output)/\(name).jsonl.zst") { writer in try records.forEach(writer.write) }
                }
                for (name, text) in [("tokenizer.json", DemoDataset.tokenizerJSON), ("config.json", DemoDataset.baseConfigJSON),
                                     ("prompt.txt", DemoDataset.promptTemplate)] {
                    try writeTextFile(text, to: "\(output)/\(name)")
                }
                printError("shards demo: wrote \(output): \(sizes[0]) train, \(sizes[1]) validation, \(sizes[2]) test problems, "
                           + "\(dataset.pretrain.count) pretraining records (seed \(seed))")
            }
        }
    }
}

extension Shards {
    struct CodeDemo: ParsableCommand {
        static let configuration = CommandConfiguration(
            commandName: "code-demo",
            abstract: "Write the embedded code task: small Python list functions with hidden tests, human data, a pretraining corpus.",
            discussion: """
                Problems like `f:rev;add 3->7;take 7-4` (1 to 4 list operations whose parameters \
                are given by an example or a sum, a function `f(a)`; `io:...` problems are \
                scripts reading a list from stdin), prompted as `#f:rev;add 3->7;take 7-4` and a \
                newline. The model's form is one operation per line: \
                `def f(a):\\n a=a[::-1]\\n a=[x+4 for x in a]\\n a=a[:3]\\n return a`. Every \
                problem has hidden tests (`tests.call`, 5 cases, or `tests.stdio`, 3 cases). \
                Writes into DIR the same files as `shards demo`: train.jsonl.zst (with \
                `solution`, the human-style data: other idioms, merged expressions or one \
                line; and `clean_solution`, the model's form), validation and test.jsonl.zst, \
                pretrain.jsonl.zst (arithmetic facts and model-style solutions of other \
                problems), tokenizer.json, config.json and prompt.txt.

                Examples:
                  shards code-demo -o runs/code-demo/data
                  zstdcat runs/code-demo/data/train.jsonl.zst | jq -r '.solution' | head -20
                """)

        @Option(name: .shortAndLong, help: "Output directory.") var output: String
        @Option(help: "Seed of the problems, tests and styles.") var seed: UInt64 = 0
        @Option(help: "Train, validation and test problems (comma-separated).") var splits = "400,100,300"
        @Option(help: "Problems with model-style solutions in the pretraining corpus.") var pretrainProblems = 3000
        @Option(help: "Lines of arithmetic facts in the pretraining corpus.") var factLines = 1000
        @Option(help: "Share of problems that are stdio scripts rather than functions.") var stdioShare = 0.2
        @Option(help: "Human data mix: idioms, merged, one line (weights).") var humanMix = "0.3,0.4,0.3"

        func validate() throws {
            let demo = try Demo.parse(["-o", output])
            guard let sizes: [Int] = demo.numbers(splits, 3), sizes.allSatisfy({ $0 >= 0 }) else {
                throw ValidationError("--splits takes three counts: train,validation,test")
            }
            guard let mix: [Double] = demo.numbers(humanMix, 3), mix.allSatisfy({ $0 >= 0 }), mix.reduce(0, +) > 0 else {
                throw ValidationError("--human-mix takes three non-negative weights: idioms,merged,one-line")
            }
            if pretrainProblems < 0 || factLines < 0 { throw ValidationError("counts must be 0 or more") }
            if !(0...1).contains(stdioShare) { throw ValidationError("--stdio-share is a fraction in 0...1") }
        }

        func run() throws {
            try reportingDataErrors(tool: "shards code-demo") {
                let demo = try Demo.parse(["-o", output])
                let sizes: [Int] = demo.numbers(splits, 3)!, mix: [Double] = demo.numbers(humanMix, 3)!
                var options = CodeDemoDataset.Options()
                options.seed = seed
                (options.train, options.validation, options.test) = (sizes[0], sizes[1], sizes[2])
                options.pretrainProblems = pretrainProblems
                options.factLines = factLines
                options.stdioShare = stdioShare
                options.humanMix = (mix[0], mix[1], mix[2])
                let dataset = CodeDemoDataset(options)
                try FileManager.default.createDirectory(atPath: output, withIntermediateDirectories: true)
                for (name, records) in [("train", dataset.train), ("validation", dataset.validation), ("test", dataset.test),
                                        ("pretrain", dataset.pretrain)] {
                    try writeShard(to: "\(output)/\(name).jsonl.zst") { writer in try records.forEach(writer.write) }
                }
                for (name, text) in [("tokenizer.json", CodeDemoDataset.tokenizerJSON), ("config.json", CodeDemoDataset.baseConfigJSON),
                                     ("prompt.txt", CodeDemoDataset.promptTemplate)] {
                    try writeTextFile(text, to: "\(output)/\(name)")
                }
                printError("shards code-demo: wrote \(output): \(sizes[0]) train, \(sizes[1]) validation, \(sizes[2]) test problems, "
                           + "\(dataset.pretrain.count) pretraining records (seed \(seed))")
            }
        }
    }
}

extension Dataset: ExpressibleByArgument {}

extension String {
    func padding(_ width: Int) -> String { count >= width ? self : self + String(repeating: " ", count: width - count) }
}

/// `parts/train.jsonl.zst`, 2 of 4 -> `parts/train-00002-of-00004.jsonl.zst`.
func partName(_ pattern: String, _ index: Int, of count: Int) -> String {
    func five(_ n: Int) -> String { let s = String(n); return String(repeating: "0", count: max(0, 5 - s.count)) + s }
    let slash = pattern.lastIndex(of: "/").map { pattern.index(after: $0) } ?? pattern.startIndex
    let dot = pattern[slash...].firstIndex(of: ".") ?? pattern.endIndex
    return pattern[..<dot] + "-\(five(index))-of-\(five(count))" + pattern[dot...]
}

/// `11-510,1-10,20`: task ids as inclusive ranges, matched against the number that ends a
/// record id (`mbpp/11`, `apps/test/0007`, `HumanEval/3`).
struct TaskIDRanges {
    let ranges: [ClosedRange<Int>]

    init?(_ text: String) {
        var ranges: [ClosedRange<Int>] = []
        for part in text.split(separator: ",", omittingEmptySubsequences: false) {
            let ends = part.split(separator: "-", omittingEmptySubsequences: false)
            guard (1...2).contains(ends.count), let low = Int(ends[0]), let high = Int(ends[ends.count - 1]),
                  low >= 0, low <= high else { return nil }
            ranges.append(low...high)
        }
        self.ranges = ranges
    }

    func contains(id: String) -> Bool {
        let digits = id.reversed().prefix { $0.isASCII && $0.isNumber }
        guard !digits.isEmpty, let number = Int(String(digits.reversed())) else { return false }
        return ranges.contains { $0.contains(number) }
    }
}
