/*
 * sweep.h - the bookkeeping of the engines' background expiry sweep,
 * written once: a sweep of the hash table starts only while some item may
 * die unseen (an exptime was given, or a flush happened), and a sweep that
 * ends having met no item that can still die, and no dead one it had to
 * leave, lets the next one wait for new cause.
 *
 * The engine owns the flag, the walk and the unlinking; it calls
 * sweep_start() when its cursor is at the start of the table, sweep_keep()
 * on each item under that item's lock, and sweep_done() when the cursor
 * comes back to the start. It sets the flag on a flush, and for an exptime
 * given to an item only once the item is in the table, under its bucket's
 * lock: noted at allocation, an item linked into a bucket the sweep had
 * already passed, while the flag was still set from before the sweep began,
 * would be left for no sweep at all.
 */
#ifndef MCD_ENGINE_SWEEP_H
#define MCD_ENGINE_SWEEP_H

#include <stdbool.h>

#include "../item.h"

struct sweep {
    rel_time_t now;
    bool again;         /* met an item that may die later, or a held dead one */
    /* For stats (memcached's lru_crawler_starts and _running): written by
     * the sweeping thread only, read by others with relaxed loads. */
    uint64_t starts;
    bool running;
};

/* At the start of the table: true to sweep, clearing *dirty (a store that
 * sets it during the sweep is seen by this sweep or the next). */
static inline bool sweep_start(struct sweep *sw, bool *dirty)
{
    if (!__atomic_exchange_n(dirty, false, __ATOMIC_RELAXED))
        return false;
    sw->again = false;
    __atomic_store_n(&sw->starts, sw->starts + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&sw->running, true, __ATOMIC_RELAXED);
    return true;
}

/* Under the item's lock: true when the sweep must leave it (alive, or dead
 * but referenced), noting whether it is cause for another sweep. */
static inline bool sweep_keep(struct sweep *sw, const item *it, bool dead)
{
    if (!dead) {
        if (it->exptime)
            sw->again = true;
        return true;
    }
    if (item_refcount(it) != 1) {
        sw->again = true;
        return true;
    }
    return false;
}

/* The cursor is back at the start: keep *dirty set if this sweep left
 * anything that can still die. */
static inline void sweep_done(struct sweep *sw, bool *dirty)
{
    __atomic_store_n(&sw->running, false, __ATOMIC_RELAXED);
    if (sw->again)
        __atomic_store_n(dirty, true, __ATOMIC_RELAXED);
}

#endif
