/* stop: how a run stops, the main thread's side (the rule users see is
 * in docs/cli.md, "How a run stops"; the engine's side is in engine.c).
 *
 * stop_users walks the steps: CMD_STOP_ALL, then after the grace CMD_CUT,
 * then after on_stop's second CMD_FORCE (at once on a second Ctrl-C),
 * collecting statistics meanwhile. A master only tells its workers and
 * waits. stop_engines ends the engine threads and merges what they hold.
 *
 * Both watch the engines: an engine busy for too long (away from its loop,
 * in practice a Lua task that never yields) is asked, through a hook, to
 * raise an error in that task, and abandoned if it does not come back: its
 * statistics are taken and the run goes on without it, so no stop ever
 * waits on a thread forever. While running, stop_watch names such a thread
 * in a warning after 5 s. */
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "engine/engine.h"
#include "runner/rate.h"
#include "runner/runner_int.h"
#include "lua/vm.h"

#define SEC 1000000000LL

/* One wait of the main loop's tick, 20 ms (a signal cuts it short). */
static void tick(void)
{
    struct timespec ts = {0, 20000000L};
    nanosleep(&ts, NULL);
}

/* What the main thread knows of each engine's health (runner_int.h). */
struct watch {
    uint64_t resumes;       /* the engine's resume count when last seen */
    int64_t same_since;     /* since when it has not moved */
    int64_t located_at;     /* HOOK_LOCATE sent (0: not stuck) */
    bool warned;            /* the warning for this stall is out */
    int64_t interrupted_at; /* HOOK_STOP sent (0: not yet) */
};

struct watch *stop_watch_new(int neng)
{
    return xcalloc((size_t)neng + 1, sizeof(struct watch));
}

#define ON_STOP_NS SEC              /* on_stop's time after the cut */
#define STUCK_WARN_NS (5 * SEC)     /* away from its loop this long: warn */
#define HOOK_WAIT_NS (SEC * 3 / 10) /* how long the hook gets to stop a task */

/* How long engine i has been stuck in one callback: away from its loop
 * with its resume count standing still (to the last look, once a tick). */
static int64_t stuck_ns(runner_t *r, int i, int64_t now)
{
    struct watch *w = &r->watch[i];
    int64_t busy = engine_busy_ns(r->eng[i]);
    uint64_t n = engine_resumes(r->eng[i]);
    if (busy == 0 || n != w->resumes || w->same_since == 0) {
        w->resumes = n;
        w->same_since = now;
    }
    int64_t same = now - w->same_since;
    return busy < same ? busy : same;
}

static bool abandoned(const runner_t *r, int i)
{
    return atomic_load(&r->eng[i]->abandoned);
}

/* Give up on engine i, stuck in Lua code that never comes back to its
 * loop: take what it measured, and never join or free it. */
static void abandon(runner_t *r, int i)
{
    char where[512];
    engine_where(r->eng[i], where, sizeof where);
    log_warn("engine thread %d is stuck in Lua code that never gives control back (%s) and "
             "did not stop: going on without it",
             i + 1, where);
    stats_shard_t *out = NULL, *s = engine_abandon(r->eng[i], &out);
    pthread_mutex_lock(&r->lock);
    if (s) stats_merge(r->stats, s);
    if (out) stats_merge(r->stats, out);
    pthread_mutex_unlock(&r->lock);
}

/* While running: name a thread that has not come back to its loop for
 * STUCK_WARN_NS, once per stall, after the hook had a moment to find
 * file:line. */
void stop_watch(runner_t *r, int64_t now)
{
    for (int i = 0; i < r->neng; i++) {
        struct watch *w = &r->watch[i];
        int64_t busy = stuck_ns(r, i, now);
        if (busy < STUCK_WARN_NS || abandoned(r, i)) {
            w->located_at = 0;
            w->warned = false;
            continue;
        }
        if (w->located_at == 0) {
            engine_interrupt(r->eng[i], HOOK_LOCATE);
            w->located_at = now;
        } else if (!w->warned && now - w->located_at >= HOOK_WAIT_NS) {
            char where[512];
            engine_where(r->eng[i], where, sizeof where);
            log_warn("engine thread %d has not come back to its loop for %.0f s: %s (a loop with "
                     "no request, sleep or socket call in it?)",
                     i + 1, (double)busy / 1e9, where);
            w->warned = true;
        }
    }
}

/* While stopping: an engine busy for longer than limit did not take the
 * stop; ask the task it runs to end (the hook), and abandon the engine if
 * it still does not come back. */
static void watch_stopping(runner_t *r, int64_t now, int64_t limit)
{
    for (int i = 0; i < r->neng; i++) {
        struct watch *w = &r->watch[i];
        if (abandoned(r, i) || engine_done(r->eng[i])) continue; /* done: its stamp is stale */
        if (stuck_ns(r, i, now) < limit) {
            w->interrupted_at = 0;
        } else if (w->interrupted_at == 0) {
            engine_interrupt(r->eng[i], HOOK_STOP);
            w->interrupted_at = now;
        } else if (now - w->interrupted_at >= HOOK_WAIT_NS) {
            abandon(r, i);
        }
    }
}

/* A master's stop: its workers stop their own users. */
static void stop_remote(runner_t *r)
{
    r->remote.stop(r->remote.ud);
    double grace = (r->rc.stop_timeout > 0 ? r->rc.stop_timeout : 1.0) + ON_STOP_NS / 1e9;
    grace += 3; /* the workers' own stop, and their client_stopped on the way */
    int64_t now = clock_ns(), deadline = now + (int64_t)(grace * 1e9), last_collect = now;
    int seen = runner_signals();
    while (runner_user_count(r) > 0 && runner_signals() == seen && now < deadline) {
        if (now - last_collect >= SEC) {
            runner_collect(r);
            last_collect = now;
        }
        tick();
        now = clock_ns();
    }
}

/* Stop every user. No user starts a new request; a request in flight gets
 * the grace (--stop-timeout, or 1 s), and with --stop-timeout tasks may
 * run on until then. After the grace, CMD_CUT cuts what is still in
 * flight and every user runs on_stop, which gets ON_STOP_NS; then
 * CMD_FORCE ends what is left. A second Ctrl-C forces at once. */
void stop_users(runner_t *r)
{
    if (r->state != RUNNER_SPAWNING && r->state != RUNNER_RUNNING) return;
    runner_set_state(r, RUNNER_STOPPING);
    runner_post_all(r, CMD_STOP_ALL);
    if (runner_is_master(r)) {
        stop_remote(r);
    } else {
        double grace = r->rc.stop_timeout > 0 ? r->rc.stop_timeout : 1.0;
        int64_t t0 = clock_ns(), now = t0, last_collect = t0;
        int64_t cut_at = t0 + (int64_t)(grace * 1e9), force_at = cut_at + ON_STOP_NS;
        int seen = runner_signals(), phase = 0; /* 0 grace, 1 cut (on_stop), 2 forced */
        while (runner_user_count(r) > 0) {
            if (phase < 2 && runner_signals() != seen) {
                log_info("Second interrupt: stopping at once");
                force_at = now;
                if (phase == 0) phase = 1;
            }
            if (phase == 0 && now >= cut_at) {
                runner_post_all(r, CMD_CUT);
                phase = 1;
            }
            if (phase == 1 && now >= force_at) {
                runner_post_all(r, CMD_FORCE);
                phase = 2;
            }
            /* a thread that was already away from its loop a second before the
             * stop, or for a second since the cut, or at all once forced */
            watch_stopping(r, now, phase == 0 ? now - t0 + SEC : phase == 1 ? SEC : SEC / 5);
            if (now - last_collect >= SEC) {
                runner_collect(r);
                last_collect = now;
            }
            tick();
            now = clock_ns();
        }
    }
    r->nseq = 0;
    memset(r->class_count, 0, sizeof r->class_count);
    memset(r->plan, 0, (size_t)r->neng * LIMIT_CLASSES * sizeof *r->plan);
    r->run_end = INT64_MAX;
    r->shape_active = false;
    rate_end(r);
    runner_fire(r, "test_stop", 0);
    runner_set_state(r, RUNNER_STOPPED);
    runner_collect(r);
}

/* End the engine threads and merge what they still hold. A thread that
 * does not leave its loop (stuck in a quitting listener) is abandoned. */
void stop_engines(runner_t *r)
{
    runner_fire(r, "quitting", 0);
    runner_post_all(r, CMD_QUIT);
    runner_collect(r);
    int64_t now = clock_ns(), deadline = now + 2 * SEC;
    for (;;) {
        int left = 0;
        for (int i = 0; i < r->neng; i++)
            left += !abandoned(r, i) && !engine_done(r->eng[i]);
        if (left == 0) break;
        if (now >= deadline) {
            for (int i = 0; i < r->neng; i++)
                if (!abandoned(r, i) && !engine_done(r->eng[i])) abandon(r, i);
            break;
        }
        watch_stopping(r, now, SEC / 5);
        tick();
        now = clock_ns();
    }
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->neng; i++) {
        if (abandoned(r, i)) continue;
        stats_merge(r->stats, engine_join(r->eng[i]));
        stats_shard_t *o = engine_take_shard(r->eng[i]);
        if (o) {
            stats_merge(r->stats, o);
            engine_give_shard(r->eng[i], o);
        }
    }
    r->nstarted = 0;
    pthread_mutex_unlock(&r->lock);
}
