/*
 * views.c - the rest of the server's dumps as an operator reads them:
 * latency, commands, slowlog, memory, history, threads, metrics, set and
 * hotkeys. Like view.c, each prints the reply's "data" with --json.
 *
 * Times from the server come in microseconds or seconds; they are shown
 * in the unit that keeps three significant digits (fmt_usecs, fmt_duration).
 */
#include "mcadmin.h"

#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

/* --- helpers ------------------------------------------------------------- */

static const char *key_or_b64(const json_t *r, char *buf, size_t len)
{
    const char *k = jx_str(r, "key", NULL);
    if (k)
        return k;
    const char *b = jx_str(r, "key_base64", NULL);
    if (!b)
        return "";
    snprintf(buf, len, "base64:%s", b);
    return buf;
}

/* Indices of arr sorted by a numeric field, largest first. */
struct by_field {
    const json_t *arr;
    const char *field;
};
static struct by_field sort_by;

static int cmp_desc(const void *a, const void *b)
{
    double x = jx_num(json_array_get(sort_by.arr, *(const size_t *)a), sort_by.field, 0);
    double y = jx_num(json_array_get(sort_by.arr, *(const size_t *)b), sort_by.field, 0);
    return x < y ? 1 : x > y ? -1 : 0;
}

static size_t *sorted_desc(const json_t *arr, const char *field)
{
    size_t n = json_array_size(arr);
    size_t *idx = malloc((n ? n : 1) * sizeof(size_t));
    for (size_t i = 0; i < n; i++)
        idx[i] = i;
    sort_by = (struct by_field){ arr, field };
    qsort(idx, n, sizeof(size_t), cmp_desc);
    return idx;
}

/* Sends "WORD ARGS..." built from argv (argv[0] is the word). */
static void join_line(char *line, size_t len, const char *word, int argc, char **argv)
{
    snprintf(line, len, "%s", word);
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(line);
        snprintf(line + n, len - n, " %s", argv[i]);
    }
}

/* --- latency and commands ------------------------------------------------ */

/* Spikes of background work (admin latency_events), on servers that have it. */
static void latency_events(struct ctx *x)
{
    bool known;
    json_t *reply = NULL;
    char err[256], b[4][32];
    if (!cmd_server_has(x->cl, "latency_events", &known) ||
        cl_call(x->cl, "latency_events", &reply, err, sizeof(err)) != EXIT_OK) {
        json_decref(reply);
        return;
    }
    const json_t *evs = jx_path(reply, "data.events"), *e;
    size_t i;
    struct table *t = tbl_new(6, "event", "count", "latest", "max", "mean", "max at");
    json_array_foreach(evs, i, e) {
        tbl_addf(t, 0, "%s", jx_str(e, "event", "?"));
        tbl_addf(t, 1, "%lld", jx_int(e, "count", 0));
        tbl_addf(t, 2, "%s", fmt_usecs(1000 * jx_num(e, "latest_ms", -1), b[0]));
        tbl_addf(t, 3, "%s", fmt_usecs(1000 * jx_num(e, "max_ms", -1), b[1]));
        tbl_addf(t, 4, "%s", fmt_usecs(1000 * jx_num(e, "mean_ms", -1), b[2]));
        tbl_addf(t, 5, "%s", fmt_time(jx_int(e, "max_time", 0), b[3]));
    }
    if (json_array_size(evs)) {
        fprintf(x->out, "\nBackground work (latency_events):\n");
        tbl_print(t, x->out, "  ");
    }
    tbl_free(t);
    json_decref(reply);
}

int view_latency(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = view_fetch(x, "latency", &reply, &rc);
    if (!d)
        return rc;
    const json_t *cmds = jx_get(d, "commands");
    size_t *idx = sorted_desc(cmds, "count");
    struct table *t = tbl_new(8, "command", "count", "mean", "p50", "p90", "p99", "p99.9", "max");
    char b[7][32];
    for (size_t i = 0; i < json_array_size(cmds); i++) {
        const json_t *c = json_array_get(cmds, idx[i]);
        tbl_addf(t, 0, "%s", jx_str(c, "command", "?"));
        tbl_addf(t, 1, "%lld", jx_int(c, "count", 0));
        tbl_addf(t, 2, "%s", fmt_usecs(jx_num(c, "mean_us", -1), b[0]));
        tbl_addf(t, 3, "%s", fmt_usecs(jx_num(c, "p50_us", -1), b[1]));
        tbl_addf(t, 4, "%s", fmt_usecs(jx_num(c, "p90_us", -1), b[2]));
        tbl_addf(t, 5, "%s", fmt_usecs(jx_num(c, "p99_us", -1), b[3]));
        tbl_addf(t, 6, "%s", fmt_usecs(jx_num(c, "p999_us", -1), b[4]));
        double max = jx_num(c, "max_us", -1);
        tbl_addf(t, 7, "%s%s%s", max >= 10000 ? C_YELLOW : "", fmt_usecs(max, b[5]),
                 max >= 10000 ? C_RESET : "");
    }
    if (json_array_size(cmds) == 0)
        fprintf(x->out, "No command has been served yet.\n");
    else
        tbl_print(t, x->out, "");
    fprintf(x->out, "service time: %s (within 12.5%%)\n",
            jx_str(d, "measures", "as the server measures it"));
    tbl_free(t);
    free(idx);
    json_decref(reply);
    latency_events(x);
    return EXIT_OK;
}

int view_commands(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = view_fetch(x, "commands", &reply, &rc);
    if (!d)
        return rc;
    const json_t *cmds = jx_get(d, "commands");
    size_t *idx = sorted_desc(cmds, "total_us");
    double all = 0;
    size_t i;
    const json_t *c;
    json_array_foreach(cmds, i, c)
        all += jx_num(c, "total_us", 0);
    struct table *t = tbl_new(7, "command", "calls", "total time", "share", "mean",
                              "rejected", "failed");
    char b[2][32];
    for (i = 0; i < json_array_size(cmds); i++) {
        c = json_array_get(cmds, idx[i]);
        double calls = jx_num(c, "calls", 0), us = jx_num(c, "total_us", 0);
        long long failed = jx_int(c, "failed", 0), rejected = jx_int(c, "rejected", 0);
        tbl_addf(t, 0, "%s", jx_str(c, "command", "?"));
        tbl_addf(t, 1, "%.0f", calls);
        tbl_addf(t, 2, "%s", fmt_usecs(us, b[0]));
        tbl_addf(t, 3, "%.1f%%", all > 0 ? 100 * us / all : 0);
        tbl_addf(t, 4, "%s", calls > 0 ? fmt_usecs(us / calls, b[1]) : "-");
        tbl_addf(t, 5, "%s%lld%s", rejected ? C_YELLOW : "", rejected, rejected ? C_RESET : "");
        tbl_addf(t, 6, "%s%lld%s", failed ? C_RED : "", failed, failed ? C_RESET : "");
    }
    if (json_array_size(cmds) == 0)
        fprintf(x->out, "No command has been served yet.\n");
    else
        tbl_print(t, x->out, "");
    tbl_free(t);
    free(idx);
    json_decref(reply);
    return EXIT_OK;
}

/* --- slowlog ------------------------------------------------------------- */

int view_slowlog(struct ctx *x, int argc, char **argv)
{
    char line[256], b[4][32], kb[256];
    if (argc > 2 || (argc == 2 && strcmp(argv[1], "reset") != 0 &&
                     strspn(argv[1], "0123456789") != strlen(argv[1]) &&
                     strncmp(argv[1], "limit=", 6) != 0)) {
        fprintf(stderr, "usage: slowlog [N | reset]\n");
        return EXIT_USAGE;
    }
    join_line(line, sizeof(line), "slowlog", argc, argv);
    bool reset = argc == 2 && strcmp(argv[1], "reset") == 0;
    json_t *reply;
    int rc;
    const json_t *d = view_fetch(x, line, &reply, &rc);
    if (!d)
        return rc;
    if (reset) {
        fprintf(x->out, "slow log reset; %lld logged since start\n", jx_int(d, "logged_total", 0));
        json_decref(reply);
        return EXIT_OK;
    }
    const json_t *es = jx_get(d, "entries");
    struct table *t = tbl_new(7, "id", "time", "duration", "command", "key", "conn", "peer");
    size_t i;
    const json_t *e;
    json_array_foreach(es, i, e) {
        tbl_addf(t, 0, "%lld", jx_int(e, "id", 0));
        tbl_addf(t, 1, "%s", fmt_time(jx_int(e, "time", 0), b[0]));
        tbl_addf(t, 2, "%s", fmt_usecs(jx_num(e, "duration_us", -1), b[1]));
        tbl_addf(t, 3, "%s", jx_str(e, "command", "?"));
        tbl_addf(t, 4, "%s", key_or_b64(e, kb, sizeof(kb)));
        tbl_addf(t, 5, "%lld", jx_int(e, "conn_id", 0));
        tbl_addf(t, 6, "%s", jx_str(e, "peer", ""));
    }
    if (json_array_size(es))
        tbl_print(t, x->out, "");
    else
        fprintf(x->out, "The slow log is empty.\n");
    fprintf(x->out, "threshold %s; %zu shown, %lld logged since start%s\n",
            fmt_usecs(jx_num(d, "threshold_us", -1), b[2]), json_array_size(es),
            jx_int(d, "logged_total", 0),
            json_is_true(jx_get(d, "redacted")) ? "; keys redacted" : "");
    tbl_free(t);
    json_decref(reply);
    return EXIT_OK;
}

/* --- memory -------------------------------------------------------------- */

static void owner_row(struct table *t, const char *name, double bytes, double rss,
                      const char *note)
{
    char b[32];
    tbl_addf(t, 0, "%s", name);
    tbl_addf(t, 1, "%s", fmt_bytes(bytes, b));
    tbl_addf(t, 2, rss > 0 ? "%.1f%%" : "-", rss > 0 ? 100 * bytes / rss : 0);
    tbl_addf(t, 3, "%s", note ? note : "");
}

int view_memory(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = view_fetch(x, "memory", &reply, &rc);
    if (!d)
        return rc;
    bool all = argc > 1 && strcmp(argv[1], "--all") == 0;
    double rss = jx_num(d, "rss_bytes", 0), lim = jx_num(d, "limit_maxbytes", 0);
    const json_t *o = jx_get(d, "owners"), *cn = jx_get(o, "connections");
    char b[6][32], note[128];
    fprintf(x->out, "RSS %s   -m %s   accounted %s   unaccounted %s\n", fmt_bytes(rss, b[0]),
            fmt_bytes(lim, b[1]), fmt_bytes(jx_num(d, "accounted_bytes", 0), b[2]),
            fmt_bytes(jx_num(d, "unaccounted_bytes", 0), b[3]));
    struct table *t = tbl_new(4, "owner", "bytes", "of RSS", "");
    snprintf(note, sizeof(note), "%.1f%% of -m",
             lim > 0 ? 100 * jx_num(o, "item_memory", 0) / lim : 0);
    owner_row(t, "item memory", jx_num(o, "item_memory", 0), rss, note);
    owner_row(t, "hash table", jx_num(o, "hash_table", 0), rss, NULL);
    snprintf(note, sizeof(note), "%lld open; buffers %s, high water %s",
             jx_int(cn, "count", 0), fmt_bytes(jx_num(cn, "buffer_bytes", 0), b[4]),
             fmt_bytes(jx_num(cn, "buffer_high_water", 0), b[5]));
    owner_row(t, "connections", jx_num(cn, "bytes", 0), rss, note);
    owner_row(t, "thread caches", jx_num(o, "thread_caches", 0), rss, NULL);
    owner_row(t, "history", jx_num(o, "history", 0), rss, "history rings, watch queues");
    owner_row(t, "latency", jx_num(o, "latency", 0), rss, "histograms, slow log");
    owner_row(t, "unaccounted", jx_num(d, "unaccounted_bytes", 0), rss,
              "allocator, stacks, libraries");
    tbl_print(t, x->out, "");
    tbl_free(t);

    const json_t *top = jx_get(d, "top_connections"), *r;
    size_t i;
    if (json_array_size(top)) {
        fprintf(x->out, "\nLargest connections:\n");
        t = tbl_new(5, "id", "peer", "bytes", "read buffer", "pending");
        json_array_foreach(top, i, r) {
            tbl_addf(t, 0, "%lld", jx_int(r, "id", 0));
            tbl_addf(t, 1, "%s", jx_str(r, "peer", "?"));
            tbl_addf(t, 2, "%s", fmt_bytes(jx_num(r, "bytes", 0), b[0]));
            tbl_addf(t, 3, "%s", fmt_bytes(jx_num(r, "read_buffer_bytes", 0), b[1]));
            tbl_addf(t, 4, "%s", fmt_bytes(jx_num(r, "pending_bytes", 0), b[2]));
        }
        tbl_print(t, x->out, "  ");
        tbl_free(t);
    }

    /* Classes with free chunks say the most; the rest differ only by the
     * pages they could still take, which is the same for all of them. */
    fprintf(x->out, "\nHeadroom per slab class (bytes storable before an eviction):\n");
    t = tbl_new(5, "class", "chunk", "free chunks", "pages obtainable", "headroom");
    size_t hidden = 0;
    json_array_foreach(jx_get(d, "classes"), i, r) {
        if (!all && jx_int(r, "free_chunks", 0) == 0) {
            hidden++;
            continue;
        }
        bool low = jx_int(r, "pages_obtainable", 0) == 0;
        tbl_addf(t, 0, "%lld", jx_int(r, "id", 0));
        tbl_addf(t, 1, "%s", fmt_bytes(jx_num(r, "chunk_size", 0), b[0]));
        tbl_addf(t, 2, "%lld", jx_int(r, "free_chunks", 0));
        tbl_addf(t, 3, "%lld", jx_int(r, "pages_obtainable", 0));
        tbl_addf(t, 4, "%s%s%s", low ? C_YELLOW : "", fmt_bytes(jx_num(r, "headroom_bytes", 0),
                 b[1]), low ? C_RESET : "");
    }
    if (json_array_size(jx_get(d, "classes")) > hidden)
        tbl_print(t, x->out, "  ");
    tbl_free(t);
    const json_t *any = json_array_get(jx_get(d, "classes"), 0);
    if (hidden)
        fprintf(x->out, "  %zu classes without free chunks can take %lld more pages "
                "(memory --all lists them)\n", hidden, jx_int(any, "pages_obtainable", 0));
    json_decref(reply);
    return EXIT_OK;
}

/* --- history ------------------------------------------------------------- */

/* The columns each kind fills in (man mcd-admin.7, history). */
static const struct hist_cols {
    const char *kind;
    const char *cols;   /* letters: t time, k kind, w what, c class, K key, p peer,
                           n conn, s size, a age, f fetched, C code, T class_to */
} hist_cols[] = {
    { "eviction", "twcKsaf" },
    { "expiration", "tcKsaf" },
    { "error", "tCwcsnpK" },
    { "flush", "tpns" },
    { "conn", "twnpas" },
    { "reject", "tCwKscnp" },
    { "pagemove", "twcT" },
    { NULL, "tkwKpns" },        /* all, or a kind we do not know */
};

static const char *hist_header(char col, const char *kind)
{
    switch (col) {
    case 't': return "time";
    case 'k': return "kind";
    case 'w': return strcmp(kind, "conn") == 0 ? "event" : strcmp(kind, "eviction") == 0
                         ? "cause" : strcmp(kind, "pagemove") == 0 ? "reason" : "what";
    case 'c': return strcmp(kind, "pagemove") == 0 ? "from" : "class";
    case 'T': return "to";
    case 'K': return "key";
    case 'p': return "peer";
    case 'n': return "conn";
    case 's': return strcmp(kind, "flush") == 0 ? "delay" : strcmp(kind, "conn") == 0
                         ? "bytes in+out" : "size";
    case 'a': return "age";
    case 'f': return "fetched";
    case 'C': return "code";
    }
    return "?";
}

static void hist_cell(struct table *t, int i, char col, const json_t *e)
{
    char b[32], kb[256];
    long long cls = jx_int(e, "class", -1);
    switch (col) {
    case 't': tbl_addf(t, i, "%s", fmt_time(jx_int(e, "time", 0), b)); break;
    case 'k': tbl_addf(t, i, "%s", jx_str(e, "kind", "?")); break;
    case 'w': tbl_addf(t, i, "%s", jx_str(e, "what", "")); break;
    case 'c': tbl_addf(t, i, cls >= 0 ? "%lld" : "-", cls); break;
    case 'T': tbl_addf(t, i, "%lld", jx_int(e, "class_to", 0)); break;
    case 'K': tbl_addf(t, i, "%s", key_or_b64(e, kb, sizeof(kb))); break;
    case 'p': tbl_addf(t, i, "%s", jx_str(e, "peer", "")); break;
    case 'n': tbl_addf(t, i, "%lld", jx_int(e, "conn_id", 0)); break;
    case 's':
        if (jx_num(e, "size", 0) == 0)
            tbl_addf(t, i, "-");
        else if (strcmp(jx_str(e, "kind", ""), "flush") == 0)
            tbl_addf(t, i, "%s", fmt_duration(jx_num(e, "size", 0), b));
        else
            tbl_addf(t, i, "%s", fmt_bytes(jx_num(e, "size", 0), b));
        break;
    case 'a': tbl_addf(t, i, "%s", fmt_duration(jx_num(e, "age_secs", 0), b)); break;
    case 'f': tbl_addf(t, i, "%s", json_is_true(jx_get(e, "fetched")) ? "yes" : "no"); break;
    case 'C': tbl_addf(t, i, "E%lld", jx_int(e, "code", 0)); break;
    }
}

/* since=10m (ago) or since=UNIXTIME. */
static bool since_arg(const char *v, char *out, size_t len)
{
    char *end;
    double n = strtod(v, &end);
    if (end == v || n < 0)
        return false;
    double mul = !*end ? 0 : !strcmp(end, "s") ? 1 : !strcmp(end, "m") ? 60
               : !strcmp(end, "h") ? 3600 : !strcmp(end, "d") ? 86400 : -1;
    if (mul < 0)
        return false;
    snprintf(out, len, "%lld", mul == 0 ? (long long)n : (long long)(time(NULL) - n * mul));
    return true;
}

int view_history(struct ctx *x, int argc, char **argv)
{
    char line[512] = "history", v[32];
    const char *kind = "all";
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(line);
        if (strncmp(argv[i], "since=", 6) == 0) {
            if (!since_arg(argv[i] + 6, v, sizeof(v)))
                goto usage;
            snprintf(line + n, sizeof(line) - n, " since=%s", v);
        } else if (strncmp(argv[i], "limit=", 6) == 0) {
            snprintf(line + n, sizeof(line) - n, " %s", argv[i]);
        } else if (i == 1 && !strchr(argv[i], '=')) {
            kind = argv[i];
        } else {
            goto usage;
        }
    }
    /* The kind comes first on the server's line. */
    char req[600];
    snprintf(req, sizeof(req), "history %s%s", kind, line + 7);
    json_t *reply;
    int rc;
    const json_t *d = view_fetch(x, req, &reply, &rc);
    if (!d)
        return rc;
    const struct hist_cols *hc = hist_cols;
    while (hc->kind && strcmp(hc->kind, kind) != 0)
        hc++;
    int nc = (int)strlen(hc->cols);
    const char *h[8];
    for (int c = 0; c < 8; c++)
        h[c] = hist_header(hc->cols[c < nc ? c : 0], kind);
    struct table *t = tbl_new(nc, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
    size_t i;
    const json_t *e;
    json_array_foreach(jx_get(d, "events"), i, e)
        for (int c = 0; c < nc; c++)
            hist_cell(t, c, hc->cols[c], e);
    if (json_array_size(jx_get(d, "events")))
        tbl_print(t, x->out, "");
    else
        fprintf(x->out, "No %s events recorded%s.\n", strcmp(kind, "all") ? kind : "",
                strstr(req, "since=") ? " in that time" : "");
    tbl_free(t);
    fprintf(x->out, "recorded since start:");
    const char *name;
    json_t *n;
    json_object_foreach((json_t *)jx_get(d, "recorded"), name, n)
        fprintf(x->out, " %s %lld", name, (long long)jx_val(n));
    fputc('\n', x->out);
    json_decref(reply);
    return EXIT_OK;
usage:
    fprintf(stderr, "usage: history [KIND|all] [since=T|since=10m] [limit=N]\n");
    return EXIT_USAGE;
}

/* --- threads ------------------------------------------------------------- */

int view_threads(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = view_fetch(x, "threads", &reply, &rc);
    if (!d)
        return rc;
    const json_t *ths = jx_get(d, "threads"), *c;
    size_t i;
    char b[3][32];
    /* Stuck threads first and loud: they are why anyone runs this. */
    json_array_foreach(ths, i, c) {
        if (!json_is_true(jx_get(c, "stuck")))
            continue;
        fprintf(x->out, "%sSTUCK: %s %lld (tid %lld) busy %s", C_RED, jx_str(c, "name", "?"),
                jx_int(c, "index", 0), jx_int(c, "tid", 0),
                fmt_duration(jx_num(c, "busy_secs", 0), b[0]));
        if (*jx_str(c, "command", ""))
            fprintf(x->out, " on '%s'", jx_str(c, "command", ""));
        if (jx_int(c, "conn_id", 0))
            fprintf(x->out, " for conn %lld", jx_int(c, "conn_id", 0));
        fprintf(x->out, ", loop last turned %s ago, state %s%s\n",
                fmt_duration(jx_num(c, "heartbeat_age_secs", 0), b[1]),
                jx_str(c, "state", "?"), C_RESET);
    }
    struct table *t = tbl_new(11, "thread", "#", "tid", "state", "heartbeat", "busy", "conn",
                              "command", "cpu", "conns", "status");
    json_array_foreach(ths, i, c) {
        bool stuck = json_is_true(jx_get(c, "stuck"));
        const json_t *resp = jx_get(c, "responsive");
        tbl_addf(t, 0, "%s", jx_str(c, "name", "?"));
        tbl_addf(t, 1, "%lld", jx_int(c, "index", 0));
        tbl_addf(t, 2, "%lld", jx_int(c, "tid", 0));
        tbl_addf(t, 3, "%s", jx_str(c, "state", ""));
        tbl_addf(t, 4, "%s", fmt_duration(jx_num(c, "heartbeat_age_secs", 0), b[0]));
        tbl_addf(t, 5, "%s", fmt_duration(jx_num(c, "busy_secs", 0), b[1]));
        tbl_addf(t, 6, jx_int(c, "conn_id", 0) ? "%lld" : "-", jx_int(c, "conn_id", 0));
        tbl_addf(t, 7, "%s", *jx_str(c, "command", "") ? jx_str(c, "command", "") : "-");
        tbl_addf(t, 8, "%.2fs", jx_num(c, "cpu_secs", 0));
        tbl_addf(t, 9, jx_get(c, "connections") ? "%lld" : "-", jx_int(c, "connections", 0));
        if (stuck || json_is_false(resp))
            tbl_addf(t, 10, "%s%s%s", C_RED, stuck ? "STUCK" : "unresponsive", C_RESET);
        else
            tbl_addf(t, 10, "ok");
    }
    tbl_print(t, x->out, "");
    tbl_free(t);
    long long stuck = jx_int(d, "stuck", 0);
    fprintf(x->out, "%zu threads, %s%lld stuck%s\n", json_array_size(ths), stuck ? C_RED : "",
            stuck, stuck ? C_RESET : "");
    json_decref(reply);
    return EXIT_OK;
}

/* --- metrics, set, hotkeys ----------------------------------------------- */

/* Prometheus text: "name{labels} value"; --json gives
 * [{"name","labels":{...},"value"}]; PATTERN keeps families containing it. */
static json_t *metric_sample(const char *l)
{
    const char *sp = strrchr(l, ' ');
    if (!sp || l[0] == '#')
        return NULL;
    const char *br = strchr(l, '{');
    size_t nlen = (size_t)((br && br < sp ? br : sp) - l);
    char *name = strndup(l, nlen);
    json_t *labels = json_object();
    for (const char *p = br && br < sp ? br + 1 : NULL; p && *p && *p != '}';) {
        const char *eq = strchr(p, '=');
        if (!eq || eq[1] != '"')
            break;
        const char *q = eq + 2, *end = q;
        while (*end && *end != '"')
            end += end[0] == '\\' && end[1] ? 2 : 1;
        char *k = strndup(p, (size_t)(eq - p)), *v = strndup(q, (size_t)(end - q));
        json_object_set_new(labels, k, json_string(v));
        free(k);
        free(v);
        p = *end ? end + 1 : end;
        p += *p == ',';
    }
    json_t *o = json_pack("{s:s, s:o, s:f}", "name", name, "labels", labels, "value",
                          strtod(sp + 1, NULL));
    free(name);
    return o;
}

int view_metrics(struct ctx *x, int argc, char **argv)
{
    char err[512] = "";
    json_t *reply = NULL;
    const char *pat = argc > 1 ? argv[1] : NULL;
    char *text = NULL;
    size_t len = 0;
    FILE *mem = open_memstream(&text, &len);
    int rc = cl_text(x->cl, "metrics", mem, &reply, err, sizeof(err));
    fclose(mem);
    if (rc != EXIT_OK) {
        rc = view_fail(x, rc, reply, err);
        goto done;
    }
    json_t *arr = json_array();
    char *save = NULL;
    for (char *l = strtok_r(text, "\n", &save); l; l = strtok_r(NULL, "\n", &save)) {
        if (pat && !strstr(l, pat) && strcmp(l, "# EOF") != 0)
            continue;
        if (!x->json) {
            fprintf(x->out, "%s\n", l);
            continue;
        }
        json_t *s = metric_sample(l);
        if (s)
            json_array_append_new(arr, s);
    }
    if (x->json)
        jx_print_pretty(arr, x->out);
    json_decref(arr);
done:
    json_decref(reply);
    free(text);
    return rc;
}

int view_set(struct ctx *x, int argc, char **argv)
{
    char line[512];
    for (int i = 1; i < argc; i++)
        if (!strchr(argv[i], '=') || argv[i][0] == '=') {
            fprintf(stderr, "usage: set NAME=VALUE (for example: set slowlog_usec=5000)\n");
            return EXIT_USAGE;
        }
    if (argc < 2) {
        fprintf(stderr, "usage: set NAME=VALUE (for example: set slowlog_usec=5000)\n");
        return EXIT_USAGE;
    }
    join_line(line, sizeof(line), "set", argc, argv);
    json_t *reply;
    int rc;
    const json_t *d = view_fetch(x, line, &reply, &rc);
    if (!d)
        return rc;
    const char *name;
    json_t *v;
    char b[64];
    json_object_foreach((json_t *)jx_get(d, "changed"), name, v)
        fprintf(x->out, "%s = %s\n", name, jx_text(v, b, sizeof(b)));
    json_decref(reply);
    return EXIT_OK;
}

const json_t *view_first_rows(const json_t *data)
{
    const char *k;
    json_t *v;
    if (json_is_array(data))
        return data;
    json_object_foreach((json_t *)data, k, v)
        if (json_is_array(v) && (json_array_size(v) == 0 || json_is_object(json_array_get(v, 0))))
            return v;
    return NULL;
}

/* One of the sampler's tables: rank, key, estimate, its error bound. */
static void hot_table(struct ctx *x, const json_t *rows, const char *what, bool bytes)
{
    struct table *t = tbl_new(4, "#", "key", what, "+/-");
    size_t i;
    const json_t *r;
    char b[2][32], kb[256];
    json_array_foreach(rows, i, r) {
        double v = jx_num(r, what, 0), e = jx_num(r, "error", 0);
        tbl_addf(t, 0, "%zu", i + 1);
        tbl_addf(t, 1, "%s", key_or_b64(r, kb, sizeof(kb)));
        tbl_addf(t, 2, "%s", bytes ? fmt_bytes(v, b[0]) : fmt_num(v, b[0]));
        tbl_addf(t, 3, "%s", bytes ? fmt_bytes(e, b[1]) : fmt_num(e, b[1]));
    }
    if (json_array_size(rows))
        tbl_print(t, x->out, "  ");
    else
        fprintf(x->out, "  none sampled yet\n");
    tbl_free(t);
}

/* Any other shape: the first array of objects, one column per scalar. */
static void generic_rows(struct ctx *x, const json_t *rows)
{
    json_t *cols = json_array();
    const char *k;
    json_t *v;
    size_t i;
    const json_t *r;
    json_object_foreach((json_t *)json_array_get(rows, 0), k, v)
        if (!json_is_object(v) && !json_is_array(v) && json_array_size(cols) < 8)
            json_array_append_new(cols, json_string(k));
    size_t nc = json_array_size(cols);
    if (!nc) {
        fprintf(x->out, "No hot key sampled yet.\n");
    } else {
        const char *h[8];
        for (size_t c = 0; c < 8; c++)
            h[c] = json_string_value(json_array_get(cols, c < nc ? c : 0));
        struct table *t = tbl_new((int)nc, h[0], h[1], h[2], h[3], h[4], h[5], h[6], h[7]);
        char b[64];
        json_array_foreach(rows, i, r)
            for (size_t c = 0; c < nc; c++)
                tbl_addf(t, (int)c, "%s", jx_text(jx_get(r, h[c]), b, sizeof(b)));
        tbl_print(t, x->out, "");
        tbl_free(t);
    }
    json_decref(cols);
}

/* The hot-key sampler's tables; a server without one is told plainly. */
int view_hotkeys(struct ctx *x, int argc, char **argv)
{
    bool known;
    if (!cmd_server_has(x->cl, "hotkeys", &known) && known) {
        const json_t *id = cl_identity(x->cl);
        fprintf(stderr, "mcadmin: this server (mcd %s) does not offer hot keys: its help has no "
                "'hotkeys'; a newer mcd samples them\n", jx_str(id, "version", "?"));
        return EXIT_CMD;
    }
    char line[256];
    join_line(line, sizeof(line), "hotkeys", argc, argv);
    json_t *reply;
    int rc;
    const json_t *d = view_fetch(x, line, &reply, &rc);
    if (!d)
        return rc;
    if (!jx_get(d, "by_requests")) {
        generic_rows(x, view_first_rows(d));
    } else {
        if (!json_is_true(jx_get(d, "enabled")))
            fprintf(x->out, "%sHot key sampling is off%s (set hotkeys=1 turns it on); the "
                    "tables hold what was sampled before.\n", C_YELLOW, C_RESET);
        else
            fprintf(x->out, "sampling 1 lookup in %lld; counts are estimates scaled back up\n",
                    jx_int(d, "sample_rate", 0));
        fprintf(x->out, "\nBy requests:\n");
        hot_table(x, jx_get(d, "by_requests"), "requests", false);
        fprintf(x->out, "\nBy value bytes sent:\n");
        hot_table(x, jx_get(d, "by_bytes"), "bytes", true);
    }
    json_decref(reply);
    return EXIT_OK;
}
