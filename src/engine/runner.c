/* runner: see runner.h. */
#include "engine/runner.h"

#include <errno.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "cli/console.h"
#include "engine/engine.h"
#include "lua/vm.h"
#include "report/csv.h"
#include "stats/stats.h"

#define TICK_NS 20000000LL /* 20 ms */
#define SEC 1000000000LL

enum state { ST_READY, ST_SPAWNING, ST_RUNNING, ST_STOPPING, ST_STOPPED };
static const char *state_names[] = {"ready", "spawning", "running", "stopping", "stopped"};

static volatile sig_atomic_t signals;

static void on_signal(int sig)
{
    signals++;
}

typedef struct csvfiles {
    FILE *stats, *history, *failures, *exceptions;
} csvfiles_t;

typedef struct runner {
    const opts_t *o;
    engine_conf_t conf;
    engine_t **eng;
    int neng;
    stats_t *stats;
    vm_class_t cls[VM_MAX_CLASSES];
    int ncls;
    bool chosen[VM_MAX_CLASSES];
    enum state state;
    long target;
    double rate;
    /* the spawn sequence: class of the k-th user, for ramping down */
    int *seq;
    long nseq, capseq;
    long class_count[VM_MAX_CLASSES];
    double swrr[VM_MAX_CLASSES];
    int64_t ramp_start;
    long ramp_base;
    csvfiles_t csv;
    int name_width;
} runner_t;

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

/* Add users up to n in all (dealt to engines in turn). */
static void grow_to(runner_t *r, long n)
{
    long start = r->nseq;
    long per[64][VM_MAX_CLASSES];
    int ne = r->neng < 64 ? r->neng : 64;
    memset(per, 0, sizeof(long) * (size_t)ne * VM_MAX_CLASSES);
    bool any = false;
    while (r->nseq < n) {
        int c = next_class(r);
        if (c < 0) break;
        if (r->nseq == r->capseq) {
            r->capseq = r->capseq ? r->capseq * 2 : 1024;
            r->seq = xrealloc(r->seq, (size_t)r->capseq * sizeof *r->seq);
        }
        r->seq[r->nseq] = c;
        per[r->nseq % ne][c]++;
        r->class_count[c]++;
        r->nseq++;
        any = true;
    }
    (void)start;
    if (!any) return;
    for (int e = 0; e < ne; e++)
        for (int c = 0; c < r->ncls; c++)
            if (per[e][c]) post(r, e, CMD_SPAWN, c, per[e][c]);
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
    /* the round-robin state no longer matches: rebuild it from the counts */
    memset(r->swrr, 0, sizeof r->swrr);
}

static long live_users(runner_t *r)
{
    long n = 0;
    for (int i = 0; i < r->neng; i++) n += atomic_load(&r->eng[i]->live_users);
    return n;
}

static void log_spawned(runner_t *r)
{
    char buf[2048];
    size_t off = 0;
    off += (size_t)snprintf(buf + off, sizeof buf - off, "{");
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
    for (int i = 0; i < r->neng; i++) {
        stats_shard_t *s = engine_take_shard(r->eng[i]);
        if (s == NULL) continue;
        stats_merge(r->stats, s);
        engine_give_shard(r->eng[i], s);
    }
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
    rewrite(r->csv.stats, csv_write_stats, r->stats);
    rewrite(r->csv.failures, csv_write_failures, r->stats);
    rewrite(r->csv.exceptions, csv_write_exceptions, r->stats);
    if (history && r->csv.history) {
        csv_write_history(r->csv.history, r->stats, (int64_t)clock_wall(), live_users(r),
                          r->o->csv_full_history);
        fflush(r->csv.history);
    }
}

static void open_csvs(runner_t *r)
{
    const char *p = r->o->csv_prefix;
    if (p == NULL) return;
    r->csv.stats = open_csv(p, "_stats.csv");
    r->csv.history = open_csv(p, "_stats_history.csv");
    r->csv.failures = open_csv(p, "_failures.csv");
    r->csv.exceptions = open_csv(p, "_exceptions.csv");
    if (r->csv.history) {
        csv_write_history_header(r->csv.history);
        fflush(r->csv.history);
    }
    write_csvs(r, false);
}

static void close_csvs(runner_t *r)
{
    FILE **fs[] = {&r->csv.stats, &r->csv.history, &r->csv.failures, &r->csv.exceptions};
    for (size_t i = 0; i < 4; i++)
        if (*fs[i]) {
            fclose(*fs[i]);
            *fs[i] = NULL;
        }
}

static void print_table(runner_t *r, bool current)
{
    console_stats(r->stats, r->name_width, current, console_to_file, stdout);
    fputc('\n', stdout);
    fflush(stdout);
}

static void print_summary(runner_t *r)
{
    print_table(r, false);
    console_percentiles(r->stats, r->name_width, console_to_file, stdout);
    fputc('\n', stdout);
    console_errors(r->stats, r->name_width, console_to_file, stdout);
    fflush(stdout);
}

/* ---- set-up ---- */

static int setup(runner_t *r, const opts_t *o)
{
    char err[4096];
    r->o = o;
    r->conf = (engine_conf_t){.locustfile = o->locustfile,
                              .host = o->host,
                              .tags = o->tags,
                              .ntags = o->ntags,
                              .exclude_tags = o->exclude_tags,
                              .nexclude_tags = o->nexclude_tags,
                              .stop_timeout = o->stop_timeout,
                              .nengines = o->threads};
    vm_conf_t vc = {.locustfile = o->locustfile,
                    .host = o->host,
                    .tags = o->tags,
                    .ntags = o->ntags,
                    .exclude_tags = o->exclude_tags,
                    .nexclude_tags = o->nexclude_tags};
    struct lua_State *L = vm_new(NULL, &vc, err, sizeof err);
    if (L == NULL) {
        fprintf(stderr, "cicada: %s\n", err);
        return -1;
    }
    r->ncls = vm_classes(L, r->cls, VM_MAX_CLASSES);
    vm_free(L);
    /* user classes named on the command line, as Locust takes them */
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
    r->stats = stats_new();
    r->neng = o->threads;
    r->eng = xcalloc((size_t)r->neng, sizeof *r->eng);
    for (int i = 0; i < r->neng; i++) {
        r->eng[i] = engine_new(i, &r->conf, err, sizeof err);
        if (r->eng[i] == NULL) {
            fprintf(stderr, "cicada: %s\n", err);
            return -1;
        }
    }
    for (int i = 0; i < r->neng; i++)
        if (engine_start(r->eng[i]) != 0) {
            fprintf(stderr, "cicada: cannot start engine thread %d\n", i);
            return -1;
        }
    r->name_width = console_name_width(STDOUT_FILENO);
    return 0;
}

/* ---- the run ---- */

static void sleep_tick(void)
{
    struct timespec ts = {0, TICK_NS};
    nanosleep(&ts, NULL); /* a signal cuts it short, which is what we want */
}

static void start_spawning(runner_t *r, long users, double rate, int64_t now)
{
    r->target = users;
    r->rate = rate;
    r->ramp_start = now;
    r->ramp_base = r->nseq;
    r->state = ST_SPAWNING;
    log_info("Ramping to %ld users at a rate of %.2f per second", users, rate);
    if (users < r->nseq) shrink_to(r, users);
}

static void spawn_step(runner_t *r, int64_t now)
{
    if (r->state != ST_SPAWNING) return;
    if (r->nseq < r->target) {
        double elapsed = (double)(now - r->ramp_start) / 1e9;
        long due = r->ramp_base + (long)(elapsed * r->rate) + 1;
        if (due > r->target) due = r->target;
        if (due > r->nseq) grow_to(r, due);
        if (r->nseq < due) { /* no class can take users (all weights 0) */
            r->target = r->nseq;
        }
    }
    if (r->nseq >= r->target) {
        r->state = ST_RUNNING;
        log_spawned(r);
    }
}

/* Stop every user, wait for them until the deadline, force the rest, end
 * the engines and merge their last statistics. */
static void stop_all(runner_t *r, int64_t now)
{
    r->state = ST_STOPPING;
    for (int i = 0; i < r->neng; i++) post(r, i, CMD_STOP_ALL, 0, 0);
    double grace = r->o->stop_timeout > 0 ? r->o->stop_timeout : 2.0;
    int64_t deadline = now + (int64_t)(grace * 1e9);
    int seen = signals;
    bool forced = false;
    int64_t last_collect = now;
    for (;;) {
        now = clock_ns();
        if (live_users(r) == 0) break;
        if (!forced && (now >= deadline || signals != seen)) {
            if (signals != seen) log_info("Second interrupt: stopping at once");
            for (int i = 0; i < r->neng; i++) post(r, i, CMD_FORCE, 0, 0);
            forced = true;
            deadline = now + SEC;
        } else if (forced && now >= deadline) {
            log_warn("users still running after the stop deadline; exiting without them");
            break;
        }
        if (now - last_collect >= SEC) {
            collect(r);
            last_collect = now;
        }
        sleep_tick();
    }
    for (int i = 0; i < r->neng; i++) post(r, i, CMD_QUIT, 0, 0);
    collect(r);
    for (int i = 0; i < r->neng; i++) {
        stats_shard_t *s = engine_join(r->eng[i]);
        stats_merge(r->stats, s);
        stats_shard_t *o = engine_take_shard(r->eng[i]);
        if (o) {
            stats_merge(r->stats, o);
            engine_give_shard(r->eng[i], o);
        }
    }
    r->state = ST_STOPPED;
}

static int exit_code(runner_t *r)
{
    size_t nerr = 0, nexc = 0;
    stats_errors(r->stats, &nerr);
    stats_exceptions(r->stats, &nexc);
    return nerr || nexc ? r->o->exit_code_on_error : 0;
}

static void teardown(runner_t *r)
{
    close_csvs(r);
    for (int i = 0; i < r->neng; i++)
        if (r->eng[i]) engine_free(r->eng[i]);
    xfree(r->eng);
    xfree(r->seq);
    if (r->stats) stats_free(r->stats);
}

int runner_headless(const opts_t *o)
{
    runner_t r = {0};
    struct sigaction sa = {.sa_handler = on_signal};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGINT, &sa, NULL);
    sigaction(SIGTERM, &sa, NULL);
    signal(SIGPIPE, SIG_IGN);
    if (setup(&r, o) != 0) {
        teardown(&r);
        return 1;
    }
    open_csvs(&r);
    int64_t now = clock_ns(), begin = now;
    long users = o->users >= 0 ? o->users : 1;
    double rate = o->spawn_rate > 0 ? o->spawn_rate : 1;
    stats_reset(r.stats, clock_wall());
    start_spawning(&r, users, rate, now);
    int64_t next_sec = now + SEC, next_print = now + 2 * SEC;
    int64_t end = o->run_time > 0 ? begin + (int64_t)(o->run_time * 1e9) : INT64_MAX;
    if (o->run_time > 0) log_info("Run time limit set to %g seconds", o->run_time);
    bool was_running = false;
    while (signals == 0) {
        now = clock_ns();
        if (now >= end) {
            log_info("--run-time limit reached, shutting down");
            break;
        }
        spawn_step(&r, now);
        if (r.state == ST_RUNNING && !was_running) {
            was_running = true;
            if (o->reset_stats) {
                collect(&r);
                stats_reset(r.stats, clock_wall());
                log_info("Resetting stats");
            }
        }
        if (now >= next_sec) {
            collect(&r);
            write_csvs(&r, true);
            next_sec += SEC;
        }
        if (now >= next_print) {
            if (!o->only_summary) print_table(&r, true);
            next_print += 2 * SEC;
        }
        sleep_tick();
    }
    if (signals) log_info("Interrupted: stopping the users (Ctrl-C again to stop at once)");
    stop_all(&r, clock_ns());
    write_csvs(&r, true);
    print_summary(&r);
    int code = exit_code(&r);
    log_info("Shutting down (exit code %d)", code);
    teardown(&r);
    (void)state_names;
    return code;
}

int runner_list(const opts_t *o)
{
    char err[4096];
    vm_conf_t vc = {.locustfile = o->locustfile, .host = o->host};
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
