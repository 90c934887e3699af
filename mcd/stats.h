/*
 * stats.h - counters kept per thread and summed on read, as memcached's
 * THREAD_STATS are. Each thread is the only writer of its own block, so an
 * increment is a relaxed load and store (a plain add, no lock prefix) and
 * readers on other threads still see whole values.
 *
 * Counters only grow; `stats reset` records a baseline that is subtracted
 * on read, so a snapshot diff never sees a counter go backwards unless the
 * operator asked for it.
 */
#ifndef MCD_STATS_H
#define MCD_STATS_H

#include <stdint.h>

/* X(field, "description") ; the field name is the `stats` name. */
#define THREAD_STATS(X) \
    X(cmd_get, "keys looked up by get, gets and mg (a gat, gats or mg with T that hits is a touch)") \
    X(get_hits, "keys found") \
    X(get_misses, "keys not found") \
    X(get_expired, "keys found expired") \
    X(get_flushed, "keys found invalidated by flush_all") \
    X(cmd_set, "storage commands given memory for their value") \
    X(cmd_touch, "keys of touch, gat and gats, and mg hits with T") \
    X(touch_hits, "keys touched") \
    X(touch_misses, "keys not found by touch") \
    X(cmd_flush, "flush_all commands, refused ones too") \
    X(cmd_meta, "me commands (memcached 1.6 counts only those here)") \
    X(delete_hits, "deletes that removed an item") \
    X(delete_misses, "deletes of missing keys") \
    X(incr_hits, "incr of existing keys") \
    X(incr_misses, "incr of missing keys") \
    X(decr_hits, "decr of existing keys") \
    X(decr_misses, "decr of missing keys") \
    X(cas_hits, "cas that stored") \
    X(cas_misses, "cas of missing keys") \
    X(cas_badval, "cas refused for a changed item") \
    X(store_too_large, "stores refused for size") \
    X(store_no_memory, "stores refused for lack of memory") \
    X(bytes_read, "bytes read from clients") \
    X(bytes_written, "bytes written to clients") \
    X(conn_yields, "times a connection yielded after -R requests") \
    X(expired_on_arrival, "stores whose exptime was already past (negative or absolute in the past)") \
    X(ttl_absolute, "stores whose exptime was over 30 days, read as an absolute unix time") \
    X(ttl_none, "stores with no expiry") \
    X(ttl_under_1m, "stores with a TTL under a minute") \
    X(ttl_under_1h, "stores with a TTL under an hour") \
    X(ttl_under_1d, "stores with a TTL under a day") \
    X(ttl_under_30d, "stores with a TTL up to 30 days") \
    X(multiget_1, "retrieval commands with one key") \
    X(multiget_2_10, "retrieval commands with 2 to 10 keys") \
    X(multiget_11_100, "retrieval commands with 11 to 100 keys") \
    X(multiget_over_100, "retrieval commands with more than 100 keys")

/* Per slab class, memcached's `stats slabs` counters: counted by the
 * engines (engine/item_rules.h, engine/meta_rules.h) by the item's class. */
#define CLASS_STATS(X) \
    X(get_hits) X(cmd_set) X(delete_hits) X(incr_hits) X(decr_hits) \
    X(cas_hits) X(cas_badval) X(touch_hits)
#define STATS_MAX_CLASSES 64

struct class_stats {
#define X(f) uint64_t f;
    CLASS_STATS(X)
#undef X
};

struct tstats {
#define X(f, d) uint64_t f;
    THREAD_STATS(X)
#undef X
    struct class_stats cls[STATS_MAX_CLASSES];
};

/* The calling thread's block; NULL until stats_thread_register(). */
extern __thread struct tstats *tstats_mine;

#define STAT_ADD(f, n) do { \
        struct tstats *ts_ = tstats_mine; \
        if (ts_) __atomic_store_n(&ts_->f, \
            __atomic_load_n(&ts_->f, __ATOMIC_RELAXED) + (n), __ATOMIC_RELAXED); \
    } while (0)
#define STAT_INCR(f) STAT_ADD(f, 1)
#define STAT_CLASS_INCR(f, id) do { \
        struct tstats *ts_ = tstats_mine; \
        unsigned id_ = (id); \
        if (ts_ && id_ < STATS_MAX_CLASSES) __atomic_store_n(&ts_->cls[id_].f, \
            __atomic_load_n(&ts_->cls[id_].f, __ATOMIC_RELAXED) + 1, __ATOMIC_RELAXED); \
    } while (0)

void stats_thread_register(void);
/* Sum every thread's block minus the reset baseline. */
void stats_sum(struct tstats *out);
void stats_reset(void);

#endif /* MCD_STATS_H */
