/*
 * fuzz_conn.h - drive a real connection with fuzzer bytes. Shared by every
 * harness that fuzzes a protocol (fuzz_text.c; binary, meta and admin
 * harnesses follow the same pattern).
 *
 * The input is written into one end of a socketpair; the other end is a
 * `struct conn` made by conn_new() on a worker-like `struct thread` whose
 * event_base never runs. Instead fuzz_conn_run() calls conn_event() itself,
 * as the event loop would, draining the replies between calls, until the
 * connection has closed (after EOF, or `quit`, or an error). So the whole
 * state machine runs: reads, parsing, values (CONN_NREAD), swallowing,
 * batching and writes, and the references held by pending replies.
 *
 * After each input, fuzz_conn_check() flushes the cache, runs the expiry
 * pass and aborts if an item is still linked: with the connection closed,
 * nobody may hold a reference, so a leftover item is a leaked reference.
 *
 * Usage:
 *   int LLVMFuzzerInitialize(int *argc, char ***argv)
 *   { fuzz_conn_setup(PROTO_ASCII); return 0; }
 *   int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
 *   { fuzz_conn_run(data, size); fuzz_conn_check(); return 0; }
 */
#ifndef MCD_FUZZ_CONN_H
#define MCD_FUZZ_CONN_H

#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "fuzz_common.h"
#include "conn.h"
#include "engine.h"
#include "engine/slab/slab_internal.h"
#include "errors.h"
#include "prefix.h"
#include "settings.h"
#include "stats.h"
#include "thread.h"
#include "util.h"

/* More rounds than any input up to -max_len needs: a connection still open
 * after this many, with its peer gone, is stuck (a bug). */
#define FUZZ_CONN_MAX_ROUNDS 100000

static struct thread fuzz_thr;

static inline void fuzz_conn_setup(enum proto_choice proto)
{
    fuzz_quiet();
    signal(SIGPIPE, SIG_IGN);
    settings_init(&settings);
    settings.maxbytes = 16 * 1024 * 1024;
    settings.protocol = proto;
    settings.hashpower_init = 12;   /* keeps fuzz_conn_check's walk cheap */
    clock_setup();
    err_setup();
    err_thread_register();
    stats_thread_register();
    engine = engine_find("slab");
    if (!engine || engine->setup() != 0) {
        fprintf(fuzz_log, "fuzz: engine setup failed\n");
        abort();
    }
    /* no engine->start(): no maintainer thread, so runs are repeatable */
    fuzz_thr.base = event_base_new();
    pthread_mutex_init(&fuzz_thr.lock, NULL);
    if (!fuzz_thr.base)
        abort();
}

static inline void fuzz_conn_run(const uint8_t *data, size_t size)
{
    static char sink[1 << 16];
    int sv[2];
    if (socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) != 0)
        abort();
    conn_count_open();      /* as the listener does before the hand-off */
    struct conn *c = conn_new(sv[0], &fuzz_thr, true, NULL);
    if (!c)
        abort();
    size_t off = 0;
    bool shut = false;
    int rounds = 0;
    while (fuzz_thr.nconns > 0) {
        if (off < size) {
            ssize_t n = send(sv[1], data + off, size - off, MSG_NOSIGNAL);
            if (n > 0)
                off += (size_t)n;
        } else if (!shut) {
            shutdown(sv[1], SHUT_WR);
            shut = true;
        }
        conn_event(sv[0], EV_READ, c);
        while (recv(sv[1], sink, sizeof(sink), MSG_DONTWAIT) > 0)
            ;
        if (++rounds == FUZZ_CONN_MAX_ROUNDS) {
            fprintf(fuzz_log, "fuzz: connection still open after EOF and %d rounds "
                    "(state %s)\n", rounds, conn_state_name(c->state));
            abort();
        }
    }
    close(sv[1]);
    /* undo what commands may have changed for the next input */
    settings.verbose = 0;
    prefix_enabled = false;
}

struct fuzz_stat {
    const char *name;
    uint64_t value;
};

static inline void fuzz_stat_cb(void *ctx, const char *name, const char *value)
{
    struct fuzz_stat *f = ctx;
    if (strcmp(name, f->name) == 0)
        f->value = strtoull(value, NULL, 10);
}

static inline void fuzz_conn_check(void)
{
    engine->flush(0);
    items_expire_pass();
    struct fuzz_stat f = { "curr_items", 0 };
    engine->stats(fuzz_stat_cb, &f);
    if (f.value != 0) {
        fprintf(fuzz_log, "fuzz: %llu items still linked after flush with no "
                "connection open: a leaked item reference\n",
                (unsigned long long)f.value);
        abort();
    }
}

#endif /* MCD_FUZZ_CONN_H */
