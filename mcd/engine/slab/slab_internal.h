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
uint64_t slabs_pages_moved(void);
/* A free chunk of class id without taking a new page (a rescue target). */
void *slabs_alloc_free(unsigned id, size_t requested);
/* Moving a page (see slabs.c): begin checks and queues the move of src's
 * oldest page to dst; page tells the range still to be emptied; pending
 * counts its chunks not yet free; finish hands it over once all are (false
 * if not yet); abort gives the page back to src as it is. */
enum reassign_result slabs_move_begin(int src, int dst);
bool slabs_move_page(unsigned *src, char **start, char **end);
uint32_t slabs_move_pending(void);
bool slabs_move_finish(void);
void slabs_move_abort(void);

/* assoc.c: the hash table; callers hold the item lock of hv */
int assoc_setup(int hashpower);
void assoc_teardown(void);
/* engine.h's prefetch hint: stage 0 unlocked, stage 1 under lock(hv). */
void assoc_prefetch(uint32_t hv, int stage);
item *assoc_find(const char *key, size_t nkey, uint32_t hv);
void assoc_insert(item *it, uint32_t hv);
void assoc_delete(const char *key, size_t nkey, uint32_t hv);
void assoc_start_maintainer(void);
/* Growths started and finished, and the current one's old buckets moved of
 * its total (0 of 0 when not growing). */
void assoc_expansion_progress(uint64_t *started, uint64_t *finished, uint64_t *moved,
                              uint64_t *total);
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
 * when the walk wrapped. While the table is expanding nothing is walked and
 * bucket itself comes back, so the caller can resume there later. fn gets
 * the bucket's items and may unlink them (their key hashes to this bucket). */
uint64_t assoc_walk_bucket(uint64_t bucket, void (*fn)(item *it, void *ctx), void *ctx);
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

/* items.c: the item primitives meta.c shares (contracts in items.c) */
void items_expire_pass(void);
/* Set once an item may die by time or flush without a client touching it
 * again: the expiry pass sweeps the table only while it is set (cleared at
 * the start of a sweep, set again by a sweep that still saw such items). */
extern bool items_ttl_dirty;
static inline void items_note_ttl(rel_time_t exptime)
{
    /* Read first: the flag's cache line is only written when it changes. */
    if (exptime && !__atomic_load_n(&items_ttl_dirty, __ATOMIC_RELAXED))
        __atomic_store_n(&items_ttl_dirty, true, __ATOMIC_RELAXED);
}
item *items_alloc(const char *key, size_t nkey, uint32_t flags,
                  rel_time_t exptime, uint32_t nbytes, enum err_site *err);
void items_release(item *it);
item *items_get_locked(const char *key, size_t nkey, uint32_t hv, bool bump);
void items_link(item *it, uint32_t hv);
void items_unlink(item *it, uint32_t hv);
void items_replace(item *old, item *it, uint32_t hv);
void items_bump(item *it, bool read);
item *items_join(item *old, item *it, enum store_op op, enum err_site *err);
uint64_t items_next_cas(void);
uint64_t items_oldest_cas(void);
void items_cas_at_least(uint64_t cas);

/* What one items_clear_page() pass did to the page's items. */
struct page_clear {
    uint64_t rescued;       /* copied to another chunk of the class */
    uint64_t evicted;       /* live, no free chunk to copy to */
    uint64_t reclaimed;     /* expired or flushed */
    uint64_t busy;          /* referenced: left for a later pass */
};
/* slabs.c: the destination of the page being moved, -1 if none. */
int slabs_move_dst(void);
void items_clear_page(unsigned id, const char *start, const char *end,
                      struct page_clear *pc);

/* rebalance.c: the page mover thread and the automover */
void rebalance_start(void);
void rebalance_stop(void);
enum reassign_result rebalance_reassign(int src, int dst);
void rebalance_set_automove(int level);
void rebalance_stats(stat_emit_fn emit, void *ctx);

/* meta.c */
item *slab_meta_get(const char *key, size_t nkey, const struct meta_get_opts *o,
                    struct meta_item_info *info, enum err_site *err);
enum store_result slab_meta_store(item *it, enum store_op op,
                                  const struct meta_store_opts *o, uint64_t *cas,
                                  enum err_site *err);
enum store_result slab_meta_delete(const char *key, size_t nkey,
                                   const struct meta_delete_opts *o, enum err_site *err);
enum delta_result slab_meta_arith(const char *key, size_t nkey,
                                  const struct meta_arith_opts *o, char *buf,
                                  struct meta_arith_info *info, enum err_site *err);

#endif /* MCD_SLAB_INTERNAL_H */
