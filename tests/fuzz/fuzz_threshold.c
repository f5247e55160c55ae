/* fuzz_threshold: libFuzzer target for stats/threshold.c's threshold_parse.
 *
 * The input is handed over as it is (no NUL after it: an over-read hits
 * ASan's redzone). Invariants checked besides "no crash, no sanitizer
 * report":
 *  - on success the rule's text is the input without its blanks at both
 *    ends, the metric's name is one of the grammar's and the limit is
 *    finite; the rule written back from its parts ("%s(%s)%s%.17g", or
 *    without the name) parses to the same metric, name, operator and
 *    limit;
 *  - on failure a reason is given.
 *
 * Build: make fuzz. */
#include <math.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "stats/threshold.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "must.h"

static char out[2 * THRESHOLD_MAX_EXPR + 64];

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    static threshold_t t, u;
    char err[512] = "";
    char *s = malloc(size ? size : 1);
    memcpy(s, data, size);
    if (threshold_parse(s, size, &t, err, sizeof err) != 0) {
        MUST(err[0] != '\0');
        free(s);
        return 0;
    }
    size_t a = 0, b = size;
    while (a < b && (s[a] == ' ' || s[a] == '\t'))
        a++;
    while (b > a && (s[b - 1] == ' ' || s[b - 1] == '\t'))
        b--;
    MUST(strlen(t.expr) == b - a && memcmp(t.expr, s + a, b - a) == 0);
    MUST(isfinite(t.limit) && t.ok && !t.abort && !t.scenario);
    MUST(t.metric != TM_PCT || (t.pct > 0 && t.pct < 1));
    int n = t.name[0] ? snprintf(out, sizeof out, "%s(%s)%s%.17g", t.metric_name, t.name,
                                 threshold_op_name(t.op), t.limit)
                      : snprintf(out, sizeof out, "%s%s%.17g", t.metric_name,
                                 threshold_op_name(t.op), t.limit);
    if (n > 0 && (size_t)n < THRESHOLD_MAX_EXPR) {
        MUST(threshold_parse(out, (size_t)n, &u, err, sizeof err) == 0);
        MUST(u.metric == t.metric && u.pct == t.pct && u.op == t.op && u.limit == t.limit);
        MUST(strcmp(u.name, t.name) == 0 && strcmp(u.metric_name, t.metric_name) == 0);
    }
    free(s);
    return 0;
}
