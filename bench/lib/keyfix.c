/*
 * keyfix.c - LD_PRELOAD shim for memaslap: make its key prefixes printable.
 *
 * memaslap puts an 8-byte binary prefix in front of every key (each byte
 * OR'ed with 0x10, so most are 0x10..0x1f) and sends it as its own iovec.
 * memcached's text protocol splits keys on spaces only, so it takes those
 * bytes; mcd refuses keys with control bytes (E1011). To load both servers
 * with the same keys, this shim rewrites such an iovec in place before
 * sendmsg(): 0x10..0x1f become 0x40..0x4f and 0x7f becomes 0x80 (bytes with
 * bit 4 clear, which a masked prefix byte never holds). Rewriting in place keeps
 * memaslap's own view of the key the same as the server's, and the mapping
 * is one to one, so no two keys collide. Both servers get the same bytes.
 */
#define _GNU_SOURCE
#include <dlfcn.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/uio.h>

static ssize_t (*real_sendmsg)(int, const struct msghdr *, int);

static void fix_prefix(struct iovec *v)
{
    unsigned char *p = v->iov_base;
    if (v->iov_len != 8 || !p)
        return;
    for (int i = 0; i < 8; i++) {
        if (p[i] >= 0x10 && p[i] < 0x20)
            p[i] = (unsigned char)(0x40 | (p[i] & 0x0f));
        else if (p[i] == 0x7f)
            p[i] = 0x80;
    }
}

ssize_t sendmsg(int fd, const struct msghdr *m, int flags)
{
    if (!real_sendmsg)
        real_sendmsg = (ssize_t (*)(int, const struct msghdr *, int))dlsym(RTLD_NEXT, "sendmsg");
    for (size_t i = 0; m && i < m->msg_iovlen; i++)
        fix_prefix(&m->msg_iov[i]);
    return real_sendmsg(fd, m, flags);
}
