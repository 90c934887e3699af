/*
 * heap.c - the heap engine: every item its own malloc, one LRU for all of
 * them, -m as a budget on the bytes malloc handed out, eviction from the
 * LRU tail; the store rules, CAS, expiry and flush_all behave exactly as
 * the slab engine's. It serves as the fragmentation baseline (its one
 * pseudo class reports requested vs malloc'd bytes) and as the proof that
 * engine.h is the whole interface: it is also built as build/engines/heap.so.
 *
 * References work as in the slab engine: a linked item holds one for the
 * table, each caller of get/touch/alloc one more; they are taken only under
 * the item's lock, so an evictor that holds it and sees a count of 1 knows
 * nobody is reading the item.
 */
#include <malloc.h>
#include <stdlib.h>
#include <string.h>

#include "heap_internal.h"
#include "../../errors.h"
#include "../../history.h"
#include "../../latency.h"
#include "../../live.h"
#include "../../settings.h"
#include "../../stats.h"
#include "../../util.h"
#include "../departure.h"
#include "../sweep.h"

/* Items are moved to the LRU head at most this often (seconds). */
#define ITEM_UPDATE_INTERVAL 60
/* Tail items the evictor looks at per eviction before giving up. */
#define EVICT_SEARCH 8
/* Evictions one allocation may cause (a large item displaces small ones). */
#define EVICT_MAX 4096

static struct heap_lru {
    pthread_mutex_t lock;       /* guards everything in this struct */
    item *head, *tail;
    uint64_t count, bytes;      /* linked items and their item_total()s */
    uint64_t evicted, evicted_nonzero, evicted_unfetched, expired_unfetched;
    uint64_t reclaimed, outofmemory;
    uint64_t lrutail_reflocked, evicted_active, direct_reclaims, crawler_reclaimed;
    uint64_t crawler_items_checked;     /* atomic: the maintainer adds */
    rel_time_t evicted_time;
} lru = { .lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP };   /* adaptive: as the slab engine's LRU locks */

static uint64_t mem_used;           /* atomic: usable sizes of live mallocs */
static uint64_t mem_requested;      /* atomic: item_total() of live mallocs */
static uint64_t mem_items;          /* atomic: live mallocs */
static uint64_t cas_counter;        /* atomic */
static uint64_t oldest_cas;         /* atomic: items below are flushed */
static rel_time_t pending_flush;    /* atomic: time of a delayed flush */
static uint64_t curr_items;         /* atomic gauge */
static uint64_t total_items;        /* atomic counter */

/* --- helpers ------------------------------------------------------------ */

static inline bool is_flushed(const item *it)
{
    return it->cas < __atomic_load_n(&oldest_cas, __ATOMIC_RELAXED);
}

static inline bool is_expired(const item *it, rel_time_t now)
{
    return it->exptime != 0 && it->exptime <= now;
}

static inline bool is_dead(const item *it, rel_time_t now)
{
    return is_expired(it, now) || is_flushed(it);
}

uint64_t heap_next_cas(void)
{
    return __atomic_add_fetch(&cas_counter, 1, __ATOMIC_RELAXED);
}

/* Keep the sequence ahead of every CAS in use (meta E sets one), or a
 * later flush_all, which invalidates everything below it, would miss it. */
void heap_cas_at_least(uint64_t cas)
{
    uint64_t cur = __atomic_load_n(&cas_counter, __ATOMIC_RELAXED);
    while (cur < cas &&
           !__atomic_compare_exchange_n(&cas_counter, &cur, cas, false,
                                        __ATOMIC_RELAXED, __ATOMIC_RELAXED))
        ;
}

uint64_t heap_oldest_cas(void)
{
    return __atomic_load_n(&oldest_cas, __ATOMIC_RELAXED);
}

static void item_free(item *it)
{
    __atomic_sub_fetch(&mem_used, malloc_usable_size(it), __ATOMIC_RELAXED);
    __atomic_sub_fetch(&mem_requested, item_total(it->nkey, it->nbytes), __ATOMIC_RELAXED);
    __atomic_sub_fetch(&mem_items, 1, __ATOMIC_RELAXED);
    free(it);
}

static inline void ref_incr(item *it)
{
    __atomic_add_fetch(&it->refcount, 1, __ATOMIC_ACQ_REL);
}

/* Drops one reference; frees an unlinked item at zero. */
void heap_item_release(item *it)
{
    if (__atomic_sub_fetch(&it->refcount, 1, __ATOMIC_ACQ_REL) == 0)
        item_free(it);
}

/* Under lru.lock. */
static void lru_link_head(item *it)
{
    it->prev = NULL;
    it->next = lru.head;
    if (lru.head)
        lru.head->prev = it;
    lru.head = it;
    if (!lru.tail)
        lru.tail = it;
}

static void lru_unlink(item *it)
{
    if (it->prev)
        it->prev->next = it->next;
    else
        lru.head = it->next;
    if (it->next)
        it->next->prev = it->prev;
    else
        lru.tail = it->prev;
    it->next = it->prev = NULL;
}

/* Under lock(hv): link it into the table and the LRU with a new CAS. The
 * exptime is noted once the item is in its bucket (see sweep.h). */
void heap_do_link(item *it, uint32_t hv)
{
    it->it_flags |= ITEM_LINKED;
    __atomic_store_n(&it->time, clock_now(), __ATOMIC_RELAXED);
    it->cas = heap_next_cas();
    htab_insert(it, hv);
    ref_incr(it);
    heap_note_ttl(it->exptime);
    pthread_mutex_lock(&lru.lock);
    lru_link_head(it);
    lru.count++;
    lru.bytes += item_total(it->nkey, it->nbytes);
    pthread_mutex_unlock(&lru.lock);
    __atomic_add_fetch(&curr_items, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&total_items, 1, __ATOMIC_RELAXED);
}

/* Under lock(hv) and, if lru_held, lru.lock. */
static void do_unlink_(item *it, uint32_t hv, bool lru_held)
{
    if (!(it->it_flags & ITEM_LINKED))
        return;
    it->it_flags &= (uint8_t)~ITEM_LINKED;
    htab_delete(item_key(it), it->nkey, hv);
    if (!lru_held)
        pthread_mutex_lock(&lru.lock);
    lru_unlink(it);
    lru.count--;
    lru.bytes -= item_total(it->nkey, it->nbytes);
    if (!lru_held)
        pthread_mutex_unlock(&lru.lock);
    __atomic_sub_fetch(&curr_items, 1, __ATOMIC_RELAXED);
    heap_item_release(it);
}

void heap_do_unlink(item *it, uint32_t hv)
{
    do_unlink_(it, hv, false);
}

void heap_do_replace(item *old, item *it, uint32_t hv)
{
    heap_do_unlink(old, hv);
    heap_do_link(it, hv);
}

/* Under lock(hv): note a fetch, and bump to the head if it is time. */
void heap_do_bump(item *it, bool read)
{
    rel_time_t now = clock_now();
    if (read) {
        if (it->it_flags & ITEM_FETCHED)
            it->it_flags |= ITEM_ACTIVE;
        it->it_flags |= ITEM_FETCHED;
    }
    if (item_time(it) + ITEM_UPDATE_INTERVAL < now) {
        pthread_mutex_lock(&lru.lock);
        if (it->it_flags & ITEM_LINKED) {
            lru_unlink(it);
            lru_link_head(it);
        }
        pthread_mutex_unlock(&lru.lock);
        __atomic_store_n(&it->time, now, __ATOMIC_RELAXED);
    }
}

/* --- eviction ------------------------------------------------------------- */

static void evict_to_head(struct heap_lru *l, item *it)
{
    (void)l;
    lru_unlink(it);
    lru_link_head(it);
}

static void evict_free(struct heap_lru *l, item *it, uint32_t hv, bool dead, rel_time_t now)
{
    (void)l;
    departure_note(it, dead, is_flushed(it), "lru tail", now);
    do_unlink_(it, hv, true);
}

#define EV_LRU struct heap_lru
#define EV_TRYLOCK(hv) htab_trylock(hv)
#define EV_UNLOCK(hv) htab_unlock(hv)
#define EV_IS_DEAD(it, now) is_dead(it, now)
#define EV_TO_HEAD evict_to_head
#define EV_FREE evict_free
#define EV_PASS evict_pass
#define EV_ONE evict_two_passes
#include "../evict_rules.h"

static enum evict_result evict_one(bool allow_live)
{
    enum evict_result r = evict_two_passes(&lru, allow_live);
    if (r != EVICT_DONE) {
        pthread_mutex_lock(&lru.lock);
        lru.outofmemory++;
        pthread_mutex_unlock(&lru.lock);
    }
    return r;
}

/* Makes room for `want` more bytes under -m; false with *err set if it
 * cannot. Concurrent allocations may overshoot by one item each. */
static bool make_room(size_t want, enum err_site *err)
{
    for (int n = 0; n < EVICT_MAX; n++) {
        if (__atomic_load_n(&mem_used, __ATOMIC_RELAXED) + want <= settings.maxbytes)
            return true;
        enum evict_result r = evict_one(settings.evict_to_free);
        if (r == EVICT_DONE)
            continue;
        if (r == EVICT_EMPTY)
            *err = ERR_NO_MEMORY_CLASS_EMPTY;
        else if (r == EVICT_NONE_DEAD || !settings.evict_to_free)
            *err = ERR_NO_MEMORY_NO_EVICT;
        else
            *err = ERR_NO_MEMORY_TAIL_BUSY;
        return false;
    }
    *err = ERR_NO_MEMORY_TAIL_BUSY;
    return false;
}

/* --- the engine functions ------------------------------------------------- */

item *heap_item_alloc(const char *key, size_t nkey, uint32_t flags,
                      rel_time_t exptime, uint32_t nbytes, enum err_site *err)
{
    size_t total = item_total((uint8_t)nkey, nbytes);
    if (nbytes - 2 > settings.item_size_max) {
        *err = ERR_TOO_LARGE;
        return NULL;
    }
    if (!make_room(total, err))
        return NULL;
    item *it = err_inject(ERR_HEAP_ITEM_MALLOC) ? NULL : malloc(total);
    if (!it) {
        struct err_ctx ctx = { .clsid = HEAP_CLASS, .size = total };
        err_raise_ctx(ERR_HEAP_ITEM_MALLOC, &ctx);
        *err = ERR_NO_MEMORY_MALLOC_REFUSED;
        return NULL;
    }
    __atomic_add_fetch(&mem_used, malloc_usable_size(it), __ATOMIC_RELAXED);
    __atomic_add_fetch(&mem_requested, total, __ATOMIC_RELAXED);
    __atomic_add_fetch(&mem_items, 1, __ATOMIC_RELAXED);
    it->next = it->prev = it->h_next = NULL;
    it->time = clock_now();
    it->exptime = exptime;
    it->nbytes = nbytes;
    it->flags = flags;
    it->cas = 0;
    it->refcount = 1;
    it->it_flags = 0;
    it->clsid = HEAP_CLASS;
    it->nkey = (uint8_t)nkey;
    memcpy(item_key(it), key, nkey);
    return it;
}

/* Under lock(hv): a dead item freed by the expiry sweep or the LRU
 * crawler, counted as theirs. */
static void heap_reclaim(item *it, uint32_t hv)
{
    pthread_mutex_lock(&lru.lock);
    EV_COUNT_RECLAIM(&lru, it);
    lru.crawler_reclaimed++;
    departure_note(it, true, is_flushed(it), "", clock_now());
    do_unlink_(it, hv, true);
    pthread_mutex_unlock(&lru.lock);
}

#define ENG_LOCK(hv) htab_lock(hv)
#define ENG_UNLOCK(hv) htab_unlock(hv)
#define ENG_GET_LOCKED heap_do_get
#define ENG_FIND htab_find
#define ENG_IS_FLUSHED is_flushed
#define ENG_IS_EXPIRED is_expired
#define ENG_REF_INCR ref_incr
#define ENG_BUMP heap_do_bump
#define ENG_LINK heap_do_link
#define ENG_REPLACE heap_do_replace
#define ENG_UNLINK heap_do_unlink
#define ENG_ALLOC heap_item_alloc
#define ENG_RELEASE heap_item_release
#define ENG_NEXT_CAS heap_next_cas
#define ENG_JOIN heap_join_values
#define ENG_GET heap_get
#define ENG_TOUCH heap_touch
#define ENG_STORE heap_store
#define ENG_REMOVE heap_remove
#define ENG_ARITH heap_arith
#define ENG_NOTE_TTL heap_note_ttl
#define ENG_RECLAIM heap_reclaim
#include "../item_rules.h"

/* As the slab engine's (items.c): a flush at once takes a CAS of its own. */
static void flush_now(bool take_cas)
{
    __atomic_store_n(&pending_flush, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&heap_ttl_dirty, true, __ATOMIC_RELAXED);
    uint64_t line = take_cas ? __atomic_add_fetch(&cas_counter, 1, __ATOMIC_RELAXED)
                             : __atomic_load_n(&cas_counter, __ATOMIC_RELAXED) + 1;
    __atomic_store_n(&oldest_cas, line, __ATOMIC_RELAXED);
}

static void heap_flush(int64_t delay)
{
    rel_time_t when = delay > 0 ? clock_realtime(delay) : 0;
    if (when <= clock_now())
        flush_now(true);
    else
        __atomic_store_n(&pending_flush, when, __ATOMIC_RELAXED);
}

/* --- the maintainer: delayed flush, expiry, table growth ------------------ */

static pthread_mutex_t maint_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t maint_cond = PTHREAD_COND_INITIALIZER;
static pthread_t maint_thread;
static bool maint_running;      /* under maint_lock */

bool heap_ttl_dirty;

/* Under the item's lock, from htab_scan. */
static void reclaim_if_dead(item *it, void *ctx)
{
    struct sweep *sw = ctx;
    __atomic_add_fetch(&lru.crawler_items_checked, 1, __ATOMIC_RELAXED);
    if (sweep_keep(sw, it, is_dead(it, sw->now)))
        return;
    heap_reclaim(it, hash_key(item_key(it), it->nkey));
}

/*
 * About once a second: applies a delayed flush whose time has come, then
 * walks up to 65536 buckets of a sweep of the table, freeing items that are
 * expired or flushed. A sweep starts only while heap_ttl_dirty is set, so
 * a cache whose items never expire costs no background work. The cursor is
 * reverse-binary, so a sweep survives the table doubling (htab_scan).
 */
static struct sweep sw;         /* the maintainer's; stats read two fields */

void heap_expire_pass(void)
{
    static uint64_t cursor;     /* only the maintainer runs this */
    rel_time_t now = clock_now();
    rel_time_t pf = __atomic_load_n(&pending_flush, __ATOMIC_RELAXED);
    if (pf && pf <= now)
        flush_now(false);
    if (cursor == 0 && !sweep_start(&sw, &heap_ttl_dirty))
        return;
    sw.now = now;
    for (int i = 0; i < 65536; i++) {
        cursor = htab_scan(cursor, reclaim_if_dead, &sw);
        if (cursor == 0) {
            sweep_done(&sw, &heap_ttl_dirty);
            break;
        }
    }
}

static void *maintainer(void *arg)
{
    (void)arg;
    err_thread_register();
    stats_thread_register();
    history_thread_register("maintainer");
    struct live *live = live_register("maintainer", 0);
    pthread_mutex_lock(&maint_lock);
    while (maint_running) {
        live_beat(live, "idle");
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        ts.tv_sec += 1;
        pthread_cond_timedwait(&maint_cond, &maint_lock, &ts);
        if (!maint_running)
            break;
        pthread_mutex_unlock(&maint_lock);
        if (settings.hash_expand &&
            htab_wants_growth(__atomic_load_n(&curr_items, __ATOMIC_RELAXED))) {
            live_beat(live, "growing the hash table");
            uint64_t t0 = now_ns();
            htab_grow();
            latency_event("hash_expand", now_ns() - t0);
        }
        live_beat(live, "expiry pass");
        uint64_t t0 = now_ns();
        heap_expire_pass();
        latency_event("expire_pass", now_ns() - t0);
        pthread_mutex_lock(&maint_lock);
    }
    pthread_mutex_unlock(&maint_lock);
    return NULL;
}

static int heap_setup(void)
{
    return htab_setup(settings.hashpower_init > 0 ? (unsigned)settings.hashpower_init : 16);
}

static void heap_start(void)
{
    maint_running = true;
    if (pthread_create(&maint_thread, NULL, maintainer, NULL) != 0)
        maint_running = false;
}

static void heap_stop(void)
{
    pthread_mutex_lock(&maint_lock);
    bool was = maint_running;
    maint_running = false;
    pthread_cond_signal(&maint_cond);
    pthread_mutex_unlock(&maint_lock);
    if (was)
        pthread_join(maint_thread, NULL);
}

/* --- introspection --------------------------------------------------------- */

static int heap_nclasses(void)
{
    return HEAP_CLASS;
}

/* One pseudo class: a "chunk" is one malloc, of no fixed size. */
static bool heap_class_info(int id, struct engine_class_info *out)
{
    if (id != HEAP_CLASS)
        return false;
    memset(out, 0, sizeof(*out));
    out->id = HEAP_CLASS;
    out->used_chunks = __atomic_load_n(&mem_items, __ATOMIC_RELAXED);
    out->mem_requested = __atomic_load_n(&mem_requested, __ATOMIC_RELAXED);
    out->mem_allocated = __atomic_load_n(&mem_used, __ATOMIC_RELAXED);
    rel_time_t now = clock_now();
    pthread_mutex_lock(&lru.lock);
    out->items = lru.count;
    out->evicted = lru.evicted;
    out->evicted_nonzero = lru.evicted_nonzero;
    out->evicted_unfetched = lru.evicted_unfetched;
    out->expired_unfetched = lru.expired_unfetched;
    out->reclaimed = lru.reclaimed;
    out->outofmemory = lru.outofmemory;
    out->lrutail_reflocked = lru.lrutail_reflocked;
    out->evicted_active = lru.evicted_active;
    out->direct_reclaims = lru.direct_reclaims;
    out->crawler_reclaimed = lru.crawler_reclaimed;
    out->crawler_items_checked = __atomic_load_n(&lru.crawler_items_checked, __ATOMIC_RELAXED);
    out->evicted_time = lru.evicted_time;
    out->tail_age = lru.tail ? now - item_time(lru.tail) : 0;
    pthread_mutex_unlock(&lru.lock);
    return true;
}

static uint32_t heap_class_for(size_t total)
{
    return total <= item_total(250, (uint32_t)settings.item_size_max + 2) ? (uint32_t)total : 0;
}

static void emit_u64(stat_emit_fn emit, void *ctx, const char *name, uint64_t v)
{
    char buf[24];
    fmt_u64(buf, v);
    emit(ctx, name, buf);
}

static void heap_stats(stat_emit_fn emit, void *ctx)
{
    pthread_mutex_lock(&lru.lock);
    uint64_t bytes = lru.bytes;
    pthread_mutex_unlock(&lru.lock);
    emit_u64(emit, ctx, "bytes", bytes);
    emit_u64(emit, ctx, "curr_items", __atomic_load_n(&curr_items, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "total_items", __atomic_load_n(&total_items, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "lru_crawler_running", __atomic_load_n(&sw.running, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "lru_crawler_starts", __atomic_load_n(&sw.starts, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "hash_power_level", htab_power());
    emit_u64(emit, ctx, "hash_bytes", ((uint64_t)1 << htab_power()) * sizeof(item *));
    emit_u64(emit, ctx, "hash_is_expanding", 0);
    emit_u64(emit, ctx, "total_malloced", __atomic_load_n(&mem_used, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "slab_pages", 0);
    /* no pages, so none ever move; the same stats as the slab engine's */
    static const char *const none[] = {
        "slab_reassign_rescues", "slab_reassign_evictions_nomem",
        "slab_reassign_inline_reclaim", "slab_reassign_busy_items",
        "slab_reassign_running", "slabs_moved", NULL
    };
    for (int i = 0; none[i]; i++)
        emit(ctx, none[i], "0");
}

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
    info.dead = is_dead(it, w->now);
    w->fn(&info, it, w->ctx);
}

static uint64_t heap_walk(uint64_t cursor, engine_walk_fn fn, void *ctx)
{
    struct walk_ctx w = { fn, ctx, clock_now() };
    return htab_scan(cursor, walk_one, &w);
}

static void heap_hold(item *it)
{
    ref_incr(it);
}

static void heap_hash_info(uint64_t *buckets, unsigned *power, bool *expanding,
                           uint64_t *hist, int nhist)
{
    *power = htab_power();
    *buckets = (uint64_t)1 << *power;
    *expanding = false;
    if (hist)
        htab_chain_hist(hist, nhist);
}

/* One pseudo class: there are no pages to move. */
static enum reassign_result heap_reassign(int src, int dst)
{
    if (src == dst)
        return REASSIGN_SAME;
    if ((src != -1 && src != HEAP_CLASS) || dst < 0 || dst > HEAP_CLASS)
        return REASSIGN_BADCLASS;
    return REASSIGN_NOSPARE;
}

static void heap_set_automove(int level)
{
    (void)level;    /* nothing to balance */
}

const struct engine heap_engine = {
    .abi_version = MCD_ENGINE_ABI,
    .name = "heap",
    .setup = heap_setup,
    .start = heap_start,
    .stop = heap_stop,
    .alloc = heap_item_alloc,
    .release = heap_item_release,
    .get = heap_get,
    .touch = heap_touch,
    .store = heap_store,
    .remove = heap_remove,
    .arith = heap_arith,
    .flush = heap_flush,
    .stats = heap_stats,
    .nclasses = heap_nclasses,
    .class_info = heap_class_info,
    .class_for = heap_class_for,
    .walk = heap_walk,
    .hold = heap_hold,
    .hash_info = heap_hash_info,
    .meta_get = heap_meta_get,
    .meta_store = heap_meta_store,
    .meta_delete = heap_meta_delete,
    .meta_arith = heap_meta_arith,
    .reassign = heap_reassign,
    .set_automove = heap_set_automove,
};

#ifdef MCD_ENGINE_SHARED
/* Built as build/engines/heap.so: the one symbol the object exports. */
__attribute__((visibility("default")))
const struct engine *mcd_engine_entry(int abi_version);

const struct engine *mcd_engine_entry(int abi_version)
{
    return abi_version == MCD_ENGINE_ABI ? &heap_engine : NULL;
}
#endif
