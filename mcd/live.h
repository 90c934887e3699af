/*
 * live.h - thread liveness. Every worker and background thread registers a
 * slot and stamps it each turn of its loop: a heartbeat, what it is doing
 * and, while busy, since when and for which connection and command. The
 * admin thread reads the slots without waiting on anyone, so a stuck
 * worker is diagnosed while it is stuck, without a debugger.
 */
#ifndef MCD_LIVE_H
#define MCD_LIVE_H

#include <stdbool.h>
#include <stdint.h>
#include <sys/types.h>

#include "util.h"

#define LIVE_MAX 64

struct live {
    const char *name;       /* "worker", "maintainer", "admin", "main" */
    int index;
    pid_t tid;
    /* all atomics, written by the owner only */
    rel_time_t beat;        /* last turn of the loop */
    const char *state;      /* static text */
    rel_time_t busy_since;  /* 0 when idle */
    uint64_t conn_id;
    const char *cmd;
    bool published;         /* atomic: the fields above are set */
};

struct live *live_register(const char *name, int index);
/* The calling thread's slot (NULL if it has none). */
struct live *live_self(void);

static inline void live_beat(struct live *l, const char *state)
{
    if (!l)
        return;
    __atomic_store_n(&l->beat, clock_now(), __ATOMIC_RELAXED);
    __atomic_store_n(&l->state, state, __ATOMIC_RELAXED);
}

static inline void live_busy(struct live *l, uint64_t conn_id)
{
    __atomic_store_n(&l->conn_id, conn_id, __ATOMIC_RELAXED);
    __atomic_store_n(&l->busy_since, clock_now(), __ATOMIC_RELAXED);
}

static inline void live_cmd(struct live *l, const char *cmd)
{
    if (l)
        __atomic_store_n(&l->cmd, cmd, __ATOMIC_RELAXED);
}

/* Back from an event: also a heartbeat. Without it a thread just back
 * from a long event showed "stuck, busy 0s" (its last beat was from before
 * the event) until the loop's next tick. */
static inline void live_idle(struct live *l)
{
    __atomic_store_n(&l->beat, clock_now(), __ATOMIC_RELAXED);
    __atomic_store_n(&l->busy_since, 0, __ATOMIC_RELAXED);
    __atomic_store_n(&l->conn_id, 0, __ATOMIC_RELAXED);
}

/* A copy of every slot; returns how many. */
int live_list(struct live *out, int max);
/* CPU seconds the thread has used (from /proc), -1 if unknown. */
double live_cpu_secs(pid_t tid);

#endif /* MCD_LIVE_H */
