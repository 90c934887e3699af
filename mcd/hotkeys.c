/*
 * hotkeys.c - space-saving top-K tables (Metwally, Agrawal, El Abbadi):
 * a key already in the table gains its weight; a new key replaces the
 * entry with the least weight and inherits that weight as its error bound,
 * so no key that really holds more than 1/K of the weight is missed.
 */
#include "hotkeys.h"

#include <stdlib.h>
#include <string.h>

#include "util.h"

__thread struct hotkeys *hk_mine;
bool hotkeys_enabled = true;

void hotkeys_thread_register(void)
{
    static uint32_t seeds;      /* each thread its own sequence */
    hk_mine = calloc(1, sizeof(*hk_mine));
    if (hk_mine)
        hk_mine->rng = 0x9e3779b9u * (__atomic_add_fetch(&seeds, 1, __ATOMIC_RELAXED) | 1);
}

static void table_add(struct hk_table *t, uint32_t hv, const char *key, size_t nkey,
                      uint64_t w)
{
    for (int i = 0; i < t->n; i++) {
        if (t->hash[i] == hv && t->nkey[i] == nkey && memcmp(t->key[i], key, nkey) == 0) {
            t->count[i] += w;
            return;
        }
    }
    int slot;
    uint64_t base = 0;
    if (t->n < HK_K) {
        slot = t->n++;
    } else {
        slot = 0;
        for (int i = 1; i < HK_K; i++)
            if (t->count[i] < t->count[slot])
                slot = i;
        base = t->count[slot];
    }
    t->hash[slot] = hv;
    t->nkey[slot] = (uint8_t)nkey;
    memcpy(t->key[slot], key, nkey);
    t->count[slot] = base + w;
    t->err[slot] = base;
}

void hk_record(struct hotkeys *h, const char *key, size_t nkey, size_t bytes)
{
    if (nkey > 250)
        return;
    uint32_t hv = hash_key(key, nkey);
    table_add(&h->req, hv, key, nkey, 1);
    if (bytes)
        table_add(&h->bytes, hv, key, nkey, bytes);
}
