/*
 * util.h - small helpers shared by every module of mcd: the server clock,
 * strict number parsing for protocol tokens, and the key hash.
 */
#ifndef MCD_UTIL_H
#define MCD_UTIL_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

/* Seconds since the server started (plus two, so that 1 is always past). */
typedef uint32_t rel_time_t;

/* Relative exptimes up to this many seconds; larger values are unix times. */
#define REALTIME_MAXDELTA (60 * 60 * 24 * 30)

void clock_setup(void);
/* Called once a second by the main thread's timer. */
void clock_tick(void);
rel_time_t clock_now(void);
time_t clock_started(void);
/* Convert a client exptime (0, relative, absolute, negative) to rel_time_t. */
rel_time_t clock_realtime(int64_t exptime);
/* Wall clock minus the server's clock, in seconds. */
int64_t clock_drift(void);
/* Turn a rel_time_t back into unix time (0 stays 0). */
time_t clock_abs(rel_time_t t);
/* Tests only: set the clock to t (seconds since start) until the next
 * clock_tick(), so expiry and delayed flush can be tested without waiting. */
void clock_set_for_test(rel_time_t t);

/* Strict parsers: the whole token must be a number in range, with an
 * optional sign as strtoul/strtoll read it (unsigned: '+' only). */
bool parse_u32(const char *s, size_t len, uint32_t *out);
bool parse_u64(const char *s, size_t len, uint64_t *out);
/* A stored value read as a number for incr/decr, as memcached's strtoull
 * reads it: blanks first, an optional '+', digits, then the end or a
 * blank (what follows a blank is ignored). */
bool parse_stored_u64(const char *s, size_t len, uint64_t *out);
bool parse_i64(const char *s, size_t len, int64_t *out);
bool parse_i32(const char *s, size_t len, int32_t *out);

/* Writes the decimal form of v into buf (at least 21 bytes); returns length. */
size_t fmt_u64(char *buf, uint64_t v);

uint32_t hash_key(const void *key, size_t len);

#endif /* MCD_UTIL_H */
