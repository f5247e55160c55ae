/* life: lifetime figures of the rows (see life.h for the rules).
 *
 * A row's carry is a stats_life_t behind stats_entry_t.life, NULL until
 * the row is first folded with something in it. Folding walks the row's
 * non-empty histogram buckets (hist_next) and adds each count to its
 * fixed bound; life_get() does the same walk over what the row holds now
 * and adds the carry. The map from histogram bucket to fixed bound is a
 * binary search over the 18 bounds: folding and reading happen once per
 * reset or scrape, never per request. */
#include "stats/life.h"

#include <string.h>

#include "base/alloc.h"
#include "stats/stats_int.h"

const uint64_t life_le_us[LIFE_NLE] = {
    100,    250,    500,    1000,    2500,    5000,    10000,    25000,    50000,
    100000, 250000, 500000, 1000000, 2500000, 5000000, 10000000, 30000000, 60000000,
};

int life_bucket(int hist_index)
{
    uint64_t high = hist_bucket_high(hist_index);
    int lo = 0, hi = LIFE_NLE; /* the answer is in [lo, hi] */
    while (lo < hi) {
        int mid = (lo + hi) / 2;
        if (life_le_us[mid] >= high)
            hi = mid;
        else
            lo = mid + 1;
    }
    return lo;
}

/* Add what e holds now into *out. */
static void add_current(const stats_entry_t *e, stats_life_t *out)
{
    out->requests += e->num_requests;
    out->failures += e->num_failures;
    out->content_length += e->total_content_length;
    out->response_time_ms += e->total_response_time_ms;
    const hist_t *h = e->hist;
    for (int i = hist_next(h, -1); i >= 0; i = hist_next(h, i)) {
        uint64_t n = hist_bucket_count(h, i);
        out->le[life_bucket(i)] += n;
        out->timed += n;
    }
}

void life_get(const stats_entry_t *e, stats_life_t *out)
{
    if (e->life)
        *out = *e->life;
    else
        memset(out, 0, sizeof *out);
    add_current(e, out);
}

uint64_t life_exceptions(const stats_t *st)
{
    uint64_t n = st->life_exceptions;
    for (size_t i = 0; i < st->nexc; i++)
        n += st->exclist[i]->count;
    return n;
}

static void fold_entry(stats_entry_t *e)
{
    if (e->num_requests == 0 && hist_count(e->hist) == 0) return; /* nothing to carry */
    if (e->life == NULL) e->life = xcalloc(1, sizeof *e->life);
    add_current(e, e->life);
}

uint64_t life_late(const stats_t *st)
{
    return st->life_late + st->late;
}

uint64_t life_dropped(const stats_t *st)
{
    return st->life_dropped + st->dropped;
}

void life_fold(stats_t *st)
{
    st->life_late += st->late;
    st->life_dropped += st->dropped;
    for (size_t i = 0; i < st->nsorted; i++)
        fold_entry(st->sorted[i]);
    fold_entry(&st->total);
}

void life_fold_exceptions(stats_t *st)
{
    for (size_t i = 0; i < st->nexc; i++)
        st->life_exceptions += st->exclist[i]->count;
}

void life_free(stats_entry_t *e)
{
    xfree(e->life);
    e->life = NULL;
}
