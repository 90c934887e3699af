/*
 * metrics.c - Prometheus text exposition of mcd's counters: the names of
 * Prometheus' memcached exporter (memcached_*) where the meaning is the
 * same, then mcd's own (mcd_*): per-site error counters and per-command
 * latency histograms. Served by the admin socket's `metrics` command and,
 * with -o metrics_listen=[ADDR:]PORT, by a small evhttp endpoint (/metrics,
 * /healthz) on its own thread.
 */
#include "introspect.h"

#include <event2/buffer.h>
#include <fcntl.h>
#include <unistd.h>
#include <event2/event.h>
#include <event2/http.h>
#include <pthread.h>
#include <stdarg.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "../mcd/errors.h"
#include "../mcd/latency.h"
#include "../mcd/settings.h"
#include "../mcd/stats_text.h"
#include "../mcd/thread.h"
#include "../mcd/util.h"

/* --- a growing text buffer ---------------------------------------------- */

struct text {
    char *p;
    size_t len, cap;
    bool failed;
};

static void put(struct text *t, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
static void put(struct text *t, const char *fmt, ...)
{
    for (;;) {
        va_list ap;
        va_start(ap, fmt);
        int n = vsnprintf(t->p ? t->p + t->len : NULL, t->p ? t->cap - t->len : 0, fmt, ap);
        va_end(ap);
        if (n < 0)
            return;
        if (t->p && t->len + (size_t)n < t->cap) {
            t->len += (size_t)n;
            return;
        }
        size_t cap = t->cap ? t->cap * 2 : 16384;
        while (cap < t->len + (size_t)n + 1)
            cap *= 2;
        char *np = realloc(t->p, cap);
        if (!np) {
            t->failed = true;
            return;
        }
        t->p = np;
        t->cap = cap;
    }
}

/* --- stats by name ------------------------------------------------------ */

struct statmap {
    json_t *o;
};

static void grab(void *ctx, const char *name, const char *value)
{
    json_object_set_new(((struct statmap *)ctx)->o, name, json_string(value));
}

static const char *sv(json_t *o, const char *name)
{
    const char *v = json_string_value(json_object_get(o, name));
    return v ? v : "0";
}

static void metric(struct text *t, const char *name, const char *type, const char *help,
                   const char *value)
{
    put(t, "# HELP %s %s\n# TYPE %s %s\n%s %s\n", name, help, name, type, name, value);
}

/* The memcached exporter's families, from `stats` and its names. */
static void memcached_family(struct text *t, json_t *s)
{
    put(t, "# HELP memcached_up Could the server be queried.\n# TYPE memcached_up gauge\nmemcached_up 1\n");
    metric(t, "memcached_uptime_seconds", "gauge", "Seconds since the server started.", sv(s, "uptime"));
    put(t, "# HELP memcached_version The version of this server.\n# TYPE memcached_version gauge\n"
           "memcached_version{version=\"%s\"} 1\n", sv(s, "version"));
    put(t, "# HELP memcached_commands_total Total number of all requests broken down by command and status.\n"
           "# TYPE memcached_commands_total counter\n");
    static const char *const rows[][3] = {
        { "get", "hit", "get_hits" }, { "get", "miss", "get_misses" },
        { "get", "expired", "get_expired" }, { "get", "flushed", "get_flushed" },
        { "set", "hit", "cmd_set" }, { "flush", "hit", "cmd_flush" },
        { "touch", "hit", "touch_hits" }, { "touch", "miss", "touch_misses" },
        { "delete", "hit", "delete_hits" }, { "delete", "miss", "delete_misses" },
        { "incr", "hit", "incr_hits" }, { "incr", "miss", "incr_misses" },
        { "decr", "hit", "decr_hits" }, { "decr", "miss", "decr_misses" },
        { "cas", "hit", "cas_hits" }, { "cas", "miss", "cas_misses" },
        { "cas", "badval", "cas_badval" },
    };
    for (size_t i = 0; i < sizeof(rows) / sizeof(rows[0]); i++)
        put(t, "memcached_commands_total{command=\"%s\",status=\"%s\"} %s\n",
            rows[i][0], rows[i][1], sv(s, rows[i][2]));
    metric(t, "memcached_process_user_cpu_seconds_total", "counter", "User CPU seconds.", sv(s, "rusage_user"));
    metric(t, "memcached_process_system_cpu_seconds_total", "counter", "System CPU seconds.", sv(s, "rusage_system"));
    metric(t, "memcached_current_bytes", "gauge", "Current number of bytes used to store items.", sv(s, "bytes"));
    metric(t, "memcached_limit_bytes", "gauge", "Number of bytes this server is allowed to use for storage.", sv(s, "limit_maxbytes"));
    metric(t, "memcached_current_items", "gauge", "Current number of items stored.", sv(s, "curr_items"));
    metric(t, "memcached_items_total", "counter", "Total number of items stored during the life of this instance.", sv(s, "total_items"));
    metric(t, "memcached_items_evicted_total", "counter", "Total number of valid items removed from cache to free memory for new items.", sv(s, "evictions"));
    metric(t, "memcached_items_reclaimed_total", "counter", "Total number of times an entry was stored using memory from an expired entry.", sv(s, "reclaimed"));
    metric(t, "memcached_item_evicted_unfetched_total", "counter", "Items evicted that were never read.", sv(s, "evicted_unfetched"));
    metric(t, "memcached_item_expired_unfetched_total", "counter", "Items expired that were never read.", sv(s, "expired_unfetched"));
    metric(t, "memcached_lru_crawler_starts_total", "counter", "Times the background expiry sweep (memcached: LRU crawler) started.", sv(s, "lru_crawler_starts"));
    metric(t, "memcached_lru_crawler_items_checked_total", "counter", "Items the background expiry sweep examined.", sv(s, "crawler_items_checked"));
    metric(t, "memcached_lru_crawler_reclaimed_total", "counter", "Expired or flushed items the background expiry sweep freed.", sv(s, "crawler_reclaimed"));
    metric(t, "memcached_current_connections", "gauge", "Current number of open connections.", sv(s, "curr_connections"));
    metric(t, "memcached_max_connections", "gauge", "Maximum number of clients allowed.", sv(s, "max_connections"));
    metric(t, "memcached_connections_total", "counter", "Total number of connections opened since the server started running.", sv(s, "total_connections"));
    metric(t, "memcached_connections_rejected_total", "counter", "Total number of connections rejected due to hitting -c.", sv(s, "rejected_connections"));
    metric(t, "memcached_connections_listener_disabled_total", "counter", "Number of times accepting was paused for lack of file descriptors.", sv(s, "listen_disabled_num"));
    metric(t, "memcached_connections_yielded_total", "counter", "Total number of connections yielded due to hitting -R.", sv(s, "conn_yields"));
    metric(t, "memcached_read_bytes_total", "counter", "Total number of bytes read by this server from network.", sv(s, "bytes_read"));
    metric(t, "memcached_written_bytes_total", "counter", "Total number of bytes sent by this server to network.", sv(s, "bytes_written"));
    metric(t, "memcached_malloced_bytes", "gauge", "Number of bytes of memory allocated to slab pages.", sv(s, "total_malloced"));
    metric(t, "memcached_malloc_fails_total", "counter", "Allocations the operating system refused.", sv(s, "malloc_fails"));
}

static void error_family(struct text *t)
{
    put(t, "# HELP mcd_errors_total Times each error site fired; see mcd-errors(7).\n"
           "# TYPE mcd_errors_total counter\n");
    for (int i = 0; i < ERR__COUNT; i++) {
        const struct err_info *e = err_info((enum err_site)i);
        put(t, "mcd_errors_total{code=\"E%04d\",name=\"%s\"} %llu\n", e->code, e->name,
            (unsigned long long)err_total((enum err_site)i));
    }
}

/* Latency histograms, re-bucketed to fixed bounds from the log-linear ones
 * (each count lands in the first bound at or above its bucket's top). */
static void latency_family(struct text *t)
{
    static const double bounds[] = { 1e-6, 5e-6, 1e-5, 2.5e-5, 5e-5, 1e-4, 2.5e-4,
                                     5e-4, 1e-3, 5e-3, 1e-2, 5e-2, 0.1, 0.5, 1, 5 };
    enum { NB = sizeof(bounds) / sizeof(bounds[0]) };
    put(t, "# HELP mcd_command_duration_seconds Service time of commands, whole command in memory to reply queued.\n"
           "# TYPE mcd_command_duration_seconds histogram\n");
    struct lat_summary *s = malloc(sizeof(*s));
    if (!s)
        return;
    for (int c = 0; c < CMD__COUNT; c++) {
        latency_read((enum cmd_id)c, s);
        if (s->calls == 0)
            continue;
        uint64_t cum[NB] = { 0 };
        for (int b = 0; b < LAT_BUCKETS; b++) {
            if (!s->hist[b])
                continue;
            double top = (double)latency_bucket_upper(b) / 1e9;
            for (int k = 0; k < NB; k++) {
                if (top <= bounds[k]) {
                    cum[k] += s->hist[b];
                    break;
                }
            }
        }
        uint64_t run = 0;
        for (int k = 0; k < NB; k++) {
            run += cum[k];
            put(t, "mcd_command_duration_seconds_bucket{command=\"%s\",le=\"%g\"} %llu\n",
                cmd_name((enum cmd_id)c), bounds[k], (unsigned long long)run);
        }
        put(t, "mcd_command_duration_seconds_bucket{command=\"%s\",le=\"+Inf\"} %llu\n",
            cmd_name((enum cmd_id)c), (unsigned long long)s->calls);
        put(t, "mcd_command_duration_seconds_sum{command=\"%s\"} %.9f\n",
            cmd_name((enum cmd_id)c), (double)s->total_ns / 1e9);
        put(t, "mcd_command_duration_seconds_count{command=\"%s\"} %llu\n",
            cmd_name((enum cmd_id)c), (unsigned long long)s->calls);
    }
    free(s);
}

char *metrics_text(size_t *len)
{
    struct text t = { 0 };
    struct statmap m = { json_object() };
    stats_group("", 0, grab, &m);
    memcached_family(&t, m.o);
    json_decref(m.o);
    error_family(&t);
    latency_family(&t);
    if (t.failed) {
        free(t.p);
        return NULL;
    }
    *len = t.len;
    return t.p;
}

/* --- the HTTP endpoint ------------------------------------------------- */

static struct event_base *http_base;
static struct evhttp *http;
static pthread_t http_thread;
static bool http_running;
static int stop_pipe[2] = { -1, -1 };
static struct event *stop_ev;

/* The endpoint's loop is stopped through a pipe: libevent bases are not
 * made thread-aware (that would cost the data path's loops too). */
static void on_stop(evutil_socket_t fd, short which, void *arg)
{
    (void)fd;
    (void)which;
    event_base_loopbreak(arg);
}

static void on_metrics(struct evhttp_request *req, void *arg)
{
    (void)arg;
    size_t len;
    char *body = metrics_text(&len);
    if (!body) {
        evhttp_send_error(req, HTTP_INTERNAL, "out of memory");
        return;
    }
    struct evbuffer *out = evbuffer_new();
    evbuffer_add(out, body, len);
    free(body);
    evhttp_add_header(evhttp_request_get_output_headers(req), "Content-Type",
                      "text/plain; version=0.0.4; charset=utf-8");
    evhttp_send_reply(req, HTTP_OK, "OK", out);
    evbuffer_free(out);
}

static void on_healthz(struct evhttp_request *req, void *arg)
{
    (void)arg;
    rel_time_t now = clock_now();
    bool ok = true;
    for (int i = 0; i < nthreads; i++) {
        rel_time_t hb = __atomic_load_n(&threads[i].heartbeat, __ATOMIC_RELAXED);
        if (now > hb && now - hb > 5)
            ok = false;     /* a worker's loop has not ticked for 5 s */
    }
    struct evbuffer *out = evbuffer_new();
    evbuffer_add_printf(out, ok ? "ok\n" : "a worker thread is not making progress\n");
    evhttp_send_reply(req, ok ? HTTP_OK : HTTP_SERVUNAVAIL, ok ? "OK" : "Unavailable", out);
    evbuffer_free(out);
}

static void *http_main(void *arg)
{
    (void)arg;
    err_thread_register();
    event_base_dispatch(http_base);
    return NULL;
}

int metrics_http_start(void)
{
    if (!settings.metrics_listen)
        return 0;
    char host[256] = "127.0.0.1";
    const char *spec = settings.metrics_listen, *colon = strrchr(spec, ':');
    int port;
    if (colon) {
        size_t hl = (size_t)(colon - spec);
        if (hl >= sizeof(host))
            return -1;
        memcpy(host, spec, hl);
        host[hl] = '\0';
        port = atoi(colon + 1);
    } else {
        port = atoi(spec);
    }
    if (port <= 0 || port > 65535) {
        fprintf(stderr, "mcd: -o metrics_listen needs [ADDR:]PORT\n");
        return -1;
    }
    http_base = event_base_new();
    http = http_base ? evhttp_new(http_base) : NULL;
    if (!http || evhttp_bind_socket(http, host, (uint16_t)port) != 0) {
        fprintf(stderr, "mcd: cannot serve metrics on %s:%d\n", host, port);
        return -1;
    }
    if (pipe2(stop_pipe, O_CLOEXEC) != 0)
        return -1;
    stop_ev = event_new(http_base, stop_pipe[0], EV_READ, on_stop, http_base);
    if (!stop_ev || event_add(stop_ev, NULL) != 0)
        return -1;
    evhttp_set_cb(http, "/metrics", on_metrics, NULL);
    evhttp_set_cb(http, "/healthz", on_healthz, NULL);
    evhttp_set_allowed_methods(http, EVHTTP_REQ_GET | EVHTTP_REQ_HEAD);
    if (pthread_create(&http_thread, NULL, http_main, NULL) != 0)
        return -1;
    http_running = true;
    return 0;
}

void metrics_http_stop(void)
{
    if (!http_running)
        return;
    ssize_t w = write(stop_pipe[1], "q", 1);
    (void)w;
    pthread_join(http_thread, NULL);
    event_free(stop_ev);
    close(stop_pipe[0]);
    close(stop_pipe[1]);
    evhttp_free(http);
    event_base_free(http_base);
    http_running = false;
}
