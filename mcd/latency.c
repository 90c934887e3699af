/*
 * latency.c - per-thread command histograms and the slow log.
 *
 * Histogram buckets are log-linear: eight linear sub-buckets for each power
 * of two, so any recorded time is known to within 12.5%, from 1 ns to about
 * eighteen minutes, in 320 counters. Each thread writes only its own block
 * (a relaxed load and store, no lock prefix); readers sum the blocks.
 */
#include "latency.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

static const char *const names[CMD__COUNT] = {
#define X(n) #n,
    COMMANDS(X)
#undef X
};

struct lat_cmd {
    uint64_t calls, rejected, failed, total_ns, max_ns;
    uint64_t hist[LAT_BUCKETS];
};

struct lat_block {
    struct lat_cmd cmds[CMD__COUNT];
    struct lat_block *next;
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lat_block *blocks;        /* under reg_lock */
static __thread struct lat_block *mine;

const char *cmd_name(enum cmd_id id)
{
    return id < CMD__COUNT ? names[id] : "unknown";
}

enum cmd_id cmd_lookup(const char *name, size_t len)
{
    for (int i = 0; i < CMD__COUNT; i++) {
        if (strlen(names[i]) == len && memcmp(names[i], name, len) == 0)
            return (enum cmd_id)i;
    }
    return CMD_unknown;
}

void latency_thread_register(void)
{
    struct lat_block *b = calloc(1, sizeof(*b));
    if (!b)
        return;
    pthread_mutex_lock(&reg_lock);
    b->next = blocks;
    blocks = b;
    pthread_mutex_unlock(&reg_lock);
    mine = b;
}

static int bucket_of(uint64_t v)
{
    if (v < 8)
        return (int)v;
    int msb = 63 - __builtin_clzll(v);
    int b = (msb - 2) * 8 + (int)((v >> (msb - 3)) & 7);
    return b < LAT_BUCKETS ? b : LAT_BUCKETS - 1;
}

uint64_t latency_bucket_upper(int b)
{
    if (b < 8)
        return (uint64_t)b + 1;
    int msb = b / 8 + 2;
    uint64_t sub = (uint64_t)(b % 8);
    return ((8 + sub + 1) << (msb - 3));
}

#define BUMP(f, n) __atomic_store_n(&(f), __atomic_load_n(&(f), __ATOMIC_RELAXED) + (n), \
                                    __ATOMIC_RELAXED)

void latency_record(enum cmd_id id, uint64_t ns, enum cmd_outcome out)
{
    struct lat_block *b = mine;
    if (!b || id >= CMD__COUNT)
        return;
    struct lat_cmd *c = &b->cmds[id];
    BUMP(c->calls, 1);
    BUMP(c->total_ns, ns);
    BUMP(c->hist[bucket_of(ns)], 1);
    if (out == OUT_REJECTED)
        BUMP(c->rejected, 1);
    else if (out == OUT_FAILED)
        BUMP(c->failed, 1);
    if (ns > __atomic_load_n(&c->max_ns, __ATOMIC_RELAXED))
        __atomic_store_n(&c->max_ns, ns, __ATOMIC_RELAXED);
}

void latency_read(enum cmd_id id, struct lat_summary *out)
{
    memset(out, 0, sizeof(*out));
    pthread_mutex_lock(&reg_lock);
    for (struct lat_block *b = blocks; b; b = b->next) {
        struct lat_cmd *c = &b->cmds[id];
        out->calls += __atomic_load_n(&c->calls, __ATOMIC_RELAXED);
        out->rejected += __atomic_load_n(&c->rejected, __ATOMIC_RELAXED);
        out->failed += __atomic_load_n(&c->failed, __ATOMIC_RELAXED);
        out->total_ns += __atomic_load_n(&c->total_ns, __ATOMIC_RELAXED);
        uint64_t m = __atomic_load_n(&c->max_ns, __ATOMIC_RELAXED);
        if (m > out->max_ns)
            out->max_ns = m;
        for (int i = 0; i < LAT_BUCKETS; i++)
            out->hist[i] += __atomic_load_n(&c->hist[i], __ATOMIC_RELAXED);
    }
    pthread_mutex_unlock(&reg_lock);
}

uint64_t latency_quantile(const struct lat_summary *s, double q)
{
    uint64_t total = 0;
    for (int i = 0; i < LAT_BUCKETS; i++)
        total += s->hist[i];
    if (total == 0)
        return 0;
    uint64_t rank = (uint64_t)(q * (double)total);
    if (rank >= total)
        rank = total - 1;
    uint64_t seen = 0;
    for (int i = 0; i < LAT_BUCKETS; i++) {
        seen += s->hist[i];
        if (seen > rank) {
            uint64_t up = latency_bucket_upper(i);
            return up < s->max_ns ? up : s->max_ns;
        }
    }
    return s->max_ns;
}

/* --- the slow log -------------------------------------------------------- */

uint64_t slowlog_usec = 10000;
bool slowlog_redact;
static pthread_mutex_t slow_lock = PTHREAD_MUTEX_INITIALIZER;
static struct slow_entry ring[SLOWLOG_LEN];     /* under slow_lock */
static uint64_t next_id;                        /* under slow_lock */
static uint64_t kept_from;                      /* under slow_lock: first id kept */

void slowlog_add(enum cmd_id cmd, uint64_t ns, const char *key, size_t nkey,
                 uint64_t conn_id, const char *peer)
{
    pthread_mutex_lock(&slow_lock);
    struct slow_entry *e = &ring[next_id % SLOWLOG_LEN];
    e->id = next_id++;
    e->when = time(NULL);
    e->duration_us = ns / 1000;
    e->cmd = cmd;
    if (nkey > 250)
        nkey = 250;
    e->nkey = (uint8_t)(__atomic_load_n(&slowlog_redact, __ATOMIC_RELAXED) ? 0 : nkey);
    if (e->nkey)
        memcpy(e->key, key, e->nkey);
    e->conn_id = conn_id;
    strncpy(e->peer, peer ? peer : "", sizeof(e->peer) - 1);
    e->peer[sizeof(e->peer) - 1] = '\0';
    pthread_mutex_unlock(&slow_lock);
}

size_t slowlog_read(struct slow_entry *out, size_t max)
{
    size_t n = 0;
    pthread_mutex_lock(&slow_lock);
    uint64_t first = next_id > SLOWLOG_LEN ? next_id - SLOWLOG_LEN : 0;
    if (first < kept_from)
        first = kept_from;
    for (uint64_t id = next_id; id > first && n < max; id--)
        out[n++] = ring[(id - 1) % SLOWLOG_LEN];
    pthread_mutex_unlock(&slow_lock);
    return n;
}

void slowlog_reset(void)
{
    pthread_mutex_lock(&slow_lock);
    kept_from = next_id;
    pthread_mutex_unlock(&slow_lock);
}

uint64_t slowlog_total(void)
{
    pthread_mutex_lock(&slow_lock);
    uint64_t n = next_id;
    pthread_mutex_unlock(&slow_lock);
    return n;
}

size_t latency_memory(void)
{
    size_t n = 0;
    pthread_mutex_lock(&reg_lock);
    for (struct lat_block *b = blocks; b; b = b->next)
        n += sizeof(*b);
    pthread_mutex_unlock(&reg_lock);
    return n + sizeof(ring);
}

/* --- latency events ------------------------------------------------------- */

static pthread_mutex_t ev_lock = PTHREAD_MUTEX_INITIALIZER;
static struct lat_event events[LAT_EVENTS_MAX];     /* under ev_lock */
static int nevents;                                 /* under ev_lock */

void latency_event(const char *name, uint64_t ns)
{
    time_t now = time(NULL);
    pthread_mutex_lock(&ev_lock);
    struct lat_event *e = NULL;
    for (int i = 0; i < nevents; i++) {
        if (strcmp(events[i].name, name) == 0) {
            e = &events[i];
            break;
        }
    }
    if (!e && nevents < LAT_EVENTS_MAX) {
        e = &events[nevents++];
        e->name = name;
    }
    if (e) {
        e->count++;
        e->total_ns += ns;
        e->latest_ns = ns;
        e->latest_time = now;
        if (ns >= e->max_ns) {
            e->max_ns = ns;
            e->max_time = now;
        }
        e->history[e->next % LAT_EVENT_HISTORY].time = now;
        e->history[e->next % LAT_EVENT_HISTORY].ns = ns;
        e->next++;
    }
    pthread_mutex_unlock(&ev_lock);
}

int latency_events_read(struct lat_event *out, int max)
{
    pthread_mutex_lock(&ev_lock);
    int n = nevents < max ? nevents : max;
    memcpy(out, events, sizeof(*out) * (size_t)n);
    pthread_mutex_unlock(&ev_lock);
    return n;
}
