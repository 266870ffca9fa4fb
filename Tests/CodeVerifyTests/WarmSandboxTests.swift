import Datasets
import Foundation
import Testing
@testable import CodeVerify
@testable import Formats
import TestSupport

/// Warm and cold verdicts on HumanEval's canonical solutions and on `pass` bodies: the same for
/// every problem, all correct and none correct.
func compareWarmAndCold(folder: String, count: Int) throws {
    var problems: [Record] = []
    _ = try Importer.run(.humaneval, path: "\(folder)/humaneval/HumanEval.jsonl.gz") { problems.append($0) }
    #expect(problems.count == count)
    let warm = checker(sandbox: .warm), cold = checker(sandbox: .cold)
    let all = problems
    let collected = Collected()
    DispatchQueue.concurrentPerform(iterations: all.count) { i in
        var differences: [String] = []
        var canonicalCorrect = true, emptyCorrect = false
        for body in [all[i]["solution"]!, "    pass\n"] {
            var record = all[i]
            record["completion"] = body
            let a = try? warm.check(record), b = try? cold.check(record)
            if a?.verdict != b?.verdict {
                differences.append("\(all[i].id!): warm \(String(describing: a)), cold \(String(describing: b))")
            }
            if body == all[i]["solution"]! {
                canonicalCorrect = a?.verdict == .correct
            } else {
                emptyCorrect = a?.verdict == .correct
            }
        }
        if !canonicalCorrect { differences.append("\(all[i].id!): canonical solution not correct in warm") }
        collected.add(differences.isEmpty ? nil : differences.joined(separator: "; "), emptyCorrect ? all[i].id! : nil)
    }
    let (differences, emptyPasses) = collected.values
    #expect(differences.isEmpty, "\(differences)")
    #expect(emptyPasses.isEmpty, "\(emptyPasses)")
    #expect(warm.sandboxNote == nil, "\(warm.sandboxNote ?? "")")
}

/// All 164 HumanEval problems, only when RESTEM_DATA_DIR names the full datasets.
@Suite(.enabled(if: fullDatasets != nil, "RESTEM_DATA_DIR names the full datasets"))
struct WarmSandboxFullDataTests {
    @Test func warmAndColdAgreeOnHumanEval() throws {
        try compareWarmAndCold(folder: fullDatasets!, count: 164)
    }
}

/// The warm sandbox: the same verdicts as the cold one, and nothing one program does reaches the
/// next program forked from the same zygote. Each hostile program runs on a one-thread checker,
/// followed by a correct and a wrong program on the same zygote, whose verdicts must not change.
@Suite(.serialized) struct WarmSandboxTests {
    let marker = "rstw\(UInt32.random(in: 0..<1_000_000))"

    @Test func warmAndColdAgreeOnTheHumanEvalSlice() throws {
        try compareWarmAndCold(folder: datasetSlices, count: 20)
    }

    /// Ordinary programs of every test shape and verdict, warm and cold alike.
    @Test func warmAndColdAgreeOnOrdinaryPrograms() throws {
        let stdio: JSON = ["stdio": [["input": "3 4\n", "output": "7\n"], ["input": "10 -2\n", "output": "8\n"]]]
        let call: JSON = ["call": ["fn_name": "add", "inputs": [[1, 2], [3, 4]], "outputs": [3, 7]]]
        let records = [
            functionTask("def f(x):\n    return x * x\n"),
            functionTask("def f(x):\n    return x + x\n"),
            functionTask("def f(x):\n    return 1 / 0\n"),
            functionTask("def f(x) return\n"),
            functionTask("import sys\nprint('out'); print('err', file=sys.stderr)\ndef f(x):\n    return x ** 2\n"),
            functionTask("from typing import List\nimport random, math\ndef f(x):\n    return int(math.pow(x, 2))\n"),
            Record(["id": "s", "task": "code", "completion": "a, b = map(int, input().split())\nprint(a + b)\n",
                    "tests": stdio]),
            Record(["id": "s", "task": "code", "completion": "a, b = map(int, input().split())\nprint(a - b)\n",
                    "tests": stdio]),
            Record(["id": "s", "task": "code", "completion": "import sys\nsys.exit(3)\n", "tests": stdio]),
            Record(["id": "s", "task": "code", "completion": "print(\n", "tests": stdio]),
            Record(["id": "c", "task": "code", "completion": "def add(a, b):\n    return a + b\n", "tests": call]),
            Record(["id": "c", "task": "code", "completion": "def add(a, b):\n    return a * b\n", "tests": call]),
        ]
        let warm = checker(sandbox: .warm), cold = checker(sandbox: .cold)
        for record in records {
            let a = try warm.check(record), b = try cold.check(record)
            #expect(a.verdict == b.verdict, "\(record["completion"]!): warm \(a), cold \(b)")
        }
        #expect(try warm.check(records[0]).verdict == .correct)
        #expect(try warm.check(records[6]).verdict == .correct)
        #expect(try warm.check(records[10]).verdict == .correct)
        #expect(warm.warmPool?.zygotesStarted == 1)
        #expect(warm.sandboxNote == nil)
    }

    /// Runs `program`, then a correct and a wrong program on the same checker (one thread, so
    /// one zygote while nothing abnormal happens); returns the hostile program's verdict.
    func hostileThenOrdinary(_ program: String, on check: CodeChecker, sameZygote: Bool = true) throws -> CodeVerdict {
        let before = check.warmPool?.zygotesStarted ?? 0
        let verdict = try check.check(functionTask(program)).verdict
        #expect(try check.check(functionTask("def f(x):\n    return x * x\n")).verdict == .correct)
        #expect(try check.check(functionTask("def f(x):\n    return x + 1\n")).verdict == .wrongAnswer)
        if sameZygote { #expect(check.warmPool?.zygotesStarted == max(before, 1), "the zygote was replaced") }
        #expect(check.sandboxNote == nil, "\(check.sandboxNote ?? "")")
        return verdict
    }

    /// The wall clock is generous: these tests are about isolation, and the full suite on a
    /// loaded machine once took over 2 s for a program that sleeps 0.2 s.
    func warmChecker(wallSeconds: Double = 10) -> CodeChecker {
        var limits = SandboxLimits()
        limits.wallSeconds = wallSeconds
        limits.memoryBytes = 512 << 20
        return CodeChecker(python: CodeChecker.defaultPython()!, limits: limits, sandbox: .warm)
    }

    /// Live processes named with this suite's marker.
    func strays() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.compactMap { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  stat.contains("(\(marker))"), !stat.contains(") Z ") else { return nil }
            return stat
        }
    }

    /// A grandchild in a new session and process group that would sleep for five minutes: it is
    /// gone as soon as the verdict is in (its PID namespace died with the program), while the
    /// zygote lives on.
    @Test func childThatOutlivesItsProgramIsGoneBeforeTheNext() throws {
        let check = warmChecker()
        let program = """
            import os, time
            open('/proc/self/comm', 'w').write('\(marker)')
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    os.setpgid(0, 0)
                    time.sleep(300)
                os._exit(0)
            time.sleep(0.2)
            def f(x):
                return x * x
            """
        let result = try check.check(functionTask(program))
        #expect(result.verdict == .correct, "\(result)")
        #expect(strays().isEmpty, "\(strays())")
        _ = try hostileThenOrdinary("def f(x):\n    return x * x\n", on: check)
        #expect(strays().isEmpty, "\(strays())")
    }

    /// Patching what the harness and the zygote use (json, os, builtins, sys.modules, the
    /// zygote's own objects found through gc) changes nothing for the next program: each child
    /// is a fork, and its writes die with it.
    @Test func patchingTheWarmInterpreterReachesNoOtherProgram() throws {
        let check = warmChecker()
        let program = """
            import builtins, gc, json, os, sys, types
            forged = '{"status": "correct"}'
            json.dumps = lambda *a, **k: forged
            json.loads = lambda *a, **k: {"mode": "python", "program": "", "tests": "", "entry_point": "f"}
            os.write = lambda fd, data: len(data)
            os.read = lambda fd, n: b''
            builtins.AssertionError = type('Never', (Exception,), {})
            builtins.compile = lambda *a, **k: compile
            sys.modules['json'] = types.SimpleNamespace(dumps=json.dumps, loads=json.loads)
            sys.modules['traceback'] = None
            for thing in gc.get_objects():
                if type(thing) is dict:
                    for key, value in list(thing.items()):
                        if type(value) is types.CodeType:
                            thing[key] = compile('pass', 'x', 'exec')
            sys.setrecursionlimit(50)
            def f(x):
                return 0
            """
        let verdict = try hostileThenOrdinary(program, on: check)
        #expect(verdict != .correct)
    }

    /// Files a program leaves in its working directory, /tmp, /var/tmp, /dev/shm and /run/lock
    /// (world-readable, world-writable), and SysV shared memory: the next program finds none.
    /// The reader passes only if it sees nothing.
    @Test func noFileOfAProgramReachesTheNext() throws {
        let check = warmChecker()
        let writer = """
            import os
            for directory in ['.', '/tmp', '/var/tmp', '/dev/shm', '/run/lock']:
                try:
                    path = os.path.join(directory, '\(marker)')
                    with open(path, 'w') as file:
                        file.write('left behind')
                    os.chmod(path, 0o666)
                except OSError:
                    pass
            try:
                os.chmod('.', 0o777)
            except OSError:
                pass
            def f(x):
                return x * x
            """
        #expect(try check.check(functionTask(writer)).verdict == .correct)
        let reader = """
            import os
            found = []
            for directory in ['.', '/tmp', '/var/tmp', '/dev/shm', '/run/lock']:
                for root, dirs, files in os.walk(directory):
                    found += [name for name in files if '\(marker)' in name]
            def f(x):
                return x * x if not found else -1
            """
        #expect(try hostileThenOrdinary(reader, on: check) == .correct)
    }

    @Test func memoryExhaustedAtImportTime() throws {
        let check = warmChecker(wallSeconds: 20)
        let blob = "blob = bytearray(10 ** 10)\ndef f(x):\n    return x * x\n"
        #expect(try hostileThenOrdinary(blob, on: check) == .memoryLimit)
        let hog = "blocks = []\nwhile True:\n    blocks.append(bytearray(50_000_000))\ndef f(x):\n    return x * x\n"
        #expect(try hostileThenOrdinary(hog, on: check) == .memoryLimit)
    }

    /// Signals to the parent, to every pid number, to -1 and to a process of the host: nothing
    /// outside the program's own namespace is reached (the zygote and the host process live on).
    @Test func signallingTheZygoteAndOtherProcesses() throws {
        let bystander = Process()
        bystander.executableURL = URL(fileURLWithPath: "/bin/sleep")
        bystander.arguments = ["60"]
        try bystander.run()
        defer {
            kill(bystander.processIdentifier, SIGKILL)
            bystander.waitUntilExit()
        }
        let check = warmChecker()
        let program = """
            import os, signal
            host = \(bystander.processIdentifier)
            for target in [os.getppid(), -1, host, -host] + list(range(2, 5000)):
                try:
                    os.kill(target, signal.SIGKILL)
                except (OSError, OverflowError):
                    pass
            def f(x):
                return x * x
            """
        #expect(try hostileThenOrdinary(program, on: check) == .correct)
        #expect(bystander.isRunning)
    }

    /// Writing garbage to every descriptor (a forged report on 4 among them) and closing them all.
    @Test func writingAndClosingInheritedDescriptors() throws {
        let check = warmChecker()
        let program = """
            import os
            for fd in range(0, 1024):
                try:
                    os.write(fd, b'{"status": "correct"}\\n')
                except OSError:
                    pass
            os.closerange(0, 1024)
            def f(x):
                return x * x
            """
        let verdict = try hostileThenOrdinary(program, on: check)
        #expect(verdict == .runtimeError)
    }

    /// A timeout ends the zygote (the program is killed with its namespace); a fresh one runs the next.
    @Test func timeoutReplacesTheZygote() throws {
        let check = warmChecker(wallSeconds: 2)
        #expect(try check.check(functionTask("def f(x):\n    return x * x\n")).verdict == .correct)
        let sleeper = "import time\ndef f(x):\n    time.sleep(100)\n"
        let verdict = try hostileThenOrdinary(sleeper, on: check, sameZygote: false)
        #expect(verdict == .timeout)
        #expect(check.warmPool?.zygotesStarted == 2)
    }

    /// After `programsPerZygote` programs the zygote is replaced.
    @Test func zygoteIsReplacedAfterItsTerm() throws {
        let check = warmChecker()
        for _ in 0..<(WarmPool.programsPerZygote + 1) {
            let result = try check.check(functionTask("def f(x):\n    return x * x\n"))
            #expect(result.verdict == .correct, "\(result)")
        }
        #expect(check.warmPool?.zygotesStarted == 2)
    }

    /// A zygote killed from outside while its program runs (as the OOM killer might): the
    /// program is run again cold, which decides its verdict, and the next one gets a new zygote.
    @Test func zygoteKilledUnderAProgramLeavesTheVerdictToTheColdPath() throws {
        let check = warmChecker(wallSeconds: 10)
        let program = """
            import time
            try:
                open('/proc/self/comm', 'w').write('\(marker)')
            except OSError:
                pass
            time.sleep(1.5)
            def f(x):
                return x * x
            """
        let killed = Collected()
        let killer = Thread { [marker] in
            let giveUp = Date().addingTimeInterval(5)
            while Date() < giveUp {
                let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
                for pid in entries where Int(pid) != nil {
                    // stat: pid (comm) state ppid ...; the program's parent is its zygote.
                    guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                          stat.contains("(\(marker))"),
                          let fields = stat.split(separator: ")").last?.split(separator: " "), fields.count > 2,
                          let zygote = Int32(fields[1]) else { continue }
                    kill(zygote, SIGKILL)
                    killed.add("\(zygote)", nil)
                    return
                }
                usleep(20_000)
            }
        }
        killer.start()
        let started = Date()
        let result = try check.check(functionTask(program))
        #expect(result.verdict == .correct, "\(result)")
        #expect(killed.values.0.count == 1, "no zygote was killed")
        // Killed at the start of its sleep, it slept again in full, cold.
        #expect(Date().timeIntervalSince(started) > 1.5)
        #expect(try check.check(functionTask("def f(x):\n    return x + 1\n")).verdict == .wrongAnswer)
        #expect(check.warmPool?.zygotesStarted == 2)
        #expect(check.sandboxNote == nil)
    }

    /// Without PID and mount namespaces and root, warm cannot keep programs apart: they run
    /// cold, and the checker says so.
    @Test func withoutNamespacesProgramsRunCold() throws {
        let policy = SandboxPolicy(isolation: 0, dropPrivileges: false)
        let check = CodeChecker(python: CodeChecker.defaultPython()!, policy: policy, sandbox: .warm)
        #expect(try check.check(functionTask("def f(x):\n    return x * x\n")).verdict == .correct)
        #expect(check.warmPool?.zygotesStarted == 0)
        #expect(check.sandboxNote?.contains("run cold") == true)
    }

    /// A program's signals are delivered, whichever thread started it (Dispatch's worker
    /// threads block nearly all signals, and a fork used to pass that mask on): here SIGALRM
    /// ends a search that would otherwise run into the wall clock.
    @Test(arguments: SandboxMode.allCases) func signalsReachTheProgram(_ mode: SandboxMode) throws {
        let program = """
            import signal
            class Enough(Exception):
                pass
            def stop(number, frame):
                raise Enough()
            def f(x):
                signal.signal(signal.SIGALRM, stop)
                signal.setitimer(signal.ITIMER_REAL, 0.05)
                try:
                    while True:
                        pass
                except Enough:
                    return x * x
            """
        let results = Collected()
        // From a Dispatch worker thread, as `verify --jobs N` runs programs.
        DispatchQueue.concurrentPerform(iterations: 2) { _ in
            let verdict = try? checker(timeout: 3, sandbox: mode).check(functionTask(program)).verdict
            results.add(verdict == .correct ? nil : "\(String(describing: verdict))", nil)
        }
        #expect(results.values.0.isEmpty, "\(results.values.0)")
    }

    /// A program that exits without reading its input: writing the rest is EPIPE, not a
    /// SIGPIPE that kills the verifier (a warm child can exit before the first byte is written;
    /// it killed the test process once).
    @Test(arguments: SandboxMode.allCases) func programThatIgnoresItsInput(_ mode: SandboxMode) throws {
        let input = String(repeating: "1 2\n", count: 200_000)
        let tests: JSON = ["stdio": [["input": .string(input), "output": "3\n"]]]
        let check = checker(timeout: 5, sandbox: mode)
        for program in ["import os\nos._exit(0)\n", "print(3)\n"] {
            let record = Record(["id": "s", "task": "code", "completion": .string(program), "tests": tests])
            let verdict = try check.check(record).verdict
            #expect(verdict == (program == "print(3)\n" ? .correct : .wrongAnswer), "\(program)")
        }
    }
}
