/*
 * fuzz_meta.c - the meta commands (mcd/proto_meta.c) through a real
 * connection. The text harness reaches them too; this one starts from a
 * corpus and dictionary of meta commands and flags, so the fuzzer spends
 * its time in the flag parser and the stale/win logic. See fuzz_conn.h.
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
