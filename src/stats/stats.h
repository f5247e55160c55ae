/* stats: Locust's request statistics, kept in shards and merged.
 *
 * Two halves:
 *  - stats_shard_t belongs to one engine thread. It records every request
 *    with no locks and, after the first request of a (method, name), no
 *    allocation: entries are found in an open-addressing hash table and each
 *    holds a preallocated histogram (hist.h) and a few per-second counters.
 *  - stats_t lives on the main thread. Once a second (and at the end of a
 *    run) each engine hands over its shard; stats_merge() adds it in and
 *    clears the shard for reuse. Everything users see (console, CSV, web)
 *    is computed from stats_t with Locust 2.12.1's algorithms
 *    (research/locust-stats.md): median with clamp, percentiles walking
 *    down, current RPS over [last-12, last-2), total RPS, failures grouped
 *    by (method, name, error), exceptions keyed by traceback.
 *
 * Response times are microseconds in (int64), milliseconds out (double).
 * The histogram's relative error is under 1%. Entries are identified by
 * (method, name); "Aggregated" (stats_t.total) sums them all. */
#ifndef CICADA_STATS_H
#define CICADA_STATS_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats/hist.h"

/* ---- engine side ---- */

typedef struct stats_shard stats_shard_t;

stats_shard_t *stats_shard_new(void);
void stats_shard_free(stats_shard_t *s);

/* Record one request. method and name are copied the first time the pair
 * is seen. rt_us is the response time in microseconds, or -1 for "no time"
 * (counted as a request but not in times, like Locust's None). length is
 * the response body size. err is NULL for a success, else the error text as
 * users will see it (e.g. "HTTPError('404 Client Error: Not Found for url:
 * /x')"); it is copied. now is the wall-clock time (unix seconds,
 * fractional; a per-loop-turn reading is precise enough) at completion. */
void stats_shard_request(stats_shard_t *s, const char *method, const char *name, int64_t rt_us,
                         int64_t length, const char *err, double now);

/* Count one request cut off at stop: still unfinished when the stop
 * grace ran out, its connection closed. It is neither a success nor a
 * failure (it is in no row); only this count shows it. */
void stats_shard_cut(stats_shard_t *s);

/* The open model (--arrival-rate): count one scheduled iteration that
 * started more than 10 ms after its scheduled time (late), or that found
 * no free user within the -u limit and never ran (dropped). An iteration
 * that started on time is not counted here (its requests are). */
void stats_shard_iteration(stats_shard_t *s, bool late, bool dropped);

/* Record one exception (a Lua error in a task). Both strings are copied;
 * equal tracebacks are counted together. */
void stats_shard_exception(stats_shard_t *s, const char *msg, const char *traceback);

/* True if nothing has been recorded since the last merge. */
bool stats_shard_empty(const stats_shard_t *s);

/* The reset epoch s's records belong to (0 for a new shard). Its owner
 * tags it (engine.c: when it starts filling, and when a reset clears it);
 * the main thread drops shards of an epoch older than its own instead of
 * merging them (runner.c), so what was measured before a reset never
 * reappears after it. */
uint64_t stats_shard_epoch(const stats_shard_t *s);
void stats_shard_set_epoch(stats_shard_t *s, uint64_t epoch);
/* Drop everything recorded since the last merge, keeping the memory (as
 * a merge does, without adding it anywhere). The epoch is kept. */
void stats_shard_clear(stats_shard_t *s);

/* ---- main-thread side ---- */

/* One (method, name) row, or the Aggregated row. Read-only for callers. */
typedef struct stats_entry {
    char *method; /* "" for Aggregated */
    char *name;
    uint64_t num_requests, num_none_requests, num_failures;
    double total_response_time_ms;
    double min_response_time_ms; /* valid when num_requests - num_none > 0 */
    double max_response_time_ms;
    uint64_t total_content_length;
    hist_t *hist;
    double last_request_ts; /* unix seconds, 0 if none */
    /* per-second counts, ring indexed by unix second */
    int64_t sec_key[32];
    uint32_t sec_reqs[32], sec_fails[32];
    void *window;            /* private: recent per-second histograms, for current percentiles */
    struct stats_life *life; /* private: what resets cleared (stats/life.h); NULL if none */
} stats_entry_t;

typedef struct stats_error {
    char *method, *name, *error;
    uint64_t occurrences;
} stats_error_t;

typedef struct stats_exception {
    char *msg, *traceback, *nodes;
    uint64_t count;
    uint64_t logged; /* of count, what the console has seen (runner/exclog.c); 0 when created */
} stats_exception_t;

typedef struct stats stats_t;

stats_t *stats_new(void);
void stats_free(stats_t *st);

/* Add the shard's contents into st and clear the shard for reuse (st may
 * be NULL: the contents are dropped, as stats_shard_clear). */
void stats_merge(stats_t *st, stats_shard_t *shard);

/* Locust's reset_all(): zero every entry and the total in place, drop the
 * errors and the cut-off count, keep the exceptions; start_time becomes now_unix. */
void stats_reset(stats_t *st, double now_unix);
void stats_clear_exceptions(stats_t *st);

/* Requests cut off at stop since the last reset (stats_shard_cut), and
 * adding n of them (a node's report). */
uint64_t stats_cut(const stats_t *st);
void stats_add_cut(stats_t *st, uint64_t n);

/* The open model's counts since the last reset (stats_shard_iteration):
 * iterations that started more than 10 ms late, and iterations dropped
 * for want of a free user; and adding a node's counts (a worker's
 * report). These are the names the thresholds (`late`, `dropped`) and
 * --summary-json read. */
uint64_t stats_late(const stats_t *st);
uint64_t stats_dropped(const stats_t *st);
void stats_add_open(stats_t *st, uint64_t late, uint64_t dropped);

/* Count an exception reported by node (e.g. "local", or a worker id from a
 * master's point of view) count times; equal tracebacks are one row whose
 * nodes list ("a, b") gains node if new, up to STATS_MAX_NODES_LEN bytes
 * (then it ends in ", ..." and stops growing). Strings are copied. */
#define STATS_MAX_NODES_LEN 4096
void stats_exception_add(stats_t *st, const char *msg, const char *traceback, const char *node,
                         uint64_t count);

/* ---- deltas from other nodes (a master merging its workers) ---- */

/* The latest timestamp a delta may carry (unix seconds, about the year
 * 5138): stats_merge_delta takes a later one, or one that is not positive
 * or not finite, as "none" (it would overflow the int64 seconds the
 * per-second counters and windows are keyed by). */
#define STATS_MAX_TS 1e11

/* One (method, name) row of a worker's report: what it measured since its
 * previous report. Times in ms; min is read only when some request was
 * timed (num_requests > num_none_requests). last_request_ts outside
 * (0, STATS_MAX_TS] counts as none. hist (may be NULL) holds the
 * timed requests' response times; secs/sec_reqs/sec_fails (nsecs of each,
 * may be 0) are the per-unix-second request and failure counts. Nothing
 * is kept: the caller still owns every pointer after the call. */
typedef struct stats_delta {
    const char *method, *name;
    uint64_t num_requests, num_none_requests, num_failures;
    double total_response_time_ms, min_response_time_ms, max_response_time_ms;
    uint64_t total_content_length;
    double last_request_ts; /* unix seconds, 0 if none */
    const hist_t *hist;
    const int64_t *secs;
    const uint32_t *sec_reqs, *sec_fails;
    size_t nsecs;
} stats_delta_t;

/* Add d into its (method, name) row (created if new), or into the
 * Aggregated row when aggregated is true (a worker reports its total
 * separately, as Locust's stats_total). */
void stats_merge_delta(stats_t *st, const stats_delta_t *d, bool aggregated);

/* True if st has a row for (method, name) (Aggregated is not a row). A
 * master checks it before merging a worker's entry once it holds as many
 * rows as it allows (dist/proto.h). */
bool stats_has_entry(const stats_t *st, const char *method, const char *name);
/* How many rows st holds (without Aggregated); cheaper than stats_entries. */
size_t stats_rows(const stats_t *st);
/* The same two for failures: is there a row for (method, name, error), and
 * how many rows there are. */
bool stats_has_error(const stats_t *st, const char *method, const char *name, const char *error);
size_t stats_error_rows(const stats_t *st);

/* Count n occurrences of a failure (method, name, error); strings are copied. */
void stats_error_add(stats_t *st, const char *method, const char *name, const char *error,
                     uint64_t n);

/* Time of the last reset (unix seconds, fractional) and of the last request. */
double stats_start_time(const stats_t *st);

/* Entries sorted by (name, method), without Aggregated. *n gets the count.
 * The array is owned by st and valid until the next merge or reset. */
stats_entry_t **stats_entries(stats_t *st, size_t *n);
stats_entry_t *stats_total(stats_t *st);
/* Failures sorted by (name, method, error) -- Locust sorts by the sha256
 * hex of its key, an order that carries no meaning, so cicada uses a
 * readable one -- and exceptions in first-seen order. Owned by st, valid
 * until the next merge or reset. */
stats_error_t **stats_errors(stats_t *st, size_t *n);
stats_exception_t **stats_exceptions(stats_t *st, size_t *n);

/* ---- Locust's derived figures (all times in ms) ---- */
double stats_avg(const stats_entry_t *e);
double stats_min(const stats_entry_t *e); /* 0 if no timed request */
double stats_avg_content(const stats_entry_t *e);
double stats_fail_ratio(const stats_entry_t *e);
/* Median: ascending walk with pos=(n-1)/2, clamped to [min, max]. */
double stats_median(const stats_entry_t *e);
/* Percentile p in [0,1]: descending walk with k=int(n*p), clamped to
 * [min, max] (0 if the walk ends among requests with no time). */
double stats_percentile(const stats_entry_t *e, double p);
/* Current req/s and fail/s over Locust's window, relative to the
 * Aggregated row's last request. */
double stats_current_rps(const stats_t *st, const stats_entry_t *e);
double stats_current_fail_per_sec(const stats_t *st, const stats_entry_t *e);
/* num_requests / (last request - start_time). */
double stats_total_rps(const stats_t *st, const stats_entry_t *e);
double stats_total_fail_per_sec(const stats_t *st, const stats_entry_t *e);
/* Percentile p of the requests in the last ~10 seconds before now_unix
 * (the merges whose last request fell in seconds now-9 .. now, like
 * Locust's diff against its snapshot of now-10), same descending walk as
 * stats_percentile over the timed requests of that window; returns false
 * (and leaves *out alone) if there is no timed request in it. */
bool stats_current_percentile(const stats_t *st, const stats_entry_t *e, double p, int64_t now_unix,
                              double *out);

/* The percentiles Locust reports, and their CSV/console headers. */
#define STATS_NPCT 11
extern const double stats_pcts[STATS_NPCT];
extern const char *const stats_pct_names[STATS_NPCT];

#endif
