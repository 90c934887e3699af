/*
 * udp.c - memcached's UDP transport: frame headers, the per-worker
 * pseudo-connection's event handler, and replies cut into datagrams.
 *
 * A datagram is read whole into the pseudo-connection's read buffer, its
 * header checked and stripped, and the rest served by conn_serve_buffer()
 * exactly as bytes from a TCP socket would be, so the protocol modules
 * know nothing of UDP. The reply waits on the response chain (holding its
 * items) until every datagram of it has left; then conn_request_reset()
 * makes the pseudo-connection new again for the next datagram, which may
 * come from anyone. Nothing is carried from one datagram to the next.
 *
 * Sending copies the chain into a batch of datagram buffers, UDP_BATCH at
 * a time, each sendmmsg() leaving with the batch. If the socket's send
 * buffer is full the rest waits for EV_WRITE, as a TCP reply does; the
 * other workers keep reading the socket meanwhile.
 */
#include "udp.h"

#include <errno.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "conn.h"
#include "settings.h"
#include "stats.h"
#include "thread.h"

#define UDP_BATCH 32            /* datagrams per sendmmsg() */
#define UDP_SNDBUF_MAX (4 * 1024 * 1024)

struct udp_state {
    struct sockaddr_storage peer;   /* the request's source: the reply's destination */
    socklen_t peerlen;
    uint16_t id;                /* the request's ID */
    uint16_t total;             /* datagrams in the reply being sent */
    uint32_t next_seq;          /* the next datagram to build */
    struct udp_cursor cur;      /* where in the chain that datagram starts */
    int built, sent;            /* datagrams in the batch, and sent of them */
    bool sending;               /* a reply waits for the socket (EV_WRITE) */
    struct mmsghdr msgs[UDP_BATCH];
    struct iovec iovs[UDP_BATCH];
    unsigned char dgram[UDP_BATCH][UDP_MAX_DATAGRAM];
};

/* --- frames (pure) --------------------------------------------------------- */

static uint16_t get16(const unsigned char *p)
{
    return (uint16_t)(p[0] << 8 | p[1]);
}

static void put16(unsigned char *p, uint16_t v)
{
    p[0] = (unsigned char)(v >> 8);
    p[1] = (unsigned char)v;
}

/* memcached checks only the total (and reads the ID); the sequence number
 * of a one-datagram request is not looked at, nor is the reserved field,
 * which real clients do not always clear (libmemcached's memcaslap sends
 * 0x0100): the caller counts a nonzero one and serves the request. */
enum udp_frame_check udp_frame_parse(const unsigned char *p, size_t n,
                                     struct udp_frame *f)
{
    if (n < UDP_HEADER_SIZE)
        return UDP_FRAME_SHORT;
    f->id = get16(p);
    f->seq = get16(p + 2);
    f->total = get16(p + 4);
    f->reserved = get16(p + 6);
    if (f->total != 1)
        return UDP_FRAME_MULTI;
    return UDP_FRAME_OK;
}

void udp_frame_put(unsigned char *p, uint16_t id, uint16_t seq, uint16_t total)
{
    put16(p, id);
    put16(p + 2, seq);
    put16(p + 4, total);
    put16(p + 6, 0);
}

size_t udp_datagrams(size_t n)
{
    return (n + UDP_MAX_DATA - 1) / UDP_MAX_DATA;
}

size_t udp_gather(const struct iovec *iov, int cnt, struct udp_cursor *cur,
                  char *dst, size_t room)
{
    size_t got = 0;
    while (got < room && cur->idx < cnt) {
        const struct iovec *v = &iov[cur->idx];
        size_t n = v->iov_len - cur->off;
        if (n > room - got)
            n = room - got;
        memcpy(dst + got, (const char *)v->iov_base + cur->off, n);
        got += n;
        cur->off += n;
        if (cur->off == v->iov_len) {
            cur->idx++;
            cur->off = 0;
        }
    }
    return got;
}

/* --- sockets and pseudo-connections ---------------------------------------- */

/* As memcached's maximize_sndbuf(): a reply of many datagrams is queued
 * whole, so give the socket the biggest send buffer the system allows (up
 * to a bound), halving until it is accepted. */
void udp_socket_tune(int fd)
{
    int cur = 0;
    socklen_t len = sizeof(cur);
    if (getsockopt(fd, SOL_SOCKET, SO_SNDBUF, &cur, &len) != 0)
        return;
    for (int want = UDP_SNDBUF_MAX; want > cur; want /= 2) {
        if (setsockopt(fd, SOL_SOCKET, SO_SNDBUF, &want, sizeof(want)) == 0)
            return;
    }
}

size_t udp_state_memory(void)
{
    return sizeof(struct udp_state);
}

void udp_state_free(struct udp_state *u)
{
    free(u);
}

bool udp_attach(int fd, struct thread *t)
{
    struct udp_state *u = err_inject(ERR_UDP_CONN_MALLOC) ? NULL : calloc(1, sizeof(*u));
    struct conn *c = u ? conn_new_udp(fd, t, UDP_READ_BUFFER, u) : NULL;
    if (!c) {
        err_raise(ERR_UDP_CONN_MALLOC, 0);
        free(u);
        close(fd);
        return false;
    }
    if (__atomic_load_n(&settings.verbose, __ATOMIC_RELAXED) > 1)
        fprintf(stderr, "<%d worker %d serves %s\n", fd, t->index, c->peer);
    return true;
}

/* --- replies ----------------------------------------------------------------- */

/* Number the reply on the chain; false if it cannot be sent (too long),
 * or there is nothing to send. */
static bool reply_start(struct conn *c)
{
    struct udp_state *u = c->udp;
    size_t n = udp_datagrams(c->out_pending);
    if (n == 0)
        return false;
    if (n > UDP_MAX_DATAGRAMS || err_inject(ERR_UDP_REPLY_TOO_LARGE)) {
        struct err_ctx ctx = { .clsid = -1, .size = c->out_pending, .conn_id = c->id };
        err_raise_ctx(ERR_UDP_REPLY_TOO_LARGE, &ctx);
        return false;
    }
    u->total = (uint16_t)n;
    u->next_seq = 0;
    u->cur = (struct udp_cursor){ c->iovsent, 0 };
    u->built = u->sent = 0;
    return true;
}

/* Fill the batch with the next datagrams of the reply. */
static void batch_build(struct conn *c)
{
    struct udp_state *u = c->udp;
    int k = 0;
    for (; k < UDP_BATCH && u->next_seq < u->total; k++, u->next_seq++) {
        unsigned char *d = u->dgram[k];
        udp_frame_put(d, u->id, (uint16_t)u->next_seq, u->total);
        size_t len = udp_gather(c->iov, c->iovcnt, &u->cur,
                                (char *)d + UDP_HEADER_SIZE, UDP_MAX_DATA);
        u->iovs[k] = (struct iovec){ d, UDP_HEADER_SIZE + len };
        u->msgs[k] = (struct mmsghdr){ .msg_hdr = {
            .msg_name = &u->peer, .msg_namelen = u->peerlen,
            .msg_iov = &u->iovs[k], .msg_iovlen = 1,
        } };
    }
    u->built = k;
    u->sent = 0;
}

/* Send the rest of the reply. False while the socket is full; true once
 * the reply is gone, or given up after a send error (counted). */
static bool reply_send(struct conn *c)
{
    struct udp_state *u = c->udp;
    for (;;) {
        if (u->sent == u->built) {
            if (u->next_seq == u->total)
                return true;
            batch_build(c);
        }
        int r = err_inject(ERR_UDP_SEND) ? (errno = EPERM, -1) :
                sendmmsg(c->fd, &u->msgs[u->sent], (unsigned)(u->built - u->sent), 0);
        if (r < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return false;
            if (errno == EINTR)
                continue;
            struct err_ctx ctx = { .clsid = -1, .size = c->out_pending, .conn_id = c->id };
            err_raise_ctx(ERR_UDP_SEND, &ctx);
            return true;
        }
        uint64_t bytes = 0;
        for (int i = u->sent; i < u->sent + r; i++)
            bytes += u->msgs[i].msg_len;
        u->sent += r;
        __atomic_store_n(&c->bytes_out, c->bytes_out + bytes, __ATOMIC_RELAXED);
        STAT_ADD(bytes_written, bytes);
    }
}

/* --- the event handler -------------------------------------------------------- */

/* Check a datagram's header; serve it if good. */
static void serve_datagram(struct conn *c, size_t n)
{
    struct udp_frame f;
    switch (udp_frame_parse((const unsigned char *)c->rbuf, n, &f)) {
    case UDP_FRAME_OK:
        break;
    case UDP_FRAME_SHORT:
        err_raise(ERR_UDP_SHORT_DATAGRAM, c->id);
        return;
    case UDP_FRAME_MULTI:
        err_raise(ERR_UDP_MULTI_DATAGRAM, c->id);
        return;
    }
    if (f.reserved != 0)
        err_raise(ERR_UDP_RESERVED, c->id);     /* served all the same */
    c->udp->id = f.id;
    c->rpos = UDP_HEADER_SIZE;
    c->rbytes = n - UDP_HEADER_SIZE;
    switch (conn_serve_buffer(c)) {
    case REQ_DONE:
    case REQ_STOPPED:
        break;
    case REQ_CUT_COMMAND:
        err_raise(ERR_UDP_CUT_COMMAND, c->id);
        break;
    case REQ_CUT_VALUE:
        err_raise(ERR_UDP_CUT_VALUE, c->id);
        break;
    }
}

void udp_drive(struct conn *c)
{
    struct udp_state *u = c->udp;
    if (u->sending) {
        if (!reply_send(c))
            return;     /* still full: EV_WRITE stays */
        u->sending = false;
        conn_request_reset(c);
        if (!conn_want(c, EV_READ))
            return;     /* counted; the other workers serve the socket */
    }
    /* At most -R datagrams per wake-up; the socket stays readable, so the
     * loop comes back after the other connections had their turn. */
    for (int budget = settings.reqs_per_event; budget > 0; budget--) {
        u->peerlen = sizeof(u->peer);
        ssize_t n = recvfrom(c->fd, c->rbuf, c->rsize, 0,
                             (struct sockaddr *)&u->peer, &u->peerlen);
        if (n < 0) {
            if (errno == EAGAIN || errno == EWOULDBLOCK)
                return;
            if (errno == EINTR)
                continue;
            err_raise(ERR_UDP_RECV, c->id);
            return;
        }
        conn_count_input(c, (size_t)n);
        __atomic_store_n(&c->last_cmd, clock_now(), __ATOMIC_RELAXED);
        serve_datagram(c, (size_t)n);
        if (reply_start(c) && !reply_send(c)) {
            if (conn_want(c, EV_WRITE)) {
                u->sending = true;
                conn_set_state(c, CONN_WRITE);
                return;
            }
            /* counted; drop the rest of the reply and keep reading */
            conn_request_reset(c);
            conn_want(c, EV_READ);
            return;
        }
        conn_request_reset(c);
    }
}
