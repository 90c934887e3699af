/*
 * format.c - how mcadmin shows things: aligned tables, human units,
 * colour (only on a terminal, never with NO_COLOR set), and JSON accessors
 * that never trust a document's shape.
 */
#include "mcadmin.h"

#include <math.h>
#include <stdarg.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

/* --- colour -------------------------------------------------------------- */

bool fmt_color(void)
{
    static int on = -1;
    if (on < 0) {
        const char *nc = getenv("NO_COLOR");
        on = isatty(STDOUT_FILENO) && !(nc && nc[0]);
    }
    return on;
}

const char *fmt_c(const char *sgr)
{
    static char bufs[8][16];
    static int next;
    if (!fmt_color())
        return "";
    char *b = bufs[next++ % 8];
    snprintf(b, sizeof(bufs[0]), "\033[%sm", sgr);
    return b;
}

/* --- units --------------------------------------------------------------- */

char *fmt_bytes(double n, char *buf)
{
    static const char *const unit[] = { "B", "KiB", "MiB", "GiB", "TiB", "PiB" };
    int u = 0;
    double v = n < 0 ? -n : n;
    while (v >= 1024 && u < 5) {
        v /= 1024;
        u++;
    }
    if (u == 0)
        snprintf(buf, 32, "%s%.0f B", n < 0 ? "-" : "", v);
    else
        snprintf(buf, 32, "%s%.*f %s", n < 0 ? "-" : "", v < 10 ? 1 : 0, v, unit[u]);
    return buf;
}

char *fmt_duration(double secs, char *buf)
{
    if (secs < 0) {
        snprintf(buf, 32, "-");
        return buf;
    }
    long long s = (long long)secs;
    if (secs < 10 && secs != (double)s)
        snprintf(buf, 32, "%.1fs", secs);
    else if (s < 60)
        snprintf(buf, 32, "%llds", s);
    else if (s < 3600)
        snprintf(buf, 32, "%lldm %02llds", s / 60, s % 60);
    else if (s < 86400)
        snprintf(buf, 32, "%lldh %02lldm", s / 3600, s % 3600 / 60);
    else
        snprintf(buf, 32, "%lldd %02lldh", s / 86400, s % 86400 / 3600);
    return buf;
}

char *fmt_num(double v, char *buf)
{
    if (isfinite(v) && v == floor(v) && fabs(v) < 9e15)
        snprintf(buf, 32, "%.0f", v);
    else
        snprintf(buf, 32, "%.4g", v);
    return buf;
}

char *fmt_rate(double v, char *buf)
{
    if (!isfinite(v))
        snprintf(buf, 32, "-");
    else if (fabs(v) >= 100 || v == floor(v))
        snprintf(buf, 32, "%.0f/s", v);
    else
        snprintf(buf, 32, "%.2f/s", v);
    return buf;
}

char *fmt_time(long long t, char *buf)
{
    time_t tt = (time_t)t;
    struct tm tm;
    if (t <= 0 || !localtime_r(&tt, &tm))
        snprintf(buf, 32, "-");
    else
        strftime(buf, 32, "%Y-%m-%d %H:%M:%S", &tm);
    return buf;
}

/* --- tables -------------------------------------------------------------- */

struct table {
    int ncols, nrows, cap;
    char **cells;       /* (nrows + 1) * ncols, row 0 the headers */
};

struct table *tbl_new(int ncols, ...)
{
    struct table *t = calloc(1, sizeof(*t));
    t->ncols = ncols;
    t->cap = 16;
    t->cells = calloc((size_t)t->cap * (size_t)ncols, sizeof(char *));
    va_list ap;
    va_start(ap, ncols);
    for (int i = 0; i < ncols; i++)
        t->cells[i] = strdup(va_arg(ap, const char *));
    va_end(ap);
    t->nrows = 1;
    return t;
}

static char **row_new(struct table *t)
{
    if (t->nrows == t->cap) {
        t->cap *= 2;
        t->cells = realloc(t->cells, (size_t)t->cap * (size_t)t->ncols * sizeof(char *));
    }
    char **r = &t->cells[(size_t)t->nrows * (size_t)t->ncols];
    for (int i = 0; i < t->ncols; i++)
        r[i] = NULL;
    t->nrows++;
    return r;
}

void tbl_add(struct table *t, ...)
{
    char **r = row_new(t);
    va_list ap;
    va_start(ap, t);
    for (int i = 0; i < t->ncols; i++) {
        const char *s = va_arg(ap, const char *);
        r[i] = strdup(s ? s : "");
    }
    va_end(ap);
}

/* Sets one cell of the newest row (adding a row when col is 0). */
void tbl_addf(struct table *t, int col, const char *fmt, ...)
{
    char **r = col == 0 ? row_new(t) : &t->cells[(size_t)(t->nrows - 1) * (size_t)t->ncols];
    va_list ap;
    va_start(ap, fmt);
    free(r[col]);
    if (vasprintf(&r[col], fmt, ap) < 0)
        r[col] = NULL;
    va_end(ap);
}

/* A column of numbers (and units) reads best aligned right. */
static bool looks_numeric(const char *s)
{
    if (!s || !*s)
        return true;
    if (*s == '+' || *s == '-')
        s++;
    return (*s >= '0' && *s <= '9') || strcmp(s, "-") == 0 || *s == '\0';
}

void tbl_print(struct table *t, FILE *out, const char *indent)
{
    int w[64] = { 0 };
    bool right[64];
    int nc = t->ncols < 64 ? t->ncols : 64;
    for (int c = 0; c < nc; c++) {
        right[c] = t->nrows > 1;
        for (int r = 0; r < t->nrows; r++) {
            const char *s = t->cells[(size_t)r * (size_t)t->ncols + (size_t)c];
            int l = s ? (int)strlen(s) : 0;
            if (l > w[c])
                w[c] = l;
            if (r > 0 && !looks_numeric(s))
                right[c] = false;
        }
    }
    for (int r = 0; r < t->nrows; r++) {
        char **row = &t->cells[(size_t)r * (size_t)t->ncols];
        int lastc = nc - 1;     /* no trailing blanks: stop at the last cell */
        while (lastc > 0 && (!row[lastc] || !row[lastc][0]))
            lastc--;
        fputs(indent ? indent : "", out);
        if (r == 0)
            fputs(C_BOLD, out);
        for (int c = 0; c <= lastc; c++) {
            const char *s = row[c] ? row[c] : "";
            if (right[c])
                fprintf(out, "%*s", w[c], s);
            else if (c == lastc)
                fputs(s, out);
            else
                fprintf(out, "%-*s", w[c], s);
            if (c < lastc)
                fputs("  ", out);
        }
        if (r == 0)
            fputs(C_RESET, out);
        fputc('\n', out);
    }
}

void tbl_free(struct table *t)
{
    if (!t)
        return;
    for (size_t i = 0; i < (size_t)t->nrows * (size_t)t->ncols; i++)
        free(t->cells[i]);
    free(t->cells);
    free(t);
}

/* --- JSON accessors ------------------------------------------------------ */

const json_t *jx_get(const json_t *o, const char *key)
{
    return json_is_object(o) ? json_object_get(o, key) : NULL;
}

const json_t *jx_path(const json_t *o, const char *dotted)
{
    char part[128];
    while (o && *dotted) {
        const char *dot = strchr(dotted, '.');
        size_t n = dot ? (size_t)(dot - dotted) : strlen(dotted);
        if (n >= sizeof(part))
            return NULL;
        memcpy(part, dotted, n);
        part[n] = '\0';
        o = jx_get(o, part);
        dotted += n + (dot ? 1 : 0);
    }
    return o;
}

bool jx_isnum(const json_t *v) { return json_is_integer(v) || json_is_real(v); }

double jx_val(const json_t *v)
{
    return json_is_integer(v) ? (double)json_integer_value(v)
         : json_is_real(v) ? json_real_value(v) : 0.0;
}

long long jx_int(const json_t *o, const char *key, long long def)
{
    const json_t *v = jx_get(o, key);
    if (json_is_integer(v))
        return json_integer_value(v);
    if (json_is_real(v) && fabs(json_real_value(v)) < 9e18)
        return (long long)json_real_value(v);
    return def;
}

double jx_num(const json_t *o, const char *key, double def)
{
    const json_t *v = jx_get(o, key);
    return jx_isnum(v) ? jx_val(v) : def;
}

const char *jx_str(const json_t *o, const char *key, const char *def)
{
    const json_t *v = jx_get(o, key);
    return json_is_string(v) ? json_string_value(v) : def;
}

const char *jx_text(const json_t *v, char *buf, size_t len)
{
    if (json_is_string(v))
        return json_string_value(v);
    if (json_is_integer(v))
        snprintf(buf, len, "%lld", (long long)json_integer_value(v));
    else if (json_is_real(v))
        snprintf(buf, len, "%.6g", json_real_value(v));
    else if (json_is_true(v))
        snprintf(buf, len, "true");
    else if (json_is_false(v))
        snprintf(buf, len, "false");
    else if (!v || json_is_null(v))
        snprintf(buf, len, "-");
    else {
        char *s = json_dumps(v, JSON_COMPACT | JSON_ENCODE_ANY);
        snprintf(buf, len, "%s", s ? s : "?");
        free(s);
    }
    return buf;
}

void jx_print_pretty(const json_t *v, FILE *out)
{
    json_dumpf(v, out, JSON_INDENT(2) | JSON_ENCODE_ANY | JSON_REAL_PRECISION(10));
    fputc('\n', out);
}
