/*
 * test_heap.c - the heap engine (mcd/engine/heap/) through its struct
 * engine, without a server: store rules and CAS, arithmetic, the -m budget
 * counted in malloc's sizes, eviction that never takes a referenced item,
 * flush, the walker and the one pseudo class.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "engine.h"
#include "errors.h"
#include "settings.h"
#include "stats.h"
#include "util.h"

extern const struct engine heap_engine;
static const struct engine *e = &heap_engine;

static item *mk(const char *key, const char *val)
{
    enum err_site err;
    size_t n = strlen(val);
    item *it = e->alloc(key, strlen(key), 0, 0, (uint32_t)n + 2, &err);
    assert_non_null(it);
    memcpy(item_data(it), val, n);
    memcpy(item_data(it) + n, "\r\n", 2);
    return it;
}

static enum store_result put(const char *key, const char *val, enum store_op op, uint64_t cas)
{
    enum err_site err;
    item *it = mk(key, val);
    it->cas = cas;
    enum store_result r = e->store(it, op, NULL, &err);
    e->release(it);
    return r;
}

/* The value of key, or "" on a miss. */
static const char *val(const char *key)
{
    static char buf[4096];
    item *it = e->get(key, strlen(key));
    if (!it)
        return "";
    snprintf(buf, sizeof(buf), "%.*s", (int)item_vlen(it), item_data(it));
    e->release(it);
    return buf;
}

static int setup(void **state)
{
    (void)state;
    settings_init(&settings);
    err_setup();
    clock_setup();
    err_thread_register();
    stats_thread_register();
    settings.maxbytes = 256 * 1024;
    return e->setup();
}

static void test_store_rules(void **state)
{
    (void)state;
    e->flush(0);
    assert_int_equal(put("a", "1", STORE_SET, 0), STORE_STORED);
    assert_int_equal(put("a", "2", STORE_ADD, 0), STORE_NOT_STORED);
    assert_int_equal(put("b", "2", STORE_REPLACE, 0), STORE_NOT_STORED);
    assert_int_equal(put("a", "3", STORE_REPLACE, 0), STORE_STORED);
    assert_int_equal(put("a", "x", STORE_APPEND, 0), STORE_STORED);
    assert_int_equal(put("a", "y", STORE_PREPEND, 0), STORE_STORED);
    assert_string_equal(val("a"), "y3x");
    item *it = e->get("a", 1);
    uint64_t cas = it->cas;
    e->release(it);
    assert_int_equal(put("a", "old", STORE_CAS, cas + 1000), STORE_EXISTS);
    assert_int_equal(put("a", "new", STORE_CAS, cas), STORE_STORED);
    assert_int_equal(put("a", "again", STORE_CAS, cas), STORE_EXISTS);
    assert_int_equal(put("nope", "v", STORE_CAS, 1), STORE_NOT_FOUND);
    assert_int_equal(e->remove("a", 1, cas, REMOVE_CLIENT), STORE_EXISTS);
    assert_int_equal(e->remove("a", 1, 0, REMOVE_CLIENT), STORE_STORED);
    assert_string_equal(val("a"), "");
}

static void test_arith(void **state)
{
    char buf[24];
    enum err_site err;
    uint64_t cas;
    (void)state;
    assert_int_equal(put("n", "9", STORE_SET, 0), STORE_STORED);
    assert_int_equal(e->arith("n", 1, true, 1, 0, buf, &cas, &err), DELTA_OK);
    assert_string_equal(buf, "10");
    assert_int_equal(e->arith("n", 1, false, 20, 0, buf, &cas, &err), DELTA_OK);
    assert_string_equal(buf, "0");
    assert_int_equal(e->arith("n", 1, true, 1, cas + 5, buf, NULL, &err), DELTA_EXISTS);
    assert_int_equal(put("s", "abc", STORE_SET, 0), STORE_STORED);
    assert_int_equal(e->arith("s", 1, true, 1, 0, buf, NULL, &err), DELTA_NON_NUMERIC);
    assert_int_equal(e->arith("zz", 2, true, 1, 0, buf, NULL, &err), DELTA_NOT_FOUND);
}

static void test_budget_and_eviction(void **state)
{
    char key[32], v[1001];
    struct engine_class_info ci;
    (void)state;
    e->flush(0);
    memset(v, 'v', 1000);
    v[1000] = '\0';
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "k%d", i);
        assert_int_equal(put(key, v, STORE_SET, 0), STORE_STORED);
    }
    assert_true(e->class_info(1, &ci));
    assert_int_equal(e->nclasses(), 1);
    assert_true(ci.evicted > 0);
    assert_true(ci.mem_allocated <= settings.maxbytes);
    assert_true(ci.mem_allocated >= ci.mem_requested);   /* malloc's slack */
    assert_int_equal(ci.pages, 0);
    assert_string_equal(val("k1999"), v);                /* newest kept */
    assert_string_equal(val("k0"), "");                  /* oldest evicted */
}

static void test_referenced_never_evicted(void **state)
{
    char key[32], v[1001];
    enum err_site err;
    (void)state;
    e->flush(0);
    memset(v, 'r', 1000);
    v[1000] = '\0';
    assert_int_equal(put("held", v, STORE_SET, 0), STORE_STORED);
    item *held = e->get("held", 4);     /* the LRU tail, referenced */
    for (int i = 0; i < 2000; i++) {
        snprintf(key, sizeof(key), "f%d", i);
        assert_int_equal(put(key, v, STORE_SET, 0), STORE_STORED);
    }
    assert_string_equal(val("held"), v);                /* skipped, still linked */
    assert_memory_equal(item_data(held), v, 1000);
    e->release(held);

    /* Every item referenced: an allocation that needs room fails. */
    e->flush(0);
    item *hold[400];
    int n = 0;
    for (; n < 400; n++) {
        snprintf(key, sizeof(key), "h%d", n);
        item *it = e->alloc(key, strlen(key), 0, 0, 1002, &err);
        if (!it)
            break;
        hold[n] = it;
    }
    assert_true(n < 400);
    assert_int_equal(err, ERR_NO_MEMORY_CLASS_EMPTY);
    while (n-- > 0)
        e->release(hold[n]);
    assert_int_equal(put("after", "ok", STORE_SET, 0), STORE_STORED);
}

static void count_item(const struct engine_item_info *info, item *it, void *ctx)
{
    (void)it;
    if (!info->dead)
        (*(int *)ctx)++;
}

static void test_flush_and_walk(void **state)
{
    char key[32];
    int seen = 0;
    (void)state;
    e->flush(0);
    for (int i = 0; i < 100; i++) {
        snprintf(key, sizeof(key), "w%d", i);
        assert_int_equal(put(key, "x", STORE_SET, 0), STORE_STORED);
    }
    uint64_t cursor = 0;
    do
        cursor = e->walk(cursor, count_item, &seen);
    while (cursor != 0);
    assert_int_equal(seen, 100);
    e->flush(0);
    assert_string_equal(val("w5"), "");
    assert_int_equal(e->reassign(1, 1), REASSIGN_SAME);
    assert_int_equal(e->reassign(1, 2), REASSIGN_BADCLASS);
    assert_int_equal(e->reassign(1, 0), REASSIGN_NOSPARE);
}

/* heap.c's expiry pass, for the maintainer thread and this test */
extern bool heap_ttl_dirty;
void heap_expire_pass(void);

static void count_linked(const struct engine_item_info *info, item *it, void *ctx)
{
    (void)info;
    (void)it;
    (*(int *)ctx)++;
}

/* Items in the table, dead or alive: what the expiry pass has not freed. */
static int linked(void)
{
    int n = 0;
    uint64_t cursor = 0;
    do
        cursor = e->walk(cursor, count_linked, &n);
    while (cursor != 0);
    return n;
}

static void test_expire_pass_idle(void **state)
{
    enum err_site err;
    (void)state;
    rel_time_t t = clock_now();
    clock_set_for_test(t);
    e->flush(0);
    assert_true(heap_ttl_dirty);
    heap_expire_pass();                 /* frees what the flush killed */
    assert_int_equal(linked(), 0);
    assert_false(heap_ttl_dirty);

    assert_int_equal(put("idle:a", "v", STORE_SET, 0), STORE_STORED);
    heap_expire_pass();
    assert_false(heap_ttl_dirty);       /* no exptime: nothing to sweep for */

    item *it = e->alloc("idle:b", 6, 0, t + 5, 3, &err);
    assert_non_null(it);
    memcpy(item_data(it), "v\r\n", 3);
    assert_int_equal(e->store(it, STORE_SET, NULL, &err), STORE_STORED);
    e->release(it);
    assert_true(heap_ttl_dirty);
    heap_expire_pass();
    assert_true(heap_ttl_dirty);        /* b still lives: sweep again later */
    assert_int_equal(linked(), 2);
    clock_set_for_test(t += 6);
    heap_expire_pass();                 /* frees b without a client */
    assert_int_equal(linked(), 1);
    assert_false(heap_ttl_dirty);

    it = e->touch("idle:a", 6, t + 5);
    assert_non_null(it);
    e->release(it);
    assert_true(heap_ttl_dirty);        /* a touch gives a to the sweep */
    it = e->get("idle:a", 6);           /* a held dead item waits its turn */
    clock_set_for_test(t += 6);
    heap_expire_pass();
    assert_int_equal(linked(), 1);
    assert_true(heap_ttl_dirty);
    e->release(it);
    heap_expire_pass();
    assert_int_equal(linked(), 0);
    assert_false(heap_ttl_dirty);

    /* an item allocated before a sweep and stored after it is swept for:
     * its exptime counts from the link, not the alloc */
    it = e->alloc("idle:late", 9, 0, t + 5, 3, &err);
    assert_non_null(it);
    memcpy(item_data(it), "v\r\n", 3);
    heap_expire_pass();
    assert_false(heap_ttl_dirty);
    assert_int_equal(e->store(it, STORE_SET, NULL, &err), STORE_STORED);
    e->release(it);
    assert_true(heap_ttl_dirty);
    clock_set_for_test(t += 6);
    heap_expire_pass();
    assert_int_equal(linked(), 0);

    /* a delayed flush is applied, and swept, when its time comes */
    assert_int_equal(put("idle:c", "v", STORE_SET, 0), STORE_STORED);
    heap_expire_pass();
    assert_false(heap_ttl_dirty);
    e->flush(3);
    heap_expire_pass();
    assert_int_equal(linked(), 1);
    clock_set_for_test(t += 4);
    heap_expire_pass();
    assert_int_equal(linked(), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_store_rules),
        cmocka_unit_test(test_arith),
        cmocka_unit_test(test_budget_and_eviction),
        cmocka_unit_test(test_referenced_never_evicted),
        cmocka_unit_test(test_flush_and_walk),
        cmocka_unit_test(test_expire_pass_idle),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, setup, NULL);
}
