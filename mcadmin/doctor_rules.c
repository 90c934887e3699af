/*
 * doctor_rules.c - the rules `mcadmin doctor` applies, in the order they
 * print. Each reads the documented JSON of two samples (see doctor.h),
 * records findings with their evidence and the advice they call for, and
 * never prints. Thresholds are chosen so that a healthy server under
 * ordinary load yields nothing: a false alarm is a bug (tests/t/
 * doctor_healthy.t). Each threshold is named where it is used and listed
 * in man/mcadmin.1 and man/mcd-troubleshooting.7.
 */
#include "doctor.h"

#include <math.h>
#include <string.h>

#define KiB 1024.0
#define MiB (1024.0 * 1024.0)

/* --- small readers ------------------------------------------------------------ */

static const json_t *arr(const json_t *sample, const char *sec, const char *member)
{
    return jx_get(dr_sec(sample, sec), member);
}

static double rate(const struct doctor *d, double delta)
{
    return d->secs > 0 ? delta / d->secs : 0;
}

/* A class's growth of a counter member, matched by id between samples. */
static double class_delta(const struct doctor *d, const char *sec, long long id, const char *m)
{
    return jx_num(dr_row(arr(d->b, sec, "classes"), "id", id), m, 0) -
           jx_num(dr_row(arr(d->a, sec, "classes"), "id", id), m, 0);
}

/* Whole pages' worth of free chunks beyond the one page a class fills as
 * it goes: memory the class holds and does not use. */
static long long spare_pages(const json_t *c)
{
    long long per = jx_int(c, "chunks_per_page", 0), fr = jx_int(c, "free_chunks", 0);
    return per > 0 && fr > per ? fr / per : 0;
}

/* Classes other than `except` holding spare pages, as evidence; returns
 * the spare bytes. Only classes of chunks smaller than `below` when set. */
static double spare_elsewhere(const struct doctor *d, json_t *f, long long except, double below)
{
    size_t i;
    const json_t *c;
    double bytes = 0;
    char b1[32], b2[32];
    json_array_foreach(arr(d->b, "slabs", "classes"), i, c) {
        long long id = jx_int(c, "id", 0), sp = spare_pages(c);
        double cs = jx_num(c, "chunk_size", 0);
        if (id == except || sp == 0 || (below > 0 && cs >= below))
            continue;
        bytes += jx_num(c, "free_chunks", 0) * cs;
        if (f)
            dr_evidence(f, "  class %lld (%s chunks): %lld of %lld chunks free = %s, %lld pages",
                        id, fmt_bytes(cs, b1), jx_int(c, "free_chunks", 0),
                        jx_int(c, "total_chunks", 0),
                        fmt_bytes(jx_num(c, "free_chunks", 0) * cs, b2), jx_int(c, "pages", 0));
    }
    return bytes;
}

static const char *key_of(const json_t *o)
{
    const char *k = jx_str(o, "key", NULL);
    return k ? k : jx_str(o, "key_base64", "?");
}

/* A key's prefix as the prefixes dump names it: up to the server's -D
 * delimiter (else ':'), or the whole key. */
static json_t *prefix_of(const struct doctor *d, const char *key)
{
    const char *delim = jx_str(arr(d->b, "settings", "settings"), "stat_key_prefix", ":");
    const char *p = strchr(key, delim[0] ? delim[0] : ':');
    return p ? json_stringn(key, (size_t)(p - key)) : json_string(key);
}

/* Events of a kind in b's history, newer than the window. */
static bool event_recent(const struct doctor *d, const json_t *e, const char *kind)
{
    return strcmp(jx_str(e, "kind", ""), kind) == 0 &&
           jx_int(e, "time", 0) >= d->now - d->recent;
}

static bool has_member(const json_t *rows, const char *m)
{
    size_t i;
    const json_t *r;
    json_array_foreach(rows, i, r)
        if (jx_get(r, m))
            return true;
    return false;
}

/* --- 1. reference leak ---------------------------------------------------------- */

static void rule_reference_leak(struct doctor *d)
{
    if (!d->a) {
        dr_needs(d, "two samples: a leak is an unexplained reference that persists");
        return;
    }
    json_t *f = NULL, *keys = json_array(), *sites = json_array();
    size_t i, k;
    const json_t *it, *old, *t;
    char b[32];
    json_array_foreach(arr(d->b, "locked", "items"), i, it) {
        if (!json_is_true(jx_get(it, "suspected_leak")))
            continue;
        bool before = false;
        json_array_foreach(arr(d->a, "locked", "items"), k, old)
            before |= json_is_true(jx_get(old, "suspected_leak")) &&
                      json_equal(jx_get(old, "addr"), jx_get(it, "addr"));
        if (!before)
            continue;   /* a request in flight can look unexplained once */
        if (!f)
            f = dr_finding(d, "reference_leak", "references no holder explains, in both "
                           "samples 2 s apart or more");
        if (json_array_size(keys) < 10) {
            dr_evidence(f, "item '%s' (class %lld): refcount %lld, resting %lld, %lld "
                        "unexplained, %s, idle %s", key_of(it), jx_int(it, "class", 0),
                        jx_int(it, "refcount", 0), jx_int(it, "resting", 0),
                        jx_int(it, "unexplained", 0),
                        json_is_true(jx_get(it, "linked")) ? "stored" : "no longer stored",
                        fmt_duration(jx_num(it, "age_secs", 0), b));
            json_array_foreach(jx_get(it, "recent_takes"), k, t) {
                dr_evidence(f, "  taken at %s (worker %lld, %s ago)", jx_str(t, "site", "?"),
                            jx_int(t, "thread", 0), fmt_duration(jx_num(t, "secs_ago", 0), b));
                json_t *s = json_string(jx_str(t, "site", "?"));
                bool dup = false;
                size_t j;
                const json_t *o;
                json_array_foreach(sites, j, o)
                    dup |= json_equal(o, s);
                if (!dup)
                    json_array_append(sites, s);
                json_decref(s);
            }
        }
        json_array_append_new(keys, json_string(key_of(it)));
    }
    if (f) {
        json_object_set_new(f, "title", json_sprintf("%zu item%s with references no holder "
            "explains in both samples (first: '%s', taken at %s)", json_array_size(keys),
            json_array_size(keys) == 1 ? "" : "s", json_string_value(json_array_get(keys, 0)),
            json_array_size(sites) ? json_string_value(json_array_get(sites, 0)) : "?"));
        dr_evidence(f, "locked: suspected_leaks %lld now, %lld in the first sample",
                    jx_int(dr_sec(d->b, "locked"), "suspected_leaks", 0),
                    jx_int(dr_sec(d->a, "locked"), "suspected_leaks", 0));
        dr_subject(f, "keys", json_incref(keys));
        dr_subject(f, "sites", json_incref(sites));
        dr_advise(d, f, ADV_BUG_REPORT);
    }
    json_decref(keys);
    json_decref(sites);
}

/* --- 2. slab calcification, 10. large items without memory -------------------- */

static void rule_slab_calcification(struct doctor *d)
{
    size_t i;
    const json_t *c;
    char b1[32], b2[32];
    json_array_foreach(arr(d->b, "slabs", "classes"), i, c) {
        long long id = jx_int(c, "id", 0);
        double ev = class_delta(d, "slabs", id, "evicted");
        const json_t *m = dr_row(arr(d->b, "memory", "classes"), "id", id);
        if (ev <= 0 || jx_int(m, "pages_obtainable", 0) > 0)
            continue;   /* no evictions, or it could still grow */
        double spare = spare_elsewhere(d, NULL, id, 0);
        if (spare <= 0)
            continue;
        json_t *f = dr_finding(d, "slab_calcification", "class %lld (%s chunks) evicts %s "
            "while other classes hold %s of spare chunks", id,
            fmt_bytes(jx_num(c, "chunk_size", 0), b1), fmt_rate(rate(d, ev), b2),
            fmt_bytes(spare, (char[32]){ 0 }));
        dr_evidence(f, "class %lld: %lld pages, +%s evictions over %s, %lld free chunks, "
                    "tail age %s, no page obtainable under -m", id, jx_int(c, "pages", 0),
                    fmt_num(ev, b1), fmt_duration(d->secs, b2), jx_int(c, "free_chunks", 0),
                    fmt_duration(jx_num(c, "tail_age", 0), (char[32]){ 0 }));
        dr_evidence(f, "stats: evictions +%s (%s), slab_pages %s of -m %s",
                    fmt_num(dr_delta(d, "evictions"), b1),
                    fmt_rate(rate(d, dr_delta(d, "evictions")), b2),
                    fmt_num(dr_stat(d->b, "slab_pages"), (char[32]){ 0 }),
                    fmt_bytes(dr_stat(d->b, "limit_maxbytes"), (char[32]){ 0 }));
        dr_evidence(f, "classes holding pages they do not use:");
        spare_elsewhere(d, f, id, 0);
        if (jx_get(c, "pages_moved_in"))
            dr_evidence(f, "pages moved into class %lld: %lld since start (+%s now); "
                        "slab_automove %s", id, jx_int(c, "pages_moved_in", 0),
                        fmt_num(class_delta(d, "slabs", id, "pages_moved_in"), b1),
                        jx_str(arr(d->b, "settings", "settings"), "slab_automove", "off"));
        dr_subject(f, "class", json_integer(id));
        dr_advise(d, f, ADV_SLAB_MOVE);
    }
}

static const int no_memory_sites[] = { 2104, 2105, 2106 };

static void rule_large_items_no_memory(struct doctor *d)
{
    for (size_t i = 0; i < sizeof(no_memory_sites) / sizeof(no_memory_sites[0]); i++) {
        int code = no_memory_sites[i];
        const json_t *ctx = jx_get(dr_site(d->b, code), "last_context");
        double size = jx_num(ctx, "size", 0);
        if (!dr_site_recent(d, code) || size < 8 * KiB)
            continue;   /* 8 KiB: below it, classes are many and small */
        json_t *ev = json_object();
        json_object_set_new(ev, "evidence", json_array());
        double spare = spare_elsewhere(d, ev, jx_int(ctx, "slab_class", -1), size);
        if (spare < size) {
            json_decref(ev);
            continue;
        }
        char b1[32], b2[32];
        json_t *f = dr_finding(d, "large_items_no_memory", "stores of %s (class %lld) fail "
            "for lack of memory while classes of smaller chunks hold %s free",
            fmt_bytes(size, b1), jx_int(ctx, "slab_class", -1), fmt_bytes(spare, b2));
        dr_evidence(f, "stats: store_no_memory %s since start, +%s over the interval",
                    fmt_num(dr_stat(d->b, "store_no_memory"), b1),
                    fmt_num(dr_delta(d, "store_no_memory"), b2));
        for (size_t k = 0; k < sizeof(no_memory_sites) / sizeof(no_memory_sites[0]); k++)
            dr_site_evidence(d, f, no_memory_sites[k]);
        dr_evidence(f, "classes of smaller chunks with spare pages:");
        json_array_extend(json_object_get(f, "evidence"), json_object_get(ev, "evidence"));
        json_decref(ev);
        dr_subject(f, "class", json_integer(jx_int(ctx, "slab_class", -1)));
        dr_subject(f, "size", json_real(size));
        dr_advise(d, f, ADV_SLAB_MOVE);
        return;
    }
}

/* --- 3. maxconns, 18. descriptor limit ------------------------------------------ */

/* "tcp:10.0.0.1:4242" -> "tcp:10.0.0.1": connections grouped by host. */
static void top_peers(const struct doctor *d, json_t *f)
{
    json_t *count = json_object();
    size_t i;
    const json_t *c;
    json_array_foreach(arr(d->b, "conns", "connections"), i, c) {
        char host[256];
        snprintf(host, sizeof(host), "%s", jx_str(c, "peer", "?"));
        char *colon = strrchr(host, ':');
        if (colon && strncmp(host, "unix:", 5) != 0)
            *colon = '\0';
        json_object_set_new(count, host, json_integer(jx_int(count, host, 0) + 1));
    }
    const char *host;
    json_t *n;
    json_object_foreach(count, host, n)
        dr_evidence(f, "  %lld connections from %s", (long long)json_integer_value(n), host);
    json_decref(count);
}

static void rule_maxconns(struct doctor *d)
{
    double rej = dr_delta(d, "rejected_connections");
    if (rej <= 0 && !dr_site_recent(d, 6001))
        return;
    char b1[32], b2[32];
    const json_t *s = jx_get(dr_sec(d->b, "stats"), "stats");
    json_t *f = dr_finding(d, "maxconns", "connections refused at -c %lld (%s refused over "
        "the interval, %lld since start)", jx_int(s, "max_connections", 0), fmt_num(rej, b1),
        jx_int(s, "rejected_connections", 0));
    dr_evidence(f, "stats: curr_connections %lld of max_connections %lld, "
                "rejected_connections +%s (%s)", jx_int(s, "curr_connections", 0),
                jx_int(s, "max_connections", 0), fmt_num(rej, b1), fmt_rate(rate(d, rej), b2));
    dr_site_evidence(d, f, 6001);
    dr_evidence(f, "open connections by peer:");
    top_peers(d, f);
    dr_subject(f, "max_connections", json_integer(jx_int(s, "max_connections", 0)));
    dr_advise(d, f, ADV_MAXCONNS);
}

static void rule_fd_limit(struct doctor *d)
{
    const json_t *set = arr(d->b, "settings", "settings");
    long long nofile = jx_int(set, "nofile_limit", 0), maxc = jx_int(set, "maxconns", 0);
    bool low = nofile > 0 && nofile < maxc;
    if (!set) {
        dr_needs(d, "the settings section");
        return;
    }
    if (!low && jx_int(dr_site(d->b, 6014), "count", 0) == 0 && !dr_site_recent(d, 6003) &&
        !dr_site_recent(d, 6012))
        return;
    json_t *f = dr_finding(d, "fd_limit", "the descriptor limit (%lld) is below -c %lld: "
                           "accepts fail before -c is reached", nofile, maxc);
    dr_evidence(f, "settings: nofile_limit %lld, maxconns %lld (mcd wants -c + 64 = %lld)",
                nofile, maxc, maxc + 64);
    dr_evidence(f, "stats: listen_disabled_num %.0f, curr_connections %.0f",
                dr_stat(d->b, "listen_disabled_num"), dr_stat(d->b, "curr_connections"));
    dr_site_evidence(d, f, 6014);
    dr_site_evidence(d, f, 6003);
    dr_site_evidence(d, f, 6012);
    dr_subject(f, "nofile_limit", json_integer(nofile));
    dr_advise(d, f, ADV_NOFILE);
}

/* --- 4. allocation failures -------------------------------------------------------- */

static const int alloc_sites[] = { 2120, 2107, 2121, 6004, 6005, 6006 };

static void rule_alloc_failures(struct doctor *d)
{
    double fails = dr_delta(d, "malloc_fails");
    bool any = fails > 0;
    for (size_t i = 0; i < sizeof(alloc_sites) / sizeof(alloc_sites[0]); i++)
        any |= dr_site_recent(d, alloc_sites[i]);
    if (!any)
        return;
    double ev = dr_delta(d, "evictions");
    char b1[32], b2[32], b3[32];
    json_t *f = dr_finding(d, "alloc_failures", "the system refused memory %s times%s",
        fmt_num(dr_stat(d->b, "malloc_fails"), b1),
        ev == 0 ? " while the cache was below -m (no evictions)" : "");
    dr_evidence(f, "stats: malloc_fails +%s over the interval, evictions +%s, "
                "total_malloced %s of -m %s", fmt_num(fails, b1), fmt_num(ev, b2),
                fmt_bytes(dr_stat(d->b, "total_malloced"), b3),
                fmt_bytes(dr_stat(d->b, "limit_maxbytes"), (char[32]){ 0 }));
    const json_t *mem = dr_sec(d->b, "memory");
    if (mem)
        dr_evidence(f, "memory: rss %s, accounted %s", fmt_bytes(jx_num(mem, "rss_bytes", 0), b1),
                    fmt_bytes(jx_num(mem, "accounted_bytes", 0), b2));
    for (size_t i = 0; i < sizeof(alloc_sites) / sizeof(alloc_sites[0]); i++)
        dr_site_evidence(d, f, alloc_sites[i]);
    dr_subject(f, "evictions", json_real(ev));
    dr_advise(d, f, ADV_HOST_MEMORY);
}

/* --- 5. hit ratio collapse after a flush --------------------------------------- */

#define MIN_GETS 50     /* fewer gets say nothing about a hit ratio */

static void rule_flush_collapse(struct doctor *d)
{
    json_t *flushes = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(arr(d->b, "history", "events"), i, e)
        if (event_recent(d, e, "flush"))
            json_array_append(flushes, (json_t *)e);
    double hits = dr_delta(d, "get_hits"), miss = dr_delta(d, "get_misses");
    double fl = dr_delta(d, "get_flushed");
    double ha = dr_stat(d->a, "get_hits"), ma = dr_stat(d->a, "get_misses");
    double now = hits + miss >= MIN_GETS ? hits / (hits + miss) : -1;
    double before = d->a && ha + ma >= MIN_GETS ? ha / (ha + ma) : -1;
    bool collapse = now >= 0 && ((before >= 0.2 && now < before / 2) || fl >= 0.1 * (hits + miss));
    if (json_array_size(flushes) == 0 || !collapse) {
        json_decref(flushes);
        return;
    }
    char b1[32];
    const json_t *last = json_array_get(flushes, json_array_size(flushes) - 1);
    json_t *f = dr_finding(d, "flush_collapse", "the hit ratio fell to %.0f%% after a "
        "flush_all from %s (connection %lld)", now * 100, jx_str(last, "peer", "?"),
        jx_int(last, "conn_id", 0));
    if (before >= 0)
        dr_evidence(f, "hit ratio: %.1f%% before the interval (since start), %.1f%% during it "
                    "(%.0f hits, %.0f misses)", before * 100, now * 100, hits, miss);
    else
        dr_evidence(f, "hit ratio: %.1f%% (%.0f hits, %.0f misses)", now * 100, hits, miss);
    dr_evidence(f, "stats: get_flushed +%.0f, cmd_flush %.0f since start", fl,
                dr_stat(d->b, "cmd_flush"));
    json_array_foreach(flushes, i, e)
        dr_evidence(f, "history: flush_all %s ago from %s, connection %lld, delay %llds",
                    fmt_duration((double)(d->now - jx_int(e, "time", 0)), b1),
                    jx_str(e, "peer", "?"), jx_int(e, "conn_id", 0), jx_int(e, "size", 0));
    dr_subject(f, "peer", json_string(jx_str(last, "peer", "?")));
    dr_subject(f, "conn_id", json_integer(jx_int(last, "conn_id", 0)));
    dr_advise(d, f, ADV_FLUSH);
    json_decref(flushes);
}

/* --- 6. a client that does not read ------------------------------------------- */

#define STUCK_PENDING (4 * KiB)

static void rule_slow_client(struct doctor *d)
{
    if (!d->a) {
        dr_needs(d, "two samples: a stuck client is one that does not progress");
        return;
    }
    size_t i, k;
    const json_t *c, *it, *h;
    char b1[32], b2[32];
    json_array_foreach(arr(d->b, "conns", "connections"), i, c) {
        long long id = jx_int(c, "id", 0);
        const json_t *o = dr_row(arr(d->a, "conns", "connections"), "id", id);
        double pend = jx_num(c, "pending_bytes", 0);
        double out = jx_num(c, "bytes_out", 0) - jx_num(o, "bytes_out", 0);
        if (!o || strcmp(jx_str(c, "state", ""), "conn_mwrite") != 0 ||
            strcmp(jx_str(o, "state", ""), "conn_mwrite") != 0 || pend < STUCK_PENDING ||
            jx_int(c, "held_refs", 0) <= 0 || out >= pend)
            continue;
        json_t *f = dr_finding(d, "slow_client", "connection %lld (%s) does not read its "
            "replies: %s pending, %lld item references held", id, jx_str(c, "peer", "?"),
            fmt_bytes(pend, b1), jx_int(c, "held_refs", 0));
        dr_evidence(f, "conns: state conn_mwrite in both samples, bytes_out +%s over %s, "
                    "age %s, command '%s'", fmt_bytes(out, b1), fmt_duration(d->secs, b2),
                    fmt_duration(jx_num(c, "age_secs", 0), (char[32]){ 0 }),
                    jx_str(c, "command", ""));
        int shown = 0;
        json_array_foreach(arr(d->b, "locked", "items"), k, it) {
            size_t j;
            json_array_foreach(jx_get(it, "holders"), j, h) {
                if (jx_int(h, "conn_id", 0) != id || shown >= 5)
                    continue;
                shown++;
                dr_evidence(f, "locked: '%s' (class %lld) refcount %lld, held %s by it, taken "
                            "at %s", key_of(it), jx_int(it, "class", 0), jx_int(it, "refcount", 0),
                            fmt_duration(jx_num(h, "held_secs", 0), b1), jx_str(h, "site", "?"));
                break;
            }
        }
        dr_subject(f, "conn_id", json_integer(id));
        dr_subject(f, "peer", json_string(jx_str(c, "peer", "?")));
        dr_advise(d, f, ADV_SLOW_CLIENT);
    }
}

/* --- 7. memory too small, 16. write-only churn --------------------------------- */

#define SHORT_EVICTED_TIME 600  /* evicted within 10 min of last use */

static void rule_memory_too_small(struct doctor *d)
{
    double ev = dr_delta(d, "evictions"), unf = dr_delta(d, "evicted_unfetched");
    if (ev < 10 || (ev - unf) < 0.1 * ev)
        return;     /* few evictions, or only of items nobody read */
    size_t i;
    const json_t *c;
    double spare = spare_elsewhere(d, NULL, -1, 0), shortest = -1;
    if (spare > 0)
        return;     /* that is calcification, named by its own rule */
    json_array_foreach(arr(d->b, "lru", "classes"), i, c)
        if (class_delta(d, "lru", jx_int(c, "id", 0), "evicted") > 0 &&
            (shortest < 0 || jx_num(c, "evicted_time", 0) < shortest))
            shortest = jx_num(c, "evicted_time", 0);
    if (shortest < 0 || shortest >= SHORT_EVICTED_TIME)
        return;
    char b1[32], b2[32];
    json_t *f = dr_finding(d, "memory_too_small", "items are evicted %s after their last "
        "use, %.0f%% of them had been read (%s evictions)", fmt_duration(shortest, b1),
        100 * (ev - unf) / ev, fmt_rate(rate(d, ev), b2));
    dr_evidence(f, "stats: evictions +%.0f, evicted_unfetched +%.0f, get_misses +%.0f, "
                "limit_maxbytes %s", ev, unf, dr_delta(d, "get_misses"),
                fmt_bytes(dr_stat(d->b, "limit_maxbytes"), b1));
    json_array_foreach(arr(d->b, "lru", "classes"), i, c) {
        double ce = class_delta(d, "lru", jx_int(c, "id", 0), "evicted");
        if (ce > 0)
            dr_evidence(f, "lru class %lld: +%.0f evicted (%.0f unfetched), evicted_time %s, "
                        "tail age %s", jx_int(c, "id", 0), ce,
                        class_delta(d, "lru", jx_int(c, "id", 0), "evicted_unfetched"),
                        fmt_duration(jx_num(c, "evicted_time", 0), b1),
                        fmt_duration(jx_num(c, "tail_age", 0), b2));
    }
    int shown = 0;
    json_array_foreach(arr(d->b, "history", "events"), i, c)
        if (event_recent(d, c, "eviction") && json_is_true(jx_get(c, "fetched")) && shown++ < 3)
            dr_evidence(f, "history: evicted '%s' (class %lld, read, age %s)", key_of(c),
                        jx_int(c, "class", 0), fmt_duration(jx_num(c, "age_secs", 0), b1));
    dr_subject(f, "evicted_time", json_real(shortest));
    dr_advise(d, f, ADV_RAISE_M);
}

static void rule_write_only(struct doctor *d)
{
    double sets = dr_delta(d, "cmd_set"), hits = dr_delta(d, "get_hits");
    double unf = dr_delta(d, "evicted_unfetched") + dr_delta(d, "expired_unfetched");
    double gone = dr_delta(d, "evictions") + dr_delta(d, "reclaimed");
    if (sets < 1000 || hits > 0.01 * sets || unf < 100 || unf < 0.5 * gone)
        return;
    char b1[32];
    json_t *f = dr_finding(d, "write_only_churn", "%s stores and %.0f hits: %.0f items were "
        "thrown away never read", fmt_rate(rate(d, sets), b1), hits, unf);
    dr_evidence(f, "stats: cmd_set +%.0f, total_items +%.0f, get_hits +%.0f, cmd_get +%.0f",
                sets, dr_delta(d, "total_items"), hits, dr_delta(d, "cmd_get"));
    dr_evidence(f, "stats: evicted_unfetched +%.0f, expired_unfetched +%.0f, evictions +%.0f",
                dr_delta(d, "evicted_unfetched"), dr_delta(d, "expired_unfetched"),
                dr_delta(d, "evictions"));
    dr_advise(d, f, ADV_WRITE_ONLY);
}

/* --- 8. hash chains ----------------------------------------------------------- */

static void rule_hash_chains(struct doctor *d)
{
    const json_t *h = dr_sec(d->b, "hash"), *cl = jx_get(h, "chain_lengths");
    if (!h) {
        dr_needs(d, "the hash section");
        return;
    }
    double items = jx_num(h, "items", 0), lf = jx_num(h, "load_factor", 0), longi = 0;
    size_t n = json_array_size(cl);
    for (size_t i = 8; i < n; i++)
        longi += (double)i * jx_val(json_array_get(cl, i));
    bool expanding = json_is_true(jx_get(h, "expanding"));
    bool stalled = expanding && json_is_true(jx_get(dr_sec(d->a, "hash"), "expanding")) &&
                   (d->secs >= 30 || lf >= 3 || dr_site_recent(d, 2121));
    bool chains = items >= 1000 && (lf >= 3 || longi >= 0.1 * items);
    if (!stalled && !chains)
        return;
    int want = (int)ceil(log2(items > 1 ? items : 2));
    json_t *f = dr_finding(d, "hash_chains", stalled ? "the hash table has been growing for "
        "the whole interval (%.1f items per bucket)" : "long hash chains: %.1f items per "
        "bucket, lookups walk them", lf);
    dr_evidence(f, "hash: %lld buckets (power %lld), %.0f items, load_factor %.2f, %s",
                jx_int(h, "buckets", 0), jx_int(h, "power", 0), items, lf,
                expanding ? "expanding" : "not expanding");
    if (n)
        dr_evidence(f, "hash: %.0f items (%.0f%%) sit in chains of 8 or more; %.0f buckets "
                    "hold 15 or more", longi, items > 0 ? 100 * longi / items : 0,
                    jx_val(json_array_get(cl, n - 1)));
    dr_evidence(f, "settings: hashpower_init %lld; -o hashpower=%d fits %.0f items",
                jx_int(arr(d->b, "settings", "settings"), "hashpower_init", 0),
                want < 12 ? 12 : want, items);
    dr_site_evidence(d, f, 2121);
    dr_subject(f, "load_factor", json_real(lf));
    dr_advise(d, f, ADV_HASHPOWER);
}

/* --- 9. connection buffers ----------------------------------------------------- */

static void rule_conn_buffers(struct doctor *d)
{
    const json_t *m = dr_sec(d->b, "memory");
    if (!m) {
        dr_needs(d, "the memory section");
        return;
    }
    const json_t *cn = jx_path(m, "owners.connections");
    double buf = jx_num(cn, "buffer_bytes", 0), lim = jx_num(m, "limit_maxbytes", 0);
    if (buf < 32 * MiB || buf < 0.25 * lim)
        return;
    char b1[32], b2[32], b3[32];
    json_t *f = dr_finding(d, "conn_buffers", "connection buffers hold %s, %.0f%% of -m %s; "
        "RSS is %s", fmt_bytes(buf, b1), 100 * buf / (lim > 0 ? lim : 1), fmt_bytes(lim, b2),
        fmt_bytes(jx_num(m, "rss_bytes", 0), b3));
    dr_evidence(f, "memory: %lld connections use %s, buffers %s (high water %s), items %s",
                jx_int(cn, "count", 0), fmt_bytes(jx_num(cn, "bytes", 0), b1),
                fmt_bytes(buf, b2), fmt_bytes(jx_num(cn, "buffer_high_water", 0), b3),
                fmt_bytes(jx_path(m, "owners.item_memory") ?
                          jx_val(jx_path(m, "owners.item_memory")) : 0, (char[32]){ 0 }));
    size_t i;
    const json_t *c;
    json_array_foreach(jx_get(m, "top_connections"), i, c)
        if (i < 5)
            dr_evidence(f, "  connection %lld (%s): %s, read buffer %s, pending %s",
                        jx_int(c, "id", 0), jx_str(c, "peer", "?"),
                        fmt_bytes(jx_num(c, "bytes", 0), b1),
                        fmt_bytes(jx_num(c, "read_buffer_bytes", 0), b2),
                        fmt_bytes(jx_num(c, "pending_bytes", 0), b3));
    dr_subject(f, "buffer_bytes", json_real(buf));
    dr_advise(d, f, ADV_CONN_BUFFERS);
}

/* --- 11. too large ------------------------------------------------------------ */

static void rule_too_large(struct doctor *d)
{
    double n = dr_delta(d, "store_too_large");
    if (n <= 0 && !dr_site_recent(d, 2101) && !dr_site_recent(d, 2112))
        return;
    json_t *by = json_object(), *prefixes = json_array(), *peers = json_array();
    size_t i;
    const json_t *e;
    char b1[32], b2[32];
    json_array_foreach(arr(d->b, "history", "events"), i, e) {
        long long code = jx_int(e, "code", 0);
        if (!event_recent(d, e, "reject") || (code != 2101 && code != 2112))
            continue;
        json_t *p = prefix_of(d, key_of(e));
        char group[512];
        snprintf(group, sizeof(group), "prefix '%s' from %s", json_string_value(p),
                 jx_str(e, "peer", "?"));
        json_t *g = json_object_get(by, group);
        if (!g) {
            g = json_pack("{s:i, s:f}", "n", 0, "max", 0.0);
            json_object_set_new(by, group, g);
        }
        json_object_set_new(g, "n", json_integer(jx_int(g, "n", 0) + 1));
        if (jx_num(e, "size", 0) > jx_num(g, "max", 0))
            json_object_set_new(g, "max", json_real(jx_num(e, "size", 0)));
        json_object_set_new(g, "key", json_string(key_of(e)));
        size_t j;
        const json_t *o;
        bool dup = false;
        json_array_foreach(prefixes, j, o)
            dup |= json_equal(o, p);
        if (!dup)
            json_array_append(prefixes, p);
        json_decref(p);
        json_t *peer = json_string(jx_str(e, "peer", "?"));
        dup = false;
        json_array_foreach(peers, j, o)
            dup |= json_equal(o, peer);
        if (!dup)
            json_array_append(peers, peer);
        json_decref(peer);
    }
    json_t *f = dr_finding(d, "too_large", "stores refused as larger than -I %s (%s over the "
        "interval, %.0f since start)", fmt_bytes(jx_num(arr(d->b, "settings", "settings"),
        "item_size_max", 0), b1), fmt_num(n, b2), dr_stat(d->b, "store_too_large"));
    const char *g;
    const json_t *v;
    json_object_foreach(by, g, v)
        dr_evidence(f, "history: %lld refused, %s, up to %s (e.g. '%s')", jx_int(v, "n", 0), g,
                    fmt_bytes(jx_num(v, "max", 0), b1), jx_str(v, "key", ""));
    dr_site_evidence(d, f, 2101);
    dr_site_evidence(d, f, 2112);
    dr_subject(f, "prefixes", prefixes);
    dr_subject(f, "peers", peers);
    dr_advise(d, f, ADV_ITEM_SIZE_MAX);
    json_decref(by);
}

/* --- 12. giant multi-gets and yields ------------------------------------------ */

#define SLOW_GET_P99_US 1000

static void rule_client_timeouts(struct doctor *d)
{
    double giant = dr_delta(d, "multiget_over_100"), yields = dr_delta(d, "conn_yields");
    double retr = dr_delta(d, "multiget_1") + dr_delta(d, "multiget_2_10") +
                  dr_delta(d, "multiget_11_100") + giant;
    bool many = giant > 0 && giant >= 0.01 * retr;
    const json_t *lat = arr(d->b, "latency", "commands"), *c, *worst = NULL;
    size_t i;
    json_array_foreach(lat, i, c) {
        const char *cmd = jx_str(c, "command", "");
        if ((!strcmp(cmd, "get") || !strcmp(cmd, "gets") || !strcmp(cmd, "mg") ||
             !strncmp(cmd, "bin_get", 7)) && (!worst || jx_num(c, "p99_us", 0) >
                                               jx_num(worst, "p99_us", 0)))
            worst = c;
    }
    bool slow = lat ? worst && jx_num(worst, "p99_us", 0) >= SLOW_GET_P99_US
                    : many && rate(d, giant) >= 1;
    if (!(many || rate(d, yields) >= 1) || !slow)
        return;
    char b1[32], b2[32];
    json_t *f = dr_finding(d, "client_timeouts", "%s multi-gets of over 100 keys and %s "
        "connection yields keep workers busy%s", fmt_rate(rate(d, giant), b1),
        fmt_rate(rate(d, yields), b2), worst ? "; slow gets" : "");
    dr_evidence(f, "stats: multiget_over_100 +%.0f (%.1f%% of %.0f retrievals), conn_yields "
                "+%.0f, -R %lld", giant, retr > 0 ? 100 * giant / retr : 0, retr, yields,
                jx_int(arr(d->b, "settings", "settings"), "reqs_per_event", 0));
    if (worst)
        dr_evidence(f, "latency %s: p50 %.0f us, p99 %.0f us, max %.0f us over %lld calls",
                    jx_str(worst, "command", ""), jx_num(worst, "p50_us", 0),
                    jx_num(worst, "p99_us", 0), jx_num(worst, "max_us", 0),
                    jx_int(worst, "count", 0));
    dr_advise(d, f, ADV_MULTIGET);
}

/* --- 13. page moves that thrash or starve, 15. items lost to page moves ------ */

static void rule_pagemove_thrash(struct doctor *d)
{
    const json_t *cls = arr(d->b, "slabs", "classes"), *c;
    if (!has_member(cls, "pages_moved_in")) {
        dr_needs(d, "needs slab automove data (slabs classes[].pages_moved_in/out)");
        return;
    }
    if (!d->a) {
        dr_needs(d, "two samples: thrashing is pages moving during the interval");
        return;
    }
    size_t i;
    json_array_foreach(cls, i, c) {
        long long id = jx_int(c, "id", 0);
        double in = class_delta(d, "slabs", id, "pages_moved_in");
        double out = class_delta(d, "slabs", id, "pages_moved_out");
        double ev = class_delta(d, "slabs", id, "evicted");
        bool thrash = in > 0 && out > 0 && in + out >= 4;
        bool starve = out > 0 && ev > 0;
        if (!thrash && !starve)
            continue;
        json_t *f = dr_finding(d, "pagemove_thrash", thrash ? "class %lld's pages move in "
            "and out (+%.0f in, +%.0f out over the interval)" : "pages are taken from class "
            "%lld (+%.0f in, +%.0f out) while it evicts", id, in, out);
        dr_evidence(f, "class %lld: %lld pages, +%.0f evictions, %lld free chunks", id,
                    jx_int(c, "pages", 0), ev, jx_int(c, "free_chunks", 0));
        dr_evidence(f, "stats: slabs_moved +%.0f; settings: slab_automove %s",
                    dr_delta(d, "slabs_moved"),
                    jx_str(arr(d->b, "settings", "settings"), "slab_automove", "?"));
        dr_subject(f, "class", json_integer(id));
        dr_advise(d, f, ADV_AUTOMOVE_TUNE);
    }
}

static void rule_pagemove_loss(struct doctor *d)
{
    const json_t *st = jx_get(dr_sec(d->b, "stats"), "stats"), *e;
    const json_t *rec = arr(d->b, "history", "recorded");
    if (!jx_get(st, "slab_reassign_evictions_nomem") && jx_int(rec, "pagemove", 0) == 0) {
        dr_needs(d, "needs page move data (stats slab_reassign_evictions_nomem or pagemove "
                    "history)");
        return;
    }
    double lost = dr_delta(d, "slab_reassign_evictions_nomem");
    json_t *keys = json_array();
    size_t i;
    json_array_foreach(arr(d->b, "history", "events"), i, e)
        if (event_recent(d, e, "eviction") && strstr(jx_str(e, "what", ""), "page move"))
            json_array_append_new(keys, json_string(key_of(e)));
    if (lost <= 0 && json_array_size(keys) == 0) {
        json_decref(keys);
        return;
    }
    json_t *f = dr_finding(d, "pagemove_loss", "%.0f live items were dropped by page moves, "
        "not counted as evictions", lost > 0 ? lost : (double)json_array_size(keys));
    dr_evidence(f, "stats: slab_reassign_evictions_nomem +%.0f, slabs_moved +%.0f, "
                "slab_reassign_rescues +%.0f, evictions +%.0f", lost,
                dr_delta(d, "slabs_moved"), dr_delta(d, "slab_reassign_rescues"),
                dr_delta(d, "evictions"));
    json_array_foreach(keys, i, e)
        if (i < 5)
            dr_evidence(f, "history: '%s' evicted by a page move", json_string_value(e));
    dr_subject(f, "keys", keys);
    dr_advise(d, f, ADV_AUTOMOVE_TUNE);
}

/* --- 14. items expiring on arrival -------------------------------------------- */

static void rule_expired_on_arrival(struct doctor *d)
{
    double eoa = dr_delta(d, "expired_on_arrival"), sets = dr_delta(d, "cmd_set");
    if (eoa < 10 || eoa < 0.01 * sets)
        return;
    double drift = dr_stat(d->b, "clock_drift_secs"), abs_ttl = dr_delta(d, "ttl_absolute");
    char b1[32];
    json_t *f = dr_finding(d, "expired_on_arrival", "%.0f stores (%.0f%% of %.0f) carried "
        "an exptime already past", eoa, sets > 0 ? 100 * eoa / sets : 100, sets);
    dr_evidence(f, "stats: expired_on_arrival +%.0f (%s), ttl_absolute +%.0f, "
                "clock_drift_secs %.0f", eoa, fmt_rate(rate(d, eoa), b1), abs_ttl, drift);
    if (abs_ttl > 0)
        dr_evidence(f, "absolute exptimes are in use: a client clock behind the server's "
                    "makes them land in the past");
    if (fabs(drift) >= 2)
        dr_evidence(f, "the server's clock is %.0f s off the wall clock", drift);
    dr_advise(d, f, ADV_CLOCK);
}

/* --- 17. hot prefix ------------------------------------------------------------- */

static void rule_hot_prefix(struct doctor *d)
{
    const json_t *p = dr_sec(d->b, "prefixes"), *r, *top = NULL;
    if (!json_is_true(jx_get(p, "enabled"))) {
        dr_needs(d, "per-prefix stats (start mcd with -D CHAR, or `stats detail on`)");
        return;
    }
    size_t i;
    double total = 0, topn = 0;
    int n = 0;
    json_array_foreach(jx_get(p, "prefixes"), i, r) {
        double g = jx_num(r, "get", 0);
        size_t k;
        const json_t *o;
        json_array_foreach(arr(d->a, "prefixes", "prefixes"), k, o)
            if (strcmp(jx_str(o, "prefix", ""), jx_str(r, "prefix", "?")) == 0)
                g -= jx_num(o, "get", 0);
        if (g <= 0)
            continue;
        n++;
        total += g;
        if (g > topn) {
            topn = g;
            top = r;
        }
    }
    /* More than half the gets, and more than twice its fair share. */
    if (total < 500 || n < 2 || topn <= 0.5 * total || topn <= 2 * total / n)
        return;
    json_t *f = dr_finding(d, "hot_prefix", "prefix '%s' takes %.0f%% of %.0f gets "
        "(%d prefixes read)", jx_str(top, "prefix", "?"), 100 * topn / total, total, n);
    dr_evidence(f, "prefixes '%s': get +%.0f, hit %lld, set %lld since start",
                jx_str(top, "prefix", "?"), topn, jx_int(top, "hit", 0), jx_int(top, "set", 0));
    json_array_foreach(arr(d->b, "hotkeys", "keys"), i, r)
        if (i < 5)
            dr_evidence(f, "hotkeys: '%s' %.0f", key_of(r),
                        jx_num(r, "count", jx_num(r, "gets", 0)));
    dr_subject(f, "prefix", json_string(jx_str(top, "prefix", "?")));
    dr_advise(d, f, ADV_HOT_KEYS);
}

/* --- 19. stuck or spinning threads --------------------------------------------- */

static void rule_stuck_thread(struct doctor *d)
{
    size_t i;
    const json_t *t;
    char b1[32], b2[32];
    for (int pass = 0; pass < 2; pass++) {
        json_array_foreach(arr(pass ? d->b : d->a, "threads", "threads"), i, t) {
            if (!json_is_true(jx_get(t, "stuck")))
                continue;
            long long cid = jx_int(t, "conn_id", 0);
            const json_t *c = dr_row(arr(pass ? d->b : d->a, "conns", "connections"), "id", cid);
            json_t *f = dr_finding(d, "stuck_thread", "%s thread %lld (tid %lld) is stuck: "
                "busy %s with '%s'", jx_str(t, "name", "?"), jx_int(t, "index", 0),
                jx_int(t, "tid", 0), fmt_duration(jx_num(t, "busy_secs", 0), b1),
                jx_str(t, "command", ""));
            dr_evidence(f, "threads (%s sample): state '%s', heartbeat %s ago, connection %lld "
                        "%s", pass ? "newer" : "older", jx_str(t, "state", ""),
                        fmt_duration(jx_num(t, "heartbeat_age_secs", 0), b2), cid,
                        jx_str(c, "peer", ""));
            dr_subject(f, "thread", json_pack("{s:s, s:I}", "name", jx_str(t, "name", "?"),
                                              "index", (json_int_t)jx_int(t, "index", 0)));
            dr_advise(d, f, ADV_STUCK_THREAD);
            return;     /* one is enough: the same thread shows in both */
        }
    }
    /* Spinning: CPU used while the server does nothing. */
    if (!d->a || rate(d, dr_delta(d, "bytes_read")) >= KiB)
        return;
    json_array_foreach(arr(d->b, "threads", "threads"), i, t) {
        if (!strcmp(jx_str(t, "name", ""), "admin"))
            continue;   /* it serves doctor itself */
        const json_t *o = NULL, *x;
        size_t k;
        json_array_foreach(arr(d->a, "threads", "threads"), k, x)
            if (jx_int(x, "tid", -1) == jx_int(t, "tid", -2))
                o = x;
        double cpu = jx_num(t, "cpu_secs", 0) - jx_num(o, "cpu_secs", 0);
        if (!o || cpu < 0.5 * d->secs)
            continue;
        json_t *f = dr_finding(d, "spinning_thread", "%s thread %lld uses %.0f%% of a CPU on "
            "an idle server", jx_str(t, "name", "?"), jx_int(t, "index", 0),
            100 * cpu / d->secs);
        dr_evidence(f, "threads: cpu_secs +%.2f over %s, state '%s'; stats: bytes_read +%.0f",
                    cpu, fmt_duration(d->secs, b1), jx_str(t, "state", ""),
                    dr_delta(d, "bytes_read"));
        dr_advise(d, f, ADV_STUCK_THREAD);
    }
}

/* --- 20. settings against a baseline -------------------------------------------- */

static void rule_settings_baseline(struct doctor *d)
{
    if (!d->baseline) {
        dr_needs(d, "a baseline (--baseline FILE)");
        return;
    }
    const json_t *was = arr(d->baseline, "settings", "settings");
    const json_t *now = arr(d->b, "settings", "settings"), *v;
    json_t *names = json_array(), *f = NULL;
    const char *k;
    char b1[64], b2[64];
    for (int pass = 0; pass < 2; pass++) {
        json_object_foreach((json_t *)(pass ? was : now), k, v) {
            const json_t *o = json_object_get(pass ? now : was, k);
            if ((pass && o) || json_equal(o, v))
                continue;
            if (!f)
                f = dr_finding(d, "settings_changed", "settings differ from the baseline");
            dr_evidence(f, "%s: %s -> %s", k, pass ? jx_text(v, b1, sizeof(b1)) :
                        o ? jx_text(o, b1, sizeof(b1)) : "(absent)",
                        pass ? "(absent)" : jx_text(v, b2, sizeof(b2)));
            json_array_append_new(names, json_string(k));
        }
    }
    if (f) {
        json_object_set_new(f, "title", json_sprintf("%zu settings differ from the baseline",
                                                     json_array_size(names)));
        dr_subject(f, "settings", json_incref(names));
        dr_advise(d, f, ADV_SETTINGS);
    }
    json_decref(names);
}

const struct dr_rule dr_rules[] = {
    { "reference_leak", "locked items with unexplained references in both samples", rule_reference_leak },
    { "stuck_thread", "threads stuck on one event, or spinning on an idle server", rule_stuck_thread },
    { "slab_calcification", "a class evicts while others hold spare pages", rule_slab_calcification },
    { "large_items_no_memory", "large stores fail for memory while small classes have room", rule_large_items_no_memory },
    { "memory_too_small", "evicted items were read recently: the working set exceeds -m", rule_memory_too_small },
    { "alloc_failures", "the system refuses memory (malloc_fails, E2120, E2107)", rule_alloc_failures },
    { "maxconns", "connections refused at -c (E6001)", rule_maxconns },
    { "fd_limit", "the descriptor limit below -c (E6014, E6003)", rule_fd_limit },
    { "conn_buffers", "connection buffers far beyond what -m suggests", rule_conn_buffers },
    { "slow_client", "a connection that does not read its replies, holding items", rule_slow_client },
    { "client_timeouts", "giant multi-gets and yields with slow gets", rule_client_timeouts },
    { "flush_collapse", "the hit ratio collapsed after a flush_all, and who sent it", rule_flush_collapse },
    { "too_large", "stores refused as too large, by prefix and peer", rule_too_large },
    { "expired_on_arrival", "stores whose exptime is already past", rule_expired_on_arrival },
    { "write_only_churn", "items stored and thrown away unread", rule_write_only },
    { "hot_prefix", "one key prefix takes most gets (-D)", rule_hot_prefix },
    { "hash_chains", "long hash chains, or an expansion that does not finish", rule_hash_chains },
    { "pagemove_thrash", "page moves that thrash or starve a class", rule_pagemove_thrash },
    { "pagemove_loss", "items dropped by page moves, not counted as evictions", rule_pagemove_loss },
    { "settings_changed", "settings that differ from --baseline", rule_settings_baseline },
};
const int dr_nrules = (int)(sizeof(dr_rules) / sizeof(dr_rules[0]));
