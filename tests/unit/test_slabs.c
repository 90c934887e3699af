/*
 * test_slabs.c - the slab allocator (mcd/engine/slab/slabs.c) through
 * slab_internal.h: class sizes, class choice, the memory limit, the free
 * list, and the numbers class_info reports.
 */
#include <pthread.h>
#include <setjmp.h>
#include <stdarg.h>
#include <stddef.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <cmocka.h>

#include "engine/slab/slab_internal.h"
#include "errors.h"

#define MB (1024UL * 1024)
#define ITEM_MAX (64 * 1024)
#define LIMIT (3 * MB)

static int setup(void **state)
{
    (void)state;
    return slabs_setup(LIMIT, 1.25, 48, ITEM_MAX);
}

static int teardown(void **state)
{
    (void)state;
    slabs_teardown();
    return 0;
}

static void test_class_sizes(void **state)
{
    (void)state;
    unsigned largest = slabs_largest();
    assert_true(largest > 5);
    assert_true(largest < SLAB_MAX_CLASSES);
    assert_int_equal(slabs_chunk_size(0), 0);
    assert_int_equal(slabs_chunk_size(largest + 1), 0);
    /* the smallest holds the item header plus -n bytes */
    assert_true(slabs_chunk_size(1) >= sizeof(item) + 48);
    for (unsigned id = 1; id <= largest; id++) {
        uint32_t size = slabs_chunk_size(id);
        assert_int_equal(size % 8, 0);
        if (id > 1) {
            assert_true(size > slabs_chunk_size(id - 1));
            /* growth is by about the factor; the last step, to the top
             * size, may be up to factor squared (as in memcached) */
            double f = id < largest ? 1.25 : 1.25 * 1.25;
            assert_true(size <= slabs_chunk_size(id - 1) * f + 8);
        }
    }
    /* the largest holds the largest item with the longest key */
    assert_true(slabs_chunk_size(largest) >= item_total(250, ITEM_MAX + 2));
    assert_true(slabs_chunk_size(largest) < item_total(250, ITEM_MAX + 2) + 8);
}

static void test_clsid(void **state)
{
    (void)state;
    unsigned largest = slabs_largest();
    assert_int_equal(slabs_clsid(0), 0);
    assert_int_equal(slabs_clsid(1), 1);
    for (unsigned id = 1; id <= largest; id++) {
        uint32_t size = slabs_chunk_size(id);
        assert_int_equal(slabs_clsid(size), id);
        assert_int_equal(slabs_clsid(size - 1), size - 1 > slabs_chunk_size(id - 1) ? id : id - 1);
        if (id < largest)
            assert_int_equal(slabs_clsid(size + 1), id + 1);
    }
    assert_int_equal(slabs_clsid(slabs_chunk_size(largest) + 1), 0);
    assert_int_equal(slabs_clsid(SIZE_MAX), 0);
}

static void check_info(unsigned id)
{
    struct engine_class_info ci;
    memset(&ci, 0xff, sizeof(ci));
    slabs_class_info(id, &ci);
    assert_int_equal(ci.id, id);
    assert_int_equal(ci.chunk_size, slabs_chunk_size(id));
    assert_true(ci.chunks_per_page >= 1);
    assert_int_equal(ci.used_chunks + ci.free_chunks, ci.pages * ci.chunks_per_page);
    assert_true(ci.mem_requested <= ci.used_chunks * ci.chunk_size);
}

static void test_alloc_until_limit(void **state)
{
    (void)state;
    unsigned id = slabs_clsid(200);
    uint32_t size = slabs_chunk_size(id);
    struct engine_class_info ci;
    bool failed = true;
    slabs_class_info(id, &ci);
    uint32_t perslab = ci.chunks_per_page;
    assert_int_equal(ci.pages, 0);
    assert_int_equal(slabs_mem_malloced(), 0);
    assert_int_equal(slabs_mem_limit(), LIMIT);

    char **got = calloc(4 * perslab, sizeof(*got));
    uint64_t n = 0;
    while (n < 4 * (uint64_t)perslab) {
        char *p = slabs_alloc(id, 200, &failed);
        if (!p)
            break;
        assert_false(failed);
        assert_int_equal((uintptr_t)p % 8, 0);
        /* the whole chunk is ours (ASan checks the page bounds) */
        memset(p, 0xab, size);
        got[n++] = p;
    }
    /* 1 MB pages, a 3 MB limit: exactly three pages' worth of chunks */
    assert_int_equal(n, 3 * (uint64_t)perslab);
    assert_false(failed);       /* the limit, not the OS, said no */
    assert_int_equal(slabs_pages_total(), 3);
    assert_true(slabs_mem_malloced() <= LIMIT);
    assert_true(slabs_mem_malloced() >= 3 * MB);
    slabs_class_info(id, &ci);
    assert_int_equal(ci.pages, 3);
    assert_int_equal(ci.used_chunks, n);
    assert_int_equal(ci.free_chunks, 0);
    assert_int_equal(ci.mem_requested, n * 200);
    assert_int_equal(ci.outofmemory, 1);
    assert_null(slabs_alloc(id, 200, &failed));
    slabs_class_info(id, &ci);
    assert_int_equal(ci.outofmemory, 2);
    check_info(id);

    /* chunks are distinct and do not overlap */
    for (uint64_t i = 1; i < n; i++)
        assert_ptr_not_equal(got[i], got[i - 1]);

    /* a class with no page may still take one, so no size is unstorable */
    unsigned other = slabs_clsid(5000);
    assert_int_not_equal(other, id);
    void *o = slabs_alloc(other, 5000, &failed);
    assert_non_null(o);
    assert_int_equal(slabs_pages_total(), 4);
    /* ... but only one */
    slabs_class_info(other, &ci);
    for (uint32_t i = 1; i < ci.chunks_per_page; i++)
        assert_non_null(slabs_alloc(other, 5000, &failed));
    assert_null(slabs_alloc(other, 5000, &failed));
    assert_int_equal(slabs_pages_total(), 4);
    check_info(other);

    /* free then alloc reuses the freed chunk, with no new page */
    slabs_free(got[7], id, 200);
    slabs_class_info(id, &ci);
    assert_int_equal(ci.used_chunks, n - 1);
    assert_int_equal(ci.free_chunks, 1);
    assert_int_equal(ci.mem_requested, (n - 1) * 200);
    assert_true(((item *)got[7])->it_flags & ITEM_SLABBED);
    char *again = slabs_alloc(id, 100, &failed);
    assert_ptr_equal(again, got[7]);
    assert_int_equal(((item *)again)->it_flags & ITEM_SLABBED, 0);
    slabs_class_info(id, &ci);
    assert_int_equal(ci.mem_requested, (n - 1) * 200 + 100);
    assert_int_equal(slabs_pages_total(), 4);

    /* free everything: all chunks back, the pages stay with the class */
    slabs_free(again, id, 100);
    for (uint64_t i = 0; i < n; i++) {
        if (i != 7)
            slabs_free(got[i], id, 200);
    }
    slabs_class_info(id, &ci);
    assert_int_equal(ci.used_chunks, 0);
    assert_int_equal(ci.free_chunks, 3 * (uint64_t)perslab);
    assert_int_equal(ci.mem_requested, 0);
    check_info(id);
    free(got);
}

/* Threads that all find the free list empty make pages at once (the malloc
 * and carving run unlocked): the limit still holds exactly, and every chunk
 * goes to one thread only. */
#define RACERS 4
static pthread_barrier_t start_line;

struct racer {
    unsigned id;
    char **got;
    uint64_t n, cap;
};

static void *race_alloc(void *arg)
{
    struct racer *r = arg;
    bool failed;
    char *p;
    pthread_barrier_wait(&start_line);
    while (r->n < r->cap && (p = slabs_alloc(r->id, 200, &failed)) != NULL) {
        memset(p + sizeof(item), 0x5a, 8);     /* the chunk is ours to write */
        r->got[r->n++] = p;
    }
    return NULL;
}

static int cmp_ptr(const void *a, const void *b)
{
    uintptr_t x = (uintptr_t)*(char *const *)a, y = (uintptr_t)*(char *const *)b;
    return x < y ? -1 : x > y;
}

static void test_concurrent_growth(void **state)
{
    (void)state;
    unsigned id = slabs_clsid(200);
    struct engine_class_info ci;
    slabs_class_info(id, &ci);
    uint64_t total = 3 * (uint64_t)ci.chunks_per_page;
    struct racer r[RACERS];
    pthread_t th[RACERS];
    pthread_barrier_init(&start_line, NULL, RACERS);
    for (int i = 0; i < RACERS; i++) {
        r[i] = (struct racer){ .id = id, .cap = total + 1 };
        r[i].got = calloc(total + 1, sizeof(char *));
        assert_non_null(r[i].got);
        assert_int_equal(pthread_create(&th[i], NULL, race_alloc, &r[i]), 0);
    }
    uint64_t n = 0;
    for (int i = 0; i < RACERS; i++) {
        pthread_join(th[i], NULL);
        n += r[i].n;
    }
    pthread_barrier_destroy(&start_line);
    /* a 3 MB limit: three pages' worth of chunks, however the race went */
    assert_int_equal(n, total);
    assert_int_equal(slabs_pages_total(), 3);
    assert_true(slabs_mem_malloced() <= LIMIT);
    char **all = calloc(n, sizeof(char *));
    uint64_t k = 0;
    for (int i = 0; i < RACERS; i++) {
        memcpy(all + k, r[i].got, r[i].n * sizeof(char *));
        k += r[i].n;
        free(r[i].got);
    }
    qsort(all, n, sizeof(char *), cmp_ptr);
    for (uint64_t i = 1; i < n; i++)
        assert_true(all[i] - all[i - 1] >= (ptrdiff_t)slabs_chunk_size(id));
    slabs_class_info(id, &ci);
    assert_int_equal(ci.used_chunks, n);
    assert_int_equal(ci.free_chunks, 0);
    check_info(id);
    for (uint64_t i = 0; i < n; i++)
        slabs_free(all[i], id, 200);
    free(all);
}

static void test_page_malloc_failure(void **state)
{
    (void)state;
    char why[128];
    bool failed = false;
    unsigned id = slabs_clsid(100);
    assert_true(err_fault_config("ERR_SLAB_PAGE_MALLOC:1", why, sizeof(why)));
    assert_null(slabs_alloc(id, 100, &failed));
    assert_true(failed);        /* the OS said no, not the limit */
    assert_int_equal(slabs_pages_total(), 0);
    assert_int_equal(slabs_mem_malloced(), 0);
    err_faults_on = false;
    assert_non_null(slabs_alloc(id, 100, &failed));
    assert_false(failed);
    assert_int_equal(slabs_pages_total(), 1);
}

static void test_setup_variants(void **state)
{
    (void)state;
    /* a large factor gives few classes, still ascending to the top */
    slabs_teardown();
    assert_int_equal(slabs_setup(LIMIT, 4.0, 48, ITEM_MAX), 0);
    unsigned few = slabs_largest();
    assert_true(few >= 2 && few <= 10);
    for (unsigned id = 2; id <= few; id++)
        assert_true(slabs_chunk_size(id) > slabs_chunk_size(id - 1));
    /* a tiny factor is capped at SLAB_MAX_CLASSES - 1 classes */
    slabs_teardown();
    assert_int_equal(slabs_setup(LIMIT, 1.01, 48, ITEM_MAX), 0);
    assert_true(slabs_largest() <= SLAB_MAX_CLASSES - 1);
    assert_true(slabs_chunk_size(slabs_largest()) >= item_total(250, ITEM_MAX + 2));
    for (unsigned id = 2; id <= slabs_largest(); id++)
        assert_true(slabs_chunk_size(id) > slabs_chunk_size(id - 1));
    /* a big item limit makes pages bigger than 1 MB: one item per page */
    slabs_teardown();
    assert_int_equal(slabs_setup(8 * MB, 1.25, 48, 2 * MB), 0);
    bool failed;
    unsigned top = slabs_largest();
    assert_non_null(slabs_alloc(top, 2 * MB, &failed));
    assert_true(slabs_mem_malloced() >= 2 * MB);
    struct engine_class_info ci;
    slabs_class_info(top, &ci);
    assert_int_equal(ci.chunks_per_page, 1);
}

int main(void)
{
    const struct CMUnitTest tests[] = {
        cmocka_unit_test_setup_teardown(test_class_sizes, setup, teardown),
        cmocka_unit_test_setup_teardown(test_clsid, setup, teardown),
        cmocka_unit_test_setup_teardown(test_alloc_until_limit, setup, teardown),
        cmocka_unit_test_setup_teardown(test_concurrent_growth, setup, teardown),
        cmocka_unit_test_setup_teardown(test_page_malloc_failure, setup, teardown),
        cmocka_unit_test_setup_teardown(test_setup_variants, setup, teardown),
    };
    cmocka_set_message_output(CM_OUTPUT_TAP);
    return cmocka_run_group_tests(tests, NULL, NULL);
}
