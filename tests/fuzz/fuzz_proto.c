/* fuzz_proto: libFuzzer target for the master/worker protocol: the msgpack
 * envelope decoder (dist/proto.c over msgpack-c, dist/mp.c), and a master's
 * merge of a decoded worker report into its statistics (proto_merge_stats
 * -> stats_merge_delta) followed by everything users then see of them
 * (stats figures, the console tables, the CSV files, the web UI's JSON).
 *
 * The input is one frame as a worker would send it. Invariants checked
 * besides "no crash, no sanitizer report":
 *  - mp_check's scan agrees with msgpack-c: a frame it passes unpacks
 *    whole, without error (it cannot run msgpack-c on the frames it
 *    refuses: that is what it guards against);
 *  - proto_decode's strings are bounded and the node id is UTF-8;
 *  - decode -> encode -> decode round trip: re-packing the decoded object
 *    and decoding that gives the same envelope and the same bytes when
 *    packed again;
 *  - merging is additive: the same report merged twice doubles every count
 *    of every row (modulo 2^64, the counters' arithmetic);
 *  - encoder and decoder agree: the merged stats, encoded as a cicada
 *    worker's report (proto_stats) and merged into an empty stats_t, give
 *    back the same rows, counts, sums, extremes and histograms.
 *
 * The report data is taken from the frame's data whatever its type, so the
 * fuzzer need not find the "stats" string first. Build: make fuzz. */
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/console.h"
#include "dist/proto.h"
#include "report/csv.h"
#include "report/json.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "must.h"

static hist_t *scratch;

static void repack(const msgpack_object *o, msgpack_sbuffer *sb)
{
    msgpack_packer pk;
    msgpack_sbuffer_init(sb);
    msgpack_packer_init(&pk, sb, msgpack_sbuffer_write);
    msgpack_pack_object(&pk, *o);
}

static void check_roundtrip(const proto_msg_t *m)
{
    msgpack_sbuffer a, b;
    repack(&m->up.data, &a);
    proto_msg_t m2;
    MUST(proto_decode(&m2, a.data, a.size) == 0);
    MUST(strcmp(m2.type, m->type) == 0 && strcmp(m2.node_id, m->node_id) == 0);
    repack(&m2.up.data, &b);
    MUST(a.size == b.size && memcmp(a.data, b.data, a.size) == 0);
    proto_msg_free(&m2);
    msgpack_sbuffer_destroy(&a);
    msgpack_sbuffer_destroy(&b);
}

static void ignore_line(void *ud, const char *line)
{
    (void)ud;
    (void)line;
}

/* Everything a master shows of its stats. */
static void render(stats_t *st)
{
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    double now = stats_total(st)->last_request_ts;
    for (size_t i = 0; i <= n; i++) {
        stats_entry_t *e = i < n ? es[i] : stats_total(st);
        double v;
        (void)stats_avg(e);
        (void)stats_min(e);
        (void)stats_avg_content(e);
        (void)stats_fail_ratio(e);
        (void)stats_median(e);
        for (int k = 0; k < STATS_NPCT; k++) {
            (void)stats_percentile(e, stats_pcts[k]);
            (void)stats_current_percentile(st, e, stats_pcts[k], (int64_t)now, &v);
        }
        (void)stats_current_rps(st, e);
        (void)stats_current_fail_per_sec(st, e);
        (void)stats_total_rps(st, e);
        (void)stats_total_fail_per_sec(st, e);
    }
    console_stats(st, 40, true, ignore_line, NULL);
    console_percentiles(st, 40, ignore_line, NULL);
    console_errors(st, 40, ignore_line, NULL);
    char *mem = NULL;
    size_t memlen = 0;
    FILE *f = open_memstream(&mem, &memlen);
    csv_write_stats(f, st);
    csv_write_history(f, st, (int64_t)now, 1, true);
    csv_write_failures(f, st);
    fclose(f);
    free(mem);
    free(json_print(json_stats_requests_of(st, "running", 1, now), false));
}

static stats_entry_t *find(stats_t *st, const stats_entry_t *like)
{
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    for (size_t i = 0; i < n; i++)
        if (strcmp(es[i]->name, like->name) == 0 && strcmp(es[i]->method, like->method) == 0)
            return es[i];
    return NULL;
}

static bool same_hist(const hist_t *a, const hist_t *b)
{
    if (hist_count(a) != hist_count(b)) return false;
    int i = hist_next(a, -1), j = hist_next(b, -1);
    for (; i >= 0 && j >= 0; i = hist_next(a, i), j = hist_next(b, j))
        if (i != j || hist_bucket_count(a, i) != hist_bucket_count(b, j)) return false;
    return i < 0 && j < 0;
}

/* The fields a report carries exactly, in a row that was reported. */
static void check_same(const stats_entry_t *a, const stats_entry_t *b)
{
    MUST(a->num_requests == b->num_requests);
    MUST(a->num_none_requests == b->num_none_requests);
    MUST(a->num_failures == b->num_failures);
    MUST(a->total_content_length == b->total_content_length);
    MUST(a->total_response_time_ms == b->total_response_time_ms);
    MUST(a->max_response_time_ms == b->max_response_time_ms);
    if (a->num_requests > a->num_none_requests)
        MUST(a->min_response_time_ms == b->min_response_time_ms);
    MUST(a->last_request_ts == b->last_request_ts);
    MUST(same_hist(a->hist, b->hist));
}

/* Merged once (st1) and twice (st2): every count doubles. */
static void check_additive(stats_t *st1, stats_t *st2)
{
    size_t n1, n2;
    stats_entry_t **e1 = stats_entries(st1, &n1), **e2 = stats_entries(st2, &n2);
    MUST(n1 == n2);
    for (size_t i = 0; i <= n1; i++) {
        stats_entry_t *a = i < n1 ? e1[i] : stats_total(st1),
                      *b = i < n1 ? e2[i] : stats_total(st2);
        MUST(strcmp(a->name, b->name) == 0 && strcmp(a->method, b->method) == 0);
        MUST(b->num_requests == 2 * a->num_requests);
        MUST(b->num_none_requests == 2 * a->num_none_requests);
        MUST(b->num_failures == 2 * a->num_failures);
        MUST(b->total_content_length == 2 * a->total_content_length);
        MUST(hist_count(b->hist) == 2 * hist_count(a->hist));
        MUST(a->num_none_requests <= a->num_requests);
    }
    size_t ne1, ne2;
    stats_error_t **r1 = stats_errors(st1, &ne1), **r2 = stats_errors(st2, &ne2);
    MUST(ne1 == ne2);
    for (size_t i = 0; i < ne1; i++)
        MUST(r2[i]->occurrences == 2 * r1[i]->occurrences);
}

/* st as a cicada worker would report it, merged into a fresh stats_t. */
static void check_reencode(stats_t *st)
{
    mp_out_t o;
    mp_out_init(&o);
    const char *cls[] = {"U"};
    long cnt[] = {1};
    proto_stats(&o, "fuzz_worker", st, cls, cnt, 1);
    proto_msg_t m;
    MUST(proto_decode(&m, o.buf.data, o.buf.size) == 0);
    MUST(strcmp(m.type, "stats") == 0 && strcmp(m.node_id, "fuzz_worker") == 0);
    stats_t *back = stats_new();
    MUST(proto_merge_stats(back, m.data, scratch) >= 0);
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    for (size_t i = 0; i < n; i++) {
        if (!es[i]->num_requests && !es[i]->num_failures) continue; /* not reported */
        stats_entry_t *b = find(back, es[i]);
        MUST(b != NULL);
        check_same(es[i], b);
    }
    check_same(stats_total(st), stats_total(back));
    size_t ne, nb;
    stats_error_t **e1 = stats_errors(st, &ne), **e2 = stats_errors(back, &nb);
    MUST(ne == nb);
    for (size_t i = 0; i < ne; i++) {
        MUST(strcmp(e1[i]->name, e2[i]->name) == 0 && strcmp(e1[i]->error, e2[i]->error) == 0);
        MUST(e1[i]->occurrences == e2[i]->occurrences);
    }
    stats_free(back);
    proto_msg_free(&m);
    mp_out_free(&o);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    if (!scratch) scratch = hist_new();
    if (mp_check(data, size)) {
        msgpack_unpacked up;
        msgpack_unpacked_init(&up);
        size_t off = 0;
        MUST(msgpack_unpack_next(&up, (const char *)data, size, &off) == MSGPACK_UNPACK_SUCCESS);
        MUST(off == size);
        msgpack_unpacked_destroy(&up);
    }
    proto_msg_t m;
    int rc = proto_decode(&m, data, size);
    if (rc == 0) {
        MUST(strlen(m.type) < PROTO_MAX_TYPE && strlen(m.node_id) < PROTO_MAX_ID);
        MUST(proto_utf8(m.node_id, strlen(m.node_id)));
        check_roundtrip(&m);
        stats_t *st1 = stats_new(), *st2 = stats_new();
        int merged = proto_merge_stats(st1, m.data, scratch);
        MUST(merged == proto_merge_stats(st2, m.data, scratch));
        if (merged >= 0) {
            MUST(proto_merge_stats(st2, m.data, scratch) == merged);
            check_additive(st1, st2);
            render(st2);
            check_reencode(st1);
        }
        const char *cls[] = {"A", "B"};
        long counts[2];
        (void)proto_class_counts(mp_get(m.data, "user_classes_count"), cls, 2, counts);
        MUST(counts[0] >= 0 && counts[1] >= 0);
        stats_free(st1);
        stats_free(st2);
    }
    proto_msg_free(&m);
    return 0;
}
