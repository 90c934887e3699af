/*
 * departure.h - the history event (history.h) of an item that leaves
 * without a client deleting it: evicted for room, or reclaimed dead
 * (expired or flushed). Shared by both engines. Called under the item's
 * lock; the history ring's lock is a leaf.
 */
#ifndef MCD_ENGINE_DEPARTURE_H
#define MCD_ENGINE_DEPARTURE_H

#include <stdbool.h>

#include "../history.h"
#include "../item.h"

static inline void departure_note(const item *it, bool dead, bool flushed, const char *why,
                                  rel_time_t now)
{
    struct hist_event ev = {
        .kind = dead ? HK_expiration : HK_eviction,
        .what = dead ? (flushed ? "flushed" : "expired") : why,
        .clsid = it->clsid, .size = item_total(it->nkey, it->nbytes),
        .age = now - item_time(it), .fetched = (it->it_flags & ITEM_FETCHED) != 0,
    };
    history_set_key(&ev, item_key(it), it->nkey);
    history_add(&ev);
}

#endif
