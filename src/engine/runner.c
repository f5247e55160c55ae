/* runner: see runner.h. */
#include "engine/runner.h"

#include <errno.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "cli/console.h"
#include "engine/engine.h"
#include "lua/vm.h"
#include "report/csv.h"

#include <lauxlib.h>
#include <lua.h>

#define TICK_NS 20000000LL /* 20 ms */
#define SEC 1000000000LL

static volatile sig_atomic_t signals;

static void on_signal(int sig)
{
    signals++;
}

enum cmd_kind { RC_SWARM, RC_STOP, RC_RESET, RC_QUIT, RC_COUNTS };

typedef struct rcmd {
    enum cmd_kind kind;
    long users;
    double rate, run_time;
    char *host;
    long *counts; /* RC_COUNTS: per class, owned by the command */
} rcmd_t;

struct runner {
    const opts_t *o;
    engine_conf_t conf;
    engine_t **eng;
    int neng;
    pthread_mutex_t lock; /* guards stats, history, state, host, commands */
    stats_t *stats;
    vm_class_t cls[VM_MAX_CLASSES];
    runner_class_t ucls[VM_MAX_CLASSES];
    int ncls;
    bool chosen[VM_MAX_CLASSES];
    enum runner_state state;
    long target;
    double rate;
    char host[1024];
    /* the spawn sequence: class of the k-th user, for ramping down */
    int *seq;
    long nseq, capseq;
    long class_count[VM_MAX_CLASSES];
    double swrr[VM_MAX_CLASSES];
    int64_t ramp_start;
    long ramp_base;
    int64_t run_end; /* monotonic ns, INT64_MAX for none */
    double start_wall;
    /* history */
    runner_point_t *hist;
    size_t nhist, caphist;
    /* commands from other threads */
    rcmd_t cmds[64];
    int ncmds;
    bool quit;
    FILE *csv_stats, *csv_history, *csv_failures, *csv_exceptions;
    int name_width;
    void (*tick_fn)(void *);
    void *tick_ud;
    /* a load shape (cicada.shape) runs in the main thread's own VM */
    struct lua_State *shape_L;
    int nstarted; /* engine threads started and not yet joined */
    bool shape_active;
    int64_t shape_start;
    /* master/worker link (src/dist) */
    runner_remote_t remote;
    bool has_remote;
    long *plan; /* worker: users per engine and class, [e * VM_MAX_CLASSES + c] */
};

static bool is_master(const runner_t *r)
{
    return r->has_remote && r->remote.master;
}

static bool is_worker(const runner_t *r)
{
    return r->has_remote && !r->remote.master;
}

const double runner_pcts[RUNNER_NPCT] = {0.5, 0.66, 0.75, 0.8, 0.9, 0.95, 0.98, 0.99, 0.999, 1.0};

const char *runner_state_name(enum runner_state s)
{
    static const char *names[] = {"ready", "spawning", "running", "stopping", "stopped"};
    return names[s];
}

/* ---- the spawn plan ---- */

/* The class of the next user: fixed_count classes until they are full,
 * then smooth weighted round-robin over the weighted classes. */
static int next_class(runner_t *r)
{
    for (int i = 0; i < r->ncls; i++)
        if (r->chosen[i] && r->cls[i].fixed_count > 0 && r->class_count[i] < r->cls[i].fixed_count)
            return i;
    double total = 0;
    int best = -1;
    for (int i = 0; i < r->ncls; i++) {
        if (!r->chosen[i] || r->cls[i].fixed_count > 0 || r->cls[i].weight <= 0) continue;
        r->swrr[i] += r->cls[i].weight;
        total += r->cls[i].weight;
        if (best < 0 || r->swrr[i] > r->swrr[best]) best = i;
    }
    if (best >= 0) r->swrr[best] -= total;
    return best;
}

static void post(runner_t *r, int e, enum engine_cmd_kind kind, int cls, long count)
{
    engine_cmd_t c = {.kind = kind, .cls = cls, .count = count};
    engine_post(r->eng[e], &c);
}

static void post_all(runner_t *r, enum engine_cmd_kind kind)
{
    for (int i = 0; i < r->neng; i++) post(r, i, kind, 0, 0);
}

/* Fire a scenario event in every engine's VM. */
static void fire(runner_t *r, const char *event, long arg)
{
    for (int i = 0; i < r->neng; i++) {
        engine_cmd_t c = {.kind = CMD_EVENT, .count = arg, .text = xstrdup(event)};
        engine_post(r->eng[i], &c);
    }
}

/* Add users up to n in all, dealt to engines in turn. */
static void grow_to(runner_t *r, long n)
{
    long *per = xcalloc((size_t)r->neng * VM_MAX_CLASSES, sizeof *per);
    while (r->nseq < n) {
        int c = next_class(r);
        if (c < 0) break;
        if (r->nseq == r->capseq) {
            r->capseq = r->capseq ? r->capseq * 2 : 1024;
            r->seq = xrealloc(r->seq, (size_t)r->capseq * sizeof *r->seq);
        }
        r->seq[r->nseq] = c;
        per[(r->nseq % r->neng) * VM_MAX_CLASSES + c]++;
        r->class_count[c]++;
        r->nseq++;
    }
    for (int e = 0; e < r->neng; e++)
        for (int c = 0; c < r->ncls; c++)
            if (per[e * VM_MAX_CLASSES + c]) post(r, e, CMD_SPAWN, c, per[e * VM_MAX_CLASSES + c]);
    xfree(per);
}

/* Remove users down to n, newest first. */
static void shrink_to(runner_t *r, long n)
{
    while (r->nseq > n) {
        r->nseq--;
        int c = r->seq[r->nseq];
        r->class_count[c]--;
        post(r, (int)(r->nseq % r->neng), CMD_STOP, c, 1);
    }
    memset(r->swrr, 0, sizeof r->swrr);
}

static long live_users(runner_t *r)
{
    if (is_master(r)) return r->remote.user_count(r->remote.ud);
    long n = 0;
    for (int i = 0; i < r->neng; i++) n += atomic_load(&r->eng[i]->live_users);
    return n;
}

static bool quit_requested(runner_t *r)
{
    for (int i = 0; i < r->neng; i++)
        if (atomic_load(&r->eng[i]->quit_requested)) return true;
    return false;
}

static void log_spawned(runner_t *r)
{
    char buf[2048];
    size_t off = (size_t)snprintf(buf, sizeof buf, "{");
    for (int i = 0, first = 1; i < r->ncls && off < sizeof buf; i++) {
        if (!r->chosen[i]) continue;
        off += (size_t)snprintf(buf + off, sizeof buf - off, "%s\"%s\": %ld", first ? "" : ", ",
                                r->cls[i].name, r->class_count[i]);
        first = 0;
    }
    if (off < sizeof buf) snprintf(buf + off, sizeof buf - off, "}");
    log_info("All users spawned: %s (%ld total users)", buf, r->nseq);
}

/* ---- statistics ---- */

static void collect(runner_t *r)
{
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->neng; i++) {
        stats_shard_t *s = engine_take_shard(r->eng[i]);
        if (s == NULL) continue;
        stats_merge(r->stats, s);
        engine_give_shard(r->eng[i], s);
    }
    pthread_mutex_unlock(&r->lock);
}

static FILE *open_csv(const char *prefix, const char *suffix)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s", prefix, suffix);
    FILE *f = fopen(path, "w+");
    if (f == NULL) log_error("cannot write %s: %s", path, strerror(errno));
    return f;
}

static void rewrite(FILE *f, void (*write)(FILE *, stats_t *), stats_t *st)
{
    if (f == NULL) return;
    rewind(f);
    write(f, st);
    fflush(f);
    if (ftruncate(fileno(f), ftell(f)) != 0) log_warn("cannot truncate a CSV file");
}

static void write_csvs(runner_t *r, bool history)
{
    if (r->o->csv_prefix == NULL) return;
    pthread_mutex_lock(&r->lock);
    rewrite(r->csv_stats, csv_write_stats, r->stats);
    rewrite(r->csv_failures, csv_write_failures, r->stats);
    rewrite(r->csv_exceptions, csv_write_exceptions, r->stats);
    if (history && r->csv_history) {
        csv_write_history(r->csv_history, r->stats, (int64_t)clock_wall(), live_users(r),
                          r->o->csv_full_history);
        fflush(r->csv_history);
    }
    pthread_mutex_unlock(&r->lock);
}

static void open_csvs(runner_t *r)
{
    const char *p = r->o->csv_prefix;
    if (p == NULL) return;
    r->csv_stats = open_csv(p, "_stats.csv");
    r->csv_history = open_csv(p, "_stats_history.csv");
    r->csv_failures = open_csv(p, "_failures.csv");
    r->csv_exceptions = open_csv(p, "_exceptions.csv");
    if (r->csv_history) {
        csv_write_history_header(r->csv_history);
        fflush(r->csv_history);
    }
    write_csvs(r, false);
}

static void close_csvs(runner_t *r)
{
    FILE **fs[] = {&r->csv_stats, &r->csv_history, &r->csv_failures, &r->csv_exceptions};
    for (size_t i = 0; i < 4; i++)
        if (*fs[i]) {
            fclose(*fs[i]);
            *fs[i] = NULL;
        }
}

/* A chart point for this second (only once requests were made, as
 * Locust's charts do). */
static void record_point(runner_t *r)
{
    pthread_mutex_lock(&r->lock);
    stats_entry_t *t = stats_total(r->stats);
    if (t->num_requests > 0 && (r->state == RUNNER_SPAWNING || r->state == RUNNER_RUNNING)) {
        if (r->nhist == r->caphist) {
            r->caphist = r->caphist ? r->caphist * 2 : 256;
            r->hist = xrealloc(r->hist, r->caphist * sizeof *r->hist);
        }
        double now = clock_wall(), v;
        runner_point_t *p = &r->hist[r->nhist++];
        p->time = now;
        p->rps = stats_current_rps(r->stats, t);
        p->fail_per_sec = stats_current_fail_per_sec(r->stats, t);
        p->p50 = stats_current_percentile(r->stats, t, 0.5, (int64_t)now, &v) ? v : -1;
        p->p95 = stats_current_percentile(r->stats, t, 0.95, (int64_t)now, &v) ? v : -1;
        for (int i = 0; i < RUNNER_NPCT; i++)
            p->pct[i] =
                stats_current_percentile(r->stats, t, runner_pcts[i], (int64_t)now, &v) ? v : -1;
        p->users = live_users(r);
    }
    pthread_mutex_unlock(&r->lock);
}

static void print_table(runner_t *r, bool current)
{
    pthread_mutex_lock(&r->lock);
    console_stats(r->stats, r->name_width, current, console_to_file, stdout);
    pthread_mutex_unlock(&r->lock);
    fputc('\n', stdout);
    fflush(stdout);
}

static void print_summary(runner_t *r)
{
    print_table(r, false);
    pthread_mutex_lock(&r->lock);
    console_percentiles(r->stats, r->name_width, console_to_file, stdout);
    fputc('\n', stdout);
    console_errors(r->stats, r->name_width, console_to_file, stdout);
    pthread_mutex_unlock(&r->lock);
    fflush(stdout);
}

/* ---- set-up ---- */

static vm_conf_t vm_conf(const opts_t *o)
{
    return (vm_conf_t){.locustfile = o->locustfile,
                       .host = o->host,
                       .tags = o->tags,
                       .ntags = o->ntags,
                       .exclude_tags = o->exclude_tags,
                       .nexclude_tags = o->nexclude_tags};
}

static int choose_classes(runner_t *r)
{
    const opts_t *o = r->o;
    for (int i = 0; i < r->ncls; i++) r->chosen[i] = o->nclasses == 0;
    for (size_t k = 0; k < o->nclasses; k++) {
        int found = -1;
        for (int i = 0; i < r->ncls; i++)
            if (strcmp(r->cls[i].name, o->classes[k]) == 0) found = i;
        if (found < 0) {
            fprintf(stderr, "cicada: unknown user class '%s' in %s (it has:", o->classes[k],
                    o->locustfile);
            for (int i = 0; i < r->ncls; i++) fprintf(stderr, " %s", r->cls[i].name);
            fprintf(stderr, ")\n");
            return -1;
        }
        r->chosen[found] = true;
    }
    return 0;
}

runner_t *runner_new(const opts_t *o)
{
    char err[4096];
    runner_t *r = xcalloc(1, sizeof *r);
    r->o = o;
    pthread_mutex_init(&r->lock, NULL);
    r->run_end = INT64_MAX;
    snprintf(r->host, sizeof r->host, "%s", o->host ? o->host : "");
    r->conf = (engine_conf_t){.locustfile = o->locustfile,
                              .host = o->host,
                              .tags = o->tags,
                              .ntags = o->ntags,
                              .exclude_tags = o->exclude_tags,
                              .nexclude_tags = o->nexclude_tags,
                              .stop_timeout = o->stop_timeout,
                              .nengines = o->threads,
                              .insecure = o->insecure,
                              .ca_file = o->ca_file};
    vm_conf_t vc = vm_conf(o);
    struct lua_State *L = vm_new(NULL, &vc, err, sizeof err);
    if (L == NULL) {
        fprintf(stderr, "cicada: %s\n", err);
        goto error;
    }
    r->ncls = vm_classes(L, r->cls, VM_MAX_CLASSES);
    lua_getglobal(L, "cicada");
    lua_getfield(L, -1, "_has_shape");
    lua_call(L, 0, 1);
    bool shape = lua_toboolean(L, -1);
    lua_pop(L, 2);
    if (shape) {
        r->shape_L = L;
        if (o->users >= 0 || o->spawn_rate > 0 || o->run_time > 0) {
            fprintf(stderr,
                    "cicada: %s defines a load shape (cicada.shape): it sets the users, spawn "
                    "rate and run time, so -u/--users, -r/--spawn-rate and -t/--run-time cannot "
                    "be used with it\n",
                    o->locustfile);
            goto error;
        }
    } else {
        vm_free(L);
    }
    for (int i = 0; i < r->ncls; i++) {
        r->ucls[i] = (runner_class_t){.name = r->cls[i].name,
                                      .weight = r->cls[i].weight,
                                      .fixed_count = r->cls[i].fixed_count,
                                      .host = r->cls[i].host,
                                      .ntasks = r->cls[i].ntasks};
        for (int k = 0; k < r->cls[i].ntasks && k < 64; k++) {
            r->ucls[i].task_names[k] = r->cls[i].tasks[k].name;
            r->ucls[i].task_weights[k] = r->cls[i].tasks[k].weight;
        }
        if (!o->host && r->host[0] == '\0' && r->cls[i].host[0])
            snprintf(r->host, sizeof r->host, "%s", r->cls[i].host);
    }
    if (choose_classes(r) != 0) goto error;
    r->stats = stats_new();
    stats_reset(r->stats, clock_wall());
    /* a master runs no users itself: its workers do */
    r->neng = o->master ? 0 : o->threads;
    r->eng = xcalloc((size_t)r->neng, sizeof *r->eng);
    r->plan = xcalloc((size_t)r->neng * VM_MAX_CLASSES, sizeof *r->plan);
    for (int i = 0; i < r->neng; i++) {
        r->eng[i] = engine_new(i, &r->conf, err, sizeof err);
        if (r->eng[i] == NULL) {
            fprintf(stderr, "cicada: %s\n", err);
            goto error;
        }
    }
    for (int i = 0; i < r->neng; i++)
        if (engine_start(r->eng[i]) == 0) {
            r->nstarted = i + 1;
        } else {
            fprintf(stderr, "cicada: cannot start engine thread %d\n", i);
            r->neng = i;
            goto error;
        }
    r->name_width = console_name_width(STDOUT_FILENO);
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (!o->worker) open_csvs(r); /* a worker's statistics are deltas for its master */
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

/* ---- the run ---- */

static void sleep_tick(void)
{
    struct timespec ts = {0, TICK_NS};
    nanosleep(&ts, NULL); /* a signal cuts it short, which is what we want */
}

static void set_state(runner_t *r, enum runner_state s)
{
    pthread_mutex_lock(&r->lock);
    r->state = s;
    pthread_mutex_unlock(&r->lock);
}

/* A new test: Locust's clear_all() (exceptions are kept until a reset). */
static void clear_for_test(runner_t *r)
{
    pthread_mutex_lock(&r->lock);
    stats_t *old = r->stats;
    r->stats = stats_new();
    stats_reset(r->stats, clock_wall());
    for (size_t i = 0; old && i < 1; i++) {
        /* exceptions survive a new test in Locust's UI until reset */
        size_t n;
        stats_exception_t **ex = stats_exceptions(old, &n);
        for (size_t k = 0; k < n; k++)
            stats_exception_add(r->stats, ex[k]->msg, ex[k]->traceback, ex[k]->nodes,
                                ex[k]->count);
    }
    stats_free(old);
    r->nhist = 0;
    r->start_wall = clock_wall();
    pthread_mutex_unlock(&r->lock);
    r->nseq = 0;
    memset(r->class_count, 0, sizeof r->class_count);
    memset(r->swrr, 0, sizeof r->swrr);
    fire(r, "test_start", 0);
}

static void start_swarm(runner_t *r, long users, double rate, const char *host, double run_time)
{
    int64_t now = clock_ns();
    bool fresh = r->state == RUNNER_READY || r->state == RUNNER_STOPPED;
    if (host && *host) {
        pthread_mutex_lock(&r->lock);
        snprintf(r->host, sizeof r->host, "%s", host);
        pthread_mutex_unlock(&r->lock);
        for (int i = 0; i < r->neng; i++) {
            engine_cmd_t c = {.kind = CMD_HOST, .text = xstrdup(host)};
            engine_post(r->eng[i], &c);
        }
    }
    if (fresh) clear_for_test(r);
    r->target = users;
    r->rate = rate;
    r->ramp_start = now;
    r->ramp_base = r->nseq;
    r->run_end = run_time > 0 ? now + (int64_t)(run_time * 1e9) : (fresh ? INT64_MAX : r->run_end);
    if (run_time > 0) log_info("Run time limit set to %g seconds", run_time);
    log_info("Ramping to %ld users at a rate of %.2f per second", users, rate);
    if (is_master(r))
        r->remote.swarm(r->remote.ud, users, rate, host && *host ? host : r->o->host);
    else if (users < r->nseq)
        shrink_to(r, users);
    set_state(r, RUNNER_SPAWNING);
}

/* A host change on its own (a shape run started from the UI with a host). */
static void start_swarm_host(runner_t *r, const char *host)
{
    pthread_mutex_lock(&r->lock);
    snprintf(r->host, sizeof r->host, "%s", host);
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < r->neng; i++) {
        engine_cmd_t c = {.kind = CMD_HOST, .text = xstrdup(host)};
        engine_post(r->eng[i], &c);
    }
}

/* One tick of the load shape: ask it for (users, rate[, classes]) at the
 * current run time and follow it; nil ends the test. Returns false when the
 * shape has ended. */
static bool shape_step(runner_t *r)
{
    lua_State *L = r->shape_L;
    double t = (double)(clock_ns() - r->shape_start) / 1e9;
    lua_getglobal(L, "cicada");
    lua_getfield(L, -1, "_shape_tick");
    lua_pushnumber(L, t);
    if (lua_pcall(L, 1, 3, 0) != 0) {
        log_error("load shape: %s", lua_tostring(L, -1));
        lua_settop(L, 0);
        return true;
    }
    if (lua_isnil(L, -3)) {
        lua_settop(L, 0);
        log_info("Shape test stopping");
        return false;
    }
    long users = (long)lua_tonumber(L, -3);
    double rate = lua_tonumber(L, -2);
    if (lua_istable(L, -1)) {
        bool any = false;
        for (int i = 0; i < r->ncls; i++) r->chosen[i] = false;
        for (int k = 1;; k++) {
            lua_rawgeti(L, -1, k);
            const char *name = lua_tostring(L, -1);
            lua_pop(L, 1);
            if (name == NULL) break;
            for (int i = 0; i < r->ncls; i++)
                if (strcmp(r->cls[i].name, name) == 0) r->chosen[i] = any = true;
        }
        if (!any) choose_classes(r);
    }
    lua_settop(L, 0);
    if (users < 0) users = 0;
    if (!(rate > 0)) rate = 1;
    bool running = r->state == RUNNER_SPAWNING || r->state == RUNNER_RUNNING;
    if (!running || users != r->target || rate != r->rate) start_swarm(r, users, rate, NULL, 0);
    return true;
}

static void spawn_step(runner_t *r, int64_t now)
{
    if (r->state != RUNNER_SPAWNING) return;
    if (is_master(r)) {
        /* the master's dispatcher paces the ramp over the workers */
        if (!r->remote.spawned(r->remote.ud)) return;
        r->nseq = 0;
        for (int i = 0; i < r->ncls; i++) {
            r->class_count[i] = r->remote.class_users(r->remote.ud, i);
            r->nseq += r->class_count[i];
        }
        r->target = r->nseq;
    } else if (r->nseq < r->target) {
        double elapsed = (double)(now - r->ramp_start) / 1e9;
        long due = r->ramp_base + (long)(elapsed * r->rate) + 1;
        if (due > r->target) due = r->target;
        if (due > r->nseq) grow_to(r, due);
        if (r->nseq < due) r->target = r->nseq; /* no class can take users */
    }
    if (r->nseq >= r->target) {
        set_state(r, RUNNER_RUNNING);
        log_spawned(r);
        fire(r, "spawning_complete", r->nseq);
        if (r->o->reset_stats) {
            collect(r);
            pthread_mutex_lock(&r->lock);
            stats_reset(r->stats, clock_wall());
            pthread_mutex_unlock(&r->lock);
            log_info("Resetting stats");
        }
    }
}

/* Stop every user: wait for them until the deadline, then force the rest.
 * Users in a request finish it (it is counted); at the deadline requests
 * still in flight are counted as failures. */
static void stop_users(runner_t *r)
{
    if (r->state != RUNNER_SPAWNING && r->state != RUNNER_RUNNING) return;
    set_state(r, RUNNER_STOPPING);
    post_all(r, CMD_STOP_ALL);
    double grace = r->o->stop_timeout > 0 ? r->o->stop_timeout : 2.0;
    if (is_master(r)) {
        r->remote.stop(r->remote.ud);
        grace += 3; /* the workers' own grace, and their client_stopped on the way */
    }
    int64_t now = clock_ns(), deadline = now + (int64_t)(grace * 1e9), last_collect = now;
    int seen = signals;
    bool forced = false;
    for (;;) {
        now = clock_ns();
        if (live_users(r) == 0) break;
        if (!forced && (now >= deadline || signals != seen)) {
            if (signals != seen) log_info("Second interrupt: stopping at once");
            post_all(r, CMD_FORCE);
            forced = true;
            deadline = now + SEC;
        } else if (forced && now >= deadline) {
            log_warn("users still running after the stop deadline; going on without them");
            break;
        }
        if (now - last_collect >= SEC) {
            collect(r);
            last_collect = now;
        }
        sleep_tick();
    }
    r->nseq = 0;
    memset(r->class_count, 0, sizeof r->class_count);
    memset(r->plan, 0, (size_t)r->neng * VM_MAX_CLASSES * sizeof *r->plan);
    r->run_end = INT64_MAX;
    r->shape_active = false;
    fire(r, "test_stop", 0);
    set_state(r, RUNNER_STOPPED);
    collect(r);
}

/* Worker: run exactly counts[c] users of each class, now. New users go to
 * the engines with the fewest planned users; stopped ones come from the
 * engines with the most users of their class. */
static void apply_counts(runner_t *r, const long *counts, const char *host)
{
    if (host && *host) start_swarm_host(r, host);
    if (r->state == RUNNER_READY || r->state == RUNNER_STOPPED) {
        clear_for_test(r);
        memset(r->plan, 0, (size_t)r->neng * VM_MAX_CLASSES * sizeof *r->plan);
    }
    set_state(r, RUNNER_SPAWNING);
    long *delta = xcalloc((size_t)r->neng + 1, sizeof *delta);
    r->nseq = 0;
    for (int c = 0; c < r->ncls; c++) {
        long want = counts[c] < 0 ? 0 : counts[c];
        memset(delta, 0, (size_t)r->neng * sizeof *delta);
        for (; r->class_count[c] < want; r->class_count[c]++) {
            int best = 0;
            long best_n = -1;
            for (int e = 0; e < r->neng; e++) {
                long n = 0;
                for (int k = 0; k < r->ncls; k++) n += r->plan[e * VM_MAX_CLASSES + k];
                if (best_n < 0 || n < best_n) best = e, best_n = n;
            }
            r->plan[best * VM_MAX_CLASSES + c]++;
            delta[best]++;
        }
        for (; r->class_count[c] > want; r->class_count[c]--) {
            int best = 0;
            for (int e = 1; e < r->neng; e++)
                if (r->plan[e * VM_MAX_CLASSES + c] > r->plan[best * VM_MAX_CLASSES + c]) best = e;
            r->plan[best * VM_MAX_CLASSES + c]--;
            delta[best]--;
        }
        for (int e = 0; e < r->neng; e++)
            if (delta[e]) post(r, e, delta[e] > 0 ? CMD_SPAWN : CMD_STOP, c, labs(delta[e]));
        r->nseq += r->class_count[c];
    }
    xfree(delta);
    r->target = r->nseq;
    set_state(r, RUNNER_RUNNING);
    log_spawned(r);
    fire(r, "spawning_complete", r->nseq);
    if (r->remote.spawned_counts) r->remote.spawned_counts(r->remote.ud, r->class_count, r->ncls);
}

/* End the engine threads and merge what they still hold. */
static void shutdown_engines(runner_t *r)
{
    fire(r, "quitting", 0);
    post_all(r, CMD_QUIT);
    collect(r);
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->neng; i++) {
        stats_merge(r->stats, engine_join(r->eng[i]));
        r->nstarted = 0;
        stats_shard_t *o = engine_take_shard(r->eng[i]);
        if (o) {
            stats_merge(r->stats, o);
            engine_give_shard(r->eng[i], o);
        }
    }
    pthread_mutex_unlock(&r->lock);
}

static int exit_code(runner_t *r)
{
    size_t nerr = 0, nexc = 0;
    stats_errors(r->stats, &nerr);
    stats_exceptions(r->stats, &nexc);
    return nerr || nexc ? r->o->exit_code_on_error : 0;
}

static void run_commands(runner_t *r)
{
    rcmd_t cmds[64];
    pthread_mutex_lock(&r->lock);
    int n = r->ncmds;
    memcpy(cmds, r->cmds, (size_t)n * sizeof *cmds);
    r->ncmds = 0;
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < n; i++) {
        rcmd_t *c = &cmds[i];
        switch (c->kind) {
        case RC_SWARM:
            if (r->shape_L && r->state != RUNNER_SPAWNING && r->state != RUNNER_RUNNING) {
                if (c->host) start_swarm_host(r, c->host);
                r->shape_active = true;
                r->shape_start = clock_ns();
                shape_step(r);
            } else if (!r->shape_L) {
                start_swarm(r, c->users, c->rate, c->host, c->run_time);
            }
            break;
        case RC_STOP:
            stop_users(r);
            /* a worker answers its master's stop even with no users running */
            if (is_worker(r) && r->remote.stopped) r->remote.stopped(r->remote.ud);
            break;
        case RC_RESET:
            collect(r);
            pthread_mutex_lock(&r->lock);
            stats_reset(r->stats, clock_wall());
            stats_clear_exceptions(r->stats);
            pthread_mutex_unlock(&r->lock);
            fire(r, "reset_stats", 0);
            break;
        case RC_QUIT:
            r->quit = true;
            break;
        case RC_COUNTS:
            apply_counts(r, c->counts, c->host);
            break;
        }
        xfree(c->host);
        xfree(c->counts);
    }
}

/* Master, before an automatic start: wait for --expect-workers ready
 * workers, as Locust does. Returns false if it gave up (or was
 * interrupted). */
static bool wait_for_workers(runner_t *r)
{
    const opts_t *o = r->o;
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

int runner_run(runner_t *r)
{
    const opts_t *o = r->o;
    /* a worker waits for its master's commands, like the UI mode */
    bool headless = o->headless && !is_worker(r), autostart = o->autostart && !is_worker(r);
    if (is_master(r) && (headless || autostart) && !wait_for_workers(r)) {
        r->remote.quit(r->remote.ud);
        return 1;
    }
    if ((headless || autostart) && r->shape_L) {
        r->shape_active = true;
        r->shape_start = clock_ns();
        shape_step(r);
    } else if (headless || autostart) {
        start_swarm(r, o->users >= 0 ? o->users : 1, o->spawn_rate > 0 ? o->spawn_rate : 1, NULL,
                    o->run_time);
    }
    int64_t now = clock_ns(), next_sec = now + SEC, next_print = now + 2 * SEC;
    int64_t quit_at = INT64_MAX;
    while (!r->quit && signals == 0) {
        run_commands(r);
        now = clock_ns();
        if (now >= r->run_end) {
            log_info("--run-time limit reached, stopping the users");
            if (headless && is_master(r)) break; /* Locust's quit: no stop message first */
            stop_users(r);
            if (headless) break;
            if (o->autoquit >= 0) quit_at = clock_ns() + (int64_t)(o->autoquit * 1e9);
        }
        if (now >= quit_at) break;
        if (quit_requested(r)) {
            log_info("The scenario called cicada.quit(): stopping");
            break;
        }
        spawn_step(r, now);
        if (now >= next_sec && r->shape_active && !shape_step(r)) {
            stop_users(r);
            if (headless) break;
            if (o->autoquit >= 0) quit_at = clock_ns() + (int64_t)(o->autoquit * 1e9);
        }
        if (now >= next_sec) {
            collect(r);
            write_csvs(r, true);
            record_point(r);
            if (r->tick_fn) r->tick_fn(r->tick_ud);
            next_sec += SEC;
            if (next_sec < now) next_sec = now + SEC;
        }
        if (now >= next_print) {
            if ((headless || o->print_stats) && !o->only_summary) print_table(r, true);
            next_print += 2 * SEC;
            if (next_print < now) next_print = now + 2 * SEC;
        }
        sleep_tick();
    }
    if (signals) log_info("Interrupted: stopping the users (Ctrl-C again to stop at once)");
    if (is_master(r)) {
        /* quit every worker; their final reports arrive before their quit */
        set_state(r, RUNNER_STOPPING);
        r->remote.quit(r->remote.ud);
        set_state(r, RUNNER_STOPPED);
    } else {
        stop_users(r);
    }
    shutdown_engines(r);
    if (is_worker(r)) return 0; /* its last report is the dist worker's to send */
    write_csvs(r, true);
    print_summary(r);
    int code = exit_code(r);
    log_info("Shutting down (exit code %d)", code);
    return code;
}

void runner_free(runner_t *r)
{
    if (r == NULL) return;
    /* freed without a run (a set-up error after the engines started):
     * end their threads first */
    for (int i = 0; i < r->nstarted; i++) post(r, i, CMD_QUIT, 0, 0);
    for (int i = 0; i < r->nstarted; i++) engine_join(r->eng[i]);
    r->nstarted = 0;
    close_csvs(r);
    for (int i = 0; i < r->neng; i++)
        if (r->eng[i]) engine_free(r->eng[i]);
    xfree(r->eng);
    xfree(r->seq);
    xfree(r->hist);
    for (int i = 0; i < r->ncmds; i++) {
        xfree(r->cmds[i].host);
        xfree(r->cmds[i].counts);
    }
    xfree(r->plan);
    if (r->stats) stats_free(r->stats);
    if (r->shape_L) vm_free(r->shape_L);
    pthread_mutex_destroy(&r->lock);
    xfree(r);
}

/* ---- thread-safe commands ---- */

static void queue(runner_t *r, rcmd_t c)
{
    pthread_mutex_lock(&r->lock);
    if (r->ncmds < 64) {
        r->cmds[r->ncmds++] = c;
    } else {
        xfree(c.host);
        xfree(c.counts);
    }
    pthread_mutex_unlock(&r->lock);
}

void runner_swarm(runner_t *r, long users, double spawn_rate, const char *host, double run_time)
{
    queue(r, (rcmd_t){.kind = RC_SWARM,
                      .users = users,
                      .rate = spawn_rate,
                      .run_time = run_time,
                      .host = host && *host ? xstrdup(host) : NULL});
}

void runner_stop(runner_t *r)
{
    queue(r, (rcmd_t){.kind = RC_STOP});
}

void runner_reset(runner_t *r)
{
    queue(r, (rcmd_t){.kind = RC_RESET});
}

void runner_quit(runner_t *r)
{
    queue(r, (rcmd_t){.kind = RC_QUIT});
}

/* ---- reading ---- */

void runner_lock(runner_t *r)
{
    pthread_mutex_lock(&r->lock);
}

void runner_unlock(runner_t *r)
{
    pthread_mutex_unlock(&r->lock);
}

stats_t *runner_stats(runner_t *r)
{
    return r->stats;
}

enum runner_state runner_state(runner_t *r)
{
    return r->state;
}

long runner_user_count(runner_t *r)
{
    return live_users(r);
}

const char *runner_host(runner_t *r)
{
    return r->host;
}

const runner_point_t *runner_history(runner_t *r, size_t *n)
{
    *n = r->nhist;
    return r->hist;
}

const runner_class_t *runner_classes(runner_t *r, size_t *n)
{
    for (int i = 0; i < r->ncls; i++) {
        long u = 0;
        for (int e = 0; e < r->neng; e++) u += atomic_load(&r->eng[e]->class_users[i]);
        if (is_master(r)) u = r->remote.class_users(r->remote.ud, i);
        r->ucls[i].users = u;
    }
    *n = (size_t)r->ncls;
    return r->ucls;
}

const opts_t *runner_opts(runner_t *r)
{
    return r->o;
}

bool runner_has_shape(runner_t *r)
{
    return r->shape_L != NULL;
}

double runner_start_time(runner_t *r)
{
    return r->start_wall;
}

int runner_list(const opts_t *o)
{
    char err[4096];
    vm_conf_t vc = vm_conf(o);
    struct lua_State *L = vm_new(NULL, &vc, err, sizeof err);
    if (L == NULL) {
        fprintf(stderr, "cicada: %s\n", err);
        return 1;
    }
    vm_class_t cls[VM_MAX_CLASSES];
    int n = vm_classes(L, cls, VM_MAX_CLASSES);
    vm_free(L);
    printf("Available Users:\n");
    for (int i = 0; i < n; i++) printf("    %s\n", cls[i].name);
    return 0;
}

/* ---- master/worker ---- */

void runner_set_remote(runner_t *r, const runner_remote_t *rm)
{
    r->remote = *rm;
    r->has_remote = true;
}

void runner_spawn_counts(runner_t *r, const long *counts, int n, const char *host)
{
    long *copy = xcalloc(VM_MAX_CLASSES, sizeof *copy);
    for (int i = 0; i < n && i < VM_MAX_CLASSES; i++) copy[i] = counts[i];
    char *h = host && *host ? xstrdup(host) : NULL;
    queue(r, (rcmd_t){.kind = RC_COUNTS, .counts = copy, .host = h});
}

size_t runner_workers(runner_t *r, runner_worker_t *out, size_t max)
{
    if (!is_master(r) || r->remote.workers == NULL) return 0;
    return r->remote.workers(r->remote.ud, out, max);
}
