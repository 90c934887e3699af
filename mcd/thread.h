/*
 * thread.h - worker threads. Each worker runs its own event_base; the
 * listener hands accepted sockets to them round-robin through a queue and a
 * notify pipe.
 */
#ifndef MCD_THREAD_H
#define MCD_THREAD_H

#include <event2/event.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>

struct conn;

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
    int nfree_blocks;
};

extern struct thread *threads;
extern int nthreads;

int threads_start(int n);
void threads_stop(void);
/* Hand an accepted socket to the next worker; false if that failed. */
bool thread_dispatch(int fd, bool is_unix);
/* Run fn for every connection of every thread, under each thread's lock. */
void threads_each_conn(void (*fn)(struct conn *c, void *ctx), void *ctx);

#endif /* MCD_THREAD_H */
