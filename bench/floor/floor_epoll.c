/*
 * floor_epoll.c - the least a server can do per request with epoll: per
 * thread its own epoll set and listener, level-triggered; per event one
 * read and one sendmsg of a fixed reply per request line, the syscalls
 * mcd and memcached make. Nothing is parsed, stored or looked up.
 */
#include "floor.h"

#include <errno.h>
#include <pthread.h>
#include <sys/epoll.h>
#include <sys/uio.h>

static int port;

static void *worker(void *arg)
{
    (void)arg;
    int lfd = floor_listen(port), ep = epoll_create1(0);
    struct epoll_event ev = { .events = EPOLLIN, .data.fd = -1 };
    epoll_ctl(ep, EPOLL_CTL_ADD, lfd, &ev);
    static __thread char buf[16384];
    struct epoll_event evs[64];
    struct iovec iov[64];
    for (;;) {
        int n = epoll_wait(ep, evs, 64, -1);
        for (int i = 0; i < n; i++) {
            int fd = evs[i].data.fd;
            if (fd < 0) {
                int c = accept4(lfd, NULL, NULL, SOCK_NONBLOCK), one = 1;
                if (c < 0)
                    continue;
                setsockopt(c, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
                struct epoll_event e = { .events = EPOLLIN, .data.fd = c };
                epoll_ctl(ep, EPOLL_CTL_ADD, c, &e);
                continue;
            }
            ssize_t r = read(fd, buf, sizeof(buf));
            if (r <= 0) {
                if (r == 0 || errno != EAGAIN)
                    close(fd);
                continue;
            }
            int reqs = floor_count_lines(buf, (size_t)r);
            if (reqs > 64)
                reqs = 64;
            for (int k = 0; k < reqs; k++)
                iov[k] = (struct iovec){ floor_reply, REPLY_LEN };
            struct msghdr m = { .msg_iov = iov, .msg_iovlen = (size_t)reqs };
            if (reqs)
                sendmsg(fd, &m, MSG_NOSIGNAL);
        }
    }
    return NULL;
}

int main(int argc, char **argv)
{
    return floor_main(argc, argv, &port, worker);
}
