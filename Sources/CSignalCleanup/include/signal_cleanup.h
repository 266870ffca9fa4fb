#ifndef SIGNAL_CLEANUP_H
#define SIGNAL_CLEANUP_H

/// Registers a path to unlink if the process dies from SIGINT, SIGTERM, SIGHUP or SIGPIPE.
/// Returns a slot number for signal_cleanup_unregister, or -1 when the table is full.
/// The first call installs the signal handlers.
int signal_cleanup_register(const char *path);

/// Forgets a slot (after the file was renamed into place or removed normally).
void signal_cleanup_unregister(int slot);

#endif
