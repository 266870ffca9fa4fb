// Temporary output files must never survive a killed tool, but a signal handler may only call
// async-signal-safe functions. Swift code cannot promise that (its runtime may lock or
// allocate), so the table of paths and the handler live here, in plain C: the handler only
// reads preallocated memory, calls unlink(2), restores the default action and re-raises.
#include "signal_cleanup.h"

#include <signal.h>
#include <stdatomic.h>
#include <string.h>
#include <unistd.h>
#include <pthread.h>

#define SLOTS 64
#define PATH_CAP 4096

static char paths[SLOTS][PATH_CAP];
static atomic_int in_use[SLOTS];
static pthread_mutex_t table_lock = PTHREAD_MUTEX_INITIALIZER;
static int installed = 0;
static const int watched[] = {SIGINT, SIGTERM, SIGHUP, SIGPIPE};

static void remove_and_reraise(int sig) {
    for (int i = 0; i < SLOTS; i++) {
        if (atomic_load(&in_use[i])) unlink(paths[i]);
    }
    signal(sig, SIG_DFL);
    raise(sig);
}

static void install_handlers(void) {
    // A parent may have started us with these signals blocked (some process launchers leave
    // their own mask in place across exec); then the handler would never run.
    sigset_t unblock;
    sigemptyset(&unblock);
    for (unsigned i = 0; i < sizeof watched / sizeof watched[0]; i++) sigaddset(&unblock, watched[i]);
    pthread_sigmask(SIG_UNBLOCK, &unblock, NULL);

    struct sigaction action;
    memset(&action, 0, sizeof action);
    action.sa_handler = remove_and_reraise;
    sigemptyset(&action.sa_mask);
    for (unsigned i = 0; i < sizeof watched / sizeof watched[0]; i++) {
        struct sigaction previous;
        // Respect a signal the parent asked us to ignore (nohup, background jobs).
        if (sigaction(watched[i], NULL, &previous) == 0 && previous.sa_handler == SIG_IGN) continue;
        sigaction(watched[i], &action, NULL);
    }
}

int signal_cleanup_register(const char *path) {
    if (strlen(path) >= PATH_CAP) return -1;
    pthread_mutex_lock(&table_lock);
    if (!installed) { install_handlers(); installed = 1; }
    int slot = -1;
    for (int i = 0; i < SLOTS; i++) {
        if (!atomic_load(&in_use[i])) { slot = i; break; }
    }
    if (slot >= 0) {
        strcpy(paths[slot], path);
        atomic_store(&in_use[slot], 1);
    }
    pthread_mutex_unlock(&table_lock);
    return slot;
}

void signal_cleanup_unregister(int slot) {
    if (slot < 0 || slot >= SLOTS) return;
    pthread_mutex_lock(&table_lock);
    atomic_store(&in_use[slot], 0);
    pthread_mutex_unlock(&table_lock);
}
