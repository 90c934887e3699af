/*
 * proto_bin.h - memcached's binary protocol: the frame layout, the opcode
 * table and the pure functions that decode and validate a request header.
 * conn.c reaches the protocol through proto.h's two hooks; the rest is
 * exported so the unit tests can check framing without a socket.
 *
 * A frame is a 24-byte header then a body of extras, key and value, in that
 * order. All numbers on the wire are big-endian.
 */
#ifndef MCD_PROTO_BIN_H
#define MCD_PROTO_BIN_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "engine.h"
#include "errors.h"
#include "latency.h"
#include "proto.h"

#define BIN_REQ_MAGIC 0x80
#define BIN_RES_MAGIC 0x81
#define BIN_HEADER_LEN 24

enum bin_opcode {
    BIN_GET = 0x00, BIN_SET = 0x01, BIN_ADD = 0x02, BIN_REPLACE = 0x03,
    BIN_DELETE = 0x04, BIN_INCREMENT = 0x05, BIN_DECREMENT = 0x06,
    BIN_QUIT = 0x07, BIN_FLUSH = 0x08, BIN_GETQ = 0x09, BIN_NOOP = 0x0a,
    BIN_VERSION = 0x0b, BIN_GETK = 0x0c, BIN_GETKQ = 0x0d, BIN_APPEND = 0x0e,
    BIN_PREPEND = 0x0f, BIN_STAT = 0x10, BIN_SETQ = 0x11, BIN_ADDQ = 0x12,
    BIN_REPLACEQ = 0x13, BIN_DELETEQ = 0x14, BIN_INCREMENTQ = 0x15,
    BIN_DECREMENTQ = 0x16, BIN_QUITQ = 0x17, BIN_FLUSHQ = 0x18,
    BIN_APPENDQ = 0x19, BIN_PREPENDQ = 0x1a, BIN_VERBOSITY = 0x1b,
    BIN_TOUCH = 0x1c, BIN_GAT = 0x1d, BIN_GATQ = 0x1e,
    BIN_SASL_LIST_MECHS = 0x20, BIN_SASL_AUTH = 0x21, BIN_SASL_STEP = 0x22,
    BIN_GATK = 0x23, BIN_GATKQ = 0x24
};

/* Response statuses. Failures take theirs from the error registry
 * (errors.def BIN_STATUS); these are the outcomes that are not failures. */
enum bin_status {
    BIN_STATUS_OK = 0x00,
    BIN_STATUS_NOT_FOUND = 0x01,
    BIN_STATUS_EXISTS = 0x02,
    BIN_STATUS_NOT_STORED = 0x05
};

/* A decoded request header. */
struct bin_req {
    uint8_t magic;
    uint8_t opcode;
    uint16_t keylen;
    uint8_t extlen;
    uint8_t datatype;       /* ignored, as memcached does */
    uint16_t vbucket;       /* ignored */
    uint32_t bodylen;       /* extras + key + value */
    uint32_t opaque;        /* echoed on every response */
    uint64_t cas;
};

/* How a command is served; each kind has one handler in proto_bin.c. */
enum bin_kind {
    BK_GET, BK_GAT, BK_TOUCH, BK_STORE, BK_DELETE, BK_ARITH, BK_QUIT,
    BK_FLUSH, BK_NOOP, BK_VERSION, BK_STAT, BK_VERBOSITY, BK_SASL
};

enum bin_key_rule { KEY_NONE, KEY_REQUIRED, KEY_OPTIONAL };

/* Extras length that means "0 or 4" (Flush's optional delay). */
#define BIN_EXTRAS_0_OR_4 0xff

/* One opcode: the shape its frame must have and how it answers. */
struct bin_cmd {
    const char *name;       /* opcode name, for readers and tests */
    enum cmd_id id;         /* what latency and the slow log count it as */
    enum bin_kind kind;
    uint8_t extlen;         /* required extras length, or BIN_EXTRAS_0_OR_4 */
    enum bin_key_rule key;
    bool value;             /* a value may follow the key */
    bool quiet;             /* Q variant: misses or successes go unanswered */
    bool with_key;          /* the hit reply carries the key (GetK, GATK) */
    enum store_op op;       /* BK_STORE: what the store does */
    bool incr;              /* BK_ARITH: increment rather than decrement */
};

/* Decode the 24 bytes at p (no validation). */
void bin_header_decode(const unsigned char *p, struct bin_req *r);
/* Encode a response header into the 24 bytes at p. */
void bin_header_encode(unsigned char *p, uint8_t opcode, uint16_t keylen,
                       uint8_t extlen, uint16_t status, uint32_t bodylen,
                       uint32_t opaque, uint64_t cas);
/* The command for an opcode, or NULL if mcd does not know it. */
const struct bin_cmd *bin_cmd_find(uint8_t opcode);
/*
 * Check a decoded header against its command (cmd may be NULL for an
 * unknown opcode). Returns the error site that refuses it, or ERR__COUNT
 * when the frame is acceptable. Every refusal except ERR_BIN_BAD_MAGIC
 * leaves the stream in step: the caller discards bodylen bytes.
 */
enum err_site bin_req_check(const struct bin_req *r, const struct bin_cmd *cmd,
                            size_t item_size_max);
/* The body of an error response: the registry's message and its code, e.g.
 * "object too large for cache [E2101]". Returns the length (truncated to
 * size - 1, always NUL-terminated). */
size_t bin_error_text(enum err_site e, char *buf, size_t size);

#endif /* MCD_PROTO_BIN_H */
