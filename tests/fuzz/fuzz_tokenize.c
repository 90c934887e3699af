/*
 * fuzz_tokenize.c - text_tokenize() against a plain reference: the first
 * byte picks max (1..MAX_TOKENS), the rest is the line. Tokens must lie
 * inside the line, in order, be non-empty runs of non-space bytes
 * separated by spaces, and be exactly the reference's; more than max
 * tokens must give max + 1.
 */
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "fuzz_common.h"
#include "proto_text.h"

#define CHECK FUZZ_CHECK

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (size < 1)
        return 0;
    size_t max = 1 + data[0] % MAX_TOKENS;
    size_t len = size - 1;
    /* a copy of exactly len bytes, so ASan sees any read past the end */
    char *line = malloc(len ? len : 1);
    memcpy(line, data + 1, len);
    struct token t[MAX_TOKENS + 1];
    memset(t, 0, sizeof(t));

    size_t n = text_tokenize(line, len, t, max);

    /* the reference: count the runs of non-space bytes */
    size_t ref = 0;
    for (size_t i = 0; i < len; i++) {
        if (line[i] != ' ' && (i == 0 || line[i - 1] == ' '))
            ref++;
    }
    CHECK(n == (ref > max ? max + 1 : ref));
    CHECK(t[max].p == NULL);            /* never writes past t[max - 1] */
    size_t filled = n > max ? max : n;
    const char *prev_end = line;
    for (size_t i = 0; i < filled; i++) {
        CHECK(t[i].len > 0);
        CHECK(t[i].p >= prev_end && t[i].p + t[i].len <= line + len);
        CHECK(memchr(t[i].p, ' ', t[i].len) == NULL);
        /* maximal: bounded by spaces or the line's ends */
        CHECK(t[i].p == line || t[i].p[-1] == ' ');
        CHECK(t[i].p + t[i].len == line + len || t[i].p[t[i].len] == ' ');
        /* nothing but spaces between tokens */
        for (const char *q = prev_end; q < t[i].p; q++)
            CHECK(*q == ' ');
        prev_end = t[i].p + t[i].len;
    }
    if (n <= max) {
        for (const char *q = prev_end; q < line + len; q++)
            CHECK(*q == ' ');
    }
    free(line);
    return 0;
}
