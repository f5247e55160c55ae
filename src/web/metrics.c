/* metrics: GET /metrics (see metrics.h).
 *
 * The exposition is printed into memory under runner_lock(), as the CSV
 * downloads are, and sent after unlocking: a slow scraper holds a copy,
 * never the runner's once-a-second merge, so scraping cannot slow the
 * engines (they never take that lock on the hot path). The figures are
 * the main thread's merged statistics, the same as the web UI shows, at
 * most a second old. */
#include "web/metrics.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "report/expo.h"

bool metrics_wants(const struct web *w, const http_req_t *req)
{
    return w->metrics_only || strcmp(req->path, "/metrics") == 0;
}

static bool is_method(const http_req_t *req, const char *m)
{
    return req->method_len == strlen(m) && memcmp(req->method, m, req->method_len) == 0;
}

static int plain(web_conn_t *c, int status, const char *headers, const char *text)
{
    web_reply(c, status, "text/plain; charset=utf-8", headers, text, strlen(text));
    return status;
}

int metrics_route(web_conn_t *c, struct web *w)
{
    const http_req_t *req = web_request(c);
    if (strcmp(req->path, "/metrics") != 0) /* a metrics-only server */
        return plain(c, 404, NULL, "Not Found: this port serves /metrics only");
    if (!is_method(req, "GET")) return plain(c, 405, "Allow: GET\r\n", "Method Not Allowed");
    char *data = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&data, &len);
    if (f == NULL) return plain(c, 500, NULL, "Internal Server Error");
    report_run_t run;
    runner_lock(w->r);
    runner_report(w->r, &run);
    expo_write(f, &run);
    runner_unlock(w->r);
    fclose(f);
    web_reply(c, 200, EXPO_CONTENT_TYPE, NULL, data, len);
    free(data); /* open_memstream's buffer is plain malloc */
    return 200;
}
