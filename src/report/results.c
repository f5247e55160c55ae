/* results: the end-of-run JSON documents (see results.h).
 *
 * Locust's --json list is its StatsEntry.serialize() per row, the shape a
 * Locust worker reports in: sums, the rounded response-time buckets
 * (Locust's rounding of ms to 2 significant digits above 100, applied to
 * our histogram's bucket midpoints; the rounding is monotonic, so equal
 * keys are neighbours and add up) and the per-second counts (the ring of
 * the last 32 seconds: stats.h). cicada's summary reads the same
 * statistics through Locust's figures (stats/figures.c) and adds the
 * thresholds and the exit code. Builders only; the caller writes. */
#include "report/results.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>

#include "report/json.h"

static void add_null_or(cJSON *o, const char *k, bool ok, double v)
{
    cJSON_AddItemToObject(o, k, json_check(ok ? cJSON_CreateNumber(v) : cJSON_CreateNull()));
}

/* Locust's rounding of a response time (ms) for its response_times dict;
 * nearbyint rounds half to even, as Python's round. */
static double locust_bucket(double ms)
{
    if (ms < 100) return nearbyint(ms);
    if (ms < 1000) return nearbyint(ms / 10) * 10;
    if (ms < 10000) return nearbyint(ms / 100) * 100;
    return nearbyint(ms / 1000) * 1000;
}

static void add_count(cJSON *o, double key, double count)
{
    char k[32];
    snprintf(k, sizeof k, "%.0f", key);
    json_add_num(o, k, count);
}

static cJSON *response_times(const hist_t *h)
{
    cJSON *o = json_check(cJSON_CreateObject());
    double last = -1, acc = 0;
    for (int i = hist_next(h, -1); i >= 0; i = hist_next(h, i)) {
        double k = locust_bucket((double)hist_bucket_value(i) / 1000.0);
        if (k != last && last >= 0) {
            add_count(o, last, acc);
            acc = 0;
        }
        last = k;
        acc += (double)hist_bucket_count(h, i);
    }
    if (last >= 0) add_count(o, last, acc);
    return o;
}

static cJSON *per_second(const stats_entry_t *e, bool fails)
{
    cJSON *o = json_check(cJSON_CreateObject());
    const uint32_t *v = fails ? e->sec_fails : e->sec_reqs;
    size_t slots = sizeof e->sec_key / sizeof e->sec_key[0];
    for (size_t i = 0; i < slots; i++)
        if (v[i] > 0) add_count(o, (double)e->sec_key[i], v[i]);
    return o;
}

static cJSON *locust_entry(stats_t *st, const stats_entry_t *e)
{
    bool timed = e->num_requests > e->num_none_requests;
    cJSON *o = json_check(cJSON_CreateObject());
    json_add_str(o, "name", e->name);
    json_add_str(o, "method", e->method);
    add_null_or(o, "last_request_timestamp", e->last_request_ts > 0, e->last_request_ts);
    json_add_num(o, "start_time", stats_start_time(st));
    json_add_num(o, "num_requests", (double)e->num_requests);
    json_add_num(o, "num_none_requests", (double)e->num_none_requests);
    json_add_num(o, "num_failures", (double)e->num_failures);
    json_add_num(o, "total_response_time", e->total_response_time_ms);
    json_add_num(o, "max_response_time", e->max_response_time_ms);
    add_null_or(o, "min_response_time", timed, e->min_response_time_ms);
    json_add_num(o, "total_content_length", (double)e->total_content_length);
    cJSON_AddItemToObject(o, "response_times", response_times(e->hist));
    cJSON_AddItemToObject(o, "num_reqs_per_sec", per_second(e, false));
    cJSON_AddItemToObject(o, "num_fail_per_sec", per_second(e, true));
    return o;
}

cJSON *results_locust(stats_t *st)
{
    cJSON *list = json_check(cJSON_CreateArray());
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    for (size_t i = 0; i < n; i++)
        if (es[i]->num_requests || es[i]->num_failures) /* Locust's serialize_stats */
            cJSON_AddItemToArray(list, locust_entry(st, es[i]));
    return list;
}

cJSON *results_thresholds(const threshold_t *t, size_t n)
{
    cJSON *list = json_check(cJSON_CreateArray());
    for (size_t i = 0; i < n; i++) {
        cJSON *o = json_check(cJSON_CreateObject());
        json_add_str(o, "rule", t[i].expr);
        json_add_str(o, "metric", t[i].metric_name);
        json_add_str(o, "name", t[i].name[0] ? t[i].name : "Aggregated");
        json_add_str(o, "op", threshold_op_name(t[i].op));
        json_add_num(o, "limit", t[i].limit);
        add_null_or(o, "value", t[i].has_value, t[i].value);
        cJSON_AddItemToObject(o, "ok", json_check(cJSON_CreateBool(t[i].ok)));
        cJSON_AddItemToObject(o, "abort", json_check(cJSON_CreateBool(t[i].abort)));
        json_add_num(o, "grace", t[i].grace);
        json_add_str(o, "source", t[i].scenario ? "scenario" : "command line");
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

static cJSON *summary_row(stats_t *st, const stats_entry_t *e)
{
    bool timed = e->num_requests > e->num_none_requests;
    cJSON *o = json_check(cJSON_CreateObject());
    json_add_str(o, "method", e->method);
    json_add_str(o, "name", e->name);
    json_add_num(o, "num_requests", (double)e->num_requests);
    json_add_num(o, "num_failures", (double)e->num_failures);
    json_add_num(o, "num_none_requests", (double)e->num_none_requests);
    json_add_num(o, "fail_ratio", stats_fail_ratio(e));
    json_add_num(o, "avg_response_time", stats_avg(e));
    json_add_num(o, "min_response_time", stats_min(e));
    json_add_num(o, "max_response_time", timed ? e->max_response_time_ms : 0);
    json_add_num(o, "median_response_time", stats_median(e));
    json_add_num(o, "avg_content_length", stats_avg_content(e));
    json_add_num(o, "total_content_length", (double)e->total_content_length);
    json_add_num(o, "rps", stats_total_rps(st, e));
    json_add_num(o, "fail_per_sec", stats_total_fail_per_sec(st, e));
    cJSON *p = json_check(cJSON_CreateObject());
    for (int i = 0; i < STATS_NPCT; i++) {
        char k[16];
        snprintf(k, sizeof k, "%g", stats_pcts[i] * 100);
        json_add_num(p, k, stats_percentile(e, stats_pcts[i]));
    }
    cJSON_AddItemToObject(o, "percentiles", p);
    return o;
}

static cJSON *errors(stats_t *st)
{
    cJSON *list = json_check(cJSON_CreateArray());
    size_t n;
    stats_error_t **ers = stats_errors(st, &n);
    for (size_t i = 0; i < n; i++) {
        cJSON *o = json_check(cJSON_CreateObject());
        json_add_str(o, "method", ers[i]->method);
        json_add_str(o, "name", ers[i]->name);
        json_add_str(o, "error", ers[i]->error);
        json_add_num(o, "occurrences", (double)ers[i]->occurrences);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

static cJSON *exceptions(stats_t *st)
{
    cJSON *list = json_check(cJSON_CreateArray());
    size_t n;
    stats_exception_t **ex = stats_exceptions(st, &n);
    for (size_t i = 0; i < n; i++) {
        cJSON *o = json_check(cJSON_CreateObject());
        json_add_num(o, "count", (double)ex[i]->count);
        json_add_str(o, "msg", ex[i]->msg);
        json_add_str(o, "traceback", ex[i]->traceback);
        json_add_str(o, "nodes", ex[i]->nodes);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

cJSON *results_summary(const report_run_t *run, int exit_code, double end_time)
{
    stats_t *st = run->st;
    cJSON *o = json_check(cJSON_CreateObject());
    json_add_num(o, "version", RESULTS_SUMMARY_VERSION);
    json_add_num(o, "start_time", stats_start_time(st));
    json_add_num(o, "end_time", end_time);
    json_add_str(o, "state", run->state);
    json_add_str(o, "host", run->host);
    json_add_num(o, "user_count", (double)run->user_count);
    cJSON_AddItemToObject(o, "totals", summary_row(st, stats_total(st)));
    cJSON *rows = json_check(cJSON_CreateArray());
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    for (size_t i = 0; i < n; i++)
        cJSON_AddItemToArray(rows, summary_row(st, es[i]));
    cJSON_AddItemToObject(o, "rows", rows);
    cJSON_AddItemToObject(o, "errors", errors(st));
    cJSON_AddItemToObject(o, "exceptions", exceptions(st));
    json_add_num(o, "cut_off", (double)stats_cut(st));
    json_add_num(o, "late", (double)stats_late(st));
    json_add_num(o, "dropped", (double)stats_dropped(st));
    cJSON_AddItemToObject(o, "thresholds", results_thresholds(run->thresholds, run->nthresholds));
    bool ok = true;
    for (size_t i = 0; i < run->nthresholds; i++)
        ok &= run->thresholds[i].ok;
    cJSON_AddItemToObject(o, "thresholds_ok", json_check(cJSON_CreateBool(ok)));
    cJSON_AddItemToObject(o, "history", json_history(run));
    json_add_num(o, "exit_code", exit_code);
    return o;
}
