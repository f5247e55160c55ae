/* json: the JSON documents of Locust's web API, built with cJSON.
 *
 * One builder per document, shared by the web server (HTTP routes and the
 * WebSocket push) and the reports: /stats/requests, /exceptions, /tasks
 * and cicada's own /stats/history. Field names and values follow Locust
 * 2.12.1's web.py (research/locust-web-and-cli.md, section 1): the same
 * keys, the same HTML escaping of names and errors, the same 500-row
 * truncation with Aggregated kept last. cicada adds fields, never renames:
 * /stats/requests also carries "percentiles" (the Aggregated row's current
 * percentiles keyed "50" ... "100"), "time" (unix seconds) and "host".
 *
 * The builders only read; they return a fresh cJSON tree that the caller
 * owns (cJSON_Delete, or hand it to json_print). Those taking a
 * report_run_t (run.h) read it while the caller keeps its pointers valid
 * (the runner's: between runner_lock() and runner_unlock()). The *_of
 * variants take the pieces instead, for tests and for callers that have
 * no whole run (a master's merged stats, say). */
#ifndef CICADA_REPORT_JSON_H
#define CICADA_REPORT_JSON_H

#include <stdbool.h>
#include <stddef.h>

#include <cJSON.h>

#include "report/run.h"
#include "stats/stats.h"

/* GET /stats/requests: {"stats": [...], "errors": [...], "total_rps",
 * "fail_ratio", "current_response_time_percentile_50/95" (null when there
 * is no request in the last ~10 s), "state", "user_count", "workers": [],
 * "percentiles": {"50": ms|null, ...}, "time"}; json_stats_requests also
 * adds "host" ("" if none), "target_user_count" and "spawn_rate" (null if
 * unknown), the workers and "logs" (json_logs of the last
 * JSON_LOG_SECONDS, at most JSON_LOG_PUSH lines). now is unix seconds. */
cJSON *json_stats_requests(const report_run_t *run);
cJSON *json_stats_requests_of(stats_t *st, const char *state, long user_count, double now);

#define JSON_LOG_PUSH 50
#define JSON_LOG_SECONDS 30.0

/* The kept log lines (base/log.h) logged at or after since (unix seconds,
 * 0: all), the newest max of them, oldest first: [{"seq", "time", "line"}].
 * GET /logs is {"logs": json_logs(LOG_RING, 0)}. */
cJSON *json_logs(size_t max, double since);

/* GET /user_classes, for the class picker: {"class_picker": bool (on with
 * --class-picker, never on a master), "user_classes": [{"name", "weight",
 * "fixed_count", "host", "selected"}]} in run->cls order. */
cJSON *json_user_classes(const report_run_t *run);

/* GET /exceptions: {"exceptions": [{"count", "msg", "traceback", "nodes"}]},
 * msg and traceback HTML-escaped. */
cJSON *json_exceptions(stats_t *st);

/* GET /tasks: {"per_class": {Class: {"ratio", "tasks": {name: {"ratio"}}}},
 * "total": {...}}. Class ratios come from the live user counts, or from
 * the class weights when no user runs; per_class task ratios sum to 1
 * within a class, total ones are multiplied by the class ratio. */
cJSON *json_tasks(const report_run_t *run);
cJSON *json_tasks_of(const report_class_t *cls, size_t n);

/* GET /stats/history: [{"time", "rps", "fail_per_sec", "users",
 * "percentiles": {"50": ms|null, ...}}], one point per second of the run. */
cJSON *json_history(const report_run_t *run);
cJSON *json_history_of(const report_point_t *p, size_t n);

/* Sort every object's keys (recursively, like Flask's jsonify), print the
 * tree (indented if pretty), and delete it. Returns cJSON's malloc'd
 * string, which the caller frees with free() (not xfree: cJSON allocates
 * it); never NULL (aborts on out-of-memory). */
char *json_print(cJSON *j, bool pretty);

/* j itself, or abort on cJSON's out of memory (base/alloc.h's policy). */
cJSON *json_check(cJSON *j);
/* o[k] = v, a number; o[k] = v, a string ("" for NULL, copied). */
void json_add_num(cJSON *o, const char *k, double v);
void json_add_str(cJSON *o, const char *k, const char *v);

/* Python's html.escape(s, quote): & < > always, " and ' when quote.
 * Returns a string the caller frees with xfree() (base/alloc.h). */
char *json_html_escape(const char *s, bool quote);

#endif
