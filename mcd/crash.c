/*
 * crash.c - writing the crash file from a signal handler.
 *
 * Everything the handler touches is prepared at start or is plain memory:
 * the file path, a rendered copy of the settings, the per-worker rings of
 * recent commands, the error counters (read without their locks: a torn
 * value is better than a deadlock in a dying process). Output goes through
 * write(2) and a hand-rolled number formatter; backtrace() is called once
 * at start so that the handler's call does not load libgcc.
 */
#include "crash.h"

#include <execinfo.h>
#include <fcntl.h>
#include <pthread.h>
#include <signal.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "errors.h"
#include "settings.h"
#include "stats_text.h"

#define RING 8
#define NOTE_KEY 80
#define MAX_RINGS 256

/* Noted on the data path, so kept cheap: the command's static name and the
 * key's raw bytes; they are made printable only when a crash writes them. */
struct note {
    const char *cmd;
    uint8_t nkey;
    char key[NOTE_KEY];
};

struct ring {
    int index;
    unsigned next;
    struct note note[RING];
};

static char crash_path[512];
static char settings_text[8192];
static size_t settings_len;
static struct ring *rings[MAX_RINGS];
static int nrings;                  /* atomic */
static __thread struct ring *my_ring;
static char altstack[64 * 1024];

/* --- async-signal-safe output ------------------------------------------ */

static void out(int fd, const char *s)
{
    size_t n = strlen(s);
    while (n > 0) {
        ssize_t w = write(fd, s, n);
        if (w <= 0)
            return;
        s += w;
        n -= (size_t)w;
    }
}

static void out_u64(int fd, uint64_t v, int base)
{
    char buf[24];
    int i = (int)sizeof(buf) - 1;
    buf[i] = '\0';
    do {
        buf[--i] = "0123456789abcdef"[v % (uint64_t)base];
        v /= (uint64_t)base;
    } while (v && i > 0);
    if (base == 16)
        out(fd, "0x");
    out(fd, buf + i);
}

static const char *signame(int sig)
{
    switch (sig) {
    case SIGSEGV: return "SIGSEGV";
    case SIGBUS: return "SIGBUS";
    case SIGFPE: return "SIGFPE";
    case SIGILL: return "SIGILL";
    case SIGABRT: return "SIGABRT";
    }
    return "signal";
}

static void write_report(int fd, int sig, siginfo_t *si)
{
    out(fd, "mcd crash report\nversion: mcd " MCD_VERSION "\nsignal: ");
    out_u64(fd, (uint64_t)sig, 10);
    out(fd, " ");
    out(fd, signame(sig));
    out(fd, "\ncode: ");
    out_u64(fd, (uint64_t)(si ? si->si_code : 0), 10);
    out(fd, "\naddress: ");
    out_u64(fd, (uint64_t)(uintptr_t)(si ? si->si_addr : NULL), 16);
    out(fd, "\npid: ");
    out_u64(fd, (uint64_t)getpid(), 10);
    out(fd, "\ntime: ");
    out_u64(fd, (uint64_t)time(NULL), 10);
    out(fd, "\n\nbacktrace:\n");
    void *frames[64];
    int n = backtrace(frames, 64);
    backtrace_symbols_fd(frames, n, fd);

    out(fd, "\nlast commands per worker (newest last):\n");
    int nr = __atomic_load_n(&nrings, __ATOMIC_ACQUIRE);
    for (int r = 0; r < nr; r++) {
        struct ring *g = rings[r];
        out(fd, "worker ");
        out_u64(fd, (uint64_t)g->index, 10);
        out(fd, ":\n");
        for (unsigned i = 0; i < RING; i++) {
            const struct note *note = &g->note[(g->next + i) % RING];
            const char *cmd = note->cmd;
            if (!cmd)
                continue;
            char line[NOTE_KEY + 4];
            size_t len = 0;
            unsigned nk = note->nkey < NOTE_KEY ? note->nkey : NOTE_KEY;
            if (nk)
                line[len++] = ' ';
            for (unsigned k = 0; k < nk; k++)     /* keep the file printable */
                line[len++] = (note->key[k] >= 0x20 && note->key[k] < 0x7f) ? note->key[k] : '?';
            line[len++] = '\n';
            line[len] = '\0';
            out(fd, "  ");
            out(fd, cmd);
            out(fd, line);
        }
    }

    out(fd, "\nerror sites that fired (code name count):\n");
    for (int i = 0; i < ERR__COUNT; i++) {
        uint64_t c = err_total_unlocked((enum err_site)i);
        if (!c)
            continue;
        const struct err_info *e = err_info((enum err_site)i);
        out(fd, "  E");
        out_u64(fd, (uint64_t)e->code, 10);
        out(fd, " ");
        out(fd, e->name);
        out(fd, " ");
        out_u64(fd, c, 10);
        out(fd, "\n");
    }
    out(fd, "\nsettings:\n");
    if (write(fd, settings_text, settings_len) < 0)
        return;
}

static void on_crash(int sig, siginfo_t *si, void *uctx)
{
    (void)uctx;
    int fd = open(crash_path, O_WRONLY | O_CREAT | O_TRUNC | O_CLOEXEC, 0600);
    if (fd >= 0) {
        write_report(fd, sig, si);
        close(fd);
    }
    out(2, "mcd: fatal signal ");
    out(2, signame(sig));
    out(2, "; crash report written to ");
    out(2, crash_path);
    out(2, "\n");
    /* SA_RESETHAND restored the default action: dying as before. */
    raise(sig);
}

/* --- setup --------------------------------------------------------------- */

static void render_setting(void *ctx, const char *name, const char *value)
{
    (void)ctx;
    int n = snprintf(settings_text + settings_len, sizeof(settings_text) - settings_len,
                     "  %s %s\n", name, value);
    if (n > 0 && settings_len + (size_t)n < sizeof(settings_text))
        settings_len += (size_t)n;
}

void crash_setup(const char *path)
{
    snprintf(crash_path, sizeof(crash_path), "%s", path);
    stats_group("settings", 8, render_setting, NULL);
    void *warm[4];
    backtrace(warm, 4);     /* loads the unwinder now, not in the handler */

    stack_t ss = { .ss_sp = altstack, .ss_size = sizeof(altstack) };
    sigaltstack(&ss, NULL);
    struct sigaction sa;
    memset(&sa, 0, sizeof(sa));
    sa.sa_sigaction = on_crash;
    sa.sa_flags = SA_SIGINFO | SA_RESETHAND | SA_ONSTACK;
    sigemptyset(&sa.sa_mask);
    int sigs[] = { SIGSEGV, SIGBUS, SIGFPE, SIGILL, SIGABRT };
    for (size_t i = 0; i < sizeof(sigs) / sizeof(sigs[0]); i++)
        sigaction(sigs[i], &sa, NULL);
}

void crash_thread_register(int index)
{
    struct ring *g = calloc(1, sizeof(*g));
    if (!g)
        return;
    g->index = index;
    int slot = __atomic_fetch_add(&nrings, 0, __ATOMIC_RELAXED);
    if (slot >= MAX_RINGS) {
        free(g);
        return;
    }
    static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
    pthread_mutex_lock(&lock);
    slot = __atomic_load_n(&nrings, __ATOMIC_RELAXED);
    rings[slot] = g;
    __atomic_store_n(&nrings, slot + 1, __ATOMIC_RELEASE);
    pthread_mutex_unlock(&lock);
    my_ring = g;
}

void crash_note(const char *cmd, const char *key, size_t nkey)
{
    struct ring *g = my_ring;
    if (!g)
        return;
    struct note *n = &g->note[g->next % RING];
    size_t kl = key ? (nkey < NOTE_KEY ? nkey : NOTE_KEY) : 0;
    n->cmd = cmd;
    n->nkey = (uint8_t)kl;
    memcpy(n->key, key ? key : "", kl);
    g->next++;
}
