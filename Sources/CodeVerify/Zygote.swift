/// The warm sandbox's zygote: one Python process per worker, started by `sandbox_spawn` inside
/// its own PID, network and mount namespaces (as root, so that it can give every program a uid),
/// with the modules programs and the harness use already imported. It forks one child per
/// program; the child is PID 1 of a new PID namespace, in new mount and IPC namespaces with
/// empty tmpfs mounts on /tmp, /var/tmp, /dev/shm and /run/lock, its working directory inside
/// that /tmp, then takes the program's rlimits and uid and runs the job's script as `python -c`
/// would. When the child exits, the kernel kills everything left in its PID namespace, so
/// once the zygote has reaped it nothing the program started is alive (a double fork, setsid
/// or a new process group does not leave a PID namespace), and its tmpfs mounts are gone.
///
/// Protocol, on the stream socket that is the zygote's descriptor 0 (all integers little-endian):
/// - Swift -> zygote, one job at a time: a 4-byte length and that many bytes of JSON
///   `{"source", "files", "uid", "gid", "tmpfs_bytes", "limits": {"cpu", "memory", "file",
///   "open_files", "processes"}}`; the first byte carries five descriptors (SCM_RIGHTS), which
///   become the child's 0..4: stdin, stdout, stderr, the secret pipe and the report pipe. Swift
///   keeps the other ends and runs the same I/O loop as for a cold program.
/// - zygote -> Swift, once the child and its namespace are gone: a 4-byte length and JSON
///   `{"status": wait status}`, or `{"error": text}` when the child could not be started or set
///   up (before any program code ran); the zygote exits after an error.
/// - Swift never writes during a job, so the socket becoming readable mid-job means Swift is
///   gone: the zygote exits, and as the init of its PID namespace takes every program with it.
///   To stop a program (deadline, output flood) Swift kills the zygote's namespace and starts
///   a new zygote.
///
/// Nothing a child does reaches the zygote: the child is a fork (its writes to modules,
/// builtins and `sys.modules` die with it), it runs under another uid in other namespaces
/// (it cannot see or signal the zygote), and it holds no descriptor but its own 0..4.
let zygoteSource = #"""
import builtins, json, os, sys

def _zygote():
    import atexit, ctypes, fcntl, gc, resource, select, socket, struct, traceback, types
    # What programs commonly import, loaded once here instead of in every child (typing alone
    # costs a few ms); random reseeds itself in every child (os.register_at_fork).
    for name in ("math", "re", "collections", "itertools", "functools", "heapq", "string", "bisect",
                 "random", "hashlib", "typing", "copy", "operator"):
        try:
            __import__(name)
        except ImportError:
            pass
    libc = ctypes.CDLL(None, use_errno=True)
    # No collections here, and everything frozen before each fork: a child's collections then
    # skip the zygote's objects instead of touching (and copying) every page that holds them.
    gc.disable()
    NEWNS, NEWIPC, NEWPID = 0x00020000, 0x08000000, 0x20000000
    MS_NOSUID, MS_NODEV, MS_REC, MS_PRIVATE = 2, 4, 16384, 1 << 18
    PR_SET_DUMPABLE, PR_SET_NO_NEW_PRIVS = 4, 38

    def check(result, what):
        if result != 0:
            error = ctypes.get_errno()
            raise OSError(error, "%s: %s" % (what, os.strerror(error)))

    control = socket.socket(fileno=os.dup(0))
    null = os.open(os.devnull, os.O_RDWR)
    os.dup2(null, 0)
    os.close(null)
    # unshare(CLONE_NEWPID) puts the next child in a new namespace; setns back to our own
    # after each fork, so that every program gets a namespace of its own.
    own_pid_namespace = os.open("/proc/self/ns/pid", os.O_RDONLY)
    compiled = {}

    def receive(count, with_fds):
        data, fds = b"", []
        while len(data) < count:
            if with_fds and not data:
                chunk, ancillary, _, _ = control.recvmsg(count, socket.CMSG_SPACE(5 * 4))
                for level, kind, payload in ancillary:
                    if level == socket.SOL_SOCKET and kind == socket.SCM_RIGHTS:
                        fds += struct.unpack("%di" % (len(payload) // 4), payload[:len(payload) // 4 * 4])
            else:
                chunk = control.recv(count - len(data))
            if not chunk:
                os._exit(0)  # Swift closed the socket: this zygote is done
            data += chunk
        return data, fds

    def send(message):
        body = json.dumps(message).encode()
        control.sendall(struct.pack("<I", len(body)) + body)

    def set_up(job, fds):
        os.setsid()
        check(libc.unshare(NEWNS | NEWIPC), "unshare")
        check(libc.mount(None, b"/", None, MS_REC | MS_PRIVATE, None), "mount /")
        options = b"size=%d,mode=1777" % job["tmpfs_bytes"]
        for path in (b"/tmp", b"/var/tmp", b"/dev/shm", b"/run/lock"):
            if os.path.isdir(path):
                check(libc.mount(b"tmpfs", path, b"tmpfs", MS_NOSUID | MS_NODEV, options), "mount tmpfs")
        work = "/tmp/restem-sandbox"
        os.mkdir(work, 0o700)
        uid, gid = job["uid"], job["gid"]
        for name, text in job["files"].items():
            path = os.path.join(work, name)
            with open(path, "w", encoding="utf-8") as file:
                file.write(text)
            if uid is not None:
                os.chown(path, uid, gid)
        if uid is not None:
            os.chown(work, uid, gid)
        os.chdir(work)
        # The received descriptors may sit anywhere, even on 0..4: move them up, then into place.
        moved = [fcntl.fcntl(fd, fcntl.F_DUPFD, 10) for fd in fds]
        for number, fd in enumerate(moved):
            os.dup2(fd, number)
        control.detach()  # its number is closed below; the object must not close a reused one
        limits = job["limits"]
        for kind, key in ((resource.RLIMIT_CPU, "cpu"), (resource.RLIMIT_AS, "memory"),
                          (resource.RLIMIT_FSIZE, "file"), (resource.RLIMIT_NOFILE, "open_files"),
                          (resource.RLIMIT_NPROC, "processes")):
            if limits[key] > 0:
                resource.setrlimit(kind, (limits[key], limits[key]))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if uid is not None:
            os.setgroups([])
            os.setresgid(gid, gid, gid)
            os.setresuid(uid, uid, uid)
            # Changing uid without exec leaves the process undumpable, its /proc/self owned by
            # root (no /proc/self/fd, no writing comm); a cold program, exec'd, is dumpable.
            check(libc.prctl(PR_SET_DUMPABLE, 1, 0, 0, 0), "dumpable")
        check(libc.prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0), "no_new_privs")
        return compiled[job["source"]]

    def run(code):
        # As `python -c`: a fresh __main__, exit status from SystemExit, a traceback and status
        # 1 for an uncaught exception, threads joined, atexit handlers run, output flushed.
        os.closerange(5, 1 << 16)
        main = types.ModuleType("__main__")
        main.__builtins__ = builtins
        sys.modules["__main__"] = main
        sys.argv = ["-c"]
        sys.path_importer_cache.pop("", None)  # '' is the working directory, now another one
        atexit._clear()
        status = 0
        try:
            exec(code, main.__dict__)
        except SystemExit as stop:
            if stop.code is None:
                status = 0
            elif isinstance(stop.code, int):
                status = stop.code & 0xFF
            else:
                try:
                    sys.stderr.write(str(stop.code) + "\n")
                except BaseException:
                    pass
                status = 1
        except BaseException:
            kind, value, trace = sys.exc_info()
            try:
                sys.excepthook(kind, value, trace.tb_next)
            except BaseException:
                pass
            status = 1
        try:
            threading = sys.modules.get("threading")
            if threading is not None:
                threading._shutdown()
            atexit._run_exitfuncs()
        except BaseException:
            pass
        for stream in (sys.stdout, sys.stderr):
            try:
                stream.flush()
            except BaseException:
                status = status or 120
        os._exit(status)

    while True:
        header, fds = receive(4, True)
        body, _ = receive(struct.unpack("<I", header)[0], False)
        job = json.loads(body)
        if len(fds) != 5:
            send({"error": "expected 5 descriptors, got %d" % len(fds)})
            os._exit(1)
        pid = -1
        try:
            if job["source"] not in compiled:
                compiled[job["source"]] = compile(job["source"], "<string>", "exec")
            # The child reports a failed set-up here; the program never holds this pipe.
            setup_read, setup_write = os.pipe()
            check(libc.unshare(NEWPID), "unshare pid")
            gc.freeze()
            try:
                pid = os.fork()
                if pid == 0:
                    gc.enable()
                    try:
                        os.close(setup_read)
                        code = set_up(job, fds)
                    except BaseException:
                        os.write(setup_write, traceback.format_exc()[-2000:].encode())
                        os._exit(126)
                    run(code)
            finally:
                if pid != 0:
                    check(libc.setns(own_pid_namespace, NEWPID), "setns")
        except BaseException:
            if pid == 0:
                os._exit(126)  # never the child's to answer
            # This system will not do it (no namespaces left, no fork): Swift runs programs cold.
            send({"error": traceback.format_exc()[-2000:]})
            os._exit(1)
        os.close(setup_write)
        for fd in fds:
            os.close(fd)
        process = os.pidfd_open(pid)
        waiting = select.poll()
        waiting.register(process, select.POLLIN)
        waiting.register(control.fileno(), select.POLLIN)
        while True:
            ready = [fd for fd, _ in waiting.poll()]
            if process in ready:
                break
            os._exit(0)  # Swift is gone (or broke the protocol): end everything
        os.close(process)
        # The child's rusage counts what it reaped too: the CPU time the checker limits.
        _, status, usage = os.wait4(pid, 0)
        while True:  # orphans of finished programs are reparented here
            try:
                if os.waitpid(-1, os.WNOHANG)[0] == 0:
                    break
            except ChildProcessError:
                break
        error = os.read(setup_read, 4096)
        os.close(setup_read)
        if error:
            send({"error": error.decode(errors="replace")})
            os._exit(1)
        send({"status": status, "cpu": usage.ru_utime + usage.ru_stime})

_zygote()
"""#
