/*
 * history.h - evidence that outlives the moment: bounded rings of events
 * (evictions, expirations, errors, flushes, connection opens and closes,
 * rejected stores, slab page moves) kept per thread and merged on read.
 * The admin socket's `history KIND` reads them after the fact and
 * `watch KIND` tails them live.
 *
 * Each thread writes only its own ring, under the ring's own lock, which
 * only the admin thread ever contends for; events are rare next to
 * commands (an error, an eviction, a close), so this costs the data path
 * nothing measurable.
 */
#ifndef MCD_HISTORY_H
#define MCD_HISTORY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define HISTORY_KINDS(X) \
    X(eviction) X(expiration) X(error) X(flush) X(conn) X(reject) X(pagemove)

enum hist_kind {
#define X(n) HK_##n,
    HISTORY_KINDS(X)
#undef X
    HK__COUNT
};

#define HIST_KEY_MAX 120

struct hist_event {
    uint64_t seq;           /* global order */
    time_t time;
    enum hist_kind kind;
    const char *what;       /* static text: cause, reason, or direction */
    int code;               /* error code (error, reject), or 0 */
    int clsid;              /* slab class, or -1 */
    int clsid2;             /* page moves: destination class */
    uint64_t conn_id;
    uint64_t size;          /* bytes (reject, eviction), delay (flush) */
    uint32_t age;           /* seconds (eviction, expiration) */
    bool fetched;           /* eviction, expiration */
    uint16_t nkey;          /* full key length; key holds the first bytes */
    char key[HIST_KEY_MAX];
    char peer[64];
};

extern bool history_redact;     /* atomic: keep no key names */

const char *history_kind_name(enum hist_kind k);
bool history_kind_lookup(const char *name, enum hist_kind *out);

void history_thread_register(const char *role);
/* Record an event; fills seq and time. Safe from any registered thread
 * (an unregistered thread records into a shared ring). */
void history_add(struct hist_event *e);
void history_set_key(struct hist_event *e, const char *key, size_t nkey);

/* Copies the newest max events of kind (HK__COUNT for all) with time >=
 * since into out, oldest first; returns the count. */
size_t history_read(enum hist_kind kind, time_t since, struct hist_event *out, size_t max);

/* Live watchers (at most WATCHERS_MAX): each gets its own queue of the
 * kinds it asked for (a bit per hist_kind); a full queue drops events and
 * counts them as lost. */
#define WATCHERS_MAX 8
int history_watch_open(unsigned kinds);
void history_watch_close(int id);
size_t history_watch_drain(int id, struct hist_event *out, size_t max, uint64_t *lost);
uint64_t history_last_seq(void);
/* Events recorded per kind since start. */
uint64_t history_count(enum hist_kind kind);
/* Bytes held by the rings and watcher queues. */
size_t history_memory(void);

#endif /* MCD_HISTORY_H */
