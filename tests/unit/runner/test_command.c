/* Unit tests for the runner's command queue (runner/command.c), issue 8
 * item 15: a full queue never drops a command. A caller finding 64
 * commands waiting blocks until the runner takes them (here a thread
 * standing in for run_commands) and its command is queued; if the runner
 * stays busy, it gets false after about 2 s, and the queue is unchanged. */
#include <pthread.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "base/alloc.h"
#include "check.h"
#include "runner/runner.h"
#include "runner/runner_int.h"

static double now_s(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

/* What run_commands does with the lock held: take every command. */
static void drain(runner_t *r)
{
    pthread_mutex_lock(&r->lock);
    for (int i = 0; i < r->ncmds; i++) {
        xfree(r->cmds[i].host);
        xfree(r->cmds[i].counts);
    }
    r->ncmds = 0;
    pthread_cond_broadcast(&r->cmd_room);
    pthread_mutex_unlock(&r->lock);
}

static void *drain_later(void *arg)
{
    struct timespec ts = {0, 300000000L};
    nanosleep(&ts, NULL);
    drain(arg);
    return NULL;
}

int main(void)
{
    runner_t *r = xcalloc(1, sizeof *r);
    pthread_mutex_init(&r->lock, NULL);
    pthread_cond_init(&r->cmd_room, NULL);

    for (int i = 0; i < RUNNER_MAX_CMDS - 1; i++)
        CHECK(runner_swarm(r, i, 1.0, "http://h", 0));
    CHECK(runner_stop(r));
    CHECK(r->ncmds == RUNNER_MAX_CMDS);

    /* the runner stays busy: refused after the bounded wait, nothing lost */
    double t0 = now_s();
    CHECK(!runner_reset(r));
    double waited = now_s() - t0;
    CHECK_MSG(waited >= 1.5 && waited < 5, "waited %.2f s", waited);
    CHECK(r->ncmds == RUNNER_MAX_CMDS);
    CHECK(r->cmds[0].kind == RC_SWARM && r->cmds[0].users == 0);
    CHECK(r->cmds[RUNNER_MAX_CMDS - 2].kind == RC_SWARM &&
          r->cmds[RUNNER_MAX_CMDS - 2].users == RUNNER_MAX_CMDS - 2);
    CHECK(r->cmds[RUNNER_MAX_CMDS - 1].kind == RC_STOP);

    /* the runner takes the queue meanwhile: the command waits, then is queued */
    pthread_t th;
    pthread_create(&th, NULL, drain_later, r);
    t0 = now_s();
    CHECK(runner_quit(r));
    waited = now_s() - t0;
    pthread_join(th, NULL);
    CHECK_MSG(waited >= 0.2, "waited %.2f s", waited); /* it did wait for room */
    CHECK(r->ncmds == 1 && r->cmds[0].kind == RC_QUIT);

    /* a worker's counts, queued like the rest (copied) */
    long counts[2] = {3, 4};
    runner_spawn_counts(r, counts, 2, NULL);
    CHECK(r->ncmds == 2 && r->cmds[1].kind == RC_COUNTS && r->cmds[1].counts[1] == 4);

    drain(r);
    pthread_cond_destroy(&r->cmd_room);
    pthread_mutex_destroy(&r->lock);
    xfree(r);
    return check_done();
}
