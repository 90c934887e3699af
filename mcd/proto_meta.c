/*
 * proto_meta.c - memcached's meta commands: mg (get), ms (set), md (delete),
 * ma (arithmetic), mn (no-op) and me (debug), as memcached 1.6 answers them
 * (HD VA EN NS EX NF MN ME), with errors from the registry (4xxx).
 *
 * Each command parses its flags once (meta_parse), asks the engine's meta
 * hooks to do the whole job under the item's lock (so what it answers
 * - hit before, last access, stale, won - is what it saw), then writes
 * "<code> <return flags>\r\n" in the order the flags were asked for. A value
 * goes out straight from item memory. ms reads its value into the item like
 * set does; what it must remember until then waits in c->proto_state.
 *
 * Quiet mode (q) drops the replies a pipelining client does not need: EN
 * for mg, HD for ms, md and ma. Errors are always answered.
 */
#include "hold.h"
#include "hotkeys.h"
#include "proto_meta.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "prefix.h"
#include "stats.h"

/* Room for a status line: code, size, every return flag with a number,
 * a base64 key, an opaque and the win/stale marks. */
#define META_LINE_MAX 1024

#define REPLY(c, lit) conn_add_static((c), lit, sizeof(lit) - 1)

/* --- base64 ---------------------------------------------------------------- */

static const char b64_chars[] =
    "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

static int b64_value(unsigned char ch)
{
    if (ch >= 'A' && ch <= 'Z')
        return ch - 'A';
    if (ch >= 'a' && ch <= 'z')
        return ch - 'a' + 26;
    if (ch >= '0' && ch <= '9')
        return ch - '0' + 52;
    if (ch == '+')
        return 62;
    if (ch == '/')
        return 63;
    return -1;
}

size_t meta_b64_decode(const char *in, size_t n, char *out, size_t cap)
{
    size_t o = 0;
    if (n == 0 || n % 4 != 0)
        return 0;
    for (size_t i = 0; i < n; i += 4) {
        int v[4];
        int pad = 0;
        for (int j = 0; j < 4; j++) {
            unsigned char ch = (unsigned char)in[i + j];
            /* '=' only pads the last quantum, at most twice, at its end */
            if (ch == '=' && i + 4 == n && j >= 2) {
                pad++;
                v[j] = 0;
                continue;
            }
            if (pad || (v[j] = b64_value(ch)) < 0)
                return 0;
        }
        uint32_t q = (uint32_t)v[0] << 18 | (uint32_t)v[1] << 12 |
                     (uint32_t)v[2] << 6 | (uint32_t)v[3];
        size_t len = 3 - (size_t)pad;
        if (o + len > cap)
            return 0;
        out[o++] = (char)(q >> 16);
        if (len > 1)
            out[o++] = (char)(q >> 8);
        if (len > 2)
            out[o++] = (char)q;
    }
    return o;
}

size_t meta_b64_encode(const char *in, size_t n, char *out)
{
    const unsigned char *s = (const unsigned char *)in;
    size_t o = 0;
    for (size_t i = 0; i < n; i += 3) {
        size_t left = n - i;
        uint32_t q = (uint32_t)s[i] << 16;
        if (left > 1)
            q |= (uint32_t)s[i + 1] << 8;
        if (left > 2)
            q |= s[i + 2];
        out[o++] = b64_chars[q >> 18 & 63];
        out[o++] = b64_chars[q >> 12 & 63];
        out[o++] = left > 1 ? b64_chars[q >> 6 & 63] : '=';
        out[o++] = left > 2 ? b64_chars[q & 63] : '=';
    }
    return o;
}

/* --- parsing --------------------------------------------------------------- */

/* Flags that answer with data, in the order asked (which apply depends on
 * the command and on hit or miss; see add_ret_flags). */
static bool is_return_flag(char ch)
{
    return ch && strchr("Okcfstlh", ch) != NULL;
}

static bool parse_ttl(const struct token *t, int64_t *out)
{
    return parse_i64(t->p + 1, t->len - 1, out);
}

/* One flag token; the letter is known not to repeat. */
static enum meta_perr parse_flag(const struct token *t, struct meta_req *r)
{
    const char *a = t->p + 1;
    size_t an = t->len - 1;
    switch (t->p[0]) {
    case 'b': r->b = true; break;
    case 'q': r->q = true; break;
    case 'v': r->v = true; break;
    case 'u': r->u = true; break;
    case 'I': r->I = true; break;
    case 'k': case 'c': case 'f': case 's': case 't': case 'l': case 'h':
    case 'P': case 'L':     /* proxy hints: accepted and ignored, as memcached */
        break;
    case 'O':
        if (t->len > META_OPAQUE_MAX)
            return MP_OPAQUE_TOO_LONG;
        memcpy(r->opaque, t->p, t->len);
        r->nopaque = t->len;
        break;
    case 'T':
        r->has_ttl = true;
        return parse_ttl(t, &r->ttl) ? MP_OK : MP_BAD_TOKEN;
    case 'N':
        r->vivify = true;
        return parse_ttl(t, &r->vivify_ttl) ? MP_OK : MP_BAD_TOKEN;
    case 'R':
        r->recache = true;
        return parse_ttl(t, &r->recache_ttl) ? MP_OK : MP_BAD_TOKEN;
    case 'C':
        r->has_cas = true;
        return parse_u64(a, an, &r->cas) ? MP_OK : MP_BAD_TOKEN;
    case 'E':
        r->has_new_cas = true;
        return parse_u64(a, an, &r->new_cas) ? MP_OK : MP_BAD_TOKEN;
    case 'D':
        return parse_u64(a, an, &r->delta) ? MP_OK : MP_BAD_TOKEN;
    case 'J':
        return parse_u64(a, an, &r->initial) ? MP_OK : MP_BAD_TOKEN;
    case 'F':
        return parse_u32(a, an, &r->client_flags) ? MP_OK : MP_BAD_CLIENT_FLAGS;
    case 'M':
        if (t->len != 2)
            return MP_MODE_LENGTH;
        r->mode = t->p[1];
        break;
    default:
        return MP_BAD_FLAG;
    }
    return MP_OK;
}

/* The key: decoded from base64 with b, else free of control bytes. */
static enum meta_perr parse_key(const struct token *key, struct meta_req *r)
{
    if (r->b) {
        r->nkey = meta_b64_decode(key->p, key->len, r->keybuf, sizeof(r->keybuf));
        r->key = r->keybuf;
        return r->nkey ? MP_OK : MP_BAD_BASE64;
    }
    for (size_t i = 0; i < key->len; i++) {
        unsigned char ch = (unsigned char)key->p[i];
        if (ch < 0x20 || ch == 0x7f)
            return MP_KEY_BAD_CHAR;
    }
    r->key = key->p;
    r->nkey = key->len;
    return MP_OK;
}

enum meta_perr meta_parse(enum meta_cmd cmd, const struct token *key,
                          const struct token *f, size_t n, struct meta_req *r)
{
    uint64_t seen[2] = { 0, 0 };

    memset(r, 0, offsetof(struct meta_req, keybuf));
    r->cmd = cmd;
    r->delta = 1;
    if (key->len > KEY_MAX_LENGTH)
        return MP_KEY_TOO_LONG;
    if (n > META_MAX_FLAGS)
        return MP_TOO_MANY_FLAGS;
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)f[i].p[0];
        if (ch >= 128)
            return MP_BAD_FLAG;
        if (seen[ch >> 6] & (1ULL << (ch & 63)))
            return MP_DUP_FLAG;
        seen[ch >> 6] |= 1ULL << (ch & 63);
        enum meta_perr e = parse_flag(&f[i], r);
        if (e != MP_OK)
            return e;
        if (is_return_flag((char)ch))
            r->ret[r->nret++] = (char)ch;
        if (ch == 'T')
            r->pos_T = (uint8_t)(i + 1);
        else if (ch == 'N')
            r->pos_N = (uint8_t)(i + 1);
        else if (ch == 't')
            r->pos_t = (uint8_t)(i + 1);
    }
    return parse_key(key, r);
}

enum err_site meta_parse_site(enum meta_cmd cmd, enum meta_perr e)
{
    /* memcached answers md and ma's flag errors in one phrase. */
    bool mdma = cmd == META_MD || cmd == META_MA;
    switch (e) {
    case MP_BAD_FLAG: return mdma ? ERR_META_MDMA_BAD_FLAG : ERR_META_BAD_FLAG;
    case MP_DUP_FLAG: return mdma ? ERR_META_MDMA_DUP_FLAG : ERR_META_DUP_FLAG;
    case MP_BAD_TOKEN: return mdma ? ERR_META_MDMA_BAD_TOKEN : ERR_META_BAD_TOKEN;
    case MP_BAD_CLIENT_FLAGS:
        return mdma ? ERR_META_MDMA_BAD_TOKEN : ERR_META_BAD_CLIENT_FLAGS;
    case MP_BAD_BASE64: return mdma ? ERR_META_MDMA_BAD_BASE64 : ERR_META_BAD_BASE64;
    case MP_MODE_LENGTH: return mdma ? ERR_META_MDMA_MODE_LENGTH : ERR_META_MODE_LENGTH;
    case MP_OPAQUE_TOO_LONG: return ERR_META_OPAQUE_TOO_LONG;
    case MP_TOO_MANY_FLAGS:
        return cmd == META_MG ? ERR_META_MG_TOO_MANY_FLAGS : ERR_META_TOO_MANY_FLAGS;
    case MP_KEY_TOO_LONG: return ERR_META_KEY_TOO_LONG;
    case MP_KEY_BAD_CHAR: return ERR_META_KEY_BAD_CHAR;
    case MP_OK: break;
    }
    return ERR_META_BAD_FLAG;
}

/* --- replies --------------------------------------------------------------- */

/* What the return flags report about: the item (hit) or only the request. */
struct ret_ctx {
    const item *it;             /* NULL on a miss */
    const char *key;
    size_t nkey;
    bool key_binary;
    uint64_t cas;               /* c */
    rel_time_t exptime;         /* t */
    const struct meta_item_info *info;  /* l h (mg) */
};

static char *put_char_u64(char *p, char flag, uint64_t v)
{
    *p++ = ' ';
    *p++ = flag;
    return p + fmt_u64(p, v);
}

static char *put_ttl(char *p, rel_time_t exptime)
{
    rel_time_t now = clock_now();
    *p++ = ' ';
    *p++ = 't';
    if (exptime == 0) {
        memcpy(p, "-1", 2);
        return p + 2;
    }
    return p + fmt_u64(p, exptime > now ? exptime - now : 0);
}

static char *put_key(char *p, const struct ret_ctx *x)
{
    *p++ = ' ';
    *p++ = 'k';
    if (!x->key_binary) {
        memcpy(p, x->key, x->nkey);
        return p + x->nkey;
    }
    p += meta_b64_encode(x->key, x->nkey, p);
    memcpy(p, " b", 2);
    return p + 2;
}

/* Appends the return flags of r that `allowed` names, in request order. */
static char *add_ret_flags(char *p, const struct meta_req *r, const char *allowed,
                           const struct ret_ctx *x)
{
    for (size_t i = 0; i < r->nret; i++) {
        char f = r->ret[i];
        if (!strchr(allowed, f))
            continue;
        switch (f) {
        case 'O':
            *p++ = ' ';
            memcpy(p, r->opaque, r->nopaque);
            p += r->nopaque;
            break;
        case 'k': p = put_key(p, x); break;
        case 'c': p = put_char_u64(p, 'c', x->cas); break;
        case 't': p = put_ttl(p, x->exptime); break;
        case 'f': p = put_char_u64(p, 'f', x->it->flags); break;
        case 's': p = put_char_u64(p, 's', item_vlen(x->it)); break;
        case 'l': p = put_char_u64(p, 'l', clock_now() - x->info->last_access); break;
        case 'h': p = put_char_u64(p, 'h', x->info->fetched); break;
        }
    }
    return p;
}

/* "<code>[ flags]\r\n" for replies that carry no item data. */
static void reply_code(struct conn *c, const struct meta_req *r, const char *code,
                       const char *allowed, const struct ret_ctx *x)
{
    char *p0 = conn_reserve(c, META_LINE_MAX);
    if (!p0)
        return;
    char *p = p0;
    memcpy(p, code, 2);
    p = add_ret_flags(p + 2, r, allowed, x);
    memcpy(p, "\r\n", 2);
    conn_commit(c, (size_t)(p + 2 - p0));
}

static void miss_ctx(struct ret_ctx *x, const struct meta_req *r)
{
    memset(x, 0, sizeof(*x));
    x->key = r->key;
    x->nkey = r->nkey;
    x->key_binary = r->b;
}

/* --- mg -------------------------------------------------------------------- */

/* The exptime t reports: memcached applies T and N in request order and t
 * reports the exptime at its own place, so "mg k t T30" shows the old TTL
 * and "mg k T30 t" the new one. */
static rel_time_t mg_exptime_at_t(const struct meta_req *r, const struct meta_item_info *info,
                                  rel_time_t ttl, rel_time_t vivify_ttl)
{
    rel_time_t e = info->exptime_before;
    unsigned at = 0;
    if (r->has_ttl && r->pos_T < r->pos_t) {
        e = ttl;
        at = r->pos_T;
    }
    if (info->created && r->pos_N < r->pos_t && r->pos_N > at)
        e = vivify_ttl;
    return e;
}

static void meta_get(struct conn *c, struct meta_req *r)
{
    struct meta_item_info info;
    enum err_site e = ERR_META_VIVIFY_NO_MEMORY;
    struct meta_get_opts o = {
        .bump = !r->u, .claim = true,
        .set_ttl = r->has_ttl, .ttl = clock_realtime(r->ttl),
        .vivify = r->vivify, .vivify_ttl = clock_realtime(r->vivify_ttl),
        .key_binary = r->b,
        .recache = r->recache, .recache_before = clock_realtime(r->recache_ttl),
        .ttl_after_vivify = r->pos_T > r->pos_N,
    };
    item *it = engine->meta_get(r->key, r->nkey, &o, &info, &e);
    hold_note(it);
    hotkeys_note(r->key, r->nkey, it ? item_vlen(it) : 0);

    /* As memcached counts mg: a hit with T is a touch only, in the totals
     * and in the item's class; a miss is a get miss, T or not. Counted
     * here, not in the engine, because me looks items up too. */
    if (!it || !r->has_ttl)
        STAT_INCR(cmd_get);
    if (__atomic_load_n(&prefix_enabled, __ATOMIC_RELAXED))
        prefix_record(r->key, r->nkey, PREFIX_GET, it != NULL);
    if (!it) {
        STAT_INCR(get_misses);
        if (!r->q) {
            struct ret_ctx x;
            miss_ctx(&x, r);
            reply_code(c, r, "EN", "Ok", &x);
        }
        return;
    }
    if (r->has_ttl) {
        STAT_INCR(cmd_touch);
        STAT_INCR(touch_hits);
        STAT_CLASS_INCR(touch_hits, it->clsid);
    } else {
        STAT_INCR(get_hits);
        STAT_CLASS_INCR(get_hits, it->clsid);
    }

    struct ret_ctx x = {
        .it = it, .key = item_key(it), .nkey = it->nkey,
        .key_binary = r->b || (it->it_flags & ITEM_KEY_BINARY),
        .cas = settings.use_cas ? it->cas : 0,
        .exptime = mg_exptime_at_t(r, &info, o.ttl, o.vivify_ttl),
        .info = &info,
    };
    char *p0 = conn_reserve(c, META_LINE_MAX);
    if (!p0) {
        engine->release(it);
        return;
    }
    char *p = p0;
    if (r->v) {
        memcpy(p, "VA ", 3);
        p += 3;
        p += fmt_u64(p, item_vlen(it));
    } else {
        memcpy(p, "HD", 2);
        p += 2;
    }
    p = add_ret_flags(p, r, "Okcfstlh", &x);
    /* Z before X before W, as memcached: a client never sees W with Z. */
    if (info.token_sent) {
        memcpy(p, " Z", 2);
        p += 2;
    }
    if (info.stale) {
        memcpy(p, " X", 2);
        p += 2;
    }
    if (info.won) {
        memcpy(p, " W", 2);
        p += 2;
    }
    memcpy(p, "\r\n", 2);
    conn_commit(c, (size_t)(p + 2 - p0));
    if (r->v)
        conn_add_item(c, it, item_data(it), it->nbytes);   /* takes our reference */
    else
        engine->release(it);
}

/* --- ms -------------------------------------------------------------------- */

/* The store op for ms's mode; -1 when the mode is not one. With C, set and
 * replace become a CAS store (add ignores C; append/prepend check it). */
static int ms_op(const struct meta_req *r)
{
    switch (r->mode) {
    case 0:
    case 'S': return r->has_cas ? STORE_CAS : STORE_SET;
    case 'R': return r->has_cas ? STORE_CAS : STORE_REPLACE;
    case 'E': return STORE_ADD;
    case 'A': return STORE_APPEND;
    case 'P': return STORE_PREPEND;
    }
    return -1;
}

static void swallow(struct conn *c, size_t n)
{
    c->swallow = n;
    conn_set_state(c, CONN_SWALLOW);
}

static void meta_set(struct conn *c, struct meta_req *r, const struct token *t,
                     size_t nt, enum meta_perr pe)
{
    int32_t vlen;
    enum err_site e;

    if (nt < 3 || !parse_i32(t[2].p, t[2].len, &vlen) || vlen < 0 ||
        vlen > INT32_MAX - 2) {
        /* No length: what follows cannot be skipped, as memcached. */
        conn_error(c, ERR_META_BAD_LENGTH);
        return;
    }
    if (pe != MP_OK) {
        e = meta_parse_site(META_MS, pe);
        goto refuse;
    }
    r->ms_op = ms_op(r);
    e = ERR_META_MS_MODE;
    if (r->ms_op < 0)
        goto refuse;
    e = ERR_TOO_LARGE;
    if ((size_t)vlen > settings.item_size_max) {
        STAT_INCR(store_too_large);
        goto refuse;
    }
    text_note_exptime(r->has_ttl ? r->ttl : 0);
    item *it = engine->alloc(r->key, r->nkey, r->client_flags,
                             r->has_ttl ? clock_realtime(r->ttl) : 0,
                             (uint32_t)vlen + 2, &e);
    if (!it) {
        if (e == ERR_TOO_LARGE)
            STAT_INCR(store_too_large);
        else
            STAT_INCR(store_no_memory);
        struct err_ctx ctx = {
            .clsid = -1, .size = item_total((uint8_t)r->nkey, (uint32_t)vlen + 2)
        };
        conn_error_ctx(c, e, &ctx);
        swallow(c, (size_t)vlen + 2);
        return;
    }
    /* counted once there is memory for the value, as memcached counts */
    STAT_INCR(cmd_set);
    STAT_CLASS_INCR(cmd_set, it->clsid);
    it->cas = r->has_cas ? r->cas : 0;
    if (r->b)
        it->it_flags |= ITEM_KEY_BINARY;
    if (__atomic_load_n(&prefix_enabled, __ATOMIC_RELAXED))
        prefix_record(r->key, r->nkey, PREFIX_SET, false);
    c->nr_item = it;
    c->nr_dst = item_data(it);
    c->nr_left = (size_t)vlen + 2;
    c->nr_meta = true;
    conn_set_state(c, CONN_NREAD);
    return;

refuse:
    conn_error(c, e);
    swallow(c, (size_t)vlen + 2);
}

void proto_meta_complete_nread(struct conn *c)
{
    item *it = c->nr_item;
    struct meta_req *r = c->proto_state;
    enum err_site e = ERR_META_BAD_DATA_CHUNK;
    uint64_t cas = 0;

    c->nr_item = NULL;
    c->nr_meta = false;
    if (memcmp(item_data(it) + it->nbytes - 2, "\r\n", 2) != 0) {
        conn_error(c, ERR_META_BAD_DATA_CHUNK);
        engine->release(it);
        return;
    }
    struct meta_store_opts o = {
        .invalidate = r->I, .new_cas = r->has_new_cas ? r->new_cas : 0,
    };
    enum store_op op = (enum store_op)r->ms_op;
    enum store_result res = engine->meta_store(it, op, &o, &cas, &e);
    if (op == STORE_CAS) {
        if (res == STORE_STORED)
            STAT_INCR(cas_hits);
        else if (res == STORE_EXISTS)
            STAT_INCR(cas_badval);
        else if (res == STORE_NOT_FOUND)
            STAT_INCR(cas_misses);
    }
    if (res == STORE_ERROR) {
        if (e != ERR_META_CAS_FLUSHED)
            STAT_INCR(store_no_memory);
        conn_error(c, e);
        engine->release(it);
        return;
    }
    if (!(res == STORE_STORED && r->q)) {
        static const char *const codes[] = {
            [STORE_STORED] = "HD", [STORE_NOT_STORED] = "NS",
            [STORE_EXISTS] = "EX", [STORE_NOT_FOUND] = "NF",
        };
        struct ret_ctx x = {
            .key = item_key(it), .nkey = it->nkey, .key_binary = r->b,
            .cas = res == STORE_STORED && settings.use_cas ? cas : 0,
        };
        reply_code(c, r, codes[res], "Okc", &x);
    }
    engine->release(it);
}

/* --- md -------------------------------------------------------------------- */

static void meta_delete(struct conn *c, struct meta_req *r)
{
    enum err_site e = ERR_META_CAS_FLUSHED;
    struct meta_delete_opts o = {
        .cas = r->has_cas ? r->cas : 0, .invalidate = r->I,
        .set_ttl = r->has_ttl, .ttl = clock_realtime(r->ttl),
        .new_cas = r->has_new_cas ? r->new_cas : 0,
    };
    if (r->has_cas && r->cas == 0)
        o.cas = UINT64_MAX;     /* C0 matches no item, as memcached */
    if (__atomic_load_n(&prefix_enabled, __ATOMIC_RELAXED))
        prefix_record(r->key, r->nkey, PREFIX_DELETE, false);
    enum store_result res = engine->meta_delete(r->key, r->nkey, &o, &e);
    const char *code = "HD";
    switch (res) {
    case STORE_STORED:
        if (!r->I)
            STAT_INCR(delete_hits);
        if (r->q)
            return;
        break;
    case STORE_EXISTS:
        STAT_INCR(delete_misses);
        code = "EX";
        break;
    case STORE_NOT_FOUND:
        STAT_INCR(delete_misses);
        code = "NF";
        break;
    default:
        conn_error(c, e);
        return;
    }
    struct ret_ctx x;
    miss_ctx(&x, r);
    reply_code(c, r, code, "Ok", &x);
}

/* --- ma -------------------------------------------------------------------- */

static void meta_arith(struct conn *c, struct meta_req *r)
{
    bool incr;
    switch (r->mode) {
    case 0: case 'I': case 'i': case '+': incr = true; break;
    case 'D': case 'd': case '-': incr = false; break;
    default:
        conn_error(c, ERR_META_MA_MODE);
        return;
    }
    struct meta_arith_opts o = {
        .incr = incr, .delta = r->delta,
        .cas = r->has_cas ? r->cas : 0,    /* C0 compares nothing here, as memcached */
        .new_cas = r->has_new_cas ? r->new_cas : 0,
        .set_ttl = r->has_ttl, .ttl = clock_realtime(r->ttl),
        .vivify = r->vivify, .vivify_ttl = clock_realtime(r->vivify_ttl),
        .initial = r->initial,
    };
    struct meta_arith_info info;
    enum err_site e = ERR_META_MA_NO_MEMORY;
    char buf[24];
    struct ret_ctx x;
    miss_ctx(&x, r);

    switch (engine->meta_arith(r->key, r->nkey, &o, buf, &info, &e)) {
    case DELTA_OK:
        if (!info.created) {
            if (incr)
                STAT_INCR(incr_hits);
            else
                STAT_INCR(decr_hits);
        }
        if (r->q)
            return;
        break;
    case DELTA_NOT_FOUND:
        if (incr)
            STAT_INCR(incr_misses);
        else
            STAT_INCR(decr_misses);
        reply_code(c, r, "NF", "Ok", &x);
        return;
    case DELTA_EXISTS:
        reply_code(c, r, "EX", "Ok", &x);
        return;
    case DELTA_NON_NUMERIC:
        conn_error(c, ERR_META_MA_NON_NUMERIC);
        return;
    case DELTA_ERROR:
        conn_error(c, e);
        return;
    }
    x.cas = settings.use_cas ? info.cas : 0;
    x.exptime = info.exptime;
    size_t vlen = strlen(buf);
    char *p0 = conn_reserve(c, META_LINE_MAX);
    if (!p0)
        return;
    char *p = p0;
    if (r->v) {
        memcpy(p, "VA ", 3);
        p += 3;
        p += fmt_u64(p, vlen);
    } else {
        memcpy(p, "HD", 2);
        p += 2;
    }
    p = add_ret_flags(p, r, "Okct", &x);
    memcpy(p, "\r\n", 2);
    p += 2;
    if (r->v) {
        memcpy(p, buf, vlen);
        memcpy(p + vlen, "\r\n", 2);
        p += vlen + 2;
    }
    conn_commit(c, (size_t)(p - p0));
}

/* --- me -------------------------------------------------------------------- */

/* memcached's debug line, plus what mcd shows of an item's inside: the
 * references held besides this command's own, and its slab class. */
static void meta_debug(struct conn *c, struct meta_req *r)
{
    struct meta_item_info info;
    enum err_site e = ERR_META_VIVIFY_NO_MEMORY;
    struct meta_get_opts o = { .bump = false, .claim = false };
    STAT_INCR(cmd_meta);
    item *it = engine->meta_get(r->key, r->nkey, &o, &info, &e);
    hold_note(it);
    if (!it) {
        REPLY(c, "EN\r\n");
        return;
    }
    char *p0 = conn_reserve(c, META_LINE_MAX);
    if (!p0) {
        engine->release(it);
        return;
    }
    char *p = p0;
    rel_time_t now = clock_now();
    memcpy(p, "ME ", 3);
    p += 3;
    if (r->b || (it->it_flags & ITEM_KEY_BINARY)) {
        p += meta_b64_encode(item_key(it), it->nkey, p);
    } else {
        memcpy(p, item_key(it), it->nkey);
        p += it->nkey;
    }
    /* exp= is memcached's: now minus exptime, so negative while alive */
    p += sprintf(p, " exp=%lld la=%llu cas=%llu fetch=%s cls=%u size=%zu"
                 " refs=%u slab=%u\r\n",
                 it->exptime == 0 ? -1LL : (long long)now - (long long)it->exptime,
                 (unsigned long long)(now - info.last_access),
                 (unsigned long long)(settings.use_cas ? it->cas : 0),
                 info.fetched ? "yes" : "no", (unsigned)it->clsid,
                 item_total(it->nkey, it->nbytes),
                 (unsigned)(item_refcount(it) - 1), (unsigned)it->clsid);
    conn_commit(c, (size_t)(p - p0));
    engine->release(it);
}

/* --- dispatch -------------------------------------------------------------- */

static bool meta_cmd_of(const struct token *t, enum meta_cmd *out)
{
    switch (t->p[1]) {
    case 'g': *out = META_MG; return true;
    case 's': *out = META_MS; return true;
    case 'd': *out = META_MD; return true;
    case 'a': *out = META_MA; return true;
    case 'e': *out = META_ME; return true;
    }
    return false;
}

static const char *const cmd_names[] = {
    [META_MG] = "mg", [META_MS] = "ms", [META_MD] = "md", [META_MA] = "ma",
    [META_ME] = "me",
};

bool proto_meta_command(struct conn *c, struct token *t, size_t nt,
                        const char *line, size_t len)
{
    enum meta_cmd cmd;
    (void)line;
    (void)len;

    if (t[0].len != 2 || t[0].p[0] != 'm')
        return false;
    if (t[0].p[1] == 'n') {
        c->cur_cmd = "mn";
        REPLY(c, "MN\r\n");
        return true;
    }
    if (!meta_cmd_of(&t[0], &cmd))
        return false;
    c->cur_cmd = cmd_names[cmd];
    if (!engine->meta_get || !engine->meta_store || !engine->meta_delete ||
        !engine->meta_arith) {
        conn_error(c, ERR_META_NO_ENGINE);
        return true;
    }
    if (nt < 2) {
        conn_error(c, cmd == META_ME ? ERR_META_NO_KEY : ERR_META_MISSING_KEY);
        return true;
    }
    if (!c->proto_state) {
        c->proto_state = malloc(sizeof(struct meta_req));
        if (!c->proto_state) {
            conn_error(c, ERR_META_STATE_MALLOC);
            return true;
        }
    }
    struct meta_req *r = c->proto_state;
    c->noreply = false;         /* q hides replies, never errors */
    size_t first = cmd == META_MS ? 3 : 2;     /* ms has its length first */
    enum meta_perr pe = meta_parse(cmd, &t[1], &t[first < nt ? first : nt],
                                   nt > first ? nt - first : 0, r);
    if (cmd == META_MS) {
        meta_set(c, r, t, nt, pe);
        return true;
    }
    if (pe != MP_OK) {
        conn_error(c, meta_parse_site(cmd, pe));
        return true;
    }
    switch (cmd) {
    case META_MG: meta_get(c, r); break;
    case META_MD: meta_delete(c, r); break;
    case META_MA: meta_arith(c, r); break;
    case META_ME: meta_debug(c, r); break;
    case META_MS: break;
    }
    return true;
}
