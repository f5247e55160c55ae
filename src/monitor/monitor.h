/* monitor: the target machines' resource use, scraped from node_exporter
 * beside the load (issue 12; the user's side is docs/monitoring.md).
 *
 * A monitor owns a thread of its own that, every interval, scrapes every
 * active target in parallel (monitor/scrape.h, timeout = the interval),
 * turns each answer into figures (monitor/node.h) and appends one point
 * per target to that target's series: a failed scrape appends a gap (all
 * figures unknown) and the console warns once per target. With a CSV
 * prefix it appends the same rows to PREFIX_monitor.csv as it goes. The
 * engines never wait for it and it never waits for them.
 *
 * Readers (the web UI, the reports, the console summary) take the
 * monitor's own lock through the functions below; none of them takes the
 * runner's lock. The monitor a process runs is registered process-wide
 * (monitor_current), so that the report writers find it without a new
 * link through the runner. Distributed runs: only the master monitors;
 * it also records its workers' CPU and memory (monitor_note_workers). */
#ifndef CICADA_MONITOR_H
#define CICADA_MONITOR_H

#include <stdbool.h>
#include <stddef.h>
#include <stdio.h>

#include <cJSON.h>

#include "monitor/node.h"

#define MONITOR_MAX_TARGETS 64 /* targets over a process's life */
#define MONITOR_NAME_MAX 64    /* bytes of a target's name, NUL included */
#define MONITOR_URL_MAX 512
#define MONITOR_INTERVAL_MIN 0.1
#define MONITOR_INTERVAL_MAX 3600.0

typedef struct monitor monitor_t;

/* One --monitor value, split: "NAME=URL" or "URL". */
typedef struct monitor_spec {
    char name[MONITOR_NAME_MAX]; /* NAME, or host:port when not given */
    char url[MONITOR_URL_MAX];   /* as written, http:// added when it had no scheme */
    char host[256], port[8], path[512];
} monitor_spec_t;

/* Split and check one target. A URL without a path scrapes /metrics;
 * without a scheme it is http://. Returns 0, or -1 with the reason in err
 * (n bytes), naming the value: https (an exporter is plain HTTP), a bad
 * URL, a name too long or with a character other than letters, digits
 * and "._-:". */
int monitor_spec(const char *text, monitor_spec_t *out, char *err, size_t n);

/* Start monitoring the n specs (checked with monitor_spec; n may be 0, and
 * targets may be added later with monitor_set) every interval seconds,
 * writing PREFIX_monitor.csv when csv_prefix is not NULL. Returns the
 * monitor, registered as monitor_current(), or NULL with the reason in
 * err (a bad spec, the CSV file cannot be created). */
monitor_t *monitor_start(const char *const *specs, size_t n, double interval,
                         const char *csv_prefix, char *err, size_t errn);

/* Replace the active targets with these n specs (from the web UI): a
 * target already known by the same name and URL goes on, one not in the
 * list stops being scraped (its series stays), a new one starts at the
 * next interval. Returns 0, or -1 with err naming the bad spec, or when
 * MONITOR_MAX_TARGETS would be exceeded; on error nothing changes.
 * Thread-safe. */
int monitor_set(monitor_t *m, const char *const *specs, size_t n, char *err, size_t errn);

/* monitor_set from one text of specs separated by newlines, commas or
 * blanks (the web UI's "monitor" form field; "" stops every target).
 * Same returns as monitor_set; err names the field. */
int monitor_set_text(monitor_t *m, const char *text, char *err, size_t errn);

/* Stop the thread (the round in flight ends at once) and close the CSV
 * file. The series stay readable until monitor_free. m may be NULL. */
void monitor_stop(monitor_t *m);
/* Free everything (calls monitor_stop); unregisters it. m may be NULL. */
void monitor_free(monitor_t *m);

/* The monitor started in this process and not yet freed, or NULL. */
monitor_t *monitor_current(void);

/* A master's workers: their CPU (% of one core) and RSS (bytes) at time
 * (unix seconds), recorded as series of their own. ids are copied.
 * Thread-safe. */
void monitor_note_workers(monitor_t *m, double time, const char *const *ids, const double *cpu,
                          const double *rss, size_t n);

/* One worker as a master knows it, for monitor_workers_from. */
typedef struct monitor_worker {
    char id[128];
    double cpu, rss;
} monitor_worker_t;

/* On a master: fn(ud, out, max) fills up to max workers and returns how
 * many; the monitor's thread calls it once per interval and records what
 * it returns (monitor_note_workers). fn must be safe to call from that
 * thread. Thread-safe; fn NULL stops it. */
void monitor_workers_from(monitor_t *m, size_t (*fn)(void *ud, monitor_worker_t *out, size_t max),
                          void *ud);

/* GET /stats/monitor and the reports' "monitor": {"interval", "fields":
 * ["time", "cpu", ...], "targets": [{"name", "url", "active", "up",
 * "error", "points": [[time, cpu, ...], ...]}], "workers": [{"id",
 * "points": [[time, cpu, rss], ...]}]}, unknown figures as null. With
 * last_only, each series holds only its newest point (the WebSocket push).
 * The caller owns the tree. m may be NULL (an empty document). */
cJSON *monitor_json(monitor_t *m, bool last_only);

/* The console summary: one line per target (average and highest CPU %,
 * highest memory %, scrapes that failed), nothing without targets. */
void monitor_summary(monitor_t *m, FILE *out);

#endif
