/* results: the JSON documents written at the end of a run (docs/results.md).
 *
 *  - Locust's --json/--json-file document: a list with one object per
 *    request row (Aggregated not included, rows with no request left
 *    out), each Locust 2.x's StatsEntry.serialize() keys.
 *  - cicada's --summary-json document: totals, every row with all its
 *    percentiles, errors, exceptions, cut-off/late/dropped counts, the
 *    thresholds with values and verdicts, the history and the exit code.
 *  - the thresholds list alone, which the web UI's push also carries.
 *
 * Builders only: each returns a fresh cJSON tree the caller owns (print it
 * with json_print, which also deletes it). They read the statistics; the
 * caller keeps them still (the runner's lock). */
#ifndef CICADA_RESULTS_H
#define CICADA_RESULTS_H

#include <stddef.h>

#include <cJSON.h>

#include "report/run.h"
#include "stats/stats.h"
#include "stats/threshold.h"

/* The --summary-json schema's version ("version"); raised on any change
 * that is not an added key. */
#define RESULTS_SUMMARY_VERSION 1

/* Locust's --json list: [{"name", "method", "last_request_timestamp",
 * "start_time", "num_requests", "num_none_requests", "num_failures",
 * "total_response_time", "max_response_time", "min_response_time",
 * "total_content_length", "response_times", "num_reqs_per_sec",
 * "num_fail_per_sec"}]; times in ms. */
cJSON *results_locust(stats_t *st);

/* [{"rule", "metric", "name" ("Aggregated" when none), "op", "limit",
 * "value" (null: no timed request yet), "ok", "abort", "grace",
 * "source" ("command line" or "scenario")}]. */
cJSON *results_thresholds(const threshold_t *t, size_t n);

/* cicada's summary of run (read as of now), ended at end_time (unix s). */
cJSON *results_summary(const report_run_t *run, int exit_code, double end_time);

#endif
