/*
 * doctor_clients.c - the rules of `mcadmin doctor` about what clients do:
 * connections refused or short of descriptors, buffers, clients that do
 * not read, giant multi-gets, flushes, refused stores, exptimes already
 * past, hot prefixes. The table that orders every rule is in
 * doctor_rules.c; the thresholds are named where they are used.
 */
#include "doctor.h"

#include <math.h>
#include <string.h>

#define KiB 1024.0
#define MiB (1024.0 * 1024.0)

/* A key's prefix as the prefixes dump names it: up to the server's -D
 * delimiter (else ':'), or the whole key. */
static json_t *prefix_of(const struct doctor *d, const char *key)
{
    const char *delim = jx_str(dr_arr(d->b, "settings", "settings"), "stat_key_prefix", ":");
    const char *p = strchr(key, delim[0] ? delim[0] : ':');
    return p ? json_stringn(key, (size_t)(p - key)) : json_string(key);
}

/* --- 3. maxconns, 18. descriptor limit ------------------------------------------ */

/* "tcp:10.0.0.1:4242" -> "tcp:10.0.0.1": connections grouped by host. */
static void top_peers(const struct doctor *d, json_t *f)
{
    json_t *count = json_object();
    size_t i;
    const json_t *c;
    json_array_foreach(dr_arr(d->b, "conns", "connections"), i, c) {
        char host[256];
        snprintf(host, sizeof(host), "%s", jx_str(c, "peer", "?"));
        char *colon = strrchr(host, ':');
        if (colon && strncmp(host, "unix:", 5) != 0)
            *colon = '\0';
        json_object_set_new(count, host, json_integer(jx_int(count, host, 0) + 1));
    }
    const char *host;
    json_t *n;
    json_object_foreach(count, host, n)
        dr_evidence(f, "  %lld connections from %s", (long long)json_integer_value(n), host);
    json_decref(count);
}

void dr_rule_maxconns(struct doctor *d)
{
    double rej = dr_delta(d, "rejected_connections");
    if (rej <= 0 && !dr_site_recent(d, 6001))
        return;
    char b1[32], b2[32];
    const json_t *s = jx_get(dr_sec(d->b, "stats"), "stats");
    json_t *f = dr_finding(d, "maxconns", "connections refused at -c %lld (%s refused over "
        "the interval, %lld since start)", jx_int(s, "max_connections", 0), fmt_num(rej, b1),
        jx_int(s, "rejected_connections", 0));
    dr_evidence(f, "stats: curr_connections %lld of max_connections %lld, "
                "rejected_connections +%s (%s)", jx_int(s, "curr_connections", 0),
                jx_int(s, "max_connections", 0), fmt_num(rej, b1), fmt_rate(dr_rate(d, rej), b2));
    dr_site_evidence(d, f, 6001);
    dr_evidence(f, "open connections by peer:");
    top_peers(d, f);
    dr_subject(f, "max_connections", json_integer(jx_int(s, "max_connections", 0)));
    dr_advise(d, f, ADV_MAXCONNS);
}

void dr_rule_fd_limit(struct doctor *d)
{
    const json_t *set = dr_arr(d->b, "settings", "settings");
    long long nofile = jx_int(set, "nofile_limit", 0), maxc = jx_int(set, "maxconns", 0);
    bool low = nofile > 0 && nofile < maxc;
    if (!set) {
        dr_needs(d, "the settings section");
        return;
    }
    if (!low && jx_int(dr_site(d->b, 6014), "count", 0) == 0 && !dr_site_recent(d, 6003) &&
        !dr_site_recent(d, 6012))
        return;
    json_t *f = dr_finding(d, "fd_limit", "the descriptor limit (%lld) is below -c %lld: "
                           "accepts fail before -c is reached", nofile, maxc);
    dr_evidence(f, "settings: nofile_limit %lld, maxconns %lld (mcd wants -c + 64 = %lld)",
                nofile, maxc, maxc + 64);
    dr_evidence(f, "stats: listen_disabled_num %.0f, curr_connections %.0f",
                dr_stat(d->b, "listen_disabled_num"), dr_stat(d->b, "curr_connections"));
    dr_site_evidence(d, f, 6014);
    dr_site_evidence(d, f, 6003);
    dr_site_evidence(d, f, 6012);
    dr_subject(f, "nofile_limit", json_integer(nofile));
    dr_advise(d, f, ADV_NOFILE);
}


/* --- 5. hit ratio collapse after a flush --------------------------------------- */

#define MIN_GETS 50     /* fewer gets say nothing about a hit ratio */

void dr_rule_flush_collapse(struct doctor *d)
{
    json_t *flushes = json_array();
    size_t i;
    const json_t *e;
    json_array_foreach(dr_arr(d->b, "history", "events"), i, e)
        if (dr_event_recent(d, e, "flush"))
            json_array_append(flushes, (json_t *)e);
    double hits = dr_delta(d, "get_hits"), miss = dr_delta(d, "get_misses");
    double fl = dr_delta(d, "get_flushed");
    double ha = dr_stat(d->a, "get_hits"), ma = dr_stat(d->a, "get_misses");
    double now = hits + miss >= MIN_GETS ? hits / (hits + miss) : -1;
    double before = d->a && ha + ma >= MIN_GETS ? ha / (ha + ma) : -1;
    bool collapse = now >= 0 && ((before >= 0.2 && now < before / 2) || fl >= 0.1 * (hits + miss));
    if (json_array_size(flushes) == 0 || !collapse) {
        json_decref(flushes);
        return;
    }
    char b1[32];
    const json_t *last = json_array_get(flushes, json_array_size(flushes) - 1);
    json_t *f = dr_finding(d, "flush_collapse", "the hit ratio fell to %.0f%% after a "
        "flush_all from %s (connection %lld)", now * 100, jx_str(last, "peer", "?"),
        jx_int(last, "conn_id", 0));
    if (before >= 0)
        dr_evidence(f, "hit ratio: %.1f%% before the interval (since start), %.1f%% during it "
                    "(%.0f hits, %.0f misses)", before * 100, now * 100, hits, miss);
    else
        dr_evidence(f, "hit ratio: %.1f%% (%.0f hits, %.0f misses)", now * 100, hits, miss);
    dr_evidence(f, "stats: get_flushed +%.0f, cmd_flush %.0f since start", fl,
                dr_stat(d->b, "cmd_flush"));
    json_array_foreach(flushes, i, e)
        dr_evidence(f, "history: flush_all %s ago from %s, connection %lld, delay %llds",
                    fmt_duration((double)(d->now - jx_int(e, "time", 0)), b1),
                    jx_str(e, "peer", "?"), jx_int(e, "conn_id", 0), jx_int(e, "size", 0));
    dr_subject(f, "peer", json_string(jx_str(last, "peer", "?")));
    dr_subject(f, "conn_id", json_integer(jx_int(last, "conn_id", 0)));
    dr_advise(d, f, ADV_FLUSH);
    json_decref(flushes);
}

/* --- 6. a client that does not read ------------------------------------------- */

#define STUCK_PENDING (4 * KiB)

void dr_rule_slow_client(struct doctor *d)
{
    if (!d->a) {
        dr_needs(d, "two samples: a stuck client is one that does not progress");
        return;
    }
    size_t i, k;
    const json_t *c, *it, *h;
    char b1[32], b2[32];
    size_t before = json_array_size(d->findings);
    json_array_foreach(dr_arr(d->b, "conns", "connections"), i, c) {
        long long id = jx_int(c, "id", 0);
        const json_t *o = dr_row(dr_arr(d->a, "conns", "connections"), "id", id);
        double pend = jx_num(c, "pending_bytes", 0);
        double out = jx_num(c, "bytes_out", 0) - jx_num(o, "bytes_out", 0);
        if (!o || strcmp(jx_str(c, "state", ""), "conn_mwrite") != 0 ||
            strcmp(jx_str(o, "state", ""), "conn_mwrite") != 0 || pend < STUCK_PENDING ||
            jx_int(c, "held_refs", 0) <= 0 || out >= pend)
            continue;
        json_t *f = dr_finding(d, "slow_client", "connection %lld (%s) does not read its "
            "replies: %s pending, %lld item references held", id, jx_str(c, "peer", "?"),
            fmt_bytes(pend, b1), jx_int(c, "held_refs", 0));
        dr_evidence(f, "conns: state conn_mwrite in both samples, bytes_out +%s over %s, "
                    "age %s, command '%s'", fmt_bytes(out, b1), fmt_duration(d->secs, b2),
                    fmt_duration(jx_num(c, "age_secs", 0), (char[32]){ 0 }),
                    jx_str(c, "command", ""));
        int shown = 0;
        json_array_foreach(dr_arr(d->b, "locked", "items"), k, it) {
            size_t j;
            json_array_foreach(jx_get(it, "holders"), j, h) {
                if (jx_int(h, "conn_id", 0) != id || shown >= 5)
                    continue;
                shown++;
                dr_evidence(f, "locked: '%s' (class %lld) refcount %lld, held %s by it, taken "
                            "at %s", dr_key(it), jx_int(it, "class", 0), jx_int(it, "refcount", 0),
                            fmt_duration(jx_num(h, "held_secs", 0), b1), jx_str(h, "site", "?"));
                break;
            }
        }
        /* what the holding costs: evictions that had to pass its items by */
        double reflocked = dr_delta(d, "lrutail_reflocked");
        if (reflocked > 0)
            dr_evidence(f, "stats: lrutail_reflocked +%s over the interval: stores' "
                        "evictions passed over held items", fmt_num(reflocked, b1));
        if (dr_site_recent(d, 2105))
            dr_site_evidence(d, f, 2105);
        dr_subject(f, "conn_id", json_integer(id));
        dr_subject(f, "peer", json_string(jx_str(c, "peer", "?")));
        dr_advise(d, f, ADV_SLOW_CLIENT);
    }
    if (json_array_size(d->findings) > before || !dr_site_recent(d, 6017))
        return;
    /* None stuck now, but write_timeout closed some recently. */
    json_t *f = dr_finding(d, "slow_client", "clients were closed for not reading their "
        "replies for -o write_timeout=%llds", (long long)jx_int(dr_arr(d->b, "settings",
        "settings"), "write_timeout", 0));
    dr_site_evidence(d, f, 6017);
    json_array_foreach(dr_arr(d->b, "history", "events"), i, c)
        if (dr_event_recent(d, c, "conn") && strstr(jx_str(c, "what", ""), "stopped reading"))
            dr_evidence(f, "history: connection %lld (%s) closed %s ago: %s",
                        jx_int(c, "conn_id", 0), jx_str(c, "peer", "?"),
                        fmt_duration((double)(d->now - jx_int(c, "time", 0)), b1),
                        jx_str(c, "what", ""));
    dr_advise(d, f, ADV_SLOW_CLIENT);
}


/* --- 9. connection buffers ----------------------------------------------------- */

void dr_rule_conn_buffers(struct doctor *d)
{
    const json_t *m = dr_sec(d->b, "memory");
    if (!m) {
        dr_needs(d, "the memory section");
        return;
    }
    const json_t *cn = jx_path(m, "owners.connections");
    double buf = jx_num(cn, "buffer_bytes", 0), lim = jx_num(m, "limit_maxbytes", 0);
    bool capped = dr_site_recent(d, 6015) || dr_site_recent(d, 6016);
    if (!capped && (buf < 32 * MiB || buf < 0.25 * lim))
        return;     /* a quarter of -m and 32 MiB: far beyond ordinary requests */
    char b1[32], b2[32], b3[32];
    json_t *f = dr_finding(d, "conn_buffers", "connection buffers hold %s%s, %.0f%% of -m %s; "
        "RSS is %s", capped ? " (read_buf_mem_limit reached)" : "", fmt_bytes(buf, b1), 100 * buf / (lim > 0 ? lim : 1), fmt_bytes(lim, b2),
        fmt_bytes(jx_num(m, "rss_bytes", 0), b3));
    dr_evidence(f, "memory: %lld connections use %s, buffers %s (high water %s), items %s",
                jx_int(cn, "count", 0), fmt_bytes(jx_num(cn, "bytes", 0), b1),
                fmt_bytes(buf, b2), fmt_bytes(jx_num(cn, "buffer_high_water", 0), b3),
                fmt_bytes(jx_path(m, "owners.item_memory") ?
                          jx_val(jx_path(m, "owners.item_memory")) : 0, (char[32]){ 0 }));
    size_t i;
    const json_t *c;
    json_array_foreach(jx_get(m, "top_connections"), i, c)
        if (i < 5)
            dr_evidence(f, "  connection %lld (%s): %s, read buffer %s, pending %s",
                        jx_int(c, "id", 0), jx_str(c, "peer", "?"),
                        fmt_bytes(jx_num(c, "bytes", 0), b1),
                        fmt_bytes(jx_num(c, "read_buffer_bytes", 0), b2),
                        fmt_bytes(jx_num(c, "pending_bytes", 0), b3));
    dr_site_evidence(d, f, 6015);
    dr_site_evidence(d, f, 6016);
    dr_subject(f, "buffer_bytes", json_real(buf));
    dr_advise(d, f, ADV_CONN_BUFFERS);
}

/* --- 11. too large ------------------------------------------------------------ */

void dr_rule_too_large(struct doctor *d)
{
    double n = dr_delta(d, "store_too_large");
    if (n <= 0 && !dr_site_recent(d, 2101) && !dr_site_recent(d, 2112))
        return;
    json_t *by = json_object(), *prefixes = json_array(), *peers = json_array();
    size_t i;
    const json_t *e;
    char b1[32], b2[32];
    json_array_foreach(dr_arr(d->b, "history", "events"), i, e) {
        long long code = jx_int(e, "code", 0);
        if (!dr_event_recent(d, e, "reject") || (code != 2101 && code != 2112))
            continue;
        json_t *p = prefix_of(d, dr_key(e));
        char group[512];
        snprintf(group, sizeof(group), "prefix '%s' from %s", json_string_value(p),
                 jx_str(e, "peer", "?"));
        json_t *g = json_object_get(by, group);
        if (!g) {
            g = json_pack("{s:i, s:f}", "n", 0, "max", 0.0);
            json_object_set_new(by, group, g);
        }
        json_object_set_new(g, "n", json_integer(jx_int(g, "n", 0) + 1));
        if (jx_num(e, "size", 0) > jx_num(g, "max", 0))
            json_object_set_new(g, "max", json_real(jx_num(e, "size", 0)));
        json_object_set_new(g, "key", json_string(dr_key(e)));
        size_t j;
        const json_t *o;
        bool dup = false;
        json_array_foreach(prefixes, j, o)
            dup |= json_equal(o, p);
        if (!dup)
            json_array_append(prefixes, p);
        json_decref(p);
        json_t *peer = json_string(jx_str(e, "peer", "?"));
        dup = false;
        json_array_foreach(peers, j, o)
            dup |= json_equal(o, peer);
        if (!dup)
            json_array_append(peers, peer);
        json_decref(peer);
    }
    json_t *f = dr_finding(d, "too_large", "stores refused as larger than -I %s (%s over the "
        "interval, %.0f since start)", fmt_bytes(jx_num(dr_arr(d->b, "settings", "settings"),
        "item_size_max", 0), b1), fmt_num(n, b2), dr_stat(d->b, "store_too_large"));
    const char *g;
    const json_t *v;
    json_object_foreach(by, g, v)
        dr_evidence(f, "history: %lld refused, %s, up to %s (e.g. '%s')", jx_int(v, "n", 0), g,
                    fmt_bytes(jx_num(v, "max", 0), b1), jx_str(v, "key", ""));
    dr_site_evidence(d, f, 2101);
    dr_site_evidence(d, f, 2112);
    dr_subject(f, "prefixes", prefixes);
    dr_subject(f, "peers", peers);
    dr_advise(d, f, ADV_ITEM_SIZE_MAX);
    json_decref(by);
}

/* --- 12. giant multi-gets and yields ------------------------------------------ */

/* Mean service time of a get-like command over the interval, from the
 * since-start count and mean of both samples (-1 when it was not called);
 * percentiles since start would let hours of fast gets hide a slow minute. */
#define SLOW_GET_MEAN_US 1000

static double interval_mean_us(const struct doctor *d, const json_t *row, double *calls)
{
    const json_t *o = NULL, *x;
    size_t i;
    json_array_foreach(dr_arr(d->a, "latency", "commands"), i, x)
        if (strcmp(jx_str(x, "command", ""), jx_str(row, "command", "?")) == 0)
            o = x;
    double nb = jx_num(row, "count", 0), na = jx_num(o, "count", 0);
    *calls = nb - na;
    if (*calls <= 0)
        return -1;
    return (jx_num(row, "mean_us", 0) * nb - jx_num(o, "mean_us", 0) * na) / *calls;
}

static bool get_like(const char *cmd)
{
    return !strcmp(cmd, "get") || !strcmp(cmd, "gets") || !strcmp(cmd, "mg") ||
           !strncmp(cmd, "bin_get", 7);
}

void dr_rule_client_timeouts(struct doctor *d)
{
    double giant = dr_delta(d, "multiget_over_100"), yields = dr_delta(d, "conn_yields");
    double retr = dr_delta(d, "multiget_1") + dr_delta(d, "multiget_2_10") +
                  dr_delta(d, "multiget_11_100") + giant;
    bool many = giant > 0 && giant >= 0.01 * retr;
    const json_t *lat = dr_arr(d->b, "latency", "commands"), *c, *worst = NULL;
    double worst_mean = -1, worst_calls = 0, calls = 0;
    size_t i;
    json_array_foreach(lat, i, c) {
        double m = get_like(jx_str(c, "command", "")) ? interval_mean_us(d, c, &calls) : -1;
        if (m > worst_mean) {
            worst = c;
            worst_mean = m;
            worst_calls = calls;
        }
    }
    bool slow = lat && d->a ? worst_mean >= SLOW_GET_MEAN_US : many && dr_rate(d, giant) >= 1;
    if (!(many || dr_rate(d, yields) >= 1) || !slow)
        return;
    char b1[32], b2[32];
    json_t *f = dr_finding(d, "client_timeouts", "%s multi-gets of over 100 keys and %s "
        "connection yields keep workers busy%s", fmt_rate(dr_rate(d, giant), b1),
        fmt_rate(dr_rate(d, yields), b2), worst ? "; gets are slow" : "");
    dr_evidence(f, "stats: multiget_over_100 +%.0f (%.1f%% of %.0f retrievals), conn_yields "
                "+%.0f, -R %lld", giant, retr > 0 ? 100 * giant / retr : 0, retr, yields,
                jx_int(dr_arr(d->b, "settings", "settings"), "reqs_per_event", 0));
    if (worst)
        dr_evidence(f, "latency %s: mean %.0f us over %.0f calls in the interval; since "
                    "start p50 %.0f us, p99 %.0f us, max %.0f us", jx_str(worst, "command", ""),
                    worst_mean, worst_calls, jx_num(worst, "p50_us", 0),
                    jx_num(worst, "p99_us", 0), jx_num(worst, "max_us", 0));
    dr_advise(d, f, ADV_MULTIGET);
}


/* --- 14. items expiring on arrival -------------------------------------------- */

void dr_rule_expired_on_arrival(struct doctor *d)
{
    double eoa = dr_delta(d, "expired_on_arrival"), sets = dr_delta(d, "cmd_set");
    if (eoa < 10 || eoa < 0.01 * sets)
        return;
    double drift = dr_stat(d->b, "clock_drift_secs"), abs_ttl = dr_delta(d, "ttl_absolute");
    char b1[32];
    json_t *f = dr_finding(d, "expired_on_arrival", "%.0f stores (%.0f%% of %.0f) carried "
        "an exptime already past", eoa, sets > 0 ? 100 * eoa / sets : 100, sets);
    dr_evidence(f, "stats: expired_on_arrival +%.0f (%s), ttl_absolute +%.0f, "
                "clock_drift_secs %.0f", eoa, fmt_rate(dr_rate(d, eoa), b1), abs_ttl, drift);
    if (abs_ttl > 0)
        dr_evidence(f, "absolute exptimes are in use: a client clock behind the server's "
                    "makes them land in the past");
    if (fabs(drift) >= 2)
        dr_evidence(f, "the server's clock is %.0f s off the wall clock", drift);
    dr_advise(d, f, ADV_CLOCK);
}

/* --- 17. hot prefix ------------------------------------------------------------- */

/* The hottest keys from admin `hotkeys` (live samples only), with their
 * requests over the interval when both samples have them. */
static void hot_keys_evidence(const struct doctor *d, json_t *f)
{
    size_t i;
    const json_t *r;
    json_array_foreach(dr_arr(d->b, "hotkeys", "by_requests"), i, r) {
        if (i >= 5)
            break;
        const json_t *o = NULL, *x;
        size_t k;
        json_array_foreach(dr_arr(d->a, "hotkeys", "by_requests"), k, x)
            if (strcmp(dr_key(x), dr_key(r)) == 0)
                o = x;
        dr_evidence(f, "hotkeys: '%s' ~%.0f requests since start%s", dr_key(r),
                    jx_num(r, "requests", 0), o ? "" : " (not among the hottest before)");
    }
}

void dr_rule_hot_prefix(struct doctor *d)
{
    const json_t *p = dr_sec(d->b, "prefixes"), *r, *top = NULL;
    if (!json_is_true(jx_get(p, "enabled"))) {
        dr_needs(d, "per-prefix stats (start mcd with -D CHAR, or `stats detail on`)");
        return;
    }
    size_t i;
    double total = 0, topn = 0;
    int n = 0;
    json_array_foreach(jx_get(p, "prefixes"), i, r) {
        double g = jx_num(r, "get", 0);
        size_t k;
        const json_t *o;
        json_array_foreach(dr_arr(d->a, "prefixes", "prefixes"), k, o)
            if (strcmp(jx_str(o, "prefix", ""), jx_str(r, "prefix", "?")) == 0)
                g -= jx_num(o, "get", 0);
        if (g <= 0)
            continue;
        n++;
        total += g;
        if (g > topn) {
            topn = g;
            top = r;
        }
    }
    /* More than half the gets, and more than twice its fair share. */
    if (total < 500 || n < 2 || topn <= 0.5 * total || topn <= 2 * total / n)
        return;
    json_t *f = dr_finding(d, "hot_prefix", "prefix '%s' takes %.0f%% of %.0f gets "
        "(%d prefixes read)", jx_str(top, "prefix", "?"), 100 * topn / total, total, n);
    dr_evidence(f, "prefixes '%s': get +%.0f, hit %lld, set %lld since start",
                jx_str(top, "prefix", "?"), topn, jx_int(top, "hit", 0), jx_int(top, "set", 0));
    hot_keys_evidence(d, f);
    dr_subject(f, "prefix", json_string(jx_str(top, "prefix", "?")));
    dr_advise(d, f, ADV_HOT_KEYS);
}

/* One key taking most gets, from admin `hotkeys` in both (live) samples:
 * its estimated requests over the interval against every key requested. */
void dr_rule_hot_key(struct doctor *d)
{
    const json_t *hb = dr_arr(d->b, "hotkeys", "by_requests");
    const json_t *ha = dr_arr(d->a, "hotkeys", "by_requests"), *r, *o, *top = NULL;
    if (!json_is_array(hb) || !json_is_array(ha)) {
        dr_needs(d, "admin hotkeys in two live samples");
        return;
    }
    double gets = dr_delta(d, "cmd_get"), topn = 0;
    size_t i, k;
    json_array_foreach(hb, i, r) {
        double n = jx_num(r, "requests", 0);
        json_array_foreach(ha, k, o)
            if (strcmp(dr_key(o), dr_key(r)) == 0)
                n -= jx_num(o, "requests", 0);
        if (n > topn) {
            topn = n;
            top = r;
        }
    }
    /* More than half of 500 gets or more, while the cache holds many keys. */
    if (gets < 500 || topn <= 0.5 * gets || dr_stat(d->b, "curr_items") < 10)
        return;
    json_t *f = dr_finding(d, "hot_key", "key '%s' takes about %.0f%% of %.0f gets",
                           dr_key(top), 100 * (topn < gets ? topn : gets) / gets, gets);
    dr_evidence(f, "hotkeys: '%s' ~%.0f requests over the interval (sampled 1 in %lld, may "
                "be high by %.0f); stats: cmd_get +%.0f, curr_items %.0f", dr_key(top), topn,
                jx_int(dr_sec(d->b, "hotkeys"), "sample_rate", 0), jx_num(top, "error", 0),
                gets, dr_stat(d->b, "curr_items"));
    dr_subject(f, "key", json_string(dr_key(top)));
    dr_advise(d, f, ADV_HOT_KEYS);
}
