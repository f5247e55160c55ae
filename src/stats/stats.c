/* stats: shards on the engine threads, Locust's figures on the main thread.
 *
 * Both sides find rows in open-addressing tables (table.h: linear
 * probing, FNV-1a over the key strings, grown at half load). A shard row
 * holds the sums of the requests since the last merge, a histogram
 * allocated when the (method, name) is first seen, and a 32-slot ring of
 * per-second counts; recording touches only these, so the hot path
 * neither locks nor allocates. Failures and exceptions are counted in the
 * same way under their copied keys, which stay in the shard after a merge
 * so a recurring error costs no allocation either.
 *
 * stats_merge() adds every touched shard row into its main row and into
 * the Aggregated row, then zeroes it. The histogram a shard hands over is
 * exactly the requests of about one second, so it also feeds the row's
 * "window" (window.h): 20 slots, one per unix second (that of the shard
 * row's last request), each a sparse list of (bucket, count) pairs. The
 * current percentiles of the last ~10 s are computed from those lists, not
 * from full histogram copies as Locust does.
 *
 * This file keeps the rows, failures and exceptions and the merges into
 * them (shards, and workers' deltas on a master); the shards' recording
 * on the engine threads is shard.c; the figures users see
 * (median, percentiles, current and total rates, fail ratio) are computed
 * in figures.c, and struct stats is shared with it through stats_int.h.
 *
 * Deliberate differences from Locust: failures are sorted by (name,
 * method, error) rather than by the sha256 of their key (a stable,
 * readable order instead of a random-looking one); percentile values are
 * the bucket midpoints, not Locust's 2-digit rounding; the current
 * percentiles count timed requests only. */
#include "stats/stats.h"

#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "stats/life.h"
#include "stats/stats_int.h"
#include "stats/table.h"
#include "stats/window.h"

const double stats_pcts[STATS_NPCT] = {0.50, 0.66, 0.75,  0.80,   0.90, 0.95,
                                       0.98, 0.99, 0.999, 0.9999, 1.0};
const char *const stats_pct_names[STATS_NPCT] = {"50%", "66%", "75%",   "80%",    "90%", "95%",
                                                 "98%", "99%", "99.9%", "99.99%", "100%"};

/* ---- main-thread side ---- */

static bool entry_eq(const void *item, const char *a, const char *b, const char *c)
{
    const stats_entry_t *e = item;
    return str_eq(e->method, a) && str_eq(e->name, b);
}
static bool error_eq(const void *item, const char *a, const char *b, const char *c)
{
    const stats_error_t *e = item;
    return str_eq(e->method, a) && str_eq(e->name, b) && str_eq(e->error, c);
}
static bool exception_eq(const void *item, const char *a, const char *b, const char *c)
{
    return str_eq(((const stats_exception_t *)item)->traceback, a);
}

static void entry_init(stats_entry_t *e, const char *method, const char *name)
{
    memset(e, 0, sizeof *e);
    e->method = xstrdup(method);
    e->name = xstrdup(name);
    e->hist = hist_new();
    e->window = window_new();
}

static void entry_zero(stats_entry_t *e)
{
    e->num_requests = e->num_none_requests = e->num_failures = 0;
    e->total_response_time_ms = e->min_response_time_ms = e->max_response_time_ms = 0;
    e->total_content_length = 0;
    e->last_request_ts = 0;
    hist_reset(e->hist);
    memset(e->sec_key, 0, sizeof e->sec_key);
    memset(e->sec_reqs, 0, sizeof e->sec_reqs);
    memset(e->sec_fails, 0, sizeof e->sec_fails);
    window_clear(e->window);
}

static void entry_fini(stats_entry_t *e)
{
    xfree(e->method);
    xfree(e->name);
    hist_free(e->hist);
    window_free(e->window);
    life_free(e);
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

stats_t *stats_new(void)
{
    stats_t *st = xcalloc(1, sizeof *st);
    entry_init(&st->total, "", "Aggregated");
    st->start_time = wall_now();
    return st;
}

static void drop_errors(stats_t *st)
{
    for (size_t i = 0; i < st->nerr; i++) {
        stats_error_t *e = st->errlist[i];
        xfree(e->method);
        xfree(e->name);
        xfree(e->error);
        xfree(e);
    }
    st->nerr = 0;
    table_free(&st->errs);
}

void stats_clear_exceptions(stats_t *st)
{
    life_fold_exceptions(st);
    for (size_t i = 0; i < st->nexc; i++) {
        stats_exception_t *x = st->exclist[i];
        xfree(x->msg);
        xfree(x->traceback);
        xfree(x->nodes);
        xfree(x);
    }
    st->nexc = 0;
    table_free(&st->excs);
}

void stats_free(stats_t *st)
{
    if (!st) return;
    for (size_t i = 0; i < st->nsorted; i++) {
        entry_fini(st->sorted[i]);
        xfree(st->sorted[i]);
    }
    entry_fini(&st->total);
    drop_errors(st);
    stats_clear_exceptions(st);
    table_free(&st->rows);
    xfree(st->sorted);
    xfree(st->errlist);
    xfree(st->exclist);
    xfree(st);
}

void stats_reset(stats_t *st, double now_unix)
{
    life_fold(st); /* Prometheus counters never go down (life.h) */
    for (size_t i = 0; i < st->nsorted; i++)
        entry_zero(st->sorted[i]);
    entry_zero(&st->total);
    drop_errors(st);
    st->cut = 0;
    st->late = st->dropped = 0;
    st->start_time = now_unix;
}

double stats_start_time(const stats_t *st)
{
    return st->start_time;
}

static int entry_cmp(const void *a, const void *b)
{
    const stats_entry_t *x = *(stats_entry_t *const *)a, *y = *(stats_entry_t *const *)b;
    int c = strcmp(x->name, y->name);
    return c ? c : strcmp(x->method, y->method);
}

static int error_cmp(const void *a, const void *b)
{
    const stats_error_t *x = *(stats_error_t *const *)a, *y = *(stats_error_t *const *)b;
    int c = strcmp(x->name, y->name);
    if (!c) c = strcmp(x->method, y->method);
    return c ? c : strcmp(x->error, y->error);
}

stats_entry_t *stats_main_entry(stats_t *st, const char *method, const char *name)
{
    uint64_t h = table_hash(method, name, NULL);
    stats_entry_t *e = table_get(&st->rows, h, entry_eq, method, name, NULL);
    if (e) return e;
    e = xmalloc(sizeof *e);
    entry_init(e, method, name);
    table_put(&st->rows, h, e);
    st->sorted = xrealloc(st->sorted, (st->nsorted + 1) * sizeof *st->sorted);
    st->sorted[st->nsorted++] = e;
    /* sorted when next read: sorting here made a report of n new names
     * cost n sorts (20,000 names froze a master for 20 s) */
    st->rows_unsorted = true;
    return e;
}

bool stats_has_entry(const stats_t *st, const char *method, const char *name)
{
    uint64_t h = table_hash(method, name, NULL);
    return table_get(&st->rows, h, entry_eq, method, name, NULL) != NULL;
}

size_t stats_rows(const stats_t *st)
{
    return st->nsorted;
}

bool stats_has_error(const stats_t *st, const char *method, const char *name, const char *error)
{
    uint64_t h = table_hash(method, name, error);
    return table_get(&st->errs, h, error_eq, method, name, error) != NULL;
}

size_t stats_error_rows(const stats_t *st)
{
    return st->nerr;
}

/* Add one shard row into a main row (its own, or Aggregated). */
static void entry_add(stats_entry_t *e, const shard_row_t *r)
{
    uint64_t timed = r->num_requests - r->num_none;
    if (timed) {
        double mn = (double)r->min_us / 1000.0, mx = (double)r->max_us / 1000.0;
        if (e->num_requests - e->num_none_requests == 0 || mn < e->min_response_time_ms)
            e->min_response_time_ms = mn;
        if (mx > e->max_response_time_ms) e->max_response_time_ms = mx;
        e->total_response_time_ms += (double)r->total_us / 1000.0;
        hist_merge(e->hist, r->hist);
        window_add(e->window, (int64_t)r->last_ts, r->hist);
    }
    e->num_requests += r->num_requests;
    e->num_none_requests += r->num_none;
    e->num_failures += r->num_failures;
    e->total_content_length += r->content;
    if (r->last_ts > e->last_request_ts) e->last_request_ts = r->last_ts;
    for (int i = 0; i < STATS_RING; i++) {
        if (r->sec_reqs[i] || r->sec_fails[i])
            stats_ring_add(e->sec_key, e->sec_reqs, e->sec_fails, r->sec_key[i], r->sec_reqs[i],
                           r->sec_fails[i]);
    }
}

void stats_merge(stats_t *st, stats_shard_t *shard)
{
    if (!shard->pending) return;
    for (size_t i = 0; i < shard->rows.cap; i++) {
        shard_row_t *r = shard->rows.items[i];
        if (!r || !r->dirty) continue;
        if (st) { /* NULL: stats_shard_clear */
            entry_add(stats_main_entry(st, r->method, r->name), r);
            entry_add(&st->total, r);
        }
        r->dirty = false;
        r->num_requests = r->num_none = r->num_failures = 0;
        r->total_us = r->min_us = r->max_us = r->content = 0;
        r->last_ts = 0;
        hist_reset(r->hist);
        memset(r->sec_reqs, 0, sizeof r->sec_reqs);
        memset(r->sec_fails, 0, sizeof r->sec_fails);
    }
    for (size_t i = 0; i < shard->errs.cap; i++) {
        shard_err_t *se = shard->errs.items[i];
        if (!se || !se->count) continue;
        if (st) stats_error_add(st, se->method, se->name, se->error, se->count);
        se->count = 0;
    }
    for (size_t i = 0; i < shard->excs.cap; i++) {
        shard_exc_t *sx = shard->excs.items[i];
        if (!sx || !sx->count) continue;
        if (st) stats_exception_add(st, sx->msg, sx->traceback, "local", sx->count);
        sx->count = 0;
    }
    if (st) st->cut += shard->cut;
    if (st) st->late += shard->late, st->dropped += shard->dropped;
    shard->cut = shard->late = shard->dropped = 0;
    shard->pending = 0;
}

void stats_add_cut(stats_t *st, uint64_t n)
{
    st->cut += n;
}

uint64_t stats_cut(const stats_t *st)
{
    return st->cut;
}

void stats_add_open(stats_t *st, uint64_t late, uint64_t dropped)
{
    st->late += late;
    st->dropped += dropped;
}

uint64_t stats_late(const stats_t *st)
{
    return st->late;
}

uint64_t stats_dropped(const stats_t *st)
{
    return st->dropped;
}

void stats_exception_add(stats_t *st, const char *msg, const char *traceback, const char *node,
                         uint64_t count)
{
    uint64_t h = table_hash(traceback, NULL, NULL);
    stats_exception_t *x = table_get(&st->excs, h, exception_eq, traceback, NULL, NULL);
    if (!x) {
        x = xcalloc(1, sizeof *x);
        x->msg = xstrdup(msg);
        x->traceback = xstrdup(traceback);
        x->nodes = xstrdup(node);
        table_put(&st->excs, h, x);
        st->exclist = xrealloc(st->exclist, (st->nexc + 1) * sizeof *st->exclist);
        st->exclist[st->nexc++] = x;
    } else {
        /* nodes is Locust's set joined with ", ": add node if not there */
        size_t len = strlen(node);
        bool found = false;
        for (const char *p = x->nodes; *p;) {
            const char *end = strstr(p, ", ");
            size_t l = end ? (size_t)(end - p) : strlen(p);
            if (l == len && memcmp(p, node, len) == 0) found = true;
            p = end ? end + 2 : p + l;
        }
        size_t old = strlen(x->nodes);
        /* a worker names itself: a hostile one could grow this forever */
        if (!found && old + 2 + len > STATS_MAX_NODES_LEN) {
            if (old < 5 || strcmp(x->nodes + old - 5, ", ...") != 0) {
                x->nodes = xrealloc(x->nodes, old + 6);
                memcpy(x->nodes + old, ", ...", 6);
            }
        } else if (!found) {
            x->nodes = xrealloc(x->nodes, old + 2 + len + 1);
            memcpy(x->nodes + old, ", ", 2);
            memcpy(x->nodes + old + 2, node, len + 1);
        }
    }
    x->count += count;
}

stats_entry_t **stats_entries(stats_t *st, size_t *n)
{
    if (st->rows_unsorted) qsort(st->sorted, st->nsorted, sizeof *st->sorted, entry_cmp);
    st->rows_unsorted = false;
    *n = st->nsorted;
    return st->sorted;
}

stats_entry_t *stats_total(stats_t *st)
{
    return &st->total;
}

stats_error_t **stats_errors(stats_t *st, size_t *n)
{
    if (st->errs_unsorted) qsort(st->errlist, st->nerr, sizeof *st->errlist, error_cmp);
    st->errs_unsorted = false;
    *n = st->nerr;
    return st->errlist;
}

stats_exception_t **stats_exceptions(stats_t *st, size_t *n)
{
    *n = st->nexc;
    return st->exclist;
}

/* ---- deltas from other nodes ---- */

void stats_merge_delta(stats_t *st, const stats_delta_t *d, bool aggregated)
{
    stats_entry_t *e = aggregated ? &st->total : stats_main_entry(st, d->method, d->name);
    uint64_t timed_n =
        d->num_requests >= d->num_none_requests ? d->num_requests - d->num_none_requests : 0;
    if (timed_n) {
        if (e->num_requests - e->num_none_requests == 0 ||
            d->min_response_time_ms < e->min_response_time_ms)
            e->min_response_time_ms = d->min_response_time_ms;
        if (d->max_response_time_ms > e->max_response_time_ms)
            e->max_response_time_ms = d->max_response_time_ms;
    }
    e->total_response_time_ms += d->total_response_time_ms;
    /* a worker's clock is not ours to trust: (int64_t) of 1e144 is undefined */
    double last =
        d->last_request_ts > 0 && d->last_request_ts <= STATS_MAX_TS ? d->last_request_ts : 0;
    if (d->hist) {
        hist_merge(e->hist, d->hist);
        /* a report covers a few seconds: its times go to the second of its
         * last request, as a shard's do */
        window_add(e->window, (int64_t)(last > 0 ? last : wall_now()), d->hist);
    }
    e->num_requests += d->num_requests;
    e->num_none_requests += d->num_none_requests;
    e->num_failures += d->num_failures;
    e->total_content_length += d->total_content_length;
    if (last > e->last_request_ts) e->last_request_ts = last;
    for (size_t i = 0; i < d->nsecs; i++)
        stats_ring_add(e->sec_key, e->sec_reqs, e->sec_fails, d->secs[i],
                       d->sec_reqs ? d->sec_reqs[i] : 0, d->sec_fails ? d->sec_fails[i] : 0);
}

void stats_error_add(stats_t *st, const char *method, const char *name, const char *error,
                     uint64_t n)
{
    uint64_t h = table_hash(method, name, error);
    stats_error_t *e = table_get(&st->errs, h, error_eq, method, name, error);
    if (!e) {
        e = xcalloc(1, sizeof *e);
        e->method = xstrdup(method);
        e->name = xstrdup(name);
        e->error = xstrdup(error);
        table_put(&st->errs, h, e);
        st->errlist = xrealloc(st->errlist, (st->nerr + 1) * sizeof *st->errlist);
        st->errlist[st->nerr++] = e;
        st->errs_unsorted = true;
    }
    e->occurrences += n;
}
