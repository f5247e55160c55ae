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
 * its own. */
#ifndef CICADA_RUNNER_H
#define CICADA_RUNNER_H

#include <stdbool.h>
#include <stddef.h>

#include "base/limits.h"
#include "cli/opts.h"
#include "stats/stats.h"

typedef struct runner runner_t;

enum runner_state { RUNNER_READY, RUNNER_SPAWNING, RUNNER_RUNNING, RUNNER_STOPPING,
                    RUNNER_STOPPED };

/* The percentiles recorded in each history point (for the charts). */
#define RUNNER_NPCT 10
extern const double runner_pcts[RUNNER_NPCT];

/* One point of the charts' history, recorded every second of a run. */
typedef struct runner_point {
    double time; /* unix seconds */
    double rps, fail_per_sec;
    double p50, p95; /* current (10 s window) response-time percentiles, ms; -1 if none */
    double pct[RUNNER_NPCT]; /* current percentiles runner_pcts[], ms; -1 if none */
    long users;
} runner_point_t;

/* A user class as the UI shows it. */
typedef struct runner_class {
    const char *name;
    double weight;
    long fixed_count;
    const char *host;
    int ntasks;
    const char *task_names[LIMIT_TASKS]; /* the first LIMIT_TASKS tasks */
    double task_weights[LIMIT_TASKS];
    long users;    /* live users now */
    bool selected; /* spawned by the test (positional names, the class picker, a shape) */
} runner_class_t;

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
runner_t *runner_new(const opts_t *o);

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
const opts_t *runner_opts(runner_t *r);

/* ---- master/worker (src/dist) ---- */

/* A worker as a master sees it (/stats/requests "workers", the Workers tab). */
typedef struct runner_worker {
    char id[256];
    char state[16]; /* ready, spawning, running, stopping, missing */
    long user_count;
    double cpu_usage;       /* percent of one core */
    long long memory_usage; /* RSS bytes */
} runner_worker_t;

/* The link to the other nodes, installed by src/dist before runner_run.
 * The hooks run on the runner's thread; user_count, class_users and
 * workers may run with the runner lock held, so no hook may take it.
 * Hooks a role does not use may be NULL. */
typedef struct runner_remote {
    bool master; /* true: users run on workers (no engines here); false: a worker */
    void *ud;
    /* master: a swarm started or changed; host is -H or the swarm's, NULL to keep the last */
    void (*swarm)(void *ud, long users, double rate, const char *host);
    void (*stop)(void *ud);       /* send stop to every worker */
    bool (*spawned)(void *ud);    /* the last swarm's ramp is complete */
    int (*ready_workers)(void *ud);
    long (*user_count)(void *ud); /* users on all workers */
    long (*class_users)(void *ud, int cls);
    size_t (*workers)(void *ud, runner_worker_t *out, size_t max);
    void (*quit)(void *ud); /* send quit, wait (~2 s) for the final reports */
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

/* Worker: hand a custom message (a whole frame, len bytes, copied) to
 * every engine, whose VM runs its handler (lua/msg.h) after the commands
 * posted before it. Thread-safe; dropped once the engines have ended. */
void runner_message(runner_t *r, const void *frame, size_t len);

/* Master: copy up to max workers into out; returns how many there are (0
 * when not a master). Call between runner_lock and runner_unlock. */
size_t runner_workers(runner_t *r, runner_worker_t *out, size_t max);

/* Print the user classes of the scenario (-l). Returns an exit code. */
int runner_list(const opts_t *o);

#endif
