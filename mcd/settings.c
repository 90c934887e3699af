/*
 * settings.c - memcached-compatible command-line parsing.
 *
 * Every flag memcached 1.6 takes is accepted: the ones mcd implements set a
 * field; the few it does not implement are accepted with a warning when
 * ignoring them is harmless, and refused when ignoring them would weaken
 * security (SASL, TLS, auth files). Unknown flags exit with EX_USAGE (64).
 */
#include "settings.h"

#include <ctype.h>
#include <errno.h>
#include <getopt.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sysexits.h>

#include "errors.h"
#include "latency.h"

struct settings settings;

void settings_init(struct settings *s)
{
    memset(s, 0, sizeof(*s));
    s->port = 11211;
    s->access = 0700;
    s->maxbytes = 64 * 1024 * 1024;
    s->evict_to_free = true;
    s->maxconns = 1024;
    s->factor = 1.25;
    s->chunk_size = 48;
    s->prefix_delimiter = ':';
    s->num_threads = 4;
    s->reqs_per_event = 20;
    s->use_cas = true;
    s->backlog = 1024;
    s->protocol = PROTO_AUTO;
    s->item_size_max = 1024 * 1024;
    s->flush_enabled = true;
    s->dump_enabled = true;
    s->hash_expand = true;
    s->maxconns_fast = true;
    s->write_timeout = 30;
    s->admin_socket = NULL;     /* default chosen in main once the port is known */
    s->engine = "slab";
    s->slab_automove = 1;       /* memcached 1.6's default */
}

void settings_usage(void)
{
    printf("mcd " MCD_VERSION ", a memcached-compatible cache server whose inside can be seen\n"
"-p, --port=<num>          TCP port to listen on (default: 11211, 0 = off)\n"
"-U, --udp-port=<num>      UDP port to listen on (default: 0, off)\n"
"-s, --unix-socket=<file>  UNIX socket to listen on (disables network support)\n"
"-a, --unix-mask=<mask>    access mask for UNIX socket, in octal (default: 700)\n"
"-A, --enable-shutdown     enable ascii \"shutdown\" command\n"
"-l, --listen=<addr>       interface to listen on (default: INADDR_ANY);\n"
"                          may be repeated or a comma list; addr[:port]\n"
"-d, --daemon              run as a daemon\n"
"-r, --enable-coredumps    maximize core file limit\n"
"-u, --user=<user>         assume identity of <username> (only when run as root)\n"
"-m, --memory-limit=<num>  item memory in megabytes (default: 64; k/m/g suffix)\n"
"-M, --disable-evictions   return error on memory exhausted instead of evicting\n"
"-c, --conn-limit=<num>    max simultaneous connections (default: 1024)\n"
"-k, --lock-memory         lock down all paged memory\n"
"-v, --verbose             verbose (print errors/warnings while in event loop)\n"
"-vv                       very verbose (also print client commands/responses)\n"
"-vvv                      extremely verbose (internal state transitions)\n"
"-h, --help                print this help and exit\n"
"-i, --license             print license and exit\n"
"-V, --version             print version and exit\n"
"-P, --pidfile=<file>      save PID in <file>\n"
"-f, --slab-growth-factor=<num> chunk size growth factor (default: 1.25)\n"
"-n, --slab-min-size=<bytes> min space used for key+value+flags (default: 48)\n"
"-L, --enable-largepages   accepted; mcd uses ordinary pages\n"
"-D <char>                 delimiter for per-prefix stats (turns them on)\n"
"-t, --threads=<num>       number of worker threads (default: 4)\n"
"-R, --max-reqs-per-event  requests per event before yielding (default: 20)\n"
"-C, --disable-cas         disable use of CAS\n"
"-b, --listen-backlog=<num> set the backlog queue limit (default: 1024)\n"
"-B, --protocol=<name>     ascii, binary, or auto (default: auto)\n"
"-I, --max-item-size=<num> max item size (default: 1m, min: 1k, max: 1024m)\n"
"-F, --disable-flush-all   disable flush_all command\n"
"-X, --disable-dumping     disable stats cachedump and item dumps\n"
"-W, --disable-watch       accepted (mcd has no watch command)\n"
"-e, --memory-file=<file>  accepted with a warning; restartable cache unsupported\n"
"-N, --napi_ids=<num>      accepted with a warning\n"
"-S, -Y, -Z                SASL, auth files and TLS are not supported: refused\n"
"-o, --extended            comma separated list of extended options:\n"
"   - idle_timeout=SEC     close connections idle this long (default: 0, never)\n"
"   - write_timeout=SEC    close a client that has not read its replies for\n"
"                          this long (default: 30; 0 = never)\n"
"   - read_buf_mem_limit=MB  limit connection buffer memory (default: 0, none)\n"
"   - strict_keys          refuse text keys with control bytes (memcached\n"
"                          and its clients allow them; off by default)\n"
"   - hashpower=N          initial hash table size 2^N (12..32)\n"
"   - no_hashexpand        do not grow the hash table\n"
"   - maxconns_fast, no_maxconns_fast\n"
"   - admin_socket=PATH    the admin socket, mode 0600 (default:\n"
"                          /tmp/mcd.<port>.admin, or <unix socket>.admin\n"
"                          with -s; 'off' to disable)\n"
"   - admin_port=PORT      also serve the admin socket on 127.0.0.1:PORT\n"
"   - metrics_listen=[ADDR:]PORT  serve Prometheus /metrics and /healthz over\n"
"                          HTTP (address 127.0.0.1 unless given)\n"
"   - slowlog_usec=N       log commands slower than N microseconds (10000)\n"
"   - crash_file=PATH      where a crash report is written (default\n"
"                          /tmp/mcd.<port>.crash)\n"
"   - engine=NAME          storage engine: slab (default), heap, or the\n"
"                          path of a shared object exporting mcd_engine_entry\n"
"   - slab_reassign        accepted (page moves are always enabled)\n"
"   - slab_automove=0|1|2  background page balancing (default: 1)\n"
"   - fault=SITE:N[:PCT]   test builds: fail error site SITE every Nth time\n"
"                          (or PCT percent of the time when N is 0)\n"
"   memcached's other -o options are accepted with a warning.\n");
}

/* Parse "<num>[kKmMgG]" with a default unit; false on junk or overflow. */
static bool parse_size(const char *arg, size_t unit, size_t *out)
{
    char *end;
    unsigned long long mult;
    /* strtoull would skip blanks and accept a sign (" -5" wraps). */
    if (!isdigit((unsigned char)arg[0]))
        return false;
    errno = 0;
    unsigned long long v = strtoull(arg, &end, 10);
    if (end == arg || errno)
        return false;
    switch (*end) {
    case '\0': mult = unit; break;
    case 'k': case 'K': mult = 1024ULL; end++; break;
    case 'm': case 'M': mult = 1024ULL * 1024; end++; break;
    case 'g': case 'G': mult = 1024ULL * 1024 * 1024; end++; break;
    default: return false;
    }
    if (*end == 'b' || *end == 'B')
        end++;
    if (*end != '\0' || v > SIZE_MAX / mult)
        return false;
    *out = (size_t)(v * mult);
    return true;
}

static bool parse_int(const char *arg, long lo, long hi, int *out)
{
    char *end;
    errno = 0;
    long v = strtol(arg, &end, 10);
    if (end == arg || *end || errno || v < lo || v > hi)
        return false;
    *out = (int)v;
    return true;
}

#define USAGE_FAIL(...) do { \
        fprintf(stderr, "mcd: " __VA_ARGS__); fputc('\n', stderr); \
        return EX_USAGE; \
    } while (0)

/* memcached -o options mcd accepts without implementing them. */
static const char *const ignored_opts[] = {
    "tail_repair_time", "hash_algorithm", "lru_crawler", "no_lru_crawler",
    "lru_crawler_sleep", "lru_crawler_tocrawl",
    "lru_maintainer", "no_lru_maintainer", "hot_lru_pct", "warm_lru_pct",
    "hot_max_factor", "warm_max_factor", "temporary_ttl", "slab_chunk_max",
    "watcher_logbuf_size", "worker_logbuf_size", "track_sizes", "modern",
    "no_modern", "sock_cookie_id", "slab_automove_ratio", "slab_automove_window", "slab_automove_freeratio",
    "lru_segmented", "no_lru_segmented", "inline_ascii_resp",
    "no_inline_ascii_resp", "resp_obj_mem_limit", "drop_privileges",
    "no_drop_privileges", "expirezero_does_not_evict", "meta_response_old",
    "ext_path", "ext_page_size", "ext_wbuf_size", "ext_threads",
    "ext_item_size", "ext_item_age", "ext_low_ttl", "ext_drop_unread",
    "ext_recache_rate", "ext_compact_under", "ext_drop_under", "ext_max_frag",
    "ext_max_sleep", "ext_io_depth", "ext_path_fixed", "large_memory_pages",
    NULL
};

static int parse_extended(struct settings *s, char *list)
{
    char *save = NULL;
    for (char *opt = strtok_r(list, ",", &save); opt;
         opt = strtok_r(NULL, ",", &save)) {
        char *val = strchr(opt, '=');
        if (val)
            *val++ = '\0';
        if (strcmp(opt, "idle_timeout") == 0) {
            if (!val || !parse_int(val, 0, 86400 * 365, &s->idle_timeout))
                USAGE_FAIL("-o idle_timeout needs a number of seconds");
        } else if (strcmp(opt, "strict_keys") == 0) {
            s->strict_keys = true;
        } else if (strcmp(opt, "write_timeout") == 0) {
            if (!val || !parse_int(val, 0, 86400, &s->write_timeout))
                USAGE_FAIL("-o write_timeout needs a number of seconds (0 = never)");
        } else if (strcmp(opt, "read_buf_mem_limit") == 0) {
            int mb;
            if (!val || !parse_int(val, 0, 1 << 20, &mb))
                USAGE_FAIL("-o read_buf_mem_limit needs megabytes (0 = no limit)");
            s->read_buf_mem_limit = (size_t)mb * 1024 * 1024;
        } else if (strcmp(opt, "hashpower") == 0) {
            if (!val || !parse_int(val, 12, 32, &s->hashpower_init))
                USAGE_FAIL("-o hashpower must be between 12 and 32");
        } else if (strcmp(opt, "no_hashexpand") == 0) {
            s->hash_expand = false;
        } else if (strcmp(opt, "maxconns_fast") == 0) {
            s->maxconns_fast = true;
    s->write_timeout = 30;
        } else if (strcmp(opt, "no_maxconns_fast") == 0) {
            s->maxconns_fast = false;
        } else if (strcmp(opt, "admin_socket") == 0) {
            if (!val || !*val)
                USAGE_FAIL("-o admin_socket needs a path (or 'off')");
            s->admin_socket = val;
        } else if (strcmp(opt, "admin_port") == 0) {
            if (!val || !parse_int(val, 1, 65535, &s->admin_port))
                USAGE_FAIL("-o admin_port needs a port number (it listens on 127.0.0.1 only)");
        } else if (strcmp(opt, "metrics_listen") == 0) {
            if (!val || !*val)
                USAGE_FAIL("-o metrics_listen needs [ADDR:]PORT (default address 127.0.0.1)");
            s->metrics_listen = val;
        } else if (strcmp(opt, "crash_file") == 0) {
            if (!val || !*val)
                USAGE_FAIL("-o crash_file needs a path");
            s->crash_file = val;
        } else if (strcmp(opt, "slowlog_usec") == 0) {
            int us;
            if (!val || !parse_int(val, 0, 1 << 30, &us))
                USAGE_FAIL("-o slowlog_usec needs a number of microseconds");
            __atomic_store_n(&slowlog_usec, (uint64_t)us, __ATOMIC_RELAXED);
        } else if (strcmp(opt, "engine") == 0) {
            /* Checked when the engine is loaded (main.c): a .so path can
             * only be judged by opening it. */
            if (!val || !*val)
                USAGE_FAIL("-o engine needs a name (slab, heap) or a path to a .so");
            s->engine = val;
        } else if (strcmp(opt, "slab_reassign") == 0) {
            /* always on in mcd; accepted for memcached's command lines */
        } else if (strcmp(opt, "slab_automove") == 0) {
            if (!val || !parse_int(val, 0, 2, &s->slab_automove))
                USAGE_FAIL("-o slab_automove must be 0, 1 or 2");
        } else if (strcmp(opt, "fault") == 0) {
            char why[160];
            if (!val || !err_fault_config(val, why, sizeof(why)))
                USAGE_FAIL("-o fault: %s", val ? why : "needs SITE:N");
        } else if (strncmp(opt, "ssl_", 4) == 0 || strcmp(opt, "proxy_config") == 0) {
            USAGE_FAIL("-o %s: TLS and the proxy are not supported by mcd", opt);
        } else {
            bool known = false;
            for (int i = 0; ignored_opts[i]; i++)
                known |= strcmp(opt, ignored_opts[i]) == 0;
            if (!known)
                USAGE_FAIL("-o %s: unknown extended option", opt);
            fprintf(stderr, "mcd: warning: -o %s is accepted but not implemented by mcd\n", opt);
        }
    }
    return -1;
}

int settings_parse(struct settings *s, int argc, char **argv)
{
    static const struct option longopts[] = {
        { "port", required_argument, NULL, 'p' },
        { "udp-port", required_argument, NULL, 'U' },
        { "unix-socket", required_argument, NULL, 's' },
        { "unix-mask", required_argument, NULL, 'a' },
        { "enable-shutdown", no_argument, NULL, 'A' },
        { "listen", required_argument, NULL, 'l' },
        { "daemon", no_argument, NULL, 'd' },
        { "enable-coredumps", no_argument, NULL, 'r' },
        { "user", required_argument, NULL, 'u' },
        { "memory-limit", required_argument, NULL, 'm' },
        { "disable-evictions", no_argument, NULL, 'M' },
        { "conn-limit", required_argument, NULL, 'c' },
        { "lock-memory", no_argument, NULL, 'k' },
        { "verbose", optional_argument, NULL, 'v' },
        { "help", no_argument, NULL, 'h' },
        { "license", no_argument, NULL, 'i' },
        { "version", no_argument, NULL, 'V' },
        { "pidfile", required_argument, NULL, 'P' },
        { "slab-growth-factor", required_argument, NULL, 'f' },
        { "slab-min-size", required_argument, NULL, 'n' },
        { "enable-largepages", no_argument, NULL, 'L' },
        { "threads", required_argument, NULL, 't' },
        { "max-reqs-per-event", required_argument, NULL, 'R' },
        { "disable-cas", no_argument, NULL, 'C' },
        { "listen-backlog", required_argument, NULL, 'b' },
        { "protocol", required_argument, NULL, 'B' },
        { "max-item-size", required_argument, NULL, 'I' },
        { "enable-sasl", no_argument, NULL, 'S' },
        { "disable-flush-all", no_argument, NULL, 'F' },
        { "disable-dumping", no_argument, NULL, 'X' },
        { "disable-watch", no_argument, NULL, 'W' },
        { "auth-file", required_argument, NULL, 'Y' },
        { "memory-file", required_argument, NULL, 'e' },
        { "enable-ssl", no_argument, NULL, 'Z' },
        { "extended", required_argument, NULL, 'o' },
        { "napi_ids", required_argument, NULL, 'N' },
        { NULL, 0, NULL, 0 }
    };
    const char *optstring = "p:U:s:a:Al:dru:m:Mc:kvhiVP:f:n:LD:t:R:Cb:B:I:SFXWY:e:Zo:N:";
    bool item_size_given = false;
    int c;

    /* 0, not 1: glibc and musl then also forget the position inside an
     * option cluster ("-hv") where a previous parse returned, which
     * would otherwise be resumed, pointing into that parse's argv. */
    optind = 0;
    opterr = 0;
    while ((c = getopt_long(argc, argv, optstring, longopts, NULL)) != -1) {
        switch (c) {
        case 'p':
            if (!parse_int(optarg, 0, 65535, &s->port))
                USAGE_FAIL("-p: '%s' is not a port number", optarg);
            break;
        case 'U':
            if (!parse_int(optarg, 0, 65535, &s->udpport))
                USAGE_FAIL("-U: '%s' is not a port number", optarg);
            break;
        case 's': s->socketpath = optarg; break;
        case 'a': {
            char *end;
            long m = strtol(optarg, &end, 8);
            if (end == optarg || *end || m < 0 || m > 0777)
                USAGE_FAIL("-a: '%s' is not an octal mode", optarg);
            s->access = (int)m;
            break;
        }
        case 'A': s->shutdown_command = true; break;
        case 'l':
            if (s->nlisten == MAX_LISTEN)
                USAGE_FAIL("-l: at most %d listen options", MAX_LISTEN);
            s->listen[s->nlisten++] = optarg;
            break;
        case 'd': s->daemonize = true; break;
        case 'r': s->coredumps = true; break;
        case 'u': s->username = optarg; break;
        case 'm':
            if (!parse_size(optarg, 1024 * 1024, &s->maxbytes) || s->maxbytes == 0)
                USAGE_FAIL("-m: '%s' is not a memory size", optarg);
            break;
        case 'M': s->evict_to_free = false; break;
        case 'c':
            if (!parse_int(optarg, 1, 1 << 24, &s->maxconns))
                USAGE_FAIL("-c: '%s' is not a connection count", optarg);
            break;
        case 'k': s->lock_memory = true; break;
        case 'v': s->verbose++; break;
        case 'h': settings_usage(); return 0;
        case 'i':
            printf("mcd " MCD_VERSION ": BSD-3-Clause licensed. libevent is BSD-3-Clause licensed.\n");
            return 0;
        case 'V': printf("mcd " MCD_VERSION "\n"); return 0;
        case 'P': s->pidfile = optarg; break;
        case 'f': {
            char *end;
            s->factor = strtod(optarg, &end);
            /* Written so that NaN fails too. */
            if (end == optarg || *end || !(s->factor > 1.0 && s->factor <= 64.0))
                USAGE_FAIL("-f: factor must be greater than 1.0");
            break;
        }
        case 'n':
            if (!parse_int(optarg, 1, 1 << 20, &s->chunk_size))
                USAGE_FAIL("-n: '%s' is not a chunk size", optarg);
            break;
        case 'L':
            fprintf(stderr, "mcd: warning: -L accepted; mcd uses ordinary pages\n");
            break;
        case 'D':
            if (!optarg[0] || optarg[1])
                USAGE_FAIL("-D takes a single character");
            s->prefix_delimiter = optarg[0];
            s->detail_enabled = true;
            break;
        case 't':
            if (!parse_int(optarg, 1, 256, &s->num_threads))
                USAGE_FAIL("-t: thread count must be between 1 and 256");
            break;
        case 'R':
            if (!parse_int(optarg, 1, 1 << 20, &s->reqs_per_event))
                USAGE_FAIL("-R: '%s' is not a request count", optarg);
            break;
        case 'C': s->use_cas = false; break;
        case 'b':
            if (!parse_int(optarg, 1, 1 << 20, &s->backlog))
                USAGE_FAIL("-b: '%s' is not a backlog size", optarg);
            break;
        case 'B':
            if (strcmp(optarg, "auto") == 0)
                s->protocol = PROTO_AUTO;
            else if (strcmp(optarg, "ascii") == 0)
                s->protocol = PROTO_ASCII;
            else if (strcmp(optarg, "binary") == 0)
                s->protocol = PROTO_BINARY;
            else
                USAGE_FAIL("-B: protocol must be ascii, binary or auto");
            break;
        case 'I':
            if (!parse_size(optarg, 1, &s->item_size_max))
                USAGE_FAIL("-I: '%s' is not an item size", optarg);
            if (s->item_size_max < 1024)
                USAGE_FAIL("-I: item size must be at least 1k");
            if (s->item_size_max > 1024UL * 1024 * 1024)
                USAGE_FAIL("-I: item size must be at most 1024m");
            item_size_given = true;
            break;
        case 'S':
            USAGE_FAIL("-S: SASL authentication is not supported by mcd");
        case 'Y':
            USAGE_FAIL("-Y: authentication files are not supported by mcd");
        case 'Z':
            USAGE_FAIL("-Z: TLS is not supported by mcd");
        case 'F': s->flush_enabled = false; break;
        case 'X': s->dump_enabled = false; break;
        case 'W': break;
        case 'e':
            fprintf(stderr, "mcd: warning: -e accepted; the restartable cache is not implemented\n");
            break;
        case 'N':
            fprintf(stderr, "mcd: warning: -N accepted; napi ids are not implemented\n");
            break;
        case 'o': {
            int rc = parse_extended(s, optarg);
            if (rc >= 0)
                return rc;
            break;
        }
        case '?':
        default:
            if (optopt && strchr(optstring, optopt))
                USAGE_FAIL("option -%c needs an argument (see mcd -h)", optopt);
            if (optopt)
                USAGE_FAIL("unknown option -%c (see mcd -h)", optopt);
            USAGE_FAIL("unknown option '%s' (see mcd -h)", argv[optind - 1]);
        }
    }
    if (optind < argc)
        USAGE_FAIL("unexpected argument '%s' (see mcd -h)", argv[optind]);
    if (s->item_size_max > s->maxbytes / 2)
        USAGE_FAIL("cannot set item size limit higher than 1/2 of memory max (-I %zu, -m %zu bytes)",
                   s->item_size_max, s->maxbytes);
    (void)item_size_given;
    return -1;
}
