/*
 * report.c - one JSON bundle to attach to a bug report.
 *
 * N snapshots S seconds apart (each with a page of the item listing), the
 * diffs between consecutive ones and from first to last, the settings, the
 * server's and libevent's versions and the OS (uname). A maintainer reads
 * it with mcd's docs alone.
 *
 * --redact replaces every key (and key prefix, and the arguments of the
 * commands connections were running) with "k:" and the first 16 hex digits
 * of HMAC-SHA-256(secret, key). The secret is 32 random bytes made for this
 * report and never written anywhere, so names cannot be guessed back by
 * hashing candidates, while equal keys still map to equal hashes inside the
 * report and can be followed across samples.
 */
#include "mcadmin.h"

#include <errno.h>
#include <fcntl.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <sys/random.h>
#include <sys/utsname.h>
#include <time.h>
#include <unistd.h>

#define REPORT_MAX_SAMPLES 100

/* --- redaction ----------------------------------------------------------- */

static json_t *hashed(const char *s, size_t n, const uint8_t *secret, size_t slen)
{
    uint8_t mac[32];
    char hex[2 + 16 + 1] = "k:";
    hmac_sha256(secret, slen, s, n, mac);
    for (int i = 0; i < 8; i++)
        snprintf(hex + 2 + 2 * i, 3, "%02x", mac[i]);
    return json_string(hex);
}

/* "get a b" -> "get k:.. k:..": a command line's words after the verb may
 * all be keys (get, delete, touch); numbers are hashed too rather than
 * guessing which word is which. */
static json_t *hashed_command(const char *cmd, const uint8_t *secret, size_t slen)
{
    size_t cap = strlen(cmd) * 20 + 32, len = 0;
    char *out = malloc(cap);
    const char *p = cmd;
    bool first = true;
    while (*p) {
        size_t sp = strspn(p, " ");
        p += sp;
        size_t w = strcspn(p, " ");
        if (!w)
            break;
        if (!first)
            out[len++] = ' ';
        if (first) {
            memcpy(out + len, p, w);
            len += w;
        } else {
            json_t *h = hashed(p, w, secret, slen);
            len += (size_t)snprintf(out + len, cap - len, "%s", json_string_value(h));
            json_decref(h);
        }
        first = false;
        p += w;
    }
    out[len] = '\0';
    json_t *r = json_string(out);
    free(out);
    return r;
}

static bool is_key_member(const char *name)
{
    return !strcmp(name, "key") || !strcmp(name, "key_base64") || !strcmp(name, "prefix");
}

void report_redact(json_t *v, const uint8_t *secret, size_t slen)
{
    if (json_is_array(v)) {
        size_t i;
        json_t *e;
        json_array_foreach(v, i, e)
            report_redact(e, secret, slen);
        return;
    }
    if (!json_is_object(v))
        return;
    const char *name;
    json_t *m;
    json_object_foreach(v, name, m) {
        if (json_is_string(m) && is_key_member(name))
            json_object_set_new(v, name, hashed(json_string_value(m), json_string_length(m),
                                                secret, slen));
        else if (json_is_string(m) && !strcmp(name, "command") && json_string_length(m))
            json_object_set_new(v, name, hashed_command(json_string_value(m), secret, slen));
        else
            report_redact(m, secret, slen);
    }
}

/* --- sampling ------------------------------------------------------------ */

static int keep_row(json_t *row, void *arg)
{
    json_array_append(arg, row);
    return 0;
}

/* A snapshot plus the first `items` entries of the item listing. */
static int take_sample(struct ctx *x, long items, json_t **out, char *err, size_t errlen)
{
    json_t *doc;
    int rc = snap_capture(x->cl, &doc, err, errlen);
    if (rc != EXIT_OK)
        return rc;
    if (items > 0) {
        char line[64];
        json_t *rows = json_array(), *head = NULL, *sum = NULL;
        snprintf(line, sizeof(line), "items limit=%ld", items);
        rc = cl_stream(x->cl, line, keep_row, rows, &head, &sum, err, errlen);
        if (rc == EXIT_OK)
            json_object_set_new(doc, "items", json_pack("{s:O, s:O}", "items", rows,
                                                         "summary", sum ? sum : json_null()));
        json_decref(rows);
        json_decref(head);
        json_decref(sum);
        if (rc == EXIT_CONNECT) {
            json_decref(doc);
            return rc;
        }
        rc = EXIT_OK;   /* a refused listing (dumping disabled) still reports */
    }
    *out = doc;
    return EXIT_OK;
}

static json_t *os_info(void)
{
    struct utsname u;
    if (uname(&u) != 0)
        return json_null();
    /* No nodename: a host name is nobody's business in a shared report. */
    return json_pack("{s:s, s:s, s:s, s:s}", "sysname", u.sysname, "release", u.release,
                     "version", u.version, "machine", u.machine);
}

/*
 * The server's crash file (settings.crash_file), if one is there: a crash
 * before this run is evidence worth attaching. With --redact, the last
 * commands (which name keys) are left out.
 */
static json_t *crash_file(const char *path, bool redact)
{
    struct stat sb;
    if (!path || !*path || stat(path, &sb) != 0 || !S_ISREG(sb.st_mode))
        return NULL;
    FILE *f = fopen(path, "r");
    if (!f)
        return NULL;
    size_t cap = sb.st_size > 1048576 ? 1048576 : (size_t)sb.st_size;
    char *text = malloc(cap + 1);
    size_t n = text ? fread(text, 1, cap, f) : 0;
    fclose(f);
    if (!text)
        return NULL;
    text[n] = '\0';
    if (redact) {
        char *a = strstr(text, "last commands per worker");
        char *b = a ? strstr(a, "\nerror sites") : NULL;
        if (a && b)
            memmove(a, b + 1, strlen(b + 1) + 1);
    }
    json_t *o = json_pack("{s:s, s:I, s:s%}", "path", path, "mtime", (json_int_t)sb.st_mtime,
                          "text", text, strlen(text));
    free(text);
    return o;
}

static void fill_secret(uint8_t *secret, size_t n)
{
    size_t got = 0;
    while (got < n) {
        ssize_t r = getrandom(secret + got, n - got, 0);
        if (r < 0 && errno == EINTR)
            continue;
        if (r <= 0)
            break;
        got += (size_t)r;
    }
    if (got < n) {      /* no getrandom: /dev/urandom, else refuse weakly */
        int fd = open("/dev/urandom", O_RDONLY | O_CLOEXEC);
        if (fd >= 0) {
            ssize_t r = read(fd, secret, n);
            (void)r;
            close(fd);
        }
    }
}

static void sleep_secs(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - (double)(time_t)s) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

int report_run(struct ctx *x, int argc, char **argv)
{
    long samples = 2, items = 1000;
    double interval = 5;
    bool redact = false;
    const char *file = NULL;
    char name[4096], err[1024] = "";
    for (int i = 1; i < argc; i++) {
        char *end = NULL;
        const char *a = argv[i];
        bool has_val = i + 1 < argc;
        if (!strcmp(a, "--redact"))
            redact = true;
        else if (!strcmp(a, "--samples") && has_val)
            samples = strtol(argv[++i], &end, 10);
        else if (!strcmp(a, "--interval") && has_val)
            interval = strtod(argv[++i], &end);
        else if (!strcmp(a, "--items") && has_val)
            items = strtol(argv[++i], &end, 10);
        else if (!strcmp(a, "-o") && has_val)
            file = argv[++i];
        else
            goto usage;
        if (end && *end)
            goto usage;
    }
    if (samples < 1 || samples > REPORT_MAX_SAMPLES || !(interval >= 0 && interval <= 3600) ||
        items < 0)
        goto usage;
    if (!file)
        file = snap_default_name("mcd-report", name, sizeof(name));

    json_t *list = json_array(), *diffs = json_array();
    int rc = EXIT_OK;
    for (long i = 0; i < samples && rc == EXIT_OK; i++) {
        if (i > 0)
            sleep_secs(interval);
        if (!x->json && isatty(STDERR_FILENO))
            fprintf(stderr, "\rsample %ld of %ld...", i + 1, samples);
        json_t *s = NULL;
        rc = take_sample(x, items, &s, err, sizeof(err));
        if (rc == EXIT_OK)
            json_array_append_new(list, s);
    }
    if (!x->json && isatty(STDERR_FILENO))
        fputc('\n', stderr);
    if (rc != EXIT_OK) {
        json_decref(list);
        json_decref(diffs);
        return view_fail(x, rc, NULL, err);
    }
    for (size_t i = 0; i + 1 < json_array_size(list); i++) {
        char na[32], nb[32];
        snprintf(na, sizeof(na), "sample %zu", i);
        snprintf(nb, sizeof(nb), "sample %zu", i + 1);
        json_array_append_new(diffs, diff_build(json_array_get(list, i),
                                                json_array_get(list, i + 1), na, nb));
    }
    const json_t *last = json_array_get(list, json_array_size(list) - 1);
    const json_t *st = jx_get(snap_section(last, "stats"), "stats");
    json_t *bundle = json_pack("{s:i, s:s, s:I, s:s, s:O, s:s, s:s, s:o, s:O, s:b}",
        "mcadmin_report", MCADMIN_REPORT_FORMAT, "mcadmin_version", MCADMIN_VERSION,
        "created_at", (json_int_t)time(NULL), "source_socket", cl_path(x->cl),
        "server", jx_get(last, "server"),
        "server_version", jx_str(st, "version", "?"), "libevent", jx_str(st, "libevent", "?"),
        "os", os_info(),
        "settings", jx_get(snap_section(last, "settings"), "settings")
                        ? jx_get(snap_section(last, "settings"), "settings") : json_null(),
        "redacted", redact);
    json_object_set_new(bundle, "samples", list);
    json_object_set_new(bundle, "diffs", diffs);
    if (json_array_size(list) > 2)
        json_object_set_new(bundle, "first_to_last", diff_build(json_array_get(list, 0), last,
                                                                "first sample", "last sample"));
    json_t *crash = crash_file(jx_str(jx_get(snap_section(last, "settings"), "settings"),
                                      "crash_file", NULL), redact);
    if (crash)
        json_object_set_new(bundle, "crash_report", crash);
    if (redact) {
        uint8_t secret[32];
        fill_secret(secret, sizeof(secret));
        report_redact(bundle, secret, sizeof(secret));
        memset(secret, 0, sizeof(secret));
        json_object_set_new(bundle, "redaction", json_string(
            "every key, key prefix and command argument is \"k:\" + the first 16 hex digits "
            "of HMAC-SHA-256(per-report random secret, key); the secret was not kept"));
    }
    /* Written with the snapshot writer: a temporary file, then a rename. */
    rc = snap_save(bundle, file, err, sizeof(err));
    if (rc != EXIT_OK) {
        fprintf(stderr, "mcadmin: %s\n", err);
    } else if (x->json) {
        json_t *o = json_pack("{s:s, s:I, s:b}", "file", file, "samples",
                              (json_int_t)json_array_size(list), "redacted", redact);
        jx_print_pretty(o, x->out);
        json_decref(o);
    } else {
        fprintf(x->out, "wrote %s: %zu samples %gs apart%s; attach it to the bug report\n", file,
                json_array_size(list), interval, redact ? ", keys redacted" : "");
    }
    json_decref(bundle);
    return rc;
usage:
    fprintf(stderr, "usage: report [--samples N (1-%d)] [--interval S] [--items N] [--redact] "
            "[-o FILE]\n", REPORT_MAX_SAMPLES);
    return EXIT_USAGE;
}
