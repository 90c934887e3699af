/*
 * evict_rules.h - how both engines free an item at an LRU's tail for a
 * store that needs memory, written once and compiled into each (a
 * template, as item_rules.h): which tail items may go, the second chance
 * of items read again since their last bump, and memcached's counters of
 * it all. Written twice, the two copies had drifted: the heap engine's
 * lacked the second pass and failed stores under a read-heavy load.
 *
 * An engine defines, then includes this file where its eviction lives:
 *   EV_LRU                     its LRU type: a struct with `lock`
 *                              (pthread_mutex_t), `tail`, and the counters
 *                              lrutail_reflocked, reclaimed,
 *                              expired_unfetched, evicted, evicted_time,
 *                              evicted_nonzero, evicted_unfetched,
 *                              evicted_active, direct_reclaims
 *   EV_TRYLOCK(hv), EV_UNLOCK(hv)  the item lock of a key hash
 *   EV_IS_DEAD(it, now)        expired or flushed
 *   EV_TO_HEAD(l, it)          move it to the head (under l->lock)
 *   EV_FREE(l, it, hv, dead, now)  take it out of the table and the LRU
 *                              (under l->lock and the item lock)
 *   EV_PASS, EV_ONE            the names of the functions defined here
 *   EVICT_SEARCH               tail items looked at per pass
 */
#ifndef MCD_ENGINE_EVICT_RULES_H
#define MCD_ENGINE_EVICT_RULES_H

enum evict_result {
    EVICT_DONE,         /* one item freed */
    EVICT_BUSY,         /* every candidate locked or referenced */
    EVICT_EMPTY,        /* nothing in the LRU */
    EVICT_NONE_DEAD     /* live items only, and live ones may not go */
};

/* memcached's counters of a dead (expired or flushed) item freed from LRU
 * l (under its lock), by a store, a page move, the sweep or the crawler */
#define EV_COUNT_RECLAIM(l, it) do { \
        (l)->reclaimed++; \
        if (!((it)->it_flags & ITEM_FETCHED)) \
            (l)->expired_unfetched++; \
    } while (0)

/* memcached's counters of a live item evicted from LRU l (under its lock),
 * by a store or by a page move */
#define EV_COUNT_EVICTION(l, it, now) do { \
        (l)->evicted++; \
        (l)->evicted_time = (now) - item_time(it); \
        if ((it)->exptime != 0) \
            (l)->evicted_nonzero++; \
        if (!((it)->it_flags & ITEM_FETCHED)) \
            (l)->evicted_unfetched++; \
        if ((it)->it_flags & ITEM_ACTIVE) \
            (l)->evicted_active++; \
    } while (0)

#endif

/*
 * One pass over the tail: frees a dead (expired or flushed) item if one is
 * near the tail, else, when allow_live, the least recently used one nobody
 * references. With second_chance, items read again since their last bump
 * go back to the head instead (*bumped set).
 */
static enum evict_result EV_PASS(EV_LRU *l, bool allow_live, bool second_chance, bool *bumped)
{
    enum evict_result res = EVICT_EMPTY;
    rel_time_t now = clock_now();
    pthread_mutex_lock(&l->lock);
    item *it = l->tail;
    for (int tries = 0; it && tries < EVICT_SEARCH; tries++) {
        item *prev = it->prev;
        uint32_t hv = hash_key(item_key(it), it->nkey);
        res = EVICT_BUSY;
        if (!EV_TRYLOCK(hv)) {
            it = prev;
            continue;
        }
        if (item_refcount(it) != 1) {
            l->lrutail_reflocked++;
            EV_UNLOCK(hv);
            it = prev;
            continue;
        }
        bool dead = EV_IS_DEAD(it, now);
        if (!dead && !allow_live) {
            res = EVICT_NONE_DEAD;
            EV_UNLOCK(hv);
            it = prev;
            continue;
        }
        if (!dead && second_chance && (it->it_flags & ITEM_ACTIVE)) {
            it->it_flags &= (uint8_t)~ITEM_ACTIVE;
            EV_TO_HEAD(l, it);
            EV_UNLOCK(hv);
            *bumped = true;
            it = prev;
            continue;
        }
        if (dead)
            EV_COUNT_RECLAIM(l, it);
        else
            EV_COUNT_EVICTION(l, it, now);
        l->direct_reclaims++;
        EV_FREE(l, it, hv, dead, now);
        EV_UNLOCK(hv);
        res = EVICT_DONE;
        break;
    }
    pthread_mutex_unlock(&l->lock);
    return res;
}

/* When every tail item was read again since its last bump (a read-heavy
 * load), the second chances are spent in one pass and the next evicts the
 * least recently used of them, rather than failing the store
 * (tests/t/regress_evict_active.t). */
static enum evict_result EV_ONE(EV_LRU *l, bool allow_live)
{
    bool bumped = false;
    enum evict_result r = EV_PASS(l, allow_live, true, &bumped);
    if (r != EVICT_DONE && bumped)
        r = EV_PASS(l, allow_live, false, &bumped);
    return r;
}
