import Testing
@testable import CodeVerify
@testable import Formats

/// The stdio judge's rules, each with the wrong answers it must still reject, and the judging
/// fields of `tests`: case_sensitive, checker, time_limit, total_time_limit.
@Suite struct StdioJudgeTests {
    @Test func whiteSpaceIsOnlyASeparator() {
        #expect(stdioMatches("1 2  \n\n\n", "1 2\n"), "trailing spaces and blank lines")
        #expect(stdioMatches("1\r\n2\r\n", "1 2"), "line breaks (also CRLF) separate tokens like spaces")
        #expect(stdioMatches("\t 3\n", "3"))
        #expect(stdioMatches("", "\n\n"), "empty output for an empty expected output")
        #expect(!stdioMatches("1 2 3\n", "1 2\n"), "an extra token")
        #expect(!stdioMatches("1\n", "1 2\n"), "a missing token")
        #expect(!stdioMatches("12\n", "1 2\n"), "tokens joined")
        #expect(!stdioMatches("\n", "0\n"))
    }

    @Test func realTokensWithinOneMillionth() {
        #expect(stdioMatches("1.0000001\n", "1.0\n"), "relative and absolute 1e-7")
        #expect(!stdioMatches("1.00001\n", "1.0\n"), "1e-5 off")
        #expect(stdioMatches("1e-7\n", "0.000000\n"), "absolute tolerance where the expected value is 0")
        #expect(!stdioMatches("2e-6\n", "0.0\n"))
        #expect(stdioMatches("1000000.5\n", "1000000.0\n"), "relative: 5e-7 of the expected value")
        #expect(!stdioMatches("1000002.0\n", "1000000.0\n"))
        #expect(stdioMatches("2\n", "2.0\n"), "an integer token for a real expected value")
        #expect(stdioMatches("0.3333333\n", "0.33333333333\n"))
        #expect(stdioMatches("-1.5E+2\n", "-150.0000001\n"))
        #expect(!stdioMatches("150\n", "-150.0\n"), "the sign counts")
    }

    /// Integer answers are exact, as Codeforces' integer checkers compare them: a tolerance
    /// applies only where the expected output itself is written as a real number.
    @Test func integerTokensAreExact() {
        #expect(!stdioMatches("10.0000001\n", "10\n"))
        #expect(!stdioMatches("10.0\n", "10\n"))
        #expect(!stdioMatches("1.0000001\n", "1\n"))
        #expect(!stdioMatches("1e-7\n", "0\n"))
        #expect(!stdioMatches("010\n", "10\n"), "leading zeros change the text")
        #expect(!stdioMatches("+5\n", "5\n"))
        #expect(stdioMatches("-0\n", "-0\n"))
        #expect(!stdioMatches("123456789012345678901\n", "123456789012345678900\n"), "beyond a double's precision")
    }

    @Test func notANumberAndInfinityNeverWithinTolerance() {
        #expect(!stdioMatches("nan\n", "1.0\n"))
        #expect(!stdioMatches("NaN\n", "nan\n"))
        #expect(!stdioMatches("inf\n", "1e308\n"))
        #expect(!stdioMatches("1e309\n", "1e308\n"), "overflows to infinity")
        #expect(!stdioMatches("1e400\n", "1e401\n"))
        #expect(!stdioMatches("infinity\n", "inf\n"))
        #expect(!stdioMatches("0x10\n", "16.0\n"), "only decimal numbers are numbers")
        #expect(!stdioMatches("1,5\n", "1.5\n"))
        #expect(stdioMatches("inf\n", "inf\n"), "the same text is the same output")
    }

    @Test func casePolicyBothWays() {
        #expect(!stdioMatches("yes\n", "YES\n"), "case-sensitive by default")
        #expect(stdioMatches("yes\nNo\n", "YES\nNO\n", caseSensitive: false))
        #expect(!stdioMatches("yes\n", "YES NO\n", caseSensitive: false), "case-insensitive is not count-insensitive")
        #expect(!stdioMatches("yess\n", "YES\n", caseSensitive: false))
    }

    func record(_ program: String, _ tests: JSON) -> Record {
        Record(["id": "j", "task": "code", "completion": .string(program), "tests": tests])
    }

    @Test func caseSensitiveFieldOfTheRecord() throws {
        let cases: JSON = [["input": "4\n", "output": "YES\n"], ["input": "3\n", "output": "NO\n"]]
        let program = "print('yes' if int(input()) % 2 == 0 else 'no')\n"
        let c = checker()
        #expect(try c.check(record(program, ["stdio": cases])).verdict == .wrongAnswer)
        #expect(try c.check(record(program, ["stdio": cases, "case_sensitive": true])).verdict == .wrongAnswer)
        #expect(try c.check(record(program, ["stdio": cases, "case_sensitive": false])).verdict == .correct)
        let wrong = "print('no' if int(input()) % 2 == 0 else 'yes')\n"
        #expect(try c.check(record(wrong, ["stdio": cases, "case_sensitive": false])).verdict == .wrongAnswer)
        #expect(throws: DataError.self) { try c.check(record(program, ["stdio": cases, "case_sensitive": "no"])) }
    }

    /// A checker for "print any two numbers with the given sum": several right answers.
    static let sumChecker = """
        import sys
        n = int(open(sys.argv[1]).read())
        tokens = open(sys.argv[3]).read().split()
        if len(tokens) != 2:
            sys.exit(1)
        a, b = map(int, tokens)
        sys.exit(0 if a + b == n else 1)
        """

    @Test func checkerAcceptsEveryRightAnswerAndRejectsWrongOnes() throws {
        let tests: JSON = ["stdio": [["input": "5\n", "output": "2 3\n"], ["input": "10\n", "output": "5 5\n"]],
                           "checker": .string(Self.sumChecker)]
        let c = checker()
        #expect(try c.check(record("n = int(input())\nprint(n - 1, 1)\n", tests)).verdict == .correct,
                "a different right answer than the expected output")
        #expect(try c.check(record("n = int(input())\nprint(n // 2, n - n // 2)\n", tests)).verdict == .correct)
        let wrong = try c.check(record("n = int(input())\nprint(n, 1)\n", tests))
        #expect(wrong.verdict == .wrongAnswer)
        #expect(wrong.details["checker"] == "rejected (exit status 1)")
        #expect(wrong.details["test"] == 0)
        #expect(try c.check(record("n = int(input())\nprint(n - 1, 1, 0)\n", tests)).verdict == .wrongAnswer)
        // The checker replaces the token comparison: the expected output itself is not enough.
        #expect(try c.check(record("print('2 3')\n", tests)).verdict == .wrongAnswer)
        // A candidate that crashes is still the candidate's runtime error, not the checker's call.
        #expect(try c.check(record("raise SystemExit(4)\n", tests)).verdict == .runtimeError)
    }

    @Test func checkerSeesInputExpectedAndActualFiles() throws {
        let echo = """
            import sys
            given, expected, actual = (open(path).read() for path in sys.argv[1:4])
            sys.exit(0 if (given, expected, actual) == ('in\\n', 'want\\n', 'got\\n') else 1)
            """
        let tests: JSON = ["stdio": [["input": "in\n", "output": "want\n"]], "checker": .string(echo)]
        #expect(try checker().check(record("input()\nprint('got')\n", tests)).verdict == .correct)
        #expect(try checker().check(record("input()\nprint('want')\n", tests)).verdict == .wrongAnswer)
    }

    @Test func brokenCheckersNeverPass() throws {
        let cases: JSON = [["input": "1\n", "output": "1\n"]]
        let right = "print(input())\n"
        func verdict(_ checkerSource: String, _ extra: [(String, JSON)] = []) throws -> CodeCheckResult {
            var tests = JSONObject([("stdio", cases), ("checker", .string(checkerSource))])
            for (key, value) in extra { tests[key] = value }
            return try checker().check(record(right, .object(tests)))
        }
        let crashing = try verdict("import sys\nvalue = 1 / 0\n")
        #expect(crashing.verdict == .wrongAnswer)
        #expect(crashing.details["checker"] == "checker failed: an exception")
        #expect(crashing.details["stderr"]?.stringValue?.contains("ZeroDivisionError") == true)
        let syntax = try verdict("def (:\n")
        #expect(syntax.verdict == .wrongAnswer)
        #expect(syntax.details["checker"] == "checker failed: an exception")
        let looping = try verdict("while True:\n    pass\n", [("time_limit", 0.5)])
        #expect(looping.verdict == .wrongAnswer)
        #expect(looping.details["checker"]?.stringValue?.hasPrefix("checker failed: timeout (CPU time limit") == true,
                "\(looping.details)")
        // A segmentation fault (kill(getpid()) would not do: the checker may be its PID
        // namespace's init, which ignores signals it sends itself).
        let killed = try verdict("import ctypes\nctypes.string_at(0)\n")
        #expect(killed.verdict == .wrongAnswer)
        #expect(killed.details["checker"] == "checker failed: killed by signal 11", "\(killed.details)")
        #expect(try verdict("import sys\nsys.exit(2)\n").details["checker"] == "rejected (exit status 2)")
        #expect(try verdict("import sys\nsys.exit(7)\n").details["checker"] == "checker failed: exit status 7")
        #expect(try verdict("import sys\nsys.exit(0)\n").verdict == .correct, "the control: this checker accepts")
        #expect(throws: DataError.self) { try verdict("") }
    }

    @Test func outputWithANulByteIsNotShownToAChecker() throws {
        let tests: JSON = ["stdio": [["input": "", "output": "ok\n"]],
                           "checker": "import sys\nsys.exit(0 if open(sys.argv[3]).read().startswith('ok') else 1)\n"]
        let nul = try checker().check(record("import sys\nsys.stdout.write('ok\\0 but wrong')\n", tests))
        #expect(nul.verdict == .wrongAnswer)
        #expect(nul.details["detail"] == "output contains a NUL byte")
        #expect(try checker().check(record("print('ok')\n", tests)).verdict == .correct)
    }

    // MARK: time limits

    /// Spins for about `seconds` of CPU time, then prints the input back.
    static func spinning(_ seconds: Double) -> String {
        "import time\nend = time.process_time() + \(seconds)\nwhile time.process_time() < end:\n    pass\nprint(input())\n"
    }

    @Test func timeLimitIsCPUTime() throws {
        let cases: JSON = [["input": "1\n", "output": "1\n"]]
        let c = checker(timeout: 10)
        let spinner = try c.check(record("while True:\n    pass\n", ["stdio": cases, "time_limit": 0.5]))
        #expect(spinner.verdict == .timeout)
        #expect(spinner.details["detail"]?.stringValue?.hasPrefix("CPU time limit of 0.5 s") == true, "\(spinner.details)")
        // Waiting costs no CPU time: 1.2 s asleep passes a 0.5 s CPU limit (the wall-clock
        // backstop is max(3 x 0.5 + 1, the checker's 10 s)).
        let sleeper = "import time\ntime.sleep(1.2)\nprint(input())\n"
        #expect(try c.check(record(sleeper, ["stdio": cases, "time_limit": 0.5])).verdict == .correct)
        // A program that finishes but used more CPU than allowed is still over the limit.
        #expect(try c.check(record(Self.spinning(0.8), ["stdio": cases, "time_limit": 0.5])).verdict == .timeout)
        #expect(try c.check(record(Self.spinning(0.1), ["stdio": cases, "time_limit": 0.5])).verdict == .correct)
        // A sleeper past the backstop is a wall-clock timeout, said as such.
        let quick = checker(timeout: 1)
        let asleep = try quick.check(record("import time\ntime.sleep(30)\n", ["stdio": cases, "time_limit": 0.25]))
        #expect(asleep.verdict == .timeout)
        #expect(asleep.details["detail"]?.stringValue?.hasPrefix("wall-clock limit of 1.75 s") == true, "\(asleep.details)")
        #expect(throws: DataError.self) { try c.check(record("print(1)\n", ["stdio": cases, "time_limit": 0])) }
        #expect(throws: DataError.self) { try c.check(record("print(1)\n", ["stdio": cases, "time_limit": "2"])) }
    }

    @Test func totalTimeLimitCoversAllTests() throws {
        let cases: JSON = .array((0..<4).map { i in ["input": .string("\(i)\n"), "output": .string("\(i)\n")] })
        let c = checker()
        let program = Self.spinning(0.3)
        #expect(try c.check(record(program, ["stdio": cases, "time_limit": 1])).verdict == .correct)
        let over = try c.check(record(program, ["stdio": cases, "time_limit": 1, "total_time_limit": 0.75]))
        #expect(over.verdict == .timeout)
        #expect(over.details["detail"] == "total CPU time limit of 0.75 s for all tests")
        #expect(over.details["test"] == 2, "0.3 + 0.3 + 0.3 s passes 0.75 s during the third test")
    }

    @Test func timeLimitOfFunctionTests() throws {
        let spin = "def f(x):\n    while True:\n        pass\n"
        var record = functionTask(spin)
        var tests = record["tests"]!.objectValue!
        tests["time_limit"] = 0.5
        record["tests"] = .object(tests)
        let result = try checker().check(record)
        #expect(result.verdict == .timeout)
        #expect(result.details["detail"]?.stringValue?.hasPrefix("CPU time limit of 0.5 s") == true, "\(result.details)")
        let call: JSON = ["call": ["fn_name": "f", "inputs": [[1], [2]], "outputs": [1, 2]], "time_limit": 0.3]
        let slow = "import time\ndef f(x):\n    end = time.process_time() + 0.2\n    while time.process_time() < end:\n" +
            "        pass\n    return x\n"
        #expect(try checker().check(Record(["id": "c", "task": "code", "completion": .string(slow), "tests": call])).verdict
                == .correct, "two calls of 0.2 s within 2 x 0.3 s")
    }
}
