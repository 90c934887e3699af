/*
 * errors.c - the error registry at run time: the table built from
 * errors.def, per-thread counters, wire lines, and fault injection.
 *
 * Counting: each thread owns a slab of per-site slots and is the only writer
 * of its slots; a per-thread mutex guards them because readers (stats, the
 * admin socket) sum every thread's slots. Errors are off the fast path, so
 * an uncontended lock is cheap enough and keeps the reader exact.
 */
#include "errors.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "history.h"
#include "util.h"

static const struct err_info table[ERR__COUNT] = {
#define E(name, code, cls, bin, msg, advice) \
    [name] = { #name, code, cls, bin, msg, advice },
#include "errors.def"
#undef E
};

static char *lines[ERR__COUNT];
static size_t line_lens[ERR__COUNT];

struct err_slot {
    uint64_t count;
    time_t first, last;
    struct err_ctx ctx;
};

struct err_thread {
    pthread_mutex_t lock;           /* guards slots */
    struct err_slot slots[ERR__COUNT];
    struct err_thread *next;        /* registry list, under reg_lock */
};

static pthread_mutex_t reg_lock = PTHREAD_MUTEX_INITIALIZER;
static struct err_thread *threads;  /* under reg_lock */
static struct err_thread shared_slot = { .lock = PTHREAD_MUTEX_INITIALIZER };
static __thread struct err_thread *mine;

struct fault {
    uint32_t every;     /* fail every Nth call; 0 = use percent */
    uint32_t percent;   /* probability in percent */
    uint64_t calls;     /* under fault_lock */
};
bool err_faults_on;
static struct fault faults[ERR__COUNT];
static pthread_mutex_t fault_lock = PTHREAD_MUTEX_INITIALIZER;

const char *err_class_word(enum err_class c)
{
    switch (c) {
    case R_ERROR:
    case R_ERROR_BARE: return "ERROR";
    case R_CLIENT: return "CLIENT_ERROR";
    case R_SERVER: return "SERVER_ERROR";
    case R_NONE:
    case R_JSON: break;
    }
    return NULL;
}

void err_setup(void)
{
    for (int i = 0; i < ERR__COUNT; i++) {
        const char *w = err_class_word(table[i].cls);
        if (!w)
            w = "SERVER_ERROR";   /* never sent, but keep err_line total */
        const char *sep = table[i].message[0] == ':' ? "" : " ";
        int n = snprintf(NULL, 0, "%s%s%s [E%04d]\r\n", w, sep,
                         table[i].message, table[i].code);
        if (table[i].cls == R_ERROR_BARE)
            n = (int)strlen("ERROR\r\n");
        lines[i] = malloc((size_t)n + 1);
        if (!lines[i])
            abort();    /* at start only: nothing to serve yet */
        if (table[i].cls == R_ERROR_BARE)
            memcpy(lines[i], "ERROR\r\n", (size_t)n + 1);
        else
            snprintf(lines[i], (size_t)n + 1, "%s%s%s [E%04d]\r\n", w, sep,
                     table[i].message, table[i].code);
        line_lens[i] = (size_t)n;
    }
    shared_slot.next = NULL;
    pthread_mutex_lock(&reg_lock);
    if (!threads)
        threads = &shared_slot;
    pthread_mutex_unlock(&reg_lock);
}

void err_thread_register(void)
{
    struct err_thread *t = calloc(1, sizeof(*t));
    if (!t)
        return;     /* this thread keeps using the shared slot */
    pthread_mutex_init(&t->lock, NULL);
    pthread_mutex_lock(&reg_lock);
    t->next = threads;
    threads = t;
    pthread_mutex_unlock(&reg_lock);
    mine = t;
}

const struct err_info *err_info(enum err_site e)
{
    return &table[e];
}

const char *err_line(enum err_site e, size_t *len)
{
    if (len)
        *len = line_lens[e];
    return lines[e];
}

void err_raise_ctx(enum err_site e, const struct err_ctx *ctx)
{
    struct err_thread *t = mine ? mine : &shared_slot;
    time_t now = clock_abs(clock_now());
    pthread_mutex_lock(&t->lock);
    struct err_slot *s = &t->slots[e];
    if (s->count++ == 0)
        s->first = now;
    s->last = now;
    s->ctx = *ctx;
    pthread_mutex_unlock(&t->lock);
    struct hist_event ev = {
        .kind = HK_error, .what = table[e].name, .code = table[e].code,
        .clsid = ctx->clsid, .conn_id = ctx->conn_id, .size = ctx->size,
    };
    history_add(&ev);
}

void err_read(enum err_site e, struct err_count *out)
{
    memset(out, 0, sizeof(*out));
    out->last_ctx.clsid = -1;
    pthread_mutex_lock(&reg_lock);
    for (struct err_thread *t = threads; t; t = t->next) {
        pthread_mutex_lock(&t->lock);
        const struct err_slot *s = &t->slots[e];
        if (s->count) {
            out->count += s->count;
            if (!out->first || s->first < out->first)
                out->first = s->first;
            if (s->last >= out->last) {
                out->last = s->last;
                out->last_ctx = s->ctx;
            }
        }
        pthread_mutex_unlock(&t->lock);
    }
    pthread_mutex_unlock(&reg_lock);
}

uint64_t err_total(enum err_site e)
{
    struct err_count c;
    err_read(e, &c);
    return c.count;
}

uint64_t err_total_unlocked(enum err_site e)
{
    uint64_t n = 0;
    for (struct err_thread *t = threads; t; t = t->next)
        n += __atomic_load_n(&t->slots[e].count, __ATOMIC_RELAXED);
    return n;
}

bool err_lookup(const char *name, enum err_site *out)
{
    for (int i = 0; i < ERR__COUNT; i++) {
        char code[16];
        snprintf(code, sizeof(code), "%d", table[i].code);
        if (strcmp(name, table[i].name) == 0 || strcmp(name, code) == 0 ||
            (name[0] == 'E' && strcmp(name + 1, code) == 0)) {
            *out = (enum err_site)i;
            return true;
        }
    }
    return false;
}

bool err_fault_config(const char *spec, char *why, size_t whylen)
{
    char name[64];
    uint32_t every = 0, pct = 0;
    const char *colon = strchr(spec, ':');
    if (!colon || (size_t)(colon - spec) >= sizeof(name)) {
        snprintf(why, whylen, "fault spec '%s' is not NAME:N[:PERCENT]", spec);
        return false;
    }
    memcpy(name, spec, (size_t)(colon - spec));
    name[colon - spec] = '\0';
    /* Strict numbers: sscanf("%u") would take "-1" as 4294967295 and
     * ignore trailing junk, silently arming a fault that never fires. */
    const char *n = colon + 1;
    const char *colon2 = strchr(n, ':');
    size_t nlen = colon2 ? (size_t)(colon2 - n) : strlen(n);
    if (!parse_u32(n, nlen, &every) ||
        (colon2 && !parse_u32(colon2 + 1, strlen(colon2 + 1), &pct)) ||
        (every == 0 && (pct == 0 || pct > 100))) {
        snprintf(why, whylen, "fault spec '%s' needs N > 0, or 0:PERCENT", spec);
        return false;
    }
    enum err_site e;
    if (!err_lookup(name, &e)) {
        snprintf(why, whylen, "fault spec '%s' names no error site", spec);
        return false;
    }
    pthread_mutex_lock(&fault_lock);
    faults[e].every = every;
    faults[e].percent = pct;
    faults[e].calls = 0;
    pthread_mutex_unlock(&fault_lock);
    err_faults_on = true;
    return true;
}

bool err_inject_(enum err_site e)
{
    bool fire = false;
    pthread_mutex_lock(&fault_lock);
    struct fault *f = &faults[e];
    if (f->every) {
        fire = ++f->calls % f->every == 0;
    } else if (f->percent) {
        fire = (uint32_t)(rand() % 100) < f->percent;
    }
    pthread_mutex_unlock(&fault_lock);
    return fire;
}
