/*
 * udp.h - memcached's UDP transport (-U).
 *
 * Every datagram starts with an 8-byte frame header, four 16-bit numbers in
 * network order: request ID, sequence number, total datagrams in this
 * message, reserved (0). A request is one datagram; its reply is one
 * message of as many datagrams as it needs, each at most UDP_MAX_DATAGRAM
 * bytes, numbered 0..total-1 and carrying the request's ID.
 *
 * The UDP socket is served by every worker, as memcached does: each worker
 * holds a pseudo-connection on its own dup() of the socket, and the kernel
 * hands each datagram to whichever worker reads first. The pseudo-connection
 * is an ordinary struct conn (so the protocol modules answer on its response
 * chain unchanged) reset after every datagram; udp.c flattens the chain into
 * datagrams, copying the value bytes, and sends them with sendmmsg().
 */
#ifndef MCD_UDP_H
#define MCD_UDP_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/uio.h>

struct conn;
struct thread;
struct udp_state;

#define UDP_HEADER_SIZE 8
/* memcached's UDP_MAX_PAYLOAD_SIZE: a whole datagram, header included,
 * small enough to cross an Ethernet link without IP fragmentation. */
#define UDP_MAX_DATAGRAM 1400
#define UDP_MAX_DATA (UDP_MAX_DATAGRAM - UDP_HEADER_SIZE)
/* The largest datagram a socket can receive (memcached's
 * UDP_READ_BUFFER_SIZE): a request is never cut by the buffer. */
#define UDP_READ_BUFFER 65536
/* The frame header numbers datagrams with 16 bits. */
#define UDP_MAX_DATAGRAMS 65535

struct udp_frame {
    uint16_t id;        /* request ID, echoed in the reply */
    uint16_t seq;       /* sequence number of this datagram */
    uint16_t total;     /* datagrams in the message */
    uint16_t reserved;  /* should be 0; not checked (see udp_frame_parse) */
};

enum udp_frame_check {
    UDP_FRAME_OK,
    UDP_FRAME_SHORT,        /* fewer than UDP_HEADER_SIZE bytes */
    UDP_FRAME_MULTI,        /* total is not 1: memcached serves one-datagram requests only */
};

/* Pure helpers (tests/unit/test_udp.c). */
enum udp_frame_check udp_frame_parse(const unsigned char *p, size_t n,
                                     struct udp_frame *f);
void udp_frame_put(unsigned char *p, uint16_t id, uint16_t seq, uint16_t total);
/* Datagrams a reply of n bytes takes; 0 for an empty reply. */
size_t udp_datagrams(size_t n);

/* A position in an iovec list: entry and offset inside it. */
struct udp_cursor {
    int idx;
    size_t off;
};
/* Copy up to room bytes from the iovec list, starting at cur, into dst;
 * advances cur and returns the bytes copied (less than room only at the
 * end of the list). */
size_t udp_gather(const struct iovec *iov, int cnt, struct udp_cursor *cur,
                  char *dst, size_t room);

/* Size a new UDP socket's send buffer for replies of many datagrams. */
void udp_socket_tune(int fd);
/* On a worker: start serving a (dup of a) UDP socket. Closes fd and
 * returns false if that failed (the site is counted). */
bool udp_attach(int fd, struct thread *t);
/* The event handler of a UDP pseudo-connection (conn_event calls it). */
void udp_drive(struct conn *c);
void udp_state_free(struct udp_state *u);
size_t udp_state_memory(void);

#endif /* MCD_UDP_H */
