/*
 * settings.h - one struct of every setting, filled from memcached-compatible
 * command-line flags (settings_parse) and read-only once the server runs.
 */
#ifndef MCD_SETTINGS_H
#define MCD_SETTINGS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define MCD_VERSION "0.1.0"
/* What `version` answers: memcached's version for clients that parse it,
 * then mcd's own. */
#define MCD_WIRE_VERSION "1.6.18-mcd-" MCD_VERSION
#define KEY_MAX_LENGTH 250
#define MAX_LISTEN 16

enum proto_choice { PROTO_AUTO, PROTO_ASCII, PROTO_BINARY };

struct settings {
    int port;                   /* -p */
    int udpport;                /* -U, 0 = no UDP */
    const char *listen[MAX_LISTEN]; /* -l, each may hold a comma list */
    int nlisten;
    const char *socketpath;     /* -s */
    int access;                 /* -a, octal */
    bool shutdown_command;      /* -A */
    bool daemonize;             /* -d */
    bool coredumps;             /* -r */
    const char *username;       /* -u */
    size_t maxbytes;            /* -m, bytes */
    bool evict_to_free;         /* !-M */
    int maxconns;               /* -c */
    bool lock_memory;           /* -k */
    int verbose;                /* -v count */
    const char *pidfile;        /* -P */
    double factor;              /* -f */
    int chunk_size;             /* -n */
    char prefix_delimiter;      /* -D */
    bool detail_enabled;        /* -D given, or `stats detail on` */
    int num_threads;            /* -t */
    int reqs_per_event;         /* -R */
    bool use_cas;               /* !-C */
    int backlog;                /* -b */
    enum proto_choice protocol; /* -B */
    size_t item_size_max;       /* -I, bytes */
    bool flush_enabled;         /* !-F */
    bool dump_enabled;          /* !-X */
    /* -o extended options */
    int idle_timeout;           /* seconds, 0 = none */
    int write_timeout;          /* mcd: close a client not reading for this long */
    bool strict_keys;           /* mcd: refuse control bytes in text keys */
    size_t read_buf_mem_limit;  /* bytes of connection buffers, 0 = no limit */
    int hashpower_init;         /* 0 = default */
    bool hash_expand;           /* !no_hashexpand */
    bool maxconns_fast;
    const char *admin_socket;   /* mcd: admin socket path, "off" = none */
    int admin_port;             /* mcd: loopback TCP admin port, 0 = none */
    const char *metrics_listen; /* mcd: [ADDR:]PORT of the /metrics endpoint */
    const char *crash_file;     /* mcd: where a crash report goes */
    const char *engine;         /* mcd: storage engine name or .so path */
    int slab_automove;          /* 0, 1, 2: see slabs automove */
};

extern struct settings settings;

void settings_init(struct settings *s);
/*
 * Parse argv into settings. Returns -1 to continue starting, or an exit
 * status (0 after -h/-V, 64 for a usage error after printing why).
 */
int settings_parse(struct settings *s, int argc, char **argv);
void settings_usage(void);

#endif /* MCD_SETTINGS_H */
