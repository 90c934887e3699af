/*
 * stats_text.h - the text protocol's `stats` command and its groups.
 */
#ifndef MCD_STATS_TEXT_H
#define MCD_STATS_TEXT_H

#include <stddef.h>

struct conn;
struct token;

void text_stats(struct conn *c, struct token *t, size_t nt);
/* One "STAT name value\r\n" line on c's response. */
void text_stat_line(void *c, const char *name, const char *value);

#endif /* MCD_STATS_TEXT_H */
