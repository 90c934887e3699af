/*
 * stats.c - registration and summing of per-thread counters.
 */
#include "stats.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

struct tblock {
    struct tstats s;
    struct tblock *next;
};

__thread struct tstats *tstats_mine;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct tblock *blocks;       /* under lock */
static struct tstats baseline;      /* under lock */

void stats_thread_register(void)
{
    struct tblock *b = calloc(1, sizeof(*b));
    if (!b)
        return;     /* this thread's counts are lost; it still serves */
    pthread_mutex_lock(&lock);
    b->next = blocks;
    blocks = b;
    pthread_mutex_unlock(&lock);
    tstats_mine = &b->s;
}

static void sum_raw(struct tstats *out)
{
    memset(out, 0, sizeof(*out));
    for (struct tblock *b = blocks; b; b = b->next) {
#define X(f, d) out->f += __atomic_load_n(&b->s.f, __ATOMIC_RELAXED);
        THREAD_STATS(X)
#undef X
        for (int i = 0; i < STATS_MAX_CLASSES; i++) {
#define X(f) out->cls[i].f += __atomic_load_n(&b->s.cls[i].f, __ATOMIC_RELAXED);
            CLASS_STATS(X)
#undef X
        }
    }
}

void stats_sum(struct tstats *out)
{
    pthread_mutex_lock(&lock);
    sum_raw(out);
#define X(f, d) out->f -= baseline.f;
    THREAD_STATS(X)
#undef X
    for (int i = 0; i < STATS_MAX_CLASSES; i++) {
#define X(f) out->cls[i].f -= baseline.cls[i].f;
        CLASS_STATS(X)
#undef X
    }
    pthread_mutex_unlock(&lock);
}

void stats_reset(void)
{
    pthread_mutex_lock(&lock);
    sum_raw(&baseline);
    pthread_mutex_unlock(&lock);
}
