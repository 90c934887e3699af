/*
 * proto_meta.h - memcached's meta commands (mg, ms, md, ma, mn, me) on the
 * text protocol. proto_text.c hands every two-letter "m?" line here (see
 * proto_meta_command() in proto_text.h); this header is the parser's face,
 * shared with its unit test.
 *
 * A meta line is "<cmd> <key> <flag>*": each flag is one letter, maybe
 * followed by a token ("T30", "Oabc"). Flags that ask for data back (O k c
 * f s t l h) are answered in the order they were given.
 */
#ifndef MCD_PROTO_META_H
#define MCD_PROTO_META_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "errors.h"
#include "proto_text.h"
#include "settings.h"

#define META_MAX_FLAGS 17       /* memcached refuses more */
#define META_OPAQUE_MAX 32      /* O token, its letter included */

enum meta_cmd { META_MG, META_MS, META_MD, META_MA, META_ME };

/* Why a line was refused; meta_parse_site() names the error site. */
enum meta_perr {
    MP_OK,
    MP_BAD_FLAG,            /* unknown letter */
    MP_DUP_FLAG,            /* letter given twice */
    MP_BAD_TOKEN,           /* N T R C E D J not a number in range */
    MP_BAD_CLIENT_FLAGS,    /* F not a 32-bit number */
    MP_BAD_BASE64,          /* b and the key is not base64 */
    MP_MODE_LENGTH,         /* M not one character */
    MP_OPAQUE_TOO_LONG,     /* O over META_OPAQUE_MAX */
    MP_TOO_MANY_FLAGS,
    MP_KEY_TOO_LONG,
    MP_KEY_BAD_CHAR         /* control byte in a key without b */
};

/* One meta command line, parsed. Tokens are not kept: what outlives the
 * line (an ms waiting for its value) is copied in. */
struct meta_req {
    enum meta_cmd cmd;
    const char *key;            /* the key, decoded into keybuf when b */
    size_t nkey;
    char ret[META_MAX_FLAGS + 1];   /* return flags, request order */
    size_t nret;
    char opaque[META_OPAQUE_MAX];   /* the O token, letter included */
    size_t nopaque;
    bool b, q, v, u, I;         /* base64 key, quiet, value, no bump, invalidate */
    bool has_cas, has_new_cas, has_ttl, vivify, recache;
    char mode;                  /* M: 0 when not given */
    uint8_t pos_T, pos_N, pos_t;    /* 1 + their place among the flags; 0: absent */
    uint32_t client_flags;      /* F */
    uint64_t cas;               /* C */
    uint64_t new_cas;           /* E */
    uint64_t delta;             /* D, 1 by default */
    uint64_t initial;           /* J */
    int64_t ttl;                /* T */
    int64_t vivify_ttl;         /* N */
    int64_t recache_ttl;        /* R */
    /* ms, between its line and its value */
    int ms_op;                  /* enum store_op */
    char keybuf[KEY_MAX_LENGTH];
};

/* Parse key and flag tokens f[0..n) into r. Returns MP_OK or the reason
 * the line must be refused. r->key may point into key's token. */
enum meta_perr meta_parse(enum meta_cmd cmd, const struct token *key,
                          const struct token *f, size_t n, struct meta_req *r);
/* The error site a refusal answers with, in memcached's words for cmd. */
enum err_site meta_parse_site(enum meta_cmd cmd, enum meta_perr e);

/* Strict base64 (RFC 4648, padded). decode returns the length written
 * (at most cap) or 0 if in is not base64 or decodes to nothing; encode
 * writes 4 * ceil(n / 3) bytes and returns that length. */
size_t meta_b64_decode(const char *in, size_t n, char *out, size_t cap);
size_t meta_b64_encode(const char *in, size_t n, char *out);

#endif /* MCD_PROTO_META_H */
