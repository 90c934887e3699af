/*
 * test_util.c - mcd/util.c: strict number parsing, fmt_u64, the clock's
 * exptime conversion and the key hash.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <cmocka.h>

#include "util.h"

#define S(lit) lit, sizeof(lit) - 1

/* --- parse_u64 / parse_u32 ------------------------------------------------ */

static void test_parse_u64(void **state)
{
    uint64_t v = 7;
    (void)state;
    assert_false(parse_u64(S(""), &v));
    assert_int_equal(v, 7);             /* untouched on failure */
    assert_true(parse_u64(S("0"), &v));
    assert_int_equal(v, 0);
    assert_true(parse_u64(S("00000000000000000042"), &v)); /* 20 digits */
    assert_int_equal(v, 42);
    assert_true(parse_u64(S("18446744073709551615"), &v));
    assert_true(v == UINT64_MAX);
    assert_false(parse_u64(S("18446744073709551616"), &v)); /* max + 1 */
    assert_false(parse_u64(S("18446744073709551620"), &v));
    assert_false(parse_u64(S("99999999999999999999"), &v));
    /* leading zeros do not count towards the 20 digits */
    assert_true(parse_u64(S("000000000000000000001"), &v));
    assert_int_equal(v, 1);
    assert_true(parse_u64(S("000000018446744073709551615"), &v));
    assert_true(v == UINT64_MAX);
    assert_false(parse_u64(S("000000018446744073709551616"), &v));
    assert_false(parse_u64(S("100000000000000000000"), &v)); /* 21 digits */
    assert_true(parse_u64(S("00"), &v));
    assert_int_equal(v, 0);
    assert_false(parse_u64(S("-1"), &v));
    assert_true(parse_u64(S("+1"), &v));        /* as strtoull */
    assert_int_equal(v, 1);
    assert_false(parse_u64(S("+"), &v));
    assert_false(parse_u64(S("++1"), &v));
    assert_false(parse_u64(S("+-1"), &v));
    assert_false(parse_u64(S(" 1"), &v));
    assert_false(parse_u64(S("1 "), &v));
    assert_false(parse_u64(S("1x"), &v));
    assert_false(parse_u64(S("0x10"), &v));
    /* only len bytes are read: "12" out of "123" */
    assert_true(parse_u64("123", 2, &v));
    assert_int_equal(v, 12);
}

static void test_parse_u32(void **state)
{
    uint32_t v = 7;
    (void)state;
    assert_false(parse_u32(S(""), &v));
    assert_true(parse_u32(S("4294967295"), &v));
    assert_true(v == UINT32_MAX);
    assert_false(parse_u32(S("4294967296"), &v));
    assert_false(parse_u32(S("18446744073709551615"), &v));
    assert_false(parse_u32(S("-0"), &v));
    assert_true(parse_u32(S("0"), &v));
    assert_int_equal(v, 0);
}

static void test_parse_i64(void **state)
{
    int64_t v = 7;
    (void)state;
    assert_false(parse_i64(S(""), &v));
    assert_false(parse_i64(S("-"), &v));
    assert_false(parse_i64(S("+"), &v));
    assert_false(parse_i64(S("--1"), &v));
    assert_false(parse_i64(S("+-1"), &v));
    assert_false(parse_i64(S("-+1"), &v));
    assert_false(parse_i64(S("++1"), &v));
    assert_int_equal(v, 7);
    assert_true(parse_i64(S("-1"), &v));
    assert_true(v == -1);
    assert_true(parse_i64(S("+5"), &v));
    assert_true(v == 5);
    assert_true(parse_i64(S("-0"), &v));
    assert_true(v == 0);
    assert_true(parse_i64(S("9223372036854775807"), &v));
    assert_true(v == INT64_MAX);
    assert_false(parse_i64(S("9223372036854775808"), &v));
    assert_true(parse_i64(S("-9223372036854775808"), &v));
    assert_true(v == INT64_MIN);
    assert_false(parse_i64(S("-9223372036854775809"), &v));
    assert_false(parse_i64(S("-18446744073709551615"), &v));
}

static void test_parse_i32(void **state)
{
    int32_t v = 7;
    (void)state;
    assert_false(parse_i32(S(""), &v));
    assert_true(parse_i32(S("2147483647"), &v));
    assert_true(v == INT32_MAX);
    assert_false(parse_i32(S("2147483648"), &v));
    assert_true(parse_i32(S("-2147483648"), &v));
    assert_true(v == INT32_MIN);
    assert_false(parse_i32(S("-2147483649"), &v));
    assert_false(parse_i32(S("4294967296"), &v));
    assert_true(parse_i32(S("-1"), &v));
    assert_true(v == -1);
}

/* --- fmt_u64 -------------------------------------------------------------- */

static void test_fmt_u64(void **state)
{
    char buf[32];
    (void)state;
    memset(buf, 'x', sizeof(buf));
    assert_int_equal(fmt_u64(buf, 0), 1);
    assert_string_equal(buf, "0");
    assert_int_equal(fmt_u64(buf, 9), 1);
    assert_string_equal(buf, "9");
    assert_int_equal(fmt_u64(buf, 10), 2);
    assert_string_equal(buf, "10");
    assert_int_equal(fmt_u64(buf, 1234567890), 10);
    assert_string_equal(buf, "1234567890");
    assert_int_equal(fmt_u64(buf, UINT64_MAX), 20);
    assert_string_equal(buf, "18446744073709551615");
    /* fmt then parse round-trips */
    uint64_t vals[] = { 1, 99, 100, 4294967296ULL, UINT64_MAX - 1 };
    for (size_t i = 0; i < sizeof(vals) / sizeof(vals[0]); i++) {
        uint64_t back;
        size_t n = fmt_u64(buf, vals[i]);
        assert_true(parse_u64(buf, n, &back));
        assert_true(back == vals[i]);
    }
}

/* --- the clock ------------------------------------------------------------ */

static void test_clock_realtime(void **state)
{
    (void)state;
    clock_setup();
    rel_time_t now = clock_now();
    time_t started = clock_started();
    /* started two seconds "ago" so that 1 is always in the past */
    assert_true(now >= 2);

    assert_int_equal(clock_realtime(0), 0);         /* never expires */
    assert_int_equal(clock_realtime(-1), 1);        /* already expired */
    assert_int_equal(clock_realtime(INT64_MIN), 1);
    assert_int_equal(clock_realtime(10), now + 10); /* relative */
    assert_int_equal(clock_realtime(REALTIME_MAXDELTA), now + REALTIME_MAXDELTA);
    /* one past the delta is an absolute unix time: long past here */
    assert_int_equal(clock_realtime(REALTIME_MAXDELTA + 1), 1);
    /* absolute in the past (or at the start) maps to 1 */
    assert_int_equal(clock_realtime((int64_t)started), 1);
    assert_int_equal(clock_realtime((int64_t)started - 100), 1);
    /* absolute in the future maps to seconds since start */
    assert_int_equal(clock_realtime((int64_t)started + REALTIME_MAXDELTA + 50),
                     REALTIME_MAXDELTA + 50);
    /* far future saturates rather than wrapping */
    assert_int_equal(clock_realtime(INT64_MAX), UINT32_MAX);
    /* clock_abs is the inverse of the absolute form */
    assert_int_equal(clock_abs(0), 0);
    assert_true(clock_abs(100) == started + 100);

    clock_set_for_test(now + 1000);
    assert_int_equal(clock_now(), now + 1000);
    assert_int_equal(clock_realtime(10), now + 1010);
    clock_tick();       /* back to the real clock */
    assert_true(clock_now() < now + 1000);
}

/* --- the hash ------------------------------------------------------------- */

static void test_hash_key(void **state)
{
    (void)state;
    /* stable across calls and independent of the buffer's address */
    char a[] = "user:1234";
    char b[32];
    memcpy(b + 3, a, sizeof(a));
    assert_int_equal(hash_key(a, 9), hash_key(b + 3, 9));
    assert_int_not_equal(hash_key(S("user:1234")), hash_key(S("user:1235")));
    assert_int_not_equal(hash_key(S("a")), hash_key(S("b")));
    /* length sensitive, including zero bytes and 8-byte boundaries */
    char z[16] = { 0 };
    assert_int_not_equal(hash_key(z, 1), hash_key(z, 2));
    assert_int_not_equal(hash_key(z, 7), hash_key(z, 8));
    assert_int_not_equal(hash_key(z, 8), hash_key(z, 9));
    assert_int_not_equal(hash_key(z, 0), hash_key(z, 1));
    assert_int_not_equal(hash_key(S("abcdefgh")), hash_key(S("abcdefghi")));

    /* 4096 sequential keys spread over 256 buckets: none empty, none
     * holding more than three times its share */
    int buckets[256] = { 0 };
    char key[32];
    for (int i = 0; i < 4096; i++) {
        size_t n = (size_t)snprintf(key, sizeof(key), "key:%d", i);
        buckets[hash_key(key, n) & 255]++;
    }
    for (int i = 0; i < 256; i++) {
        assert_true(buckets[i] > 0);
        assert_true(buckets[i] < 48);
    }
}

static void test_parse_stored_u64(void **state)
{
    uint64_t v = 7;
    (void)state;
    /* what memcached's strtoull accepts in a stored value for incr */
    assert_true(parse_stored_u64(S("5"), &v));
    assert_int_equal(v, 5);
    assert_true(parse_stored_u64(S("  5"), &v));
    assert_int_equal(v, 5);
    assert_true(parse_stored_u64(S("\t+5"), &v));
    assert_int_equal(v, 5);
    assert_true(parse_stored_u64(S("5 "), &v));
    assert_int_equal(v, 5);
    assert_true(parse_stored_u64(S("5\r\n6"), &v));     /* a blank ends it */
    assert_int_equal(v, 5);
    assert_true(parse_stored_u64(S("18446744073709551615"), &v));
    assert_true(v == UINT64_MAX);
    v = 7;
    assert_false(parse_stored_u64(S(""), &v));
    assert_false(parse_stored_u64(S("   "), &v));
    assert_false(parse_stored_u64(S("+"), &v));
    assert_false(parse_stored_u64(S("-5"), &v));
    assert_false(parse_stored_u64(S("5x"), &v));
    assert_false(parse_stored_u64(S("x5"), &v));
    assert_false(parse_stored_u64(S("18446744073709551616"), &v));
    assert_int_equal(v, 7);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_parse_u64),
        cmocka_unit_test(test_parse_u32),
        cmocka_unit_test(test_parse_i64),
        cmocka_unit_test(test_parse_i32),
        cmocka_unit_test(test_parse_stored_u64),
        cmocka_unit_test(test_fmt_u64),
        cmocka_unit_test(test_clock_realtime),
        cmocka_unit_test(test_hash_key),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
