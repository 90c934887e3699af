/*
 * item_rules.h - the store rules every engine follows, written once and
 * compiled into each engine: get, touch, append/prepend joins, the store
 * modes with their CAS rules, delete and incr/decr. An engine defines the
 * macros below for its own locks and item primitives, then includes this
 * file where its engine functions live. A template rather than a table of
 * function pointers, so the set and get paths make no indirect calls.
 *
 *   ENG_LOCK(hv), ENG_UNLOCK(hv)           the item lock of a key hash
 *   ENG_GET_LOCKED(key, nkey, hv, bump)    live item with a reference, or NULL
 *   ENG_BUMP(it, read), ENG_LINK(it, hv), ENG_REPLACE(old, it, hv), ENG_UNLINK(it, hv)
 *   ENG_ALLOC(key, nkey, flags, exptime, nbytes, err), ENG_RELEASE(it)
 *   ENG_NEXT_CAS()                         the next CAS of the store sequence
 *   ENG_FIND(key, nkey, hv), ENG_IS_FLUSHED(it), ENG_IS_EXPIRED(it, now),
 *   ENG_REF_INCR(it)                       table lookup and item state
 *   ENG_GET_LOCKED: the name of the lookup defined here (shared with meta.c)
 *   ENG_GET, ENG_TOUCH, ENG_STORE, ENG_REMOVE, ENG_ARITH  (static) and
 *   ENG_JOIN (shared with the engine's meta.c): the names of the functions
 *   defined here
 *   ENG_NOTE_TTL(exptime)                  optional: told of every exptime
 *                                          set on an item after its alloc
 *   ENG_RECLAIM(it, hv)                    under lock(hv): count a dead item
 *                                          as the crawler's and unlink it
 */
#ifndef MCD_ENGINE_ITEM_RULES_H
#define MCD_ENGINE_ITEM_RULES_H

#include "../stats.h"
#include "arith.h"

#ifndef ENG_NOTE_TTL
#define ENG_NOTE_TTL(exptime) ((void)(exptime))
#endif

/* Under lock(hv): the live item for key with a new reference, or NULL.
 * Dead items found on the way are unlinked (lazy expiry). */
item *ENG_GET_LOCKED(const char *key, size_t nkey, uint32_t hv, bool bump)
{
    item *it = ENG_FIND(key, nkey, hv);
    if (!it)
        return NULL;
    if (ENG_IS_FLUSHED(it)) {
        ENG_UNLINK(it, hv);
        STAT_INCR(get_flushed);
        return NULL;
    }
    if (ENG_IS_EXPIRED(it, clock_now())) {
        ENG_UNLINK(it, hv);
        STAT_INCR(get_expired);
        return NULL;
    }
    ENG_REF_INCR(it);
    if (bump)
        ENG_BUMP(it, true);
    return it;
}

static item *ENG_GET(const char *key, size_t nkey)
{
    uint32_t hv = hash_key(key, nkey);
    ENG_LOCK(hv);
    item *it = ENG_GET_LOCKED(key, nkey, hv, true);
    ENG_UNLOCK(hv);
    if (it)
        STAT_CLASS_INCR(get_hits, it->clsid);
    return it;
}

static item *ENG_TOUCH(const char *key, size_t nkey, rel_time_t exptime)
{
    uint32_t hv = hash_key(key, nkey);
    ENG_LOCK(hv);
    item *it = ENG_GET_LOCKED(key, nkey, hv, true);
    if (it) {
        it->exptime = exptime;
        ENG_NOTE_TTL(exptime);
        STAT_CLASS_INCR(touch_hits, it->clsid);
    }
    ENG_UNLOCK(hv);
    return it;
}

/* Under lock(hv): build old+it (append) or it+old (prepend) as a new item. */
item *ENG_JOIN(item *old, item *it, enum store_op op, enum err_site *err)
{
    uint64_t nbytes = (uint64_t)old->nbytes + it->nbytes - 2;
    if (nbytes - 2 > settings.item_size_max) {
        *err = ERR_APPEND_TOO_LARGE;
        return NULL;
    }
    item *n = ENG_ALLOC(item_key(old), old->nkey, old->flags, old->exptime,
                         (uint32_t)nbytes, err);
    if (!n) {
        *err = *err == ERR_TOO_LARGE ? ERR_APPEND_TOO_LARGE : ERR_NO_MEMORY_APPEND;
        return NULL;
    }
    if (op == STORE_APPEND) {
        memcpy(item_data(n), item_data(old), old->nbytes - 2);
        memcpy(item_data(n) + old->nbytes - 2, item_data(it), it->nbytes);
    } else {
        memcpy(item_data(n), item_data(it), it->nbytes - 2);
        memcpy(item_data(n) + it->nbytes - 2, item_data(old), old->nbytes);
    }
    return n;
}

static enum store_result ENG_STORE(item *it, enum store_op op, uint64_t *cas,
                                    enum err_site *err)
{
    const char *key = item_key(it);
    uint32_t hv = hash_key(key, it->nkey);
    enum store_result res = STORE_NOT_STORED;
    item *n = NULL;

    ENG_LOCK(hv);
    item *old = ENG_GET_LOCKED(key, it->nkey, hv, false);
    switch (op) {
    case STORE_ADD:
        if (old) {
            /* up the LRU, as memcached's add does, but no read */
            ENG_BUMP(old, false);
            res = STORE_NOT_STORED;
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
        } else if (old->cas != it->cas) {
            STAT_CLASS_INCR(cas_badval, old->clsid);
            res = STORE_EXISTS;
        } else {
            STAT_CLASS_INCR(cas_hits, old->clsid);
            ENG_REPLACE(old, it, hv);
            res = STORE_STORED;
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
    if (res == STORE_STORED && cas)
        *cas = n ? n->cas : it->cas;
    ENG_UNLOCK(hv);
    if (n)
        ENG_RELEASE(n);
    if (old)
        ENG_RELEASE(old);
    return res;
}

static enum store_result ENG_REMOVE(const char *key, size_t nkey, uint64_t cas,
                                     enum remove_by by)
{
    uint32_t hv = hash_key(key, nkey);
    enum store_result res = STORE_NOT_FOUND;
    ENG_LOCK(hv);
    if (by == REMOVE_DEAD) {
        item *d = ENG_FIND(key, nkey, hv);
        if (d && d->cas == cas && (ENG_IS_FLUSHED(d) || ENG_IS_EXPIRED(d, clock_now()))) {
            ENG_RECLAIM(d, hv);
            res = STORE_STORED;
        }
        ENG_UNLOCK(hv);
        return res;
    }
    item *it = ENG_GET_LOCKED(key, nkey, hv, false);
    if (it) {
        if (cas != 0 && cas != it->cas) {
            res = STORE_EXISTS;
        } else {
            if (by == REMOVE_CLIENT)
                STAT_CLASS_INCR(delete_hits, it->clsid);
            ENG_UNLINK(it, hv);
            res = STORE_STORED;
        }
        ENG_RELEASE(it);
    }
    ENG_UNLOCK(hv);
    return res;
}

static enum delta_result ENG_ARITH(const char *key, size_t nkey, bool incr,
                                    uint64_t delta, uint64_t cas_in, char *buf,
                                    uint64_t *cas, enum err_site *err)
{
    uint32_t hv = hash_key(key, nkey);
    enum delta_result res;
    size_t len;
    ENG_LOCK(hv);
    item *it = ENG_GET_LOCKED(key, nkey, hv, false);
    if (!it) {
        res = DELTA_NOT_FOUND;
        goto done;
    }
    ENG_BUMP(it, false);        /* up the LRU, but an incr is no read */
    res = arith_next(it, incr, delta, cas_in, buf, &len);
    if (res != DELTA_OK)
        goto done;
    if (arith_in_place(it, buf, len)) {
        it->cas = ENG_NEXT_CAS();
        if (cas)
            *cas = it->cas;
        res = DELTA_OK;
        goto done;
    }
    item *n = ENG_ALLOC(key, nkey, it->flags, it->exptime, (uint32_t)len + 2, err);
    if (!n || err_inject(ERR_NO_MEMORY_INCR)) {
        if (n)
            ENG_RELEASE(n);
        *err = ERR_NO_MEMORY_INCR;
        res = DELTA_ERROR;
        goto done;
    }
    memcpy(item_data(n), buf, len);
    memcpy(item_data(n) + len, "\r\n", 2);
    ENG_REPLACE(it, n, hv);
    if (cas)
        *cas = n->cas;
    ENG_RELEASE(n);
    res = DELTA_OK;
done:
    ENG_UNLOCK(hv);
    if (it)
        ENG_RELEASE(it);
    return res;
}

#endif /* MCD_ENGINE_ITEM_RULES_H */

