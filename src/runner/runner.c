/* runner: the main thread's side of a load test (the whole story is in
 * runner.h).
 *
 * This file holds the runner's life and its loop: set-up (the scenario's
 * classes, the engine threads, signals), runner_run's once-a-tick loop
 * (commands, the run-time limit, the ramp, the shape, the once-a-second
 * collect/write/record and the two-second table), stats resets (a new
 * epoch, so that what the engines still hold from before is dropped), and
 * the accessors other threads use. The command queue other threads fill
 * is in command.c, the spawn plan in spawn.c, the load shape in shape.c,
 * stopping users and engine threads in stop.c, the CSV files, history and
 * console tables in output.c; they share struct runner through
 * runner_int.h. */
#include "runner/runner.h"

#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "engine/engine.h"
#include "runner/output.h"
#include "runner/rate.h"
#include "runner/results.h"
#include "runner/rules.h"
#include "runner/runner_int.h"
#include "runner/shape.h"
#include "runner/spawn.h"
#include "lua/vm.h"

#define TICK_NS 20000000LL /* 20 ms */
#define SEC 1000000000LL

static volatile sig_atomic_t signals;

static void on_signal(int sig)
{
    signals++;
}

int runner_signals(void)
{
    return signals;
}

const char *runner_state_name(enum runner_state s)
{
    static const char *names[] = {"ready", "spawning", "running", "stopping", "stopped"};
    return names[s];
}

/* ---- helpers shared with spawn.c, shape.c and output.c ---- */

void runner_post(runner_t *r, int e, enum engine_cmd_kind kind, int cls, long count)
{
    engine_cmd_t c = {.kind = kind, .cls = cls, .count = count};
    if (kind == CMD_SPAWN) atomic_fetch_add(&r->eng[e]->asked, count);
    engine_post(r->eng[e], &c);
}

void runner_post_all(runner_t *r, enum engine_cmd_kind kind)
{
    for (int i = 0; i < r->neng; i++)
        runner_post(r, i, kind, 0, 0);
}

/* Fire a scenario event in every engine's VM. */
void runner_fire(runner_t *r, const char *event, long arg)
{
    for (int i = 0; i < r->neng; i++) {
        engine_cmd_t c = {.kind = CMD_EVENT, .count = arg, .text = xstrdup(event)};
        engine_post(r->eng[i], &c);
    }
}

static bool quit_requested(runner_t *r)
{
    for (int i = 0; i < r->neng; i++)
        if (atomic_load(&r->eng[i]->quit_requested)) return true;
    return false;
}

void runner_collect(runner_t *r)
{
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->neng; i++) {
        stats_shard_t *s = engine_take_shard(r->eng[i]);
        if (s == NULL) continue;
        stats_merge(stats_shard_epoch(s) < r->epoch ? NULL : r->stats, s); /* NULL: drop */
        engine_give_shard(r->eng[i], s);
    }
    exclog_scan(&r->exclog, r->stats, clock_ns()); /* a master's come from its workers */
    pthread_mutex_unlock(&r->lock);
}

void runner_reset_stats(runner_t *r, bool exceptions)
{
    r->epoch++;
    for (int i = 0; i < r->neng; i++)
        runner_post(r, i, CMD_RESET, 0, (long)r->epoch);
    runner_collect(r); /* drops what the engines handed over before the reset */
    pthread_mutex_lock(&r->lock);
    stats_reset(r->stats, clock_wall());
    if (exceptions) stats_clear_exceptions(r->stats);
    pthread_mutex_unlock(&r->lock);
}

static vm_conf_t vm_conf(const runner_conf_t *o)
{
    return (vm_conf_t){.locustfile = o->locustfile,
                       .host = o->host,
                       .tags = o->tags,
                       .ntags = o->ntags,
                       .exclude_tags = o->exclude_tags,
                       .nexclude_tags = o->nexclude_tags,
                       .iterations = o->iterations};
}

/* The classes as the UI shows them (runner_class_t), and the host a
 * class names when -H gives none. */
static void describe_classes(runner_t *r)
{
    for (int i = 0; i < r->ncls; i++) {
        r->ucls[i] = (runner_class_t){.name = r->cls[i].name,
                                      .weight = r->cls[i].weight,
                                      .fixed_count = r->cls[i].fixed_count,
                                      .host = r->cls[i].host,
                                      .ntasks = r->cls[i].ntasks};
        for (int k = 0; k < r->cls[i].ntasks && k < LIMIT_TASKS; k++) {
            r->ucls[i].task_names[k] = r->cls[i].tasks[k].name;
            r->ucls[i].task_weights[k] = r->cls[i].tasks[k].weight;
        }
        if (!r->rc.host && r->host[0] == '\0' && r->cls[i].host[0])
            snprintf(r->host, sizeof r->host, "%s", r->cls[i].host);
    }
}

/* The scenario, run once on the main thread: its classes, thresholds and
 * shape (whose VM the runner keeps). 0, or -1 with the error printed. */
static int load_scenario(runner_t *r)
{
    char err[4096];
    vm_conf_t vc = vm_conf(&r->rc);
    struct lua_State *L = vm_new(NULL, &vc, err, sizeof err);
    if (L == NULL) {
        fprintf(stderr, "cicada: %s\n", err);
        return -1;
    }
    r->ncls = vm_classes(L, r->cls, LIMIT_CLASSES);
    if (rules_load(r, L) != 0) { /* cicada.thresholds, before the VM goes */
        vm_free(L);
        return -1;
    }
    if (shape_adopt(r, L) != 0) return -1; /* L is the runner's from here */
    describe_classes(r);
    return 0;
}

/* Make and start the engine threads (none on a master: its workers run
 * the users). 0, or -1 with the error printed. */
static int start_engines(runner_t *r)
{
    char err[4096];
    r->neng = r->rc.master ? 0 : r->rc.threads;
    r->eng = xcalloc((size_t)r->neng, sizeof *r->eng);
    r->watch = stop_watch_new(r->neng);
    r->plan = xcalloc((size_t)r->neng * LIMIT_CLASSES, sizeof *r->plan);
    for (int i = 0; i < r->neng; i++) {
        r->eng[i] = engine_new(i, &r->conf, err, sizeof err);
        if (r->eng[i] == NULL) {
            fprintf(stderr, "cicada: %s\n", err);
            return -1;
        }
    }
    for (int i = 0; i < r->neng; i++) {
        if (engine_start(r->eng[i]) != 0) {
            fprintf(stderr, "cicada: cannot start engine thread %d\n", i);
            r->neng = i;
            return -1;
        }
        r->nstarted = i + 1;
    }
    return 0;
}

runner_t *runner_new(const runner_conf_t *o)
{
    runner_t *r = xcalloc(1, sizeof *r);
    r->rc = *o;
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cmd_room, NULL);
    r->run_end = INT64_MAX;
    snprintf(r->host, sizeof r->host, "%s", o->host ? o->host : "");
    r->conf = (engine_conf_t){.vm = &vm_engine,
                              .locustfile = o->locustfile,
                              .host = o->host,
                              .tags = o->tags,
                              .ntags = o->ntags,
                              .exclude_tags = o->exclude_tags,
                              .nexclude_tags = o->nexclude_tags,
                              .iterations = o->iterations,
                              .stop_timeout = o->stop_timeout,
                              .nengines = o->threads,
                              .insecure = o->insecure,
                              .ca_file = o->ca_file,
                              .resolver = o->resolver,
                              .resolver_timeout = o->resolver_timeout};
    if (load_scenario(r) != 0 || spawn_choose(r) != 0) goto error;
    r->stats = stats_new();
    stats_reset(r->stats, clock_wall());
    if (start_engines(r) != 0) goto error;
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!o->worker) output_open(r); /* a worker's statistics are deltas for its master */
    return r;
error:
    runner_free(r);
    return NULL;
}

void runner_on_tick(runner_t *r, void (*fn)(void *ud), void *ud)
{
    r->tick_fn = fn;
    r->tick_ud = ud;
}

static void sleep_tick(void)
{
    struct timespec ts = {0, TICK_NS};
    nanosleep(&ts, NULL); /* a signal cuts it short, which is what we want */
}

void runner_set_state(runner_t *r, enum runner_state s)
{
    pthread_mutex_lock(&r->lock);
    r->state = s;
    pthread_mutex_unlock(&r->lock);
}

/* 0, or --exit-code-on-threshold when a threshold failed (it wins), else
 * --exit-code-on-error when a request failed or a task raised (Locust's). */
static int exit_code(runner_t *r)
{
    if (rules_failed(r)) return r->rc.exit_code_on_threshold;
    size_t nerr = 0, nexc = 0;
    stats_errors(r->stats, &nerr);
    stats_exceptions(r->stats, &nexc);
    return nerr || nexc ? r->rc.exit_code_on_error : 0;
}

static void run_commands(runner_t *r)
{
    rcmd_t cmds[RUNNER_MAX_CMDS];
    pthread_mutex_lock(&r->lock);
    int n = r->ncmds;
    memcpy(cmds, r->cmds, (size_t)n * sizeof *cmds);
    r->ncmds = 0;
    if (n) pthread_cond_broadcast(&r->cmd_room); /* wake queue() callers waiting for room */
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < n; i++) {
        rcmd_t *c = &cmds[i];
        switch (c->kind) {
        case RC_SWARM:
            if (r->shape_L && !r->arrival_shape && r->state != RUNNER_SPAWNING &&
                r->state != RUNNER_RUNNING) {
                if (c->host) spawn_host(r, c->host);
                shape_begin(r);
            } else if (!r->shape_L || r->arrival_shape) {
                if (c->pick) spawn_pick(r, c->pick);
                spawn_start(r, c->users, c->rate, c->host, c->run_time);
            }
            break;
        case RC_STOP:
            stop_users(r);
            /* a worker answers its master's stop even with no users running */
            if (runner_is_worker(r) && r->remote.stopped) r->remote.stopped(r->remote.ud);
            break;
        case RC_RESET:
            runner_reset_stats(r, true);
            runner_fire(r, "reset_stats", 0);
            break;
        case RC_QUIT:
            r->quit = true;
            break;
        case RC_COUNTS:
            if (c->rates)
                rate_worker(r, c->counts, c->rates, c->windex, c->nworkers, c->host);
            else
                spawn_counts(r, c->counts, c->host);
            break;
        }
        xfree(c->host);
        xfree(c->pick);
        xfree(c->counts);
        xfree(c->rates);
    }
}

/* Master, before an automatic start: wait for --expect-workers ready
 * workers, as Locust does. Returns false if it gave up (or was
 * interrupted). */
static bool wait_for_workers(runner_t *r)
{
    const runner_conf_t *o = &r->rc;
    int64_t start = clock_ns(), next_log = start;
    for (;;) {
        int ready = r->remote.ready_workers(r->remote.ud);
        if (ready >= o->expect_workers) return true;
        int64_t now = clock_ns();
        if (o->expect_workers_max_wait > 0 &&
            (double)(now - start) / 1e9 > o->expect_workers_max_wait) {
            log_error("Gave up waiting for workers to connect");
            return false;
        }
        if (signals) return false;
        if (now >= next_log) {
            log_info("Waiting for workers to be ready, %d of %d connected", ready,
                     o->expect_workers);
            next_log = now + SEC;
        }
        run_commands(r);
        if (r->quit) return false;
        sleep_tick();
    }
}

/* Start what the command line asks for at once (headless or
 * --autostart): a shape, or the users. false: a master's workers never
 * came. */
static bool begin(runner_t *r, bool headless, bool autostart)
{
    const runner_conf_t *o = &r->rc;
    if (runner_is_master(r) && (headless || autostart) && !wait_for_workers(r)) {
        r->remote.quit(r->remote.ud);
        return false;
    }
    if ((headless || autostart) && r->shape_L && !r->arrival_shape) {
        shape_begin(r);
    } else if (headless || autostart) {
        long users = o->users >= 0 ? o->users : rate_open(r) ? RATE_DEFAULT_USERS : 1;
        spawn_start(r, users, o->spawn_rate > 0 ? o->spawn_rate : 1, NULL, o->run_time);
    }
    return true;
}

/* The test is over (run time, -i, a shape or cicada.arrival's end, an
 * abort rule): stop the users. Returns true to leave the loop (headless);
 * with the UI, --autoquit sets *quit_at. */
static bool ended(runner_t *r, bool headless, int64_t *quit_at)
{
    stop_users(r);
    if (headless) return true;
    if (r->rc.autoquit >= 0) *quit_at = clock_ns() + (int64_t)(r->rc.autoquit * 1e9);
    return false;
}

/* -i: every user ran its iterations (RUNNING: they all existed); a
 * worker's master decides, from the counts it reports. */
static bool iterations_done(runner_t *r)
{
    return r->rc.iterations > 0 && r->state == RUNNER_RUNNING && !runner_is_worker(r) &&
           runner_user_count(r) == 0;
}

/* The once-a-second work (and the shape's and the rate's steps). Returns
 * true when they ended the test. */
static bool second(runner_t *r, int64_t now, int64_t *next_sec)
{
    bool over = now >= *next_sec && r->shape_active && !shape_step(r);
    over |= !rate_step(r); /* cicada.arrival's function ended the test */
    if (now >= *next_sec) {
        runner_collect(r);
        over |= rules_tick(r, now); /* a rule with abort set failed: end as a shape does */
        output_csvs(r, true);
        output_point(r);
        if (r->tick_fn) r->tick_fn(r->tick_ud);
        *next_sec += SEC;
        if (*next_sec < now) *next_sec = now + SEC;
    }
    return over;
}

/* After the loop: stop everything, then the summary, the files and the
 * exit code. */
static int finish(runner_t *r)
{
    if (signals) log_info("Interrupted: stopping the users (Ctrl-C again to stop at once)");
    if (runner_is_master(r)) {
        /* quit every worker; their final reports arrive before their quit */
        runner_set_state(r, RUNNER_STOPPING);
        r->remote.quit(r->remote.ud);
        runner_set_state(r, RUNNER_STOPPED);
    } else {
        stop_users(r);
    }
    stop_engines(r);
    pthread_mutex_lock(&r->lock);
    exclog_flush(&r->exclog, r->stats);
    pthread_mutex_unlock(&r->lock);
    if (runner_is_worker(r)) return 0; /* its last report is the dist worker's to send */
    rules_final(r);
    output_csvs(r, true);
    output_summary(r);
    int code = exit_code(r);
    results_write(r, code);
    log_info("Shutting down (exit code %d)", code);
    return code;
}

int runner_run(runner_t *r)
{
    const runner_conf_t *o = &r->rc;
    /* a worker waits for its master's commands, like the UI mode */
    bool headless = o->headless && !runner_is_worker(r),
         autostart = o->autostart && !runner_is_worker(r);
    if (!begin(r, headless, autostart)) return 1;
    int64_t now = clock_ns(), next_sec = now + SEC, next_print = now + 2 * SEC;
    int64_t quit_at = INT64_MAX;
    while (!r->quit && signals == 0) {
        run_commands(r);
        now = clock_ns();
        if (now >= r->run_end) {
            log_info("--run-time limit reached, stopping the users");
            if (headless && runner_is_master(r)) break; /* Locust's quit: no stop message first */
            if (ended(r, headless, &quit_at)) break;
        }
        if (now >= quit_at) break;
        if (iterations_done(r)) {
            log_info("All users finished their %ld iterations, stopping", o->iterations);
            if (ended(r, headless, &quit_at)) break;
        }
        if (quit_requested(r)) {
            log_info("The scenario called cicada.quit(): stopping");
            break;
        }
        spawn_step(r, now);
        stop_watch(r, now);
        if (second(r, now, &next_sec) && ended(r, headless, &quit_at)) break;
        if (now >= next_print) {
            if ((headless || o->print_stats) && !o->only_summary) output_table(r, true);
            next_print += 2 * SEC;
            if (next_print < now) next_print = now + 2 * SEC;
        }
        sleep_tick();
    }
    return finish(r);
}

void runner_free(runner_t *r)
{
    if (r == NULL) return;
    /* freed without a run (a set-up error after the engines started):
     * end their threads first */
    for (int i = 0; i < r->nstarted; i++)
        runner_post(r, i, CMD_QUIT, 0, 0);
    for (int i = 0; i < r->nstarted; i++)
        engine_join(r->eng[i]);
    r->nstarted = 0;
    output_close(r);
    /* an abandoned engine's thread still runs in its VM: leave it be (the
     * process is about to end) */
    for (int i = 0; i < r->neng; i++)
        if (r->eng[i] && !atomic_load(&r->eng[i]->abandoned)) engine_free(r->eng[i]);
    xfree(r->watch);
    xfree(r->eng);
    xfree(r->seq);
    xfree(r->hist);
    xfree(r->workers);
    for (int i = 0; i < r->ncmds; i++) {
        xfree(r->cmds[i].host);
        xfree(r->cmds[i].counts);
        xfree(r->cmds[i].rates);
    }
    xfree(r->plan);
    if (r->stats) stats_free(r->stats);
    exclog_free(&r->exclog);
    rules_free(r);
    if (r->shape_L) vm_free(r->shape_L);
    pthread_cond_destroy(&r->cmd_room);
    pthread_mutex_destroy(&r->lock);
    xfree(r);
}

int runner_list(const runner_conf_t *o)
{
    char err[4096];
    vm_conf_t vc = vm_conf(o);
    struct lua_State *L = vm_new(NULL, &vc, err, sizeof err);
    if (L == NULL) {
        fprintf(stderr, "cicada: %s\n", err);
        return 1;
    }
    vm_class_t cls[LIMIT_CLASSES];
    int n = vm_classes(L, cls, LIMIT_CLASSES);
    vm_free(L);
    printf("Available Users:\n");
    for (int i = 0; i < n; i++)
        printf("    %s\n", cls[i].name);
    return 0;
}
