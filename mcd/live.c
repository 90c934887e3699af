/*
 * live.c - the liveness slots.
 */
#include "live.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/syscall.h>
#include <unistd.h>

static struct live slots[LIVE_MAX];
static int nslots;                  /* atomic */
static __thread struct live *mine;

struct live *live_register(const char *name, int index)
{
    int i = __atomic_fetch_add(&nslots, 1, __ATOMIC_ACQ_REL);
    if (i >= LIVE_MAX)
        return NULL;
    struct live *l = &slots[i];
    l->name = name;
    l->index = index;
    l->tid = (pid_t)syscall(SYS_gettid);
    live_beat(l, "starting");
    __atomic_store_n(&l->published, true, __ATOMIC_RELEASE);
    mine = l;
    return l;
}

struct live *live_self(void)
{
    return mine;
}

int live_list(struct live *out, int max)
{
    int n = __atomic_load_n(&nslots, __ATOMIC_ACQUIRE);
    if (n > LIVE_MAX)
        n = LIVE_MAX;
    if (n > max)
        n = max;
    int k = 0;
    for (int i = 0; i < n; i++) {
        struct live *l = &slots[i];
        if (!__atomic_load_n(&l->published, __ATOMIC_ACQUIRE))
            continue;   /* still registering */
        out[k].name = l->name;
        out[k].index = l->index;
        out[k].tid = l->tid;
        out[k].beat = __atomic_load_n(&l->beat, __ATOMIC_RELAXED);
        out[k].state = __atomic_load_n(&l->state, __ATOMIC_RELAXED);
        out[k].busy_since = __atomic_load_n(&l->busy_since, __ATOMIC_RELAXED);
        out[k].conn_id = __atomic_load_n(&l->conn_id, __ATOMIC_RELAXED);
        out[k].cmd = __atomic_load_n(&l->cmd, __ATOMIC_RELAXED);
        k++;
    }
    return k;
}

double live_cpu_secs(pid_t tid)
{
    char path[64], buf[1024];
    snprintf(path, sizeof(path), "/proc/self/task/%d/stat", (int)tid);
    FILE *f = fopen(path, "r");
    if (!f)
        return -1;
    size_t n = fread(buf, 1, sizeof(buf) - 1, f);
    fclose(f);
    buf[n] = '\0';
    /* fields after the command name in parentheses: utime is the 14th */
    char *p = strrchr(buf, ')');
    if (!p)
        return -1;
    unsigned long long ut = 0, st = 0;
    if (sscanf(p + 2, "%*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %llu %llu", &ut, &st) != 2)
        return -1;
    return (double)(ut + st) / (double)sysconf(_SC_CLK_TCK);
}
