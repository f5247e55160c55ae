/* Unit tests for cli/console: the three tables compared with what Locust
 * 2.12.1's get_stats_summary / get_percentile_stats_summary /
 * get_error_report_summary print for the same requests (the scenario of
 * tests/unit/report/test_csv.c, logged into locust.stats with float ms),
 * at name width 80 (not a tty) and at width 0. */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli/console.h"
#include "stats_fixture.h"

static char *out;
static size_t outlen;

static stats_t *scenario(void)
{
    stats_shard_t *s;
    stats_t *st = fixture_stats_new(&s);
    fixture_fake_ok(s);
    fixture_fake_failed(s);
    fixture_others(s);
    stats_merge(st, s);
    stats_shard_free(s);
    return st;
}

#define SP10 "          "
#define SP60 SP10 SP10 SP10 SP10 SP10 SP10
#define D10 "----------"
#define D70 D10 D10 D10 D10 D10 D10 D10

static const char *run(stats_t *st, int which, int w, bool current)
{
    free(out);
    FILE *f = open_memstream(&out, &outlen);
    if (which == 0) console_stats(st, w, current, console_to_file, f);
    if (which == 1) console_percentiles(st, w, console_to_file, f);
    if (which == 2) console_errors(st, w, console_to_file, f);
    fclose(f);
    return out;
}

#define STATS_HDR                                                                                  \
    "Type     Name" SP60                                                                           \
    "              # reqs      # fails |    Avg     Min     Max    Med |   req/s  failures/s\n"    \
    "--------|" D70                                                                                \
    "------|-------|-------------|-------|-------|-------|-------|--------|-----------\n"
#define STATS_SEP                                                                                  \
    "--------|" D70                                                                                \
    "------|-------|-------------|-------|-------|-------|-------|--------|-----------\n"

static void test_stats_table(stats_t *st)
{
    const char *cur = STATS_HDR
        "GET      /a,b \"q\"" SP60
        "               1   1(100.00%) |      1       1       1      1 |    0.00        0.00\n"
        "GET      /async" SP60
        "                 1     0(0.00%) |      0       0       0      0 |    0.00        0.00\n"
        "GET      /fake" SP60
        "                 60   12(20.00%) |     41      10     150     10 |   15.00        3.00\n"
        "POST     /login" SP60 "                 3     0(0.00%) |     50      50      50     50 |  "
        "  0.00        0.00\n" STATS_SEP "         Aggregated" SP60
        "            65   13(20.00%) |     40       1     150     20 |   15.00        3.00\n"
        "\n";
    const char *got = run(st, 0, 80, true);
    CHECK_MSG(strcmp(got, cur) == 0, "\n%s\n%s", got, cur);
    const char *tot = STATS_HDR
        "GET      /a,b \"q\"" SP60
        "               1   1(100.00%) |      1       1       1      1 |    0.16        0.16\n"
        "GET      /async" SP60
        "                 1     0(0.00%) |      0       0       0      0 |    0.16        0.00\n"
        "GET      /fake" SP60
        "                 60   12(20.00%) |     41      10     150     10 |    9.68        1.94\n"
        "POST     /login" SP60 "                 3     0(0.00%) |     50      50      50     50 |  "
        "  0.48        0.00\n" STATS_SEP "         Aggregated" SP60
        "            65   13(20.00%) |     40       1     150     20 |   10.48        2.10\n"
        "\n";
    got = run(st, 0, 80, false);
    CHECK_MSG(strcmp(got, tot) == 0, "\n%s\n%s", got, tot);
    /* width 0: Locust's "%--4s" is left-justified in 4 columns */
    got = run(st, 0, 0, false);
    CHECK(
        strncmp(
            got,
            "Type     Name  # reqs      # fails |    Avg     Min     Max    Med |   req/s  "
            "failures/s\n"
            "--------||-------|-------------|-------|-------|-------|-------|--------|-----------\n"
            "GET      /a,b \"q\"       1   1(100.00%) |      1       1       1      1 |    0.16    "
            "    0.16\n",
            strlen(got) < 200 ? strlen(got) : 200) == 0);
}

static void test_percentile_table(stats_t *st)
{
    const char *want =
        "Response time percentiles (approximated)\n"
        "Type     Name                                                                             "
        "     50%    66%    75%    80%    90%    95%    98%    99%  99.9% 99.99%   100% # reqs\n"
        "--------|--------------------------------------------------------------------------------|"
        "--------|------|------|------|------|------|------|------|------|------|------|------\n"
        "GET      /a,b \"q\"                                                                       "
        "         1      1      1      1      1      1      1      1      1      1      1      1\n"
        "GET      /fake                                                                            "
        "      20     20     20    150    150    150    150    150    150    150    150     60\n"
        "POST     /login                                                                           "
        "      50     50     50     50     50     50     50     50     50     50     50      3\n"
        "--------|--------------------------------------------------------------------------------|"
        "--------|------|------|------|------|------|------|------|------|------|------|------\n"
        "         Aggregated                                                                       "
        "      20     20     20     50    150    150    150    150    150    150    150     65\n"
        "\n";
    const char *got = run(st, 1, 80, false);
    CHECK_MSG(strcmp(got, want) == 0, "\n%s\n%s", got, want);
}

static void test_error_report(stats_t *st)
{
    /* Locust lists errors in first-seen order (/fake first here); cicada in
     * (name, method, error) order, as in the failures CSV. */
    const char *want =
        "Error report\n"
        "# occurrences      Error                                                                  "
        "                             \n"
        "------------------|-----------------------------------------------------------------------"
        "----------------------------------------------------------------------\n"
        "1                  GET /a,b \"q\": HTTPError('x, \"y\"')                                  "
        "                                 \n"
        "12                 GET /fake: HTTPError('500 Server Error: fake')                         "
        "                             \n"
        "------------------|-----------------------------------------------------------------------"
        "----------------------------------------------------------------------\n"
        "\n";
    const char *got = run(st, 2, 80, false);
    CHECK_MSG(strcmp(got, want) == 0, "\n%s\n%s", got, want);
    stats_t *empty = stats_new();
    CHECK(strcmp(run(empty, 2, 80, false), "") == 0);
    stats_free(empty);
}

int main(void)
{
    stats_t *st = scenario();
    test_stats_table(st);
    test_percentile_table(st);
    test_error_report(st);
    stats_free(st);
    free(out);
    return check_done();
}
