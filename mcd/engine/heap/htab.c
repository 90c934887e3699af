/*
 * htab.c - the heap engine's hash table: chained buckets, a fixed array of
 * striped mutexes (the item locks), and growth by doubling.
 *
 * Growth is deliberately simple: the maintainer thread takes every item
 * lock, rehashes every chain into a table twice the size and lets go. That
 * pauses the data path for the length of one rehash (tens of milliseconds
 * at a million items), which the slab engine's incremental expansion
 * avoids; the heap engine is a baseline, not a contender.
 */
#include <stdlib.h>
#include <string.h>

#include "heap_internal.h"
#include "../../errors.h"
#include "../../util.h"

#define LOCK_POWER 12

static pthread_mutex_t locks[1 << LOCK_POWER];
static bool locks_ready;

/* Changed only with every item lock held; read under any item lock. */
static item **table;
static unsigned power;

#define BUCKETS(p) ((uint64_t)1 << (p))
#define MASK(p) (BUCKETS(p) - 1)
#define LOCK_OF(hv) (&locks[(hv) & MASK(LOCK_POWER)])

int htab_setup(unsigned p)
{
    power = p >= LOCK_POWER ? p : 16;
    table = calloc(BUCKETS(power), sizeof(item *));
    if (!table)
        return -1;
    if (!locks_ready) {
        for (size_t i = 0; i < BUCKETS(LOCK_POWER); i++)
            pthread_mutex_init(&locks[i], NULL);
        locks_ready = true;
    }
    return 0;
}

void htab_teardown(void)
{
    free(table);
    table = NULL;
}

void htab_lock(uint32_t hv)
{
    pthread_mutex_lock(LOCK_OF(hv));
}

void htab_unlock(uint32_t hv)
{
    pthread_mutex_unlock(LOCK_OF(hv));
}

bool htab_trylock(uint32_t hv)
{
    return pthread_mutex_trylock(LOCK_OF(hv)) == 0;
}

item *htab_find(const char *key, size_t nkey, uint32_t hv)
{
    for (item *it = table[hv & MASK(power)]; it; it = it->h_next) {
        if (it->nkey == nkey && memcmp(item_key(it), key, nkey) == 0)
            return it;
    }
    return NULL;
}

void htab_insert(item *it, uint32_t hv)
{
    item **b = &table[hv & MASK(power)];
    it->h_next = *b;
    *b = it;
}

void htab_delete(const char *key, size_t nkey, uint32_t hv)
{
    for (item **pp = &table[hv & MASK(power)]; *pp; pp = &(*pp)->h_next) {
        item *it = *pp;
        if (it->nkey == nkey && memcmp(item_key(it), key, nkey) == 0) {
            *pp = it->h_next;
            it->h_next = NULL;
            return;
        }
    }
}

bool htab_wants_growth(uint64_t n)
{
    unsigned p = __atomic_load_n(&power, __ATOMIC_RELAXED);
    return p < 32 && n > BUCKETS(p) * 3 / 2;
}

void htab_grow(void)
{
    unsigned np = power + 1;
    item **bigger = err_inject(ERR_HASH_EXPAND_MALLOC) ? NULL :
        calloc(BUCKETS(np), sizeof(item *));
    if (!bigger) {
        err_raise(ERR_HASH_EXPAND_MALLOC, 0);
        return;
    }
    for (size_t i = 0; i < BUCKETS(LOCK_POWER); i++)
        pthread_mutex_lock(&locks[i]);
    for (uint64_t b = 0; b < BUCKETS(power); b++) {
        item *it = table[b];
        while (it) {
            item *next = it->h_next;
            item **nb = &bigger[hash_key(item_key(it), it->nkey) & MASK(np)];
            it->h_next = *nb;
            *nb = it;
            it = next;
        }
    }
    item **gone = table;
    table = bigger;
    __atomic_store_n(&power, np, __ATOMIC_RELAXED);
    for (size_t i = BUCKETS(LOCK_POWER); i-- > 0;)
        pthread_mutex_unlock(&locks[i]);
    free(gone);
}

unsigned htab_power(void)
{
    return __atomic_load_n(&power, __ATOMIC_RELAXED);
}

static uint64_t rev64(uint64_t v)
{
    v = ((v >> 1) & 0x5555555555555555ULL) | ((v & 0x5555555555555555ULL) << 1);
    v = ((v >> 2) & 0x3333333333333333ULL) | ((v & 0x3333333333333333ULL) << 2);
    v = ((v >> 4) & 0x0F0F0F0F0F0F0F0FULL) | ((v & 0x0F0F0F0F0F0F0F0FULL) << 4);
    v = ((v >> 8) & 0x00FF00FF00FF00FFULL) | ((v & 0x00FF00FF00FF00FFULL) << 8);
    v = ((v >> 16) & 0x0000FFFF0000FFFFULL) | ((v & 0x0000FFFF0000FFFFULL) << 16);
    return (v >> 32) | (v << 32);
}

uint64_t htab_scan(uint64_t cursor, void (*fn)(item *, void *), void *ctx)
{
    /* The stripe of a bucket is its low bits, the same in every size of
     * table, so the lock taken for cursor covers bucket cursor & mask. */
    pthread_mutex_t *l = LOCK_OF(cursor);
    pthread_mutex_lock(l);
    uint64_t mask = MASK(power);
    item *it = table[cursor & mask];
    while (it) {
        item *next = it->h_next;    /* fn may unlink it */
        fn(it, ctx);
        it = next;
    }
    pthread_mutex_unlock(l);
    return rev64(rev64(cursor | ~mask) + 1);
}

void htab_chain_hist(uint64_t *hist, int nhist)
{
    memset(hist, 0, (size_t)nhist * sizeof(*hist));
    for (uint64_t b = 0;; b++) {
        pthread_mutex_t *l = LOCK_OF(b);
        pthread_mutex_lock(l);
        uint64_t size = BUCKETS(power), n = 0;
        if (b < size) {
            for (item *it = table[b]; it; it = it->h_next)
                n++;
        }
        pthread_mutex_unlock(l);
        if (b >= size)
            break;
        hist[n < (uint64_t)nhist - 1 ? n : (uint64_t)nhist - 1]++;
    }
}
