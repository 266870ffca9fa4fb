#ifndef SANDBOX_SPAWN_H
#define SANDBOX_SPAWN_H

#include <sys/types.h>

/// Isolation that a spawn asks for (and that `sandbox_probe` reports as available).
enum {
    SANDBOX_NET = 1,    // new network namespace: no interface but a downed loopback
    SANDBOX_PID = 2,    // new PID namespace: every process of the program dies with it
    SANDBOX_MOUNT = 4,  // new mount namespace with private, empty /tmp, /var/tmp, /dev/shm
};

struct sandbox_spec {
    const char *path;          // absolute path of the executable
    char *const *argv;
    char *const *envp;
    const char *workdir;
    int fds[5];                // parent descriptors to install as the child's 0..4 (-1: /dev/null or closed)
    int drop_privileges;       // setgid/setuid to uid/gid below (needs root)
    unsigned uid, gid;
    int isolation;             // SANDBOX_* flags
    long cpu_seconds;          // RLIMIT_CPU
    long memory_bytes;         // RLIMIT_AS
    long file_bytes;           // RLIMIT_FSIZE
    long open_files;           // RLIMIT_NOFILE
    long processes;            // RLIMIT_NPROC
    int survive_parent_thread; // 1: no parent-death signal. A warm zygote is started by one thread and
                               // used by others; it ends when its control socket closes instead.
};

/// With SANDBOX_PID the returned process is a waiter outside the namespace: SIGTERM to it
/// kills the whole namespace and it exits after reaping; SIGKILL to the group is the backstop.
/// Forks and execs `spec->path` in a new session and process group with the limits and
/// namespaces of `spec`. Returns the child's pid (also its process group id), or -1 with
/// *stage naming the step that failed and errno set. Between fork and exec the child calls
/// only async-signal-safe functions, so this is safe from a multithreaded parent.
pid_t sandbox_spawn(const struct sandbox_spec *spec, const char **stage);

/// pipe2 with O_CLOEXEC (not exported by Swift's Glibc module).
int sandbox_pipe(int fds[2]);

/// Writes all `length` bytes of `data` to the stream socket `socket`, the first chunk carrying
/// `count` descriptors (SCM_RIGHTS), for the warm sandbox's zygote. Returns 0, or -1 with errno.
int sandbox_send(int socket, const void *data, size_t length, const int *fds, int count);

/// write(2) that never raises SIGPIPE (a program may exit without reading its stdin): a closed
/// reader is -1 with errno EPIPE.
ssize_t sandbox_write(int fd, const void *data, size_t length);

/// socketpair(AF_UNIX, SOCK_STREAM) with close-on-exec ends.
int sandbox_socketpair(int fds[2]);

/// Which SANDBOX_* flags this process can use (tries them in a short-lived child).
int sandbox_probe(void);

#endif
