/* stats_fixture.h: the requests the console, CSV and JSON unit tests log
 * into a stats_t, as the runner does it: through a shard, merged into a
 * stats_t whose run started at 1000.5 (unix seconds). The same requests
 * were logged into Locust 2.12.1's locust.stats to get those tests'
 * expected output. */
#ifndef CICADA_STATS_FIXTURE_H
#define CICADA_STATS_FIXTURE_H

#include "stats/stats.h"

/* A new stats_t reset at 1000.5, and in *shard a new shard to fill. */
static inline stats_t *fixture_stats_new(stats_shard_t **shard)
{
    stats_t *st = stats_new();
    stats_reset(st, 1000.5);
    *shard = stats_shard_new();
    return st;
}

/* 30 GET /fake of 10 ms at 1001.2 and 18 of 20 ms at 1002.3, 5 bytes each. */
static inline void fixture_fake_ok(stats_shard_t *s)
{
    for (int i = 0; i < 30; i++)
        stats_shard_request(s, "GET", "/fake", 10000, 5, NULL, 1001.2);
    for (int i = 0; i < 18; i++)
        stats_shard_request(s, "GET", "/fake", 20000, 5, NULL, 1002.3);
}

/* 12 GET /fake of 150 ms at 1003.4 that failed with a 500. */
static inline void fixture_fake_failed(stats_shard_t *s)
{
    for (int i = 0; i < 12; i++)
        stats_shard_request(s, "GET", "/fake", 150000, 5, "HTTPError('500 Server Error: fake')",
                            1003.4);
}

/* 3 POST /login of 50.1 ms at 1004.1, a GET /async with no response time
 * and a failed GET whose name and error need CSV quoting, at 1006.7. */
static inline void fixture_others(stats_shard_t *s)
{
    for (int i = 0; i < 3; i++)
        stats_shard_request(s, "POST", "/login", 50100, 10, NULL, 1004.1);
    stats_shard_request(s, "GET", "/async", -1, 0, NULL, 1006.7);
    stats_shard_request(s, "GET", "/a,b \"q\"", 1000, 0, "HTTPError('x, \"y\"')", 1006.7);
}

#endif
