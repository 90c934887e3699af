/*
 * fuzz_udp.c - the UDP transport (mcd/udp.c) through a real pseudo-
 * connection: the input is a series of datagrams, each a 2-byte big-endian
 * length and that many bytes (frame header included, so headers are
 * fuzzed too). They go over loopback UDP to a pseudo-connection made by
 * udp_attach() on the harness's thread, which is driven by calling
 * conn_event() as the event loop would, replies drained between calls.
 *
 * Text and binary datagrams may alternate on the one pseudo-connection
 * (the protocol is chosen per datagram), and nothing of one datagram may
 * survive into the next: after the input the pseudo-connection is closed
 * and fuzz_conn_check() requires every item reference to be released.
 */
#include <netinet/in.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/ioctl.h>

#include "fuzz_conn.h"
#include "udp.h"

static int srv_fd = -1, cli_fd = -1;

int LLVMFuzzerInitialize(int *argc, char ***argv)
{
    (void)argc;
    (void)argv;
    fuzz_conn_setup(PROTO_AUTO);
    return 0;
}

static void sockets_open(void)
{
    struct sockaddr_in sa = { .sin_family = AF_INET,
                              .sin_addr.s_addr = htonl(INADDR_LOOPBACK) };
    socklen_t sl = sizeof(sa);
    srv_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    cli_fd = socket(AF_INET, SOCK_DGRAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (srv_fd < 0 || cli_fd < 0 ||
        bind(srv_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0 ||
        getsockname(srv_fd, (struct sockaddr *)&sa, &sl) != 0 ||
        connect(cli_fd, (struct sockaddr *)&sa, sizeof(sa)) != 0)
        abort();
}

static void drain(void)
{
    static char sink[1 << 16];
    while (recv(cli_fd, sink, sizeof(sink), MSG_DONTWAIT) > 0)
        ;
}

static bool input_pending(void)
{
    int n = 0;
    return ioctl(srv_fd, FIONREAD, &n) == 0 && n > 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    sockets_open();
    if (!udp_attach(srv_fd, &fuzz_thr) || !fuzz_thr.conns)
        abort();
    struct conn *c = fuzz_thr.conns;
    size_t off = 0;
    int rounds = 0;
    for (;;) {
        /* a few datagrams at a time: the socket buffers stay small */
        for (int k = 0; k < 8 && off + 2 <= size; k++) {
            size_t len = (size_t)data[off] << 8 | data[off + 1];
            off += 2;
            if (len > size - off)
                len = size - off;
            send(cli_fd, data + off, len, 0);
            off += len;
        }
        conn_event(srv_fd, EV_READ, c);
        drain();
        if (off + 2 > size && !input_pending() && c->state != CONN_WRITE)
            break;
        if (++rounds == FUZZ_CONN_MAX_ROUNDS) {
            fprintf(fuzz_log, "fuzz: udp pseudo-connection stuck (state %s)\n",
                    conn_state_name(c->state));
            abort();
        }
    }
    if (c->nheld || c->nr_item || c->out_pending) {
        fprintf(fuzz_log, "fuzz: a datagram's request outlived it\n");
        abort();
    }
    conn_close(c);      /* closes srv_fd */
    close(cli_fd);
    settings.verbose = 0;
    prefix_enabled = false;
    fuzz_conn_check();
    return 0;
}
