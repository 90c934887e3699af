/*
 * view.c - the server's dumps as an operator reads them: one renderer per
 * admin command (stats, slabs, lru, errors, conns, threads, settings, hash,
 * locked, prefixes). With --json each prints the reply's "data" instead.
 */
#include "mcadmin.h"

#include <stdlib.h>
#include <string.h>

int view_fail(struct ctx *x, int rc, const json_t *reply, const char *err)
{
    const json_t *e = jx_get(reply, "error");
    if (rc == EXIT_CONNECT) {
        fprintf(stderr, "mcadmin: %s\n", err);
        if (!x->interactive)
            fprintf(stderr, "mcadmin: is mcd running with -o admin_socket=%s? "
                    "(-s SOCKET or MCD_ADMIN_SOCKET choose another)\n", cl_path(x->cl));
        return rc;
    }
    if (!json_is_object(e)) {
        fprintf(stderr, "mcadmin: %s\n", err && *err ? err : "unexpected reply");
        return rc;
    }
    if (x->json) {
        json_t *o = json_pack("{s:O}", "error", e);
        jx_print_pretty(o, x->out);
        json_decref(o);
    }
    const char *detail = jx_str(e, "detail", "");
    fprintf(stderr, "mcadmin: server error E%lld %s: %s%s%s\n", jx_int(e, "code", 0),
            jx_str(e, "name", "?"), jx_str(e, "message", "?"), *detail ? ": " : "", detail);
    return EXIT_CMD;
}

/* Sends line; on success returns the data object and *reply to release.
 * With --json it prints the data itself and returns NULL with *rc 0. */
static const json_t *fetch(struct ctx *x, const char *line, json_t **reply, int *rc)
{
    char err[512] = "";
    *reply = NULL;
    *rc = cl_call(x->cl, line, reply, err, sizeof(err));
    if (*rc != EXIT_OK) {
        *rc = view_fail(x, *rc, *reply, err);
        json_decref(*reply);
        *reply = NULL;
        return NULL;
    }
    const json_t *data = jx_get(*reply, "data");
    if (x->json) {
        jx_print_pretty(data, x->out);
        json_decref(*reply);
        *reply = NULL;
        return NULL;
    }
    return data ? data : json_null();
}

static bool has_flag(int argc, char **argv, const char *flag)
{
    for (int i = 1; i < argc; i++)
        if (strcmp(argv[i], flag) == 0)
            return true;
    return false;
}

/* Stats whose values are byte counts or seconds get a human form too. */
static const char *human(const char *name, const json_t *v, char *buf)
{
    static const char *const bytes[] = { "bytes", "limit_maxbytes", "hash_bytes",
        "total_malloced", "bytes_read", "bytes_written", "item_size_max", "maxbytes", NULL };
    if (!jx_isnum(v))
        return "";
    for (int i = 0; bytes[i]; i++)
        if (strcmp(name, bytes[i]) == 0)
            return fmt_bytes(jx_val(v), buf);
    if (strcmp(name, "uptime") == 0)
        return fmt_duration(jx_val(v), buf);
    if (strcmp(name, "time") == 0 || strcmp(name, "started") == 0)
        return fmt_time((long long)jx_val(v), buf);
    return "";
}

static void name_values(const json_t *obj, FILE *out)
{
    struct table *t = tbl_new(3, "name", "value", "");
    const char *name;
    json_t *v;
    char b[64], h[32];
    json_object_foreach((json_t *)obj, name, v)
        tbl_add(t, name, jx_text(v, b, sizeof(b)), human(name, v, h));
    tbl_print(t, out, "");
    tbl_free(t);
}

int view_stats(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = fetch(x, "stats", &reply, &rc);
    if (!d)
        return rc;
    name_values(jx_get(d, "stats"), x->out);
    json_decref(reply);
    return EXIT_OK;
}

int view_settings(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = fetch(x, "settings", &reply, &rc);
    if (!d)
        return rc;
    name_values(jx_get(d, "settings"), x->out);
    json_decref(reply);
    return EXIT_OK;
}

int view_slabs(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = fetch(x, "slabs", &reply, &rc);
    if (!d)
        return rc;
    cmd_learn_slabs(d);
    bool all = has_flag(argc, argv, "--all");
    struct table *t = tbl_new(10, "class", "chunk", "pages", "used", "free", "items", "frag",
                              "evicted", "oom", "tail age");
    size_t i, hidden = 0;
    const json_t *c;
    char b[5][32];
    json_array_foreach(jx_get(d, "classes"), i, c) {
        /* empty: no page, and (the heap engine's pageless class) no chunk */
        if (!all && jx_int(c, "pages", 0) == 0 && jx_int(c, "used_chunks", 0) == 0) {
            hidden++;
            continue;
        }
        tbl_addf(t, 0, "%lld", jx_int(c, "id", 0));
        tbl_addf(t, 1, "%s", fmt_bytes(jx_num(c, "chunk_size", 0), b[0]));
        tbl_addf(t, 2, "%lld", jx_int(c, "pages", 0));
        tbl_addf(t, 3, "%lld", jx_int(c, "used_chunks", 0));
        tbl_addf(t, 4, "%lld", jx_int(c, "free_chunks", 0));
        tbl_addf(t, 5, "%lld", jx_int(c, "items", 0));
        tbl_addf(t, 6, "%.1f%%", 100 * jx_num(c, "fragmentation", 0));
        tbl_addf(t, 7, "%lld", jx_int(c, "evicted", 0));
        tbl_addf(t, 8, "%lld", jx_int(c, "outofmemory", 0));
        tbl_addf(t, 9, "%s", fmt_duration(jx_num(c, "tail_age", 0), b[1]));
    }
    tbl_print(t, x->out, "");
    tbl_free(t);
    fprintf(x->out, "%lld pages (%s) of %s; largest item %s",
            jx_int(d, "total_pages", 0), fmt_bytes(jx_num(d, "total_pages", 0) * 1048576, b[2]),
            fmt_bytes(jx_num(d, "limit_maxbytes", 0), b[3]),
            fmt_bytes(jx_num(d, "item_size_max", 0), b[4]));
    if (hidden)
        fprintf(x->out, "; %zu empty classes hidden (slabs --all)", hidden);
    fputc('\n', x->out);
    json_decref(reply);
    return EXIT_OK;
}

int view_lru(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = fetch(x, "lru", &reply, &rc);
    if (!d)
        return rc;
    struct table *t = tbl_new(8, "class", "items", "tail age", "evicted", "evicted_nonzero",
                              "evicted_unfetched", "expired_unfetched", "reclaimed");
    size_t i;
    const json_t *c;
    char b[32];
    json_array_foreach(jx_get(d, "classes"), i, c) {
        tbl_addf(t, 0, "%lld", jx_int(c, "id", 0));
        tbl_addf(t, 1, "%lld", jx_int(c, "items", 0));
        tbl_addf(t, 2, "%s", fmt_duration(jx_num(c, "tail_age", 0), b));
        tbl_addf(t, 3, "%lld", jx_int(c, "evicted", 0));
        tbl_addf(t, 4, "%lld", jx_int(c, "evicted_nonzero", 0));
        tbl_addf(t, 5, "%lld", jx_int(c, "evicted_unfetched", 0));
        tbl_addf(t, 6, "%lld", jx_int(c, "expired_unfetched", 0));
        tbl_addf(t, 7, "%lld", jx_int(c, "reclaimed", 0));
    }
    tbl_print(t, x->out, "");
    tbl_free(t);
    json_decref(reply);
    return EXIT_OK;
}

int view_errors(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = fetch(x, "errors", &reply, &rc);
    if (!d)
        return rc;
    bool all = has_flag(argc, argv, "--all");
    size_t i, zero = 0;
    const json_t *s;
    long long now = jx_int(jx_get(reply, "server"), "now", 0);
    char b[32], ago[32];
    json_array_foreach(jx_get(d, "sites"), i, s) {
        long long n = jx_int(s, "count", 0);
        if (n == 0) {
            zero++;
            continue;
        }
        long long last = jx_int(s, "last_seen", 0);
        fprintf(x->out, "%sE%lld %s%s (%s)  count %lld, last seen %s (%s ago)\n", C_RED,
                jx_int(s, "code", 0), jx_str(s, "name", "?"), C_RESET, jx_str(s, "class", "?"),
                n, fmt_time(last, b), fmt_duration((double)(now - last), ago));
        const json_t *ctx = jx_get(s, "last_context");
        fprintf(x->out, "    %s", jx_str(s, "message", ""));
        if (jx_int(ctx, "slab_class", -1) >= 0)
            fprintf(x->out, "; last in slab class %lld", jx_int(ctx, "slab_class", 0));
        if (jx_int(ctx, "size", 0) > 0)
            fprintf(x->out, ", size %lld", jx_int(ctx, "size", 0));
        if (jx_int(ctx, "conn_id", 0) > 0)
            fprintf(x->out, ", connection %lld", jx_int(ctx, "conn_id", 0));
        fprintf(x->out, "\n    %sadvice:%s %s\n", C_BOLD, C_RESET, jx_str(s, "advice", ""));
    }
    if (zero == json_array_size(jx_get(d, "sites")))
        fprintf(x->out, "No error site has fired.\n");
    if (all && zero) {
        struct table *t = tbl_new(4, "code", "name", "class", "message");
        json_array_foreach(jx_get(d, "sites"), i, s) {
            if (jx_int(s, "count", 0) != 0)
                continue;
            tbl_addf(t, 0, "E%lld", jx_int(s, "code", 0));
            tbl_addf(t, 1, "%s", jx_str(s, "name", "?"));
            tbl_addf(t, 2, "%s", jx_str(s, "class", "?"));
            tbl_addf(t, 3, "%s", jx_str(s, "message", ""));
        }
        fprintf(x->out, "\nSites that have not fired:\n");
        tbl_print(t, x->out, "  ");
        tbl_free(t);
    } else if (zero) {
        fprintf(x->out, "%zu other sites have count 0 (errors --all lists them); total %lld\n",
                zero, jx_int(d, "total", 0));
    }
    json_decref(reply);
    return EXIT_OK;
}

int view_conns(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = fetch(x, "conns", &reply, &rc);
    if (!d)
        return rc;
    struct table *t = tbl_new(11, "id", "thr", "peer", "state", "age", "idle", "in", "out",
                              "pending", "held", "command");
    size_t i;
    const json_t *c;
    char b[4][32];
    json_array_foreach(jx_get(d, "connections"), i, c) {
        tbl_addf(t, 0, "%lld", jx_int(c, "id", 0));
        tbl_addf(t, 1, "%lld", jx_int(c, "thread", 0));
        tbl_addf(t, 2, "%s", jx_str(c, "peer", "?"));
        tbl_addf(t, 3, "%s", jx_str(c, "state", "?"));
        tbl_addf(t, 4, "%s", fmt_duration(jx_num(c, "age_secs", 0), b[0]));
        tbl_addf(t, 5, "%s", fmt_duration(jx_num(c, "idle_secs", 0), b[1]));
        tbl_addf(t, 6, "%s", fmt_bytes(jx_num(c, "bytes_in", 0), b[2]));
        tbl_addf(t, 7, "%s", fmt_bytes(jx_num(c, "bytes_out", 0), b[3]));
        tbl_addf(t, 8, "%lld", jx_int(c, "pending_bytes", 0));
        tbl_addf(t, 9, "%lld", jx_int(c, "held_refs", 0));
        tbl_addf(t, 10, "%s", jx_str(c, "command", ""));
    }
    tbl_print(t, x->out, "");
    tbl_free(t);
    fprintf(x->out, "%lld of %lld connections", jx_int(d, "curr_connections", 0),
            jx_int(d, "max_connections", 0));
    if (json_array_size(jx_get(d, "unanswered_threads")))
        fprintf(x->out, "; %s%zu worker threads did not answer%s", C_RED,
                json_array_size(jx_get(d, "unanswered_threads")), C_RESET);
    fputc('\n', x->out);
    json_decref(reply);
    return EXIT_OK;
}

int view_threads(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = fetch(x, "threads", &reply, &rc);
    if (!d)
        return rc;
    struct table *t = tbl_new(4, "thread", "connections", "heartbeat age", "responsive");
    size_t i;
    const json_t *c;
    char b[32];
    json_array_foreach(jx_get(d, "threads"), i, c) {
        tbl_addf(t, 0, "%lld", jx_int(c, "index", 0));
        tbl_addf(t, 1, "%lld", jx_int(c, "connections", 0));
        tbl_addf(t, 2, "%s", fmt_duration(jx_num(c, "heartbeat_age_secs", 0), b));
        tbl_addf(t, 3, "%s", json_is_true(jx_get(c, "responsive")) ? "yes" : "NO");
    }
    tbl_print(t, x->out, "");
    tbl_free(t);
    json_decref(reply);
    return EXIT_OK;
}

int view_hash(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = fetch(x, "hash", &reply, &rc);
    if (!d)
        return rc;
    fprintf(x->out, "buckets      %lld (2^%lld)%s\nitems        %lld\nload factor  %.3f\n",
            jx_int(d, "buckets", 0), jx_int(d, "power", 0),
            json_is_true(jx_get(d, "expanding")) ? ", expanding" : "", jx_int(d, "items", 0),
            jx_num(d, "load_factor", 0));
    struct table *t = tbl_new(2, "chain length", "buckets");
    size_t i;
    const json_t *v;
    json_array_foreach(jx_get(d, "chain_lengths"), i, v) {
        if (jx_val(v) == 0)
            continue;
        tbl_addf(t, 0, i + 1 == json_array_size(jx_get(d, "chain_lengths")) ? "%zu+" : "%zu", i);
        tbl_addf(t, 1, "%.0f", jx_val(v));
    }
    tbl_print(t, x->out, "");
    tbl_free(t);
    json_decref(reply);
    return EXIT_OK;
}

static const char *key_of(const json_t *r)
{
    const char *k = jx_str(r, "key", NULL);
    return k ? k : jx_str(r, "key_base64", "?");
}

int view_locked(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = fetch(x, "locked", &reply, &rc);
    if (!d)
        return rc;
    size_t i, j;
    const json_t *it, *h;
    char b[32];
    if (json_array_size(jx_get(d, "items")) == 0)
        fprintf(x->out, "No item is referenced beyond its resting count.\n");
    json_array_foreach(jx_get(d, "items"), i, it) {
        bool leak = json_is_true(jx_get(it, "suspected_leak"));
        fprintf(x->out, "%s%s%s  class %lld, refcount %lld (resting %lld)%s, age %s%s\n",
                leak ? C_RED : C_BOLD, key_of(it), C_RESET, jx_int(it, "class", 0),
                jx_int(it, "refcount", 0), jx_int(it, "resting", 0),
                json_is_false(jx_get(it, "linked")) ? ", unlinked" : "",
                fmt_duration(jx_num(it, "age_secs", 0), b),
                leak ? "  SUSPECTED LEAK" : "");
        json_array_foreach(jx_get(it, "holders"), j, h)
            fprintf(x->out, "    held by conn %lld (thread %lld, %s, idle %llds) for %llds at %s\n",
                    jx_int(h, "conn_id", 0), jx_int(h, "thread", 0), jx_str(h, "state", "?"),
                    jx_int(h, "idle_secs", 0), jx_int(h, "held_secs", 0), jx_str(h, "site", "?"));
        if (jx_int(it, "unexplained", 0) > 0)
            fprintf(x->out, "    %lld reference(s) no recorded holder explains\n",
                    jx_int(it, "unexplained", 0));
    }
    fprintf(x->out, "%zu locked items, %lld suspected leaks\n", json_array_size(jx_get(d, "items")),
            jx_int(d, "suspected_leaks", 0));
    json_decref(reply);
    return EXIT_OK;
}

int view_prefixes(struct ctx *x, int argc, char **argv)
{
    json_t *reply;
    int rc;
    const json_t *d = fetch(x, "prefixes", &reply, &rc);
    if (!d)
        return rc;
    if (!json_is_true(jx_get(d, "enabled")))
        fprintf(x->out, "Per-prefix statistics are off (send 'stats detail on' to the server).\n");
    struct table *t = tbl_new(5, "prefix", "get", "hit", "set", "delete");
    size_t i;
    const json_t *p;
    json_array_foreach(jx_get(d, "prefixes"), i, p) {
        tbl_addf(t, 0, "%s", jx_str(p, "prefix", "?"));
        tbl_addf(t, 1, "%lld", jx_int(p, "get", 0));
        tbl_addf(t, 2, "%lld", jx_int(p, "hit", 0));
        tbl_addf(t, 3, "%lld", jx_int(p, "set", 0));
        tbl_addf(t, 4, "%lld", jx_int(p, "delete", 0));
    }
    if (json_array_size(jx_get(d, "prefixes")))
        tbl_print(t, x->out, "");
    tbl_free(t);
    json_decref(reply);
    return EXIT_OK;
}
