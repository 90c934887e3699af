/*
 * main.c - mcd's start and stop: flags into settings, privileges, the
 * engine, listeners, worker threads, then the main event loop (accepting,
 * the clock, signals) until SIGINT, SIGTERM or SIGUSR1.
 */
#include <errno.h>
#include <event2/event.h>
#include <event2/thread.h>
#include <grp.h>
#include <pwd.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/resource.h>
#include <sysexits.h>
#include <unistd.h>

#include "conn.h"
#include "crash.h"
#include "engine.h"
#include "errors.h"
#include "history.h"
#include "listen.h"
#include "live.h"
#include "../introspect/introspect.h"
#include "prefix.h"
#include "settings.h"
#include "stats.h"
#include "thread.h"
#include "util.h"

static void on_clock(evutil_socket_t fd, short which, void *arg)
{
    (void)fd;
    (void)which;
    (void)arg;
    clock_tick();
    live_beat(live_self(), "accepting");
}

static void on_stop_signal(evutil_socket_t sig, short which, void *arg)
{
    struct event_base *base = arg;
    (void)which;
    if (__atomic_load_n(&settings.verbose, __ATOMIC_RELAXED))
        fprintf(stderr, "mcd: signal %d: shutting down\n", (int)sig);
    event_base_loopbreak(base);
}

static void on_hup(evutil_socket_t sig, short which, void *arg)
{
    (void)sig;
    (void)which;
    (void)arg;
    /* Documented: SIGHUP is ignored (mcd keeps no log file to reopen). */
}

static int drop_privileges(void)
{
    if (getuid() != 0 && geteuid() != 0)
        return 0;
    if (!settings.username) {
        fprintf(stderr, "mcd: warning: running as root; use -u to run as another user\n");
        return 0;
    }
    struct passwd *pw = getpwnam(settings.username);
    if (!pw) {
        fprintf(stderr, "mcd: can't find the user '%s' to switch to\n", settings.username);
        return -1;
    }
    if (setgroups(0, NULL) != 0 && errno != EPERM) {
        perror("mcd: setgroups");
        return -1;
    }
    if (setgid(pw->pw_gid) != 0 || setuid(pw->pw_uid) != 0) {
        fprintf(stderr, "mcd: failed to assume the identity of '%s'\n", settings.username);
        return -1;
    }
    return 0;
}

static void raise_limits(void)
{
    struct rlimit rl;
    if (settings.coredumps && getrlimit(RLIMIT_CORE, &rl) == 0) {
        rl.rlim_cur = rl.rlim_max;
        setrlimit(RLIMIT_CORE, &rl);
    }
    if (getrlimit(RLIMIT_NOFILE, &rl) == 0) {
        rlim_t want = (rlim_t)settings.maxconns + 64;
        if (rl.rlim_cur < want) {
            rl.rlim_cur = want;
            if (rl.rlim_max < want)
                rl.rlim_max = want;
            if (setrlimit(RLIMIT_NOFILE, &rl) != 0) {
                fprintf(stderr, "mcd: warning: the descriptor limit cannot be raised to %llu for -c %d\n",
                        (unsigned long long)want, settings.maxconns);
                err_raise(ERR_NOFILE_BELOW_MAXCONNS, 0);
            }
        }
    }
}

int main(int argc, char **argv)
{
    settings_init(&settings);
    err_setup();
    int rc = settings_parse(&settings, argc, argv);
    if (rc >= 0)
        return rc;

    signal(SIGPIPE, SIG_IGN);
    clock_setup();
    raise_limits();
    if (drop_privileges() != 0)
        return EX_OSERR;
    if (settings.daemonize && daemon(1, settings.verbose) != 0) {
        perror("mcd: daemon");
        return EX_OSERR;
    }
    if (settings.pidfile) {
        FILE *f = fopen(settings.pidfile, "w");
        if (!f) {
            fprintf(stderr, "mcd: cannot write pid file '%s': %s\n", settings.pidfile,
                    strerror(errno));
            return EX_CANTCREAT;
        }
        fprintf(f, "%ld\n", (long)getpid());
        fclose(f);
    }
    if (settings.lock_memory && mlockall(MCL_CURRENT | MCL_FUTURE) != 0)
        fprintf(stderr, "mcd: warning: -k: cannot lock memory: %s\n", strerror(errno));

    static char admin_path[512];
    if (!settings.admin_socket) {
        if (settings.socketpath)
            snprintf(admin_path, sizeof(admin_path), "%s.admin", settings.socketpath);
        else if (settings.port)
            snprintf(admin_path, sizeof(admin_path), "/tmp/mcd.%d.admin", settings.port);
        else
            snprintf(admin_path, sizeof(admin_path), "/tmp/mcd.pid%ld.admin", (long)getpid());
        settings.admin_socket = admin_path;
    }
    static char crash_path[512];
    if (!settings.crash_file) {
        if (settings.socketpath)
            snprintf(crash_path, sizeof(crash_path), "%s.crash", settings.socketpath);
        else
            snprintf(crash_path, sizeof(crash_path), "/tmp/mcd.%d.crash", settings.port);
        settings.crash_file = crash_path;
    }
    err_thread_register();
    stats_thread_register();
    history_thread_register("main");
    live_register("main", 0);
    prefix_enabled = settings.detail_enabled;

    char why[512];
    enum err_site eerr;
    engine = engine_load(settings.engine, &eerr, why, sizeof(why));
    if (!engine) {
        fprintf(stderr, "mcd: %s: %s\n", err_info(eerr)->message, why);
        return eerr == ERR_ENGINE_UNKNOWN ? EX_USAGE : EX_SOFTWARE;
    }
    if (engine->setup() != 0) {
        fprintf(stderr, "mcd: storage engine '%s' failed to start\n", settings.engine);
        return EX_SOFTWARE;
    }
    struct event_base *base = event_base_new();
    if (!base) {
        fprintf(stderr, "mcd: cannot create the event loop\n");
        return EX_OSERR;
    }
    /* Signals first, so a stop request during start-up is honoured. */
    struct timeval one = { 1, 0 };
    struct event *clock_ev = event_new(base, -1, EV_PERSIST, on_clock, NULL);
    struct event *sigint = evsignal_new(base, SIGINT, on_stop_signal, base);
    struct event *sigterm = evsignal_new(base, SIGTERM, on_stop_signal, base);
    struct event *sigusr1 = evsignal_new(base, SIGUSR1, on_stop_signal, base);
    struct event *sighup = evsignal_new(base, SIGHUP, on_hup, NULL);
    event_add(clock_ev, &one);
    event_add(sigint, NULL);
    event_add(sigterm, NULL);
    event_add(sigusr1, NULL);
    event_add(sighup, NULL);

    /* Workers and the admin socket come up before the data port opens, so
     * a server that accepts clients can already be looked into. */
    if (threads_start(settings.num_threads) != 0) {
        fprintf(stderr, "mcd: cannot start %d worker threads\n", settings.num_threads);
        return EX_OSERR;
    }
    engine->start();
    crash_setup(settings.crash_file);
    if (admin_start() != 0 || metrics_http_start() != 0 || listen_setup(base) != 0) {
        metrics_http_stop();
        admin_stop();
        threads_stop();
        engine->stop();
        return EX_OSERR;
    }

    event_base_dispatch(base);

    metrics_http_stop();
    admin_stop();
    listen_teardown();
    threads_stop();
    engine->stop();
    event_free(clock_ev);
    event_free(sigint);
    event_free(sigterm);
    event_free(sigusr1);
    event_free(sighup);
    event_base_free(base);
    prefix_teardown();
    if (settings.pidfile)
        unlink(settings.pidfile);
    return 0;
}
