/*
 * diff.c - what changed between two snapshots, and how fast.
 *
 * Needs nothing beyond the documented schema: every numeric stat that is
 * not listed in "gauges" is a counter that only grows, so its change over
 * the interval is a delta and a rate; gauges are shown before -> after.
 * The interval is the difference of the stats sections' own "time"
 * (the server's clock), falling back to our capture times.
 *
 * diff_build() makes one JSON document (what --json prints); diff_print()
 * renders that same document as text, so the two never disagree.
 */
#include "mcadmin.h"

#include <math.h>
#include <string.h>

/* --- helpers ------------------------------------------------------------- */

static const json_t *sec(const json_t *doc, const char *name, const char *member)
{
    return jx_get(snap_section(doc, name), member);
}

static bool in_strings(const json_t *arr, const char *s)
{
    size_t i;
    const json_t *v;
    json_array_foreach(arr, i, v)
        if (json_is_string(v) && strcmp(json_string_value(v), s) == 0)
            return true;
    return false;
}

/* Integral values stay integers in the JSON (counters are integers). */
static json_t *num_json(double v)
{
    if (v == floor(v) && fabs(v) < 9e15)
        return json_integer((json_int_t)v);
    return json_real(v);
}

static json_t *rate_of(double delta, double secs)
{
    return secs > 0 ? json_real(delta / secs) : json_null();
}

/* The row of arr whose integer member id equals want. */
static const json_t *row_by(const json_t *arr, const char *id, long long want)
{
    size_t i;
    const json_t *r;
    json_array_foreach(arr, i, r)
        if (jx_int(r, id, -1) == want)
            return r;
    return NULL;
}

static json_t *identity_of(const json_t *doc, const char *name)
{
    const json_t *s = jx_get(doc, "server");
    return json_pack("{s:s, s:I, s:s, s:I, s:I, s:I}", "file", name,
        "captured_at", (json_int_t)jx_int(doc, "captured_at", 0),
        "version", jx_str(s, "version", "?"), "pid", (json_int_t)jx_int(s, "pid", 0),
        "started", (json_int_t)jx_int(s, "started", 0),
        "time", (json_int_t)jx_int(snap_section(doc, "stats"), "time", 0));
}

/* --- sections ------------------------------------------------------------ */

static void diff_stats(const json_t *a, const json_t *b, double secs, json_t *out,
                       bool *went_back)
{
    const json_t *sa = sec(a, "stats", "stats"), *sb = sec(b, "stats", "stats");
    const json_t *ga = sec(a, "stats", "gauges"), *gb = sec(b, "stats", "gauges");
    json_t *counters = json_array(), *gauges = json_array(), *other = json_array();
    const char *name;
    json_t *vb;
    json_object_foreach((json_t *)sb, name, vb) {
        const json_t *va = json_object_get(sa, name);
        bool gauge = in_strings(gb, name) || in_strings(ga, name);
        if (jx_isnum(vb) && (jx_isnum(va) || !va) && !gauge) {
            double before = va ? jx_val(va) : 0, after = jx_val(vb), d = after - before;
            if (d < 0)
                *went_back = true;
            if (d != 0)
                json_array_append_new(counters, json_pack("{s:s, s:o, s:o, s:o, s:o}",
                    "name", name, "before", num_json(before), "after", num_json(after),
                    "delta", num_json(d),
                    "rate", rate_of(d, secs)));
        } else if (!va || !json_equal(va, vb)) {
            json_array_append_new(gauge ? gauges : other, json_pack("{s:s, s:O, s:O}",
                "name", name, "before", va ? va : json_null(), "after", vb));
        }
    }
    json_object_set_new(out, "counters", counters);
    json_object_set_new(out, "gauges", gauges);
    json_object_set_new(out, "other_stats", other);
}

static void diff_slabs(const json_t *a, const json_t *b, json_t *out)
{
    const json_t *ca = sec(a, "slabs", "classes"), *cb = sec(b, "slabs", "classes");
    json_t *rows = json_array();
    size_t i;
    const json_t *r;
    /* Classes of b, then classes only a had. */
    for (int pass = 0; pass < 2; pass++) {
        json_array_foreach(pass ? ca : cb, i, r) {
            long long id = jx_int(r, "id", 0);
            const json_t *ra = pass ? r : row_by(ca, "id", id);
            const json_t *rb = pass ? row_by(cb, "id", id) : r;
            if (pass && rb)
                continue;
            long long pa = jx_int(ra, "pages", 0), pb = jx_int(rb, "pages", 0);
            if (pa == 0 && pb == 0)
                continue;
            json_array_append_new(rows, json_pack("{s:I, s:I, s:I, s:I, s:I, s:I, s:I}",
                "id", (json_int_t)id, "chunk_size", (json_int_t)jx_int(r, "chunk_size", 0),
                "pages_before", (json_int_t)pa, "pages_after", (json_int_t)pb,
                "items_before", (json_int_t)jx_int(ra, "items", 0),
                "items_after", (json_int_t)jx_int(rb, "items", 0),
                "evicted", (json_int_t)(jx_int(rb, "evicted", 0) - jx_int(ra, "evicted", 0))));
        }
    }
    json_object_set_new(out, "slabs", rows);
}

static void diff_errors(const json_t *a, const json_t *b, double secs, json_t *out)
{
    const json_t *ea = sec(a, "errors", "sites"), *eb = sec(b, "errors", "sites");
    json_t *fired = json_array();
    size_t i;
    const json_t *r;
    json_array_foreach(eb, i, r) {
        long long code = jx_int(r, "code", 0);
        long long d = jx_int(r, "count", 0) - jx_int(row_by(ea, "code", code), "count", 0);
        if (d <= 0)
            continue;
        const json_t *ctx = jx_get(r, "last_context");
        json_array_append_new(fired, json_pack("{s:I, s:s, s:s, s:s, s:I, s:o, s:I, s:I, s:s, s:O}",
            "code", (json_int_t)code, "name", jx_str(r, "name", "?"),
            "class", jx_str(r, "class", "?"), "message", jx_str(r, "message", ""),
            "delta", (json_int_t)d, "rate", rate_of((double)d, secs),
            "count", (json_int_t)jx_int(r, "count", 0),
            "last_seen", (json_int_t)jx_int(r, "last_seen", 0),
            "advice", jx_str(r, "advice", ""),
            "last_context", ctx ? ctx : json_null()));
    }
    json_object_set_new(out, "errors_fired", fired);
}

/* An item's identity across snapshots: its key (base64 when not UTF-8). */
static const char *locked_key(const json_t *r)
{
    const char *k = jx_str(r, "key", NULL);
    return k ? k : jx_str(r, "key_base64", "?");
}

static const json_t *locked_find(const json_t *arr, const char *key)
{
    size_t i;
    const json_t *r;
    json_array_foreach(arr, i, r)
        if (strcmp(locked_key(r), key) == 0)
            return r;
    return NULL;
}

static json_t *locked_row(const json_t *r, const json_t *before)
{
    json_t *o = json_pack("{s:s, s:I, s:I, s:b, s:O}", "key", locked_key(r),
        "refcount", (json_int_t)jx_int(r, "refcount", 0),
        "class", (json_int_t)jx_int(r, "class", 0),
        "suspected_leak", json_is_true(jx_get(r, "suspected_leak")),
        "holders", jx_get(r, "holders") ? jx_get(r, "holders") : json_null());
    if (before)
        json_object_set_new(o, "refcount_before", json_integer(jx_int(before, "refcount", 0)));
    return o;
}

static void diff_locked(const json_t *a, const json_t *b, json_t *out)
{
    const json_t *la = sec(a, "locked", "items"), *lb = sec(b, "locked", "items");
    json_t *appeared = json_array(), *cleared = json_array(), *stayed = json_array();
    size_t i;
    const json_t *r;
    json_array_foreach(lb, i, r) {
        const json_t *before = locked_find(la, locked_key(r));
        json_array_append_new(before ? stayed : appeared, locked_row(r, before));
    }
    json_array_foreach(la, i, r)
        if (!locked_find(lb, locked_key(r)))
            json_array_append_new(cleared, locked_row(r, NULL));
    json_object_set_new(out, "locked", json_pack("{s:o, s:o, s:o}", "appeared", appeared,
                                                 "cleared", cleared, "stayed", stayed));
}

static void diff_settings(const json_t *a, const json_t *b, json_t *out)
{
    const json_t *sa = sec(a, "settings", "settings"), *sb = sec(b, "settings", "settings");
    json_t *changed = json_array();
    const char *name;
    json_t *v;
    json_object_foreach((json_t *)sb, name, v) {
        const json_t *va = json_object_get(sa, name);
        if (!va || !json_equal(va, v))
            json_array_append_new(changed, json_pack("{s:s, s:O, s:O}", "name", name,
                "before", va ? va : json_null(), "after", v));
    }
    json_object_foreach((json_t *)sa, name, v)
        if (!json_object_get(sb, name))
            json_array_append_new(changed, json_pack("{s:s, s:O, s:n}", "name", name,
                                                     "before", v, "after"));
    json_object_set_new(out, "settings_changed", changed);
}

json_t *diff_build(const json_t *a, const json_t *b, const char *name_a, const char *name_b)
{
    double secs = (double)(jx_int(snap_section(b, "stats"), "time", 0) -
                           jx_int(snap_section(a, "stats"), "time", 0));
    if (secs <= 0)
        secs = (double)(jx_int(b, "captured_at", 0) - jx_int(a, "captured_at", 0));
    const json_t *ia = jx_get(a, "server"), *ib = jx_get(b, "server");
    bool restarted = jx_int(ia, "pid", 0) != jx_int(ib, "pid", 0) ||
                     jx_int(ia, "started", 0) != jx_int(ib, "started", 0);
    bool went_back = false;
    json_t *d = json_pack("{s:i, s:o, s:o, s:f}", "mcadmin_diff", 1,
        "a", identity_of(a, name_a), "b", identity_of(b, name_b),
        "interval_secs", secs > 0 ? secs : 0.0);
    diff_stats(a, b, secs, d, &went_back);
    diff_slabs(a, b, d);
    diff_errors(a, b, secs, d);
    diff_locked(a, b, d);
    diff_settings(a, b, d);
    /* A restart (or swapped arguments) makes counters go backwards: the
     * deltas are then meaningless and we say so rather than hide it. */
    json_object_set_new(d, "server_restarted", json_boolean(restarted));
    json_object_set_new(d, "counters_went_backwards", json_boolean(went_back));
    return d;
}

/* --- text ---------------------------------------------------------------- */

static void print_side(FILE *out, const char *label, const json_t *s)
{
    char t[32];
    fprintf(out, "  %s %s  %s  mcd %s pid %lld\n", label, jx_str(s, "file", "?"),
            fmt_time(jx_int(s, "captured_at", 0), t), jx_str(s, "version", "?"),
            jx_int(s, "pid", 0));
}

static void print_counters(const json_t *d, FILE *out)
{
    const json_t *arr = jx_get(d, "counters");
    if (json_array_size(arr) == 0) {
        fprintf(out, "\n%sCounters%s: none changed\n", C_BOLD, C_RESET);
        return;
    }
    fprintf(out, "\n%sCounters%s (delta over the interval, per second):\n", C_BOLD, C_RESET);
    struct table *t = tbl_new(3, "name", "delta", "rate");
    size_t i;
    const json_t *r;
    char a[32], b[32];
    json_array_foreach(arr, i, r) {
        double dv = jx_num(r, "delta", 0);
        const json_t *rate = jx_get(r, "rate");
        fmt_num(dv, a);
        char sd[40];
        snprintf(sd, sizeof(sd), "%s%s", dv > 0 ? "+" : "", a);
        tbl_add(t, jx_str(r, "name", "?"), sd, jx_isnum(rate) ? fmt_rate(jx_val(rate), b) : "-");
    }
    tbl_print(t, out, "  ");
    tbl_free(t);
}

static void print_before_after(const json_t *arr, const char *title, FILE *out)
{
    if (json_array_size(arr) == 0)
        return;
    fprintf(out, "\n%s%s%s (before -> after):\n", C_BOLD, title, C_RESET);
    struct table *t = tbl_new(4, "name", "before", "", "after");
    size_t i;
    const json_t *r;
    char a[64], b[64];
    json_array_foreach(arr, i, r)
        tbl_add(t, jx_str(r, "name", "?"), jx_text(jx_get(r, "before"), a, sizeof(a)), "->",
                jx_text(jx_get(r, "after"), b, sizeof(b)));
    tbl_print(t, out, "  ");
    tbl_free(t);
}

static void print_slabs(const json_t *d, FILE *out)
{
    const json_t *arr = jx_get(d, "slabs");
    if (json_array_size(arr) == 0)
        return;
    fprintf(out, "\n%sSlab pages per class%s (before -> after):\n", C_BOLD, C_RESET);
    struct table *t = tbl_new(6, "class", "chunk", "pages", "items", "evicted", "");
    size_t i;
    const json_t *r;
    char cs[32];
    json_array_foreach(arr, i, r) {
        long long pa = jx_int(r, "pages_before", 0), pb = jx_int(r, "pages_after", 0);
        tbl_addf(t, 0, "%lld", jx_int(r, "id", 0));
        tbl_addf(t, 1, "%s", fmt_bytes((double)jx_int(r, "chunk_size", 0), cs));
        tbl_addf(t, 2, "%lld -> %lld", pa, pb);
        tbl_addf(t, 3, "%lld -> %lld", jx_int(r, "items_before", 0), jx_int(r, "items_after", 0));
        tbl_addf(t, 4, "%+lld", jx_int(r, "evicted", 0));
        tbl_addf(t, 5, "%s", pb > pa ? "grew" : pb < pa ? "shrank" : "");
    }
    tbl_print(t, out, "  ");
    tbl_free(t);
}

static void print_errors(const json_t *d, FILE *out)
{
    const json_t *arr = jx_get(d, "errors_fired");
    if (json_array_size(arr) == 0) {
        fprintf(out, "\n%sError sites%s: none fired\n", C_BOLD, C_RESET);
        return;
    }
    fprintf(out, "\n%sError sites that fired%s:\n", C_BOLD, C_RESET);
    size_t i;
    const json_t *r;
    char rb[32];
    json_array_foreach(arr, i, r) {
        const json_t *rate = jx_get(r, "rate");
        fprintf(out, "  %sE%lld %s%s  +%lld (%s), %s: %s\n", C_RED, jx_int(r, "code", 0),
                jx_str(r, "name", "?"), C_RESET, jx_int(r, "delta", 0),
                jx_isnum(rate) ? fmt_rate(jx_val(rate), rb) : "-", jx_str(r, "class", "?"),
                jx_str(r, "message", ""));
        const char *adv = jx_str(r, "advice", "");
        if (*adv)
            fprintf(out, "      %s%s%s\n", C_DIM, adv, C_RESET);
    }
}

static void print_locked(const json_t *d, FILE *out)
{
    const json_t *l = jx_get(d, "locked");
    size_t na = json_array_size(jx_get(l, "appeared")), nc = json_array_size(jx_get(l, "cleared"));
    size_t ns = json_array_size(jx_get(l, "stayed"));
    fprintf(out, "\n%sLocked items%s: %zu appeared, %zu cleared, %zu stayed\n", C_BOLD, C_RESET,
            na, nc, ns);
    static const char *const kinds[] = { "appeared", "cleared", "stayed" };
    static const char marks[] = { '+', '-', '=' };
    for (int k = 0; k < 3; k++) {
        size_t i;
        const json_t *r;
        json_array_foreach(jx_get(l, kinds[k]), i, r)
            fprintf(out, "  %c %s  refcount %lld%s\n", marks[k], jx_str(r, "key", "?"),
                    jx_int(r, "refcount", 0),
                    json_is_true(jx_get(r, "suspected_leak")) ? "  SUSPECTED LEAK" : "");
    }
}

void diff_print(const json_t *d, FILE *out)
{
    char dur[32];
    fprintf(out, "%sDiff%s over %s\n", C_BOLD, C_RESET,
            fmt_duration(jx_num(d, "interval_secs", 0), dur));
    print_side(out, "A", jx_get(d, "a"));
    print_side(out, "B", jx_get(d, "b"));
    if (json_is_true(jx_get(d, "server_restarted")))
        fprintf(out, "%swarning:%s the server restarted between A and B (pid or start time "
                "differ): counter deltas span a restart\n", C_YELLOW, C_RESET);
    else if (json_is_true(jx_get(d, "counters_went_backwards")))
        fprintf(out, "%swarning:%s some counters went backwards: is B older than A, or were "
                "stats reset?\n", C_YELLOW, C_RESET);
    print_counters(d, out);
    print_before_after(jx_get(d, "gauges"), "Gauges", out);
    print_before_after(jx_get(d, "other_stats"), "Other stats", out);
    print_slabs(d, out);
    print_errors(d, out);
    print_locked(d, out);
    const json_t *s = jx_get(d, "settings_changed");
    if (json_array_size(s) == 0)
        fprintf(out, "\n%sSettings%s: unchanged\n", C_BOLD, C_RESET);
    else
        print_before_after(s, "Settings changed", out);
}
