/*
 * test_items.c - the slab engine through its `struct engine` table
 * (mcd/engine/slab/items.c): store rules and CAS values, references,
 * delete, incr/decr, touch and expiry, flush (immediate and delayed),
 * eviction under a small memory limit, -M, and referenced items.
 *
 * One engine serves the whole file, so tests use their own keys and
 * value sizes (a value size picks a slab class). The clock only moves
 * forward, through clock_set_for_test().
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine.h"
#include "engine/slab/slab_internal.h"
#include "errors.h"
#include "settings.h"
#include "stats.h"
#include "util.h"

extern const struct engine slab_engine;
static const struct engine *E = &slab_engine;

#define MB (1024UL * 1024)
#define LIMIT (4 * MB)

static rel_time_t tnow;

static void advance(rel_time_t secs)
{
    tnow += secs;
    clock_set_for_test(tnow);
}

static int group_setup(void **state)
{
    (void)state;
    clock_setup();
    tnow = clock_now();
    clock_set_for_test(tnow);
    err_setup();
    err_thread_register();
    stats_thread_register();
    settings_init(&settings);
    settings.maxbytes = LIMIT;
    settings.item_size_max = 256 * 1024;
    engine = E;
    return E->setup();
}

/* --- helpers ------------------------------------------------------------- */

static item *mk_len(const char *key, const char *val, size_t vlen, uint32_t flags,
                    rel_time_t exp, enum err_site *err)
{
    *err = ERR__COUNT;
    item *it = E->alloc(key, strlen(key), flags, exp, (uint32_t)vlen + 2, err);
    if (!it)
        return NULL;
    assert_int_equal(item_refcount(it), 1);
    assert_int_equal(it->nkey, strlen(key));
    assert_memory_equal(item_key(it), key, strlen(key));
    memcpy(item_data(it), val, vlen);
    memcpy(item_data(it) + vlen, "\r\n", 2);
    return it;
}

static item *mk(const char *key, const char *val, uint32_t flags, rel_time_t exp)
{
    enum err_site e;
    item *it = mk_len(key, val, strlen(val), flags, exp, &e);
    assert_non_null(it);
    return it;
}

/* Allocate, store by op with cas_in, release: the protocol's sequence. */
static enum store_result store_x(const char *key, const char *val, enum store_op op,
                                 uint64_t cas_in, uint64_t *cas_out, rel_time_t exp)
{
    enum err_site e = ERR__COUNT;
    item *it = mk(key, val, 7, exp);
    it->cas = cas_in;
    enum store_result r = E->store(it, op, cas_out, &e);
    if (r != STORE_ERROR)
        assert_int_equal(e, ERR__COUNT);
    E->release(it);
    return r;
}

static enum store_result store(const char *key, const char *val, enum store_op op,
                               uint64_t cas_in, uint64_t *cas_out)
{
    return store_x(key, val, op, cas_in, cas_out, 0);
}

static uint64_t set(const char *key, const char *val)
{
    uint64_t cas = 0;
    assert_int_equal(store(key, val, STORE_SET, 0, &cas), STORE_STORED);
    assert_true(cas > 0);
    return cas;
}

/* The value of key (NULL if missing), as a static string; cas into *cas. */
static const char *value_of(const char *key, uint64_t *cas)
{
    static char buf[512];
    item *it = E->get(key, strlen(key));
    if (!it)
        return NULL;
    assert_int_equal(it->nkey, strlen(key));
    assert_memory_equal(item_key(it), key, it->nkey);
    assert_true(it->nbytes >= 2);
    assert_memory_equal(item_data(it) + it->nbytes - 2, "\r\n", 2);
    size_t n = item_vlen(it) < sizeof(buf) - 1 ? item_vlen(it) : sizeof(buf) - 1;
    memcpy(buf, item_data(it), n);
    buf[n] = '\0';
    if (cas)
        *cas = it->cas;
    E->release(it);
    return buf;
}

#define assert_value(key, want) do { \
        const char *v_ = value_of(key, NULL); \
        assert_non_null(v_); \
        assert_string_equal(v_, want); \
    } while (0)
#define assert_missing(key) assert_null(value_of(key, NULL))

struct stat_find {
    const char *name;
    uint64_t value;
    bool found;
};

static void stat_cb(void *ctx, const char *name, const char *value)
{
    struct stat_find *f = ctx;
    if (strcmp(name, f->name) == 0) {
        f->found = true;
        f->value = strtoull(value, NULL, 10);
    }
}

static uint64_t engine_stat(const char *name)
{
    struct stat_find f = { name, 0, false };
    E->stats(stat_cb, &f);
    if (!f.found)
        fail_msg("engine stat '%s' missing", name);
    return f.value;
}

/* stats' evictions, which mcd sums over the classes' class_info */
static uint64_t evictions(void)
{
    uint64_t n = 0;
    struct engine_class_info ci;
    for (int id = 1; id <= E->nclasses(); id++)
        if (E->class_info(id, &ci))
            n += ci.evicted;
    return n;
}

static struct engine_class_info class_of_value(size_t vlen, const char *key)
{
    struct engine_class_info ci;
    unsigned id = slabs_clsid(item_total((uint8_t)strlen(key), (uint32_t)vlen + 2));
    assert_true(id > 0);
    assert_true(E->class_info((int)id, &ci));
    return ci;
}

/* --- store rules ----------------------------------------------------------- */

static void test_set_add_replace(void **state)
{
    (void)state;
    uint64_t cas = 12345, c1, c2;

    c1 = set("s:a", "one");
    assert_value("s:a", "one");
    c2 = set("s:a", "two");
    assert_true(c2 > c1);           /* every store gets a new CAS */
    assert_value("s:a", "two");

    /* add: only when missing; cas_out untouched when not stored */
    assert_int_equal(store("s:a", "three", STORE_ADD, 0, &cas), STORE_NOT_STORED);
    assert_int_equal(cas, 12345);
    assert_value("s:a", "two");
    assert_int_equal(store("s:b", "bee", STORE_ADD, 0, &cas), STORE_STORED);
    assert_true(cas > c2);
    assert_value("s:b", "bee");

    /* replace: only when present */
    cas = 12345;
    assert_int_equal(store("s:c", "sea", STORE_REPLACE, 0, &cas), STORE_NOT_STORED);
    assert_int_equal(cas, 12345);
    assert_missing("s:c");
    assert_int_equal(store("s:a", "four", STORE_REPLACE, 0, &cas), STORE_STORED);
    assert_value("s:a", "four");

    /* flags and an empty value survive */
    item *it = mk("s:flags", "", 0xdeadbeef, 0);
    assert_int_equal(E->store(it, STORE_SET, NULL, NULL), STORE_STORED);
    E->release(it);
    it = E->get("s:flags", 7);
    assert_non_null(it);
    assert_int_equal(it->flags, 0xdeadbeef);
    assert_int_equal(item_vlen(it), 0);
    E->release(it);
}

static void test_append_prepend(void **state)
{
    (void)state;
    uint64_t cas = 0, old;

    assert_int_equal(store("ap:none", "x", STORE_APPEND, 0, &cas), STORE_NOT_STORED);
    assert_int_equal(store("ap:none", "x", STORE_PREPEND, 0, &cas), STORE_NOT_STORED);
    assert_missing("ap:none");

    item *it = mk("ap:k", "mid", 42, 0);
    assert_int_equal(E->store(it, STORE_SET, &old, NULL), STORE_STORED);
    E->release(it);
    assert_int_equal(store("ap:k", "-end", STORE_APPEND, 0, &cas), STORE_STORED);
    assert_true(cas > old);
    assert_value("ap:k", "mid-end");
    assert_int_equal(store("ap:k", "start-", STORE_PREPEND, 0, &cas), STORE_STORED);
    assert_value("ap:k", "start-mid-end");
    /* the old item's flags are kept, not the appended one's (7) */
    it = E->get("ap:k", 4);
    assert_int_equal(it->flags, 42);
    uint64_t now_cas = it->cas;
    E->release(it);
    assert_int_equal(now_cas, cas);

    /* with a CAS: only the current one */
    assert_int_equal(store("ap:k", "!", STORE_APPEND, now_cas + 100, &cas), STORE_EXISTS);
    assert_value("ap:k", "start-mid-end");
    assert_int_equal(store("ap:k", "!", STORE_APPEND, now_cas, &cas), STORE_STORED);
    assert_value("ap:k", "start-mid-end!");

    /* past the item size limit: refused, old value unchanged */
    size_t big = settings.item_size_max - 5;
    char *v = malloc(big + 1);
    memset(v, 'b', big);
    v[big] = '\0';
    enum err_site e = ERR__COUNT;
    it = mk_len("ap:big", v, big, 0, 0, &e);
    assert_non_null(it);
    assert_int_equal(E->store(it, STORE_SET, NULL, &e), STORE_STORED);
    E->release(it);
    it = mk("ap:big", "0123456789", 0, 0);
    assert_int_equal(E->store(it, STORE_APPEND, NULL, &e), STORE_ERROR);
    assert_int_equal(e, ERR_APPEND_TOO_LARGE);
    E->release(it);
    it = E->get("ap:big", 6);
    assert_non_null(it);
    assert_int_equal(item_vlen(it), big);
    E->release(it);
    free(v);
}

static void test_cas(void **state)
{
    (void)state;
    uint64_t cas = 0, cur;

    assert_int_equal(store("cas:k", "v", STORE_CAS, 1, &cas), STORE_NOT_FOUND);
    cur = set("cas:k", "v1");
    assert_int_equal(store("cas:k", "v2", STORE_CAS, cur + 1, &cas), STORE_EXISTS);
    assert_value("cas:k", "v1");
    assert_int_equal(store("cas:k", "v2", STORE_CAS, cur, &cas), STORE_STORED);
    assert_true(cas > cur);
    uint64_t seen;
    assert_string_equal(value_of("cas:k", &seen), "v2");
    assert_int_equal(seen, cas);
    /* the old CAS is spent */
    assert_int_equal(store("cas:k", "v3", STORE_CAS, cur, NULL), STORE_EXISTS);
    assert_value("cas:k", "v2");
    /* any other store changes the CAS */
    set("cas:k", "v4");
    assert_int_equal(store("cas:k", "v5", STORE_CAS, cas, NULL), STORE_EXISTS);
}

static void test_too_large(void **state)
{
    (void)state;
    enum err_site e = ERR__COUNT;
    uint32_t nbytes = (uint32_t)settings.item_size_max + 3;
    assert_null(E->alloc("tl:k", 4, 0, 0, nbytes, &e));
    assert_int_equal(e, ERR_TOO_LARGE);
    e = ERR__COUNT;
    assert_null(E->alloc("tl:k", 4, 0, 0, UINT32_MAX, &e));
    assert_int_equal(e, ERR_TOO_LARGE);
    /* exactly the limit fits */
    item *it = E->alloc("tl:k", 4, 0, 0, (uint32_t)settings.item_size_max + 2, &e);
    assert_non_null(it);
    E->release(it);
}

/* --- references ------------------------------------------------------------ */

static void test_references(void **state)
{
    (void)state;
    struct engine_class_info before, after;
    set("ref:k", "held");
    item *it = E->get("ref:k", 5);
    assert_non_null(it);
    assert_int_equal(item_refcount(it), 2);     /* the table's and ours */
    item *it2 = E->get("ref:k", 5);
    assert_ptr_equal(it, it2);
    assert_int_equal(item_refcount(it), 3);
    E->release(it2);
    assert_int_equal(item_refcount(it), 2);

    /* deleted while held: gone from the table, intact for the holder */
    before = class_of_value(4, "ref:k");
    assert_int_equal(E->remove("ref:k", 5, 0, REMOVE_CLIENT), STORE_STORED);
    assert_missing("ref:k");
    assert_int_equal(item_refcount(it), 1);
    assert_memory_equal(item_data(it), "held\r\n", 6);
    after = class_of_value(4, "ref:k");
    assert_int_equal(after.used_chunks, before.used_chunks);    /* not freed yet */
    E->release(it);
    after = class_of_value(4, "ref:k");
    assert_int_equal(after.used_chunks, before.used_chunks - 1);

    /* an allocated item never stored goes back on release */
    before = class_of_value(4, "ref:x");
    it = mk("ref:x", "abcd", 0, 0);
    after = class_of_value(4, "ref:x");
    assert_int_equal(after.used_chunks, before.used_chunks + 1);
    E->release(it);
    after = class_of_value(4, "ref:x");
    assert_int_equal(after.used_chunks, before.used_chunks);

    /* a losing add frees its item; a replaced item is freed on release */
    set("ref:y", "1234");
    before = class_of_value(4, "ref:y");
    assert_int_equal(store("ref:y", "5678", STORE_ADD, 0, NULL), STORE_NOT_STORED);
    set("ref:y", "9999");
    after = class_of_value(4, "ref:y");
    assert_int_equal(after.used_chunks, before.used_chunks);
}

/* --- delete ---------------------------------------------------------------- */

static void test_remove(void **state)
{
    (void)state;
    assert_int_equal(E->remove("rm:none", 7, 0, REMOVE_CLIENT), STORE_NOT_FOUND);
    assert_int_equal(E->remove("rm:none", 7, 5, REMOVE_CLIENT), STORE_NOT_FOUND);
    uint64_t cas = set("rm:k", "v");
    assert_int_equal(E->remove("rm:k", 4, cas + 1, REMOVE_CLIENT), STORE_EXISTS);
    assert_value("rm:k", "v");
    assert_int_equal(E->remove("rm:k", 4, cas, REMOVE_CLIENT), STORE_STORED);
    assert_missing("rm:k");
    assert_int_equal(E->remove("rm:k", 4, 0, REMOVE_CLIENT), STORE_NOT_FOUND);
    set("rm:k", "w");
    assert_int_equal(E->remove("rm:k", 4, 0, REMOVE_CLIENT), STORE_STORED);
    assert_missing("rm:k");
}

/* The LRU crawler's remove: only a dead item with the CAS it saw, counted
 * as the crawler's reclaim, never as a client's get_expired. */
static void test_remove_dead(void **state)
{
    (void)state;
    uint64_t live = set("rd:live", "v");
    assert_int_equal(E->remove("rd:live", 7, live, REMOVE_DEAD), STORE_NOT_FOUND);
    assert_value("rd:live", "v");

    uint64_t cas = 0;
    assert_int_equal(store_x("rd:k", "v", STORE_SET, 0, &cas, tnow + 10), STORE_STORED);
    advance(11);
    struct engine_class_info before, after;
    int id = (int)slabs_clsid(item_total(4, 3));
    assert_true(E->class_info(id, &before));
    struct tstats s0, s1;
    stats_sum(&s0);
    assert_int_equal(E->remove("rd:k", 4, cas + 1, REMOVE_DEAD), STORE_NOT_FOUND);
    assert_int_equal(E->remove("rd:k", 4, cas, REMOVE_DEAD), STORE_STORED);
    assert_true(E->class_info(id, &after));
    stats_sum(&s1);
    assert_int_equal(after.crawler_reclaimed, before.crawler_reclaimed + 1);
    assert_int_equal(after.reclaimed, before.reclaimed + 1);
    assert_int_equal(s1.get_expired, s0.get_expired);
    assert_int_equal(E->remove("rd:k", 4, cas, REMOVE_DEAD), STORE_NOT_FOUND);
}

/* --- incr/decr ------------------------------------------------------------- */

static enum delta_result arith(const char *key, bool incr, uint64_t delta,
                               uint64_t cas_in, char *buf, uint64_t *cas)
{
    enum err_site e = ERR__COUNT;
    memset(buf, 'z', 24);
    return E->arith(key, strlen(key), incr, delta, cas_in, buf, cas, &e);
}

/* The numeric value of key: digits with any trailing spaces dropped
 * (memcached pads a shrunk number with spaces). */
static const char *number_of(const char *key)
{
    static char buf[64];
    const char *v = value_of(key, NULL);
    assert_non_null(v);
    snprintf(buf, sizeof(buf), "%s", v);
    size_t n = strlen(buf);
    while (n && buf[n - 1] == ' ')
        buf[--n] = '\0';
    return buf;
}

static void test_arith(void **state)
{
    (void)state;
    char buf[24];
    uint64_t cas = 0, c0;

    assert_int_equal(arith("ar:none", true, 1, 0, buf, &cas), DELTA_NOT_FOUND);
    c0 = set("ar:k", "10");
    assert_int_equal(arith("ar:k", true, 5, 0, buf, &cas), DELTA_OK);
    assert_string_equal(buf, "15");
    assert_true(cas > c0);
    assert_string_equal(number_of("ar:k"), "15");
    uint64_t seen;
    value_of("ar:k", &seen);
    assert_int_equal(seen, cas);

    /* growing past the item's length */
    set("ar:k", "99");
    assert_int_equal(arith("ar:k", true, 1, 0, buf, NULL), DELTA_OK);
    assert_string_equal(buf, "100");
    assert_string_equal(number_of("ar:k"), "100");
    /* decr shrinking the number */
    assert_int_equal(arith("ar:k", false, 1, 0, buf, NULL), DELTA_OK);
    assert_string_equal(buf, "99");
    assert_string_equal(number_of("ar:k"), "99");

    /* incr wraps at 2^64; decr stops at 0 */
    set("ar:max", "18446744073709551615");
    assert_int_equal(arith("ar:max", true, 1, 0, buf, NULL), DELTA_OK);
    assert_string_equal(buf, "0");
    assert_string_equal(number_of("ar:max"), "0");
    set("ar:max", "18446744073709551610");
    assert_int_equal(arith("ar:max", true, 10, 0, buf, NULL), DELTA_OK);
    assert_string_equal(buf, "4");
    set("ar:low", "5");
    assert_int_equal(arith("ar:low", false, 10, 0, buf, NULL), DELTA_OK);
    assert_string_equal(buf, "0");
    assert_int_equal(arith("ar:low", false, UINT64_MAX, 0, buf, NULL), DELTA_OK);
    assert_string_equal(buf, "0");
    /* trailing spaces are allowed in the stored number */
    set("ar:sp", "7  ");
    assert_int_equal(arith("ar:sp", true, 1, 0, buf, NULL), DELTA_OK);
    assert_string_equal(buf, "8");

    /* leading blanks and a '+' too, as memcached's strtoull reads them */
    set("ar:lead", " +1");
    assert_int_equal(arith("ar:lead", true, 1, 0, buf, NULL), DELTA_OK);
    assert_string_equal(buf, "2");

    /* not a number: refused, value unchanged */
    static const char *const bad[] = { "abc", "12a", "", "-1", " ", "1.5",
                                       "18446744073709551616", "+", "+-3" };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        set("ar:nn", bad[i]);
        if (arith("ar:nn", true, 1, 0, buf, NULL) != DELTA_NON_NUMERIC)
            fail_msg("incr of '%s' was not refused", bad[i]);
        assert_int_equal(arith("ar:nn", false, 1, 0, buf, NULL), DELTA_NON_NUMERIC);
        assert_value("ar:nn", bad[i]);
    }

    /* with a CAS */
    uint64_t cur = set("ar:c", "1");
    assert_int_equal(arith("ar:c", true, 1, cur + 1, buf, NULL), DELTA_EXISTS);
    assert_string_equal(number_of("ar:c"), "1");
    assert_int_equal(arith("ar:c", true, 1, cur, buf, &cas), DELTA_OK);
    assert_string_equal(buf, "2");
    assert_int_equal(arith("ar:c", true, 1, cur, buf, NULL), DELTA_EXISTS);
}

/* A reader holding the item must never see its value change under it. */
static void test_arith_while_held(void **state)
{
    (void)state;
    char buf[24];
    set("arh:k", "10");
    item *held = E->get("arh:k", 5);
    assert_non_null(held);
    assert_int_equal(arith("arh:k", true, 1, 0, buf, NULL), DELTA_OK);
    assert_string_equal(buf, "11");
    assert_memory_equal(item_data(held), "10\r\n", 4);
    assert_string_equal(number_of("arh:k"), "11");
    E->release(held);
    /* and unheld, same length: still correct */
    assert_int_equal(arith("arh:k", true, 1, 0, buf, NULL), DELTA_OK);
    assert_string_equal(number_of("arh:k"), "12");
}

/* --- touch and expiry ------------------------------------------------------ */

static void test_touch_expiry(void **state)
{
    (void)state;
    assert_null(E->touch("tt:none", 7, 0));

    assert_int_equal(store_x("tt:k", "v", STORE_SET, 0, NULL, tnow + 10), STORE_STORED);
    assert_int_equal(store_x("tt:short", "v", STORE_SET, 0, NULL, tnow + 5), STORE_STORED);
    assert_int_equal(store_x("tt:never", "v", STORE_SET, 0, NULL, 0), STORE_STORED);
    /* touch returns a reference and sets the new exptime */
    item *it = E->touch("tt:k", 4, tnow + 100);
    assert_non_null(it);
    assert_int_equal(it->exptime, tnow + 100);
    assert_int_equal(item_refcount(it), 2);
    E->release(it);
    /* touch can also shorten */
    it = E->touch("tt:never", 8, tnow + 20);
    assert_non_null(it);
    E->release(it);

    advance(4);
    assert_value("tt:short", "v");
    advance(1);                 /* exptime == now: expired */
    assert_missing("tt:short");
    assert_null(E->touch("tt:short", 8, 0));
    advance(50);
    assert_value("tt:k", "v");  /* touched to +100 */
    assert_missing("tt:never"); /* touched to +20 */
    advance(50);
    assert_missing("tt:k");
    /* an already-past exptime (clock_realtime gives 1 for those) */
    assert_int_equal(store_x("tt:past", "v", STORE_SET, 0, NULL, 1), STORE_STORED);
    assert_missing("tt:past");
    /* add over an expired item succeeds */
    assert_int_equal(store_x("tt:k", "new", STORE_ADD, 0, NULL, 0), STORE_STORED);
    assert_value("tt:k", "new");
}

/* --- flush ----------------------------------------------------------------- */

static void test_flush_now(void **state)
{
    (void)state;
    set("fl:a", "1");
    set("fl:b", "2");
    E->flush(0);
    assert_missing("fl:a");
    assert_missing("fl:b");
    /* stores after the flush live */
    set("fl:c", "3");
    assert_value("fl:c", "3");
    assert_int_equal(store("fl:a", "x", STORE_ADD, 0, NULL), STORE_STORED);
    assert_int_equal(store("fl:b", "x", STORE_REPLACE, 0, NULL), STORE_NOT_STORED);
    /* a negative delay is immediate too */
    E->flush(-5);
    assert_missing("fl:c");
    assert_missing("fl:a");
}

static void test_flush_delayed(void **state)
{
    (void)state;
    set("fd:a", "1");
    set("fd:b", "2");
    uint64_t items_before = engine_stat("curr_items");
    E->flush(5);
    items_expire_pass();
    assert_value("fd:a", "1");
    advance(4);
    items_expire_pass();
    assert_value("fd:a", "1");
    set("fd:c", "3");
    advance(2);
    /* the maintainer's once-a-second pass applies the flush and reclaims
     * memory without waiting for clients to touch the keys */
    items_expire_pass();
    assert_true(engine_stat("curr_items") <= items_before - 2);
    assert_missing("fd:a");
    assert_missing("fd:b");
    assert_missing("fd:c");
    set("fd:d", "4");
    items_expire_pass();
    assert_value("fd:d", "4");

    /* a later immediate flush cancels a pending delayed one */
    E->flush(10);
    E->flush(0);
    set("fd:e", "5");
    advance(11);
    items_expire_pass();
    assert_value("fd:e", "5");
}

static void test_expire_pass_reclaims(void **state)
{
    (void)state;
    struct engine_class_info before, after;
    char key[32];
    before = class_of_value(1, "ex:00");
    for (int i = 0; i < 50; i++) {
        snprintf(key, sizeof(key), "ex:%02d", i);
        assert_int_equal(store_x(key, "v", STORE_SET, 0, NULL, tnow + 3), STORE_STORED);
    }
    after = class_of_value(1, "ex:00");
    assert_int_equal(after.items, before.items + 50);
    advance(3);
    items_expire_pass();
    after = class_of_value(1, "ex:00");
    assert_int_equal(after.items, before.items);
    assert_true(after.reclaimed >= before.reclaimed + 50);
    assert_true(after.expired_unfetched >= before.expired_unfetched + 50);
}

/* The pass sweeps the table only while some item can die without a client
 * touching it: a cache of items without exptime costs no background work. */
static void test_expire_pass_idle(void **state)
{
    (void)state;
    /* a flush kills what earlier tests left; sweeps then find nothing */
    E->flush(0);
    assert_true(items_ttl_dirty);
    for (int i = 0; i < 4 && items_ttl_dirty; i++)
        items_expire_pass();
    assert_false(items_ttl_dirty);
    assert_int_equal(engine_stat("curr_items"), 0);

    assert_int_equal(store_x("idle:a", "v", STORE_SET, 0, NULL, 0), STORE_STORED);
    items_expire_pass();
    assert_false(items_ttl_dirty);      /* no exptime: nothing to sweep for */

    assert_int_equal(store_x("idle:b", "v", STORE_SET, 0, NULL, tnow + 5), STORE_STORED);
    assert_true(items_ttl_dirty);
    items_expire_pass();
    assert_true(items_ttl_dirty);       /* b still lives: sweep again later */
    advance(6);
    items_expire_pass();                /* reclaims b without a client */
    assert_int_equal(engine_stat("curr_items"), 1);
    assert_false(items_ttl_dirty);

    item *it = E->touch("idle:a", 6, tnow + 5);
    assert_non_null(it);
    E->release(it);
    assert_true(items_ttl_dirty);       /* a touch gives a to the sweep */
    advance(6);
    items_expire_pass();
    assert_int_equal(engine_stat("curr_items"), 0);
    assert_false(items_ttl_dirty);

    /* an item allocated before a sweep and stored after it is swept for:
     * its exptime counts from the link, not the alloc */
    item *late = mk("idle:late", "v", 0, tnow + 5);
    items_expire_pass();
    assert_false(items_ttl_dirty);
    enum err_site err;
    assert_int_equal(E->store(late, STORE_SET, NULL, &err), STORE_STORED);
    E->release(late);
    assert_true(items_ttl_dirty);
    advance(6);
    items_expire_pass();
    assert_int_equal(engine_stat("curr_items"), 0);

    /* a sweep cut short by a hash table expansion is made again */
    assert_int_equal(store_x("idle:c", "v", STORE_SET, 0, NULL, tnow + 5), STORE_STORED);
    items_expire_pass();
    advance(6);
    assert_true(assoc_expand_begin_());
    items_expire_pass();                /* the walk stops at the first bucket */
    assert_true(items_ttl_dirty);
    while (assoc_expand_step_())
        ;
    items_expire_pass();
    assert_int_equal(engine_stat("curr_items"), 0);
}

/* --- memory limits --------------------------------------------------------- */

static char *pattern(size_t n, int seed)
{
    char *v = malloc(n + 1);
    for (size_t i = 0; i < n; i++)
        v[i] = (char)('a' + (i * 7 + (size_t)seed) % 26);
    v[n] = '\0';
    return v;
}

static void test_eviction(void **state)
{
    (void)state;
    enum { VLEN = 2000, N = 4000 };     /* ~8 MB into 4 MB */
    char key[32];
    uint64_t ev_before = evictions();
    for (int i = 0; i < N; i++) {
        char *v = pattern(VLEN, i);
        snprintf(key, sizeof(key), "ev:%d", i);
        enum err_site e;
        item *it = mk_len(key, v, VLEN, 0, 0, &e);
        if (!it)
            fail_msg("alloc %d failed with %s", i, err_info(e)->name);
        assert_int_equal(E->store(it, STORE_SET, NULL, &e), STORE_STORED);
        E->release(it);
        free(v);
    }
    struct engine_class_info ci = class_of_value(VLEN, "ev:0");
    uint64_t evicted = evictions() - ev_before;
    /* memory stayed near the limit: at most one page per class over */
    assert_true(slabs_mem_malloced() <= LIMIT + (uint64_t)slabs_largest() * MB);
    assert_true(ci.pages * MB <= LIMIT);
    assert_true(evicted > 0);
    assert_true(ci.evicted > 0);
    assert_int_equal(ci.items + evicted, N);
    assert_int_equal(ci.items, ci.used_chunks);
    assert_int_equal(ci.evicted_unfetched, ci.evicted);
    /* the oldest went, the newest stayed, each with its own value */
    snprintf(key, sizeof(key), "ev:%d", 0);
    assert_missing(key);
    for (int i = N - (int)ci.items; i < N; i++) {
        snprintf(key, sizeof(key), "ev:%d", i);
        item *it = E->get(key, strlen(key));
        if (!it)
            fail_msg("newest key %s was evicted", key);
        char *v = pattern(VLEN, i);
        assert_memory_equal(item_data(it), v, VLEN);
        free(v);
        E->release(it);
    }
    for (int i = 0; i < N - (int)ci.items; i++) {
        snprintf(key, sizeof(key), "ev:%d", i);
        assert_missing(key);
    }
}

/* Memory is full now (test_eviction ran first). */
static void test_no_evict(void **state)
{
    (void)state;
    enum { VLEN = 3000 };
    char key[32];
    uint64_t errs = err_total(ERR_NO_MEMORY_NO_EVICT);
    uint64_t ev_before = evictions();
    char *v = pattern(VLEN, 3);
    int stored = 0;
    enum err_site e = ERR__COUNT;
    item *it;
    settings.evict_to_free = false;
    for (;;) {
        snprintf(key, sizeof(key), "ne:%d", stored);
        it = mk_len(key, v, VLEN, 0, 0, &e);
        if (!it)
            break;
        assert_int_equal(E->store(it, STORE_SET, NULL, &e), STORE_STORED);
        E->release(it);
        stored++;
        assert_true(stored < 100000);
    }
    settings.evict_to_free = true;
    assert_int_equal(e, ERR_NO_MEMORY_NO_EVICT);
    /* the class got its one page (memory was full), then refused */
    struct engine_class_info ci = class_of_value(VLEN, "ne:0");
    assert_int_equal(ci.pages, 1);
    assert_int_equal(stored, ci.chunks_per_page);
    assert_int_equal(evictions(), ev_before);
    assert_true(ci.outofmemory > 0);
    /* err_raise is the caller's job (the protocol answers the client) */
    assert_int_equal(err_total(ERR_NO_MEMORY_NO_EVICT), errs);
    /* nothing stored was lost */
    for (int i = 0; i < stored; i++) {
        snprintf(key, sizeof(key), "ne:%d", i);
        item *got = E->get(key, strlen(key));
        assert_non_null(got);
        assert_memory_equal(item_data(got), v, VLEN);
        E->release(got);
    }
    /* dead items are still reclaimed under -M */
    settings.evict_to_free = false;
    assert_int_equal(E->remove("ne:0", 4, 0, REMOVE_CLIENT), STORE_STORED);
    it = mk_len("ne:again", v, VLEN, 0, 0, &e);
    assert_non_null(it);
    E->release(it);
    snprintf(key, sizeof(key), "ne:%d", stored - 1);
    uint64_t cas;
    assert_non_null(value_of(key, &cas));
    E->flush(0);
    it = mk_len("ne:after-flush", v, VLEN, 0, 0, &e);
    assert_non_null(it);            /* a flushed tail item is reclaimed */
    E->release(it);
    settings.evict_to_free = true;
    free(v);
}

static void test_referenced_never_evicted(void **state)
{
    (void)state;
    enum { VLEN = 5000, N = 2000 };     /* ~10 MB through one class */
    char key[32];
    char *hv = pattern(VLEN, 99);
    enum err_site e;

    /* held while linked, and held after being replaced (unlinked) */
    item *it = mk_len("hold:linked", hv, VLEN, 0, 0, &e);
    assert_int_equal(E->store(it, STORE_SET, NULL, &e), STORE_STORED);
    E->release(it);
    item *held = E->get("hold:linked", 11);
    assert_non_null(held);
    it = mk_len("hold:old", hv, VLEN, 0, 0, &e);
    assert_int_equal(E->store(it, STORE_SET, NULL, &e), STORE_STORED);
    E->release(it);
    item *held_old = E->get("hold:old", 8);
    assert_non_null(held_old);
    set("hold:old", "replaced");

    for (int i = 0; i < N; i++) {
        char *v = pattern(VLEN, i);
        snprintf(key, sizeof(key), "fill:%d", i);
        it = mk_len(key, v, VLEN, 0, 0, &e);
        if (!it)
            fail_msg("alloc %d failed with %s", i, err_info(e)->name);
        assert_int_equal(E->store(it, STORE_SET, NULL, &e), STORE_STORED);
        E->release(it);
        free(v);
    }
    struct engine_class_info ci = class_of_value(VLEN, "fill:0");
    assert_true(ci.evicted > 0);
    /* the held items' memory was not reused */
    assert_memory_equal(item_data(held), hv, VLEN);
    assert_memory_equal(item_data(held) + VLEN, "\r\n", 2);
    assert_memory_equal(item_key(held), "hold:linked", 11);
    assert_memory_equal(item_data(held_old), hv, VLEN);
    assert_memory_equal(item_key(held_old), "hold:old", 8);
    assert_int_equal(item_refcount(held), 2);
    assert_int_equal(item_refcount(held_old), 1);
    /* the linked one is still in the cache: it was never evicted */
    item *again = E->get("hold:linked", 11);
    assert_ptr_equal(again, held);
    E->release(again);
    E->release(held);
    E->release(held_old);
    assert_value("hold:old", "replaced");
    free(hv);
}

static void test_tail_busy(void **state)
{
    (void)state;
    enum { VLEN = 100 * 1024 };
    char key[32];
    char *v = pattern(VLEN, 5);
    enum err_site e = ERR__COUNT;
    struct engine_class_info ci = class_of_value(VLEN, "busy:0");
    assert_int_equal(ci.pages, 0);
    /* memory is full: this class gets exactly one page */
    int n = (int)ci.chunks_per_page;
    assert_true(n >= 2 && n <= 16);
    item *held[16];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), "busy:%d", i);
        item *it = mk_len(key, v, VLEN, 0, 0, &e);
        assert_non_null(it);
        assert_int_equal(E->store(it, STORE_SET, NULL, &e), STORE_STORED);
        E->release(it);
        held[i] = E->get(key, strlen(key));
        assert_non_null(held[i]);
    }
    ci = class_of_value(VLEN, "busy:0");
    assert_int_equal(ci.pages, 1);
    /* every candidate is being read: refused, nothing evicted */
    assert_null(mk_len("busy:more", v, VLEN, 0, 0, &e));
    assert_int_equal(e, ERR_NO_MEMORY_TAIL_BUSY);
    for (int i = 0; i < n; i++)
        assert_memory_equal(item_data(held[i]), v, VLEN);
    /* release them: the next alloc evicts the oldest */
    for (int i = 0; i < n; i++)
        E->release(held[i]);
    item *it = mk_len("busy:more", v, VLEN, 0, 0, &e);
    assert_non_null(it);
    assert_int_equal(E->store(it, STORE_SET, NULL, &e), STORE_STORED);
    E->release(it);
    assert_missing("busy:0");
    it = E->get("busy:more", 9);
    assert_non_null(it);
    assert_memory_equal(item_data(it), v, VLEN);
    E->release(it);
    free(v);
}

static void test_page_malloc_failure(void **state)
{
    (void)state;
    enum { VLEN = 50 * 1024 };
    char why[128];
    enum err_site e = ERR__COUNT;
    char *v = pattern(VLEN, 1);
    uint64_t before = err_total(ERR_SLAB_PAGE_MALLOC);
    struct engine_class_info ci = class_of_value(VLEN, "pf:0");
    assert_int_equal(ci.pages, 0);
    assert_true(err_fault_config("ERR_SLAB_PAGE_MALLOC:1", why, sizeof(why)));
    assert_null(mk_len("pf:0", v, VLEN, 0, 0, &e));
    err_faults_on = false;
    /* the client hears a SERVER_ERROR; the page failure itself is counted
     * under its own (R_NONE) site */
    assert_int_equal(e, ERR_NO_MEMORY_PAGE_REFUSED);
    /* counted by the engine, with the class and size as context */
    struct err_count c;
    err_read(ERR_SLAB_PAGE_MALLOC, &c);
    assert_int_equal(c.count, before + 1);
    assert_int_equal(c.last_ctx.clsid, ci.id);
    assert_int_equal(c.last_ctx.size, item_total(4, VLEN + 2));
    item *it = mk_len("pf:0", v, VLEN, 0, 0, &e);
    assert_non_null(it);
    E->release(it);
    free(v);
}

static void test_class_info(void **state)
{
    (void)state;
    struct engine_class_info ci;
    int n = E->nclasses();
    assert_true(n > 5);
    assert_false(E->class_info(0, &ci));
    assert_false(E->class_info(n + 1, &ci));
    uint64_t items = 0;
    for (int id = 1; id <= n; id++) {
        assert_true(E->class_info(id, &ci));
        assert_int_equal(ci.id, id);
        assert_int_equal(ci.used_chunks + ci.free_chunks, ci.pages * ci.chunks_per_page);
        assert_true(ci.items <= ci.used_chunks);
        assert_int_equal(E->class_for(ci.chunk_size), ci.chunk_size);
        items += ci.items;
    }
    assert_int_equal(items, engine_stat("curr_items"));
    assert_int_equal(E->class_for(0), 0);
    assert_int_equal(E->class_for(SIZE_MAX), 0);
    assert_int_equal(engine_stat("total_malloced"), slabs_mem_malloced());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_set_add_replace),
        cmocka_unit_test(test_append_prepend),
        cmocka_unit_test(test_cas),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_references),
        cmocka_unit_test(test_remove),
        cmocka_unit_test(test_remove_dead),
        cmocka_unit_test(test_arith),
        cmocka_unit_test(test_arith_while_held),
        cmocka_unit_test(test_touch_expiry),
        cmocka_unit_test(test_flush_now),
        cmocka_unit_test(test_flush_delayed),
        cmocka_unit_test(test_expire_pass_reclaims),
        cmocka_unit_test(test_expire_pass_idle),
        /* in this order: eviction fills memory for the rest */
        cmocka_unit_test(test_eviction),
        cmocka_unit_test(test_no_evict),
        cmocka_unit_test(test_referenced_never_evicted),
        cmocka_unit_test(test_tail_busy),
        cmocka_unit_test(test_page_malloc_failure),
        cmocka_unit_test(test_class_info),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
