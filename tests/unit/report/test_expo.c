/* Unit tests for report/prom and stats/life: label escaping (quotes,
 * backslashes, newlines, invalid UTF-8), the map from cicada's histogram
 * buckets to the fixed bounds (a bucket counts under the first bound at
 * or above its largest value), and counters that never go down across
 * stats_reset() and stats_clear_exceptions(); and --metrics-bind's
 * HOST:PORT (opts_hostport). */
#include <stdlib.h>
#include <string.h>

#include "check.h"
#include "cli/opts.h"
#include "report/expo.h"
#include "stats/life.h"

static char *out;
static size_t outlen;

static FILE *open_mem(void)
{
    free(out);
    out = NULL;
    return open_memstream(&out, &outlen);
}

static const char *label(const char *s)
{
    FILE *f = open_mem();
    expo_label(f, s);
    fclose(f);
    return out;
}

static void test_label(void)
{
    CHECK(strcmp(label("plain /x?a=1"), "plain /x?a=1") == 0);
    CHECK(strcmp(label("a\"b"), "a\\\"b") == 0);
    CHECK(strcmp(label("a\\b"), "a\\\\b") == 0);
    CHECK(strcmp(label("a\nb"), "a\\nb") == 0);
    CHECK(strcmp(label("tab\tok"), "tab\tok") == 0); /* only \\ \" \n are escaped */
    CHECK(strcmp(label("caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9b"),
                 "caf\xc3\xa9 \xe2\x82\xac \xf0\x9f\x90\x9b") == 0);
    /* invalid UTF-8 becomes U+FFFD, byte by byte; Go's strict rules */
    CHECK(strcmp(label("a\xff"
                       "b"),
                 "a\xef\xbf\xbd"
                 "b") == 0);
    CHECK(strcmp(label("\xc3"), "\xef\xbf\xbd") == 0);                 /* cut short */
    CHECK(strcmp(label("\xc0\xaf"), "\xef\xbf\xbd\xef\xbf\xbd") == 0); /* overlong */
    CHECK(strcmp(label("\xe0\x80\xaf"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") == 0);
    CHECK(strcmp(label("\xed\xa0\x80"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd") ==
          0); /* surrogate */
    CHECK(strcmp(label("\xf4\x90\x80\x80x"), "\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbd\xef\xbf\xbdx") ==
          0); /* > U+10FFFF */
}

/* Which fixed bucket a response time of us microseconds lands in. */
static int bucket_of(uint64_t us)
{
    return life_bucket(hist_index(us));
}

static void test_buckets(void)
{
    for (int j = 1; j < LIFE_NLE; j++)
        CHECK(life_le_us[j] > life_le_us[j - 1]);
    CHECK(bucket_of(0) == 0);
    CHECK(bucket_of(100) == 0); /* exact below 256 µs: 100 µs is le=0.0001 */
    CHECK(bucket_of(101) == 1);
    CHECK(bucket_of(250) == 1);
    CHECK(bucket_of(251) == 2);
    /* above 256 µs a bucket straddling a bound goes up: never shown faster */
    CHECK(bucket_of(999) == 3);
    CHECK(bucket_of(1000) == 4); /* bucket [1000, 1003] ends past 1 ms */
    CHECK(bucket_of(996) == 3);  /* bucket [996, 999] */
    CHECK(bucket_of(60000000) == LIFE_NLE);
    CHECK(bucket_of(59000000) == LIFE_NLE - 1);
    CHECK(bucket_of(HIST_MAX_VALUE + 5) == LIFE_NLE);
    /* every bucket: its largest value is at most its bound, and above the
     * bound before (the "certainly at most b" rule, with the straddler up) */
    for (int i = 0; i < HIST_NBUCKETS; i++) {
        int j = life_bucket(i);
        uint64_t high = hist_bucket_high(i);
        if (j < LIFE_NLE)
            CHECK_MSG(high <= life_le_us[j], "bucket %d high %llu", i, (unsigned long long)high);
        if (j > 0) CHECK(high > life_le_us[j - 1]);
        if (i + 1 < HIST_NBUCKETS) CHECK(hist_index(high) == i && hist_index(high + 1) == i + 1);
    }
}

static uint64_t sample(const char *text, const char *series)
{
    const char *p = strstr(text, series);
    if (p == NULL) return UINT64_MAX;
    return strtoull(p + strlen(series), NULL, 10);
}

static void test_monotonic(void)
{
    stats_t *st = stats_new();
    stats_shard_t *sh = stats_shard_new();
    for (int i = 0; i < 10; i++)
        stats_shard_request(sh, "GET", "a\"b\\c\nd", 2000, 7, NULL, 1001.0);
    stats_shard_request(sh, "GET", "a\"b\\c\nd", 200000, 7, "HTTPError('500')", 1001.0);
    stats_shard_request(sh, "GET", "a\"b\\c\nd", -1, 0, NULL, 1001.0); /* no time */
    stats_shard_exception(sh, "boom", "tb1");
    stats_merge(st, sh);

    static const char *req = "cicada_requests_total{name=\"a\\\"b\\\\c\\nd\",method=\"GET\"} ";
    static const char *fail =
        "cicada_request_failures_total{name=\"a\\\"b\\\\c\\nd\",method=\"GET\"} ";
    static const char *le5ms = "cicada_response_time_seconds_bucket{name=\"a\\\"b\\\\c\\nd\","
                               "method=\"GET\",le=\"0.005\"} ";
    static const char *inf =
        "cicada_response_time_seconds_bucket{name=\"a\\\"b\\\\c\\nd\",method=\"GET\",le=\"+Inf\"} ";
    static const char *cnt =
        "cicada_response_time_seconds_count{name=\"a\\\"b\\\\c\\nd\",method=\"GET\"} ";
    FILE *f = open_mem();
    expo_write_stats(f, st);
    fclose(f);
    CHECK(sample(out, req) == 12);
    CHECK(sample(out, fail) == 1);
    CHECK(sample(out, le5ms) == 10);
    CHECK(sample(out, inf) == 11); /* timed requests only */
    CHECK(sample(out, cnt) == 11);
    CHECK(sample(out, "\ncicada_exceptions_total ") == 1);
    CHECK(strstr(out, "# TYPE cicada_response_time_seconds histogram\n") != NULL);
    CHECK(strstr(out, "Aggregated") == NULL);

    /* a reset zeroes the table, never the counters */
    stats_reset(st, 1002.0);
    stats_clear_exceptions(st);
    CHECK(stats_total(st)->num_requests == 0);
    f = open_mem();
    expo_write_stats(f, st);
    fclose(f);
    CHECK(sample(out, req) == 12);
    CHECK(sample(out, le5ms) == 10);
    CHECK(sample(out, "\ncicada_exceptions_total ") == 1);

    /* and what comes after adds on; a second reset keeps both parts */
    for (int i = 0; i < 5; i++)
        stats_shard_request(sh, "GET", "a\"b\\c\nd", 3000, 7, NULL, 1003.0);
    stats_shard_exception(sh, "boom", "tb1");
    stats_merge(st, sh);
    stats_reset(st, 1004.0);
    for (int i = 0; i < 2; i++)
        stats_shard_request(sh, "GET", "a\"b\\c\nd", 3000, 7, NULL, 1005.0);
    stats_merge(st, sh);
    f = open_mem();
    expo_write_stats(f, st);
    fclose(f);
    CHECK(sample(out, req) == 19);
    CHECK(sample(out, le5ms) == 17);
    CHECK(sample(out, cnt) == 18);
    CHECK(sample(out, "\ncicada_exceptions_total ") == 2);
    stats_life_t life;
    life_get(stats_total(st), &life);
    CHECK(life.requests == 19 && life.failures == 1 && life.content_length == 19 * 7 - 7);
    stats_shard_free(sh);
    stats_free(st);
}

static void test_hostport(void)
{
    char h[64];
    int port = 0;
    CHECK(opts_hostport("127.0.0.1:9646", h, sizeof h, &port) == 0 && !strcmp(h, "127.0.0.1") &&
          port == 9646);
    CHECK(opts_hostport("[::1]:80", h, sizeof h, &port) == 0 && !strcmp(h, "::1") && port == 80);
    CHECK(opts_hostport(":65535", h, sizeof h, &port) == 0 && !*h && port == 65535);
    CHECK(opts_hostport("*:1", h, sizeof h, &port) == 0 && !*h && port == 1);
    CHECK(opts_hostport("localhost:8000", h, sizeof h, &port) == 0 && !strcmp(h, "localhost"));
    static const char *bad[] = {"",
                                "9646",
                                "127.0.0.1",
                                "127.0.0.1:",
                                "127.0.0.1:0",
                                "127.0.0.1:65536",
                                "127.0.0.1:-5",
                                "127.0.0.1:+5",
                                "h:80x",
                                "::1:80",
                                "[::1:80",
                                "::1]:80",
                                "h:99999999999999999999"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++)
        CHECK_MSG(opts_hostport(bad[i], h, sizeof h, &port) != 0, "'%s' accepted", bad[i]);
    CHECK(opts_hostport("averyveryverylonghostname:80", h, 8, &port) != 0);
}

int main(void)
{
    test_label();
    test_buckets();
    test_monotonic();
    test_hostport();
    free(out);
    return check_done();
}
