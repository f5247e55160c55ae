/* view: what the other threads read of the runner — its state, users,
 * statistics, history and classes for the web UI, the master and the
 * reports (runner_report fills a report_run_t), each read under the
 * runner's lock (runner_lock), which the caller holds while it uses what
 * it got — and the remote hooks a master or worker sets. */
#include "runner/runner.h"

#include <pthread.h>
#include <string.h>

#include "base/alloc.h"
#include "runner/rate.h"
#include "runner/runner_int.h"

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
    if (runner_is_master(r)) return r->remote.user_count(r->remote.ud);
    long n = 0;
    for (int i = 0; i < r->neng; i++)
        if (!atomic_load(&r->eng[i]->abandoned)) n += atomic_load(&r->eng[i]->live_users);
    return n;
}

/* A swarm's rate is above 0, so a rate of 0 means none has run yet. */
long runner_target(runner_t *r)
{
    return r->rate > 0 ? r->target : r->rc.users;
}

double runner_rate(runner_t *r)
{
    return r->rate > 0 ? r->rate : r->rc.spawn_rate;
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
        for (int e = 0; e < r->neng; e++)
            if (!atomic_load(&r->eng[e]->abandoned)) u += atomic_load(&r->eng[e]->class_users[i]);
        if (runner_is_master(r)) u = r->remote.class_users(r->remote.ud, i);
        r->ucls[i].users = u;
        r->ucls[i].selected = r->chosen[i];
    }
    *n = (size_t)r->ncls;
    return r->ucls;
}

const runner_conf_t *runner_conf(runner_t *r)
{
    return &r->rc;
}

void runner_report(runner_t *r, report_run_t *out)
{
    *out = (report_run_t){.st = r->stats,
                          .state = runner_state_name(r->state),
                          .user_count = runner_user_count(r),
                          .target = runner_target(r),
                          .rate = runner_rate(r),
                          .arrival_rate = rate_requested(r),
                          .host = r->host,
                          .script = r->rc.locustfile,
                          .class_picker = r->rc.class_picker && !r->rc.master,
                          .master = runner_is_master(r),
                          .hist = r->hist,
                          .nhist = r->nhist,
                          .thresholds = r->thr,
                          .nthresholds = r->nthr};
    out->cls = runner_classes(r, &out->ncls);
    if (runner_is_master(r)) {
        /* the buffer is read and written under the lock only */
        if (r->workers == NULL) r->workers = xcalloc(RUNNER_MAX_WORKERS, sizeof *r->workers);
        out->workers = r->workers;
        out->nworkers = runner_workers(r, r->workers, RUNNER_MAX_WORKERS);
        if (out->nworkers > RUNNER_MAX_WORKERS) out->nworkers = RUNNER_MAX_WORKERS;
    }
}

/* ---- master/worker ---- */

void runner_set_remote(runner_t *r, const runner_remote_t *rm)
{
    r->remote = *rm;
    r->has_remote = true;
}

size_t runner_workers(runner_t *r, runner_worker_t *out, size_t max)
{
    if (!runner_is_master(r) || r->remote.workers == NULL) return 0;
    return r->remote.workers(r->remote.ud, out, max);
}
