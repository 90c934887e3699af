/*
 * proto_crawler.h - memcached's `lru_crawler` command on the text protocol
 * (crawl, metadump, sleep, tocrawl, enable, disable), and the item walk it
 * shares with `stats cachedump` (stats_text.c).
 *
 * memcached runs a crawler thread over its LRUs; mcd has no such thread
 * (its engine reclaims expired items in the background on its own), so
 * these commands run on the worker that received them and walk the hash
 * table through engine->walk(), a bucket at a time.
 */
#ifndef MCD_PROTO_CRAWLER_H
#define MCD_PROTO_CRAWLER_H

#include <stdbool.h>
#include <stddef.h>

#include "engine.h"
#include "proto_text.h"

/* memcached's MAX_NUMBER_OF_SLAB_CLASSES: class ids a client may name are
 * below this, whatever the engine has configured. */
#define CRAWLER_MAX_CLASS 64

/* Called for each copied item, with no engine lock held; returning false
 * stops the walk. */
typedef bool (*crawler_row_fn)(const struct engine_item_info *info, void *ctx);

/*
 * Visit every item (live ones only, unless with_dead) in hash order. The
 * engine's bucket lock is held only while a bucket's items are copied into
 * a batch; fn runs after it is dropped, so fn may take item locks itself
 * (engine->remove) and may be slow. Returns false if the batch could not
 * be allocated (nothing or only part was visited).
 */
bool crawler_each(bool with_dead, crawler_row_fn fn, void *ctx);

/* `lru_crawler <subcommand> ...`: answers every reply itself. */
void proto_crawler_command(struct conn *c, struct token *t, size_t nt);

#endif /* MCD_PROTO_CRAWLER_H */
