/*
 * dump_latency.c - the admin socket's latency, commands and slowlog
 * documents, and `set` for the settings that may change at run time.
 */
#include "introspect.h"

#include <stdlib.h>
#include <string.h>

#include "../mcd/latency.h"
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
        *why = "set takes slowlog_usec=N, slowlog_redact=0|1 or verbosity=N";
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
        } else if (strcmp(a->name[i], "verbosity") == 0 && n <= 3) {
            __atomic_store_n(&settings.verbose, (int)n, __ATOMIC_RELAXED);
        } else {
            *why = "set takes slowlog_usec=N, slowlog_redact=0|1 or verbosity=N";
            json_decref(changed);
            return NULL;
        }
        json_object_set_new(changed, a->name[i], json_integer((json_int_t)n));
    }
    return json_pack("{s:o}", "changed", changed);
}
