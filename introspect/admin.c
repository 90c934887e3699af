/*
 * admin.c - the admin socket's thread: accepting, reading request lines,
 * dispatching through one command table (which also answers `help`), and
 * writing JSON replies. Item listings are streamed as newline-delimited
 * JSON, a bucket at a time: the walk copies a batch under the bucket's lock
 * and writes only after the lock is dropped, so a slow admin client never
 * stalls the data path.
 *
 * Requests are plain lines ("items class=5 limit=100"), so socat works by
 * hand. Every reply carries the schema version and the server's identity.
 */
#include "../mcd/history.h"
#include "../mcd/latency.h"
#include "../mcd/live.h"
#include "introspect.h"

#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <poll.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#include "../mcd/engine.h"
#include "../mcd/errors.h"
#include "../mcd/history.h"
#include "../mcd/settings.h"
#include "../mcd/stats.h"
#include "../mcd/util.h"

#define ADMIN_MAX_CLIENTS 8
#define ADMIN_LINE_MAX 4096
#define ADMIN_SEND_TIMEOUT_SECS 5
#define ITEMS_BATCH 256

struct client {
    int fd;
    char buf[ADMIN_LINE_MAX];
    size_t len;
    int watch;          /* history watcher id while watching, else -1 */
    uint64_t lost;      /* events dropped for this watcher, not yet told */
};

static int listen_fds[2] = { -1, -1 };
static int wake_pipe[2] = { -1, -1 };
static pthread_t admin_thread;
static bool running;
static char socket_path[512];
static struct client clients[ADMIN_MAX_CLIENTS];

/* --- replies ------------------------------------------------------------ */

json_t *admin_identity(void)
{
    return json_pack("{s:s, s:s, s:s, s:i, s:I, s:I}",
        "name", "mcd", "version", MCD_VERSION, "wire_version", MCD_WIRE_VERSION,
        "pid", (int)getpid(), "started", (json_int_t)clock_started(),
        "now", (json_int_t)clock_abs(clock_now()));
}

/* Writes all of buf; false when the client is gone or stopped reading. */
static bool send_all(int fd, const char *buf, size_t len)
{
    while (len > 0) {
        ssize_t n = send(fd, buf, len, MSG_NOSIGNAL);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            err_raise(ERR_ADMIN_CLIENT_GONE, 0);
            return false;
        }
        buf += n;
        len -= (size_t)n;
    }
    return true;
}

/* One JSON document on one line. Steals doc. */
static bool send_json(int fd, json_t *doc)
{
    char *s = json_dumps(doc, JSON_COMPACT | JSON_REAL_PRECISION(9));
    json_decref(doc);
    if (!s)
        return false;
    size_t n = strlen(s);
    s[n] = '\n';    /* the terminator's byte becomes the newline */
    bool ok = send_all(fd, s, n + 1);
    free(s);
    return ok;
}

static json_t *envelope(const char *command)
{
    return json_pack("{s:i, s:o, s:s}", "schema", ADMIN_SCHEMA,
                     "server", admin_identity(), "command", command);
}

static bool send_error(int fd, const char *command, enum err_site e, const char *detail)
{
    const struct err_info *ei = err_info(e);
    err_raise(e, 0);
    json_t *doc = envelope(command);
    json_object_set_new(doc, "error", json_pack("{s:i, s:s, s:s, s:s}",
        "code", ei->code, "name", ei->name, "message", ei->message,
        "detail", detail ? detail : ""));
    return send_json(fd, doc);
}

static bool send_data(int fd, const char *command, json_t *data)
{
    json_t *doc = envelope(command);
    json_object_set_new(doc, "time", json_integer((json_int_t)clock_abs(clock_now())));
    json_object_set_new(doc, "data", data);
    return send_json(fd, doc);
}

/* --- arguments ---------------------------------------------------------- */

static const char *arg(const struct admin_args *a, const char *name)
{
    for (int i = 0; i < a->n; i++) {
        if (strcmp(a->name[i], name) == 0)
            return a->value[i];
    }
    return NULL;
}

static bool arg_u64(const struct admin_args *a, const char *name, uint64_t *out)
{
    const char *v = arg(a, name);
    return !v || parse_u64(v, strlen(v), out);
}

/* --- items: the streamed listing ---------------------------------------- */

enum item_state { ST_LIVE, ST_EXPIRED, ST_ALL };

struct item_row {
    struct engine_item_info info;
    item *held;         /* a reference taken for values=1, else NULL */
};

struct items_walk {
    int clsid;                  /* 0 = any */
    const char *prefix;
    size_t plen;
    enum item_state state;
    bool values;
    struct item_row *rows;
    int nrows, cap;
    bool overflow;      /* a bucket had more items than rows could grow to */
};

static void items_collect(const struct engine_item_info *info, item *it, void *arg)
{
    struct items_walk *w = arg;
    if (w->clsid && info->clsid != w->clsid)
        return;
    if (w->plen && (info->nkey < w->plen || memcmp(info->key, w->prefix, w->plen) != 0))
        return;
    if ((w->state == ST_LIVE && info->dead) || (w->state == ST_EXPIRED && !info->dead))
        return;
    if (w->nrows == w->cap) {
        /* Only a pathological chain gets here: grow under the bucket lock. */
        struct item_row *n = realloc(w->rows, sizeof(*n) * (size_t)w->cap * 2);
        if (!n) {
            w->overflow = true;
            return;
        }
        w->rows = n;
        w->cap *= 2;
    }
    struct item_row *r = &w->rows[w->nrows++];
    r->info = *info;
    r->held = NULL;
    if (w->values) {
        engine->hold(it);       /* released after the value is written */
        r->held = it;
    }
}

static json_t *item_json(const struct item_row *r, rel_time_t now)
{
    const struct engine_item_info *i = &r->info;
    json_t *o = json_object();
    dump_put_key(o, i->key, i->nkey);
    json_object_set_new(o, "class", json_integer(i->clsid));
    json_object_set_new(o, "size", json_integer(i->vlen));
    json_object_set_new(o, "flags", json_integer(i->flags));
    json_object_set_new(o, "exptime", json_integer((json_int_t)clock_abs(i->exptime)));
    json_object_set_new(o, "last_access", json_integer((json_int_t)clock_abs(i->time)));
    json_object_set_new(o, "age_secs", json_integer(now - i->time));
    json_object_set_new(o, "cas", json_integer((json_int_t)i->cas));
    json_object_set_new(o, "refcount", json_integer(i->refcount));
    json_object_set_new(o, "fetched", json_boolean(i->it_flags & ITEM_FETCHED));
    json_object_set_new(o, "dead", json_boolean(i->dead));
    if (r->held) {
        char *b = dump_base64(item_data(r->held), item_vlen(r->held));
        json_object_set_new(o, "value_base64", json_string(b ? b : ""));
        free(b);
    }
    return o;
}

static void cmd_items(int fd, const struct admin_args *a)
{
    uint64_t limit = UINT64_MAX, cursor = 0, clsid = 0;
    struct items_walk w = { 0 };
    const char *st = arg(a, "state");
    const char *vals = arg(a, "values");

    if (!arg_u64(a, "limit", &limit) || !arg_u64(a, "cursor", &cursor) ||
        !arg_u64(a, "class", &clsid) || clsid > 255 ||
        (st && strcmp(st, "live") && strcmp(st, "expired") && strcmp(st, "all")) ||
        (vals && strcmp(vals, "0") && strcmp(vals, "1"))) {
        send_error(fd, "items", ERR_ADMIN_BAD_ARGUMENT,
                   "items takes class=N prefix=P state=live|expired|all limit=N cursor=C values=0|1");
        return;
    }
    w.clsid = (int)clsid;
    w.prefix = arg(a, "prefix");
    w.plen = w.prefix ? strlen(w.prefix) : 0;
    w.state = !st || !strcmp(st, "live") ? ST_LIVE : !strcmp(st, "expired") ? ST_EXPIRED : ST_ALL;
    w.values = vals && !strcmp(vals, "1");
    if (w.values && !settings.dump_enabled) {
        send_error(fd, "items", ERR_ADMIN_DUMPING_DISABLED, NULL);
        return;
    }
    /* A batch is filled a whole bucket at a time, so it may pass
     * ITEMS_BATCH by one bucket's worth; items_collect grows it if so. */
    w.cap = ITEMS_BATCH * 2;
    w.rows = malloc(sizeof(*w.rows) * (size_t)w.cap);
    if (!w.rows) {
        send_error(fd, "items", ERR_ADMIN_BAD_ARGUMENT, "out of memory");
        return;
    }
    json_t *head = envelope("items");
    json_object_set_new(head, "stream", json_true());
    bool ok = send_json(fd, head);
    struct { char *p; size_t len, cap; } out = { NULL, 0, 0 };
    uint64_t sent = 0, buckets = 0;
    bool started = cursor != 0;
    while (ok && sent < limit) {
        w.nrows = 0;
        /* Walk buckets until a batch is full; the lock is held per bucket
         * only, inside engine->walk. */
        /* Whole buckets only, so the cursor stays exact: the last bucket
         * may take the listing a few items past limit. */
        uint64_t want = limit - sent < ITEMS_BATCH ? limit - sent : ITEMS_BATCH;
        uint64_t batch_t0 = now_ns();
        while ((uint64_t)w.nrows < want) {
            if (started && cursor == 0)
                break;
            started = true;
            cursor = engine->walk(cursor, items_collect, &w);
            buckets++;
            if (cursor == 0)
                break;
        }
        rel_time_t now = clock_now();
        latency_event("dump_batch", now_ns() - batch_t0);
        /* The batch leaves in one write: one syscall per batch, not per
         * item. Each line is dumped into the batch buffer directly. */
        out.len = 0;
        for (int i = 0; i < w.nrows; i++) {
            if (ok) {
                json_t *o = item_json(&w.rows[i], now);
                size_t need = json_dumpb(o, NULL, 0, JSON_COMPACT);
                if (out.len + need + 1 > out.cap) {
                    size_t cap = (out.len + need + 1) * 2;
                    char *np = realloc(out.p, cap);
                    if (np) {
                        out.p = np;
                        out.cap = cap;
                    }
                }
                if (out.len + need + 1 <= out.cap) {
                    out.len += json_dumpb(o, out.p + out.len, need, JSON_COMPACT);
                    out.p[out.len++] = '\n';
                    sent++;
                }
                json_decref(o);
            }
            /* the value was copied into the line: let the item go now */
            if (w.rows[i].held)
                engine->release(w.rows[i].held);
        }
        if (ok && out.len)
            ok = send_all(fd, out.p, out.len);
        /* Pace the listing to about a quarter of a core, so a dump of
         * millions of items never takes the CPU the data path needs. */
        uint64_t spent = now_ns() - batch_t0;
        uint64_t pause = spent * 3 > 50000000ULL ? 50000000ULL : spent * 3;
        struct timespec ts = { 0, (long)pause };
        nanosleep(&ts, NULL);
        if (cursor == 0)
            break;
    }
    free(w.rows);
    free(out.p);
    if (ok) {
        json_t *sum = json_pack("{s:{s:I, s:I, s:I, s:b, s:b}}", "summary",
            "items", (json_int_t)sent, "buckets", (json_int_t)buckets,
            "cursor", (json_int_t)cursor, "complete", cursor == 0,
            "truncated", w.overflow);
        send_json(fd, sum);
    }
}

/* --- the command table -------------------------------------------------- */

static json_t *dump_snapshot(void);
static json_t *dump_help(void);

struct admin_cmd {
    const char *name;
    const char *args;
    const char *help;
    json_t *(*build)(void);     /* one-document commands without arguments */
    json_t *(*run)(const struct admin_args *a, const char **why);   /* with */
};

static const struct admin_cmd commands[] = {
    { "help", "", "this list of commands", dump_help },
    { "stats", "", "every counter and gauge, with memcached's names", dump_stats },
    { "settings", "", "every setting the server runs with", dump_settings },
    { "slabs", "", "slab classes: chunk size, pages, chunks used and free, fragmentation", dump_slabs },
    { "lru", "", "per-class LRU: items, tail age, evictions and reclaims", dump_lru },
    { "errors", "", "the error registry: every site with its code, advice and counters, non-zero first", dump_errors },
    { "conns", "", "connections: peer, state, age, bytes, current command, held references", dump_conns },
    { "threads", "", "worker threads: connections, heartbeat, responsiveness", dump_threads },
    { "hash", "", "the hash table: size, expansion, chain-length histogram", dump_hash },
    { "locked", "", "items referenced beyond their resting count, with holders and suspected leaks", dump_locked },
    { "prefixes", "", "per-prefix statistics (stats detail)", dump_prefixes },
    { "memory", "", "every byte by owner beside RSS and -m; headroom per slab class", dump_memory },
    { "latency", "", "per-command service time: count, p50, p90, p99, p99.9, max", dump_latency },
    { "latency_events", "", "background work (hash growth, expiry passes, dump batches, accept storms): latest, max, history", dump_latency_events },
    { "commands", "", "per-command calls, total time, rejected and failed calls", dump_commands },
    { "slowlog", "[N | limit=N | reset]", "commands slower than slowlog_usec, newest first", NULL, run_slowlog },
    { "set", "slowlog_usec=N | slowlog_redact=0|1 | hotkeys=0|1 | verbosity=N", "change a setting at run time", NULL, run_set },
    { "hotkeys", "[N | limit=N]", "the hottest keys by requests and by bytes sent (sampled estimates)", NULL, run_hotkeys },
    { "history", "KIND|all [since=T] [limit=N]", "recorded events: eviction expiration error flush conn reject pagemove", NULL, run_history },
    { "watch", "KIND[,KIND...]", "stream events as they happen (newline-delimited JSON) until any line is sent", NULL },
    { "snapshot", "", "all of the above but items, in one document", dump_snapshot },
    { "items", "[class=N] [prefix=P] [state=live|expired|all] [limit=N] [cursor=C] [values=1]",
      "stream every item (newline-delimited JSON ending with a summary)", NULL },
    { "metrics", "", "every metric in Prometheus text format, ending with # EOF", NULL },
    { "quit", "", "close this admin connection", NULL },
};
#define NCOMMANDS (sizeof(commands) / sizeof(commands[0]))

static json_t *dump_help(void)
{
    json_t *arr = json_array();
    for (size_t i = 0; i < NCOMMANDS; i++)
        json_array_append_new(arr, json_pack("{s:s, s:s, s:s}", "name", commands[i].name,
                                             "args", commands[i].args,
                                             "description", commands[i].help));
    return json_pack("{s:o}", "commands", arr);
}

static json_t *dump_snapshot(void)
{
    json_t *sections = json_object();
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct admin_cmd *c = &commands[i];
        if (!c->build || c->build == dump_snapshot || c->build == dump_help ||
            c->build == dump_latency || c->build == dump_commands ||
            c->build == dump_latency_events)
            continue;
        json_t *d = c->build();
        json_object_set_new(d, "time", json_integer((json_int_t)clock_abs(clock_now())));
        json_object_set_new(sections, c->name, d);
    }
    json_t *h = dump_history_recent();
    json_object_set_new(h, "time", json_integer((json_int_t)clock_abs(clock_now())));
    json_object_set_new(sections, "history", h);
    return json_pack("{s:o}", "sections", sections);
}

/* Splits "cmd a=1 b=2" in place. Returns the command word or NULL. */
static char *parse_request(char *line, struct admin_args *a, bool *bad)
{
    char *save = NULL;
    char *cmd = strtok_r(line, " \t", &save);
    a->n = 0;
    *bad = false;
    for (char *t = strtok_r(NULL, " \t", &save); t; t = strtok_r(NULL, " \t", &save)) {
        char *eq = strchr(t, '=');
        if (eq == t || a->n == 16) {
            *bad = true;
            break;
        }
        /* A bare word is an argument with an empty value ("slowlog reset"). */
        if (eq)
            *eq = '\0';
        a->name[a->n] = t;
        a->value[a->n] = eq ? eq + 1 : "";
        a->n++;
    }
    return cmd;
}

static struct client *client_of(int fd)
{
    for (int i = 0; i < ADMIN_MAX_CLIENTS; i++)
        if (clients[i].fd == fd)
            return &clients[i];
    return NULL;
}

/* `watch KIND[,KIND]`: the client becomes a watcher; the admin loop sends
 * its events every 100 ms until the client sends any line. */
static bool start_watch(int fd, const struct admin_args *a)
{
    unsigned kinds = 0;
    char list[256] = "";
    if (a->n == 1 && !a->value[0][0])
        snprintf(list, sizeof(list), "%s", a->name[0]);
    char *save = NULL;
    for (char *k = strtok_r(list, ",", &save); k; k = strtok_r(NULL, ",", &save)) {
        enum hist_kind hk;
        if (strcmp(k, "all") == 0)
            kinds |= (1u << HK__COUNT) - 1;
        else if (history_kind_lookup(k, &hk))
            kinds |= 1u << hk;
        else
            kinds = 0, k = NULL;
        if (!k)
            break;
    }
    if (!kinds)
        return send_error(fd, "watch", ERR_ADMIN_BAD_ARGUMENT,
                          "watch takes KIND[,KIND...]: eviction expiration error flush conn reject pagemove all");
    struct client *c = client_of(fd);
    int id = c ? history_watch_open(kinds) : -1;
    if (id < 0)
        return send_error(fd, "watch", ERR_ADMIN_TOO_MANY_CLIENTS, "too many watchers");
    c->watch = id;
    c->lost = 0;
    json_t *head = envelope("watch");
    json_object_set_new(head, "stream", json_true());
    return send_json(fd, head);
}

static void stop_watch(struct client *c)
{
    if (c->watch < 0)
        return;
    history_watch_close(c->watch);
    c->watch = -1;
}

/* Sends a watcher what its queue holds; a client too slow to take it loses
 * events (counted and told), it never blocks the admin thread. */
static void pump_watch(struct client *c)
{
    enum { BATCH = 512 };
    static struct hist_event ev[BATCH];
    uint64_t lost;
    size_t n = history_watch_drain(c->watch, ev, BATCH, &lost);
    c->lost += lost;
    for (size_t i = 0; i < n; i++) {
        json_t *o = history_event_json(&ev[i]);
        char *txt = json_dumps(o, JSON_COMPACT);
        json_decref(o);
        if (!txt)
            continue;
        size_t len = strlen(txt);
        txt[len] = '\n';
        ssize_t w = send(c->fd, txt, len + 1, MSG_NOSIGNAL | MSG_DONTWAIT);
        free(txt);
        if (w != (ssize_t)len + 1) {
            if (w >= 0) {
                /* a partial line cannot be taken back: end the watch */
                stop_watch(c);
                return;
            }
            c->lost += n - i;
            break;
        }
    }
    if (c->lost) {
        char line[96];
        int len = snprintf(line, sizeof(line), "{\"lost\":%llu}\n", (unsigned long long)c->lost);
        if (send(c->fd, line, (size_t)len, MSG_NOSIGNAL | MSG_DONTWAIT) == len)
            c->lost = 0;
    }
}

/* Serves one request line; false when the connection should close. */
static bool handle(int fd, char *line)
{
    struct admin_args a;
    bool bad;
    char *cmd = parse_request(line, &a, &bad);
    if (!cmd)
        return true;    /* blank line */
    for (size_t i = 0; i < NCOMMANDS; i++) {
        const struct admin_cmd *c = &commands[i];
        if (strcmp(cmd, c->name) != 0)
            continue;
        if (strcmp(cmd, "quit") == 0)
            return false;
        if (bad || (c->build && a.n > 0))
            return send_error(fd, cmd, ERR_ADMIN_BAD_ARGUMENT, c->args[0] ? c->args : "takes no arguments");
        if (c->run) {
            const char *why = "bad arguments";
            json_t *d = c->run(&a, &why);
            return d ? send_data(fd, cmd, d) : send_error(fd, cmd, ERR_ADMIN_BAD_ARGUMENT, why);
        }
        if (strcmp(cmd, "watch") == 0)
            return start_watch(fd, &a);
        if (strcmp(cmd, "metrics") == 0) {
            size_t len;
            char *txt = metrics_text(&len);
            bool ok = txt && send_all(fd, txt, len) && send_all(fd, "# EOF\n", 6);
            free(txt);
            return ok;
        }
        if (!c->build) {
            for (int k = 0; k < a.n; k++) {
                if (!a.value[k][0])     /* items takes NAME=VALUE only */
                    return send_error(fd, cmd, ERR_ADMIN_BAD_ARGUMENT, c->args);
            }
            cmd_items(fd, &a);
            return true;
        }
        return send_data(fd, cmd, c->build());
    }
    return send_error(fd, cmd, ERR_ADMIN_UNKNOWN_COMMAND, "send 'help' for the list");
}

/* For the fuzz harness: one request line answered on fd. */
void admin_fuzz_request(int fd, const char *line)
{
    char buf[ADMIN_LINE_MAX];
    snprintf(buf, sizeof(buf), "%s", line);
    if (strncmp(buf, "watch", 5) == 0)
        return;     /* needs the admin loop */
    handle(fd, buf);
}

/* --- the thread --------------------------------------------------------- */

static void stop_watch(struct client *c);

static void client_close(struct client *c)
{
    stop_watch(c);
    close(c->fd);
    c->fd = -1;
    c->len = 0;
}

static void client_accept(int lfd)
{
    int fd = accept4(lfd, NULL, NULL, SOCK_CLOEXEC);
    if (fd < 0) {
        if (errno != EAGAIN && errno != EINTR)
            err_raise(ERR_ADMIN_ACCEPT_FAILED, 0);
        return;
    }
    struct timeval tv = { ADMIN_SEND_TIMEOUT_SECS, 0 };
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof(tv));
    for (int i = 0; i < ADMIN_MAX_CLIENTS; i++) {
        if (clients[i].fd < 0) {
            clients[i].fd = fd;
            clients[i].len = 0;
            clients[i].watch = -1;
            return;
        }
    }
    send_error(fd, "", ERR_ADMIN_TOO_MANY_CLIENTS, NULL);
    close(fd);
}

static void client_read(struct client *c)
{
    ssize_t n = recv(c->fd, c->buf + c->len, sizeof(c->buf) - c->len, 0);
    if (n <= 0) {
        client_close(c);
        return;
    }
    c->len += (size_t)n;
    char *nl;
    while (c->fd >= 0 && (nl = memchr(c->buf, '\n', c->len)) != NULL) {
        if (c->watch >= 0) {
            /* any line ends a watch */
            pump_watch(c);
            stop_watch(c);
            json_t *end = envelope("watch");
            json_object_set_new(end, "stopped", json_true());
            send_json(c->fd, end);
            size_t used = (size_t)(nl - c->buf) + 1;
            memmove(c->buf, c->buf + used, c->len - used);
            c->len -= used;
            continue;
        }
        *nl = '\0';
        if (nl > c->buf && nl[-1] == '\r')
            nl[-1] = '\0';
        size_t used = (size_t)(nl - c->buf) + 1;
        bool keep = handle(c->fd, c->buf);
        memmove(c->buf, c->buf + used, c->len - used);
        c->len -= used;
        if (!keep)
            client_close(c);
    }
    if (c->fd >= 0 && c->len == sizeof(c->buf)) {
        send_error(c->fd, "", ERR_ADMIN_LINE_TOO_LONG, NULL);
        client_close(c);
    }
}

static void *admin_main(void *arg)
{
    (void)arg;
    err_thread_register();
    stats_thread_register();
    history_thread_register("admin");
    struct live *live = live_register("admin", 0);
    for (;;) {
        struct pollfd pf[3 + ADMIN_MAX_CLIENTS];
        int n = 0;
        pf[n++] = (struct pollfd){ .fd = wake_pipe[0], .events = POLLIN };
        for (int i = 0; i < 2; i++)
            if (listen_fds[i] >= 0)
                pf[n++] = (struct pollfd){ .fd = listen_fds[i], .events = POLLIN };
        int first_client = n;
        for (int i = 0; i < ADMIN_MAX_CLIENTS; i++)
            pf[n++] = (struct pollfd){ .fd = clients[i].fd, .events = POLLIN };
        live_beat(live, "waiting for requests");
        bool watching = false;
        for (int i = 0; i < ADMIN_MAX_CLIENTS; i++)
            watching |= clients[i].fd >= 0 && clients[i].watch >= 0;
        if (poll(pf, (nfds_t)n, watching ? 100 : 1000) < 0) {
            if (errno == EINTR)
                continue;
            break;
        }
        if (pf[0].revents)
            break;      /* admin_stop */
        for (int i = 1; i < first_client; i++)
            if (pf[i].revents & POLLIN)
                client_accept(pf[i].fd);
        for (int i = 0; i < ADMIN_MAX_CLIENTS; i++)
            if (clients[i].fd >= 0 && pf[first_client + i].revents)
                client_read(&clients[i]);
        for (int i = 0; i < ADMIN_MAX_CLIENTS; i++)
            if (clients[i].fd >= 0 && clients[i].watch >= 0)
                pump_watch(&clients[i]);
    }
    for (int i = 0; i < ADMIN_MAX_CLIENTS; i++)
        if (clients[i].fd >= 0)
            client_close(&clients[i]);
    return NULL;
}

/* --- setup -------------------------------------------------------------- */

static int open_unix(const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "mcd: admin socket path '%s' is too long\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fprintf(stderr, "mcd: admin socket path '%s' exists and is not a socket\n", path);
            return -1;
        }
        /* A live server answers on it: never steal its socket. */
        int probe = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
        if (probe >= 0 && connect(probe, (struct sockaddr *)&sa, sizeof(sa)) == 0) {
            close(probe);
            fprintf(stderr, "mcd: admin socket '%s' is in use by a running server\n", path);
            return -1;
        }
        if (probe >= 0)
            close(probe);
        unlink(path);   /* stale */
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0)
        return -1;
    mode_t old = umask(0177);
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0 || chmod(path, 0600) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "mcd: cannot open admin socket '%s': %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

static int open_tcp(int port)
{
    struct sockaddr_in sa = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (fd < 0)
        return -1;
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
    if (bind(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 || listen(fd, 16) != 0) {
        fprintf(stderr, "mcd: cannot open admin port 127.0.0.1:%d: %s\n", port, strerror(errno));
        close(fd);
        return -1;
    }
    return fd;
}

int admin_start(void)
{
    for (int i = 0; i < ADMIN_MAX_CLIENTS; i++) {
        clients[i].fd = -1;
        clients[i].watch = -1;
    }
    const char *path = settings.admin_socket;
    if (path && strcmp(path, "off") == 0)
        path = NULL;
    if (path) {
        snprintf(socket_path, sizeof(socket_path), "%s", path);
        if ((listen_fds[0] = open_unix(socket_path)) < 0)
            return -1;
    }
    if (settings.admin_port > 0 && (listen_fds[1] = open_tcp(settings.admin_port)) < 0)
        return -1;
    if (listen_fds[0] < 0 && listen_fds[1] < 0)
        return 0;
    if (pipe2(wake_pipe, O_CLOEXEC) != 0 ||
        pthread_create(&admin_thread, NULL, admin_main, NULL) != 0) {
        fprintf(stderr, "mcd: cannot start the admin thread\n");
        return -1;
    }
    running = true;
    return 0;
}

void admin_stop(void)
{
    if (!running)
        return;
    ssize_t w = write(wake_pipe[1], "q", 1);
    (void)w;
    pthread_join(admin_thread, NULL);
    running = false;
    for (int i = 0; i < 2; i++)
        if (listen_fds[i] >= 0)
            close(listen_fds[i]);
    close(wake_pipe[0]);
    close(wake_pipe[1]);
    if (socket_path[0])
        unlink(socket_path);
}
