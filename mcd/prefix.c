/*
 * prefix.c - per-prefix statistics. Off by default (it takes a global lock
 * per counted key); on with -D or `stats detail on`.
 */
#include "prefix.h"

#include <pthread.h>
#include <stdlib.h>
#include <string.h>

#include "settings.h"
#include "util.h"

#define PREFIX_BUCKETS 256
#define PREFIX_MAX 4096         /* distinct prefixes kept; more are folded */

struct prefix {
    struct prefix *next;
    unsigned long long get, hit, set, del;
    size_t len;
    char name[];
};

bool prefix_enabled;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct prefix *table[PREFIX_BUCKETS];    /* under lock */
static size_t count;                            /* under lock */

void prefix_record(const char *key, size_t nkey, enum prefix_op op, bool hit)
{
    const char *d = memchr(key, settings.prefix_delimiter, nkey);
    if (!d)
        return;     /* memcached counts only keys that have a prefix */
    size_t len = (size_t)(d - key);
    uint32_t b = hash_key(key, len) % PREFIX_BUCKETS;
    pthread_mutex_lock(&lock);
    struct prefix *p = table[b];
    while (p && !(p->len == len && memcmp(p->name, key, len) == 0))
        p = p->next;
    if (!p && count < PREFIX_MAX) {
        p = calloc(1, sizeof(*p) + len + 1);
        if (p) {
            memcpy(p->name, key, len);
            p->len = len;
            p->next = table[b];
            table[b] = p;
            count++;
        }
    }
    if (p) {
        switch (op) {
        case PREFIX_GET: p->get++; p->hit += hit; break;
        case PREFIX_SET: p->set++; break;
        case PREFIX_DELETE: p->del++; break;
        }
    }
    pthread_mutex_unlock(&lock);
}

void prefix_each(void (*fn)(void *, const char *, size_t, unsigned long long,
                            unsigned long long, unsigned long long,
                            unsigned long long),
                 void *ctx)
{
    pthread_mutex_lock(&lock);
    for (int b = 0; b < PREFIX_BUCKETS; b++) {
        for (struct prefix *p = table[b]; p; p = p->next)
            fn(ctx, p->name, p->len, p->get, p->hit, p->set, p->del);
    }
    pthread_mutex_unlock(&lock);
}

void prefix_teardown(void)
{
    pthread_mutex_lock(&lock);
    for (int b = 0; b < PREFIX_BUCKETS; b++) {
        while (table[b]) {
            struct prefix *p = table[b];
            table[b] = p->next;
            free(p);
        }
    }
    count = 0;
    pthread_mutex_unlock(&lock);
}
