/* window: the recent seconds of one stats row's response times, for
 * Locust's "current" percentiles (stats_current_percentile).
 *
 * A window keeps 20 slots, one per unix second (the slot of second s is
 * s mod 20), each a sparse list of (histogram bucket, count) pairs: a
 * merged shard row or a worker's report is about one second of requests,
 * so its histogram is appended whole to the slot of the second of its last
 * request. A query gathers the slots of the last 10 seconds into one
 * sorted, summed list, cached until the window changes or the second moves
 * on. Not thread-safe: the main thread's stats_t owns every window. */
#ifndef CICADA_WINDOW_H
#define CICADA_WINDOW_H

#include <stdbool.h>
#include <stdint.h>

#include "stats/hist.h"

typedef struct window window_t;

/* A new empty window; free it with window_free(). */
window_t *window_new(void);
/* Free w (NULL is fine). */
void window_free(window_t *w);
/* Forget every second (stats_reset); the memory is kept for reuse. */
void window_clear(window_t *w);

/* Add h's counts to second sec. A second older than the one its slot now
 * holds is dropped (it is outside every window). h is only read. */
void window_add(window_t *w, int64_t sec, const hist_t *h);

/* Percentile p in [0,1] of the counts in seconds now-9 .. now: the
 * descending walk with k = int(n*p), as stats_percentile. Returns false if
 * those seconds hold no count; else true with *bucket the hist.h bucket
 * index found (-1 if none). */
bool window_percentile(window_t *w, int64_t now, double p, int *bucket);

#endif
