/*
 * thread.h - worker threads. Each worker runs its own event_base; the
 * listener hands accepted sockets to them round-robin through a queue and a
 * notify pipe, and each UDP socket to all of them (udp.h).
 */
#ifndef MCD_THREAD_H
#define MCD_THREAD_H

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

struct conn;
struct take_ring;
struct hotkeys;

struct thread {
    int index;
    pthread_t tid;
    struct event_base *base;
    struct event *notify_ev;
    struct event *tick_ev;
    int notify_rd, notify_wr;
    pthread_mutex_t lock;       /* guards queue and conns */
    struct pending *queue;
    struct conn *conns;
    uint64_t nconns;
    struct wblock *free_blocks; /* owner thread only */
    /* the owner writes these two, stats read them (relaxed atomics) */
    int nfree_blocks;           /* blocks in free_blocks */
    uint64_t nblocks;           /* its blocks alive, in use or free */
    /* A call from another thread (thread_call), under lock. */
    void (*call_fn)(struct thread *t, void *arg);
    void *call_arg;
    bool call_done;
    pthread_cond_t call_cond;
    rel_time_t heartbeat;       /* atomic: last tick of this thread's loop */
    struct live *live;          /* its liveness slot (live.h) */
    struct take_ring *takes;    /* where references were taken (hold.h) */
    struct hotkeys *hotkeys;    /* its sampled top keys (hotkeys.h) */
    /* connection memory, owner thread only (read through thread_call) */
    uint64_t buf_bytes;         /* read buffers and response blocks in use */
    uint64_t buf_hwm;           /* the most buf_bytes has been */
};

extern struct thread *threads;
extern int nthreads;

int threads_start(int n);
void threads_stop(void);
/* Hand an accepted socket to the next worker; false if that failed.
 * listen_addr (static storage) names the listener it came in on. */
bool thread_dispatch(int fd, bool is_unix, const char *listen_addr);
/* Hand a UDP socket to every worker (each gets its own dup, the last the
 * socket itself); false if no worker got it. */
bool thread_dispatch_udp(int fd);
/*
 * Run fn(t, arg) on worker t's own thread, between events, and wait for it.
 * That is how the admin thread reads connection state without the data
 * path paying for locks. Returns false if the worker did not start the call
 * within timeout_ms (it is then cancelled; a call already running is always
 * waited for, so arg may live on the caller's stack).
 */
bool thread_call(struct thread *t, void (*fn)(struct thread *t, void *arg),
                 void *arg, int timeout_ms);
/* Run fn for every connection of every thread, under each thread's lock. */
void threads_each_conn(void (*fn)(struct conn *c, void *ctx), void *ctx);

#endif /* MCD_THREAD_H */
