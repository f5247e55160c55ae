/* runner_int: the runner's private state, shared by its modules.
 *
 * runner.c (set-up, the main loop, the accessors), command.c (the queue
 * other threads fill), spawn.c (the spawn plan), shape.c (the load
 * shape), stop.c (stopping users and engine threads) and output.c (CSV
 * files, chart history, console tables) all work on one struct runner;
 * this header defines it and declares the few helpers they share. It is
 * internal to src/runner: other parts use runner.h. Everything here runs
 * on the runner's (main) thread unless it takes r->lock itself. */
#ifndef CICADA_RUNNER_INT_H
#define CICADA_RUNNER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>

#include "engine/engine.h"
#include "runner/exclog.h"
#include "runner/runner.h"
#include "lua/vm.h"

/* The command queue: at most RUNNER_MAX_CMDS waiting; a caller finding it
 * full waits up to RUNNER_QUEUE_WAIT_MS for room (runner.c's queue()). */
#define RUNNER_MAX_CMDS 64
#define RUNNER_QUEUE_WAIT_MS 2000
/* The workers runner_report lists (a master's /stats/requests). */
#define RUNNER_MAX_WORKERS 256

enum cmd_kind { RC_SWARM, RC_STOP, RC_RESET, RC_QUIT, RC_COUNTS };

typedef struct rcmd {
    enum cmd_kind kind;
    long users;
    double rate, run_time;
    char *host;
    long *counts;         /* RC_COUNTS: per class, owned by the command */
    runner_pick_t *pick;  /* RC_SWARM: the class picker's choice or NULL, owned by the command */
    double *rates;        /* RC_COUNTS in the open model: per class, owned by the command */
    int windex, nworkers; /* ... and this worker's place */
} rcmd_t;

struct runner {
    runner_conf_t rc; /* runner_new's, copied */
    engine_conf_t conf;
    engine_t **eng;
    int neng;
    pthread_mutex_t lock; /* guards stats, history, state, host, commands */
    stats_t *stats;
    vm_class_t cls[LIMIT_CLASSES];
    runner_class_t ucls[LIMIT_CLASSES];
    int ncls;
    bool chosen[LIMIT_CLASSES];
    enum runner_state state;
    long target;
    double rate;
    char host[1024];
    /* the spawn sequence: class of the k-th user, for ramping down */
    int *seq;
    long nseq, capseq;
    long class_count[LIMIT_CLASSES];
    double swrr[LIMIT_CLASSES];
    int64_t ramp_start;
    long ramp_base;
    int64_t run_end; /* monotonic ns, INT64_MAX for none */
    /* history */
    runner_point_t *hist;
    size_t nhist, caphist;
    /* commands from other threads */
    rcmd_t cmds[RUNNER_MAX_CMDS];
    int ncmds;
    pthread_cond_t cmd_room; /* signalled (with lock) when the runner takes the commands */
    bool quit;
    uint64_t epoch; /* stats resets so far: engines' shards of older epochs are dropped */
    FILE *csv_stats, *csv_history, *csv_failures, *csv_exceptions;
    FILE *csv_open; /* PREFIX_open_model.csv, in the open model only */
    void (*tick_fn)(void *);
    void *tick_ud;
    /* a load shape (cicada.shape) runs in the main thread's own VM */
    struct lua_State *shape_L;
    int nstarted; /* engine threads started and not yet joined */
    bool shape_active;
    int64_t shape_start;
    /* the open model (rate.c): shape_L holds cicada.arrival's function when
     * arrival_shape; a worker learns the rate and its place from its master */
    bool arrival_shape, rate_on, rate_ended;
    bool open_remote;               /* worker: the master asked for the open model */
    double open_total;              /* worker: the whole run's rate */
    int open_windex, open_nworkers; /* this process's place among the workers */
    int64_t rate_start, rate_asked;
    long rate_users;
    double class_rate[LIMIT_CLASSES]; /* as last posted to the engines */
    /* master/worker link (src/dist) */
    runner_remote_t remote;
    bool has_remote;
    long *plan;               /* worker: users per engine and class, [e * LIMIT_CLASSES + c] */
    struct watch *watch;      /* per engine: is its thread stuck? (runner.c) */
    exclog_t exclog;          /* Lua errors shown in the console (guarded by lock) */
    runner_worker_t *workers; /* master: runner_report's copy (RUNNER_MAX_WORKERS, under lock) */
    /* thresholds (rules.c): the rules and their live state, guarded by lock */
    struct threshold *thr;
    size_t nthr;
    int64_t thr_start;  /* monotonic ns the test started (for abort's grace), 0 when none runs */
    uint64_t table_sig; /* master: the figures of the last console table (output.c) */
};

static inline bool runner_is_master(const runner_t *r)
{
    return r->has_remote && r->remote.master;
}

static inline bool runner_is_worker(const runner_t *r)
{
    return r->has_remote && !r->remote.master;
}

/* Post one command to engine e. */
void runner_post(runner_t *r, int e, enum engine_cmd_kind kind, int cls, long count);
/* Post one command (no class, no count) to every engine. */
void runner_post_all(runner_t *r, enum engine_cmd_kind kind);
/* Fire a scenario event in every engine's VM; event is copied. */
void runner_fire(runner_t *r, const char *event, long arg);
/* Merge the engines' stats shards into r->stats (takes the lock); shards
 * measured before the last reset are dropped. */
void runner_collect(runner_t *r);
/* Discard everything measured so far, in r->stats and in the engines
 * (a new epoch: see stats_shard_epoch), and the exceptions too if asked. */
void runner_reset_stats(runner_t *r, bool exceptions);
/* Set the state under the lock. */
void runner_set_state(runner_t *r, enum runner_state s);
/* How many SIGINT/SIGTERM the process has received. */
int runner_signals(void);

/* ---- stop.c ---- */

/* Per-engine watch state for n engines, freed with xfree. */
struct watch *stop_watch_new(int n);
/* While running, once a tick: warn about a thread away from its loop. */
void stop_watch(runner_t *r, int64_t now);
/* Stop every user (the steps are in stop.c), then fire test_stop. */
void stop_users(runner_t *r);
/* End the engine threads and merge what they still hold. */
void stop_engines(runner_t *r);

#endif
