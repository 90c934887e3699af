/*
 * meta.c - the heap engine's hooks for the meta commands (mg, ms, md, ma):
 * the same rules as the slab engine's, on the heap engine's items.
 */
#include <string.h>

#include "heap_internal.h"
#include "../../errors.h"
#include "../../util.h"

#define ENG_LOCK(hv) htab_lock(hv)
#define ENG_UNLOCK(hv) htab_unlock(hv)
#define ENG_GET_LOCKED heap_do_get
#define ENG_BUMP heap_do_bump
#define ENG_LINK heap_do_link
#define ENG_REPLACE heap_do_replace
#define ENG_UNLINK heap_do_unlink
#define ENG_ALLOC heap_item_alloc
#define ENG_RELEASE heap_item_release
#define ENG_JOIN heap_join_values
#define ENG_NEXT_CAS heap_next_cas
#define ENG_OLDEST_CAS heap_oldest_cas
#define ENG_CAS_AT_LEAST heap_cas_at_least
#define ENG_ERR_CLASS HEAP_CLASS
#define ENG_META_GET heap_meta_get
#define ENG_META_STORE heap_meta_store
#define ENG_META_DELETE heap_meta_delete
#define ENG_META_ARITH heap_meta_arith
#define ENG_NOTE_TTL heap_note_ttl

#include "../meta_rules.h"
