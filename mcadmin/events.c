/*
 * events.c - follows the server's event stream (admin `watch KIND,...`)
 * and prints each event as one line as it arrives.
 *
 * The server pushes events every 100 ms and drops them for a watcher that
 * reads too slowly, saying so with {"lost":N}; those notices are shown.
 * It stops on a key press when standard input is a terminal, after
 * --count N events or --seconds S, or on SIGINT/SIGTERM; then it sends
 * the line that ends the stream, so the server frees the watcher at once.
 */
#include "mcadmin.h"

#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <termios.h>
#include <time.h>
#include <unistd.h>

static volatile sig_atomic_t interrupted;

static void on_signal(int sig)
{
    (void)sig;
    interrupted = 1;
}

static double now_mono(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* One event, one line: time, kind, what, then only the fields it has. */
static void print_event(FILE *o, const json_t *e)
{
    time_t t = (time_t)jx_int(e, "time", 0);
    struct tm tm;
    char ts[16] = "--:--:--", b[32];
    if (t > 0 && localtime_r(&t, &tm))
        strftime(ts, sizeof(ts), "%H:%M:%S", &tm);
    const char *kind = jx_str(e, "kind", "?");
    bool bad = !strcmp(kind, "error") || !strcmp(kind, "reject");
    fprintf(o, "%s %s%-10s%s %s", ts, bad ? C_RED : C_BOLD, kind, C_RESET, jx_str(e, "what", ""));
    if (jx_int(e, "code", 0))
        fprintf(o, " [E%lld]", jx_int(e, "code", 0));
    const char *key = jx_str(e, "key", NULL);
    if (key && *key)
        fprintf(o, " key=%s", key);
    else if (jx_str(e, "key_base64", NULL))
        fprintf(o, " key=base64:%s", jx_str(e, "key_base64", ""));
    if (jx_int(e, "class", -1) >= 0)
        fprintf(o, " class=%lld", jx_int(e, "class", 0));
    if (!strcmp(kind, "pagemove"))
        fprintf(o, " to=%lld", jx_int(e, "class_to", 0));
    if (jx_int(e, "size", 0) > 0)
        fprintf(o, " %s=%s", strcmp(kind, "flush") ? "size" : "delay",
                strcmp(kind, "flush") ? fmt_bytes(jx_num(e, "size", 0), b)
                                      : fmt_duration(jx_num(e, "size", 0), b));
    if (jx_int(e, "age_secs", 0) > 0)
        fprintf(o, " age=%s", fmt_duration(jx_num(e, "age_secs", 0), b));
    if (!strcmp(kind, "eviction") || !strcmp(kind, "expiration"))
        fprintf(o, " fetched=%s", json_is_true(jx_get(e, "fetched")) ? "yes" : "no");
    if (jx_int(e, "conn_id", 0))
        fprintf(o, " conn=%lld", jx_int(e, "conn_id", 0));
    if (*jx_str(e, "peer", ""))
        fprintf(o, " peer=%s", jx_str(e, "peer", ""));
    fputc('\n', o);
}

static int usage(void)
{
    fprintf(stderr, "usage: events KIND[,KIND...] [--count N] [--seconds S]\n"
            "       KIND: eviction expiration error flush conn reject pagemove, or all\n");
    return EXIT_USAGE;
}

int events_run(struct ctx *x, int argc, char **argv)
{
    const char *kinds = NULL;
    long count = 0;
    double secs = 0;
    for (int i = 1; i < argc; i++) {
        char *end;
        if (!strcmp(argv[i], "--count") && i + 1 < argc) {
            count = strtol(argv[++i], &end, 10);
            if (*end || count <= 0)
                return usage();
        } else if (!strcmp(argv[i], "--seconds") && i + 1 < argc) {
            secs = strtod(argv[++i], &end);
            if (*end || !(secs > 0 && secs <= 86400))
                return usage();
        } else if (!kinds && argv[i][0] != '-') {
            kinds = argv[i];
        } else {
            return usage();
        }
    }
    if (!kinds)
        return usage();

    char line[512], err[512] = "";
    snprintf(line, sizeof(line), "watch %s", kinds);
    json_t *head = NULL;
    int rc = cl_follow_start(x->cl, line, &head, err, sizeof(err));
    if (rc != EXIT_OK) {
        rc = view_fail(x, rc, head, err);
        json_decref(head);
        return rc;
    }
    json_decref(head);

    bool keys = isatty(STDIN_FILENO);
    struct termios saved, raw;
    if (keys && tcgetattr(STDIN_FILENO, &saved) == 0) {
        raw = saved;
        raw.c_lflag &= (tcflag_t) ~(ICANON | ECHO);
        raw.c_cc[VMIN] = 1;
        raw.c_cc[VTIME] = 0;
        tcsetattr(STDIN_FILENO, TCSANOW, &raw);
    } else {
        keys = false;
    }
    struct sigaction sa = { .sa_handler = on_signal }, old_int, old_term;
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, &old_int);
    sigaction(SIGTERM, &sa, &old_term);
    interrupted = 0;
    if (!x->json) {
        fprintf(x->out, "following %s events", kinds);
        if (count)
            fprintf(x->out, " for %ld", count);
        if (secs)
            fprintf(x->out, " for %gs", secs);
        fprintf(x->out, "%s\n", keys ? " (press any key to stop)" : "");
        fflush(x->out);
    }

    double end = secs > 0 ? now_mono() + secs : 0;
    long seen = 0, lost = 0;
    while (!interrupted && (count == 0 || seen < count)) {
        int wait = 1000;
        if (end) {
            double left = end - now_mono();
            if (left <= 0)
                break;
            wait = left < 1 ? (int)(left * 1000) + 1 : 1000;
        }
        json_t *o;
        int r = cl_follow_next(x->cl, wait, keys ? STDIN_FILENO : -1, &o, err, sizeof(err));
        if (r == CL_FOLLOW_FD) {
            char buf[64];
            ssize_t n = read(STDIN_FILENO, buf, sizeof(buf));
            (void)n;    /* a key, or the terminal went away: stop either way */
            break;
        }
        if (r == CL_FOLLOW_ERROR) {
            fprintf(stderr, "mcadmin: %s\n", err);
            rc = EXIT_CONNECT;
            break;
        }
        if (r != CL_FOLLOW_OBJ)
            continue;
        if (x->json) {
            json_dumpf(o, x->out, JSON_COMPACT);
            fputc('\n', x->out);
        } else if (jx_get(o, "lost")) {
            fprintf(x->out, "%s-- %lld events lost: mcadmin read them too slowly --%s\n",
                    C_YELLOW, jx_int(o, "lost", 0), C_RESET);
        } else {
            print_event(x->out, o);
        }
        if (jx_get(o, "lost"))
            lost += jx_int(o, "lost", 0);
        else
            seen++;
        json_decref(o);
        fflush(x->out);
    }
    if (rc == EXIT_OK)
        cl_follow_stop(x->cl);
    sigaction(SIGINT, &old_int, NULL);
    sigaction(SIGTERM, &old_term, NULL);
    if (keys)
        tcsetattr(STDIN_FILENO, TCSANOW, &saved);
    if (!x->json && rc == EXIT_OK)
        fprintf(x->out, "%ld events%s", seen, lost ? "" : "\n");
    if (!x->json && rc == EXIT_OK && lost)
        fprintf(x->out, ", %ld lost\n", lost);
    return rc;
}
