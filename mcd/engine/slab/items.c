/*
 * items.c - items of the slab engine: allocation with eviction, linking
 * into the hash table and the per-class LRU, the store rules (add, replace,
 * append, prepend, cas), arithmetic, touch, delete, flush and expiry; and the
 * `struct engine` that exports them.
 *
 * Reference counting: a linked item holds one reference for the table; each
 * caller of get/touch/alloc holds one more. References are only taken under
 * the item's lock, so an evictor holding that lock and seeing a count of 1
 * knows nobody can be reading the item.
 */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../../history.h"
#include "slab_internal.h"
#include "../../errors.h"
#include "../../settings.h"
#include "../../stats.h"
#include "../../util.h"
#include "../departure.h"
#include "../sweep.h"

/* Items are moved to the LRU head at most this often (seconds). */
#define ITEM_UPDATE_INTERVAL 60
/* How many tail items the evictor looks at before giving up. */
#define EVICT_SEARCH 8

struct lru {
    pthread_mutex_t lock;       /* guards everything below */
    item *head, *tail;
    uint64_t count;             /* linked items */
    uint64_t bytes;             /* their total size */
    uint64_t evicted, evicted_nonzero, evicted_unfetched, expired_unfetched;
    uint64_t reclaimed;
    uint64_t lrutail_reflocked, evicted_active, direct_reclaims, crawler_reclaimed;
    uint64_t crawler_items_checked;     /* atomic: the maintainer adds */
    rel_time_t evicted_time;
};

static struct lru lrus[SLAB_MAX_CLASSES];
static uint64_t cas_counter;        /* atomic */
static uint64_t oldest_cas;         /* atomic: items below are flushed */
static rel_time_t pending_flush;    /* atomic: time of a delayed flush */
static uint64_t curr_items;         /* atomic gauge */
static uint64_t total_items;        /* atomic counter */

/* --- helpers ----------------------------------------------------------- */

uint64_t items_next_cas(void)
{
    return __atomic_add_fetch(&cas_counter, 1, __ATOMIC_RELAXED);
}

/* Keep the sequence ahead of every CAS in use (meta E sets one), or a
 * later flush_all, which invalidates everything below it, would miss it. */
void items_cas_at_least(uint64_t cas)
{
    uint64_t cur = __atomic_load_n(&cas_counter, __ATOMIC_RELAXED);
    while (cur < cas &&
           !__atomic_compare_exchange_n(&cas_counter, &cur, cas, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

uint64_t items_oldest_cas(void)
{
    return __atomic_load_n(&oldest_cas, __ATOMIC_RELAXED);
}

static inline bool item_is_flushed(const item *it)
{
    return it->cas < __atomic_load_n(&oldest_cas, __ATOMIC_RELAXED);
}

static inline bool item_is_expired(const item *it, rel_time_t now)
{
    return it->exptime != 0 && it->exptime <= now;
}

static void item_free(item *it)
{
    size_t total = item_total(it->nkey, it->nbytes);
    slabs_free(it, it->clsid, total);
}

static inline void ref_incr(item *it)
{
    __atomic_add_fetch(&it->refcount, 1, __ATOMIC_ACQ_REL);
}

/* Drops one reference; frees an unlinked item at zero. */
void items_release(item *it)
{
    if (__atomic_sub_fetch(&it->refcount, 1, __ATOMIC_ACQ_REL) == 0)
        item_free(it);
}

/* Under the class's LRU lock. */
static void lru_link_head(struct lru *l, item *it)
{
    it->prev = NULL;
    it->next = l->head;
    if (l->head)
        l->head->prev = it;
    l->head = it;
    if (!l->tail)
        l->tail = it;
}

static void lru_unlink(struct lru *l, item *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        l->head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        l->tail = it->prev;
    it->next = it->prev = NULL;
}

/* Under lock(hv): the table's half of a link: stamp, CAS, bucket, and the
 * reference the table holds. The exptime is noted once the item is in its
 * bucket, under the bucket's lock: a sweep has then either still to visit
 * the bucket or already cleared the flag this sets again. */
static void link_into_table(item *it, uint32_t hv)
{
    it->it_flags |= ITEM_LINKED;
    __atomic_store_n(&it->time, clock_now(), __ATOMIC_RELAXED);
    it->cas = __atomic_add_fetch(&cas_counter, 1, __ATOMIC_RELAXED);
    assoc_insert(it, hv);
    ref_incr(it);
    items_note_ttl(it->exptime);
}

/* Under lock(hv). */
void items_link(item *it, uint32_t hv)
{
    struct lru *l = &lrus[it->clsid];
    link_into_table(it, hv);
    pthread_mutex_lock(&l->lock);
    lru_link_head(l, it);
    l->count++;
    l->bytes += item_total(it->nkey, it->nbytes);
    pthread_mutex_unlock(&l->lock);
    uint64_t n = __atomic_add_fetch(&curr_items, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&total_items, 1, __ATOMIC_RELAXED);
    assoc_note_items(n);
}

/* Under lock(hv) and, if lru_held, the class's LRU lock. */
static void items_unlink_(item *it, uint32_t hv, bool lru_held)
{
    if (!(it->it_flags & ITEM_LINKED))
        return;
    struct lru *l = &lrus[it->clsid];
    it->it_flags &= (uint8_t)~ITEM_LINKED;
    assoc_delete(item_key(it), it->nkey, hv);
    if (!lru_held)
        pthread_mutex_lock(&l->lock);
    lru_unlink(l, it);
    l->count--;
    l->bytes -= item_total(it->nkey, it->nbytes);
    if (!lru_held)
        pthread_mutex_unlock(&l->lock);
    __atomic_sub_fetch(&curr_items, 1, __ATOMIC_RELAXED);
    items_release(it);
}

void items_unlink(item *it, uint32_t hv)
{
    items_unlink_(it, hv, false);
}

/* Under lock(hv). An overwrite within one class swaps the two items in a
 * single hold of the LRU lock, and the item count does not move. */
void items_replace(item *old, item *it, uint32_t hv)
{
    if (!(old->it_flags & ITEM_LINKED) || old->clsid != it->clsid) {
        items_unlink(old, hv);
        items_link(it, hv);
        return;
    }
    struct lru *l = &lrus[it->clsid];
    old->it_flags &= (uint8_t)~ITEM_LINKED;
    assoc_delete(item_key(old), old->nkey, hv);
    link_into_table(it, hv);
    pthread_mutex_lock(&l->lock);
    lru_unlink(l, old);
    lru_link_head(l, it);
    l->bytes -= item_total(old->nkey, old->nbytes);
    l->bytes += item_total(it->nkey, it->nbytes);
    pthread_mutex_unlock(&l->lock);
    __atomic_add_fetch(&total_items, 1, __ATOMIC_RELAXED);
    items_release(old);
}

/* Under lock(hv): note a fetch, and bump to the head if it is time. */
void items_bump(item *it, bool read)
{
    rel_time_t now = clock_now();
    if (read) {
        if (it->it_flags & ITEM_FETCHED)
            it->it_flags |= ITEM_ACTIVE;
        it->it_flags |= ITEM_FETCHED;
    }
    if (item_time(it) + ITEM_UPDATE_INTERVAL < now) {
        struct lru *l = &lrus[it->clsid];
        pthread_mutex_lock(&l->lock);
        if (it->it_flags & ITEM_LINKED) {
            lru_unlink(l, it);
            lru_link_head(l, it);
        }
        pthread_mutex_unlock(&l->lock);
        __atomic_store_n(&it->time, now, __ATOMIC_RELAXED);
    }
}

/* --- eviction ------------------------------------------------------------ */

/* Evidence: an item leaving for lack of room or time (departure.h). */
static void note_departure(const item *it, bool dead, const char *why, rel_time_t now)
{
    departure_note(it, dead, item_is_flushed(it), why, now);
}

static void evict_to_head(struct lru *l, item *it)
{
    lru_unlink(l, it);
    lru_link_head(l, it);
}

static void evict_free(struct lru *l, item *it, uint32_t hv, bool dead, rel_time_t now)
{
    (void)l;
    note_departure(it, dead, "lru tail", now);
    items_unlink_(it, hv, true);
}

#define EV_LRU struct lru
#define EV_TRYLOCK(hv) item_trylock(hv)
#define EV_UNLOCK(hv) item_unlock(hv)
#define EV_IS_DEAD(it, now) (item_is_expired(it, now) || item_is_flushed(it))
#define EV_TO_HEAD evict_to_head
#define EV_FREE evict_free
#define EV_PASS lru_evict_pass
#define EV_ONE lru_evict_one
#include "../evict_rules.h"

/* --- emptying a page that moves to another class ------------------------ */

/* Under lock(hv) and l->lock, it unreferenced but the table's: copy it into
 * another free chunk of its class and put the copy in its place in the
 * table and the LRU (same CAS, times and marks). False if no chunk. */
static bool rescue_locked(struct lru *l, item *it, uint32_t hv)
{
    size_t total = item_total(it->nkey, it->nbytes);
    item *n = slabs_alloc_free(it->clsid, total);
    if (!n)
        return false;
    memcpy(n, it, total);
    n->refcount = 1;
    n->h_next = NULL;
    assoc_delete(item_key(it), it->nkey, hv);
    assoc_insert(n, hv);
    if (n->prev)
        n->prev->next = n;
    else
        l->head = n;
    if (n->next)
        n->next->prev = n;
    else
        l->tail = n;
    it->next = it->prev = NULL;
    it->it_flags &= (uint8_t)~ITEM_LINKED;
    items_release(it);      /* the last reference: slabs_free takes it */
    return true;
}

/*
 * One pass over class id's LRU for the items that live in [start, end),
 * the page being moved: each one nobody references is rescued into another
 * chunk of the class if one is free, else evicted (dead ones reclaimed).
 * Referenced items are left alone and counted in busy; the caller retries.
 */
void items_clear_page(unsigned id, const char *start, const char *end,
                      struct page_clear *pc)
{
    struct lru *l = &lrus[id];
    rel_time_t now = clock_now();
    pthread_mutex_lock(&l->lock);
    item *it = l->tail;
    while (it) {
        item *prev = it->prev;
        if ((char *)it < start || (char *)it >= end) {
            it = prev;
            continue;
        }
        uint32_t hv = hash_key(item_key(it), it->nkey);
        if (!item_trylock(hv)) {
            pc->busy++;
            it = prev;
            continue;
        }
        if (item_refcount(it) != 1) {
            pc->busy++;
        } else if (item_is_expired(it, now) || item_is_flushed(it)) {
            EV_COUNT_RECLAIM(l, it);
            pc->reclaimed++;
            note_departure(it, true, "", now);
            items_unlink_(it, hv, true);
        } else if (rescue_locked(l, it, hv)) {
            pc->rescued++;
        } else {
            EV_COUNT_EVICTION(l, it, now);
            pc->evicted++;
            note_departure(it, false, "page move", now);
            items_unlink_(it, hv, true);
        }
        item_unlock(hv);
        it = prev;
    }
    pthread_mutex_unlock(&l->lock);
}

/* --- the engine functions ------------------------------------------------ */

item *items_alloc(const char *key, size_t nkey, uint32_t flags,
                        rel_time_t exptime, uint32_t nbytes, enum err_site *err)
{
    size_t total = item_total((uint8_t)nkey, nbytes);
    unsigned id = slabs_clsid(total);
    item *it = NULL;
    if (id == 0 || nbytes - 2 > settings.item_size_max) {
        *err = ERR_TOO_LARGE;
        return NULL;
    }
    for (int attempt = 0; attempt < 10 && !it; attempt++) {
        bool page_failed = false;
        it = slabs_alloc(id, total, &page_failed);
        if (it)
            break;
        if (page_failed) {
            struct err_ctx ctx = { .clsid = (int)id, .size = total };
            err_raise_ctx(ERR_SLAB_PAGE_MALLOC, &ctx);
        }
        enum evict_result r = lru_evict_one(&lrus[id], settings.evict_to_free);
        if (r == EVICT_DONE)
            continue;
        if (r == EVICT_EMPTY)
            *err = ERR_NO_MEMORY_CLASS_EMPTY;
        else if (r == EVICT_NONE_DEAD || !settings.evict_to_free)
            *err = ERR_NO_MEMORY_NO_EVICT;
        else
            *err = ERR_NO_MEMORY_TAIL_BUSY;
        if (page_failed && r == EVICT_EMPTY)
            *err = ERR_NO_MEMORY_PAGE_REFUSED;
        return NULL;
    }
    if (!it) {
        *err = ERR_NO_MEMORY_TAIL_BUSY;
        return NULL;
    }
    it->next = it->prev = it->h_next = NULL;
    it->time = clock_now();
    it->exptime = exptime;
    it->nbytes = nbytes;
    it->flags = flags;
    it->cas = 0;
    it->refcount = 1;
    it->it_flags = 0;
    it->clsid = (uint8_t)id;
    it->nkey = (uint8_t)nkey;
    memcpy(item_key(it), key, nkey);
    return it;
}

/* Under lock(hv): a dead item freed by the expiry sweep or the LRU
 * crawler, counted as theirs. */
static void items_reclaim(item *it, uint32_t hv)
{
    struct lru *l = &lrus[it->clsid];
    pthread_mutex_lock(&l->lock);
    EV_COUNT_RECLAIM(l, it);
    l->crawler_reclaimed++;
    note_departure(it, true, "", clock_now());
    items_unlink_(it, hv, true);
    pthread_mutex_unlock(&l->lock);
}

#define ENG_LOCK(hv) item_lock(hv)
#define ENG_UNLOCK(hv) item_unlock(hv)
#define ENG_GET_LOCKED items_get_locked
#define ENG_FIND assoc_find
#define ENG_IS_FLUSHED item_is_flushed
#define ENG_IS_EXPIRED item_is_expired
#define ENG_REF_INCR ref_incr
#define ENG_BUMP items_bump
#define ENG_LINK items_link
#define ENG_REPLACE items_replace
#define ENG_UNLINK items_unlink
#define ENG_ALLOC items_alloc
#define ENG_RELEASE items_release
#define ENG_NEXT_CAS items_next_cas
#define ENG_JOIN items_join
#define ENG_GET slab_get
#define ENG_TOUCH slab_touch
#define ENG_STORE slab_store
#define ENG_REMOVE slab_remove
#define ENG_ARITH slab_arith
#define ENG_NOTE_TTL items_note_ttl
#define ENG_RECLAIM items_reclaim
#include "../item_rules.h"

/* Items with a CAS below oldest_cas are flushed. A flush at once takes a
 * CAS of its own for the line, as memcached's does, so CAS values stay in
 * step with memcached's; a delayed one fires between stores and takes none
 * (memcached marks it by time instead). */
static void flush_now(bool take_cas)
{
    __atomic_store_n(&items_ttl_dirty, true, __ATOMIC_RELAXED);
    uint64_t line = take_cas ? __atomic_add_fetch(&cas_counter, 1, __ATOMIC_RELAXED)
                             : __atomic_load_n(&cas_counter, __ATOMIC_RELAXED) + 1;
    __atomic_store_n(&oldest_cas, line, __ATOMIC_RELAXED);
}

static void slab_flush(int64_t delay)
{
    if (delay <= 0) {
        __atomic_store_n(&pending_flush, 0, __ATOMIC_RELAXED);
        flush_now(true);
        return;
    }
    rel_time_t when = clock_realtime(delay);
    if (when <= clock_now()) {
        __atomic_store_n(&pending_flush, 0, __ATOMIC_RELAXED);
        flush_now(true);
    } else {
        __atomic_store_n(&pending_flush, when, __ATOMIC_RELAXED);
    }
}

/* --- the background pass ------------------------------------------------- */

bool items_ttl_dirty;

static void reclaim_if_dead(item *it, void *ctx)
{
    struct sweep *sw = ctx;
    struct lru *l = &lrus[it->clsid];
    __atomic_add_fetch(&l->crawler_items_checked, 1, __ATOMIC_RELAXED);
    if (sweep_keep(sw, it, item_is_expired(it, sw->now) || item_is_flushed(it)))
        return;
    items_reclaim(it, hash_key(item_key(it), it->nkey));
}

/*
 * Runs about once a second on the maintainer thread: applies a delayed
 * flush whose time has come, then walks a slice of the hash table freeing
 * items that are expired or flushed, so memory comes back without waiting
 * for a client to touch the dead keys.
 */
static struct sweep sw;         /* the maintainer's; stats read two fields */

void items_expire_pass(void)
{
    static uint64_t cursor;     /* only the maintainer thread runs this */
    rel_time_t now = clock_now();
    rel_time_t pf = __atomic_load_n(&pending_flush, __ATOMIC_RELAXED);
    if (pf && pf <= now) {
        __atomic_store_n(&pending_flush, 0, __ATOMIC_RELAXED);
        flush_now(false);
    }
    /* A cache of items without exptime costs no background work. */
    if (cursor == 0 && !sweep_start(&sw, &items_ttl_dirty))
        return;
    sw.now = now;
    for (int i = 0; i < 65536; i++) {
        uint64_t next = assoc_walk_bucket(cursor, reclaim_if_dead, &sw);
        if (next == cursor) {
            /* The table is growing: the sweep resumes here next time. One
             * that could not even start keeps its claim on the flag. */
            if (cursor == 0)
                __atomic_store_n(&items_ttl_dirty, true, __ATOMIC_RELAXED);
            break;
        }
        cursor = next;
        if (cursor == 0) {
            sweep_done(&sw, &items_ttl_dirty);
            break;
        }
    }
}

/* --- setup and introspection --------------------------------------------- */

static int slab_setup(void)
{
    if (slabs_setup(settings.maxbytes, settings.factor, settings.chunk_size,
                    settings.item_size_max) != 0)
        return -1;
    /* Every store of a class meets its LRU lock for a few instructions:
     * spin a little before sleeping (a worker preempted while holding it
     * would otherwise put the others to sleep in the kernel). */
    pthread_mutexattr_t attr;
    pthread_mutexattr_init(&attr);
    pthread_mutexattr_settype(&attr, PTHREAD_MUTEX_ADAPTIVE_NP);
    for (int i = 0; i < SLAB_MAX_CLASSES; i++)
        pthread_mutex_init(&lrus[i].lock, &attr);
    pthread_mutexattr_destroy(&attr);
    return assoc_setup(settings.hashpower_init);
}

static void slab_start(void)
{
    assoc_start_maintainer();
    rebalance_start();
}

static void slab_stop(void)
{
    rebalance_stop();
    assoc_stop_maintainer();
}

static bool slab_class_info(int id, struct engine_class_info *out)
{
    if (id < 1 || (unsigned)id > slabs_largest())
        return false;
    memset(out, 0, sizeof(*out));
    slabs_class_info((unsigned)id, out);
    struct lru *l = &lrus[id];
    rel_time_t now = clock_now();
    pthread_mutex_lock(&l->lock);
    out->items = l->count;
    out->evicted = l->evicted;
    out->evicted_nonzero = l->evicted_nonzero;
    out->evicted_unfetched = l->evicted_unfetched;
    out->expired_unfetched = l->expired_unfetched;
    out->reclaimed = l->reclaimed;
    out->lrutail_reflocked = l->lrutail_reflocked;
    out->evicted_active = l->evicted_active;
    out->direct_reclaims = l->direct_reclaims;
    out->crawler_reclaimed = l->crawler_reclaimed;
    out->crawler_items_checked = __atomic_load_n(&l->crawler_items_checked, __ATOMIC_RELAXED);
    out->evicted_time = l->evicted_time;
    out->tail_age = l->tail ? now - item_time(l->tail) : 0;
    pthread_mutex_unlock(&l->lock);
    return true;
}

static int slab_nclasses(void)
{
    return (int)slabs_largest();
}

static uint32_t slab_class_for(size_t total)
{
    return slabs_chunk_size(slabs_clsid(total));
}

static void emit_u64(stat_emit_fn emit, void *ctx, const char *name, uint64_t v)
{
    char buf[24];
    fmt_u64(buf, v);
    emit(ctx, name, buf);
}

static void slab_stats(stat_emit_fn emit, void *ctx)
{
    uint64_t bytes = 0;
    for (int id = 1; id <= slab_nclasses(); id++) {
        struct lru *l = &lrus[id];
        pthread_mutex_lock(&l->lock);
        bytes += l->bytes;
        pthread_mutex_unlock(&l->lock);
    }
    emit_u64(emit, ctx, "bytes", bytes);
    emit_u64(emit, ctx, "curr_items", __atomic_load_n(&curr_items, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "total_items", __atomic_load_n(&total_items, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "lru_crawler_running", __atomic_load_n(&sw.running, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "lru_crawler_starts", __atomic_load_n(&sw.starts, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "hash_power_level", assoc_hashpower());
    emit_u64(emit, ctx, "hash_bytes", assoc_bytes());
    emit_u64(emit, ctx, "hash_is_expanding", assoc_expanding());
    {
        uint64_t st, fin, moved, total;
        assoc_expansion_progress(&st, &fin, &moved, &total);
        emit_u64(emit, ctx, "hash_expansions_started", st);
        emit_u64(emit, ctx, "hash_expansions_finished", fin);
        emit_u64(emit, ctx, "hash_expand_buckets_moved", moved);
        emit_u64(emit, ctx, "hash_expand_buckets_total", total);
    }
    emit_u64(emit, ctx, "total_malloced", slabs_mem_malloced());
    emit_u64(emit, ctx, "slab_pages", slabs_pages_total());
    rebalance_stats(emit, ctx);
}

/* --- walking, for introspection ------------------------------------------ */

struct walk_ctx {
    engine_walk_fn fn;
    void *ctx;
    rel_time_t now;
};

static void walk_one(item *it, void *arg)
{
    struct walk_ctx *w = arg;
    struct engine_item_info info;
    info.addr = it;
    memcpy(info.key, item_key(it), it->nkey);
    info.nkey = it->nkey;
    info.clsid = it->clsid;
    info.it_flags = it->it_flags;
    info.refcount = item_refcount(it);
    info.vlen = item_vlen(it);
    info.flags = it->flags;
    info.exptime = it->exptime;
    info.time = item_time(it);
    info.cas = it->cas;
    info.dead = item_is_expired(it, w->now) || item_is_flushed(it);
    w->fn(&info, it, w->ctx);
}

static uint64_t slab_walk(uint64_t cursor, engine_walk_fn fn, void *ctx)
{
    struct walk_ctx w = { fn, ctx, clock_now() };
    return assoc_scan(cursor, walk_one, &w);
}

static void slab_hold(item *it)
{
    ref_incr(it);
}

static void slab_hash_info(uint64_t *buckets, unsigned *power, bool *expanding,
                           uint64_t *hist, int nhist)
{
    *power = assoc_hashpower();
    *buckets = (uint64_t)1 << *power;
    *expanding = assoc_expanding();
    if (hist)
        assoc_chain_hist(hist, nhist);
}

const struct engine slab_engine = {
    .abi_version = MCD_ENGINE_ABI,
    .name = "slab",
    .setup = slab_setup,
    .start = slab_start,
    .stop = slab_stop,
    .alloc = items_alloc,
    .release = items_release,
    .get = slab_get,
    .touch = slab_touch,
    .store = slab_store,
    .remove = slab_remove,
    .arith = slab_arith,
    .flush = slab_flush,
    .stats = slab_stats,
    .nclasses = slab_nclasses,
    .class_info = slab_class_info,
    .class_for = slab_class_for,
    .walk = slab_walk,
    .hold = slab_hold,
    .hash_info = slab_hash_info,
    .meta_get = slab_meta_get,
    .meta_store = slab_meta_store,
    .meta_delete = slab_meta_delete,
    .meta_arith = slab_meta_arith,
    .prefetch = assoc_prefetch,
    .reassign = rebalance_reassign,
    .set_automove = rebalance_set_automove,
};
