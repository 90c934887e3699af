/*
 * dump.c - the admin socket's JSON documents, one builder per command.
 *
 * Builders read the server through its public faces only: engine.h for
 * storage, the error registry, stats groups, and thread_call() to read
 * connections on their own worker threads. Every field is documented in
 * man/mcd-admin.7 (a test checks replies against that list).
 */
#include "introspect.h"

#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "../mcd/conn.h"
#include "../mcd/engine.h"
#include "../mcd/errors.h"
#include "../mcd/hold.h"
#include "../mcd/live.h"
#include "../mcd/prefix.h"
#include "../mcd/settings.h"
#include "../mcd/stats.h"
#include "../mcd/stats_text.h"
#include "../mcd/thread.h"
#include "../mcd/util.h"

#define CALL_TIMEOUT_MS 1000

/* --- helpers ----------------------------------------------------------- */

char *dump_base64(const void *data, size_t len)
{
    static const char tab[] =
        "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";
    const unsigned char *p = data;
    char *out = malloc(4 * ((len + 2) / 3) + 1), *o = out;
    if (!out)
        return NULL;
    for (size_t i = 0; i < len; i += 3) {
        uint32_t v = (uint32_t)p[i] << 16;
        if (i + 1 < len)
            v |= (uint32_t)p[i + 1] << 8;
        if (i + 2 < len)
            v |= p[i + 2];
        *o++ = tab[(v >> 18) & 63];
        *o++ = tab[(v >> 12) & 63];
        *o++ = i + 1 < len ? tab[(v >> 6) & 63] : '=';
        *o++ = i + 2 < len ? tab[v & 63] : '=';
    }
    *o = '\0';
    return out;
}

void dump_put_key(json_t *obj, const char *key, size_t nkey)
{
    json_t *s = json_stringn(key, nkey);    /* NULL when not valid UTF-8 */
    if (s && !memchr(key, '\0', nkey)) {
        json_object_set_new(obj, "key", s);
        return;
    }
    json_decref(s);
    char *b = dump_base64(key, nkey);
    json_object_set_new(obj, "key_base64", json_string(b ? b : ""));
    free(b);
}

/* A stats value as the most specific JSON type. */
static json_t *typed(const char *v)
{
    char *end;
    if (*v && *v != '-') {
        unsigned long long u = strtoull(v, &end, 10);
        if (*end == '\0')
            return json_integer((json_int_t)u);
        double d = strtod(v, &end);
        if (*end == '\0')
            return json_real(d);
    }
    return json_string(v);
}

static void emit_json(void *ctx, const char *name, const char *value)
{
    json_object_set_new(ctx, name, typed(value));
}

/* --- stats and settings ---------------------------------------------- */

/* Stats that go up and down; every other stat only grows. */
static const char *const gauges[] = {
    "pid", "uptime", "time", "rusage_user", "rusage_system", "max_connections",
    "curr_connections", "connection_structures", "limit_maxbytes",
    "accepting_conns", "threads", "pointer_size", "hash_power_level",
    "hash_bytes", "hash_is_expanding", "bytes", "curr_items", "total_malloced",
    "slab_pages", "slab_reassign_running", "hash_expand_buckets_moved",
    "hash_expand_buckets_total", "lru_crawler_running", "read_buf_count",
    "read_buf_bytes", "read_buf_bytes_free", NULL
};

json_t *dump_stats(void)
{
    json_t *st = json_object();
    stats_group("", 0, emit_json, st);
    json_t *g = json_array();
    for (int i = 0; gauges[i]; i++)
        json_array_append_new(g, json_string(gauges[i]));
    json_t *out = json_object();
    json_object_set_new(out, "stats", st);
    json_object_set_new(out, "gauges", g);
    return out;
}

json_t *dump_settings(void)
{
    json_t *st = json_object();
    stats_group("settings", 8, emit_json, st);
    json_t *out = json_object();
    json_object_set_new(out, "settings", st);
    return out;
}

/* --- slabs and LRUs ----------------------------------------------------- */

json_t *dump_slabs(void)
{
    json_t *arr = json_array();
    uint64_t pages = 0;
    int n = engine->nclasses();
    for (int id = 1; id <= n; id++) {
        struct engine_class_info ci;
        if (!engine->class_info(id, &ci))
            continue;
        pages += ci.pages;
        uint64_t alloc = ci.mem_allocated;
        json_t *c = json_pack("{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:f,"
                              " s:I, s:I, s:I, s:I, s:I, s:I}",
            "id", id,
            "chunk_size", (json_int_t)ci.chunk_size,
            "chunks_per_page", (json_int_t)ci.chunks_per_page,
            "pages", (json_int_t)ci.pages,
            "total_chunks", (json_int_t)(ci.pages * ci.chunks_per_page),
            "used_chunks", (json_int_t)ci.used_chunks,
            "free_chunks", (json_int_t)ci.free_chunks,
            "requested_bytes", (json_int_t)ci.mem_requested,
            "allocated_bytes", (json_int_t)alloc,
            "fragmentation", alloc ? 1.0 - (double)ci.mem_requested / (double)alloc : 0.0,
            "items", (json_int_t)ci.items,
            "evicted", (json_int_t)ci.evicted,
            "outofmemory", (json_int_t)ci.outofmemory,
            "tail_age", (json_int_t)ci.tail_age,
            "pages_moved_in", (json_int_t)ci.pages_moved_in,
            "pages_moved_out", (json_int_t)ci.pages_moved_out);
        json_array_append_new(arr, c);
    }
    return json_pack("{s:o, s:I, s:I, s:I}", "classes", arr,
                     "total_pages", (json_int_t)pages,
                     "limit_maxbytes", (json_int_t)settings.maxbytes,
                     "item_size_max", (json_int_t)settings.item_size_max);
}

json_t *dump_lru(void)
{
    json_t *arr = json_array();
    int n = engine->nclasses();
    for (int id = 1; id <= n; id++) {
        struct engine_class_info ci;
        if (!engine->class_info(id, &ci) || (ci.items == 0 && ci.evicted == 0 &&
                                             ci.reclaimed == 0))
            continue;
        json_array_append_new(arr, json_pack(
            "{s:i, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
            "id", id,
            "items", (json_int_t)ci.items,
            "tail_age", (json_int_t)ci.tail_age,
            "evicted", (json_int_t)ci.evicted,
            "evicted_nonzero", (json_int_t)ci.evicted_nonzero,
            "evicted_unfetched", (json_int_t)ci.evicted_unfetched,
            "expired_unfetched", (json_int_t)ci.expired_unfetched,
            "reclaimed", (json_int_t)ci.reclaimed,
            "evicted_time", (json_int_t)ci.evicted_time,
            "evicted_active", (json_int_t)ci.evicted_active,
            "lrutail_reflocked", (json_int_t)ci.lrutail_reflocked,
            "direct_reclaims", (json_int_t)ci.direct_reclaims,
            "crawler_items_checked", (json_int_t)ci.crawler_items_checked,
            "crawler_reclaimed", (json_int_t)ci.crawler_reclaimed));
    }
    return json_pack("{s:o}", "classes", arr);
}

/* --- the error registry ------------------------------------------------- */

static const char *class_name(enum err_class c)
{
    const char *w = err_class_word(c);
    return w ? w : c == R_JSON ? "admin" : "none";
}

static int by_count(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;
    json_int_t cx = json_integer_value(json_object_get(*x, "count"));
    json_int_t cy = json_integer_value(json_object_get(*y, "count"));
    if (cx != cy)
        return cx > cy ? -1 : 1;
    json_int_t kx = json_integer_value(json_object_get(*x, "code"));
    json_int_t ky = json_integer_value(json_object_get(*y, "code"));
    return kx < ky ? -1 : kx > ky;
}

json_t *dump_errors(void)
{
    json_t *rows[ERR__COUNT];
    uint64_t total = 0;
    for (int i = 0; i < ERR__COUNT; i++) {
        const struct err_info *e = err_info((enum err_site)i);
        struct err_count c;
        err_read((enum err_site)i, &c);
        total += c.count;
        json_t *ctx = json_pack("{s:i, s:I, s:I}",
            "slab_class", c.last_ctx.clsid,
            "size", (json_int_t)c.last_ctx.size,
            "conn_id", (json_int_t)c.last_ctx.conn_id);
        rows[i] = json_pack("{s:i, s:s, s:s, s:s, s:s, s:I, s:I, s:I, s:o}",
            "code", e->code, "name", e->name, "class", class_name(e->cls),
            "message", e->message, "advice", e->advice,
            "count", (json_int_t)c.count,
            "first_seen", (json_int_t)c.first,
            "last_seen", (json_int_t)c.last,
            "last_context", ctx);
    }
    qsort(rows, ERR__COUNT, sizeof(rows[0]), by_count);
    json_t *arr = json_array();
    for (int i = 0; i < ERR__COUNT; i++)
        json_array_append_new(arr, rows[i]);
    return json_pack("{s:o, s:I}", "sites", arr, "total", (json_int_t)total);
}

/* --- connections, read on their own threads ----------------------------- */

struct conn_walk {
    json_t *arr;
    bool with_holds;
};

static json_t *holds_of(struct conn *c, rel_time_t now)
{
    json_t *h = json_array();
    for (int i = 0; i < c->nheld; i++) {
        item *it = c->held[i].it;
        json_t *o = json_object();
        dump_put_key(o, item_key(it), it->nkey);
        json_object_set_new(o, "refcount", json_integer(item_refcount(it)));
        json_object_set_new(o, "linked", json_boolean(it->it_flags & ITEM_LINKED));
        json_object_set_new(o, "held_secs", json_integer(now - c->held[i].since));
        json_object_set_new(o, "site", json_string(c->held[i].site));
        json_object_set_new(o, "addr", json_integer((json_int_t)(uintptr_t)it));
        json_array_append_new(h, o);
    }
    if (c->nr_item) {
        item *it = c->nr_item;
        json_t *o = json_object();
        dump_put_key(o, item_key(it), it->nkey);
        json_object_set_new(o, "refcount", json_integer(item_refcount(it)));
        json_object_set_new(o, "linked", json_false());
        json_object_set_new(o, "held_secs", json_integer(now - c->last_cmd));
        json_object_set_new(o, "site", json_string("value being read (nread)"));
        json_object_set_new(o, "addr", json_integer((json_int_t)(uintptr_t)it));
        json_array_append_new(h, o);
    }
    return h;
}

static void walk_conns(struct thread *t, void *arg)
{
    struct conn_walk *w = arg;
    rel_time_t now = clock_now();
    time_t wall = time(NULL);
    for (struct conn *c = t->conns; c; c = c->next) {
        json_t *o = json_pack("{s:I, s:i, s:i, s:s, s:s, s:I, s:I, s:I, s:I, s:s,"
                              " s:I, s:I, s:i}",
            "id", (json_int_t)c->id,
            "thread", t->index,
            "fd", c->fd,
            "peer", c->peer,
            "state", conn_state_name(c->state),
            "age_secs", (json_int_t)(wall - c->created),
            "idle_secs", (json_int_t)(now - c->last_cmd),
            "bytes_in", (json_int_t)c->bytes_in,
            "bytes_out", (json_int_t)c->bytes_out,
            "command", c->cur_cmd ? c->cur_cmd : "",
            "read_buffer_bytes", (json_int_t)c->rsize,
            "pending_bytes", (json_int_t)c->out_pending,
            "held_refs", c->nheld + (c->nr_item ? 1 : 0));
        if (w->with_holds)
            json_object_set_new(o, "holds", holds_of(c, now));
        json_array_append_new(w->arr, o);
    }
}

json_t *dump_conns(void)
{
    struct conn_walk w = { json_array(), true };
    json_t *missing = json_array();
    for (int i = 0; i < nthreads; i++) {
        if (!thread_call(&threads[i], walk_conns, &w, CALL_TIMEOUT_MS)) {
            err_raise(ERR_ADMIN_THREAD_TIMEOUT, 0);
            json_array_append_new(missing, json_integer(i));
        }
    }
    return json_pack("{s:o, s:I, s:I, s:o}", "connections", w.arr,
                     "curr_connections", (json_int_t)conn_curr(),
                     "max_connections", (json_int_t)settings.maxconns,
                     "unanswered_threads", missing);
}

static void count_conns(struct thread *t, void *arg)
{
    *(uint64_t *)arg = t->nconns;
}

/* A thread busy on one event this long, or whose loop has not turned for
 * this long, is reported stuck. */
#define STUCK_BUSY_SECS 2
#define STUCK_BEAT_SECS 3

json_t *dump_threads(void)
{
    struct live slots[LIVE_MAX];
    int n = live_list(slots, LIVE_MAX);
    rel_time_t now = clock_now();
    json_t *arr = json_array();
    int stuck_count = 0;
    for (int i = 0; i < n; i++) {
        struct live *l = &slots[i];
        uint32_t beat_age = now > l->beat ? now - l->beat : 0;
        uint32_t busy = l->busy_since && now > l->busy_since ? now - l->busy_since : 0;
        bool stuck = busy >= STUCK_BUSY_SECS || beat_age >= STUCK_BEAT_SECS;
        json_t *o = json_pack("{s:s, s:i, s:i, s:s, s:I, s:I, s:I, s:s, s:f, s:b}",
            "name", l->name, "index", l->index, "tid", (int)l->tid,
            "state", l->state ? l->state : "",
            "heartbeat_age_secs", (json_int_t)beat_age,
            "busy_secs", (json_int_t)busy,
            "conn_id", (json_int_t)(l->busy_since ? l->conn_id : 0),
            "command", l->busy_since && l->cmd ? l->cmd : "",
            "cpu_secs", live_cpu_secs(l->tid),
            "stuck", stuck);
        if (strcmp(l->name, "worker") == 0 && l->index < nthreads) {
            uint64_t conns = 0;
            bool ok = !stuck && thread_call(&threads[l->index], count_conns, &conns, CALL_TIMEOUT_MS);
            if (!ok && !stuck)
                err_raise(ERR_ADMIN_THREAD_TIMEOUT, 0);
            json_object_set_new(o, "connections", json_integer((json_int_t)conns));
            json_object_set_new(o, "responsive", json_boolean(ok));
        }
        stuck_count += stuck;
        json_array_append_new(arr, o);
    }
    return json_pack("{s:o, s:i}", "threads", arr, "stuck", stuck_count);
}

/* --- the hash table ------------------------------------------------------ */

json_t *dump_hash(void)
{
    enum { NHIST = 16 };
    uint64_t hist[NHIST], buckets;
    unsigned power;
    bool expanding;
    engine->hash_info(&buckets, &power, &expanding, hist, NHIST);
    json_t *h = json_array();
    for (int i = 0; i < NHIST; i++)
        json_array_append_new(h, json_integer((json_int_t)(expanding ? 0 : hist[i])));
    json_t *items = NULL;
    json_t *st = json_object();
    stats_group("", 0, emit_json, st);
    items = json_object_get(st, "curr_items");
    json_int_t n = items ? json_integer_value(items) : 0;
    json_decref(st);
    return json_pack("{s:I, s:i, s:b, s:I, s:f, s:o}",
        "buckets", (json_int_t)buckets, "power", (int)power,
        "expanding", expanding, "items", n,
        "load_factor", buckets ? (double)n / (double)buckets : 0.0,
        "chain_lengths", h);
}

/* --- locked items ------------------------------------------------------- */

struct locked_walk {
    json_t *items;      /* result */
    rel_time_t now;
};

static void locked_item(const struct engine_item_info *info, item *it, void *arg)
{
    struct locked_walk *w = arg;
    (void)it;
    if (info->refcount <= 1)
        return;     /* resting: only the table's reference */
    json_t *o = json_object();
    dump_put_key(o, info->key, info->nkey);
    json_object_set_new(o, "class", json_integer(info->clsid));
    json_object_set_new(o, "refcount", json_integer(info->refcount));
    json_object_set_new(o, "resting", json_integer(1));
    json_object_set_new(o, "linked", json_true());
    json_object_set_new(o, "age_secs", json_integer(w->now - info->time));
    json_object_set_new(o, "addr", json_integer((json_int_t)(uintptr_t)info->addr));
    json_array_append_new(w->items, o);
}

/* Reads every connection's holds (on its own thread) and indexes them by
 * item address into by_addr: addr -> [holder...]. */
static json_t *collect_holds(json_t *by_addr)
{
    struct conn_walk cw = { json_array(), true };
    for (int i = 0; i < nthreads; i++) {
        if (!thread_call(&threads[i], walk_conns, &cw, CALL_TIMEOUT_MS))
            err_raise(ERR_ADMIN_THREAD_TIMEOUT, 0);
    }
    size_t ci;
    json_t *c;
    json_array_foreach(cw.arr, ci, c) {
        size_t hi;
        json_t *h;
        json_array_foreach(json_object_get(c, "holds"), hi, h) {
            char addr[32];
            snprintf(addr, sizeof(addr), "%lld",
                     (long long)json_integer_value(json_object_get(h, "addr")));
            json_t *list = json_object_get(by_addr, addr);
            if (!list) {
                list = json_array();
                json_object_set_new(by_addr, addr, list);
            }
            json_array_append_new(list, json_pack("{s:O, s:O, s:O, s:O, s:O, s:O}",
                "conn_id", json_object_get(c, "id"),
                "thread", json_object_get(c, "thread"),
                "state", json_object_get(c, "state"),
                "idle_secs", json_object_get(c, "idle_secs"),
                "held_secs", json_object_get(h, "held_secs"),
                "site", json_object_get(h, "site")));
        }
    }
    return cw.arr;
}

struct takes_copy {
    json_t *by_addr;    /* addr -> [take...] newest first */
};

static void copy_takes(struct thread *t, void *arg)
{
    struct takes_copy *tc = arg;
    struct take_ring *r = t->takes;
    rel_time_t now = clock_now();
    if (!r)
        return;
    unsigned n = r->next < HOLD_RING ? r->next : HOLD_RING;
    for (unsigned i = 0; i < n; i++) {
        const struct take *k = &r->t[(r->next - 1 - i) % HOLD_RING];
        char addr[32];
        snprintf(addr, sizeof(addr), "%lld", (long long)(uintptr_t)k->it);
        json_t *list = json_object_get(tc->by_addr, addr);
        if (!list) {
            list = json_array();
            json_object_set_new(tc->by_addr, addr, list);
        }
        if (json_array_size(list) < 4)
            json_array_append_new(list, json_pack("{s:s, s:i, s:I}", "site", k->site,
                                  "thread", t->index, "secs_ago", (json_int_t)(now - k->when)));
    }
}

/* The holds document's holds of unlinked items, by address: one pass, so
 * that explaining them costs a lookup each. (A scan of every hold per
 * held address took tens of seconds, and held up the admin thread, while a
 * client's multi-get of 20000 keys was being sent.) The first hold of an
 * address wins. */
static json_t *unlinked_holds(json_t *conns)
{
    json_t *by_addr = json_object();
    size_t ci, hi;
    json_t *c, *h;
    json_array_foreach(conns, ci, c) {
        json_array_foreach(json_object_get(c, "holds"), hi, h) {
            if (json_is_true(json_object_get(h, "linked")))
                continue;
            char a[32];
            snprintf(a, sizeof(a), "%lld",
                     (long long)json_integer_value(json_object_get(h, "addr")));
            if (!json_object_get(by_addr, a))
                json_object_set(by_addr, a, h);
        }
    }
    return by_addr;
}

/*
 * Locked items: walk the table for items above resting, and explain each
 * reference by the holds the connections recorded. Holds are read before
 * and after the walk and the larger set explains, so a request that was in
 * flight during the walk is not taken for a leak.
 */
json_t *dump_locked(void)
{
    struct locked_walk w = { json_array(), clock_now() };
    json_t *before = json_object(), *after = json_object();
    json_t *conns_before = collect_holds(before);
    uint64_t cursor = 0;
    do {
        cursor = engine->walk(cursor, locked_item, &w);
    } while (cursor != 0);
    json_t *conns_after = collect_holds(after);
    struct takes_copy tc = { json_object() };
    for (int i = 0; i < nthreads; i++)
        thread_call(&threads[i], copy_takes, &tc, CALL_TIMEOUT_MS);

    uint64_t leaks = 0;
    size_t ii;
    json_t *it;
    json_array_foreach(w.items, ii, it) {
        char addr[32];
        snprintf(addr, sizeof(addr), "%lld",
                 (long long)json_integer_value(json_object_get(it, "addr")));
        json_t *hb = json_object_get(before, addr), *ha = json_object_get(after, addr);
        json_t *holders = json_array_size(ha) >= json_array_size(hb) ? ha : hb;
        size_t explained = holders ? json_array_size(holders) : 0;
        json_int_t extra = json_integer_value(json_object_get(it, "refcount")) - 1;
        json_int_t unexplained = extra > (json_int_t)explained ? extra - (json_int_t)explained : 0;
        json_object_set_new(it, "holders", holders ? json_incref(holders) : json_array());
        json_object_set_new(it, "unexplained", json_integer(unexplained));
        json_object_set_new(it, "suspected_leak", json_boolean(unexplained > 0));
        json_t *takes = unexplained ? json_object_get(tc.by_addr, addr) : NULL;
        json_object_set_new(it, "recent_takes", takes ? json_incref(takes) : json_array());
        leaks += unexplained > 0;
        json_object_del(before, addr);
        json_object_del(after, addr);
    }
    /* Held items no longer in the table (replaced or deleted while being
     * sent): the holds explain them completely. */
    const char *addr;
    json_t *holders;
    json_t *unlinked = unlinked_holds(conns_after);
    json_object_foreach(after, addr, holders) {
        json_t *h = json_object_get(unlinked, addr);
        if (!h)
            continue;   /* linked and at rest again by now */
        json_t *o = json_object();
        json_t *k = json_object_get(h, "key");
        json_object_set(o, k ? "key" : "key_base64", k ? k : json_object_get(h, "key_base64"));
        json_object_set_new(o, "class", json_integer(0));
        json_object_set(o, "refcount", json_object_get(h, "refcount"));
        json_object_set_new(o, "resting", json_integer(0));
        json_object_set_new(o, "linked", json_false());
        json_object_set_new(o, "age_secs", json_integer(0));
        json_object_set_new(o, "addr", json_integer(strtoll(addr, NULL, 10)));
        json_object_set(o, "holders", holders);
        json_object_set_new(o, "unexplained", json_integer(0));
        json_object_set_new(o, "suspected_leak", json_false());
        json_object_set_new(o, "recent_takes", json_array());
        json_array_append_new(w.items, o);
    }
    json_decref(unlinked);
    json_decref(tc.by_addr);
    json_decref(before);
    json_decref(after);
    json_decref(conns_before);
    json_decref(conns_after);
    return json_pack("{s:o, s:I}", "items", w.items, "suspected_leaks", (json_int_t)leaks);
}

/* --- per-prefix stats ---------------------------------------------------- */

static void prefix_json(void *ctx, const char *p, size_t len, unsigned long long get,
                        unsigned long long hit, unsigned long long set,
                        unsigned long long del)
{
    json_t *o = json_pack("{s:s%, s:I, s:I, s:I, s:I}", "prefix", p, len,
                          "get", (json_int_t)get, "hit", (json_int_t)hit,
                          "set", (json_int_t)set, "delete", (json_int_t)del);
    if (o)
        json_array_append_new(ctx, o);
}

json_t *dump_prefixes(void)
{
    json_t *arr = json_array();
    char d[2] = { settings.prefix_delimiter, '\0' };
    prefix_each(prefix_json, arr);
    return json_pack("{s:b, s:s, s:o}", "enabled",
                     __atomic_load_n(&prefix_enabled, __ATOMIC_RELAXED),
                     "delimiter", d, "prefixes", arr);
}
