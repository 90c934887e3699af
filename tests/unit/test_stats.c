/*
 * test_stats.c - mcd/stats.c: per-thread counters summed on read, and the
 * `stats reset` baseline.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <string.h>
#include <cmocka.h>

#include "stats.h"

#define WORKERS 4
#define ADDS 50000

static void *worker(void *arg)
{
    int idx = (int)(intptr_t)arg;
    stats_thread_register();
    for (int i = 0; i < ADDS; i++) {
        STAT_INCR(cmd_get);
        STAT_ADD(bytes_read, (uint64_t)idx + 1);
    }
    return NULL;
}

static void run_workers(void)
{
    pthread_t t[WORKERS];
    for (int i = 0; i < WORKERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, worker, (void *)(intptr_t)i), 0);
    for (int i = 0; i < WORKERS; i++)
        pthread_join(t[i], NULL);
}

static void test_unregistered_thread_counts_nothing(void **state)
{
    (void)state;
    struct tstats s;
    assert_null(tstats_mine);
    STAT_INCR(cmd_get);     /* must not crash, and counts nowhere */
    stats_sum(&s);
    assert_int_equal(s.cmd_get, 0);
}

static void test_sum_across_threads(void **state)
{
    (void)state;
    struct tstats s;
    run_workers();
    stats_sum(&s);
    assert_int_equal(s.cmd_get, (uint64_t)WORKERS * ADDS);
    /* each worker adds idx+1 per step: ADDS * (1+2+3+4) */
    assert_int_equal(s.bytes_read, (uint64_t)ADDS * (WORKERS * (WORKERS + 1) / 2));
    assert_int_equal(s.get_hits, 0);

    /* the test thread's own block adds to the same sum */
    stats_thread_register();
    assert_non_null(tstats_mine);
    STAT_INCR(get_hits);
    STAT_ADD(cmd_get, 5);
    stats_sum(&s);
    assert_int_equal(s.get_hits, 1);
    assert_int_equal(s.cmd_get, (uint64_t)WORKERS * ADDS + 5);
}

static void test_reset_baseline(void **state)
{
    (void)state;
    struct tstats s;
    stats_sum(&s);
    assert_true(s.cmd_get > 0);

    stats_reset();
    stats_sum(&s);
    /* every field reads zero right after a reset */
    struct tstats zero;
    memset(&zero, 0, sizeof(zero));
    assert_memory_equal(&s, &zero, sizeof(s));

    /* counts after the reset show, from threads old and new (the workers'
     * blocks outlive them: their counts are part of the baseline) */
    STAT_INCR(cmd_set);
    run_workers();
    stats_sum(&s);
    assert_int_equal(s.cmd_set, 1);
    assert_int_equal(s.cmd_get, (uint64_t)WORKERS * ADDS);

    /* a second reset moves the baseline again */
    stats_reset();
    STAT_ADD(cmd_set, 3);
    stats_sum(&s);
    assert_int_equal(s.cmd_set, 3);
    assert_int_equal(s.cmd_get, 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_unregistered_thread_counts_nothing),
        cmocka_unit_test(test_sum_across_threads),
        cmocka_unit_test(test_reset_baseline),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
