/* threshold: parsing a rule and reading its figure (see threshold.h).
 *
 * The parser walks the text once: blanks, the metric (letters, digits, '.'
 * and '_'), an optional "(NAME)" that runs to the last ')' before the
 * operator (so a name may hold parentheses itself), the operator, then a
 * number that must end the text. It copies into the rule's fixed arrays
 * and never allocates. The evaluator reads Locust's total figures of the
 * Aggregated row or of the named rows; rows of one name with different
 * methods are added into one (their histograms merged into a scratch one
 * made for that evaluation, once a second at most). */
#include "stats/threshold.h"

#include <ctype.h>
#include <math.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/hist.h"

static const struct {
    const char *name;
    enum threshold_metric m;
    double pct;
} metrics[] = {
    {"avg", TM_AVG, 0},           {"min", TM_MIN, 0},
    {"max", TM_MAX, 0},           {"median", TM_MEDIAN, 0},
    {"p50", TM_PCT, 0.5},         {"p66", TM_PCT, 0.66},
    {"p75", TM_PCT, 0.75},        {"p80", TM_PCT, 0.8},
    {"p90", TM_PCT, 0.9},         {"p95", TM_PCT, 0.95},
    {"p98", TM_PCT, 0.98},        {"p99", TM_PCT, 0.99},
    {"p99.9", TM_PCT, 0.999},     {"p99.99", TM_PCT, 0.9999},
    {"rps", TM_RPS, 0},           {"fail_ratio", TM_FAIL_RATIO, 0},
    {"fail_rps", TM_FAIL_RPS, 0}, {"requests", TM_REQUESTS, 0},
    {"failures", TM_FAILURES, 0}, {"dropped", TM_DROPPED, 0},
    {"late", TM_LATE, 0},
};
#define NMETRICS (sizeof metrics / sizeof metrics[0])

#define LIST_OF_METRICS                                                                            \
    "avg min max median p50 p66 p75 p80 p90 p95 p98 p99 p99.9 p99.99 rps fail_ratio fail_rps "     \
    "requests failures dropped late"

static int fail(char *err, size_t n, const char *msg)
{
    if (err && n) snprintf(err, n, "%s", msg);
    return -1;
}

static size_t skip_blanks(const char *s, size_t i, size_t len)
{
    while (i < len && (s[i] == ' ' || s[i] == '\t'))
        i++;
    return i;
}

/* The operator at s[i..len): its kind and length, or 0 if none. */
static size_t read_op(const char *s, size_t i, size_t len, enum threshold_op *op)
{
    if (i >= len || (s[i] != '<' && s[i] != '>')) return 0;
    bool eq = i + 1 < len && s[i + 1] == '=';
    *op = s[i] == '<' ? (eq ? TO_LE : TO_LT) : (eq ? TO_GE : TO_GT);
    return eq ? 2 : 1;
}

/* Where the operator after "(NAME)" starts: the last ')' before the last
 * '<' or '>' ends the name. Returns the index of that ')', or len. */
static size_t name_end(const char *s, size_t from, size_t len)
{
    size_t op = len;
    for (size_t i = len; i > from; i--)
        if (s[i - 1] == '<' || s[i - 1] == '>') {
            op = i - 1;
            break;
        }
    for (size_t i = op; i > from; i--)
        if (s[i - 1] == ')') return i - 1;
    return len;
}

static int read_number(const char *s, size_t i, size_t len, double *out, char *err, size_t n)
{
    char num[64];
    size_t k = len - i;
    while (k > 0 && (s[i + k - 1] == ' ' || s[i + k - 1] == '\t'))
        k--;
    if (k == 0) return fail(err, n, "a number is missing after the operator");
    if (k >= sizeof num) return fail(err, n, "the number is too long");
    memcpy(num, s + i, k);
    num[k] = '\0';
    /* digits, one '.', an exponent: no "inf", "nan", hex or sign games */
    if (num[strspn(num, "0123456789.eE+-")] != '\0' ||
        !(isdigit((unsigned char)num[0]) || (num[0] == '.' && isdigit((unsigned char)num[1])) ||
          (num[0] == '-' && (isdigit((unsigned char)num[1]) || num[1] == '.'))))
        return fail(err, n, "the limit is not a number");
    char *end;
    double v = strtod(num, &end);
    if (*end || !isfinite(v)) return fail(err, n, "the limit is not a number");
    *out = v;
    return 0;
}

static int find_metric(const char *s, size_t len, threshold_t *t)
{
    for (size_t i = 0; i < NMETRICS; i++)
        if (strlen(metrics[i].name) == len && memcmp(metrics[i].name, s, len) == 0) {
            t->metric = metrics[i].m;
            t->pct = metrics[i].pct;
            memcpy(t->metric_name, s, len);
            t->metric_name[len] = '\0';
            return 0;
        }
    return -1;
}

int threshold_parse(const char *s, size_t len, threshold_t *t, char *err, size_t n)
{
    memset(t, 0, sizeof *t);
    t->ok = true;
    size_t i = skip_blanks(s, 0, len), end = len;
    while (end > i && (s[end - 1] == ' ' || s[end - 1] == '\t'))
        end--;
    if (i == end) return fail(err, n, "empty rule (expected METRIC[(NAME)] OP NUMBER)");
    if (end - i >= THRESHOLD_MAX_EXPR) return fail(err, n, "the rule is too long");
    if (memchr(s + i, '\0', end - i)) return fail(err, n, "the rule holds a NUL byte");
    memcpy(t->expr, s + i, end - i);
    size_t m = i;
    while (m < end && (isalnum((unsigned char)s[m]) || s[m] == '.' || s[m] == '_'))
        m++;
    if (m == i) return fail(err, n, "a metric is missing (expected METRIC[(NAME)] OP NUMBER)");
    if (find_metric(s + i, m - i, t) != 0) {
        char msg[256];
        snprintf(msg, sizeof msg, "unknown metric '%.*s' (one of: %s)",
                 (int)(m - i > 40 ? 40 : m - i), s + i, LIST_OF_METRICS);
        return fail(err, n, msg);
    }
    i = skip_blanks(s, m, end);
    if (i < end && s[i] == '(') {
        size_t close = name_end(s, i + 1, end);
        if (close == end) return fail(err, n, "the request name is not closed with ')'");
        if (close == i + 1) return fail(err, n, "empty request name in '()'");
        memcpy(t->name, s + i + 1, close - i - 1);
        i = skip_blanks(s, close + 1, end);
    }
    size_t k = read_op(s, i, end, &t->op);
    if (k == 0) return fail(err, n, "an operator is missing (one of < <= > >=)");
    i = skip_blanks(s, i + k, end);
    if (i < end && (s[i] == '<' || s[i] == '>' || s[i] == '='))
        return fail(err, n, "unknown operator (one of < <= > >=)");
    if (read_number(s, i, end, &t->limit, err, n) != 0) return -1;
    return 0;
}

const char *threshold_op_name(enum threshold_op op)
{
    static const char *names[] = {"<", "<=", ">", ">="};
    return names[op];
}

/* The rows of one name added into *sum; *scratch is a histogram made on
 * the first need (the caller frees it). Returns how many rows matched. */
static size_t named_rows(stats_t *st, const char *name, stats_entry_t *sum, hist_t **scratch)
{
    size_t nrows, hits = 0;
    stats_entry_t **rows = stats_entries(st, &nrows);
    stats_entry_t *first = NULL;
    for (size_t i = 0; i < nrows; i++) {
        stats_entry_t *e = rows[i];
        if (strcmp(e->name, name) != 0) continue;
        if (hits++ == 0) {
            first = e;
            *sum = *e;
            continue;
        }
        if (hits == 2) {
            *scratch = hist_new();
            hist_merge(*scratch, first->hist);
            sum->hist = *scratch;
        }
        hist_merge(*scratch, e->hist);
        uint64_t t_sum = sum->num_requests - sum->num_none_requests,
                 t_e = e->num_requests - e->num_none_requests;
        if (t_e && (t_sum == 0 || e->min_response_time_ms < sum->min_response_time_ms))
            sum->min_response_time_ms = e->min_response_time_ms;
        if (e->max_response_time_ms > sum->max_response_time_ms)
            sum->max_response_time_ms = e->max_response_time_ms;
        sum->num_requests += e->num_requests;
        sum->num_none_requests += e->num_none_requests;
        sum->num_failures += e->num_failures;
        sum->total_response_time_ms += e->total_response_time_ms;
        sum->total_content_length += e->total_content_length;
    }
    return hits;
}

static double figure(const threshold_t *t, stats_t *st, const stats_entry_t *e, bool *has)
{
    bool timed = e->num_requests > e->num_none_requests;
    *has = true;
    switch (t->metric) {
    case TM_AVG:
        *has = timed;
        return stats_avg(e);
    case TM_MIN:
        *has = timed;
        return stats_min(e);
    case TM_MAX:
        *has = timed;
        return timed ? e->max_response_time_ms : 0;
    case TM_MEDIAN:
        *has = timed;
        return stats_median(e);
    case TM_PCT:
        *has = timed;
        return stats_percentile(e, t->pct);
    case TM_RPS:
        return stats_total_rps(st, e);
    case TM_FAIL_RATIO:
        return stats_fail_ratio(e);
    case TM_FAIL_RPS:
        return stats_total_fail_per_sec(st, e);
    case TM_REQUESTS:
        return (double)e->num_requests;
    case TM_FAILURES:
        return (double)e->num_failures;
    case TM_DROPPED:
        return (double)stats_dropped(st);
    case TM_LATE:
        return (double)stats_late(st);
    }
    return 0;
}

bool threshold_eval(threshold_t *t, stats_t *st)
{
    stats_entry_t sum, *e = stats_total(st);
    hist_t *scratch = NULL;
    if (t->name[0]) {
        if (named_rows(st, t->name, &sum, &scratch) == 0) {
            memset(&sum, 0, sizeof sum); /* no such row yet: no request */
            sum.hist = scratch = hist_new();
        }
        e = &sum;
    }
    double v = figure(t, st, e, &t->has_value);
    hist_free(scratch);
    t->value = t->has_value ? v : 0;
    if (!t->has_value) return t->ok = true; /* nothing measured: nothing to fail (k6) */
    switch (t->op) {
    case TO_LT:
        t->ok = v < t->limit;
        break;
    case TO_LE:
        t->ok = v <= t->limit;
        break;
    case TO_GT:
        t->ok = v > t->limit;
        break;
    case TO_GE:
        t->ok = v >= t->limit;
        break;
    }
    return t->ok;
}
