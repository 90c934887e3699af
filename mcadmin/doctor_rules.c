/*
 * doctor_rules.c - the rules `mcadmin doctor` applies, in the order they
 * print. Each reads the documented JSON of two samples (see doctor.h),
 * records findings with their evidence and the advice they call for, and
 * never prints. Thresholds are chosen so that a healthy server under
 * ordinary load yields nothing: a false alarm is a bug (tests/t/
 * doctor_healthy.t). Each threshold is named where it is used and listed
 * in man/mcd-troubleshooting.7. Rules about what clients do are in
 * doctor_clients.c; the table at the end orders them all.
 */
#include "doctor.h"

#include <math.h>
#include <string.h>

#define KiB 1024.0

/* --- small readers ------------------------------------------------------------ */

/* A class's growth of a counter member, matched by id between samples. */
static double class_delta(const struct doctor *d, const char *sec, long long id, const char *m)
{
    return jx_num(dr_row(dr_arr(d->b, sec, "classes"), "id", id), m, 0) -
           jx_num(dr_row(dr_arr(d->a, sec, "classes"), "id", id), m, 0);
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
    json_array_foreach(dr_arr(d->b, "slabs", "classes"), i, c) {
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
    json_array_foreach(dr_arr(d->b, "locked", "items"), i, it) {
        if (!json_is_true(jx_get(it, "suspected_leak")))
            continue;
        bool before = false;
        json_array_foreach(dr_arr(d->a, "locked", "items"), k, old)
            before |= json_is_true(jx_get(old, "suspected_leak")) &&
                      json_equal(jx_get(old, "addr"), jx_get(it, "addr"));
        if (!before)
            continue;   /* a request in flight can look unexplained once */
        if (!f)
            f = dr_finding(d, "reference_leak", "references no holder explains, in both "
                           "samples 2 s apart or more");
        if (json_array_size(keys) < 10) {
            dr_evidence(f, "item '%s' (class %lld): refcount %lld, resting %lld, %lld "
                        "unexplained, %s, idle %s", dr_key(it), jx_int(it, "class", 0),
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
        json_array_append_new(keys, json_string(dr_key(it)));
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
    json_array_foreach(dr_arr(d->b, "slabs", "classes"), i, c) {
        long long id = jx_int(c, "id", 0);
        double ev = class_delta(d, "slabs", id, "evicted");
        const json_t *m = dr_row(dr_arr(d->b, "memory", "classes"), "id", id);
        if (ev <= 0 || jx_int(m, "pages_obtainable", 0) > 0)
            continue;   /* no evictions, or it could still grow */
        double spare = spare_elsewhere(d, NULL, id, 0);
        if (spare <= 0)
            continue;
        json_t *f = dr_finding(d, "slab_calcification", "class %lld (%s chunks) evicts %s "
            "while other classes hold %s of spare chunks", id,
            fmt_bytes(jx_num(c, "chunk_size", 0), b1), fmt_rate(dr_rate(d, ev), b2),
            fmt_bytes(spare, (char[32]){ 0 }));
        dr_evidence(f, "class %lld: %lld pages, +%s evictions over %s, %lld free chunks, "
                    "tail age %s, no page obtainable under -m", id, jx_int(c, "pages", 0),
                    fmt_num(ev, b1), fmt_duration(d->secs, b2), jx_int(c, "free_chunks", 0),
                    fmt_duration(jx_num(c, "tail_age", 0), (char[32]){ 0 }));
        dr_evidence(f, "stats: evictions +%s (%s), slab_pages %s of -m %s",
                    fmt_num(dr_delta(d, "evictions"), b1),
                    fmt_rate(dr_rate(d, dr_delta(d, "evictions")), b2),
                    fmt_num(dr_stat(d->b, "slab_pages"), (char[32]){ 0 }),
                    fmt_bytes(dr_stat(d->b, "limit_maxbytes"), (char[32]){ 0 }));
        dr_evidence(f, "classes holding pages they do not use:");
        spare_elsewhere(d, f, id, 0);
        if (jx_get(c, "pages_moved_in"))
            dr_evidence(f, "pages moved into class %lld: %lld since start (+%s now); "
                        "slab_automove %s", id, jx_int(c, "pages_moved_in", 0),
                        fmt_num(class_delta(d, "slabs", id, "pages_moved_in"), b1),
                        jx_text(jx_get(dr_arr(d->b, "settings", "settings"), "slab_automove"),
                                b2, sizeof(b2)));
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
    json_array_foreach(dr_arr(d->b, "lru", "classes"), i, c)
        if (class_delta(d, "lru", jx_int(c, "id", 0), "evicted") > 0 &&
            (shortest < 0 || jx_num(c, "evicted_time", 0) < shortest))
            shortest = jx_num(c, "evicted_time", 0);
    if (shortest < 0 || shortest >= SHORT_EVICTED_TIME)
        return;
    char b1[32], b2[32];
    json_t *f = dr_finding(d, "memory_too_small", "items are evicted %s after their last "
        "use, %.0f%% of them had been read (%s evictions)", fmt_duration(shortest, b1),
        100 * (ev - unf) / ev, fmt_rate(dr_rate(d, ev), b2));
    dr_evidence(f, "stats: evictions +%.0f, evicted_unfetched +%.0f, get_misses +%.0f, "
                "limit_maxbytes %s", ev, unf, dr_delta(d, "get_misses"),
                fmt_bytes(dr_stat(d->b, "limit_maxbytes"), b1));
    json_array_foreach(dr_arr(d->b, "lru", "classes"), i, c) {
        double ce = class_delta(d, "lru", jx_int(c, "id", 0), "evicted");
        if (ce > 0)
            dr_evidence(f, "lru class %lld: +%.0f evicted (%.0f unfetched), evicted_time %s, "
                        "tail age %s", jx_int(c, "id", 0), ce,
                        class_delta(d, "lru", jx_int(c, "id", 0), "evicted_unfetched"),
                        fmt_duration(jx_num(c, "evicted_time", 0), b1),
                        fmt_duration(jx_num(c, "tail_age", 0), b2));
    }
    int shown = 0;
    json_array_foreach(dr_arr(d->b, "history", "events"), i, c)
        if (dr_event_recent(d, c, "eviction") && json_is_true(jx_get(c, "fetched")) && shown++ < 3)
            dr_evidence(f, "history: evicted '%s' (class %lld, read, age %s)", dr_key(c),
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
        "thrown away never read", fmt_rate(dr_rate(d, sets), b1), hits, unf);
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
                jx_int(dr_arr(d->b, "settings", "settings"), "hashpower_init", 0),
                want < 12 ? 12 : want, items);
    dr_site_evidence(d, f, 2121);
    dr_subject(f, "load_factor", json_real(lf));
    dr_advise(d, f, ADV_HASHPOWER);
}

/* --- 13. page moves that thrash or starve, 15. items lost to page moves ------ */

static void rule_pagemove_thrash(struct doctor *d)
{
    const json_t *cls = dr_arr(d->b, "slabs", "classes"), *c;
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
        char b1[64];
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
                    jx_text(jx_get(dr_arr(d->b, "settings", "settings"), "slab_automove"),
                            b1, sizeof(b1)));
        dr_subject(f, "class", json_integer(id));
        dr_advise(d, f, ADV_AUTOMOVE_TUNE);
    }
}

static void rule_pagemove_loss(struct doctor *d)
{
    const json_t *st = jx_get(dr_sec(d->b, "stats"), "stats"), *e;
    const json_t *rec = dr_arr(d->b, "history", "recorded");
    if (!jx_get(st, "slab_reassign_evictions_nomem") && jx_int(rec, "pagemove", 0) == 0) {
        dr_needs(d, "needs page move data (stats slab_reassign_evictions_nomem or pagemove "
                    "history)");
        return;
    }
    double lost = dr_delta(d, "slab_reassign_evictions_nomem");
    json_t *keys = json_array();
    size_t i;
    json_array_foreach(dr_arr(d->b, "history", "events"), i, e)
        if (dr_event_recent(d, e, "eviction") && strstr(jx_str(e, "what", ""), "page move"))
            json_array_append_new(keys, json_string(dr_key(e)));
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

/* --- 19. stuck or spinning threads --------------------------------------------- */

static void rule_stuck_thread(struct doctor *d)
{
    size_t i;
    const json_t *t;
    char b1[32], b2[32];
    for (int pass = 0; pass < 2; pass++) {
        json_array_foreach(dr_arr(pass ? d->b : d->a, "threads", "threads"), i, t) {
            if (!json_is_true(jx_get(t, "stuck")))
                continue;
            long long cid = jx_int(t, "conn_id", 0);
            const json_t *c = dr_row(dr_arr(pass ? d->b : d->a, "conns", "connections"), "id", cid);
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
    if (!d->a || dr_rate(d, dr_delta(d, "bytes_read")) >= KiB)
        return;
    json_array_foreach(dr_arr(d->b, "threads", "threads"), i, t) {
        if (!strcmp(jx_str(t, "name", ""), "admin"))
            continue;   /* it serves doctor itself */
        const json_t *o = NULL, *x;
        size_t k;
        json_array_foreach(dr_arr(d->a, "threads", "threads"), k, x)
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
    const json_t *was = dr_arr(d->baseline, "settings", "settings");
    const json_t *now = dr_arr(d->b, "settings", "settings"), *v;
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
    { "maxconns", "connections refused at -c (E6001)", dr_rule_maxconns },
    { "fd_limit", "the descriptor limit below -c (E6014, E6003)", dr_rule_fd_limit },
    { "conn_buffers", "connection buffers far beyond what -m suggests", dr_rule_conn_buffers },
    { "slow_client", "a connection that does not read its replies, holding items", dr_rule_slow_client },
    { "client_timeouts", "giant multi-gets and yields with slow gets", dr_rule_client_timeouts },
    { "flush_collapse", "the hit ratio collapsed after a flush_all, and who sent it", dr_rule_flush_collapse },
    { "too_large", "stores refused as too large, by prefix and peer", dr_rule_too_large },
    { "expired_on_arrival", "stores whose exptime is already past", dr_rule_expired_on_arrival },
    { "write_only_churn", "items stored and thrown away unread", rule_write_only },
    { "hot_prefix", "one key prefix takes most gets (-D)", dr_rule_hot_prefix },
    { "hot_key", "one key takes most gets (admin hotkeys, live)", dr_rule_hot_key },
    { "hash_chains", "long hash chains, or an expansion that does not finish", rule_hash_chains },
    { "pagemove_thrash", "page moves that thrash or starve a class", rule_pagemove_thrash },
    { "pagemove_loss", "items dropped by page moves, not counted as evictions", rule_pagemove_loss },
    { "settings_changed", "settings that differ from --baseline", rule_settings_baseline },
};
const int dr_nrules = (int)(sizeof(dr_rules) / sizeof(dr_rules[0]));
