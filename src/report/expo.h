/* expo: cicada's own metrics in Prometheus's text exposition format 0.0.4.
 *
 * What /metrics serves, on the web UI's port and on --metrics-bind
 * (docs/metrics.md lists every series). Per request (name, method): the
 * counters cicada_requests_total, cicada_request_failures_total and
 * cicada_response_size_bytes_total, and the histogram
 * cicada_response_time_seconds over stats/life.h's fixed bounds; then the
 * run's gauges (state, users, current rates), the exceptions counter, and
 * on a master the per-worker series (label worker).
 *
 * Counters are lifetime figures (stats/life.h): a reset of the statistics
 * (/stats/reset, a new test, --reset-stats) zeroes the tables Locust-style
 * but never the counters, so Prometheus sees no counter reset while
 * cicada runs; a restart of cicada is a counter reset, as for any process.
 *
 * Every family is written once, with its HELP and TYPE lines, and its
 * samples together. Label values are escaped as the format says (\\, \"
 * and \n); a value that is not UTF-8 has its invalid bytes replaced by
 * U+FFFD, since Prometheus refuses such labels. The Aggregated row is not
 * written: it is the sum of the rows (sum() in PromQL). */
#ifndef CICADA_EXPO_H
#define CICADA_EXPO_H

#include <stdio.h>

#include "report/run.h"
#include "stats/stats.h"

/* The Content-Type of what expo_write() writes. */
#define EXPO_CONTENT_TYPE "text/plain; version=0.0.4; charset=utf-8"

/* Write the request families (counters, histogram, exceptions) of st.
 * st is non-const only because its sorted views are built lazily. */
void expo_write_stats(FILE *f, stats_t *st);

/* Write every family: the run's state and gauges, the workers' series on
 * a master, and expo_write_stats() of the run's statistics. run is read
 * only (the caller holds whatever lock guards it). */
void expo_write(FILE *f, const report_run_t *run);

/* Write s as the inside of a label value (escaped, UTF-8). */
void expo_label(FILE *f, const char *s);

#endif
