/*
 * stats_text.h - the text protocol's `stats` command and its groups.
 */
#ifndef MCD_STATS_TEXT_H
#define MCD_STATS_TEXT_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"

struct conn;
struct token;

void text_stats(struct conn *c, struct token *t, size_t nt);
/* Emit one stats group ("" for the general one; settings, items, slabs,
 * sizes, conns, errors) through emit; false if there is no such group.
 * Shared by the text and binary protocols and the admin socket. */
bool stats_group(const char *group, size_t len, stat_emit_fn emit, void *ctx);
/* One "STAT name value\r\n" line on c's response. */
void text_stat_line(void *c, const char *name, const char *value);

#endif /* MCD_STATS_TEXT_H */
