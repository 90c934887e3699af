/*
 * hold.h - where item references were taken. The protocol code notes each
 * reference it takes (item, source line, time) in its worker's own ring;
 * the locked-item dump reads the rings on their workers and, for a count no
 * recorded holder explains, names the lines that last took that item.
 */
#ifndef MCD_HOLD_H
#define MCD_HOLD_H

#include "item.h"
#include "util.h"

#define HOLD_RING 256

struct take {
    const item *it;
    const char *site;
    rel_time_t when;
};

struct take_ring {
    struct take t[HOLD_RING];
    unsigned next;
};

/* The calling worker's ring; the thread registers it (hold_ring_init). */
extern __thread struct take_ring *take_ring_mine;

static inline void hold_note_at(const item *it, const char *site)
{
#ifdef MCD_NO_TRACKING
    return;
#endif
    struct take_ring *r = take_ring_mine;
    if (!r || !it)
        return;
    struct take *t = &r->t[r->next++ % HOLD_RING];
    t->it = it;
    t->site = site;
    t->when = clock_now();
}

#define HOLD_STR2_(x) #x
#define HOLD_STR_(x) HOLD_STR2_(x)
#define hold_note(it) hold_note_at((it), __FILE__ ":" HOLD_STR_(__LINE__))

#endif /* MCD_HOLD_H */
