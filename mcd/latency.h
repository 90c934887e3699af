/*
 * latency.h - per-command service time: log-linear histograms kept per
 * thread (fixed memory, no locks, no allocation on the data path) and
 * merged on read; per-command calls, failures and rejections; and the slow
 * log, a bounded ring of the commands slower than -o slowlog_usec.
 *
 * Service time runs from the moment a whole command (line and value) is in
 * memory to the moment its reply is queued: time spent waiting for the
 * client to send a value is not the server's and is not counted.
 */
#ifndef MCD_LATENCY_H
#define MCD_LATENCY_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

#define COMMANDS(X) \
    X(get) X(gets) X(gat) X(gats) X(set) X(add) X(replace) X(append) \
    X(prepend) X(cas) X(delete) X(incr) X(decr) X(touch) X(stats) \
    X(flush_all) X(version) X(verbosity) X(quit) X(shutdown) X(slabs) \
    X(lru_crawler) X(mg) X(ms) X(md) X(ma) X(mn) X(me) \
    X(bin_get) X(bin_set) X(bin_add) X(bin_replace) X(bin_delete) \
    X(bin_incr) X(bin_decr) X(bin_append) X(bin_prepend) X(bin_touch) \
    X(bin_gat) X(bin_flush) X(bin_noop) X(bin_version) X(bin_stat) \
    X(bin_verbosity) X(bin_quit) X(bin_other) X(unknown)

enum cmd_id {
#define X(n) CMD_##n,
    COMMANDS(X)
#undef X
    CMD__COUNT
};

/* How a command ended: served, refused for the client's mistake (CLIENT_ERROR,
 * ERROR), or failed on the server's side (SERVER_ERROR). */
enum cmd_outcome { OUT_OK, OUT_REJECTED, OUT_FAILED };

#define LAT_BUCKETS 320

struct lat_summary {
    uint64_t calls, rejected, failed;
    uint64_t total_ns, max_ns;
    uint64_t hist[LAT_BUCKETS];
};

const char *cmd_name(enum cmd_id id);
enum cmd_id cmd_lookup(const char *name, size_t len);

static inline uint64_t now_ns(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000000000ULL + (uint64_t)ts.tv_nsec;
}

void latency_thread_register(void);
/* Record one command on the calling thread. */
void latency_record(enum cmd_id id, uint64_t ns, enum cmd_outcome out);
/* Merge every thread's counters for one command. */
void latency_read(enum cmd_id id, struct lat_summary *out);
/* The value (ns) below which `q` (0..1) of the recorded calls fall. */
uint64_t latency_quantile(const struct lat_summary *s, double q);
/* Upper bound (ns) of a histogram bucket. */
uint64_t latency_bucket_upper(int bucket);

/* --- latency events: work that is not a command -------------------------- */

#define LAT_EVENTS_MAX 16
#define LAT_EVENT_HISTORY 16

struct lat_event {
    const char *name;           /* static: "hash_expand", "expire_pass"... */
    uint64_t count, total_ns, max_ns, latest_ns;
    time_t latest_time, max_time;
    struct { time_t time; uint64_t ns; } history[LAT_EVENT_HISTORY];
    unsigned next;
};

/* Record one occurrence of a named piece of background work. */
void latency_event(const char *name, uint64_t ns);
/* Copies every event kind seen; returns how many. */
int latency_events_read(struct lat_event *out, int max);

/* Bytes held by the histograms and the slow log. */
size_t latency_memory(void);

/* --- the slow log -------------------------------------------------------- */

#define SLOWLOG_LEN 128

struct slow_entry {
    uint64_t id;
    time_t when;
    uint64_t duration_us;
    enum cmd_id cmd;
    char key[251];
    uint8_t nkey;
    uint64_t conn_id;
    char peer[64];
};

extern uint64_t slowlog_usec;       /* atomic; 0 logs every command */
extern bool slowlog_redact;         /* atomic: keep no key names */

void slowlog_add(enum cmd_id cmd, uint64_t ns, const char *key, size_t nkey,
                 uint64_t conn_id, const char *peer);
/* Copies up to max newest entries (newest first); returns the count. */
size_t slowlog_read(struct slow_entry *out, size_t max);
void slowlog_reset(void);
uint64_t slowlog_total(void);

#endif /* MCD_LATENCY_H */
