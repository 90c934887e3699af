/*
 * arith.h - incr/decr and ma on a stored number, as memcached does them,
 * written once for both engines' rules (item_rules.h, meta_rules.h). The
 * caller holds the item's lock and a reference; it allocates and links a
 * replacement when the new number cannot be written in place.
 */
#ifndef MCD_ENGINE_ARITH_H
#define MCD_ENGINE_ARITH_H

#include <stdbool.h>
#include <stdint.h>
#include <string.h>

#include "../engine.h"
#include "../item.h"
#include "../stats.h"
#include "../util.h"

/* The new number into buf (>= 21 bytes), its length into *len. memcached's
 * order: an empty value is non-numeric, then the CAS is compared (0: none),
 * then the value is read as strtoull reads it (parse_stored_u64). */
static inline enum delta_result arith_next(const item *it, bool incr, uint64_t delta,
                                           uint64_t cas_in, char *buf, size_t *len)
{
    uint64_t value;
    if (item_vlen(it) == 0)
        return DELTA_NON_NUMERIC;
    if (cas_in != 0 && cas_in != it->cas)
        return DELTA_EXISTS;
    if (!parse_stored_u64(item_data(it), item_vlen(it), &value))
        return DELTA_NON_NUMERIC;
    if (incr) {
        value += delta;         /* wraps at 2^64, as memcached */
        STAT_CLASS_INCR(incr_hits, it->clsid);
    } else {
        value = value < delta ? 0 : value - delta;
        STAT_CLASS_INCR(decr_hits, it->clsid);
    }
    *len = fmt_u64(buf, value);
    return DELTA_OK;
}

/* When nobody else is reading it and the number fits, rewrite it in place,
 * padded with spaces to its length as memcached does ("99 " after 100). */
static inline bool arith_in_place(item *it, const char *buf, size_t len)
{
    if (len + 2 > it->nbytes || item_refcount(it) != 2)
        return false;
    memcpy(item_data(it), buf, len);
    memset(item_data(it) + len, ' ', it->nbytes - 2 - len);
    return true;
}

#endif
