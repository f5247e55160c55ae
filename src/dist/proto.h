/* proto: Locust 2.12.1's master/worker messages (research/locust-protocol.md).
 *
 * Every message is one msgpack array [type, data, node_id]: type and
 * node_id are str, data is any value (nil, a version string, or a map).
 * The encoders below write one whole message into an mp_out_t (appending;
 * clear it first); proto_decode() checks the envelope of a received frame
 * and leaves the data to the caller, who reads it with the mp_* getters.
 *
 * Statistics travel as Locust's serialized StatsEntry maps (its 14 keys) and
 * are DELTAS: the worker resets after each report. A cicada worker adds one
 * key, "cicada_hist" {bucket index: count}, with its full histogram
 * (stats/hist.h); a cicada master merges that when present and Locust's
 * rounded "response_times" buckets otherwise, so percentiles between cicada
 * nodes keep the histogram's 0.4% bound. Locust ignores unknown keys.
 *
 * Nothing here does I/O or keeps state between calls. */
#ifndef CICADA_PROTO_H
#define CICADA_PROTO_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "dist/mp.h"
#include "stats/hist.h"
#include "stats/stats.h"

/* The version a cicada worker announces. Locust's Debian build sends "",
 * which a Locust master refuses; a cicada master accepts any string. */
#define PROTO_VERSION "2.12.1"

/* Locust's intervals and limits (runners.py). */
#define PROTO_HEARTBEAT_INTERVAL 1.0
#define PROTO_REPORT_INTERVAL 3.0
#define PROTO_CONNECT_TIMEOUT 5.0
#define PROTO_CONNECT_RETRIES 60

#define PROTO_MAX_TYPE 64
#define PROTO_MAX_ID 256

/* A decoded message. data points into up's zone: valid until
 * proto_msg_free. */
typedef struct proto_msg {
    msgpack_unpacked up;
    char type[PROTO_MAX_TYPE];
    char node_id[PROTO_MAX_ID];
    const msgpack_object *data;
} proto_msg_t;

/* Decode one frame. Returns 0, or -1 if it is not exactly one msgpack
 * array of 3 with a str type and a str (or nil) node_id (garbage, trailing
 * bytes, wrong shape). Call proto_msg_free afterwards in both cases. */
int proto_decode(proto_msg_t *m, const void *buf, size_t len);
void proto_msg_free(proto_msg_t *m);

/* True if s (len bytes) is valid UTF-8 without NUL bytes: Locust decodes
 * node ids as UTF-8 and answers anything else with `reconnect`. */
bool proto_utf8(const char *s, size_t len);

/* ---- encoders: each appends one message to o ---- */

/* A message whose data is nil: spawning, stop, client_stopped, quit,
 * reconnect. */
void proto_simple(mp_out_t *o, const char *type, const char *node_id);
void proto_client_ready(mp_out_t *o, const char *node_id, const char *version);
void proto_ack(mp_out_t *o, const char *node_id, int index);
/* state is "ready", "spawning" or "running"; cpu in percent, rss in bytes. */
void proto_heartbeat(mp_out_t *o, const char *node_id, const char *state, double cpu, int64_t rss);
/* The absolute per-class user counts for one worker (n classes, names
 * sorted), with the master's wall time as timestamp. host may be NULL (nil);
 * stop_timeout <= 0 is sent as nil. parsed_options is sent empty. */
void proto_spawn(mp_out_t *o, const char *node_id, double timestamp, const char *const *classes,
                 const long *counts, int n, const char *host, double stop_timeout);
/* proto_spawn in the open model (runner/rate.h): also the classes'
 * iterations per second over the whole run (rates[i] for classes[i]) and
 * the worker's place, windex of nworkers, as keys only cicada workers read
 * ("cicada_rates", "cicada_worker_index", "cicada_workers"). rates NULL:
 * proto_spawn. */
void proto_spawn_open(mp_out_t *o, const char *node_id, double timestamp,
                      const char *const *classes, const long *counts, int n, const char *host,
                      double stop_timeout, const double *rates, int windex, int nworkers);
void proto_spawning_complete(mp_out_t *o, const char *node_id, const char *const *classes,
                             const long *counts, int n);
void proto_exception(mp_out_t *o, const char *node_id, const char *msg, const char *traceback);
/* A worker report of st (entries that saw requests or failures, the
 * Aggregated total, failures keyed by sha256), plus the class counts. st
 * is only read: the caller resets it afterwards to keep reports deltas. */
void proto_stats(mp_out_t *o, const char *node_id, stats_t *st, const char *const *classes,
                 const long *counts, int n);

/* ---- decoding helpers ---- */

/* Read a {class: count} map into counts[] for the n given class names;
 * classes absent from the map get 0. Returns how many of the map's keys
 * were not among the names (or -1 if m is not a map). */
/* Read a {class: rate} map into rates[] for the n given class names (absent
 * ones 0). False if m is not a map or a rate is not a number. */
bool proto_class_rates(const msgpack_object *m, const char *const *classes, int n, double *rates);
int proto_class_counts(const msgpack_object *m, const char *const *classes, int n, long *counts);

/* What a master takes from its workers: a worker is another process,
 * maybe a buggy or hostile one, and these caps bound the master's memory
 * and the time one message can take (docs/distributed.md, Security).
 * A message over PROTO_MAX_MSG is dropped undecoded with a warning naming
 * the worker, and one over twice that closes the sender's connection
 * (ZMQ_MAXMSGSIZE); the others are applied by proto_merge_report, which
 * drops what is over them and says so. */
#define PROTO_MAX_MSG (8 << 20) /* bytes in one message */
#define PROTO_MAX_NAMES 5000    /* entries (names) in one report */
#define PROTO_MAX_ROWS 5000     /* rows in the master's statistics: new names past it are dropped */
#define PROTO_MAX_SECS 64       /* keys in one entry's per-second map */
#define PROTO_MAX_ERRORS 1000   /* failures in one report */
#define PROTO_MAX_ERROR_ROWS 2000 /* failure rows in the master's statistics */
#define PROTO_MAX_ERROR_LEN 4096  /* bytes of a failure's text; longer is cut */

/* What proto_merge_report dropped from one report (all 0 when it kept
 * everything). */
typedef struct proto_dropped {
    size_t names;  /* entries past PROTO_MAX_NAMES */
    size_t rows;   /* entries with a new name once st held PROTO_MAX_ROWS rows */
    size_t secs;   /* per-second keys past PROTO_MAX_SECS */
    size_t errors; /* failures past PROTO_MAX_ERRORS, or new past PROTO_MAX_ERROR_ROWS */
} proto_dropped_t;

/* Merge the data of a `stats` message into st: every entry into its row,
 * stats_total into Aggregated, and the failures, within the caps above
 * (Aggregated always gets the whole total). scratch is a histogram the
 * caller lends (contents are replaced); what was dropped is counted in
 * *dropped (may be NULL). Returns the number of entries merged, or -1 if
 * data is not a map; malformed entries are skipped. Linear in the size of
 * the message. */
int proto_merge_report(stats_t *st, const msgpack_object *data, hist_t *scratch,
                       proto_dropped_t *dropped);

/* proto_merge_report without the account of what was dropped. */
int proto_merge_stats(stats_t *st, const msgpack_object *data, hist_t *scratch);

/* Locust's response-time bucket of t ms: round(t) under 100, to 10 under
 * 1000, to 100 under 10000, else to 1000 (ties to even). */
double proto_locust_bucket(double ms);

/* The 64-hex sha256 of "method.name.error" into out (65 bytes). */
void proto_error_key(const char *method, const char *name, const char *error, char out[65]);

#endif
