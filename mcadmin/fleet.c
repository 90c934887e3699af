/*
 * fleet.c - several servers at once (issue 11): `-s` given more than once,
 * or `--fleet FILE` with one socket path or HOST:PORT per line.
 *
 *   stats    one column per server; a key metric that is far from the
 *            fleet's median is marked, so the odd server stands out
 *   capture  one snapshot file per server (named by its identity), or one
 *            bundle with --bundle FILE
 *   diff     A B as bundles, directories of per-server snapshots or
 *            `live`: each server's before/after, matched by its socket
 *   others   doctor and the read-only views run once per server, under a
 *            header (with --json: one document listing each server's)
 *
 * A server that cannot be reached is reported and skipped; the others are
 * still shown, and the exit status is 3.
 */
#include "mcadmin.h"

#include <ctype.h>
#include <dirent.h>
#include <errno.h>
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define FLEET_MAX 64

struct fleet {
    char *spec[FLEET_MAX];
    struct client *cl[FLEET_MAX];
    int n;
};

struct fleet *fleet_new(void)
{
    return calloc(1, sizeof(struct fleet));
}

void fleet_free(struct fleet *f)
{
    if (!f)
        return;
    for (int i = 0; i < f->n; i++) {
        free(f->spec[i]);
        cl_free(f->cl[i]);
    }
    free(f);
}

int fleet_size(const struct fleet *f) { return f ? f->n : 0; }
const char *fleet_spec(const struct fleet *f, int i) { return f->spec[i]; }

int fleet_add(struct fleet *f, const char *spec)
{
    for (int i = 0; i < f->n; i++)
        if (strcmp(f->spec[i], spec) == 0)
            return EXIT_OK;     /* the same server twice is one server */
    if (f->n == FLEET_MAX) {
        fprintf(stderr, "mcadmin: at most %d servers in a fleet\n", FLEET_MAX);
        return EXIT_USAGE;
    }
    f->spec[f->n] = strdup(spec);
    f->cl[f->n] = cl_new(spec);
    f->n++;
    return EXIT_OK;
}

int fleet_load(struct fleet *f, const char *path, char *err, size_t errlen)
{
    FILE *in = fopen(path, "r");
    if (!in) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return EXIT_USAGE;
    }
    char line[4096];
    int rc = EXIT_OK, added = 0;
    while (rc == EXIT_OK && fgets(line, sizeof(line), in)) {
        *strchrnul(line, '#') = '\0';
        char *s = line + strspn(line, " \t\r\n");
        size_t n = strcspn(s, " \t\r\n");
        if (n == 0)
            continue;
        s[n] = '\0';
        rc = fleet_add(f, s);
        added++;
    }
    fclose(in);
    if (rc == EXIT_OK && added == 0) {
        snprintf(err, errlen, "%s: no server in the fleet file", path);
        rc = EXIT_USAGE;
    }
    return rc;
}

/* A name for files: the source with every odd character made '_'. */
static void ident_of(const char *spec, const json_t *server, char *buf, size_t len)
{
    char src[200];
    size_t j = 0;
    for (const char *p = spec; *p && j < sizeof(src) - 1; p++) {
        char ch = isalnum((unsigned char)*p) || *p == '.' || *p == '-' ? *p : '_';
        if (ch == '_' && (j == 0 || src[j - 1] == '_'))
            continue;
        src[j++] = ch;
    }
    src[j] = '\0';
    snprintf(buf, len, "%s-pid%lld", src, jx_int(server, "pid", 0));
}

static int worse(int a, int b)
{
    if (a == EXIT_CONNECT || b == EXIT_CONNECT)
        return EXIT_CONNECT;
    return a > b ? a : b;
}

/* --- stats ---------------------------------------------------------------- */

/* Key metrics and how far from the median counts as different: more than
 * rel times the median and more than abs (so that idle servers with tiny
 * numbers are not flagged for noise). */
static const struct key_metric {
    const char *name, *label;
    double rel, abs;
    char unit;          /* '%' ratio, 'r' rate, 'b' bytes, 'n' number */
} key_metrics[] = {
    { "hit_ratio", "hit ratio", 0, 0.10, '%' },
    { "gets_per_sec", "gets/s since start", 0.5, 1, 'r' },
    { "sets_per_sec", "sets/s since start", 0.5, 1, 'r' },
    { "evictions_per_sec", "evictions/s since start", 0.5, 0.1, 'r' },
    { "curr_items", "curr_items", 0.5, 100, 'n' },
    { "bytes", "bytes", 0.5, 1048576, 'b' },
    { "curr_connections", "connections", 0.5, 5, 'n' },
    { "rejected_connections", "rejected connections", 0.5, 1, 'n' },
};
#define NKEY (int)(sizeof(key_metrics) / sizeof(key_metrics[0]))

static json_t *key_values(const json_t *st)
{
    double up = jx_num(st, "uptime", 0), gets = jx_num(st, "cmd_get", 0);
    if (up <= 0)
        up = 1;
    return json_pack("{s:f, s:o, s:f, s:f, s:f, s:f, s:f, s:f, s:f}", "uptime", up,
        "hit_ratio", gets > 0 ? json_real(jx_num(st, "get_hits", 0) / gets) : json_null(),
        "gets_per_sec", gets / up, "sets_per_sec", jx_num(st, "cmd_set", 0) / up,
        "evictions_per_sec", jx_num(st, "evictions", 0) / up,
        "curr_items", jx_num(st, "curr_items", 0), "bytes", jx_num(st, "bytes", 0),
        "curr_connections", jx_num(st, "curr_connections", 0),
        "rejected_connections", jx_num(st, "rejected_connections", 0));
}

static int cmp_double(const void *a, const void *b)
{
    double x = *(const double *)a, y = *(const double *)b;
    return x < y ? -1 : x > y;
}

/* A rate since start says little about a server up for seconds. */
#define FLEET_RATE_MIN_UPTIME 60

static bool comparable(const struct key_metric *m, const json_t *key)
{
    return jx_isnum(jx_get(key, m->name)) &&
           (m->unit != 'r' || jx_num(key, "uptime", 0) >= FLEET_RATE_MIN_UPTIME);
}

static bool is_outlier(const struct key_metric *m, double v, double med)
{
    double d = fabs(v - med);
    return d > m->abs && d > m->rel * fabs(med);
}

static const char *key_text(const struct key_metric *m, const json_t *v, char *buf)
{
    if (!jx_isnum(v))
        return "-";
    double x = jx_val(v);
    switch (m->unit) {
    case '%': snprintf(buf, 32, "%.1f%%", 100 * x); return buf;
    case 'r': return fmt_rate(x, buf);
    case 'b': return fmt_bytes(x, buf);
    }
    return fmt_num(x, buf);
}

/* Adds "metrics" (per metric: values, median, outliers) and "outliers"
 * (per server: the metrics it is flagged for) to out. */
static void flag_outliers(json_t *out, const json_t *servers)
{
    json_t *metrics = json_array(), *flagged = json_object();
    for (int k = 0; k < NKEY; k++) {
        const struct key_metric *m = &key_metrics[k];
        double vals[FLEET_MAX];
        int n = 0;
        size_t i;
        const json_t *s;
        json_array_foreach(servers, i, s)
            if (comparable(m, jx_get(s, "key")))
                vals[n++] = jx_num(jx_get(s, "key"), m->name, 0);
        qsort(vals, (size_t)n, sizeof(double), cmp_double);
        double med = n == 0 ? 0 : n % 2 ? vals[n / 2] : (vals[n / 2 - 1] + vals[n / 2]) / 2;
        json_t *outl = json_array();
        json_array_foreach(servers, i, s) {
            const json_t *v = jx_get(jx_get(s, "key"), m->name);
            if (n < 2 || !comparable(m, jx_get(s, "key")) || !is_outlier(m, jx_val(v), med))
                continue;
            const char *src = jx_str(s, "source", "?");
            json_array_append_new(outl, json_string(src));
            json_t *list = json_object_get(flagged, src);
            if (!list)
                json_object_set_new(flagged, src, list = json_array());
            json_array_append_new(list, json_string(m->name));
        }
        json_array_append_new(metrics, json_pack("{s:s, s:o, s:o}", "name", m->name,
            "median", n ? json_real(med) : json_null(), "outliers", outl));
    }
    json_object_set_new(out, "metrics", metrics);
    json_object_set_new(out, "outliers", flagged);
}

static bool flagged_for(const json_t *out, const char *src, const char *metric)
{
    size_t i;
    const json_t *v;
    json_array_foreach(jx_get(jx_get(out, "outliers"), src), i, v)
        if (strcmp(json_string_value(v), metric) == 0)
            return true;
    return false;
}

static void print_fleet_stats(struct ctx *x, const json_t *out)
{
    const json_t *servers = jx_get(out, "servers"), *s;
    size_t ns = json_array_size(servers), i;
    char b[32], vb[64];
    /* Columns: name, one per server (at most 12 shown side by side), median. */
    const char *h[14] = { "" };
    size_t shown = ns < 12 ? ns : 12;
    for (i = 0; i < shown; i++)
        h[i + 1] = jx_str(json_array_get(servers, i), "source", "?");
    h[shown + 1] = "median";
    struct table *t = tbl_new((int)shown + 2, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7],
                              h[8], h[9], h[10], h[11], h[12], h[13]);
    tbl_addf(t, 0, "server");
    for (i = 0; i < shown; i++) {
        s = json_array_get(servers, i);
        if (json_is_true(jx_get(s, "reachable")))
            tbl_addf(t, (int)i + 1, "pid %lld", jx_int(jx_get(s, "server"), "pid", 0));
        else
            tbl_addf(t, (int)i + 1, "%sunreachable%s", C_RED, C_RESET);
    }
    for (int k = 0; k < NKEY; k++) {
        const struct key_metric *m = &key_metrics[k];
        tbl_addf(t, 0, "%s", m->label);
        for (i = 0; i < shown; i++) {
            s = json_array_get(servers, i);
            const char *src = jx_str(s, "source", "?");
            if (!json_is_true(jx_get(s, "reachable")))
                continue;
            const char *txt = key_text(m, jx_get(jx_get(s, "key"), m->name), b);
            if (flagged_for(out, src, m->name))
                tbl_addf(t, (int)i + 1, "%s%s *%s", C_RED, txt, C_RESET);
            else
                tbl_addf(t, (int)i + 1, "%s", txt);
        }
        const json_t *mm = json_array_get(jx_get(out, "metrics"), (size_t)k);
        tbl_addf(t, (int)shown + 1, "%s", key_text(m, jx_get(mm, "median"), b));
    }
    tbl_print(t, x->out, "");
    tbl_free(t);
    const char *src;
    json_t *list, *v;
    if (json_object_size(jx_get(out, "outliers")) == 0)
        fprintf(x->out, "\nNo server differs much from the fleet's median.\n");
    else
        fprintf(x->out, "\n* far from the fleet's median:\n");
    json_object_foreach((json_t *)jx_get(out, "outliers"), src, list) {
        fprintf(x->out, "  %s%s%s:", C_RED, src, C_RESET);
        json_array_foreach(list, i, v)
            fprintf(x->out, "%s %s", i ? "," : "", json_string_value(v));
        fputc('\n', x->out);
    }
    if (ns > shown)
        fprintf(x->out, "(%zu more servers in --json)\n", ns - shown);
    json_array_foreach(servers, i, s)
        if (json_is_true(jx_get(s, "reachable")) &&
            jx_num(jx_get(s, "key"), "uptime", 0) < FLEET_RATE_MIN_UPTIME) {
            fprintf(x->out, "(rates since start are compared only for servers up %d s or "
                    "more)\n", FLEET_RATE_MIN_UPTIME);
            break;
        }

    /* Every stat, side by side. */
    fputc('\n', x->out);
    t = tbl_new((int)shown + 1, "stat", h[1], h[2], h[3], h[4], h[5], h[6], h[7], h[8], h[9],
                h[10], h[11], h[12]);
    const json_t *first = NULL;
    json_array_foreach(servers, i, s)
        if (!first && jx_get(s, "stats"))
            first = jx_get(s, "stats");
    const char *name;
    json_object_foreach((json_t *)first, name, v) {
        tbl_addf(t, 0, "%s", name);
        for (i = 0; i < shown; i++) {
            const json_t *sv = jx_get(jx_get(json_array_get(servers, i), "stats"), name);
            if (sv)
                tbl_addf(t, (int)i + 1, "%s", jx_text(sv, vb, sizeof(vb)));
        }
    }
    if (first)
        tbl_print(t, x->out, "");
    tbl_free(t);
}

static int fleet_stats(struct fleet *f, struct ctx *x)
{
    int rc = EXIT_OK;
    json_t *servers = json_array();
    for (int i = 0; i < f->n; i++) {
        json_t *reply = NULL;
        char err[512] = "";
        int r = cl_call(f->cl[i], "stats", &reply, err, sizeof(err));
        if (r != EXIT_OK) {
            const json_t *e = jx_get(reply, "error");
            fprintf(stderr, "mcadmin: %s: %s\n", f->spec[i],
                    e ? jx_str(e, "message", "error") : err);
            json_array_append_new(servers, json_pack("{s:s, s:b, s:s}", "source", f->spec[i],
                "reachable", 0, "error", e ? jx_str(e, "message", "error") : err));
            rc = worse(rc, r);
        } else {
            const json_t *st = jx_path(reply, "data.stats");
            json_array_append_new(servers, json_pack("{s:s, s:b, s:O, s:o, s:O}", "source",
                f->spec[i], "reachable", 1, "server", jx_get(reply, "server"),
                "key", key_values(st), "stats", st));
        }
        json_decref(reply);
    }
    json_t *out = json_pack("{s:o}", "servers", servers);
    flag_outliers(out, servers);
    if (x->json)
        jx_print_pretty(out, x->out);
    else
        print_fleet_stats(x, out);
    json_decref(out);
    return rc;
}

/* --- capture --------------------------------------------------------------- */

static int fleet_capture(struct fleet *f, struct ctx *x, int argc, char **argv)
{
    const char *bundle = NULL, *dir = ".";
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--bundle") == 0 && i + 1 < argc)
            bundle = argv[++i];
        else if (argv[i][0] != '-' && !strcmp(dir, "."))
            dir = argv[i];
        else {
            fprintf(stderr, "usage: capture [DIR] | capture --bundle FILE  (with several servers)\n");
            return EXIT_USAGE;
        }
    }
    struct stat st;
    if (!bundle && (stat(dir, &st) != 0 || !S_ISDIR(st.st_mode))) {
        fprintf(stderr, "mcadmin: %s is not a directory (with several servers, capture "
                "writes one file per server into DIR, or --bundle FILE)\n", dir);
        return EXIT_USAGE;
    }
    int rc = EXIT_OK;
    json_t *list = json_array();
    char stamp[64];
    snap_default_name("", stamp, sizeof(stamp));        /* "-YYYYmmdd-HHMMSS.json" */
    stamp[strlen(stamp) - 5] = '\0';
    for (int i = 0; i < f->n; i++) {
        json_t *doc = NULL;
        char err[512] = "", ident[256], path[4096];
        int r = snap_capture(f->cl[i], &doc, err, sizeof(err));
        if (r != EXIT_OK) {
            fprintf(stderr, "mcadmin: %s: %s\n", f->spec[i], err);
            json_array_append_new(list, json_pack("{s:s, s:s}", "source", f->spec[i],
                                                  "error", err));
            rc = worse(rc, r);
            continue;
        }
        if (bundle) {
            json_array_append_new(list, json_pack("{s:s, s:o}", "source", f->spec[i],
                                                  "snapshot", doc));
            continue;
        }
        ident_of(f->spec[i], jx_get(doc, "server"), ident, sizeof(ident));
        snprintf(path, sizeof(path), "%s/mcd-snapshot%s-%s.json", dir, stamp, ident);
        r = snap_save(doc, path, err, sizeof(err));
        if (r != EXIT_OK) {
            fprintf(stderr, "mcadmin: %s\n", err);
            rc = worse(rc, r);
        } else {
            json_array_append_new(list, json_pack("{s:s, s:s}", "source", f->spec[i],
                                                  "file", path));
            if (!x->json)
                fprintf(x->out, "captured %s: %s\n", f->spec[i], path);
        }
        json_decref(doc);
    }
    if (bundle) {
        json_t *b = json_pack("{s:i, s:s, s:I, s:O}", "mcadmin_fleet", 1, "mcadmin_version",
                              MCADMIN_VERSION, "captured_at", (json_int_t)time(NULL),
                              "servers", list);
        char err[512];
        int r = snap_save(b, bundle, err, sizeof(err));
        if (r != EXIT_OK)
            fprintf(stderr, "mcadmin: %s\n", err);
        else if (!x->json)
            fprintf(x->out, "captured %d servers into %s\n", f->n, bundle);
        rc = worse(rc, r);
        json_decref(b);
    }
    if (x->json) {
        size_t i;
        json_t *e;
        json_array_foreach(list, i, e)
            json_object_del(e, "snapshot");
        jx_print_pretty(list, x->out);
    }
    json_decref(list);
    return rc;
}

/* --- diff ------------------------------------------------------------------ */

/* Adds a validated snapshot to side (source -> doc), newest wins. */
static void side_put(json_t *side, json_t *doc)
{
    const char *src = jx_str(doc, "source_socket", "?");
    const json_t *old = jx_get(side, src);
    if (!old || jx_int(old, "captured_at", 0) <= jx_int(doc, "captured_at", 0))
        json_object_set(side, src, doc);
}

/* One side of a fleet diff: `live`, a directory, a bundle or a snapshot. */
static json_t *load_side(struct fleet *f, struct ctx *x, const char *arg, int *rc)
{
    json_t *side = json_object();
    char err[1024] = "";
    struct stat st;
    if (strcmp(arg, "live") == 0) {
        struct client *one[1] = { x->cl };
        struct client **cls = f ? f->cl : one;
        for (int i = 0; i < (f ? f->n : 1); i++) {
            json_t *doc = NULL;
            int r = snap_capture(cls[i], &doc, err, sizeof(err));
            if (r != EXIT_OK) {
                fprintf(stderr, "mcadmin: %s: %s\n", cl_path(cls[i]), err);
                *rc = worse(*rc, r);
                continue;
            }
            side_put(side, doc);
            json_decref(doc);
        }
    } else if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode)) {
        DIR *d = opendir(arg);
        struct dirent *e;
        while (d && (e = readdir(d))) {
            size_t l = strlen(e->d_name);
            char path[4096];
            if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0)
                continue;
            snprintf(path, sizeof(path), "%s/%s", arg, e->d_name);
            json_t *doc = snap_load_file(path, err, sizeof(err));
            if (doc)
                side_put(side, doc);
            json_decref(doc);
        }
        if (d)
            closedir(d);
        if (json_object_size(side) == 0) {
            fprintf(stderr, "mcadmin: %s: no snapshot files in this directory\n", arg);
            *rc = worse(*rc, EXIT_CMD);
        }
    } else {
        json_error_t je;
        json_t *doc = json_load_file(arg, 0, &je);
        if (doc && jx_get(doc, "mcadmin_fleet")) {
            size_t i;
            const json_t *s;
            json_array_foreach(jx_get(doc, "servers"), i, s) {
                const json_t *snap = jx_get(s, "snapshot");
                if (snap && snap_validate(snap, err, sizeof(err)) == 0)
                    side_put(side, (json_t *)snap);
                else if (snap)
                    fprintf(stderr, "mcadmin: %s: %s: %s\n", arg, jx_str(s, "source", "?"), err);
            }
        } else {
            json_t *one = snap_load_file(arg, err, sizeof(err));
            if (one)
                side_put(side, one);
            else
                fprintf(stderr, "mcadmin: %s\n", err);
            *rc = one ? *rc : worse(*rc, EXIT_CMD);
            json_decref(one);
        }
        json_decref(doc);
    }
    return side;
}

static double counter_rate(const json_t *d, const char *name)
{
    size_t i;
    const json_t *c;
    json_array_foreach(jx_get(d, "counters"), i, c)
        if (strcmp(jx_str(c, "name", ""), name) == 0)
            return jx_num(c, "rate", 0);
    return 0;
}

static double counter_delta(const json_t *d, const char *name)
{
    size_t i;
    const json_t *c;
    json_array_foreach(jx_get(d, "counters"), i, c)
        if (strcmp(jx_str(c, "name", ""), name) == 0)
            return jx_num(c, "delta", 0);
    return 0;
}

static int cmp_source(const void *a, const void *b)
{
    return strcmp(jx_str(*(json_t *const *)a, "source", ""),
                  jx_str(*(json_t *const *)b, "source", ""));
}

/* Directories list in no useful order: show servers by name. */
static void sort_by_source(json_t *arr)
{
    size_t n = json_array_size(arr);
    json_t **v = malloc((n ? n : 1) * sizeof(json_t *));
    for (size_t i = 0; i < n; i++)
        v[i] = json_incref(json_array_get(arr, i));
    qsort(v, n, sizeof(json_t *), cmp_source);
    json_array_clear(arr);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, v[i]);
    free(v);
}

bool fleet_diff_wants(const char *arg)
{
    struct stat st;
    if (stat(arg, &st) == 0 && S_ISDIR(st.st_mode))
        return true;
    json_t *doc = json_load_file(arg, 0, NULL);
    bool b = doc && jx_get(doc, "mcadmin_fleet");
    json_decref(doc);
    return b;
}

int fleet_diff(struct fleet *f, struct ctx *x, int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: diff A B  (bundles, directories of snapshots, or live)\n");
        return EXIT_USAGE;
    }
    int rc = EXIT_OK;
    json_t *a = load_side(f, x, argv[1], &rc);
    json_t *b = load_side(f, x, argv[2], &rc);
    json_t *servers = json_array(), *missing = json_array();
    const char *src;
    json_t *da, *db;
    json_object_foreach(a, src, da) {
        db = json_object_get(b, src);
        if (!db) {
            json_array_append_new(missing, json_pack("{s:s, s:s}", "source", src, "only_in",
                                                     argv[1]));
            continue;
        }
        json_array_append_new(servers, json_pack("{s:s, s:o}", "source", src, "diff",
                                                 diff_build(da, db, argv[1], argv[2])));
    }
    json_object_foreach(b, src, db)
        if (!json_object_get(a, src))
            json_array_append_new(missing, json_pack("{s:s, s:s}", "source", src, "only_in",
                                                     argv[2]));
    sort_by_source(servers);
    if (x->json) {
        json_t *o = json_pack("{s:O, s:O}", "servers", servers, "unmatched", missing);
        jx_print_pretty(o, x->out);
        json_decref(o);
        goto done;
    }
    struct table *t = tbl_new(8, "server", "interval", "gets/s", "sets/s", "hit ratio",
                              "evictions/s", "errors fired", "");
    size_t i;
    const json_t *s;
    char bb[5][32];
    json_array_foreach(servers, i, s) {
        const json_t *d = jx_get(s, "diff");
        double g = counter_delta(d, "cmd_get"), h = counter_delta(d, "get_hits");
        tbl_addf(t, 0, "%s", jx_str(s, "source", "?"));
        tbl_addf(t, 1, "%s", fmt_duration(jx_num(d, "interval_secs", 0), bb[0]));
        tbl_addf(t, 2, "%s", fmt_rate(counter_rate(d, "cmd_get"), bb[1]));
        tbl_addf(t, 3, "%s", fmt_rate(counter_rate(d, "cmd_set"), bb[2]));
        tbl_addf(t, 4, g > 0 ? "%.1f%%" : "-", g > 0 ? 100 * h / g : 0);
        tbl_addf(t, 5, "%s", fmt_rate(counter_rate(d, "evictions"), bb[3]));
        tbl_addf(t, 6, "%zu", json_array_size(jx_get(d, "errors_fired")));
        tbl_addf(t, 7, "%s", json_is_true(jx_get(d, "server_restarted")) ? "RESTARTED" : "");
    }
    tbl_print(t, x->out, "");
    tbl_free(t);
    json_array_foreach(missing, i, s)
        fprintf(x->out, "%s: only in %s, not compared\n", jx_str(s, "source", "?"),
                jx_str(s, "only_in", "?"));
    json_array_foreach(servers, i, s) {
        fprintf(x->out, "\n%s== %s ==%s\n", C_BOLD, jx_str(s, "source", "?"), C_RESET);
        diff_print(jx_get(s, "diff"), x->out);
    }
done:
    if (json_array_size(servers) == 0 && rc == EXIT_OK)
        rc = EXIT_CMD;          /* nothing could be compared */
    json_decref(servers);
    json_decref(missing);
    json_decref(a);
    json_decref(b);
    return rc;
}

/* --- the rest: once per server --------------------------------------------- */

/* Commands that make sense run on each server in turn: they only read. */
static bool per_server(const char *name)
{
    static const char *const ok[] = { "doctor", "errors", "latency", "commands", "memory",
        "threads", "slowlog", "hotkeys", "history", "settings", "slabs", "lru", "conns",
        "hash", "locked", "prefixes", "metrics", NULL };
    for (int i = 0; ok[i]; i++)
        if (strcmp(ok[i], name) == 0)
            return true;
    return false;
}

/* True when doctor needs no server: it names input files (an operand that
 * is no option's value), or asks for the rule list. */
static bool names_files(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        if (strcmp(argv[i], "--rules") == 0)
            return true;        /* the rule list is the same for every server */
        if (argv[i][0] == '-') {
            if (!strchr(argv[i], '='))
                i++;            /* --interval S, --recent S, --baseline FILE */
            continue;
        }
        return true;
    }
    return false;
}

static int each_server(struct fleet *f, struct ctx *x, int argc, char **argv)
{
    int rc = EXIT_OK;
    struct client *own = x->cl;
    FILE *out = x->out;
    json_t *all = json_array();
    for (int i = 0; i < f->n; i++) {
        char *buf = NULL;
        size_t len = 0;
        x->cl = f->cl[i];
        if (x->json)
            x->out = open_memstream(&buf, &len);
        else
            fprintf(out, "%s%s== %s ==%s\n", i ? "\n" : "", C_BOLD, f->spec[i], C_RESET);
        int r = cmd_run(x, argc, argv);
        if (x->json) {
            fclose(x->out);
            json_t *doc = buf ? json_loads(buf, JSON_DECODE_ANY, NULL) : NULL;
            json_array_append_new(all, json_pack("{s:s, s:i, s:o}", "source", f->spec[i],
                                                 "exit", r, "output", doc ? doc : json_null()));
            free(buf);
        }
        x->out = out;
        rc = worse(rc, r);
    }
    x->cl = own;
    if (x->json)
        jx_print_pretty(all, x->out);
    json_decref(all);
    return rc;
}

int fleet_run(struct fleet *f, struct ctx *x, int argc, char **argv)
{
    const struct cmd *c = cmd_find(argv[0]);
    if (!c || !c->run) {
        fprintf(stderr, "mcadmin: unknown command '%s' (mcadmin help lists them)\n", argv[0]);
        return EXIT_USAGE;
    }
    if (strcmp(c->name, "doctor") == 0 && names_files(argc, argv))
        return cmd_run(x, argc, argv);  /* doctor of files needs no server */
    if (!c->needs_server && strcmp(c->name, "diff") != 0 && !per_server(c->name))
        return cmd_run(x, argc, argv);
    if (strcmp(c->name, "stats") == 0)
        return fleet_stats(f, x);
    if (strcmp(c->name, "capture") == 0)
        return fleet_capture(f, x, argc, argv);
    if (strcmp(c->name, "diff") == 0)
        return fleet_diff(f, x, argc, argv);
    if (per_server(c->name))
        return each_server(f, x, argc, argv);
    fprintf(stderr, "mcadmin: '%s' works on one server at a time; with several servers use "
            "stats, capture, diff, doctor or a read-only view\n", c->name);
    return EXIT_USAGE;
}
