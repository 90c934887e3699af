/*
 * main.c - mcadmin's command line: options, then one command (and exit)
 * or, with no command, the interactive shell. See mcadmin(1).
 *
 *   mcadmin [-s SOCKET] [--json] COMMAND [ARGS]
 *   mcadmin -s A -s B ... | --fleet FILE  [--json] COMMAND [ARGS]
 *
 * Exit codes: 0 ok, 1 the command failed (the server answered an error,
 * or an input file is invalid), 2 usage, 3 cannot connect.
 */
#include "mcadmin.h"

#include <stdlib.h>
#include <string.h>

static void usage(FILE *f)
{
    fprintf(f,
        "usage: mcadmin [-s SOCKET]... [--fleet FILE] [--json] [COMMAND [ARGS]]\n"
        "  -s, --socket SOCKET  the admin socket (default $MCD_ADMIN_SOCKET or %s);\n"
        "                       HOST:PORT for the loopback TCP admin port; given more\n"
        "                       than once, a fleet (stats, capture, diff, doctor...)\n"
        "  --fleet FILE         a fleet: one socket or HOST:PORT per line, # comments\n"
        "  --json               machine output (JSON) instead of text, anywhere on the line\n"
        "  -h, --help           this text; `mcadmin help` lists the commands\n"
        "  -V, --version        print the version\n"
        "With no COMMAND, mcadmin opens an interactive shell.\n"
        "Exit codes: 0 ok, 1 command failed, 2 usage, 3 cannot connect (to any server).\n",
        MCADMIN_DEFAULT_SOCKET);
}

int main(int argc, char **argv)
{
    const char *sock = getenv("MCD_ADMIN_SOCKET");
    struct ctx x = { .out = stdout };
    char **args = calloc((size_t)argc + 1, sizeof(char *));
    int nargs = 0, rc;
    struct fleet *fleet = fleet_new();
    char err[4096];

    if (!sock || !*sock)
        sock = MCADMIN_DEFAULT_SOCKET;
    for (int i = 1; i < argc; i++) {
        const char *a = argv[i];
        if (!strcmp(a, "--json")) {
            x.json = true;
        } else if (nargs > 0) {
            args[nargs++] = argv[i];    /* the command's own arguments */
        } else if (!strcmp(a, "-s") || !strcmp(a, "--socket")) {
            if (i + 1 >= argc) {
                fprintf(stderr, "mcadmin: %s needs a socket path\n", a);
                { rc = EXIT_USAGE; goto done; }
            }
            sock = argv[++i];
            if ((rc = fleet_add(fleet, sock)) != EXIT_OK)
                goto done;
        } else if (!strncmp(a, "--socket=", 9)) {
            sock = a + 9;
            if ((rc = fleet_add(fleet, sock)) != EXIT_OK)
                goto done;
        } else if (!strcmp(a, "--fleet") || !strncmp(a, "--fleet=", 8)) {
            const char *file = a[7] == '=' ? a + 8 : i + 1 < argc ? argv[++i] : NULL;
            if (!file) {
                fprintf(stderr, "mcadmin: --fleet needs a file\n");
                { rc = EXIT_USAGE; goto done; }
            }
            if ((rc = fleet_load(fleet, file, err, sizeof(err))) != EXIT_OK) {
                fprintf(stderr, "mcadmin: %s\n", err);
                goto done;
            }
        } else if (!strcmp(a, "-h") || !strcmp(a, "--help")) {
            usage(stdout);
            { rc = EXIT_OK; goto done; }
        } else if (!strcmp(a, "-V") || !strcmp(a, "--version")) {
            printf("mcadmin %s\n", MCADMIN_VERSION);
            { rc = EXIT_OK; goto done; }
        } else if (a[0] == '-') {
            fprintf(stderr, "mcadmin: unknown option '%s'\n", a);
            usage(stderr);
            { rc = EXIT_USAGE; goto done; }
        } else {
            args[nargs++] = argv[i];
        }
    }
    if (fleet_size(fleet) > 0)
        sock = fleet_spec(fleet, 0);
    x.cl = cl_new(sock);
    if (fleet_size(fleet) > 1 && nargs == 0) {
        fprintf(stderr, "mcadmin: with several servers, name a command (stats, capture, "
                "diff, doctor...); the shell talks to one\n");
        rc = EXIT_USAGE;
    } else if (fleet_size(fleet) > 1 && cmd_find(args[0]) && cmd_find(args[0])->run) {
        rc = fleet_run(fleet, &x, nargs, args);
    } else if (nargs == 0) {
        rc = shell_run(&x);
    } else if (!cmd_find(args[0]) || !cmd_find(args[0])->run) {
        fprintf(stderr, "mcadmin: unknown command '%s' (mcadmin help lists them)\n", args[0]);
        rc = EXIT_USAGE;
    } else {
        rc = cmd_run(&x, nargs, args);
    }
done:
    fflush(stdout);
    cl_free(x.cl);      /* every exit path frees what it took */
    fleet_free(fleet);
    free(args);
    return rc;
}
