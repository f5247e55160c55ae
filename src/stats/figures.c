/* figures: Locust's derived figures, computed from stats_t on demand.
 *
 * Nothing here is stored: every figure is read off an entry's sums, its
 * histogram, its per-second ring or its window each time it is asked for,
 * following Locust 2.12.1 (research/locust-stats.md). The median walks the
 * histogram up to the float position (n-1)/2 and is clamped to the exact
 * min and max; percentiles walk down with k = int(n*p) and are bucket
 * midpoints, clamped to min and max too (a midpoint may lie past the
 * largest value of its bucket; 0 when the walk ends below the timed
 * requests stays 0, as in Locust). Current rates average the ring's seconds in
 * [last-12, last-2) (not before start_time), where last is the Aggregated
 * row's last request; total rates divide by (last - start_time). Current
 * percentiles come from the window (window.h). All times are ms. */
#include <stdbool.h>
#include <stdint.h>

#include "stats/stats.h"
#include "stats/stats_int.h"
#include "stats/window.h"

static uint64_t timed(const stats_entry_t *e)
{
    return e->num_requests - e->num_none_requests;
}

double stats_avg(const stats_entry_t *e)
{
    return timed(e) ? e->total_response_time_ms / (double)timed(e) : 0.0;
}

double stats_min(const stats_entry_t *e)
{
    return timed(e) ? e->min_response_time_ms : 0.0;
}

double stats_avg_content(const stats_entry_t *e)
{
    return e->num_requests ? (double)e->total_content_length / (double)e->num_requests : 0.0;
}

double stats_fail_ratio(const stats_entry_t *e)
{
    if (e->num_requests) return (double)e->num_failures / (double)e->num_requests;
    return e->num_failures ? 1.0 : 0.0;
}

static double bucket_ms(int i)
{
    return (double)hist_bucket_value(i) / 1000.0;
}

/* A value read off the histogram, within the exact min and max: a bucket's
 * midpoint may lie past the largest value in it (3006 for a max of
 * 3001.4), and no percentile may show more than Max or less than Min. */
static double clamp_ms(const stats_entry_t *e, double v)
{
    if (timed(e) == 0) return v;
    if (v > e->max_response_time_ms) return e->max_response_time_ms;
    if (v < e->min_response_time_ms) return e->min_response_time_ms;
    return v;
}

double stats_median(const stats_entry_t *e)
{
    if (hist_count(e->hist) == 0) return 0.0;
    /* median_from_dict(): the float position (n-1)/2, ascending */
    double pos = ((double)timed(e) - 1) / 2, med = 0;
    for (int i = hist_next(e->hist, -1); i >= 0; i = hist_next(e->hist, i)) {
        double c = (double)hist_bucket_count(e->hist, i);
        med = bucket_ms(i);
        if (pos < c) break;
        pos -= c;
    }
    return clamp_ms(e, med); /* the bucket is approximate, min and max are exact */
}

double stats_percentile(const stats_entry_t *e, double p)
{
    uint64_t n = e->num_requests, k = hist_rank(n, p), acc = 0;
    for (int i = hist_prev(e->hist, HIST_NBUCKETS); i >= 0; i = hist_prev(e->hist, i)) {
        acc += hist_bucket_count(e->hist, i);
        if (n - acc <= k) return clamp_ms(e, bucket_ms(i));
    }
    return 0.0;
}

static uint32_t sec_count(const stats_entry_t *e, int64_t s, bool fails)
{
    size_t i = stats_ring_slot(s);
    if (e->sec_key[i] != s) return 0;
    return fails ? e->sec_fails[i] : e->sec_reqs[i];
}

static double current(const stats_t *st, const stats_entry_t *e, bool fails)
{
    double last_ts = st->total.last_request_ts;
    if (last_ts <= 0) return 0.0;
    int64_t last = (int64_t)last_ts, start = last - 12;
    if ((int64_t)st->start_time > start) start = (int64_t)st->start_time;
    double sum = 0;
    int64_t len = 0;
    for (int64_t s = start; s < last - 2; s++, len++)
        sum += sec_count(e, s, fails);
    return sum / (double)(len > 1 ? len : 1);
}

double stats_current_rps(const stats_t *st, const stats_entry_t *e)
{
    return current(st, e, false);
}

double stats_current_fail_per_sec(const stats_t *st, const stats_entry_t *e)
{
    return current(st, e, true);
}

static double total_rate(const stats_t *st, uint64_t n)
{
    double last = st->total.last_request_ts;
    if (last <= 0 || st->start_time <= 0 || last == st->start_time) return 0.0;
    return (double)n / (last - st->start_time);
}

double stats_total_rps(const stats_t *st, const stats_entry_t *e)
{
    return total_rate(st, e->num_requests);
}

double stats_total_fail_per_sec(const stats_t *st, const stats_entry_t *e)
{
    return total_rate(st, e->num_failures);
}

bool stats_current_percentile(const stats_t *st, const stats_entry_t *e, double p, int64_t now_unix,
                              double *out)
{
    int i;
    if (!window_percentile(e->window, now_unix, p, &i)) return false;
    /* the window's values lie within the whole run's min and max */
    *out = i >= 0 ? clamp_ms(e, bucket_ms(i)) : 0.0;
    return true;
}
