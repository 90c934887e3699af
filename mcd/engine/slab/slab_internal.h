/*
 * slab_internal.h - what the slab engine's files share with each other and
 * with no one else: slab classes (slabs.c), the hash table and its striped
 * item locks (assoc.c), items and LRUs (items.c).
 *
 * Lock order, outermost first: item lock (by key hash) -> LRU lock (per
 * class) -> slabs lock. Code holding a later lock only ever *tries* an
 * earlier one (the evictor holds an LRU lock and trylocks item locks).
 */
#ifndef MCD_SLAB_INTERNAL_H
#define MCD_SLAB_INTERNAL_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "../../engine.h"
#include "../../item.h"

#define SLAB_MAX_CLASSES 64
#define SLAB_MIN_PAGE (1024 * 1024)

/* slabs.c */
int slabs_setup(size_t limit, double factor, int chunk_min, size_t item_max);
void slabs_teardown(void);
/* Class id for an item of this total size; 0 if larger than any class. */
unsigned slabs_clsid(size_t total);
/* A free chunk of class id, or NULL when the class has none and no new page
 * may be taken (the caller then evicts). *page_failed is set when the OS
 * refused a page. */
void *slabs_alloc(unsigned id, size_t requested, bool *page_failed);
void slabs_free(void *chunk, unsigned id, size_t requested);
unsigned slabs_largest(void);
uint32_t slabs_chunk_size(unsigned id);
void slabs_class_info(unsigned id, struct engine_class_info *out);
size_t slabs_mem_malloced(void);
size_t slabs_mem_limit(void);
uint64_t slabs_pages_total(void);

/* assoc.c: the hash table; callers hold the item lock of hv */
int assoc_setup(int hashpower);
void assoc_teardown(void);
item *assoc_find(const char *key, size_t nkey, uint32_t hv);
void assoc_insert(item *it, uint32_t hv);
void assoc_delete(const char *key, size_t nkey, uint32_t hv);
void assoc_start_maintainer(void);
void assoc_stop_maintainer(void);
/* Called after an insert: may wake the maintainer to grow the table. */
void assoc_note_items(uint64_t curr_items);
unsigned assoc_hashpower(void);
bool assoc_expanding(void);
size_t assoc_bytes(void);
void item_lock(uint32_t hv);
void item_unlock(uint32_t hv);
bool item_trylock(uint32_t hv);
/* Walks one bucket of the table under its lock; returns the next bucket, 0
 * when the walk wrapped. Skipped while the table is expanding. */
uint64_t assoc_walk_bucket(uint64_t bucket, void (*fn)(item *it, uint32_t hv, void *ctx), void *ctx);
/* One step of a resumable scan (reverse-binary cursor, safe across growth):
 * calls fn for each item of one bucket under its lock; returns the next
 * cursor, 0 when done. */
uint64_t assoc_scan(uint64_t cursor, void (*fn)(item *it, void *ctx), void *ctx);
/* Chain-length histogram, one bucket lock at a time. */
void assoc_chain_hist(uint64_t *hist, int nhist);
/* Tests only: grow the table on the calling thread one old bucket per
 * step, so a test can look items up between steps. The maintainer must not
 * be running. begin is false if the table cannot grow; step is false once
 * the expansion has finished. */
bool assoc_expand_begin_(void);
bool assoc_expand_step_(void);

/* items.c */
void items_expire_pass(void);

#endif /* MCD_SLAB_INTERNAL_H */
