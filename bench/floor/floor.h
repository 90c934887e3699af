/*
 * floor.h - shared by the floor servers (bench/README.md, make bench-floor): the reply
 * they send, their command line and their listening socket.
 *
 * A request is one line; the reply to each is REPLY_LEN bytes, the size of
 * memcached's reply to "get k1234" for a 102-byte value, so the servers and
 * memcached put the same bytes on the wire.
 */
#ifndef FLOOR_H
#define FLOOR_H

#ifndef _GNU_SOURCE
#define _GNU_SOURCE
#endif
#include <arpa/inet.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#define REPLY_LEN 128

static char floor_reply[REPLY_LEN];

static void floor_reply_init(void)
{
    memset(floor_reply, 'v', sizeof(floor_reply));
    memcpy(floor_reply, "VALUE k1234 0 102\r\n", 19);
    memcpy(floor_reply + REPLY_LEN - 7, "\r\nEND\r\n", 7);
}

/* memcached's flags as the bench passes them: -p PORT and -t THREADS are
 * used, every other flag (and its value) is ignored. */
static void floor_args(int argc, char **argv, int *port, int *threads)
{
    *port = 11211;
    *threads = 4;
    for (int i = 1; i + 1 < argc; i++) {
        if (strcmp(argv[i], "-p") == 0)
            *port = atoi(argv[++i]);
        else if (strcmp(argv[i], "-t") == 0)
            *threads = atoi(argv[++i]);
    }
    if (*threads < 1 || *threads > 64) {
        fprintf(stderr, "-t: 1 to 64 threads\n");
        exit(64);
    }
}

/* One listening socket per thread on the same port (SO_REUSEPORT). */
static int floor_listen(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0), one = 1;
    struct sockaddr_in a = { .sin_family = AF_INET, .sin_port = htons((uint16_t)port),
                             .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    if (fd < 0 || setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof(one)) ||
        setsockopt(fd, SOL_SOCKET, SO_REUSEPORT, &one, sizeof(one)) ||
        bind(fd, (struct sockaddr *)&a, sizeof(a)) || listen(fd, 1024)) {
        perror("listen");
        exit(71);
    }
    return fd;
}

static int floor_count_lines(const char *p, size_t n)
{
    int k = 0;
    for (size_t i = 0; i < n; i++)
        k += p[i] == '\n';
    return k;
}

/* Parse the flags, then run worker on -t threads until killed. */
static int floor_main(int argc, char **argv, int *port, void *(*worker)(void *))
{
    int nt;
    floor_args(argc, argv, port, &nt);
    floor_reply_init();
    pthread_t t[64];
    for (int i = 0; i < nt; i++)
        pthread_create(&t[i], NULL, worker, NULL);
    pthread_join(t[0], NULL);
    return 0;
}

#endif
