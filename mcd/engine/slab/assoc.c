/*
 * assoc.c - the hash table of the slab engine and its striped item locks.
 *
 * The table grows online. When items outnumber buckets by 3:2 a maintainer
 * thread allocates a table twice the size, swaps it in while holding every
 * item lock (a pause of a few microseconds, never a walk), then moves the
 * old buckets over one at a time, each under its own item lock. A lookup
 * for bucket b of the old table looks in the old table while b has not
 * been moved yet (b >= expand_bucket) and in the new one after; because
 * expand_bucket passes b only while lock(b) is held, a reader holding lock(b)
 * always sees a settled answer. The lock stripes are fewer than the old
 * table's buckets, so an old bucket and both of its new buckets share a lock.
 */
#include <stdlib.h>
#include <string.h>

#include "../../history.h"
#include "../../latency.h"
#include "../../live.h"
#include "../../settings.h"
#include "slab_internal.h"
#include "../../errors.h"
#include "../../stats.h"
#include "../../util.h"

#define LOCK_POWER_MAX 12

static pthread_mutex_t *locks;
static uint32_t lock_mask;

/* Changed only with every item lock held; read under any item lock. */
static item **primary;
static item **old_table;
static unsigned hashpower;
static bool expanding;
/* Atomic: advanced by the maintainer under lock(expand_bucket). */
static uint64_t expand_bucket;
/* Expansion progress for operators: atomics. */
static uint64_t expansions_started, expansions_finished;

static pthread_mutex_t maint_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t maint_cond = PTHREAD_COND_INITIALIZER;
static pthread_t maint_thread;
static bool maint_running;      /* under maint_lock */
static bool maint_wanted;       /* under maint_lock */
static uint64_t wanted_items;   /* under maint_lock */

#define BUCKETS(p) ((uint64_t)1 << (p))
#define MASK(p) (BUCKETS(p) - 1)

int assoc_setup(int power)
{
    hashpower = power > 0 ? (unsigned)power : 16;
    unsigned lp = hashpower < LOCK_POWER_MAX ? hashpower : LOCK_POWER_MAX;
    lock_mask = (uint32_t)MASK(lp);
    locks = calloc(BUCKETS(lp), sizeof(*locks));
    primary = calloc(BUCKETS(hashpower), sizeof(item *));
    if (!locks || !primary)
        return -1;
    for (uint64_t i = 0; i <= lock_mask; i++)
        pthread_mutex_init(&locks[i], NULL);
    return 0;
}

void assoc_teardown(void)
{
    free(primary);
    free(old_table);
    if (locks) {
        for (uint64_t i = 0; i <= lock_mask; i++)
            pthread_mutex_destroy(&locks[i]);
    }
    free(locks);
    primary = old_table = NULL;
    locks = NULL;
}

void item_lock(uint32_t hv)
{
    pthread_mutex_lock(&locks[hv & lock_mask]);
}

void item_unlock(uint32_t hv)
{
    pthread_mutex_unlock(&locks[hv & lock_mask]);
}

bool item_trylock(uint32_t hv)
{
    return pthread_mutex_trylock(&locks[hv & lock_mask]) == 0;
}

static void lock_all(void)
{
    for (uint64_t i = 0; i <= lock_mask; i++)
        pthread_mutex_lock(&locks[i]);
}

static void unlock_all(void)
{
    for (uint64_t i = 0; i <= lock_mask; i++)
        pthread_mutex_unlock(&locks[i]);
}

/* Under lock(hv): the head pointer of hv's chain. */
static item **bucket_of(uint32_t hv)
{
    if (expanding) {
        uint64_t ob = hv & MASK(hashpower - 1);
        if (ob >= __atomic_load_n(&expand_bucket, __ATOMIC_RELAXED))
            return &old_table[ob];
    }
    return &primary[hv & MASK(hashpower)];
}

void assoc_prefetch(uint32_t hv, int stage)
{
    if (stage == 0) {
        /* A prefetch never faults, so a table swapped by a growth under us
         * costs a wasted hint at worst; the loads are atomic for TSan. */
        item **t = __atomic_load_n(&primary, __ATOMIC_RELAXED);
        unsigned hp = __atomic_load_n(&hashpower, __ATOMIC_RELAXED);
        __builtin_prefetch(&t[hv & MASK(hp)]);
        return;
    }
    /* Reading the bucket is a real load: only under its lock, where the
     * table cannot be swapped or freed. */
    item_lock(hv);
    item *it = *bucket_of(hv);
    if (it)
        __builtin_prefetch(it);
    item_unlock(hv);
}

item *assoc_find(const char *key, size_t nkey, uint32_t hv)
{
    for (item *it = *bucket_of(hv); it; it = it->h_next) {
        if (it->nkey == nkey && memcmp(item_key(it), key, nkey) == 0)
            return it;
    }
    return NULL;
}

void assoc_insert(item *it, uint32_t hv)
{
    item **b = bucket_of(hv);
    it->h_next = *b;
    *b = it;
}

void assoc_delete(const char *key, size_t nkey, uint32_t hv)
{
    for (item **pp = bucket_of(hv); *pp; pp = &(*pp)->h_next) {
        item *it = *pp;
        if (it->nkey == nkey && memcmp(item_key(it), key, nkey) == 0) {
            *pp = it->h_next;
            it->h_next = NULL;
            return;
        }
    }
}

/* --- growing ------------------------------------------------------------ */

#ifdef __SANITIZE_THREAD__
/* Growing the table holds every item lock at once (4096), past the 64 that
 * ThreadSanitizer's deadlock detector can track, which makes it abort; race
 * detection stays on. Defined here, beside the cause, it serves mcd and
 * every unit test that links the engine. */
const char *__tsan_default_options(void);
const char *__tsan_default_options(void)
{
    return "detect_deadlocks=0";
}
#endif

void assoc_expansion_progress(uint64_t *started, uint64_t *finished, uint64_t *moved,
                              uint64_t *total)
{
    *started = __atomic_load_n(&expansions_started, __ATOMIC_RELAXED);
    *finished = __atomic_load_n(&expansions_finished, __ATOMIC_RELAXED);
    bool exp = __atomic_load_n(&expanding, __ATOMIC_RELAXED);
    unsigned hp = __atomic_load_n(&hashpower, __ATOMIC_RELAXED);
    *moved = exp ? __atomic_load_n(&expand_bucket, __ATOMIC_RELAXED) : 0;
    *total = exp ? BUCKETS(hp - 1) : 0;
}

static bool expand_begin(void)
{
    item **bigger = err_inject(ERR_HASH_EXPAND_MALLOC) ? NULL :
        calloc(BUCKETS(hashpower + 1), sizeof(item *));
    if (!bigger) {
        err_raise(ERR_HASH_EXPAND_MALLOC, 0);
        return false;
    }
    lock_all();
    old_table = primary;
    __atomic_store_n(&primary, bigger, __ATOMIC_RELAXED);   /* read by assoc_prefetch */
    __atomic_store_n(&hashpower, hashpower + 1, __ATOMIC_RELAXED);
    __atomic_store_n(&expand_bucket, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&expanding, true, __ATOMIC_RELAXED);
    unlock_all();
    __atomic_add_fetch(&expansions_started, 1, __ATOMIC_RELAXED);
    return true;
}

/* Move old bucket b into the new table; b's lock covers both targets. */
static void expand_step(uint64_t b)
{
    pthread_mutex_t *l = &locks[b & lock_mask];
    pthread_mutex_lock(l);
    item *it = old_table[b];
    while (it) {
        item *next = it->h_next;
        uint32_t hv = hash_key(item_key(it), it->nkey);
        item **nb = &primary[hv & MASK(hashpower)];
        it->h_next = *nb;
        *nb = it;
        it = next;
    }
    old_table[b] = NULL;
    __atomic_store_n(&expand_bucket, b + 1, __ATOMIC_RELAXED);
    pthread_mutex_unlock(l);
}

static void expand_end(void)
{
    lock_all();
    item **gone = old_table;
    old_table = NULL;
    __atomic_store_n(&expanding, false, __ATOMIC_RELAXED);
    unlock_all();
    free(gone);
}

bool assoc_expand_begin_(void)
{
    return hashpower < 32 && !expanding && expand_begin();
}

bool assoc_expand_step_(void)
{
    uint64_t n = BUCKETS(hashpower - 1);
    uint64_t b = __atomic_load_n(&expand_bucket, __ATOMIC_RELAXED);
    if (!expanding)
        return false;
    if (b < n)
        expand_step(b);
    if (b + 1 >= n) {
        expand_end();
        return false;
    }
    return true;
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
        if (!maint_wanted) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&maint_cond, &maint_lock, &ts);
            if (!maint_wanted) {
                /* Idle second: reclaim expired and flushed items. */
                pthread_mutex_unlock(&maint_lock);
                live_beat(live, "expiry pass");
                uint64_t t0 = now_ns();
                items_expire_pass();
                latency_event("expire_pass", now_ns() - t0);
                pthread_mutex_lock(&maint_lock);
                continue;
            }
        }
        maint_wanted = false;
        uint64_t want = wanted_items;
        pthread_mutex_unlock(&maint_lock);

        /* A wake-up raised just before the last expansion raised hashpower
         * is stale: grow only while items still outnumber buckets 3:2,
         * or the table doubles twice for one crossing. */
        live_beat(live, "growing the hash table");
        uint64_t t0 = now_ns();
        if (hashpower < 32 && want > BUCKETS(hashpower) * 3 / 2 && expand_begin()) {
            uint64_t n = BUCKETS(hashpower - 1);
            for (uint64_t b = 0; b < n; b++)
                expand_step(b);
            expand_end();
            __atomic_add_fetch(&expansions_finished, 1, __ATOMIC_RELAXED);
            latency_event("hash_expand", now_ns() - t0);
        }
        pthread_mutex_lock(&maint_lock);
    }
    pthread_mutex_unlock(&maint_lock);
    return NULL;
}

void assoc_note_items(uint64_t curr_items)
{
    /* Unlocked peek at hashpower: a stale value only delays the wake-up. */
    unsigned hp = __atomic_load_n(&hashpower, __ATOMIC_RELAXED);
    if (!settings.hash_expand || curr_items <= BUCKETS(hp) * 3 / 2)
        return;     /* -o no_hashexpand: the table keeps its size */
    pthread_mutex_lock(&maint_lock);
    if (maint_running && !maint_wanted && curr_items > wanted_items) {
        wanted_items = curr_items;
        maint_wanted = true;
        pthread_cond_signal(&maint_cond);
    }
    pthread_mutex_unlock(&maint_lock);
}

void assoc_start_maintainer(void)
{
    pthread_mutex_lock(&maint_lock);
    maint_running = true;
    pthread_mutex_unlock(&maint_lock);
    if (pthread_create(&maint_thread, NULL, maintainer, NULL) != 0) {
        pthread_mutex_lock(&maint_lock);
        maint_running = false;
        pthread_mutex_unlock(&maint_lock);
    }
}

void assoc_stop_maintainer(void)
{
    pthread_mutex_lock(&maint_lock);
    bool was = maint_running;
    maint_running = false;
    pthread_cond_signal(&maint_cond);
    pthread_mutex_unlock(&maint_lock);
    if (was)
        pthread_join(maint_thread, NULL);
}

unsigned assoc_hashpower(void)
{
    return __atomic_load_n(&hashpower, __ATOMIC_RELAXED);
}

bool assoc_expanding(void)
{
    return __atomic_load_n(&expanding, __ATOMIC_RELAXED);
}

size_t assoc_bytes(void)
{
    return (size_t)BUCKETS(assoc_hashpower()) * sizeof(item *);
}

uint64_t assoc_walk_bucket(uint64_t bucket, void (*fn)(item *, void *), void *ctx)
{
    /* Take the bucket's lock first, then check expansion under it. */
    pthread_mutex_t *l = &locks[bucket & lock_mask];
    pthread_mutex_lock(l);
    if (expanding) {
        pthread_mutex_unlock(l);
        return bucket;
    }
    if (bucket >= BUCKETS(hashpower)) {
        pthread_mutex_unlock(l);
        return 0;
    }
    item *it = primary[bucket];
    while (it) {
        item *next = it->h_next;
        fn(it, ctx);
        it = next;
    }
    uint64_t nb = bucket + 1 < BUCKETS(hashpower) ? bucket + 1 : 0;
    pthread_mutex_unlock(l);
    return nb;
}

/* --- scanning ------------------------------------------------------------ */

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFULL) | ((v & 0x00FF00FF00FF00FFULL) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFULL) | ((v & 0x0000FFFF0000FFFFULL) << 16);
    return (v >> 32) | (v << 32);
}

/*
 * The cursor counts through bucket indexes with its bits reversed (the
 * scheme Redis's SCAN made known): when the table doubles, the buckets not
 * yet visited are exactly those whose reversed index is larger, so a scan
 * that spans a growth still sees every item that was there throughout.
 * While an expansion is under way, bucket v of the new table may still have
 * its items in old bucket v & oldmask; both share v's lock, so we visit the
 * old bucket's items that belong to v.
 */
uint64_t assoc_scan(uint64_t cursor, void (*fn)(item *it, void *ctx), void *ctx)
{
    pthread_mutex_t *l = &locks[cursor & lock_mask];
    pthread_mutex_lock(l);
    uint64_t mask = MASK(hashpower);
    uint64_t b = cursor & mask;
    item *it;
    if (expanding && (b & MASK(hashpower - 1)) >=
                     __atomic_load_n(&expand_bucket, __ATOMIC_RELAXED)) {
        for (it = old_table[b & MASK(hashpower - 1)]; it; it = it->h_next) {
            if ((hash_key(item_key(it), it->nkey) & mask) == b)
                fn(it, ctx);
        }
    }
    for (it = primary[b]; it; it = it->h_next)
        fn(it, ctx);
    pthread_mutex_unlock(l);
    uint64_t v = cursor | ~mask;
    v = rev64(v);
    v++;
    v = rev64(v);
    return v;
}

void assoc_chain_hist(uint64_t *hist, int nhist)
{
    memset(hist, 0, (size_t)nhist * sizeof(*hist));
    uint64_t cursor = 0;
    do {
        pthread_mutex_t *l = &locks[cursor & lock_mask];
        pthread_mutex_lock(l);
        uint64_t n = 0;
        if (!expanding && cursor < BUCKETS(hashpower)) {
            for (item *it = primary[cursor]; it; it = it->h_next)
                n++;
        }
        uint64_t size = BUCKETS(hashpower);
        bool exp = expanding;
        pthread_mutex_unlock(l);
        if (exp)
            return;     /* the shape is changing: no histogram now */
        hist[n < (uint64_t)nhist - 1 ? n : (uint64_t)nhist - 1]++;
        cursor++;
        if (cursor >= size)
            break;
    } while (1);
}
