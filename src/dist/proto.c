/* proto: Locust's messages, encoded and decoded with msgpack-c.
 *
 * Encoding writes the maps in the key order Locust's own worker uses, so a
 * capture of a cicada worker reads like one of a Locust worker. Decoding
 * a report walks its maps once and feeds every entry to
 * stats_merge_delta(); the per-second maps and histograms are copied into
 * small arrays first, so nothing of the message outlives the call. Every
 * field is type-checked: an entry with a missing or mistyped required key
 * is skipped, never trusted. Values are range-checked too (a worker is
 * another process, maybe a buggy or hostile one): counts must be in
 * [0, 2^53] (exact as a double, as the web UI's JSON numbers are), times
 * in [0, 1e12] ms and timestamps in (0, STATS_MAX_TS]; a value outside is
 * taken as absent, like a mistyped one. Sizes are capped too (proto.h:
 * names per report, rows, per-second keys, failures): what is over a cap
 * is skipped and counted for the caller to report, so one message costs
 * time linear in its size and the master's rows stay bounded. */
#include "dist/proto.h"

#include <math.h>
#include <openssl/evp.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/utf8.h"

/* ---- envelope ---- */

int proto_decode(proto_msg_t *m, const void *buf, size_t len)
{
    memset(m, 0, sizeof *m);
    msgpack_unpacked_init(&m->up);
    size_t off = 0;
    if (!mp_check(buf, len)) return -1; /* before msgpack-c allocates what it claims */
    if (msgpack_unpack_next(&m->up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS) return -1;
    if (off != len) return -1; /* trailing bytes: Locust's ExtraData */
    const msgpack_object *o = &m->up.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3) return -1;
    const msgpack_object *a = o->via.array.ptr;
    if (!mp_copy_str(&a[0], m->type, sizeof m->type)) return -1;
    if (a[0].via.str.size >= sizeof m->type) return -1;
    if (a[2].type == MSGPACK_OBJECT_NIL)
        m->node_id[0] = '\0';
    else if (!mp_copy_str(&a[2], m->node_id, sizeof m->node_id) ||
             !proto_utf8(a[2].via.str.ptr, a[2].via.str.size))
        return -1;
    m->data = &a[1];
    return 0;
}

void proto_msg_free(proto_msg_t *m)
{
    msgpack_unpacked_destroy(&m->up);
}

bool proto_utf8(const char *s, size_t len)
{
    return utf8_valid(s, len, false);
}

/* ---- encoders ---- */

static void begin(mp_out_t *o, const char *type)
{
    msgpack_pack_array(&o->pk, 3);
    mp_str(&o->pk, type);
}

void proto_simple(mp_out_t *o, const char *type, const char *node_id)
{
    begin(o, type);
    msgpack_pack_nil(&o->pk);
    mp_str(&o->pk, node_id);
}

void proto_client_ready(mp_out_t *o, const char *node_id, const char *version)
{
    begin(o, "client_ready");
    mp_str(&o->pk, version);
    mp_str(&o->pk, node_id);
}

void proto_ack(mp_out_t *o, const char *node_id, int index)
{
    begin(o, "ack");
    msgpack_pack_map(&o->pk, 1);
    mp_kv_int(&o->pk, "index", index);
    mp_str(&o->pk, node_id);
}

void proto_heartbeat(mp_out_t *o, const char *node_id, const char *state, double cpu, int64_t rss)
{
    begin(o, "heartbeat");
    msgpack_pack_map(&o->pk, 3);
    mp_kv_str(&o->pk, "state", state);
    mp_kv_double(&o->pk, "current_cpu_usage", cpu);
    mp_kv_int(&o->pk, "current_memory_usage", rss);
    mp_str(&o->pk, node_id);
}

static void pack_counts(msgpack_packer *pk, const char *const *classes, const long *counts, int n)
{
    msgpack_pack_map(pk, (size_t)n);
    for (int i = 0; i < n; i++) {
        mp_str(pk, classes[i]);
        msgpack_pack_int64(pk, counts[i]);
    }
}

void proto_spawn(mp_out_t *o, const char *node_id, double timestamp, const char *const *classes,
                 const long *counts, int n, const char *host, double stop_timeout)
{
    proto_spawn_open(o, node_id, timestamp, classes, counts, n, host, stop_timeout, NULL, 0, 0);
}

void proto_spawn_open(mp_out_t *o, const char *node_id, double timestamp,
                      const char *const *classes, const long *counts, int n, const char *host,
                      double stop_timeout, const double *rates, int windex, int nworkers)
{
    begin(o, "spawn");
    msgpack_pack_map(&o->pk, rates ? 8 : 5);
    if (rates) { /* the open model: keys a Locust worker ignores */
        mp_key(&o->pk, "cicada_rates");
        msgpack_pack_map(&o->pk, (size_t)n);
        for (int i = 0; i < n; i++) {
            mp_str(&o->pk, classes[i]);
            msgpack_pack_double(&o->pk, rates[i]);
        }
        mp_kv_int(&o->pk, "cicada_worker_index", windex);
        mp_kv_int(&o->pk, "cicada_workers", nworkers);
    }
    mp_kv_double(&o->pk, "timestamp", timestamp);
    mp_key(&o->pk, "user_classes_count");
    pack_counts(&o->pk, classes, counts, n);
    mp_kv_str(&o->pk, "host", host && *host ? host : NULL);
    if (stop_timeout > 0)
        mp_kv_double(&o->pk, "stop_timeout", stop_timeout);
    else
        mp_kv_nil(&o->pk, "stop_timeout");
    mp_key(&o->pk, "parsed_options");
    msgpack_pack_map(&o->pk, 0);
    mp_str(&o->pk, node_id);
}

static long sum(const long *counts, int n)
{
    long s = 0;
    for (int i = 0; i < n; i++)
        s += counts[i];
    return s;
}

void proto_spawning_complete(mp_out_t *o, const char *node_id, const char *const *classes,
                             const long *counts, int n)
{
    begin(o, "spawning_complete");
    msgpack_pack_map(&o->pk, 2);
    mp_key(&o->pk, "user_classes_count");
    pack_counts(&o->pk, classes, counts, n);
    mp_kv_int(&o->pk, "user_count", sum(counts, n));
    mp_str(&o->pk, node_id);
}

void proto_exception(mp_out_t *o, const char *node_id, const char *msg, const char *traceback)
{
    begin(o, "exception");
    msgpack_pack_map(&o->pk, 2);
    mp_kv_str(&o->pk, "msg", msg);
    mp_kv_str(&o->pk, "traceback", traceback);
    mp_str(&o->pk, node_id);
}

double proto_locust_bucket(double ms)
{
    /* nearbyint rounds half to even in the default mode, like Python */
    if (ms < 100) return nearbyint(ms);
    if (ms < 1000) return nearbyint(ms / 10) * 10;
    if (ms < 10000) return nearbyint(ms / 100) * 100;
    return nearbyint(ms / 1000) * 1000;
}

static double bucket_ms(int i)
{
    return (double)hist_bucket_value(i) / 1000.0;
}

/* Locust's rounded buckets from our histogram: the rounding is monotonic,
 * so equal keys are neighbours and two passes (count, then write) do. */
static void pack_locust_buckets(msgpack_packer *pk, const hist_t *h)
{
    size_t nkeys = 0;
    double last = -1;
    for (int i = hist_next(h, -1); i >= 0; i = hist_next(h, i)) {
        double k = proto_locust_bucket(bucket_ms(i));
        if (k != last) nkeys++;
        last = k;
    }
    msgpack_pack_map(pk, nkeys);
    last = -1;
    uint64_t acc = 0;
    for (int i = hist_next(h, -1); i >= 0; i = hist_next(h, i)) {
        double k = proto_locust_bucket(bucket_ms(i));
        if (k != last && last >= 0) {
            msgpack_pack_int64(pk, (int64_t)last);
            msgpack_pack_uint64(pk, acc);
            acc = 0;
        }
        last = k;
        acc += hist_bucket_count(h, i);
    }
    if (last >= 0) {
        msgpack_pack_int64(pk, (int64_t)last);
        msgpack_pack_uint64(pk, acc);
    }
}

static void pack_hist(msgpack_packer *pk, const hist_t *h)
{
    size_t n = 0;
    for (int i = hist_next(h, -1); i >= 0; i = hist_next(h, i))
        n++;
    msgpack_pack_map(pk, n);
    for (int i = hist_next(h, -1); i >= 0; i = hist_next(h, i)) {
        msgpack_pack_int64(pk, i);
        msgpack_pack_uint64(pk, hist_bucket_count(h, i));
    }
}

static void pack_secs(msgpack_packer *pk, const stats_entry_t *e, bool fails)
{
    const uint32_t *v = fails ? e->sec_fails : e->sec_reqs;
    size_t n = 0, slots = sizeof e->sec_key / sizeof e->sec_key[0];
    for (size_t i = 0; i < slots; i++)
        n += v[i] > 0;
    msgpack_pack_map(pk, n);
    for (size_t i = 0; i < slots; i++)
        if (v[i] > 0) {
            msgpack_pack_int64(pk, e->sec_key[i]);
            msgpack_pack_uint32(pk, v[i]);
        }
}

static void pack_entry(msgpack_packer *pk, const stats_entry_t *e, bool total, double start)
{
    uint64_t timed = e->num_requests - e->num_none_requests;
    msgpack_pack_map(pk, 15);
    mp_kv_str(pk, "name", e->name);
    mp_kv_str(pk, "method", total ? NULL : e->method);
    if (e->last_request_ts > 0)
        mp_kv_double(pk, "last_request_timestamp", e->last_request_ts);
    else
        mp_kv_nil(pk, "last_request_timestamp");
    mp_kv_double(pk, "start_time", start);
    mp_kv_int(pk, "num_requests", (int64_t)e->num_requests);
    mp_kv_int(pk, "num_none_requests", (int64_t)e->num_none_requests);
    mp_kv_int(pk, "num_failures", (int64_t)e->num_failures);
    mp_kv_double(pk, "total_response_time", e->total_response_time_ms);
    mp_kv_double(pk, "max_response_time", e->max_response_time_ms);
    if (timed)
        mp_kv_double(pk, "min_response_time", e->min_response_time_ms);
    else
        mp_kv_nil(pk, "min_response_time");
    mp_kv_int(pk, "total_content_length", (int64_t)e->total_content_length);
    mp_key(pk, "response_times");
    pack_locust_buckets(pk, e->hist);
    mp_key(pk, "num_reqs_per_sec");
    pack_secs(pk, e, false);
    mp_key(pk, "num_fail_per_sec");
    pack_secs(pk, e, true);
    mp_key(pk, "cicada_hist");
    pack_hist(pk, e->hist);
}

void proto_error_key(const char *method, const char *name, const char *error, char out[65])
{
    size_t a = strlen(method), b = strlen(name), c = strlen(error);
    char *s = xmalloc(a + b + c + 3);
    memcpy(s, method, a);
    s[a] = '.';
    memcpy(s + a + 1, name, b);
    s[a + 1 + b] = '.';
    memcpy(s + a + b + 2, error, c + 1);
    unsigned char md[EVP_MAX_MD_SIZE];
    unsigned int n = 0;
    EVP_Digest(s, a + b + c + 2, md, &n, EVP_sha256(), NULL);
    xfree(s);
    for (unsigned int i = 0; i < 32 && i < n; i++)
        snprintf(out + 2 * i, 3, "%02x", md[i]);
    out[64] = '\0';
}

void proto_stats(mp_out_t *o, const char *node_id, stats_t *st, const char *const *classes,
                 const long *counts, int n)
{
    msgpack_packer *pk = &o->pk;
    double start = stats_start_time(st);
    begin(o, "stats");
    /* the open model's counts go as two more keys, only when there are
     * some: Locust's master reads the keys it knows and ignores these */
    uint64_t late = stats_late(st), dropped = stats_dropped(st);
    msgpack_pack_map(pk, 5 + (late || dropped ? 2 : 0));

    size_t ne, live = 0;
    stats_entry_t **es = stats_entries(st, &ne);
    for (size_t i = 0; i < ne; i++)
        live += es[i]->num_requests || es[i]->num_failures;
    mp_key(pk, "stats");
    msgpack_pack_array(pk, live);
    for (size_t i = 0; i < ne; i++)
        if (es[i]->num_requests || es[i]->num_failures) pack_entry(pk, es[i], false, start);
    mp_key(pk, "stats_total");
    pack_entry(pk, stats_total(st), true, start);

    size_t nerr;
    stats_error_t **errs = stats_errors(st, &nerr);
    mp_key(pk, "errors");
    msgpack_pack_map(pk, nerr);
    for (size_t i = 0; i < nerr; i++) {
        char key[65];
        proto_error_key(errs[i]->method, errs[i]->name, errs[i]->error, key);
        mp_str(pk, key);
        msgpack_pack_map(pk, 4);
        mp_kv_str(pk, "name", errs[i]->name);
        mp_kv_str(pk, "method", errs[i]->method);
        mp_kv_str(pk, "error", errs[i]->error);
        mp_kv_int(pk, "occurrences", (int64_t)errs[i]->occurrences);
    }
    mp_key(pk, "user_classes_count");
    pack_counts(pk, classes, counts, n);
    mp_kv_int(pk, "user_count", sum(counts, n));
    if (late || dropped) {
        mp_kv_int(pk, "cicada_late", (int64_t)late);
        mp_kv_int(pk, "cicada_dropped", (int64_t)dropped);
    }
    mp_str(pk, node_id);
}

/* ---- decoding ---- */

bool proto_class_rates(const msgpack_object *m, const char *const *classes, int n, double *rates)
{
    for (int i = 0; i < n; i++)
        rates[i] = 0;
    if (m == NULL || m->type != MSGPACK_OBJECT_MAP) return false;
    for (uint32_t k = 0; k < m->via.map.size; k++) {
        const msgpack_object *key = &m->via.map.ptr[k].key;
        if (key->type != MSGPACK_OBJECT_STR) continue;
        for (int i = 0; i < n; i++)
            if (strlen(classes[i]) == key->via.str.size &&
                memcmp(classes[i], key->via.str.ptr, key->via.str.size) == 0 &&
                !mp_num(&m->via.map.ptr[k].val, &rates[i]))
                return false;
    }
    return true;
}

int proto_class_counts(const msgpack_object *m, const char *const *classes, int n, long *counts)
{
    for (int i = 0; i < n; i++)
        counts[i] = 0;
    if (m == NULL || m->type != MSGPACK_OBJECT_MAP) return -1;
    int unknown = 0;
    for (uint32_t k = 0; k < m->via.map.size; k++) {
        const msgpack_object *key = &m->via.map.ptr[k].key;
        int64_t v;
        bool found = false;
        for (int i = 0; i < n && !found; i++)
            if (mp_is_str(key, classes[i])) {
                found = true;
                if (mp_int(&m->via.map.ptr[k].val, &v) && v >= 0) counts[i] = (long)v;
            }
        unknown += !found;
    }
    return unknown;
}

#define MAX_COUNT (INT64_C(1) << 53)
#define MAX_MS 1e12

static bool count_ok(const msgpack_object *o, int64_t *out)
{
    return mp_int(o, out) && *out >= 0 && *out <= MAX_COUNT;
}

static bool get_u64(const msgpack_object *e, const char *key, uint64_t *out)
{
    int64_t v;
    if (!count_ok(mp_get(e, key), &v)) return false;
    *out = (uint64_t)v;
    return true;
}

/* A response time (ms) or a timestamp (unix s) in its range, else untouched. */
static void get_ms(const msgpack_object *e, const char *key, double *out)
{
    double v;
    if (mp_num(mp_get(e, key), &v) && v >= 0 && v <= MAX_MS) *out = v;
}

static void get_ts(const msgpack_object *e, const char *key, double *out)
{
    double v;
    if (mp_num(mp_get(e, key), &v) && v > 0 && v <= STATS_MAX_TS) *out = v;
}

/* Fill h from "cicada_hist" if present and sound, else from Locust's
 * "response_times" (a key of k ms counts as k*1000 µs). */
static void read_hist(const msgpack_object *e, hist_t *h)
{
    hist_reset(h);
    const msgpack_object *ch = mp_get(e, "cicada_hist");
    if (ch && ch->type == MSGPACK_OBJECT_MAP) {
        for (uint32_t k = 0; k < ch->via.map.size; k++) {
            int64_t idx, c;
            if (mp_int(&ch->via.map.ptr[k].key, &idx) && count_ok(&ch->via.map.ptr[k].val, &c) &&
                idx >= 0 && idx < HIST_NBUCKETS && c > 0)
                hist_add(h, (int)idx, (uint64_t)c);
        }
        return;
    }
    const msgpack_object *rt = mp_get(e, "response_times");
    if (rt == NULL || rt->type != MSGPACK_OBJECT_MAP) return;
    for (uint32_t k = 0; k < rt->via.map.size; k++) {
        double ms;
        int64_t c;
        if (!mp_num(&rt->via.map.ptr[k].key, &ms) || !count_ok(&rt->via.map.ptr[k].val, &c) ||
            ms < 0 || c <= 0)
            continue;
        double us = ms * 1000.0;
        if (us > (double)HIST_MAX_VALUE) us = (double)HIST_MAX_VALUE;
        hist_add(h, hist_index((uint64_t)llround(us)), (uint64_t)c);
    }
}

/* The per-second maps of an entry as parallel arrays (owned by the caller). */
typedef struct secs {
    int64_t *sec;
    uint32_t *reqs, *fails;
    size_t n;
} secs_t;

/* One pair per map key, not merged with an equal second: the rings add
 * them up anyway, and searching here made a report of n keys cost n^2. */
static void secs_add(secs_t *s, int64_t sec, uint32_t v, bool fail)
{
    s->sec[s->n] = sec;
    s->reqs[s->n] = fail ? 0 : v;
    s->fails[s->n] = fail ? v : 0;
    s->n++;
}

static void read_secs(const msgpack_object *e, secs_t *s, size_t *dropped)
{
    const msgpack_object *r = mp_get(e, "num_reqs_per_sec"), *f = mp_get(e, "num_fail_per_sec");
    size_t cap = 2 * PROTO_MAX_SECS;
    s->n = 0;
    s->sec = xmalloc(cap * sizeof *s->sec);
    s->reqs = xmalloc(cap * sizeof *s->reqs);
    s->fails = xmalloc(cap * sizeof *s->fails);
    const msgpack_object *maps[2] = {r, f};
    for (int m = 0; m < 2; m++) {
        if (maps[m] == NULL || maps[m]->type != MSGPACK_OBJECT_MAP) continue;
        uint32_t n = maps[m]->via.map.size;
        /* a report covers ~3 s and the rings keep 32: the rest is noise */
        if (n > PROTO_MAX_SECS) {
            *dropped += n - PROTO_MAX_SECS;
            n = PROTO_MAX_SECS;
        }
        for (uint32_t k = 0; k < n; k++) {
            int64_t sec, v;
            if (mp_int(&maps[m]->via.map.ptr[k].key, &sec) &&
                mp_int(&maps[m]->via.map.ptr[k].val, &v) && v > 0 && v <= UINT32_MAX)
                secs_add(s, sec, (uint32_t)v, m == 1);
        }
    }
}

static void secs_free(secs_t *s)
{
    xfree(s->sec);
    xfree(s->reqs);
    xfree(s->fails);
}

/* Merge one serialized entry. Returns false if it is malformed, or if its
 * name is new and st is full (counted in dr->rows). */
static bool merge_entry(stats_t *st, const msgpack_object *e, bool total, hist_t *scratch,
                        proto_dropped_t *dr)
{
    if (e == NULL || e->type != MSGPACK_OBJECT_MAP) return false;
    char name[1024], method[64] = "";
    stats_delta_t d = {0};
    if (!mp_copy_str(mp_get(e, "name"), name, sizeof name)) return false;
    mp_copy_str(mp_get(e, "method"), method, sizeof method); /* nil for the total */
    if (!get_u64(e, "num_requests", &d.num_requests)) return false;
    if (!get_u64(e, "num_none_requests", &d.num_none_requests)) d.num_none_requests = 0;
    if (!get_u64(e, "num_failures", &d.num_failures)) d.num_failures = 0;
    if (!get_u64(e, "total_content_length", &d.total_content_length)) d.total_content_length = 0;
    get_ms(e, "total_response_time", &d.total_response_time_ms);
    get_ms(e, "max_response_time", &d.max_response_time_ms);
    d.min_response_time_ms = -1;
    get_ms(e, "min_response_time", &d.min_response_time_ms);
    if (d.min_response_time_ms < 0) d.min_response_time_ms = d.max_response_time_ms;
    get_ts(e, "last_request_timestamp", &d.last_request_ts);
    if (d.num_none_requests > d.num_requests) d.num_none_requests = d.num_requests;
    if (!total && stats_rows(st) >= PROTO_MAX_ROWS && !stats_has_entry(st, method, name)) {
        dr->rows++;
        return false;
    }
    d.method = method;
    d.name = name;
    read_hist(e, scratch);
    d.hist = scratch;
    secs_t s;
    read_secs(e, &s, &dr->secs);
    d.secs = s.sec;
    d.sec_reqs = s.reqs;
    d.sec_fails = s.fails;
    d.nsecs = s.n;
    stats_merge_delta(st, &d, total);
    secs_free(&s);
    return true;
}

/* Copy a failure's string, cut at PROTO_MAX_ERROR_LEN bytes. NULL if
 * it is not a str. */
static char *error_str(const msgpack_object *o)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR) return NULL;
    size_t n = o->via.str.size < PROTO_MAX_ERROR_LEN ? o->via.str.size : PROTO_MAX_ERROR_LEN;
    return xstrndup(o->via.str.ptr, n);
}

int proto_merge_report(stats_t *st, const msgpack_object *data, hist_t *scratch,
                       proto_dropped_t *dropped)
{
    proto_dropped_t dr = {0};
    if (dropped) *dropped = dr;
    if (data == NULL || data->type != MSGPACK_OBJECT_MAP) return -1;
    int merged = 0;
    const msgpack_object *list = mp_get(data, "stats");
    if (list && list->type == MSGPACK_OBJECT_ARRAY) {
        uint32_t n = list->via.array.size;
        if (n > PROTO_MAX_NAMES) {
            dr.names = n - PROTO_MAX_NAMES;
            n = PROTO_MAX_NAMES;
        }
        for (uint32_t i = 0; i < n; i++)
            merged += merge_entry(st, &list->via.array.ptr[i], false, scratch, &dr);
    }
    merge_entry(st, mp_get(data, "stats_total"), true, scratch, &dr);
    int64_t late = 0, drops = 0; /* the open model's counts (cicada workers only) */
    if (!count_ok(mp_get(data, "cicada_late"), &late)) late = 0;
    if (!count_ok(mp_get(data, "cicada_dropped"), &drops)) drops = 0;
    if (late > 0 || drops > 0) stats_add_open(st, (uint64_t)late, (uint64_t)drops);
    const msgpack_object *errs = mp_get(data, "errors");
    if (errs && errs->type == MSGPACK_OBJECT_MAP)
        for (uint32_t i = 0; i < errs->via.map.size; i++) {
            if (i >= PROTO_MAX_ERRORS) {
                dr.errors += errs->via.map.size - i;
                break;
            }
            const msgpack_object *v = &errs->via.map.ptr[i].val;
            char *name = error_str(mp_get(v, "name")), *method = error_str(mp_get(v, "method"));
            char *error = error_str(mp_get(v, "error"));
            int64_t n;
            if (name && error && count_ok(mp_get(v, "occurrences"), &n) && n > 0) {
                if (stats_error_rows(st) < PROTO_MAX_ERROR_ROWS ||
                    stats_has_error(st, method ? method : "", name, error))
                    stats_error_add(st, method ? method : "", name, error, (uint64_t)n);
                else
                    dr.errors++;
            }
            xfree(name);
            xfree(method);
            xfree(error);
        }
    if (dropped) *dropped = dr;
    return merged;
}

int proto_merge_stats(stats_t *st, const msgpack_object *data, hist_t *scratch)
{
    return proto_merge_report(st, data, scratch, NULL);
}
