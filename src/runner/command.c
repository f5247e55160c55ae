/* command: the runner's queue of commands from other threads.
 *
 * The web UI's threads and the master/worker link ask the runner to
 * swarm, stop, reset, quit or run given counts by queueing a command; the
 * runner's loop takes the whole queue once a tick (run_commands in
 * runner.c) and runs it in order on its own thread. The queue holds
 * RUNNER_MAX_CMDS commands. It never drops one: a caller that finds it
 * full (the runner busy, e.g. waiting for users to stop) waits on a
 * condition variable, signalled whenever the runner empties the queue,
 * for up to RUNNER_QUEUE_WAIT_MS, and then gets false, so that the web UI
 * answers 503 instead of "Swarming started" for a command that will never
 * run. Everything here takes r->lock; nothing runs on the runner's thread. */
#include <pthread.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "base/log.h"
#include "runner/runner.h"
#include "runner/runner_int.h"

/* Add c to the queue. A full queue (the runner is busy, e.g. stopping
 * users) is waited on for up to RUNNER_QUEUE_WAIT_MS, never overflowed:
 * a command is either queued, and will run, or refused with false (its
 * strings freed), so that no caller reports success for a dropped one. */
static bool queue(runner_t *r, rcmd_t c)
{
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until); /* pthread_cond_timedwait's clock */
    until.tv_sec += RUNNER_QUEUE_WAIT_MS / 1000;
    until.tv_nsec += (RUNNER_QUEUE_WAIT_MS % 1000) * 1000000L;
    if (until.tv_nsec >= 1000000000L) until.tv_sec++, until.tv_nsec -= 1000000000L;
    pthread_mutex_lock(&r->lock);
    while (r->ncmds == RUNNER_MAX_CMDS &&
           pthread_cond_timedwait(&r->cmd_room, &r->lock, &until) == 0)
        ;
    bool ok = r->ncmds < RUNNER_MAX_CMDS;
    if (ok) r->cmds[r->ncmds++] = c;
    pthread_mutex_unlock(&r->lock);
    if (!ok) {
        log_warn("the runner is busy: %d commands are waiting; one more was refused",
                 RUNNER_MAX_CMDS);
        xfree(c.host);
        xfree(c.counts);
        xfree(c.pick);
        xfree(c.rates);
    }
    return ok;
}

bool runner_swarm(runner_t *r, long users, double spawn_rate, const char *host, double run_time)
{
    return runner_swarm_pick(r, users, spawn_rate, host, run_time, NULL);
}

bool runner_swarm_pick(runner_t *r, long users, double spawn_rate, const char *host,
                       double run_time, const runner_pick_t *pick)
{
    runner_pick_t *copy = NULL;
    if (pick) {
        copy = xmalloc(sizeof *copy);
        *copy = *pick;
    }
    return queue(r, (rcmd_t){.kind = RC_SWARM,
                             .users = users,
                             .rate = spawn_rate,
                             .run_time = run_time,
                             .host = host && *host ? xstrdup(host) : NULL,
                             .pick = copy});
}

bool runner_stop(runner_t *r)
{
    return queue(r, (rcmd_t){.kind = RC_STOP});
}

bool runner_reset(runner_t *r)
{
    return queue(r, (rcmd_t){.kind = RC_RESET});
}

bool runner_quit(runner_t *r)
{
    return queue(r, (rcmd_t){.kind = RC_QUIT});
}

void runner_message(runner_t *r, const void *frame, size_t len)
{
    pthread_mutex_lock(&r->lock); /* r->nstarted: the engines still run */
    for (int i = 0; i < r->neng && r->nstarted > 0; i++) {
        engine_cmd_t c = {.kind = CMD_MESSAGE, .count = (long)len, .text = xmalloc(len ? len : 1)};
        memcpy(c.text, frame, len);
        engine_post(r->eng[i], &c);
    }
    pthread_mutex_unlock(&r->lock);
}

void runner_spawn_counts(runner_t *r, const long *counts, int n, const char *host)
{
    long *copy = xcalloc(LIMIT_CLASSES, sizeof *copy);
    for (int i = 0; i < n && i < LIMIT_CLASSES; i++)
        copy[i] = counts[i];
    char *h = host && *host ? xstrdup(host) : NULL;
    if (!queue(r, (rcmd_t){.kind = RC_COUNTS, .counts = copy, .host = h}))
        log_error("the master's spawn message was refused: the runner is busy");
}

void runner_spawn_open(runner_t *r, const long *counts, const double *rates, int n, int windex,
                       int nworkers, const char *host)
{
    long *copy = xcalloc(LIMIT_CLASSES, sizeof *copy);
    double *rc = xcalloc(LIMIT_CLASSES, sizeof *rc);
    for (int i = 0; i < n && i < LIMIT_CLASSES; i++) {
        copy[i] = counts[i];
        rc[i] = rates[i];
    }
    char *h = host && *host ? xstrdup(host) : NULL;
    if (!queue(r, (rcmd_t){.kind = RC_COUNTS,
                           .counts = copy,
                           .host = h,
                           .rates = rc,
                           .windex = windex,
                           .nworkers = nworkers}))
        log_error("the master's spawn message was refused: the runner is busy");
}
