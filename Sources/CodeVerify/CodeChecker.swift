import Formats

#if canImport(Glibc)
import Glibc
#endif

/// The verdicts of DESIGN.md that a code check can give.
public enum CodeVerdict: String, Sendable {
    case correct
    case wrongAnswer = "wrong_answer"
    case runtimeError = "runtime_error"
    case compileError = "compile_error"
    case timeout
    case memoryLimit = "memory_limit"
    case outputLimit = "output_limit"
}

public struct CodeCheckResult: Sendable {
    public let verdict: CodeVerdict
    /// Which test failed and a short stderr tail, for the verdict record.
    public let details: JSONObject

    public var reward: Int { verdict == .correct ? 1 : 0 }
}

/// Runs a code record's tests in the sandbox and decides the verdict from what the parent
/// observes: the process status, the captured output, and the harness's proven report.
public struct CodeChecker: Sendable {
    /// Written into every code verdict record as `verifier`. Bump it whenever a verdict can
    /// change (the harness, the comparisons, the limits' defaults, the sandbox's rules), so
    /// verdict shards from before and after can be told apart and `verify --compare`d.
    public static let version = "code/2"

    public let python: String
    public let limits: SandboxLimits
    public let policy: SandboxPolicy
    public let sandbox: SandboxMode
    /// The zygotes of a warm checker (WarmSandbox.swift), shared by its copies and threads.
    let warmPool: WarmPool?

    public init(python: String, limits: SandboxLimits = SandboxLimits(), policy: SandboxPolicy = .current,
                sandbox: SandboxMode = .warm) {
        self.python = python
        self.limits = limits
        self.policy = policy
        self.sandbox = sandbox
        warmPool = sandbox == .warm ? WarmPool(python: python, environment: Self.environment, policy: policy) : nil
    }

    /// The interpreter for programs: `/usr/bin/python3` when present (it starts in ~8 ms and is
    /// readable by the unprivileged sandbox user, unlike a python under /root), else the first
    /// python3 on PATH.
    public static func defaultPython() -> String? {
        if access("/usr/bin/python3", X_OK) == 0 { return "/usr/bin/python3" }
        let path = getenv("PATH").map { String(cString: $0) } ?? "/usr/bin:/bin"
        for dir in path.split(separator: ":") where access("\(dir)/python3", X_OK) == 0 { return "\(dir)/python3" }
        return nil
    }

    static let environment = [
        "PATH": "/usr/bin:/bin", "HOME": "/nonexistent", "LANG": "C.UTF-8", "PYTHONHASHSEED": "0",
        "PYTHONDONTWRITEBYTECODE": "1", "PYTHONIOENCODING": "utf-8",
    ]

    /// Runs `main.py` from the working directory. The script is opened by a relative name:
    /// the directory lives under /tmp, which the mount namespace covers with an empty tmpfs, so
    /// only the inherited working directory still reaches it. A program that does not compile
    /// exits with `compileErrorStatus`.
    static let compileErrorStatus: Int32 = 3
    let scriptRunner = """
        import sys
        with open('main.py') as source:
            text = source.read()
        try:
            code = compile(text, 'main.py', 'exec')
        except (SyntaxError, ValueError) as error:
            sys.stderr.write('%s: %s\\n' % (type(error).__name__, error))
            sys.exit(3)
        del text, source
        exec(code, {'__name__': '__main__', '__builtins__': __builtins__})
        """

    public func check(_ record: Record) throws -> CodeCheckResult {
        let completion = try record.string("completion")
        guard let tests = record["tests"]?.objectValue else { throw DataError("field \"tests\" missing or not an object") }
        let time = try TimeLimits(tests, defaultPerTest: limits.cpuSeconds)
        if let testCode = tests["python"]?.stringValue {
            guard let entryPoint = tests["entry_point"]?.stringValue else {
                throw DataError("field \"tests.entry_point\" missing")
            }
            // HumanEval's completions continue the problem (its signature and docstring); MBPP's
            // problems are prose, and its importer says so with continues_problem: false.
            var continues = true
            if let value = tests["continues_problem"] {
                guard let flag = value.boolValue else {
                    throw DataError("field \"tests.continues_problem\" must be true or false")
                }
                continues = flag
            }
            let prefix = continues ? record["problem"]?.stringValue ?? "" : ""
            let program = self.program(of: record, completion: completion, continuing: prefix)
            // One process runs check(candidate): one test for the time limits.
            return try runHarness(JSONObject([("mode", "python"), ("program", .string(program)), ("tests", .string(testCode)),
                                              ("entry_point", .string(entryPoint))]), expected: nil,
                                  cpu: time.budget(tests: 1))
        }
        var program = self.program(of: record, completion: completion, continuing: "")
        if let prelude = tests["prelude"] {
            // Code the dataset's own harness ran before every program (APPS: imports that its
            // reference solutions rely on, such as `List` in LeetCode signatures).
            guard let text = prelude.stringValue else { throw DataError("field \"tests.prelude\" must be a string") }
            program = text + "\n" + program
        }
        if let call = tests["call"]?.objectValue {
            guard let name = call["fn_name"]?.stringValue, let inputs = call["inputs"]?.arrayValue,
                  let outputs = call["outputs"]?.arrayValue, inputs.count == outputs.count else {
                throw DataError("field \"tests.call\" needs fn_name, and inputs and outputs of equal length")
            }
            let argumentLists = inputs.map { $0.arrayValue.map(JSON.array) ?? .array([$0]) }
            // All calls run in one process, so its CPU limit is the per-test limit times the calls.
            return try runHarness(JSONObject([("mode", "call"), ("program", .string(program)), ("entry_point", .string(name)),
                                              ("inputs", .array(argumentLists))]), expected: outputs,
                                  cpu: time.budget(tests: max(1, inputs.count)))
        }
        if let cases = tests["stdio"]?.arrayValue {
            return try runStdio(program: program, cases: cases, judge: try OutputJudge(tests), time: time)
        }
        throw DataError("field \"tests\" has none of python, call, stdio")
    }

    /// The program a completion stands for. When the prompt ends inside an open ```python
    /// fence (a template such as templates/mbpp.txt), the completion is the code up to the line
    /// that closes it. Otherwise the last fenced block of the completion, failing that the
    /// completion itself after `prefix` (HumanEval: the problem's signature and docstring).
    func program(of record: Record, completion: String, continuing prefix: String) -> String {
        if let prompt = record["prompt"]?.stringValue, endsInsideCodeFence(prompt) {
            let (code, rest) = splitAtClosingFence(completion)
            // A model that closed the fence at once and wrote a fenced block of its own.
            if code.allSatisfy(\.isWhitespace), let fenced = fencedCode(in: rest) { return fenced }
            return code
        }
        return fencedCode(in: completion) ?? (prefix + completion)
    }


    /// The limits of one run: `cpu` CPU seconds (nil: the checker's own limits unchanged) and a
    /// wall-clock backstop of 3 x cpu + 1 s, or `limits.wallSeconds` when that is longer, only
    /// for programs that wait without computing (sleep, a blocked read).
    func limits(cpu: Double?) -> SandboxLimits {
        var run = limits
        guard let cpu else { return run }
        run.cpuSeconds = cpu
        run.wallSeconds = max(limits.wallSeconds, 3 * cpu + 1)
        return run
    }

    // MARK: modes

    private func runHarness(_ job: JSONObject, expected: [JSON]?, cpu: Double?) throws -> CodeCheckResult {
        let secret = randomSecret()
        let runLimits = limits(cpu: cpu)
        let outcome = try runPython(harnessSource, files: [:], stdin: Array(JSON.object(job).serialized().utf8),
                                       secret: Array(secret.utf8), limits: runLimits)
        if let early = limitVerdict(outcome, runLimits) { return early }
        var proven: JSONObject?
        var claimed: JSONObject?
        for line in outcome.channel.split(separator: 0x0A) {
            guard let message = (try? Array(line).withUnsafeBufferPointer { try JSON.parse($0) })?.objectValue else { continue }
            // The harness reports last; an earlier line may be the candidate's forgery.
            if message["secret"]?.stringValue == secret { proven = message } else { claimed = message }
        }
        if let proven {
            guard let expected else { return result(.correct) }
            let results = proven["results"]?.arrayValue ?? []
            for (index, (got, want)) in zip(results, expected).enumerated() where !callResultMatches(got, want) {
                return result(.wrongAnswer, JSONObject([("test", .number(JSONNumber(index))), ("expected", want), ("got", got)]))
            }
            return results.count == expected.count ? result(.correct) : result(.wrongAnswer, JSONObject([("detail", "missing results")]))
        }
        if let claimed, let status = claimed["status"]?.stringValue, status != "correct", status != "results",
           let verdict = CodeVerdict(rawValue: status)
        {
            return result(verdict, JSONObject([("detail", claimed["detail"] ?? .null)]), stderr: outcome.stderr)
        }
        return processVerdict(outcome, otherwise: .runtimeError)
    }

    private func runStdio(program: String, cases: [JSON], judge: OutputJudge, time: TimeLimits) throws -> CodeCheckResult {
        if cases.isEmpty { throw DataError("field \"tests.stdio\" is empty") }
        var used = 0.0
        for (index, testCase) in cases.enumerated() {
            guard let input = testCase.objectValue?["input"]?.stringValue,
                  let expected = testCase.objectValue?["output"]?.stringValue else {
                throw DataError("tests.stdio[\(index)] needs string fields input and output")
            }
            // Each input is its own run, limited to what is left of the program's total budget.
            let cpu = time.remaining(after: used)
            let runLimits = limits(cpu: cpu)
            let outcome = try runPython(scriptRunner, files: ["main.py": program], stdin: Array(input.utf8),
                                           limits: runLimits)
            used += outcome.cpuSeconds
            if let early = limitVerdict(outcome, runLimits) {
                let overTotal = early.verdict == .timeout && time.total.map { used > $0 } ?? false
                return (overTotal ? early.with(detail: "total CPU time limit of \(time.total!) s for all tests") : early)
                    .with(test: index)
            }
            if outcome.exitStatus != 0 || outcome.signal != nil {
                if outcome.exitStatus == Self.compileErrorStatus {
                    return result(.compileError, JSONObject([("test", .number(JSONNumber(index)))]), stderr: outcome.stderr)
                }
                return processVerdict(outcome, otherwise: .runtimeError).with(test: index)
            }
            let actual = String(decoding: outcome.stdout, as: UTF8.self)
            if let source = judge.checker {
                if let rejection = try runOutputChecker(source, input: input, expected: expected, actual: outcome.stdout,
                                                        cpu: cpu) {
                    return rejection.with(test: index)
                }
            } else if !stdioMatches(actual, expected, caseSensitive: judge.caseSensitive) {
                return result(.wrongAnswer, JSONObject([("test", .number(JSONNumber(index)))]), stderr: outcome.stderr)
            }
        }
        return result(.correct)
    }

    /// Runs a problem's own checker (`tests.checker`, Python source) on one test's input,
    /// expected output and the candidate's output, given as files named on its command line
    /// (`checker.py input.txt expected.txt actual.txt`), in the same sandbox as programs.
    /// Exit 0 accepts (nil). Anything else is `wrong_answer`: exit 1 or 2 (testlib's WA and
    /// PE) as the checker's rejection; an exception, a crash, a timeout or an output flood as a
    /// checker failure (`details.checker`), so a broken checker can never pass a program.
    static let checkerFailureStatus: Int32 = 3
    let checkerRunner = """
        import sys, traceback
        sys.argv = ['checker.py', 'input.txt', 'expected.txt', 'actual.txt']
        with open('checker.py') as source:
            text = source.read()
        try:
            exec(compile(text, 'checker.py', 'exec'), {'__name__': '__main__', '__builtins__': __builtins__})
        except SystemExit:
            raise
        except BaseException:
            sys.stderr.write(traceback.format_exc()[-800:])
            sys.exit(3)
        """

    private func runOutputChecker(_ source: String, input: String, expected: String, actual: [UInt8],
                                  cpu: Double?) throws -> CodeCheckResult? {
        // The sandbox writes files as text: a NUL would cut the candidate's output short, and a
        // shortened output must not be what the checker accepts.
        if actual.contains(0) { return result(.wrongAnswer, JSONObject([("detail", "output contains a NUL byte")])) }
        let runLimits = limits(cpu: cpu)
        let outcome = try runPython(checkerRunner,
                                       files: ["checker.py": source, "input.txt": input, "expected.txt": expected,
                                               "actual.txt": String(decoding: actual, as: UTF8.self)],
                                       stdin: [], limits: runLimits)
        let failure: String
        if let limit = limitVerdict(outcome, runLimits) {
            failure = "checker failed: \(limit.verdict.rawValue) (\(limit.details["detail"]?.stringValue ?? ""))"
        } else if outcome.exitStatus == 0 {
            return nil
        } else if outcome.exitStatus == 1 || outcome.exitStatus == 2 {
            let verdict = "rejected (exit status \(outcome.exitStatus!))"
            return result(.wrongAnswer, JSONObject([("checker", .string(verdict))]), stderr: outcome.stderr + outcome.stdout)
        } else if let signal = outcome.signal {
            failure = "checker failed: killed by signal \(signal)"
        } else if outcome.exitStatus == Self.checkerFailureStatus {
            failure = "checker failed: an exception"
        } else {
            failure = "checker failed: exit status \(outcome.exitStatus ?? -1)"
        }
        return result(.wrongAnswer, JSONObject([("checker", .string(failure))]), stderr: outcome.stderr)
    }

    // MARK: deciding

    /// Timeouts and output floods, which outrank anything the program reported. A timeout is
    /// decided by CPU time when the run had a CPU limit: over it (even if the program finished)
    /// or stopped by RLIMIT_CPU; the wall clock only catches programs that wait.
    private func limitVerdict(_ outcome: SandboxOutcome, _ limits: SandboxLimits) -> CodeCheckResult? {
        let used = (outcome.cpuSeconds * 100).rounded() / 100
        if let cpu = limits.cpuSeconds, outcome.cpuSeconds > cpu || outcome.signal == SIGXCPU {
            return result(.timeout, JSONObject([("detail", .string("CPU time limit of \(cpu) s (used \(used) s)"))]))
        }
        if outcome.timedOut {
            // The CPU time of a program killed at the wall clock can be lost with it (the kill
            // ends the namespace's waiter before it reaps the program): say it only when measured.
            let detail = "wall-clock limit of \(limits.wallSeconds) s" + (used > 0 ? " (CPU \(used) s)" : "")
            return result(.timeout, JSONObject([("detail", .string(detail))]))
        }
        if outcome.outputExceeded { return result(.outputLimit, JSONObject([("detail", .string("more than \(limits.outputBytes) bytes of output"))])) }
        if outcome.signal == SIGXCPU { return result(.timeout, JSONObject([("detail", "CPU time limit")])) }
        if outcome.signal == SIGXFSZ { return result(.outputLimit, JSONObject([("detail", "file size limit")])) }
        return nil
    }

    private func processVerdict(_ outcome: SandboxOutcome, otherwise: CodeVerdict) -> CodeCheckResult {
        let stderr = String(decoding: outcome.stderr, as: UTF8.self)
        if stderr.contains("MemoryError") { return result(.memoryLimit, stderr: outcome.stderr) }
        if let signal = outcome.signal {
            return result(otherwise, JSONObject([("detail", .string("killed by signal \(signal)"))]), stderr: outcome.stderr)
        }
        return result(otherwise, JSONObject([("detail", .string("exit status \(outcome.exitStatus ?? -1)"))]), stderr: outcome.stderr)
    }

    private func result(_ verdict: CodeVerdict, _ details: JSONObject = JSONObject(), stderr: [UInt8] = []) -> CodeCheckResult {
        var details = details
        if !stderr.isEmpty {
            let text = String(decoding: stderr.suffix(600), as: UTF8.self)
            details["stderr"] = .string(text)
        }
        return CodeCheckResult(verdict: verdict, details: details)
    }

    private func randomSecret() -> String {
        var generator = SystemRandomNumberGenerator()
        return (0..<3).map { _ in String(generator.next() as UInt64, radix: 16) }.joined(separator: "-")
    }
}

extension CodeCheckResult {
    func with(test index: Int) -> CodeCheckResult {
        var details = self.details
        if details["test"] == nil { details["test"] = .number(JSONNumber(index)) }
        return CodeCheckResult(verdict: verdict, details: details)
    }

    func with(detail: String) -> CodeCheckResult {
        var details = self.details
        details["detail"] = .string(detail)
        return CodeCheckResult(verdict: verdict, details: details)
    }
}

// MARK: a problem's judging rules

/// CPU time limits a record's `tests` may set: `time_limit`, seconds per test run (a stdio
/// input, HumanEval's check, one call of a call test), and `total_time_limit`, seconds summed
/// over all of a program's test runs. Without `time_limit`, `defaultPerTest` (verify
/// --cpu-time) applies, and without that the checker's limits as they are (wall clock).
struct TimeLimits {
    var perTest: Double?
    var total: Double?

    init(_ tests: JSONObject, defaultPerTest: Double? = nil) throws {
        func seconds(_ key: String) throws -> Double? {
            guard let value = tests[key] else { return nil }
            guard let number = value.doubleValue, number > 0, number.isFinite else {
                throw DataError("field \"tests.\(key)\" must be a positive number of seconds")
            }
            return number
        }
        perTest = try seconds("time_limit") ?? defaultPerTest
        total = try seconds("total_time_limit")
    }

    /// CPU seconds for one process that runs `tests` tests.
    func budget(tests: Int) -> Double? {
        let own = perTest.map { $0 * Double(tests) }
        guard let total else { return own }
        return min(own ?? total, total)
    }

    /// CPU seconds for the next single test, once `used` seconds have gone to earlier ones.
    func remaining(after used: Double) -> Double? {
        guard let total else { return perTest }
        let left = max(0.01, total - used)
        return min(perTest ?? left, left)
    }
}

/// How a stdio test's output is judged: `tests.case_sensitive` (default true; the APPS importer
/// sets false where the statement allows any letter case) and `tests.checker`, a program that
/// decides instead of the token comparison (for problems with several right answers).
struct OutputJudge {
    var caseSensitive = true
    var checker: String?

    init(_ tests: JSONObject) throws {
        if let value = tests["case_sensitive"] {
            guard let flag = value.boolValue else {
                throw DataError("field \"tests.case_sensitive\" must be true or false")
            }
            caseSensitive = flag
        }
        if let value = tests["checker"] {
            guard let source = value.stringValue, !source.isEmpty else {
                throw DataError("field \"tests.checker\" must be a program (Python source)")
            }
            checker = source
        }
    }
}


// MARK: comparisons

/// The stdio judge, token by token (the rule of Codeforces' standard checkers):
/// - tokens are split on any white space, so line breaks, runs of spaces and trailing white
///   space or blank lines do not matter; the token counts must be equal (an extra token is
///   wrong);
/// - equal text matches; with `caseSensitive` false, text equal up to letter case matches;
/// - an expected token written as a real number (a decimal point or an exponent: `2.5`,
///   `0.000000`, `1e-9`) matches any finite number within 1e-6 absolute or 1e-6 relative to
///   the expected value (|a-b| <= 1e-6 or |a-b| <= 1e-6 |b|);
/// - an expected integer (`10`, `-3`) matches only the same text: integer answers are exact, so
///   `10.0000001`, `10.0` and `010` are all wrong for `10`;
/// - `nan`, `inf` and numbers too large for a double are never within any tolerance.
func stdioMatches(_ got: String, _ expected: String, caseSensitive: Bool = true) -> Bool {
    let a = tokens(got), b = tokens(expected)
    guard a.count == b.count else { return false }
    for (x, y) in zip(a, b) where x != y {
        if !caseSensitive && text(x).lowercased() == text(y).lowercased() { continue }
        guard case .real(let want)? = number(y), let have = number(x)?.value,
              abs(have - want) <= stdioTolerance || abs(have - want) <= stdioTolerance * abs(want) else { return false }
    }
    return true
}

/// Absolute and relative tolerance of real-number tokens in stdio output.
let stdioTolerance = 1e-6

private func text(_ token: ArraySlice<UInt8>) -> String { String(decoding: token, as: UTF8.self) }

private func tokens(_ text: String) -> [ArraySlice<UInt8>] {
    // Space, \t, \n, \v, \f, \r.
    Array(text.utf8).split(whereSeparator: { $0 == 0x20 || (0x09...0x0D).contains($0) })
}

private enum NumberToken {
    case integer(Double), real(Double)
    var value: Double { switch self { case .integer(let v), .real(let v): v } }
}

/// A decimal number token (`-12`, `3.`, `.5`, `1.5e-3`), finite as a double; nil for anything
/// else (`nan`, `inf`, `0x10`, `1,5`), so such tokens only ever match by text.
private func number(_ token: ArraySlice<UInt8>) -> NumberToken? {
    var i = token.startIndex
    func digits() -> Int {
        let start = i
        while i < token.endIndex, (0x30...0x39).contains(token[i]) { i += 1 }
        return i - start
    }
    if i < token.endIndex, token[i] == 0x2B || token[i] == 0x2D { i += 1 }
    var count = digits()
    var real = false
    if i < token.endIndex, token[i] == 0x2E {
        i += 1
        real = true
        count += digits()
    }
    guard count > 0 else { return nil }
    if i < token.endIndex, token[i] == 0x65 || token[i] == 0x45 {
        i += 1
        real = true
        if i < token.endIndex, token[i] == 0x2B || token[i] == 0x2D { i += 1 }
        guard digits() > 0 else { return nil }
    }
    guard i == token.endIndex, let value = Double(text(token)), value.isFinite else { return nil }
    return real ? .real(value) : .integer(value)
}

/// APPS call tests often wrap the expected value in a one-element list.
func callResultMatches(_ got: JSON, _ expected: JSON) -> Bool {
    jsonClose(got, expected) || jsonClose(.array([got]), expected)
}

private func jsonClose(_ a: JSON, _ b: JSON) -> Bool {
    switch (a, b) {
    case (.number(let x), .number(let y)):
        if x.text == y.text { return true }
        guard let u = x.doubleValue, let v = y.doubleValue else { return false }
        if x.intValue != nil && y.intValue != nil { return x.intValue == y.intValue }
        return abs(u - v) <= 1e-9 * max(1, abs(u), abs(v))
    case (.array(let x), .array(let y)):
        return x.count == y.count && zip(x, y).allSatisfy { jsonClose($0, $1) }
    case (.object(let x), .object(let y)):
        return x.count == y.count && x.allSatisfy { entry in y[entry.key].map { jsonClose(entry.value, $0) } ?? false }
    default:
        return a == b
    }
}

/// The last ```python (or ```py) fenced block of a completion; failing that, the last fence
/// with no language. nil when there is neither: the completion then continues the prompt.
func fencedCode(in completion: String) -> String? {
    var tagged: String?, untagged: String?
    var current: [Substring]?
    var language = ""
    for line in completion.split(separator: "\n", omittingEmptySubsequences: false) {
        let trimmed = line.drop { $0 == " " }
        guard trimmed.hasPrefix("```") else {
            current?.append(line)
            continue
        }
        if let body = current {
            let code = body.joined(separator: "\n") + "\n"
            if ["python", "py", "python3"].contains(language) { tagged = code } else if language.isEmpty { untagged = code }
            current = nil
        } else {
            language = trimmed.dropFirst(3).firstWord()
            current = []
        }
    }
    return tagged ?? untagged
}

/// Whether `text` ends inside a ```python, ```py, ```python3 or bare ``` fence.
func endsInsideCodeFence(_ text: String) -> Bool {
    var open: String?
    for line in text.split(separator: "\n", omittingEmptySubsequences: false) {
        let trimmed = line.drop { $0 == " " }
        guard trimmed.hasPrefix("```") else { continue }
        open = open == nil ? trimmed.dropFirst(3).firstWord() : nil
    }
    guard let open else { return false }
    return ["python", "py", "python3", ""].contains(open)
}

/// The lines of `completion` before its first fence line (the one closing the prompt's fence),
/// and what follows that line.
func splitAtClosingFence(_ completion: String) -> (code: String, rest: String) {
    let lines = completion.split(separator: "\n", omittingEmptySubsequences: false)
    guard let close = lines.firstIndex(where: { $0.drop(while: { $0 == " " }).hasPrefix("```") }) else {
        return (completion, "")
    }
    return (lines[..<close].joined(separator: "\n") + "\n", lines[(close + 1)...].joined(separator: "\n"))
}

private extension Substring {
    func firstWord() -> String { split(separator: " ").first.map { $0.lowercased() } ?? "" }
}
