/* window: see window.h.
 *
 * Each slot's pairs are appended in bucket order, one run per merge, and
 * grow by doubling; nothing is summed on the way in, so a merge costs only
 * the buckets it touched. window_gather() copies the live slots into one
 * array, sorts it by bucket and sums equal buckets; the result is kept with
 * the (now, version) it was made for, so the percentiles of one report
 * cost one gather. */
#include "stats/window.h"

#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#define WIN_SLOTS 20
#define WIN_SECONDS 10

typedef struct pair {
    uint32_t idx, count;
} pair_t;

typedef struct win_slot {
    int64_t sec;
    uint32_t n, cap;
    pair_t *pairs;
} win_slot_t;

struct window {
    win_slot_t slot[WIN_SLOTS];
    uint64_t version; /* bumped on every change, for the cache below */
    /* the merged, sorted pairs of the last query */
    pair_t *merged;
    uint32_t nmerged, capmerged;
    uint64_t merged_total, merged_version;
    int64_t merged_now;
};

window_t *window_new(void)
{
    return xcalloc(1, sizeof(window_t));
}

void window_free(window_t *w)
{
    if (!w) return;
    for (int i = 0; i < WIN_SLOTS; i++)
        xfree(w->slot[i].pairs);
    xfree(w->merged);
    xfree(w);
}

void window_clear(window_t *w)
{
    for (int i = 0; i < WIN_SLOTS; i++) {
        w->slot[i].n = 0;
        w->slot[i].sec = 0;
    }
    w->version++;
}

static uint32_t clamp32(uint64_t c)
{
    return c > UINT32_MAX ? UINT32_MAX : (uint32_t)c;
}

/* Merge h into the slot: both are sorted by bucket, so one pass from the
 * back (equal buckets summed) keeps the slot as small as the number of
 * distinct buckets however many shards or worker reports land in the same
 * second. */
void window_add(window_t *w, int64_t sec, const hist_t *h)
{
    win_slot_t *s = &w->slot[(sec % WIN_SLOTS + WIN_SLOTS) % WIN_SLOTS];
    if (s->sec != sec) {
        if (s->sec > sec && s->n) return; /* older than anything kept */
        s->sec = sec;
        s->n = 0;
    }
    uint32_t k = 0;
    for (int i = hist_next(h, -1); i >= 0; i = hist_next(h, i))
        k++;
    if (k == 0) return;
    if (s->n + k > s->cap) {
        while (s->n + k > s->cap)
            s->cap = s->cap ? 2 * s->cap : 16;
        s->pairs = xrealloc(s->pairs, s->cap * sizeof *s->pairs);
    }
    int64_t a = (int64_t)s->n - 1;
    uint32_t end = s->n + k, out = end;
    int b = hist_prev(h, HIST_NBUCKETS);
    while (b >= 0 || a >= 0) {
        if (b >= 0 && (a < 0 || (uint32_t)b > s->pairs[a].idx)) {
            s->pairs[--out] = (pair_t){(uint32_t)b, clamp32(hist_bucket_count(h, b))};
            b = hist_prev(h, b);
        } else if (b >= 0 && (uint32_t)b == s->pairs[a].idx) {
            pair_t p = s->pairs[a--];
            p.count = clamp32((uint64_t)p.count + hist_bucket_count(h, b));
            s->pairs[--out] = p;
            b = hist_prev(h, b);
        } else {
            pair_t p = s->pairs[a--];
            s->pairs[--out] = p;
        }
    }
    s->n = end - out;
    if (out) memmove(s->pairs, s->pairs + out, s->n * sizeof *s->pairs);
    w->version++;
}

static int pair_cmp(const void *a, const void *b)
{
    const pair_t *x = a, *y = b;
    return (x->idx > y->idx) - (x->idx < y->idx);
}

/* Gather the seconds [now-9, now] into w->merged, sorted by bucket, with
 * equal buckets summed. Cached per (now, version). */
static void window_gather(window_t *w, int64_t now)
{
    if (w->merged_version == w->version && w->merged_now == now && w->merged) return;
    uint32_t n = 0;
    for (int i = 0; i < WIN_SLOTS; i++) {
        win_slot_t *s = &w->slot[i];
        if (!s->n || s->sec <= now - WIN_SECONDS || s->sec > now) continue;
        if (n + s->n > w->capmerged) {
            w->capmerged = 2 * (n + s->n);
            w->merged = xrealloc(w->merged, w->capmerged * sizeof *w->merged);
        }
        memcpy(w->merged + n, s->pairs, s->n * sizeof *s->pairs);
        n += s->n;
    }
    if (!w->merged) w->merged = xmalloc(sizeof *w->merged);
    qsort(w->merged, n, sizeof *w->merged, pair_cmp);
    uint32_t out = 0;
    uint64_t total = 0;
    for (uint32_t i = 0; i < n; i++) {
        total += w->merged[i].count;
        if (out && w->merged[out - 1].idx == w->merged[i].idx)
            w->merged[out - 1].count += w->merged[i].count;
        else
            w->merged[out++] = w->merged[i];
    }
    w->nmerged = out;
    w->merged_total = total;
    w->merged_now = now;
    w->merged_version = w->version;
}

bool window_percentile(window_t *w, int64_t now, double p, int *bucket)
{
    window_gather(w, now);
    uint64_t n = w->merged_total, k = hist_rank(n, p), acc = 0;
    if (n == 0) return false;
    for (uint32_t i = w->nmerged; i-- > 0;) {
        acc += w->merged[i].count;
        if (n - acc <= k) {
            *bucket = (int)w->merged[i].idx;
            return true;
        }
    }
    *bucket = -1;
    return true;
}
