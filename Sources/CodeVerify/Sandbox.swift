// The Swift side of the sandbox: pipes, the poll loop, the wall-clock deadline, output caps and
// cleanup. Process creation itself (namespaces, rlimits, privileges) is in CSandbox.
import CSandbox
import Formats

#if canImport(Glibc)
import Glibc
#endif

/// Resource limits for one program.
public struct SandboxLimits: Sendable {
    public var wallSeconds: Double = 10
    public var memoryBytes: Int = 1 << 30
    public var fileBytes: Int = 16 << 20
    public var openFiles: Int = 64
    public var processes: Int = 64
    /// stdout + stderr; past it the program is killed (`output_limit`).
    public var outputBytes: Int = 1 << 20
    /// Where each run's fresh working directory is made (and removed afterwards).
    public var temporaryRoot = "/tmp"

    /// CPU seconds (user + system, reaped child processes included) the program may use; nil:
    /// as many as `wallSeconds` (one core). The caller compares `SandboxOutcome.cpuSeconds`
    /// with it, so a loaded machine, which stretches wall time but not CPU time, does not turn a
    /// right program into a timeout; `wallSeconds` is then only the backstop for sleepers.
    public var cpuSeconds: Double?

    public init() {}

    /// RLIMIT_CPU (whole seconds): a second above the limit, so the kernel stops a spinning
    /// program soon after it is over and the measured time, not the rounding, decides.
    var cpuRlimit: Int { Int((cpuSeconds ?? wallSeconds).rounded(.up)) + 1 }
}

/// What isolation this machine allows, found once per process.
public struct SandboxPolicy: Sendable {
    public let isolation: Int32
    public let dropPrivileges: Bool
    /// Programs run as root drop to an unprivileged uid/gid of their own, taken in turn from a
    /// block of ids no account uses. One uid per run keeps RLIMIT_NPROC (a per-user count)
    /// from letting one program's fork bomb starve another's exec.
    static let firstID: UInt32 = 1_000_000
    static let idCount: UInt32 = 10_000
    /// Who a program runs as, in words for `verify --help` and the README; built from the ids
    /// above so the text cannot drift from the code (it once said "the user nobody").
    public static let identityDescription =
        "(as root) an unprivileged uid and gid of its own, one per program, taken in turn from " +
        "\(firstID)-\(firstID + idCount - 1) (ids no account uses), so one program's fork bomb cannot use up " +
        "the process limit of another"

    /// The uid and gid of the next program, in turn from the block (cold and warm runs share it).
    static func nextID() -> UInt32 { firstID + UInt32(nextRun.next() % Int(idCount)) }

    public static let current: SandboxPolicy = {
        SandboxPolicy(isolation: sandbox_probe(), dropPrivileges: geteuid() == 0)
    }()

    public var hasNetworkNamespace: Bool { isolation & Int32(SANDBOX_NET) != 0 }
    public var hasPIDNamespace: Bool { isolation & Int32(SANDBOX_PID) != 0 }
    public var hasMountNamespace: Bool { isolation & Int32(SANDBOX_MOUNT) != 0 }

    /// One line for the tool's summary, saying plainly what was and was not available.
    public var summary: String {
        var parts: [String] = []
        parts.append(hasNetworkNamespace ? "no network (own network namespace)"
                     : "NETWORK NOT ISOLATED (the system refused a network namespace; programs can open sockets)")
        parts.append(hasPIDNamespace ? "own PID namespace" : "no PID namespace (escaped child processes may survive)")
        parts.append(hasMountNamespace ? "private /tmp" : "shared /tmp")
        parts.append(dropPrivileges ? "runs as an unprivileged uid (one per program)" : "runs as the invoking user (not root, cannot drop privileges)")
        return "sandbox: " + parts.joined(separator: ", ")
    }
}

public struct SandboxOutcome: Sendable {
    public var exitStatus: Int32?
    public var signal: Int32?
    public var timedOut = false
    public var outputExceeded = false
    public var stdout: [UInt8] = []
    public var stderr: [UInt8] = []
    /// What the program wrote to descriptor 4 (the harness's report channel).
    public var channel: [UInt8] = []
    public var wallSeconds = 0.0
    /// User + system CPU seconds of the program and the children it (or, with a PID namespace,
    /// the namespace's waiter) reaped, from wait4's rusage.
    public var cpuSeconds = 0.0
}

public enum Sandbox {
    /// Runs `executable` with `arguments` in a fresh temporary directory holding `files`,
    /// feeding `stdin`, and `secret` on descriptor 3; captures stdout, stderr and descriptor 4.
    /// The directory is removed afterwards, whatever the program did.
    public static func run(executable: String, arguments: [String], environment: [String: String],
                           files: [String: String], stdin: [UInt8], secret: [UInt8] = [],
                           limits: SandboxLimits, policy: SandboxPolicy = .current) throws -> SandboxOutcome {
        var template = Array("\(limits.temporaryRoot)/restem-sandbox-XXXXXX".utf8CString)
        guard let dirPointer = mkdtemp(&template) else { throw DataError("sandbox: cannot create a temporary directory") }
        let directory = String(cString: dirPointer)
        defer { removeTree(directory) }
        let id = SandboxPolicy.nextID()
        for (name, content) in files {
            let path = directory + "/" + name
            guard let file = fopen(path, "w") else { throw DataError("sandbox: cannot write \(path)") }
            _ = content.withCString { fputs($0, file) }
            fclose(file)
            if policy.dropPrivileges { chown(path, id, id) }
        }
        if policy.dropPrivileges { chown(directory, id, id) }
        chmod(directory, 0o700)

        let pipes = try (0..<5).map { _ in try Pipe() }
        defer { pipes.forEach { $0.closeBoth() } }
        var spec = sandbox_spec()
        let childEnds: [Int32] = [pipes[0].read, pipes[1].write, pipes[2].write, pipes[3].read, pipes[4].write]
        withUnsafeMutableBytes(of: &spec.fds) { raw in
            let fds = raw.bindMemory(to: Int32.self)
            for i in 0..<5 { fds[i] = childEnds[i] }
        }
        spec.drop_privileges = policy.dropPrivileges ? 1 : 0
        spec.uid = id
        spec.gid = id
        spec.isolation = policy.isolation
        spec.cpu_seconds = limits.cpuRlimit
        spec.memory_bytes = limits.memoryBytes
        spec.file_bytes = limits.fileBytes
        spec.open_files = limits.openFiles
        spec.processes = limits.processes

        let started = monotonic()
        var stage: UnsafePointer<CChar>?
        let environmentList = environment.sorted { $0.key < $1.key }.map { "\($0.key)=\($0.value)" }
        let pid: pid_t = withCStrings([executable] + arguments) { argv in
            withCStrings(environmentList) { envp in
                executable.withCString { path in
                    directory.withCString { workdir in
                        spec.path = path
                        spec.argv = argv
                        spec.envp = envp
                        spec.workdir = workdir
                        return sandbox_spawn(&spec, &stage)
                    }
                }
            }
        }
        if pid < 0 {
            let step = stage.map { String(cString: $0) } ?? "spawn"
            throw DataError("sandbox: \(step) failed: \(String(cString: strerror(errno)))")
        }
        for end in childEnds { close(end) }
        pipes[0].read = -1; pipes[1].write = -1; pipes[2].write = -1; pipes[3].read = -1; pipes[4].write = -1

        // With a PID namespace, SIGTERM asks the waiter to kill the namespace and reap it
        // (leaving no zombie behind); the group SIGKILL follows if it has not gone in 20 seconds (a stuck waiter).
        var terminateSent = false
        var backstop = Double.infinity
        // Asked again (every turn of the loop past the deadline), it waits for the backstop:
        // a SIGKILL to the waiter would end it before it has seen the namespace die.
        func kill() {
            if policy.hasPIDNamespace {
                if !terminateSent {
                    terminateSent = true
                    _ = Glibc.kill(pid, SIGTERM)
                    backstop = monotonic() + 20
                }
            } else {
                _ = Glibc.kill(-pid, SIGKILL)
            }
        }
        // The waiter's rusage counts the program: with a PID namespace the waiter reaps it.
        var usage = rusage()
        let process = Supervisee(
            exited: {
                if monotonic() >= backstop { _ = Glibc.kill(-pid, SIGKILL); backstop = .infinity }
                var child: Int32 = 0
                guard wait4(pid, &child, WNOHANG, &usage) == pid else { return nil }
                // Anything the program left behind in its group goes now (with a PID
                // namespace nothing is left).
                _ = Glibc.kill(-pid, SIGKILL)
                return child
            },
            stop: kill,
            finish: {
                kill()
                var status: Int32 = 0
                let giveUp = monotonic() + 20
                while wait4(pid, &status, WNOHANG, &usage) == 0 {
                    if monotonic() > giveUp {
                        _ = Glibc.kill(-pid, SIGKILL)
                        while wait4(pid, &status, 0, &usage) < 0 && errno == EINTR {}
                        break
                    }
                    usleep(2000)
                }
                return status
            },
            cpuSeconds: { seconds(usage.ru_utime) + seconds(usage.ru_stime) })
        return supervise(pipes, stdin: stdin, secret: secret, limits: limits, started: started, process)
    }

    /// Feeds stdin and the secret, collects stdout, stderr and the report channel under the
    /// output cap, and enforces the wall-clock deadline, until the program has exited and its
    /// output is drained. `pipes` are the five pipes of `run`, the child's ends already closed.
    static func supervise(_ pipes: [Pipe], stdin: [UInt8], secret: [UInt8], limits: SandboxLimits, started: Double,
                          _ process: Supervisee) -> SandboxOutcome {
        // The secret fits in the pipe buffer; write it and close so the reader sees its end.
        if !secret.isEmpty { _ = secret.withUnsafeBytes { sandbox_write(pipes[3].write, $0.baseAddress, $0.count) } }
        pipes[3].closeWrite()

        var outcome = SandboxOutcome()
        var pendingInput = stdin[...]
        if pendingInput.isEmpty { pipes[0].closeWrite() }
        for fd in [pipes[0].write, pipes[1].read, pipes[2].read, pipes[4].read] where fd >= 0 {
            _ = fcntl(fd, F_SETFL, fcntl(fd, F_GETFL) | O_NONBLOCK)
        }
        let deadline = started + limits.wallSeconds
        var exited = false
        var status: Int32 = 0
        var usage = rusage()
        var drainDeadline = Double.infinity

        loop: while true {
            var polls: [pollfd] = []
            if pipes[0].write >= 0 && !pendingInput.isEmpty { polls.append(pollfd(fd: pipes[0].write, events: Int16(POLLOUT), revents: 0)) }
            for fd in [pipes[1].read, pipes[2].read, pipes[4].read] where fd >= 0 {
                polls.append(pollfd(fd: fd, events: Int16(POLLIN), revents: 0))
            }
            if polls.isEmpty && exited { break }
            // The status descriptor alone does not keep the loop waiting once output is done.
            if !exited && process.statusFD >= 0 {
                polls.append(pollfd(fd: process.statusFD, events: Int16(POLLIN), revents: 0))
            }
            let now = monotonic()
            if now >= drainDeadline { break }
            if !exited && now >= deadline {
                outcome.timedOut = true
                process.stop()
                drainDeadline = now + 1
            }
            let wait = Int32(max(1, min(50, ((exited ? drainDeadline : deadline) - now) * 1000)))
            if polls.isEmpty {
                // Output closed but the process not yet reaped: check again very soon.
                usleep(1000)
            } else {
                _ = poll(&polls, nfds_t(polls.count), wait)
            }
            for entry in polls where entry.revents != 0 && entry.fd != process.statusFD {
                if entry.fd == pipes[0].write {
                    let n = pendingInput.withUnsafeBytes {
                        sandbox_write(entry.fd, $0.baseAddress, min($0.count, 1 << 16))
                    }
                    if n > 0 { pendingInput = pendingInput.dropFirst(n) }
                    if n < 0 && errno != EAGAIN && errno != EINTR { pendingInput = [][...] }
                    if pendingInput.isEmpty { pipes[0].closeWrite() }
                    continue
                }
                var buffer = [UInt8](repeating: 0, count: 1 << 16)
                let n = buffer.withUnsafeMutableBytes { read(entry.fd, $0.baseAddress, $0.count) }
                if n > 0 {
                    let chunk = buffer[0..<n]
                    if entry.fd == pipes[1].read { outcome.stdout += chunk }
                    else if entry.fd == pipes[2].read { outcome.stderr += chunk }
                    else if outcome.channel.count < 1 << 20 { outcome.channel += chunk }
                    if outcome.stdout.count + outcome.stderr.count > limits.outputBytes && !outcome.outputExceeded {
                        outcome.outputExceeded = true
                        process.stop()
                        drainDeadline = monotonic() + 1
                    }
                } else if n == 0 || (errno != EAGAIN && errno != EINTR) {
                    if entry.fd == pipes[1].read { pipes[1].closeRead() }
                    else if entry.fd == pipes[2].read { pipes[2].closeRead() }
                    else { pipes[4].closeRead() }
                }
            }
            if !exited, let child = process.exited() {
                exited = true
                status = child
                // Output already written is drained briefly.
                drainDeadline = min(drainDeadline, monotonic() + 0.5)
            }
            if outcome.outputExceeded && exited { break loop }
        }
        if !exited { status = process.finish() }
        outcome.wallSeconds = monotonic() - started
        outcome.cpuSeconds = process.cpuSeconds()
        if status & 0x7F == 0 {
            outcome.exitStatus = (status >> 8) & 0xFF
        } else {
            outcome.signal = status & 0x7F
        }
        if outcome.stdout.count > limits.outputBytes { outcome.stdout.removeLast(outcome.stdout.count - limits.outputBytes) }
        if outcome.stderr.count > limits.outputBytes { outcome.stderr.removeLast(outcome.stderr.count - limits.outputBytes) }
        return outcome
    }
}

/// Counts runs, to hand out sandbox uids in turn.
private final class RunCounter: @unchecked Sendable {
    private var lock = pthread_mutex_t()
    private var value = 0
    init() { pthread_mutex_init(&lock, nil) }
    func next() -> Int {
        pthread_mutex_lock(&lock)
        defer { pthread_mutex_unlock(&lock) }
        value += 1
        return value
    }
}

private let nextRun = RunCounter()

/// A started program as `Sandbox.supervise` sees it: cold and warm runs differ only here.
struct Supervisee {
    /// The wait status once the program has exited (and nothing it started is left); nil while it runs.
    var exited: () -> Int32?
    /// Stops the program and everything it started (deadline, output flood); may be called again.
    var stop: () -> Void
    /// Readable when `exited` may have news (-1: none; `exited` is then asked after every wake-up).
    var statusFD: Int32 = -1
    /// For a program that has not exited when output is done: stops it and returns its wait status.
    var finish: () -> Int32
    /// CPU seconds (user + system) the program and what it waited for used, once it has exited.
    var cpuSeconds: () -> Double
}

/// A pipe whose ends are closed once, whichever path closes them.
final class Pipe {
    var read: Int32
    var write: Int32

    init() throws {
        var ends: [Int32] = [0, 0]
        guard sandbox_pipe(&ends) == 0 else { throw DataError("sandbox: pipe failed: \(String(cString: strerror(errno)))") }
        read = ends[0]
        write = ends[1]
    }

    func closeRead() { if read >= 0 { close(read); read = -1 } }
    func closeWrite() { if write >= 0 { close(write); write = -1 } }
    func closeBoth() { closeRead(); closeWrite() }
}

private func seconds(_ time: timeval) -> Double { Double(time.tv_sec) + Double(time.tv_usec) * 1e-6 }

func monotonic() -> Double {
    var time = timespec()
    clock_gettime(CLOCK_MONOTONIC, &time)
    return Double(time.tv_sec) + Double(time.tv_nsec) * 1e-9
}

/// A NULL-terminated C string array for the duration of `body`.
func withCStrings<R>(_ strings: [String], _ body: (UnsafePointer<UnsafeMutablePointer<CChar>?>) -> R) -> R {
    let pointers: [UnsafeMutablePointer<CChar>?] = strings.map { strdup($0) } + [nil]
    defer { pointers.forEach { free($0) } }
    return pointers.withUnsafeBufferPointer { body($0.baseAddress!) }
}

/// Removes a directory tree the program may have filled (as another user, with odd modes).
func removeTree(_ path: String) {
    guard let directory = opendir(path) else { unlink(path); return }
    while let entry = readdir(directory) {
        let name = withUnsafeBytes(of: entry.pointee.d_name) { String(cString: $0.bindMemory(to: CChar.self).baseAddress!) }
        if name == "." || name == ".." { continue }
        let child = path + "/" + name
        var info = stat()
        if lstat(child, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR {
            chmod(child, 0o700)
            removeTree(child)
        } else {
            unlink(child)
        }
    }
    closedir(directory)
    rmdir(path)
}
