/* hist: log-linear histogram (see hist.h for the layout and error bound).
 *
 * Index of a value v: below 256 it is v itself. Above, with k = floor(log2 v)
 * and shift = k - 7, it is shift * 128 + (v >> shift): v >> shift lies in
 * [128, 256), so each power of two gets 128 consecutive indexes and the
 * layout continues the exact range without a gap. lo/hi bound the
 * non-empty buckets (lo > hi when empty) so that the common cases (reset
 * of a shard's histogram after one second, iteration, merge) never sweep
 * the full 3840 buckets. */
#include "stats/hist.h"

#include <string.h>

#include "base/alloc.h"

struct hist {
    uint64_t total;
    int lo, hi; /* lowest and highest non-empty index; lo > hi when empty */
    uint64_t counts[HIST_NBUCKETS];
};

hist_t *hist_new(void)
{
    hist_t *h = xcalloc(1, sizeof *h);
    h->lo = HIST_NBUCKETS;
    h->hi = -1;
    return h;
}

void hist_free(hist_t *h)
{
    xfree(h);
}

void hist_reset(hist_t *h)
{
    if (h->lo <= h->hi)
        memset(&h->counts[h->lo], 0, (size_t)(h->hi - h->lo + 1) * sizeof h->counts[0]);
    h->total = 0;
    h->lo = HIST_NBUCKETS;
    h->hi = -1;
}

int hist_index(uint64_t us)
{
    if (us > HIST_MAX_VALUE) us = HIST_MAX_VALUE;
    if (us < 2 * HIST_SUB) return (int)us;
    int k = 63 - __builtin_clzll(us);
    int shift = k - HIST_SUB_BITS;
    return shift * HIST_SUB + (int)(us >> shift);
}

uint64_t hist_bucket_value(int i)
{
    if (i < 2 * HIST_SUB) return (uint64_t)i;
    int shift = (i >> HIST_SUB_BITS) - 1;
    uint64_t low = (uint64_t)((i & (HIST_SUB - 1)) + HIST_SUB) << shift;
    return low + (UINT64_C(1) << shift) / 2;
}

uint64_t hist_bucket_high(int i)
{
    if (i < 2 * HIST_SUB) return (uint64_t)i;
    int shift = (i >> HIST_SUB_BITS) - 1;
    uint64_t low = (uint64_t)((i & (HIST_SUB - 1)) + HIST_SUB) << shift;
    return low + (UINT64_C(1) << shift) - 1;
}

void hist_add(hist_t *h, int i, uint64_t n)
{
    if (n == 0) return;
    h->counts[i] += n;
    h->total += n;
    if (i < h->lo) h->lo = i;
    if (i > h->hi) h->hi = i;
}

void hist_record(hist_t *h, uint64_t us)
{
    hist_add(h, hist_index(us), 1);
}

void hist_merge(hist_t *dst, const hist_t *src)
{
    for (int i = src->lo; i <= src->hi; i++) {
        if (src->counts[i]) dst->counts[i] += src->counts[i];
    }
    if (src->lo < dst->lo) dst->lo = src->lo;
    if (src->hi > dst->hi) dst->hi = src->hi;
    dst->total += src->total;
}

uint64_t hist_count(const hist_t *h)
{
    return h->total;
}

uint64_t hist_bucket_count(const hist_t *h, int i)
{
    return h->counts[i];
}

int hist_next(const hist_t *h, int i)
{
    for (i = i < h->lo ? h->lo : i + 1; i <= h->hi; i++) {
        if (h->counts[i]) return i;
    }
    return -1;
}

int hist_prev(const hist_t *h, int i)
{
    for (i = i > h->hi ? h->hi : i - 1; i >= h->lo; i--) {
        if (h->counts[i]) return i;
    }
    return -1;
}

uint64_t hist_value_at_percentile(const hist_t *h, double p)
{
    if (h->total == 0) return 0;
    if (p < 0) p = 0;
    if (p > 1) p = 1;
    double r = p * (double)h->total;
    uint64_t rank = (uint64_t)r;
    if ((double)rank < r) rank++; /* ceil */
    if (rank < 1) rank = 1;
    if (rank > h->total) rank = h->total;
    uint64_t seen = 0;
    for (int i = hist_next(h, -1); i >= 0; i = hist_next(h, i)) {
        seen += h->counts[i];
        if (seen >= rank) return hist_bucket_value(i);
    }
    return hist_bucket_value(h->hi);
}
