/*
 * shell.c - the interactive shell: readline, a prompt that names the
 * server, completion driven by the command table, and history kept across
 * runs in ~/.mcadmin_history (or $MCADMIN_HISTORY).
 *
 * The prompt checks the connection before each line, so a server that
 * went away shows as "disconnected" straight away; the next command that
 * needs the server connects again by itself.
 */
#include "mcadmin.h"

#include <dirent.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <unistd.h>

#include <readline/history.h>
#include <readline/readline.h>

#define HISTORY_MAX 1000
#define MAX_CANDS 1024

/* --- completion ---------------------------------------------------------- */

static char *cands[MAX_CANDS];
static int ncands;

static void cands_clear(void)
{
    for (int i = 0; i < ncands; i++)
        free(cands[i]);
    ncands = 0;
}

static void cand_add(const char *pre, const char *s)
{
    if (ncands < MAX_CANDS && asprintf(&cands[ncands], "%s%s", pre, s) >= 0)
        ncands++;
}

static char *cand_gen(const char *text, int state)
{
    static int idx;
    size_t len = strlen(text);
    if (!state)
        idx = 0;
    while (idx < ncands) {
        const char *c = cands[idx++];
        if (strncmp(c, text, len) == 0)
            return strdup(c);
    }
    return NULL;
}

static void add_snapshot_files(void)
{
    DIR *d = opendir(".");
    struct dirent *e;
    cand_add("", "live");
    while (d && (e = readdir(d))) {
        size_t l = strlen(e->d_name);
        if (l > 5 && strcmp(e->d_name + l - 5, ".json") == 0)
            cand_add("", e->d_name);
    }
    if (d)
        closedir(d);
}

static void add_item_args(const char *text)
{
    static const char *const states[] = { "live", "expired", "all" };
    if (strncmp(text, "class=", 6) == 0) {
        int ids[256], n = cmd_class_ids(ids, 256);
        char b[16];
        for (int i = 0; i < n; i++) {
            snprintf(b, sizeof(b), "%d", ids[i]);
            cand_add("class=", b);
        }
    } else if (strncmp(text, "prefix=", 7) == 0) {
        int n;
        const char *const *p = cmd_prefixes(&n);
        for (int i = 0; i < n; i++)
            cand_add("prefix=", p[i]);
    } else if (strncmp(text, "state=", 6) == 0) {
        for (int i = 0; i < 3; i++)
            cand_add("state=", states[i]);
    } else if (strncmp(text, "values=", 7) == 0) {
        cand_add("values=", "0");
        cand_add("values=", "1");
    } else {
        for (int i = 0; cmd_item_arg(i); i++)
            cand_add("", cmd_item_arg(i));
    }
}

static void add_flags(const char *flags)
{
    char *copy = strdup(flags), *save = NULL;
    for (char *t = strtok_r(copy, " ", &save); t; t = strtok_r(NULL, " ", &save))
        cand_add("", t);
    free(copy);
}

/* The words before the one being completed: first word and their count. */
static int words_before(int start, char *first, size_t len)
{
    int n = 0;
    const char *p = rl_line_buffer, *end = rl_line_buffer + start;
    first[0] = '\0';
    while (p < end) {
        p += strspn(p, " \t");
        if (p >= end)
            break;
        size_t w = strcspn(p, " \t");
        if (p + w > end)
            w = (size_t)(end - p);
        if (n == 0)
            snprintf(first, len, "%.*s", (int)w, p);
        n++;
        p += w;
    }
    return n;
}

static char **complete(const char *text, int start, int end)
{
    char first[64];
    int nw = words_before(start, first, sizeof(first));
    (void)end;
    cands_clear();
    rl_attempted_completion_over = 1;
    const struct cmd *c = nw ? cmd_find(first) : NULL;
    if (nw == 0) {
        for (int i = 0; cmd_at(i); i++)
            cand_add("", cmd_at(i)->name);
    } else if (!c) {
        return NULL;
    } else {
        switch (c->complete) {
        case COMPL_COMMAND:
            for (int i = 0; cmd_at(i) && nw == 1; i++)
                cand_add("", cmd_at(i)->name);
            break;
        case COMPL_ITEMS:
            add_item_args(text);
            break;
        case COMPL_SNAPSHOT:
            add_snapshot_files();
            break;
        case COMPL_FILE:
            rl_attempted_completion_over = 0;   /* readline's file names */
            return NULL;
        case COMPL_SERVER_COMMAND:
            if (nw == 1)
                for (int i = 0; cmd_server_command(i); i++)
                    cand_add("", cmd_server_command(i));
            else
                add_item_args(text);
            break;
        case COMPL_FLAGS:
            add_flags(c->flags);
            break;
        case COMPL_NONE:
            break;
        }
    }
    char **m = rl_completion_matches(text, cand_gen);
    /* "class=" wants its value next, not a space. */
    if (m && !m[1] && m[0][0] && m[0][strlen(m[0]) - 1] == '=')
        rl_completion_suppress_append = 1;
    return m;
}

/* --- prompt and history -------------------------------------------------- */

static const char *history_path(char *buf, size_t len)
{
    const char *e = getenv("MCADMIN_HISTORY");
    if (e && *e)
        return e;
    const char *home = getenv("HOME");
    snprintf(buf, len, "%s/.mcadmin_history", home && *home ? home : ".");
    return buf;
}

static void prompt(struct ctx *x, char *buf, size_t len)
{
    const json_t *id = cl_identity(x->cl);
    char up[32];
    bool live = cl_alive(x->cl);
    /* \001 \002 tell readline the colour codes take no columns. */
    const char *b = fmt_color() ? "\001\033[1m\002" : "", *r = fmt_color() ? "\001\033[0m\002" : "";
    const char *red = fmt_color() ? "\001\033[31m\002" : "";
    static bool told;   /* the drop is explained once, the prompt stays short */
    if (live)
        told = false;
    else if (cl_dropped(x->cl) && !told) {
        fprintf(x->out, "(lost the connection to %s; the next command reconnects)\n",
                cl_path(x->cl));
        told = true;
    }
    if (live && id)
        snprintf(buf, len, "%smcd %s pid %lld up %s%s> ", b, jx_str(id, "version", "?"),
                 jx_int(id, "pid", 0), fmt_duration((double)cl_uptime(x->cl), up), r);
    else if (cl_dropped(x->cl))
        snprintf(buf, len, "%smcd (disconnected)%s> ", red, r);
    else
        snprintf(buf, len, "%smcd (not connected)%s> ", red, r);
}

static void connect_quietly(struct ctx *x, bool say)
{
    char err[512];
    if (cl_connect(x->cl, err, sizeof(err)) != EXIT_OK) {
        if (say)
            fprintf(stderr, "mcadmin: %s (commands will retry)\n", err);
        return;
    }
    cmd_learn_help(x->cl);
}

int shell_run(struct ctx *x)
{
    char hist[4096], pbuf[512];
    const char *hp = history_path(hist, sizeof(hist));
    x->interactive = true;
    rl_readline_name = "mcadmin";
    rl_attempted_completion_function = complete;
    rl_completer_word_break_characters = (char *)" \t";
    using_history();
    read_history(hp);
    stifle_history(HISTORY_MAX);
    connect_quietly(x, true);
    if (cl_identity(x->cl))
        fprintf(x->out, "connected to %s; help lists the commands, Tab completes\n",
                cl_path(x->cl));
    for (;;) {
        prompt(x, pbuf, sizeof(pbuf));
        char *line = readline(pbuf);
        if (!line) {
            fputc('\n', x->out);
            break;
        }
        char *s = line + strspn(line, " \t");
        size_t n = strlen(s);
        while (n && (s[n - 1] == ' ' || s[n - 1] == '\t'))
            s[--n] = '\0';
        if (!*s) {
            free(line);
            continue;
        }
        add_history(s);
        /* Appended line by line, so a killed shell keeps its history. */
        if (append_history(1, hp) != 0)
            write_history(hp);
        if (!strcmp(s, "quit") || !strcmp(s, "exit")) {
            free(line);
            break;
        }
        bool was_dropped = cl_dropped(x->cl);
        cmd_run_line(x, s);   /* errors were shown; the shell goes on */
        if (was_dropped && cl_alive(x->cl)) {
            fprintf(x->out, "(reconnected to %s)\n", cl_path(x->cl));
            cmd_learn_help(x->cl);
        }
        fflush(x->out);
        free(line);
    }
    history_truncate_file(hp, HISTORY_MAX);
    return EXIT_OK;
}
