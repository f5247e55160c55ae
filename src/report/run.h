/* run: what the reports read of a run, as plain data.
 *
 * The JSON documents (json.h) and the HTML report (html.h) are built from
 * a report_run_t: the merged statistics, the state and counts the web UI
 * shows, the per-second chart history, the user classes and a master's
 * workers. The runner fills one under its lock (runner_report in
 * runner/runner.h); a test or any other caller can fill one by hand. So
 * report/ knows nothing of the runner, and the runner (which writes
 * reports at the end of a run) may use report/ without a loop between the
 * two folders. Header only: the percentiles of a history point are the
 * one table defined in json.c. */
#ifndef CICADA_REPORT_RUN_H
#define CICADA_REPORT_RUN_H

#include <stdbool.h>
#include <stddef.h>

#include "base/limits.h"
#include "stats/stats.h"
#include "stats/threshold.h"

/* The percentiles recorded in each history point (for the charts):
 * 50, 66, 75, 80, 90, 95, 98, 99, 99.9 and 100 %. */
#define REPORT_NPCT 10
extern const double report_pcts[REPORT_NPCT];

/* One point of the charts' history, recorded every second of a run. */
typedef struct report_point {
    double time; /* unix seconds */
    double rps, fail_per_sec;
    double p50, p95;         /* current (10 s window) response-time percentiles, ms; -1 if none */
    double pct[REPORT_NPCT]; /* current percentiles report_pcts[], ms; -1 if none */
    long users;
} report_point_t;

/* A user class as the UI shows it. */
typedef struct report_class {
    const char *name;
    double weight;
    long fixed_count;
    const char *host;
    int ntasks;
    const char *task_names[LIMIT_TASKS]; /* the first LIMIT_TASKS tasks */
    double task_weights[LIMIT_TASKS];
    long users;    /* live users now */
    bool selected; /* spawned by the test (positional names, the class picker, a shape) */
} report_class_t;

/* A worker as a master sees it (/stats/requests "workers", the Workers tab). */
typedef struct report_worker {
    char id[256];
    char state[16]; /* ready, spawning, running, stopping, missing */
    long user_count;
    double cpu_usage;       /* percent of one core */
    long long memory_usage; /* RSS bytes */
} report_worker_t;

/* One run as the reports see it. Every pointer is the filler's and must
 * stay valid while a report is built from it (the runner's: until its
 * lock is released). */
typedef struct report_run {
    stats_t *st;         /* read; non-const because its sorted views are built lazily */
    const char *state;   /* "ready", "spawning", "running", "stopping", "stopped" */
    long user_count;     /* live users now */
    long target;         /* the last swarm's user count, -1 if unknown */
    double rate;         /* the last swarm's spawn rate, <= 0 if unknown */
    double arrival_rate; /* the open model's iterations per second now; 0: the closed model */
    const char *host;    /* target host, "" if none */
    const char *script;  /* the scenario path */
    bool class_picker;   /* the web UI may choose the classes (--class-picker, not a master) */
    bool master;         /* a master: workers below are its workers (maybe none yet) */
    const report_point_t *hist; /* per-second history, oldest first */
    size_t nhist;
    const report_class_t *cls; /* user classes, sorted by name */
    size_t ncls;
    const report_worker_t *workers; /* a master's workers; none otherwise */
    size_t nworkers;
    const threshold_t *thresholds; /* the rules with their latest values and verdicts */
    size_t nthresholds;
} report_run_t;

#endif
