/* Unit tests for report/json: the /stats/requests, /exceptions, /tasks and
 * /stats/history documents built from a stats_t filled through a shard, as
 * the runner fills it. Values are checked against stats.h's figures and
 * against what Locust 2.12.1's web.py makes of the same requests (field
 * names, HTML escaping, proper_round of min and max, Aggregated last). */
#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "check.h"
#include "report/json.h"
#include "stats_fixture.h"

static bool near(double a, double b)
{
    return fabs(a - b) < 1e-9;
}

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const char *str(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsString(v) ? v->valuestring : "(not a string)";
}

/* Requests in second 1000..1006 of a run that started at 1000.5. */
static stats_t *sample(void)
{
    stats_shard_t *s;
    stats_t *st = fixture_stats_new(&s);
    fixture_fake_ok(s);
    for (int i = 0; i < 12; i++)
        stats_shard_request(s, "GET", "/fake", 150400, 5, "HTTPError('500 <b>')", 1003.1);
    stats_merge(st, s);
    stats_shard_request(s, "POST", "/a<b>&c", 50500, 10, NULL, 1006.7);
    stats_shard_exception(s, "boom <x>", "traceback: 'line 1'");
    stats_merge(st, s);
    stats_shard_free(s);
    return st;
}

static void test_stats_requests(void)
{
    stats_t *st = sample();
    char *text = json_print(json_stats_requests_of(st, "running", 7, 1007.2), true);
    cJSON *j = cJSON_Parse(text);
    CHECK(j != NULL);
    /* Locust's top-level keys are all there */
    static const char *keys[] = {"stats",
                                 "errors",
                                 "total_rps",
                                 "fail_ratio",
                                 "current_response_time_percentile_95",
                                 "current_response_time_percentile_50",
                                 "state",
                                 "user_count",
                                 "workers",
                                 "percentiles",
                                 "time"};
    for (size_t i = 0; i < sizeof keys / sizeof *keys; i++)
        CHECK_MSG(cJSON_HasObjectItem(j, keys[i]), "missing %s", keys[i]);
    CHECK(strcmp(str(j, "state"), "running") == 0);
    CHECK(num(j, "user_count") == 7);
    CHECK(near(num(j, "time"), 1007.2));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "workers")) == 0);

    const cJSON *rows = cJSON_GetObjectItem(j, "stats");
    CHECK(cJSON_GetArraySize(rows) == 3);
    const cJSON *fake = cJSON_GetArrayItem(rows, 1), *post = cJSON_GetArrayItem(rows, 0);
    const cJSON *agg = cJSON_GetArrayItem(rows, 2);
    /* sorted by name: "/a<b>&c" < "/fake"; Aggregated last */
    CHECK(strcmp(str(post, "name"), "/a<b>&c") == 0);
    CHECK(strcmp(str(post, "safe_name"), "/a&lt;b&gt;&amp;c") == 0);
    CHECK(strcmp(str(post, "method"), "POST") == 0);
    CHECK(strcmp(str(fake, "name"), "/fake") == 0);
    CHECK(strcmp(str(agg, "name"), "Aggregated") == 0);
    CHECK(strcmp(str(agg, "method"), "") == 0);
    static const char *row_keys[] = {"method",
                                     "name",
                                     "safe_name",
                                     "num_requests",
                                     "num_failures",
                                     "avg_response_time",
                                     "min_response_time",
                                     "max_response_time",
                                     "current_rps",
                                     "current_fail_per_sec",
                                     "median_response_time",
                                     "ninetieth_response_time",
                                     "ninety_ninth_response_time",
                                     "avg_content_length"};
    for (size_t i = 0; i < sizeof row_keys / sizeof *row_keys; i++)
        CHECK_MSG(cJSON_HasObjectItem(agg, row_keys[i]), "row misses %s", row_keys[i]);

    CHECK(num(fake, "num_requests") == 60);
    CHECK(num(fake, "num_failures") == 12);
    CHECK(num(fake, "avg_content_length") == 5);
    CHECK(num(fake, "min_response_time") == 10);
    /* proper_round(max) of ~150.4 ms (within the histogram's 1%) */
    CHECK(num(fake, "max_response_time") == 150);
    CHECK(num(post, "max_response_time") == 51); /* 50.5 rounds half up */
    CHECK(num(post, "min_response_time") == 51);
    /* Locust's example: median 10 but p50 20 for {10:30, 20:18, 150:12} */
    CHECK_MSG(fabs(num(fake, "median_response_time") - 10) < 0.1, "%g",
              num(fake, "median_response_time"));
    CHECK(fabs(num(fake, "ninetieth_response_time") - 150) < 2);
    CHECK(num(agg, "num_requests") == 61);
    CHECK(num(agg, "num_failures") == 12);

    stats_entry_t *t = stats_total(st);
    CHECK(near(num(j, "total_rps"), stats_current_rps(st, t)));
    CHECK(near(num(agg, "current_rps"), stats_current_rps(st, t)));
    CHECK(near(num(j, "fail_ratio"), 12.0 / 61));
    double p95;
    CHECK(stats_current_percentile(st, t, 0.95, 1007, &p95));
    CHECK(near(num(j, "current_response_time_percentile_95"), p95));
    const cJSON *pcts = cJSON_GetObjectItem(j, "percentiles");
    CHECK(cJSON_GetArraySize(pcts) == REPORT_NPCT);
    CHECK(near(num(pcts, "95"), p95));
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(pcts, "99.9")));
    CHECK(cJSON_IsNumber(cJSON_GetObjectItem(pcts, "100")));

    const cJSON *errs = cJSON_GetObjectItem(j, "errors");
    CHECK(cJSON_GetArraySize(errs) == 1);
    const cJSON *e = cJSON_GetArrayItem(errs, 0);
    CHECK(strcmp(str(e, "error"), "HTTPError(&#x27;500 &lt;b&gt;&#x27;)") == 0);
    CHECK(strcmp(str(e, "method"), "GET") == 0);
    CHECK(strcmp(str(e, "name"), "/fake") == 0);
    CHECK(num(e, "occurrences") == 12);
    /* keys come out sorted, like Flask's jsonify */
    CHECK(strcmp(j->child->string, "current_response_time_percentile_50") == 0);
    CHECK(strcmp(agg->child->string, "avg_content_length") == 0);
    cJSON_Delete(j);
    free(text);

    /* long after the traffic: no current percentile → null */
    j = cJSON_Parse(text = json_print(json_stats_requests_of(st, "stopped", 0, 5000), false));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "current_response_time_percentile_50")));
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(j, "percentiles"), "50")));
    cJSON_Delete(j);
    free(text);
    stats_free(st);
}

/* The whole-run documents read only the report_run_t they are given: a
 * master's workers, host, target and class picker come from it. */
static void test_of_run(void)
{
    stats_t *st = sample();
    report_worker_t ws[2] = {
        {.id = "w1", .state = "running", .user_count = 3, .cpu_usage = 12.5, .memory_usage = 1024},
        {.id = "w2", .state = "missing"}};
    report_class_t cls = {.name = "Web", .weight = 2, .host = "", .users = 3, .selected = true};
    report_run_t run = {.st = st,
                        .state = "running",
                        .user_count = 3,
                        .target = 10,
                        .rate = -1,
                        .host = "http://h",
                        .class_picker = true,
                        .cls = &cls,
                        .ncls = 1,
                        .workers = ws,
                        .nworkers = 2};
    cJSON *j = json_stats_requests(&run);
    CHECK(strcmp(cJSON_GetObjectItem(j, "host")->valuestring, "http://h") == 0);
    CHECK(cJSON_GetObjectItem(j, "target_user_count")->valuedouble == 10);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(j, "spawn_rate")));
    CHECK(cJSON_GetObjectItem(j, "user_count")->valuedouble == 3);
    cJSON *w = cJSON_GetObjectItem(j, "workers");
    CHECK(cJSON_GetArraySize(w) == 2);
    CHECK(strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(w, 0), "id")->valuestring, "w1") == 0);
    CHECK(cJSON_GetObjectItem(cJSON_GetArrayItem(w, 0), "cpu_usage")->valuedouble == 12.5);
    CHECK(strcmp(cJSON_GetObjectItem(cJSON_GetArrayItem(w, 1), "state")->valuestring, "missing") ==
          0);
    cJSON_Delete(j);
    j = json_user_classes(&run);
    CHECK(cJSON_IsTrue(cJSON_GetObjectItem(j, "class_picker")));
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "user_classes")) == 1);
    cJSON_Delete(j);
    run.class_picker = false;
    j = json_user_classes(&run);
    CHECK(cJSON_IsFalse(cJSON_GetObjectItem(j, "class_picker")));
    cJSON_Delete(j);
    stats_free(st);
}

static void test_truncation(void)
{
    stats_t *st = stats_new();
    stats_reset(st, 1000);
    stats_shard_t *s = stats_shard_new();
    for (int i = 0; i < 520; i++) {
        char name[32];
        snprintf(name, sizeof name, "/n%04d", i);
        stats_shard_request(s, "GET", name, 1000, 1, "err", 1001);
    }
    stats_merge(st, s);
    stats_shard_free(s);
    char *text = json_print(json_stats_requests_of(st, "running", 1, 1002), false);
    cJSON *j = cJSON_Parse(text);
    const cJSON *rows = cJSON_GetObjectItem(j, "stats");
    CHECK(cJSON_GetArraySize(rows) == 501);
    CHECK(strcmp(str(cJSON_GetArrayItem(rows, 499), "name"), "/n0499") == 0);
    CHECK(strcmp(str(cJSON_GetArrayItem(rows, 500), "name"), "Aggregated") == 0);
    CHECK(num(cJSON_GetArrayItem(rows, 500), "num_requests") == 520);
    CHECK(cJSON_GetArraySize(cJSON_GetObjectItem(j, "errors")) == 500);
    cJSON_Delete(j);
    free(text);
    stats_free(st);
}

static void test_exceptions(void)
{
    stats_t *st = sample();
    char *text = json_print(json_exceptions(st), false);
    cJSON *j = cJSON_Parse(text);
    const cJSON *ex = cJSON_GetArrayItem(cJSON_GetObjectItem(j, "exceptions"), 0);
    CHECK(ex != NULL);
    CHECK(num(ex, "count") == 1);
    CHECK(strcmp(str(ex, "msg"), "boom &lt;x&gt;") == 0);
    CHECK(strcmp(str(ex, "traceback"), "traceback: &#x27;line 1&#x27;") == 0);
    CHECK(cJSON_IsString(cJSON_GetObjectItem(ex, "nodes")));
    cJSON_Delete(j);
    free(text);
    stats_free(st);
}

static void test_tasks(void)
{
    report_class_t cls[2] = {
        {.name = "A",
         .weight = 3,
         .ntasks = 3,
         .task_names = {"x", "y", "x"},
         .task_weights = {1, 2, 1},
         .users = 0},
        {.name = "B",
         .weight = 1,
         .ntasks = 1,
         .task_names = {"z"},
         .task_weights = {5},
         .users = 0},
    };
    /* no user yet: the mix the weights give */
    cJSON *j = json_tasks_of(cls, 2);
    const cJSON *a = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "per_class"), "A");
    CHECK(near(num(a, "ratio"), 0.75));
    const cJSON *at = cJSON_GetObjectItem(a, "tasks");
    CHECK(near(num(cJSON_GetObjectItem(at, "x"), "ratio"), 0.5)); /* x twice: 1+1 of 4 */
    CHECK(near(num(cJSON_GetObjectItem(at, "y"), "ratio"), 0.5));
    const cJSON *ta = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "total"), "A");
    CHECK(near(num(cJSON_GetObjectItem(cJSON_GetObjectItem(ta, "tasks"), "y"), "ratio"), 0.375));
    cJSON_Delete(j);
    /* live users decide once there are some */
    cls[0].users = 1;
    cls[1].users = 3;
    j = json_tasks_of(cls, 2);
    const cJSON *b = cJSON_GetObjectItem(cJSON_GetObjectItem(j, "total"), "B");
    CHECK(near(num(b, "ratio"), 0.75));
    CHECK(near(num(cJSON_GetObjectItem(cJSON_GetObjectItem(b, "tasks"), "z"), "ratio"), 0.75));
    cJSON_Delete(j);
}

static void test_history(void)
{
    report_point_t p[2] = {{.time = 1000, .rps = 5, .fail_per_sec = 1, .users = 3},
                           {.time = 1001, .rps = 6, .fail_per_sec = 0, .users = 4}};
    for (int k = 0; k < REPORT_NPCT; k++) {
        p[0].pct[k] = -1;
        p[1].pct[k] = 10 * (k + 1);
    }
    char *text = json_print(json_history_of(p, 2), false);
    cJSON *j = cJSON_Parse(text);
    CHECK(cJSON_GetArraySize(j) == 2);
    const cJSON *p0 = cJSON_GetArrayItem(j, 0), *p1 = cJSON_GetArrayItem(j, 1);
    CHECK(num(p0, "time") == 1000 && num(p0, "rps") == 5 && num(p0, "users") == 3);
    CHECK(num(p0, "fail_per_sec") == 1);
    CHECK(cJSON_IsNull(cJSON_GetObjectItem(cJSON_GetObjectItem(p0, "percentiles"), "50")));
    CHECK(num(cJSON_GetObjectItem(p1, "percentiles"), "50") == 10);
    CHECK(num(cJSON_GetObjectItem(p1, "percentiles"), "100") == 100);
    cJSON_Delete(j);
    free(text);
}

static void test_escape(void)
{
    char *e = json_html_escape("<a href=\"x\">'&'</a>", true);
    CHECK(strcmp(e, "&lt;a href=&quot;x&quot;&gt;&#x27;&amp;&#x27;&lt;/a&gt;") == 0);
    xfree(e);
    e = json_html_escape("\"'<", false);
    CHECK(strcmp(e, "\"'&lt;") == 0);
    xfree(e);
}

/* The Logs tab's lines: the newest max, oldest first, with seq and time;
 * none before since. */
static void test_logs(void)
{
    char path[] = "/tmp/cicada-json-log-XXXXXX";
    close(mkstemp(path));
    CHECK(log_set_file(path) == 0);
    log_info("one <b>");
    log_warn("two");
    log_error("three");
    cJSON *j = json_logs(2, 0);
    CHECK(cJSON_GetArraySize(j) == 2);
    cJSON *a = cJSON_GetArrayItem(j, 0), *b = cJSON_GetArrayItem(j, 1);
    double sa = cJSON_GetObjectItem(a, "seq")->valuedouble;
    CHECK(cJSON_GetObjectItem(b, "seq")->valuedouble == sa + 1);
    CHECK(strstr(cJSON_GetObjectItem(a, "line")->valuestring, "/WARNING/cicada: two") != NULL);
    CHECK(strstr(cJSON_GetObjectItem(b, "line")->valuestring, "/ERROR/cicada: three") != NULL);
    CHECK(cJSON_GetObjectItem(b, "time")->valuedouble > 1.6e9);
    cJSON_Delete(j);
    j = json_logs(10, 0);
    CHECK(cJSON_GetArraySize(j) == 3); /* the page escapes: the line is as logged */
    CHECK(strstr(cJSON_GetObjectItem(cJSON_GetArrayItem(j, 0), "line")->valuestring, "one <b>"));
    cJSON_Delete(j);
    j = json_logs(10, 4e9); /* nothing that recent */
    CHECK(cJSON_GetArraySize(j) == 0);
    cJSON_Delete(j);
    unlink(path);
}

int main(void)
{
    test_stats_requests();
    test_of_run();
    test_truncation();
    test_exceptions();
    test_tasks();
    test_history();
    test_escape();
    test_logs();
    return check_done();
}
