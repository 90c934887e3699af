/*
 * dump_history.c - the admin socket's view of the history rings: `history
 * KIND [since=T] [limit=N]`, and the event objects `watch` streams.
 */
#include "introspect.h"

#include <stdlib.h>
#include <string.h>

#include "../mcd/history.h"
#include "../mcd/util.h"

json_t *history_event_json(const struct hist_event *e)
{
    json_t *o = json_pack("{s:I, s:I, s:s, s:s, s:i, s:i, s:i, s:I, s:I, s:I, s:b, s:s}",
        "seq", (json_int_t)e->seq, "time", (json_int_t)e->time,
        "kind", history_kind_name(e->kind), "what", e->what ? e->what : "",
        "code", e->code, "class", e->clsid, "class_to", e->clsid2,
        "conn_id", (json_int_t)e->conn_id, "size", (json_int_t)e->size,
        "age_secs", (json_int_t)e->age, "fetched", e->fetched, "peer", e->peer);
    size_t kept = e->nkey < HIST_KEY_MAX ? e->nkey : HIST_KEY_MAX;
    if (e->nkey && !e->key[0] && kept) {
        json_object_set_new(o, "key", json_string(""));    /* redacted */
    } else {
        dump_put_key(o, e->key, kept);
    }
    json_object_set_new(o, "key_length", json_integer(e->nkey));
    return o;
}

static json_t *events_json(enum hist_kind kind, time_t since, size_t limit)
{
    struct hist_event *ev = malloc(sizeof(*ev) * (limit ? limit : 1));
    json_t *arr = json_array();
    if (!ev)
        return arr;
    size_t n = history_read(kind, since, ev, limit);
    for (size_t i = 0; i < n; i++)
        json_array_append_new(arr, history_event_json(&ev[i]));
    free(ev);
    return arr;
}

json_t *run_history(const struct admin_args *a, const char **why)
{
    enum hist_kind kind = HK__COUNT;
    uint64_t since = 0, limit = 100;
    for (int i = 0; i < a->n; i++) {
        const char *n = a->name[i], *v = a->value[i];
        if (!v[0] && (strcmp(n, "all") == 0 || history_kind_lookup(n, &kind))) {
            if (strcmp(n, "all") == 0)
                kind = HK__COUNT;
        } else if (strcmp(n, "since") == 0 && parse_u64(v, strlen(v), &since)) {
        } else if (strcmp(n, "limit") == 0 && parse_u64(v, strlen(v), &limit) && limit <= 100000) {
        } else {
            *why = "history takes KIND (eviction, expiration, error, flush, conn, reject, "
                   "pagemove or all) [since=UNIXTIME] [limit=N]";
            return NULL;
        }
    }
    json_t *counts = json_object();
    for (int k = 0; k < HK__COUNT; k++)
        json_object_set_new(counts, history_kind_name((enum hist_kind)k),
                            json_integer((json_int_t)history_count((enum hist_kind)k)));
    return json_pack("{s:s, s:o, s:o}", "kind", history_kind_name(kind),
                     "events", events_json(kind, (time_t)since, (size_t)limit),
                     "recorded", counts);
}

json_t *dump_history_recent(void)
{
    json_t *counts = json_object();
    for (int k = 0; k < HK__COUNT; k++)
        json_object_set_new(counts, history_kind_name((enum hist_kind)k),
                            json_integer((json_int_t)history_count((enum hist_kind)k)));
    return json_pack("{s:s, s:o, s:o}", "kind", "all", "events", events_json(HK__COUNT, 0, 200),
                     "recorded", counts);
}
