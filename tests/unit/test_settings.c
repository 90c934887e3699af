/*
 * test_settings.c - mcd/settings.c: memcached-compatible flags into
 * struct settings. settings_parse returns -1 to go on, 0 after -h/-V, 64
 * (EX_USAGE) after printing why a command line was refused.
 */
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>
#include <cmocka.h>

#include "errors.h"
#include "settings.h"

#define MB (1024UL * 1024)

static struct settings s;
static char out_text[8192];     /* what the last parse printed (stdout+stderr) */
static int saved_out = -1, saved_err = -1;

/* Puts stdout/stderr back; also run as teardown in case a test died
 * (cmocka catches the signal) while they pointed at the capture file. */
static int restore_output(void **state)
{
    (void)state;
    if (saved_out >= 0) {
        fflush(stdout);
        fflush(stderr);
        dup2(saved_out, 1);
        dup2(saved_err, 2);
        close(saved_out);
        close(saved_err);
        saved_out = saved_err = -1;
    }
    return 0;
}

/*
 * Runs settings_parse on a fresh struct with argv = "mcd", args..., NULL.
 * Arguments are copied (-o edits its argument in place, as main's argv
 * allows) and kept alive because settings point into them. Output is
 * captured into out_text so that TAP on stdout stays clean.
 */
static int parse_v(const char *const *args)
{
    static char *keep[64];
    static int nkeep;
    char *argv[64];
    int argc = 0;

    argv[argc++] = strdup("mcd");
    for (; *args; args++)
        argv[argc++] = strdup(*args);
    argv[argc] = NULL;
    for (int i = 0; i < argc; i++) {
        if (nkeep == 64)
            nkeep = 0;      /* older parses' strings are no longer read */
        free(keep[nkeep]);
        keep[nkeep++] = argv[i];
    }

    FILE *cap = tmpfile();
    assert_non_null(cap);
    fflush(stdout);
    fflush(stderr);
    saved_out = dup(1);
    saved_err = dup(2);
    dup2(fileno(cap), 1);
    dup2(fileno(cap), 2);
    settings_init(&s);
    int rc = settings_parse(&s, argc, argv);
    restore_output(NULL);
    rewind(cap);
    size_t n = fread(out_text, 1, sizeof(out_text) - 1, cap);
    out_text[n] = '\0';
    fclose(cap);
    return rc;
}
#define PARSE(...) parse_v((const char *const[]){ __VA_ARGS__, NULL })
#define PARSE0() parse_v((const char *const[]){ NULL })

static void test_defaults(void **state)
{
    (void)state;
    assert_int_equal(PARSE0(), -1);
    assert_string_equal(out_text, "");
    assert_int_equal(s.port, 11211);
    assert_int_equal(s.udpport, 0);
    assert_int_equal(s.nlisten, 0);
    assert_int_equal(s.maxbytes, 64 * MB);
    assert_int_equal(s.item_size_max, 1 * MB);
    assert_true(s.evict_to_free);
    assert_true(s.use_cas);
    assert_true(s.flush_enabled);
    assert_true(s.hash_expand);
    assert_int_equal(s.maxconns, 1024);
    assert_int_equal(s.num_threads, 4);
    assert_int_equal(s.reqs_per_event, 20);
    assert_int_equal(s.chunk_size, 48);
    assert_int_equal(s.protocol, PROTO_AUTO);
    assert_int_equal(s.prefix_delimiter, ':');
    assert_false(s.detail_enabled);
    assert_int_equal(s.verbose, 0);
    assert_string_equal(s.engine, "slab");
}

static void test_memory_and_item_size(void **state)
{
    (void)state;
    assert_int_equal(PARSE("-m", "128"), -1);
    assert_int_equal(s.maxbytes, 128 * MB);     /* plain number: megabytes */
    assert_int_equal(PARSE("-m", "2g"), -1);
    assert_int_equal(s.maxbytes, 2048 * MB);
    assert_int_equal(PARSE("-m", "64M"), -1);
    assert_int_equal(s.maxbytes, 64 * MB);
    assert_int_equal(PARSE("-m", "4096k", "-I", "1k"), -1);
    assert_int_equal(s.maxbytes, 4 * MB);
    assert_int_equal(s.item_size_max, 1024);
    assert_int_equal(PARSE("--memory-limit=8"), -1);
    assert_int_equal(s.maxbytes, 8 * MB);

    assert_int_equal(PARSE("-I", "2m"), -1);
    assert_int_equal(s.item_size_max, 2 * MB);
    assert_int_equal(PARSE("-I", "1024"), -1);  /* plain number: bytes */
    assert_int_equal(s.item_size_max, 1024);
    assert_int_equal(PARSE("-I", "512k"), -1);
    assert_int_equal(s.item_size_max, 512 * 1024);
    assert_int_equal(PARSE("-I", "32m"), -1);   /* exactly half of -m 64 */

    /* refusals: all EX_USAGE with a reason on stderr */
    static const char *const bad_m[] = { "0", "x", "-1", "1t", "5kk", "", " 5",
                                         "17179869184g",      /* 2^64: wraps to 0 */
                                         "17179869185g",      /* wraps to 1g */
                                         "18446744073709551615" };
    for (size_t i = 0; i < sizeof(bad_m) / sizeof(bad_m[0]); i++) {
        if (PARSE("-m", bad_m[i]) != 64)
            fail_msg("-m '%s' was accepted (maxbytes %zu)", bad_m[i], s.maxbytes);
        assert_non_null(strstr(out_text, "mcd:"));
    }
    assert_int_equal(PARSE("-I", "512"), 64);           /* below 1k */
    assert_int_equal(PARSE("-I", "1025m", "-m", "4096"), 64);  /* above 1024m */
    assert_int_equal(PARSE("-I", "18014398509481984k"), 64);   /* 2^64 bytes */
    /* -I larger than half of -m, in either order */
    assert_int_equal(PARSE("-I", "33m"), 64);
    assert_non_null(strstr(out_text, "1/2 of memory max"));
    assert_int_equal(PARSE("-m", "1", "-I", "1m"), 64);
    assert_int_equal(PARSE("-I", "1m", "-m", "1"), 64);
    assert_int_equal(PARSE("-m", "2", "-I", "1m"), -1);
}

static void test_unknown_and_bad_flags(void **state)
{
    (void)state;
    assert_int_equal(PARSE("-j"), 64);
    assert_non_null(strstr(out_text, "unknown option -j"));
    assert_int_equal(PARSE("--bogus"), 64);
    assert_non_null(strstr(out_text, "--bogus"));
    assert_int_equal(PARSE("-p"), 64);          /* missing argument */
    assert_non_null(strstr(out_text, "needs an argument"));
    assert_int_equal(PARSE("stray"), 64);
    assert_int_equal(PARSE("-p", "65536"), 64);
    assert_int_equal(PARSE("-p", "12x"), 64);
    assert_int_equal(PARSE("-U", "65536"), 64);
    assert_int_equal(PARSE("-U", "udp"), 64);
    assert_int_equal(PARSE("-S"), 64);          /* SASL refused */
    assert_int_equal(PARSE("-Z"), 64);          /* TLS refused */
    assert_int_equal(PARSE("-Y", "file"), 64);
    assert_int_equal(PARSE("-t", "0"), 64);
    assert_int_equal(PARSE("-t", "257"), 64);
    assert_int_equal(PARSE("-c", "0"), 64);
    assert_int_equal(PARSE("-f", "1.0"), 64);
    assert_int_equal(PARSE("-f", "65"), 64);
    assert_int_equal(PARSE("-f", "nan"), 64);   /* NaN compares false */
    assert_int_equal(PARSE("-f", "inf"), 64);
    assert_int_equal(PARSE("-D", "ab"), 64);
    assert_int_equal(PARSE("-a", "999"), 64);

    assert_int_equal(PARSE("-p", "0", "-U", "0", "-t", "256", "-c", "10", "-R", "5",
                           "-b", "64", "-f", "2", "-n", "96", "-a", "600"), -1);
    assert_int_equal(s.port, 0);
    assert_int_equal(s.udpport, 0);
    assert_int_equal(PARSE("-U", "11211"), -1);
    assert_int_equal(s.udpport, 11211);
    assert_int_equal(PARSE("--udp-port=0"), -1);
    assert_int_equal(s.udpport, 0);
    assert_int_equal(PARSE("-p", "0", "-U", "0", "-t", "256", "-c", "10", "-R", "5",
                           "-b", "64", "-f", "2", "-n", "96", "-a", "600"), -1);
    assert_int_equal(s.num_threads, 256);
    assert_int_equal(s.maxconns, 10);
    assert_int_equal(s.reqs_per_event, 5);
    assert_int_equal(s.backlog, 64);
    assert_true(s.factor == 2.0);
    assert_int_equal(s.chunk_size, 96);
    assert_int_equal(s.access, 0600);
    assert_int_equal(PARSE("-M", "-C", "-F", "-X", "-A", "-vv", "-D", "#", "-W", "-L"), -1);
    assert_false(s.evict_to_free);
    assert_false(s.use_cas);
    assert_false(s.flush_enabled);
    assert_false(s.dump_enabled);
    assert_true(s.shutdown_command);
    assert_int_equal(s.verbose, 2);
    assert_int_equal(s.prefix_delimiter, '#');
    assert_true(s.detail_enabled);
    assert_non_null(strstr(out_text, "warning: -L"));
}

static void test_help_version(void **state)
{
    (void)state;
    assert_int_equal(PARSE("-h"), 0);
    assert_non_null(strstr(out_text, "-m, --memory-limit"));
    assert_int_equal(PARSE("-V"), 0);
    assert_string_equal(out_text, "mcd " MCD_VERSION "\n");
    assert_int_equal(PARSE("--version"), 0);
    assert_int_equal(PARSE("-i"), 0);
    /* -h wins even after other flags, and stops parsing */
    assert_int_equal(PARSE("-m", "8", "-h", "-j"), 0);
}

/* getopt keeps its position inside a cluster like "-hv" in static state;
 * a second parse must not resume from the first one's argv. */
static void test_reparse_is_fresh(void **state)
{
    (void)state;
    assert_int_equal(PARSE("-hv"), 0);
    assert_int_equal(PARSE0(), -1);
    assert_int_equal(s.verbose, 0);
    assert_int_equal(PARSE("-Sv"), 64);
    assert_int_equal(PARSE("-p", "1"), -1);
    assert_int_equal(s.verbose, 0);
    assert_int_equal(s.port, 1);
    assert_int_equal(PARSE("-vMh"), 0);
    assert_int_equal(PARSE("-v"), -1);
    assert_int_equal(s.verbose, 1);
    assert_true(s.evict_to_free);
}

static void test_extended(void **state)
{
    (void)state;
    assert_int_equal(PARSE("-o", "idle_timeout=5,hashpower=14,no_hashexpand,no_maxconns_fast"), -1);
    assert_int_equal(s.idle_timeout, 5);
    assert_int_equal(s.hashpower_init, 14);
    assert_false(s.hash_expand);
    assert_false(s.maxconns_fast);
    assert_string_equal(out_text, "");

    assert_int_equal(PARSE("-o", "admin_socket=/tmp/a.sock", "-o", "engine=slab"), -1);
    assert_string_equal(s.admin_socket, "/tmp/a.sock");
    assert_string_equal(s.engine, "slab");

    /* memcached options mcd does not implement: accepted, with a warning */
    assert_int_equal(PARSE("-o", "tail_repair_time=1,lru_crawler,modern"), -1);
    assert_non_null(strstr(out_text, "warning: -o tail_repair_time"));
    assert_non_null(strstr(out_text, "warning: -o lru_crawler"));
    assert_non_null(strstr(out_text, "warning: -o modern"));

    /* unknown, out of range or unsafe to ignore: refused */
    assert_int_equal(PARSE("-o", "bogus"), 64);
    assert_non_null(strstr(out_text, "bogus"));
    assert_int_equal(PARSE("-o", "modern,bogus=1"), 64);
    assert_int_equal(PARSE("-o", "hashpower=11"), 64);
    assert_int_equal(PARSE("-o", "hashpower=33"), 64);
    assert_int_equal(PARSE("-o", "hashpower"), 64);
    assert_int_equal(PARSE("-o", "idle_timeout=-1"), 64);
    assert_int_equal(PARSE("-o", "admin_socket="), 64);
    assert_int_equal(PARSE("-o", "engine="), 64);    /* names are checked at load */
    assert_int_equal(PARSE("-o", "ssl_chain_cert=/x"), 64);
    assert_int_equal(PARSE("-o", "proxy_config=/x"), 64);
    assert_int_equal(PARSE("-o", "fault=ERR_NO_SUCH:1"), 64);
    assert_int_equal(PARSE("-o", "fault"), 64);

    /* fault= arms the registry's injection */
    assert_int_equal(PARSE("-o", "fault=ERR_CONN_MALLOC:2"), -1);
    assert_true(err_faults_on);
    assert_false(err_inject(ERR_CONN_MALLOC));
    assert_true(err_inject(ERR_CONN_MALLOC));
    err_faults_on = false;

    /* an empty list and empty items are harmless */
    assert_int_equal(PARSE("-o", ""), -1);
    assert_int_equal(PARSE("-o", ",,"), -1);
}

static void test_listen(void **state)
{
    (void)state;
    assert_int_equal(PARSE("-l", "127.0.0.1", "-l", "::1", "--listen=10.0.0.1:11311,10.0.0.2"), -1);
    assert_int_equal(s.nlisten, 3);
    assert_string_equal(s.listen[0], "127.0.0.1");
    assert_string_equal(s.listen[1], "::1");
    assert_string_equal(s.listen[2], "10.0.0.1:11311,10.0.0.2");

    const char *args[2 * (MAX_LISTEN + 1) + 1];
    for (int i = 0; i <= MAX_LISTEN; i++) {
        args[2 * i] = "-l";
        args[2 * i + 1] = "127.0.0.1";
    }
    args[2 * MAX_LISTEN] = NULL;
    assert_int_equal(parse_v(args), -1);
    assert_int_equal(s.nlisten, MAX_LISTEN);
    args[2 * MAX_LISTEN] = "-l";
    args[2 * (MAX_LISTEN + 1)] = NULL;
    assert_int_equal(parse_v(args), 64);
}

static void test_protocol(void **state)
{
    (void)state;
    assert_int_equal(PARSE("-B", "ascii"), -1);
    assert_int_equal(s.protocol, PROTO_ASCII);
    assert_int_equal(PARSE("-B", "binary"), -1);
    assert_int_equal(s.protocol, PROTO_BINARY);
    assert_int_equal(PARSE("--protocol=auto"), -1);
    assert_int_equal(s.protocol, PROTO_AUTO);
    assert_int_equal(PARSE("-B", "ASCII"), 64);
    assert_int_equal(PARSE("-B", "negotiate"), 64);
    assert_int_equal(PARSE("-B", ""), 64);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_teardown(test_defaults, restore_output),
        cmocka_unit_test_teardown(test_memory_and_item_size, restore_output),
        cmocka_unit_test_teardown(test_unknown_and_bad_flags, restore_output),
        cmocka_unit_test_teardown(test_help_version, restore_output),
        cmocka_unit_test_teardown(test_reparse_is_fresh, restore_output),
        cmocka_unit_test_teardown(test_extended, restore_output),
        cmocka_unit_test_teardown(test_listen, restore_output),
        cmocka_unit_test_teardown(test_protocol, restore_output),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
