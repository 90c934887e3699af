/*
 * slabs.c - the slab allocator: memory is taken from the OS in pages, each
 * page belongs to one class and is cut into equal chunks. Chunk sizes grow
 * by the factor -f from the minimum -n up to the largest item -I allows.
 * Memory is bounded by -m; a class with no page yet may always take one so
 * that no size becomes unstorable (as memcached does), which bounds the
 * overshoot to one page per class.
 */
#include <stdlib.h>
#include <string.h>

#include "slab_internal.h"
#include "../../errors.h"

struct slab_class {
    uint32_t size;          /* chunk size */
    uint32_t perslab;       /* chunks per page */
    void *free_list;        /* chunks, linked through item->next */
    uint64_t free_count;
    uint64_t used;          /* chunks handed out */
    uint64_t requested;     /* bytes requested by chunks handed out */
    void **pages;           /* every page of the class */
    uint64_t npages, pages_cap;
    uint64_t outofmemory;   /* times no chunk and no page */
};

/* Everything below is under `lock`. */
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static struct slab_class classes[SLAB_MAX_CLASSES];
static unsigned largest;
static size_t page_size;
static size_t mem_limit;
static size_t mem_malloced;

int slabs_setup(size_t limit, double factor, int chunk_min, size_t item_max)
{
    size_t top = item_total(250, (uint32_t)item_max + 2);
    top = (top + 7) & ~(size_t)7;
    page_size = top > SLAB_MIN_PAGE ? top : SLAB_MIN_PAGE;
    mem_limit = limit;

    double size = (double)(sizeof(item) + (size_t)chunk_min);
    unsigned id = 1;
    while (id < SLAB_MAX_CLASSES - 1 && size < (double)top / factor) {
        uint32_t s = ((uint32_t)size + 7) & ~7u;
        if (id > 1 && s <= classes[id - 1].size)
            s = classes[id - 1].size + 8;
        classes[id].size = s;
        classes[id].perslab = (uint32_t)(page_size / s);
        size = (double)s * factor;
        id++;
    }
    classes[id].size = (uint32_t)top;
    classes[id].perslab = (uint32_t)(page_size / top);
    largest = id;
    return 0;
}

void slabs_teardown(void)
{
    pthread_mutex_lock(&lock);
    for (unsigned i = 1; i <= largest; i++) {
        for (uint64_t p = 0; p < classes[i].npages; p++)
            free(classes[i].pages[p]);
        free(classes[i].pages);
        memset(&classes[i], 0, sizeof(classes[i]));
    }
    mem_malloced = 0;
    pthread_mutex_unlock(&lock);
}

unsigned slabs_clsid(size_t total)
{
    if (total == 0)
        return 0;
    /* Binary search over the ascending chunk sizes. */
    unsigned lo = 1, hi = largest;
    if (total > classes[largest].size)
        return 0;
    while (lo < hi) {
        unsigned mid = (lo + hi) / 2;
        if (classes[mid].size >= total)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

unsigned slabs_largest(void)
{
    return largest;
}

uint32_t slabs_chunk_size(unsigned id)
{
    return id >= 1 && id <= largest ? classes[id].size : 0;
}

/* Under lock: take one page for class id if the limit allows. */
static bool new_page_locked(struct slab_class *c, unsigned id, bool *page_failed)
{
    if (mem_malloced + page_size > mem_limit && c->npages > 0)
        return false;
    if (c->npages == c->pages_cap) {
        uint64_t cap = c->pages_cap ? c->pages_cap * 2 : 16;
        void **np = realloc(c->pages, cap * sizeof(*np));
        if (!np) {
            *page_failed = true;
            return false;
        }
        c->pages = np;
        c->pages_cap = cap;
    }
    char *page = err_inject(ERR_SLAB_PAGE_MALLOC) ? NULL : malloc(page_size);
    if (!page) {
        *page_failed = true;
        return false;
    }
    c->pages[c->npages++] = page;
    mem_malloced += page_size;
    /* Carve the page into chunks on the free list, first chunk first. */
    for (int64_t i = (int64_t)c->perslab - 1; i >= 0; i--) {
        item *it = (item *)(page + (size_t)i * c->size);
        it->it_flags = ITEM_SLABBED;
        it->clsid = (uint8_t)id;
        it->refcount = 0;
        it->next = c->free_list;
        c->free_list = it;
        c->free_count++;
    }
    return true;
}

void *slabs_alloc(unsigned id, size_t requested, bool *page_failed)
{
    struct slab_class *c = &classes[id];
    item *it = NULL;
    *page_failed = false;
    pthread_mutex_lock(&lock);
    if (c->free_count == 0 && !new_page_locked(c, id, page_failed)) {
        c->outofmemory++;
        goto done;
    }
    it = c->free_list;
    c->free_list = it->next;
    c->free_count--;
    c->used++;
    c->requested += requested;
    it->it_flags = 0;
done:
    pthread_mutex_unlock(&lock);
    return it;
}

void slabs_free(void *chunk, unsigned id, size_t requested)
{
    struct slab_class *c = &classes[id];
    item *it = chunk;
    pthread_mutex_lock(&lock);
    it->it_flags = ITEM_SLABBED;
    it->next = c->free_list;
    c->free_list = it;
    c->free_count++;
    c->used--;
    c->requested -= requested;
    pthread_mutex_unlock(&lock);
}

void slabs_class_info(unsigned id, struct engine_class_info *out)
{
    struct slab_class *c = &classes[id];
    pthread_mutex_lock(&lock);
    out->id = (int)id;
    out->chunk_size = c->size;
    out->chunks_per_page = c->perslab;
    out->pages = c->npages;
    out->used_chunks = c->used;
    out->free_chunks = c->free_count;
    out->mem_requested = c->requested;
    out->outofmemory = c->outofmemory;
    pthread_mutex_unlock(&lock);
}

size_t slabs_mem_malloced(void)
{
    pthread_mutex_lock(&lock);
    size_t m = mem_malloced;
    pthread_mutex_unlock(&lock);
    return m;
}

size_t slabs_mem_limit(void)
{
    return mem_limit;
}

uint64_t slabs_pages_total(void)
{
    uint64_t n = 0;
    pthread_mutex_lock(&lock);
    for (unsigned i = 1; i <= largest; i++)
        n += classes[i].npages;
    pthread_mutex_unlock(&lock);
    return n;
}
