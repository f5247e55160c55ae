/* Unit tests for report/csv: Python float formatting, csv-module quoting,
 * and whole files compared with what Locust 2.12.1's StatsCSV writes for
 * the same requests (generated with /usr/bin/python3 and locust.stats;
 * the two deliberate differences are marked where they occur). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "report/csv.h"
#include "stats_fixture.h"

static char *out;
static size_t outlen;

static FILE *open_mem(void)
{
    free(out);
    out = NULL;
    return open_memstream(&out, &outlen);
}

#define CHECK_OUT(f, expect)                                                                       \
    do {                                                                                           \
        fclose(f);                                                                                 \
        CHECK_MSG(strcmp(out, expect) == 0, "\n got: %s\nwant: %s", out, expect);                  \
    } while (0)

static void test_pyfloat(void)
{
    static const struct {
        double x;
        const char *py;
    } cases[] = {
        /* expected values are Python's repr() */
        {41.0, "41.0"},
        {3.7042793336419124, "3.7042793336419124"},
        {0.1, "0.1"},
        {0.1 + 0.2, "0.30000000000000004"},
        {1e16, "1e+16"},
        {1e15, "1000000000000000.0"},
        {123456789012345678.0, "1.2345678901234568e+17"},
        {1e-5, "1e-05"},
        {0.0001, "0.0001"},
        {0.00012345, "0.00012345"},
        {-2.5, "-2.5"},
        {0.0, "0.0"},
        {40.801562499999996, "40.801562499999996"},
        {5.076923076923077, "5.076923076923077"},
        {1.5e300, "1.5e+300"},
        {2.2250738585072014e-308, "2.2250738585072014e-308"},
        {5e-324, "5e-324"},
        {9007199254740993.0, "9007199254740992.0"},
        {100.0, "100.0"},
        {150.016, "150.016"},
        {1.0 / 3, "0.3333333333333333"},
    };
    char b[40];
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++) {
        csv_pyfloat(b, sizeof b, cases[i].x);
        CHECK_MSG(strcmp(b, cases[i].py) == 0, "%s != %s", b, cases[i].py);
    }
}

static void test_field(void)
{
    FILE *f = open_mem();
    csv_field(f, "plain");
    fputc('|', f);
    csv_field(f, "a,b");
    fputc('|', f);
    csv_field(f, "x\"y");
    fputc('|', f);
    csv_field(f, "line1\nline2");
    fputc('|', f);
    csv_field(f, "cr\r");
    fputc('|', f);
    csv_field(f, "");
    csv_field(f, NULL);
    fputc('|', f);
    csv_field(f, " tab\t ");
    CHECK_OUT(f, "plain|\"a,b\"|\"x\"\"y\"|\"line1\nline2\"|\"cr\r\"|| tab\t ");
}

/* The same requests were logged into locust.stats.RequestStats (float ms,
 * time.time patched to these timestamps, start_time 1000.5) to get the
 * expected files below. */
static stats_t *scenario(void)
{
    stats_shard_t *s;
    stats_t *st = fixture_stats_new(&s);
    fixture_fake_ok(s);
    fixture_fake_failed(s);
    stats_merge(st, s);
    fixture_others(s);
    stats_merge(st, s);
    stats_shard_exception(s, "ValueError(\"bad, value\")",
                          "Traceback (most recent call last):\n  File \"x.lua\", line 3, in task\n"
                          "ValueError: bad, \"value\"");
    stats_shard_exception(s, "ValueError(\"bad, value\")",
                          "Traceback (most recent call last):\n  File \"x.lua\", line 3, in task\n"
                          "ValueError: bad, \"value\"");
    stats_merge(st, s);
    stats_shard_free(s);
    return st;
}

#define PCT_HDR "50%,66%,75%,80%,90%,95%,98%,99%,99.9%,99.99%,100%"

static void test_files(void)
{
    stats_t *st = scenario();
    FILE *f = open_mem();
    csv_write_stats(f, st);
    /* Locust writes /login's median as 50.1 (its bucket 50 clamped to the
     * min); cicada writes int(median) = 50. Locust's Aggregated average is
     * 40.801562499999996, a rounding error of its running float sum of ms;
     * cicada sums integer microseconds per merge: 40.8015625 exactly. */
    CHECK_OUT(
        f, "Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
           "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s," PCT_HDR
           "\r\n"
           "GET,\"/a,b \"\"q\"\"\",1,1,1,1.0,1.0,1.0,0.0,0.161290322580644,0.161290322580644,"
           "1,1,1,1,1,1,1,1,1,1,1\r\n"
           "GET,/async,1,0,0,0.0,0,0,0.0,0.161290322580644,0.0,0,0,0,0,0,0,0,0,0,0,0\r\n"
           "GET,/fake,60,12,10,41.0,10.0,150.0,5.0,9.677419354838639,1.9354838709677278,"
           "20,20,20,150,150,150,150,150,150,150,150\r\n"
           "POST,/login,3,0,50,50.1,50.1,50.1,10.0,0.48387096774193195,0.0,"
           "50,50,50,50,50,50,50,50,50,50,50\r\n"
           ",Aggregated,65,13,20,40.8015625,1.0,150.0,5.076923076923077,"
           "10.483870967741858,2.096774193548372,20,20,20,50,150,150,150,150,150,150,150\r\n");

    /* Locust orders failures by the sha256 of their key (/fake first here);
     * cicada by (name, method, error). */
    f = open_mem();
    csv_write_failures(f, st);
    CHECK_OUT(f, "Method,Name,Error,Occurrences\r\n"
                 "GET,\"/a,b \"\"q\"\"\",\"HTTPError('x, \"\"y\"\"')\",1\r\n"
                 "GET,/fake,HTTPError('500 Server Error: fake'),12\r\n");

    f = open_mem();
    csv_write_exceptions(f, st);
    CHECK_OUT(f,
              "Count,Message,Traceback,Nodes\r\n"
              "2,\"ValueError(\"\"bad, value\"\")\",\"Traceback (most recent call last):\n"
              "  File \"\"x.lua\"\", line 3, in task\nValueError: bad, \"\"value\"\"\",local\r\n");

    f = open_mem();
    csv_write_history_header(f);
    csv_write_history(f, st, 1015, 7, false);
    CHECK_OUT(f, "Timestamp,User Count,Type,Name,Requests/s,Failures/s," PCT_HDR
                 ",Total Request Count,Total Failure Count,Total Median Response Time,"
                 "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
                 "Total Average Content Size\r\n"
                 "1015,7,,Aggregated,15.000000,3.000000,20,20,20,50,150,150,150,150,150,150,150,"
                 "65,13,20,40.8015625,1.0,150.0,5.076923076923077\r\n");

    /* full history: a row per entry, current (10 s window) percentiles;
     * at 1009 the window is 1000..1009, at 1030 it is empty (0) */
    f = open_mem();
    csv_write_history(f, st, 1009, 7, true);
    fclose(f);
    CHECK(strstr(out,
                 "1009,7,GET,/fake,15.000000,3.000000,20,20,20,150,150,150,150,150,150,150,150,"
                 "60,12,10,41.0,10.0,150.0,5.0\r\n") != NULL);
    CHECK(
        strstr(out,
               "1009,7,GET,/async,0.000000,0.000000,0,0,0,0,0,0,0,0,0,0,0,1,0,0,0.0,0,0,0.0\r\n") !=
        NULL);
    CHECK(strstr(out, "\r\n1009,7,,Aggregated,") != NULL);
    f = open_mem();
    csv_write_history(f, st, 1030, 7, true);
    fclose(f);
    CHECK(strstr(out, "1030,7,GET,/fake,15.000000,3.000000,0,0,0,0,0,0,0,0,0,0,0,60,") != NULL);
    stats_free(st);

    /* before any request: zeros and N/A, as Locust writes from start-up */
    st = stats_new();
    f = open_mem();
    csv_write_history(f, st, 1015, 7, false);
    CHECK_OUT(f, "1015,7,,Aggregated,0.000000,0.000000,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,"
                 "N/A,0,0,0,0.0,0,0,0\r\n");
    f = open_mem();
    csv_write_stats(f, st);
    fclose(f);
    CHECK(strstr(out, "\r\n,Aggregated,0,0,0,0.0,0,0,0,0.0,0.0,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,N/A,"
                      "N/A,N/A\r\n") != NULL);
    stats_free(st);
    free(out);
}

int main(void)
{
    test_pyfloat();
    test_field();
    test_files();
    return check_done();
}
