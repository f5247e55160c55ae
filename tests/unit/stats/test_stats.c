/* Unit tests for stats: Locust's median vs p50 example, clamping, the
 * current RPS window, total RPS, None requests, failures and exceptions,
 * merging shards (several shards == one), reset, and current percentiles
 * over the last 10 seconds. */
#include <math.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "stats/stats.h"

#define NEAR(a, b) (fabs((a) - (b)) < 1e-9)

static void test_median_vs_p50(void)
{
    stats_t *st = stats_new();
    stats_shard_t *s = stats_shard_new();
    CHECK(stats_shard_empty(s));
    for (int i = 0; i < 30; i++)
        stats_shard_request(s, "GET", "/fake", 10000, 5, NULL, 1000.5);
    for (int i = 0; i < 18; i++)
        stats_shard_request(s, "GET", "/fake", 20000, 5, NULL, 1000.5);
    for (int i = 0; i < 12; i++)
        stats_shard_request(s, "GET", "/fake", 150000, 5, "HTTPError('500')", 1000.5);
    CHECK(!stats_shard_empty(s));
    stats_merge(st, s);
    CHECK(stats_shard_empty(s));
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    CHECK(n == 1);
    stats_entry_t *e = es[0], *t = stats_total(st);
    CHECK(strcmp(e->method, "GET") == 0 && strcmp(e->name, "/fake") == 0);
    CHECK(strcmp(t->method, "") == 0 && strcmp(t->name, "Aggregated") == 0);
    CHECK((int)stats_median(e) == 10);
    CHECK((int)stats_percentile(e, 0.5) == 20);
    CHECK((int)stats_median(t) == 10 && (int)stats_percentile(t, 0.5) == 20);
    CHECK((int)stats_percentile(e, 0.79) == 20);
    CHECK((int)stats_percentile(e, 0.8) == 150); /* k = 48: 60 - 12 <= 48 */
    CHECK((int)stats_percentile(e, 1.0) == 150);
    CHECK(fabs(stats_percentile(e, 1.0) - 150) / 150 < 0.01);
    CHECK(e->num_requests == 60 && e->num_failures == 12);
    CHECK(NEAR(stats_avg(e), (30 * 10 + 18 * 20 + 12 * 150) / 60.0));
    CHECK(NEAR(stats_min(e), 10.0) && NEAR(e->max_response_time_ms, 150.0));
    CHECK(NEAR(stats_fail_ratio(e), 0.2));
    CHECK(NEAR(stats_avg_content(e), 5.0));
    stats_shard_free(s);
    stats_free(st);
}

static void test_clamp_and_none(void)
{
    stats_t *st = stats_new();
    stats_shard_t *s = stats_shard_new();
    /* one slow request: the bucket midpoint is above it, the median is clamped to max */
    stats_shard_request(s, "GET", "/one", 150001, 0, NULL, 1000.0);
    /* None requests only: min 0, avg 0, median 0, percentiles 0 */
    stats_shard_request(s, "GET", "/none", -1, 100, NULL, 1000.0);
    stats_shard_request(s, "GET", "/none", -1, 300, NULL, 1000.0);
    stats_merge(st, s);
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    CHECK(n == 2);
    CHECK(strcmp(es[0]->name, "/none") == 0 && strcmp(es[1]->name, "/one") == 0);
    stats_entry_t *none = es[0], *one = es[1];
    CHECK(NEAR(stats_median(one), 150.001));
    CHECK(NEAR(stats_percentile(one, 1.0), 150.001)); /* clamped to max too (issue 8) */
    CHECK(none->num_requests == 2 && none->num_none_requests == 2);
    CHECK(stats_min(none) == 0 && stats_avg(none) == 0 && stats_median(none) == 0);
    CHECK(stats_percentile(none, 0.5) == 0);
    CHECK(NEAR(stats_avg_content(none), 200.0));
    /* the total counts the None requests in num_requests for its percentile
     * walk, as Locust does: k = int(3 * 0.5) = 1, after one bucket 3-1 > 1 */
    stats_entry_t *t = stats_total(st);
    CHECK(t->num_requests == 3 && t->num_none_requests == 2);
    CHECK(stats_percentile(t, 0.5) == 0);
    CHECK(NEAR(stats_percentile(t, 0.7), 150.001));
    CHECK(NEAR(stats_fail_ratio(t), 0.0));
    stats_shard_free(s);
    stats_free(st);
}

static void test_current_rps(void)
{
    stats_t *st = stats_new();
    stats_reset(st, 1000.5);
    stats_shard_t *s = stats_shard_new();
    /* second 1000+i gets i+1 requests, every third a failure, for 21 seconds */
    int k = 0;
    for (int i = 0; i <= 20; i++) {
        for (int j = 0; j <= i; j++, k++)
            stats_shard_request(s, "GET", "/a", 1000, 0, k % 3 ? NULL : "boom", 1000 + i + 0.3);
        if (i == 5) {
            stats_merge(st, s);
            stats_entry_t *t = stats_total(st);
            /* window [max(993, 1000), 1003) = 1000, 1001, 1002 → (1+2+3)/3 */
            CHECK(NEAR(stats_current_rps(st, t), 2.0));
        }
    }
    stats_shard_request(s, "GET", "/b", 1000, 0, NULL, 1010.1);
    stats_merge(st, s);
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    stats_entry_t *a = es[0], *b = es[1], *t = stats_total(st);
    /* last request 1020.3: window [1008, 1018) → mean of 9..18 = 13.5 */
    CHECK(NEAR(stats_current_rps(st, a), 13.5));
    CHECK(NEAR(stats_current_rps(st, t), 13.6)); /* + /b's one request at 1010 */
    /* /b's window is relative to the Aggregated row's last request */
    CHECK(NEAR(stats_current_rps(st, b), 0.1));
    double fails = 0;
    k = 0;
    for (int i = 0; i <= 20; i++)
        for (int j = 0; j <= i; j++, k++)
            if (i >= 8 && i < 18 && k % 3 == 0) fails++;
    CHECK(NEAR(stats_current_fail_per_sec(st, a), fails / 10));
    /* total rps: all requests over (last request - start) */
    CHECK(NEAR(stats_total_rps(st, a), (double)a->num_requests / (1020.3 - 1000.5)));
    CHECK(NEAR(stats_total_fail_per_sec(st, t), (double)t->num_failures / (1020.3 - 1000.5)));
    /* after a reset everything is zero, errors are gone */
    stats_reset(st, 2000);
    CHECK(stats_current_rps(st, a) == 0 && stats_total_rps(st, a) == 0);
    CHECK(a->num_requests == 0 && stats_median(a) == 0 && stats_percentile(a, 0.5) == 0);
    stats_errors(st, &n);
    CHECK(n == 0);
    stats_entries(st, &n);
    CHECK(n == 2); /* rows are zeroed in place, not dropped */
    stats_shard_free(s);
    stats_free(st);
}

static void test_shards_merge(void)
{
    stats_t *one = stats_new(), *many = stats_new();
    stats_shard_t *s1 = stats_shard_new(), *sa = stats_shard_new(), *sb = stats_shard_new();
    uint64_t x = 12345;
    for (int round = 0; round < 3; round++) {
        for (int i = 0; i < 5000; i++) {
            x = x * 6364136223846793005ull + 1442695040888963407ull;
            int64_t rt = (int64_t)((x >> 33) % 500000);
            const char *name = (x >> 20) % 2 ? "/x" : "/y";
            const char *err = (x >> 25) % 10 == 0 ? "ConnectionError()" : NULL;
            double now = 5000 + round + i / 5000.0;
            stats_shard_request(s1, "GET", name, rt, 10, err, now);
            stats_shard_request(i % 2 ? sa : sb, "GET", name, rt, 10, err, now);
        }
        stats_merge(one, s1);
        stats_merge(many, sa);
        stats_merge(many, sb);
    }
    stats_entry_t *t1 = stats_total(one), *t2 = stats_total(many);
    CHECK(t1->num_requests == 15000 && t2->num_requests == 15000);
    CHECK(t1->num_failures == t2->num_failures);
    for (int i = 0; i < STATS_NPCT; i++)
        CHECK(stats_percentile(t1, stats_pcts[i]) == stats_percentile(t2, stats_pcts[i]));
    CHECK(stats_median(t1) == stats_median(t2));
    CHECK(NEAR(stats_avg(t1), stats_avg(t2)));
    CHECK(stats_min(t1) == stats_min(t2) && t1->max_response_time_ms == t2->max_response_time_ms);
    size_t n1, n2;
    stats_error_t **e1 = stats_errors(one, &n1), **e2 = stats_errors(many, &n2);
    CHECK(n1 == 2 && n2 == 2);
    CHECK(strcmp(e1[0]->name, "/x") == 0 && strcmp(e1[1]->name, "/y") == 0);
    CHECK(e1[0]->occurrences == e2[0]->occurrences && e1[1]->occurrences == e2[1]->occurrences);
    CHECK(e1[0]->occurrences + e1[1]->occurrences == t1->num_failures);
    stats_shard_free(s1);
    stats_shard_free(sa);
    stats_shard_free(sb);
    stats_free(one);
    stats_free(many);
}

static void test_exceptions(void)
{
    stats_t *st = stats_new();
    stats_shard_t *s = stats_shard_new();
    stats_shard_exception(s, "oops", "tb1");
    stats_shard_exception(s, "oops", "tb1");
    stats_shard_exception(s, "other", "tb2");
    CHECK(!stats_shard_empty(s));
    stats_merge(st, s);
    stats_shard_exception(s, "oops again", "tb1");
    stats_merge(st, s);
    stats_exception_add(st, "oops", "tb1", "worker-1", 4);
    stats_exception_add(st, "oops", "tb1", "local", 1);
    size_t n;
    stats_exception_t **x = stats_exceptions(st, &n);
    CHECK(n == 2);
    if (n == 2 && strcmp(x[0]->traceback, "tb2") == 0) { /* shard order is hash order */
        stats_exception_t *tmp = x[0];
        x[0] = x[1];
        x[1] = tmp;
    }
    CHECK(x[0]->count == 8 && strcmp(x[0]->msg, "oops") == 0);
    CHECK(strcmp(x[0]->nodes, "local, worker-1") == 0);
    CHECK(x[1]->count == 1 && strcmp(x[1]->nodes, "local") == 0);
    stats_reset(st, 3000); /* keeps exceptions */
    stats_exceptions(st, &n);
    CHECK(n == 2);
    stats_clear_exceptions(st);
    stats_exceptions(st, &n);
    CHECK(n == 0);
    stats_shard_free(s);
    stats_free(st);
}

static void test_current_percentile(void)
{
    stats_t *st = stats_new();
    stats_reset(st, 100);
    stats_shard_t *s = stats_shard_new();
    /* seconds 100..129: second i has 10 requests of i ms */
    for (int i = 100; i < 130; i++) {
        for (int j = 0; j < 10; j++)
            stats_shard_request(s, "GET", "/p", i * 1000, 0, NULL, i + 0.5);
        stats_merge(st, s);
    }
    size_t n;
    stats_entry_t *e = stats_entries(st, &n)[0];
    double v;
    /* now = 129: window is seconds 120..129 */
    CHECK(stats_current_percentile(st, e, 0.0, 129, &v) && (int)round(v) == 120);
    CHECK(stats_current_percentile(st, e, 0.5, 129, &v) && (int)round(v) == 125);
    CHECK(stats_current_percentile(st, e, 1.0, 129, &v) && (int)round(v) == 129);
    CHECK(stats_current_percentile(st, stats_total(st), 1.0, 129, &v) && (int)round(v) == 129);
    /* the whole-run percentile differs */
    CHECK((int)round(stats_percentile(e, 0.0)) == 100);
    /* now = 125: seconds 116..125 */
    CHECK(stats_current_percentile(st, e, 0.0, 125, &v) && (int)round(v) == 116);
    CHECK(stats_current_percentile(st, e, 1.0, 125, &v) && (int)round(v) == 125);
    /* long after the traffic: no data */
    CHECK(!stats_current_percentile(st, e, 0.5, 200, &v));
    stats_shard_free(s);
    stats_free(st);
}

/* Issue 8 item 13: no percentile is above Max or below Min (a bucket's
 * midpoint can be: 3006.5 for one request of 3001.4 ms), wherever it is
 * computed (whole run, current window, a master's merge of worker
 * deltas), and each stays within 0.4% of the exact value otherwise. */
static uint64_t rng = 88172645463325252ULL;
static double uniform(void)
{
    rng ^= rng << 13, rng ^= rng >> 7, rng ^= rng << 17;
    return (double)(rng >> 11) / 9007199254740992.0;
}

static int cmp_i64(const void *a, const void *b)
{
    int64_t x = *(const int64_t *)a, y = *(const int64_t *)b;
    return (x > y) - (x < y);
}

static void test_percentiles_within_min_max(void)
{
    stats_t *st = stats_new();
    stats_reset(st, 1000);
    stats_shard_t *s = stats_shard_new();
    stats_shard_request(s, "GET", "/one", 3001400, 0, NULL, 1000.5);
    stats_merge(st, s);
    size_t n;
    stats_entry_t *one = stats_entries(st, &n)[0];
    for (int i = 0; i < STATS_NPCT; i++)
        CHECK_MSG(NEAR(stats_percentile(one, stats_pcts[i]), 3001.4), "p%g = %g",
                  stats_pcts[i] * 100, stats_percentile(one, stats_pcts[i]));
    CHECK(NEAR(stats_median(one), 3001.4));
    double v;
    CHECK(stats_current_percentile(st, one, 1.0, 1000, &v) && NEAR(v, 3001.4));
    CHECK(stats_current_percentile(st, stats_total(st), 1.0, 1000, &v) && NEAR(v, 3001.4));

    /* a master merging a worker's delta with the same request */
    stats_t *m = stats_new();
    stats_reset(m, 1000);
    hist_t *h = hist_new();
    hist_record(h, 3001400);
    stats_delta_t d = {.method = "GET",
                       .name = "/one",
                       .num_requests = 1,
                       .total_response_time_ms = 3001.4,
                       .min_response_time_ms = 3001.4,
                       .max_response_time_ms = 3001.4,
                       .last_request_ts = 1000.5,
                       .hist = h};
    stats_merge_delta(m, &d, false);
    stats_merge_delta(m, &d, true);
    stats_entry_t *me = stats_entries(m, &n)[0];
    CHECK(NEAR(stats_percentile(me, 1.0), 3001.4) && NEAR(stats_percentile(me, 0.5), 3001.4));
    CHECK(NEAR(stats_percentile(stats_total(m), 1.0), 3001.4));
    hist_free(h);
    stats_free(m);

    /* 20,000 log-uniform times from 100 us to 60 s: within [min, max] and
     * 0.4% of the exact value of Locust's rank int(n * p) */
    enum { N = 20000 };
    static int64_t us[N];
    for (int i = 0; i < N; i++) {
        us[i] = (int64_t)(100 * pow(600000.0, uniform()));
        stats_shard_request(s, "GET", "/many", us[i], 0, NULL, 1001.5);
    }
    stats_merge(st, s);
    stats_entry_t *many = NULL;
    stats_entry_t **es = stats_entries(st, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(es[i]->name, "/many") == 0) many = es[i];
    CHECK(many != NULL);
    qsort(us, N, sizeof *us, cmp_i64);
    for (int i = 0; many && i < STATS_NPCT; i++) {
        double p = stats_pcts[i], got = stats_percentile(many, p);
        size_t k = (size_t)(N * p);
        double exact = (double)us[k < N ? k : N - 1] / 1000.0;
        CHECK_MSG(got >= stats_min(many) && got <= many->max_response_time_ms, "p%g = %g", p * 100,
                  got);
        CHECK_MSG(fabs(got - exact) / exact <= 0.004, "p%g = %g, exact %g", p * 100, got, exact);
    }
    stats_shard_free(s);
    stats_free(st);
}

/* Requests cut off at stop: counted apart, in no row, not failures;
 * merged like the rest and zeroed by a reset. */
static void test_cut(void)
{
    stats_t *st = stats_new();
    stats_shard_t *s = stats_shard_new();
    stats_shard_cut(s);
    CHECK(!stats_shard_empty(s));
    stats_shard_cut(s);
    stats_merge(st, s);
    CHECK(stats_shard_empty(s));
    stats_shard_cut(s);
    stats_merge(st, s);
    size_t n;
    stats_entries(st, &n);
    CHECK(stats_cut(st) == 3 && n == 0);
    CHECK(stats_total(st)->num_requests == 0 && stats_total(st)->num_failures == 0);
    stats_add_cut(st, 2);
    CHECK(stats_cut(st) == 5);
    stats_reset(st, 3000);
    CHECK(stats_cut(st) == 0);
    stats_shard_free(s);
    stats_free(st);
}

/* A shard remembers the row of its last request: a repeat skips the
 * lookup, anything else (another name, another method, the same buffer
 * holding another name) must still land in its own row. */
static void test_rows_by_name(void)
{
    stats_t *st = stats_new();
    stats_shard_t *s = stats_shard_new();
    char name[16];
    const char *seq[] = {"/a", "/a", "/b", "/a", "/b", "/b", "/a"};
    for (size_t i = 0; i < sizeof seq / sizeof *seq; i++) {
        strcpy(name, seq[i]); /* one buffer, reused: as a user's pending name */
        stats_shard_request(s, "GET", name, 1000, 1, NULL, 100.0);
    }
    stats_shard_request(s, "POST", "/a", 1000, 1, NULL, 100.0);
    stats_shard_request(s, "POST", "/a", 1000, 1, "HTTPError('500')", 100.0);
    stats_merge(st, s);
    size_t n;
    stats_entry_t **e = stats_entries(st, &n);
    CHECK(n == 3);
    /* sorted by (name, method) */
    CHECK(strcmp(e[0]->name, "/a") == 0 && strcmp(e[0]->method, "GET") == 0 &&
          e[0]->num_requests == 4);
    CHECK(strcmp(e[1]->name, "/a") == 0 && strcmp(e[1]->method, "POST") == 0 &&
          e[1]->num_requests == 2 && e[1]->num_failures == 1);
    CHECK(strcmp(e[2]->name, "/b") == 0 && e[2]->num_requests == 3);
    stats_shard_free(s);
    stats_free(st);
}

int main(void)
{
    CHECK(STATS_NPCT == 11 && strcmp(stats_pct_names[9], "99.99%") == 0);
    test_median_vs_p50();
    test_clamp_and_none();
    test_current_rps();
    test_shards_merge();
    test_exceptions();
    test_current_percentile();
    test_percentiles_within_min_max();
    test_cut();
    test_rows_by_name();
    return check_done();
}
