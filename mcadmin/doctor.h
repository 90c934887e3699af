/*
 * doctor.h - `mcadmin doctor`: what is wrong with a server, from two
 * samples of its admin-socket documents, and what to do about it.
 *
 * doctor.c gathers the samples (live, a snapshot pair, or a report file),
 * runs every rule and prints; doctor_rules.c holds the rules about the
 * server's memory, tables and threads, doctor_clients.c those about what
 * clients do. A rule reads
 * the documented JSON only (man/mcd-admin.7) through the dr_ helpers below,
 * and, like redis's createLatencyReport(), only records: a finding with
 * its quantified evidence and the advice it calls for. The printer then
 * numbers the findings and gives each piece of advice once.
 *
 * Rates are over the interval between the two samples. Error sites also
 * count when they fired "recently" (last_seen within --recent seconds of
 * the newer sample), because doctor is usually run after the trouble.
 */
#ifndef MCADMIN_DOCTOR_H
#define MCADMIN_DOCTOR_H

#include "mcadmin.h"

/* What a finding asks the operator to do; printed once however many
 * findings ask for it. The texts are in doctor.c. */
enum dr_advice {
    ADV_BUG_REPORT,     /* a bug in mcd: file a report */
    ADV_SLAB_MOVE,      /* slab pages stuck in the wrong classes */
    ADV_MAXCONNS,       /* -c */
    ADV_NOFILE,         /* ulimit -n */
    ADV_HOST_MEMORY,    /* the OS refuses memory: lower -m or free the host */
    ADV_FLUSH,          /* who sends flush_all; -F */
    ADV_SLOW_CLIENT,    /* a client that does not read its replies */
    ADV_RAISE_M,        /* -m too small for the working set */
    ADV_HASHPOWER,      /* -o hashpower, no_hashexpand */
    ADV_CONN_BUFFERS,   /* clients holding huge partial requests */
    ADV_ITEM_SIZE_MAX,  /* -I, or smaller values */
    ADV_MULTIGET,       /* giant multi-gets, -R */
    ADV_CLOCK,          /* exptimes already past: clocks, absolute TTLs */
    ADV_WRITE_ONLY,     /* caching what nobody reads */
    ADV_HOT_KEYS,       /* one prefix or key takes the traffic */
    ADV_STUCK_THREAD,   /* a hung or spinning thread */
    ADV_SETTINGS,       /* settings differ from the baseline */
    ADV_AUTOMOVE_TUNE,  /* the page mover thrashes or starves a class */
    ADV__COUNT
};

struct doctor {
    const json_t *a;            /* older sample, NULL when there is one */
    const json_t *b;            /* newer sample */
    const json_t *baseline;     /* --baseline, or NULL */
    double secs;                /* between a and b; with one sample: uptime */
    long long now;              /* b's server time */
    long recent;                /* --recent: error sites seen this long ago count */
    json_t *findings;           /* [{rule, title, evidence[], subject{}, advice[]}] */
    json_t *rules;              /* [{name, status, reason}] */
    bool advise[ADV__COUNT];
    json_t *site_advice;        /* {"E6001": advice text} of sites named */
};

/* --- reading the samples (doctor.c) ---------------------------------------- */

/* The data of section name (stats, slabs, ...) of a sample; NULL if absent. */
const json_t *dr_sec(const json_t *sample, const char *name);
/* stats.NAME of a sample (0 when absent, or sample NULL). */
double dr_stat(const json_t *sample, const char *name);
/* The growth of counter stats.NAME over the interval (b's since start
 * when there is one sample). */
double dr_delta(const struct doctor *d, const char *name);
/* The row of array arr whose integer member id equals want. */
const json_t *dr_row(const json_t *arr, const char *id, long long want);
/* The error site with this code in a sample. */
const json_t *dr_site(const json_t *sample, int code);
/* Its count's growth over the interval. */
double dr_site_delta(const struct doctor *d, int code);
/* Fired during the interval, or last seen within --recent of b. */
bool dr_site_recent(const struct doctor *d, int code);
/* Appends "E<code> NAME: N (+M over the interval), last seen T ago" to f's
 * evidence and remembers the site's advice; nothing if it never fired. */
void dr_site_evidence(struct doctor *d, json_t *f, int code);

/* Member `member` of section `sec` of a sample (NULL when absent). */
const json_t *dr_arr(const json_t *sample, const char *sec, const char *member);
/* delta per second over the interval. */
double dr_rate(const struct doctor *d, double delta);
/* An item's or event's key (key, else key_base64). */
const char *dr_key(const json_t *o);
/* An event of this kind in the newer sample's history, within --recent. */
bool dr_event_recent(const struct doctor *d, const json_t *e, const char *kind);

/* --- recording (doctor.c) -------------------------------------------------- */

/* A new finding of rule, with a one-line quantified title. */
json_t *dr_finding(struct doctor *d, const char *rule, const char *fmt, ...)
    __attribute__((format(printf, 3, 4)));
void dr_evidence(json_t *f, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
/* f.subject.key = v (stolen): what the finding names, for scripts. */
void dr_subject(json_t *f, const char *key, json_t *v);
void dr_advise(struct doctor *d, json_t *f, enum dr_advice a);
/* The rule could not be applied: the samples lack what it reads. */
void dr_needs(struct doctor *d, const char *why);

/* --- the rules (doctor_rules.c) ------------------------------------------- */

struct dr_rule {
    const char *name;
    const char *checks;         /* one line for `doctor --rules` and the man page */
    void (*run)(struct doctor *d);
};

extern const struct dr_rule dr_rules[];

/* doctor_clients.c */
void dr_rule_maxconns(struct doctor *d);
void dr_rule_fd_limit(struct doctor *d);
void dr_rule_flush_collapse(struct doctor *d);
void dr_rule_slow_client(struct doctor *d);
void dr_rule_conn_buffers(struct doctor *d);
void dr_rule_too_large(struct doctor *d);
void dr_rule_client_timeouts(struct doctor *d);
void dr_rule_expired_on_arrival(struct doctor *d);
void dr_rule_hot_prefix(struct doctor *d);
void dr_rule_hot_key(struct doctor *d);

extern const int dr_nrules;

#endif /* MCADMIN_DOCTOR_H */
