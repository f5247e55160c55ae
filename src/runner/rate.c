/* rate: see rate.h. */
#include "runner/rate.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <pthread.h>
#include <string.h>

#include "base/limits.h"
#include "base/log.h"
#include "runner/runner_int.h"
#include "runner/spawn.h"

bool rate_open(const runner_t *r)
{
    return r->rc.arrival_rate > 0 || r->arrival_shape || r->open_remote;
}

/* Split total over the chosen classes by weight into want. */
static void split(const runner_t *r, double total, double *want)
{
    double sum = 0;
    for (int c = 0; c < r->ncls; c++)
        if (r->chosen[c] && r->cls[c].weight > 0) sum += r->cls[c].weight;
    for (int c = 0; c < r->ncls; c++)
        want[c] =
            sum > 0 && r->chosen[c] && r->cls[c].weight > 0 ? total * r->cls[c].weight / sum : 0;
}

/* Ask cicada.arrival's function for the rates at the current run time.
 * Returns false when it ended the test. */
static bool ask(runner_t *r, double *want)
{
    lua_State *L = r->shape_L;
    double t = (double)(clock_ns() - r->rate_start) / 1e9;
    lua_getglobal(L, "cicada");
    lua_getfield(L, -1, "_arrival_tick");
    lua_pushnumber(L, t);
    if (lua_pcall(L, 1, 1, 0) != 0) {
        log_error("cicada.arrival: %s: stopping the test", lua_tostring(L, -1));
        lua_settop(L, 0);
        return false;
    }
    bool ok = true;
    if (lua_isnil(L, -1)) {
        log_info("Arrival rate function ended: stopping");
        ok = false;
    } else if (lua_istable(L, -1)) {
        for (int c = 0; c < r->ncls; c++) {
            lua_getfield(L, -1, r->cls[c].name);
            want[c] = r->chosen[c] ? lua_tonumber(L, -1) : 0;
            lua_pop(L, 1);
        }
    } else {
        split(r, lua_tonumber(L, -1), want);
    }
    lua_settop(L, 0);
    for (int c = 0; ok && c < r->ncls; c++)
        if (!(want[c] >= 0 && want[c] <= LIMIT_SPAWN_RATE)) {
            log_error("cicada.arrival: class %s got a rate of %g per second (0 to %.0f): "
                      "stopping the test",
                      r->cls[c].name, want[c], LIMIT_SPAWN_RATE);
            ok = false;
        }
    return ok;
}

/* Tell the engines the classes' rates that changed (all with force); a
 * master tells its workers, through its dispatcher. */
static void post(runner_t *r, const double *want, bool force)
{
    int nslots = r->neng * r->open_nworkers;
    long users = r->target; /* this process's share of -u (a worker's comes from its master) */
    bool changed = force;
    for (int c = 0; c < r->ncls; c++)
        changed |= want[c] != r->class_rate[c];
    if (changed && runner_is_master(r) && r->remote.rates) {
        pthread_mutex_lock(&r->lock); /* the web UI reads class_rate */
        memcpy(r->class_rate, want, (size_t)r->ncls * sizeof *want);
        pthread_mutex_unlock(&r->lock);
        r->remote.rates(r->remote.ud, want, r->ncls);
        return;
    }
    for (int c = 0; c < r->ncls; c++) {
        if (!force && want[c] == r->class_rate[c]) continue;
        r->class_rate[c] = want[c];
        for (int i = 0; i < r->neng; i++) {
            int slot = r->open_windex + i * r->open_nworkers;
            long share = users / r->neng + (i < users % r->neng);
            engine_cmd_t cmd = {.kind = CMD_RATE,
                                .cls = c,
                                .count = share,
                                .rate = want[c],
                                .slot = slot,
                                .nslots = nslots};
            engine_post(r->eng[i], &cmd);
        }
    }
}

/* Start with the rates given (a worker's, from its master), or the ones
 * of --arrival-rate or cicada.arrival. */
static void begin(runner_t *r, long users, const double *given)
{
    double want[LIMIT_CLASSES] = {0};
    bool fresh = !r->rate_on;
    if (fresh) r->rate_start = clock_ns();
    if (r->open_nworkers < 1) r->open_nworkers = 1;
    r->target = users;
    if (given) {
        memcpy(want, given, (size_t)r->ncls * sizeof *want);
    } else if (r->arrival_shape) {
        if (!ask(r, want)) {
            r->rate_ended = true;
            return;
        }
    } else {
        split(r, r->rc.arrival_rate, want);
    }
    double total = 0;
    for (int c = 0; c < r->ncls; c++)
        total += want[c];
    /* a worker hears again at every step of its master's ramp: said once */
    if (fresh || users != r->rate_users)
        log_info("Open model: %.2f iterations per second, at most %ld users", total, users);
    r->rate_users = users;
    r->rate_on = true;
    post(r, want, true);
    runner_set_state(r, RUNNER_RUNNING);
    if (fresh) runner_fire(r, "spawning_complete", 0);
}

void rate_begin(runner_t *r, long users)
{
    begin(r, users, NULL);
}

void rate_worker(runner_t *r, const long *counts, const double *rates, int windex, int nworkers,
                 const char *host)
{
    long users = 0;
    for (int c = 0; c < r->ncls; c++)
        users += counts[c] > 0 ? counts[c] : 0;
    if (users > LIMIT_USERS || nworkers < 1 || windex < 0 || windex >= nworkers) {
        log_error("the master's spawn message was ignored: %ld users, worker %d of %d", users,
                  windex, nworkers);
        return;
    }
    for (int c = 0; c < r->ncls; c++)
        if (!(rates[c] >= 0 && rates[c] <= LIMIT_SPAWN_RATE)) {
            log_error("the master's spawn message was ignored: class %s at %g per second",
                      r->cls[c].name, rates[c]);
            return;
        }
    r->open_remote = true;
    r->open_windex = windex;
    r->open_nworkers = nworkers;
    if (r->state != RUNNER_RUNNING)
        spawn_start(r, users, 1, host, 0);
    else if (host && *host)
        spawn_host(r, host);
    begin(r, users, rates);
    if (r->remote.spawned_counts) r->remote.spawned_counts(r->remote.ud, counts, r->ncls);
}

bool rate_step(runner_t *r)
{
    if (!r->rate_on) return true;
    if (r->rate_ended) return false;
    /* a worker follows its master's rates, never its own copy of the function */
    if (!r->arrival_shape || runner_is_worker(r)) return true;
    /* a master's changes go to every worker in a spawn message: 10 a second
     * at most; an engine thread is told at every tick (a command) */
    int64_t now = clock_ns();
    if (runner_is_master(r) && now - r->rate_asked < 100000000LL) return true;
    r->rate_asked = now;
    double want[LIMIT_CLASSES] = {0};
    if (!ask(r, want)) return false;
    post(r, want, false);
    return true;
}

double rate_requested(const runner_t *r)
{
    double total = 0;
    for (int c = 0; c < r->ncls; c++)
        total += r->class_rate[c];
    return total;
}

void rate_end(runner_t *r)
{
    r->rate_on = false;
    r->rate_ended = false;
    memset(r->class_rate, 0, sizeof r->class_rate);
}
