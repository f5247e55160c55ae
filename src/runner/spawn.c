/* spawn: the runner's spawn plan.
 *
 * Users are added in a fixed sequence: fixed_count classes first until they
 * are full, then a smooth weighted round-robin over the weighted classes, so
 * the class mix is right at every moment of a ramp. The k-th user goes to
 * engine k % neng, and ramping down removes the newest users first, from the
 * engine that got them. spawn_step paces the ramp at the swarm's rate, once
 * per tick of the runner's loop. A master runs no users: it hands the swarm
 * to its dispatcher (runner_remote_t) and only learns the counts when the
 * workers' ramp is complete. A worker does not ramp either: its master sends
 * absolute per-class counts, which spawn_counts applies at once, balanced
 * over the engines. The web UI's class picker (spawn_pick) sets the chosen
 * classes, weights and fixed counts before a test starts, never during one.
 * Nothing here takes r->lock except to change what other threads read
 * (host, state, statistics, the classes). */
#include "runner/spawn.h"

#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "runner/rate.h"
#include "runner/runner_int.h"

/* MemAvailable from /proc/meminfo in bytes, or -1 if unknown. */
static double mem_available(void)
{
    FILE *f = fopen("/proc/meminfo", "r");
    if (f == NULL) return -1;
    char line[256];
    double kb = -1;
    while (fgets(line, sizeof line, f))
        if (sscanf(line, "MemAvailable: %lf kB", &kb) == 1) break;
    fclose(f);
    return kb < 0 ? -1 : kb * 1024;
}

int runner_users_fit(long more, char *err, size_t n)
{
    double avail = mem_available(), gib = 1024.0 * 1024 * 1024;
    if (more <= 0 || avail < 0) return 0;
    double least = (double)more * LIMIT_USER_BYTES_MIN;
    double typical = (double)more * LIMIT_USER_BYTES_TYPICAL;
    if (least > avail) {
        snprintf(err, n,
                 "%ld users need at least %.1f GiB of memory (%ld bytes each, more with open "
                 "connections) but only %.1f GiB is available (MemAvailable in /proc/meminfo)",
                 more, least / gib, LIMIT_USER_BYTES_MIN, avail / gib);
        return -1;
    }
    if (typical > avail)
        log_warn("%ld users may not fit in memory: users with an open connection take about "
                 "%ld bytes each (%.1f GiB) and %.1f GiB is available",
                 more, LIMIT_USER_BYTES_TYPICAL, typical / gib, avail / gib);
    return 0;
}

int spawn_choose(runner_t *r)
{
    const runner_conf_t *o = &r->rc;
    for (int i = 0; i < r->ncls; i++)
        r->chosen[i] = o->nclasses == 0;
    for (size_t k = 0; k < o->nclasses; k++) {
        int found = -1;
        for (int i = 0; i < r->ncls; i++)
            if (strcmp(r->cls[i].name, o->classes[k]) == 0) found = i;
        if (found < 0) {
            fprintf(stderr, "cicada: unknown user class '%s' in %s (it has:", o->classes[k],
                    o->locustfile);
            for (int i = 0; i < r->ncls; i++)
                fprintf(stderr, " %s", r->cls[i].name);
            fprintf(stderr, ")\n");
            return -1;
        }
        r->chosen[found] = true;
    }
    return 0;
}

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

/* Add users up to n in all, dealt to engines in turn. */
static void grow_to(runner_t *r, long n)
{
    long *per = xcalloc((size_t)r->neng * LIMIT_CLASSES, sizeof *per);
    while (r->nseq < n) {
        int c = next_class(r);
        if (c < 0) break;
        if (r->nseq == r->capseq) {
            r->capseq = r->capseq ? r->capseq * 2 : 1024;
            r->seq = xrealloc(r->seq, (size_t)r->capseq * sizeof *r->seq);
        }
        r->seq[r->nseq] = c;
        per[(r->nseq % r->neng) * LIMIT_CLASSES + c]++;
        r->class_count[c]++;
        r->nseq++;
    }
    for (int e = 0; e < r->neng; e++)
        for (int c = 0; c < r->ncls; c++)
            if (per[e * LIMIT_CLASSES + c])
                runner_post(r, e, CMD_SPAWN, c, per[e * LIMIT_CLASSES + c]);
    xfree(per);
}

/* Remove users down to n, newest first. */
static void shrink_to(runner_t *r, long n)
{
    while (r->nseq > n) {
        r->nseq--;
        int c = r->seq[r->nseq];
        r->class_count[c]--;
        runner_post(r, (int)(r->nseq % r->neng), CMD_STOP, c, 1);
    }
    memset(r->swrr, 0, sizeof r->swrr);
}

/* Have the engines created every user they were asked for? (1,000,000
 * users take them seconds after the last CMD_SPAWN.) A stuck engine that
 * was given up on does not hold the ramp. */
static bool users_exist(runner_t *r)
{
    for (int i = 0; i < r->neng; i++)
        if (!atomic_load(&r->eng[i]->abandoned) &&
            atomic_load(&r->eng[i]->born) < atomic_load(&r->eng[i]->asked))
            return false;
    return true;
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
            stats_exception_add(r->stats, ex[k]->msg, ex[k]->traceback, ex[k]->nodes, ex[k]->count);
    }
    stats_free(old);
    r->nhist = 0;
    pthread_mutex_unlock(&r->lock);
    r->nseq = 0;
    memset(r->class_count, 0, sizeof r->class_count);
    memset(r->swrr, 0, sizeof r->swrr);
    runner_fire(r, "test_start", 0);
}

void spawn_pick(runner_t *r, const runner_pick_t *pick)
{
    if (r->state != RUNNER_READY && r->state != RUNNER_STOPPED) {
        log_info("user classes are chosen when a test starts: the running ones stay");
        return;
    }
    pthread_mutex_lock(&r->lock); /* the web UI reads ucls */
    for (int i = 0; i < r->ncls && i < LIMIT_CLASSES; i++) {
        r->chosen[i] = pick->chosen[i];
        r->cls[i].weight = r->ucls[i].weight = pick->weight[i];
        r->cls[i].fixed_count = r->ucls[i].fixed_count = pick->fixed_count[i];
    }
    pthread_mutex_unlock(&r->lock);
}

void spawn_start(runner_t *r, long users, double rate, const char *host, double run_time)
{
    int64_t now = clock_ns();
    bool fresh = r->state == RUNNER_READY || r->state == RUNNER_STOPPED;
    if (host && *host) spawn_host(r, host);
    if (fresh) clear_for_test(r);
    if (rate_open(r)) { /* no ramp: users come on demand (runner/rate.h) */
        r->rate = rate;
        r->run_end =
            run_time > 0 ? now + loop_delay_ns(run_time) : (fresh ? INT64_MAX : r->run_end);
        if (run_time > 0) log_info("Run time limit set to %g seconds", run_time);
        if (r->open_remote) return; /* a worker: rate_worker goes on with its master's rates */
        /* a master: the rates first, so no worker ever gets counts alone */
        rate_begin(r, users);
        if (runner_is_master(r))
            r->remote.swarm(r->remote.ud, users, users > 0 ? (double)users : 1,
                            host && *host ? host : r->rc.host);
        return;
    }
    r->target = users;
    r->rate = rate;
    r->ramp_start = now;
    r->ramp_base = r->nseq;
    r->run_end = run_time > 0 ? now + loop_delay_ns(run_time) : (fresh ? INT64_MAX : r->run_end);
    if (run_time > 0) log_info("Run time limit set to %g seconds", run_time);
    log_info("Ramping to %ld users at a rate of %.2f per second", users, rate);
    if (runner_is_master(r))
        r->remote.swarm(r->remote.ud, users, rate, host && *host ? host : r->rc.host);
    else if (users < r->nseq)
        shrink_to(r, users);
    runner_set_state(r, RUNNER_SPAWNING);
}

/* A host change on its own (a shape run started from the UI with a host). */
void spawn_host(runner_t *r, const char *host)
{
    pthread_mutex_lock(&r->lock);
    snprintf(r->host, sizeof r->host, "%s", host);
    pthread_mutex_unlock(&r->lock);
    for (int i = 0; i < r->neng; i++) {
        engine_cmd_t c = {.kind = CMD_HOST, .text = xstrdup(host)};
        engine_post(r->eng[i], &c);
    }
}

void spawn_step(runner_t *r, int64_t now)
{
    if (r->state != RUNNER_SPAWNING) return;
    if (runner_is_master(r)) {
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
        /* in double: elapsed * rate may exceed a long for any huge rate */
        double want = (double)r->ramp_base + elapsed * r->rate + 1;
        long due = want >= (double)r->target ? r->target : (long)want;
        if (due > r->nseq) grow_to(r, due);
        if (r->nseq < due) r->target = r->nseq; /* no class can take users */
    }
    if (r->nseq >= r->target) {
        if (!runner_is_master(r) && !users_exist(r)) return; /* still SPAWNING */
        runner_set_state(r, RUNNER_RUNNING);
        log_spawned(r);
        runner_fire(r, "spawning_complete", r->nseq);
        if (runner_is_worker(r)) {
            if (r->remote.spawned_counts)
                r->remote.spawned_counts(r->remote.ud, r->class_count, r->ncls);
            return; /* the master resets the statistics */
        }
        if (r->rc.reset_stats) {
            runner_reset_stats(r, false);
            log_info("Resetting stats");
        }
    }
}

/* Worker: run exactly counts[c] users of each class, now. New users go to
 * the engines with the fewest planned users; stopped ones come from the
 * engines with the most users of their class. */
void spawn_counts(runner_t *r, const long *counts, const char *host)
{
    /* a master (maybe Locust's) may ask for anything: the ranges of -u */
    double total = 0;
    for (int c = 0; c < r->ncls; c++)
        total += counts[c] > 0 ? (double)counts[c] : 0;
    char why[512] = "";
    if (total > (double)LIMIT_USERS)
        snprintf(why, sizeof why, "%.0f users (at most %ld)", total, LIMIT_USERS);
    else
        runner_users_fit((long)total - r->nseq, why, sizeof why);
    if (why[0]) {
        log_error("the master's spawn message was ignored: %s", why);
        return;
    }
    if (host && *host) spawn_host(r, host);
    if (r->state == RUNNER_READY || r->state == RUNNER_STOPPED) {
        clear_for_test(r);
        memset(r->plan, 0, (size_t)r->neng * LIMIT_CLASSES * sizeof *r->plan);
    }
    runner_set_state(r, RUNNER_SPAWNING);
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
                for (int k = 0; k < r->ncls; k++)
                    n += r->plan[e * LIMIT_CLASSES + k];
                if (best_n < 0 || n < best_n) best = e, best_n = n;
            }
            r->plan[best * LIMIT_CLASSES + c]++;
            delta[best]++;
        }
        for (; r->class_count[c] > want; r->class_count[c]--) {
            int best = 0;
            for (int e = 1; e < r->neng; e++)
                if (r->plan[e * LIMIT_CLASSES + c] > r->plan[best * LIMIT_CLASSES + c]) best = e;
            r->plan[best * LIMIT_CLASSES + c]--;
            delta[best]--;
        }
        for (int e = 0; e < r->neng; e++)
            if (delta[e]) runner_post(r, e, delta[e] > 0 ? CMD_SPAWN : CMD_STOP, c, labs(delta[e]));
        r->nseq += r->class_count[c];
    }
    xfree(delta);
    r->target = r->nseq;
    /* still SPAWNING: spawn_step says spawning_complete once the engines
     * created the users, so that the master's counts are the real ones */
}
