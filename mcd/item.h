/*
 * item.h - the layout of a stored item, shared by the protocol code and the
 * storage engines. An item is one allocation: this header, the key, then the
 * value with its trailing "\r\n" so a response can point straight at it.
 */
#ifndef MCD_ITEM_H
#define MCD_ITEM_H

#include <stdint.h>

#include "util.h"

/* it_flags bits */
#define ITEM_LINKED  0x01   /* in the hash table and an LRU */
#define ITEM_FETCHED 0x02   /* read at least once since stored */
#define ITEM_SLABBED 0x04   /* on a slab free list */
#define ITEM_ACTIVE  0x08   /* fetched again after being bumped */
/* The meta protocol's state (mg/md/ms flags W, X, Z and b): */
#define ITEM_STALE      0x10    /* invalidated (md I, ms I): served with X */
#define ITEM_TOKEN_SENT 0x20    /* a client won the right to recache it (W) */
#define ITEM_KEY_BINARY 0x40    /* stored with a base64 key: k answers in base64 */

typedef struct item {
    struct item *next;      /* LRU next (toward tail) / free list; LRU lock */
    struct item *prev;      /* LRU previous (toward head); LRU lock */
    struct item *h_next;    /* hash chain; item lock of its bucket */
    rel_time_t time;        /* last access; relaxed atomic */
    rel_time_t exptime;     /* 0 = never; item lock */
    uint32_t nbytes;        /* value length including "\r\n" */
    uint32_t flags;         /* client flags */
    uint64_t cas;           /* CAS unique; also the store sequence */
    uint32_t refcount;      /* atomic: 1 while linked, +1 per holder */
    uint8_t it_flags;       /* ITEM_*; item lock */
    uint8_t clsid;          /* slab class */
    uint8_t nkey;           /* key length (<= 250) */
    char data[];            /* key, then value + "\r\n" */
} item;

static inline char *item_key(const item *it) { return (char *)it->data; }
static inline char *item_data(const item *it) { return (char *)it->data + it->nkey; }
static inline uint32_t item_vlen(const item *it) { return it->nbytes - 2; }
static inline size_t item_total(uint8_t nkey, uint32_t nbytes)
{
    return sizeof(item) + nkey + nbytes;
}
static inline rel_time_t item_time(const item *it)
{
    return __atomic_load_n(&it->time, __ATOMIC_RELAXED);
}
static inline uint32_t item_refcount(const item *it)
{
    return __atomic_load_n(&it->refcount, __ATOMIC_ACQUIRE);
}

#endif /* MCD_ITEM_H */
