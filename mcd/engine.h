/*
 * engine.h - the storage-engine interface. The protocol code and the admin
 * socket reach storage only through this table of functions.
 *
 * References: every item an engine hands out (alloc, get, touch) carries one
 * reference owned by the caller, who gives it back with release(). An item
 * is never freed or reused while a reference is out, so a value can be sent
 * straight from item memory.
 *
 * Engines are built in (engine.c) or loaded from a shared object with
 * -o engine=/path/x.so. Such an object exports
 *
 *     const struct engine *mcd_engine_entry(int abi_version);
 *
 * mcd calls it with MCD_ENGINE_ABI; the engine returns its table (whose
 * abi_version field must equal MCD_ENGINE_ABI) or NULL to refuse. The .so
 * calls back into the server (settings, errors, stats, clock, hash_key),
 * so it must be built against the same headers; bump MCD_ENGINE_ABI on any
 * change to this file or to item.h.
 */
#ifndef MCD_ENGINE_H
#define MCD_ENGINE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "item.h"

enum store_op {
    STORE_SET = 1, STORE_ADD, STORE_REPLACE, STORE_APPEND, STORE_PREPEND,
    STORE_CAS
};

enum store_result {
    STORE_STORED, STORE_NOT_STORED, STORE_EXISTS, STORE_NOT_FOUND,
    STORE_ERROR         /* *err names the site */
};

enum delta_result {
    DELTA_OK, DELTA_NON_NUMERIC, DELTA_NOT_FOUND, DELTA_EXISTS, DELTA_ERROR
};

/* Who removes an item: a client's delete; mcd itself (the old value a
 * refused set must not leave readable); or the LRU crawler, which removes
 * only a dead (expired or flushed) item and counts it as its own reclaim
 * (crawler_reclaimed), not as a client's get_expired. */
enum remove_by { REMOVE_CLIENT, REMOVE_SERVER, REMOVE_DEAD };

/* The version of this table and of item.h, checked when loading a .so. */
#define MCD_ENGINE_ABI 5
#define MCD_ENGINE_ENTRY "mcd_engine_entry"
typedef const struct engine *(*engine_entry_fn)(int abi_version);

/* slabs reassign's answers; the text protocol words are memcached's. */
enum reassign_result {
    REASSIGN_OK,            /* the move was queued */
    REASSIGN_RUNNING,       /* BUSY: a move is already under way */
    REASSIGN_BADCLASS,      /* BADCLASS: no such class */
    REASSIGN_NOSPARE,       /* NOSPARE: the source has fewer than two pages */
    REASSIGN_SAME           /* SAME: source and destination are one class */
};

/* Emits one statistic: name and an already formatted value. */
typedef void (*stat_emit_fn)(void *ctx, const char *name, const char *value);

/* What one slab class (or the engine's one pool) looks like right now. */
struct engine_class_info {
    int id;
    uint32_t chunk_size;
    uint32_t chunks_per_page;
    uint64_t pages;
    uint64_t used_chunks;
    uint64_t free_chunks;
    uint64_t mem_requested;     /* bytes the items asked for */
    uint64_t mem_allocated;     /* bytes handed out for them (chunks, or
                                 * malloc's usable sizes for the heap) */
    uint64_t items;             /* linked items in the LRU */
    uint64_t evicted, evicted_nonzero, evicted_unfetched, expired_unfetched;
    uint64_t reclaimed, outofmemory;
    uint32_t evicted_time;      /* age of the last evicted item, seconds */
    uint32_t tail_age;          /* age of the LRU tail, seconds */
    uint64_t pages_moved_in;    /* pages given to the class by reassign */
    uint64_t pages_moved_out;   /* pages taken from it by reassign */
    /* memcached's names: */
    uint64_t lrutail_reflocked; /* tail items a store's eviction skipped
                                 * because someone held a reference */
    uint64_t evicted_active;    /* evicted although read since last bumped */
    uint64_t direct_reclaims;   /* items a store freed for its memory */
    uint64_t crawler_items_checked; /* items the expiry sweep looked at */
    uint64_t crawler_reclaimed; /* dead items the expiry sweep freed */
};

/* A copy of one item's metadata, taken under the item's lock by walk(). */
struct engine_item_info {
    const item *addr;           /* identity only: never dereference */
    char key[250];              /* not NUL-terminated */
    uint8_t nkey;
    uint8_t clsid;
    uint8_t it_flags;
    uint32_t refcount;
    uint32_t vlen;              /* value bytes, without "\r\n" */
    uint32_t flags;
    rel_time_t exptime;         /* 0 = never */
    rel_time_t time;            /* last access (bumped at most once a minute) */
    uint64_t cas;
    bool dead;                  /* expired or flushed, not yet reclaimed */
};

/* Called by walk() under the item's lock: copy what is needed, never block.
 * May take a reference with engine->hold() to read the value afterwards. */
typedef void (*engine_walk_fn)(const struct engine_item_info *info, item *it, void *ctx);

/*
 * The meta commands (mg, ms, md, ma, me) need an item's state before a fetch
 * changes it, and the win/stale marks of stale-while-revalidate, all decided
 * under the item's lock in one step. Times are rel_time_t like exptime.
 */
struct meta_get_opts {
    bool bump;              /* note the fetch and bump in the LRU (not u, me) */
    bool claim;             /* may hand out the win token (mg; not me) */
    bool set_ttl;           /* T: give the item this exptime */
    rel_time_t ttl;
    bool vivify;            /* N: on a miss, link an empty item ... */
    rel_time_t vivify_ttl;  /* ... with this exptime, and win it */
    bool key_binary;        /* the vivified item's key came in base64 */
    bool recache;           /* R: win if the item expires before ... */
    rel_time_t recache_before;
    bool ttl_after_vivify;  /* T came after N: a vivified item takes T's */
};

/* What a meta fetch saw, before the fetch itself changed anything. */
struct meta_item_info {
    bool fetched;           /* fetched before this call (mg h, me fetch=) */
    rel_time_t last_access; /* last access before this call (mg l, me la=) */
    bool created;           /* vivified by this call (N) */
    bool stale;             /* marked stale (X) */
    bool token_sent;        /* somebody else already won (Z) */
    bool won;               /* this caller won the token (W) */
    rel_time_t exptime_before;  /* before T or N changed it (0 if created) */
};

struct meta_store_opts {
    bool invalidate;        /* I: a STORE_CAS with a CAS older than the
                             * item's still stores, marked stale */
    uint64_t new_cas;       /* E: the stored item's CAS (0: the next one) */
};

struct meta_delete_opts {
    uint64_t cas;           /* C: only an item with this CAS (0: any) */
    bool invalidate;        /* I: mark stale and give a new CAS, keep it */
    bool set_ttl;           /* T (with I): and give it this exptime */
    rel_time_t ttl;
    uint64_t new_cas;       /* E: the CAS an invalidated item gets */
};

struct meta_arith_opts {
    bool incr;
    uint64_t delta;
    uint64_t cas;           /* C: only an item with this CAS (0: any) */
    uint64_t new_cas;       /* E */
    bool set_ttl;           /* T: give the item this exptime */
    rel_time_t ttl;
    bool vivify;            /* N: on a miss, store initial with vivify_ttl */
    rel_time_t vivify_ttl;
    uint64_t initial;       /* J */
};

struct meta_arith_info {
    uint64_t cas;           /* the item's CAS after the change */
    rel_time_t exptime;     /* its exptime after the change */
    bool created;           /* vivified by this call */
};

struct engine {
    int abi_version;            /* MCD_ENGINE_ABI */
    const char *name;

    /* Lifecycle: setup reads settings; start launches background threads. */
    int (*setup)(void);
    void (*start)(void);
    void (*stop)(void);

    /* Items. */
    item *(*alloc)(const char *key, size_t nkey, uint32_t flags,
                   rel_time_t exptime, uint32_t nbytes, enum err_site *err);
    void (*release)(item *it);
    item *(*get)(const char *key, size_t nkey);
    /* get and set a new exptime in one step */
    item *(*touch)(const char *key, size_t nkey, rel_time_t exptime);
    /* Store it (allocated by alloc) by op; it->cas is the compare value for
     * STORE_CAS. *cas gets the stored item's new CAS. The caller keeps its
     * reference to it and still releases it. */
    enum store_result (*store)(item *it, enum store_op op, uint64_t *cas,
                               enum err_site *err);
    /* Delete; cas != 0 only deletes an item with that CAS. by says whose
     * delete it is: only a client's counts in its class's delete_hits. */
    enum store_result (*remove)(const char *key, size_t nkey, uint64_t cas,
                                enum remove_by by);
    /* incr/decr; buf (>= 21 bytes) gets the new value as text. */
    enum delta_result (*arith)(const char *key, size_t nkey, bool incr,
                               uint64_t delta, uint64_t cas_in, char *buf,
                               uint64_t *cas, enum err_site *err);
    /* Invalidate everything stored before now + delay seconds. */
    void (*flush)(int64_t delay);

    /* Introspection. stats: the engine's own figures (bytes, curr_items,
     * the hash table...); mcd sums the per-class ones (evictions,
     * reclaimed...) from class_info itself. */
    void (*stats)(stat_emit_fn emit, void *ctx);
    int (*nclasses)(void);
    bool (*class_info)(int id, struct engine_class_info *out);
    /* Smallest class size able to hold an item of this total size, 0 if none. */
    uint32_t (*class_for)(size_t total);
    /* Visit the items of one hash bucket under its lock and return the next
     * cursor, 0 when the walk is complete (start with 0). The cursor stays
     * valid across hash table growth: every item present for the whole
     * walk is visited at least once (rarely twice). */
    uint64_t (*walk)(uint64_t cursor, engine_walk_fn fn, void *ctx);
    /* Take one more reference on an item: inside a walk callback, or on an
     * item the caller already holds a reference to. */
    void (*hold)(item *it);
    /* Hash table shape: buckets, power, expanding, and a histogram of chain
     * lengths (hist[i] = buckets with i items, the last slot counts longer). */
    void (*hash_info)(uint64_t *buckets, unsigned *power, bool *expanding,
                      uint64_t *hist, int nhist);

    /* The meta commands. An engine may leave these NULL; mcd then answers
     * meta commands with ERR_META_NO_ENGINE. */
    /* get with a new reference, filling info; see struct meta_get_opts */
    item *(*meta_get)(const char *key, size_t nkey, const struct meta_get_opts *o,
                      struct meta_item_info *info, enum err_site *err);
    /* store, as store(), with ms's I and E */
    enum store_result (*meta_store)(item *it, enum store_op op,
                                    const struct meta_store_opts *o,
                                    uint64_t *cas, enum err_site *err);
    /* delete or invalidate: STORE_STORED, STORE_NOT_FOUND or STORE_EXISTS */
    enum store_result (*meta_delete)(const char *key, size_t nkey,
                                     const struct meta_delete_opts *o,
                                     enum err_site *err);
    /* incr/decr with ma's options; buf (>= 21 bytes) gets the value */
    enum delta_result (*meta_arith)(const char *key, size_t nkey,
                                    const struct meta_arith_opts *o, char *buf,
                                    struct meta_arith_info *info,
                                    enum err_site *err);

    /* Memory between classes (slabs reassign / slabs automove). */
    /* Move one page from class src (-1: any with a spare page) to dst (0:
     * give it back to the pool any class may take from). Returns at once;
     * the move runs in the background. */
    enum reassign_result (*reassign)(int src, int dst);
    /* 0 off, 1 move pages slowly toward evicting classes, 2 aggressively */
    void (*set_automove)(int level);

    /* Optional (NULL: no hint). The key whose hash_key() is hv will be
     * looked up soon: stage 0 starts loading its hash bucket into the
     * cache, stage 1 (called later, when the bucket had time to arrive) the
     * first item in it. Changes nothing. A multi-key get hints every key
     * first, so the cache misses of its lookups overlap. */
    void (*prefetch)(uint32_t hv, int stage);
};

extern const struct engine *engine;

/* A built-in engine by name, or NULL. */
const struct engine *engine_find(const char *name);
/* The engine for -o engine=SPEC: a built-in name, or a path to a .so
 * (any SPEC with a '/'). NULL when it cannot be used: *err names the site
 * (raised already) and why gets the detail (dlerror, the ABI numbers). */
const struct engine *engine_load(const char *spec, enum err_site *err,
                                 char *why, size_t whylen);

#endif /* MCD_ENGINE_H */
