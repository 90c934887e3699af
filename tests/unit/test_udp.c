/*
 * test_udp.c - mcd/udp.c's pure parts: the frame header, the datagram
 * count of a reply, and gathering a response chain into datagrams.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "udp.h"

static void test_frame_parse(void **state)
{
    struct udp_frame f;
    (void)state;
    const unsigned char ok[] = { 0x12, 0x34, 0x00, 0x05, 0x00, 0x01, 0x00, 0x00, 'g' };
    assert_int_equal(udp_frame_parse(ok, sizeof(ok), &f), UDP_FRAME_OK);
    assert_int_equal(f.id, 0x1234);
    assert_int_equal(f.seq, 5);         /* read, not checked (as memcached) */
    assert_int_equal(f.total, 1);
    assert_int_equal(udp_frame_parse(ok, 8, &f), UDP_FRAME_OK);  /* header only */

    for (size_t n = 0; n < 8; n++)
        assert_int_equal(udp_frame_parse(ok, n, &f), UDP_FRAME_SHORT);

    /* reserved is read for the caller to count, never refused (as memcached) */
    const unsigned char res_lo[] = { 0, 1, 0, 0, 0, 1, 0x00, 0x01 };
    const unsigned char res_hi[] = { 0, 1, 0, 0, 0, 1, 0x01, 0x00 };  /* memcaslap's */
    assert_int_equal(udp_frame_parse(res_lo, 8, &f), UDP_FRAME_OK);
    assert_int_equal(f.reserved, 1);
    assert_int_equal(udp_frame_parse(res_hi, 8, &f), UDP_FRAME_OK);
    assert_int_equal(f.reserved, 0x100);
    const unsigned char res_multi[] = { 0, 1, 0, 0, 0, 2, 0x01, 0x00 };
    assert_int_equal(udp_frame_parse(res_multi, 8, &f), UDP_FRAME_MULTI);

    const unsigned char two[] = { 0, 1, 0, 0, 0, 2, 0, 0 };
    const unsigned char none[] = { 0, 1, 0, 0, 0, 0, 0, 0 };
    const unsigned char big[] = { 0, 1, 0, 0, 1, 1, 0, 0 };   /* 257: high byte counts */
    assert_int_equal(udp_frame_parse(two, 8, &f), UDP_FRAME_MULTI);
    assert_int_equal(udp_frame_parse(none, 8, &f), UDP_FRAME_MULTI);
    assert_int_equal(udp_frame_parse(big, 8, &f), UDP_FRAME_MULTI);
}

static void test_frame_put(void **state)
{
    unsigned char h[8];
    struct udp_frame f;
    (void)state;
    memset(h, 0xff, sizeof(h));
    udp_frame_put(h, 0xbeef, 0x0102, 0xfffe);
    const unsigned char want[] = { 0xbe, 0xef, 0x01, 0x02, 0xff, 0xfe, 0, 0 };
    assert_memory_equal(h, want, 8);
    /* what we write, we read back (total aside, which a request must have 1) */
    udp_frame_put(h, 7, 0, 1);
    assert_int_equal(udp_frame_parse(h, 8, &f), UDP_FRAME_OK);
    assert_int_equal(f.id, 7);
    assert_int_equal(f.reserved, 0);    /* replies always clear it */
}

static void test_datagrams(void **state)
{
    (void)state;
    assert_int_equal(UDP_MAX_DATA, 1392);
    assert_int_equal(udp_datagrams(0), 0);
    assert_int_equal(udp_datagrams(1), 1);
    assert_int_equal(udp_datagrams(1392), 1);
    assert_int_equal(udp_datagrams(1393), 2);
    assert_int_equal(udp_datagrams(2 * 1392), 2);
    assert_int_equal(udp_datagrams(2 * 1392 + 1), 3);
    assert_int_equal(udp_datagrams((size_t)UDP_MAX_DATAGRAMS * 1392), UDP_MAX_DATAGRAMS);
    assert_true(udp_datagrams((size_t)UDP_MAX_DATAGRAMS * 1392 + 1) > UDP_MAX_DATAGRAMS);
}

/* Cut a chain of uneven pieces into datagrams: every byte once, in order,
 * each datagram full but the last. */
static void test_gather(void **state)
{
    (void)state;
    char src[5000];
    for (size_t i = 0; i < sizeof(src); i++)
        src[i] = (char)('a' + i % 26);
    size_t sizes[] = { 13, 1, 1392, 7, 2000, 1, 1586 };  /* sum 5000 */
    struct iovec iov[7];
    size_t at = 0;
    for (int i = 0; i < 7; i++) {
        iov[i] = (struct iovec){ src + at, sizes[i] };
        at += sizes[i];
    }
    assert_int_equal(at, sizeof(src));

    char out[sizeof(src)];
    char dgram[UDP_MAX_DATA];
    struct udp_cursor cur = { 0, 0 };
    size_t total = 0, n, count = 0;
    while ((n = udp_gather(iov, 7, &cur, dgram, UDP_MAX_DATA)) > 0) {
        count++;
        if (total + n < sizeof(src))
            assert_int_equal(n, UDP_MAX_DATA);
        memcpy(out + total, dgram, n);
        total += n;
    }
    assert_int_equal(total, sizeof(src));
    assert_int_equal(count, udp_datagrams(sizeof(src)));
    assert_memory_equal(out, src, sizeof(src));
    assert_int_equal(cur.idx, 7);
    assert_int_equal(cur.off, 0);
    /* the iovecs are read, never changed */
    assert_ptr_equal(iov[2].iov_base, src + 14);
    assert_int_equal(iov[2].iov_len, 1392);

    /* a room smaller than one piece, and an empty list */
    cur = (struct udp_cursor){ 4, 10 };
    assert_int_equal(udp_gather(iov, 7, &cur, dgram, 5), 5);
    assert_memory_equal(dgram, src + 13 + 1 + 1392 + 7 + 10, 5);
    assert_int_equal(cur.idx, 4);
    assert_int_equal(cur.off, 15);
    cur = (struct udp_cursor){ 0, 0 };
    assert_int_equal(udp_gather(iov, 0, &cur, dgram, UDP_MAX_DATA), 0);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_frame_parse),
        cmocka_unit_test(test_frame_put),
        cmocka_unit_test(test_datagrams),
        cmocka_unit_test(test_gather),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
