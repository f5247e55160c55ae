/* shard: one engine thread's statistics since the last merge.
 *
 * A shard is filled by its engine thread alone, so recording a request
 * neither locks nor allocates once its row exists: the row of (method,
 * name) is found in an open-addressing table (table.h), or is the row of
 * the previous request (a task often repeats its request), and gets the
 * sums, the histogram and the per-second ring. Failures and exceptions are
 * counted under copied keys that stay after a merge, so a recurring error
 * costs no allocation either. The main thread takes a full shard,
 * merges it (stats.c, stats_merge, which zeroes it) and hands it back. */
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "stats/stats.h"
#include "stats/stats_int.h"
#include "stats/table.h"

static bool row_eq(const void *item, const char *a, const char *b, const char *c)
{
    const shard_row_t *r = item;
    return str_eq(r->method, a) && str_eq(r->name, b);
}
static bool err_eq(const void *item, const char *a, const char *b, const char *c)
{
    const shard_err_t *e = item;
    return str_eq(e->method, a) && str_eq(e->name, b) && str_eq(e->error, c);
}
static bool exc_eq(const void *item, const char *a, const char *b, const char *c)
{
    return str_eq(((const shard_exc_t *)item)->traceback, a);
}

stats_shard_t *stats_shard_new(void)
{
    return xcalloc(1, sizeof(stats_shard_t));
}

void stats_shard_free(stats_shard_t *s)
{
    if (!s) return;
    for (size_t i = 0; i < s->rows.cap; i++) {
        shard_row_t *r = s->rows.items[i];
        if (!r) continue;
        xfree(r->method);
        xfree(r->name);
        hist_free(r->hist);
        xfree(r);
    }
    for (size_t i = 0; i < s->errs.cap; i++) {
        shard_err_t *e = s->errs.items[i];
        if (!e) continue;
        xfree(e->method);
        xfree(e->name);
        xfree(e->error);
        xfree(e);
    }
    for (size_t i = 0; i < s->excs.cap; i++) {
        shard_exc_t *x = s->excs.items[i];
        if (!x) continue;
        xfree(x->msg);
        xfree(x->traceback);
        xfree(x);
    }
    table_free(&s->rows);
    table_free(&s->errs);
    table_free(&s->excs);
    xfree(s);
}

/* Add to a per-second ring (stats_int.h). A slot still holding an older
 * second is taken over (that second is over 32 s old, outside every
 * window); a count for a second older than the slot's is dropped for the
 * same reason. */
void stats_ring_add(int64_t *key, uint32_t *reqs, uint32_t *fails, int64_t sec, uint32_t nreq,
                    uint32_t nfail)
{
    size_t i = stats_ring_slot(sec);
    if (key[i] != sec) {
        if (key[i] > sec && (reqs[i] || fails[i])) return;
        key[i] = sec;
        reqs[i] = fails[i] = 0;
    }
    reqs[i] += nreq;
    fails[i] += nfail;
}

/* The row of (method, name) in s, made on first use. */
static shard_row_t *shard_row(stats_shard_t *s, const char *method, const char *name)
{
    uint64_t h = table_hash(method, name, NULL);
    shard_row_t *r = table_get(&s->rows, h, row_eq, method, name, NULL);
    if (!r) {
        r = xcalloc(1, sizeof *r);
        r->method = xstrdup(method);
        r->name = xstrdup(name);
        r->hist = hist_new();
        table_put(&s->rows, h, r);
    }
    return r;
}

void stats_shard_request(stats_shard_t *s, const char *method, const char *name, int64_t rt_us,
                         int64_t length, const char *err, double now)
{
    shard_row_t *r = s->last; /* the same row again: no hash, no probe */
    if (!r || !row_eq(r, method, name, NULL)) r = s->last = shard_row(s, method, name);
    r->dirty = true;
    r->num_requests++;
    if (rt_us < 0) {
        r->num_none++;
    } else {
        uint64_t us = (uint64_t)rt_us;
        if (r->num_requests - r->num_none == 1 || us < r->min_us) r->min_us = us;
        if (us > r->max_us) r->max_us = us;
        r->total_us += us;
        hist_record(r->hist, us);
    }
    if (length > 0) r->content += (uint64_t)length;
    if (now > r->last_ts) r->last_ts = now;
    stats_ring_add(r->sec_key, r->sec_reqs, r->sec_fails, (int64_t)now, 1, err ? 1 : 0);
    s->pending++;
    if (!err) return;

    r->num_failures++;
    uint64_t h = table_hash(method, name, err);
    shard_err_t *e = table_get(&s->errs, h, err_eq, method, name, err);
    if (!e) {
        e = xcalloc(1, sizeof *e);
        e->method = xstrdup(method);
        e->name = xstrdup(name);
        e->error = xstrdup(err);
        table_put(&s->errs, h, e);
    }
    e->count++;
}

void stats_shard_cut(stats_shard_t *s)
{
    s->cut++;
    s->pending++;
}

void stats_shard_iteration(stats_shard_t *s, bool late, bool dropped)
{
    s->late += late;
    s->dropped += dropped;
    s->pending++;
}

void stats_shard_exception(stats_shard_t *s, const char *msg, const char *traceback)
{
    uint64_t h = table_hash(traceback, NULL, NULL);
    shard_exc_t *x = table_get(&s->excs, h, exc_eq, traceback, NULL, NULL);
    if (!x) {
        x = xcalloc(1, sizeof *x);
        x->msg = xstrdup(msg);
        x->traceback = xstrdup(traceback);
        table_put(&s->excs, h, x);
    }
    x->count++;
    s->pending++;
}

bool stats_shard_empty(const stats_shard_t *s)
{
    return s->pending == 0;
}

uint64_t stats_shard_epoch(const stats_shard_t *s)
{
    return s->epoch;
}

void stats_shard_set_epoch(stats_shard_t *s, uint64_t epoch)
{
    s->epoch = epoch;
}

void stats_shard_clear(stats_shard_t *s)
{
    stats_merge(NULL, s);
}
