/* Unit tests for what fuzzing the master/worker protocol found
 * (tests/fuzz/fuzz_proto.c): frames a buggy or hostile worker could send.
 * Each failed before its fix, under the sanitizers `make unit` uses:
 *  - a timestamp of 1e144 made stats_merge_delta convert it to int64
 *    (undefined behaviour, stats.c);
 *  - an array32 header claiming 2^32-1 elements made msgpack-c allocate
 *    ~100 GB before reading any element (ASan: allocator out of memory);
 *  - a count near 2^64 made the percentile walk convert 2^64 (as a double)
 *    to uint64 (undefined behaviour, figures.c and window.c);
 *  - absurd response times (1e300 ms twice) summed to infinity;
 *  - an empty msgpack str has a NULL ptr, which memcpy/memcmp were given
 *    (with length 0: still undefined; UBSan's nonnull-attribute check);
 *  - a report whose per-second map has n keys took n^2 steps to merge
 *    (200,000 keys: minutes; the bound here is a wide 10 s). */
#include <math.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "check.h"
#include "dist/proto.h"

static void pack_entry(msgpack_packer *pk, const char *name, double ts, double total_ms,
                       int64_t nreq)
{
    msgpack_pack_map(pk, 8);
    mp_kv_str(pk, "name", name);
    mp_kv_str(pk, "method", "GET");
    mp_kv_double(pk, "last_request_timestamp", ts);
    mp_kv_int(pk, "num_requests", nreq);
    mp_kv_double(pk, "total_response_time", total_ms);
    mp_kv_double(pk, "max_response_time", total_ms);
    mp_key(pk, "cicada_hist");
    msgpack_pack_map(pk, 1);
    msgpack_pack_int64(pk, 100);
    msgpack_pack_int64(pk, nreq);
    mp_key(pk, "num_reqs_per_sec");
    msgpack_pack_map(pk, 1);
    msgpack_pack_int64(pk, (int64_t)1e18); /* a second no ring slot math may overflow on */
    msgpack_pack_int64(pk, 1);
}

/* A stats report with one entry and the total, both as given. */
static void report(mp_out_t *o, double ts, double total_ms, int64_t nreq)
{
    msgpack_pack_array(&o->pk, 3);
    mp_str(&o->pk, "stats");
    msgpack_pack_map(&o->pk, 2);
    mp_key(&o->pk, "stats");
    msgpack_pack_array(&o->pk, 1);
    pack_entry(&o->pk, "/x", ts, total_ms, nreq);
    mp_key(&o->pk, "stats_total");
    pack_entry(&o->pk, "Aggregated", ts, total_ms, nreq);
    mp_str(&o->pk, "w1");
}

static stats_entry_t *first(stats_t *st)
{
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    return n ? es[0] : NULL;
}

/* The figures everyone reads from a merged row. */
static void figures(stats_t *st, stats_entry_t *e)
{
    double v;
    for (int k = 0; k < STATS_NPCT; k++) {
        (void)stats_percentile(e, stats_pcts[k]);
        (void)stats_current_percentile(st, e, stats_pcts[k], 1700000000, &v);
    }
    (void)stats_median(e);
    (void)stats_current_rps(st, e);
    (void)stats_total_rps(st, e);
}

static void test_huge_timestamp(void)
{
    hist_t *scratch = hist_new();
    double bad[] = {1e144, -1e144, 1e19, STATS_MAX_TS * 2};
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        mp_out_t o;
        mp_out_init(&o);
        report(&o, bad[i], 5, 3);
        proto_msg_t m;
        CHECK(proto_decode(&m, o.buf.data, o.buf.size) == 0);
        stats_t *st = stats_new();
        CHECK(proto_merge_stats(st, m.data, scratch) == 1);
        stats_entry_t *e = first(st);
        CHECK(e && e->num_requests == 3 && e->last_request_ts == 0);
        CHECK(stats_total(st)->last_request_ts == 0);
        figures(st, e);
        stats_free(st);
        proto_msg_free(&m);
        mp_out_free(&o);
    }
    /* a sane one is kept */
    mp_out_t o;
    mp_out_init(&o);
    report(&o, 1700000000.5, 5, 3);
    proto_msg_t m;
    CHECK(proto_decode(&m, o.buf.data, o.buf.size) == 0);
    stats_t *st = stats_new();
    CHECK(proto_merge_stats(st, m.data, scratch) == 1);
    CHECK(first(st)->last_request_ts == 1700000000.5);
    stats_free(st);
    proto_msg_free(&m);
    mp_out_free(&o);

    /* stats_merge_delta defends itself too (it is public) */
    st = stats_new();
    hist_reset(scratch);
    hist_record(scratch, 1000);
    stats_delta_t d = {.method = "GET",
                       .name = "/d",
                       .num_requests = 1,
                       .max_response_time_ms = 1,
                       .min_response_time_ms = 1,
                       .total_response_time_ms = 1,
                       .last_request_ts = 1e144,
                       .hist = scratch};
    stats_merge_delta(st, &d, false);
    stats_merge_delta(st, &d, true);
    CHECK(first(st)->num_requests == 1 && first(st)->last_request_ts == 0);
    figures(st, first(st));
    stats_free(st);
    hist_free(scratch);
}

static void test_claimed_counts(void)
{
    /* [array32 of 2^32-1 ...]: 5 bytes that claim 4 billion elements */
    const unsigned char arr[] = {0xdd, 0xff, 0xff, 0xff, 0xff, 0xa1, 'x'};
    const unsigned char map[] = {0x93, 0xa5, 's',  't',  'a',  't',  's',
                                 0xdf, 0x30, 0xdd, 0x30, 0x75, 0xa1, 'w'};
    proto_msg_t m;
    CHECK(!mp_check(arr, sizeof arr));
    CHECK(proto_decode(&m, arr, sizeof arr) == -1);
    proto_msg_free(&m);
    CHECK(!mp_check(map, sizeof map));
    CHECK(proto_decode(&m, map, sizeof map) == -1);
    proto_msg_free(&m);

    /* what the scan accepts and refuses */
    const unsigned char ok1[] = {0x92, 0x01, 0xa2, 'h', 'i'};               /* [1, "hi"] */
    const unsigned char ok2[] = {0x81, 0xc0, 0xcb, 0, 0, 0, 0, 0, 0, 0, 0}; /* {nil: 0.0} */
    const unsigned char ok3[] = {0xdc, 0x00, 0x02, 0xc2, 0xc3}; /* array16 [false, true] */
    const unsigned char ok4[] = {0x92, 0xd4, 0x01, 0x02,
                                 0xc7, 0x01, 0x05, 0xaa}; /* [fixext1, ext8] */
    const unsigned char short1[] = {0x92, 0x01};          /* one element missing */
    const unsigned char short2[] = {0xa5, 'a', 'b'};      /* str cut short */
    const unsigned char trail[] = {0x01, 0x02};           /* two objects */
    const unsigned char never[] = {0xc1};                 /* the unused byte */
    const unsigned char str32[] = {0xdb, 0xff, 0xff, 0xff, 0xff, 'a'};
    CHECK(mp_check(ok1, sizeof ok1) && mp_check(ok2, sizeof ok2) && mp_check(ok3, sizeof ok3));
    CHECK(mp_check(ok4, sizeof ok4));
    CHECK(!mp_check(short1, sizeof short1) && !mp_check(short2, sizeof short2));
    CHECK(!mp_check(trail, sizeof trail) && !mp_check(never, sizeof never));
    CHECK(!mp_check(str32, sizeof str32) && !mp_check("", 0));

    /* nesting: msgpack-c unpacks 32 levels of containers, not 33 */
    unsigned char deep[40];
    for (int depth = 31; depth <= 33; depth++) {
        memset(deep, 0x91, (size_t)depth - 1);
        deep[depth - 1] = 0x90;
        bool ok = mp_check(deep, (size_t)depth);
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        bool lib = msgpack_unpack_next(&up, (const char *)deep, (size_t)depth, &off) ==
                   MSGPACK_UNPACK_SUCCESS;
        msgpack_unpacked_destroy(&up);
        CHECK_MSG(ok == lib && ok == (depth <= MP_MAX_DEPTH), "depth %d", depth);
    }
}

static void test_absurd_values(void)
{
    hist_t *scratch = hist_new();
    mp_out_t o;
    mp_out_init(&o);
    /* counts over 2^53 and times over 1e12 ms are taken as absent */
    report(&o, 1700000000, 1e300, INT64_MAX);
    proto_msg_t m;
    CHECK(proto_decode(&m, o.buf.data, o.buf.size) == 0);
    stats_t *st = stats_new();
    CHECK(proto_merge_stats(st, m.data, scratch) == 0); /* no num_requests: skipped */
    CHECK(first(st) == NULL);
    proto_msg_free(&m);
    mp_out_clear(&o);

    report(&o, 1700000000, 1e300, 7);
    CHECK(proto_decode(&m, o.buf.data, o.buf.size) == 0);
    CHECK(proto_merge_stats(st, m.data, scratch) == 1);
    CHECK(proto_merge_stats(st, m.data, scratch) == 1);
    stats_entry_t *e = first(st);
    CHECK(e && e->num_requests == 14 && e->total_response_time_ms == 0);
    CHECK(isfinite(stats_avg(e)));
    proto_msg_free(&m);
    stats_free(st);

    /* a row whose count reached 2^64-1 (the master adds what it is sent) */
    st = stats_new();
    hist_reset(scratch);
    hist_add(scratch, 100, UINT64_MAX);
    stats_delta_t d = {.method = "GET",
                       .name = "/big",
                       .num_requests = UINT64_MAX,
                       .max_response_time_ms = 1,
                       .min_response_time_ms = 1,
                       .last_request_ts = 1700000000,
                       .hist = scratch};
    stats_merge_delta(st, &d, false);
    e = first(st);
    CHECK(stats_percentile(e, 1.0) > 0 && stats_percentile(e, 0.5) > 0);
    double v = -1;
    CHECK(stats_current_percentile(st, e, 1.0, 1700000000, &v) && v > 0);
    CHECK(hist_rank(UINT64_MAX, 1.0) == UINT64_MAX && hist_rank(10, 0.5) == 5);
    CHECK(hist_rank(10, 0) == 0 && hist_rank(0, 1.0) == 0);
    stats_free(st);
    mp_out_free(&o);
    hist_free(scratch);
}

static void test_many_seconds(void)
{
    enum { NKEYS = 200000 };
    mp_out_t o;
    mp_out_init(&o);
    msgpack_packer *pk = &o.pk;
    msgpack_pack_array(pk, 3);
    mp_str(pk, "stats");
    msgpack_pack_map(pk, 1);
    mp_key(pk, "stats");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 4);
    mp_kv_str(pk, "name", "/many");
    mp_kv_str(pk, "method", "GET");
    mp_kv_int(pk, "num_requests", NKEYS);
    mp_key(pk, "num_reqs_per_sec");
    msgpack_pack_map(pk, NKEYS);
    for (int i = 0; i < NKEYS; i++) {
        msgpack_pack_int64(pk, 1700000000 - i);
        msgpack_pack_int64(pk, 1);
    }
    mp_str(pk, "w1");
    proto_msg_t m;
    CHECK(proto_decode(&m, o.buf.data, o.buf.size) == 0);
    hist_t *scratch = hist_new();
    stats_t *st = stats_new();
    struct timespec a, b;
    clock_gettime(CLOCK_MONOTONIC, &a);
    CHECK(proto_merge_stats(st, m.data, scratch) == 1);
    clock_gettime(CLOCK_MONOTONIC, &b);
    double secs = (double)(b.tv_sec - a.tv_sec) + (double)(b.tv_nsec - a.tv_nsec) / 1e9;
    CHECK_MSG(secs < 10, "merging %d seconds took %.1f s", NKEYS, secs);
    stats_entry_t *e = first(st);
    CHECK(e && e->num_requests == NKEYS);
    stats_free(st);
    hist_free(scratch);
    proto_msg_free(&m);
    mp_out_free(&o);
}

static void test_empty_strings(void)
{
    /* the fuzzer's input: ["", "\x8b", 64] */
    const unsigned char crash[] = {0x93, 0xa0, 0xa1, 0x8b, 0x40};
    proto_msg_t m;
    CHECK(proto_decode(&m, crash, sizeof crash) == -1); /* node id not a str */
    proto_msg_free(&m);

    mp_out_t o;
    mp_out_init(&o);
    msgpack_packer *pk = &o.pk;
    msgpack_pack_array(pk, 3);
    mp_str(pk, "");
    msgpack_pack_map(pk, 2);
    mp_key(pk, "stats");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 3);
    mp_kv_str(pk, "name", "");
    mp_kv_str(pk, "method", "");
    mp_kv_int(pk, "num_requests", 1);
    mp_key(pk, "errors");
    msgpack_pack_map(pk, 1);
    mp_key(pk, "");
    msgpack_pack_map(pk, 4);
    mp_kv_str(pk, "name", "");
    mp_kv_str(pk, "method", "");
    mp_kv_str(pk, "error", "");
    mp_kv_int(pk, "occurrences", 2);
    mp_str(pk, "");
    CHECK(proto_decode(&m, o.buf.data, o.buf.size) == 0);
    CHECK(m.type[0] == '\0' && m.node_id[0] == '\0');
    char *dup = mp_dup_str(&m.up.data.via.array.ptr[0]);
    CHECK(dup && dup[0] == '\0');
    xfree(dup);
    CHECK(mp_is_str(&m.up.data.via.array.ptr[0], ""));
    hist_t *scratch = hist_new();
    stats_t *st = stats_new();
    CHECK(proto_merge_stats(st, m.data, scratch) == 1);
    size_t ne;
    stats_error_t **errs = stats_errors(st, &ne);
    CHECK(ne == 1 && errs[0]->occurrences == 2 && errs[0]->error[0] == '\0');
    stats_free(st);
    hist_free(scratch);
    proto_msg_free(&m);
    mp_out_free(&o);
}

int main(void)
{
    test_empty_strings();
    test_huge_timestamp();
    test_claimed_counts();
    test_absurd_values();
    test_many_seconds();
    return check_done();
}
