/*
 * test_errors.c - mcd/errors.c: wire lines built from errors.def, per-site
 * counting across threads, lookup by name and code, fault injection.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <cmocka.h>

#include "errors.h"
#include "util.h"

static int group_setup(void **state)
{
    (void)state;
    clock_setup();
    err_setup();
    return 0;
}

/* --- wire lines ----------------------------------------------------------- */

static void assert_line(enum err_site e, const char *want)
{
    size_t len = 0;
    const char *line = err_line(e, &len);
    assert_non_null(line);
    assert_string_equal(line, want);
    assert_int_equal(len, strlen(want));
}

static void test_lines(void **state)
{
    (void)state;
    /* memcached clients expect exactly "ERROR" for these */
    assert_line(ERR_UNKNOWN_COMMAND, "ERROR\r\n");
    assert_line(ERR_BAD_ARG_COUNT, "ERROR\r\n");
    assert_line(ERR_KEY_TOO_LONG,
                "CLIENT_ERROR bad command line format: key longer than 250 bytes [E1010]\r\n");
    assert_line(ERR_TOO_LARGE, "SERVER_ERROR object too large for cache [E2101]\r\n");
    assert_line(ERR_NO_MEMORY_NO_EVICT,
                "SERVER_ERROR out of memory storing object [E2104]\r\n");
    /* a message starting with ':' follows the class word directly, as
     * memcached's "ERROR: shutdown not enabled" */
    assert_line(ERR_SHUTDOWN_DISABLED, "ERROR: shutdown not enabled [E1070]\r\n");
    /* sites never sent to a client still have a well-formed line */
    assert_line(ERR_SLAB_PAGE_MALLOC, "SERVER_ERROR slab page allocation failed [E2120]\r\n");

    /* every site: one line, the right class word, its own code, CRLF */
    for (int i = 0; i < ERR__COUNT; i++) {
        const struct err_info *inf = err_info((enum err_site)i);
        size_t len;
        const char *line = err_line((enum err_site)i, &len);
        char code[16];
        if (inf->cls == R_ERROR_BARE) {
            assert_string_equal(line, "ERROR\r\n");
            assert_int_equal(len, 7);
            continue;
        }
        snprintf(code, sizeof(code), " [E%04d]\r\n", inf->code);
        assert_int_equal(len, strlen(line));
        assert_true(len > strlen(code));
        assert_string_equal(line + len - strlen(code), code);
        assert_null(memchr(line, '\n', len - 1));
        /* sites never sent as a text line still have a well-formed one */
        const char *word = inf->cls == R_ERROR ? "ERROR" :
                           inf->cls == R_CLIENT ? "CLIENT_ERROR" : "SERVER_ERROR";
        assert_memory_equal(line, word, strlen(word));
        char after = line[strlen(word)];
        assert_true(after == ' ' || after == ':');
        assert_non_null(strstr(line, inf->message));
    }
    /* len may be NULL */
    assert_non_null(err_line(ERR_TOO_LARGE, NULL));
}

/* --- counting ------------------------------------------------------------- */

#define RAISERS 4
#define RAISES 10000

static void *raiser(void *arg)
{
    int idx = (int)(intptr_t)arg;
    err_thread_register();
    for (int i = 0; i < RAISES; i++) {
        struct err_ctx ctx = { .clsid = idx + 1, .size = (uint64_t)i, .conn_id = 100 + (uint64_t)idx };
        err_raise_ctx(ERR_NO_MEMORY_TAIL_BUSY, &ctx);
    }
    return NULL;
}

static void test_raise_threads(void **state)
{
    (void)state;
    pthread_t t[RAISERS];
    time_t before = time(NULL);
    struct err_count c;

    err_read(ERR_NO_MEMORY_TAIL_BUSY, &c);
    assert_int_equal(c.count, 0);
    assert_int_equal(c.first, 0);
    assert_int_equal(c.last_ctx.clsid, -1);

    for (int i = 0; i < RAISERS; i++)
        assert_int_equal(pthread_create(&t[i], NULL, raiser, (void *)(intptr_t)i), 0);
    for (int i = 0; i < RAISERS; i++)
        pthread_join(t[i], NULL);

    assert_int_equal(err_total(ERR_NO_MEMORY_TAIL_BUSY), (uint64_t)RAISERS * RAISES);
    err_read(ERR_NO_MEMORY_TAIL_BUSY, &c);
    assert_int_equal(c.count, (uint64_t)RAISERS * RAISES);
    /* times are unix times from the server clock (which may lag by a tick) */
    assert_true(c.first > 0);
    assert_true(c.first <= c.last);
    assert_true(c.first >= before - 2 && c.last <= time(NULL) + 2);
    /* the newest context is one a raiser really set: its last raise */
    assert_true(c.last_ctx.clsid >= 1 && c.last_ctx.clsid <= RAISERS);
    assert_int_equal(c.last_ctx.conn_id, 100 + (uint64_t)c.last_ctx.clsid - 1);
    assert_int_equal(c.last_ctx.size, RAISES - 1);

    /* other sites were not touched */
    assert_int_equal(err_total(ERR_NO_MEMORY_CLASS_EMPTY), 0);
}

static void test_raise_unregistered(void **state)
{
    (void)state;
    /* the test thread never registered: it counts in the shared slot,
     * which readers must still see */
    uint64_t before = err_total(ERR_CONN_READ);
    err_raise(ERR_CONN_READ, 7);
    err_raise(ERR_CONN_READ, 8);
    assert_int_equal(err_total(ERR_CONN_READ), before + 2);
    struct err_count c;
    err_read(ERR_CONN_READ, &c);
    assert_int_equal(c.last_ctx.conn_id, 8);
    assert_int_equal(c.last_ctx.clsid, -1);
}

/* --- lookup --------------------------------------------------------------- */

static void test_lookup(void **state)
{
    (void)state;
    enum err_site e = ERR__COUNT;
    assert_true(err_lookup("ERR_TOO_LARGE", &e));
    assert_int_equal(e, ERR_TOO_LARGE);
    e = ERR__COUNT;
    assert_true(err_lookup("2101", &e));
    assert_int_equal(e, ERR_TOO_LARGE);
    e = ERR__COUNT;
    assert_true(err_lookup("E2101", &e));
    assert_int_equal(e, ERR_TOO_LARGE);
    assert_true(err_lookup("E1070", &e));
    assert_int_equal(e, ERR_SHUTDOWN_DISABLED);
    assert_true(err_lookup("ERR_IDLE_TIMEOUT", &e));
    assert_int_equal(e, ERR_IDLE_TIMEOUT);

    e = ERR__COUNT;
    assert_false(err_lookup("", &e));
    assert_false(err_lookup("ERR_TOO_LARG", &e));
    assert_false(err_lookup("ERR_TOO_LARGEX", &e));
    assert_false(err_lookup("err_too_large", &e));
    assert_false(err_lookup("2101x", &e));
    assert_false(err_lookup("E", &e));
    assert_false(err_lookup("9999", &e));
    assert_false(err_lookup("EE2101", &e));
    assert_int_equal(e, ERR__COUNT);    /* untouched on failure */

    /* every site is found by its own name and code */
    for (int i = 0; i < ERR__COUNT; i++) {
        const struct err_info *inf = err_info((enum err_site)i);
        char code[16];
        assert_true(err_lookup(inf->name, &e));
        assert_int_equal(e, i);
        snprintf(code, sizeof(code), "E%d", inf->code);
        assert_true(err_lookup(code, &e));
        assert_int_equal(e, i);
    }
}

/* --- fault injection ------------------------------------------------------ */

static void test_fault_every_nth(void **state)
{
    (void)state;
    char why[160];
    assert_false(err_inject(ERR_CONN_MALLOC));      /* nothing configured */

    assert_true(err_fault_config("ERR_CONN_MALLOC:3", why, sizeof(why)));
    assert_true(err_faults_on);
    int fired = 0;
    for (int i = 1; i <= 30; i++) {
        bool f = err_inject(ERR_CONN_MALLOC);
        assert_int_equal(f, i % 3 == 0);
        fired += f;
    }
    assert_int_equal(fired, 10);
    /* other sites are unaffected */
    for (int i = 0; i < 10; i++)
        assert_false(err_inject(ERR_WBUF_MALLOC));

    /* reconfiguring by code restarts the count */
    assert_true(err_fault_config("6004:2", why, sizeof(why)));
    assert_false(err_inject(ERR_CONN_MALLOC));
    assert_true(err_inject(ERR_CONN_MALLOC));
    assert_true(err_fault_config("E6005:1", why, sizeof(why)));
    assert_true(err_inject(ERR_RBUF_MALLOC));
    assert_true(err_inject(ERR_RBUF_MALLOC));

    /* percent: 100 always fires */
    assert_true(err_fault_config("ERR_WBUF_MALLOC:0:100", why, sizeof(why)));
    for (int i = 0; i < 20; i++)
        assert_true(err_inject(ERR_WBUF_MALLOC));
    /* 50 percent fires sometimes, not always (1000 draws) */
    assert_true(err_fault_config("ERR_WBUF_MALLOC:0:50", why, sizeof(why)));
    int n = 0;
    for (int i = 0; i < 1000; i++)
        n += err_inject(ERR_WBUF_MALLOC);
    assert_true(n > 300 && n < 700);
}

static void test_fault_bad_specs(void **state)
{
    (void)state;
    static const char *const bad[] = {
        "ERR_CONN_MALLOC",          /* no count */
        "ERR_CONN_MALLOC:",
        "ERR_CONN_MALLOC:0",        /* 0 needs a percent */
        "ERR_CONN_MALLOC:0:0",
        "ERR_CONN_MALLOC:0:101",
        "ERR_CONN_MALLOC:x",
        "ERR_CONN_MALLOC:-1",       /* would wrap to every 4294967295th */
        "ERR_CONN_MALLOC:2x",
        "ERR_CONN_MALLOC:2:",
        "ERR_CONN_MALLOC:0:50x",
        "ERR_NO_SUCH_SITE:1",
        ":1",
        "9999:1",
        "ERR_CONN_MALLOC_AND_A_NAME_LONGER_THAN_SIXTY_FOUR_BYTES_OF_BUFFER:1",
    };
    for (size_t i = 0; i < sizeof(bad) / sizeof(bad[0]); i++) {
        char why[160] = "";
        if (err_fault_config(bad[i], why, sizeof(why)))
            fail_msg("accepted bad fault spec '%s'", bad[i]);
        assert_true(strlen(why) > 0);
        assert_non_null(strstr(why, "fault spec"));
    }
    /* a short why buffer is respected */
    char tiny[8];
    memset(tiny, 'x', sizeof(tiny));
    assert_false(err_fault_config("nope", tiny, sizeof(tiny)));
    assert_int_equal(tiny[7], '\0');
    err_faults_on = false;
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test(test_lines),
        cmocka_unit_test(test_raise_threads),
        cmocka_unit_test(test_raise_unregistered),
        cmocka_unit_test(test_lookup),
        cmocka_unit_test(test_fault_every_nth),
        cmocka_unit_test(test_fault_bad_specs),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, group_setup, NULL);
}
