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
        if let testCode = tests["python"]?.stringValue {
            guard let entryPoint = tests["entry_point"]?.stringValue else {
                throw DataError("field \"tests.entry_point\" missing")
            }
            let program = fencedCode(in: completion) ?? ((record["problem"]?.stringValue ?? "") + completion)
            return try runHarness(JSONObject([("mode", "python"), ("program", .string(program)), ("tests", .string(testCode)),
                                              ("entry_point", .string(entryPoint))]), expected: nil)
        }
        let program = fencedCode(in: completion) ?? completion
        if let call = tests["call"]?.objectValue {
            guard let name = call["fn_name"]?.stringValue, let inputs = call["inputs"]?.arrayValue,
                  let outputs = call["outputs"]?.arrayValue, inputs.count == outputs.count else {
                throw DataError("field \"tests.call\" needs fn_name, and inputs and outputs of equal length")
            }
            let argumentLists = inputs.map { $0.arrayValue.map(JSON.array) ?? .array([$0]) }
            return try runHarness(JSONObject([("mode", "call"), ("program", .string(program)), ("entry_point", .string(name)),
                                              ("inputs", .array(argumentLists))]), expected: outputs)
        }
        if let cases = tests["stdio"]?.arrayValue {
            return try runStdio(program: program, cases: cases)
        }
        throw DataError("field \"tests\" has none of python, call, stdio")
    }

    // MARK: modes

    private func runHarness(_ job: JSONObject, expected: [JSON]?) throws -> CodeCheckResult {
        let secret = randomSecret()
        let outcome = try runPython(harnessSource, files: [:], stdin: Array(JSON.object(job).serialized().utf8),
                                    secret: Array(secret.utf8))
        if let early = limitVerdict(outcome) { return early }
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

    private func runStdio(program: String, cases: [JSON]) throws -> CodeCheckResult {
        if cases.isEmpty { throw DataError("field \"tests.stdio\" is empty") }
        for (index, testCase) in cases.enumerated() {
            guard let input = testCase.objectValue?["input"]?.stringValue,
                  let expected = testCase.objectValue?["output"]?.stringValue else {
                throw DataError("tests.stdio[\(index)] needs string fields input and output")
            }
            let outcome = try runPython(scriptRunner, files: ["main.py": program], stdin: Array(input.utf8))
            if let early = limitVerdict(outcome) { return early.with(test: index) }
            if outcome.exitStatus != 0 || outcome.signal != nil {
                if outcome.exitStatus == Self.compileErrorStatus {
                    return result(.compileError, JSONObject([("test", .number(JSONNumber(index)))]), stderr: outcome.stderr)
                }
                return processVerdict(outcome, otherwise: .runtimeError).with(test: index)
            }
            if !stdioMatches(String(decoding: outcome.stdout, as: UTF8.self), expected) {
                return result(.wrongAnswer, JSONObject([("test", .number(JSONNumber(index)))]), stderr: outcome.stderr)
            }
        }
        return result(.correct)
    }

    // MARK: deciding

    /// Timeouts and output floods, which outrank anything the program reported.
    private func limitVerdict(_ outcome: SandboxOutcome) -> CodeCheckResult? {
        if outcome.timedOut { return result(.timeout, JSONObject([("detail", .string("killed after \(limits.wallSeconds) s"))])) }
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
}


// MARK: comparisons

/// Lines compared after trimming trailing white space (and trailing blank lines); tokens that
/// are both non-integer numbers compare with a relative tolerance of 1e-6.
func stdioMatches(_ got: String, _ expected: String) -> Bool {
    func lines(_ s: String) -> [Substring] {
        var result = s.split(separator: "\n", omittingEmptySubsequences: false).map { line in
            line.reversed().drop { $0 == " " || $0 == "\t" || $0 == "\r" }.reversed()
        }.map { Substring(String($0)) }
        while let last = result.last, last.isEmpty { result.removeLast() }
        return result
    }
    let a = lines(got), b = lines(expected)
    guard a.count == b.count else { return false }
    for (x, y) in zip(a, b) where x != y {
        let xs = x.split(whereSeparator: { $0 == " " || $0 == "\t" }), ys = y.split(whereSeparator: { $0 == " " || $0 == "\t" })
        guard xs.count == ys.count else { return false }
        for (p, q) in zip(xs, ys) where p != q {
            guard isNonInteger(p), isNonInteger(q), let u = Double(p), let v = Double(q),
                  abs(u - v) <= 1e-6 * max(1, abs(u), abs(v)) else { return false }
        }
    }
    return true
}

private func isNonInteger(_ token: Substring) -> Bool {
    guard let value = Double(token), value.isFinite else { return false }
    return token.contains(".") || token.contains("e") || token.contains("E")
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

private extension Substring {
    func firstWord() -> String { split(separator: " ").first.map { $0.lowercased() } ?? "" }
}
