/* Unit tests for dist/proto: each message encodes to Locust's shape and
 * decodes back; a worker report merges into a master's stats (cicada's
 * histogram when present, Locust's rounded int/float buckets otherwise);
 * malformed input is refused, never trusted. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "dist/proto.h"

static int decode(proto_msg_t *m, const mp_out_t *o)
{
    return proto_decode(m, o->buf.data, o->buf.size);
}

static stats_entry_t *entry(stats_t *st, const char *name)
{
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(es[i]->name, name) == 0) return es[i];
    return NULL;
}

static void test_envelope(void)
{
    mp_out_t o;
    mp_out_init(&o);
    proto_msg_t m;

    /* client_ready: 93 ac "client_ready" a6 "2.12.1" <id> (as captured from Locust) */
    proto_client_ready(&o, "probehost_aaaa", "2.12.1");
    const unsigned char *b = (const unsigned char *)o.buf.data;
    CHECK(b[0] == 0x93 && b[1] == 0xac && memcmp(b + 2, "client_ready", 12) == 0);
    CHECK(b[14] == 0xa6 && memcmp(b + 15, "2.12.1", 6) == 0);
    CHECK(decode(&m, &o) == 0);
    CHECK(strcmp(m.type, "client_ready") == 0 && strcmp(m.node_id, "probehost_aaaa") == 0);
    CHECK(mp_is_str(m.data, "2.12.1"));
    proto_msg_free(&m);
    mp_out_clear(&o);

    /* ack {"index": 3} */
    proto_ack(&o, "h_1", 3);
    CHECK(decode(&m, &o) == 0);
    int64_t idx = -1;
    CHECK(strcmp(m.type, "ack") == 0 && mp_int(mp_get(m.data, "index"), &idx) && idx == 3);
    proto_msg_free(&m);
    mp_out_clear(&o);

    /* stop: data nil: 93 a4 "stop" c0 <id> */
    proto_simple(&o, "stop", "vm_1");
    b = (const unsigned char *)o.buf.data;
    CHECK(b[0] == 0x93 && b[1] == 0xa4 && b[6] == 0xc0);
    CHECK(decode(&m, &o) == 0 && m.data->type == MSGPACK_OBJECT_NIL);
    proto_msg_free(&m);
    mp_out_clear(&o);

    /* heartbeat */
    proto_heartbeat(&o, "h_1", "running", 12.5, 1 << 20);
    CHECK(decode(&m, &o) == 0);
    double cpu = 0;
    int64_t mem = 0;
    CHECK(mp_is_str(mp_get(m.data, "state"), "running"));
    CHECK(mp_num(mp_get(m.data, "current_cpu_usage"), &cpu) && cpu == 12.5);
    CHECK(mp_int(mp_get(m.data, "current_memory_usage"), &mem) && mem == 1 << 20);
    proto_msg_free(&m);
    mp_out_clear(&o);

    /* spawn: absolute counts, host, nil stop_timeout, empty parsed_options */
    const char *cls[] = {"Other", "Web"};
    long counts[] = {1, 4}, back[2];
    proto_spawn(&o, "h_1", 1795686052.979992, cls, counts, 2, "http://x:1", 0);
    CHECK(decode(&m, &o) == 0 && strcmp(m.type, "spawn") == 0);
    double ts = 0;
    CHECK(mp_num(mp_get(m.data, "timestamp"), &ts) && fabs(ts - 1795686052.979992) < 1e-6);
    CHECK(proto_class_counts(mp_get(m.data, "user_classes_count"), cls, 2, back) == 0);
    CHECK(back[0] == 1 && back[1] == 4);
    CHECK(mp_is_str(mp_get(m.data, "host"), "http://x:1"));
    CHECK(mp_get(m.data, "stop_timeout")->type == MSGPACK_OBJECT_NIL);
    CHECK(mp_get(m.data, "parsed_options")->type == MSGPACK_OBJECT_MAP);
    /* a class the worker lacks is counted as unknown; missing ones are 0 */
    const char *mine[] = {"Web", "Zed"};
    CHECK(proto_class_counts(mp_get(m.data, "user_classes_count"), mine, 2, back) == 1);
    CHECK(back[0] == 4 && back[1] == 0);
    proto_msg_free(&m);
    mp_out_clear(&o);

    proto_spawning_complete(&o, "h_1", cls, counts, 2);
    CHECK(decode(&m, &o) == 0);
    int64_t uc = 0;
    CHECK(mp_int(mp_get(m.data, "user_count"), &uc) && uc == 5);
    proto_msg_free(&m);
    mp_out_clear(&o);

    proto_exception(&o, "h_1", "boom", "  File x\n");
    CHECK(decode(&m, &o) == 0 && mp_is_str(mp_get(m.data, "msg"), "boom"));
    proto_msg_free(&m);
    mp_out_clear(&o);

    /* malformed frames */
    unsigned char junk[] = {0xc1, 0x00};
    CHECK(proto_decode(&m, junk, sizeof junk) != 0);
    proto_msg_free(&m);
    unsigned char two[] = {0x92, 0xa1, 'x', 0xc0}; /* array of 2 */
    CHECK(proto_decode(&m, two, sizeof two) != 0);
    proto_msg_free(&m);
    unsigned char num_type[] = {0x93, 0x01, 0xc0, 0xa1, 'x'}; /* type not a str */
    CHECK(proto_decode(&m, num_type, sizeof num_type) != 0);
    proto_msg_free(&m);
    unsigned char trailing[] = {0x93, 0xa1, 'x', 0xc0, 0xa1, 'y', 0x00}; /* extra byte */
    CHECK(proto_decode(&m, trailing, sizeof trailing) != 0);
    proto_msg_free(&m);
    unsigned char badutf[] = {0x93, 0xa1, 'x', 0xc0, 0xa1, 0xff};
    CHECK(proto_decode(&m, badutf, sizeof badutf) != 0);
    proto_msg_free(&m);
    unsigned char truncated[] = {0x93, 0xac, 'c', 'l'};
    CHECK(proto_decode(&m, truncated, sizeof truncated) != 0);
    proto_msg_free(&m);
    CHECK(proto_decode(&m, "", 0) != 0);
    proto_msg_free(&m);
    /* deep nesting is refused by msgpack-c's stack limit, not a crash */
    unsigned char deep[4096];
    deep[0] = 0x93;
    deep[1] = 0xa1;
    deep[2] = 'x';
    for (size_t i = 3; i < sizeof deep; i++)
        deep[i] = 0x91;
    CHECK(proto_decode(&m, deep, sizeof deep) != 0);
    proto_msg_free(&m);
    mp_out_free(&o);
}

static void test_buckets(void)
{
    /* Locust's rounding (research/locust-stats.md), ties to even */
    CHECK(proto_locust_bucket(0.5) == 0 && proto_locust_bucket(1.5) == 2);
    CHECK(proto_locust_bucket(2.5) == 2 && proto_locust_bucket(99.6) == 100);
    CHECK(proto_locust_bucket(145) == 140 && proto_locust_bucket(155) == 160);
    CHECK(proto_locust_bucket(1450) == 1400 && proto_locust_bucket(1550) == 1600);
    CHECK(proto_locust_bucket(12345.6) == 12000 && proto_locust_bucket(12500) == 12000);
    char key[65];
    proto_error_key("GET", "/x", "boom", key);
    CHECK(strlen(key) == 64);
    /* sha256("GET./x.boom") */
    char again[65];
    proto_error_key("GET", "/x", "boom", again);
    CHECK(strcmp(key, again) == 0);
    proto_error_key("GET", "/x", "other", again);
    CHECK(strcmp(key, again) != 0);
}

/* A worker's report round-trips into a master's stats, with its exact
 * histogram (cicada_hist) and its per-second counts. */
static void test_stats_roundtrip(void)
{
    stats_shard_t *sh = stats_shard_new();
    stats_t *w = stats_new();
    double now = 1795686054.5;
    for (int i = 0; i < 100; i++)
        stats_shard_request(sh, "GET", "/a", 1000 + i * 1000, 10, NULL, now + (i % 2));
    stats_shard_request(sh, "GET", "/a", 5000, 0, "HTTPError('500')", now);
    stats_shard_request(sh, "POST", "/b", -1, 0, NULL, now); /* no time */
    stats_merge(w, sh);

    mp_out_t o;
    mp_out_init(&o);
    const char *cls[] = {"U"};
    long counts[] = {7};
    proto_stats(&o, "h_1", w, cls, counts, 1);
    proto_msg_t m;
    CHECK(decode(&m, &o) == 0 && strcmp(m.type, "stats") == 0);
    const msgpack_object *list = mp_get(m.data, "stats");
    CHECK(list && list->type == MSGPACK_OBJECT_ARRAY && list->via.array.size == 2);
    const msgpack_object *e0 = &list->via.array.ptr[0];
    CHECK(mp_get(e0, "response_times") && mp_get(e0, "num_reqs_per_sec") &&
          mp_get(e0, "num_fail_per_sec") && mp_get(e0, "cicada_hist") && mp_get(e0, "start_time") &&
          mp_get(e0, "num_none_requests"));
    CHECK(mp_get(mp_get(m.data, "stats_total"), "method")->type == MSGPACK_OBJECT_NIL);
    const msgpack_object *errs = mp_get(m.data, "errors");
    CHECK(errs && errs->type == MSGPACK_OBJECT_MAP && errs->via.map.size == 1);
    CHECK(errs->via.map.ptr[0].key.via.str.size == 64);
    long back[1];
    CHECK(proto_class_counts(mp_get(m.data, "user_classes_count"), cls, 1, back) == 0 &&
          back[0] == 7);

    /* merged twice on a master: everything doubles, percentiles stay */
    stats_t *ms = stats_new();
    hist_t *scratch = hist_new();
    CHECK(proto_merge_stats(ms, m.data, scratch) == 2);
    CHECK(proto_merge_stats(ms, m.data, scratch) == 2);
    stats_entry_t *a = entry(ms, "/a"), *wa = entry(w, "/a");
    CHECK(a && a->num_requests == 202 && a->num_failures == 2);
    CHECK(fabs(stats_percentile(a, 0.5) - stats_percentile(wa, 0.5)) < 1e-9);
    CHECK(fabs(stats_percentile(a, 0.99) - stats_percentile(wa, 0.99)) < 1e-9);
    CHECK(fabs(stats_min(a) - 1.0) < 1e-9 && fabs(a->max_response_time_ms - 100.0) < 1e-9);
    CHECK(a->total_content_length == 2000);
    stats_entry_t *b = entry(ms, "/b");
    CHECK(b && b->num_requests == 2 && b->num_none_requests == 2 && strcmp(b->method, "POST") == 0);
    CHECK(stats_total(ms)->num_requests == 204);
    size_t nerr;
    stats_error_t **er = stats_errors(ms, &nerr);
    CHECK(nerr == 1 && er[0]->occurrences == 2 && strcmp(er[0]->error, "HTTPError('500')") == 0);
    /* per-second counts arrived: the total RPS window sees them */
    CHECK(stats_total(ms)->last_request_ts >= now + 1);
    proto_msg_free(&m);
    mp_out_clear(&o);

    /* a Locust worker's report: rounded buckets with int AND float keys */
    msgpack_packer *pk = &o.pk;
    msgpack_pack_array(pk, 3);
    mp_str(pk, "stats");
    msgpack_pack_map(pk, 3);
    mp_key(pk, "stats");
    msgpack_pack_array(pk, 1);
    msgpack_pack_map(pk, 14);
    mp_kv_str(pk, "name", "/slow");
    mp_kv_str(pk, "method", "GET");
    mp_kv_double(pk, "last_request_timestamp", 1795686055.78);
    mp_kv_double(pk, "start_time", 1795686054.33);
    mp_kv_int(pk, "num_requests", 31);
    mp_kv_int(pk, "num_none_requests", 0);
    mp_kv_int(pk, "num_failures", 0);
    mp_kv_double(pk, "total_response_time", 600.5);
    mp_kv_double(pk, "max_response_time", 122.931);
    mp_kv_double(pk, "min_response_time", 1.2);
    mp_kv_int(pk, "total_content_length", 20);
    mp_key(pk, "response_times"); /* {2: 26, 1: 1, 120.0: 4} */
    msgpack_pack_map(pk, 3);
    msgpack_pack_int64(pk, 2);
    msgpack_pack_int64(pk, 26);
    msgpack_pack_int64(pk, 1);
    msgpack_pack_int64(pk, 1);
    msgpack_pack_double(pk, 120.0);
    msgpack_pack_int64(pk, 4);
    mp_key(pk, "num_reqs_per_sec");
    msgpack_pack_map(pk, 2);
    msgpack_pack_int64(pk, 1795686054);
    msgpack_pack_int64(pk, 15);
    msgpack_pack_int64(pk, 1795686055);
    msgpack_pack_int64(pk, 16);
    mp_key(pk, "num_fail_per_sec");
    msgpack_pack_map(pk, 0);
    mp_key(pk, "stats_total");
    msgpack_pack_nil(pk); /* malformed: skipped, the entry still counts */
    mp_key(pk, "errors");
    msgpack_pack_map(pk, 0);
    mp_str(pk, "vm_x");
    CHECK(decode(&m, &o) == 0);
    stats_t *ls = stats_new();
    CHECK(proto_merge_stats(ls, m.data, scratch) == 1);
    stats_entry_t *s = entry(ls, "/slow");
    CHECK(s && s->num_requests == 31 && hist_count(s->hist) == 31);
    CHECK(fabs(stats_percentile(s, 1.0) - 120.0) < 1.0);
    CHECK(fabs(stats_percentile(s, 0.5) - 2.0) < 0.05);
    CHECK(fabs(stats_min(s) - 1.2) < 1e-9);
    proto_msg_free(&m);

    /* not a map: refused */
    CHECK(proto_merge_stats(ls, NULL, scratch) == -1);

    stats_free(ls);
    hist_free(scratch);
    stats_free(ms);
    stats_free(w);
    stats_shard_free(sh);
    mp_out_free(&o);
}

int main(void)
{
    test_envelope();
    test_buckets();
    test_stats_roundtrip();
    return check_done();
}
