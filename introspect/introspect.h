/*
 * introspect.h - the admin socket: a unix socket (mode 0600) served by its
 * own thread, answering plain request lines with JSON. See mcd-admin(7).
 */
#ifndef MCD_INTROSPECT_H
#define MCD_INTROSPECT_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>

#define ADMIN_SCHEMA 1

/* Opens the admin socket (and the loopback TCP admin port if asked for)
 * and starts its thread. Prints why and returns -1 on failure. */
int admin_start(void);
void admin_stop(void);
/* Serve one request line on fd, as a client's would be (fuzzing). */
void admin_fuzz_request(int fd, const char *line);

/* --- dump.c: one JSON document per command ------------------------------ */

/* Arguments of a request, NAME=VALUE pairs. */
struct admin_args {
    int n;
    const char *name[16];
    const char *value[16];
};

json_t *dump_stats(void);
json_t *dump_settings(void);
json_t *dump_slabs(void);
json_t *dump_lru(void);
json_t *dump_errors(void);
json_t *dump_conns(void);
json_t *dump_threads(void);
json_t *dump_hash(void);
json_t *dump_locked(void);
json_t *dump_prefixes(void);
json_t *dump_latency(void);
json_t *dump_commands(void);
json_t *dump_latency_events(void);
/* Commands with arguments: NULL with *why set when the arguments are bad. */
json_t *run_slowlog(const struct admin_args *a, const char **why);
json_t *run_set(const struct admin_args *a, const char **why);
json_t *run_hotkeys(const struct admin_args *a, const char **why);
json_t *run_history(const struct admin_args *a, const char **why);
struct hist_event;
json_t *history_event_json(const struct hist_event *e);
json_t *dump_history_recent(void);
json_t *dump_memory(void);
/* A key as JSON: {"key": "..."} or {"key_base64": "..."} when not UTF-8. */
void dump_put_key(json_t *obj, const char *key, size_t nkey);
char *dump_base64(const void *data, size_t len);

/* Prometheus text of every metric (malloc'd; NULL when out of memory). */
char *metrics_text(size_t *len);
/* The optional HTTP endpoint (-o metrics_listen). */
int metrics_http_start(void);
void metrics_http_stop(void);

/* The server's identity, carried by every reply. */
json_t *admin_identity(void);

#endif /* MCD_INTROSPECT_H */
