/*
 * gen-errors-man.c - writes man/mcd-errors.7 from mcd/errors.def, so the
 * catalogue of error codes cannot drift from the code. With --check it
 * instead verifies the table: codes unique, names unique, messages unique,
 * and prints every site name one per line (for the lint).
 */
#include <stdio.h>
#include <string.h>

struct row {
    const char *name;
    int code;
    const char *cls;
    int bin;
    const char *msg;
    const char *advice;
};

#define R_NONE "none"
#define R_ERROR "ERROR"
#define R_ERROR_BARE "ERROR (bare: the line is exactly ERROR, as memcached clients expect)"
#define R_CLIENT "CLIENT_ERROR"
#define R_SERVER "SERVER_ERROR"
#define R_JSON "admin JSON error"

static const struct row rows[] = {
#define E(name, code, cls, bin, msg, advice) { #name, code, cls, bin, msg, advice },
#include "errors.def"
#undef E
};
#define NROWS (sizeof(rows) / sizeof(rows[0]))

/* troff-safe text: escape backslashes and leading dots/quotes. */
static void roff(const char *s)
{
    if (*s == '.' || *s == '\'')
        fputs("\\&", stdout);
    for (; *s; s++) {
        if (*s == '\\')
            fputs("\\e", stdout);
        else if (*s == '-')
            fputs("\\-", stdout);
        else
            putchar(*s);
    }
}

static int check(void)
{
    int bad = 0;
    for (size_t i = 0; i < NROWS; i++) {
        for (size_t j = i + 1; j < NROWS; j++) {
            if (rows[i].code == rows[j].code) {
                fprintf(stderr, "duplicate code %d: %s and %s\n", rows[i].code,
                        rows[i].name, rows[j].name);
                bad = 1;
            }
            if (strcmp(rows[i].msg, rows[j].msg) == 0) {
                fprintf(stderr, "duplicate message '%s': %s and %s\n", rows[i].msg,
                        rows[i].name, rows[j].name);
                bad = 1;
            }
        }
        if (!rows[i].advice[0]) {
            fprintf(stderr, "%s has no operator advice\n", rows[i].name);
            bad = 1;
        }
        printf("%s\n", rows[i].name);
    }
    return bad;
}

int main(int argc, char **argv)
{
    if (argc > 1 && strcmp(argv[1], "--check") == 0)
        return check();
    printf(".\\\" Generated from mcd/errors.def by scripts/gen-errors-man.c; do not edit.\n");
    printf(".TH MCD-ERRORS 7 \"\" \"mcd\" \"mcd manual\"\n");
    printf(".SH NAME\nmcd-errors \\- the catalogue of mcd's error sites and codes\n");
    printf(".SH DESCRIPTION\n"
           "Every place where mcd can fail has its own stable code, listed here.\n"
           "A client sees the code at the end of the error line, for example\n"
           ".PP\n.RS\nSERVER_ERROR out of memory storing object [E2104]\n.RE\n.PP\n"
           "which is still a valid memcached reply. The one exception is the bare\n"
           "\\fBERROR\\fR reply (unknown command, wrong number of arguments):\n"
           "memcached clients read it byte for byte, so it carries no code.\n"
           "It is counted like every other site. Failures that no client sees\n"
           "(class \\fBnone\\fR) are counted all the same. Every site's count, first\n"
           "and last time seen and last context are shown by \\fBstats errors\\fR on\n"
           "the text protocol and by the admin socket.\n"
           ".PP\n"
           "Codes are never reused: 1xxx text protocol, 2xxx storage and memory,\n"
           "3xxx binary protocol, 4xxx meta protocol, 5xxx admin socket, 6xxx\n"
           "connections, threads and the event loop, 7xxx the UDP transport.\n"
           ".PP\n"
           "Test builds can make any site fail on purpose with\n"
           "\\fB\\-o fault=NAME:N\\fR (every Nth time) or \\fB\\-o fault=NAME:0:PCT\\fR.\n");
    printf(".SH ERRORS\n");
    for (size_t i = 0; i < NROWS; i++) {
        const struct row *r = &rows[i];
        printf(".TP\n.B E%04d %s\n", r->code, r->name);
        printf("Class: %s", r->cls);
        if (r->bin)
            printf("; binary status 0x%04x", r->bin);
        printf(".\n.br\nMessage: ");
        roff(r->msg);
        printf("\n.br\n");
        roff(r->advice);
        printf("\n");
    }
    printf(".SH SEE ALSO\n.BR mcd (1)\n");
    return 0;
}
