/*
 * conn.c - the connection state machine: read -> parse -> execute -> write.
 *
 * One handler, conn_drive(), runs a connection until it must wait for the
 * socket. Parsed commands append to the response chain; the chain leaves in
 * as few sendmsg() calls as IOV_MAX allows, before the connection waits
 * for more input, so pipelined requests get batched replies.
 */
#include "conn.h"

#include <errno.h>
#include <limits.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "crash.h"
#include "history.h"
#include "live.h"
#include "proto.h"
#include "settings.h"
#include "stats.h"
#include "thread.h"
#include "udp.h"

#define RBUF_MAX (1024 * 1024)   /* the longest request line */
#define WBLOCK_SIZE 16384
#define WBLOCK_KEEP 64          /* free blocks a thread keeps */
#define OUT_FLUSH_BYTES (512 * 1024)

struct wblock {
    struct wblock *next;
    size_t size, used;
    char data[];
};

static uint64_t next_conn_id;   /* atomic */

/* Connection memory accounting: the owner thread's running total. */
static uint64_t buf_total;      /* atomic: buffer bytes of all threads */

static void mem_adj(struct thread *t, int64_t delta)
{
    t->buf_bytes += (uint64_t)delta;
    if (t->buf_bytes > t->buf_hwm)
        t->buf_hwm = t->buf_bytes;
    __atomic_add_fetch(&buf_total, (uint64_t)delta, __ATOMIC_RELAXED);
}

/* -o read_buf_mem_limit: may a read buffer grow by n bytes? Response
 * blocks are counted but never refused (the refusal itself needs one).
 * Counted at its own site when not; the caller refuses and closes. */
static bool buf_mem_allows(struct conn *c, size_t n)
{
    size_t limit = settings.read_buf_mem_limit;
    if (!limit || __atomic_load_n(&buf_total, __ATOMIC_RELAXED) + n <= limit)
        return true;
    struct err_ctx ctx = { .clsid = -1, .size = n, .conn_id = c ? c->id : 0 };
    err_raise_ctx(ERR_BUF_MEM_LIMIT, &ctx);
    return false;
}

uint64_t conn_buffer_bytes(void)
{
    return __atomic_load_n(&buf_total, __ATOMIC_RELAXED);
}
static uint64_t curr_conns;     /* atomic gauge */
static uint64_t total_conns;    /* atomic counter */

void conn_setup(void) {}

size_t conn_block_size(void)
{
    return WBLOCK_SIZE;
}

/* Bytes held by one connection: its structure, read buffer, response
 * blocks and arrays. */
size_t conn_memory(const struct conn *c)
{
    size_t n = sizeof(*c) + (c->rblk ? sizeof(*c->rblk) + c->rsize : 0);
    if (c->iov_blk)
        n += sizeof(*c->iov_blk) + c->iov_blk->size;
    if (c->held_blk)
        n += sizeof(*c->held_blk) + c->held_blk->size;
    for (const struct wblock *b = c->wb_head; b; b = b->next)
        n += sizeof(*b) + b->size;
    if (c->udp)
        n += udp_state_memory();
    return n;
}

void conn_thread_teardown(struct thread *t)
{
    while (t->free_blocks) {
        struct wblock *b = t->free_blocks;
        t->free_blocks = b->next;
        free(b);
        __atomic_store_n(&t->nblocks, t->nblocks - 1, __ATOMIC_RELAXED);
    }
    __atomic_store_n(&t->nfree_blocks, 0, __ATOMIC_RELAXED);
}

void conn_buffer_pool(uint64_t *count, uint64_t *bytes, uint64_t *bytes_free)
{
    uint64_t n = 0, nfree = 0;
    for (int i = 0; i < nthreads; i++) {
        n += __atomic_load_n(&threads[i].nblocks, __ATOMIC_RELAXED);
        nfree += (uint64_t)__atomic_load_n(&threads[i].nfree_blocks, __ATOMIC_RELAXED);
    }
    *count = n;
    *bytes_free = nfree * WBLOCK_SIZE;
    *bytes = conn_buffer_bytes() + *bytes_free;
}

uint64_t conn_curr(void) { return __atomic_load_n(&curr_conns, __ATOMIC_RELAXED); }
uint64_t conn_total(void) { return __atomic_load_n(&total_conns, __ATOMIC_RELAXED); }

void conn_count_open(void)
{
    __atomic_add_fetch(&curr_conns, 1, __ATOMIC_RELAXED);
    __atomic_add_fetch(&total_conns, 1, __ATOMIC_RELAXED);
}

void conn_count_closed(void)
{
    __atomic_sub_fetch(&curr_conns, 1, __ATOMIC_RELAXED);
}

const char *conn_state_name(enum conn_state s)
{
    switch (s) {
    case CONN_READ: return "conn_waiting";
    case CONN_PARSE: return "conn_parse_cmd";
    case CONN_NREAD: return "conn_nread";
    case CONN_SWALLOW: return "conn_swallow";
    case CONN_WRITE: return "conn_mwrite";
    case CONN_CLOSING: return "conn_closing";
    }
    return "conn_unknown";
}

void conn_set_state(struct conn *c, enum conn_state s)
{
    __atomic_store_n(&c->state, s, __ATOMIC_RELAXED);
}

void conn_closing(struct conn *c, const char *why)
{
    if (!c->close_reason)
        c->close_reason = why;
    conn_set_state(c, CONN_CLOSING);
}

void conn_close_after_write(struct conn *c, const char *why)
{
    if (!c->close_reason)
        c->close_reason = why;
    c->after_write = CONN_CLOSING;
    conn_set_state(c, CONN_WRITE);
}

/*
 * Built with -DMCD_NO_TRACKING (make bench-overhead only) the per-command
 * evidence below compiles away, so bench/ can measure what it costs.
 */
void conn_cmd_begin(struct conn *c, enum cmd_id id, const char *key, size_t nkey)
{
#ifdef MCD_NO_TRACKING
    c->cmd = id;
    c->outcome = OUT_OK;
    c->cur_cmd = cmd_name(id);
    (void)key;
    (void)nkey;
    return;
#endif
    c->cmd = id;
    c->outcome = OUT_OK;
    c->cmd_key = key;
    c->cmd_nkey = (uint8_t)(nkey > 250 ? 250 : nkey);
    c->cur_cmd = cmd_name(id);
    live_cmd(c->thr->live, c->cur_cmd);
    crash_note(c->cur_cmd, key, c->cmd_nkey);
    c->t_start = now_ns();
}

void conn_cmd_end(struct conn *c)
{
#ifdef MCD_NO_TRACKING
    c->cmd_key = NULL;
    return;
#endif
    uint64_t ns = now_ns() - c->t_start;
    latency_record(c->cmd, ns, c->outcome);
    if (ns / 1000 >= __atomic_load_n(&slowlog_usec, __ATOMIC_RELAXED))
        slowlog_add(c->cmd, ns, c->cmd_key, c->cmd_key ? c->cmd_nkey : 0, c->id, c->peer);
    c->cmd_key = NULL;
}

/* --- response chain ------------------------------------------------------ */

/*
 * One pool per worker of WBLOCK_SIZE blocks serves both directions: the
 * response chain, and read buffers, which a connection holds only while it
 * has input not yet parsed or a request in progress. An idle connection
 * holds neither. Blocks of other sizes (a long multi-get line, a response
 * header bigger than a block) come from malloc and go back to it.
 */
static struct wblock *block_take(struct thread *t, size_t need)
{
    struct wblock *b;
    if (need <= WBLOCK_SIZE && t->free_blocks) {
        b = t->free_blocks;
        t->free_blocks = b->next;
        __atomic_store_n(&t->nfree_blocks, t->nfree_blocks - 1, __ATOMIC_RELAXED);
    } else {
        size_t size = need > WBLOCK_SIZE ? need : WBLOCK_SIZE;
        b = malloc(sizeof(*b) + size);
        if (!b)
            return NULL;
        b->size = size;
        __atomic_store_n(&t->nblocks, t->nblocks + 1, __ATOMIC_RELAXED);
    }
    mem_adj(t, (int64_t)b->size);
    b->next = NULL;
    b->used = 0;
    return b;
}

static void block_give(struct thread *t, struct wblock *b)
{
    mem_adj(t, -(int64_t)b->size);
    if (b->size == WBLOCK_SIZE && t->nfree_blocks < WBLOCK_KEEP) {
        b->next = t->free_blocks;
        t->free_blocks = b;
        __atomic_store_n(&t->nfree_blocks, t->nfree_blocks + 1, __ATOMIC_RELAXED);
    } else {
        free(b);
        __atomic_store_n(&t->nblocks, t->nblocks - 1, __ATOMIC_RELAXED);
    }
}

static struct wblock *wblock_get(struct conn *c, size_t need)
{
    struct wblock *b = err_inject(ERR_WBUF_MALLOC) ? NULL : block_take(c->thr, need);
    if (!b)
        err_raise(ERR_WBUF_MALLOC, c->id);
    return b;
}

static void wblocks_release(struct conn *c)
{
    struct wblock *b = c->wb_head;
    while (b) {
        struct wblock *next = b->next;
        block_give(c->thr, b);
        b = next;
    }
    c->wb_head = c->wb_tail = NULL;
}

/* A read buffer for a connection that has none: false (counted) if there
 * is no memory for one. */
static bool rbuf_take(struct conn *c)
{
    if (c->rblk)
        return true;
    struct wblock *b = err_inject(ERR_RBUF_BLOCK) ? NULL : block_take(c->thr, WBLOCK_SIZE);
    if (!b)
        return false;
    c->rblk = b;
    c->rbuf = b->data;
    c->rsize = b->size;
    c->rpos = c->rbytes = 0;
    return true;
}

/* Give the read buffer back to the pool once nothing in it is pending. */
static void rbuf_give(struct conn *c)
{
    if (!c->rblk || c->rbytes)
        return;
    block_give(c->thr, c->rblk);
    c->rblk = NULL;
    c->rbuf = NULL;
    c->rsize = c->rpos = 0;
}

/* Move the pending input to a buffer twice the size (a long multi-get
 * line); false if refused, with the client told and the connection closing. */
static bool rbuf_grow(struct conn *c)
{
    if (!buf_mem_allows(c, c->rsize)) {
        conn_error(c, ERR_BUF_MEM_LIMIT_REPLY);
        conn_close_after_write(c, "buffer memory limit reached");
        return false;
    }
    struct wblock *n = err_inject(ERR_RBUF_MALLOC) ? NULL : block_take(c->thr, c->rsize * 2);
    if (!n) {
        conn_error(c, ERR_RBUF_MALLOC);
        conn_close_after_write(c, "out of memory for the request");
        return false;
    }
    memcpy(n->data, c->rbuf + c->rpos, c->rbytes);
    block_give(c->thr, c->rblk);
    c->rblk = n;
    c->rbuf = n->data;
    c->rsize = n->size;
    c->rpos = 0;
    return true;
}

/*
 * Room for more entries in one of the reply's arrays: it moves from the
 * connection's inline array to a pool block, then to blocks twice the
 * size, copying what it holds (no realloc). out_reset() moves it back.
 */
static bool array_grow(struct conn *c, void **arr, int *cap, struct wblock **blk,
                       size_t esize)
{
    size_t want = (size_t)*cap * 2 * esize;
    struct wblock *b = err_inject(ERR_WBUF_MALLOC) ? NULL :
                       block_take(c->thr, want < WBLOCK_SIZE ? WBLOCK_SIZE : want);
    if (!b)
        return false;
    memcpy(b->data, *arr, (size_t)*cap * esize);
    if (*blk)
        block_give(c->thr, *blk);
    *blk = b;
    *arr = b->data;
    *cap = (int)(b->size / esize);
    return true;
}

static bool iov_room(struct conn *c)
{
    if (c->iovcnt < c->iovcap)
        return true;
    void *a = c->iov;
    if (!array_grow(c, &a, &c->iovcap, &c->iov_blk, sizeof(struct iovec)))
        return false;
    c->iov = a;
    return true;
}

static void arrays_reset(struct conn *c)
{
    if (c->iov_blk) {
        block_give(c->thr, c->iov_blk);
        c->iov_blk = NULL;
    }
    if (c->held_blk) {
        block_give(c->thr, c->held_blk);
        c->held_blk = NULL;
    }
    c->iov = c->iov_inline;
    c->iovcap = CONN_IOV_INLINE;
    c->held = c->held_inline;
    c->heldcap = CONN_HELD_INLINE;
}

static bool add_iov(struct conn *c, const char *p, size_t n)
{
    if (n == 0)
        return true;    /* an empty iovec would make sendmsg return 0 forever */
    if (c->iovcnt > c->iovsent) {
        struct iovec *last = &c->iov[c->iovcnt - 1];
        if ((const char *)last->iov_base + last->iov_len == p) {
            last->iov_len += n;
            c->out_pending += n;
            return true;
        }
    }
    if (!iov_room(c)) {
        err_raise(ERR_WBUF_MALLOC, c->id);
        conn_closing(c, "out of memory for the response");
        return false;
    }
    c->iov[c->iovcnt].iov_base = (void *)p;
    c->iov[c->iovcnt].iov_len = n;
    c->iovcnt++;
    c->out_pending += n;
    return true;
}

char *conn_reserve(struct conn *c, size_t n)
{
    struct wblock *b = c->wb_tail;
    if (b && b->size - b->used >= n)
        return b->data + b->used;
    b = wblock_get(c, n);
    if (!b) {
        conn_closing(c, "out of memory for the response");
        return NULL;
    }
    if (c->wb_tail)
        c->wb_tail->next = b;
    else
        c->wb_head = b;
    c->wb_tail = b;
    return b->data;
}

void conn_commit(struct conn *c, size_t used)
{
    struct wblock *b = c->wb_tail;
    char *p = b->data + b->used;
    b->used += used;
    add_iov(c, p, used);
}

bool conn_add_text(struct conn *c, const char *s, size_t n)
{
    char *p = conn_reserve(c, n);
    if (!p)
        return false;
    memcpy(p, s, n);
    conn_commit(c, n);
    return true;
}

bool conn_add_static(struct conn *c, const char *s, size_t n)
{
    /* Short constant replies are copied: merging them into the block's
     * iovec costs less than an extra iovec entry. */
    if (n <= 64)
        return conn_add_text(c, s, n);
    return add_iov(c, s, n);
}

bool conn_add_item_at(struct conn *c, item *it, const char *p, size_t n,
                      const char *site)
{
    if (c->nheld == c->heldcap) {
        void *a = c->held;
        if (!array_grow(c, &a, &c->heldcap, &c->held_blk, sizeof(struct hold))) {
            err_raise(ERR_WBUF_MALLOC, c->id);
            engine->release(it);
            conn_closing(c, "out of memory for the response");
            return false;
        }
        c->held = a;
    }
    c->held[c->nheld].it = it;
    c->held[c->nheld].since = clock_now();
    c->held[c->nheld].site = site;
    c->nheld++;
    return add_iov(c, p, n);
}

void conn_error_ctx(struct conn *c, enum err_site e, struct err_ctx *ctx)
{
    size_t len;
    const char *line = err_line(e, &len);
    ctx->conn_id = c->id;
    err_raise_ctx(e, ctx);
    c->outcome = err_info(e)->cls == R_SERVER ? OUT_FAILED : OUT_REJECTED;
    /* noreply silences every error line of the command, the server's
     * failures (SERVER_ERROR) too, as in memcached: a client that asked
     * for no reply reads none, or its replies would be out of step. The
     * site is counted and in the history all the same. */
    if (c->noreply)
        return;
    if (__atomic_load_n(&settings.verbose, __ATOMIC_RELAXED) > 0) {
        const struct err_info *ei = err_info(e);
        fprintf(stderr, ">%d %.*s (E%04d %s)\n", c->fd, (int)len - 2, line,
                ei->code, ei->name);
    }
    conn_add_static(c, line, len);
}

void conn_error(struct conn *c, enum err_site e)
{
    struct err_ctx ctx = { .clsid = -1 };
    conn_error_ctx(c, e, &ctx);
}

static void out_reset(struct conn *c)
{
    for (int i = 0; i < c->nheld; i++)
        engine->release(c->held[i].it);
    c->nheld = 0;
    c->iovcnt = c->iovsent = 0;
    c->out_pending = 0;
    wblocks_release(c);
    if (c->iov_blk || c->held_blk)
        arrays_reset(c);
}

enum write_result { WRITE_DONE, WRITE_BLOCKED, WRITE_ERROR };

static enum write_result conn_flush(struct conn *c)
{
    while (c->iovsent < c->iovcnt) {
        int cnt = c->iovcnt - c->iovsent;
        if (cnt > IOV_MAX)
            cnt = IOV_MAX;
        struct msghdr m = { .msg_iov = &c->iov[c->iovsent], .msg_iovlen = (size_t)cnt };
        int flags = MSG_NOSIGNAL;
#ifndef MCD_NO_MSG_MORE
        /* More than IOV_MAX pieces: the next call follows at once, so let
         * the kernel fill this call's last segment with its first bytes
         * (bench/: make bench-more measures the packets saved). */
        if (c->iovsent + cnt < c->iovcnt)
            flags |= MSG_MORE;
#endif
        ssize_t n = sendmsg(c->fd, &m, flags);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return WRITE_BLOCKED;
            if (errno == EINTR)
                continue;
            err_raise(ERR_CONN_WRITE, c->id);
            if (!c->close_reason)
                c->close_reason = "write error";
            return WRITE_ERROR;
        }
        __atomic_store_n(&c->bytes_out, c->bytes_out + (uint64_t)n, __ATOMIC_RELAXED);
        STAT_ADD(bytes_written, (uint64_t)n);
        c->write_progress = clock_now();
        while (n > 0) {
            struct iovec *v = &c->iov[c->iovsent];
            if ((size_t)n >= v->iov_len) {
                n -= (ssize_t)v->iov_len;
                c->iovsent++;
            } else {
                v->iov_base = (char *)v->iov_base + n;
                v->iov_len -= (size_t)n;
                n = 0;
            }
        }
    }
    out_reset(c);
    return WRITE_DONE;
}

/* --- events -------------------------------------------------------------- */

bool conn_want(struct conn *c, short flags)
{
    if (c->ev_flags == flags)
        return true;
    if (c->ev_flags)
        event_del(&c->ev);
    event_assign(&c->ev, c->thr->base, c->fd, flags | EV_PERSIST, conn_event, c);
    if (err_inject(ERR_EVENT_ADD) || event_add(&c->ev, NULL) == -1) {
        err_raise(ERR_EVENT_ADD, c->id);
        c->ev_flags = 0;
        return false;
    }
    c->ev_flags = flags;
    return true;
}

/* A connection not yet watched nor on its thread's list, without a read
 * buffer. */
static struct conn *conn_alloc(int fd, struct thread *thr)
{
    struct conn *c = calloc(1, sizeof(*c));
    if (!c)
        return NULL;
    c->fd = fd;
    c->id = __atomic_add_fetch(&next_conn_id, 1, __ATOMIC_RELAXED);
    c->thr = thr;
    c->created = time(NULL);
    c->last_cmd = clock_now();
    c->proto = settings.protocol == PROTO_ASCII ? CP_TEXT :
               settings.protocol == PROTO_BINARY ? CP_BINARY : CP_NEGOTIATE;
    c->state = CONN_READ;
    c->after_write = CONN_PARSE;
    arrays_reset(c);
    return c;
}

static void conn_free(struct conn *c)
{
    c->rbytes = 0;
    rbuf_give(c);
    arrays_reset(c);
    free(c->proto_state);
    free(c);
}

static void conn_link(struct conn *c)
{
    struct thread *thr = c->thr;
    pthread_mutex_lock(&thr->lock);
    c->next = thr->conns;
    if (thr->conns)
        thr->conns->prev = c;
    thr->conns = c;
    thr->nconns++;
    pthread_mutex_unlock(&thr->lock);
}

void addr_text(char *out, size_t outlen, const char *proto,
               const struct sockaddr_storage *ss, socklen_t sl)
{
    char host[48] = "?";
    char port[8] = "?";
    getnameinfo((const struct sockaddr *)ss, sl, host, sizeof(host), port,
                sizeof(port), NI_NUMERICHOST | NI_NUMERICSERV);
    snprintf(out, outlen, ss->ss_family == AF_INET6 ? "%s6:[%s]:%s" : "%s:%s:%s",
             proto, host, port);
}

struct conn *conn_new(int fd, struct thread *thr, bool is_unix, const char *listen_addr)
{
    struct conn *c = err_inject(ERR_CONN_MALLOC) ? NULL : conn_alloc(fd, thr);
    if (!c) {
        err_raise(ERR_CONN_MALLOC, 0);
        return NULL;
    }
    c->is_unix = is_unix;
    c->listen_addr = listen_addr;   /* before conn_link makes it visible */

    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (is_unix)
        snprintf(c->peer, sizeof(c->peer), "unix:%s", settings.socketpath ? settings.socketpath : "");
    else if (getpeername(fd, (struct sockaddr *)&ss, &sl) == 0)
        addr_text(c->peer, sizeof(c->peer), "tcp", &ss, sl);
    if (!conn_want(c, EV_READ)) {
        conn_free(c);
        return NULL;
    }
    struct hist_event ev = { .kind = HK_conn, .what = "open", .clsid = -1, .conn_id = c->id };
    snprintf(ev.peer, sizeof(ev.peer), "%s", c->peer);
    history_add(&ev);
    conn_link(c);
    return c;
}

/* Its peer is the local address it serves: datagrams come from anyone. It
 * keeps its read buffer (a whole datagram's worth) for its lifetime. */
struct conn *conn_new_udp(int fd, struct thread *thr, size_t rsize,
                          struct udp_state *u)
{
    struct conn *c = conn_alloc(fd, thr);
    struct wblock *b = c ? block_take(thr, rsize) : NULL;
    if (!b) {
        free(c);
        return NULL;
    }
    c->rblk = b;
    c->rbuf = b->data;
    c->rsize = b->size;
    c->udp = u;
    struct sockaddr_storage ss;
    socklen_t sl = sizeof(ss);
    if (getsockname(fd, (struct sockaddr *)&ss, &sl) == 0)
        addr_text(c->peer, sizeof(c->peer), "udp", &ss, sl);
    if (!conn_want(c, EV_READ)) {
        c->udp = NULL;      /* the caller still owns u */
        conn_free(c);
        return NULL;
    }
    conn_link(c);
    return c;
}

void conn_close(struct conn *c)
{
    struct thread *t = c->thr;
    if (!c->udp) {
        struct hist_event ev = {
            .kind = HK_conn, .what = c->close_reason ? c->close_reason : "closed",
            .clsid = -1, .conn_id = c->id, .size = c->bytes_in + c->bytes_out,
            .age = (uint32_t)(time(NULL) - c->created),
        };
        snprintf(ev.peer, sizeof(ev.peer), "%s", c->peer);
        history_add(&ev);
    }
    if (c->ev_flags)
        event_del(&c->ev);
    pthread_mutex_lock(&t->lock);
    if (c->prev)
        c->prev->next = c->next;
    else
        t->conns = c->next;
    if (c->next)
        c->next->prev = c->prev;
    t->nconns--;
    pthread_mutex_unlock(&t->lock);
    if (c->nr_item)
        engine->release(c->nr_item);
    out_reset(c);
    close(c->fd);
    bool counted = !c->udp;     /* pseudo-connections are not counted */
    udp_state_free(c->udp);
    conn_free(c);
    if (counted)
        conn_count_closed();
}

enum read_result { READ_DATA, READ_NONE, READ_ERROR };

void conn_count_input(struct conn *c, size_t n)
{
    __atomic_store_n(&c->bytes_in, c->bytes_in + (uint64_t)n, __ATOMIC_RELAXED);
    STAT_ADD(bytes_read, (uint64_t)n);
}

static enum read_result conn_read(struct conn *c)
{
    if (!rbuf_take(c)) {
        /* A client that only hung up needs no buffer and no error. */
        char b;
        if (recv(c->fd, &b, 1, MSG_PEEK | MSG_DONTWAIT) == 0) {
            c->close_reason = c->close_reason ? c->close_reason : "client closed";
            return READ_ERROR;
        }
        conn_error(c, ERR_RBUF_BLOCK);
        conn_close_after_write(c, "no memory for a read buffer");
        return READ_NONE;
    }
    if (c->rbytes == 0)
        c->rpos = 0;
    if (c->rpos + c->rbytes == c->rsize) {
        if (c->rpos > 0) {
            memmove(c->rbuf, c->rbuf + c->rpos, c->rbytes);
            c->rpos = 0;
        } else if (c->rsize < RBUF_MAX && !rbuf_grow(c)) {
            return READ_NONE;
        }
    }
    size_t room = c->rsize - c->rpos - c->rbytes;
    if (room == 0)
        return READ_DATA;   /* the parser decides what a full buffer means */
    ssize_t n = read(c->fd, c->rbuf + c->rpos + c->rbytes, room);
    if (n > 0) {
        /* A short read emptied the socket: the next read would only say
         * EAGAIN, so after this batch we wait for the event instead. */
        c->drained = (size_t)n < room;
        c->rbytes += (size_t)n;
        conn_count_input(c, (size_t)n);
        return READ_DATA;
    }
    if (n == 0) {
        c->close_reason = c->close_reason ? c->close_reason : "client closed";
        return READ_ERROR;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR)
        return READ_NONE;
    err_raise(ERR_CONN_READ, c->id);
    c->close_reason = c->close_reason ? c->close_reason : "read error";
    return READ_ERROR;
}

static bool try_command(struct conn *c)
{
    if (c->proto == CP_NEGOTIATE) {
        if (c->rbytes == 0)
            return false;
        bool bin = (unsigned char)c->rbuf[c->rpos] == 0x80 && proto_bin_try_command;
        c->proto = bin ? CP_BINARY : CP_TEXT;
        /* A UDP pseudo-connection negotiates every datagram: the scratch
         * a datagram of the other protocol left is not this one's shape. */
        if (c->proto_state && c->state_proto != c->proto) {
            free(c->proto_state);
            c->proto_state = NULL;
        }
        c->state_proto = c->proto;
    }
    if (c->proto == CP_BINARY && proto_bin_try_command)
        return proto_bin_try_command(c);
    return proto_text_try_command(c);
}

/* The value is whole: the command's service time starts now. The item is
 * held across the call so the slow log can still read its key. */
static void complete_nread(struct conn *c)
{
    item *it = c->nr_item;
    engine->hold(it);
    c->cmd_key = item_key(it);
    c->cmd_nkey = it->nkey;
    c->t_start = now_ns();
    if (c->proto == CP_BINARY && proto_bin_complete_nread)
        proto_bin_complete_nread(c);
    else
        proto_text_complete_nread(c);
    conn_cmd_end(c);
    engine->release(it);
}

/* Move buffered bytes into the value being read; true when it is whole. */
static bool nread_from_buffer(struct conn *c)
{
    size_t n = c->rbytes < c->nr_left ? c->rbytes : c->nr_left;
    if (n) {
        memcpy(c->nr_dst, c->rbuf + c->rpos, n);
        c->nr_dst += n;
        c->nr_left -= n;
        c->rpos += n;
        c->rbytes -= n;
    }
    return c->nr_left == 0;
}

/*
 * Read the rest of a value straight into the item and, in the same call,
 * whatever follows it into the read buffer, if the connection holds one
 * (empty here: nread_from_buffer took all it had first). A read that fills
 * less than it was offered emptied the socket, so the caller waits for the
 * event instead of reading again for an EAGAIN.
 */
static ssize_t nread_socket(struct conn *c)
{
    struct iovec iov[2] = { { c->nr_dst, c->nr_left }, { c->rbuf, c->rsize } };
    int niov = c->rblk ? 2 : 1;
    ssize_t n = readv(c->fd, iov, niov);
    if (n <= 0)
        return n;
    size_t got = (size_t)n, into_value = got < c->nr_left ? got : c->nr_left;
    c->drained = got < c->nr_left + (niov == 2 ? c->rsize : 0);
    c->nr_dst += into_value;
    c->nr_left -= into_value;
    c->rpos = 0;
    c->rbytes = got - into_value;
    conn_count_input(c, got);
    return n;
}

static bool swallow_from_buffer(struct conn *c)
{
    size_t n = c->rbytes < c->swallow ? c->rbytes : c->swallow;
    c->swallow -= n;
    c->rpos += n;
    c->rbytes -= n;
    return c->swallow == 0;
}

/* Wait for input: first send what is queued, since the client may be
 * waiting for those replies before it sends more. Returns true when the
 * caller should return and let the event loop wake it. */
static bool wait_for_input(struct conn *c, enum conn_state resume)
{
    if (c->iovcnt > c->iovsent) {
        c->after_write = resume;
        conn_set_state(c, CONN_WRITE);
        return false;
    }
    if (!conn_want(c, EV_READ)) {
        conn_closing(c, "event registration failed");
        return false;
    }
    conn_set_state(c, resume);
    return true;
}

static void conn_drive(struct conn *c)
{
    int budget = settings.reqs_per_event;
    for (;;) {
        switch (c->state) {
        case CONN_READ:
            if (c->drained) {
                c->drained = false;
                rbuf_give(c);
                if (!conn_want(c, EV_READ)) {
                    conn_closing(c, "event registration failed");
                    break;
                }
                return;
            }
            switch (conn_read(c)) {
            case READ_DATA:
                conn_set_state(c, CONN_PARSE);
                break;
            case READ_NONE:
                if (c->state == CONN_WRITE)
                    break;
                rbuf_give(c);
                if (!conn_want(c, EV_READ))
                    conn_closing(c, "event registration failed");
                else
                    return;
                break;
            case READ_ERROR:
                conn_closing(c, "closed");
                break;
            }
            break;

        case CONN_PARSE:
            if (budget-- <= 0) {
                /* Let other connections run, and come back on the next turn
                 * of the loop whatever the socket's state: waiting for it
                 * to be writable would stall forever on a client that does
                 * not read, where the write timeout could not see it. */
                STAT_INCR(conn_yields);
                if (!conn_want(c, EV_READ)) {
                    conn_closing(c, "event registration failed");
                    break;
                }
                event_active(&c->ev, EV_READ, 0);
                return;
            }
            if (c->out_pending > OUT_FLUSH_BYTES || c->iovcnt >= IOV_MAX) {
                c->after_write = CONN_PARSE;
                conn_set_state(c, CONN_WRITE);
                break;
            }
            if (!try_command(c) && c->state == CONN_PARSE) {
                if (c->iovcnt > c->iovsent) {
                    c->after_write = CONN_READ;
                    conn_set_state(c, CONN_WRITE);
                } else {
                    conn_set_state(c, CONN_READ);
                }
            }
            break;

        case CONN_NREAD:
            if (nread_from_buffer(c)) {
                conn_set_state(c, CONN_PARSE);
                complete_nread(c);
                break;
            }
            if (c->nr_left > 0) {
                ssize_t n = nread_socket(c);
                if (n > 0) {
                    if (c->drained && c->nr_left > 0 && wait_for_input(c, CONN_NREAD))
                        return;
                    break;
                }
                if (n == 0 || (errno != EAGAIN && errno != EWOULDBLOCK && errno != EINTR)) {
                    if (n < 0)
                        err_raise(ERR_CONN_READ, c->id);
                    conn_closing(c, n == 0 ? "client closed mid-value" : "read error");
                    break;
                }
                if (wait_for_input(c, CONN_NREAD))
                    return;
            }
            break;

        case CONN_SWALLOW:
            if (swallow_from_buffer(c)) {
                conn_set_state(c, CONN_PARSE);
                break;
            }
            switch (conn_read(c)) {
            case READ_DATA:
                break;
            case READ_NONE:
                if (wait_for_input(c, CONN_SWALLOW))
                    return;
                break;
            case READ_ERROR:
                conn_closing(c, "closed");
                break;
            }
            break;

        case CONN_WRITE:
            switch (conn_flush(c)) {
            case WRITE_DONE:
                conn_set_state(c, c->after_write);
                c->after_write = CONN_PARSE;
                break;
            case WRITE_BLOCKED:
                if (c->ev_flags != EV_WRITE)
                    c->write_progress = clock_now();    /* the stall starts now */
                if (!conn_want(c, EV_WRITE))
                    conn_closing(c, "event registration failed");
                else
                    return;
                break;
            case WRITE_ERROR:
                conn_closing(c, "closed");
                break;
            }
            break;

        case CONN_CLOSING:
            conn_close(c);
            return;
        }
    }
}

/* --- a whole request in the buffer (UDP) ----------------------------------- */

enum conn_req_end conn_serve_buffer(struct conn *c)
{
    for (;;) {
        switch (c->state) {
        case CONN_READ:
        case CONN_PARSE:
            if (c->rbytes == 0)
                return REQ_DONE;
            conn_set_state(c, CONN_PARSE);
            if (!try_command(c) && c->state == CONN_PARSE)
                return REQ_CUT_COMMAND;
            break;
        case CONN_NREAD:
            if (!nread_from_buffer(c))
                return REQ_CUT_VALUE;
            conn_set_state(c, CONN_PARSE);
            complete_nread(c);
            break;
        case CONN_SWALLOW:
            /* A refused value: its refusal is answered; what is missing
             * of it will never come, which is as good as swallowed. */
            if (!swallow_from_buffer(c))
                return REQ_DONE;
            conn_set_state(c, CONN_PARSE);
            break;
        case CONN_WRITE:        /* quit, or a refusal that ends the stream */
        case CONN_CLOSING:
            return REQ_STOPPED;
        }
    }
}

/* The read buffer stays: a UDP pseudo-connection reads into it again. */
void conn_request_reset(struct conn *c)
{
    if (c->nr_item) {
        engine->release(c->nr_item);
        c->nr_item = NULL;
    }
    c->nr_left = 0;
    c->swallow = 0;
    c->rpos = c->rbytes = 0;
    c->noreply = false;
    c->close_reason = NULL;
    c->after_write = CONN_PARSE;
    c->proto = settings.protocol == PROTO_ASCII ? CP_TEXT :
               settings.protocol == PROTO_BINARY ? CP_BINARY : CP_NEGOTIATE;
    out_reset(c);
    conn_set_state(c, CONN_READ);
}

void conn_event(evutil_socket_t fd, short which, void *arg)
{
    struct conn *c = arg;
    struct live *l = c->thr->live;
    (void)fd;
    (void)which;
#ifdef MCD_NO_TRACKING
    l = NULL;
#endif
    if (l)
        live_busy(l, c->id);
    if (c->udp)
        udp_drive(c);
    else
        conn_drive(c);      /* may free c */
    if (l)
        live_idle(l);
}
