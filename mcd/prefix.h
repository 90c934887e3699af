/*
 * prefix.h - per-prefix statistics, as memcached's `stats detail`: keys are
 * grouped by the part before the -D delimiter and counted per group.
 */
#ifndef MCD_PREFIX_H
#define MCD_PREFIX_H

#include <stdbool.h>
#include <stddef.h>

enum prefix_op { PREFIX_GET, PREFIX_SET, PREFIX_DELETE };

extern bool prefix_enabled;     /* atomic: `stats detail on|off` */

void prefix_record(const char *key, size_t nkey, enum prefix_op op, bool hit);
/* Calls fn once per prefix, in no particular order. */
void prefix_each(void (*fn)(void *ctx, const char *prefix, size_t len,
                            unsigned long long get, unsigned long long hit,
                            unsigned long long set, unsigned long long del),
                 void *ctx);
void prefix_teardown(void);

#endif /* MCD_PREFIX_H */
