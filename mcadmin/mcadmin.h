/*
 * mcadmin.h - the operator's CLI for mcd: shared declarations.
 *
 * mcadmin shares no code with the server. Everything it knows about mcd
 * comes from the admin socket's documented JSON (man/mcd-admin.7): one
 * request line, one JSON line back (or a newline-delimited stream for
 * `items`), each reply carrying {"schema","server","command", "data" or
 * "error"}.
 *
 * Modules and their prefixes:
 *   client.c    cl_     the socket: connect, request/response, reconnect
 *   format.c    fmt_ tbl_ jx_   tables, units, colour, JSON accessors
 *   commands.c  cmd_    the one command table: dispatch, help, completion
 *   shell.c     shell_  readline loop, prompt, completion, history
 *   snapshot.c  snap_   capture, save, load and validate snapshot files
 *   diff.c      diff_   what changed between two snapshots
 *   report.c    report_ the bug-report bundle, key redaction
 *   view.c      view_   the server's dumps rendered for reading
 *   watch.c     watch_  the live rates view
 *   views.c     view_   latency, commands, slowlog, memory, history, threads,
 *                       metrics, set, hotkeys
 *   events.c    events_ the server's event stream followed live
 *   fleet.c     fleet_  several servers at once: stats, capture, diff
 *   sha256.c    sha256_ SHA-256 and HMAC-SHA-256 for redaction
 *   doctor.c    dr_     diagnosis: rules over two samples (doctor.h,
 *                       doctor_rules.c), findings then advice
 */
#ifndef MCADMIN_H
#define MCADMIN_H

#include <jansson.h>
#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <stdio.h>

#define MCADMIN_VERSION "0.1.0"
#define MCADMIN_SNAPSHOT_FORMAT 1
#define MCADMIN_REPORT_FORMAT 1
#define MCADMIN_DEFAULT_SOCKET "/tmp/mcd.11211.admin"

/* Exit codes, documented in mcadmin(1). */
enum {
    EXIT_OK = 0,
    EXIT_CMD = 1,       /* the server answered an error, or input was invalid */
    EXIT_USAGE = 2,
    EXIT_CONNECT = 3,
};

/* --- client.c ------------------------------------------------------------ */

struct client;

/* path is a unix socket path, or HOST:PORT for the loopback TCP admin port. */
struct client *cl_new(const char *path);
void cl_free(struct client *c);
const char *cl_path(const struct client *c);
/* Connects if not connected. EXIT_OK or EXIT_CONNECT (reason in err). */
int cl_connect(struct client *c, char *err, size_t errlen);
void cl_close(struct client *c);
/* True while connected; notices (without blocking) a peer that closed. */
bool cl_alive(struct client *c);
/* True once a connection was lost and not yet re-established. */
bool cl_dropped(const struct client *c);
/* The "server" object of the newest reply (borrowed; NULL before any). */
const json_t *cl_identity(const struct client *c);
/* Seconds the server has been up, extrapolated from the newest reply. */
long cl_uptime(const struct client *c);

/*
 * One request line, one reply. *reply gets the whole envelope (new ref).
 * Returns EXIT_OK, EXIT_CMD (the reply is an error envelope, or the reply
 * was not JSON: then *reply is NULL and err says why) or EXIT_CONNECT.
 * A connection found dead is re-opened once and the request re-sent: every
 * admin request only reads.
 */
int cl_call(struct client *c, const char *line, json_t **reply, char *err, size_t errlen);

/* A streamed request (items): row() is called for each object between the
 * header and the summary; *summary gets the summary object (new ref). */
typedef int (*cl_row_fn)(json_t *row, void *arg);
int cl_stream(struct client *c, const char *line, cl_row_fn row, void *arg,
              json_t **head, json_t **summary, char *err, size_t errlen);

/* A text reply ending with "# EOF" (admin `metrics`), copied to out. An
 * error reply (JSON) returns EXIT_CMD with *reply set. */
int cl_text(struct client *c, const char *line, FILE *out, json_t **reply,
            char *err, size_t errlen);

/* Following the endless `watch` stream: start, next object, stop. */
enum { CL_FOLLOW_ERROR = -1, CL_FOLLOW_TIMEOUT = 0, CL_FOLLOW_OBJ = 1, CL_FOLLOW_FD = 2 };
int cl_follow_start(struct client *c, const char *line, json_t **head, char *err, size_t errlen);
int cl_follow_next(struct client *c, int wait_ms, int also_fd, json_t **obj,
                   char *err, size_t errlen);
void cl_follow_stop(struct client *c);

/* --- format.c ------------------------------------------------------------ */

bool fmt_color(void);           /* stdout is a tty and NO_COLOR is unset */
const char *fmt_c(const char *sgr);     /* "\033[<sgr>m" or "" without colour */
#define C_RESET fmt_c("0")
#define C_BOLD fmt_c("1")
#define C_DIM fmt_c("2")
#define C_RED fmt_c("31")
#define C_GREEN fmt_c("32")
#define C_YELLOW fmt_c("33")

/* Each writes into buf (at least 32 bytes) and returns it. */
char *fmt_bytes(double n, char *buf);           /* 1.5 MiB */
char *fmt_duration(double secs, char *buf);     /* 3d 4h, 5m 02s, 42s */
char *fmt_num(double v, char *buf);             /* integer or %.4g */
char *fmt_rate(double v, char *buf);            /* 12.5/s */
char *fmt_time(long long t, char *buf);         /* 2026-11-26 15:31:02 */
char *fmt_usecs(double us, char *buf);          /* 850us, 1.25ms, 2.10s */

struct table;
struct table *tbl_new(int ncols, ...);          /* column headers */
void tbl_add(struct table *t, ...);             /* exactly ncols strings */
void tbl_addf(struct table *t, int col, const char *fmt, ...);
void tbl_print(struct table *t, FILE *out, const char *indent);
void tbl_free(struct table *t);

/* JSON accessors that tolerate any shape: wrong type -> default. */
const json_t *jx_get(const json_t *o, const char *key);
const json_t *jx_path(const json_t *o, const char *dotted);
long long jx_int(const json_t *o, const char *key, long long def);
double jx_num(const json_t *o, const char *key, double def);
const char *jx_str(const json_t *o, const char *key, const char *def);
bool jx_isnum(const json_t *v);
double jx_val(const json_t *v);
/* A scalar as text (strings bare, numbers compact); writes into buf[64]. */
const char *jx_text(const json_t *v, char *buf, size_t len);
void jx_print_pretty(const json_t *v, FILE *out);

/* --- snapshot.c ---------------------------------------------------------- */

/* Parses and validates a snapshot file's bytes; NULL and a one-line reason
 * in err when malformed. name is used in messages only. */
json_t *snap_load_buf(const char *buf, size_t len, const char *name, char *err, size_t errlen);
json_t *snap_load_file(const char *path, char *err, size_t errlen);
int snap_validate(const json_t *doc, char *err, size_t errlen);
/* Asks the server for a snapshot and wraps it with our metadata. */
int snap_capture(struct client *c, json_t **doc, char *err, size_t errlen);
int snap_save(const json_t *doc, const char *path, char *err, size_t errlen);
char *snap_default_name(const char *stem, char *buf, size_t len);
const json_t *snap_section(const json_t *doc, const char *name);

/* --- diff.c -------------------------------------------------------------- */

/* Both documents validated by snap_validate. */
json_t *diff_build(const json_t *a, const json_t *b, const char *name_a, const char *name_b);
void diff_print(const json_t *d, FILE *out);

/* --- sha256.c ------------------------------------------------------------ */

void sha256(const void *data, size_t len, uint8_t out[32]);
void hmac_sha256(const void *key, size_t klen, const void *msg, size_t mlen, uint8_t out[32]);

/* --- commands.c / shell.c / report.c / watch.c --------------------------- */

/* What a command runs with. */
struct ctx {
    struct client *cl;
    bool json;          /* --json: machine output */
    bool interactive;   /* inside the shell */
    FILE *out;
};

/* Argument vocabularies the shell completes from. */
enum cmd_complete {
    COMPL_NONE, COMPL_COMMAND, COMPL_ITEMS, COMPL_SNAPSHOT, COMPL_FILE,
    COMPL_SERVER_COMMAND, COMPL_FLAGS, COMPL_HISTORY, COMPL_EVENTS, COMPL_SET,
};

struct cmd {
    const char *name;
    const char *args;           /* usage, "" when none */
    const char *help;           /* one line */
    const char *flags;          /* space-separated --options it takes */
    bool needs_server;
    enum cmd_complete complete;
    int (*run)(struct ctx *x, int argc, char **argv);
};

const struct cmd *cmd_find(const char *name);
const struct cmd *cmd_at(int i);        /* NULL past the end */
int cmd_run(struct ctx *x, int argc, char **argv);
int cmd_run_line(struct ctx *x, const char *line);
/* Completion state learnt from earlier replies. */
int cmd_class_ids(int *ids, int max);
const char *const *cmd_prefixes(int *n);
const char *cmd_item_arg(int i);        /* "class=", ... NULL past the end */
const char *cmd_server_command(int i);
void cmd_learn_help(struct client *c);
/* Event kinds (history, events) and runtime settings (set), from the
 * server's help or a compiled-in list. */
const char *cmd_event_kind(int i);
const char *cmd_setting(int i);
/* True when the server's help lists name (asks it once per connection);
 * *known is false when the server could not be asked. */
bool cmd_server_has(struct client *c, const char *name, bool *known);

void cmd_learn_slabs(const json_t *slabs_data);
void cmd_learn_key(const char *key);

/* view.c: one renderer per server dump. */
int view_fail(struct ctx *x, int rc, const json_t *reply, const char *err);
int view_stats(struct ctx *x, int argc, char **argv);
int view_settings(struct ctx *x, int argc, char **argv);
int view_slabs(struct ctx *x, int argc, char **argv);
int view_lru(struct ctx *x, int argc, char **argv);
int view_errors(struct ctx *x, int argc, char **argv);
int view_conns(struct ctx *x, int argc, char **argv);
int view_threads(struct ctx *x, int argc, char **argv);
int view_hash(struct ctx *x, int argc, char **argv);
int view_locked(struct ctx *x, int argc, char **argv);
int view_prefixes(struct ctx *x, int argc, char **argv);
/* Sends line; returns the reply's data (release *reply), or NULL with *rc
 * set: an error was shown, or with --json the data was printed. */
const json_t *view_fetch(struct ctx *x, const char *line, json_t **reply, int *rc);

/* views.c */
int view_latency(struct ctx *x, int argc, char **argv);
int view_commands(struct ctx *x, int argc, char **argv);
int view_slowlog(struct ctx *x, int argc, char **argv);
int view_memory(struct ctx *x, int argc, char **argv);
int view_history(struct ctx *x, int argc, char **argv);
int view_metrics(struct ctx *x, int argc, char **argv);
int view_set(struct ctx *x, int argc, char **argv);
int view_hotkeys(struct ctx *x, int argc, char **argv);
/* The first array of objects in data (hot keys' schema is not fixed). */
const json_t *view_first_rows(const json_t *data);

int events_run(struct ctx *x, int argc, char **argv);

/* fleet.c: more than one server (-s given again, or --fleet FILE). */
struct fleet;
struct fleet *fleet_new(void);
void fleet_free(struct fleet *f);
int fleet_add(struct fleet *f, const char *spec);
/* Reads one socket path or HOST:PORT per line; '#' starts a comment. */
int fleet_load(struct fleet *f, const char *path, char *err, size_t errlen);
int fleet_size(const struct fleet *f);
const char *fleet_spec(const struct fleet *f, int i);
/* Runs argv against every server; EXIT_CONNECT if any could not be reached. */
int fleet_run(struct fleet *f, struct ctx *x, int argc, char **argv);
/* diff of bundles or directories of snapshots (f NULL: live is x->cl). */
bool fleet_diff_wants(const char *arg);
int fleet_diff(struct fleet *f, struct ctx *x, int argc, char **argv);

int shell_run(struct ctx *x);

int report_run(struct ctx *x, int argc, char **argv);
/* Replaces every key in v (key, key_base64, prefix, command arguments)
 * with "k:" + 16 hex digits of HMAC-SHA-256(secret, key). */
void report_redact(json_t *v, const uint8_t *secret, size_t slen);

int watch_run(struct ctx *x, int argc, char **argv);

int doctor_run(struct ctx *x, int argc, char **argv);

#endif /* MCADMIN_H */
