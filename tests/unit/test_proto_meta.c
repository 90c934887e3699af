/*
 * test_proto_meta.c - the meta flag parser and the base64 key codec
 * (mcd/proto_meta.c), without a server.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#include <cmocka.h>

#include "proto_meta.h"

/* Parse "key flag flag ..." as a meta line after its command word. */
static enum meta_perr parse(enum meta_cmd cmd, const char *line, struct meta_req *r)
{
    static char buf[1024];
    struct token t[MAX_TOKENS];
    snprintf(buf, sizeof(buf), "%s", line);
    size_t nt = text_tokenize(buf, strlen(buf), t, MAX_TOKENS);
    assert_true(nt >= 1 && nt <= MAX_TOKENS);
    return meta_parse(cmd, &t[0], &t[1], nt - 1, r);
}

static void test_flags_and_return_order(void **state)
{
    struct meta_req r;
    (void)state;
    assert_int_equal(parse(META_MG, "foo v k Oab s T30 N5 R10 q u c", &r), MP_OK);
    assert_int_equal(r.nkey, 3);
    assert_memory_equal(r.key, "foo", 3);
    assert_true(r.v && r.q && r.u);
    assert_false(r.b || r.I);
    assert_true(r.has_ttl && r.vivify && r.recache);
    assert_int_equal(r.ttl, 30);
    assert_int_equal(r.vivify_ttl, 5);
    assert_int_equal(r.recache_ttl, 10);
    assert_string_equal(r.ret, "kOsc");        /* asked order, data flags only */
    assert_int_equal(r.nopaque, 3);
    assert_memory_equal(r.opaque, "Oab", 3);
    assert_int_equal(r.delta, 1);              /* ma's default */
}

static void test_numbers(void **state)
{
    struct meta_req r;
    (void)state;
    assert_int_equal(parse(META_MA, "n D18446744073709551615 J7 C9 E11 MD", &r), MP_OK);
    assert_true(r.delta == UINT64_MAX);
    assert_int_equal(r.initial, 7);
    assert_true(r.has_cas && r.cas == 9);
    assert_true(r.has_new_cas && r.new_cas == 11);
    assert_int_equal(r.mode, 'D');
    assert_int_equal(parse(META_MS, "n F4294967295 T-1", &r), MP_OK);
    assert_true(r.client_flags == UINT32_MAX);
    assert_int_equal(r.ttl, -1);
    assert_int_equal(parse(META_MS, "n F4294967296", &r), MP_BAD_CLIENT_FLAGS);
    assert_int_equal(parse(META_MA, "n D18446744073709551616", &r), MP_BAD_TOKEN);
    assert_int_equal(parse(META_MG, "n T", &r), MP_BAD_TOKEN);
    assert_int_equal(parse(META_MG, "n Nx", &r), MP_BAD_TOKEN);
    assert_int_equal(parse(META_MD, "n C-1", &r), MP_BAD_TOKEN);
}

static void test_refusals(void **state)
{
    struct meta_req r;
    char line[600];
    (void)state;
    assert_int_equal(parse(META_MG, "k v v", &r), MP_DUP_FLAG);
    assert_int_equal(parse(META_MG, "k vx vy", &r), MP_DUP_FLAG);
    assert_int_equal(parse(META_MG, "k !", &r), MP_BAD_FLAG);
    assert_int_equal(parse(META_MG, "k 5", &r), MP_BAD_FLAG);
    assert_int_equal(parse(META_MG, "k \xc3\xa9", &r), MP_BAD_FLAG);
    assert_int_equal(parse(META_MS, "k MSS", &r), MP_MODE_LENGTH);
    assert_int_equal(parse(META_MS, "k M", &r), MP_MODE_LENGTH);
    assert_int_equal(parse(META_MG, "k O123456789012345678901234567890123", &r),
                     MP_OPAQUE_TOO_LONG);
    assert_int_equal(parse(META_MG, "k O1234567890123456789012345678901", &r), MP_OK);
    assert_int_equal(parse(META_MG, "k a b c d e f g h i j k l m n o p q r", &r),
                     MP_TOO_MANY_FLAGS);
    assert_int_equal(parse(META_MG, "k \x01", &r), MP_BAD_FLAG);
    assert_int_equal(parse(META_MG, "k\x01y v", &r), MP_KEY_BAD_CHAR);
    memset(line, 'a', 251);
    strcpy(line + 251, " v");
    assert_int_equal(parse(META_MG, line, &r), MP_KEY_TOO_LONG);
    line[250] = '\0';
    assert_int_equal(parse(META_MG, line, &r), MP_OK);
    assert_int_equal(r.nkey, 250);
}

static void test_sites(void **state)
{
    (void)state;
    assert_int_equal(meta_parse_site(META_MG, MP_BAD_FLAG), ERR_META_BAD_FLAG);
    assert_int_equal(meta_parse_site(META_MD, MP_BAD_FLAG), ERR_META_MDMA_BAD_FLAG);
    assert_int_equal(meta_parse_site(META_MA, MP_DUP_FLAG), ERR_META_MDMA_DUP_FLAG);
    assert_int_equal(meta_parse_site(META_MG, MP_TOO_MANY_FLAGS), ERR_META_MG_TOO_MANY_FLAGS);
    assert_int_equal(meta_parse_site(META_MS, MP_TOO_MANY_FLAGS), ERR_META_TOO_MANY_FLAGS);
    assert_int_equal(meta_parse_site(META_MS, MP_BAD_BASE64), ERR_META_BAD_BASE64);
}

static void test_base64_key(void **state)
{
    struct meta_req r;
    (void)state;
    assert_int_equal(parse(META_MG, "YSBrZXk= b k", &r), MP_OK);
    assert_true(r.b);
    assert_int_equal(r.nkey, 5);
    assert_memory_equal(r.key, "a key", 5);
    assert_int_equal(parse(META_MG, "YW@@ b", &r), MP_BAD_BASE64);
    assert_int_equal(parse(META_MG, "YQ b", &r), MP_BAD_BASE64);
    /* a binary key may hold control bytes: "\x01\x02" */
    assert_int_equal(parse(META_MG, "AQI= b", &r), MP_OK);
    assert_int_equal(r.nkey, 2);
}

static void test_base64_codec(void **state)
{
    static const struct { const char *plain, *enc; } v[] = {
        { "f", "Zg==" }, { "fo", "Zm8=" }, { "foo", "Zm9v" },
        { "foob", "Zm9vYg==" }, { "fooba", "Zm9vYmE=" }, { "foobar", "Zm9vYmFy" },
    };
    char out[64];
    (void)state;
    for (size_t i = 0; i < sizeof(v) / sizeof(v[0]); i++) {
        size_t n = meta_b64_encode(v[i].plain, strlen(v[i].plain), out);
        assert_int_equal(n, strlen(v[i].enc));
        assert_memory_equal(out, v[i].enc, n);
        n = meta_b64_decode(v[i].enc, strlen(v[i].enc), out, sizeof(out));
        assert_int_equal(n, strlen(v[i].plain));
        assert_memory_equal(out, v[i].plain, n);
    }
    assert_int_equal(meta_b64_decode("", 0, out, sizeof(out)), 0);
    assert_int_equal(meta_b64_decode("Zg=", 3, out, sizeof(out)), 0);
    assert_int_equal(meta_b64_decode("Z===", 4, out, sizeof(out)), 0);
    assert_int_equal(meta_b64_decode("Zg==Zg==", 8, out, sizeof(out)), 0);
    assert_int_equal(meta_b64_decode("Z=g=", 4, out, sizeof(out)), 0);
    assert_int_equal(meta_b64_decode("Zm9vYmFy", 8, out, 5), 0);    /* no room */
    /* every byte value round-trips */
    char all[256], enc[400], dec[256];
    for (int i = 0; i < 256; i++)
        all[i] = (char)i;
    size_t n = meta_b64_encode(all, sizeof(all), enc);
    assert_int_equal(meta_b64_decode(enc, n, dec, sizeof(dec)), 256);
    assert_memory_equal(all, dec, 256);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_flags_and_return_order),
        cmocka_unit_test(test_numbers),
        cmocka_unit_test(test_refusals),
        cmocka_unit_test(test_sites),
        cmocka_unit_test(test_base64_key),
        cmocka_unit_test(test_base64_codec),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
