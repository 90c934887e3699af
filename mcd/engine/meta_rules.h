/*
 * meta_rules.h - the rules of the meta commands (mg, ms, md, ma) for an
 * engine, written once and compiled into each engine's meta.c: the engine
 * defines the macros below for its own locks and item primitives, then
 * includes this file. A template rather than a table of function pointers,
 * so neither engine pays an indirect call on these paths.
 *
 * Required (all called under the engine's item lock for hv but the lock
 * pair itself):
 *   ENG_LOCK(hv), ENG_UNLOCK(hv)           the item lock of a key hash
 *   ENG_GET_LOCKED(key, nkey, hv, bump)    live item with a reference, or NULL
 *   ENG_BUMP(it, read), ENG_LINK(it, hv), ENG_REPLACE(old, it, hv), ENG_UNLINK(it, hv)
 *   ENG_ALLOC(key, nkey, flags, exptime, nbytes, err), ENG_RELEASE(it)
 *   ENG_JOIN(old, it, op, err)             append/prepend into a new item
 *   ENG_NEXT_CAS(), ENG_OLDEST_CAS(), ENG_CAS_AT_LEAST(c)
 *   ENG_ERR_CLASS                          the slab class for error context
 *   ENG_META_GET, ENG_META_STORE, ENG_META_DELETE, ENG_META_ARITH
 *   ENG_NOTE_TTL(exptime)                  optional, as in item_rules.h
 *                                          the names of the functions defined
 */
#ifndef MCD_ENGINE_META_RULES_H
#define MCD_ENGINE_META_RULES_H

#include "../stats.h"
#include "arith.h"

#ifndef ENG_NOTE_TTL
#define ENG_NOTE_TTL(exptime) ((void)(exptime))
#endif

/*
 * mg, ms, md and ma decide what they answer from an item's state as it was
 * before they touched it (fetched, last access, the win/stale marks), so
 * each runs under the item's lock in one step. The marks live in it_flags:
 * ITEM_STALE (X), ITEM_TOKEN_SENT (W handed out, later callers see Z) and
 * ITEM_KEY_BINARY (k answers in base64).
 */

/* E gives an item a client-chosen CAS; the CAS is also the store sequence
 * flush_all compares against, so one below the flush horizon would make the
 * item invisible the moment it is stored. Refuse those. */
static bool meta_cas_refused(uint64_t new_cas, enum err_site *err)
{
    if (new_cas != 0 && new_cas < ENG_OLDEST_CAS()) {
        *err = ERR_META_CAS_FLUSHED;
        return true;
    }
    ENG_CAS_AT_LEAST(new_cas);
    return false;
}

/* Under lock(hv): a new linked empty item for mg N, or NULL. */
static item *meta_vivify(const char *key, size_t nkey, uint32_t hv,
                         const struct meta_get_opts *o, enum err_site *err)
{
    item *it = ENG_ALLOC(key, nkey, 0, o->vivify_ttl, 2, err);
    if (!it)
        return NULL;
    memcpy(item_data(it), "\r\n", 2);
    if (o->key_binary)
        it->it_flags |= ITEM_KEY_BINARY;
    ENG_LINK(it, hv);
    return it;      /* our alloc reference is the caller's */
}

item *ENG_META_GET(const char *key, size_t nkey, const struct meta_get_opts *o,
                           struct meta_item_info *info, enum err_site *err)
{
    uint32_t hv = hash_key(key, nkey);
    memset(info, 0, sizeof(*info));
    ENG_LOCK(hv);
    item *it = ENG_GET_LOCKED(key, nkey, hv, false);
    if (!it && o->vivify) {
        it = meta_vivify(key, nkey, hv, o, err);
        if (!it) {
            struct err_ctx ctx = { .clsid = ENG_ERR_CLASS, .size = item_total((uint8_t)nkey, 2) };
            err_raise_ctx(ERR_META_VIVIFY_NO_MEMORY, &ctx);
        } else {
            info->created = true;
        }
    }
    if (!it)
        goto done;
    info->fetched = (it->it_flags & ITEM_FETCHED) != 0;
    info->last_access = item_time(it);
    /* As memcached applies mg's flags in order: a hit takes T's exptime; a
     * vivified item starts at 0 and takes N's, then T's if T came later. */
    info->exptime_before = info->created ? 0 : it->exptime;
    if (o->set_ttl && (!info->created || o->ttl_after_vivify)) {
        it->exptime = o->ttl;
        ENG_NOTE_TTL(o->ttl);
    }
    info->token_sent = (it->it_flags & ITEM_TOKEN_SENT) != 0;
    info->stale = (it->it_flags & ITEM_STALE) != 0;
    if (o->claim && !info->token_sent) {
        bool recache = o->recache && !info->created && it->exptime != 0 &&
                       it->exptime < o->recache_before;
        if (info->created || info->stale || recache) {
            info->won = true;
            it->it_flags |= ITEM_TOKEN_SENT;
        }
    }
    if (o->bump)
        ENG_BUMP(it, true); /* a vivified item too: memcached counts it fetched */
done:
    ENG_UNLOCK(hv);
    return it;
}

/* store() with ms's options, decided in one step under the item lock. */
enum store_result ENG_META_STORE(item *it, enum store_op op,
                                         const struct meta_store_opts *o,
                                         uint64_t *cas, enum err_site *err)
{
    const char *key = item_key(it);
    uint32_t hv = hash_key(key, it->nkey);
    enum store_result res = STORE_NOT_STORED;
    item *n = NULL;

    if (meta_cas_refused(o->new_cas, err))
        return STORE_ERROR;
    ENG_LOCK(hv);
    item *old = ENG_GET_LOCKED(key, it->nkey, hv, false);
    switch (op) {
    case STORE_ADD:
        if (old) {
            /* up the LRU, as memcached's add does, but no read */
            ENG_BUMP(old, false);
        } else {
            ENG_LINK(it, hv);
            res = STORE_STORED;
        }
        break;
    case STORE_SET:
        if (old)
            ENG_REPLACE(old, it, hv);
        else
            ENG_LINK(it, hv);
        res = STORE_STORED;
        break;
    case STORE_REPLACE:
        if (old) {
            ENG_REPLACE(old, it, hv);
            res = STORE_STORED;
        }
        break;
    case STORE_CAS:
        if (!old) {
            res = STORE_NOT_FOUND;
        } else if (old->cas == it->cas) {
            STAT_CLASS_INCR(cas_hits, old->clsid);
            ENG_REPLACE(old, it, hv);
            res = STORE_STORED;
        } else if (o->invalidate && it->cas != 0 && it->cas < old->cas) {
            /* ms I: a writer holding an older CAS still stores, but its
             * value keeps the old TTL and stays stale (and won, if it was).
             * C0 is no CAS a writer could hold: refused, as memcached.
             * A cas_hit, as memcached counts it. */
            STAT_CLASS_INCR(cas_hits, old->clsid);
            it->exptime = old->exptime;
            it->it_flags |= ITEM_STALE | (old->it_flags & ITEM_TOKEN_SENT);
            ENG_REPLACE(old, it, hv);
            res = STORE_STORED;
        } else {
            STAT_CLASS_INCR(cas_badval, old->clsid);
            res = STORE_EXISTS;
        }
        break;
    case STORE_APPEND:
    case STORE_PREPEND:
        if (!old)
            break;
        if (it->cas != 0 && it->cas != old->cas) {
            res = STORE_EXISTS;
            break;
        }
        n = ENG_JOIN(old, it, op, err);
        if (!n) {
            res = STORE_ERROR;
            break;
        }
        ENG_REPLACE(old, n, hv);
        res = STORE_STORED;
        break;
    }
    if (res == STORE_STORED) {
        item *stored = n ? n : it;
        if (o->new_cas != 0)
            stored->cas = o->new_cas;
        if (cas)
            *cas = stored->cas;
    }
    ENG_UNLOCK(hv);
    if (n)
        ENG_RELEASE(n);
    if (old)
        ENG_RELEASE(old);
    return res;
}

enum store_result ENG_META_DELETE(const char *key, size_t nkey,
                                          const struct meta_delete_opts *o,
                                          enum err_site *err)
{
    uint32_t hv = hash_key(key, nkey);
    enum store_result res = STORE_NOT_FOUND;

    if (meta_cas_refused(o->new_cas, err))
        return STORE_ERROR;
    ENG_LOCK(hv);
    item *it = ENG_GET_LOCKED(key, nkey, hv, false);
    if (!it)
        goto done;
    if (o->cas != 0 && o->cas != it->cas) {
        res = STORE_EXISTS;
    } else if (o->invalidate) {
        /* Keep the value for stale reads; the next mg wins the recache.
         * Not a delete_hit, as memcached counts md I. */
        if (o->set_ttl) {
            it->exptime = o->ttl;
            ENG_NOTE_TTL(o->ttl);
        }
        it->it_flags |= ITEM_STALE;
        it->it_flags &= (uint8_t)~ITEM_TOKEN_SENT;
        it->cas = o->new_cas ? o->new_cas
                             : ENG_NEXT_CAS();
        res = STORE_STORED;
    } else {
        STAT_CLASS_INCR(delete_hits, it->clsid);
        ENG_UNLINK(it, hv);
        res = STORE_STORED;
    }
    ENG_RELEASE(it);
done:
    ENG_UNLOCK(hv);
    return res;
}

/* Under lock(hv): ma N on a miss stores the initial value. */
static enum delta_result meta_arith_vivify(const char *key, size_t nkey, uint32_t hv,
                                           const struct meta_arith_opts *o, char *buf,
                                           struct meta_arith_info *info,
                                           enum err_site *err)
{
    size_t len = fmt_u64(buf, o->initial);
    item *n = ENG_ALLOC(key, nkey, 0, o->vivify_ttl, (uint32_t)len + 2, err);
    if (!n) {
        *err = ERR_META_MA_VIVIFY_NO_MEMORY;
        return DELTA_ERROR;
    }
    memcpy(item_data(n), buf, len);
    memcpy(item_data(n) + len, "\r\n", 2);
    ENG_LINK(n, hv);
    if (o->new_cas != 0)
        n->cas = o->new_cas;
    info->cas = n->cas;
    info->exptime = n->exptime;
    info->created = true;
    ENG_RELEASE(n);
    return DELTA_OK;
}

enum delta_result ENG_META_ARITH(const char *key, size_t nkey,
                                         const struct meta_arith_opts *o, char *buf,
                                         struct meta_arith_info *info,
                                         enum err_site *err)
{
    uint32_t hv = hash_key(key, nkey);
    enum delta_result res;
    size_t len;
    item *n = NULL;

    memset(info, 0, sizeof(*info));
    if (meta_cas_refused(o->new_cas, err))
        return DELTA_ERROR;
    ENG_LOCK(hv);
    item *it = ENG_GET_LOCKED(key, nkey, hv, false);
    if (!it) {
        res = o->vivify ? meta_arith_vivify(key, nkey, hv, o, buf, info, err)
                        : DELTA_NOT_FOUND;
        goto done;
    }
    ENG_BUMP(it, false);        /* up the LRU, but an ma is no read */
    res = arith_next(it, o->incr, o->delta, o->cas, buf, &len);
    if (res != DELTA_OK)
        goto done;
    item *target = it;
    if (arith_in_place(it, buf, len)) {
        it->cas = ENG_NEXT_CAS();
    } else {
        n = ENG_ALLOC(key, nkey, it->flags, it->exptime, (uint32_t)len + 2, err);
        if (!n) {
            *err = ERR_META_MA_NO_MEMORY;
            res = DELTA_ERROR;
            goto done;
        }
        memcpy(item_data(n), buf, len);
        memcpy(item_data(n) + len, "\r\n", 2);
        ENG_REPLACE(it, n, hv);
        target = n;
    }
    if (o->new_cas != 0)
        target->cas = o->new_cas;
    if (o->set_ttl) {
        target->exptime = o->ttl;
        ENG_NOTE_TTL(o->ttl);
    }
    info->cas = target->cas;
    info->exptime = target->exptime;
    res = DELTA_OK;
done:
    ENG_UNLOCK(hv);
    if (n)
        ENG_RELEASE(n);
    if (it)
        ENG_RELEASE(it);
    return res;
}


#endif /* MCD_ENGINE_META_RULES_H */
