/*
 * conn.h - a client connection: its state machine, its read buffer and its
 * response chain. The protocol modules parse from the read buffer and build
 * responses with conn_add_*(); values go out straight from item memory,
 * with the item held by a reference until the bytes are sent.
 */
#ifndef MCD_CONN_H
#define MCD_CONN_H

#include <event2/event.h>
#include <event2/event_struct.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

#include "engine.h"
#include "errors.h"
#include "latency.h"

enum conn_state {
    CONN_READ,      /* waiting for bytes of a new command */
    CONN_PARSE,     /* commands may be waiting in the read buffer */
    CONN_NREAD,     /* reading a value into an item */
    CONN_SWALLOW,   /* discarding a refused value */
    CONN_WRITE,     /* sending the response chain */
    CONN_CLOSING
};

enum conn_proto { CP_NEGOTIATE, CP_TEXT, CP_BINARY };

struct thread;
struct wblock;

#define CONN_IOV_INLINE 16      /* iovecs a reply can use without a block */
#define CONN_HELD_INLINE 8      /* item references likewise */
struct udp_state;

/* One reference a connection holds: which item, since when, and the call
 * site that took it (for the admin socket's locked-item dump). */
struct hold {
    item *it;
    rel_time_t since;
    const char *site;
};

struct conn {
    int fd;
    uint64_t id;
    struct thread *thr;
    struct event ev;
    short ev_flags;
    enum conn_state state;      /* written by the owner; read by stats: atomic */
    enum conn_state after_write;
    enum conn_proto proto;
    bool is_unix;
    char peer[64];
    time_t created;
    rel_time_t last_cmd;        /* atomic */
    uint64_t bytes_in, bytes_out;   /* atomic */
    const char *cur_cmd;        /* name of the last command served */
    /* the command being timed (see latency.h) */
    uint64_t t_start;
    enum cmd_id cmd;
    enum cmd_outcome outcome;
    const char *cmd_key;        /* valid until conn_cmd_end() */
    uint8_t cmd_nkey;

    /* read buffer, from the thread's pool while input is pending (NULL
     * when idle): valid bytes are rbuf[rpos .. rpos + rbytes) */
    struct wblock *rblk;
    char *rbuf;
    size_t rsize, rpos, rbytes;
    bool drained;               /* the last read emptied the socket */

    /* a value being read (CONN_NREAD) */
    item *nr_item;
    char *nr_dst;
    size_t nr_left;
    enum store_op nr_op;
    bool nr_meta;               /* the value belongs to a meta command */
    bool noreply;
    /* bytes still to discard (CONN_SWALLOW) */
    size_t swallow;
    /* the protocol's per-command scratch (binary header etc.) */
    void *proto_state;
    enum conn_proto state_proto;    /* the protocol proto_state belongs to */

    /* response chain; the iovec and hold arrays start inline and move to
     * pool blocks (iov_blk, held_blk) only for replies that need more,
     * until the reply has left */
    struct iovec *iov;
    int iovcnt, iovcap, iovsent;
    struct hold *held;
    int nheld, heldcap;
    struct wblock *iov_blk, *held_blk;
    struct wblock *wb_head, *wb_tail;
    size_t out_pending;
    struct iovec iov_inline[CONN_IOV_INLINE];
    struct hold held_inline[CONN_HELD_INLINE];

    /* Set on a worker's UDP pseudo-connection (udp.h): each datagram is a
     * whole request, served from rbuf and answered to its source. */
    struct udp_state *udp;

    const char *close_reason;   /* static text, set when closing starts */
    const char *listen_addr;    /* the listener it came in on (listen.c), or NULL */
    rel_time_t write_progress;  /* last time a blocked write moved */

    struct conn *next, *prev;   /* the thread's list; thread lock */
};

/* Response building. Text is copied into the chain's blocks; references
 * point at item memory and hold the item until sent. Each returns false
 * only when memory ran out (the site is raised and the conn will close). */
bool conn_add_text(struct conn *c, const char *s, size_t n);
bool conn_add_static(struct conn *c, const char *s, size_t n);
bool conn_add_item_at(struct conn *c, item *it, const char *p, size_t n,
                      const char *site);
#define MCD_STR2_(x) #x
#define MCD_STR_(x) MCD_STR2_(x)
#define conn_add_item(c, it, p, n) \
    conn_add_item_at((c), (it), (p), (n), __FILE__ ":" MCD_STR_(__LINE__))
/* Reserve room for up to n bytes of text; commit what was written. */
char *conn_reserve(struct conn *c, size_t n);
void conn_commit(struct conn *c, size_t used);
/* Answer the error line of a site, counted with this connection's id. */
void conn_error(struct conn *c, enum err_site e);
void conn_error_ctx(struct conn *c, enum err_site e, struct err_ctx *ctx);

void conn_set_state(struct conn *c, enum conn_state s);
/* Start closing, remembering why (the first reason given wins). */
void conn_closing(struct conn *c, const char *why);
/* Send what is queued, then close for this reason. */
void conn_close_after_write(struct conn *c, const char *why);

/* Time a command: begin when it is whole in memory, end when its reply is
 * queued. The key (may be NULL) must stay valid until the end. */
void conn_cmd_begin(struct conn *c, enum cmd_id id, const char *key, size_t nkey);
void conn_cmd_end(struct conn *c);
const char *conn_state_name(enum conn_state s);

static inline bool conn_is_udp(const struct conn *c)
{
    return c->udp != NULL;
}

/* "tcp:ADDR:PORT" or "tcp6:[ADDR]:PORT" (proto as given) for an address. */
struct sockaddr_storage;
void addr_text(char *out, size_t outlen, const char *proto,
               const struct sockaddr_storage *ss, socklen_t sl);

/* Owner thread only. listen_addr (static storage, or NULL) names the
 * listener it came in on, for stats conns. */
struct conn *conn_new(int fd, struct thread *thr, bool is_unix, const char *listen_addr);
/* A UDP pseudo-connection on fd with a read buffer of rsize bytes; it
 * takes u (freed with it). Not counted as a client connection. */
struct conn *conn_new_udp(int fd, struct thread *thr, size_t rsize,
                          struct udp_state *u);
/* Watch the socket for flags (EV_READ or EV_WRITE) instead. */
bool conn_want(struct conn *c, short flags);

/* How serving a buffer that holds a whole request ended. */
enum conn_req_end {
    REQ_DONE,           /* every command in it was served */
    REQ_CUT_COMMAND,    /* it ends inside a command line or binary header */
    REQ_CUT_VALUE,      /* it ends inside a storage command's value */
    REQ_STOPPED,        /* a command ended the request (quit, a refusal) */
};
/* Serve every command in rbuf without touching the socket: for a
 * transport (UDP) where the buffer is the whole request. Replies wait on
 * the response chain for the caller to send. */
enum conn_req_end conn_serve_buffer(struct conn *c);
/* Forget the request: release its references, its response chain and a
 * value being read, and wait for the next one as a fresh connection. */
void conn_request_reset(struct conn *c);
void conn_close(struct conn *c);
/* n bytes came in on c: its own and the server's input counters. */
void conn_count_input(struct conn *c, size_t n);
void conn_event(evutil_socket_t fd, short which, void *arg);
void conn_setup(void);
/* Memory accounting: one connection's bytes; the pooled block size. */
size_t conn_memory(const struct conn *c);
size_t conn_block_size(void);
/* Buffer bytes of all connections (for -o read_buf_mem_limit). */
uint64_t conn_buffer_bytes(void);
/* The workers' buffer pools, as memcached's read_buf_* stats: blocks
 * alive (in use or free), their bytes, and the bytes of the free ones. */
void conn_buffer_pool(uint64_t *count, uint64_t *bytes, uint64_t *bytes_free);
/* Frees a stopping thread's pooled response blocks. */
void conn_thread_teardown(struct thread *t);

/* Live counts over all threads. */
uint64_t conn_curr(void);
uint64_t conn_total(void);
/* The listener counts a connection when it hands it to a worker. */
void conn_count_open(void);
void conn_count_closed(void);

#endif /* MCD_CONN_H */
