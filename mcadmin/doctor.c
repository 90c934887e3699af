/*
 * doctor.c - `mcadmin doctor`: gather two samples, run the rules of
 * doctor_rules.c, print what was found and what to do.
 *
 *   doctor [--interval S] [--recent S] [--baseline FILE]   a live server
 *   doctor A.json B.json                                   a snapshot pair
 *   doctor REPORT.json | SNAPSHOT.json                     a saved file
 *
 * The output follows redis's createLatencyReport(): first the findings,
 * numbered, each with a one-line title and its evidence (counters and
 * their rates, classes, items, connections, history entries); then each
 * piece of advice once, naming the knob, however many findings asked for
 * it. --json gives the same as one document. Exit status: 0 healthy,
 * 1 something found (or an input file is unusable), 2 usage, 3 cannot
 * connect.
 */
#include "doctor.h"

#include <errno.h>
#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#define DR_DEFAULT_INTERVAL 2.0
#define DR_DEFAULT_RECENT 3600

/* --- advice, once per knob --------------------------------------------------- */

static const struct {
    const char *id, *knob, *text;
} advice[ADV__COUNT] = {
    [ADV_BUG_REPORT] = { "bug_report", "bug report",
        "This is a bug in mcd, not a setting: write a bundle with `mcadmin report --redact` "
        "while it shows, and file it quoting the source sites named above. A restart releases "
        "the pinned memory." },
    [ADV_SLAB_MOVE] = { "slab_move", "slab pages",
        "Pages are held by classes that no longer need them. Move pages to the starved class "
        "(`slabs reassign SRC DST`, or -o slab_automove=1 where the server supports it), or "
        "restart so the pages are shared out again by today's value sizes; -f and -n change "
        "the class sizes." },
    [ADV_MAXCONNS] = { "maxconns", "-c",
        "Connections are refused at -c. Raise -c (and ulimit -n with it), or find the client "
        "that opens too many: `mcadmin conns` lists peers; a connection pool per process, not "
        "per request, is the usual fix." },
    [ADV_NOFILE] = { "nofile", "ulimit -n",
        "The descriptor limit is below -c, so accepts fail before -c is reached. Raise the "
        "hard limit to at least -c plus 64 (ulimit -n, LimitNOFILE= in a systemd unit, "
        "limits.conf), or lower -c." },
    [ADV_HOST_MEMORY] = { "host_memory", "host memory",
        "The operating system refused memory that -m allows. The host (or the cgroup) is out "
        "of memory: lower -m below what is really available, or free memory on the host." },
    [ADV_FLUSH] = { "flush", "flush_all",
        "A flush_all emptied the cache and the hit ratio fell with it. Find the sender by the "
        "peer and connection above (`mcadmin raw history flush`); -F refuses flush_all if no "
        "client should send it." },
    [ADV_SLOW_CLIENT] = { "slow_client", "client",
        "A client asks for values and does not read the replies, so mcd holds the items and "
        "the reply memory for it. Fix or restart that client (its peer is above); it usually "
        "is blocked, or pipelines gets without reading. -o write_timeout=SECONDS (default 30) "
        "closes such a connection and releases what it held (E6017)." },
    [ADV_RAISE_M] = { "raise_m", "-m",
        "The cache is smaller than the working set: items are evicted soon after they were "
        "last read, and those reads then miss. Raise -m, or add servers to the pool." },
    [ADV_HASHPOWER] = { "hashpower", "-o hashpower",
        "Hash chains are long, so every lookup walks many items. Start with -o hashpower=N "
        "so 2^N is at least the item count, and drop no_hashexpand; if expansion fails "
        "(E2121) the host is short of memory." },
    [ADV_CONN_BUFFERS] = { "conn_buffers", "client requests",
        "Connection buffers hold far more memory than -m: clients are sending huge request "
        "lines (giant multi-gets) or leaving them unfinished. Split multi-gets into batches "
        "of at most a few hundred keys, and find the clients by peer above; -o "
        "read_buf_mem_limit=MB caps all connection buffers together." },
    [ADV_ITEM_SIZE_MAX] = { "item_size_max", "-I",
        "Values larger than -I are refused. Raise -I if such values belong in the cache, or "
        "have the client compress or split them; the prefixes and peers above say who sends "
        "them." },
    [ADV_MULTIGET] = { "multiget", "-R / multi-gets",
        "Giant multi-gets and connections that yield after -R commands keep a worker busy, "
        "and every other client of that worker waits: batch multi-gets to at most ~100 keys; "
        "-R sets how many commands a connection runs before yielding." },
    [ADV_CLOCK] = { "clock", "exptime",
        "Items arrive already expired: their exptime is in the past. Clients that send an "
        "absolute exptime (over 30 days) need a clock in step with the server's (NTP); "
        "relative TTLs under 30 days avoid the problem." },
    [ADV_WRITE_ONLY] = { "write_only", "what is cached",
        "Items are written and thrown away unread, and push out items that are read. Stop "
        "caching what is never read, or give it a short TTL or its own server." },
    [ADV_HOT_KEYS] = { "hot_keys", "key distribution",
        "Most reads go to one prefix or a few keys, so one server (and in a pool, one shard) "
        "carries them. Cache the hottest keys in the client, or spread them (key "
        "suffixes, replicas)." },
    [ADV_STUCK_THREAD] = { "stuck_thread", "threads",
        "A thread is stuck or spinning: every connection on a stuck worker waits. Capture "
        "`mcadmin report` while it shows and the thread's stack (gdb -p PID, `thread apply "
        "all bt`), and file a bug; a restart frees the connections." },
    [ADV_SETTINGS] = { "settings", "settings",
        "The server runs with settings that differ from the baseline: check the start "
        "command (unit file, flags) and confirm each change was meant." },
    [ADV_AUTOMOVE_TUNE] = { "automove", "slab automove",
        "The page mover keeps moving pages in and out of the same classes, or takes pages "
        "from a class that is evicting: make it less eager (-o slab_automove=1, or 0 and "
        "`slabs reassign` by hand)." },
};

/* --- reading the samples ----------------------------------------------------- */

const json_t *dr_sec(const json_t *sample, const char *name)
{
    return sample ? snap_section(sample, name) : NULL;
}

double dr_stat(const json_t *sample, const char *name)
{
    return jx_num(jx_get(dr_sec(sample, "stats"), "stats"), name, 0);
}

double dr_delta(const struct doctor *d, const char *name)
{
    return dr_stat(d->b, name) - dr_stat(d->a, name);
}

const json_t *dr_row(const json_t *arr, const char *id, long long want)
{
    size_t i;
    const json_t *r;
    json_array_foreach(arr, i, r)
        if (jx_int(r, id, -1) == want)
            return r;
    return NULL;
}

const json_t *dr_site(const json_t *sample, int code)
{
    return dr_row(jx_get(dr_sec(sample, "errors"), "sites"), "code", code);
}

double dr_site_delta(const struct doctor *d, int code)
{
    return jx_num(dr_site(d->b, code), "count", 0) - jx_num(dr_site(d->a, code), "count", 0);
}

bool dr_site_recent(const struct doctor *d, int code)
{
    const json_t *s = dr_site(d->b, code);
    if (jx_int(s, "count", 0) <= 0)
        return false;
    return dr_site_delta(d, code) > 0 || d->now - jx_int(s, "last_seen", 0) <= d->recent;
}

void dr_site_evidence(struct doctor *d, json_t *f, int code)
{
    const json_t *s = dr_site(d->b, code);
    long long n = jx_int(s, "count", 0);
    char b1[32], b2[32];
    if (n <= 0)
        return;
    dr_evidence(f, "E%d %s: %lld since start, +%s over the interval (%s), last seen %s ago%s",
                code, jx_str(s, "name", "?"), n, fmt_num(dr_site_delta(d, code), b1),
                fmt_rate(d->secs > 0 ? dr_site_delta(d, code) / d->secs : 0, b2),
                fmt_duration((double)(d->now - jx_int(s, "last_seen", d->now)), (char[32]){ 0 }),
                "");
    const json_t *ctx = jx_get(s, "last_context");
    if (jx_int(ctx, "slab_class", -1) >= 0 || jx_int(ctx, "size", 0) > 0)
        dr_evidence(f, "  last context: slab class %lld, size %s, connection %lld",
                    jx_int(ctx, "slab_class", -1), fmt_bytes(jx_num(ctx, "size", 0), b1),
                    jx_int(ctx, "conn_id", 0));
    char key[16];
    snprintf(key, sizeof(key), "E%d", code);
    if (jx_str(s, "advice", NULL)) {
        json_object_set_new(d->site_advice, key, json_string(jx_str(s, "advice", "")));
        json_array_append_new(json_object_get(f, "advice"), json_string(key));
    }
}

const json_t *dr_arr(const json_t *sample, const char *sec, const char *member)
{
    return jx_get(dr_sec(sample, sec), member);
}

double dr_rate(const struct doctor *d, double delta)
{
    return d->secs > 0 ? delta / d->secs : 0;
}

const char *dr_key(const json_t *o)
{
    const char *k = jx_str(o, "key", NULL);
    return k ? k : jx_str(o, "key_base64", "?");
}

/* Events of a kind in b's history, newer than the window. */
bool dr_event_recent(const struct doctor *d, const json_t *e, const char *kind)
{
    return strcmp(jx_str(e, "kind", ""), kind) == 0 &&
           jx_int(e, "time", 0) >= d->now - d->recent;
}

/* --- recording --------------------------------------------------------------- */

static json_t *vformat(const char *fmt, va_list ap)
{
    char buf[1024];
    vsnprintf(buf, sizeof(buf), fmt, ap);
    return json_string(buf);
}

json_t *dr_finding(struct doctor *d, const char *rule, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_t *f = json_pack("{s:s, s:o, s:[], s:{}, s:[]}", "rule", rule, "title",
                          vformat(fmt, ap), "evidence", "subject", "advice");
    va_end(ap);
    json_array_append_new(d->findings, f);
    return f;
}

void dr_evidence(json_t *f, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    json_array_append_new(json_object_get(f, "evidence"), vformat(fmt, ap));
    va_end(ap);
}

void dr_subject(json_t *f, const char *key, json_t *v)
{
    json_object_set_new(json_object_get(f, "subject"), key, v);
}

void dr_advise(struct doctor *d, json_t *f, enum dr_advice a)
{
    d->advise[a] = true;
    json_array_append_new(json_object_get(f, "advice"), json_string(advice[a].id));
}

void dr_needs(struct doctor *d, const char *why)
{
    json_t *r = json_array_get(d->rules, json_array_size(d->rules) - 1);
    json_object_set_new(r, "status", json_string("needs data"));
    json_object_set_new(r, "reason", json_string(why));
}

/* --- gathering --------------------------------------------------------------- */

static double mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static void sleep_secs(double s)
{
    struct timespec ts = { (time_t)s, (long)((s - floor(s)) * 1e9) };
    while (nanosleep(&ts, &ts) != 0 && errno == EINTR)
        ;
}

/* Events of one history kind added to the sample's history section, so a
 * flood of connection events cannot push the few flushes out of the
 * snapshot's newest 200. */
static void add_history(struct client *c, json_t *hist, const char *kind)
{
    json_t *reply = NULL, *events = json_object_get(hist, "events");
    char line[64], err[256];
    snprintf(line, sizeof(line), "history %s limit=200", kind);
    if (!json_is_array(events) || cl_call(c, line, &reply, err, sizeof(err)) != EXIT_OK) {
        json_decref(reply);
        return;
    }
    size_t i;
    json_t *e;
    json_array_foreach(jx_path(reply, "data.events"), i, e)
        if (!dr_row(events, "seq", jx_int(e, "seq", -1)))
            json_array_append(events, e);
    json_decref(reply);
}

/* A snapshot plus what doctor also reads: latency (not in snapshots), the
 * rarer history kinds, and hotkeys where the server has it. */
static int sample_live(struct client *c, bool hotkeys, json_t **out, char *err, size_t errlen)
{
    json_t *doc = NULL, *reply = NULL, *threads = NULL;
    /* Threads first: read from liveness slots, it never waits, while the
     * snapshot's connection dumps wait up to a second for a stuck worker,
     * long enough for a stall to end before its threads section is read. */
    if (cl_call(c, "threads", &reply, err, errlen) == EXIT_OK)
        threads = json_incref(json_object_get(reply, "data"));
    json_decref(reply);
    reply = NULL;
    int rc = snap_capture(c, &doc, err, errlen);
    if (rc != EXIT_OK) {
        json_decref(threads);
        return rc;
    }
    json_t *secs = json_object_get(json_object_get(doc, "snapshot"), "sections");
    if (json_is_object(threads)) {
        json_object_set(threads, "time", json_object_get(json_object_get(secs, "threads"), "time"));
        json_object_set(secs, "threads", threads);
    }
    json_decref(threads);
    const char *extra[] = { "latency", hotkeys ? "hotkeys" : NULL };
    for (size_t i = 0; i < sizeof(extra) / sizeof(extra[0]); i++) {
        if (extra[i] && cl_call(c, extra[i], &reply, err, errlen) == EXIT_OK)
            json_object_set(secs, extra[i], json_object_get(reply, "data"));
        json_decref(reply);
        reply = NULL;
    }
    const char *kinds[] = { "flush", "reject", "pagemove", "eviction" };
    for (size_t i = 0; i < sizeof(kinds) / sizeof(kinds[0]); i++)
        add_history(c, json_object_get(secs, "history"), kinds[i]);
    *out = doc;
    return EXIT_OK;
}

static bool server_has(struct client *c, const char *cmd)
{
    json_t *reply = NULL;
    char err[256];
    bool has = false;
    size_t i;
    const json_t *h;
    if (cl_call(c, "help", &reply, err, sizeof(err)) == EXIT_OK)
        json_array_foreach(jx_path(reply, "data.commands"), i, h)
            has |= strcmp(jx_str(h, "name", ""), cmd) == 0;
    json_decref(reply);
    return has;
}

/* A file: a snapshot, or a report bundle (its first and last samples). */
static int load_input(const char *path, json_t **first, json_t **last)
{
    char err[1024];
    json_error_t je;
    json_t *doc = json_load_file(path, JSON_REJECT_DUPLICATES, &je);
    *first = *last = NULL;
    if (doc && jx_get(doc, "mcadmin_report")) {
        const json_t *s = jx_get(doc, "samples");
        size_t n = json_array_size(s);
        for (size_t i = 0; i < n; i += n > 1 ? n - 1 : 1)
            if (snap_validate(json_array_get(s, i), err, sizeof(err)) != 0) {
                fprintf(stderr, "mcadmin: %s: sample %zu: %s\n", path, i, err);
                json_decref(doc);
                return EXIT_CMD;
            }
        if (n == 0) {
            fprintf(stderr, "mcadmin: %s: a report without samples\n", path);
            json_decref(doc);
            return EXIT_CMD;
        }
        *last = json_incref(json_array_get(s, n - 1));
        if (n > 1)
            *first = json_incref(json_array_get(s, 0));
        json_decref(doc);
        return EXIT_OK;
    }
    json_decref(doc);
    *last = snap_load_file(path, err, sizeof(err));
    if (!*last) {
        fprintf(stderr, "mcadmin: %s\n", err);
        return EXIT_CMD;
    }
    return EXIT_OK;
}

static double stats_time(const json_t *s)
{
    const json_t *t = jx_get(dr_sec(s, "stats"), "time");
    return t ? jx_val(t) : (double)jx_int(s, "captured_at", 0);
}

static bool same_process(const json_t *a, const json_t *b)
{
    const json_t *sa = jx_get(a, "server"), *sb = jx_get(b, "server");
    return jx_int(sa, "pid", 0) == jx_int(sb, "pid", 0) &&
           jx_int(sa, "started", 0) == jx_int(sb, "started", 0);
}

/* --- printing ---------------------------------------------------------------- */

static void print_text(const struct doctor *d, const json_t *src, FILE *out)
{
    size_t nf = json_array_size(d->findings), i, k;
    const json_t *f, *e, *r;
    char b[32];
    fprintf(out, "%smcd doctor%s: mcd %s pid %lld, %s", C_BOLD, C_RESET,
            jx_str(jx_get(d->b, "server"), "version", "?"), jx_int(jx_get(d->b, "server"), "pid", 0),
            jx_str(src, "mode", "?"));
    if (d->a)
        fprintf(out, ", samples %s apart\n", fmt_duration(d->secs, b));
    else
        fprintf(out, ", one sample (rates since start, over %s)\n", fmt_duration(d->secs, b));
    if (nf == 0) {
        fprintf(out, "%sNo problem found.%s %zu rules checked.\n", C_GREEN, C_RESET,
                json_array_size(d->rules));
    } else {
        fprintf(out, "%s%zu finding%s:%s\n\n", C_RED, nf, nf == 1 ? "" : "s", C_RESET);
        json_array_foreach(d->findings, i, f) {
            fprintf(out, "%zu. %s%s%s: %s\n", i + 1, C_BOLD, jx_str(f, "rule", ""), C_RESET,
                    jx_str(f, "title", ""));
            json_array_foreach(jx_get(f, "evidence"), k, e)
                fprintf(out, "     %s\n", json_string_value(e));
        }
        fprintf(out, "\n%sWhat to do:%s\n", C_BOLD, C_RESET);
        for (int a = 0; a < ADV__COUNT; a++)
            if (d->advise[a])
                fprintf(out, "- [%s] %s\n", advice[a].knob, advice[a].text);
        const char *code;
        json_object_foreach((json_t *)d->site_advice, code, e)
            fprintf(out, "- [%s] %s\n", code, json_string_value(e));
    }
    bool header = false;
    json_array_foreach(d->rules, i, r) {
        if (strcmp(jx_str(r, "status", ""), "checked") == 0)
            continue;
        if (!header)
            fprintf(out, "\n%sNot checked%s (the samples lack what the rule reads):\n", C_DIM,
                    C_RESET);
        header = true;
        fprintf(out, "  %s: %s\n", jx_str(r, "name", ""), jx_str(r, "reason", ""));
    }
}

static json_t *build_json(const struct doctor *d, json_t *src)
{
    json_t *adv = json_array();
    for (int a = 0; a < ADV__COUNT; a++)
        if (d->advise[a])
            json_array_append_new(adv, json_pack("{s:s, s:s, s:s}", "id", advice[a].id,
                                                 "knob", advice[a].knob, "text", advice[a].text));
    const char *code;
    json_t *e;
    json_object_foreach((json_t *)d->site_advice, code, e)
        json_array_append_new(adv, json_pack("{s:s, s:s, s:O}", "id", code, "knob", code,
                                             "text", e));
    return json_pack("{s:b, s:o, s:O, s:o, s:O}", "healthy", json_array_size(d->findings) == 0,
                     "source", src, "findings", d->findings, "advice", adv, "rules", d->rules);
}

/* --- the command --------------------------------------------------------------- */

static int usage(void)
{
    fprintf(stderr, "usage: doctor [--interval S] [--recent S] [--baseline FILE] [--rules]\n"
                    "       doctor A.json B.json | doctor REPORT.json | doctor SNAPSHOT.json\n");
    return EXIT_USAGE;
}

static int list_rules(struct ctx *x)
{
    json_t *arr = json_array();
    for (int i = 0; i < dr_nrules; i++) {
        if (x->json)
            json_array_append_new(arr, json_pack("{s:s, s:s}", "name", dr_rules[i].name,
                                                 "checks", dr_rules[i].checks));
        else
            fprintf(x->out, "%-22s %s\n", dr_rules[i].name, dr_rules[i].checks);
    }
    if (x->json)
        jx_print_pretty(arr, x->out);
    json_decref(arr);
    return EXIT_OK;
}

static bool parse_num(const char *s, double lo, double hi, double *v)
{
    char *end;
    errno = 0;
    *v = strtod(s, &end);
    return s[0] && !*end && errno == 0 && *v >= lo && *v <= hi;
}

int doctor_run(struct ctx *x, int argc, char **argv)
{
    double interval = DR_DEFAULT_INTERVAL, recent = DR_DEFAULT_RECENT;
    const char *files[2], *base_file = NULL;
    int nfiles = 0, rc = EXIT_OK;
    for (int i = 1; i < argc; i++) {
        const char *o = argv[i];
        if (!strcmp(o, "--interval") || !strcmp(o, "--recent") || !strcmp(o, "--baseline")) {
            if (i + 1 >= argc)
                return usage();
            const char *v = argv[++i];
            if (!strcmp(o, "--baseline"))
                base_file = v;
            else if (!parse_num(v, !strcmp(o, "--interval") ? 0.1 : 0, 86400 * 365,
                                !strcmp(o, "--interval") ? &interval : &recent))
                return usage();
        } else if (!strcmp(o, "--rules")) {
            return list_rules(x);
        } else if (o[0] == '-' || nfiles == 2) {
            return usage();
        } else {
            files[nfiles++] = o;
        }
    }

    struct doctor d = { .recent = (long)recent, .findings = json_array(),
                        .rules = json_array(), .site_advice = json_object() };
    json_t *a = NULL, *b = NULL, *base = NULL, *src = json_object();
    char err[1024] = "";
    if (base_file && (rc = load_input(base_file, &a, &base)) != EXIT_OK)
        goto done;
    json_decref(a);
    a = NULL;
    if (nfiles == 2) {
        json_t *ignore = NULL;
        if ((rc = load_input(files[0], &ignore, &a)) != EXIT_OK ||
            (rc = load_input(files[1], &ignore, &b)) != EXIT_OK) {
            json_decref(ignore);
            goto done;
        }
        json_decref(ignore);
        json_object_set_new(src, "mode", json_string("snapshot pair"));
    } else if (nfiles == 1) {
        if ((rc = load_input(files[0], &a, &b)) != EXIT_OK)
            goto done;
        json_object_set_new(src, "mode", json_string(a ? "report" : "snapshot"));
    } else {
        bool hot = server_has(x->cl, "hotkeys");
        double t0 = mono();
        if ((rc = sample_live(x->cl, hot, &a, err, sizeof(err))) != EXIT_OK)
            goto fail;
        sleep_secs(interval - (mono() - t0) > 0 ? interval - (mono() - t0) : 0);
        double t1 = mono();
        if ((rc = sample_live(x->cl, hot, &b, err, sizeof(err))) != EXIT_OK)
            goto fail;
        d.secs = t1 - t0;
        json_object_set_new(src, "mode", json_string("live"));
    }
    for (int i = 0; i < nfiles; i++)
        json_object_set_new(src, i ? "file_b" : "file_a", json_string(files[i]));
    if (a && !same_process(a, b)) {
        fprintf(stderr, "mcadmin: the server restarted between the samples; only the newer "
                        "one is read\n");
        json_object_set_new(src, "restarted", json_true());
        json_decref(a);
        a = NULL;
    }
    d.a = a;
    d.b = b;
    d.baseline = base;
    d.now = (long long)stats_time(b);
    if (!d.secs)
        d.secs = a ? stats_time(b) - stats_time(a) : dr_stat(b, "uptime");
    if (d.secs <= 0)
        d.secs = 1;     /* two samples within the server's one-second clock */
    json_object_set_new(src, "interval_secs", json_real(d.secs));
    json_object_set_new(src, "samples", json_integer(a ? 2 : 1));
    json_t *ident = json_deep_copy(jx_get(b, "server"));
    json_object_set_new(src, "server", ident ? ident : json_null());

    for (int i = 0; i < dr_nrules; i++) {
        json_array_append_new(d.rules, json_pack("{s:s, s:s}", "name", dr_rules[i].name,
                                                 "status", "checked"));
        dr_rules[i].run(&d);
    }
    if (x->json) {
        json_t *o = build_json(&d, src);
        src = NULL;
        jx_print_pretty(o, x->out);
        json_decref(o);
    } else {
        print_text(&d, src, x->out);
    }
    rc = json_array_size(d.findings) ? EXIT_CMD : EXIT_OK;
    goto done;
fail:
    rc = view_fail(x, rc, NULL, err);
done:
    json_decref(src);
    json_decref(a);
    json_decref(b);
    json_decref(base);
    json_decref(d.findings);
    json_decref(d.rules);
    json_decref(d.site_advice);
    return rc;
}
