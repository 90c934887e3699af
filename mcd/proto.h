/*
 * proto.h - what a protocol module offers the connection state machine.
 * A protocol parses commands out of c->rbuf and answers on c's chain.
 */
#ifndef MCD_PROTO_H
#define MCD_PROTO_H

#include <stdbool.h>

struct conn;

/* Serve one command from the read buffer if a whole one is there.
 * Returns true if it consumed input (the state may have changed), false if
 * more bytes are needed (the caller then reads). */
bool proto_text_try_command(struct conn *c);
/* A value announced by a storage command has been read into c->nr_item. */
void proto_text_complete_nread(struct conn *c);

/* The binary protocol, when built in (proto_bin.c). */
bool proto_bin_try_command(struct conn *c) __attribute__((weak));
void proto_bin_complete_nread(struct conn *c) __attribute__((weak));

#endif /* MCD_PROTO_H */
