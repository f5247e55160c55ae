/* Unit tests for exclog: a new error is logged once in full, later
 * occurrences only as counts (when due, and at the end), an error is
 * recognized again after stats_clear_exceptions (a worker's report), and
 * errors past EXCLOG_MAX_FULL are summed in one line. The log goes to a
 * temporary file that the tests read back. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "check.h"
#include "runner/exclog.h"
#include "stats/stats.h"

#define SEC 1000000000LL

static char path[] = "/tmp/cicada-exclog-XXXXXX";
static long seen; /* bytes of the log already read */

/* What was logged since the last call (owned by the caller). */
static char *logged(void)
{
    FILE *f = fopen(path, "r");
    fseek(f, 0, SEEK_END);
    long end = ftell(f);
    char *s = calloc(1, (size_t)(end - seen) + 1);
    fseek(f, seen, SEEK_SET);
    size_t n = fread(s, 1, (size_t)(end - seen), f);
    s[n] = '\0';
    seen = end;
    fclose(f);
    return s;
}

static int count(const char *hay, const char *needle)
{
    int n = 0;
    for (const char *p = strstr(hay, needle); p; p = strstr(p + 1, needle))
        n++;
    return n;
}

static void add(stats_t *st, stats_shard_t *sh, const char *msg, const char *tb, int times)
{
    for (int i = 0; i < times; i++)
        stats_shard_exception(sh, msg, tb);
    stats_merge(st, sh);
}

static void test_first_in_full_then_counts(void)
{
    stats_t *st = stats_new();
    stats_shard_t *sh = stats_shard_new();
    exclog_t x = {0};
    const char *tb = "a.lua:5: boom\nstack traceback:\n\ta.lua:5: in function <a.lua:4>";
    add(st, sh, "a.lua:5: boom", tb, 1000);
    exclog_scan(&x, st, 1 * SEC);
    char *s = logged();
    CHECK_MSG(count(s, "stack traceback:") == 1, "%s", s);
    CHECK(count(s, "/ERROR/cicada.user: a.lua:5: boom\nstack traceback:") == 1);
    CHECK(count(s, "more times") == 0);
    free(s);
    /* more of the same, before the count lines are due: nothing printed */
    add(st, sh, "a.lua:5: boom", tb, 500);
    exclog_scan(&x, st, 2 * SEC);
    s = logged();
    CHECK_MSG(s[0] == '\0', "%s", s);
    free(s);
    /* due: one count line with everything since the full one */
    exclog_scan(&x, st, (1 + EXCLOG_EVERY_S) * SEC);
    s = logged();
    CHECK_MSG(count(s, "a.lua:5: boom (1499 more times, 1500 in total)") == 1, "%s", s);
    CHECK(count(s, "stack traceback:") == 0);
    free(s);
    /* nothing new: no line at the end */
    exclog_flush(&x, st);
    s = logged();
    CHECK_MSG(s[0] == '\0', "%s", s);
    free(s);
    /* a worker clears its exceptions after each report: the same error
     * again is counted, not printed in full again */
    stats_clear_exceptions(st);
    add(st, sh, "a.lua:5: boom", tb, 7);
    exclog_scan(&x, st, (2 + EXCLOG_EVERY_S) * SEC);
    exclog_flush(&x, st);
    s = logged();
    CHECK_MSG(count(s, "a.lua:5: boom (7 more times, 1507 in total)") == 1, "%s", s);
    CHECK(count(s, "stack traceback:") == 0);
    free(s);
    exclog_free(&x);
    stats_shard_free(sh);
    stats_free(st);
}

/* Count lines of errors whose message does not say where they happened
 * (error(nil)) name the scenario's first frame, skipping C and prelude ones. */
static void test_count_lines_say_where(void)
{
    stats_t *st = stats_new();
    stats_shard_t *sh = stats_shard_new();
    exclog_t x = {0};
    add(st, sh, "nil",
        "nil\nstack traceback:\n\t[C]: in function 'error'\n\tprelude:446: in function "
        "<prelude:444>\n\tc.lua:7: in function <c.lua:6>",
        3);
    add(st, sh, "nil",
        "nil\nstack traceback:\n\t[C]: in function 'error'\n\tc.lua:9: in function <c.lua:9>", 2);
    exclog_flush(&x, st);
    char *s = logged();
    CHECK_MSG(count(s, "nil (at c.lua:7) (2 more times, 3 in total)") == 1, "%s", s);
    CHECK_MSG(count(s, "nil (at c.lua:9) (1 more times, 2 in total)") == 1, "%s", s);
    free(s);
    exclog_free(&x);
    stats_shard_free(sh);
    stats_free(st);
}

static void test_many_distinct_errors(void)
{
    stats_t *st = stats_new();
    stats_shard_t *sh = stats_shard_new();
    exclog_t x = {0};
    char msg[64], tb[128];
    int total = EXCLOG_MAX_FULL + 20;
    for (int i = 0; i < total; i++) {
        snprintf(msg, sizeof msg, "b.lua:%d: error %d", i, i);
        snprintf(tb, sizeof tb, "%s\nstack traceback:\n\tb.lua:%d", msg, i);
        stats_shard_exception(sh, msg, tb);
        stats_shard_exception(sh, msg, tb);
    }
    stats_merge(st, sh);
    /* one scan prints at most EXCLOG_MAX_NEW in full; the rest wait */
    exclog_scan(&x, st, 1 * SEC);
    char *s = logged();
    CHECK_MSG(count(s, "stack traceback:") == EXCLOG_MAX_NEW, "%d", count(s, "stack traceback:"));
    free(s);
    exclog_flush(&x, st);
    s = logged();
    CHECK(count(s, "stack traceback:") == EXCLOG_MAX_FULL - EXCLOG_MAX_NEW);
    /* each printed one: 1 more time; the 20 past the cap: 40 in one line */
    CHECK(count(s, "(1 more times, 2 in total)") == EXCLOG_MAX_FULL);
    CHECK_MSG(count(s, "40 more exceptions of other kinds") == 1, "%s", s);
    free(s);
    exclog_free(&x);
    stats_shard_free(sh);
    stats_free(st);
}

int main(void)
{
    int fd = mkstemp(path);
    if (fd < 0) return 2;
    close(fd);
    if (log_set_file(path) != 0) return 2;
    test_first_in_full_then_counts();
    test_count_lines_say_where();
    test_many_distinct_errors();
    unlink(path);
    return check_done();
}
