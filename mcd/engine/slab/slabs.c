/*
 * slabs.c - the slab allocator: memory is taken from the OS in pages, each
 * page belongs to one class and is cut into equal chunks. Chunk sizes grow
 * by the factor -f from the minimum -n up to the largest item -I allows.
 * Memory is bounded by -m; a class with no page yet may always take one so
 * that no size becomes unstorable (as memcached does), which bounds the
 * overshoot to one page per class.
 *
 * A page can move between classes (slabs reassign, the automover in
 * rebalance.c). While it moves, the source class's `moving` names it: its
 * free chunks were taken off the free list when the move began, and every
 * chunk of it freed afterwards is caught by slabs_free and marked done
 * instead of going back on the list, so nothing new is ever allocated from
 * the page. The rebalancer evicts or rescues the page's linked items (the
 * frees land here); once every chunk is done the page is carved for the
 * destination. A chunk still referenced is never touched: it comes back
 * through slabs_free when its last holder lets go.
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
    uint32_t growing;       /* pages being malloced and carved unlocked */
    uint64_t outofmemory;   /* times no chunk and no page */
    char *moving;           /* the page being moved away, or NULL */
    uint64_t moved_in, moved_out;   /* pages reassigned to / from the class */
};

/* The one page move under way (classes[mv.src].moving == mv.page). */
static struct {
    unsigned src;
    int dst;                /* 0: back to the pool (freed) */
    char *page;
    uint8_t *done;          /* a byte per chunk: free and off every list */
    uint32_t ndone;
} mv;

/* Everything below is under `lock`. It is adaptive: every store and every
 * free holds it for a few instructions, so a waiter spins briefly rather
 * than sleep in the kernel at once. */
static pthread_mutex_t lock = PTHREAD_ADAPTIVE_MUTEX_INITIALIZER_NP;
static struct slab_class classes[SLAB_MAX_CLASSES];
static unsigned largest;
static size_t page_size;
static size_t mem_limit;
static size_t mem_malloced;
static uint64_t pages_moved;

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

/* Cut page into free chunks of class id, chained first chunk first; the
 * chain's ends go to *head and *tail. Touches no shared state. */
static void carve(const struct slab_class *c, unsigned id, char *page, item **head, item **tail)
{
    item *next = NULL;
    *tail = (item *)(page + (size_t)(c->perslab - 1) * c->size);
    for (int64_t i = (int64_t)c->perslab - 1; i >= 0; i--) {
        item *it = (item *)(page + (size_t)i * c->size);
        it->it_flags = ITEM_SLABBED;
        it->clsid = (uint8_t)id;
        it->refcount = 0;
        it->next = next;
        next = it;
    }
    *head = next;
}

/* Under lock: put a carved chain at the front of class c's free list. */
static void free_list_push_locked(struct slab_class *c, item *head, item *tail)
{
    tail->next = c->free_list;
    c->free_list = head;
    c->free_count += c->perslab;
}

/* Under lock: cut page into chunks on class id's free list. */
static void carve_locked(struct slab_class *c, unsigned id, char *page)
{
    item *head, *tail;
    carve(c, id, page, &head, &tail);
    free_list_push_locked(c, head, tail);
}

/* Under lock: room in c->pages for one more page. */
static bool pages_room_locked(struct slab_class *c)
{
    if (c->npages < c->pages_cap)
        return true;
    uint64_t cap = c->pages_cap ? c->pages_cap * 2 : 16;
    void **np = realloc(c->pages, cap * sizeof(*np));
    if (!np)
        return false;
    c->pages = np;
    c->pages_cap = cap;
    return true;
}

/*
 * Called and returns under lock: take one page for class id if the limit
 * allows. The page's memory is reserved under the lock, but the malloc and
 * the carving, which fault in every page of the new megabyte, run without
 * it, so other threads' allocations and frees do not wait for them.
 */
static bool new_page_locked(struct slab_class *c, unsigned id, bool *page_failed)
{
    /* Past the limit a class may still take its first page, so that no
     * size is unstorable; one being made counts as that page. */
    if (mem_malloced + page_size > mem_limit && c->npages + c->growing > 0)
        return false;
    mem_malloced += page_size;
    c->growing++;
    pthread_mutex_unlock(&lock);
    item *head = NULL, *tail = NULL;
    char *page = err_inject(ERR_SLAB_PAGE_MALLOC) ? NULL : malloc(page_size);
    if (page)
        carve(c, id, page, &head, &tail);
    pthread_mutex_lock(&lock);
    c->growing--;
    if (!page || !pages_room_locked(c)) {
        mem_malloced -= page_size;
        free(page);
        *page_failed = true;
        return false;
    }
    c->pages[c->npages++] = page;
    free_list_push_locked(c, head, tail);
    return true;
}

void *slabs_alloc(unsigned id, size_t requested, bool *page_failed)
{
    struct slab_class *c = &classes[id];
    item *it = NULL;
    *page_failed = false;
    pthread_mutex_lock(&lock);
    /* Another thread may empty the list while new_page_locked has the lock
     * dropped: try again until there is a chunk or no page can be had. */
    while (c->free_count == 0) {
        if (!new_page_locked(c, id, page_failed)) {
            c->outofmemory++;
            goto done;
        }
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
    if (__builtin_expect(c->moving != NULL, 0) && (char *)chunk >= c->moving &&
        (char *)chunk < c->moving + page_size) {
        /* The page is moving away: the chunk is done, not reusable. */
        mv.done[((char *)chunk - c->moving) / c->size] = 1;
        mv.ndone++;
        c->used--;
        c->requested -= requested;
        pthread_mutex_unlock(&lock);
        return;
    }
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
    out->mem_allocated = c->used * c->size;
    out->pages_moved_in = c->moved_in;
    out->pages_moved_out = c->moved_out;
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

uint64_t slabs_pages_moved(void)
{
    pthread_mutex_lock(&lock);
    uint64_t n = pages_moved;
    pthread_mutex_unlock(&lock);
    return n;
}

/* --- moving pages ---------------------------------------------------------- */

void *slabs_alloc_free(unsigned id, size_t requested)
{
    struct slab_class *c = &classes[id];
    item *it = NULL;
    pthread_mutex_lock(&lock);
    if (c->free_count > 0) {
        it = c->free_list;
        c->free_list = it->next;
        c->free_count--;
        c->used++;
        c->requested += requested;
        it->it_flags = 0;
    }
    pthread_mutex_unlock(&lock);
    return it;
}

/* Under lock: a class other than dst with a spare page, or 0. */
static unsigned pick_any_locked(int dst)
{
    for (unsigned i = 1; i <= largest; i++) {
        if ((int)i != dst && classes[i].npages >= 2)
            return i;
    }
    return 0;
}

enum reassign_result slabs_move_begin(int src, int dst)
{
    enum reassign_result r = REASSIGN_OK;
    pthread_mutex_lock(&lock);
    if (mv.page) {
        r = REASSIGN_RUNNING;
        goto done;
    }
    if (src == dst) {
        r = REASSIGN_SAME;
        goto done;
    }
    if (src == -1 && (src = (int)pick_any_locked(dst)) == 0) {
        r = REASSIGN_BADCLASS;     /* as memcached: nothing to pick */
        goto done;
    }
    if (src < 0 || src > (int)largest || dst < 0 || dst > (int)largest) {
        r = REASSIGN_BADCLASS;
        goto done;
    }
    struct slab_class *c = &classes[src];
    /* Class 0 is the pool of pages no class owns; mcd gives those back to
     * the system, so the pool never has one to spare. */
    if (src == 0 || c->npages < 2) {
        r = REASSIGN_NOSPARE;
        goto done;
    }
    uint8_t *done = calloc(c->perslab, 1);
    if (!done) {
        r = REASSIGN_RUNNING;
        goto done;
    }
    /* The oldest page: its items are most likely the coldest. */
    mv.src = (unsigned)src;
    mv.dst = dst;
    mv.page = c->pages[0];
    mv.done = done;
    mv.ndone = 0;
    c->moving = mv.page;
    /* Take the page's free chunks off the free list: done already. */
    for (item **pp = (item **)&c->free_list; *pp;) {
        char *p = (char *)*pp;
        if (p >= mv.page && p < mv.page + page_size) {
            *pp = (*pp)->next;
            c->free_count--;
            mv.done[(p - mv.page) / c->size] = 1;
            mv.ndone++;
        } else {
            pp = &(*pp)->next;
        }
    }
done:
    pthread_mutex_unlock(&lock);
    return r;
}

int slabs_move_dst(void)
{
    pthread_mutex_lock(&lock);
    int d = mv.page ? (int)mv.dst : -1;
    pthread_mutex_unlock(&lock);
    return d;
}

bool slabs_move_page(unsigned *src, char **start, char **end)
{
    pthread_mutex_lock(&lock);
    bool on = mv.page != NULL;
    if (on) {
        *src = mv.src;
        *start = mv.page;
        *end = mv.page + (size_t)classes[mv.src].perslab * classes[mv.src].size;
    }
    pthread_mutex_unlock(&lock);
    return on;
}

uint32_t slabs_move_pending(void)
{
    pthread_mutex_lock(&lock);
    uint32_t n = mv.page ? classes[mv.src].perslab - mv.ndone : 0;
    pthread_mutex_unlock(&lock);
    return n;
}

/* Under lock: forget the move. */
static void move_clear_locked(void)
{
    classes[mv.src].moving = NULL;
    free(mv.done);
    memset(&mv, 0, sizeof(mv));
}

bool slabs_move_finish(void)
{
    pthread_mutex_lock(&lock);
    struct slab_class *s = &classes[mv.src];
    bool ok = mv.page && mv.ndone == s->perslab;
    if (!ok)
        goto done;
    for (uint64_t i = 0; i < s->npages; i++) {
        if (s->pages[i] == mv.page) {
            memmove(&s->pages[i], &s->pages[i + 1], (s->npages - i - 1) * sizeof(void *));
            break;
        }
    }
    s->npages--;
    s->moved_out++;
    struct slab_class *d = &classes[mv.dst];
    if (mv.dst != 0 && pages_room_locked(d)) {
        d->pages[d->npages++] = mv.page;
        carve_locked(d, (unsigned)mv.dst, mv.page);
        d->moved_in++;
    } else {
        /* To the pool: give it back, so any class may take a page. */
        free(mv.page);
        mem_malloced -= page_size;
    }
    pages_moved++;
    move_clear_locked();
done:
    pthread_mutex_unlock(&lock);
    return ok;
}

void slabs_move_abort(void)
{
    pthread_mutex_lock(&lock);
    struct slab_class *c = &classes[mv.src];
    if (mv.page) {
        for (uint32_t i = 0; i < c->perslab; i++) {
            if (!mv.done[i])
                continue;
            item *it = (item *)(mv.page + (size_t)i * c->size);
            it->next = c->free_list;
            c->free_list = it;
            c->free_count++;
        }
        move_clear_locked();
    }
    pthread_mutex_unlock(&lock);
}
