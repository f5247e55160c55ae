/* Unit tests of stats/threshold.c: the rule grammar (every metric, the
 * operators, names, blanks, every kind of malformed rule, input fenced so
 * an over-read is caught by ASan) and the figures a rule reads off a
 * merged stats_t (Aggregated, a named row, several methods of one name, a
 * name with no row). */
#include <math.h>
#include <stdlib.h>
#include <string.h>

#include "../check.h"
#include "stats/stats.h"
#include "stats/threshold.h"

/* Parse s from an exact-size heap copy (no NUL after it). */
static int parse(const char *s, threshold_t *t, char *err, size_t n)
{
    size_t len = strlen(s);
    char *copy = malloc(len ? len : 1);
    memcpy(copy, s, len);
    int rc = threshold_parse(copy, len, t, err, n);
    free(copy);
    return rc;
}

static void test_grammar(void)
{
    threshold_t t;
    char err[512];
    CHECK(parse("p95<200", &t, err, sizeof err) == 0);
    CHECK(t.metric == TM_PCT && t.pct == 0.95 && t.op == TO_LT && t.limit == 200 && !t.name[0]);
    CHECK(strcmp(t.expr, "p95<200") == 0 && strcmp(t.metric_name, "p95") == 0);
    CHECK(parse("p99(/cart)<=500", &t, err, sizeof err) == 0);
    CHECK(t.op == TO_LE && strcmp(t.name, "/cart") == 0 && t.limit == 500);
    CHECK(parse("  fail_ratio < 0.01 ", &t, err, sizeof err) == 0);
    CHECK(t.metric == TM_FAIL_RATIO && t.limit == 0.01 && strcmp(t.expr, "fail_ratio < 0.01") == 0);
    CHECK(parse("rps>100", &t, err, sizeof err) == 0 && t.metric == TM_RPS && t.op == TO_GT);
    CHECK(parse("requests>=1e3", &t, err, sizeof err) == 0 && t.op == TO_GE && t.limit == 1000);
    CHECK(parse("p99.9<1", &t, err, sizeof err) == 0 && t.pct == 0.999);
    CHECK(parse("p99.99<1", &t, err, sizeof err) == 0 && t.pct == 0.9999);
    CHECK(parse("max(/a (b) <c>)<.5", &t, err, sizeof err) == 0);
    CHECK(strcmp(t.name, "/a (b) <c>") == 0 && t.limit == 0.5);
    const char *all[] = {"avg",      "min",     "max", "median",     "p50",      "p66",
                         "p75",      "p80",     "p90", "p95",        "p98",      "p99",
                         "p99.9",    "p99.99",  "rps", "fail_ratio", "fail_rps", "requests",
                         "failures", "dropped", "late"};
    for (size_t i = 0; i < sizeof all / sizeof *all; i++) {
        char buf[64];
        snprintf(buf, sizeof buf, "%s(GET x)<=-3", all[i]);
        CHECK_MSG(parse(buf, &t, err, sizeof err) == 0 && t.limit == -3, "%s: %s", buf, err);
    }
}

static void test_malformed(void)
{
    threshold_t t;
    char err[512];
    struct {
        const char *s, *why;
    } bad[] = {
        {"", "empty"},
        {"   ", "empty"},
        {"<200", "metric is missing"},
        {"p96<200", "unknown metric 'p96'"},
        {"P95<200", "unknown metric"},
        {"p95", "operator is missing"},
        {"p95=200", "operator is missing"},
        {"p95==200", "operator is missing"},
        {"p95<", "number is missing"},
        {"p95<abc", "not a number"},
        {"p95<200ms", "not a number"},
        {"p95<inf", "not a number"},
        {"p95<nan", "not a number"},
        {"p95<0x10", "not a number"},
        {"p95<<200", "unknown operator"},
        {"p95<=>200", "unknown operator"},
        {"p95()<200", "empty request name"},
        {"p95(/x<200", "not closed"},
        {"p95 200", "operator is missing"},
        {"p95(/x)y<200", "operator is missing"},
    };
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        err[0] = '\0';
        int rc = parse(bad[i].s, &t, err, sizeof err);
        CHECK_MSG(rc == -1 && strstr(err, bad[i].why), "'%s': rc %d, err '%s'", bad[i].s, rc, err);
    }
    char longer[THRESHOLD_MAX_EXPR + 10];
    memset(longer, 'a', sizeof longer);
    CHECK(threshold_parse(longer, sizeof longer, &t, err, sizeof err) == -1);
    CHECK(threshold_parse("p95<1\0", 6, &t, err, sizeof err) == -1); /* a NUL inside */
    CHECK(threshold_parse("p95<1", 5, &t, NULL, 0) == 0);            /* err may be NULL */
}

static void rule(threshold_t *t, const char *s)
{
    char err[256];
    int rc = threshold_parse(s, strlen(s), t, err, sizeof err);
    CHECK_MSG(rc == 0, "%s: %s", s, err);
}

static bool eval(stats_t *st, const char *s, double *v)
{
    threshold_t t;
    rule(&t, s);
    bool ok = threshold_eval(&t, st);
    *v = t.value;
    return ok;
}

static void test_eval(void)
{
    stats_t *st = stats_new();
    stats_reset(st, 1000.0);
    stats_shard_t *sh = stats_shard_new();
    /* 90 GET /a of 10 ms, 10 POST /a of 100 ms that failed, 50 GET /b of 50 ms */
    for (int i = 0; i < 90; i++)
        stats_shard_request(sh, "GET", "/a", 10000, 1, NULL, 1004.0);
    for (int i = 0; i < 10; i++)
        stats_shard_request(sh, "POST", "/a", 100000, 1, "boom", 1005.0);
    for (int i = 0; i < 50; i++)
        stats_shard_request(sh, "GET", "/b", 50000, 1, NULL, 1010.0);
    stats_merge(st, sh);
    double v;
    CHECK(eval(st, "requests>=150", &v) && v == 150);
    CHECK(!eval(st, "requests>150", &v));
    CHECK(eval(st, "failures<=10", &v) && v == 10);
    CHECK(!eval(st, "fail_ratio<0.05", &v) && fabs(v - 10.0 / 150) < 1e-9);
    CHECK(eval(st, "rps>14", &v) && fabs(v - 15) < 1e-9);     /* 150 over 10 s */
    CHECK(eval(st, "fail_rps<=1", &v) && fabs(v - 1) < 1e-9); /* 10 over 10 s */
    CHECK(eval(st, "max<=100", &v) && v == 100);
    CHECK(eval(st, "min>=10", &v) && v == 10);
    CHECK(eval(st, "median<=10.1", &v) && fabs(v - 10) < 0.1);
    CHECK(!eval(st, "median>10.1", &v));
    CHECK(eval(st, "p95<=100", &v) && fabs(v - 100) < 1);
    /* the named row: both methods of /a together */
    CHECK(eval(st, "requests(/a)>=100", &v) && v == 100);
    CHECK(!eval(st, "fail_ratio(/a)<0.1", &v) && fabs(v - 0.1) < 1e-9);
    CHECK(eval(st, "p95(/a)>=99", &v) && fabs(v - 100) < 1);
    CHECK(eval(st, "max(/a)<=100", &v) && v == 100);
    CHECK(eval(st, "min(/a)<=10", &v) && v == 10);
    CHECK(eval(st, "avg(/b)<=50.5", &v) && fabs(v - 50) < 0.5);
    CHECK(eval(st, "p50(/b)>49", &v) && fabs(v - 50) < 0.5);
    /* a name with no row: no request; time rules pass with no value */
    threshold_t t;
    rule(&t, "p95(/none)<1");
    CHECK(threshold_eval(&t, st) && !t.has_value);
    CHECK(!eval(st, "requests(/none)>0", &v) && v == 0);
    CHECK(eval(st, "dropped<1", &v) && v == 0);
    CHECK(eval(st, "late<=0", &v) && v == 0);
    CHECK(strcmp(threshold_op_name(TO_GE), ">=") == 0);
    stats_shard_free(sh);
    stats_free(st);
}

int main(void)
{
    test_grammar();
    test_malformed();
    test_eval();
    return check_done();
}
