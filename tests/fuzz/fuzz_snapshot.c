/*
 * fuzz_snapshot.c - mcadmin's snapshot loader and diff on hostile files.
 *
 * Snapshot files travel between machines and people, so `mcadmin diff`
 * must refuse anything malformed with a message and never crash. The
 * input is two files separated by a line holding only "%%" (without one,
 * the input is diffed against itself). Each goes through snap_load_buf();
 * when both load, diff_build() runs both ways and diff_print() renders the
 * result, so every field diff reads is exercised on any shape validation
 * lets through.
 *
 * mcadmin shares no code with the server, so its sources are compiled in
 * here rather than linked from mcd's objects (the fuzz Makefile links only
 * those); the prefixes (snap_, diff_, fmt_, tbl_, jx_, cl_) do not clash.
 *
 * Seeds: tests/fuzz/corpus/fuzz_snapshot/ (real captures, crafted pairs).
 */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../mcadmin/client.c"
#include "../../mcadmin/diff.c"
#include "../../mcadmin/format.c"
#include "../../mcadmin/snapshot.c"

int LLVMFuzzerInitialize(int *argc, char ***argv);
int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

/* A broken invariant aborts, so libFuzzer keeps the input. */
#define SNAP_CHECK(cond)                                                       \
    do {                                                                       \
        if (!(cond)) {                                                         \
            fprintf(stderr, "fuzz_snapshot: check failed: %s\n", #cond);       \
            abort();                                                           \
        }                                                                      \
    } while (0)

static FILE *sink;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    sink = fopen("/dev/null", "w");
    return 0;
}

static json_t *load(const char *p, size_t n)
{
    char err[512] = "";
    json_t *doc = snap_load_buf(p, n, "input", err, sizeof(err));
    /* Refused means explained: a message naming the input. */
    SNAP_CHECK(doc || strncmp(err, "input: ", 7) == 0);
    SNAP_CHECK(!doc || snap_validate(doc, err, sizeof(err)) == 0);
    return doc;
}

static void diff_one(const json_t *a, const json_t *b)
{
    json_t *d = diff_build(a, b, "a", "b");
    SNAP_CHECK(json_is_object(d));
    SNAP_CHECK(json_is_array(json_object_get(d, "counters")));
    diff_print(d, sink);
    char *s = json_dumps(d, JSON_COMPACT);
    SNAP_CHECK(s != NULL);      /* what --json prints must serialise */
    free(s);
    json_decref(d);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    const char *p = (const char *)data;
    const char *sep = memmem(p, size, "\n%%\n", 4);
    size_t na = sep ? (size_t)(sep - p) : size;
    const char *pb = sep ? sep + 4 : p;
    size_t nb = sep ? size - na - 4 : size;

    json_t *a = load(p, na);
    json_t *b = sep ? load(pb, nb) : json_incref(a);
    if (a && b) {
        diff_one(a, b);
        diff_one(b, a);
    }
    json_decref(a);
    json_decref(b);
    return 0;
}
