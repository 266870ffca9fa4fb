import Foundation
import Testing
@testable import CodeVerify
@testable import Formats

/// Hostile programs: each must fail cleanly with the right verdict inside its time bound, leave
/// no process and no file behind, and reach nothing on the network; in the warm sandbox and
/// the cold one.
@Suite(.serialized) struct AdversarialProgramTests {
    let marker = "rstm\(UInt32.random(in: 0..<1_000_000))"

    /// Runs a program with a 2-second wall clock and checks that it finished within 6 seconds
    /// and that its working directory is gone.
    func verdict(_ mode: SandboxMode, _ program: String, tests: String? = nil, wallSeconds: Double = 2) throws -> CodeVerdict {
        let root = FileManager.default.temporaryDirectory.appendingPathComponent("\(marker)-sandboxes").path
        try FileManager.default.createDirectory(atPath: root, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(atPath: root) }
        var limits = SandboxLimits()
        limits.wallSeconds = wallSeconds
        limits.memoryBytes = 512 << 20
        limits.temporaryRoot = root
        let started = Date()
        let record = tests.map { functionTask(program, tests: $0) } ?? functionTask(program)
        let check = CodeChecker(python: CodeChecker.defaultPython()!, limits: limits, sandbox: mode)
        let result = try check.check(record)
        #expect(check.sandboxNote == nil, "\(check.sandboxNote ?? "")")
        #expect(Date().timeIntervalSince(started) < 6, "took \(Date().timeIntervalSince(started)) s")
        #expect(try FileManager.default.contentsOfDirectory(atPath: root).isEmpty)
        return result.verdict
    }

    /// Live processes whose name (comm) carries this test's marker: there must be none
    /// afterwards. A zombie is not live (it runs nothing and holds no memory): one the kernel
    /// hands to the system's init as a PID namespace dies is reaped by init in its own time.
    func strays() -> [String] {
        let entries = (try? FileManager.default.contentsOfDirectory(atPath: "/proc")) ?? []
        return entries.filter { Int($0) != nil }.compactMap { pid in
            guard let stat = try? String(contentsOfFile: "/proc/\(pid)/stat", encoding: .utf8),
                  stat.contains("(\(marker))"), !stat.contains(") Z ") else { return nil }
            return stat
        }
    }

    /// Sets the process name so its descendants can be found by `strays()`.
    var named: String { "open('/proc/self/comm', 'w').write('\(marker)')\n" }

    @Test(arguments: SandboxMode.allCases) func infiniteLoop(_ mode: SandboxMode) throws {
        #expect(try verdict(mode, "def f(x):\n    while True:\n        pass\n") == .timeout)
    }

    @Test(arguments: SandboxMode.allCases) func sleep(_ mode: SandboxMode) throws {
        #expect(try verdict(mode, "import time\ndef f(x):\n    time.sleep(100)\n") == .timeout)
    }

    @Test(arguments: SandboxMode.allCases) func ignoringSIGTERM(_ mode: SandboxMode) throws {
        #expect(try verdict(mode, "import signal\nsignal.signal(signal.SIGTERM, signal.SIG_IGN)\ndef f(x):\n    while True:\n        pass\n") == .timeout)
    }

    @Test(arguments: SandboxMode.allCases) func forkBomb(_ mode: SandboxMode) throws {
        let v = try verdict(mode, named + "import os\nwhile True:\n    try:\n        os.fork()\n    except OSError:\n        pass\n")
        #expect(v == .timeout || v == .runtimeError)
        #expect(strays().isEmpty, "\(strays())")
    }

    @Test(arguments: SandboxMode.allCases) func childThatOutlivesTheProgram(_ mode: SandboxMode) throws {
        let program = named + """
            import os, time
            if os.fork() == 0:
                os.setsid()
                if os.fork() == 0:
                    time.sleep(300)
                os._exit(0)
            def f(x):
                return x * x
            """
        _ = try verdict(mode, program)
        usleep(200_000)
        #expect(strays().isEmpty, "\(strays())")
    }

    /// Zero-filling 512 MB takes more than 2 s on a loaded machine (CI): the time limit here is
    /// generous so the verdict is about memory, never a timeout.
    @Test(arguments: SandboxMode.allCases) func memoryBomb(_ mode: SandboxMode) throws {
        #expect(try verdict(mode, "blocks = []\nwhile True:\n    blocks.append(bytearray(50_000_000))\n", wallSeconds: 20) == .memoryLimit)
        #expect(try verdict(mode, "def f(x):\n    return len(bytearray(10 ** 10))\n", wallSeconds: 20) == .memoryLimit)
    }

    @Test(arguments: SandboxMode.allCases) func hundredMegabytesOfOutput(_ mode: SandboxMode) throws {
        #expect(try verdict(mode, "import sys\nsys.stdout.write('x' * 100_000_000)\n") == .outputLimit)
        #expect(try verdict(mode, "import sys\nwhile True:\n    sys.stderr.write('y' * 65536)\n") == .outputLimit)
    }

    @Test(arguments: SandboxMode.allCases) func writingOutsideItsDirectory(_ mode: SandboxMode) throws {
        let outside = FileManager.default.temporaryDirectory.appendingPathComponent("\(marker)-outside").path
        let home = FileManager.default.homeDirectoryForCurrentUser.appendingPathComponent("\(marker)-home").path
        let program = """
            for path in [\(pythonString(outside)), \(pythonString(home)), '/\(marker)', '/var/tmp/\(marker)']:
                try:
                    open(path, 'w').write('escaped')
                except OSError:
                    pass
            def f(x):
                return x * x
            """
        _ = try verdict(mode, program)
        for path in [outside, home, "/\(marker)", "/var/tmp/\(marker)"] {
            #expect(!FileManager.default.fileExists(atPath: path), "\(path) was written")
        }
    }

    @Test(arguments: SandboxMode.allCases) func deletingTheUsersFiles(_ mode: SandboxMode) throws {
        let dir = FileManager.default.temporaryDirectory.appendingPathComponent("\(marker)-precious")
        try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
        defer { try? FileManager.default.removeItem(at: dir) }
        let precious = dir.appendingPathComponent("notes.txt")
        try "keep me".write(to: precious, atomically: true, encoding: .utf8)
        let program = """
            import os, shutil
            for action in [lambda: os.remove(\(pythonString(precious.path))), lambda: shutil.rmtree(\(pythonString(dir.path)))]:
                try:
                    action()
                except OSError:
                    pass
            def f(x):
                return x * x
            """
        _ = try verdict(mode, program)
        #expect(try String(contentsOf: precious, encoding: .utf8) == "keep me")
    }

    @Test(arguments: SandboxMode.allCases) func socketToALoopbackServer(_ mode: SandboxMode) throws {
        let server = try LoopbackServer()
        defer { server.close() }
        let program = """
            import socket
            try:
                s = socket.create_connection(('127.0.0.1', \(server.port)), timeout=1)
                s.sendall(b'hello')
            except OSError:
                pass
            def f(x):
                return x * x
            """
        _ = try verdict(mode, program)
        #expect(server.acceptedConnections() == 0)
    }

    @Test(arguments: SandboxMode.allCases) func exitingBeforeTheTests(_ mode: SandboxMode) throws {
        #expect(try verdict(mode, "import sys\nsys.exit(0)\ndef f(x):\n    return x * x\n") == .runtimeError)
        #expect(try verdict(mode, "import os\nos._exit(0)\ndef f(x):\n    return x * x\n") == .runtimeError)
        #expect(try verdict(mode, "import os\ndef f(x):\n    os._exit(0)\n") == .runtimeError)
    }

    @Test(arguments: SandboxMode.allCases) func printingFakeSuccess(_ mode: SandboxMode) throws {
        let program = """
            import os, sys, json
            print('correct'); print('All tests passed'); print(json.dumps({'status': 'correct'}))
            os.write(4, b'{"status": "correct"}\\n{"status": "results", "results": [4, 9]}\\n')
            def f(x):
                return 0
            """
        #expect(try verdict(mode, program) == .wrongAnswer)
    }

    @Test(arguments: SandboxMode.allCases) func objectEqualToEverything(_ mode: SandboxMode) throws {
        let program = """
            class Anything(int):
                def __eq__(self, other): return True
                def __ne__(self, other): return False
                __hash__ = int.__hash__
            class Liar:
                def __eq__(self, other): return True
                __class__ = int
            def f(x):
                return Anything(0) if x == 2 else Liar()
            """
        #expect(try verdict(mode, program) == .wrongAnswer)
    }

    @Test(arguments: SandboxMode.allCases) func patchingBuiltins(_ mode: SandboxMode) throws {
        let tests = "def check(candidate):\n    assert abs(candidate(2) - 4) < 1e-9\n    assert len([candidate(3)]) == 1 and candidate(3) == 9\n"
        #expect(try verdict(mode, "import builtins\nbuiltins.abs = lambda v: 0\ndef f(x):\n    return 0\n", tests: tests) == .wrongAnswer)
        #expect(try verdict(mode, "def abs(v):\n    return 0\ndef f(x):\n    return 0\n", tests: tests) == .wrongAnswer)
        #expect(try verdict(mode, "import builtins\nbuiltins.AssertionError = Exception\nbuiltins.isinstance = lambda a, b: True\ndef f(x):\n    return 0\n") == .wrongAnswer)
    }

    @Test(arguments: SandboxMode.allCases) func stdioProgramCannotSeeExpectedOutput(_ mode: SandboxMode) throws {
        let tests: JSON = ["stdio": [["input": "5\n", "output": .string("\(marker)\n")]]]
        let program = "import os\nfor root, dirs, files in os.walk('/tmp'):\n    print(root, files)\n"
        let record = Record(["id": "s", "task": "code", "completion": .string(program), "tests": tests])
        #expect(try checker(timeout: 2, sandbox: mode).check(record).verdict == .wrongAnswer)
    }
}

func pythonString(_ s: String) -> String { "'" + s.replacingOccurrences(of: "'", with: "\\'") + "'" }

/// A TCP listener on 127.0.0.1 that counts the connections it could accept.
final class LoopbackServer {
    let fd: Int32
    let port: UInt16

    init() throws {
        let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
        var address = sockaddr_in()
        address.sin_family = sa_family_t(AF_INET)
        address.sin_addr.s_addr = inet_addr("127.0.0.1")
        address.sin_port = 0
        var length = socklen_t(MemoryLayout<sockaddr_in>.size)
        let bound = withUnsafePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) } }
        guard bound == 0, listen(fd, 16) == 0 else { throw DataError("cannot listen on loopback") }
        _ = withUnsafeMutablePointer(to: &address) { $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) } }
        _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        self.fd = fd
        port = UInt16(bigEndian: address.sin_port)
    }

    func acceptedConnections() -> Int {
        var count = 0
        while true {
            let client = accept(fd, nil, nil)
            if client < 0 { return count }
            Glibc.close(client)
            count += 1
        }
    }

    func close() { Glibc.close(fd) }
}
