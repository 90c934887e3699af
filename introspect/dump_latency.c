/*
 * dump_latency.c - the admin socket's latency, commands and slowlog
 * documents, and `set` for the settings that may change at run time.
 */
#include "introspect.h"

#include <stdlib.h>
#include <string.h>

#include "../mcd/hotkeys.h"
#include "../mcd/latency.h"
#include "../mcd/thread.h"
#include "../mcd/settings.h"
#include "../mcd/util.h"

static double us(uint64_t ns)
{
    return (double)ns / 1000.0;
}

json_t *dump_latency(void)
{
    json_t *arr = json_array();
    for (int i = 0; i < CMD__COUNT; i++) {
        struct lat_summary s;
        latency_read((enum cmd_id)i, &s);
        if (s.calls == 0)
            continue;
        json_array_append_new(arr, json_pack(
            "{s:s, s:I, s:f, s:f, s:f, s:f, s:f, s:f}",
            "command", cmd_name((enum cmd_id)i),
            "count", (json_int_t)s.calls,
            "mean_us", us(s.total_ns / s.calls),
            "p50_us", us(latency_quantile(&s, 0.50)),
            "p90_us", us(latency_quantile(&s, 0.90)),
            "p99_us", us(latency_quantile(&s, 0.99)),
            "p999_us", us(latency_quantile(&s, 0.999)),
            "max_us", us(s.max_ns)));
    }
    return json_pack("{s:o, s:s}", "commands", arr,
                     "measures", "from a whole command in memory to its reply queued");
}

json_t *dump_latency_events(void)
{
    struct lat_event ev[LAT_EVENTS_MAX];
    int n = latency_events_read(ev, LAT_EVENTS_MAX);
    json_t *arr = json_array();
    for (int i = 0; i < n; i++) {
        json_t *h = json_array();
        unsigned kept = ev[i].next < LAT_EVENT_HISTORY ? ev[i].next : LAT_EVENT_HISTORY;
        for (unsigned k = 0; k < kept; k++) {
            unsigned idx = (ev[i].next - kept + k) % LAT_EVENT_HISTORY;
            json_array_append_new(h, json_pack("{s:I, s:f}", "time", (json_int_t)ev[i].history[idx].time,
                                               "ms", (double)ev[i].history[idx].ns / 1e6));
        }
        json_array_append_new(arr, json_pack("{s:s, s:I, s:f, s:I, s:f, s:I, s:f, s:o}",
            "event", ev[i].name, "count", (json_int_t)ev[i].count,
            "latest_ms", (double)ev[i].latest_ns / 1e6, "latest_time", (json_int_t)ev[i].latest_time,
            "max_ms", (double)ev[i].max_ns / 1e6, "max_time", (json_int_t)ev[i].max_time,
            "mean_ms", ev[i].count ? (double)ev[i].total_ns / 1e6 / (double)ev[i].count : 0.0,
            "history", h));
    }
    return json_pack("{s:o}", "events", arr);
}

json_t *dump_commands(void)
{
    json_t *arr = json_array();
    for (int i = 0; i < CMD__COUNT; i++) {
        struct lat_summary s;
        latency_read((enum cmd_id)i, &s);
        if (s.calls == 0)
            continue;
        json_array_append_new(arr, json_pack("{s:s, s:I, s:I, s:I, s:I}",
            "command", cmd_name((enum cmd_id)i),
            "calls", (json_int_t)s.calls,
            "total_us", (json_int_t)(s.total_ns / 1000),
            "rejected", (json_int_t)s.rejected,
            "failed", (json_int_t)s.failed));
    }
    return json_pack("{s:o}", "commands", arr);
}

json_t *run_slowlog(const struct admin_args *a, const char **why)
{
    size_t limit = SLOWLOG_LEN;
    for (int i = 0; i < a->n; i++) {
        if (strcmp(a->name[i], "reset") == 0 && !a->value[i][0]) {
            slowlog_reset();
        } else if (strcmp(a->name[i], "limit") == 0 || !a->value[i][0]) {
            const char *v = a->value[i][0] ? a->value[i] : a->name[i];
            uint64_t n;
            if (!parse_u64(v, strlen(v), &n)) {
                *why = "slowlog takes [N | limit=N | reset]";
                return NULL;
            }
            limit = n < SLOWLOG_LEN ? (size_t)n : SLOWLOG_LEN;
        } else {
            *why = "slowlog takes [N | limit=N | reset]";
            return NULL;
        }
    }
    struct slow_entry *e = calloc(SLOWLOG_LEN, sizeof(*e));
    if (!e) {
        *why = "out of memory";
        return NULL;
    }
    size_t n = slowlog_read(e, limit);
    json_t *arr = json_array();
    for (size_t i = 0; i < n; i++) {
        json_t *o = json_pack("{s:I, s:I, s:I, s:s, s:I, s:s}",
            "id", (json_int_t)e[i].id, "time", (json_int_t)e[i].when,
            "duration_us", (json_int_t)e[i].duration_us,
            "command", cmd_name(e[i].cmd),
            "conn_id", (json_int_t)e[i].conn_id, "peer", e[i].peer);
        dump_put_key(o, e[i].key, e[i].nkey);
        json_array_append_new(arr, o);
    }
    free(e);
    return json_pack("{s:o, s:I, s:I, s:b}", "entries", arr,
                     "threshold_us", (json_int_t)__atomic_load_n(&slowlog_usec, __ATOMIC_RELAXED),
                     "logged_total", (json_int_t)slowlog_total(),
                     "redacted", __atomic_load_n(&slowlog_redact, __ATOMIC_RELAXED));
}

/* Settings that may change while the server runs. */
json_t *run_set(const struct admin_args *a, const char **why)
{
    json_t *changed = json_object();
    if (a->n == 0) {
        *why = "set takes slowlog_usec=N, slowlog_redact=0|1, hotkeys=0|1 or verbosity=N";
        json_decref(changed);
        return NULL;
    }
    for (int i = 0; i < a->n; i++) {
        const char *v = a->value[i];
        uint64_t n;
        if (!parse_u64(v, strlen(v), &n)) {
            *why = "set takes NAME=NUMBER";
            json_decref(changed);
            return NULL;
        }
        if (strcmp(a->name[i], "slowlog_usec") == 0) {
            __atomic_store_n(&slowlog_usec, n, __ATOMIC_RELAXED);
        } else if (strcmp(a->name[i], "slowlog_redact") == 0 && n <= 1) {
            __atomic_store_n(&slowlog_redact, n == 1, __ATOMIC_RELAXED);
        } else if (strcmp(a->name[i], "hotkeys") == 0 && n <= 1) {
            __atomic_store_n(&hotkeys_enabled, n == 1, __ATOMIC_RELAXED);
        } else if (strcmp(a->name[i], "verbosity") == 0 && n <= 3) {
            __atomic_store_n(&settings.verbose, (int)n, __ATOMIC_RELAXED);
        } else {
            *why = "set takes slowlog_usec=N, slowlog_redact=0|1, hotkeys=0|1 or verbosity=N";
            json_decref(changed);
            return NULL;
        }
        json_object_set_new(changed, a->name[i], json_integer((json_int_t)n));
    }
    return json_pack("{s:o}", "changed", changed);
}

/* --- hot keys ------------------------------------------------------------ */

struct hk_merge {
    json_t *req;    /* key -> [count, err] */
    json_t *bytes;
};

static void merge_table(json_t *into, const struct hk_table *t)
{
    for (int i = 0; i < t->n; i++) {
        char *k = dump_base64(t->key[i], t->nkey[i]);   /* a safe object key */
        if (!k)
            continue;
        json_t *cur = json_object_get(into, k);
        json_int_t c = cur ? json_integer_value(json_array_get(cur, 0)) : 0;
        json_int_t r = cur ? json_integer_value(json_array_get(cur, 1)) : 0;
        json_object_set_new(into, k, json_pack("[I, I]", c + (json_int_t)t->count[i],
                                               r + (json_int_t)t->err[i]));
        free(k);
    }
}

static void copy_hotkeys(struct thread *t, void *arg)
{
    struct hk_merge *m = arg;
    if (!t->hotkeys)
        return;
    merge_table(m->req, &t->hotkeys->req);
    merge_table(m->bytes, &t->hotkeys->bytes);
}

static int by_first(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_array_get(json_object_get(*(json_t *const *)a, "v"), 0));
    json_int_t y = json_integer_value(json_array_get(json_object_get(*(json_t *const *)b, "v"), 0));
    return x > y ? -1 : x < y;
}

static unsigned char b64val(char ch)
{
    if (ch >= 'A' && ch <= 'Z') return (unsigned char)(ch - 'A');
    if (ch >= 'a' && ch <= 'z') return (unsigned char)(ch - 'a' + 26);
    if (ch >= '0' && ch <= '9') return (unsigned char)(ch - '0' + 52);
    return ch == '+' ? 62 : 63;
}

static size_t unb64(const char *in, char *out)
{
    size_t n = 0, len = strlen(in);
    for (size_t i = 0; i + 3 < len + 1 && i < len; i += 4) {
        uint32_t v = (uint32_t)b64val(in[i]) << 18 | (uint32_t)b64val(in[i + 1]) << 12;
        out[n++] = (char)(v >> 16);
        if (in[i + 2] != '=') {
            v |= (uint32_t)b64val(in[i + 2]) << 6;
            out[n++] = (char)((v >> 8) & 0xff);
        }
        if (in[i + 3] != '=') {
            v |= b64val(in[i + 3]);
            out[n++] = (char)(v & 0xff);
        }
    }
    return n;
}

static json_t *top_list(json_t *merged, size_t limit, const char *field)
{
    size_t n = json_object_size(merged), k = 0;
    json_t **v = malloc(sizeof(*v) * (n ? n : 1));
    json_t *out = json_array();
    const char *key;
    json_t *val;
    if (!v)
        return out;
    json_object_foreach(merged, key, val)
        v[k++] = json_pack("{s:s, s:O}", "k", key, "v", val);
    qsort(v, k, sizeof(*v), by_first);
    for (size_t i = 0; i < k; i++) {
        if (i < limit) {
            char raw[256];
            size_t len = unb64(json_string_value(json_object_get(v[i], "k")), raw);
            json_t *a = json_object_get(v[i], "v");
            json_t *o = json_object();
            dump_put_key(o, raw, len);
            json_object_set_new(o, field, json_integer(json_integer_value(json_array_get(a, 0)) * HK_SAMPLE));
            json_object_set_new(o, "error", json_integer(json_integer_value(json_array_get(a, 1)) * HK_SAMPLE));
            json_array_append_new(out, o);
        }
        json_decref(v[i]);
    }
    free(v);
    return out;
}

json_t *run_hotkeys(const struct admin_args *a, const char **why)
{
    uint64_t limit = 20;
    for (int i = 0; i < a->n; i++) {
        const char *v = a->value[i][0] ? a->value[i] : a->name[i];
        if ((strcmp(a->name[i], "limit") != 0 && a->value[i][0]) ||
            !parse_u64(v, strlen(v), &limit) || limit > HK_K * 8) {
            *why = "hotkeys takes [N | limit=N]";
            return NULL;
        }
    }
    struct hk_merge m = { json_object(), json_object() };
    for (int i = 0; i < nthreads; i++)
        thread_call(&threads[i], copy_hotkeys, &m, 1000);
    json_t *out = json_pack("{s:b, s:i, s:o, s:o}",
        "enabled", __atomic_load_n(&hotkeys_enabled, __ATOMIC_RELAXED),
        "sample_rate", HK_SAMPLE,
        "by_requests", top_list(m.req, (size_t)limit, "requests"),
        "by_bytes", top_list(m.bytes, (size_t)limit, "bytes"));
    json_decref(m.req);
    json_decref(m.bytes);
    return out;
}
