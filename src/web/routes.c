/* routes: Locust's HTTP API and the page's files.
 *
 * Every route is a function from a request to one whole response (no
 * chunked streaming except the history file, which may be large). Handlers
 * that read statistics hold runner_lock() only while building a cJSON
 * tree or a CSV in memory, and print and send it after unlocking, so the
 * runner's once-a-second merge waits for a copy, never for the network.
 * Commands (/swarm, /stop, /stats/reset) are queued to the runner and
 * answered at once, as Locust answers before its greenlet has run (or,
 * when the runner's queue is full, after a bounded wait for room).
 *
 * Behaviour and messages follow Locust 2.12.1's web.py, with choices of
 * cicada's: every number has a stated range (base/limits.h), and a
 * missing, invalid or out-of-range user_count, spawn_rate or run_time, a
 * host over 1023 characters, or more users than the memory can hold is a
 * 400 with {"success": false, "message": ..., "host": ...} naming the
 * field, where Locust fails with a 500 or goes on. A command the runner
 * is too busy to queue (runner.h) is a 503, never a success. With
 * --class-picker, /swarm also takes user_classes (Locust's field, repeated)
 * and cicada's weight.<Class> and fixed_count.<Class>; /user_classes and
 * /logs serve the page's class picker and Logs tab. */
#include <ctype.h>
#include <errno.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/stat.h>
#include <time.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "monitor/monitor.h"
#include "report/csv.h"
#include "report/html.h"
#include "report/json.h"
#include "web/assets.h"
#include "web/guard.h"
#include "web/routes.h"

#define JSON_TYPE "application/json"

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

static int send_text(web_conn_t *c, int status, const char *text)
{
    web_reply(c, status, "text/html; charset=utf-8", NULL, text, strlen(text));
    return status;
}

/* Print j (sorted, indented like Flask's jsonify) and send it. */
static int send_json(web_conn_t *c, int status, cJSON *j)
{
    char *s = json_print(j, true);
    web_reply(c, status, JSON_TYPE, NULL, s, strlen(s));
    free(s);
    return status;
}

/* Send a memstream's contents as a download named PREFIX_<time.time()>.EXT. */
static int send_download(web_conn_t *c, const char *type, const char *prefix, const char *ext,
                         char *data, size_t len)
{
    char ts[40], hdr[160];
    csv_pyfloat(ts, sizeof ts, wall_now());
    snprintf(hdr, sizeof hdr, "Content-Disposition: attachment;filename=%s_%s.%s\r\n", prefix, ts,
             ext);
    web_reply(c, 200, type, hdr, data, len);
    return 200;
}

/* ---- the page ---- */

static int send_asset(web_conn_t *c, const char *path)
{
    const asset_t *a = asset_find(path);
    if (a == NULL) return send_text(c, 404, "Not Found");
    web_printf(c,
               "HTTP/1.1 200 OK\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
               "Cache-Control: no-cache\r\n\r\n",
               a->mime, a->len);
    web_write(c, a->data, a->len);
    return 200;
}

static int r_index(web_conn_t *c, struct web *w)
{
    return send_asset(c, "/index.html");
}

/* ---- commands ---- */

/* The form's value of key into buf; false if absent (or absurdly long). */
static bool form_get(const char *body, size_t len, const char *key, char *buf, size_t n)
{
    return http_form_var(body, len, key, buf, n) >= 0;
}

/* A whole number in [0, LIMIT_USERS]; too large for a long is out of
 * range too (strtol's ERANGE), never a saturated 9.2e18. */
static bool parse_users(const char *s, long *out)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0') return false;
    errno = 0;
    long v = strtol(s, &end, 10);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || errno == ERANGE || v < 0 || v > LIMIT_USERS) return false;
    *out = v;
    return true;
}

/* A spawn rate in (0, LIMIT_SPAWN_RATE]. */
static bool parse_rate(const char *s, double *out)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0') return false;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || !isfinite(v) || v <= 0 || v > LIMIT_SPAWN_RATE) return false;
    *out = v;
    return true;
}

/* A number in [lo, hi] (whole if whole is set) into *out. */
static bool parse_num(const char *s, double lo, double hi, bool whole, double *out)
{
    char *end;
    while (*s == ' ' || *s == '\t')
        s++;
    if (*s == '\0') return false;
    double v = strtod(s, &end);
    while (*end == ' ' || *end == '\t')
        end++;
    if (*end != '\0' || !isfinite(v) || v < lo || v > hi || (whole && v != floor(v))) return false;
    *out = v;
    return true;
}

/* The class picker's fields (--class-picker): user_classes (repeated; none
 * means every class, as in Locust), and cicada's weight.<Class> and
 * fixed_count.<Class> (absent: the class's current value). Fills *pick
 * and the sorted names chosen; returns NULL, or the error message in msg. */
static const char *parse_pick(const char *body, size_t len, const runner_class_t *cls, size_t n,
                              runner_pick_t *pick, char *msg, size_t msgn)
{
    char name[256], key[300], v[64];
    memset(pick, 0, sizeof *pick);
    bool any = false;
    for (int occ = 0; http_form_var_nth(body, len, "user_classes", (size_t)occ, name, sizeof name) >= 0;
         occ++) {
        size_t i = 0;
        while (i < n && strcmp(cls[i].name, name) != 0)
            i++;
        if (i == n || i >= LIMIT_CLASSES) {
            snprintf(msg, msgn, "user_classes: unknown user class '%.200s'", name);
            return msg;
        }
        pick->chosen[i] = any = true;
    }
    bool runs = false;
    for (size_t i = 0; i < n && i < LIMIT_CLASSES; i++) {
        if (!any) pick->chosen[i] = true;
        double w = cls[i].weight, f = (double)cls[i].fixed_count;
        snprintf(key, sizeof key, "weight.%s", cls[i].name);
        if (http_form_var(body, len, key, v, sizeof v) >= 0 && !parse_num(v, 0, 1e6, false, &w)) {
            snprintf(msg, msgn, "%.200s must be a number from 0 to 1000000", key);
            return msg;
        }
        snprintf(key, sizeof key, "fixed_count.%s", cls[i].name);
        if (http_form_var(body, len, key, v, sizeof v) >= 0 &&
            !parse_num(v, 0, LIMIT_USERS, true, &f)) {
            snprintf(msg, msgn, "%.200s must be a whole number from 0 to 100000000", key);
            return msg;
        }
        pick->weight[i] = w;
        pick->fixed_count[i] = (long)f;
        if (pick->chosen[i] && (w > 0 || f > 0)) runs = true;
    }
    if (!runs) {
        snprintf(msg, msgn,
                 "user_classes: the chosen classes all have weight 0 and no fixed_count");
        return msg;
    }
    return NULL;
}

/* cicada's "monitor" field (docs/monitoring.md): the monitored targets,
 * repeated or one per line; absent: unchanged. Returns 0, or -1 with the
 * reason in msg. */
static int monitor_form(const char *body, size_t len, char *msg, size_t n)
{
    size_t cap = 64 * 1024, used = 0;
    char *all = xmalloc(cap), one[1024];
    int got = -1, rc = 0;
    all[0] = '\0';
    for (size_t i = 0; (got = http_form_var_nth(body, len, "monitor", i, one, sizeof one)) != -1;
         i++) {
        if (got == -2 || used + (size_t)got + 2 > cap) {
            snprintf(msg, n, "monitor: a target, or the list of them, is too long");
            rc = -1;
            break;
        }
        used += (size_t)snprintf(all + used, cap - used, "%s\n", one);
    }
    if (rc == 0 && (used > 0 || http_form_var(body, len, "monitor", one, 1) != -1) &&
        monitor_current())
        rc = monitor_set_text(monitor_current(), all, msg, n);
    xfree(all);
    return rc;
}

static int swarm_result(web_conn_t *c, int status, bool ok, const char *msg, const char *host,
                        double run_time)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", ok);
    cJSON_AddStringToObject(j, "message", msg);
    cJSON_AddStringToObject(j, "host", host);
    if (run_time > 0) cJSON_AddNumberToObject(j, "run_time", floor(run_time));
    return send_json(c, status, j);
}

/* Queue a checked swarm, with the class picker's choice when it is on,
 * and answer. Like Locust, the answer then names the classes in play. */
static int swarm_go(web_conn_t *c, struct web *w, const char *body, size_t len,
                    long users, double rate, const char *host, const char *shown, double run_time)
{
    const runner_conf_t *o = runner_conf(w->r);
    runner_pick_t pick;
    char msg[512];
    const char *names[LIMIT_CLASSES];
    size_t n, nn = 0;
    bool picker = o->class_picker && !o->master;
    bool fresh = true;
    if (picker) {
        runner_lock(w->r);
        const runner_class_t *cls = runner_classes(w->r, &n);
        enum runner_state st = runner_state(w->r);
        fresh = st == RUNNER_READY || st == RUNNER_STOPPED;
        const char *bad = parse_pick(body, len, cls, n, &pick, msg, sizeof msg);
        /* a running test keeps its classes (spawn_pick) */
        for (size_t i = 0; !bad && i < n && i < LIMIT_CLASSES; i++)
            if (fresh ? pick.chosen[i] : cls[i].selected) names[nn++] = cls[i].name;
        runner_unlock(w->r);
        if (bad) return swarm_result(c, 400, false, bad, shown, 0);
    }
    if (!runner_swarm_pick(w->r, users, rate, host, run_time, picker ? &pick : NULL))
        return swarm_result(c, 503, false, "The runner is busy: try again", shown, 0);
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", true);
    cJSON_AddStringToObject(j, "message", "Swarming started");
    cJSON_AddStringToObject(j, "host", shown);
    if (run_time > 0) cJSON_AddNumberToObject(j, "run_time", floor(run_time));
    if (picker) /* names are sorted: runner_classes() is */
        cJSON_AddItemToObject(j, "user_classes", cJSON_CreateStringArray(names, (int)nn));
    return send_json(c, 200, j);
}

/* The form a JSON object body stands for ({"user_count": 5} ->
 * "user_count=5&"), so that /swarm takes either with the same checks.
 * Strings are %-encoded, numbers printed as JSON has them, anything else
 * left out. Returns a new string (the caller frees it) and its length. */
static char *json_as_form(const char *body, size_t *len)
{
    char *out = NULL;
    size_t n = 0;
    FILE *f = open_memstream(&out, &n);
    cJSON *j = cJSON_ParseWithLength(body, *len);
    cJSON *it, *obj = cJSON_IsObject(j) ? j : NULL;
    cJSON_ArrayForEach(it, obj)
    {
        char *num = cJSON_IsNumber(it) ? cJSON_PrintUnformatted(it) : NULL;
        const char *v = cJSON_IsString(it) ? it->valuestring : num;
        if (v == NULL || it->string == NULL) continue;
        for (const char *k = it->string; *k; k++)
            fprintf(f, isalnum((unsigned char)*k) || *k == '_' ? "%c" : "%%%02X",
                    (unsigned char)*k);
        fputc('=', f);
        for (; *v; v++)
            fprintf(f, isalnum((unsigned char)*v) ? "%c" : "%%%02X", (unsigned char)*v);
        fputc('&', f);
        free(num);
    }
    cJSON_Delete(j);
    fclose(f);
    char *copy = xstrndup(out, n); /* ours: freed with xfree */
    free(out);
    *len = n;
    return copy;
}

static int r_swarm(web_conn_t *c, struct web *w)
{
    size_t len;
    const char *body = web_body(c, &len); /* the server bounds it (64 KB) */
    char *form = NULL;                    /* a JSON body, as the form it stands for */
    char type[64];
    if (http_header(web_request(c), "Content-Type", type, sizeof type) &&
        strncasecmp(type, "application/json", 16) == 0) {
        form = json_as_form(body, &len);
        body = form;
    }

    char users_s[64], rate_s[64], run_s[64], host[LIMIT_HOST + 1] = "", msg[512];
    /* -2: present but longer than LIMIT_HOST (the buffer), refused below */
    int host_len = http_form_var(body, len, "host", host, sizeof host);
    bool has_host = host_len >= 0;
    if (has_host) {
        /* like Locust: drop < and > to keep the host harmless in pages */
        char *d = host;
        for (const char *s = host; *s; s++)
            if (*s != '<' && *s != '>') *d++ = *s;
        *d = '\0';
    }
    char cur_host[1024];
    runner_lock(w->r);
    snprintf(cur_host, sizeof cur_host, "%s", runner_host(w->r));
    runner_unlock(w->r);
    const char *shown = has_host && *host ? host : cur_host;

    /* every number has a stated range (base/limits.h, docs/cli.md) */
    long users;
    double rate, run_time = 0;
    int status;
    if (!form_get(body, len, "user_count", users_s, sizeof users_s) ||
        !parse_users(users_s, &users))
        status = swarm_result(c, 400, false,
                              "user_count must be a whole number of users from 0 to 100000000",
                              shown, 0);
    else if (!form_get(body, len, "spawn_rate", rate_s, sizeof rate_s) ||
             !parse_rate(rate_s, &rate))
        status = swarm_result(c, 400, false,
                              "spawn_rate must be a number above 0 and at most 1000000", shown, 0);
    else if (host_len == -2)
        status =
            swarm_result(c, 400, false, "host must be at most 1023 characters long", cur_host, 0);
    else if (form_get(body, len, "run_time", run_s, sizeof run_s) && *run_s &&
             opts_timespan(run_s, &run_time) != 0)
        /* Locust's message, and its 200 */
        status = swarm_result(c, 200, false,
                              "Valid run_time formats are : 20, 20s, 3m, 2h, 1h20m, 3h30m10s, etc.",
                              shown, 0);
    else if (run_time > LIMIT_SECONDS)
        status = swarm_result(c, 400, false, "run_time must be at most 8760h (365 days)", shown, 0);
    else if (!runner_conf(w->r)->master &&
             runner_users_fit(users - runner_user_count(w->r), msg, sizeof msg) != 0)
        status = swarm_result(c, 400, false, msg, shown, 0); /* before any user starts */
    else if (monitor_form(body, len, msg, sizeof msg) != 0)
        status = swarm_result(c, 400, false, msg, shown, 0);
    else
        status = swarm_go(c, w, body, len, users, rate, has_host ? host : NULL, shown, run_time);
    xfree(form);
    return status;
}

static int r_stop(web_conn_t *c, struct web *w)
{
    bool ok = runner_stop(w->r); /* false: never queued (the runner is busy) */
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", ok);
    cJSON_AddStringToObject(j, "message", ok ? "Test stopped" : "The runner is busy: try again");
    return send_json(c, ok ? 200 : 503, j);
}

static int r_reset(web_conn_t *c, struct web *w)
{
    /* stats and exceptions, like Locust's route */
    if (!runner_reset(w->r)) return send_text(c, 503, "The runner is busy: try again");
    return send_text(c, 200, "ok");
}

/* ---- JSON documents ---- */

/* A document built from the run as the runner sees it now (report/run.h). */
static cJSON *of_run(struct web *w, cJSON *(*build)(const report_run_t *))
{
    report_run_t run;
    runner_lock(w->r);
    runner_report(w->r, &run);
    cJSON *j = build(&run);
    runner_unlock(w->r);
    return j;
}

static int r_requests(web_conn_t *c, struct web *w)
{
    cJSON *j = of_run(w, json_stats_requests);
    cJSON_AddItemToObject(j, "monitor", monitor_json(monitor_current(), true)); /* as pushed */
    return send_json(c, 200, j);
}

static int r_exceptions(web_conn_t *c, struct web *w)
{
    runner_lock(w->r);
    cJSON *j = json_exceptions(runner_stats(w->r));
    runner_unlock(w->r);
    return send_json(c, 200, j);
}

static int r_tasks(web_conn_t *c, struct web *w)
{
    return send_json(c, 200, of_run(w, json_tasks));
}

static int r_user_classes(web_conn_t *c, struct web *w)
{
    return send_json(c, 200, of_run(w, json_user_classes));
}

/* cicada's own: the log lines kept for the Logs tab (no runner lock) */
static int r_logs(web_conn_t *c, struct web *w)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "logs", json_logs(LOG_RING, 0));
    return send_json(c, 200, j);
}

static int r_history(web_conn_t *c, struct web *w)
{
    cJSON *j = of_run(w, json_history);
    /* compact: an hour of history is 3,600 points */
    char *s = json_print(j, false);
    web_reply(c, 200, JSON_TYPE, NULL, s, strlen(s));
    free(s);
    return 200;
}

/* cicada's own: the monitored targets' series (docs/monitoring.md; no runner lock) */
static int r_monitor(web_conn_t *c, struct web *w)
{
    char *s = json_print(monitor_json(monitor_current(), false), false);
    web_reply(c, 200, JSON_TYPE, NULL, s, strlen(s));
    free(s);
    return 200;
}

/* ---- downloads ---- */

static int send_csv(web_conn_t *c, struct web *w, void (*write)(FILE *, stats_t *),
                    const char *prefix)
{
    char *data = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&data, &len);
    if (f == NULL) return send_text(c, 500, "Internal Server Error");
    runner_lock(w->r);
    write(f, runner_stats(w->r));
    runner_unlock(w->r);
    fclose(f);
    int status = send_download(c, "text/csv", prefix, "csv", data, len);
    free(data); /* open_memstream's buffer is plain malloc */
    return status;
}

static int r_requests_csv(web_conn_t *c, struct web *w)
{
    return send_csv(c, w, csv_write_stats, "requests");
}

static int r_failures_csv(web_conn_t *c, struct web *w)
{
    return send_csv(c, w, csv_write_failures, "failures");
}

static int r_exceptions_csv(web_conn_t *c, struct web *w)
{
    return send_csv(c, w, csv_write_exceptions, "exceptions");
}

/* The runner appends to the history file every second; serve the bytes
 * it holds when the request arrives (whole rows: the runner flushes after
 * each batch). */
static int r_history_csv(web_conn_t *c, struct web *w)
{
    FILE *f = w->history_path ? fopen(w->history_path, "rb") : NULL;
    struct stat sb;
    if (f == NULL || fstat(fileno(f), &sb) != 0) {
        if (f) fclose(f);
        return send_text(c, 404,
                         "Error: Server was not started with option to generate full history.");
    }
    char ts[40];
    csv_pyfloat(ts, sizeof ts, wall_now());
    long long size = (long long)sb.st_size;
    web_printf(c,
               "HTTP/1.1 200 OK\r\nContent-Type: text/csv\r\nContent-Length: %lld\r\n"
               "Cache-Control: no-store\r\n"
               "Content-Disposition: attachment;filename=requests_full_history_%s.csv\r\n\r\n",
               size, ts);
    enum { CHUNK = 65536 };
    char *buf = xmalloc(CHUNK);
    long long left = size;
    while (left > 0) {
        size_t want = left < CHUNK ? (size_t)left : CHUNK;
        size_t got = fread(buf, 1, want, f);
        if (got == 0) { /* truncated meanwhile: pad to the length announced */
            memset(buf, '\n', want);
            got = want;
        }
        web_write(c, buf, got);
        left -= (long long)got;
    }
    xfree(buf);
    fclose(f);
    return 200;
}

static int r_report(web_conn_t *c, struct web *w)
{
    const http_req_t *req = web_request(c);
    char v[16];
    bool download =
        req->query && http_form_var(req->query, req->query_len, "download", v, sizeof v) > 0;
    char *data = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&data, &len);
    if (f == NULL) return send_text(c, 500, "Internal Server Error");
    const asset_t *chart = asset_find("/chart.min.js");
    html_page_t page = {.chartjs = chart ? chart->data : NULL,
                        .chartjs_len = chart ? chart->len : 0,
                        .download_link = !download};
    report_run_t run;
    runner_lock(w->r);
    runner_report(w->r, &run);
    html_report(f, &run, &page);
    runner_unlock(w->r);
    fclose(f);
    int status;
    if (download) {
        status = send_download(c, "text/html; charset=utf-8", "report", "html", data, len);
    } else {
        web_reply(c, 200, "text/html; charset=utf-8", NULL, data, len);
        status = 200;
    }
    free(data);
    return status;
}

/* ---- dispatch ---- */

enum {
    CHANGES = 1,   /* changes state: same-origin browsers only (guard.h) */
    SCRIPT_GET = 2 /* GET too, from a script (no browser headers): Locust's API */
};

static const struct route {
    const char *method, *path;
    int (*fn)(web_conn_t *, struct web *);
    int flags;
} routes[] = {
    {"GET", "/", r_index, 0},
    {"POST", "/swarm", r_swarm, CHANGES},
    {"POST", "/stop", r_stop, CHANGES | SCRIPT_GET},
    {"POST", "/stats/reset", r_reset, CHANGES | SCRIPT_GET},
    {"GET", "/stats/requests", r_requests, 0},
    {"GET", "/stats/requests/csv", r_requests_csv, 0},
    {"GET", "/stats/requests_full_history/csv", r_history_csv, 0},
    {"GET", "/stats/failures/csv", r_failures_csv, 0},
    {"GET", "/stats/history", r_history, 0},
    {"GET", "/stats/monitor", r_monitor, 0},
    {"GET", "/stats/report", r_report, 0},
    {"GET", "/exceptions", r_exceptions, 0},
    {"GET", "/exceptions/csv", r_exceptions_csv, 0},
    {"GET", "/tasks", r_tasks, 0},
    {"GET", "/user_classes", r_user_classes, 0},
    {"GET", "/logs", r_logs, 0},
};

static bool is_method(const http_req_t *req, const char *m)
{
    return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

static int refuse(web_conn_t *c, int status, const char *msg)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddBoolToObject(j, "success", false);
    cJSON_AddStringToObject(j, "message", msg);
    return send_json(c, status, j);
}

/* A body that changes state must say it is a form or JSON: a type a page
 * can only send cross-site with an Origin, which guard.c checks. */
static bool body_type_ok(web_conn_t *c)
{
    size_t len;
    web_body(c, &len);
    if (len == 0) return true;
    char t[128];
    if (http_header(web_request(c), "Content-Type", t, sizeof t) == NULL) return false;
    return strncasecmp(t, "application/x-www-form-urlencoded", 33) == 0 ||
           strncasecmp(t, "multipart/form-data", 19) == 0 ||
           strncasecmp(t, "application/json", 16) == 0;
}

bool routes_may_wait(const http_req_t *req)
{
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++)
        if (strcmp(req->path, routes[i].path) == 0) return routes[i].flags & CHANGES;
    return false;
}

int routes_handle(web_conn_t *c, struct web *w)
{
    const http_req_t *req = web_request(c);
    const char *uri = req->path;
    for (size_t i = 0; i < sizeof routes / sizeof *routes; i++) {
        const struct route *rt = &routes[i];
        if (strcmp(uri, rt->path) != 0) continue;
        /* Locust's GET /stop and /stats/reset stay for scripts; a browser's
         * GET (a link, an image) must not change anything */
        bool get_ok = (rt->flags & SCRIPT_GET) && is_method(req, "GET") && !guard_browser(req);
        if (!is_method(req, rt->method) && !get_ok) {
            char allow[64];
            snprintf(allow, sizeof allow, "Allow: %s\r\n", rt->method);
            web_reply(c, 405, "text/plain; charset=utf-8", allow, "Method Not Allowed", 18);
            return 405;
        }
        char why[512];
        if ((rt->flags & CHANGES) &&
            !guard_same_origin(req, w->tls, w->loopback, w->o->web_host, why, sizeof why))
            return refuse(c, 403, why);
        if ((rt->flags & CHANGES) && !body_type_ok(c))
            return refuse(c, 415,
                          "the body must be a form (application/x-www-form-urlencoded) "
                          "or JSON (application/json)");
        return rt->fn(c, w);
    }
    if (is_method(req, "GET")) return send_asset(c, uri);
    return send_text(c, 404, "Not Found");
}
