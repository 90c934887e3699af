/*
 * listen.h - the listening sockets (TCP from -p/-l, or the unix socket -s)
 * and the accept loop that hands connections to the workers; with -U, the
 * UDP sockets on the same addresses, handed to every worker (udp.h).
 */
#ifndef MCD_LISTEN_H
#define MCD_LISTEN_H

#include <event2/event.h>
#include <stdbool.h>
#include <stdint.h>

#include "util.h"

/* Opens every listener on base; prints why and returns -1 on failure. */
int listen_setup(struct event_base *base);
void listen_teardown(void);
bool listen_accepting(void);
/* Total microseconds accepting was paused for lack of descriptors. */
uint64_t listen_disabled_usec(void);
/* fn for each TCP or unix listening socket opened so far, with its address
 * text and when it opened (safe from any thread: an entry is published
 * whole and never changes; at shutdown the list empties). */
void listen_each(void (*fn)(int fd, const char *addr, rel_time_t opened, void *ctx),
                 void *ctx);

#endif /* MCD_LISTEN_H */
