/*
 * heap_internal.h - what the heap engine's files share with each other and
 * with no one else: the hash table and its striped item locks (htab.c),
 * items, the LRU and the engine table (heap.c), the meta hooks (meta.c).
 *
 * The heap engine is the plain-allocator baseline: each item is its own
 * malloc, one LRU orders them all, and -m bounds the sum of the sizes
 * malloc really handed out (malloc_usable_size), so comparing its
 * "allocated" bytes with the slab engine's shows what slab chunking costs.
 *
 * Lock order, outermost first: item lock (by key hash) -> LRU lock. The
 * evictor holds the LRU lock and only *tries* item locks. Growing the
 * table takes every item lock, on the maintainer thread only.
 */
#ifndef MCD_HEAP_INTERNAL_H
#define MCD_HEAP_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../engine.h"
#include "../../item.h"

/* The one pseudo slab class every heap item belongs to. */
#define HEAP_CLASS 1

/* htab.c: callers of find/insert/delete hold htab_lock(hv) */
int htab_setup(unsigned power);
void htab_teardown(void);
void htab_lock(uint32_t hv);
void htab_unlock(uint32_t hv);
bool htab_trylock(uint32_t hv);
item *htab_find(const char *key, size_t nkey, uint32_t hv);
void htab_insert(item *it, uint32_t hv);
void htab_delete(const char *key, size_t nkey, uint32_t hv);
/* True when n items would make chains long enough to grow the table. */
bool htab_wants_growth(uint64_t n);
/* Doubles the table with every item lock held (maintainer thread only). */
void htab_grow(void);
unsigned htab_power(void);
/* One step of a resumable scan: fn for each item of one bucket under its
 * lock; the next cursor, 0 when done. Safe across growth (reverse-binary
 * cursor: buckets not yet visited keep their place when the table doubles). */
uint64_t htab_scan(uint64_t cursor, void (*fn)(item *it, void *ctx), void *ctx);
void htab_chain_hist(uint64_t *hist, int nhist);

/* heap.c, for meta.c: the item primitives (see heap.c for contracts) */
item *heap_item_alloc(const char *key, size_t nkey, uint32_t flags,
                      rel_time_t exptime, uint32_t nbytes, enum err_site *err);
void heap_item_release(item *it);
item *heap_do_get(const char *key, size_t nkey, uint32_t hv, bool bump);
void heap_do_link(item *it, uint32_t hv);
void heap_do_unlink(item *it, uint32_t hv);
void heap_do_replace(item *old, item *it, uint32_t hv);
void heap_do_bump(item *it, bool read);
item *heap_join_values(item *old, item *it, enum store_op op, enum err_site *err);
uint64_t heap_next_cas(void);
uint64_t heap_oldest_cas(void);
void heap_cas_at_least(uint64_t cas);

/* heap.c: the background expiry pass sweeps the table only while an item
 * may die unseen. Stores, touches and meta commands that give an exptime,
 * and flushes, set heap_ttl_dirty; a sweep that ends having seen no item
 * that can still die clears it. */
extern bool heap_ttl_dirty;
static inline void heap_note_ttl(rel_time_t exptime)
{
    if (exptime && !__atomic_load_n(&heap_ttl_dirty, __ATOMIC_RELAXED))
        __atomic_store_n(&heap_ttl_dirty, true, __ATOMIC_RELAXED);
}
/* One turn of the expiry pass (the maintainer thread, or a test). */
void heap_expire_pass(void);

/* meta.c */
item *heap_meta_get(const char *key, size_t nkey, const struct meta_get_opts *o,
                    struct meta_item_info *info, enum err_site *err);
enum store_result heap_meta_store(item *it, enum store_op op,
                                  const struct meta_store_opts *o, uint64_t *cas,
                                  enum err_site *err);
enum store_result heap_meta_delete(const char *key, size_t nkey,
                                   const struct meta_delete_opts *o, enum err_site *err);
enum delta_result heap_meta_arith(const char *key, size_t nkey,
                                  const struct meta_arith_opts *o, char *buf,
                                  struct meta_arith_info *info, enum err_site *err);

#endif /* MCD_HEAP_INTERNAL_H */
