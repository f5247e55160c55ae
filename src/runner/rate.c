/* rate: see rate.h. */
#include "runner/rate.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <string.h>

#include "base/limits.h"
#include "base/log.h"
#include "runner/runner_int.h"

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
        want[c] = sum > 0 && r->chosen[c] && r->cls[c].weight > 0 ? total * r->cls[c].weight / sum
                                                                   : 0;
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

/* Tell the engines the classes' rates that changed (all with force). */
static void post(runner_t *r, const double *want, bool force)
{
    int nslots = r->neng * r->open_nworkers;
    long users = r->target; /* this process's share of -u (a worker's comes from its master) */
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

void rate_begin(runner_t *r, long users)
{
    double want[LIMIT_CLASSES] = {0};
    bool fresh = !r->rate_on;
    if (fresh) r->rate_start = clock_ns();
    if (r->open_nworkers < 1) r->open_nworkers = 1;
    r->target = users;
    if (r->arrival_shape) {
        if (!ask(r, want)) {
            r->rate_ended = true;
            return;
        }
    } else {
        split(r, r->open_remote ? r->open_total : r->rc.arrival_rate, want);
    }
    double total = 0;
    for (int c = 0; c < r->ncls; c++) total += want[c];
    log_info("Open model: %.2f iterations per second, at most %ld users", total, users);
    r->rate_on = true;
    post(r, want, true);
    runner_set_state(r, RUNNER_RUNNING);
    if (fresh) runner_fire(r, "spawning_complete", 0);
}

bool rate_step(runner_t *r)
{
    if (!r->rate_on) return true;
    if (r->rate_ended) return false;
    if (!r->arrival_shape) return true;
    double want[LIMIT_CLASSES] = {0};
    if (!ask(r, want)) return false;
    post(r, want, false);
    return true;
}

double rate_requested(const runner_t *r)
{
    double total = 0;
    for (int c = 0; c < r->ncls; c++) total += r->class_rate[c];
    return total;
}

void rate_end(runner_t *r)
{
    r->rate_on = false;
    r->rate_ended = false;
    memset(r->class_rate, 0, sizeof r->class_rate);
}
