/*
 * test_assoc.c - the slab engine's hash table (mcd/engine/slab/assoc.c):
 * insert/find/delete under item locks, the bucket walk, and growing the
 * table online, both step by step (test hook) and by the maintainer thread,
 * with every item findable throughout.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "engine/slab/slab_internal.h"
#include "errors.h"
#include "settings.h"
#include "util.h"

struct titem {
    item *it;
    uint32_t hv;
    bool linked;
};

static item *make_item(const char *key)
{
    size_t n = strlen(key);
    item *it = calloc(1, sizeof(item) + n + 2);
    assert_non_null(it);
    it->nkey = (uint8_t)n;
    it->nbytes = 2;
    /* not 1: the maintainer's idle expiry pass only looks at resting items */
    it->refcount = 2;
    memcpy(item_key(it), key, n);
    return it;
}

static struct titem *make_items(int n, const char *fmt)
{
    struct titem *v = calloc((size_t)n, sizeof(*v));
    char key[64];
    for (int i = 0; i < n; i++) {
        snprintf(key, sizeof(key), fmt, i);
        v[i].it = make_item(key);
        v[i].hv = hash_key(key, strlen(key));
    }
    return v;
}

static void free_items(struct titem *v, int n)
{
    for (int i = 0; i < n; i++)
        free(v[i].it);
    free(v);
}

static void insert(struct titem *t)
{
    item_lock(t->hv);
    assoc_insert(t->it, t->hv);
    item_unlock(t->hv);
    t->linked = true;
}

static void delete(struct titem *t)
{
    item_lock(t->hv);
    assoc_delete(item_key(t->it), t->it->nkey, t->hv);
    item_unlock(t->hv);
    t->linked = false;
}

static item *find(const struct titem *t)
{
    item_lock(t->hv);
    item *it = assoc_find(item_key(t->it), t->it->nkey, t->hv);
    item_unlock(t->hv);
    return it;
}

/* Every linked item is found (as itself), every unlinked one is not. */
static void check_all(const struct titem *v, int n)
{
    for (int i = 0; i < n; i++) {
        item *got = find(&v[i]);
        if (v[i].linked && got != v[i].it)
            fail_msg("item %d (%.*s) not found", i, v[i].it->nkey, item_key(v[i].it));
        if (!v[i].linked && got)
            fail_msg("deleted item %d (%.*s) still found", i, v[i].it->nkey, item_key(v[i].it));
    }
}

static int setup12(void **state)
{
    (void)state;
    return assoc_setup(12);
}

static int teardown(void **state)
{
    (void)state;
    assoc_teardown();
    return 0;
}

static void test_insert_find_delete(void **state)
{
    (void)state;
    assert_int_equal(assoc_hashpower(), 12);
    assert_false(assoc_expanding());
    assert_int_equal(assoc_bytes(), 4096 * sizeof(item *));

    struct titem *v = make_items(100, "key:%d");
    for (int i = 0; i < 100; i++)
        insert(&v[i]);
    check_all(v, 100);

    /* same length, different bytes; prefix of an existing key */
    struct titem miss = { .it = make_item("key:100") };
    miss.hv = hash_key("key:100", 7);
    assert_null(find(&miss));
    item_lock(v[1].hv);
    assert_null(assoc_find("key:", 4, hash_key("key:", 4) ));
    item_unlock(v[1].hv);

    for (int i = 0; i < 100; i += 3)
        delete(&v[i]);
    check_all(v, 100);
    /* deleting a missing key is a no-op */
    delete(&miss);
    delete(&v[0]);
    check_all(v, 100);
    free(miss.it);
    free_items(v, 100);
}

static void test_same_bucket(void **state)
{
    (void)state;
    /* find three keys sharing a bucket: chains must keep all of them */
    struct titem *v = make_items(20000, "c%d");
    int same[3], ns = 1;
    same[0] = 0;
    for (int i = 1; i < 20000 && ns < 3; i++) {
        if ((v[i].hv & 4095) == (v[0].hv & 4095))
            same[ns++] = i;
    }
    assert_int_equal(ns, 3);
    struct titem t[3] = { v[same[0]], v[same[1]], v[same[2]] };
    for (int i = 0; i < 3; i++)
        insert(&t[i]);
    check_all(t, 3);
    delete(&t[1]);          /* middle of the chain */
    check_all(t, 3);
    delete(&t[2]);          /* head (inserted last) */
    check_all(t, 3);
    insert(&t[1]);
    check_all(t, 3);
    free_items(v, 20000);
}

struct walk_ctx {
    int seen;
    int bad_hv;             /* items whose key does not hash to the bucket */
    uint64_t bucket;        /* the bucket being walked */
    uint32_t mask;          /* buckets - 1 */
};

static void count_item(item *it, void *arg)
{
    struct walk_ctx *w = arg;
    w->seen++;
    if ((hash_key(item_key(it), it->nkey) & w->mask) != w->bucket)
        w->bad_hv++;
}

static void test_walk(void **state)
{
    (void)state;
    struct titem *v = make_items(3000, "w%d");
    for (int i = 0; i < 3000; i++)
        insert(&v[i]);
    struct walk_ctx w = { .mask = 4095 };
    uint64_t b = 0;
    int calls = 0;
    do {
        w.bucket = b;
        b = assoc_walk_bucket(b, count_item, &w);
        calls++;
    } while (b != 0 && calls < 10000);
    assert_int_equal(calls, 4096);      /* one call per bucket, then wrap */
    assert_int_equal(w.seen, 3000);
    assert_int_equal(w.bad_hv, 0);
    free_items(v, 3000);
}

/* 2^12 buckets grow at more than 3/2 items per bucket */
#define NGROW 7000

static void test_expand_stepwise(void **state)
{
    (void)state;
    struct titem *v = make_items(NGROW + 1000, "grow:%d");
    for (int i = 0; i < NGROW; i++)
        insert(&v[i]);
    check_all(v, NGROW);

    assert_true(assoc_expand_begin_());
    assert_true(assoc_expanding());
    assert_int_equal(assoc_hashpower(), 13);
    /* a second begin while expanding is refused */
    assert_false(assoc_expand_begin_());
    /* the walk skips an expanding table rather than miss items */
    struct walk_ctx w = { .mask = 4095 };
    assert_int_equal(assoc_walk_bucket(0, count_item, &w), 0);
    assert_int_equal(w.seen, 0);

    int steps = 0, extra = NGROW;
    check_all(v, NGROW);
    while (assoc_expand_step_()) {
        steps++;
        if (steps % 256 == 0) {
            /* inserts and deletes mid-expansion land where finds look */
            insert(&v[extra++]);
            insert(&v[extra++]);
            delete(&v[steps / 256 * 7]);
            /* multi-get hints read both tables' buckets safely and change
             * nothing (ASan and TSan builds run this too) */
            for (int i = 0; i < extra; i += 13) {
                assoc_prefetch(v[i].hv, 0);
                assoc_prefetch(v[i].hv, 1);
            }
            check_all(v, extra);
        }
        assert_true(steps < 4096);
    }
    assert_int_equal(steps, 4095);      /* the 4096th step finished it */
    assert_false(assoc_expanding());
    assert_int_equal(assoc_hashpower(), 13);
    assert_int_equal(assoc_bytes(), 8192 * sizeof(item *));
    assert_false(assoc_expand_step_());
    check_all(v, extra);

    /* the walk sees each linked item exactly once again */
    int linked = 0;
    for (int i = 0; i < extra; i++)
        linked += v[i].linked;
    w.seen = 0;
    w.mask = 8191;
    uint64_t b = 0;
    do {
        w.bucket = b;
        b = assoc_walk_bucket(b, count_item, &w);
    } while (b != 0);
    assert_int_equal(w.seen, linked);
    assert_int_equal(w.bad_hv, 0);

    /* and it grows again */
    assert_true(assoc_expand_begin_());
    while (assoc_expand_step_())
        ;
    assert_int_equal(assoc_hashpower(), 14);
    check_all(v, extra);
    free_items(v, NGROW + 1000);
}

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + ts.tv_nsec / 1e9;
}

static void test_expand_maintainer(void **state)
{
    (void)state;
    struct titem *v = make_items(NGROW, "m:%d");
    assoc_start_maintainer();
    for (int i = 0; i < NGROW; i++) {
        insert(&v[i]);
        /* as do_item_link does after every insert */
        assoc_note_items((uint64_t)i + 1);
    }
    /* Look everything up while the maintainer grows the table: a bounded
     * poll, no sleeps. */
    double deadline = now_s() + 20;
    int rounds = 0, rounds_expanding = 0;
    while ((assoc_hashpower() < 13 || assoc_expanding()) && now_s() < deadline) {
        if (assoc_expanding())
            rounds_expanding++;
        /* the unlocked hint races the growth's table swap (TSan watches) */
        for (int i = 0; i < NGROW; i += 7) {
            assoc_prefetch(v[i].hv, 0);
            assoc_prefetch(v[i].hv, 1);
        }
        check_all(v, NGROW);
        rounds++;
    }
    assoc_stop_maintainer();
    print_message("# %d lookup rounds, %d begun while expanding\n", rounds, rounds_expanding);
    assert_int_equal(assoc_hashpower(), 13);
    assert_false(assoc_expanding());
    check_all(v, NGROW);
    free_items(v, NGROW);
}

static void test_expand_malloc_failure(void **state)
{
    (void)state;
    char why[128];
    uint64_t before = err_total(ERR_HASH_EXPAND_MALLOC);
    assert_true(err_fault_config("ERR_HASH_EXPAND_MALLOC:1", why, sizeof(why)));
    assert_false(assoc_expand_begin_());
    err_faults_on = false;
    assert_int_equal(err_total(ERR_HASH_EXPAND_MALLOC), before + 1);
    assert_int_equal(assoc_hashpower(), 12);
    assert_false(assoc_expanding());
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_insert_find_delete, setup12, teardown),
        cmocka_unit_test_setup_teardown(test_same_bucket, setup12, teardown),
        cmocka_unit_test_setup_teardown(test_walk, setup12, teardown),
        cmocka_unit_test_setup_teardown(test_expand_stepwise, setup12, teardown),
        cmocka_unit_test_setup_teardown(test_expand_maintainer, setup12, teardown),
        cmocka_unit_test_setup_teardown(test_expand_malloc_failure, setup12, teardown),
    };
    settings_init(&settings);   /* the maintainer grows only with hash_expand */
    clock_setup();
    err_setup();
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
