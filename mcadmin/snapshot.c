/*
 * snapshot.c - snapshot files: capture, save, load, validate.
 *
 * A snapshot file is one JSON document:
 *   {"mcadmin_snapshot": 1, "mcadmin_version": "0.1.0",
 *    "captured_at": <unix time, our clock>, "source_socket": "...",
 *    "server": {the server's identity}, "snapshot": {"sections": {...}}}
 * where "snapshot" is the data of the server's `snapshot` reply unchanged.
 *
 * Files come from other machines and other people: the loader checks the
 * shape of everything diff reads, and says in one line what is wrong.
 * snap_load_buf() works on a buffer so a fuzzer can drive it.
 */
#include "mcadmin.h"

#include <errno.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>

#define SNAP_MAX_FILE (512u << 20)

const json_t *snap_section(const json_t *doc, const char *name)
{
    return jx_get(jx_get(jx_get(doc, "snapshot"), "sections"), name);
}

/* The sections diff reads, and the member each must carry. */
static const struct {
    const char *section, *member;
    int type;           /* JSON_OBJECT or JSON_ARRAY */
    bool required;
} shape[] = {
    { "stats", "stats", JSON_OBJECT, true },
    { "stats", "gauges", JSON_ARRAY, true },
    { "settings", "settings", JSON_OBJECT, false },
    { "slabs", "classes", JSON_ARRAY, false },
    { "lru", "classes", JSON_ARRAY, false },
    { "errors", "sites", JSON_ARRAY, false },
    { "conns", "connections", JSON_ARRAY, false },
    { "threads", "threads", JSON_ARRAY, false },
    { "locked", "items", JSON_ARRAY, false },
    { "prefixes", "prefixes", JSON_ARRAY, false },
};

static const char *type_name(const json_t *v)
{
    switch (v ? json_typeof(v) : JSON_NULL) {
    case JSON_OBJECT: return "an object";
    case JSON_ARRAY: return "an array";
    case JSON_STRING: return "a string";
    case JSON_INTEGER: case JSON_REAL: return "a number";
    case JSON_TRUE: case JSON_FALSE: return "a boolean";
    default: return v ? "null" : "missing";
    }
}

/* Every element of arr must be an object; for "keyed" arrays the named
 * member must be an integer (a slab id, an error code). */
static int check_rows(const json_t *arr, const char *where, const char *id,
                      char *err, size_t errlen)
{
    size_t i;
    const json_t *row;
    json_array_foreach(arr, i, row) {
        if (!json_is_object(row)) {
            snprintf(err, errlen, "%s[%zu] is %s, not an object", where, i, type_name(row));
            return -1;
        }
        if (id && !json_is_integer(json_object_get(row, id))) {
            snprintf(err, errlen, "%s[%zu].%s is %s, not an integer", where, i, id,
                     type_name(json_object_get(row, id)));
            return -1;
        }
    }
    return 0;
}

int snap_validate(const json_t *doc, char *err, size_t errlen)
{
    if (!json_is_object(doc)) {
        snprintf(err, errlen, "the document is %s, not an object", type_name(doc));
        return -1;
    }
    const json_t *fmt = jx_get(doc, "mcadmin_snapshot");
    if (!fmt) {
        snprintf(err, errlen, "not an mcadmin snapshot (no \"mcadmin_snapshot\" member)");
        return -1;
    }
    if (!json_is_integer(fmt) || json_integer_value(fmt) != MCADMIN_SNAPSHOT_FORMAT) {
        char b[64];
        snprintf(err, errlen, "unsupported snapshot format %s (this mcadmin reads %d)",
                 jx_text(fmt, b, sizeof(b)), MCADMIN_SNAPSHOT_FORMAT);
        return -1;
    }
    if (!json_is_integer(jx_get(doc, "captured_at"))) {
        snprintf(err, errlen, "\"captured_at\" is %s, not an integer",
                 type_name(jx_get(doc, "captured_at")));
        return -1;
    }
    if (!json_is_object(jx_get(doc, "server"))) {
        snprintf(err, errlen, "\"server\" is %s, not an object", type_name(jx_get(doc, "server")));
        return -1;
    }
    const json_t *secs = jx_get(jx_get(doc, "snapshot"), "sections");
    if (!json_is_object(secs)) {
        snprintf(err, errlen, "\"snapshot.sections\" is %s, not an object", type_name(secs));
        return -1;
    }
    for (size_t i = 0; i < sizeof(shape) / sizeof(shape[0]); i++) {
        const json_t *s = json_object_get(secs, shape[i].section);
        char where[96];
        snprintf(where, sizeof(where), "sections.%s", shape[i].section);
        if (!s && !shape[i].required)
            continue;
        if (!json_is_object(s)) {
            snprintf(err, errlen, "%s is %s, not an object", where, type_name(s));
            return -1;
        }
        if (!json_is_integer(json_object_get(s, "time"))) {
            snprintf(err, errlen, "%s.time is %s, not an integer", where,
                     type_name(json_object_get(s, "time")));
            return -1;
        }
        const json_t *m = json_object_get(s, shape[i].member);
        if (!m && !shape[i].required)
            continue;
        if (!m || json_typeof(m) != (json_type)shape[i].type) {
            snprintf(err, errlen, "%s.%s is %s, not %s", where, shape[i].member, type_name(m),
                     shape[i].type == JSON_OBJECT ? "an object" : "an array");
            return -1;
        }
        snprintf(where, sizeof(where), "sections.%s.%s", shape[i].section, shape[i].member);
        if (shape[i].type == JSON_ARRAY && strcmp(shape[i].member, "gauges") != 0) {
            const char *id = !strcmp(shape[i].section, "slabs") ? "id"
                           : !strcmp(shape[i].section, "errors") ? "code" : NULL;
            if (check_rows(m, where, id, err, errlen) != 0)
                return -1;
        }
    }
    size_t i;
    const json_t *g;
    json_array_foreach(jx_path(secs, "stats.gauges"), i, g) {
        if (!json_is_string(g)) {
            snprintf(err, errlen, "sections.stats.gauges[%zu] is %s, not a string", i, type_name(g));
            return -1;
        }
    }
    return 0;
}

json_t *snap_load_buf(const char *buf, size_t len, const char *name, char *err, size_t errlen)
{
    json_error_t je;
    char why[256];
    if (len == 0) {
        snprintf(err, errlen, "%s: empty file, not a snapshot", name);
        return NULL;
    }
    json_t *doc = json_loadb(buf, len, JSON_REJECT_DUPLICATES, &je);
    if (!doc) {
        snprintf(err, errlen, "%s: not valid JSON (line %d, column %d: %s)%s", name, je.line,
                 je.column, je.text,
                 je.position >= (int)len - 1 ? "; the file looks truncated" : "");
        return NULL;
    }
    if (snap_validate(doc, why, sizeof(why)) != 0) {
        snprintf(err, errlen, "%s: %s", name, why);
        json_decref(doc);
        return NULL;
    }
    return doc;
}

json_t *snap_load_file(const char *path, char *err, size_t errlen)
{
    FILE *f = fopen(path, "rb");
    if (!f) {
        snprintf(err, errlen, "%s: %s", path, strerror(errno));
        return NULL;
    }
    struct stat st;
    if (fstat(fileno(f), &st) != 0 || !S_ISREG(st.st_mode) || st.st_size > SNAP_MAX_FILE) {
        snprintf(err, errlen, "%s: not a regular file of at most %u MiB", path, SNAP_MAX_FILE >> 20);
        fclose(f);
        return NULL;
    }
    size_t n = (size_t)st.st_size;
    char *buf = malloc(n ? n : 1);
    size_t got = buf ? fread(buf, 1, n, f) : 0;
    fclose(f);
    if (!buf || got != n) {
        snprintf(err, errlen, "%s: cannot read the file", path);
        free(buf);
        return NULL;
    }
    json_t *doc = snap_load_buf(buf, n, path, err, errlen);
    free(buf);
    return doc;
}

int snap_capture(struct client *c, json_t **doc, char *err, size_t errlen)
{
    json_t *reply = NULL;
    *doc = NULL;
    int rc = cl_call(c, "snapshot", &reply, err, errlen);
    if (rc != EXIT_OK) {
        if (rc == EXIT_CMD && reply)
            snprintf(err, errlen, "the server refused the snapshot: %s",
                     jx_str(jx_get(reply, "error"), "message", "error"));
        json_decref(reply);
        return rc;
    }
    json_t *d = json_pack("{s:i, s:s, s:I, s:s, s:O, s:O}",
        "mcadmin_snapshot", MCADMIN_SNAPSHOT_FORMAT, "mcadmin_version", MCADMIN_VERSION,
        "captured_at", (json_int_t)time(NULL), "source_socket", cl_path(c),
        "server", jx_get(reply, "server"), "snapshot", jx_get(reply, "data"));
    json_decref(reply);
    if (!d || snap_validate(d, err, errlen) != 0) {
        if (d)
            snprintf(err + strlen(err), errlen - strlen(err), " (in the server's reply)");
        json_decref(d);
        return EXIT_CMD;
    }
    *doc = d;
    return EXIT_OK;
}

int snap_save(const json_t *doc, const char *path, char *err, size_t errlen)
{
    char tmp[4096];
    snprintf(tmp, sizeof(tmp), "%s.tmp", path);
    /* Written beside the target and renamed, so a reader never sees half. */
    if (json_dump_file(doc, tmp, JSON_INDENT(1) | JSON_REAL_PRECISION(17)) != 0) {
        snprintf(err, errlen, "cannot write '%s': %s", tmp, strerror(errno));
        remove(tmp);
        return EXIT_CMD;
    }
    if (rename(tmp, path) != 0) {
        snprintf(err, errlen, "cannot rename '%s' to '%s': %s", tmp, path, strerror(errno));
        remove(tmp);
        return EXIT_CMD;
    }
    return EXIT_OK;
}

char *snap_default_name(const char *stem, char *buf, size_t len)
{
    time_t now = time(NULL);
    struct tm tm;
    char ts[32];
    localtime_r(&now, &tm);
    strftime(ts, sizeof(ts), "%Y%m%d-%H%M%S", &tm);
    snprintf(buf, len, "%s-%s.json", stem, ts);
    return buf;
}
