/*
 * stats_text.c - `stats` on the text protocol: the general group with
 * memcached's names, and settings, items, slabs, sizes, conns, detail,
 * reset, cachedump, and mcd's own `stats errors` (the error registry's
 * counters).
 */
#include "stats_text.h"

#include <event2/event.h>
#include <stdarg.h>
#include <stdio.h>
#include <string.h>
#include <sys/resource.h>
#include <unistd.h>

#include "conn.h"
#include "engine.h"
#include "latency.h"
#include "listen.h"
#include "prefix.h"
#include "proto_crawler.h"
#include "proto_text.h"
#include "settings.h"
#include "stats.h"
#include "thread.h"

#define REPLY(c, lit) conn_add_static((c), lit, sizeof(lit) - 1)

void text_stat_line(void *ctx, const char *name, const char *value)
{
    struct conn *c = ctx;
    size_t nl = strlen(name), vl = strlen(value);
    char *p = conn_reserve(c, nl + vl + 8);
    if (!p)
        return;
    memcpy(p, "STAT ", 5);
    memcpy(p + 5, name, nl);
    p[5 + nl] = ' ';
    memcpy(p + 6 + nl, value, vl);
    memcpy(p + 6 + nl + vl, "\r\n", 2);
    conn_commit(c, nl + vl + 8);
}

/* The group writers below emit through (emit, ctx) so that the text and
 * binary protocols and the admin socket share them; `c` in them is the
 * emitter pair, named so for brevity. */
struct emitter {
    stat_emit_fn emit;
    void *ctx;
};

static void stat_str(const struct emitter *c, const char *name, const char *v)
{
    c->emit(c->ctx, name, v);
}

static void stat_u64(const struct emitter *c, const char *name, uint64_t v)
{
    char buf[24];
    fmt_u64(buf, v);
    c->emit(c->ctx, name, buf);
}

static void stat_fmt(const struct emitter *c, const char *name, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
static void stat_fmt(const struct emitter *c, const char *name, const char *fmt, ...)
{
    char buf[256];
    va_list ap;
    va_start(ap, fmt);
    vsnprintf(buf, sizeof(buf), fmt, ap);
    va_end(ap);
    c->emit(c->ctx, name, buf);
}

static uint64_t malloc_fails(void)
{
    return err_total(ERR_SLAB_PAGE_MALLOC) + err_total(ERR_HASH_EXPAND_MALLOC) +
           err_total(ERR_CONN_MALLOC) + err_total(ERR_RBUF_MALLOC) +
           err_total(ERR_WBUF_MALLOC);
}

static void stats_general(const struct emitter *c)
{
    struct tstats s;
    struct rusage ru;
    time_t now = clock_abs(clock_now());
    stats_sum(&s);
    getrusage(RUSAGE_SELF, &ru);

    stat_u64(c, "pid", (uint64_t)getpid());
    stat_u64(c, "uptime", (uint64_t)(now - clock_started()));
    stat_u64(c, "time", (uint64_t)now);
    stat_str(c, "version", MCD_WIRE_VERSION);
    stat_str(c, "libevent", event_get_version());
    stat_u64(c, "pointer_size", 8 * sizeof(void *));
    stat_fmt(c, "rusage_user", "%ld.%06ld", (long)ru.ru_utime.tv_sec, (long)ru.ru_utime.tv_usec);
    stat_fmt(c, "rusage_system", "%ld.%06ld", (long)ru.ru_stime.tv_sec, (long)ru.ru_stime.tv_usec);
    stat_u64(c, "max_connections", (uint64_t)settings.maxconns);
    stat_u64(c, "curr_connections", conn_curr());
    stat_u64(c, "total_connections", conn_total());
    stat_u64(c, "rejected_connections", err_total(ERR_MAXCONNS));
    stat_u64(c, "connection_structures", conn_curr());
    stat_u64(c, "cmd_get", s.cmd_get);
    stat_u64(c, "cmd_set", s.cmd_set);
    stat_u64(c, "cmd_flush", s.cmd_flush);
    stat_u64(c, "cmd_touch", s.cmd_touch);
    stat_u64(c, "get_hits", s.get_hits);
    stat_u64(c, "get_misses", s.get_misses);
    stat_u64(c, "get_expired", s.get_expired);
    stat_u64(c, "get_flushed", s.get_flushed);
    stat_u64(c, "delete_misses", s.delete_misses);
    stat_u64(c, "delete_hits", s.delete_hits);
    stat_u64(c, "incr_misses", s.incr_misses);
    stat_u64(c, "incr_hits", s.incr_hits);
    stat_u64(c, "decr_misses", s.decr_misses);
    stat_u64(c, "decr_hits", s.decr_hits);
    stat_u64(c, "cas_misses", s.cas_misses);
    stat_u64(c, "cas_hits", s.cas_hits);
    stat_u64(c, "cas_badval", s.cas_badval);
    stat_u64(c, "touch_hits", s.touch_hits);
    stat_u64(c, "touch_misses", s.touch_misses);
    stat_u64(c, "store_too_large", s.store_too_large);
    stat_u64(c, "store_no_memory", s.store_no_memory);
    stat_u64(c, "auth_cmds", 0);
    stat_u64(c, "auth_errors", 0);
    stat_u64(c, "bytes_read", s.bytes_read);
    stat_u64(c, "bytes_written", s.bytes_written);
    stat_u64(c, "limit_maxbytes", settings.maxbytes);
    stat_u64(c, "accepting_conns", listen_accepting());
    stat_u64(c, "listen_disabled_num", err_total(ERR_ACCEPT_EMFILE));
    stat_u64(c, "threads", (uint64_t)settings.num_threads);
    stat_u64(c, "conn_yields", s.conn_yields);
    stat_u64(c, "malloc_fails", malloc_fails());
    stat_u64(c, "idle_kicks", err_total(ERR_IDLE_TIMEOUT));
    stat_fmt(c, "clock_drift_secs", "%lld", (long long)clock_drift());
    stat_u64(c, "expired_on_arrival", s.expired_on_arrival);
    stat_u64(c, "ttl_absolute", s.ttl_absolute);
    stat_u64(c, "ttl_none", s.ttl_none);
    stat_u64(c, "ttl_under_1m", s.ttl_under_1m);
    stat_u64(c, "ttl_under_1h", s.ttl_under_1h);
    stat_u64(c, "ttl_under_1d", s.ttl_under_1d);
    stat_u64(c, "ttl_under_30d", s.ttl_under_30d);
    stat_u64(c, "multiget_1", s.multiget_1);
    stat_u64(c, "multiget_2_10", s.multiget_2_10);
    stat_u64(c, "multiget_11_100", s.multiget_11_100);
    stat_u64(c, "multiget_over_100", s.multiget_over_100);
    stat_u64(c, "listen_disabled_usec", listen_disabled_usec());
    /* memcached's names for the same figures */
    stat_u64(c, "time_in_listen_disabled_us", listen_disabled_usec());
    stat_u64(c, "cmd_meta", s.cmd_meta);
    {
        /* one pool serves reads and replies (memcached's response objects
         * have no counterpart) */
        uint64_t count, bytes, bytes_free;
        conn_buffer_pool(&count, &bytes, &bytes_free);
        stat_u64(c, "read_buf_count", count);
        stat_u64(c, "read_buf_bytes", bytes);
        stat_u64(c, "read_buf_bytes_free", bytes_free);
        stat_u64(c, "read_buf_oom", err_total(ERR_RBUF_BLOCK) + err_total(ERR_RBUF_MALLOC) +
                                    err_total(ERR_BUF_MEM_LIMIT));
    }
    engine->stats(c->emit, c->ctx);
    /* memcached's figures that are sums over the classes */
    struct engine_class_info sum = { 0 }, ci;
    for (int id = 1; id <= engine->nclasses(); id++) {
        if (!engine->class_info(id, &ci))
            continue;
        sum.expired_unfetched += ci.expired_unfetched;
        sum.evicted_unfetched += ci.evicted_unfetched;
        sum.evicted += ci.evicted;
        sum.evicted_nonzero += ci.evicted_nonzero;
        sum.reclaimed += ci.reclaimed;
        sum.outofmemory += ci.outofmemory;
        sum.lrutail_reflocked += ci.lrutail_reflocked;
        sum.evicted_active += ci.evicted_active;
        sum.direct_reclaims += ci.direct_reclaims;
        sum.crawler_items_checked += ci.crawler_items_checked;
        sum.crawler_reclaimed += ci.crawler_reclaimed;
    }
    stat_u64(c, "expired_unfetched", sum.expired_unfetched);
    stat_u64(c, "evicted_unfetched", sum.evicted_unfetched);
    stat_u64(c, "evictions", sum.evicted);
    stat_u64(c, "evicted_nonzero", sum.evicted_nonzero);
    stat_u64(c, "reclaimed", sum.reclaimed);
    stat_u64(c, "slabs_outofmemory", sum.outofmemory);
    stat_u64(c, "lrutail_reflocked", sum.lrutail_reflocked);
    stat_u64(c, "evicted_active", sum.evicted_active);
    stat_u64(c, "direct_reclaims", sum.direct_reclaims);
    stat_u64(c, "crawler_items_checked", sum.crawler_items_checked);
    stat_u64(c, "crawler_reclaimed", sum.crawler_reclaimed);
}

static void stats_settings(const struct emitter *c)
{
    stat_u64(c, "maxbytes", settings.maxbytes);
    stat_u64(c, "maxconns", (uint64_t)settings.maxconns);
    stat_u64(c, "tcpport", (uint64_t)settings.port);
    stat_u64(c, "udpport", (uint64_t)settings.udpport);
    stat_str(c, "inter", settings.nlisten ? settings.listen[0] : "NULL");
    stat_u64(c, "verbosity", (uint64_t)__atomic_load_n(&settings.verbose, __ATOMIC_RELAXED));
    stat_u64(c, "oldest", 0);
    stat_str(c, "evictions", settings.evict_to_free ? "on" : "off");
    stat_str(c, "domain_socket", settings.socketpath ? settings.socketpath : "NULL");
    stat_fmt(c, "umask", "%o", settings.access);
    stat_fmt(c, "growth_factor", "%.2f", settings.factor);
    stat_u64(c, "chunk_size", (uint64_t)settings.chunk_size);
    stat_u64(c, "num_threads", (uint64_t)settings.num_threads);
    /* every worker serves each UDP socket, as memcached's default */
    stat_u64(c, "num_threads_per_udp", (uint64_t)settings.num_threads);
    stat_fmt(c, "stat_key_prefix", "%c", settings.prefix_delimiter);
    stat_str(c, "detail_enabled",
                   __atomic_load_n(&prefix_enabled, __ATOMIC_RELAXED) ? "yes" : "no");
    stat_u64(c, "reqs_per_event", (uint64_t)settings.reqs_per_event);
    stat_str(c, "cas_enabled", settings.use_cas ? "yes" : "no");
    stat_u64(c, "tcp_backlog", (uint64_t)settings.backlog);
    stat_str(c, "binding_protocol",
                   settings.protocol == PROTO_ASCII ? "ascii" :
                   settings.protocol == PROTO_BINARY ? "binary" : "auto-negotiate");
    stat_str(c, "auth_enabled_sasl", "no");
    stat_u64(c, "item_size_max", settings.item_size_max);
    stat_str(c, "maxconns_fast", settings.maxconns_fast ? "yes" : "no");
    stat_u64(c, "hashpower_init", (uint64_t)settings.hashpower_init);
    stat_str(c, "flush_enabled", settings.flush_enabled ? "yes" : "no");
    stat_str(c, "dump_enabled", settings.dump_enabled ? "yes" : "no");
    stat_u64(c, "idle_timeout", (uint64_t)settings.idle_timeout);
    stat_u64(c, "write_timeout", (uint64_t)settings.write_timeout);
    stat_str(c, "strict_keys", settings.strict_keys ? "yes" : "no");
    stat_u64(c, "read_buf_mem_limit", (uint64_t)settings.read_buf_mem_limit);
    {
        struct rlimit rl;
        if (getrlimit(RLIMIT_NOFILE, &rl) == 0)
            stat_u64(c, "nofile_limit", (uint64_t)rl.rlim_cur);
    }
    stat_str(c, "shutdown_command", settings.shutdown_command ? "yes" : "no");
    stat_str(c, "slab_reassign", "yes");
    stat_u64(c, "slab_automove",
             (uint64_t)__atomic_load_n(&settings.slab_automove, __ATOMIC_RELAXED));
    stat_str(c, "engine", engine->name);
    stat_str(c, "admin_socket", settings.admin_socket ? settings.admin_socket : "NULL");
    stat_str(c, "metrics_listen", settings.metrics_listen ? settings.metrics_listen : "NULL");
    stat_str(c, "crash_file", settings.crash_file ? settings.crash_file : "NULL");
    stat_u64(c, "slowlog_usec", __atomic_load_n(&slowlog_usec, __ATOMIC_RELAXED));
}

static void stats_items(const struct emitter *c)
{
    char name[64];
    int n = engine->nclasses();
    for (int id = 1; id <= n; id++) {
        struct engine_class_info ci;
        if (!engine->class_info(id, &ci) || ci.items == 0)
            continue;
#define ITEM_STAT(field, value) \
        snprintf(name, sizeof(name), "items:%d:%s", id, field); \
        stat_u64(c, name, value)
        ITEM_STAT("number", ci.items);
        ITEM_STAT("age", ci.tail_age);
        ITEM_STAT("evicted", ci.evicted);
        ITEM_STAT("evicted_nonzero", ci.evicted_nonzero);
        ITEM_STAT("evicted_time", ci.evicted_time);
        ITEM_STAT("outofmemory", ci.outofmemory);
        ITEM_STAT("tailrepairs", 0);
        ITEM_STAT("reclaimed", ci.reclaimed);
        ITEM_STAT("expired_unfetched", ci.expired_unfetched);
        ITEM_STAT("evicted_unfetched", ci.evicted_unfetched);
        ITEM_STAT("evicted_active", ci.evicted_active);
        ITEM_STAT("crawler_reclaimed", ci.crawler_reclaimed);
        ITEM_STAT("crawler_items_checked", ci.crawler_items_checked);
        ITEM_STAT("lrutail_reflocked", ci.lrutail_reflocked);
        ITEM_STAT("direct_reclaims", ci.direct_reclaims);
        ITEM_STAT("mem_requested", ci.mem_requested);
#undef ITEM_STAT
    }
}

static void stats_slabs(const struct emitter *c)
{
    char name[64];
    int n = engine->nclasses(), active = 0;
    uint64_t malloced = 0;
    struct tstats s;
    stats_sum(&s);
    for (int id = 1; id <= n; id++) {
        struct engine_class_info ci;
        /* Not a slab class without pages (as memcached). A class with no
         * pages by design (the heap engine's one) is always listed, so its
         * command counters do not come and go with its items. */
        if (!engine->class_info(id, &ci) ||
            (ci.pages == 0 && ci.used_chunks == 0 && ci.chunks_per_page != 0))
            continue;
        active++;
        malloced += ci.pages ? ci.pages * ci.chunks_per_page * ci.chunk_size
                             : ci.mem_allocated;
#define SLAB_STAT(field, value) \
        snprintf(name, sizeof(name), "%d:%s", id, field); \
        stat_u64(c, name, value)
        SLAB_STAT("chunk_size", ci.chunk_size);
        SLAB_STAT("chunks_per_page", ci.chunks_per_page);
        SLAB_STAT("total_pages", ci.pages);
        SLAB_STAT("total_chunks", ci.pages * ci.chunks_per_page);
        SLAB_STAT("used_chunks", ci.used_chunks);
        SLAB_STAT("free_chunks", ci.free_chunks);
        SLAB_STAT("free_chunks_end", 0);
        if (id < STATS_MAX_CLASSES) {
#define X(f) SLAB_STAT(#f, s.cls[id].f);
            CLASS_STATS(X)
#undef X
        }
        SLAB_STAT("mem_requested", ci.mem_requested);
        SLAB_STAT("pages_moved_in", ci.pages_moved_in);
        SLAB_STAT("pages_moved_out", ci.pages_moved_out);
#undef SLAB_STAT
    }
    stat_u64(c, "active_slabs", (uint64_t)active);
    stat_u64(c, "total_malloced", malloced);
}

/* As memcached lists its listening sockets among the connections. */
static void listener_stat(int fd, const char *addr, rel_time_t opened, void *ctx)
{
    const struct emitter *c = ctx;
    char name[64];
    snprintf(name, sizeof(name), "%d:addr", fd);
    stat_str(c, name, addr);
    snprintf(name, sizeof(name), "%d:state", fd);
    stat_str(c, name, "conn_listening");
    /* memcached counts a listener's from when it opened */
    snprintf(name, sizeof(name), "%d:secs_since_last_cmd", fd);
    stat_u64(c, name, clock_now() - opened);
}

static void conn_stat(struct conn *other, void *ctx)
{
    const struct emitter *c = ctx;
    char name[64];
    snprintf(name, sizeof(name), "%d:addr", other->fd);
    stat_str(c, name, other->peer);
    if (other->listen_addr) {
        snprintf(name, sizeof(name), "%d:listen_addr", other->fd);
        stat_str(c, name, other->listen_addr);
    }
    snprintf(name, sizeof(name), "%d:state", other->fd);
    stat_str(c, name, conn_state_name(__atomic_load_n(&other->state, __ATOMIC_RELAXED)));
    snprintf(name, sizeof(name), "%d:secs_since_last_cmd", other->fd);
    stat_u64(c, name, clock_now() - __atomic_load_n(&other->last_cmd, __ATOMIC_RELAXED));
}

static void stats_errors(const struct emitter *c)
{
    char name[96];
    for (int i = 0; i < ERR__COUNT; i++) {
        const struct err_info *e = err_info((enum err_site)i);
        snprintf(name, sizeof(name), "E%04d:%s", e->code, e->name);
        stat_u64(c, name, err_total((enum err_site)i));
    }
}

static void prefix_line(void *ctx, const char *p, size_t len, unsigned long long get,
                        unsigned long long hit, unsigned long long set,
                        unsigned long long del)
{
    struct conn *c = ctx;
    char *out = conn_reserve(c, len + 120);
    if (!out)
        return;
    int n = snprintf(out, len + 120, "PREFIX %.*s get %llu hit %llu set %llu del %llu\r\n",
                     (int)len, p, get, hit, set, del);
    conn_commit(c, (size_t)n);
}

static void stats_detail(struct conn *c, struct token *t, size_t nt)
{
    if (nt == 3 && TOK_IS(&t[2], "on")) {
        __atomic_store_n(&prefix_enabled, true, __ATOMIC_RELAXED);
        REPLY(c, "OK\r\n");
    } else if (nt == 3 && TOK_IS(&t[2], "off")) {
        __atomic_store_n(&prefix_enabled, false, __ATOMIC_RELAXED);
        REPLY(c, "OK\r\n");
    } else if (nt == 3 && TOK_IS(&t[2], "dump")) {
        prefix_each(prefix_line, c);
        REPLY(c, "END\r\n");
    } else {
        conn_error(c, ERR_STATS_DETAIL_USAGE);
    }
}

/* memcached stops a cachedump at 2 MB of reply, whatever the limit. */
#define CACHEDUMP_MAX_BYTES (2 * 1024 * 1024)

struct cachedump {
    struct conn *c;
    unsigned clsid;
    uint32_t left;              /* items still wanted; 0 = no limit */
    size_t bytes;
};

static bool cachedump_row(const struct engine_item_info *i, void *ctx)
{
    struct cachedump *d = ctx;
    if (i->clsid != d->clsid)
        return true;
    char line[KEY_MAX_LENGTH + 64];
    int n = snprintf(line, sizeof(line), "ITEM %.*s [%u b; %lld s]\r\n", (int)i->nkey,
                     i->key, i->vlen,
                     i->exptime == 0 ? 0LL : (long long)clock_abs(i->exptime));
    if (d->bytes + (size_t)n > CACHEDUMP_MAX_BYTES)
        return false;
    d->bytes += (size_t)n;
    if (!conn_add_text(d->c, line, (size_t)n))
        return false;
    return d->left == 0 || --d->left > 0;
}

/* stats cachedump <class> <limit>: the live items of one slab class, in
 * hash order (memcached lists its cold LRU; mcd has no such segment). */
static void stats_cachedump(struct conn *c, struct token *t, size_t nt)
{
    uint32_t id, limit;
    if (!settings.dump_enabled) {
        conn_error(c, ERR_CACHEDUMP_DISABLED);
        return;
    }
    if (nt < 4) {
        conn_error(c, ERR_CACHEDUMP_USAGE);
        return;
    }
    if (!parse_u32(t[2].p, t[2].len, &id) || !parse_u32(t[3].p, t[3].len, &limit)) {
        conn_error(c, ERR_CACHEDUMP_BAD_NUMBER);
        return;
    }
    if (id >= CRAWLER_MAX_CLASS) {
        conn_error(c, ERR_CACHEDUMP_BAD_CLASS);
        return;
    }
    struct cachedump d = { .c = c, .clsid = id, .left = limit };
    crawler_each(false, cachedump_row, &d);
    if (c->state != CONN_CLOSING)
        REPLY(c, "END\r\n");
}

bool stats_group(const char *group, size_t len, stat_emit_fn emit, void *ctx)
{
    struct emitter e = { emit, ctx };
    struct token g = { group, len };
    if (len == 0)
        stats_general(&e);
    else if (TOK_IS(&g, "settings"))
        stats_settings(&e);
    else if (TOK_IS(&g, "items"))
        stats_items(&e);
    else if (TOK_IS(&g, "slabs"))
        stats_slabs(&e);
    else if (TOK_IS(&g, "sizes"))
        stat_str(&e, "sizes_status", "disabled");
    else if (TOK_IS(&g, "conns")) {
        listen_each(listener_stat, &e);
        threads_each_conn(conn_stat, &e);
    }
    else if (TOK_IS(&g, "errors"))
        stats_errors(&e);
    else
        return false;
    return true;
}

void text_stats(struct conn *c, struct token *t, size_t nt)
{
    if (nt >= 2 && TOK_IS(&t[1], "reset")) {
        stats_reset();
        REPLY(c, "RESET\r\n");
        return;
    }
    if (nt >= 2 && TOK_IS(&t[1], "detail")) {
        stats_detail(c, t, nt);
        return;
    }
    if (nt >= 2 && TOK_IS(&t[1], "cachedump")) {
        stats_cachedump(c, t, nt);
        return;
    }
    if (!stats_group(nt >= 2 ? t[1].p : "", nt >= 2 ? t[1].len : 0, text_stat_line, c)) {
        conn_error(c, ERR_STATS_UNKNOWN);
        return;
    }
    REPLY(c, "END\r\n");
}
