/*
 * history.c - the per-thread event rings.
 */
#include "history.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#define RING_LEN 2048

static const char *const kind_names[HK__COUNT] = {
#define X(n) #n,
    HISTORY_KINDS(X)
#undef X
};

struct ring {
    pthread_mutex_t lock;       /* guards everything below */
    struct hist_event ev[RING_LEN];
    uint64_t written;           /* events ever written to this ring */
    struct ring *next;          /* registry, under reg_lock */
    const char *role;
};

bool history_redact;
static uint64_t seq;            /* atomic */
static uint64_t counts[HK__COUNT];  /* atomic */
static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct ring *rings;      /* under reg_lock */
static struct ring shared = { .lock = PTHREAD_MUTEX_INITIALIZER, .role = "shared" };
static bool shared_linked;      /* under reg_lock */
static __thread struct ring *mine;

static void watch_push(const struct hist_event *e);

const char *history_kind_name(enum hist_kind k)
{
    return k < HK__COUNT ? kind_names[k] : "all";
}

bool history_kind_lookup(const char *name, enum hist_kind *out)
{
    for (int i = 0; i < HK__COUNT; i++) {
        if (strcmp(name, kind_names[i]) == 0) {
            *out = (enum hist_kind)i;
            return true;
        }
    }
    return false;
}

static void link_ring(struct ring *r)
{
    pthread_mutex_lock(&reg_lock);
    r->next = rings;
    rings = r;
    pthread_mutex_unlock(&reg_lock);
}

void history_thread_register(const char *role)
{
    struct ring *r = calloc(1, sizeof(*r));
    if (!r)
        return;
    pthread_mutex_init(&r->lock, NULL);
    r->role = role;
    link_ring(r);
    mine = r;
}

void history_set_key(struct hist_event *e, const char *key, size_t nkey)
{
    e->nkey = (uint16_t)nkey;
    if (__atomic_load_n(&history_redact, __ATOMIC_RELAXED)) {
        e->key[0] = '\0';
        return;
    }
    size_t n = nkey < HIST_KEY_MAX ? nkey : HIST_KEY_MAX;
    memcpy(e->key, key, n);
}

void history_add(struct hist_event *e)
{
    struct ring *r = mine;
    if (!r) {
        r = &shared;
        pthread_mutex_lock(&reg_lock);
        if (!shared_linked) {
            shared.next = rings;
            rings = &shared;
            shared_linked = true;
        }
        pthread_mutex_unlock(&reg_lock);
    }
    e->time = time(NULL);
    __atomic_add_fetch(&counts[e->kind], 1, __ATOMIC_RELAXED);
    pthread_mutex_lock(&r->lock);
    e->seq = __atomic_add_fetch(&seq, 1, __ATOMIC_RELAXED);
    r->ev[r->written % RING_LEN] = *e;
    r->written++;
    pthread_mutex_unlock(&r->lock);
    watch_push(e);
}

static int by_seq(const void *a, const void *b)
{
    const struct hist_event *x = a, *y = b;
    return x->seq < y->seq ? -1 : x->seq > y->seq;
}

size_t history_read(enum hist_kind kind, time_t since, struct hist_event *out, size_t max)
{
    size_t n = 0, cap = 0;
    struct hist_event *all = NULL;
    pthread_mutex_lock(&reg_lock);
    for (struct ring *r = rings; r; r = r->next)
        cap += RING_LEN;
    all = malloc(sizeof(*all) * (cap ? cap : 1));
    if (!all) {
        pthread_mutex_unlock(&reg_lock);
        return 0;
    }
    for (struct ring *r = rings; r; r = r->next) {
        pthread_mutex_lock(&r->lock);
        uint64_t first = r->written > RING_LEN ? r->written - RING_LEN : 0;
        for (uint64_t i = first; i < r->written && n < cap; i++) {
            const struct hist_event *e = &r->ev[i % RING_LEN];
            if ((kind == HK__COUNT || e->kind == kind) && e->time >= since)
                all[n++] = *e;
        }
        pthread_mutex_unlock(&r->lock);
    }
    pthread_mutex_unlock(&reg_lock);
    qsort(all, n, sizeof(*all), by_seq);
    size_t skip = n > max ? n - max : 0;    /* keep the newest max */
    memcpy(out, all + skip, (n - skip) * sizeof(*out));
    free(all);
    return n - skip;
}

/* --- live watchers ------------------------------------------------------- */

#define WATCH_QUEUE 4096

struct watcher {
    bool used;
    unsigned kinds;             /* bit per hist_kind */
    struct hist_event q[WATCH_QUEUE];
    size_t head, len;
    uint64_t lost;
};

static pthread_mutex_t watch_lock = PTHREAD_MUTEX_INITIALIZER;
static struct watcher *watchers[WATCHERS_MAX];     /* under watch_lock */
static unsigned watch_kinds;    /* atomic: union of the watchers' kinds */

static void recompute_kinds(void)
{
    unsigned k = 0;
    for (int i = 0; i < WATCHERS_MAX; i++)
        if (watchers[i])
            k |= watchers[i]->kinds;
    __atomic_store_n(&watch_kinds, k, __ATOMIC_RELAXED);
}

int history_watch_open(unsigned kinds)
{
    pthread_mutex_lock(&watch_lock);
    for (int i = 0; i < WATCHERS_MAX; i++) {
        if (!watchers[i]) {
            watchers[i] = calloc(1, sizeof(struct watcher));
            if (!watchers[i])
                break;
            watchers[i]->kinds = kinds;
            recompute_kinds();
            pthread_mutex_unlock(&watch_lock);
            return i;
        }
    }
    pthread_mutex_unlock(&watch_lock);
    return -1;
}

void history_watch_close(int id)
{
    pthread_mutex_lock(&watch_lock);
    free(watchers[id]);
    watchers[id] = NULL;
    recompute_kinds();
    pthread_mutex_unlock(&watch_lock);
}

size_t history_watch_drain(int id, struct hist_event *out, size_t max, uint64_t *lost)
{
    size_t n = 0;
    pthread_mutex_lock(&watch_lock);
    struct watcher *w = watchers[id];
    while (w && w->len > 0 && n < max) {
        out[n++] = w->q[w->head];
        w->head = (w->head + 1) % WATCH_QUEUE;
        w->len--;
    }
    *lost = w ? w->lost : 0;
    if (w)
        w->lost = 0;
    pthread_mutex_unlock(&watch_lock);
    return n;
}

/* Hands an event to the live watchers of its kind; a full queue drops it
 * and counts the loss, so a slow watcher never slows the thread. */
static void watch_push(const struct hist_event *e)
{
    if (!(__atomic_load_n(&watch_kinds, __ATOMIC_RELAXED) & (1u << e->kind)))
        return;
    pthread_mutex_lock(&watch_lock);
    for (int i = 0; i < WATCHERS_MAX; i++) {
        struct watcher *w = watchers[i];
        if (!w || !(w->kinds & (1u << e->kind)))
            continue;
        if (w->len == WATCH_QUEUE) {
            w->lost++;
            continue;
        }
        w->q[(w->head + w->len) % WATCH_QUEUE] = *e;
        w->len++;
    }
    pthread_mutex_unlock(&watch_lock);
}

uint64_t history_last_seq(void)
{
    return __atomic_load_n(&seq, __ATOMIC_RELAXED);
}

uint64_t history_count(enum hist_kind kind)
{
    return __atomic_load_n(&counts[kind], __ATOMIC_RELAXED);
}

size_t history_memory(void)
{
    size_t n = 0;
    pthread_mutex_lock(&reg_lock);
    for (struct ring *r = rings; r; r = r->next)
        n += sizeof(*r);
    pthread_mutex_unlock(&reg_lock);
    pthread_mutex_lock(&watch_lock);
    for (int i = 0; i < WATCHERS_MAX; i++)
        if (watchers[i])
            n += sizeof(struct watcher);
    pthread_mutex_unlock(&watch_lock);
    return n;
}
