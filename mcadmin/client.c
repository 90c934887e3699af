/*
 * client.c - talking to mcd's admin socket.
 *
 * One request line out, one JSON line back (or a stream of lines ending in
 * a summary object for `items`). Every admin request only reads, so a
 * request that meets a dead connection (the server restarted under the
 * shell) is simply sent again on a fresh one; the shell learns about the
 * drop from cl_dropped() and says so in its prompt.
 */
#include "mcadmin.h"

#include <errno.h>
#include <netdb.h>
#include <poll.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <sys/un.h>
#include <time.h>
#include <unistd.h>

#define CL_TIMEOUT_MS_DEFAULT 10000

struct client {
    char *path;
    int fd;
    bool dropped;       /* lost since the last successful connect */
    json_t *identity;   /* "server" of the newest reply */
    time_t identity_at; /* our clock when it arrived */
    char *buf;          /* bytes read but not yet returned as lines */
    size_t len, cap;
};

static int timeout_ms(void)
{
    const char *e = getenv("MCADMIN_TIMEOUT");
    int s = e ? atoi(e) : 0;
    return s > 0 ? s * 1000 : CL_TIMEOUT_MS_DEFAULT;
}

struct client *cl_new(const char *path)
{
    struct client *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->path = strdup(path);
    c->fd = -1;
    return c;
}

void cl_free(struct client *c)
{
    if (!c)
        return;
    cl_close(c);
    json_decref(c->identity);
    free(c->buf);
    free(c->path);
    free(c);
}

const char *cl_path(const struct client *c) { return c->path; }
bool cl_dropped(const struct client *c) { return c->dropped; }
const json_t *cl_identity(const struct client *c) { return c->identity; }

long cl_uptime(const struct client *c)
{
    if (!c->identity)
        return -1;
    long long up = jx_int(c->identity, "now", 0) - jx_int(c->identity, "started", 0);
    return (long)(up + (time(NULL) - c->identity_at));
}

void cl_close(struct client *c)
{
    if (c->fd >= 0)
        close(c->fd);
    c->fd = -1;
    c->len = 0;
}

/* A path with a colon and no slash is HOST:PORT (the TCP admin port). */
static bool is_tcp(const char *p)
{
    return strchr(p, ':') && !strchr(p, '/');
}

static int open_tcp(const char *spec, char *err, size_t errlen)
{
    char host[256];
    const char *colon = strrchr(spec, ':');
    snprintf(host, sizeof(host), "%.*s", (int)(colon - spec), spec);
    struct addrinfo hints = { .ai_family = AF_UNSPEC, .ai_socktype = SOCK_STREAM }, *ai;
    int rc = getaddrinfo(host, colon + 1, &hints, &ai);
    if (rc != 0) {
        snprintf(err, errlen, "cannot resolve '%s': %s", spec, gai_strerror(rc));
        return -1;
    }
    int fd = -1;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, a->ai_socktype | SOCK_CLOEXEC, 0);
        if (fd >= 0 && connect(fd, a->ai_addr, a->ai_addrlen) == 0)
            break;
        if (fd >= 0)
            close(fd);
        fd = -1;
    }
    if (fd < 0)
        snprintf(err, errlen, "cannot connect to '%s': %s", spec, strerror(errno));
    freeaddrinfo(ai);
    return fd;
}

static int open_unix(const char *path, char *err, size_t errlen)
{
    struct sockaddr_un sa = { .sun_family = AF_UNIX };
    if (strlen(path) >= sizeof(sa.sun_path)) {
        snprintf(err, errlen, "socket path '%s' is too long", path);
        return -1;
    }
    strcpy(sa.sun_path, path);
    int fd = socket(AF_UNIX, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0 || connect(fd, (struct sockaddr *)&sa, sizeof(sa)) != 0) {
        snprintf(err, errlen, "cannot connect to '%s': %s", path, strerror(errno));
        if (fd >= 0)
            close(fd);
        return -1;
    }
    return fd;
}

int cl_connect(struct client *c, char *err, size_t errlen)
{
    if (c->fd >= 0)
        return EXIT_OK;
    c->len = 0;
    c->fd = is_tcp(c->path) ? open_tcp(c->path, err, errlen)
                            : open_unix(c->path, err, errlen);
    if (c->fd < 0)
        return EXIT_CONNECT;
    c->dropped = false;
    return EXIT_OK;
}

/* Marks a connection that was up as lost. */
static void lose(struct client *c)
{
    cl_close(c);
    c->dropped = true;
}

bool cl_alive(struct client *c)
{
    if (c->fd < 0)
        return false;
    struct pollfd pf = { .fd = c->fd, .events = POLLIN };
    if (poll(&pf, 1, 0) > 0) {
        /* Nothing is ever unsolicited: readable means closed (or junk). */
        char b;
        ssize_t n = recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT);
        if (n <= 0 || (pf.revents & (POLLHUP | POLLERR))) {
            lose(c);
            return false;
        }
    }
    return true;
}

static bool send_line(struct client *c, const char *line)
{
    size_t n = strlen(line);
    char *msg = malloc(n + 2);
    if (!msg)
        return false;
    memcpy(msg, line, n);
    msg[n] = '\n';
    const char *p = msg;
    size_t left = n + 1;
    bool ok = true;
    while (left > 0) {
        ssize_t w = send(c->fd, p, left, MSG_NOSIGNAL);
        if (w < 0 && errno == EINTR)
            continue;
        if (w <= 0) {
            ok = false;
            break;
        }
        p += w;
        left -= (size_t)w;
    }
    free(msg);
    return ok;
}

/* Next line (NUL-terminated, newline removed) into *line, which stays
 * valid until the next call. 1 ok, 0 EOF before a line, -1 error. */
static int read_line(struct client *c, char **line, size_t *consumed,
                     char *err, size_t errlen)
{
    size_t scanned = 0;
    for (;;) {
        char *nl = c->len > scanned ? memchr(c->buf + scanned, '\n', c->len - scanned) : NULL;
        if (nl) {
            *nl = '\0';
            *line = c->buf;
            *consumed = (size_t)(nl - c->buf) + 1;
            return 1;
        }
        scanned = c->len;
        if (c->cap - c->len < 65536) {
            size_t ncap = c->cap ? c->cap * 2 : 131072;
            char *nb = realloc(c->buf, ncap);
            if (!nb) {
                snprintf(err, errlen, "out of memory reading a reply");
                return -1;
            }
            c->buf = nb;
            c->cap = ncap;
        }
        struct pollfd pf = { .fd = c->fd, .events = POLLIN };
        int pr = poll(&pf, 1, timeout_ms());
        if (pr < 0 && errno == EINTR)
            continue;
        if (pr == 0) {
            snprintf(err, errlen, "no reply from '%s' within %d s", c->path, timeout_ms() / 1000);
            return -1;
        }
        ssize_t n = recv(c->fd, c->buf + c->len, c->cap - c->len - 1, 0);
        if (n < 0 && errno == EINTR)
            continue;
        if (n <= 0) {
            if (c->len == 0)
                return 0;
            snprintf(err, errlen, "connection to '%s' closed in the middle of a reply", c->path);
            return -1;
        }
        c->len += (size_t)n;
    }
}

static void consume(struct client *c, size_t n)
{
    memmove(c->buf, c->buf + n, c->len - n);
    c->len -= n;
}

static void remember_identity(struct client *c, const json_t *reply)
{
    const json_t *srv = jx_get(reply, "server");
    if (!json_is_object(srv))
        return;
    json_decref(c->identity);
    c->identity = json_deep_copy(srv);
    c->identity_at = time(NULL);
}

/* Sends line and reads the first reply line, reconnecting once if the
 * connection turns out to be dead. Returns a parsed JSON doc or NULL. */
static int request(struct client *c, const char *line, json_t **doc, char *err, size_t errlen)
{
    *doc = NULL;
    for (int attempt = 0; attempt < 2; attempt++) {
        bool fresh = c->fd < 0;
        if (!cl_alive(c))
            fresh = true;
        int rc = cl_connect(c, err, errlen);
        if (rc != EXIT_OK)
            return rc;
        char *l;
        size_t used;
        int r = send_line(c, line) ? read_line(c, &l, &used, err, errlen) : 0;
        if (r == 0) {
            lose(c);
            if (!fresh)
                continue;       /* a stale connection: once more, fresh */
            snprintf(err, errlen, "'%s' closed the connection without replying", c->path);
            return EXIT_CONNECT;
        }
        if (r < 0) {
            lose(c);
            return EXIT_CONNECT;
        }
        json_error_t je;
        *doc = json_loads(l, JSON_DECODE_ANY, &je);
        consume(c, used);
        if (!json_is_object(*doc)) {
            json_decref(*doc);
            *doc = NULL;
            snprintf(err, errlen, "the server's reply is not a JSON object: %s", je.text);
            lose(c);
            return EXIT_CMD;
        }
        remember_identity(c, *doc);
        return json_is_object(jx_get(*doc, "error")) ? EXIT_CMD : EXIT_OK;
    }
    snprintf(err, errlen, "'%s' closed the connection without replying", c->path);
    return EXIT_CONNECT;
}

int cl_call(struct client *c, const char *line, json_t **reply, char *err, size_t errlen)
{
    return request(c, line, reply, err, errlen);
}

int cl_stream(struct client *c, const char *line, cl_row_fn row, void *arg,
              json_t **head, json_t **summary, char *err, size_t errlen)
{
    *summary = NULL;
    int rc = request(c, line, head, err, errlen);
    if (rc != EXIT_OK)
        return rc;
    if (!json_is_true(jx_get(*head, "stream")))
        return EXIT_OK;         /* a one-document reply: nothing streams */
    for (;;) {
        char *l;
        size_t used;
        int r = read_line(c, &l, &used, err, errlen);
        if (r <= 0) {
            if (r == 0)
                snprintf(err, errlen, "the stream ended without its summary");
            lose(c);
            return EXIT_CONNECT;
        }
        json_t *o = json_loads(l, 0, NULL);
        consume(c, used);
        if (!json_is_object(o)) {
            json_decref(o);
            snprintf(err, errlen, "a streamed line is not a JSON object");
            lose(c);
            return EXIT_CMD;
        }
        const json_t *s = jx_get(o, "summary");
        if (json_is_object(s)) {
            *summary = json_incref((json_t *)s);
            json_decref(o);
            return rc;
        }
        int stop = row ? row(o, arg) : 0;
        json_decref(o);
        if (stop)
            rc = stop;  /* keep reading to the summary: the stream must drain */
    }
}

/* A text reply ending with a line "# EOF" (the Prometheus `metrics`). An
 * error comes back as one JSON line instead; *reply gets it then. */
int cl_text(struct client *c, const char *line, FILE *out, json_t **reply,
            char *err, size_t errlen)
{
    *reply = NULL;
    int rc = cl_connect(c, err, errlen);
    if (rc != EXIT_OK)
        return rc;
    if (!cl_alive(c) && (rc = cl_connect(c, err, errlen)) != EXIT_OK)
        return rc;
    if (!send_line(c, line)) {
        lose(c);
        snprintf(err, errlen, "cannot send to '%s'", c->path);
        return EXIT_CONNECT;
    }
    for (bool first = true;; first = false) {
        char *l;
        size_t used;
        int r = read_line(c, &l, &used, err, errlen);
        if (r <= 0) {
            if (r == 0)
                snprintf(err, errlen, "the reply ended without its '# EOF' line");
            lose(c);
            return EXIT_CONNECT;
        }
        if (first && l[0] == '{') {
            *reply = json_loads(l, 0, NULL);
            consume(c, used);
            remember_identity(c, *reply);
            return EXIT_CMD;
        }
        bool end = strcmp(l, "# EOF") == 0;
        fprintf(out, "%s\n", l);
        consume(c, used);
        if (end)
            return EXIT_OK;
    }
}
