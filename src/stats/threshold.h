/* threshold: pass/fail rules on the run's figures (k6's thresholds).
 *
 * A rule is the text METRIC[(NAME)] OP NUMBER, e.g. "p95<200",
 * "p99(/cart)<=500", "fail_ratio<0.01", "rps>100" (docs/cli.md,
 * "Thresholds"). threshold_parse() is a pure parser over (buf, len): it
 * allocates nothing and names what is wrong. threshold_eval() reads the
 * rule's figure off a merged stats_t (the whole run since the last reset,
 * Locust's "total" figures, as k6 evaluates a threshold over every sample
 * so far) and sets its verdict. The runner evaluates every rule once a
 * second and at the end (runner/output.c, runner.c); it owns the array of
 * rules and their live state. No thread, no I/O. */
#ifndef CICADA_THRESHOLD_H
#define CICADA_THRESHOLD_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "stats/stats.h"

#define THRESHOLD_MAX_EXPR 512 /* bytes of a rule's text, with its NUL */
#define THRESHOLD_MAX 64       /* rules in one run (command line and scenario together) */

enum threshold_metric {
    TM_AVG,
    TM_MIN,
    TM_MAX,
    TM_MEDIAN,
    TM_PCT, /* pct says which */
    TM_RPS,
    TM_FAIL_RATIO,
    TM_FAIL_RPS,
    TM_REQUESTS,
    TM_FAILURES,
    TM_DROPPED,
    TM_LATE
};

enum threshold_op { TO_LT, TO_LE, TO_GT, TO_GE };

typedef struct threshold {
    char expr[THRESHOLD_MAX_EXPR]; /* the rule as written (trimmed) */
    char metric_name[16];          /* "p95", "fail_ratio", ... as written */
    enum threshold_metric metric;
    double pct;                    /* TM_PCT: 0.95 for p95 */
    char name[THRESHOLD_MAX_EXPR]; /* request name; "" for Aggregated */
    enum threshold_op op;
    double limit;
    /* set by the caller, not by the parser */
    bool abort;    /* stop the run when the rule fails (k6's abortOnFail) */
    double grace;  /* seconds from the test's start before abort may happen */
    bool scenario; /* written in the scenario (cicada.thresholds), not on the command line */
    /* threshold_eval's */
    double value;   /* the figure, in the rule's unit */
    bool has_value; /* false: no timed request yet for a time metric (the rule passes) */
    bool ok;        /* the verdict */
} threshold_t;

/* Parse the rule in s (len bytes, no NUL needed) into *t: metric, name,
 * operator and limit; blanks around the tokens are allowed. abort, grace
 * and scenario are set to false/0; the value fields to "no value, ok".
 * Returns 0, or -1 with a message in err (size n) that says what is wrong
 * (without repeating the rule: the caller names it). */
int threshold_parse(const char *s, size_t len, threshold_t *t, char *err, size_t n);

/* Evaluate t over st: set t->value, t->has_value and t->ok. A rule on a
 * NAME reads every row of that name (any method) together; a name with no
 * row yet reads as no request. Returns t->ok. */
bool threshold_eval(threshold_t *t, stats_t *st);

/* The operator as text ("<", "<=", ">", ">="). */
const char *threshold_op_name(enum threshold_op op);

/* The open model's counts that the `late` and `dropped` metrics read,
 * stats_late() and stats_dropped(), are stats.h's. */

#endif
