/*
 * rebalance.c - the slab rebalancer: one background thread that carries out
 * page moves between classes (slabs reassign, see slabs.c for how a page
 * is emptied) and, with slabs automove 1 or 2, decides moves by itself so
 * that a shift in the value-size mix does not leave memory calcified in
 * classes nobody writes to any more.
 *
 * The automover looks once a second at each class's evictions (and failed
 * allocations). A class that evicted in each of the last N windows (N = 3
 * at level 1, 1 at level 2) is starving; it gets a page from, in order of
 * preference, a class holding at least a page's worth of free chunks, or a
 * class that evicted nothing for N windows and whose LRU tail is older
 * (level 1; level 2 drops that condition). One move at a time.
 */
#include <string.h>
#include <time.h>

#include "../../latency.h"
#include "slab_internal.h"
#include "../../errors.h"
#include "../../history.h"
#include "../../live.h"
#include "../../settings.h"
#include "../../stats.h"
#include "../../util.h"

/* A move whose page still has chunks in use after this long is given up
 * (E2230); the page goes back to its class, the automover may retry. */
#define MOVE_WAIT_MS 2000
/* Sleep between passes over a page that still has referenced items. */
#define MOVE_RETRY_US 1000

extern const struct engine slab_engine;

static pthread_mutex_t rb_lock = PTHREAD_MUTEX_INITIALIZER;
static pthread_cond_t rb_cond = PTHREAD_COND_INITIALIZER;
static pthread_t rb_thread;
static bool rb_running;             /* under rb_lock */

static int automove;                /* atomic: 0, 1, 2 */
/* atomic counters, memcached's names in stats */
static uint64_t n_rescues, n_evictions, n_reclaimed, n_busy;
static bool move_running;           /* atomic gauge */
static const char *move_reason = "automove";  /* atomic: why the page moves */
static uint64_t moved_evicted;      /* mover thread only: items evicted for it */

/* Automover state, the rebalancer thread's own. */
static uint64_t last_pressure[SLAB_MAX_CLASSES];
static unsigned hot_windows[SLAB_MAX_CLASSES];     /* consecutive, evicting */
static unsigned quiet_windows[SLAB_MAX_CLASSES];   /* consecutive, not */

static uint64_t ms_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (uint64_t)ts.tv_sec * 1000 + (uint64_t)ts.tv_nsec / 1000000;
}

/* A class that may give a page to dst: one with a page of free chunks
 * first, else (after need quiet windows) the one with the oldest tail. */
static unsigned pick_source(unsigned dst, const struct engine_class_info *ci,
                            unsigned n, unsigned need, bool colder_only)
{
    unsigned best = 0;
    for (unsigned id = 1; id <= n; id++) {
        if (id != dst && ci[id].pages >= 2 && ci[id].free_chunks >= ci[id].chunks_per_page &&
            (!best || ci[id].free_chunks > ci[best].free_chunks))
            best = id;
    }
    if (best)
        return best;
    for (unsigned id = 1; id <= n; id++) {
        if (id == dst || ci[id].pages < 2 || quiet_windows[id] < need)
            continue;
        if (colder_only && ci[id].tail_age <= ci[dst].tail_age)
            continue;
        if (!best || ci[id].tail_age > ci[best].tail_age)
            best = id;
    }
    return best;
}

static void automove_tick(int level)
{
    static struct engine_class_info ci[SLAB_MAX_CLASSES];
    unsigned n = slabs_largest(), dst = 0;
    unsigned need = level >= 2 ? 1 : 3;
    uint64_t most = 0;
    for (unsigned id = 1; id <= n; id++) {
        slab_engine.class_info((int)id, &ci[id]);
        uint64_t p = ci[id].evicted + ci[id].outofmemory;
        uint64_t delta = p - last_pressure[id];
        last_pressure[id] = p;
        if (delta > 0) {
            hot_windows[id]++;
            quiet_windows[id] = 0;
        } else {
            quiet_windows[id]++;
            hot_windows[id] = 0;
        }
        if (delta > most && hot_windows[id] >= need) {
            most = delta;
            dst = id;
        }
    }
    if (!dst)
        return;
    unsigned src = pick_source(dst, ci, n, need, level < 2);
    if (src && slabs_move_begin((int)src, (int)dst) == REASSIGN_OK) {
        hot_windows[dst] = 0;   /* let the new page show before the next */
        __atomic_store_n(&move_reason, "automove", __ATOMIC_RELAXED);
    }
}

/* One pass over the page being moved; true while the move goes on. */
static bool move_step(uint64_t *started)
{
    unsigned src;
    char *start, *end;
    if (!slabs_move_page(&src, &start, &end)) {
        __atomic_store_n(&move_running, false, __ATOMIC_RELAXED);
        return false;
    }
    __atomic_store_n(&move_running, true, __ATOMIC_RELAXED);
    if (!*started)
        *started = ms_now();
    struct page_clear pc = { 0 };
    int dst = slabs_move_dst();
    items_clear_page(src, start, end, &pc);
    moved_evicted += pc.evicted;
    __atomic_add_fetch(&n_rescues, pc.rescued, __ATOMIC_RELAXED);
    __atomic_add_fetch(&n_evictions, pc.evicted, __ATOMIC_RELAXED);
    __atomic_add_fetch(&n_reclaimed, pc.reclaimed, __ATOMIC_RELAXED);
    __atomic_add_fetch(&n_busy, pc.busy, __ATOMIC_RELAXED);
    if (slabs_move_finish()) {
        struct hist_event ev = {
            .kind = HK_pagemove, .what = __atomic_load_n(&move_reason, __ATOMIC_RELAXED),
            .clsid = (int)src, .clsid2 = dst,
            .size = moved_evicted,
        };
        history_add(&ev);
        latency_event("page_move", (ms_now() - *started) * 1000000ULL);
        moved_evicted = 0;
        *started = 0;
        return true;
    }
    if (ms_now() - *started > MOVE_WAIT_MS) {
        struct err_ctx ctx = { .clsid = (int)src, .size = slabs_move_pending() };
        slabs_move_abort();
        err_raise_ctx(ERR_SLAB_MOVE_ABORTED, &ctx);
        *started = 0;
        return true;
    }
    struct timespec ts = { 0, MOVE_RETRY_US * 1000 };
    nanosleep(&ts, NULL);
    return true;
}

static void *rebalancer(void *arg)
{
    (void)arg;
    err_thread_register();
    stats_thread_register();
    history_thread_register("rebalancer");
    struct live *live = live_register("rebalancer", 0);
    uint64_t started = 0;
    rel_time_t last_tick = 0;
    pthread_mutex_lock(&rb_lock);
    while (rb_running) {
        pthread_mutex_unlock(&rb_lock);
        live_beat(live, started ? "moving a page" : "idle");
        bool moving = move_step(&started);
        int level = __atomic_load_n(&automove, __ATOMIC_RELAXED);
        rel_time_t now = clock_now();
        if (!moving && level > 0 && now != last_tick) {
            last_tick = now;
            automove_tick(level);
            unsigned src;
            char *start, *end;
            moving = slabs_move_page(&src, &start, &end);
        }
        pthread_mutex_lock(&rb_lock);
        if (!moving && rb_running) {
            struct timespec ts;
            clock_gettime(CLOCK_REALTIME, &ts);
            ts.tv_sec += 1;
            pthread_cond_timedwait(&rb_cond, &rb_lock, &ts);
        }
    }
    pthread_mutex_unlock(&rb_lock);
    return NULL;
}

void rebalance_start(void)
{
    __atomic_store_n(&automove, settings.slab_automove, __ATOMIC_RELAXED);
    pthread_mutex_lock(&rb_lock);
    rb_running = true;
    if (err_inject(ERR_SLAB_REBALANCER_THREAD) ||
        pthread_create(&rb_thread, NULL, rebalancer, NULL) != 0) {
        rb_running = false;
        err_raise(ERR_SLAB_REBALANCER_THREAD, 0);
    }
    pthread_mutex_unlock(&rb_lock);
}

void rebalance_stop(void)
{
    pthread_mutex_lock(&rb_lock);
    bool was = rb_running;
    rb_running = false;
    pthread_cond_signal(&rb_cond);
    pthread_mutex_unlock(&rb_lock);
    if (was)
        pthread_join(rb_thread, NULL);
    slabs_move_abort();
}

enum reassign_result rebalance_reassign(int src, int dst)
{
    pthread_mutex_lock(&rb_lock);
    /* Without the thread nobody would carry the move out. */
    enum reassign_result r = rb_running ? slabs_move_begin(src, dst) : REASSIGN_RUNNING;
    if (r == REASSIGN_OK)
        __atomic_store_n(&move_reason, "slabs reassign", __ATOMIC_RELAXED);
    if (r == REASSIGN_OK)
        pthread_cond_signal(&rb_cond);
    pthread_mutex_unlock(&rb_lock);
    return r;
}

void rebalance_set_automove(int level)
{
    __atomic_store_n(&automove, level, __ATOMIC_RELAXED);
}

static void emit_u64(stat_emit_fn emit, void *ctx, const char *name, uint64_t v)
{
    char buf[24];
    fmt_u64(buf, v);
    emit(ctx, name, buf);
}

void rebalance_stats(stat_emit_fn emit, void *ctx)
{
    emit_u64(emit, ctx, "slab_reassign_rescues", __atomic_load_n(&n_rescues, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "slab_reassign_evictions_nomem",
             __atomic_load_n(&n_evictions, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "slab_reassign_inline_reclaim",
             __atomic_load_n(&n_reclaimed, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "slab_reassign_busy_items", __atomic_load_n(&n_busy, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "slab_reassign_running",
             __atomic_load_n(&move_running, __ATOMIC_RELAXED));
    emit_u64(emit, ctx, "slabs_moved", slabs_pages_moved());
}
