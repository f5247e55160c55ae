/* Unit tests for the open model's part of dist/proto: a spawn message
 * with the classes' rates and the worker's place decodes back (and stays a
 * plain spawn for Locust's workers without them); a worker report carries
 * its late and dropped iterations as extra keys only when there are some,
 * and a master adds them up; malformed rates are refused. */
#include <math.h>
#include <string.h>

#include "check.h"
#include "dist/proto.h"

static int decode(proto_msg_t *m, const mp_out_t *o)
{
    return proto_decode(m, o->buf.data, o->buf.size);
}

static void test_spawn_open(void)
{
    mp_out_t o;
    mp_out_init(&o);
    proto_msg_t m;
    const char *cls[] = {"Api", "Web"};
    long counts[] = {3, 7}, back[2];
    double rates[] = {25.5, 1000}, got[2];

    proto_spawn_open(&o, "h_1", 100.0, cls, counts, 2, NULL, 0, rates, 1, 2);
    CHECK(decode(&m, &o) == 0 && strcmp(m.type, "spawn") == 0);
    CHECK(proto_class_counts(mp_get(m.data, "user_classes_count"), cls, 2, back) == 0);
    CHECK(back[0] == 3 && back[1] == 7);
    CHECK(proto_class_rates(mp_get(m.data, "cicada_rates"), cls, 2, got));
    CHECK(got[0] == 25.5 && got[1] == 1000);
    int64_t wi = -1, nw = -1;
    CHECK(mp_int(mp_get(m.data, "cicada_worker_index"), &wi) && wi == 1);
    CHECK(mp_int(mp_get(m.data, "cicada_workers"), &nw) && nw == 2);
    /* a class this worker lacks is ignored; one it has but not sent is 0 */
    const char *mine[] = {"Web", "Zed"};
    CHECK(proto_class_rates(mp_get(m.data, "cicada_rates"), mine, 2, got));
    CHECK(got[0] == 1000 && got[1] == 0);
    CHECK(!proto_class_rates(NULL, cls, 2, got));
    proto_msg_free(&m);
    mp_out_clear(&o);

    /* the closed model: none of cicada's keys */
    proto_spawn_open(&o, "h_1", 101.0, cls, counts, 2, NULL, 0, NULL, 0, 0);
    CHECK(decode(&m, &o) == 0);
    CHECK(mp_get(m.data, "cicada_rates") == NULL);
    CHECK(mp_get(m.data, "cicada_workers") == NULL);
    proto_msg_free(&m);
    mp_out_clear(&o);
    mp_out_free(&o);
}

static void test_report_counts(void)
{
    mp_out_t o;
    mp_out_init(&o);
    proto_msg_t m;
    const char *cls[] = {"U"};
    long counts[] = {2};
    stats_t *w = stats_new(), *ms = stats_new();
    hist_t *scratch = hist_new();

    /* nothing late or dropped: no extra keys (a Locust master sees its own shape) */
    proto_stats(&o, "h_1", w, cls, counts, 1);
    CHECK(decode(&m, &o) == 0);
    CHECK(mp_get(m.data, "cicada_late") == NULL && mp_get(m.data, "cicada_dropped") == NULL);
    proto_msg_free(&m);
    mp_out_clear(&o);

    stats_shard_t *sh = stats_shard_new();
    stats_shard_iteration(sh, true, false);
    stats_shard_iteration(sh, true, false);
    stats_shard_iteration(sh, false, true);
    CHECK(!stats_shard_empty(sh));
    stats_merge(w, sh);
    CHECK(stats_late(w) == 2 && stats_dropped(w) == 1);
    proto_stats(&o, "h_1", w, cls, counts, 1);
    CHECK(decode(&m, &o) == 0);
    CHECK(proto_merge_report(ms, m.data, scratch, NULL) >= 0);
    CHECK(proto_merge_report(ms, m.data, scratch, NULL) >= 0); /* two reports add up */
    CHECK(stats_late(ms) == 4 && stats_dropped(ms) == 2);
    proto_msg_free(&m);
    mp_out_clear(&o);

    /* a reset zeroes them, as it zeroes the cut-off count */
    stats_reset(ms, 1.0);
    CHECK(stats_late(ms) == 0 && stats_dropped(ms) == 0);

    stats_shard_free(sh);
    hist_free(scratch);
    stats_free(ms);
    stats_free(w);
    mp_out_free(&o);
}

int main(void)
{
    test_spawn_open();
    test_report_counts();
    return check_done();
}
