// The warm sandbox: programs forked from a zygote per worker (Zygote.swift) instead of a fresh
// interpreter each. The Swift side is the cold path's: the same five pipes, I/O loop, output
// cap and wall-clock deadline (`Sandbox.supervise`); only starting, waiting and killing differ.
import CSandbox
import Formats

#if canImport(Glibc)
import Glibc
#endif

/// Where a code checker runs its programs.
public enum SandboxMode: String, Sendable, CaseIterable {
    /// Forked from a sandboxed Python process per worker that has already started and imported
    /// what the harness and programs use; every program keeps the cold path's isolation.
    case warm
    /// A fresh Python process per program (`Sandbox.run`).
    case cold

    /// Programs a warm interpreter runs before it is replaced.
    public static var programsPerZygote: Int { WarmPool.programsPerZygote }

    /// For the tool's sandbox summary line.
    public var summary: String {
        self == .warm ? "each program forked from a warm interpreter" : "a fresh interpreter per program"
    }
}

/// One zygote: the `sandbox_spawn` waiter outside its namespaces and Swift's end of the control
/// socket. Used by one thread at a time (the pool hands it out).
final class Zygote {
    let waiter: pid_t
    let control: Int32
    /// Programs started in it, for retiring it after `WarmPool.programsPerZygote`.
    var programs = 0
    private var received: [UInt8] = []
    private var reaped = false
    private var terminateSent = false

    enum Reply {
        case waiting
        /// The child's wait status and CPU seconds.
        case status(Int32, cpu: Double)
        /// The child could not be set up (no program code ran); the zygote exits.
        case setupFailed(String)
        /// The socket closed or spoke nonsense: the zygote is dead or must be.
        case gone
    }

    init(python: String, environment: [String: String], policy: SandboxPolicy) throws {
        var ends: [Int32] = [0, 0]
        guard sandbox_socketpair(&ends) == 0 else {
            throw DataError("sandbox: socketpair failed: \(String(cString: strerror(errno)))")
        }
        var spec = sandbox_spec()
        withUnsafeMutableBytes(of: &spec.fds) { raw in
            let fds = raw.bindMemory(to: Int32.self)
            fds[0] = ends[1]
            for i in 1..<5 { fds[i] = -1 }
        }
        // Root inside its namespaces, without limits: it hands every child its uid and limits.
        spec.isolation = policy.isolation
        spec.survive_parent_thread = 1
        var stage: UnsafePointer<CChar>?
        let environmentList = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let pid: pid_t = withCStrings([python, "-S", "-s", "-B", "-c", zygoteSource]) { argv in
            withCStrings(environmentList) { envp in
                python.withCString { path in
                    "/".withCString { workdir in
                        spec.path = path
                        spec.argv = argv
                        spec.envp = envp
                        spec.workdir = workdir
                        return sandbox_spawn(&spec, &stage)
                    }
                }
            }
        }
        let spawnError = errno
        close(ends[1])
        if pid < 0 {
            close(ends[0])
            let step = stage.map { String(cString: $0) } ?? "spawn"
            throw DataError("sandbox: starting the zygote: \(step) failed: \(String(cString: strerror(spawnError)))")
        }
        waiter = pid
        control = ends[0]
    }

    /// Sends one job with the child's five descriptors; false if the zygote is gone.
    func send(_ job: JSONObject, descriptors: [Int32]) -> Bool {
        let body = Array(JSON.object(job).serialized().utf8)
        let length = UInt32(body.count)
        let message = [UInt8(length & 0xFF), UInt8(length >> 8 & 0xFF), UInt8(length >> 16 & 0xFF),
                       UInt8(length >> 24)] + body
        return message.withUnsafeBytes { bytes in
            descriptors.withUnsafeBufferPointer { fds in
                sandbox_send(control, bytes.baseAddress, bytes.count, fds.baseAddress, Int32(fds.count)) == 0
            }
        }
    }

    /// What the zygote has said so far, without blocking.
    func reply() -> Reply {
        var buffer = [UInt8](repeating: 0, count: 4096)
        while true {
            let n = buffer.withUnsafeMutableBytes { recv(control, $0.baseAddress, $0.count, Int32(MSG_DONTWAIT)) }
            if n > 0 { received += buffer[0..<n]; continue }
            if n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR) {
                if !hasMessage { return .gone }
            }
            break
        }
        guard hasMessage else { return .waiting }
        let length = Int(received[0]) | Int(received[1]) << 8 | Int(received[2]) << 16 | Int(received[3]) << 24
        let body = Array(received[4..<(4 + length)])
        received.removeFirst(4 + length)
        guard let message = (try? body.withUnsafeBufferPointer { try JSON.parse($0) })?.objectValue else {
            return .gone
        }
        if let status = message["status"]?.intValue {
            return .status(Int32(truncatingIfNeeded: status), cpu: message["cpu"]?.doubleValue ?? 0)
        }
        return .setupFailed(message["error"]?.stringValue ?? "unreadable reply")
    }

    private var hasMessage: Bool {
        guard received.count >= 4 else { return false }
        let length = Int(received[0]) | Int(received[1]) << 8 | Int(received[2]) << 16 | Int(received[3]) << 24
        return received.count >= 4 + length
    }

    /// Kills the zygote's namespace: SIGTERM makes the waiter SIGKILL the zygote, the init of
    /// the namespace, which takes every process in it along, and exit once all are gone. Asked
    /// again, it does nothing: killing the waiter itself would let `reap` return while the
    /// namespace is still dying (the 20-second backstop is `reap`'s).
    func kill() {
        if reaped || terminateSent { return }  // a reaped waiter's pid may be someone else's by now
        terminateSent = true
        _ = Glibc.kill(waiter, SIGTERM)
    }

    /// Waits until the waiter has exited (so nothing in the namespace is left) and returns its
    /// status. Killing is the caller's; a waiter stuck for 20 seconds gets SIGKILL, with its group.
    @discardableResult
    func reap() -> Int32 {
        var status: Int32 = 0
        if reaped { return status }
        reaped = true
        let giveUp = monotonic() + 20
        while true {
            let done = waitpid(waiter, &status, WNOHANG)
            if done == waiter || (done < 0 && errno != EINTR) { break }
            if monotonic() > giveUp {
                _ = Glibc.kill(-waiter, SIGKILL)
                while waitpid(waiter, &status, 0) < 0 && errno == EINTR {}
                break
            }
            usleep(500)
        }
        return status
    }

    /// Ends the zygote and everything it started.
    func end() {
        close(control)
        kill()
        reap()
    }
}

/// Zygotes shared by the threads of one checker: a thread takes an idle one (or starts one),
/// runs one program in it and gives it back, so there are as many as threads run at once.
final class WarmPool: @unchecked Sendable {
    /// A zygote is replaced after this many programs, bounding what any slow drift in its own
    /// state could matter; a start costs ~35 ms of CPU, ~0.14 ms a program.
    static let programsPerZygote = 256

    let python: String
    let environment: [String: String]
    let policy: SandboxPolicy
    private var lock = pthread_mutex_t()
    private var idle: [Zygote] = []
    private var startedCount = 0
    private var lostCount = 0
    private var disabled: String?

    init(python: String, environment: [String: String], policy: SandboxPolicy) {
        self.python = python
        self.environment = environment
        self.policy = policy
        pthread_mutex_init(&lock, nil)
        // Every process of a program dies with it only inside a PID namespace of its own, and
        // programs are kept apart by uid and private mounts: without them, run cold.
        if !(policy.hasPIDNamespace && policy.hasMountNamespace && policy.dropPrivileges) {
            disabled = "the warm sandbox needs root and PID and mount namespaces; programs run cold"
        }
    }

    deinit {
        idle.forEach { $0.end() }
        pthread_mutex_destroy(&lock)
    }

    /// Zygotes started so far (tests check that a hostile program did not cost its zygote).
    var zygotesStarted: Int { locked { startedCount } }
    /// Why programs run cold instead (nil while warm works).
    var fallbackReason: String? { locked { disabled } }

    private func locked<T>(_ body: () -> T) -> T {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        return body()
    }

    /// Runs `source` as `python -S -s -B -c source` would, with `files` in its working
    /// directory, `stdin`, and `secret` on descriptor 3.
    func run(source: String, files: [String: String], stdin: [UInt8], secret: [UInt8],
             limits: SandboxLimits) throws -> SandboxOutcome {
        func cold() throws -> SandboxOutcome {
            try Sandbox.run(executable: python, arguments: ["-S", "-s", "-B", "-c", source], environment: environment,
                            files: files, stdin: stdin, secret: secret, limits: limits, policy: policy)
        }
        if locked({ disabled }) != nil { return try cold() }
        // Pipes first: a failure here must not strand a zygote taken from the pool.
        let pipes = try (0..<5).map { _ in try Pipe() }
        defer { pipes.forEach { $0.closeBoth() } }
        let zygote: Zygote
        if let ready = locked({ idle.popLast() }) {
            zygote = ready
        } else {
            do {
                zygote = try Zygote(python: python, environment: environment, policy: policy)
                locked { startedCount += 1 }
            } catch {
                disable("\(error)")
                return try cold()
            }
        }
        zygote.programs += 1

        let childEnds: [Int32] = [pipes[0].read, pipes[1].write, pipes[2].write, pipes[3].read, pipes[4].write]
        let id = SandboxPolicy.nextID()
        let job = JSONObject([
            ("source", .string(source)),
            ("files", .object(JSONObject(files.sorted { $0.key < $1.key }.map { ($0.key, JSON.string($0.value)) }))),
            ("uid", .number(JSONNumber(Int(id)))), ("gid", .number(JSONNumber(Int(id)))),
            // The working directory lives in the private /tmp: room for one file of the limit besides.
            ("tmpfs_bytes", .number(JSONNumber((16 << 20) + limits.fileBytes))),
            ("limits", .object(JSONObject([
                ("cpu", .number(JSONNumber(limits.cpuRlimit))), ("memory", .number(JSONNumber(limits.memoryBytes))),
                ("file", .number(JSONNumber(limits.fileBytes))), ("open_files", .number(JSONNumber(limits.openFiles))),
                ("processes", .number(JSONNumber(limits.processes))),
            ]))),
        ])
        let started = monotonic()
        guard zygote.send(job, descriptors: childEnds) else {
            zygote.end()
            return try cold()
        }
        pipes[0].closeRead(); pipes[1].closeWrite(); pipes[2].closeWrite(); pipes[3].closeRead(); pipes[4].closeWrite()

        var stopped = false, lost = false
        // Known when the zygote reports the exit; a killed zygote leaves it 0 (limits then act
        // through RLIMIT_CPU and the wall clock).
        var cpuUsed = 0.0
        var setupError: String?
        let process = Supervisee(
            exited: {
                switch zygote.reply() {
                case .waiting: return nil
                case .status(let status, let cpu):
                    cpuUsed = cpu
                    return status
                case .setupFailed(let text):
                    setupError = text
                    lost = true
                    zygote.kill()
                    return zygote.reap()
                case .gone:
                    lost = true
                    if !stopped { zygote.kill() }
                    return zygote.reap()
                }
            },
            stop: {
                stopped = true
                zygote.kill()
            },
            statusFD: zygote.control,
            finish: {
                stopped = true
                zygote.kill()
                return zygote.reap()
            },
            cpuSeconds: { cpuUsed })
        let outcome = Sandbox.supervise(pipes, stdin: stdin, secret: secret, limits: limits, started: started, process)
        if let setupError { disable("a program could not be set up in the zygote: \(setupError)") }
        if lost && !stopped {
            // The zygote died under a program it was not asked to stop (or broke the protocol):
            // the cold path, the reference, decides this program. Zygotes that keep dying (a
            // python or kernel they cannot work with) are given up.
            zygote.end()
            if locked({ () -> Int in lostCount += 1; return lostCount }) >= 3 {
                disable("three zygotes died under programs")
            }
            return try cold()
        }
        // After a deadline, an output flood, a crash or a full term, a fresh zygote: nothing
        // out of the ordinary in one program can touch the state the next one starts from.
        if stopped || lost || outcome.signal != nil || zygote.programs >= Self.programsPerZygote {
            zygote.end()
        } else {
            locked { idle.append(zygote) }
        }
        return outcome
    }

    private func disable(_ reason: String) {
        locked { if disabled == nil { disabled = "warm sandbox unavailable (\(reason)); programs run cold" } }
        for zygote in locked({ () -> [Zygote] in defer { idle.removeAll() }; return idle }) { zygote.end() }
    }
}

extension CodeChecker {
    /// Runs `source` as `python -S -s -B -c source` in the checker's sandbox, warm or cold, with
    /// `files` in its working directory, under `limits` (each run's own: its CPU time limit and
    /// wall-clock backstop). The one place the checker launches programs.
    func runPython(_ source: String, files: [String: String], stdin: [UInt8], secret: [UInt8] = [],
                   limits: SandboxLimits) throws -> SandboxOutcome {
        if let warmPool {
            return try warmPool.run(source: source, files: files, stdin: stdin, secret: secret, limits: limits)
        }
        return try Sandbox.run(executable: python, arguments: ["-S", "-s", "-B", "-c", source],
                               environment: Self.environment, files: files, stdin: stdin, secret: secret,
                               limits: limits, policy: policy)
    }

    /// What the summary says about warm running, when it fell back to cold.
    public var sandboxNote: String? { warmPool?.fallbackReason }
}
