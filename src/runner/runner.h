/* runner: the main thread's side of a load test.
 *
 * It owns the engines and the merged statistics and runs Locust's state
 * machine: ready → spawning → running → stopping → stopped (and again, in
 * the web UI). Spawning walks a weighted round-robin over the user classes
 * (fixed_count classes first), so that the class mix is right at every
 * moment of a ramp, and deals users to engines in turn. Once a second it
 * collects the engines' stats shards, rewrites the CSV files and records a
 * history point; every two seconds it prints Locust's console table in
 * headless runs. Stopping asks every user to stop, waits for them until the
 * stop deadline, then forces the rest (their requests in flight count as
 * failures), and the final statistics are always written.
 *
 * Other threads (the web UI) drive it with runner_swarm/stop/reset/quit,
 * which only queue a command, and read the statistics between
 * runner_lock() and runner_unlock().
 *
 * Distributed runs (src/dist) plug in through runner_remote_t: a master
 * starts no engines, hands each swarm to its dispatcher and counts the
 * workers' users; a worker takes absolute per-class counts from its master
 * (runner_spawn_counts), runs no automatic start and writes no reports of
 * its own.
 *
 * The runner knows no command line: main.c fills a runner_conf_t from the
 * flags, including how to print the console tables (cli/console.c), and
 * the reports are built from a report_run_t the runner fills
 * (runner_report). */
#ifndef CICADA_RUNNER_H
#define CICADA_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/limits.h"
#include "report/run.h"
#include "stats/stats.h"

typedef struct runner runner_t;

enum runner_state {
    RUNNER_READY,
    RUNNER_SPAWNING,
    RUNNER_RUNNING,
    RUNNER_STOPPING,
    RUNNER_STOPPED
};

/* The runner's history points, classes and workers are the reports' data
 * (report/run.h), under the names the runner's callers use. */
typedef report_point_t runner_point_t;
typedef report_class_t runner_class_t;
typedef report_worker_t runner_worker_t;

/* The console tables of a headless run (--headless, --print-stats,
 * --only-summary), printed to stdout by whoever knows the terminal
 * (main.c passes cli/console.c's). Each is called on the runner's thread
 * with the statistics locked; st is read only. A NULL function prints
 * nothing. */
typedef struct runner_tables {
    void *ud;
    /* the request table: current (10 s window) figures or totals */
    void (*stats)(void *ud, stats_t *st, bool current);
    void (*percentiles)(void *ud, stats_t *st); /* "Response time percentiles" */
    void (*errors)(void *ud, stats_t *st);      /* "Error report", only with failures */
} runner_tables_t;

/* What the runner is told by the command line (cli/opts.h has each
 * flag's meaning and default). Strings and arrays are the caller's and
 * must outlive the runner; the struct itself is copied by runner_new. */
typedef struct runner_conf {
    const char *locustfile;
    const char *host;    /* NULL if not given */
    long users;          /* -1 if not given */
    double spawn_rate;   /* -1 if not given */
    double arrival_rate; /* --arrival-rate: iterations per second; 0: the closed model */
    double run_time;     /* seconds, -1 for no limit */
    bool headless, autostart, class_picker;
    long autoquit;          /* -1 if not given */
    const char *csv_prefix; /* NULL: no CSV files */
    bool csv_full_history, print_stats, only_summary, reset_stats;
    bool json_stdout;              /* --json: Locust's JSON statistics on stdout at the end */
    const char *json_file;         /* --json-file PREFIX (NULL: none): the same in PREFIX.json */
    const char *summary_json;      /* --summary-json FILE (NULL: none): cicada's summary */
    const char *const *thresholds; /* --threshold rules (checked by cli/), nthresholds of them */
    size_t nthresholds;
    int exit_code_on_threshold;
    int exit_code_on_error;
    double stop_timeout;
    int threads; /* engine threads */
    bool insecure;
    const char *ca_file;
    const char *resolver;    /* --resolver: DNS server IP[:PORT], NULL for resolv.conf */
    double resolver_timeout; /* --resolver-timeout: seconds per lookup */
    bool master, worker;
    int expect_workers;
    double expect_workers_max_wait;
    const char *const *tags; /* -T, ntags of them */
    size_t ntags;
    const char *const *exclude_tags;
    size_t nexclude_tags;
    long iterations;            /* -i: tasks per user before it stops, 0 for no limit; the run
                                 * ends when every user has stopped */
    const char *const *classes; /* positional class names, nclasses of them */
    size_t nclasses;
    runner_tables_t tables;
} runner_conf_t;

/* The web UI's class picker (--class-picker): per class, in
 * runner_classes() order, whether it runs and with which weight and
 * fixed_count (> 0: exactly that many users; 0: by weight). */
typedef struct runner_pick {
    bool chosen[LIMIT_CLASSES];
    double weight[LIMIT_CLASSES];
    long fixed_count[LIMIT_CLASSES];
} runner_pick_t;

/* Check the scenario, start the engine threads. Returns NULL after printing
 * the reason (file:line for scenario errors). */
runner_t *runner_new(const runner_conf_t *c);

/* Run on the main thread until the test ends (headless) or until quit (UI).
 * Called after the optional web UI is up. Returns the process exit code. */
int runner_run(runner_t *r);
void runner_free(runner_t *r);

/* Called on the main thread once a second after the statistics were
 * merged (outside the lock): the web UI pushes its update from here. */
void runner_on_tick(runner_t *r, void (*fn)(void *ud), void *ud);

/* Would `more` users, on top of those running, fit in this machine's
 * memory? Compares more * LIMIT_USER_BYTES_MIN (base/limits.h) with
 * MemAvailable in /proc/meminfo. Returns 0 (err untouched; a warning is
 * logged when the typical need, LIMIT_USER_BYTES_TYPICAL each, does not
 * fit), or -1 with the estimate in err ("... users need at least ...").
 * Fits when MemAvailable cannot be read. Thread-safe. */
int runner_users_fit(long more, char *err, size_t n);

/* ---- thread-safe commands ---- */

/* Start a swarm, or change the running one. host may be NULL (keep);
 * run_time <= 0 means no limit. These only queue the command; a command
 * is never dropped: each returns true once it is queued (it will run), or
 * false if the runner stayed too busy to take it for about 2 s (the web
 * UI answers 503 then). They may block that long: call them from threads
 * other than the runner's. */
bool runner_swarm(runner_t *r, long users, double spawn_rate, const char *host, double run_time);
/* runner_swarm with the class picker's choice (copied; NULL: keep the
 * classes). The choice applies when a test starts (ready or stopped); a
 * swarm that changes a running test keeps the running classes. */
bool runner_swarm_pick(runner_t *r, long users, double spawn_rate, const char *host,
                       double run_time, const runner_pick_t *pick);
bool runner_stop(runner_t *r);
/* Discard everything measured so far, including what the engines have not
 * handed over yet (Locust's reset_all, and the exceptions). */
bool runner_reset(runner_t *r);
bool runner_quit(runner_t *r);

/* ---- reading (between runner_lock and runner_unlock) ---- */
void runner_lock(runner_t *r);
void runner_unlock(runner_t *r);
stats_t *runner_stats(runner_t *r);
enum runner_state runner_state(runner_t *r);
const char *runner_state_name(enum runner_state s);
long runner_user_count(runner_t *r);
/* The last swarm's user count and spawn rate; before any swarm, -u and -r
 * (-1 when not given). For the web UI's forms. */
long runner_target(runner_t *r);
double runner_rate(runner_t *r);
const char *runner_host(runner_t *r); /* -H or the swarm's host; "" if none */
const runner_point_t *runner_history(runner_t *r, size_t *n);
/* The classes, sorted by name. Valid for the runner's life. */
const runner_class_t *runner_classes(runner_t *r, size_t *n);
/* The configuration runner_new was given (the runner's copy). */
const runner_conf_t *runner_conf(runner_t *r);
/* Fill out with the run as the reports read it (report/run.h): the
 * statistics, state, counts, history, classes and a master's workers.
 * Its pointers are the runner's, valid until runner_unlock. */
void runner_report(runner_t *r, report_run_t *out);

/* ---- master/worker (src/dist) ---- */

/* The link to the other nodes, installed by src/dist before runner_run.
 * The hooks run on the runner's thread; user_count, class_users and
 * workers may run with the runner lock held, so no hook may take it.
 * Hooks a role does not use may be NULL. */
typedef struct runner_remote {
    bool master; /* true: users run on workers (no engines here); false: a worker */
    void *ud;
    /* master: a swarm started or changed; host is -H or the swarm's, NULL to keep the last */
    void (*swarm)(void *ud, long users, double rate, const char *host);
    void (*stop)(void *ud);    /* send stop to every worker */
    bool (*spawned)(void *ud); /* the last swarm's ramp is complete */
    int (*ready_workers)(void *ud);
    long (*user_count)(void *ud); /* users on all workers */
    long (*class_users)(void *ud, int cls);
    size_t (*workers)(void *ud, runner_worker_t *out, size_t max);
    void (*quit)(void *ud); /* send quit, wait (~2 s) for the final reports */
    /* the open model: the classes' iterations per second over the whole
     * run changed (rates[i] for class i, n of them; copied): send them
     * with the next spawn messages (runner/rate.c) */
    void (*rates)(void *ud, const double *rates, int n);
    /* worker */
    void (*spawned_counts)(void *ud, const long *counts, int n); /* after runner_spawn_counts */
    void (*stopped)(void *ud); /* after a stop: every user has ended */
} runner_remote_t;

/* Install the link (copied). Call before runner_run. In master mode
 * (opts->master) runner_new starts no engines. */
void runner_set_remote(runner_t *r, const runner_remote_t *rm);

/* Worker: run exactly counts[i] users of class i (runner_classes order) at
 * once, starting or stopping the difference; host NULL keeps the current
 * one. Thread-safe (queued like the commands above); counts is copied. */
void runner_spawn_counts(runner_t *r, const long *counts, int n, const char *host);

/* Worker, the open model: the master's spawn message also carried the
 * classes' rates over the whole run (rates[i] iterations per second for
 * class i) and this worker's place among nworkers (windex). The counts'
 * sum is then this worker's share of -u, and users are made on demand up
 * to it (runner/rate.h). Thread-safe; counts and rates are copied. */
void runner_spawn_open(runner_t *r, const long *counts, const double *rates, int n, int windex,
                       int nworkers, const char *host);

/* Worker: hand a custom message (a whole frame, len bytes, copied) to
 * every engine, whose VM runs its handler (lua/msg.h) after the commands
 * posted before it. Thread-safe; dropped once the engines have ended. */
void runner_message(runner_t *r, const void *frame, size_t len);

/* Master: copy up to max workers into out; returns how many there are (0
 * when not a master). Call between runner_lock and runner_unlock. */
size_t runner_workers(runner_t *r, runner_worker_t *out, size_t max);

/* Print the user classes of the scenario (-l). Returns an exit code. */
int runner_list(const runner_conf_t *c);

#endif
