/*
 * proto_bin.c - memcached's binary protocol, written from the protocol's
 * public description (protocol_binary.h's frame layout and opcodes) and
 * checked reply for reply against memcached 1.6.18.
 *
 * A request is served in three steps: the header alone is validated (so a
 * refused frame is answered and its body discarded without ever being
 * buffered whole), then extras and key are sliced from the read buffer in
 * place, then the command runs. A value is read straight into the item
 * allocated for it (CONN_NREAD) and stored in proto_bin_complete_nread().
 *
 * Quiet commands (the Q opcodes) skip the reply nobody waits for: a GetQ
 * miss, a SetQ success. Failures are always answered. Replies queue on the
 * connection's chain and leave when the input runs dry, so a batch of quiet
 * requests ended by a Noop comes back in order in one write.
 *
 * Failures answer with the registry's status and text plus the site code,
 * e.g. "object too large for cache [E2101]". Outcomes that are not failures
 * (not found, exists, not stored) answer with memcached's words, as the
 * text protocol answers NOT_FOUND without a registry row.
 */
#include "hold.h"
#include "hotkeys.h"
#include "proto_bin.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "conn.h"
#include "history.h"
#include "prefix.h"
#include "settings.h"
#include "stats.h"
#include "stats_text.h"

/* Per-connection state: the request being served. Allocated on the first
 * binary request and freed by conn_close(). */
struct bin_state {
    struct bin_req req;
    const struct bin_cmd *cmd;
    enum store_op op;           /* the store a value being read will do */
    uint32_t vlen;              /* that value's length, without "\r\n" */
};

/* Arithmetic create-then-retry rounds before giving up on a hot key. */
#define ARITH_RACE_TRIES 8
/* Incr/Decr expiry that means "do not create a missing counter". */
#define ARITH_NO_CREATE 0xffffffffu

/* --- the opcode table ---------------------------------------------------- */

#define GETTER(nm, cid, kd, ext, q, k) \
    { .name = nm, .id = cid, .kind = kd, .extlen = ext, .key = KEY_REQUIRED, \
      .quiet = q, .with_key = k }
#define STORER(nm, cid, o, ext, q) \
    { .name = nm, .id = cid, .kind = BK_STORE, .extlen = ext, .key = KEY_REQUIRED, \
      .value = true, .quiet = q, .op = o }
#define ARITH(nm, cid, in, q) \
    { .name = nm, .id = cid, .kind = BK_ARITH, .extlen = 20, .key = KEY_REQUIRED, \
      .quiet = q, .incr = in }
#define SIMPLE(nm, cid, kd, ext, k, q) \
    { .name = nm, .id = cid, .kind = kd, .extlen = ext, .key = k, .quiet = q }

static const struct bin_cmd commands[256] = {
    [BIN_GET] = GETTER("get", CMD_bin_get, BK_GET, 0, false, false),
    [BIN_GETQ] = GETTER("getq", CMD_bin_get, BK_GET, 0, true, false),
    [BIN_GETK] = GETTER("getk", CMD_bin_get, BK_GET, 0, false, true),
    [BIN_GETKQ] = GETTER("getkq", CMD_bin_get, BK_GET, 0, true, true),
    [BIN_GAT] = GETTER("gat", CMD_bin_gat, BK_GAT, 4, false, false),
    [BIN_GATQ] = GETTER("gatq", CMD_bin_gat, BK_GAT, 4, true, false),
    [BIN_GATK] = GETTER("gatk", CMD_bin_gat, BK_GAT, 4, false, true),
    [BIN_GATKQ] = GETTER("gatkq", CMD_bin_gat, BK_GAT, 4, true, true),
    [BIN_TOUCH] = GETTER("touch", CMD_bin_touch, BK_TOUCH, 4, false, false),
    [BIN_SET] = STORER("set", CMD_bin_set, STORE_SET, 8, false),
    [BIN_SETQ] = STORER("setq", CMD_bin_set, STORE_SET, 8, true),
    [BIN_ADD] = STORER("add", CMD_bin_add, STORE_ADD, 8, false),
    [BIN_ADDQ] = STORER("addq", CMD_bin_add, STORE_ADD, 8, true),
    [BIN_REPLACE] = STORER("replace", CMD_bin_replace, STORE_REPLACE, 8, false),
    [BIN_REPLACEQ] = STORER("replaceq", CMD_bin_replace, STORE_REPLACE, 8, true),
    [BIN_APPEND] = STORER("append", CMD_bin_append, STORE_APPEND, 0, false),
    [BIN_APPENDQ] = STORER("appendq", CMD_bin_append, STORE_APPEND, 0, true),
    [BIN_PREPEND] = STORER("prepend", CMD_bin_prepend, STORE_PREPEND, 0, false),
    [BIN_PREPENDQ] = STORER("prependq", CMD_bin_prepend, STORE_PREPEND, 0, true),
    [BIN_DELETE] = SIMPLE("delete", CMD_bin_delete, BK_DELETE, 0, KEY_REQUIRED, false),
    [BIN_DELETEQ] = SIMPLE("deleteq", CMD_bin_delete, BK_DELETE, 0, KEY_REQUIRED, true),
    [BIN_INCREMENT] = ARITH("incr", CMD_bin_incr, true, false),
    [BIN_INCREMENTQ] = ARITH("incrq", CMD_bin_incr, true, true),
    [BIN_DECREMENT] = ARITH("decr", CMD_bin_decr, false, false),
    [BIN_DECREMENTQ] = ARITH("decrq", CMD_bin_decr, false, true),
    [BIN_QUIT] = SIMPLE("quit", CMD_bin_quit, BK_QUIT, 0, KEY_NONE, false),
    [BIN_QUITQ] = SIMPLE("quitq", CMD_bin_quit, BK_QUIT, 0, KEY_NONE, true),
    [BIN_FLUSH] = SIMPLE("flush", CMD_bin_flush, BK_FLUSH, BIN_EXTRAS_0_OR_4, KEY_NONE, false),
    [BIN_FLUSHQ] = SIMPLE("flushq", CMD_bin_flush, BK_FLUSH, BIN_EXTRAS_0_OR_4, KEY_NONE, true),
    [BIN_NOOP] = SIMPLE("noop", CMD_bin_noop, BK_NOOP, 0, KEY_NONE, false),
    [BIN_VERSION] = SIMPLE("version", CMD_bin_version, BK_VERSION, 0, KEY_NONE, false),
    [BIN_STAT] = SIMPLE("stat", CMD_bin_stat, BK_STAT, 0, KEY_OPTIONAL, false),
    [BIN_VERBOSITY] = SIMPLE("verbosity", CMD_bin_verbosity, BK_VERBOSITY, 4, KEY_NONE, false),
    /* Known so they are refused as unsupported rather than unknown; their
     * shape is not checked since they are never served. */
    [BIN_SASL_LIST_MECHS] = SIMPLE("sasl_list_mechs", CMD_bin_other, BK_SASL, 0, KEY_OPTIONAL, false),
    [BIN_SASL_AUTH] = SIMPLE("sasl_auth", CMD_bin_other, BK_SASL, 0, KEY_OPTIONAL, false),
    [BIN_SASL_STEP] = SIMPLE("sasl_step", CMD_bin_other, BK_SASL, 0, KEY_OPTIONAL, false),
};

const struct bin_cmd *bin_cmd_find(uint8_t opcode)
{
    const struct bin_cmd *cmd = &commands[opcode];
    return cmd->name ? cmd : NULL;
}

/* --- framing: pure functions, unit-tested -------------------------------- */

static uint16_t get16(const unsigned char *p) { return (uint16_t)(p[0] << 8 | p[1]); }

static uint32_t get32(const unsigned char *p)
{
    return (uint32_t)p[0] << 24 | (uint32_t)p[1] << 16 | (uint32_t)p[2] << 8 | p[3];
}

static uint64_t get64(const unsigned char *p)
{
    return (uint64_t)get32(p) << 32 | get32(p + 4);
}

static void put16(unsigned char *p, uint16_t v) { p[0] = (unsigned char)(v >> 8); p[1] = (unsigned char)v; }

static void put32(unsigned char *p, uint32_t v)
{
    put16(p, (uint16_t)(v >> 16));
    put16(p + 2, (uint16_t)v);
}

static void put64(unsigned char *p, uint64_t v)
{
    put32(p, (uint32_t)(v >> 32));
    put32(p + 4, (uint32_t)v);
}

void bin_header_decode(const unsigned char *p, struct bin_req *r)
{
    r->magic = p[0];
    r->opcode = p[1];
    r->keylen = get16(p + 2);
    r->extlen = p[4];
    r->datatype = p[5];
    r->vbucket = get16(p + 6);
    r->bodylen = get32(p + 8);
    r->opaque = get32(p + 12);
    r->cas = get64(p + 16);
}

void bin_header_encode(unsigned char *p, uint8_t opcode, uint16_t keylen,
                       uint8_t extlen, uint16_t status, uint32_t bodylen,
                       uint32_t opaque, uint64_t cas)
{
    p[0] = BIN_RES_MAGIC;
    p[1] = opcode;
    put16(p + 2, keylen);
    p[4] = extlen;
    p[5] = 0;               /* raw bytes */
    put16(p + 6, status);
    put32(p + 8, bodylen);
    put32(p + 12, opaque);
    put64(p + 16, cas);
}

static bool extras_fit(const struct bin_cmd *cmd, uint8_t extlen)
{
    if (cmd->extlen == BIN_EXTRAS_0_OR_4)
        return extlen == 0 || extlen == 4;
    return extlen == cmd->extlen;
}

static bool key_fits(const struct bin_cmd *cmd, uint16_t keylen)
{
    switch (cmd->key) {
    case KEY_NONE: return keylen == 0;
    case KEY_REQUIRED: return keylen > 0;
    case KEY_OPTIONAL: return true;
    }
    return false;
}

enum err_site bin_req_check(const struct bin_req *r, const struct bin_cmd *cmd,
                            size_t item_size_max)
{
    if (r->magic != BIN_REQ_MAGIC)
        return ERR_BIN_BAD_MAGIC;
    if ((uint32_t)r->keylen + r->extlen > r->bodylen)
        return ERR_BIN_BODY_LENGTH;
    if (r->keylen > KEY_MAX_LENGTH)
        return ERR_BIN_KEY_TOO_LONG;
    if (!cmd)
        return ERR_BIN_UNKNOWN_OPCODE;
    if (cmd->kind == BK_SASL)
        return ERR_BIN_SASL_UNSUPPORTED;
    if (!extras_fit(cmd, r->extlen))
        return ERR_BIN_EXTRAS;
    if (!key_fits(cmd, r->keylen))
        return ERR_BIN_KEY_LENGTH;
    uint32_t vlen = r->bodylen - r->keylen - r->extlen;
    if (!cmd->value && vlen > 0)
        return ERR_BIN_VALUE_UNEXPECTED;
    if (vlen > item_size_max)
        return ERR_TOO_LARGE;
    return ERR__COUNT;
}

size_t bin_error_text(enum err_site e, char *buf, size_t size)
{
    const struct err_info *info = err_info(e);
    const char *msg = info->message;
    /* A message that follows its class word directly (": shutdown not
     * enabled") reads without the colon once the class word is gone. */
    while (*msg == ':' || *msg == ' ')
        msg++;
    int n = snprintf(buf, size, "%s [E%04d]", msg, info->code);
    if (n < 0)
        n = 0;
    return (size_t)n < size ? (size_t)n : size - 1;
}

/* --- replies ------------------------------------------------------------- */

/* The parts of one response. Everything but an item value is copied into
 * the chain; item_len counts a value that follows from item memory. */
struct bin_reply {
    uint16_t status;
    const void *ext;
    uint8_t extlen;
    const void *key;
    uint16_t keylen;
    const void *body;
    uint32_t bodylen;
    uint32_t item_len;
    uint64_t cas;
};

static bool bin_reply(struct conn *c, const struct bin_reply *r)
{
    struct bin_state *st = c->proto_state;
    size_t small = BIN_HEADER_LEN + r->extlen + r->keylen + r->bodylen;
    unsigned char *p = (unsigned char *)conn_reserve(c, small);
    if (!p)
        return false;
    uint32_t total = r->extlen + r->keylen + r->bodylen + r->item_len;
    bin_header_encode(p, st->req.opcode, r->keylen, r->extlen, r->status, total,
                      st->req.opaque, settings.use_cas ? r->cas : 0);
    unsigned char *s = p + BIN_HEADER_LEN;
    if (r->extlen)
        memcpy(s, r->ext, r->extlen);
    s += r->extlen;
    if (r->keylen)
        memcpy(s, r->key, r->keylen);
    s += r->keylen;
    if (r->bodylen)
        memcpy(s, r->body, r->bodylen);
    conn_commit(c, small);
    return true;
}

static void bin_ok(struct conn *c, uint64_t cas)
{
    bin_reply(c, &(struct bin_reply){ .status = BIN_STATUS_OK, .cas = cas });
}

/* A non-failure outcome other than success, in memcached's words. */
static void bin_outcome(struct conn *c, uint16_t status)
{
    const char *text = status == BIN_STATUS_NOT_FOUND ? "Not found" :
                       status == BIN_STATUS_EXISTS ? "Data exists for key." :
                       "Not stored.";
    bin_reply(c, &(struct bin_reply){
        .status = status, .body = text, .bodylen = (uint32_t)strlen(text) });
}

static void bin_error_ctx(struct conn *c, enum err_site e, struct err_ctx *ctx)
{
    char text[256];
    size_t n = bin_error_text(e, text, sizeof(text));
    ctx->conn_id = c->id;
    err_raise_ctx(e, ctx);
    c->outcome = err_info(e)->cls == R_SERVER ? OUT_FAILED : OUT_REJECTED;
    if (__atomic_load_n(&settings.verbose, __ATOMIC_RELAXED) > 0)
        fprintf(stderr, ">%d binary %s (%s)\n", c->fd, text, err_info(e)->name);
    bin_reply(c, &(struct bin_reply){
        .status = err_info(e)->bin_status, .body = text, .bodylen = (uint32_t)n });
}

static void bin_error(struct conn *c, enum err_site e)
{
    struct err_ctx ctx = { .clsid = -1 };
    bin_error_ctx(c, e, &ctx);
}

/* --- retrieval and touch ------------------------------------------------- */

/* GAT counts as a touch only, as memcached counts it (and as text gat). */
static void count_get(const struct bin_cmd *cmd, const char *key, uint16_t nkey,
                      bool hit)
{
    if (cmd->kind != BK_GET && cmd->kind != BK_GAT)
        return;
    if (cmd->kind == BK_GET) {
        STAT_INCR(cmd_get);
        if (hit)
            STAT_INCR(get_hits);
        else
            STAT_INCR(get_misses);
    }
    if (__atomic_load_n(&prefix_enabled, __ATOMIC_RELAXED))
        prefix_record(key, nkey, PREFIX_GET, hit);
}

static void count_touch(const struct bin_cmd *cmd, bool hit)
{
    if (cmd->kind != BK_GAT && cmd->kind != BK_TOUCH)
        return;
    STAT_INCR(cmd_touch);
    if (hit)
        STAT_INCR(touch_hits);
    else
        STAT_INCR(touch_misses);
}

/* Get, GetK, GAT, GATK, Touch and their quiet forms: a hit answers the
 * flags as extras, the key for the K forms, and the value except for
 * Touch; a miss is silent for the quiet forms. */
static void bin_get(struct conn *c, const struct bin_cmd *cmd,
                    const unsigned char *ext, const char *key, uint16_t nkey)
{
    item *it;
    if (cmd->kind == BK_GET)
        it = engine->get(key, nkey);
    else
        it = engine->touch(key, nkey, clock_realtime(get32(ext)));
    hold_note(it);
    hotkeys_note(key, nkey, it ? item_vlen(it) : 0);
    count_get(cmd, key, nkey, it != NULL);
    count_touch(cmd, it != NULL);

    if (!it) {
        if (cmd->quiet)
            return;
        if (cmd->with_key)  /* memcached answers the key, without words */
            bin_reply(c, &(struct bin_reply){
                .status = BIN_STATUS_NOT_FOUND, .key = key, .keylen = nkey });
        else
            bin_outcome(c, BIN_STATUS_NOT_FOUND);
        return;
    }
    unsigned char flags[4];
    put32(flags, it->flags);
    bool value = cmd->kind != BK_TOUCH;
    bool sent = bin_reply(c, &(struct bin_reply){
        .status = BIN_STATUS_OK, .ext = flags, .extlen = 4,
        .key = cmd->with_key ? key : NULL, .keylen = cmd->with_key ? nkey : 0,
        .item_len = value ? item_vlen(it) : 0, .cas = it->cas });
    /* An empty value adds no iovec: conn_flush() cannot advance past a
     * zero-length one (sendmsg() returns 0). */
    if (sent && value && item_vlen(it) > 0) {
        conn_add_item(c, it, item_data(it), item_vlen(it));  /* holds it */
        return;
    }
    engine->release(it);
}

/* --- storage ------------------------------------------------------------- */

/* A value that will not be stored (over -I, or no memory): answer, leave
 * evidence in the reject history, discard the value. A plain Set must not
 * leave the old value to be read as if it were current, so it goes too
 * (as memcached and mcd's text protocol do). */
static void bin_store_refuse(struct conn *c, const struct bin_state *st,
                             const char *key, uint16_t nkey, enum err_site e)
{
    uint32_t vlen = st->req.bodylen - nkey - st->req.extlen;
    if (e == ERR_TOO_LARGE)
        STAT_INCR(store_too_large);
    else
        STAT_INCR(store_no_memory);
    struct err_ctx ctx = { .clsid = -1, .size = item_total((uint8_t)nkey, vlen + 2) };
    bin_error_ctx(c, e, &ctx);

    struct hist_event ev = { .kind = HK_reject, .what = err_info(e)->name,
                             .code = err_info(e)->code, .clsid = -1,
                             .conn_id = c->id, .size = vlen };
    history_set_key(&ev, key, nkey);
    snprintf(ev.peer, sizeof(ev.peer), "%s", c->peer);
    history_add(&ev);

    if (st->cmd->op == STORE_SET && st->req.cas == 0)
        engine->remove(key, nkey, 0, REMOVE_SERVER);
    c->swallow = vlen;
    conn_set_state(c, CONN_SWALLOW);
}

/* Set, Add, Replace, Append, Prepend: allocate the item and let conn.c read
 * the value into it. A non-zero CAS turns Set/Add/Replace into a compare
 * and swap (as memcached does); Append/Prepend compare it in the engine. */
static void bin_store(struct conn *c, struct bin_state *st,
                      const unsigned char *ext, const char *key, uint16_t nkey)
{
    const struct bin_cmd *cmd = st->cmd;
    uint32_t flags = cmd->extlen ? get32(ext) : 0;
    uint32_t exptime = cmd->extlen ? get32(ext + 4) : 0;
    uint32_t vlen = st->req.bodylen - nkey - st->req.extlen;
    enum err_site e = ERR_NO_MEMORY_NO_EVICT;

    st->op = cmd->op;
    if (st->req.cas && (cmd->op == STORE_SET || cmd->op == STORE_ADD ||
                        cmd->op == STORE_REPLACE))
        st->op = STORE_CAS;
    st->vlen = vlen;
    item *it = engine->alloc(key, nkey, flags, clock_realtime(exptime), vlen + 2, &e);
    if (!it) {
        bin_store_refuse(c, st, key, nkey, e);
        return;
    }
    STAT_INCR(cmd_set);
    STAT_CLASS_INCR(cmd_set, it->clsid);
    it->cas = st->req.cas;
    if (__atomic_load_n(&prefix_enabled, __ATOMIC_RELAXED))
        prefix_record(key, nkey, PREFIX_SET, false);
    c->nr_item = it;
    c->nr_dst = item_data(it);
    c->nr_left = vlen;
    c->nr_op = st->op;
    conn_set_state(c, CONN_NREAD);
}

static void count_cas(enum store_op op, enum store_result r)
{
    if (op != STORE_CAS)
        return;
    if (r == STORE_STORED)
        STAT_INCR(cas_hits);
    else if (r == STORE_EXISTS)
        STAT_INCR(cas_badval);
    else if (r == STORE_NOT_FOUND)
        STAT_INCR(cas_misses);
}

/* What memcached answers when a store did not happen: an Add lost to an
 * existing key, a Replace found none, an Append/Prepend had nothing. */
static uint16_t not_stored_status(enum store_op op)
{
    if (op == STORE_ADD)
        return BIN_STATUS_EXISTS;
    if (op == STORE_REPLACE)
        return BIN_STATUS_NOT_FOUND;
    return BIN_STATUS_NOT_STORED;
}

void proto_bin_complete_nread(struct conn *c)
{
    struct bin_state *st = c->proto_state;
    item *it = c->nr_item;
    enum err_site e = ERR_NO_MEMORY_NO_EVICT;
    uint64_t cas = 0;
    c->nr_item = NULL;

    /* The item stores its value followed by "\r\n" (see item.h). */
    memcpy(item_data(it) + st->vlen, "\r\n", 2);
    enum store_result r = engine->store(it, st->op, &cas, &e);
    count_cas(st->op, r);
    engine->release(it);

    switch (r) {
    case STORE_STORED:
        if (!st->cmd->quiet)
            bin_ok(c, cas);
        break;
    case STORE_EXISTS:
        bin_outcome(c, BIN_STATUS_EXISTS);
        break;
    case STORE_NOT_FOUND:
        bin_outcome(c, BIN_STATUS_NOT_FOUND);
        break;
    case STORE_NOT_STORED:
        bin_outcome(c, not_stored_status(st->op));
        break;
    case STORE_ERROR:
        STAT_INCR(store_no_memory);
        bin_error(c, e);
        break;
    }
}

/* --- delete and arithmetic ----------------------------------------------- */

static void bin_delete(struct conn *c, const struct bin_state *st,
                       const char *key, uint16_t nkey)
{
    if (__atomic_load_n(&prefix_enabled, __ATOMIC_RELAXED))
        prefix_record(key, nkey, PREFIX_DELETE, false);
    switch (engine->remove(key, nkey, st->req.cas, REMOVE_CLIENT)) {
    case STORE_STORED:
        STAT_INCR(delete_hits);
        if (!st->cmd->quiet)
            bin_ok(c, 0);
        break;
    case STORE_EXISTS:
        bin_outcome(c, BIN_STATUS_EXISTS);
        break;
    default:
        STAT_INCR(delete_misses);
        bin_outcome(c, BIN_STATUS_NOT_FOUND);
        break;
    }
}

/* Store a missing counter with its initial value. STORE_NOT_STORED means
 * another client created it first; the caller then retries the arith. */
static enum store_result arith_create(const char *key, uint16_t nkey,
                                      uint64_t initial, uint32_t exptime,
                                      uint64_t *cas, enum err_site *e)
{
    char buf[24];
    size_t len = fmt_u64(buf, initial);
    item *it = engine->alloc(key, nkey, 0, clock_realtime(exptime),
                             (uint32_t)len + 2, e);
    if (!it)
        return STORE_ERROR;
    memcpy(item_data(it), buf, len);
    memcpy(item_data(it) + len, "\r\n", 2);
    enum store_result r = engine->store(it, STORE_ADD, cas, e);
    engine->release(it);
    return r;
}

static void arith_count(bool incr, bool hit)
{
    if (incr && hit)
        STAT_INCR(incr_hits);
    else if (incr)
        STAT_INCR(incr_misses);
    else if (hit)
        STAT_INCR(decr_hits);
    else
        STAT_INCR(decr_misses);
}

static void arith_reply(struct conn *c, bool quiet, uint64_t value, uint64_t cas)
{
    unsigned char be[8];
    if (quiet)
        return;
    put64(be, value);
    bin_reply(c, &(struct bin_reply){
        .status = BIN_STATUS_OK, .body = be, .bodylen = 8, .cas = cas });
}

/* Increment/Decrement: extras are delta, initial value and expiry. A
 * missing counter is created with the initial value unless the expiry is
 * 0xffffffff; if the create loses a race to another client, the arith is
 * simply tried again on the counter that client made. */
static void bin_arith(struct conn *c, const struct bin_state *st,
                      const unsigned char *ext, const char *key, uint16_t nkey)
{
    const struct bin_cmd *cmd = st->cmd;
    uint64_t delta = get64(ext), initial = get64(ext + 8);
    uint32_t exptime = get32(ext + 16);
    enum err_site e = ERR_NO_MEMORY_INCR;
    char buf[24];
    uint64_t cas = 0, value;

    for (int tries = 0; tries < ARITH_RACE_TRIES; tries++) {
        switch (engine->arith(key, nkey, cmd->incr, delta, st->req.cas, buf, &cas, &e)) {
        case DELTA_OK:
            arith_count(cmd->incr, true);
            if (!parse_u64(buf, strlen(buf), &value))
                value = 0;  /* the engine wrote it: cannot happen */
            arith_reply(c, cmd->quiet, value, cas);
            return;
        case DELTA_NON_NUMERIC:
            bin_error(c, ERR_DELTA_NON_NUMERIC);
            return;
        case DELTA_EXISTS:
            bin_outcome(c, BIN_STATUS_EXISTS);
            return;
        case DELTA_ERROR:
            bin_error(c, e);
            return;
        case DELTA_NOT_FOUND:
            break;
        }
        /* a miss only when answered as one: a counter created with its
         * initial value counts nowhere, as memcached counts it */
        if (exptime == ARITH_NO_CREATE) {
            arith_count(cmd->incr, false);
            bin_outcome(c, BIN_STATUS_NOT_FOUND);
            return;
        }
        switch (arith_create(key, nkey, initial, exptime, &cas, &e)) {
        case STORE_STORED:
            arith_reply(c, cmd->quiet, initial, cas);
            return;
        case STORE_ERROR:
            STAT_INCR(store_no_memory);
            bin_error(c, e);
            return;
        default:
            break;  /* lost the race: the counter exists now */
        }
    }
    bin_outcome(c, BIN_STATUS_EXISTS);
}

/* --- the small commands -------------------------------------------------- */

static void bin_stat_emit(void *ctx, const char *name, const char *value)
{
    struct conn *c = ctx;
    size_t nl = strlen(name), vl = strlen(value);
    bin_reply(c, &(struct bin_reply){
        .status = BIN_STATUS_OK, .key = name, .keylen = (uint16_t)nl,
        .body = value, .bodylen = (uint32_t)vl });
}

/* Stat: one response per statistic, then an empty one that ends the list. */
static void bin_stat(struct conn *c, const char *key, uint16_t nkey)
{
    if (nkey == 5 && memcmp(key, "reset", 5) == 0) {
        stats_reset();
    } else if (!stats_group(key, nkey, bin_stat_emit, c)) {
        bin_error(c, ERR_BIN_STATS_UNKNOWN);
        return;
    }
    bin_ok(c, 0);
}

static void bin_flush(struct conn *c, const struct bin_state *st,
                      const unsigned char *ext)
{
    if (!settings.flush_enabled) {
        bin_error(c, ERR_FLUSH_DISABLED);
        return;
    }
    int64_t delay = st->req.extlen == 4 ? (int64_t)get32(ext) : 0;
    STAT_INCR(cmd_flush);
    engine->flush(delay);
    /* Who emptied the cache is evidence worth keeping. */
    struct hist_event ev = { .kind = HK_flush, .what = "binary flush", .clsid = -1,
                             .conn_id = c->id, .size = (uint64_t)delay };
    snprintf(ev.peer, sizeof(ev.peer), "%s", c->peer);
    history_add(&ev);
    if (!st->cmd->quiet)
        bin_ok(c, 0);
}

static void bin_quit(struct conn *c, const struct bin_state *st)
{
    if (!st->cmd->quiet)
        bin_ok(c, 0);
    /* Whatever is queued (quiet replies included) leaves before the close. */
    conn_close_after_write(c, "quit");
}

static void bin_verbosity(struct conn *c, const unsigned char *ext)
{
    uint32_t level = get32(ext);
    __atomic_store_n(&settings.verbose, (int)(level > 3 ? 3 : level), __ATOMIC_RELAXED);
    bin_ok(c, 0);
}

static void bin_version(struct conn *c)
{
    bin_reply(c, &(struct bin_reply){
        .status = BIN_STATUS_OK, .body = MCD_WIRE_VERSION,
        .bodylen = sizeof(MCD_WIRE_VERSION) - 1 });
}

/* --- dispatch ------------------------------------------------------------ */

static void bin_dispatch(struct conn *c, struct bin_state *st,
                         const unsigned char *ext, const char *key)
{
    uint16_t nkey = st->req.keylen;
    switch (st->cmd->kind) {
    case BK_GET:
    case BK_GAT:
    case BK_TOUCH: bin_get(c, st->cmd, ext, key, nkey); break;
    case BK_STORE: bin_store(c, st, ext, key, nkey); break;
    case BK_DELETE: bin_delete(c, st, key, nkey); break;
    case BK_ARITH: bin_arith(c, st, ext, key, nkey); break;
    case BK_QUIT: bin_quit(c, st); break;
    case BK_FLUSH: bin_flush(c, st, ext); break;
    case BK_NOOP: bin_ok(c, 0); break;
    case BK_VERSION: bin_version(c); break;
    case BK_STAT: bin_stat(c, key, nkey); break;
    case BK_VERBOSITY: bin_verbosity(c, ext); break;
    case BK_SASL: break;    /* refused by bin_req_check() */
    }
}

/* A frame that does not start with the request magic: nothing after it
 * can be located, so answer once and close. The header may be incomplete
 * or garbage, so only its opcode byte is echoed. */
static void bin_bad_magic(struct conn *c, struct bin_state *st)
{
    memset(&st->req, 0, sizeof(st->req));
    if (c->rbytes > 1)
        st->req.opcode = (uint8_t)c->rbuf[c->rpos + 1];
    conn_cmd_begin(c, CMD_bin_other, NULL, 0);
    bin_error(c, ERR_BIN_BAD_MAGIC);
    conn_cmd_end(c);
    c->rbytes = 0;
    conn_close_after_write(c, "bad binary magic");
}

static struct bin_state *bin_state_get(struct conn *c)
{
    if (!c->proto_state) {
        c->proto_state = err_inject(ERR_BIN_STATE_MALLOC) ? NULL :
                         calloc(1, sizeof(struct bin_state));
        if (!c->proto_state)
            err_raise(ERR_BIN_STATE_MALLOC, c->id);
    }
    return c->proto_state;
}

/* Refused on the header alone: answer, then discard the body so the next
 * frame is found where the client put it. */
static void bin_refuse_header(struct conn *c, struct bin_state *st, enum err_site e)
{
    c->rpos += BIN_HEADER_LEN;
    c->rbytes -= BIN_HEADER_LEN;
    conn_cmd_begin(c, st->cmd ? st->cmd->id : CMD_bin_other, NULL, 0);
    bin_error(c, e);
    conn_cmd_end(c);
    c->swallow = st->req.bodylen;
    conn_set_state(c, CONN_SWALLOW);
}

bool proto_bin_try_command(struct conn *c)
{
    if (c->rbytes == 0)
        return false;
    struct bin_state *st = bin_state_get(c);
    if (!st) {
        conn_closing(c, "out of memory");
        return true;
    }
    const unsigned char *p = (const unsigned char *)c->rbuf + c->rpos;
    if (p[0] != BIN_REQ_MAGIC) {
        bin_bad_magic(c, st);
        return true;
    }
    if (c->rbytes < BIN_HEADER_LEN)
        return false;

    bin_header_decode(p, &st->req);
    st->cmd = bin_cmd_find(st->req.opcode);
    enum err_site e = bin_req_check(&st->req, st->cmd, settings.item_size_max);
    if (e == ERR_BIN_BODY_LENGTH) {
        /* The header contradicts itself: the next frame cannot be found,
         * so answer once and close, as memcached does. */
        bin_refuse_header(c, st, e);
        c->swallow = 0;
        conn_close_after_write(c, "binary body length smaller than key and extras");
        return true;
    }
    /* A value over -I is refused once its key is in hand: a Set then drops
     * the stale value, and the reject history names the key. */
    if (e != ERR__COUNT && e != ERR_TOO_LARGE) {
        bin_refuse_header(c, st, e);
        return true;
    }
    size_t fixed = BIN_HEADER_LEN + st->req.extlen + st->req.keylen;
    if (c->rbytes < fixed)
        return false;   /* at most 24 + 20 + 250 bytes: fits any buffer */

    c->rpos += fixed;
    c->rbytes -= fixed;
    __atomic_store_n(&c->last_cmd, clock_now(), __ATOMIC_RELAXED);
    const unsigned char *ext = p + BIN_HEADER_LEN;
    const char *key = (const char *)ext + st->req.extlen;
    conn_cmd_begin(c, st->cmd->id, st->req.keylen ? key : NULL, st->req.keylen);
    if (__atomic_load_n(&settings.verbose, __ATOMIC_RELAXED) > 1)
        fprintf(stderr, "<%d binary %s %.*s\n", c->fd, st->cmd->name,
                (int)st->req.keylen, key);
    if (e == ERR_TOO_LARGE)
        bin_store_refuse(c, st, key, st->req.keylen, e);
    else
        bin_dispatch(c, st, ext, key);
    if (c->state != CONN_NREAD)
        conn_cmd_end(c);    /* a value still to come is timed when whole */
    return true;
}
