/*
 * fuzz_settings.c - settings_parse() on a command line made from the input:
 * arguments are split on NUL, space and newline ("mcd" is argv[0]). When
 * the parse accepts, the settings must satisfy the limits the rest of mcd
 * relies on. Output is quieted (fuzz_common.h).
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "errors.h"
#include "settings.h"

#define MAX_ARGS 128
#define CHECK FUZZ_CHECK

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_quiet();
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;
    char *buf = malloc(size + 1);
    memcpy(buf, data, size);
    buf[size] = '\0';
    char *argv[MAX_ARGS + 2];
    int argc = 0;
    static char arg0[] = "mcd";
    argv[argc++] = arg0;
    size_t i = 0;
    while (i < size && argc < MAX_ARGS) {
        while (i < size && (buf[i] == '\0' || buf[i] == ' ' || buf[i] == '\n'))
            i++;
        if (i == size)
            break;
        argv[argc++] = buf + i;
        while (i < size && buf[i] != '\0' && buf[i] != ' ' && buf[i] != '\n')
            i++;
        buf[i] = '\0';      /* buf[size] is already NUL */
        i++;
    }
    argv[argc] = NULL;

    struct settings s;
    settings_init(&s);
    int rc = settings_parse(&s, argc, argv);
    CHECK(rc == -1 || rc == 0 || rc == 64);
    if (rc == -1) {
        CHECK(s.maxbytes > 0);
        CHECK(s.item_size_max >= 1024);
        CHECK(s.item_size_max <= s.maxbytes / 2);
        CHECK(s.factor > 1.0 && s.factor <= 64.0);
        CHECK(s.chunk_size >= 1);
        CHECK(s.num_threads >= 1 && s.num_threads <= 256);
        CHECK(s.nlisten >= 0 && s.nlisten <= MAX_LISTEN);
        CHECK(s.port >= 0 && s.port <= 65535);
        CHECK(s.udpport >= 0 && s.udpport <= 65535);
        CHECK(s.hashpower_init == 0 || (s.hashpower_init >= 12 && s.hashpower_init <= 32));
        CHECK(s.reqs_per_event >= 1 && s.maxconns >= 1 && s.backlog >= 1);
        CHECK(s.engine && s.engine[0]);   /* a name or a .so path, judged at load */
    }
    err_faults_on = false;
    free(buf);
    return 0;
}
