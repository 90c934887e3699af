/*
 * watch.c - a top-like live view of the server's rates.
 *
 * Every SECONDS it reads `stats` and `errors` and shows what changed since
 * the previous read, divided by the time between them on our monotonic
 * clock: gets/s, sets/s, the hit ratio over the interval, evictions/s,
 * bytes in and out, connections, and errors/s for each site that fired.
 * On a terminal a key press stops it; otherwise (or with --count N) it
 * stops after N refreshes. With --json each refresh is one JSON line.
 */
#include "mcadmin.h"

#include <errno.h>
#include <math.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

#define WATCH_DEFAULT_COUNT 5   /* refreshes when no key can stop us */

struct sample {
    json_t *stats;      /* the stats object */
    json_t *sites;      /* the errors' sites array */
    double at;          /* our monotonic clock, seconds */
};

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sample_clear(struct sample *s)
{
    json_decref(s->stats);
    json_decref(s->sites);
    s->stats = s->sites = NULL;
}

static int sample_take(struct ctx *x, struct sample *s)
{
    json_t *r1 = NULL, *r2 = NULL;
    char err[512] = "";
    int rc = cl_call(x->cl, "stats", &r1, err, sizeof(err));
    if (rc == EXIT_OK)
        rc = cl_call(x->cl, "errors", &r2, err, sizeof(err));
    if (rc != EXIT_OK) {
        rc = view_fail(x, rc, r2 ? r2 : r1, err);
        json_decref(r1);
        json_decref(r2);
        return rc;
    }
    s->at = mono();
    s->stats = json_incref((json_t *)jx_path(r1, "data.stats"));
    s->sites = json_incref((json_t *)jx_path(r2, "data.sites"));
    json_decref(r1);
    json_decref(r2);
    return EXIT_OK;
}

static double delta(const struct sample *a, const struct sample *b, const char *name)
{
    return jx_num(b->stats, name, 0) - jx_num(a->stats, name, 0);
}

/* One refresh's numbers as JSON; rendered as text or printed as is. */
static json_t *frame(const struct sample *a, const struct sample *b)
{
    double dt = b->at - a->at;
    if (dt <= 0)
        dt = 1e-9;
    double gets = delta(a, b, "cmd_get"), hits = delta(a, b, "get_hits");
    json_t *errs = json_array();
    size_t i;
    const json_t *s;
    json_array_foreach(b->sites, i, s) {
        long long code = jx_int(s, "code", 0), before = 0;
        size_t j;
        const json_t *p;
        json_array_foreach(a->sites, j, p)
            if (jx_int(p, "code", -1) == code)
                before = jx_int(p, "count", 0);
        long long d = jx_int(s, "count", 0) - before;
        if (d > 0)
            json_array_append_new(errs, json_pack("{s:I, s:s, s:f, s:I}", "code",
                (json_int_t)code, "name", jx_str(s, "name", "?"), "per_sec", (double)d / dt,
                "total", (json_int_t)jx_int(s, "count", 0)));
    }
    return json_pack("{s:f, s:f, s:f, s:o, s:f, s:f, s:f, s:I, s:I, s:I, s:I, s:I, s:o}",
        "interval_secs", dt,
        "gets_per_sec", gets / dt, "sets_per_sec", delta(a, b, "cmd_set") / dt,
        "hit_ratio", gets > 0 ? json_real(hits / gets) : json_null(),
        "evictions_per_sec", delta(a, b, "evictions") / dt,
        "bytes_read_per_sec", delta(a, b, "bytes_read") / dt,
        "bytes_written_per_sec", delta(a, b, "bytes_written") / dt,
        "curr_connections", (json_int_t)jx_int(b->stats, "curr_connections", 0),
        "max_connections", (json_int_t)jx_int(b->stats, "max_connections", 0),
        "curr_items", (json_int_t)jx_int(b->stats, "curr_items", 0),
        "bytes", (json_int_t)jx_int(b->stats, "bytes", 0),
        "limit_maxbytes", (json_int_t)jx_int(b->stats, "limit_maxbytes", 0),
        "errors", errs);
}

static void render(struct ctx *x, const json_t *f, double every, bool keys, bool clear)
{
    FILE *o = x->out;
    char b[8][32];
    const json_t *id = cl_identity(x->cl);
    if (clear)
        fputs("\033[H\033[2J", o);
    fprintf(o, "%smcd %s pid %lld%s  up %s  every %s%s\n", C_BOLD, jx_str(id, "version", "?"),
            jx_int(id, "pid", 0), C_RESET, fmt_duration((double)cl_uptime(x->cl), b[0]),
            fmt_duration(every, b[1]), keys ? "  (press any key to stop)" : "");
    const json_t *hr = jx_get(f, "hit_ratio");
    char ratio[32] = "-";
    if (jx_isnum(hr))
        snprintf(ratio, sizeof(ratio), "%.1f%%", 100 * jx_val(hr));
    fprintf(o, "gets/s %-10s sets/s %-10s hit ratio %-8s evictions/s %s\n",
            fmt_rate(jx_num(f, "gets_per_sec", 0), b[2]),
            fmt_rate(jx_num(f, "sets_per_sec", 0), b[3]), ratio,
            fmt_rate(jx_num(f, "evictions_per_sec", 0), b[4]));
    fprintf(o, "connections %lld of %lld   items %lld   memory %s of %s\n",
            jx_int(f, "curr_connections", 0), jx_int(f, "max_connections", 0),
            jx_int(f, "curr_items", 0), fmt_bytes(jx_num(f, "bytes", 0), b[5]),
            fmt_bytes(jx_num(f, "limit_maxbytes", 0), b[6]));
    fprintf(o, "read %s/s   written ", fmt_bytes(jx_num(f, "bytes_read_per_sec", 0), b[7]));
    fprintf(o, "%s/s\n", fmt_bytes(jx_num(f, "bytes_written_per_sec", 0), b[7]));
    const json_t *errs = jx_get(f, "errors");
    if (json_array_size(errs) == 0) {
        fprintf(o, "errors/s: none\n");
    } else {
        fprintf(o, "errors/s by site:\n");
        size_t i;
        const json_t *e;
        json_array_foreach(errs, i, e)
            fprintf(o, "  %sE%lld %-32s%s %s  (total %lld)\n", C_RED, jx_int(e, "code", 0),
                    jx_str(e, "name", "?"), C_RESET, fmt_rate(jx_num(e, "per_sec", 0), b[0]),
                    jx_int(e, "total", 0));
    }
    fflush(o);
}

/* Waits up to secs; true when a key was pressed (its bytes are eaten). */
static bool wait_key(double secs, bool keys)
{
    double end = mono() + secs;
    for (;;) {
        double left = end - mono();
        if (left <= 0)
            return false;
        if (!keys) {
            struct timespec ts = { (time_t)left, (long)((left - floor(left)) * 1e9) };
            nanosleep(&ts, NULL);
            continue;
        }
        struct pollfd pf = { .fd = STDIN_FILENO, .events = POLLIN };
        int r = poll(&pf, 1, (int)(left * 1000) + 1);
        if (r > 0) {
            char buf[64];
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            (void)n;    /* a key, or the terminal went away: stop either way */
            return true;
        }
        if (r < 0 && errno != EINTR)
            return true;
    }
}

int watch_run(struct ctx *x, int argc, char **argv)
{
    double every = 2;
    long count = 0;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (strcmp(argv[i], "--count") == 0 && i + 1 < argc) {
            count = strtol(argv[++i], &end, 10);
            if (*end || count <= 0)
                goto usage;
        } else {
            every = strtod(argv[i], &end);
            if (*end || !(every >= 0.1 && every <= 3600))
                goto usage;
        }
    }
    bool keys = isatty(STDIN_FILENO);
    if (!keys && count == 0)
        count = WATCH_DEFAULT_COUNT;
    bool clear = !x->json && isatty(STDOUT_FILENO);
    struct termios saved, raw;
    if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    } else {
        keys = false;
    }
    struct sample prev = { 0 }, cur = { 0 };
    int rc = sample_take(x, &prev);
    if (rc == EXIT_OK && !x->json) {
        if (clear)
            fputs("\033[H\033[2J", x->out);
        fprintf(x->out, "watching every %gs; first rates in %gs%s\n", every, every,
                keys ? " (press any key to stop)" : "");
        fflush(x->out);
    }
    for (long n = 0; rc == EXIT_OK && (count == 0 || n < count); n++) {
        if (wait_key(every, keys))
            break;
        if ((rc = sample_take(x, &cur)) != EXIT_OK)
            break;
        json_t *f = frame(&prev, &cur);
        if (x->json) {
            json_dumpf(f, x->out, JSON_COMPACT);
            fputc('\n', x->out);
            fflush(x->out);
        } else {
            if (n > 0 && !clear)
                fputc('\n', x->out);
            render(x, f, every, keys, clear);
        }
        json_decref(f);
        sample_clear(&prev);
        prev = cur;
        cur = (struct sample){ 0 };
    }
    sample_clear(&prev);
    sample_clear(&cur);
    if (keys)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    return rc;
usage:
    fprintf(stderr, "usage: watch [SECONDS] [--count N]  (SECONDS from 0.1 to 3600)\n");
    return EXIT_USAGE;
}
