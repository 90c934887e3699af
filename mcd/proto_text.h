/*
 * proto_text.h - the text protocol's tokens, shared with the meta commands.
 */
#ifndef MCD_PROTO_TEXT_H
#define MCD_PROTO_TEXT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "proto.h"

#define MAX_TOKENS 24

struct token {
    const char *p;
    size_t len;
};

struct conn;

static inline bool tok_is(const struct token *t, const char *s, size_t n)
{
    return t->len == n && __builtin_memcmp(t->p, s, n) == 0;
}
#define TOK_IS(t, lit) tok_is((t), lit, sizeof(lit) - 1)

/* Splits line on spaces; returns the count, or max + 1 if there were more. */
size_t text_tokenize(const char *line, size_t len, struct token *t, size_t max);
/* Is a key acceptable to the text protocol (length, no control bytes)? */
bool text_key_ok(struct conn *c, const struct token *key);

/* Counts how a store's exptime reads (time sanity, see stats). */
void text_note_exptime(int64_t exptime);

/* The meta commands (mg, ms, md, ma, mn, me) when built in (proto_meta.c):
 * returns false if tokens[0] is not a meta command. */
bool proto_meta_command(struct conn *c, struct token *t, size_t nt,
                        const char *line, size_t len) __attribute__((weak));
void proto_meta_complete_nread(struct conn *c) __attribute__((weak));

#endif /* MCD_PROTO_TEXT_H */
