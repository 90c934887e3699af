/*
 * test_proto_bin.c - the binary protocol's framing without a socket: header
 * decode/encode, the opcode table, and bin_req_check() for every opcode's
 * good shape and each way a header is refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <string.h>

#include <cmocka.h>

#include "proto_bin.h"
#include "settings.h"

#define ISM (1024 * 1024)   /* -I default */

/* A well-formed request header for opcode with the given parts. */
static struct bin_req req(uint8_t opcode, uint8_t extlen, uint16_t keylen,
                          uint32_t vlen)
{
    struct bin_req r = {
        .magic = BIN_REQ_MAGIC, .opcode = opcode, .keylen = keylen,
        .extlen = extlen, .bodylen = extlen + keylen + vlen, .opaque = 7
    };
    return r;
}

static enum err_site check(struct bin_req r)
{
    return bin_req_check(&r, bin_cmd_find(r.opcode), ISM);
}

static void test_decode(void **state)
{
    (void)state;
    const unsigned char p[BIN_HEADER_LEN] = {
        0x80, 0x01, 0x00, 0x03, 0x08, 0x00, 0x12, 0x34,
        0x00, 0x00, 0x01, 0x0b, 0xde, 0xad, 0xbe, 0xef,
        0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08
    };
    struct bin_req r;
    bin_header_decode(p, &r);
    assert_int_equal(r.magic, 0x80);
    assert_int_equal(r.opcode, BIN_SET);
    assert_int_equal(r.keylen, 3);
    assert_int_equal(r.extlen, 8);
    assert_int_equal(r.vbucket, 0x1234);
    assert_int_equal(r.bodylen, 267);
    assert_int_equal(r.opaque, 0xdeadbeef);
    assert_true(r.cas == 0x0102030405060708ULL);
}

static void test_encode(void **state)
{
    (void)state;
    unsigned char p[BIN_HEADER_LEN];
    bin_header_encode(p, BIN_GETK, 5, 4, 0x0001, 0x01020304, 0xcafef00d,
                      0xffeeddccbbaa9988ULL);
    const unsigned char want[BIN_HEADER_LEN] = {
        0x81, 0x0c, 0x00, 0x05, 0x04, 0x00, 0x00, 0x01,
        0x01, 0x02, 0x03, 0x04, 0xca, 0xfe, 0xf0, 0x0d,
        0xff, 0xee, 0xdd, 0xcc, 0xbb, 0xaa, 0x99, 0x88
    };
    assert_memory_equal(p, want, BIN_HEADER_LEN);
}

static void test_table(void **state)
{
    (void)state;
    /* Every opcode memcached 1.6 serves is known... */
    const uint8_t known[] = {
        0x00, 0x01, 0x02, 0x03, 0x04, 0x05, 0x06, 0x07, 0x08, 0x09, 0x0a,
        0x0b, 0x0c, 0x0d, 0x0e, 0x0f, 0x10, 0x11, 0x12, 0x13, 0x14, 0x15,
        0x16, 0x17, 0x18, 0x19, 0x1a, 0x1b, 0x1c, 0x1d, 0x1e, 0x20, 0x21,
        0x22, 0x23, 0x24
    };
    for (size_t i = 0; i < sizeof(known); i++)
        assert_non_null(bin_cmd_find(known[i]));
    /* ...and the rest are not. */
    assert_null(bin_cmd_find(0x1f));
    assert_null(bin_cmd_find(0x25));
    assert_null(bin_cmd_find(0x50));
    assert_null(bin_cmd_find(0xff));
    /* Quiet and key-returning variants are where memcached puts them. */
    assert_true(bin_cmd_find(BIN_GETKQ)->quiet && bin_cmd_find(BIN_GETKQ)->with_key);
    assert_false(bin_cmd_find(BIN_GETK)->quiet);
    assert_true(bin_cmd_find(BIN_GATKQ)->with_key);
    assert_true(bin_cmd_find(BIN_SETQ)->quiet);
    assert_int_equal(bin_cmd_find(BIN_APPENDQ)->op, STORE_APPEND);
    assert_int_equal(bin_cmd_find(BIN_PREPEND)->op, STORE_PREPEND);
    assert_true(bin_cmd_find(BIN_INCREMENTQ)->incr);
    assert_false(bin_cmd_find(BIN_DECREMENTQ)->incr);
    assert_true(bin_cmd_find(BIN_QUITQ)->quiet);
}

/* The shape each opcode accepts: extras length, key, value. */
static void test_good_frames(void **state)
{
    (void)state;
    const uint8_t getters[] = { BIN_GET, BIN_GETQ, BIN_GETK, BIN_GETKQ };
    for (size_t i = 0; i < sizeof(getters); i++)
        assert_int_equal(check(req(getters[i], 0, 3, 0)), ERR__COUNT);
    const uint8_t touchers[] = { BIN_TOUCH, BIN_GAT, BIN_GATQ, BIN_GATK, BIN_GATKQ };
    for (size_t i = 0; i < sizeof(touchers); i++)
        assert_int_equal(check(req(touchers[i], 4, 3, 0)), ERR__COUNT);
    const uint8_t setters[] = { BIN_SET, BIN_SETQ, BIN_ADD, BIN_ADDQ,
                                BIN_REPLACE, BIN_REPLACEQ };
    for (size_t i = 0; i < sizeof(setters); i++) {
        assert_int_equal(check(req(setters[i], 8, 3, 10)), ERR__COUNT);
        assert_int_equal(check(req(setters[i], 8, 3, 0)), ERR__COUNT);
        assert_int_equal(check(req(setters[i], 8, 250, ISM)), ERR__COUNT);
    }
    const uint8_t joiners[] = { BIN_APPEND, BIN_APPENDQ, BIN_PREPEND, BIN_PREPENDQ };
    for (size_t i = 0; i < sizeof(joiners); i++)
        assert_int_equal(check(req(joiners[i], 0, 3, 10)), ERR__COUNT);
    assert_int_equal(check(req(BIN_DELETE, 0, 3, 0)), ERR__COUNT);
    assert_int_equal(check(req(BIN_DELETEQ, 0, 3, 0)), ERR__COUNT);
    const uint8_t arith[] = { BIN_INCREMENT, BIN_INCREMENTQ, BIN_DECREMENT,
                              BIN_DECREMENTQ };
    for (size_t i = 0; i < sizeof(arith); i++)
        assert_int_equal(check(req(arith[i], 20, 3, 0)), ERR__COUNT);
    const uint8_t bare[] = { BIN_QUIT, BIN_QUITQ, BIN_NOOP, BIN_VERSION,
                             BIN_FLUSH, BIN_FLUSHQ, BIN_STAT };
    for (size_t i = 0; i < sizeof(bare); i++)
        assert_int_equal(check(req(bare[i], 0, 0, 0)), ERR__COUNT);
    assert_int_equal(check(req(BIN_FLUSH, 4, 0, 0)), ERR__COUNT);
    assert_int_equal(check(req(BIN_FLUSHQ, 4, 0, 0)), ERR__COUNT);
    assert_int_equal(check(req(BIN_STAT, 0, 5, 0)), ERR__COUNT);
    assert_int_equal(check(req(BIN_VERBOSITY, 4, 0, 0)), ERR__COUNT);
}

static void test_bad_magic(void **state)
{
    (void)state;
    struct bin_req r = req(BIN_GET, 0, 3, 0);
    r.magic = BIN_RES_MAGIC;
    assert_int_equal(check(r), ERR_BIN_BAD_MAGIC);
    r.magic = 'g';
    assert_int_equal(check(r), ERR_BIN_BAD_MAGIC);
}

static void test_body_length(void **state)
{
    (void)state;
    struct bin_req r = req(BIN_SET, 8, 3, 0);
    r.bodylen = 10;             /* key + extras are 11 */
    assert_int_equal(check(r), ERR_BIN_BODY_LENGTH);
    r = req(BIN_GET, 0, 5, 0);
    r.bodylen = 2;
    assert_int_equal(check(r), ERR_BIN_BODY_LENGTH);
    /* checked before the opcode: the frame is broken whatever it is */
    r.opcode = 0x50;
    assert_int_equal(check(r), ERR_BIN_BODY_LENGTH);
}

static void test_key_too_long(void **state)
{
    (void)state;
    assert_int_equal(check(req(BIN_GET, 0, 251, 0)), ERR_BIN_KEY_TOO_LONG);
    assert_int_equal(check(req(BIN_SET, 8, 251, 5)), ERR_BIN_KEY_TOO_LONG);
    assert_int_equal(check(req(BIN_GET, 0, 250, 0)), ERR__COUNT);
}

static void test_unknown_and_sasl(void **state)
{
    (void)state;
    assert_int_equal(check(req(0x50, 0, 0, 0)), ERR_BIN_UNKNOWN_OPCODE);
    assert_int_equal(check(req(0x1f, 4, 3, 9)), ERR_BIN_UNKNOWN_OPCODE);
    assert_int_equal(check(req(BIN_SASL_LIST_MECHS, 0, 0, 0)), ERR_BIN_SASL_UNSUPPORTED);
    assert_int_equal(check(req(BIN_SASL_AUTH, 0, 5, 10)), ERR_BIN_SASL_UNSUPPORTED);
    assert_int_equal(check(req(BIN_SASL_STEP, 0, 5, 10)), ERR_BIN_SASL_UNSUPPORTED);
}

static void test_bad_extras(void **state)
{
    (void)state;
    assert_int_equal(check(req(BIN_GET, 4, 3, 0)), ERR_BIN_EXTRAS);
    assert_int_equal(check(req(BIN_SET, 0, 3, 5)), ERR_BIN_EXTRAS);
    assert_int_equal(check(req(BIN_ADDQ, 4, 3, 5)), ERR_BIN_EXTRAS);
    assert_int_equal(check(req(BIN_APPEND, 8, 3, 5)), ERR_BIN_EXTRAS);
    assert_int_equal(check(req(BIN_DELETE, 4, 3, 0)), ERR_BIN_EXTRAS);
    assert_int_equal(check(req(BIN_INCREMENT, 8, 3, 0)), ERR_BIN_EXTRAS);
    assert_int_equal(check(req(BIN_TOUCH, 0, 3, 0)), ERR_BIN_EXTRAS);
    assert_int_equal(check(req(BIN_GATK, 8, 3, 0)), ERR_BIN_EXTRAS);
    assert_int_equal(check(req(BIN_FLUSH, 8, 0, 0)), ERR_BIN_EXTRAS);
    assert_int_equal(check(req(BIN_VERBOSITY, 0, 0, 0)), ERR_BIN_EXTRAS);
    assert_int_equal(check(req(BIN_NOOP, 4, 0, 0)), ERR_BIN_EXTRAS);
}

static void test_bad_key(void **state)
{
    (void)state;
    assert_int_equal(check(req(BIN_GET, 0, 0, 0)), ERR_BIN_KEY_LENGTH);
    assert_int_equal(check(req(BIN_SET, 8, 0, 5)), ERR_BIN_KEY_LENGTH);
    assert_int_equal(check(req(BIN_DELETEQ, 0, 0, 0)), ERR_BIN_KEY_LENGTH);
    assert_int_equal(check(req(BIN_INCREMENT, 20, 0, 0)), ERR_BIN_KEY_LENGTH);
    assert_int_equal(check(req(BIN_GAT, 4, 0, 0)), ERR_BIN_KEY_LENGTH);
    assert_int_equal(check(req(BIN_NOOP, 0, 3, 0)), ERR_BIN_KEY_LENGTH);
    assert_int_equal(check(req(BIN_VERSION, 0, 3, 0)), ERR_BIN_KEY_LENGTH);
    assert_int_equal(check(req(BIN_QUIT, 0, 1, 0)), ERR_BIN_KEY_LENGTH);
    assert_int_equal(check(req(BIN_FLUSH, 4, 2, 0)), ERR_BIN_KEY_LENGTH);
}

static void test_bad_value(void **state)
{
    (void)state;
    assert_int_equal(check(req(BIN_GET, 0, 3, 1)), ERR_BIN_VALUE_UNEXPECTED);
    assert_int_equal(check(req(BIN_DELETE, 0, 3, 4)), ERR_BIN_VALUE_UNEXPECTED);
    assert_int_equal(check(req(BIN_NOOP, 0, 0, 3)), ERR_BIN_VALUE_UNEXPECTED);
    assert_int_equal(check(req(BIN_STAT, 0, 3, 3)), ERR_BIN_VALUE_UNEXPECTED);
    assert_int_equal(check(req(BIN_INCREMENT, 20, 3, 8)), ERR_BIN_VALUE_UNEXPECTED);
    /* A huge body on a command without a value is refused, not buffered. */
    assert_int_equal(check(req(BIN_GET, 0, 3, 0xffffff00u)), ERR_BIN_VALUE_UNEXPECTED);
}

static void test_too_large(void **state)
{
    (void)state;
    assert_int_equal(check(req(BIN_SET, 8, 3, ISM + 1)), ERR_TOO_LARGE);
    assert_int_equal(check(req(BIN_APPENDQ, 0, 3, ISM + 1)), ERR_TOO_LARGE);
    assert_int_equal(check(req(BIN_SET, 8, 3, 0xfffffff0u)), ERR_TOO_LARGE);
    struct bin_req r = req(BIN_SET, 8, 3, 100);
    assert_int_equal(bin_req_check(&r, bin_cmd_find(BIN_SET), 99), ERR_TOO_LARGE);
}

static void test_error_text(void **state)
{
    (void)state;
    char buf[128];
    size_t n = bin_error_text(ERR_TOO_LARGE, buf, sizeof(buf));
    assert_string_equal(buf, "object too large for cache [E2101]");
    assert_int_equal(n, strlen(buf));
    bin_error_text(ERR_BIN_BAD_MAGIC, buf, sizeof(buf));
    assert_string_equal(buf, "bad magic byte in binary request header [E3001]");
    /* the colon that follows a class word goes with it */
    bin_error_text(ERR_SHUTDOWN_DISABLED, buf, sizeof(buf));
    assert_string_equal(buf, "shutdown not enabled [E1070]");
    /* truncation keeps the string terminated */
    n = bin_error_text(ERR_TOO_LARGE, buf, 7);
    assert_int_equal(n, 6);
    assert_string_equal(buf, "object");
    /* every binary site answers with a status a client understands */
    assert_int_equal(err_info(ERR_BIN_UNKNOWN_OPCODE)->bin_status, 0x81);
    assert_int_equal(err_info(ERR_BIN_SASL_UNSUPPORTED)->bin_status, 0x81);
    assert_int_equal(err_info(ERR_BIN_STATS_UNKNOWN)->bin_status, 0x01);
    assert_int_equal(err_info(ERR_BIN_KEY_TOO_LONG)->bin_status, 0x04);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_decode),
        cmocka_unit_test(test_encode),
        cmocka_unit_test(test_table),
        cmocka_unit_test(test_good_frames),
        cmocka_unit_test(test_bad_magic),
        cmocka_unit_test(test_body_length),
        cmocka_unit_test(test_key_too_long),
        cmocka_unit_test(test_unknown_and_sasl),
        cmocka_unit_test(test_bad_extras),
        cmocka_unit_test(test_bad_key),
        cmocka_unit_test(test_bad_value),
        cmocka_unit_test(test_too_large),
        cmocka_unit_test(test_error_text),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
