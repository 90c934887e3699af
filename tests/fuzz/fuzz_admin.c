/*
 * fuzz_admin.c - the admin socket's request parser and every command it
 * dispatches to (introspect/admin.c), fed one request per input line. The
 * replies go to a socketpair that is drained and thrown away; the engine is
 * set up as for the protocol harnesses so the dumps have something to walk.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_conn.h"
#include "../../introspect/introspect.h"

static int pair[2];

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_conn_setup(PROTO_ASCII);
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, pair) != 0)
        abort();
    return 0;
}

static void drain(void)
{
    char buf[65536];
    while (read(pair[1], buf, sizeof(buf)) > 0)
        ;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size > 4096)
        return 0;   /* longer lines are refused before parsing */
    char *copy = malloc(size + 1);
    if (!copy)
        return 0;
    memcpy(copy, data, size);
    copy[size] = '\0';
    char *save = NULL;
    for (char *line = strtok_r(copy, "\n", &save); line; line = strtok_r(NULL, "\n", &save)) {
        admin_fuzz_request(pair[0], line);
        drain();
    }
    free(copy);
    return 0;
}
