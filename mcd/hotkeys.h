/*
 * hotkeys.h - the hottest keys, by requests and by bytes sent, estimated
 * from a 1-in-64 sample with the space-saving algorithm in fixed memory:
 * each worker keeps its own two tables (no lock, no allocation); the admin
 * thread merges copies made on each worker (thread_call).
 */
#ifndef MCD_HOTKEYS_H
#define MCD_HOTKEYS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#define HK_K 64
#define HK_SAMPLE 64

/* Columns, not rows: a sampled lookup scans the 64 hashes (four cache
 * lines), and the counts only when it must pick an entry to replace. */
struct hk_table {
    uint32_t hash[HK_K];
    uint64_t count[HK_K];   /* estimated weight (sampled units) */
    uint64_t err[HK_K];     /* over-estimate bound from space-saving */
    uint8_t nkey[HK_K];
    char key[HK_K][250];
    int n;
};

struct hotkeys {
    struct hk_table req, bytes;
    uint32_t rng;       /* xorshift32 state, never 0: which lookups are sampled */
};

extern __thread struct hotkeys *hk_mine;
extern bool hotkeys_enabled;    /* atomic; on by default */

void hotkeys_thread_register(void);
void hk_record(struct hotkeys *h, const char *key, size_t nkey, size_t bytes);

/* Note one key looked up (bytes: value bytes sent, 0 on a miss). */
static inline void hotkeys_note(const char *key, size_t nkey, size_t bytes)
{
#ifdef MCD_NO_TRACKING
    return;
#endif
    struct hotkeys *h = hk_mine;
    if (!h || !__atomic_load_n(&hotkeys_enabled, __ATOMIC_RELAXED))
        return;
    /* A random 1 in 64, not every 64th: a client repeating a pattern of
     * keys (a multi-get of 9 hot keys and 1 other, say) would otherwise
     * be sampled at the same few places of it and misjudged. */
    uint32_t x = h->rng;
    x ^= x << 13;
    x ^= x >> 17;
    x ^= x << 5;
    h->rng = x;
    if ((x & (HK_SAMPLE - 1)) != 0)
        return;
    hk_record(h, key, nkey, bytes);
}

#endif /* MCD_HOTKEYS_H */
