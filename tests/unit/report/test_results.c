/* Unit tests for report/results: Locust's --json list (its keys, no
 * Aggregated, rounded response-time buckets that add up to the timed
 * requests, per-second counts), cicada's --summary-json document (totals,
 * rows with every percentile, thresholds with values and verdicts, the
 * exit code) and the thresholds in /stats/requests' push, from a stats_t
 * filled through a shard as the runner fills it. */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "report/json.h"
#include "report/results.h"
#include "stats_fixture.h"

static double num(const cJSON *o, const char *k)
{
    const cJSON *v = cJSON_GetObjectItemCaseSensitive(o, k);
    return cJSON_IsNumber(v) ? v->valuedouble : NAN;
}

static const cJSON *get(const cJSON *o, const char *k)
{
    return cJSON_GetObjectItemCaseSensitive(o, k);
}

static double sum_values(const cJSON *o)
{
    double s = 0;
    const cJSON *c;
    cJSON_ArrayForEach(c, o) s += c->valuedouble;
    return s;
}

static const char *const locust_keys[] = {"name",
                                          "method",
                                          "last_request_timestamp",
                                          "start_time",
                                          "num_requests",
                                          "num_none_requests",
                                          "num_failures",
                                          "total_response_time",
                                          "max_response_time",
                                          "min_response_time",
                                          "total_content_length",
                                          "response_times",
                                          "num_reqs_per_sec",
                                          "num_fail_per_sec"};

static void test_locust(stats_t *st)
{
    cJSON *list = results_locust(st);
    CHECK(cJSON_GetArraySize(list) == 4); /* /a,b "q", /async, /fake, /login: no Aggregated */
    const cJSON *e;
    cJSON_ArrayForEach(e, list)
    {
        CHECK(cJSON_GetArraySize(e) == (int)(sizeof locust_keys / sizeof *locust_keys));
        for (size_t i = 0; i < sizeof locust_keys / sizeof *locust_keys; i++)
            CHECK_MSG(get(e, locust_keys[i]) != NULL, "%s", locust_keys[i]);
        CHECK(strcmp(get(e, "name")->valuestring, "Aggregated") != 0);
        double timed = num(e, "num_requests") - num(e, "num_none_requests");
        CHECK(sum_values(get(e, "response_times")) == timed);
        CHECK(sum_values(get(e, "num_reqs_per_sec")) == num(e, "num_requests"));
        CHECK(sum_values(get(e, "num_fail_per_sec")) == num(e, "num_failures"));
        CHECK(num(e, "start_time") == 1000.5);
        if (strcmp(get(e, "name")->valuestring, "/async") == 0)
            CHECK(cJSON_IsNull(get(e, "min_response_time")));
        if (strcmp(get(e, "name")->valuestring, "/fake") == 0) {
            CHECK(num(e, "num_requests") == 60 && num(e, "num_failures") == 12);
            /* 30 of 10 ms, 18 of 20 ms, 12 of 150 ms: Locust's keys 10, 20, 150 */
            const cJSON *rt = get(e, "response_times");
            CHECK(num(rt, "10") == 30 && num(rt, "20") == 18 && num(rt, "150") == 12);
            CHECK(num(get(e, "num_reqs_per_sec"), "1001") == 30);
            CHECK(num(e, "total_response_time") == 30 * 10 + 18 * 20 + 12 * 150);
            CHECK(num(e, "max_response_time") == 150 && num(e, "min_response_time") == 10);
        }
    }
    cJSON_Delete(list);
}

static void test_summary(stats_t *st)
{
    threshold_t t[2];
    CHECK(threshold_parse("p95(/fake)<100", 14, &t[0], NULL, 0) == 0);
    CHECK(threshold_parse("requests>=64", 12, &t[1], NULL, 0) == 0);
    t[1].abort = true;
    t[1].grace = 5;
    t[1].scenario = true;
    threshold_eval(&t[0], st);
    threshold_eval(&t[1], st);
    report_run_t run = {
        .st = st, .state = "stopped", .host = "http://x", .thresholds = t, .nthresholds = 2};
    cJSON *d = results_summary(&run, 3, 1010.0);
    CHECK(num(d, "version") == RESULTS_SUMMARY_VERSION && num(d, "exit_code") == 3);
    CHECK(num(d, "start_time") == 1000.5 && num(d, "end_time") == 1010.0);
    CHECK(num(d, "cut_off") == 0 && num(d, "late") == 0 && num(d, "dropped") == 0);
    const cJSON *tot = get(d, "totals");
    CHECK(strcmp(get(tot, "name")->valuestring, "Aggregated") == 0 &&
          num(tot, "num_requests") == 65);
    CHECK(cJSON_GetArraySize(get(d, "rows")) == 4);
    const cJSON *p = get(tot, "percentiles");
    CHECK(cJSON_GetArraySize(p) == STATS_NPCT && get(p, "99.99") && get(p, "100") && get(p, "50"));
    CHECK(cJSON_IsFalse(get(d, "thresholds_ok")));
    const cJSON *th = get(d, "thresholds");
    CHECK(cJSON_GetArraySize(th) == 2);
    const cJSON *a = cJSON_GetArrayItem(th, 0), *b = cJSON_GetArrayItem(th, 1);
    CHECK(cJSON_IsFalse(get(a, "ok")) && fabs(num(a, "value") - 150) < 1); /* 12 of 60 at 150 */
    CHECK(strcmp(get(a, "name")->valuestring, "/fake") == 0 && num(a, "limit") == 100);
    CHECK(strcmp(get(a, "source")->valuestring, "command line") == 0);
    CHECK(cJSON_IsTrue(get(b, "ok")) && num(b, "value") == 65 && cJSON_IsTrue(get(b, "abort")));
    CHECK(strcmp(get(b, "name")->valuestring, "Aggregated") == 0 && num(b, "grace") == 5);
    CHECK(strcmp(get(b, "source")->valuestring, "scenario") == 0);
    cJSON_Delete(d);

    /* the push carries them only when there are some */
    cJSON *push = json_stats_requests(&run);
    CHECK(cJSON_GetArraySize(get(push, "thresholds")) == 2);
    cJSON_Delete(push);
    run.nthresholds = 0;
    push = json_stats_requests(&run);
    CHECK(get(push, "thresholds") == NULL);
    cJSON_Delete(push);
}

int main(void)
{
    stats_shard_t *sh;
    stats_t *st = fixture_stats_new(&sh);
    fixture_fake_ok(sh);
    fixture_fake_failed(sh);
    fixture_others(sh);
    stats_merge(st, sh);
    test_locust(st);
    test_summary(st);
    stats_shard_free(sh);
    stats_free(st);
    return check_done();
}
