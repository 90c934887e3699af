/*
 * crash.h - the crash file: on SIGSEGV, SIGBUS, SIGFPE, SIGILL or SIGABRT
 * (a failed assertion) mcd writes what it knows, async-signal-safely, to
 * -o crash_file=PATH (default /tmp/mcd.PORT.crash), then dies as before.
 */
#ifndef MCD_CRASH_H
#define MCD_CRASH_H

#include <stddef.h>

/* Installs the handlers; call after settings are final. */
void crash_setup(const char *path);
/* Each worker registers a ring of its last commands, shown in the file. */
void crash_thread_register(int index);
/* Note a command on the calling worker's ring (cheap: one short copy).
 * cmd must be a static string: only the pointer is kept. */
void crash_note(const char *cmd, const char *key, size_t nkey);

#endif /* MCD_CRASH_H */
