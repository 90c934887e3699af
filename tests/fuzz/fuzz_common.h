/*
 * fuzz_common.h - what every harness shares: quieting mcd's own output and
 * a FUZZ_CHECK that reports through the real stderr.
 *
 * mcd prints usage errors, warnings and (after `verbosity`) every command
 * to stdout/stderr; at thousands of runs a second that is noise and
 * syscalls. fuzz_quiet() points stdout at /dev/null and the `stderr` FILE
 * at /dev/null too, unless FUZZ_VERBOSE is set. Sanitizer reports are
 * unaffected (they write to descriptor 2), and so is libFuzzer (it keeps
 * its own FILE for the original stderr); harness messages go to fuzz_log.
 */
#ifndef MCD_FUZZ_COMMON_H
#define MCD_FUZZ_COMMON_H

#include <fcntl.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

static FILE *fuzz_log;

static inline void fuzz_quiet(void)
{
    fuzz_log = stderr;
    int null = open("/dev/null", O_WRONLY);
    if (null < 0)
        return;
    dup2(null, 1);
    if (!getenv("FUZZ_VERBOSE")) {
        FILE *f = fdopen(null, "w");
        if (f)
            stderr = f;
    }
}

/* An invariant of the code under test; abort() makes libFuzzer save the
 * input as a crash. */
#define FUZZ_CHECK(cond) do { \
        if (!(cond)) { \
            fprintf(fuzz_log ? fuzz_log : stderr, "%s:%d: check failed: %s\n", \
                    __FILE__, __LINE__, #cond); \
            abort(); \
        } \
    } while (0)

#endif /* MCD_FUZZ_COMMON_H */
