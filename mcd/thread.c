/*
 * thread.c - worker threads and the hand-off of new connections to them.
 *
 * The listener pushes an accepted socket on the chosen worker's queue and
 * writes one byte to the worker's notify pipe; the worker wakes, drains the
 * queue and creates the connections on its own event_base. A byte 'q' asks
 * the worker to close its connections and leave its loop. A UDP socket
 * takes the same path once per worker, each with its own dup() of it.
 */
#include "history.h"
#include "thread.h"

#include <errno.h>
#include <fcntl.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "conn.h"
#include "crash.h"
#include "errors.h"
#include "latency.h"
#include "hold.h"
#include "hotkeys.h"
#include "live.h"
#include "settings.h"
#include "stats.h"
#include "udp.h"

struct pending {
    int fd;
    bool is_unix;
    const char *listen_addr;    /* static: the listener's address */
    bool is_udp;        /* a UDP socket to serve, not a client */
    struct pending *next;
};

struct thread *threads;
int nthreads;
__thread struct take_ring *take_ring_mine;
static unsigned next_thread;    /* listener thread only */

static void close_idle(struct thread *t)
{
    if (settings.idle_timeout <= 0 && settings.write_timeout <= 0)
        return;
    rel_time_t now = clock_now();
    /* Only this thread changes its list, so walking it outside the lock
     * is safe; the lock is for readers on other threads. */
    struct conn *c = t->conns;
    while (c) {
        struct conn *next = c->next;
        if (conn_is_udp(c)) {
            /* never idle, and never waits on a client to read */
        } else if (settings.idle_timeout > 0 && c->state == CONN_READ && c->rbytes == 0 &&
            now - c->last_cmd > (rel_time_t)settings.idle_timeout) {
            err_raise(ERR_IDLE_TIMEOUT, c->id);
            c->close_reason = "idle timeout";
            conn_close(c);
        } else if (settings.write_timeout > 0 && c->state == CONN_WRITE &&
                   c->ev_flags == EV_WRITE &&
                   now - c->write_progress > (rel_time_t)settings.write_timeout) {
            /* a client that sends but never reads: its replies pile up */
            struct err_ctx ctx = { .clsid = -1, .size = c->out_pending, .conn_id = c->id };
            err_raise_ctx(ERR_CONN_WRITE_STALLED, &ctx);
            c->close_reason = "client stopped reading";
            conn_close(c);
        }
        c = next;
    }
}

static void thread_tick(evutil_socket_t fd, short which, void *arg)
{
    struct thread *t = arg;
    (void)fd;
    (void)which;
    __atomic_store_n(&t->heartbeat, clock_now(), __ATOMIC_RELAXED);
    live_beat(t->live, "serving");
    close_idle(t);
}

/* On the worker: run a pending cross-thread call, if any. */
static void run_call(struct thread *t)
{
    pthread_mutex_lock(&t->lock);
    void (*fn)(struct thread *, void *) = t->call_fn;
    void *arg = t->call_arg;
    t->call_fn = NULL;
    pthread_mutex_unlock(&t->lock);
    if (!fn)
        return;
    fn(t, arg);
    pthread_mutex_lock(&t->lock);
    t->call_done = true;
    pthread_cond_broadcast(&t->call_cond);
    pthread_mutex_unlock(&t->lock);
}

bool thread_call(struct thread *t, void (*fn)(struct thread *, void *),
                 void *arg, int timeout_ms)
{
    struct timespec deadline;
    clock_gettime(CLOCK_REALTIME, &deadline);
    deadline.tv_sec += timeout_ms / 1000;
    deadline.tv_nsec += (long)(timeout_ms % 1000) * 1000000L;
    if (deadline.tv_nsec >= 1000000000L) {
        deadline.tv_sec++;
        deadline.tv_nsec -= 1000000000L;
    }
    pthread_mutex_lock(&t->lock);
    while (t->call_fn) {    /* another caller's call is pending */
        if (pthread_cond_timedwait(&t->call_cond, &t->lock, &deadline) != 0) {
            pthread_mutex_unlock(&t->lock);
            return false;
        }
    }
    t->call_fn = fn;
    t->call_arg = arg;
    t->call_done = false;
    pthread_mutex_unlock(&t->lock);
    if (write(t->notify_wr, "x", 1) != 1 && errno != EAGAIN)
        err_raise(ERR_THREAD_HANDOFF, 0);
    pthread_mutex_lock(&t->lock);
    bool ok = true;
    while (!t->call_done) {
        if (pthread_cond_timedwait(&t->call_cond, &t->lock, &deadline) != 0) {
            if (t->call_fn == fn && t->call_arg == arg) {
                /* never started: withdraw it */
                t->call_fn = NULL;
                ok = false;
                break;
            }
            /* running: it must finish before arg goes away */
            while (!t->call_done)
                pthread_cond_wait(&t->call_cond, &t->lock);
        }
    }
    pthread_cond_broadcast(&t->call_cond);
    pthread_mutex_unlock(&t->lock);
    return ok;
}

static void thread_notify(evutil_socket_t fd, short which, void *arg)
{
    struct thread *t = arg;
    char buf[64];
    (void)which;
    ssize_t n = read(fd, buf, sizeof(buf));
    for (ssize_t i = 0; i < n; i++) {
        if (buf[i] == 'q') {
            event_base_loopbreak(t->base);
            return;
        }
    }
    run_call(t);
    pthread_mutex_lock(&t->lock);
    struct pending *p = t->queue;
    t->queue = NULL;
    pthread_mutex_unlock(&t->lock);
    while (p) {
        struct pending *next = p->next;
        if (p->is_udp) {
            udp_attach(p->fd, t);
        } else if (!conn_new(p->fd, t, p->is_unix, p->listen_addr)) {
            close(p->fd);
            conn_count_closed();
        }
        free(p);
        p = next;
    }
}

static void *worker(void *arg)
{
    struct thread *t = arg;
    err_thread_register();
    stats_thread_register();
    latency_thread_register();
    crash_thread_register(t->index);
    t->live = live_register("worker", t->index);
    t->takes = calloc(1, sizeof(*t->takes));
    take_ring_mine = t->takes;
    hotkeys_thread_register();
    t->hotkeys = hk_mine;
    live_beat(t->live, "serving");
    history_thread_register("worker");
    event_base_dispatch(t->base);
    /* Shutting down: close what is left. */
    while (t->conns) {
        t->conns->close_reason = "server stopping";
        conn_close(t->conns);
    }
    return NULL;
}

int threads_start(int n)
{
    threads = calloc((size_t)n, sizeof(*threads));
    if (!threads)
        return -1;
    nthreads = n;
    for (int i = 0; i < n; i++) {
        struct thread *t = &threads[i];
        int fds[2];
        t->index = i;
        pthread_mutex_init(&t->lock, NULL);
        pthread_cond_init(&t->call_cond, NULL);
        t->heartbeat = clock_now();
        if (pipe2(fds, O_NONBLOCK | O_CLOEXEC) != 0)
            return -1;
        t->notify_rd = fds[0];
        t->notify_wr = fds[1];
        t->base = event_base_new();
        if (!t->base)
            return -1;
        t->notify_ev = event_new(t->base, t->notify_rd, EV_READ | EV_PERSIST,
                                 thread_notify, t);
        t->tick_ev = event_new(t->base, -1, EV_PERSIST, thread_tick, t);
        struct timeval one = { 1, 0 };
        if (!t->notify_ev || !t->tick_ev || event_add(t->notify_ev, NULL) != 0 ||
            event_add(t->tick_ev, &one) != 0)
            return -1;
    }
    for (int i = 0; i < n; i++) {
        if (pthread_create(&threads[i].tid, NULL, worker, &threads[i]) != 0)
            return -1;
    }
    return 0;
}

void threads_stop(void)
{
    for (int i = 0; i < nthreads; i++) {
        ssize_t w = write(threads[i].notify_wr, "q", 1);
        (void)w;
    }
    /* Join them all before freeing any: a worker may lock another
     * worker's lock (threads_each_conn) until it has stopped. */
    for (int i = 0; i < nthreads; i++)
        pthread_join(threads[i].tid, NULL);
    for (int i = 0; i < nthreads; i++) {
        struct thread *t = &threads[i];
        event_free(t->notify_ev);
        event_free(t->tick_ev);
        event_base_free(t->base);
        close(t->notify_rd);
        close(t->notify_wr);
        conn_thread_teardown(t);
        free(t->takes);
        free(t->hotkeys);
        struct pending *p = t->queue;
        while (p) {
            struct pending *next = p->next;
            close(p->fd);
            if (!p->is_udp)
                conn_count_closed();
            free(p);
            p = next;
        }
        pthread_mutex_destroy(&t->lock);
        pthread_cond_destroy(&t->call_cond);
    }
    free(threads);
    threads = NULL;
    nthreads = 0;
}

static bool dispatch_to(struct thread *t, int fd, bool is_unix, bool is_udp,
                        const char *listen_addr)
{
    struct pending *p = err_inject(ERR_THREAD_HANDOFF) ? NULL : malloc(sizeof(*p));
    if (!p)
        return false;
    p->fd = fd;
    p->is_unix = is_unix;
    p->listen_addr = listen_addr;
    p->is_udp = is_udp;
    pthread_mutex_lock(&t->lock);
    p->next = t->queue;
    t->queue = p;
    pthread_mutex_unlock(&t->lock);
    /* A full pipe (EAGAIN) already has wake-ups pending, and each wake-up
     * drains the whole queue. Any other failure leaves the socket queued
     * for the next wake-up, and is counted. */
    if (write(t->notify_wr, "c", 1) != 1 && errno != EAGAIN)
        err_raise(ERR_THREAD_HANDOFF, 0);
    return true;
}

bool thread_dispatch(int fd, bool is_unix, const char *listen_addr)
{
    return dispatch_to(&threads[next_thread++ % (unsigned)nthreads], fd, is_unix, false,
                       listen_addr);
}

bool thread_dispatch_udp(int fd)
{
    int served = 0;
    for (int i = 0; i < nthreads; i++) {
        int mine = i == nthreads - 1 ? fd : fcntl(fd, F_DUPFD_CLOEXEC, 0);
        if (mine < 0 || !dispatch_to(&threads[i], mine, false, true, NULL)) {
            err_raise(ERR_THREAD_HANDOFF, 0);
            if (mine >= 0)
                close(mine);
            continue;
        }
        served++;
    }
    return served > 0;
}

void threads_each_conn(void (*fn)(struct conn *c, void *ctx), void *ctx)
{
    for (int i = 0; i < nthreads; i++) {
        pthread_mutex_lock(&threads[i].lock);
        for (struct conn *c = threads[i].conns; c; c = c->next)
            fn(c, ctx);
        pthread_mutex_unlock(&threads[i].lock);
    }
}
