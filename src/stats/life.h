/* life: each row's figures since the stats_t was created, which resets
 * do not clear, for exports that must only grow (Prometheus counters).
 *
 * stats_reset() zeroes the rows Locust-style (the UI's Reset, a new test,
 * --reset-stats); just before, stats.c calls life_fold(), which adds what
 * each row holds into the row's carry (allocated at its first fold). A
 * row's lifetime figures are its carry plus what it holds now, so they
 * never go down, and nothing measured before a reset is lost, even if
 * nobody read it in between. Exceptions are carried the same way when
 * stats_clear_exceptions() drops them.
 *
 * Response times are kept as counts over LIFE_NLE fixed bounds (plus one
 * above the top), not as a histogram (a row's full one is 30 KB): each
 * bucket of cicada's log-linear histogram (hist.h) goes whole into the
 * first bound at or above the largest value it can hold. So the count of
 * "le=b" is every request that certainly took at most b; a request in
 * the one histogram bucket that straddles b (within 1/128 of b below it)
 * counts in the next bound up. Bounds up to 255 µs are exact (a bucket
 * per microsecond). The mapping can show a request slower than it was,
 * never faster. Everything here runs on the stats_t's thread. */
#ifndef CICADA_LIFE_H
#define CICADA_LIFE_H

#include <stdint.h>

#include "stats/stats.h"

#define LIFE_NLE 18 /* fixed bounds, below the implicit +Inf */

/* The bounds in microseconds, ascending (100 µs .. 60 s). */
extern const uint64_t life_le_us[LIFE_NLE];

typedef struct stats_life {
    uint64_t requests, failures;
    uint64_t content_length;   /* bytes of response bodies */
    double response_time_ms;   /* sum over the timed requests */
    uint64_t timed;            /* timed requests: the sum of le[] */
    uint64_t le[LIFE_NLE + 1]; /* per bound, NOT cumulative: le[j] holds the
                                * requests in (bound j-1, bound j]; le[LIFE_NLE]
                                * those above the top bound */
} stats_life_t;

/* The fixed bucket (0 .. LIFE_NLE) of histogram bucket i (hist.h). */
int life_bucket(int hist_index);

/* e's lifetime figures into *out: what resets cleared plus what e holds. */
void life_get(const stats_entry_t *e, stats_life_t *out);

/* Exceptions counted since st was created (the cleared ones too). */
uint64_t life_exceptions(const stats_t *st);
/* Open-model iterations late and dropped since st was created. */
uint64_t life_late(const stats_t *st);
uint64_t life_dropped(const stats_t *st);

/* For stats.c: carry every row's figures (and the total's) before a
 * reset zeroes them; carry the exceptions before they are dropped; free
 * a row's carry with the row. */
void life_fold(stats_t *st);
void life_fold_exceptions(stats_t *st);
void life_free(stats_entry_t *e);

#endif
