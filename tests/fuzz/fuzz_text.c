/*
 * fuzz_text.c - the text protocol (mcd/proto_text.c, stats_text.c) through
 * a real connection: the input is what a client sends. See fuzz_conn.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_conn.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_conn_setup(PROTO_ASCII);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_conn_run(data, size);
    fuzz_conn_check();
    return 0;
}
