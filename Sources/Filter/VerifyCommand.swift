import ArgumentParser
import CodeVerify
import Dispatch
import Formats
import ToolSupport
import Verify

#if canImport(Glibc)
import Glibc
#endif

@main
struct VerifyCommand: ParsableCommand {
    static let configuration = CommandConfiguration(
        commandName: "verify",
        abstract: "Score sample shards: add reward, verdict, extracted and verifier to every record.",
        discussion: """
            Math records (task "math") are correct when the completion's final answer (the \
            answer marker that comes last: \\boxed{} or a final group of boxes, '#### N', \
            'The answer is X', 'Final Answer: ...') is mathematically equal to the record's \
            answer; relations, intervals, named values and lists follow the README's rules, and \
            an ambiguous answer is wrong. Verdicts: correct, wrong_answer, no_answer. A summary (verdict counts, pass rate, problems solved) goes to stderr.

            Code records (task "code") run their tests (tests.python with entry_point, \
            tests.call, or tests.stdio) in a sandbox: one Python process per program in a fresh \
            temporary directory, its own process group, PID, network and mount namespaces, \
            limits on CPU, memory, file size, open files and processes, a wall-clock timeout, \
            and \(SandboxPolicy.identityDescription). With --sandbox warm (the default) each \
            program is forked from a sandboxed interpreter per worker that has the harness \
            loaded, with the same isolation per program. Verdicts: correct, wrong_answer, \
            runtime_error, compile_error, timeout, memory_limit, output_limit, with the failing \
            test and a stderr tail in "details". What isolation was available is printed.

            Examples:
              verify samples.jsonl.zst -o verdicts.jsonl.zst
              verify samples.jsonl.zst --keep correct --cap 10 --seed 1 -o kept.jsonl.zst
              verify samples.jsonl.zst --keep correct --cap 4 --verdicts verdicts.jsonl.zst -o kept.jsonl.zst
              verify samples.jsonl.zst --keep correct --cap 4 --dedup normalized -o kept.jsonl.zst
              verify --compare old-verdicts.jsonl.zst
              verify --compare old-verdicts.jsonl.zst -o new-verdicts.jsonl.zst
              verify humaneval-samples.jsonl.zst --timeout 5 --memory 512 -o verdicts.jsonl.zst
              generate ... -o - | verify - --keep correct | shards count
            """)

    enum Keep: String, ExpressibleByArgument, CaseIterable {
        case all, correct
    }

    @Argument(help: "Sample shards, or verdict shards with --compare ('-' for stdin; stdin when none are given).")
    var files: [String] = []
    @Flag(help: ArgumentHelp(
        "Re-score old verdict shards (the inputs) with the current checkers; print what changed.",
        discussion: """
            Prints, on stdout, the count of changed records by old -> new verdict and one \
            tab-separated row per changed record: id, sample, old and new verdict, extracted \
            and verifier (or that nothing changed). A record changed when its verdict or its \
            extracted answer differs; a new verifier alone is no change. -o FILE also writes \
            the re-scored shard.
            """))
    var compare = false
    @Option(name: .shortAndLong, help: "Output shard ('-' for stdout; default: stdout, none with --compare).")
    var output: String?
    @Option(help: "Which records to write: all, or only correct ones.") var keep: Keep = .all
    @Option(help: "With --keep correct: at most N correct samples per problem id, distinct solutions first.")
    var cap: Int?
    @Option(help: ArgumentHelp(
        "With --keep correct: when two completions of one problem are the same solution.",
        discussion: """
            exact: distinct completions (up to white space) first, repeats fill up the --cap.
            normalized: equal after normalization (math: white space collapsed; code: also \
            without comments and blank lines, indentation and string literals kept) count as one; \
            the kept set never holds two of them, with or without --cap.
            """))
    var dedup: Dedup = .exact
    @Option(help: "Seed for the --cap and --dedup choice.") var seed: UInt64 = 0
    @Option(help: "With --keep correct: also write every scored record (all verdicts) to this shard.")
    var verdicts: String?
    @Option(help: "Wall-clock seconds per program (code).") var timeout: Double = 10
    @Option(help: """
        CPU seconds per test run (code) where a record's tests.time_limit does not say; the wall clock \
        is then a backstop of 3x this + 1 s, or --timeout if longer (default: --timeout, wall clock).
        """)
    var cpuTime: Double?
    @Option(help: "Address-space limit per program in MB (code).") var memory: Int = 1024
    @Option(help: "Python interpreter for code (default: /usr/bin/python3, else python3 on PATH).")
    var python: String?
    @Option(help: ArgumentHelp(
        "Code sandbox: warm (default) or cold.",
        discussion: """
            warm: per worker, one sandboxed Python process with the harness imported forks a \
            child per program; every child is PID 1 of its own PID namespace (all it starts \
            dies with it), with its own mount and IPC namespaces (an empty private /tmp holding \
            its working directory), uid, session, rlimits, output cap and wall-clock timeout. \
            The interpreter is replaced after \(SandboxMode.programsPerZygote) programs and after \
            any timeout, output flood or crash. Where warm is not possible (not root, no \
            namespaces) programs run cold and the summary says so. cold: a fresh Python \
            process per program.
            """))
    var sandbox: SandboxMode = .warm
    @Option(help: "Worker threads for checking.") var jobs: Int = max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))

    func validate() throws {
        if let cap, cap < 1 { throw ValidationError("--cap must be at least 1") }
        if cap != nil, keep != .correct { throw ValidationError("--cap selects among correct samples; add --keep correct") }
        if dedup != .exact, keep != .correct {
            throw ValidationError("--dedup \(dedup.rawValue) selects among correct samples; add --keep correct")
        }
        if verdicts != nil, keep != .correct { throw ValidationError("--verdicts is for --keep correct (the output already holds all)") }
        if compare, keep != .all || verdicts != nil {
            throw ValidationError(
                "--compare re-scores every record; --keep, --cap, --dedup and --verdicts do not apply")
        }
        if compare, output == "-" {
            throw ValidationError("--compare prints its report on stdout; give -o a file for the re-scored shard")
        }
        if jobs < 1 { throw ValidationError("--jobs must be at least 1") }
        if timeout <= 0 { throw ValidationError("--timeout must be positive") }
        if let cpuTime, !(cpuTime > 0) { throw ValidationError("--cpu-time must be positive") }
        if memory < 64 { throw ValidationError("--memory must be at least 64 (MB)") }
    }

    func run() throws {
        try reportingDataErrors(tool: "verify") {
            let inputs = try resolveInputs(files)
            var limits = SandboxLimits()
            limits.wallSeconds = timeout
            limits.memoryBytes = memory << 20
            limits.cpuSeconds = cpuTime
            let interpreter = python ?? CodeChecker.defaultPython()
            let verifier = Verifier(code: interpreter.map { CodeChecker(python: $0, limits: limits, sandbox: sandbox) })
            var summary = VerifySummary()
            let progress = ProgressLine(compare ? "re-scoring" : "verifying")
            if compare {
                var comparison = VerdictComparison()
                func rescore(_ writer: ShardWriter?) throws {
                    try scoreRecords(inputs, verifier, progress) { old, scored in
                        try comparison.add(old: old, new: scored)
                        summary.add(scored)
                        try writer?.write(scored)
                    }
                }
                if let output { try writeShard(to: output, rescore) } else { try rescore(nil) }
                progress.finish()
                // The report is the data of this mode: stdout, after the shard is complete.
                comparison.lines().forEach { print($0) }
                summary.reportsKept = false
            } else {
                try select(inputs, verifier, progress, &summary)
                progress.finish()
            }
            summary.lines().forEach(printError)
            if summary.verdicts.keys.contains(where: { !["correct", "wrong_answer", "no_answer"].contains($0) })
                || summary.sawCode {
                printError(SandboxPolicy.current.summary + ", " + sandbox.summary)
                if let note = verifier.code?.sandboxNote { printError(note) }
            }
        }
    }

    /// Scoring mode: writes the scored records (all, the correct ones, or the --cap/--dedup
    /// choice among them) to the output, and with --verdicts every scored record beside them.
    func select(_ inputs: [String], _ verifier: Verifier, _ progress: ProgressLine,
                _ summary: inout VerifySummary) throws {
        // Deduplication alone is a selection without a cap.
        var capped = cap != nil || dedup != .exact ? CapSelection(cap: cap ?? .max, seed: seed, dedup: dedup) : nil
        let allVerdicts = try verdicts.map { try ShardWriter(path: $0) }
        do {
            try writeShard(to: output ?? "-") { writer in
                try scoreRecords(inputs, verifier, progress) { _, record in
                    summary.add(record)
                    try allVerdicts?.write(record)
                    guard keep == .all || record["reward"]?.intValue == 1 else { return }
                    if capped != nil {
                        guard let id = record.id else {
                            throw DataError("field \"id\" missing (needed by --cap and --dedup)")
                        }
                        capped!.add(record, id: id)
                    } else {
                        try writer.write(record)
                        summary.kept += 1
                    }
                }
                if let capped {
                    for record in capped.selected() {
                        try writer.write(record)
                        summary.kept += 1
                    }
                }
                // Committed first: the kept shard (usually the make target) appears last.
                try allVerdicts?.commit()
            }
        } catch {
            allVerdicts?.abort()
            throw error
        }
    }

    /// Scores every record of the inputs, 1024 at a time on --jobs threads, and hands each to
    /// `body` with its scored form, in input order. A data error about a record, from scoring
    /// or from `body`, names its file and line.
    func scoreRecords(_ inputs: [String], _ verifier: Verifier, _ progress: ProgressLine,
                      _ body: (_ input: Record, _ scored: Record) throws -> Void) throws {
        for path in inputs {
            let reader = try ShardReader(path: path)
            var batch: [Record] = []
            var lines: [Int] = []  // per record: blank lines are skipped, so not first + offset
            func flush() throws {
                let scored: [Record]
                do {
                    scored = try verifier.score(batch: batch, jobs: jobs)
                } catch let error as DataError {
                    // Re-run serially to name the exact line of the first bad record.
                    for (record, line) in zip(batch, lines) {
                        do { _ = try verifier.score(record) } catch let inner as DataError {
                            throw inner.located("\(reader.name):\(line)")
                        }
                    }
                    throw error
                }
                for ((input, record), line) in zip(zip(batch, scored), lines) {
                    do { try body(input, record) } catch let error as DataError {
                        throw error.located("\(reader.name):\(line)")
                    }
                }
                progress.advance(by: batch.count)
                batch.removeAll(keepingCapacity: true)
                lines.removeAll(keepingCapacity: true)
            }
            while let record = try reader.nextRecord() {
                batch.append(record)
                lines.append(reader.lineNumber)
                if batch.count == 1024 { try flush() }
            }
            if !batch.isEmpty { try flush() }
        }
    }
}

extension Dedup: ExpressibleByArgument {}
extension SandboxMode: ExpressibleByArgument {}
