/*
 * floor_uring.c - the least a server can do per request with io_uring:
 * per thread its own ring and listener; a multishot accept, a multishot
 * recv per connection into a ring of provided buffers, a send per request
 * line of a fixed reply (no completion on success), and one
 * io_uring_submit_and_wait per loop for all of it. Nothing is parsed,
 * stored or looked up.
 */
#include "floor.h"

#include <errno.h>
#include <liburing.h>
#include <pthread.h>

#define NBUF 256
#define BUFSZ 4096
enum { T_ACCEPT = 1, T_RECV = 2 };
#define UD(t, fd) (((uint64_t)(t) << 32) | (uint32_t)(fd))

static int port;

static void arm_recv(struct io_uring *ring, int fd)
{
    struct io_uring_sqe *sqe = io_uring_get_sqe(ring);
    io_uring_prep_recv_multishot(sqe, fd, NULL, 0, 0);
    sqe->flags |= IOSQE_BUFFER_SELECT;
    sqe->buf_group = 0;
    sqe->user_data = UD(T_RECV, fd);
}

static void *worker(void *arg)
{
    (void)arg;
    int lfd = floor_listen(port);
    struct io_uring ring;
    struct io_uring_params p = { .flags = IORING_SETUP_SINGLE_ISSUER | IORING_SETUP_DEFER_TASKRUN };
    if (io_uring_queue_init_params(4096, &ring, &p)) {
        memset(&p, 0, sizeof(p));
        p.flags = IORING_SETUP_COOP_TASKRUN;
        if (io_uring_queue_init_params(4096, &ring, &p)) {
            fprintf(stderr, "io_uring_queue_init failed\n");
            exit(71);
        }
    }
    struct io_uring_buf_ring *br;
    char *bufs = malloc((size_t)NBUF * BUFSZ);
    if (posix_memalign((void **)&br, 4096, NBUF * sizeof(struct io_uring_buf)) || !bufs)
        exit(71);
    struct io_uring_buf_reg reg = { .ring_addr = (unsigned long)br, .ring_entries = NBUF, .bgid = 0 };
    if (io_uring_register_buf_ring(&ring, &reg, 0)) {
        fprintf(stderr, "io_uring_register_buf_ring failed\n");
        exit(71);
    }
    io_uring_buf_ring_init(br);
    for (int i = 0; i < NBUF; i++)
        io_uring_buf_ring_add(br, bufs + (size_t)i * BUFSZ, BUFSZ, (unsigned short)i,
                              io_uring_buf_ring_mask(NBUF), i);
    io_uring_buf_ring_advance(br, NBUF);
    struct io_uring_sqe *sqe = io_uring_get_sqe(&ring);
    io_uring_prep_multishot_accept(sqe, lfd, NULL, NULL, 0);
    sqe->user_data = UD(T_ACCEPT, lfd);
    for (;;) {
        io_uring_submit_and_wait(&ring, 1);
        struct io_uring_cqe *cqe;
        unsigned head, seen = 0;
        io_uring_for_each_cqe(&ring, head, cqe) {
            seen++;
            int t = (int)(cqe->user_data >> 32), fd = (int)(uint32_t)cqe->user_data;
            if (t == T_ACCEPT) {
                if (cqe->res >= 0) {
                    int one = 1;
                    setsockopt(cqe->res, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                    arm_recv(&ring, cqe->res);
                }
                continue;
            }
            if (t != T_RECV)
                continue;       /* a failed send: the recv side sees it */
            if (cqe->res <= 0) {
                if (cqe->res == -ENOBUFS)
                    arm_recv(&ring, fd);
                else if (!(cqe->flags & IORING_CQE_F_MORE))
                    close(fd);
                continue;
            }
            int bid = (int)(cqe->flags >> IORING_CQE_BUFFER_SHIFT);
            char *b = bufs + (size_t)bid * BUFSZ;
            int reqs = floor_count_lines(b, (size_t)cqe->res);
            io_uring_buf_ring_add(br, b, BUFSZ, (unsigned short)bid, io_uring_buf_ring_mask(NBUF), 0);
            io_uring_buf_ring_advance(br, 1);
            for (int k = 0; k < reqs; k++) {
                sqe = io_uring_get_sqe(&ring);
                if (!sqe) {
                    io_uring_submit(&ring);
                    sqe = io_uring_get_sqe(&ring);
                }
                io_uring_prep_send(sqe, fd, floor_reply, REPLY_LEN, MSG_NOSIGNAL);
                sqe->flags |= IOSQE_CQE_SKIP_SUCCESS;
                sqe->user_data = UD(3, fd);
            }
            if (!(cqe->flags & IORING_CQE_F_MORE))
                arm_recv(&ring, fd);
        }
        io_uring_cq_advance(&ring, seen);
    }
    return NULL;
}

int main(int argc, char **argv)
{
    return floor_main(argc, argv, &port, worker);
}
