/*
 * commands.c - the one table of mcadmin's commands. Dispatch, `help` and
 * the shell's completion all walk it, so a command added here is usable,
 * documented and completed at once (as redis-cli walks its help table).
 *
 * Also here: the commands that are not a single dump (items and next, raw,
 * capture, snapshots, diff) and the completion vocabulary learnt from
 * replies (slab class ids, key prefixes, the server's own command list).
 */
#include "mcadmin.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

static int run_help(struct ctx *x, int argc, char **argv);
static int run_items(struct ctx *x, int argc, char **argv);
static int run_next(struct ctx *x, int argc, char **argv);
static int run_raw(struct ctx *x, int argc, char **argv);
static int run_capture(struct ctx *x, int argc, char **argv);
static int run_snapshots(struct ctx *x, int argc, char **argv);
static int run_diff(struct ctx *x, int argc, char **argv);

static const struct cmd commands[] = {
    { "help", "[COMMAND]", "list the commands, or explain one", "", false, COMPL_COMMAND, run_help },
    { "stats", "", "every counter and gauge, with human units", "", true, COMPL_NONE, view_stats },
    { "slabs", "[--all]", "slab classes: chunk size, pages, used and free chunks, "
      "fragmentation, evictions", "--all", true, COMPL_FLAGS, view_slabs },
    { "lru", "", "per-class LRU: items, tail age, evictions and reclaims", "", true, COMPL_NONE,
      view_lru },
    { "items", "[class=N] [prefix=P] [state=live|expired|all] [limit=N] [cursor=C] [values=1]",
      "list items a page at a time (default limit=50); `next` continues", "", true,
      COMPL_ITEMS, run_items },
    { "next", "", "the next page of the last items listing", "", true, COMPL_NONE, run_next },
    { "errors", "[--all]", "error sites that fired, most first, with the operator's advice",
      "--all", true, COMPL_FLAGS, view_errors },
    { "conns", "", "connections: peer, state, age, bytes, command, held references", "", true,
      COMPL_NONE, view_conns },
    { "threads", "", "every thread: stuck ones first, state, heartbeat, busy time, command, "
      "CPU, connections", "", true, COMPL_NONE, view_threads },
    { "settings", "", "every setting the server runs with", "", true, COMPL_NONE, view_settings },
    { "hash", "", "the hash table: buckets, load factor, chain lengths", "", true, COMPL_NONE,
      view_hash },
    { "locked", "", "items referenced beyond their resting count, holders, suspected leaks", "",
      true, COMPL_NONE, view_locked },
    { "prefixes", "", "per-prefix get/hit/set/delete counts (stats detail on)", "", true,
      COMPL_NONE, view_prefixes },
    { "latency", "", "per-command service time: count, mean, p50, p90, p99, p99.9, max", "",
      true, COMPL_NONE, view_latency },
    { "commands", "", "per-command calls, total time and share, rejected and failed calls", "",
      true, COMPL_NONE, view_commands },
    { "slowlog", "[N | reset]", "commands slower than slowlog_usec, newest first; reset "
      "forgets them", "reset", true, COMPL_FLAGS, view_slowlog },
    { "memory", "[--all]", "every byte by owner beside RSS and -m, the largest connections, "
      "headroom per slab class", "--all", true, COMPL_FLAGS, view_memory },
    { "history", "[KIND|all] [since=T|since=10m] [limit=N]", "recorded events (evictions, "
      "errors, flushes, closes, rejects...) as a table per kind", "", true, COMPL_HISTORY,
      view_history },
    { "events", "KIND[,KIND...] [--count N] [--seconds S]", "follow events live, one line "
      "each; a key press (or N events, S seconds) stops", "--count --seconds", true,
      COMPL_EVENTS, events_run },
    { "metrics", "[PATTERN]", "the Prometheus text, or only the lines containing PATTERN", "",
      true, COMPL_NONE, view_metrics },
    { "set", "NAME=VALUE", "change a setting at run time (slowlog_usec, slowlog_redact, "
      "hotkeys, verbosity...)", "", true, COMPL_SET, view_set },
    { "hotkeys", "[N]", "the hottest keys by requests and by bytes sent (when the server "
      "samples them)", "", true,
      COMPL_NONE, view_hotkeys },
    { "raw", "LINE", "send any admin request line; the JSON reply is shown as is", "", true,
      COMPL_SERVER_COMMAND, run_raw },
    { "watch", "[SECONDS] [--count N]", "live rates: gets/s, sets/s, hit ratio, evictions/s, "
      "errors/s by site, connections; a key press stops it", "--count", true, COMPL_NONE,
      watch_run },
    { "capture", "[FILE]", "save a snapshot file (default mcd-snapshot-YYYYmmdd-HHMMSS.json); "
      "several servers: capture [DIR] or --bundle FILE", "--bundle", true, COMPL_FILE,
      run_capture },
    { "snapshots", "", "list the snapshot files in the current directory", "", false, COMPL_NONE,
      run_snapshots },
    { "diff", "A B", "what changed from A to B (snapshot files, fleet bundles, directories of "
      "snapshots, or `live`): counter deltas and rates, gauges, slab pages, error sites, "
      "locked items, settings", "", false,
      COMPL_SNAPSHOT, run_diff },
    { "report", "[--samples N] [--interval S] [--items N] [--redact] [-o FILE]",
      "write one JSON bundle for a bug report: snapshots, their diffs, settings, versions, OS",
      "--samples --interval --items --redact -o", true, COMPL_FLAGS, report_run },
    { "doctor", "[--interval S] [--recent S] [--baseline FILE] [--rules] | A B | FILE",
      "what is wrong and what to do: rules over two samples (live, a snapshot pair, a report)",
      "--interval --recent --baseline --rules", false, COMPL_SNAPSHOT, doctor_run },
    { "quit", "", "leave the shell (also exit, Ctrl-D)", "", false, COMPL_NONE, NULL },
    { "exit", "", "leave the shell", "", false, COMPL_NONE, NULL },
};
#define NCMDS (int)(sizeof(commands) / sizeof(commands[0]))

const struct cmd *cmd_at(int i) { return i >= 0 && i < NCMDS ? &commands[i] : NULL; }

const struct cmd *cmd_find(const char *name)
{
    for (int i = 0; i < NCMDS; i++)
        if (strcmp(commands[i].name, name) == 0)
            return &commands[i];
    return NULL;
}

/* --- completion vocabulary ----------------------------------------------- */

#define MAX_CLASSES 256
#define MAX_PREFIXES 512
#define MAX_SERVER_CMDS 64

static int class_ids[MAX_CLASSES], nclass_ids;
static char *prefixes[MAX_PREFIXES];
static int nprefixes;
static char *server_cmds[MAX_SERVER_CMDS];
static int nserver_cmds;
static char *item_args[16];
static int nitem_args;
static char *event_kinds[16];
static int nevent_kinds;
static char *settings[16];
static int nsettings;

/* The compiled-in fallback when the server cannot be asked (help). */
static const char *const fallback_server_cmds[] = { "help", "stats", "settings", "slabs", "lru",
    "errors", "conns", "threads", "hash", "locked", "prefixes", "memory", "latency", "commands",
    "slowlog", "set", "history", "watch", "snapshot", "items", "metrics", "quit", NULL };
static const char *const fallback_item_args[] = { "class=", "prefix=", "state=", "limit=",
    "cursor=", "values=", NULL };

int cmd_class_ids(int *ids, int max)
{
    int n = nclass_ids < max ? nclass_ids : max;
    memcpy(ids, class_ids, sizeof(int) * (size_t)n);
    return n;
}

const char *const *cmd_prefixes(int *n)
{
    *n = nprefixes;
    return (const char *const *)prefixes;
}

const char *cmd_item_arg(int i)
{
    if (nitem_args)
        return i < nitem_args ? item_args[i] : NULL;
    return i < 6 ? fallback_item_args[i] : NULL;
}

static const char *const fallback_event_kinds[] = { "all", "eviction", "expiration", "error",
    "flush", "conn", "reject", "pagemove", NULL };
static const char *const fallback_settings[] = { "slowlog_usec=", "slowlog_redact=",
    "hotkeys=", "verbosity=", NULL };

const char *cmd_event_kind(int i)
{
    if (nevent_kinds)
        return i < nevent_kinds ? event_kinds[i] : NULL;
    return i < 8 ? fallback_event_kinds[i] : NULL;
}

const char *cmd_setting(int i)
{
    if (nsettings)
        return i < nsettings ? settings[i] : NULL;
    return i < 4 ? fallback_settings[i] : NULL;
}

bool cmd_server_has(struct client *c, const char *name, bool *known)
{
    if (!nserver_cmds)
        cmd_learn_help(c);
    *known = nserver_cmds > 0;
    for (int i = 0; i < nserver_cmds; i++)
        if (strcmp(server_cmds[i], name) == 0)
            return true;
    return false;
}

/* "recorded events: eviction expiration ..." -> "all", "eviction", ... */
static void learn_kinds(const char *desc)
{
    const char *p = strchr(desc, ':');
    if (!p)
        return;
    for (int k = 0; k < nevent_kinds; k++)
        free(event_kinds[k]);
    nevent_kinds = 0;
    event_kinds[nevent_kinds++] = strdup("all");
    for (p++; *p && nevent_kinds < 16;) {
        p += strspn(p, " ,");
        size_t n = strcspn(p, " ,");
        if (n)
            event_kinds[nevent_kinds++] = strndup(p, n);
        p += n;
    }
}

/* "slowlog_usec=N | slowlog_redact=0|1 | verbosity=N" -> "slowlog_usec=", ... */
static void learn_settings(const char *args)
{
    for (int k = 0; k < nsettings; k++)
        free(settings[k]);
    nsettings = 0;
    for (const char *p = args; *p && nsettings < 16;) {
        p += strspn(p, " |");
        size_t n = strcspn(p, " |");
        const char *eq = memchr(p, '=', n);
        if (eq)
            settings[nsettings++] = strndup(p, (size_t)(eq - p) + 1);
        p += n;
        while (*p == '|' && p[1] != ' ' && p[-1] != ' ')
            p += strcspn(p, " ");       /* "0|1" is a value, not a separator */
    }
}

const char *cmd_server_command(int i)
{
    if (nserver_cmds)
        return i < nserver_cmds ? server_cmds[i] : NULL;
    return i < (int)(sizeof(fallback_server_cmds) / sizeof(fallback_server_cmds[0])) - 1
               ? fallback_server_cmds[i] : NULL;
}

void cmd_learn_slabs(const json_t *d)
{
    size_t i;
    const json_t *c;
    int all[MAX_CLASSES], nall = 0;
    nclass_ids = 0;
    json_array_foreach(jx_get(d, "classes"), i, c) {
        int id = (int)jx_int(c, "id", 0);
        if (nall < MAX_CLASSES)
            all[nall++] = id;
        if (jx_int(c, "pages", 0) > 0 && nclass_ids < MAX_CLASSES)
            class_ids[nclass_ids++] = id;
    }
    if (nclass_ids == 0) {      /* an empty cache: offer every class */
        memcpy(class_ids, all, sizeof(int) * (size_t)nall);
        nclass_ids = nall;
    }
}

/* A key's prefix: up to and including its first delimiter, else the key. */
void cmd_learn_key(const char *key)
{
    size_t n = strcspn(key, ":/._-|#");
    if (key[n])
        n++;
    for (int i = 0; i < nprefixes; i++)
        if (strlen(prefixes[i]) == n && strncmp(prefixes[i], key, n) == 0)
            return;
    if (nprefixes < MAX_PREFIXES)
        prefixes[nprefixes++] = strndup(key, n);
}

void cmd_learn_help(struct client *c)
{
    json_t *reply = NULL;
    char err[256];
    if (cl_call(c, "help", &reply, err, sizeof(err)) != EXIT_OK) {
        json_decref(reply);
        return;
    }
    size_t i;
    const json_t *h;
    for (int k = 0; k < nserver_cmds; k++)
        free(server_cmds[k]);
    nserver_cmds = 0;
    json_array_foreach(jx_path(reply, "data.commands"), i, h) {
        const char *name = jx_str(h, "name", NULL);
        if (!name || nserver_cmds == MAX_SERVER_CMDS)
            continue;
        server_cmds[nserver_cmds++] = strdup(name);
        if (strcmp(name, "history") == 0)
            learn_kinds(jx_str(h, "description", ""));
        if (strcmp(name, "set") == 0)
            learn_settings(jx_str(h, "args", ""));
        if (strcmp(name, "items") != 0)
            continue;
        /* "[class=N] [prefix=P] ..." -> "class=", "prefix=", ... */
        const char *p = jx_str(h, "args", "");
        for (int k = 0; k < nitem_args; k++)
            free(item_args[k]);
        nitem_args = 0;
        while ((p = strchr(p, '[')) && nitem_args < 16) {
            const char *eq = strchr(p, '=');
            const char *close = strchr(p, ']');
            if (eq && (!close || eq < close))
                item_args[nitem_args++] = strndup(p + 1, (size_t)(eq - p));
            p++;
        }
    }
    json_decref(reply);
}

/* --- help ---------------------------------------------------------------- */

static int run_help(struct ctx *x, int argc, char **argv)
{
    if (argc > 1) {
        const struct cmd *c = cmd_find(argv[1]);
        if (!c) {
            fprintf(stderr, "mcadmin: no command '%s' (help lists them)\n", argv[1]);
            return EXIT_USAGE;
        }
        fprintf(x->out, "%s%s%s%s%s\n    %s\n", C_BOLD, c->name, C_RESET, *c->args ? " " : "",
                c->args, c->help);
        if (!c->needs_server)
            fprintf(x->out, "    works without a server\n");
        fprintf(x->out, "    --json prints the result as JSON\n");
        return EXIT_OK;
    }
    struct table *t = tbl_new(2, "command", "what it does");
    for (int i = 0; i < NCMDS; i++) {
        const struct cmd *c = &commands[i];
        if (!c->run && !x->interactive)
            continue;   /* quit/exit mean nothing on a command line */
        tbl_addf(t, 0, "%s%s%s", c->name, *c->args ? " " : "", c->args);
        tbl_addf(t, 1, "%s", c->help);
    }
    if (!x->interactive)
        fprintf(x->out, "usage: mcadmin [-s SOCKET] [--json] [COMMAND [ARGS]]\n"
                "       (no COMMAND opens the interactive shell; see mcadmin(1))\n\n");
    tbl_print(t, x->out, "");
    tbl_free(t);
    fprintf(x->out, "\n`help COMMAND` explains one; --json anywhere gives JSON output.\n");
    return EXIT_OK;
}

/* --- items and next ------------------------------------------------------ */

static char last_items[1024];   /* the request without cursor=, for next */
static long long last_cursor;   /* 0: nothing more to list */

struct items_acc {
    json_t *rows;
};

static int collect_item(json_t *row, void *arg)
{
    struct items_acc *a = arg;
    json_array_append(a->rows, row);
    const char *k = jx_str(row, "key", NULL);
    if (k)
        cmd_learn_key(k);
    return 0;
}

static void print_items(struct ctx *x, const json_t *rows, long long now)
{
    struct table *t = tbl_new(7, "key", "class", "size", "ttl", "idle", "fetched", "refs");
    size_t i;
    const json_t *r;
    char b[3][32];
    json_array_foreach(rows, i, r) {
        long long exp = jx_int(r, "exptime", 0);
        const char *k = jx_str(r, "key", NULL);
        if (k)
            tbl_addf(t, 0, "%s", k);
        else
            tbl_addf(t, 0, "base64:%s", jx_str(r, "key_base64", "?"));
        tbl_addf(t, 1, "%lld", jx_int(r, "class", 0));
        tbl_addf(t, 2, "%s", fmt_bytes(jx_num(r, "size", 0), b[0]));
        tbl_addf(t, 3, "%s", json_is_true(jx_get(r, "dead")) ? "expired"
                             : exp == 0 ? "never" : fmt_duration((double)(exp - now), b[1]));
        tbl_addf(t, 4, "%s", fmt_duration(jx_num(r, "age_secs", 0), b[2]));
        tbl_addf(t, 5, "%s", json_is_true(jx_get(r, "fetched")) ? "yes" : "no");
        tbl_addf(t, 6, "%lld", jx_int(r, "refcount", 0));
    }
    tbl_print(t, x->out, "");
    tbl_free(t);
}

static int items_request(struct ctx *x, const char *base, long long cursor)
{
    char line[1200], err[512] = "";
    if (cursor)
        snprintf(line, sizeof(line), "%s cursor=%lld", base, cursor);
    else
        snprintf(line, sizeof(line), "%s", base);
    struct items_acc acc = { json_array() };
    json_t *head = NULL, *sum = NULL;
    int rc = cl_stream(x->cl, line, collect_item, &acc, &head, &sum, err, sizeof(err));
    if (rc != EXIT_OK) {
        rc = view_fail(x, rc, head, err);
        goto done;
    }
    snprintf(last_items, sizeof(last_items), "%s", base);
    last_cursor = jx_int(sum, "complete", 0) || json_is_true(jx_get(sum, "complete"))
                      ? 0 : jx_int(sum, "cursor", 0);
    if (x->json) {
        json_t *o = json_pack("{s:O, s:O}", "items", acc.rows, "summary", sum ? sum : json_null());
        jx_print_pretty(o, x->out);
        json_decref(o);
        goto done;
    }
    print_items(x, acc.rows, jx_int(jx_get(head, "server"), "now", 0));
    fprintf(x->out, "%zu items", json_array_size(acc.rows));
    if (last_cursor)
        fprintf(x->out, "; more: `next` (or items ... cursor=%lld)\n", last_cursor);
    else
        fprintf(x->out, "; end of listing\n");
done:
    json_decref(acc.rows);
    json_decref(head);
    json_decref(sum);
    return rc;
}

static int run_items(struct ctx *x, int argc, char **argv)
{
    char base[1024] = "items";
    bool has_limit = false;
    long long cursor = 0;
    for (int i = 1; i < argc; i++) {
        if (!strchr(argv[i], '=')) {
            fprintf(stderr, "mcadmin: items takes NAME=VALUE arguments, not '%s'\n", argv[i]);
            return EXIT_USAGE;
        }
        if (strncmp(argv[i], "cursor=", 7) == 0) {
            cursor = strtoll(argv[i] + 7, NULL, 10);
            continue;
        }
        has_limit |= strncmp(argv[i], "limit=", 6) == 0;
        size_t n = strlen(base);
        snprintf(base + n, sizeof(base) - n, " %s", argv[i]);
    }
    if (!has_limit) {
        size_t n = strlen(base);
        snprintf(base + n, sizeof(base) - n, " limit=50");
    }
    return items_request(x, base, cursor);
}

static int run_next(struct ctx *x, int argc, char **argv)
{
    if (!last_items[0] || last_cursor == 0) {
        fprintf(stderr, "mcadmin: nothing to continue: %s\n",
                last_items[0] ? "the last listing was complete" : "run items first");
        return EXIT_CMD;
    }
    return items_request(x, last_items, last_cursor);
}

/* --- raw ------------------------------------------------------------------ */

static int keep_row(json_t *row, void *arg)
{
    json_array_append(arg, row);
    return 0;
}

static int run_raw(struct ctx *x, int argc, char **argv)
{
    char line[4096] = "", err[512] = "";
    if (argc < 2) {
        fprintf(stderr, "usage: raw LINE (for example: raw items limit=3)\n");
        return EXIT_USAGE;
    }
    if (strcmp(argv[1], "watch") == 0) {
        /* The server's event stream never ends by itself; raw would sit
         * until the reply timeout. */
        fprintf(stderr, "mcadmin: raw cannot follow the server's endless 'watch' stream; "
                "use socat for it (mcadmin's own `watch` shows rates)\n");
        return EXIT_USAGE;
    }
    for (int i = 1; i < argc; i++) {
        size_t n = strlen(line);
        snprintf(line + n, sizeof(line) - n, "%s%s", i > 1 ? " " : "", argv[i]);
    }
    json_t *head = NULL, *sum = NULL, *rows = json_array();
    int rc;
    if (strcmp(argv[1], "metrics") == 0)     /* Prometheus text, not JSON */
        rc = cl_text(x->cl, line, x->out, &head, err, sizeof(err));
    else
        rc = cl_stream(x->cl, line, keep_row, rows, &head, &sum, err, sizeof(err));
    if (head)
        jx_print_pretty(head, x->out);
    size_t i;
    json_t *r;
    json_array_foreach(rows, i, r)
        jx_print_pretty(r, x->out);
    if (sum) {
        json_t *o = json_pack("{s:O}", "summary", sum);
        jx_print_pretty(o, x->out);
        json_decref(o);
    }
    /* An error reply was shown above as JSON; say so on stderr too. */
    rc = rc == EXIT_OK ? rc : view_fail(&(struct ctx){ .cl = x->cl, .out = x->out,
                                                       .interactive = x->interactive },
                                        rc, head, err);
    json_decref(head);
    json_decref(sum);
    json_decref(rows);
    return rc;
}

/* --- capture, snapshots, diff -------------------------------------------- */

static int run_capture(struct ctx *x, int argc, char **argv)
{
    char name[4096], err[512] = "";
    json_t *doc;
    if (argc > 2) {
        fprintf(stderr, "usage: capture [FILE]\n");
        return EXIT_USAGE;
    }
    int rc = snap_capture(x->cl, &doc, err, sizeof(err));
    if (rc != EXIT_OK)
        return view_fail(x, rc, NULL, err);
    if (argc == 2) {
        snprintf(name, sizeof(name), "%s", argv[1]);
    } else {
        struct stat st;
        char base[64];
        snap_default_name("mcd-snapshot", base, sizeof(base));
        base[strlen(base) - 5] = '\0';         /* drop ".json" */
        snprintf(name, sizeof(name), "%s.json", base);
        /* Two captures in one second must not overwrite each other. */
        for (int i = 2; stat(name, &st) == 0 && i < 1000; i++)
            snprintf(name, sizeof(name), "%s-%d.json", base, i);
    }
    rc = snap_save(doc, name, err, sizeof(err));
    if (rc != EXIT_OK) {
        fprintf(stderr, "mcadmin: %s\n", err);
    } else if (x->json) {
        json_t *o = json_pack("{s:s, s:O, s:O}", "file", name, "captured_at",
                              jx_get(doc, "captured_at"), "server", jx_get(doc, "server"));
        jx_print_pretty(o, x->out);
        json_decref(o);
    } else {
        const json_t *s = jx_get(doc, "server");
        fprintf(x->out, "captured %s: mcd %s pid %lld, %zu sections\n", name,
                jx_str(s, "version", "?"), jx_int(s, "pid", 0),
                json_object_size(jx_path(doc, "snapshot.sections")));
    }
    json_decref(doc);
    return rc;
}

static int by_time(const void *a, const void *b)
{
    json_t *const *x = a, *const *y = b;
    long long ta = jx_int(*x, "captured_at", 0), tb = jx_int(*y, "captured_at", 0);
    if (ta != tb)
        return ta < tb ? -1 : 1;
    return strcmp(jx_str(*x, "file", ""), jx_str(*y, "file", ""));
}

static int run_snapshots(struct ctx *x, int argc, char **argv)
{
    DIR *d = opendir(".");
    if (!d) {
        perror("mcadmin: opendir .");
        return EXIT_CMD;
    }
    json_t *rows[4096];
    size_t n = 0;
    struct dirent *e;
    while ((e = readdir(d)) && n < 4096) {
        size_t l = strlen(e->d_name);
        char err[512];
        if (l < 6 || strcmp(e->d_name + l - 5, ".json") != 0)
            continue;
        json_t *doc = snap_load_file(e->d_name, err, sizeof(err));
        if (!doc)
            continue;   /* not a snapshot (a report, or anything else) */
        const json_t *s = jx_get(doc, "server");
        rows[n++] = json_pack("{s:s, s:O, s:s, s:O, s:s}", "file", e->d_name,
            "captured_at", jx_get(doc, "captured_at"), "version", jx_str(s, "version", "?"),
            "pid", jx_get(s, "pid") ? jx_get(s, "pid") : json_null(),
            "source_socket", jx_str(doc, "source_socket", ""));
        json_decref(doc);
    }
    closedir(d);
    qsort(rows, n, sizeof(rows[0]), by_time);
    json_t *arr = json_array();
    struct table *t = tbl_new(5, "file", "captured", "server", "pid", "socket");
    char b[32];
    for (size_t i = 0; i < n; i++) {
        tbl_addf(t, 0, "%s", jx_str(rows[i], "file", ""));
        tbl_addf(t, 1, "%s", fmt_time(jx_int(rows[i], "captured_at", 0), b));
        tbl_addf(t, 2, "mcd %s", jx_str(rows[i], "version", "?"));
        tbl_addf(t, 3, "%lld", jx_int(rows[i], "pid", 0));
        tbl_addf(t, 4, "%s", jx_str(rows[i], "source_socket", ""));
        json_array_append_new(arr, rows[i]);
    }
    if (x->json)
        jx_print_pretty(arr, x->out);
    else if (n == 0)
        fprintf(x->out, "No snapshot files in this directory (capture makes one).\n");
    else
        tbl_print(t, x->out, "");
    tbl_free(t);
    json_decref(arr);
    return EXIT_OK;
}

/* A snapshot from a file, or `live` from the server. */
static json_t *snapshot_arg(struct ctx *x, const char *arg, int *rc)
{
    char err[1024] = "";
    json_t *doc = NULL;
    if (strcmp(arg, "live") == 0) {
        *rc = snap_capture(x->cl, &doc, err, sizeof(err));
        if (*rc != EXIT_OK)
            *rc = view_fail(x, *rc, NULL, err);
        return doc;
    }
    doc = snap_load_file(arg, err, sizeof(err));
    if (!doc) {
        fprintf(stderr, "mcadmin: %s\n", err);
        *rc = EXIT_CMD;
    }
    return doc;
}

static int run_diff(struct ctx *x, int argc, char **argv)
{
    if (argc != 3) {
        fprintf(stderr, "usage: diff A B  (snapshot files, or `live` for the server now)\n");
        return EXIT_USAGE;
    }
    /* Bundles and directories hold several servers: compare each. */
    if (fleet_diff_wants(argv[1]) || fleet_diff_wants(argv[2]))
        return fleet_diff(NULL, x, argc, argv);
    int rc = EXIT_OK;
    json_t *a = snapshot_arg(x, argv[1], &rc);
    json_t *b = a ? snapshot_arg(x, argv[2], &rc) : NULL;
    if (a && b) {
        json_t *d = diff_build(a, b, argv[1], argv[2]);
        if (x->json)
            jx_print_pretty(d, x->out);
        else
            diff_print(d, x->out);
        json_decref(d);
    }
    json_decref(a);
    json_decref(b);
    return rc;
}

/* --- dispatch ------------------------------------------------------------ */

int cmd_run(struct ctx *x, int argc, char **argv)
{
    const struct cmd *c = argc > 0 ? cmd_find(argv[0]) : NULL;
    if (!c || !c->run) {
        fprintf(stderr, "mcadmin: unknown command '%s' (help lists them)\n",
                argc > 0 ? argv[0] : "");
        return EXIT_USAGE;
    }
    return c->run(x, argc, argv);
}

/* Splits on blanks, drops --json (setting it for this line) and runs. */
int cmd_run_line(struct ctx *x, const char *line)
{
    char *copy = strdup(line), *save = NULL;
    char *argv[64];
    int argc = 0;
    bool json = x->json;
    for (char *t = strtok_r(copy, " \t\r\n", &save); t && argc < 63;
         t = strtok_r(NULL, " \t\r\n", &save)) {
        if (strcmp(t, "--json") == 0)
            x->json = true;
        else
            argv[argc++] = t;
    }
    argv[argc] = NULL;
    int rc = argc ? cmd_run(x, argc, argv) : EXIT_OK;
    x->json = json;
    free(copy);
    return rc;
}
