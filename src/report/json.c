/* json: see json.h. Each builder walks the merged statistics once and
 * copies numbers into a fresh cJSON tree; nothing here keeps state. The
 * numbers are those of stats.h (Locust's algorithms); this file only
 * decides names, rounding (Locust's proper_round for min and max), HTML
 * escaping and order. */
#include "report/json.h"

#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "report/results.h"

#define MAX_ROWS 500 /* Locust truncates stats and errors to 500 rows */

cJSON *json_check(cJSON *j)
{
    if (j == NULL) {
        fprintf(stderr, "cicada: out of memory (cJSON)\n");
        abort();
    }
    return j;
}

void json_add_num(cJSON *o, const char *k, double v)
{
    cJSON_AddItemToObject(o, k, json_check(cJSON_CreateNumber(v)));
}

void json_add_str(cJSON *o, const char *k, const char *v)
{
    cJSON_AddItemToObject(o, k, json_check(cJSON_CreateString(v ? v : "")));
}

/* A string the caller already escaped (or built) and owns: handed over. */
static void add_owned(cJSON *o, const char *k, char *v)
{
    json_add_str(o, k, v);
    xfree(v);
}

const double report_pcts[REPORT_NPCT] = {0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 1.0};

/* ms, or null for "no value" (-1 in history points, false from stats). */
static cJSON *num_or_null(bool ok, double v)
{
    return json_check(ok ? cJSON_CreateNumber(v) : cJSON_CreateNull());
}

/* Locust's proper_round: round half up (round(v + 10**(-len(str(v))-1))). */
static double proper_round(double v)
{
    return floor(v + 0.5);
}

char *json_html_escape(const char *s, bool quote)
{
    if (s == NULL) s = "";
    size_t n = 0;
    for (const char *p = s; *p; p++)
        n += 6; /* the longest entity is "&quot;" */
    char *out = xmalloc(n + 1), *d = out;
    for (const char *p = s; *p; p++) {
        const char *e = NULL;
        switch (*p) {
        case '&':
            e = "&amp;";
            break;
        case '<':
            e = "&lt;";
            break;
        case '>':
            e = "&gt;";
            break;
        case '"':
            e = quote ? "&quot;" : NULL;
            break;
        case '\'':
            e = quote ? "&#x27;" : NULL;
            break;
        }
        if (e) {
            size_t l = strlen(e);
            memcpy(d, e, l);
            d += l;
        } else {
            *d++ = *p;
        }
    }
    *d = '\0';
    return out;
}

/* The key of percentile p: "50", "99.9", "100". */
static void pct_key(char *buf, size_t n, double p)
{
    snprintf(buf, n, "%g", p * 100);
}

/* ---- /stats/requests ---- */

static cJSON *stats_row(stats_t *st, stats_entry_t *e)
{
    cJSON *o = json_check(cJSON_CreateObject());
    json_add_str(o, "method", e->method);
    json_add_str(o, "name", e->name);
    add_owned(o, "safe_name", json_html_escape(e->name, false));
    json_add_num(o, "num_requests", (double)e->num_requests);
    json_add_num(o, "num_failures", (double)e->num_failures);
    json_add_num(o, "avg_response_time", stats_avg(e));
    json_add_num(o, "min_response_time", proper_round(stats_min(e)));
    json_add_num(o, "max_response_time", proper_round(e->max_response_time_ms));
    json_add_num(o, "current_rps", stats_current_rps(st, e));
    json_add_num(o, "current_fail_per_sec", stats_current_fail_per_sec(st, e));
    json_add_num(o, "median_response_time", stats_median(e));
    json_add_num(o, "ninetieth_response_time", stats_percentile(e, 0.9));
    json_add_num(o, "ninety_ninth_response_time", stats_percentile(e, 0.99));
    json_add_num(o, "avg_content_length", stats_avg_content(e));
    return o;
}

cJSON *json_stats_requests_of(stats_t *st, const char *state, long user_count, double now)
{
    cJSON *root = json_check(cJSON_CreateObject());
    cJSON *rows = json_check(cJSON_CreateArray());
    cJSON_AddItemToObject(root, "stats", rows);
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    for (size_t i = 0; i < n && i < MAX_ROWS; i++)
        cJSON_AddItemToArray(rows, stats_row(st, es[i]));
    stats_entry_t *t = stats_total(st);
    cJSON_AddItemToArray(rows, stats_row(st, t));

    cJSON *errs = json_check(cJSON_CreateArray());
    cJSON_AddItemToObject(root, "errors", errs);
    stats_error_t **ers = stats_errors(st, &n);
    for (size_t i = 0; i < n && i < MAX_ROWS; i++) {
        cJSON *o = json_check(cJSON_CreateObject());
        json_add_str(o, "method", ers[i]->method);
        add_owned(o, "name", json_html_escape(ers[i]->name, true));
        add_owned(o, "error", json_html_escape(ers[i]->error, true));
        json_add_num(o, "occurrences", (double)ers[i]->occurrences);
        cJSON_AddItemToArray(errs, o);
    }

    json_add_num(root, "total_rps", stats_current_rps(st, t));
    json_add_num(root, "fail_ratio", stats_fail_ratio(t));
    /* cicada's own: requests cut off at stop (neither successes nor failures) */
    json_add_num(root, "cut_off", (double)stats_cut(st));
    /* cicada's own: the open model's iterations late and dropped */
    json_add_num(root, "late", (double)stats_late(st));
    json_add_num(root, "dropped", (double)stats_dropped(st));
    cJSON *pcts = json_check(cJSON_CreateObject());
    for (int i = 0; i < REPORT_NPCT; i++) {
        char k[16];
        double v = 0;
        bool ok = stats_current_percentile(st, t, report_pcts[i], (int64_t)now, &v);
        pct_key(k, sizeof k, report_pcts[i]);
        cJSON_AddItemToObject(pcts, k, num_or_null(ok, v));
    }
    double v = 0;
    bool ok = stats_current_percentile(st, t, 0.95, (int64_t)now, &v);
    cJSON_AddItemToObject(root, "current_response_time_percentile_95", num_or_null(ok, v));
    ok = stats_current_percentile(st, t, 0.5, (int64_t)now, &v);
    cJSON_AddItemToObject(root, "current_response_time_percentile_50", num_or_null(ok, v));
    json_add_str(root, "state", state);
    json_add_num(root, "user_count", (double)user_count);
    /* Locust sends workers only from a master; an empty list keeps the
     * page's Workers tab and scripts on one shape. */
    cJSON_AddItemToObject(root, "workers", json_check(cJSON_CreateArray()));
    cJSON_AddItemToObject(root, "percentiles", pcts);
    json_add_num(root, "time", now);
    return root;
}

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

cJSON *json_stats_requests(const report_run_t *run)
{
    cJSON *j = json_stats_requests_of(run->st, run->state, run->user_count, wall_now());
    /* the page's header and start form show the host; Locust writes it
     * into its HTML template instead */
    json_add_str(j, "host", run->host ? run->host : "");
    json_add_num(j, "arrival_rate", run->arrival_rate); /* the open model's rate now; 0: closed */
    /* a master's workers, as Locust lists its clients */
    cJSON *list = json_check(cJSON_CreateArray());
    for (size_t i = 0; i < run->nworkers; i++) {
        const report_worker_t *ws = &run->workers[i];
        cJSON *w = json_check(cJSON_CreateObject());
        json_add_str(w, "id", ws->id);
        json_add_str(w, "state", ws->state);
        json_add_num(w, "user_count", (double)ws->user_count);
        json_add_num(w, "cpu_usage", ws->cpu_usage);
        json_add_num(w, "memory_usage", (double)ws->memory_usage);
        cJSON_AddItemToArray(list, w);
    }
    cJSON_ReplaceItemInObject(j, "workers", list);
    /* the start and edit forms show the running test's figures, or -u and
     * -r before the first (Locust renders num_users and spawn_rate into
     * its page) */
    cJSON_AddItemToObject(j, "target_user_count",
                          num_or_null(run->target >= 0, (double)run->target));
    cJSON_AddItemToObject(j, "spawn_rate", num_or_null(run->rate > 0, run->rate));
    /* the Logs tab: the lines of the last JSON_LOG_SECONDS, at most
     * JSON_LOG_PUSH (a page that misses some fetches /logs) */
    cJSON_AddItemToObject(j, "logs", json_logs(JSON_LOG_PUSH, wall_now() - JSON_LOG_SECONDS));
    /* cicada's thresholds, live (only when the run has some) */
    if (run->nthresholds)
        cJSON_AddItemToObject(j, "thresholds",
                              results_thresholds(run->thresholds, run->nthresholds));
    return j;
}

cJSON *json_logs(size_t max, double since)
{
    log_line_t *lines = xmalloc(max * sizeof *lines);
    size_t n = log_recent(lines, max, 0, since);
    cJSON *list = json_check(cJSON_CreateArray());
    for (size_t i = 0; i < n; i++) {
        cJSON *o = json_check(cJSON_CreateObject());
        json_add_num(o, "seq", (double)lines[i].seq);
        json_add_num(o, "time", lines[i].time);
        json_add_str(o, "line", lines[i].text);
        cJSON_AddItemToArray(list, o);
    }
    xfree(lines);
    return list;
}

cJSON *json_user_classes(const report_run_t *run)
{
    size_t n = run->ncls;
    const report_class_t *cls = run->cls;
    cJSON *root = json_check(cJSON_CreateObject());
    /* a master's dispatcher takes the classes once, at start */
    cJSON_AddBoolToObject(root, "class_picker", run->class_picker);
    cJSON *list = json_check(cJSON_CreateArray());
    for (size_t i = 0; i < n; i++) {
        cJSON *o = json_check(cJSON_CreateObject());
        json_add_str(o, "name", cls[i].name);
        json_add_num(o, "weight", cls[i].weight);
        json_add_num(o, "fixed_count", (double)cls[i].fixed_count);
        json_add_str(o, "host", cls[i].host ? cls[i].host : "");
        cJSON_AddBoolToObject(o, "selected", cls[i].selected);
        cJSON_AddItemToArray(list, o);
    }
    cJSON_AddItemToObject(root, "user_classes", list);
    return root;
}

/* ---- /exceptions ---- */

cJSON *json_exceptions(stats_t *st)
{
    cJSON *root = json_check(cJSON_CreateObject());
    cJSON *list = json_check(cJSON_CreateArray());
    cJSON_AddItemToObject(root, "exceptions", list);
    size_t n;
    stats_exception_t **ex = stats_exceptions(st, &n);
    for (size_t i = 0; i < n; i++) {
        cJSON *o = json_check(cJSON_CreateObject());
        json_add_num(o, "count", (double)ex[i]->count);
        add_owned(o, "msg", json_html_escape(ex[i]->msg, true));
        add_owned(o, "traceback", json_html_escape(ex[i]->traceback, true));
        json_add_str(o, "nodes", ex[i]->nodes);
        cJSON_AddItemToArray(list, o);
    }
    return root;
}

/* ---- /tasks ---- */

/* One class's tasks: weight share of each task name (names given twice
 * add up), times scale. */
static cJSON *task_ratios(const report_class_t *c, double scale)
{
    cJSON *o = json_check(cJSON_CreateObject());
    int nt = c->ntasks < LIMIT_TASKS ? c->ntasks : LIMIT_TASKS;
    double sum = 0;
    for (int k = 0; k < nt; k++)
        sum += c->task_weights[k];
    for (int k = 0; k < nt; k++) {
        double r = sum > 0 ? c->task_weights[k] / sum * scale : 0;
        const char *name = c->task_names[k] ? c->task_names[k] : "?";
        cJSON *t = cJSON_GetObjectItemCaseSensitive(o, name);
        if (t) {
            cJSON *ratio = cJSON_GetObjectItemCaseSensitive(t, "ratio");
            cJSON_SetNumberValue(ratio, ratio->valuedouble + r);
            continue;
        }
        t = json_check(cJSON_CreateObject());
        json_add_num(t, "ratio", r);
        cJSON_AddItemToObject(o, name, t);
    }
    return o;
}

static cJSON *class_ratios(const report_class_t *cls, size_t n, bool total)
{
    double users = 0, weights = 0;
    for (size_t i = 0; i < n; i++) {
        users += (double)cls[i].users;
        weights += cls[i].weight;
    }
    cJSON *o = json_check(cJSON_CreateObject());
    for (size_t i = 0; i < n; i++) {
        /* Locust reports 0 for every class before a test; cicada shows the
         * mix the weights will give, which is what a user wants to see. */
        double r = users > 0     ? (double)cls[i].users / users
                   : weights > 0 ? cls[i].weight / weights
                                 : 0;
        cJSON *c = json_check(cJSON_CreateObject());
        json_add_num(c, "ratio", r);
        cJSON_AddItemToObject(c, "tasks", task_ratios(&cls[i], total ? r : 1.0));
        cJSON_AddItemToObject(o, cls[i].name, c);
    }
    return o;
}

cJSON *json_tasks_of(const report_class_t *cls, size_t n)
{
    cJSON *root = json_check(cJSON_CreateObject());
    cJSON_AddItemToObject(root, "per_class", class_ratios(cls, n, false));
    cJSON_AddItemToObject(root, "total", class_ratios(cls, n, true));
    return root;
}

cJSON *json_tasks(const report_run_t *run)
{
    return json_tasks_of(run->cls, run->ncls);
}

/* ---- /stats/history ---- */

cJSON *json_history_of(const report_point_t *p, size_t n)
{
    cJSON *list = json_check(cJSON_CreateArray());
    for (size_t i = 0; i < n; i++) {
        cJSON *o = json_check(cJSON_CreateObject());
        json_add_num(o, "time", p[i].time);
        json_add_num(o, "rps", p[i].rps);
        json_add_num(o, "fail_per_sec", p[i].fail_per_sec);
        json_add_num(o, "users", (double)p[i].users);
        cJSON *pcts = json_check(cJSON_CreateObject());
        for (int k = 0; k < REPORT_NPCT; k++) {
            char key[16];
            pct_key(key, sizeof key, report_pcts[k]);
            cJSON_AddItemToObject(pcts, key, num_or_null(p[i].pct[k] >= 0, p[i].pct[k]));
        }
        cJSON_AddItemToObject(o, "percentiles", pcts);
        cJSON_AddItemToArray(list, o);
    }
    return list;
}

cJSON *json_history(const report_run_t *run)
{
    return json_history_of(run->hist, run->nhist);
}

/* ---- printing ---- */

static int by_key(const void *a, const void *b)
{
    const cJSON *x = *(cJSON *const *)a, *y = *(cJSON *const *)b;
    return strcmp(x->string, y->string);
}

/* Sort the keys of every object under j. cJSON keeps children in a list
 * whose head's prev points at the tail; the relinking keeps that. */
static void sort_keys(cJSON *j)
{
    size_t n = 0;
    for (cJSON *c = j->child; c; c = c->next) {
        sort_keys(c);
        n++;
    }
    if (!cJSON_IsObject(j) || n < 2) return;
    cJSON **v = xmalloc(n * sizeof *v);
    size_t i = 0;
    for (cJSON *c = j->child; c; c = c->next)
        v[i++] = c;
    qsort(v, n, sizeof *v, by_key);
    for (i = 0; i < n; i++) {
        v[i]->next = i + 1 < n ? v[i + 1] : NULL;
        v[i]->prev = i > 0 ? v[i - 1] : v[n - 1];
    }
    j->child = v[0];
    xfree(v);
}

char *json_print(cJSON *j, bool pretty)
{
    sort_keys(j);
    char *s = pretty ? cJSON_Print(j) : cJSON_PrintUnformatted(j);
    cJSON_Delete(j);
    if (s == NULL) {
        fprintf(stderr, "cicada: out of memory (cJSON)\n");
        abort();
    }
    return s;
}
