/* Unit tests for report/html: the report has its tables, escapes what
 * users wrote, inlines Chart.js and its data, and links to nothing outside
 * itself -- once from a hand-made report_run_t and once from what a real
 * runner that has not run fills in (runner_report). */
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "check.h"
#include "runner/runner.h"
#include "report/html.h"
#include "web/assets.h"

/* The page with the embedded Chart.js, as main.c and the web route make it. */
static html_page_t chart_page(bool download_link)
{
    const asset_t *a = asset_find("/chart.min.js");
    return (html_page_t){.chartjs = a ? a->data : NULL,
                         .chartjs_len = a ? a->len : 0,
                         .download_link = download_link};
}

static char *out;
static size_t outlen;

static size_t count(const char *hay, const char *needle)
{
    size_t n = 0;
    for (const char *p = hay; (p = strstr(p, needle)) != NULL; p += strlen(needle))
        n++;
    return n;
}

#define HAS(s) CHECK_MSG(strstr(out, s) != NULL, "report lacks %s", s)
#define LACKS(s) CHECK_MSG(strstr(out, s) == NULL, "report has %s", s)

/* Nothing is fetched from anywhere: no external scripts, styles, images. */
static void check_self_contained(void)
{
    LACKS("src=\"http");
    LACKS("src=\"//");
    LACKS("href=\"http");
    LACKS("href=\"//");
    LACKS("<link");
    LACKS("<script src");
    LACKS("url(http");
    LACKS("@import");
    /* every script is closed once, so no data ended one early */
    CHECK(count(out, "<script>") == 2);
    CHECK(count(out, "</script>") == 2);
}

static void test_pieces(void)
{
    stats_t *st = stats_new();
    stats_reset(st, 1700000000.0);
    stats_shard_t *sh = stats_shard_new();
    for (int i = 0; i < 100; i++)
        stats_shard_request(sh, "GET", "/fast", 1000 * (i + 1), 512, NULL, 1700000010.0);
    stats_shard_request(sh, "POST", "<script>alert(1)</script>", 5000, 10,
                        "HTTPError('500 <b>bad</b>')", 1700000011.0);
    stats_shard_exception(sh, "attempt to index a nil value", "t.lua:3: in function <t.lua:1>");
    stats_merge(st, sh);

    report_point_t hist[3];
    for (int i = 0; i < 3; i++) {
        hist[i] = (report_point_t){.time = 1700000008.0 + i,
                                   .rps = 50 + i,
                                   .fail_per_sec = i,
                                   .p50 = 20,
                                   .p95 = 80,
                                   .users = 10};
        for (int k = 0; k < REPORT_NPCT; k++)
            hist[i].pct[k] = 10 + k;
    }
    report_class_t cls = {.name = "WebUser<x>",
                          .weight = 1,
                          .host = "",
                          .ntasks = 2,
                          .task_names = {"a", "b"},
                          .task_weights = {3, 1}};

    report_run_t in = {.st = st,
                       .host = "http://target:8080/?a=<b>",
                       .script = "t&t.lua",
                       .hist = hist,
                       .nhist = 3,
                       .cls = &cls,
                       .ncls = 1};
    free(out);
    FILE *f = open_memstream(&out, &outlen);
    html_page_t page = chart_page(false);
    html_report(f, &in, &page);
    fclose(f);

    HAS("<title>cicada Test Report</title>");
    HAS("id=\"request-stats\"");
    HAS("id=\"response-times\"");
    HAS("id=\"failures\"");
    HAS("id=\"exceptions\"");
    HAS("<th class=\"n\">60%ile (ms)</th>");
    HAS("<th class=\"n\">Average size (bytes)</th>");
    HAS("<td>GET</td><td class=\"name\">/fast</td><td class=\"n\">100</td><td class=\"n\">0</td>");
    /* average, min, max (ms, decimals kept below 100), average size */
    HAS("<td class=\"n\">50.5</td><td class=\"n\">1</td><td class=\"n\">100</td>"
        "<td class=\"n\">512</td>");
    HAS("<tr class=\"total\"><td></td><td class=\"name\">Aggregated</td><td class=\"n\">101</td>"
        "<td class=\"n\">1</td>");
    HAS("2023-11-14 22:13:20 – 2023-11-14 22:13:31 (UTC)");
    /* escaping of user-provided strings */
    HAS("&lt;script&gt;alert(1)&lt;/script&gt;");
    LACKS("<script>alert(1)");
    HAS("HTTPError(&#39;500 &lt;b&gt;bad&lt;/b&gt;&#39;)");
    HAS("in function &lt;t.lua:1&gt;</pre>");
    HAS("http://target:8080/?a=&lt;b&gt;");
    HAS("t&amp;t.lua");
    HAS("WebUser\\u003cx>"); /* inside the JSON data */
    LACKS("Download the Report");
    /* charts and inline Chart.js */
    HAS("<canvas id=\"chart-rps\">");
    HAS("<canvas id=\"chart-response\">");
    HAS("<canvas id=\"chart-users\">");
    HAS("Chart.js v3.9.1");
    HAS("window.cicadaHistory = [{");
    check_self_contained();

    stats_free(st);
    stats_shard_free(sh);
}

static void test_runner(void)
{
    char path[] = "/tmp/cicada-test-html-XXXXXX.lua";
    int fd = mkstemps(path, 4);
    CHECK(fd >= 0);
    if (fd < 0) return;
    static const char lua[] = "HtmlUser = cicada.user { host = \"http://127.0.0.1:9\" }\n"
                              "HtmlUser:task(1, function(self) end)\n";
    CHECK(write(fd, lua, sizeof lua - 1) == (ssize_t)(sizeof lua - 1));
    close(fd);

    /* opts_init's defaults, as main.c hands them over */
    runner_conf_t o = {.locustfile = path,
                       .users = -1,
                       .spawn_rate = -1,
                       .run_time = -1,
                       .autoquit = -1,
                       .exit_code_on_error = 1,
                       .threads = 1,
                       .expect_workers = 1};
    runner_t *r = runner_new(&o);
    CHECK(r != NULL);
    if (r != NULL) {
        /* UI mode with a quit already queued: runner_run returns at once,
         * after joining the engine threads (runner_free needs that) */
        runner_quit(r);
        runner_run(r);
        free(out);
        FILE *f = open_memstream(&out, &outlen);
        html_page_t page = chart_page(true);
        report_run_t run;
        runner_lock(r);
        runner_report(r, &run);
        CHECK(strcmp(run.state, "ready") == 0 && run.user_count == 0 && run.ncls == 1);
        CHECK(run.target == -1 && run.nworkers == 0 && !run.class_picker);
        html_report(f, &run, &page);
        runner_unlock(r);
        fclose(f);
        HAS("<title>cicada Test Report</title>");
        HAS("id=\"request-stats\"");
        HAS("id=\"response-times\"");
        HAS(path);
        HAS("http://127.0.0.1:9");
        HAS("Download the Report");
        HAS("No history recorded.");
        HAS("\"HtmlUser\"");
        HAS("Chart.js v3.9.1");
        check_self_contained();
        runner_free(r);
    }
    unlink(path);
}

/* The embedded Chart.js can be inlined in a <script> as it is. */
static void test_chartjs_asset(void)
{
    const asset_t *a = asset_find("/chart.min.js");
    CHECK(a != NULL);
    if (a == NULL) return;
    CHECK(a->len > 100000);
    CHECK(a->data[a->len] == 0);
    CHECK(strstr((const char *)a->data, "</script") == NULL);
    CHECK(strstr((const char *)a->data, "</SCRIPT") == NULL);
    CHECK(asset_find("/index.html") != NULL);
    CHECK(asset_find("/app.js") != NULL);
    CHECK(asset_find("/style.css") != NULL);
    CHECK(strncmp(asset_find("/app.js")->mime, "application/javascript", 22) == 0);
    CHECK(asset_find("/nope") == NULL);
}

int main(void)
{
    test_pieces();
    test_runner();
    test_chartjs_asset();
    free(out);
    return check_done();
}
