/* routes: Locust's HTTP API and the page's files.
 *
 * Every route is a function from a request to one whole response (no
 * chunked streaming except the history file, which may be large). Handlers
 * that read statistics hold runner_lock() only while building a cJSON
 * tree or a CSV in memory, and print and send it after unlocking, so the
 * runner's once-a-second merge waits for a copy, never for the network.
 * Commands (/swarm, /stop, /stats/reset, in swarm.c) are queued to the
 * runner and answered at once, as Locust answers before its greenlet has run (or,
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
#include "web/swarm.h"

#define JSON_TYPE "application/json"

static double wall_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_REALTIME, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

int routes_send_text(web_conn_t *c, int status, const char *text)
{
    web_reply(c, status, "text/html; charset=utf-8", NULL, text, strlen(text));
    return status;
}

int routes_send_json(web_conn_t *c, int status, cJSON *j)
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
    if (a == NULL) return routes_send_text(c, 404, "Not Found");
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
    return routes_send_json(c, 200, j);
}

static int r_exceptions(web_conn_t *c, struct web *w)
{
    runner_lock(w->r);
    cJSON *j = json_exceptions(runner_stats(w->r));
    runner_unlock(w->r);
    return routes_send_json(c, 200, j);
}

static int r_tasks(web_conn_t *c, struct web *w)
{
    return routes_send_json(c, 200, of_run(w, json_tasks));
}

static int r_user_classes(web_conn_t *c, struct web *w)
{
    return routes_send_json(c, 200, of_run(w, json_user_classes));
}

/* cicada's own: the log lines kept for the Logs tab (no runner lock) */
static int r_logs(web_conn_t *c, struct web *w)
{
    cJSON *j = cJSON_CreateObject();
    cJSON_AddItemToObject(j, "logs", json_logs(LOG_RING, 0));
    return routes_send_json(c, 200, j);
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
    if (f == NULL) return routes_send_text(c, 500, "Internal Server Error");
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
        return routes_send_text(
            c, 404, "Error: Server was not started with option to generate full history.");
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
    if (f == NULL) return routes_send_text(c, 500, "Internal Server Error");
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
    {"POST", "/swarm", swarm_route, CHANGES},
    {"POST", "/stop", swarm_stop_route, CHANGES | SCRIPT_GET},
    {"POST", "/stats/reset", swarm_reset_route, CHANGES | SCRIPT_GET},
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
    return routes_send_json(c, status, j);
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
    return routes_send_text(c, 404, "Not Found");
}
