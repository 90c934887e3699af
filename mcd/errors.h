/*
 * errors.h - raising errors through the registry (errors.def).
 *
 * Every failure site has an identity: err_raise() counts it per thread (no
 * shared cache line on the data path), remembers its newest context, and
 * returns the site so callers can answer the client with err_line().
 */
#ifndef MCD_ERRORS_H
#define MCD_ERRORS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <time.h>

enum err_class { R_NONE, R_ERROR, R_ERROR_BARE, R_CLIENT, R_SERVER, R_JSON };

enum err_site {
#define E(name, code, cls, bin, msg, advice) name,
#include "errors.def"
#undef E
    ERR__COUNT
};

struct err_info {
    const char *name;
    int code;
    enum err_class cls;
    uint16_t bin_status;
    const char *message;
    const char *advice;
};

/* What was going on when a site fired; zero fields are "unknown". */
struct err_ctx {
    int clsid;          /* slab class, or -1 */
    uint64_t size;      /* requested size in bytes */
    uint64_t conn_id;   /* connection id, 0 if none */
};

/* Counters of one site, as read (summed over threads). */
struct err_count {
    uint64_t count;
    time_t first;       /* unix time first seen, 0 if never */
    time_t last;        /* unix time last seen */
    struct err_ctx last_ctx;
};

const struct err_info *err_info(enum err_site e);
/* The word a reply of this class starts with; NULL for R_NONE and R_JSON. */
const char *err_class_word(enum err_class c);
/* The full wire line for a client, e.g. "SERVER_ERROR ... [E2104]\r\n". */
const char *err_line(enum err_site e, size_t *len);

/* Count the site with its context; safe from any thread. */
void err_raise_ctx(enum err_site e, const struct err_ctx *ctx);
static inline void err_raise(enum err_site e, uint64_t conn_id)
{
    struct err_ctx ctx = { .clsid = -1, .size = 0, .conn_id = conn_id };
    err_raise_ctx(e, &ctx);
}

void err_read(enum err_site e, struct err_count *out);
uint64_t err_total(enum err_site e);
/* The same without locks, for the crash handler only. */
uint64_t err_total_unlocked(enum err_site e);

/*
 * Fault injection. Off unless the server was started with
 * -o fault=NAME:N[:P],... ; then err_inject(NAME) answers true every Nth
 * call (or with probability P percent when N is 0), and the caller takes its
 * failure path as if the real failure had happened.
 */
extern bool err_faults_on;
bool err_inject_(enum err_site e);
static inline bool err_inject(enum err_site e)
{
    return __builtin_expect(err_faults_on, 0) && err_inject_(e);
}
/* Parse one "NAME:N[:P]" spec; returns false with a message on error. */
bool err_fault_config(const char *spec, char *why, size_t whylen);
/* Look up a site by its symbolic name ("ERR_TOO_LARGE") or code ("2101"). */
bool err_lookup(const char *name, enum err_site *out);

/* Registers the calling thread's counter slots; every thread that may
 * raise calls this once (threads that don't share a fallback slot). */
void err_thread_register(void);
void err_setup(void);

#endif /* MCD_ERRORS_H */
