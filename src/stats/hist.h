/* hist: a log-linear histogram of response times in microseconds.
 *
 * HdrHistogram's idea, our own layout: values below 256 µs get a bucket
 * each (exact); above that, every power of two [2^k, 2^(k+1)) is cut into
 * 128 equal sub-buckets of width 2^(k-7). A bucket's representative value
 * is its midpoint, so the relative error of any reported value is at most
 * half a bucket width over the bucket's low end: 2^(k-8) / 2^k = 1/256,
 * i.e. ≤ 0.39% (comfortably under 1%). The range covers 0 .. 2^36-1 µs
 * (about 19 hours); larger values are clamped into the top bucket.
 *
 * Memory is fixed (HIST_NBUCKETS uint64 counts, 30 KB) and allocated once;
 * recording is an index computation and an increment. The histogram
 * remembers the lowest and highest non-empty bucket, so reset, merge and
 * iteration touch only the used range. Not thread-safe: one owner. */
#ifndef CICADA_HIST_H
#define CICADA_HIST_H

#include <stdint.h>

#define HIST_SUB_BITS 7 /* 128 sub-buckets per power of two */
#define HIST_SUB (1 << HIST_SUB_BITS)
#define HIST_MAX_BITS 36 /* values < 2^36 µs are in range */
#define HIST_NBUCKETS (HIST_SUB * (HIST_MAX_BITS - HIST_SUB_BITS + 1))
#define HIST_MAX_VALUE ((UINT64_C(1) << HIST_MAX_BITS) - 1)

typedef struct hist hist_t;

/* A new empty histogram; free it with hist_free(). */
hist_t *hist_new(void);
/* Free h (NULL is fine). */
void hist_free(hist_t *h);
/* Empty h, keeping its memory. */
void hist_reset(hist_t *h);

/* Count one value (µs); values above HIST_MAX_VALUE count in the top bucket. */
void hist_record(hist_t *h, uint64_t us);
/* Add n counts to bucket index i (0 <= i < HIST_NBUCKETS). */
void hist_add(hist_t *h, int i, uint64_t n);
/* Add every count of src into dst; src is unchanged. */
void hist_merge(hist_t *dst, const hist_t *src);
/* Total number of values recorded. */
uint64_t hist_count(const hist_t *h);

/* Bucket index of a value (clamped), and a bucket's representative value
 * (its midpoint in µs; the value itself below 256 µs). */
int hist_index(uint64_t us);
uint64_t hist_bucket_value(int i);
/* The largest value (µs) bucket i holds: i itself below 256 µs, else its
 * low end plus its width minus one (the top bucket also holds the clamped
 * values above HIST_MAX_VALUE). */
uint64_t hist_bucket_high(int i);
/* Count in bucket i. */
uint64_t hist_bucket_count(const hist_t *h, int i);

/* Iteration over non-empty buckets. hist_next(h, -1) is the lowest,
 * hist_next(h, i) the next above i; hist_prev(h, HIST_NBUCKETS) is the
 * highest, hist_prev(h, i) the next below i. Both return -1 at the end:
 *   for (int i = hist_next(h, -1); i >= 0; i = hist_next(h, i)) ... */
int hist_next(const hist_t *h, int i);
int hist_prev(const hist_t *h, int i);

/* The representative value (µs) of the bucket holding the value of rank
 * ceil(p * count) (at least 1) in ascending order, p in [0, 1]; 0 if h is
 * empty. Its distance to the exact value of that rank is ≤ 1/256 of it. */
uint64_t hist_value_at_percentile(const hist_t *h, double p);

/* Locust's k = int(n * p) for the descending percentile walk, kept in
 * [0, n]: for a count near 2^64 the double product rounds up past it, and
 * converting that to an integer would be undefined. */
static inline uint64_t hist_rank(uint64_t n, double p)
{
    double k = (double)n * p;
    if (!(k > 0)) return 0;
    return k >= (double)n ? n : (uint64_t)k;
}

#endif
