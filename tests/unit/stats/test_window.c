/* Unit tests for the recent-seconds window: many histograms landing in one
 * second merge into one sorted list (its size stays the number of distinct
 * buckets), and percentiles over the window equal those of one histogram
 * holding everything. Includes window.c to see the slot sizes. */
#include <stdlib.h>

#include "check.h"
#include "stats/window.c"

int main(void)
{
    srand(11);
    window_t *w = window_new();
    hist_t *all = hist_new(), *h = hist_new();
    int64_t now = 1000;
    /* 300 reports into each of 3 seconds, like 100 workers x 3 s */
    for (int sec = 0; sec < 3; sec++) {
        for (int r = 0; r < 300; r++) {
            hist_reset(h);
            int n = 1 + rand() % 50;
            for (int i = 0; i < n; i++) {
                uint64_t us = 100 + (uint64_t)(rand() % 200000);
                hist_record(h, us);
                hist_record(all, us);
            }
            window_add(w, now - sec, h);
        }
    }
    uint32_t distinct = 0;
    for (int i = hist_next(all, -1); i >= 0; i = hist_next(all, i))
        distinct++;
    for (int s = 0; s < WIN_SLOTS; s++) {
        CHECK(w->slot[s].n <= distinct);
        for (uint32_t k = 1; k < w->slot[s].n; k++)
            CHECK(w->slot[s].pairs[k - 1].idx < w->slot[s].pairs[k].idx);
    }
    static const double ps[] = {0.0, 0.1, 0.5, 0.66, 0.9, 0.95, 0.99, 0.999, 1.0};
    for (size_t i = 0; i < sizeof ps / sizeof *ps; i++) {
        int bucket = -2;
        CHECK(window_percentile(w, now, ps[i], &bucket));
        /* the same descending walk over the combined histogram */
        uint64_t n = hist_count(all), k = (uint64_t)((double)n * ps[i]), acc = 0;
        int want = -1;
        for (int b = hist_prev(all, HIST_NBUCKETS); b >= 0; b = hist_prev(all, b)) {
            acc += hist_bucket_count(all, b);
            if (n - acc <= k) {
                want = b;
                break;
            }
        }
        CHECK_MSG(bucket == want, "p=%g: bucket %d, want %d", ps[i], bucket, want);
    }
    /* seconds outside [now-9, now] do not count */
    int b;
    CHECK(!window_percentile(w, now + 20, 0.5, &b));
    window_free(w);
    hist_free(all);
    hist_free(h);
    return check_done();
}
