/*
 * listen.c - listening sockets and accepting.
 *
 * New connections past -c are answered with the registry's "Too many open
 * connections" line and closed at once (memcached's maxconns_fast), and the
 * refusal is counted. When the process runs out of descriptors, accepting
 * pauses for a short while instead of spinning on the error.
 *
 * With -U, every -l address also gets a UDP socket, which is not watched
 * here: it goes to the workers, each of which serves it (udp.h).
 */
#include "listen.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/stat.h>
#include <sys/un.h>
#include <unistd.h>

#include "conn.h"
#include "errors.h"
#include "latency.h"
#include "settings.h"
#include "thread.h"
#include "udp.h"

#define MAX_LISTENERS 32

struct listener {
    int fd;
    bool is_unix;
    struct event *ev;
    char addr[80];      /* "tcp:127.0.0.1:11211", "unix:/path": stats conns */
    rel_time_t opened;
};

static struct listener listeners[MAX_LISTENERS];
static int nlisteners;
static struct event *resume_ev;
static bool accepting = true;   /* main thread writes; stats read: atomic */
static uint64_t disabled_usec;  /* atomic: total time accepting was paused */
static struct timespec disabled_at;     /* main thread only */

void listen_each(void (*fn)(int fd, const char *addr, rel_time_t opened, void *ctx),
                 void *ctx)
{
    /* Each entry is written before the count that covers it is published,
     * and never again; the count drops to 0 at shutdown. */
    int n = __atomic_load_n(&nlisteners, __ATOMIC_ACQUIRE);
    for (int i = 0; i < n; i++)
        fn(listeners[i].fd, listeners[i].addr, listeners[i].opened, ctx);
}

uint64_t listen_disabled_usec(void)
{
    return __atomic_load_n(&disabled_usec, __ATOMIC_RELAXED);
}

bool listen_accepting(void)
{
    return __atomic_load_n(&accepting, __ATOMIC_RELAXED);
}

static void set_accepting(bool on)
{
    if (on == listen_accepting())
        return;
    for (int i = 0; i < nlisteners; i++) {
        if (on)
            event_add(listeners[i].ev, NULL);
        else
            event_del(listeners[i].ev);
    }
    struct timespec now;
    clock_gettime(CLOCK_MONOTONIC, &now);
    if (on) {
        uint64_t us = (uint64_t)(now.tv_sec - disabled_at.tv_sec) * 1000000u +
                      (uint64_t)((now.tv_nsec - disabled_at.tv_nsec) / 1000);
        __atomic_add_fetch(&disabled_usec, us, __ATOMIC_RELAXED);
    } else {
        disabled_at = now;
    }
    __atomic_store_n(&accepting, on, __ATOMIC_RELAXED);
}

static void resume_accept(evutil_socket_t fd, short which, void *arg)
{
    (void)fd;
    (void)which;
    (void)arg;
    set_accepting(true);
}

static void on_accept(evutil_socket_t lfd, short which, void *arg)
{
    struct listener *l = arg;
    uint64_t t0 = now_ns();
    (void)which;
    for (int n = 0; n < 64; n++) {
        if (n == 63)    /* a full batch: many clients connecting at once */
            latency_event("accept_storm", now_ns() - t0);
        int fd = accept4(lfd, NULL, NULL, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
                return;
            if (errno == EMFILE || errno == ENFILE) {
                err_raise(errno == EMFILE ? ERR_ACCEPT_EMFILE : ERR_ACCEPT_ENFILE, 0);
                set_accepting(false);
                struct timeval tv = { 0, 10 * 1000 };
                evtimer_add(resume_ev, &tv);
                return;
            }
            err_raise(errno == ENOMEM || errno == ENOBUFS ? ERR_ACCEPT_NOMEM : ERR_ACCEPT_FAILED, 0);
            return;
        }
        if (conn_curr() >= (uint64_t)settings.maxconns) {
            size_t len;
            const char *line = err_line(ERR_MAXCONNS, &len);
            err_raise(ERR_MAXCONNS, 0);
            ssize_t w = write(fd, line, len);
            (void)w;
            close(fd);
            continue;
        }
        if (!l->is_unix) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        }
        conn_count_open();
        if (!thread_dispatch(fd, l->is_unix, l->addr)) {
            err_raise(ERR_THREAD_HANDOFF, 0);
            conn_count_closed();
            close(fd);
        }
    }
}

static int add_listener(struct event_base *base, int fd, bool is_unix)
{
    if (nlisteners == MAX_LISTENERS) {
        fprintf(stderr, "mcd: too many listening sockets (at most %d)\n", MAX_LISTENERS);
        close(fd);
        return -1;
    }
    struct listener *l = &listeners[nlisteners];
    l->fd = fd;
    l->is_unix = is_unix;
    l->opened = clock_now();
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (is_unix)
        snprintf(l->addr, sizeof(l->addr), "unix:%s", settings.socketpath);
    else if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        addr_text(l->addr, sizeof(l->addr), "tcp", &ss, sl);
    else
        snprintf(l->addr, sizeof(l->addr), "tcp:?");
    l->ev = event_new(base, fd, EV_READ | EV_PERSIST, on_accept, l);
    if (!l->ev || event_add(l->ev, NULL) != 0) {
        fprintf(stderr, "mcd: cannot watch a listening socket\n");
        close(fd);
        return -1;
    }
    /* published whole: a UDP request for stats conns may come in while
     * the TCP listeners are still being opened */
    __atomic_store_n(&nlisteners, nlisteners + 1, __ATOMIC_RELEASE);
    return 0;
}

static int listen_unix(struct event_base *base, const char *path)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    struct stat st;
    if (strlen(path) >= sizeof(sa.sun_path)) {
        fprintf(stderr, "mcd: unix socket path '%s' is too long\n", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    /* Remove a stale socket, but never a file that is something else. */
    if (lstat(path, &st) == 0) {
        if (!S_ISSOCK(st.st_mode)) {
            fprintf(stderr, "mcd: '%s' exists and is not a socket\n", path);
            return -1;
        }
        unlink(path);
    }
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) {
        perror("mcd: socket");
        return -1;
    }
    mode_t old = umask((mode_t)(~settings.access & 0777));
    int rc = bind(fd, (struct sockaddr *)&sa, sizeof(sa));
    umask(old);
    if (rc != 0 || listen(fd, settings.backlog) != 0) {
        fprintf(stderr, "mcd: cannot listen on unix socket '%s': %s\n", path, strerror(errno));
        close(fd);
        return -1;
    }
    return add_listener(base, fd, true);
}

/* One -l element: "host", "host:port", "[v6]:port" or "[v6]". A port in
 * the element overrides -p, and -U too (memcached binds both there). */
static int listen_inet(struct event_base *base, const char *spec, bool udp)
{
    const char *kind = udp ? "udp" : "tcp";
    char host[256] = "";
    char port[16];
    snprintf(port, sizeof(port), "%d", udp ? settings.udpport : settings.port);
    if (spec) {
        const char *p = spec;
        if (*p == '[') {
            const char *end = strchr(p, ']');
            if (!end || (size_t)(end - p - 1) >= sizeof(host)) {
                fprintf(stderr, "mcd: bad listen address '%s'\n", spec);
                return -1;
            }
            memcpy(host, p + 1, (size_t)(end - p - 1));
            if (end[1] == ':')
                snprintf(port, sizeof(port), "%s", end + 2);
        } else {
            const char *colon = strchr(p, ':');
            if (colon && strchr(colon + 1, ':'))
                colon = NULL;   /* a bare IPv6 address */
            size_t hl = colon ? (size_t)(colon - p) : strlen(p);
            if (hl >= sizeof(host)) {
                fprintf(stderr, "mcd: bad listen address '%s'\n", spec);
                return -1;
            }
            memcpy(host, p, hl);
            if (colon)
                snprintf(port, sizeof(port), "%s", colon + 1);
        }
    }
    struct addrinfo hints = {
        .ai_flags = AI_PASSIVE | AI_ADDRCONFIG,
        .ai_family = AF_UNSPEC,
        .ai_socktype = udp ? SOCK_DGRAM : SOCK_STREAM,
    }, *res;
    int rc = getaddrinfo(host[0] ? host : NULL, port, &hints, &res);
    if (rc != 0) {
        fprintf(stderr, "mcd: cannot resolve listen address '%s': %s\n",
                spec ? spec : "*", gai_strerror(rc));
        return -1;
    }
    int opened = 0;
    for (struct addrinfo *ai = res; ai; ai = ai->ai_next) {
        int fd = socket(ai->ai_family, ai->ai_socktype | SOCK_NONBLOCK | SOCK_CLOEXEC,
                        ai->ai_protocol);
        if (fd < 0)
            continue;
        int one = 1;
        /* Only for TCP's TIME_WAIT: on UDP it would let a second server
         * bind the same port and take half the datagrams. */
        if (!udp)
            setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one));
        if (ai->ai_family == AF_INET6)
            setsockopt(fd, IPPROTO_IPV6, IPV6_V6ONLY, &one, sizeof(one));
        if (bind(fd, ai->ai_addr, ai->ai_addrlen) != 0 ||
            (!udp && listen(fd, settings.backlog) != 0)) {
            fprintf(stderr, "mcd: cannot listen on %s %s port %s: %s\n",
                    host[0] ? host : "*", kind, port, strerror(errno));
            close(fd);
            freeaddrinfo(res);
            return -1;
        }
        if (udp) {
            udp_socket_tune(fd);
            if (!thread_dispatch_udp(fd)) {
                fprintf(stderr, "mcd: cannot hand the udp socket to the workers\n");
                freeaddrinfo(res);
                return -1;
            }
        } else if (add_listener(base, fd, false) != 0) {
            freeaddrinfo(res);
            return -1;
        }
        opened++;
        if (__atomic_load_n(&settings.verbose, __ATOMIC_RELAXED))
            fprintf(stderr, "mcd: listening on %s %s port %s\n", host[0] ? host : "*", kind, port);
    }
    freeaddrinfo(res);
    if (!opened) {
        fprintf(stderr, "mcd: no usable address for '%s'\n", spec ? spec : "*");
        return -1;
    }
    return 0;
}

/* Every -l element (or all addresses without -l), for TCP or UDP. */
static int listen_all(struct event_base *base, bool udp)
{
    if (settings.nlisten == 0)
        return listen_inet(base, NULL, udp);
    for (int i = 0; i < settings.nlisten; i++) {
        char *list = strdup(settings.listen[i]), *save = NULL;
        if (!list)
            return -1;
        for (char *a = strtok_r(list, ",; ", &save); a; a = strtok_r(NULL, ",; ", &save)) {
            if (listen_inet(base, a, udp) != 0) {
                free(list);
                return -1;
            }
        }
        free(list);
    }
    return 0;
}

int listen_setup(struct event_base *base)
{
    resume_ev = evtimer_new(base, resume_accept, NULL);
    if (!resume_ev)
        return -1;
    /* As memcached: a unix socket replaces both TCP and UDP. */
    if (settings.socketpath)
        return listen_unix(base, settings.socketpath);
    /* UDP first, as memcached does: a client that finds the TCP port
     * accepting may send a datagram at once, and one sent before the UDP
     * port is bound comes back as "port unreachable". */
    if (settings.udpport != 0 && listen_all(base, true) != 0)
        return -1;
    if (settings.port != 0 && listen_all(base, false) != 0)
        return -1;
    return 0;
}

void listen_teardown(void)
{
    int n = nlisteners;
    /* stats conns may be listing them on a worker while the server stops */
    __atomic_store_n(&nlisteners, 0, __ATOMIC_RELAXED);
    for (int i = 0; i < n; i++) {
        event_free(listeners[i].ev);
        close(listeners[i].fd);
    }
    if (resume_ev)
        event_free(resume_ev);
    resume_ev = NULL;
    if (settings.socketpath)
        unlink(settings.socketpath);
}
