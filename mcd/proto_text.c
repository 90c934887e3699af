/*
 * proto_text.c - memcached's text protocol: retrieval, storage, arithmetic,
 * touch, delete, flush_all and the small commands. Replies are byte-exact
 * with memcached's protocol.txt; errors come from the registry.
 *
 * A command line is sliced in place in the read buffer (no copy); a value
 * is read straight into the item allocated for it (see conn.c CONN_NREAD).
 */
#include "proto_text.h"

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "history.h"
#include "hold.h"
#include "hotkeys.h"
#include "prefix.h"
#include "proto_crawler.h"
#include "settings.h"
#include "stats.h"
#include "stats_text.h"

/* A line longer than this without "\n" is garbage, unless it is a
 * retrieval command with many keys, which may fill the whole buffer. */
#define LINE_MAX_NONGET 2048

#define REPLY(c, lit) conn_add_static((c), lit, sizeof(lit) - 1)

size_t text_tokenize(const char *line, size_t len, struct token *t, size_t max)
{
    size_t n = 0, i = 0;
    while (i < len) {
        while (i < len && line[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t start = i;
        while (i < len && line[i] != ' ')
            i++;
        if (n == max)
            return max + 1;
        t[n].p = line + start;
        t[n].len = i - start;
        n++;
    }
    return n;
}

/* Names the site that refuses key, or returns false when it is fine. */
static bool key_refused(const struct token *key, enum err_site *e)
{
    if (key->len > KEY_MAX_LENGTH) {
        *e = ERR_KEY_TOO_LONG;
        return true;
    }
    /* memcached takes any byte but space in a text key, and clients rely on
     * it (memaslap's keys start with bytes 0x10-0x1f); -o strict_keys
     * refuses control bytes, as protocol.txt asks of clients. */
    if (!settings.strict_keys)
        return false;
    for (size_t i = 0; i < key->len; i++) {
        unsigned char ch = (unsigned char)key->p[i];
        if (ch < 0x20 || ch == 0x7f) {
            *e = ERR_KEY_BAD_CHAR;
            return true;
        }
    }
    return false;
}

bool text_key_ok(struct conn *c, const struct token *key)
{
    enum err_site e;
    if (key_refused(key, &e)) {
        conn_error(c, e);
        return false;
    }
    return true;
}

static bool is_noreply(const struct token *t)
{
    return TOK_IS(t, "noreply");
}

/* Time sanity: how a client's exptime reads, counted per store. */
void text_note_exptime(int64_t exptime)
{
    if (exptime == 0) {
        STAT_INCR(ttl_none);
    } else if (exptime < 0) {
        STAT_INCR(expired_on_arrival);
    } else if (exptime > REALTIME_MAXDELTA) {
        STAT_INCR(ttl_absolute);
        if (exptime <= clock_abs(clock_now()))
            STAT_INCR(expired_on_arrival);
    } else if (exptime < 60) {
        STAT_INCR(ttl_under_1m);
    } else if (exptime < 3600) {
        STAT_INCR(ttl_under_1h);
    } else if (exptime < 86400) {
        STAT_INCR(ttl_under_1d);
    } else {
        STAT_INCR(ttl_under_30d);
    }
}

/* Discard the n bytes of a refused value so the stream stays in step. */
static void swallow(struct conn *c, size_t n)
{
    c->swallow = n;
    conn_set_state(c, CONN_SWALLOW);
}

/* --- retrieval ----------------------------------------------------------- */

/* "VALUE <key> <flags> <bytes>[ <cas>]\r\n" then the value from the item. */
static bool add_value(struct conn *c, item *it, bool with_cas)
{
    char *p = conn_reserve(c, 6 + it->nkey + 3 * 21 + 4);
    if (!p) {
        engine->release(it);
        return false;
    }
    char *s = p;
    memcpy(s, "VALUE ", 6);
    s += 6;
    memcpy(s, item_key(it), it->nkey);
    s += it->nkey;
    *s++ = ' ';
    s += fmt_u64(s, it->flags);
    *s++ = ' ';
    s += fmt_u64(s, item_vlen(it));
    if (with_cas) {
        *s++ = ' ';
        s += fmt_u64(s, settings.use_cas ? it->cas : 0);
    }
    *s++ = '\r';
    *s++ = '\n';
    conn_commit(c, (size_t)(s - p));
    return conn_add_item(c, it, item_data(it), it->nbytes);
}

/* get/gets/gat/gats: keys are walked straight from the line, any number. */
#define GET_PREFETCH_KEYS 64    /* keys of a multi-get hinted to the engine */
static void process_get(struct conn *c, const char *line, size_t len,
                        size_t cmdlen, bool with_cas, bool touch)
{
    size_t i = cmdlen;
    rel_time_t exptime = 0;
    struct token tok;
    bool any = false;
    uint64_t nkeys = 0;

    if (touch) {
        struct token t[1];
        while (i < len && line[i] == ' ')
            i++;
        size_t s = i;
        while (i < len && line[i] != ' ')
            i++;
        t[0].p = line + s;
        t[0].len = i - s;
        int64_t ex;
        if (t[0].len == 0) {
            conn_error(c, ERR_BAD_ARG_COUNT);
            return;
        }
        if (!parse_i64(t[0].p, t[0].len, &ex)) {
            conn_error(c, ERR_GAT_BAD_EXPTIME);
            return;
        }
        exptime = clock_realtime(ex);
    }
    /* Check every key first: a bad key fails the whole command, and no
     * VALUE goes out before its error (as memcached). */
    struct token keys[GET_PREFETCH_KEYS];
    size_t nchecked = 0;
    for (size_t j = i;;) {
        while (j < len && line[j] == ' ')
            j++;
        if (j == len)
            break;
        size_t s = j;
        while (j < len && line[j] != ' ')
            j++;
        tok.p = line + s;
        tok.len = j - s;
        if (!text_key_ok(c, &tok))
            return;
        if (nchecked < GET_PREFETCH_KEYS)
            keys[nchecked] = tok;
        nchecked++;
    }
    /* A multi-get hints the engine at every key's bucket now, and at the
     * next key's item during the lookups below, so their cache misses
     * overlap. A single get (most of them) has nothing to overlap. */
    uint32_t hv[GET_PREFETCH_KEYS];
    size_t nhv = 0;
    void (*prefetch)(uint32_t, int) = nchecked > 1 ? engine->prefetch : NULL;
    if (prefetch) {
        nhv = nchecked < GET_PREFETCH_KEYS ? nchecked : GET_PREFETCH_KEYS;
        for (size_t k = 0; k < nhv; k++) {
            hv[k] = hash_key(keys[k].p, keys[k].len);
            prefetch(hv[k], 0);
        }
    }
    for (;;) {
        while (i < len && line[i] == ' ')
            i++;
        if (i == len)
            break;
        size_t s = i;
        while (i < len && line[i] != ' ')
            i++;
        tok.p = line + s;
        tok.len = i - s;
        any = true;
        if (prefetch && nkeys + 1 < nhv)
            prefetch(hv[nkeys + 1], 1);
        nkeys++;
        item *it = touch ? engine->touch(tok.p, tok.len, exptime)
                         : engine->get(tok.p, tok.len);
        hold_note(it);
        /* gat and gats count as touches only, as memcached counts them */
        if (touch) {
            STAT_INCR(cmd_touch);
            if (it)
                STAT_INCR(touch_hits);
            else
                STAT_INCR(touch_misses);
        } else {
            STAT_INCR(cmd_get);
            if (it)
                STAT_INCR(get_hits);
            else
                STAT_INCR(get_misses);
        }
        if (__atomic_load_n(&prefix_enabled, __ATOMIC_RELAXED))
            prefix_record(tok.p, tok.len, PREFIX_GET, it != NULL);
        hotkeys_note(tok.p, tok.len, it ? item_vlen(it) : 0);
        if (!it)
            continue;
        if (err_inject(ERR_TEST_LEAK_REF)) {
            /* a reference that never comes back, for leak-hunting tests */
            err_raise(ERR_TEST_LEAK_REF, c->id);
            engine->hold(it);
            hold_note(it);
        }
        if (!add_value(c, it, with_cas))
            return;
    }
    if (!any) {
        /* as memcached: "get" alone is an error, "gat 0" touches no key */
        if (touch)
            REPLY(c, "END\r\n");
        else
            conn_error(c, ERR_BAD_ARG_COUNT);
        return;
    }
    if (nkeys == 1)
        STAT_INCR(multiget_1);
    else if (nkeys <= 10)
        STAT_INCR(multiget_2_10);
    else if (nkeys <= 100)
        STAT_INCR(multiget_11_100);
    else
        STAT_INCR(multiget_over_100);
    REPLY(c, "END\r\n");
}

/* --- storage ------------------------------------------------------------- */

static void process_update(struct conn *c, struct token *t, size_t nt,
                           enum store_op op)
{
    size_t need = op == STORE_CAS ? 6 : 5;
    int32_t vlen;
    uint32_t flags;
    int64_t exptime;
    uint64_t cas = 0;
    enum err_site e;

    if (nt != need && nt != need + 1) {
        conn_error(c, ERR_BAD_ARG_COUNT);
        return;
    }
    c->noreply = nt == need + 1 && is_noreply(&t[need]);
    if (!parse_i32(t[4].p, t[4].len, &vlen) || vlen < 0 || vlen > INT32_MAX - 2) {
        conn_error(c, ERR_BAD_LENGTH);
        return;
    }
    if (key_refused(&t[1], &e))
        goto refuse;
    e = ERR_BAD_FLAGS;
    if (!parse_u32(t[2].p, t[2].len, &flags))
        goto refuse;
    e = ERR_BAD_EXPTIME;
    if (!parse_i64(t[3].p, t[3].len, &exptime))
        goto refuse;
    e = ERR_BAD_CAS_UNIQUE;
    if (op == STORE_CAS && !parse_u64(t[5].p, t[5].len, &cas))
        goto refuse;
    item *it = NULL;
    if ((size_t)vlen > settings.item_size_max)
        e = ERR_TOO_LARGE;
    else
        it = engine->alloc(t[1].p, t[1].len, flags, clock_realtime(exptime),
                           (uint32_t)vlen + 2, &e);
    if (!it) {
        if (e == ERR_TOO_LARGE)
            STAT_INCR(store_too_large);
        else
            STAT_INCR(store_no_memory);
        struct err_ctx ctx = {
            .clsid = -1, .size = item_total((uint8_t)t[1].len, (uint32_t)vlen + 2)
        };
        conn_error_ctx(c, e, &ctx);
        struct hist_event ev = { .kind = HK_reject, .what = err_info(e)->name,
                                 .code = err_info(e)->code, .clsid = -1,
                                 .conn_id = c->id, .size = (uint64_t)vlen };
        history_set_key(&ev, t[1].p, t[1].len);
        snprintf(ev.peer, sizeof(ev.peer), "%s", c->peer);
        history_add(&ev);
        /* A set that cannot be stored must not leave the old value to be
         * read as if it were current (memcached does the same). */
        if (op == STORE_SET)
            engine->remove(t[1].p, t[1].len, 0, REMOVE_SERVER);
        swallow(c, (size_t)vlen + 2);
        return;
    }
    STAT_INCR(cmd_set);
    STAT_CLASS_INCR(cmd_set, it->clsid);
    text_note_exptime(exptime);
    it->cas = cas;
    if (__atomic_load_n(&prefix_enabled, __ATOMIC_RELAXED))
        prefix_record(t[1].p, t[1].len, PREFIX_SET, false);
    c->nr_item = it;
    c->nr_dst = item_data(it);
    c->nr_left = (size_t)vlen + 2;
    c->nr_op = op;
    conn_set_state(c, CONN_NREAD);
    return;

refuse:
    /* The line itself is malformed, so its length cannot be trusted either:
     * like memcached, do not skip the data (it will read as commands). */
    conn_error(c, e);
}

void proto_text_complete_nread(struct conn *c)
{
    item *it = c->nr_item;
    enum store_op op = c->nr_op;
    enum err_site e = ERR_UNKNOWN_COMMAND;
    c->nr_item = NULL;

    if (c->nr_meta && proto_meta_complete_nread) {
        /* A meta set (ms) owns this value; it answers in its own words. */
        c->nr_item = it;
        proto_meta_complete_nread(c);
        return;
    }
    if (memcmp(item_data(it) + it->nbytes - 2, "\r\n", 2) != 0) {
        conn_error(c, ERR_BAD_DATA_CHUNK);
        engine->release(it);
        return;
    }
    enum store_result r = engine->store(it, op, NULL, &e);
    if (op == STORE_CAS) {
        if (r == STORE_STORED)
            STAT_INCR(cas_hits);
        else if (r == STORE_EXISTS)
            STAT_INCR(cas_badval);
        else if (r == STORE_NOT_FOUND)
            STAT_INCR(cas_misses);
    }
    engine->release(it);
    if (r == STORE_ERROR) {
        STAT_INCR(store_no_memory);
        conn_error(c, e);
        return;
    }
    if (c->noreply)
        return;
    switch (r) {
    case STORE_STORED: REPLY(c, "STORED\r\n"); break;
    case STORE_NOT_STORED: REPLY(c, "NOT_STORED\r\n"); break;
    case STORE_EXISTS: REPLY(c, "EXISTS\r\n"); break;
    case STORE_NOT_FOUND: REPLY(c, "NOT_FOUND\r\n"); break;
    case STORE_ERROR: break;
    }
}

/* --- the other item commands --------------------------------------------- */

static void process_arith(struct conn *c, struct token *t, size_t nt, bool incr)
{
    uint64_t delta;
    char buf[24];
    enum err_site e = ERR_NO_MEMORY_INCR;

    if (nt != 3 && nt != 4) {
        conn_error(c, ERR_BAD_ARG_COUNT);
        return;
    }
    /* A trailing noreply counts even where the delta should be, as in
     * memcached: "incr k noreply" fails silently. */
    c->noreply = is_noreply(&t[nt - 1]);
    if (!text_key_ok(c, &t[1]))
        return;
    if (!parse_u64(t[2].p, t[2].len, &delta)) {
        conn_error(c, ERR_DELTA_BAD);
        return;
    }
    switch (engine->arith(t[1].p, t[1].len, incr, delta, 0, buf, NULL, &e)) {
    case DELTA_OK:
        if (incr)
            STAT_INCR(incr_hits);
        else
            STAT_INCR(decr_hits);
        if (!c->noreply) {
            size_t n = strlen(buf);
            memcpy(buf + n, "\r\n", 2);
            conn_add_text(c, buf, n + 2);
        }
        break;
    case DELTA_NOT_FOUND:
        if (incr)
            STAT_INCR(incr_misses);
        else
            STAT_INCR(decr_misses);
        if (!c->noreply)
            REPLY(c, "NOT_FOUND\r\n");
        break;
    case DELTA_NON_NUMERIC:
        conn_error(c, ERR_DELTA_NON_NUMERIC);
        break;
    case DELTA_EXISTS:
        if (!c->noreply)
            REPLY(c, "EXISTS\r\n");
        break;
    case DELTA_ERROR:
        conn_error(c, e);
        break;
    }
}

static void process_touch(struct conn *c, struct token *t, size_t nt)
{
    int64_t ex;
    if (nt != 3 && nt != 4) {
        conn_error(c, ERR_BAD_ARG_COUNT);
        return;
    }
    c->noreply = is_noreply(&t[nt - 1]);     /* as in process_arith */
    if (!text_key_ok(c, &t[1]))
        return;
    if (!parse_i64(t[2].p, t[2].len, &ex)) {
        conn_error(c, ERR_TOUCH_BAD_EXPTIME);
        return;
    }
    item *it = engine->touch(t[1].p, t[1].len, clock_realtime(ex));
    hold_note(it);
    STAT_INCR(cmd_touch);
    if (it) {
        STAT_INCR(touch_hits);
        engine->release(it);
        if (!c->noreply)
            REPLY(c, "TOUCHED\r\n");
    } else {
        STAT_INCR(touch_misses);
        if (!c->noreply)
            REPLY(c, "NOT_FOUND\r\n");
    }
}

static void process_delete(struct conn *c, struct token *t, size_t nt)
{
    if (nt < 2 || nt > 4) {
        conn_error(c, ERR_BAD_ARG_COUNT);
        return;
    }
    if (nt > 2) {
        bool zero = TOK_IS(&t[2], "0");
        bool noreply = is_noreply(&t[nt - 1]);
        bool valid = (nt == 3 && (zero || noreply)) || (nt == 4 && zero && noreply);
        c->noreply = noreply;   /* silences the usage error too, as memcached */
        if (!valid) {
            conn_error(c, ERR_DELETE_USAGE);
            return;
        }
    }
    if (!text_key_ok(c, &t[1]))
        return;
    if (__atomic_load_n(&prefix_enabled, __ATOMIC_RELAXED))
        prefix_record(t[1].p, t[1].len, PREFIX_DELETE, false);
    if (engine->remove(t[1].p, t[1].len, 0, REMOVE_CLIENT) == STORE_STORED) {
        STAT_INCR(delete_hits);
        if (!c->noreply)
            REPLY(c, "DELETED\r\n");
    } else {
        STAT_INCR(delete_misses);
        if (!c->noreply)
            REPLY(c, "NOT_FOUND\r\n");
    }
}

static void process_flush(struct conn *c, struct token *t, size_t nt)
{
    int64_t delay = 0;
    if (nt > 3) {
        conn_error(c, ERR_BAD_ARG_COUNT);
        return;
    }
    c->noreply = nt > 1 && is_noreply(&t[nt - 1]);
    STAT_INCR(cmd_flush);   /* refused ones too, as memcached counts */
    if (!settings.flush_enabled) {
        conn_error(c, ERR_FLUSH_DISABLED);
        return;
    }
    if (nt - (c->noreply ? 1 : 0) == 2 && !parse_i64(t[1].p, t[1].len, &delay)) {
        conn_error(c, ERR_FLUSH_BAD_DELAY);
        return;
    }
    engine->flush(delay);
    /* Who emptied the cache is evidence worth keeping. */
    struct hist_event ev = { .kind = HK_flush, .what = "flush_all", .clsid = -1,
                             .conn_id = c->id, .size = (uint64_t)(delay > 0 ? delay : 0) };
    snprintf(ev.peer, sizeof(ev.peer), "%s", c->peer);
    history_add(&ev);
    if (!c->noreply)
        REPLY(c, "OK\r\n");
}

static void process_verbosity(struct conn *c, struct token *t, size_t nt)
{
    uint32_t level;
    if (nt != 2 && nt != 3) {
        conn_error(c, ERR_BAD_ARG_COUNT);
        return;
    }
    c->noreply = is_noreply(&t[nt - 1]);
    if (c->noreply && nt == 2) {
        /* "verbosity noreply" has no level; memcached's ERROR for it is
         * silenced by the noreply, and clients (memcapable) rely on that */
        conn_error(c, ERR_BAD_ARG_COUNT);
        return;
    }
    if (!parse_u32(t[1].p, t[1].len, &level)) {
        conn_error(c, ERR_VERBOSITY_FORMAT);
        return;
    }
    __atomic_store_n(&settings.verbose, (int)(level > 3 ? 3 : level), __ATOMIC_RELAXED);
    if (!c->noreply)
        REPLY(c, "OK\r\n");
}

/* slabs reassign SRC DST | slabs automove 0|1|2 (| ratio R), with
 * memcached's replies word for word. */
static void process_slabs(struct conn *c, struct token *t, size_t nt)
{
    if (nt == 4 && TOK_IS(&t[1], "reassign")) {
        int32_t src, dst;
        if (!parse_i32(t[2].p, t[2].len, &src) || !parse_i32(t[3].p, t[3].len, &dst)) {
            conn_error(c, ERR_SLABS_REASSIGN_FORMAT);
            return;
        }
        switch (engine->reassign(src, dst)) {
        case REASSIGN_OK: REPLY(c, "OK\r\n"); break;
        case REASSIGN_RUNNING: REPLY(c, "BUSY currently processing reassign request\r\n"); break;
        case REASSIGN_BADCLASS: REPLY(c, "BADCLASS invalid src or dst class id\r\n"); break;
        case REASSIGN_NOSPARE: REPLY(c, "NOSPARE source class has no spare pages\r\n"); break;
        case REASSIGN_SAME: REPLY(c, "SAME src and dst class are identical\r\n"); break;
        }
        return;
    }
    if (nt < 3 || !TOK_IS(&t[1], "automove")) {
        conn_error(c, ERR_SLABS_USAGE);
        return;
    }
    c->noreply = is_noreply(&t[nt - 1]);
    uint32_t level;
    if (TOK_IS(&t[2], "ratio")) {
        /* memcached's automover knob; mcd's automover has none, so accept
         * a number and change nothing */
        char num[32], *end;
        size_t n = nt >= 4 && t[3].len < sizeof(num) ? t[3].len : 0;
        memcpy(num, t[3].p, n);
        num[n] = '\0';
        if (n == 0 || (strtod(num, &end), *end != '\0')) {
            conn_error(c, ERR_SLABS_USAGE);
            return;
        }
    } else if (!parse_u32(t[2].p, t[2].len, &level)) {
        conn_error(c, ERR_SLABS_AUTOMOVE_FORMAT);
        return;
    } else if (level > 2) {
        conn_error(c, ERR_SLABS_AUTOMOVE_LEVEL);
        return;
    } else {
        __atomic_store_n(&settings.slab_automove, (int)level, __ATOMIC_RELAXED);
        engine->set_automove((int)level);
    }
    if (!c->noreply)
        REPLY(c, "OK\r\n");
}

static void process_command(struct conn *c, const char *line, size_t len)
{
    struct token t[MAX_TOKENS];
    size_t nt = text_tokenize(line, len, t, MAX_TOKENS);

    c->noreply = false;
    if (__atomic_load_n(&settings.verbose, __ATOMIC_RELAXED) > 1)
        fprintf(stderr, "<%d %.*s\n", c->fd, (int)len, line);
    if (nt == 0) {
        conn_cmd_begin(c, CMD_unknown, NULL, 0);
        conn_error(c, ERR_EMPTY_COMMAND);
        return;
    }
    const struct token *cmd = &t[0];
    {
        enum cmd_id id = cmd_lookup(cmd->p, cmd->len);
        /* the first key: after the exptime for gat/gats */
        size_t k = (id == CMD_gat || id == CMD_gats) ? 2 : 1;
        if (k < nt && k < MAX_TOKENS)
            conn_cmd_begin(c, id, t[k].p, t[k].len);
        else
            conn_cmd_begin(c, id, NULL, 0);
    }
    if (err_inject(ERR_TEST_STALL)) {
        err_raise(ERR_TEST_STALL, c->id);
        sleep(3);
    }
    /* Retrieval walks the line itself: it may hold any number of keys. */
    if (TOK_IS(cmd, "get") || TOK_IS(cmd, "gets") || TOK_IS(cmd, "gat") ||
        TOK_IS(cmd, "gats")) {
        bool touch = cmd->p[1] == 'a';
        bool cas = cmd->p[cmd->len - 1] == 's';
        process_get(c, line, len, (size_t)(cmd->p - line) + cmd->len, cas, touch);
        return;
    }
    if (nt > MAX_TOKENS) {
        conn_error(c, ERR_TOO_MANY_TOKENS);
        return;
    }
    if (cmd->len == 2 && cmd->p[0] == 'm' && proto_meta_command &&
        proto_meta_command(c, t, nt, line, len))
        return;

    if (TOK_IS(cmd, "set"))
        process_update(c, t, nt, STORE_SET);
    else if (TOK_IS(cmd, "add"))
        process_update(c, t, nt, STORE_ADD);
    else if (TOK_IS(cmd, "replace"))
        process_update(c, t, nt, STORE_REPLACE);
    else if (TOK_IS(cmd, "append"))
        process_update(c, t, nt, STORE_APPEND);
    else if (TOK_IS(cmd, "prepend"))
        process_update(c, t, nt, STORE_PREPEND);
    else if (TOK_IS(cmd, "cas"))
        process_update(c, t, nt, STORE_CAS);
    else if (TOK_IS(cmd, "delete"))
        process_delete(c, t, nt);
    else if (TOK_IS(cmd, "incr"))
        process_arith(c, t, nt, true);
    else if (TOK_IS(cmd, "decr"))
        process_arith(c, t, nt, false);
    else if (TOK_IS(cmd, "touch"))
        process_touch(c, t, nt);
    else if (TOK_IS(cmd, "stats"))
        text_stats(c, t, nt);
    else if (TOK_IS(cmd, "lru_crawler"))
        proto_crawler_command(c, t, nt);
    else if (TOK_IS(cmd, "flush_all"))
        process_flush(c, t, nt);
    else if (TOK_IS(cmd, "version"))
        REPLY(c, "VERSION " MCD_WIRE_VERSION "\r\n");
    else if (TOK_IS(cmd, "verbosity"))
        process_verbosity(c, t, nt);
    else if (TOK_IS(cmd, "slabs"))
        process_slabs(c, t, nt);
    else if (TOK_IS(cmd, "quit")) {
        conn_close_after_write(c, "quit");
    } else if (TOK_IS(cmd, "shutdown")) {
        if (!settings.shutdown_command) {
            conn_error(c, ERR_SHUTDOWN_DISABLED);
            return;
        }
        kill(getpid(), SIGTERM);
        conn_close_after_write(c, "shutdown command");
    } else {
        conn_error(c, ERR_UNKNOWN_COMMAND);
    }
}

static bool is_retrieval(const char *p, size_t n)
{
    return (n >= 4 && (memcmp(p, "get ", 4) == 0 || memcmp(p, "gat ", 4) == 0)) ||
           (n >= 5 && (memcmp(p, "gets ", 5) == 0 || memcmp(p, "gats ", 5) == 0));
}

bool proto_text_try_command(struct conn *c)
{
    char *start = c->rbuf + c->rpos;
    char *nl = memchr(start, '\n', c->rbytes);
    if (!nl) {
        bool full = c->rpos + c->rbytes == c->rsize && c->rpos == 0;
        if ((c->rbytes > LINE_MAX_NONGET && !is_retrieval(start, c->rbytes)) ||
            (full && c->rsize >= 1024 * 1024)) {
            conn_error(c, ERR_LINE_TOO_LONG);
            c->rbytes = 0;
            conn_close_after_write(c, "line too long");
            return true;
        }
        return false;
    }
    size_t consumed = (size_t)(nl - start) + 1;
    size_t len = consumed - 1;
    if (len && start[len - 1] == '\r')
        len--;
    c->rpos += consumed;
    c->rbytes -= consumed;
    __atomic_store_n(&c->last_cmd, clock_now(), __ATOMIC_RELAXED);
    process_command(c, start, len);
    if (c->state != CONN_NREAD)
        conn_cmd_end(c);    /* a value still to come is timed when whole */
    return true;
}
