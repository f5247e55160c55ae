/* Unit tests for the caps a master puts on its workers' reports (issue 10,
 * item 5; dist/proto.h, dist/mp.h) and for CURVE key files (dist/curve.h).
 * Before the fix a report was merged whole: 20,000 names made 20,000 rows
 * (and 20,000 sorts of the row list), a per-second map of any size was
 * read, failures and exception node lists grew without bound, and a frame
 * could hold as many objects as bytes. */
#include <stdio.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include "check.h"
#include "dist/curve.h"
#include "dist/proto.h"

static void pack_entry(msgpack_packer *pk, const char *name, int nsecs)
{
    msgpack_pack_map(pk, 5);
    mp_kv_str(pk, "name", name);
    mp_kv_str(pk, "method", "GET");
    mp_kv_int(pk, "num_requests", 1);
    mp_kv_double(pk, "last_request_timestamp", 1700000000.5);
    mp_key(pk, "num_reqs_per_sec");
    msgpack_pack_map(pk, (size_t)nsecs);
    for (int i = 0; i < nsecs; i++) {
        msgpack_pack_int64(pk, 1700000000 - i);
        msgpack_pack_int64(pk, 1);
    }
}

/* A report of n entries named <prefix><i> (nsecs per-second keys each) and
 * nerr failures with errors of errlen bytes. */
static void report(mp_out_t *o, const char *prefix, int n, int nsecs, int nerr, size_t errlen)
{
    msgpack_pack_array(&o->pk, 3);
    mp_str(&o->pk, "stats");
    msgpack_pack_map(&o->pk, 3);
    mp_key(&o->pk, "stats");
    msgpack_pack_array(&o->pk, (size_t)n);
    char name[64];
    for (int i = 0; i < n; i++) {
        snprintf(name, sizeof name, "%s%d", prefix, i);
        pack_entry(&o->pk, name, nsecs);
    }
    mp_key(&o->pk, "stats_total");
    pack_entry(&o->pk, "Aggregated", 1);
    mp_key(&o->pk, "errors");
    msgpack_pack_map(&o->pk, (size_t)nerr);
    char *text = malloc(errlen + 1);
    memset(text, 'e', errlen);
    text[errlen] = '\0';
    for (int i = 0; i < nerr; i++) {
        snprintf(name, sizeof name, "k%d", i);
        mp_str(&o->pk, name);
        msgpack_pack_map(&o->pk, 4);
        snprintf(name, sizeof name, "%s%d", prefix, i);
        mp_kv_str(&o->pk, "name", name);
        mp_kv_str(&o->pk, "method", "GET");
        mp_kv_str(&o->pk, "error", text);
        mp_kv_int(&o->pk, "occurrences", 1);
    }
    free(text);
    mp_str(&o->pk, "w1");
}

static int merge(stats_t *st, mp_out_t *o, proto_dropped_t *dr)
{
    proto_msg_t m;
    hist_t *scratch = hist_new();
    int r = -2;
    if (proto_decode(&m, o->buf.data, o->buf.size) == 0)
        r = proto_merge_report(st, m.data, scratch, dr);
    proto_msg_free(&m);
    hist_free(scratch);
    mp_out_clear(o);
    return r;
}

static void test_names_and_rows(void)
{
    stats_t *st = stats_new();
    mp_out_t o;
    mp_out_init(&o);
    proto_dropped_t dr;
    /* 20,000 names in one report: the first PROTO_MAX_NAMES are merged */
    report(&o, "/a", 20000, 1, 0, 0);
    CHECK(merge(st, &o, &dr) == PROTO_MAX_NAMES);
    CHECK(dr.names == 20000 - PROTO_MAX_NAMES && dr.rows == 0);
    CHECK(stats_rows(st) == PROTO_MAX_NAMES);
    CHECK(stats_total(st)->num_requests == 1); /* the total is the worker's own */
    /* up to PROTO_MAX_ROWS rows in all; then only known names */
    _Static_assert(PROTO_MAX_ROWS >= PROTO_MAX_NAMES, "the test below fills rows with /b");
    report(&o, "/b", PROTO_MAX_ROWS - PROTO_MAX_NAMES, 1, 0, 0);
    CHECK(merge(st, &o, &dr) == PROTO_MAX_ROWS - PROTO_MAX_NAMES && dr.rows == 0);
    CHECK(stats_rows(st) == PROTO_MAX_ROWS);
    report(&o, "/c", 10, 1, 0, 0);
    CHECK(merge(st, &o, &dr) == 0 && dr.rows == 10);
    report(&o, "/a", 10, 1, 0, 0);
    CHECK(merge(st, &o, &dr) == 10 && dr.rows == 0);
    CHECK(stats_rows(st) == PROTO_MAX_ROWS);
    /* rows are sorted when read, not on every insertion */
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    bool sorted = n == PROTO_MAX_ROWS;
    for (size_t i = 1; i < n; i++)
        sorted &= strcmp(es[i - 1]->name, es[i]->name) <= 0;
    CHECK(sorted);
    CHECK(stats_has_entry(st, "GET", "/a0") && es[0]->num_requests == 2);
    stats_free(st);
    mp_out_free(&o);
}

static void test_seconds(void)
{
    stats_t *st = stats_new();
    mp_out_t o;
    mp_out_init(&o);
    proto_dropped_t dr;
    report(&o, "/s", 1, 200000, 0, 0);
    CHECK(merge(st, &o, &dr) == 1);
    CHECK(dr.secs == 200000 - PROTO_MAX_SECS);
    report(&o, "/s", 1, PROTO_MAX_SECS, 0, 0);
    CHECK(merge(st, &o, &dr) == 1 && dr.secs == 0);
    stats_free(st);
    mp_out_free(&o);
}

static void test_errors(void)
{
    stats_t *st = stats_new();
    mp_out_t o;
    mp_out_init(&o);
    proto_dropped_t dr;
    report(&o, "/e", 0, 0, PROTO_MAX_ERRORS + 200, 10);
    CHECK(merge(st, &o, &dr) == 0 && dr.errors == 200);
    CHECK(stats_error_rows(st) == PROTO_MAX_ERRORS);
    report(&o, "/f", 0, 0, PROTO_MAX_ERRORS, 10);
    CHECK(merge(st, &o, &dr) == 0 && dr.errors == 0);
    report(&o, "/g", 0, 0, 5, 10);
    CHECK(merge(st, &o, &dr) == 0 && dr.errors == 5);
    CHECK(stats_error_rows(st) == PROTO_MAX_ERROR_ROWS);
    stats_free(st);
    /* a long failure text is cut */
    st = stats_new();
    report(&o, "/h", 0, 0, 1, 100000);
    CHECK(merge(st, &o, &dr) == 0 && dr.errors == 0);
    size_t n;
    stats_error_t **errs = stats_errors(st, &n);
    CHECK(n == 1 && strlen(errs[0]->error) == PROTO_MAX_ERROR_LEN);
    stats_free(st);
    mp_out_free(&o);
}

static void test_exception_nodes(void)
{
    stats_t *st = stats_new();
    char node[64];
    for (int i = 0; i < 5000; i++) {
        snprintf(node, sizeof node, "worker_%040d", i);
        stats_exception_add(st, "msg", "tb", node, 1);
    }
    size_t n;
    stats_exception_t **xs = stats_exceptions(st, &n);
    CHECK(n == 1 && xs[0]->count == 5000);
    size_t len = strlen(xs[0]->nodes);
    CHECK(len <= STATS_MAX_NODES_LEN + 5 && len > STATS_MAX_NODES_LEN / 2);
    CHECK(strcmp(xs[0]->nodes + len - 5, ", ...") == 0);
    stats_exception_add(st, "msg", "tb", "worker_0000000000000000000000000000000000000000", 1);
    CHECK(xs[0]->count == 5001 && strlen(xs[0]->nodes) == len);
    stats_free(st);
}

static void test_objects(void)
{
    /* [nil, nil, ...]: one byte per object */
    for (uint32_t k = MP_MAX_OBJECTS - 2; k <= MP_MAX_OBJECTS; k++) {
        mp_out_t o;
        mp_out_init(&o);
        msgpack_pack_array(&o.pk, k);
        for (uint32_t i = 0; i < k; i++)
            msgpack_pack_nil(&o.pk);
        /* k elements and the array itself */
        CHECK(mp_check(o.buf.data, o.buf.size) == (k + 1 <= MP_MAX_OBJECTS));
        mp_out_free(&o);
    }
}

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    fputs(text, f);
    fclose(f);
}

static void test_key_files(void)
{
    char dir[] = "/tmp/cicada-test-caps-XXXXXX";
    if (mkdtemp(dir) == NULL) {
        CHECK(!"mkdtemp");
        return;
    }
    char path[256], text[512], err[700];
    curve_key_t k, want;
    CHECK(zmq_curve_keypair(want.pub, want.secret) == 0);
    snprintf(path, sizeof path, "%s/a.key_secret", dir);
    snprintf(text, sizeof text,
             "#   ZeroMQ CURVE **Secret** Certificate\n\nmetadata\ncurve\n"
             "    public-key = \"%s\"\n    secret-key = \"%s\"\n",
             want.pub, want.secret);
    write_file(path, text);
    CHECK(curve_load(path, true, &k, err, sizeof err) == 0);
    CHECK(strcmp(k.pub, want.pub) == 0 && strcmp(k.secret, want.secret) == 0);
    /* a public file is no secret one */
    snprintf(path, sizeof path, "%s/a.key", dir);
    snprintf(text, sizeof text, "curve\n    public-key = '%s'\n", want.pub);
    write_file(path, text);
    CHECK(curve_load(path, false, &k, err, sizeof err) == 0 && k.secret[0] == '\0');
    CHECK(curve_load(path, true, &k, err, sizeof err) == -1 && strstr(err, "no secret-key"));
    /* a bad key names the file and line */
    snprintf(path, sizeof path, "%s/bad.key", dir);
    write_file(path, "# x\ncurve\n    public-key = \"tooshort\"\n");
    CHECK(curve_load(path, false, &k, err, sizeof err) == -1);
    snprintf(text, sizeof text, "%s:3: public-key is not a key", path);
    CHECK_MSG(strstr(err, text) != NULL, "%s", err);
    /* a secret key that is not the public key's */
    curve_key_t other;
    zmq_curve_keypair(other.pub, other.secret);
    snprintf(path, sizeof path, "%s/mixed.key_secret", dir);
    snprintf(text, sizeof text, "public-key = \"%s\"\nsecret-key = \"%s\"\n", want.pub,
             other.secret);
    write_file(path, text);
    CHECK(curve_load(path, true, &k, err, sizeof err) == -1 && strstr(err, "is not the one"));
    snprintf(path, sizeof path, "%s/none", dir);
    CHECK(curve_load(path, false, &k, err, sizeof err) == -1 && strstr(err, "cannot read"));
    const char *names[] = {"a.key_secret", "a.key", "bad.key", "mixed.key_secret"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++) {
        snprintf(path, sizeof path, "%s/%s", dir, names[i]);
        unlink(path);
    }
    rmdir(dir);
}

int main(void)
{
    test_names_and_rows();
    test_seconds();
    test_errors();
    test_exception_nodes();
    test_objects();
    if (curve_available()) test_key_files();
    return check_done();
}
