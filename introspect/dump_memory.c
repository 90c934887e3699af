/*
 * dump_memory.c - every byte mcd allocates, by owner, beside RSS and -m:
 * item memory, the hash table, connections (structures, read buffers,
 * response blocks, arrays), the workers' block caches, history rings,
 * latency histograms; and per slab class, how much can still be stored
 * before an allocation must evict.
 */
#include "introspect.h"

#include <stdio.h>
#include <stdlib.h>
#include <unistd.h>

#include "../mcd/conn.h"
#include "../mcd/engine.h"
#include "../mcd/errors.h"
#include "../mcd/history.h"
#include "../mcd/latency.h"
#include "../mcd/settings.h"
#include "../mcd/thread.h"

#define TOP_CONNS 10

struct conn_mem {
    uint64_t count, bytes, buffers, hwm, cache;
    json_t *top;        /* the largest connections, by bytes */
};

static void walk_mem(struct thread *t, void *arg)
{
    struct conn_mem *m = arg;
    m->buffers += t->buf_bytes;
    m->hwm += t->buf_hwm;
    m->cache += (uint64_t)t->nfree_blocks * conn_block_size();
    for (struct conn *c = t->conns; c; c = c->next) {
        size_t b = conn_memory(c);
        m->count++;
        m->bytes += b;
        json_array_append_new(m->top, json_pack("{s:I, s:s, s:I, s:I, s:I}",
            "id", (json_int_t)c->id, "peer", c->peer, "bytes", (json_int_t)b,
            "read_buffer_bytes", (json_int_t)c->rsize,
            "pending_bytes", (json_int_t)c->out_pending));
    }
}

static int by_bytes(const void *a, const void *b)
{
    json_int_t x = json_integer_value(json_object_get(*(json_t *const *)a, "bytes"));
    json_int_t y = json_integer_value(json_object_get(*(json_t *const *)b, "bytes"));
    return x > y ? -1 : x < y;
}

static json_t *top_conns(json_t *all)
{
    size_t n = json_array_size(all);
    json_t **v = malloc(sizeof(*v) * (n ? n : 1));
    json_t *out = json_array();
    if (!v)
        return out;
    for (size_t i = 0; i < n; i++)
        v[i] = json_array_get(all, i);
    qsort(v, n, sizeof(*v), by_bytes);
    for (size_t i = 0; i < n && i < TOP_CONNS; i++)
        json_array_append(out, v[i]);
    free(v);
    return out;
}

static uint64_t rss_bytes(void)
{
    FILE *f = fopen("/proc/self/statm", "r");
    unsigned long long size = 0, resident = 0;
    if (!f)
        return 0;
    if (fscanf(f, "%llu %llu", &size, &resident) != 2)
        resident = 0;
    fclose(f);
    return resident * (uint64_t)sysconf(_SC_PAGESIZE);
}

json_t *dump_memory(void)
{
    struct conn_mem m = { .top = json_array() };
    for (int i = 0; i < nthreads; i++) {
        if (!thread_call(&threads[i], walk_mem, &m, 1000))
            err_raise(ERR_ADMIN_THREAD_TIMEOUT, 0);
    }
    uint64_t items = 0, pages_free = 0;
    json_t *classes = json_array();
    int n = engine->nclasses();
    uint64_t malloced = 0;
    for (int id = 1; id <= n; id++) {
        struct engine_class_info ci;
        /* pages, or (heap engine, no pages) what malloc handed out */
        if (engine->class_info(id, &ci))
            malloced += ci.pages ? ci.pages * ci.chunks_per_page * ci.chunk_size
                                 : ci.mem_allocated;
    }
    items = malloced;
    uint64_t spare = settings.maxbytes > malloced ? settings.maxbytes - malloced : 0;
    for (int id = 1; id <= n; id++) {
        struct engine_class_info ci;
        if (!engine->class_info(id, &ci))
            continue;
        uint64_t page = (uint64_t)ci.chunks_per_page * ci.chunk_size;
        pages_free = page ? spare / page : 0;
        uint64_t headroom = ci.free_chunks * ci.chunk_size + pages_free * page;
        if (page == 0)
            headroom = spare;   /* one pool: the whole budget left */
        json_array_append_new(classes, json_pack("{s:i, s:I, s:I, s:I, s:I}",
            "id", id, "chunk_size", (json_int_t)ci.chunk_size,
            "free_chunks", (json_int_t)ci.free_chunks,
            "pages_obtainable", (json_int_t)pages_free,
            "headroom_bytes", (json_int_t)headroom));
    }
    uint64_t buckets;
    unsigned power;
    bool expanding;
    engine->hash_info(&buckets, &power, &expanding, NULL, 0);
    uint64_t hash = buckets * sizeof(void *) * (expanding ? 3 : 2) / 2;
    uint64_t hist = history_memory(), lat = latency_memory();
    uint64_t conns = m.bytes;
    uint64_t accounted = items + hash + conns + m.cache + hist + lat;
    uint64_t rss = rss_bytes();
    json_t *owners = json_pack("{s:I, s:I, s:{s:I, s:I, s:I, s:I}, s:I, s:I, s:I}",
        "item_memory", (json_int_t)items,
        "hash_table", (json_int_t)hash,
        "connections", "count", (json_int_t)m.count, "bytes", (json_int_t)conns,
                       "buffer_bytes", (json_int_t)m.buffers,
                       "buffer_high_water", (json_int_t)m.hwm,
        "thread_caches", (json_int_t)m.cache,
        "history", (json_int_t)hist,
        "latency", (json_int_t)lat);
    json_t *top = top_conns(m.top);
    json_decref(m.top);
    return json_pack("{s:I, s:I, s:I, s:I, s:o, s:o, s:o}",
        "rss_bytes", (json_int_t)rss,
        "limit_maxbytes", (json_int_t)settings.maxbytes,
        "accounted_bytes", (json_int_t)accounted,
        "unaccounted_bytes", (json_int_t)((int64_t)rss - (int64_t)accounted),
        "owners", owners, "top_connections", top, "classes", classes);
}
