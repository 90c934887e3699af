/*
 * proto_crawler.c - `lru_crawler` on the text protocol, answered as
 * memcached 1.6.18 answers it:
 *
 *   lru_crawler crawl <ids>|all      reclaim expired items now    OK
 *   lru_crawler metadump <ids>|all|hash   one line per live item  ... END
 *   lru_crawler sleep <usec>         accepted and remembered      OK
 *   lru_crawler tocrawl <n>          accepted and remembered      OK
 *   lru_crawler enable|disable                                    OK
 *
 * <ids> is a comma-separated list of slab class ids (1-63). A metadump
 * line is "key=<uri-encoded key> exp=<unix time, -1 never> la=<unix time>
 * cas=<n> fetch=yes|no cls=<class> size=<item bytes>", ended by "\n" only
 * (memcached's crawler writes them so), and the listing ends with END.
 *
 * Unlike memcached, whose crawler thread takes the socket over, the work is
 * done in line by the worker that read the command, so a metadump may be
 * pipelined with other commands. The whole reply is built before it is
 * sent (about 80 bytes per item): for very large caches prefer the admin
 * socket's `items` stream, which is written a batch at a time.
 */
#include "proto_crawler.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "settings.h"

#define REPLY(c, lit) conn_add_static((c), lit, sizeof(lit) - 1)

/* Items copied per bucket before the batch grows (chains are short). */
#define CRAWLER_BATCH 64

/* The crawler's knobs. Only `enabled` changes behaviour (memcached refuses
 * crawl and metadump while disabled); sleep and tocrawl are kept so that
 * tools setting them get memcached's replies. Relaxed atomics: any worker
 * may set them. */
static bool crawler_enabled = true;
static uint32_t crawler_sleep_us = 100;
static uint32_t crawler_tocrawl;

/* --- the walk -------------------------------------------------------------- */

struct batch {
    bool with_dead;
    struct engine_item_info *rows;
    size_t n, cap;
    bool overflow;
};

/* Runs under the bucket's lock: copy, never block. */
static void batch_collect(const struct engine_item_info *info, item *it, void *arg)
{
    struct batch *b = arg;
    (void)it;
    if (info->dead && !b->with_dead)
        return;
    if (b->n == b->cap) {
        /* Only a pathological chain gets here: grow under the lock. */
        struct engine_item_info *n = realloc(b->rows, sizeof(*n) * b->cap * 2);
        if (!n) {
            b->overflow = true;
            return;
        }
        b->rows = n;
        b->cap *= 2;
    }
    b->rows[b->n++] = *info;
}

bool crawler_each(bool with_dead, crawler_row_fn fn, void *ctx)
{
    struct batch b = { .with_dead = with_dead, .cap = CRAWLER_BATCH };
    b.rows = malloc(sizeof(*b.rows) * b.cap);
    if (!b.rows)
        return false;
    uint64_t cursor = 0;
    bool more = true;
    do {
        b.n = 0;
        cursor = engine->walk(cursor, batch_collect, &b);
        for (size_t i = 0; i < b.n && more; i++)
            more = fn(&b.rows[i], ctx);
    } while (cursor != 0 && more);
    free(b.rows);
    return !b.overflow;
}

/* --- class lists ------------------------------------------------------------ */

/* "all", or "1,5,12": fills want[]. False when an id is not 1-63 or not a
 * number (memcached answers BADCLASS to both). */
static bool parse_classes(const struct token *t, bool want[CRAWLER_MAX_CLASS])
{
    memset(want, 0, sizeof(bool) * CRAWLER_MAX_CLASS);
    if (TOK_IS(t, "all")) {
        for (int i = 1; i < CRAWLER_MAX_CLASS; i++)
            want[i] = true;
        return true;
    }
    const char *p = t->p, *end = t->p + t->len;
    while (p < end) {
        const char *comma = memchr(p, ',', (size_t)(end - p));
        const char *stop = comma ? comma : end;
        uint32_t id;
        if (!parse_u32(p, (size_t)(stop - p), &id) || id < 1 || id >= CRAWLER_MAX_CLASS)
            return false;
        want[id] = true;
        p = comma ? comma + 1 : end;
    }
    return true;
}

/* --- metadump --------------------------------------------------------------- */

struct metadump {
    struct conn *c;
    bool want[CRAWLER_MAX_CLASS];
};

/* memcached's uriencode: all but ALPHA DIGIT - . _ ~ become %XX. */
static size_t uri_encode(const char *key, size_t n, char *out)
{
    static const char hex[] = "0123456789ABCDEF";
    char *p = out;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)key[i];
        if ((ch >= 'a' && ch <= 'z') || (ch >= 'A' && ch <= 'Z') ||
            (ch >= '0' && ch <= '9') || ch == '-' || ch == '.' || ch == '_' || ch == '~') {
            *p++ = (char)ch;
        } else {
            *p++ = '%';
            *p++ = hex[ch >> 4];
            *p++ = hex[ch & 15];
        }
    }
    return (size_t)(p - out);
}

static bool metadump_row(const struct engine_item_info *i, void *ctx)
{
    struct metadump *m = ctx;
    if (i->clsid >= CRAWLER_MAX_CLASS || !m->want[i->clsid])
        return true;
    /* "key=" + 3 bytes per key byte + the numbers; 160 covers them */
    size_t room = 4 + 3 * (size_t)i->nkey + 160;
    char *p0 = conn_reserve(m->c, room);
    if (!p0)
        return false;
    char *p = p0;
    memcpy(p, "key=", 4);
    p += 4;
    p += uri_encode(i->key, i->nkey, p);
    p += snprintf(p, room - (size_t)(p - p0),
                  " exp=%lld la=%lld cas=%llu fetch=%s cls=%u size=%zu\n",
                  i->exptime == 0 ? -1LL : (long long)clock_abs(i->exptime),
                  (long long)clock_abs(i->time),
                  (unsigned long long)(settings.use_cas ? i->cas : 0),
                  (i->it_flags & ITEM_FETCHED) ? "yes" : "no", (unsigned)i->clsid,
                  item_total(i->nkey, i->vlen + 2));
    conn_commit(m->c, (size_t)(p - p0));
    return true;
}

static void crawler_metadump(struct conn *c, const struct token *arg)
{
    struct metadump m = { .c = c };
    if (conn_is_udp(c)) {
        /* memcached 1.6.18 gives no answer over UDP either: a listing can
         * take more datagrams than UDP would deliver. */
        err_raise(ERR_UDP_METADUMP, c->id);
        return;
    }
    if (!settings.dump_enabled) {
        conn_error(c, ERR_METADUMP_DISABLED);
        return;
    }
    /* "hash" asks memcached to walk the hash table instead of the LRUs:
     * mcd always walks the hash table, so it means every class. */
    if (!parse_classes(TOK_IS(arg, "hash") ? &(struct token){ "all", 3 } : arg, m.want)) {
        REPLY(c, "BADCLASS invalid class id\r\n");
        return;
    }
    crawler_each(false, metadump_row, &m);
    if (c->state != CONN_CLOSING)
        REPLY(c, "END\r\n");
}

/* --- crawl ------------------------------------------------------------------ */

struct crawl {
    bool want[CRAWLER_MAX_CLASS];
};

/* Reclaims one expired or flushed item, unless the key has been stored
 * again since it was copied: REMOVE_DEAD takes only a dead item with this
 * CAS, and counts it in crawler_reclaimed, as memcached's crawler does. */
static bool crawl_row(const struct engine_item_info *i, void *ctx)
{
    struct crawl *cr = ctx;
    if (i->dead && i->clsid < CRAWLER_MAX_CLASS && cr->want[i->clsid])
        engine->remove(i->key, i->nkey, i->cas, REMOVE_DEAD);
    return true;
}

static void crawler_crawl(struct conn *c, const struct token *arg)
{
    struct crawl cr;
    if (!parse_classes(arg, cr.want)) {
        REPLY(c, "BADCLASS invalid class id\r\n");
        return;
    }
    crawler_each(true, crawl_row, &cr);
    REPLY(c, "OK\r\n");
}

/* --- dispatch --------------------------------------------------------------- */

static bool crawler_is_enabled(void)
{
    return __atomic_load_n(&crawler_enabled, __ATOMIC_RELAXED);
}

static void crawler_set_number(struct conn *c, const struct token *arg, bool is_sleep)
{
    uint32_t v;
    if (!parse_u32(arg->p, arg->len, &v)) {
        conn_error(c, ERR_CRAWLER_BAD_NUMBER);
        return;
    }
    if (is_sleep && v > 1000000) {
        conn_error(c, ERR_CRAWLER_SLEEP_RANGE);
        return;
    }
    __atomic_store_n(is_sleep ? &crawler_sleep_us : &crawler_tocrawl, v, __ATOMIC_RELAXED);
    REPLY(c, "OK\r\n");
}

void proto_crawler_command(struct conn *c, struct token *t, size_t nt)
{
    c->cur_cmd = "lru_crawler";
    if (nt == 3 && (TOK_IS(&t[1], "crawl") || TOK_IS(&t[1], "metadump"))) {
        if (!crawler_is_enabled()) {
            conn_error(c, ERR_CRAWLER_DISABLED);
            return;
        }
        if (TOK_IS(&t[1], "crawl"))
            crawler_crawl(c, &t[2]);
        else
            crawler_metadump(c, &t[2]);
    } else if (nt == 3 && TOK_IS(&t[1], "sleep")) {
        crawler_set_number(c, &t[2], true);
    } else if (nt == 3 && TOK_IS(&t[1], "tocrawl")) {
        crawler_set_number(c, &t[2], false);
    } else if (nt == 2 && TOK_IS(&t[1], "enable")) {
        /* memcached cannot start a second crawler thread, and says so */
        if (__atomic_exchange_n(&crawler_enabled, true, __ATOMIC_RELAXED))
            conn_error(c, ERR_CRAWLER_ENABLED);
        else
            REPLY(c, "OK\r\n");
    } else if (nt == 2 && TOK_IS(&t[1], "disable")) {
        __atomic_store_n(&crawler_enabled, false, __ATOMIC_RELAXED);
        REPLY(c, "OK\r\n");
    } else {
        conn_error(c, ERR_CRAWLER_USAGE);
    }
}
