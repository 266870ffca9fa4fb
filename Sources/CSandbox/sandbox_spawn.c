// Process isolation for untrusted programs: the one file with fork/exec, namespaces, mounts,
// rlimits and privilege dropping. The child side may only use async-signal-safe calls (the
// parent is multithreaded), so it reports failures through a close-on-exec pipe as a stage
// index and an errno, never through stdio.
#define _GNU_SOURCE
#include "sandbox_spawn.h"

#include <errno.h>
#include <fcntl.h>
#include <pthread.h>
#include <time.h>
#include <grp.h>
#include <sched.h>
#include <signal.h>
#include <string.h>
#include <sys/mount.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/syscall.h>
#include <sys/wait.h>
#include <unistd.h>

static const char *const stages[] = {
    "pipe", "fork", "setsid", "unshare", "fork (pid namespace)", "mount /", "chdir", "mount tmpfs",
    "setrlimit", "dup2", "setgroups", "setgid", "setuid", "no_new_privs", "execve",
};
enum { ST_PIPE, ST_FORK, ST_SETSID, ST_UNSHARE, ST_FORK2, ST_MOUNT_ROOT, ST_CHDIR, ST_TMPFS,
       ST_RLIMIT, ST_DUP2, ST_SETGROUPS, ST_SETGID, ST_SETUID, ST_NNP, ST_EXEC };

static void fail(int report_fd, int stage) {
    int message[2] = {stage, errno};
    ssize_t ignored = write(report_fd, message, sizeof message);
    (void)ignored;
    _exit(127);
}

/// Closes every descriptor from `first` up (close_range where the kernel has it).
static void close_from(int first) {
#ifdef SYS_close_range
    if (syscall(SYS_close_range, (unsigned)first, ~0U, 0) == 0) return;
#endif
    for (int fd = first; fd < 65536; fd++) close(fd);
}

static int limit(int resource, long value) {
    if (value <= 0) return 0;
    struct rlimit r = {(rlim_t)value, (rlim_t)value};
    return setrlimit(resource, &r);
}

/// In the waiting process of a PID-namespace run: the namespace's init, killed on SIGTERM.
static volatile pid_t namespace_init = 0;

static void kill_namespace(int sig) {
    (void)sig;
    if (namespace_init > 0) kill(namespace_init, SIGKILL);
}

static void run_child(const struct sandbox_spec *spec, int report_fd) {
    // A fork keeps the calling thread's signal mask, and Dispatch's worker threads block nearly
    // every signal: unblocked, the waiter below hears the verifier's SIGTERM, and the program
    // (or zygote) starts with signals delivered as any process would.
    sigset_t none;
    sigemptyset(&none);
    sigprocmask(SIG_SETMASK, &none, NULL);
    // Keep the report pipe clear of 0..5, which are about to be overwritten.
    int high = fcntl(report_fd, F_DUPFD_CLOEXEC, 10);
    if (high >= 0) report_fd = high;
    // Die with the parent: a crashed verifier must not leave programs running. (A zygote skips
    // this: the signal comes when the spawning thread exits, while other threads still use it.)
    if (!spec->survive_parent_thread) prctl(PR_SET_PDEATHSIG, SIGKILL);
    if (setsid() < 0) fail(report_fd, ST_SETSID);

    int flags = 0;
    if (spec->isolation & SANDBOX_NET) flags |= CLONE_NEWNET;
    if (spec->isolation & SANDBOX_PID) flags |= CLONE_NEWPID;
    if (spec->isolation & SANDBOX_MOUNT) flags |= CLONE_NEWNS;
    if (flags && unshare(flags) < 0) fail(report_fd, ST_UNSHARE);

    if (spec->isolation & SANDBOX_PID) {
        // Processes of the namespace orphaned as it dies are reparented to the nearest
        // subreaper: this process, which reaps them, instead of the system's init.
        prctl(PR_SET_CHILD_SUBREAPER, 1);
        // The next child is PID 1 of the new namespace; when it exits, the kernel kills every
        // process left in the namespace (daemons, setsid escapees). This process waits and
        // passes its status on.
        pid_t init = fork();
        if (init < 0) fail(report_fd, ST_FORK2);
        if (init > 0) {
            // SIGTERM from the verifier ends the namespace; this process then reaps its init,
            // so no zombie is left to the system's init.
            namespace_init = init;
            struct sigaction action;
            memset(&action, 0, sizeof action);
            action.sa_handler = kill_namespace;
            sigaction(SIGTERM, &action, NULL);
            // Hold no descriptor at all: pipes of programs running beside this one were
            // inherited at fork and must not be kept open.
            close_from(0);
            int status = 0, reaped;
            for (;;) {
                pid_t done = waitpid(-1, &reaped, 0);
                if (done == init) status = reaped;
                if (done < 0 && errno != EINTR) break;  // ECHILD: nothing left
            }
            if (WIFSIGNALED(status)) {
                signal(WTERMSIG(status), SIG_DFL);
                kill(getpid(), WTERMSIG(status));
            }
            _exit(WIFEXITED(status) ? WEXITSTATUS(status) : 126);
        }
        prctl(PR_SET_PDEATHSIG, SIGKILL);
    }

    if (chdir(spec->workdir) < 0) fail(report_fd, ST_CHDIR);
    if (spec->isolation & SANDBOX_MOUNT) {
        // Private propagation first, so the tmpfs mounts never reach the host.
        if (mount("none", "/", NULL, MS_REC | MS_PRIVATE, NULL) < 0) fail(report_fd, ST_MOUNT_ROOT);
        const char *shared_dirs[] = {"/tmp", "/var/tmp", "/dev/shm"};
        for (int i = 0; i < 3; i++) {
            if (access(shared_dirs[i], F_OK) != 0) continue;
            if (mount("tmpfs", shared_dirs[i], "tmpfs", MS_NOSUID | MS_NODEV, "size=16m,mode=1777") < 0)
                fail(report_fd, ST_TMPFS);
        }
    }


    // Install descriptors 0..4. Sources may themselves be small numbers, so move them above 10
    // first, then dup2 into place.
    int moved[5];
    for (int i = 0; i < 5; i++) {
        int source = spec->fds[i];
        if (source < 0) source = open("/dev/null", i == 0 ? O_RDONLY : O_WRONLY);
        moved[i] = fcntl(source, F_DUPFD, 10);
        if (moved[i] < 0) fail(report_fd, ST_DUP2);
    }
    for (int i = 0; i < 5; i++) {
        if (dup2(moved[i], i) < 0) fail(report_fd, ST_DUP2);
    }
    // Everything else closes; the report pipe is needed until exec, which closes it.
    if (dup3(report_fd, 5, O_CLOEXEC) < 0) fail(report_fd, ST_DUP2);
    report_fd = 5;
    close_from(6);

    // Limits last: RLIMIT_NOFILE would otherwise stop the descriptor shuffle above when the
    // parent has many descriptors open.
    if (limit(RLIMIT_CPU, spec->cpu_seconds) < 0 || limit(RLIMIT_AS, spec->memory_bytes) < 0 ||
        limit(RLIMIT_FSIZE, spec->file_bytes) < 0 || limit(RLIMIT_NOFILE, spec->open_files) < 0 ||
        limit(RLIMIT_NPROC, spec->processes) < 0 || limit(RLIMIT_CORE, 0) < 0)
        fail(report_fd, ST_RLIMIT);


    if (spec->drop_privileges) {
        if (setgroups(0, NULL) < 0) fail(report_fd, ST_SETGROUPS);
        if (setgid(spec->gid) < 0) fail(report_fd, ST_SETGID);
        if (setuid(spec->uid) < 0) fail(report_fd, ST_SETUID);
    }
    if (prctl(PR_SET_NO_NEW_PRIVS, 1, 0, 0, 0) < 0) fail(report_fd, ST_NNP);
    execve(spec->path, spec->argv, spec->envp);
    fail(report_fd, ST_EXEC);
}

pid_t sandbox_spawn(const struct sandbox_spec *spec, const char **stage) {
    int report[2];
    if (pipe2(report, O_CLOEXEC) < 0) { *stage = stages[ST_PIPE]; return -1; }
    pid_t pid = fork();
    if (pid < 0) {
        int saved = errno;
        close(report[0]);
        close(report[1]);
        errno = saved;
        *stage = stages[ST_FORK];
        return -1;
    }
    if (pid == 0) {
        close(report[0]);
        run_child(spec, report[1]);
    }
    close(report[1]);
    int message[2];
    ssize_t n;
    while ((n = read(report[0], message, sizeof message)) < 0 && errno == EINTR) {}
    close(report[0]);
    if (n == (ssize_t)sizeof message) {
        // The child failed before exec: reap it and report the step.
        int status;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        *stage = stages[message[0]];
        errno = message[1];
        return -1;
    }
    return pid;
}

int sandbox_probe(void) {
    int available = 0;
    const int candidates[] = {SANDBOX_NET | SANDBOX_PID | SANDBOX_MOUNT, SANDBOX_NET | SANDBOX_PID, SANDBOX_NET};
    for (unsigned i = 0; i < sizeof candidates / sizeof candidates[0] && !available; i++) {
        int flags = 0;
        if (candidates[i] & SANDBOX_NET) flags |= CLONE_NEWNET;
        if (candidates[i] & SANDBOX_PID) flags |= CLONE_NEWPID;
        if (candidates[i] & SANDBOX_MOUNT) flags |= CLONE_NEWNS;
        pid_t pid = fork();
        if (pid < 0) return 0;
        if (pid == 0) _exit(unshare(flags) == 0 ? 0 : 1);
        int status = 0;
        while (waitpid(pid, &status, 0) < 0 && errno == EINTR) {}
        if (WIFEXITED(status) && WEXITSTATUS(status) == 0) available = candidates[i];
    }
    return available;
}

int sandbox_pipe(int fds[2]) { return pipe2(fds, O_CLOEXEC); }

int sandbox_socketpair(int fds[2]) { return socketpair(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0, fds); }

int sandbox_send(int socket, const void *data, size_t length, const int *fds, int count) {
    const char *bytes = data;
    size_t sent = 0;
    while (sent < length) {
        struct iovec part = {(void *)(bytes + sent), length - sent};
        struct msghdr message;
        memset(&message, 0, sizeof message);
        message.msg_iov = &part;
        message.msg_iovlen = 1;
        char control[CMSG_SPACE(sizeof(int) * 8)];
        if (sent == 0 && count > 0) {
            if (count > 8) { errno = EINVAL; return -1; }
            memset(control, 0, sizeof control);
            message.msg_control = control;
            message.msg_controllen = CMSG_SPACE(sizeof(int) * (size_t)count);
            struct cmsghdr *header = CMSG_FIRSTHDR(&message);
            header->cmsg_level = SOL_SOCKET;
            header->cmsg_type = SCM_RIGHTS;
            header->cmsg_len = CMSG_LEN(sizeof(int) * (size_t)count);
            memcpy(CMSG_DATA(header), fds, sizeof(int) * (size_t)count);
        }
        ssize_t n = sendmsg(socket, &message, MSG_NOSIGNAL);
        if (n < 0) {
            if (errno == EINTR) continue;
            return -1;
        }
        sent += (size_t)n;
    }
    return 0;
}

ssize_t sandbox_write(int fd, const void *data, size_t length) {
    // SIGPIPE from write(2) goes to the writing thread: block it here, and take back the one
    // this write raised (not one that was pending before), so a broken pipe is just EPIPE.
    sigset_t pipe_signal, old, pending;
    sigemptyset(&pipe_signal);
    sigaddset(&pipe_signal, SIGPIPE);
    pthread_sigmask(SIG_BLOCK, &pipe_signal, &old);
    sigpending(&pending);
    int was_pending = sigismember(&pending, SIGPIPE);
    ssize_t n = write(fd, data, length);
    int saved = errno;
    if (n < 0 && saved == EPIPE && !was_pending) {
        struct timespec now = {0, 0};
        while (sigtimedwait(&pipe_signal, NULL, &now) < 0 && errno == EINTR) {}
    }
    pthread_sigmask(SIG_SETMASK, &old, NULL);
    errno = saved;
    return n;
}
