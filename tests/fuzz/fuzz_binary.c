/*
 * fuzz_binary.c - the binary protocol (mcd/proto_bin.c) through a real
 * connection forced to binary (-B binary): every input is a stream of
 * frames a client might send. See fuzz_conn.h.
 */
#include <stddef.h>
#include <stdint.h>

#include "fuzz_conn.h"

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_conn_setup(PROTO_BINARY);
    return 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    fuzz_conn_run(data, size);
    fuzz_conn_check();
    return 0;
}
