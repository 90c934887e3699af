/*
 * floor_client.c - a closed-loop load: NCONN connections over NTHREADS
 * epoll threads; each connection sends "get k1234\r\n", waits for its
 * REPLY_LEN-byte reply (checked to start with "VALUE "), and sends the next.
 * Prints the replies received in SECS seconds.
 *
 *   floor_client PORT NCONN NTHREADS SECS
 */
#define _GNU_SOURCE
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <time.h>
#include <unistd.h>

#define REPLY_LEN 128
static const char REQ[] = "get k1234\r\n";
static int port, nconn, nthr, secs;
static long total;

static void *run(void *arg)
{
    int per = nconn / nthr + ((long)arg < nconn % nthr), ep = epoll_create1(0);
    int *fds = calloc((size_t)per, sizeof(int)), *got = calloc((size_t)per, sizeof(int));
    char *first = calloc((size_t)per, 1);
    for (int i = 0; i < per; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
        struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                                 .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
        if (fd < 0 || connect(fd, (struct sockaddr *)&a, sizeof(a))) {
            perror("connect");
            exit(1);
        }
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof(one));
        fds[i] = fd;
        first[i] = 1;
        struct epoll_event e = { .events = EPOLLIN, .data.u32 = (uint32_t)i };
        epoll_ctl(ep, EPOLL_CTL_ADD, fd, &e);
        if (write(fd, REQ, sizeof(REQ) - 1) != (ssize_t)sizeof(REQ) - 1)
            exit(1);
    }
    long ops = 0;
    struct timespec now, end;
    clock_gettime(CLOCK_MONOTONIC, &end);
    end.tv_sec += secs;
    char buf[65536];
    struct epoll_event evs[64];
    for (;;) {
        clock_gettime(CLOCK_MONOTONIC, &now);
        if (now.tv_sec > end.tv_sec || (now.tv_sec == end.tv_sec && now.tv_nsec >= end.tv_nsec))
            break;
        int n = epoll_wait(ep, evs, 64, 100);
        for (int k = 0; k < n; k++) {
            int i = (int)evs[k].data.u32;
            ssize_t r = read(fds[i], buf, sizeof(buf));
            if (r <= 0) {
                fprintf(stderr, "the server closed a connection\n");
                exit(1);
            }
            if (first[i]) {
                if (r < 6 || memcmp(buf, "VALUE ", 6) != 0) {
                    fprintf(stderr, "unexpected reply: %.*s\n", (int)(r < 40 ? r : 40), buf);
                    exit(1);
                }
                first[i] = 0;
            }
            got[i] += (int)r;
            while (got[i] >= REPLY_LEN) {
                got[i] -= REPLY_LEN;
                ops++;
                if (write(fds[i], REQ, sizeof(REQ) - 1) != (ssize_t)sizeof(REQ) - 1)
                    exit(1);
            }
        }
    }
    __atomic_add_fetch(&total, ops, __ATOMIC_RELAXED);
    return NULL;
}

int main(int argc, char **argv)
{
    if (argc != 5) {
        fprintf(stderr, "usage: floor_client PORT NCONN NTHREADS SECS\n");
        return 64;
    }
    port = atoi(argv[1]);
    nconn = atoi(argv[2]);
    nthr = atoi(argv[3]);
    secs = atoi(argv[4]);
    if (nthr < 1 || nthr > 16 || nconn < nthr)
        return 64;
    pthread_t t[16];
    for (long i = 0; i < nthr; i++)
        pthread_create(&t[i], NULL, run, (void *)i);
    for (int i = 0; i < nthr; i++)
        pthread_join(t[i], NULL);
    printf("%ld\n", total);
    return 0;
}
