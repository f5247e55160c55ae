/* stats_int: stats_t's private state, shared by the stats modules.
 *
 * stats.c (shards, merging, the rows, failures and exceptions, worker
 * deltas) and figures.c (Locust's derived figures: averages, median,
 * percentiles, current and total rates) both read struct stats; this
 * header defines it, the per-second ring both sides keep, and the few
 * helpers stats.c lends out. It is internal to src/stats: other parts use
 * stats.h. Everything here runs on the thread that owns the object (the
 * main thread for stats_t, an engine thread for its shard). */
#ifndef CICADA_STATS_INT_H
#define CICADA_STATS_INT_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include <string.h>

#include "stats/stats.h"
#include "stats/table.h"

/* Slots in a per-second ring (stats_entry_t.sec_key and the shard rows'
 * copies): one per unix second, indexed by second modulo STATS_RING. */
#define STATS_RING 32
_Static_assert(sizeof((stats_entry_t *)0)->sec_key == STATS_RING * sizeof(int64_t),
               "stats.h's ring and STATS_RING differ");

struct stats {
    double start_time;
    stats_entry_t total;
    table_t rows;           /* stats_entry_t* by (method, name) */
    stats_entry_t **sorted; /* every row; sorted by (name, method) unless rows_unsorted */
    size_t nsorted;
    bool rows_unsorted;
    table_t errs; /* stats_error_t* by (method, name, error) */
    stats_error_t **errlist;
    size_t nerr;
    bool errs_unsorted;
    table_t excs; /* stats_exception_t* by traceback */
    stats_exception_t **exclist;
    size_t nexc;
    uint64_t cut;                     /* requests cut off at stop (stats_shard_cut) */
    uint64_t late, dropped;           /* open-model iterations (stats_shard_iteration) */
    uint64_t life_exceptions;         /* exceptions dropped by stats_clear_exceptions (life.h) */
    uint64_t life_late, life_dropped; /* open-model iterations cleared by resets (life.h) */
};

/* The ring slot of unix second sec (negative seconds too). */
static inline size_t stats_ring_slot(int64_t sec)
{
    return (size_t)(sec % STATS_RING + STATS_RING) % STATS_RING;
}

/* Add nreq requests and nfail failures of second sec to the ring
 * (key, reqs, fails: STATS_RING slots each). A slot holding an older
 * second is taken over; a count for a second older than its slot's is
 * dropped (it is outside every window). */
void stats_ring_add(int64_t *key, uint32_t *reqs, uint32_t *fails, int64_t sec, uint32_t nreq,
                    uint32_t nfail);

/* The main row of (method, name), created (and the sorted list updated)
 * if new. Never NULL; owned by st. */
stats_entry_t *stats_main_entry(stats_t *st, const char *method, const char *name);

static inline bool str_eq(const char *x, const char *y)
{
    return strcmp(x, y) == 0;
}

/* ---- a shard (shard.c records into it, stats.c merges it) ---- */

typedef struct shard_row {
    char *method, *name;
    bool dirty;
    uint64_t num_requests, num_none, num_failures, total_us, min_us, max_us, content;
    double last_ts;
    hist_t *hist;
    int64_t sec_key[STATS_RING];
    uint32_t sec_reqs[STATS_RING], sec_fails[STATS_RING];
} shard_row_t;

typedef struct shard_err {
    char *method, *name, *error;
    uint64_t count;
} shard_err_t;

typedef struct shard_exc {
    char *msg, *traceback;
    uint64_t count;
} shard_exc_t;

struct stats_shard {
    table_t rows, errs, excs;
    uint64_t pending;       /* records since the last merge */
    uint64_t cut;           /* requests cut off at stop since the last merge */
    uint64_t late, dropped; /* open-model iterations since the last merge */
    uint64_t epoch;         /* the reset epoch its records belong to (stats.h) */
    shard_row_t *last;      /* the row of the last request: a task often repeats it */
};

#endif
