/*
 * util.c - the server clock, number parsing and the key hash.
 */
#include "util.h"

#include <limits.h>
#include <string.h>

/* Written by the main thread's timer, read everywhere: relaxed atomics. */
static rel_time_t current_time;
static time_t process_started;
static time_t mono_started;

/*
 * The server's clock runs on CLOCK_MONOTONIC from the wall time at start,
 * so a wall clock stepped back or forth does not age or revive items; the
 * difference from the wall clock is reported as drift (clock_drift()).
 */
static time_t mono_secs(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return ts.tv_sec;
}

void clock_setup(void)
{
    /* Start two seconds "ago" so that rel time 1 is always in the past:
     * that is what a negative or already-past exptime maps to. */
    process_started = time(NULL) - 2;
    mono_started = mono_secs() - 2;
    clock_tick();
}

void clock_tick(void)
{
    __atomic_store_n(&current_time, (rel_time_t)(mono_secs() - mono_started),
                     __ATOMIC_RELAXED);
}

int64_t clock_drift(void)
{
    return (int64_t)time(NULL) - (int64_t)clock_abs(clock_now());
}

rel_time_t clock_now(void)
{
    return __atomic_load_n(&current_time, __ATOMIC_RELAXED);
}

void clock_set_for_test(rel_time_t t)
{
    __atomic_store_n(&current_time, t, __ATOMIC_RELAXED);
}

time_t clock_started(void)
{
    return process_started;
}

rel_time_t clock_realtime(int64_t exptime)
{
    if (exptime == 0)
        return 0;
    if (exptime < 0)
        return 1;
    if (exptime > REALTIME_MAXDELTA) {
        if (exptime <= process_started)
            return 1;
        if (exptime - process_started > (int64_t)UINT32_MAX)
            return UINT32_MAX;
        return (rel_time_t)(exptime - process_started);
    }
    return (rel_time_t)(exptime + clock_now());
}

time_t clock_abs(rel_time_t t)
{
    return t == 0 ? 0 : process_started + (time_t)t;
}

/* isspace() in the C locale, without the locale. */
static bool is_c_space(char ch)
{
    return ch == ' ' || (ch >= '\t' && ch <= '\r');
}

/* Decimal digits only, the whole of s. */
static bool parse_digits(const char *s, size_t len, uint64_t *out)
{
    uint64_t v = 0;
    if (len == 0)
        return false;
    while (len > 1 && *s == '0') {     /* leading zeros do not count */
        s++;
        len--;
    }
    if (len > 20)
        return false;
    for (size_t i = 0; i < len; i++) {
        unsigned d = (unsigned char)s[i] - '0';
        if (d > 9)
            return false;
        if (v > (UINT64_MAX - d) / 10)
            return false;
        v = v * 10 + d;
    }
    *out = v;
    return true;
}

bool parse_u64(const char *s, size_t len, uint64_t *out)
{
    if (len > 1 && *s == '+') {        /* as strtoull, which memcached uses */
        s++;
        len--;
    }
    return parse_digits(s, len, out);
}

bool parse_stored_u64(const char *s, size_t len, uint64_t *out)
{
    size_t i = 0;
    while (i < len && is_c_space(s[i]))
        i++;
    size_t start = i;
    if (i < len && s[i] == '+')
        i++;
    while (i < len && s[i] >= '0' && s[i] <= '9')
        i++;
    if (i < len && !is_c_space(s[i]))
        return false;
    return parse_u64(s + start, i - start, out);
}

bool parse_u32(const char *s, size_t len, uint32_t *out)
{
    uint64_t v;
    if (!parse_u64(s, len, &v) || v > UINT32_MAX)
        return false;
    *out = (uint32_t)v;
    return true;
}

bool parse_i64(const char *s, size_t len, int64_t *out)
{
    bool neg = false;
    uint64_t v;
    if (len > 0 && (s[0] == '-' || s[0] == '+')) {
        neg = s[0] == '-';
        s++;
        len--;
    }
    if (!parse_digits(s, len, &v))
        return false;
    if (neg) {
        if (v > (uint64_t)INT64_MAX + 1)
            return false;
        *out = v == (uint64_t)INT64_MAX + 1 ? INT64_MIN : -(int64_t)v;
    } else {
        if (v > INT64_MAX)
            return false;
        *out = (int64_t)v;
    }
    return true;
}

bool parse_i32(const char *s, size_t len, int32_t *out)
{
    int64_t v;
    if (!parse_i64(s, len, &v) || v < INT32_MIN || v > INT32_MAX)
        return false;
    *out = (int32_t)v;
    return true;
}

size_t fmt_u64(char *buf, uint64_t v)
{
    char tmp[21];
    size_t n = 0;
    do {
        tmp[n++] = (char)('0' + v % 10);
        v /= 10;
    } while (v);
    for (size_t i = 0; i < n; i++)
        buf[i] = tmp[n - 1 - i];
    buf[n] = '\0';
    return n;
}

/*
 * The key hash: eight bytes at a time through a multiply-xorshift mix,
 * finished with a 64-bit avalanche. Keys are short (<= 250 bytes), so the
 * loop is a handful of multiplies.
 */
static inline uint64_t mix64(uint64_t h)
{
    h ^= h >> 33;
    h *= 0xff51afd7ed558ccdULL;
    h ^= h >> 33;
    h *= 0xc4ceb9fe1a85ec53ULL;
    h ^= h >> 33;
    return h;
}

uint32_t hash_key(const void *key, size_t len)
{
    const unsigned char *p = key;
    uint64_t h = 0x9e3779b97f4a7c15ULL ^ (len * 0x100000001b3ULL);
    while (len >= 8) {
        uint64_t k;
        memcpy(&k, p, 8);
        h = (h ^ mix64(k)) * 0x9fb21c651e98df25ULL;
        h ^= h >> 29;
        p += 8;
        len -= 8;
    }
    if (len) {
        uint64_t k = 0;
        memcpy(&k, p, len);
        h = (h ^ mix64(k ^ 0xa5a5a5a5ULL)) * 0x9fb21c651e98df25ULL;
    }
    return (uint32_t)mix64(h);
}
