/*
 * meta.c - the slab engine's hooks for the meta commands (mg, ms, md, ma).
 */
#include <string.h>

#include "slab_internal.h"
#include "../../errors.h"
#include "../../util.h"

#define ENG_LOCK(hv) item_lock(hv)
#define ENG_UNLOCK(hv) item_unlock(hv)
#define ENG_GET_LOCKED items_get_locked
#define ENG_BUMP items_bump
#define ENG_LINK items_link
#define ENG_REPLACE items_replace
#define ENG_UNLINK items_unlink
#define ENG_ALLOC items_alloc
#define ENG_RELEASE items_release
#define ENG_JOIN items_join
#define ENG_NEXT_CAS items_next_cas
#define ENG_OLDEST_CAS items_oldest_cas
#define ENG_CAS_AT_LEAST items_cas_at_least
#define ENG_ERR_CLASS -1
#define ENG_META_GET slab_meta_get
#define ENG_META_STORE slab_meta_store
#define ENG_META_DELETE slab_meta_delete
#define ENG_META_ARITH slab_meta_arith
#define ENG_NOTE_TTL items_note_ttl

#include "../meta_rules.h"
