/* shape: the load shape (cicada.shape) of a scenario.
 *
 * A scenario may define a shape: a Lua function of the run time that
 * returns (users, spawn rate[, user classes]), or nil to end the test.
 * The runner keeps the VM it loaded the scenario into for the shape (the
 * engines have their own) and calls it once a second through the prelude's
 * cicada._shape_tick; whenever the answer changes it starts a swarm toward
 * it. A shape decides users, rate and run time alone, so those options are
 * refused with it. It does not ramp by itself: spawn.c does. */
#include "runner/shape.h"

#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "base/log.h"
#include "runner/runner_int.h"
#include "runner/spawn.h"

#include <lauxlib.h>
#include <lua.h>

int shape_adopt(runner_t *r, struct lua_State *L)
{
    const runner_conf_t *o = &r->rc;
    lua_getglobal(L, "cicada");
    lua_getfield(L, -1, "_has_shape");
    lua_call(L, 0, 1);
    bool shape = lua_toboolean(L, -1);
    lua_getfield(L, -2, "_has_arrival");
    lua_call(L, 0, 1);
    bool arrival = lua_toboolean(L, -1);
    lua_pop(L, 3);
    if (!shape && !arrival) {
        vm_free(L);
        return 0;
    }
    r->shape_L = L;
    if (arrival) { /* the open model's rates over time (runner/rate.c) */
        r->arrival_shape = true;
        if (shape || o->arrival_rate > 0) {
            fprintf(stderr,
                    "cicada: %s defines arrival rates over time (cicada.arrival): it cannot "
                    "also have %s\n",
                    o->locustfile, shape ? "a load shape (cicada.shape)" : "--arrival-rate");
            return -1;
        }
        return 0;
    }
    if (o->users >= 0 || o->spawn_rate > 0 || o->run_time > 0) {
        fprintf(stderr,
                "cicada: %s defines a load shape (cicada.shape): it sets the users, spawn "
                "rate and run time, so -u/--users, -r/--spawn-rate and -t/--run-time cannot "
                "be used with it\n",
                o->locustfile);
        return -1;
    }
    return 0;
}

void shape_begin(runner_t *r)
{
    r->shape_active = true;
    r->shape_start = clock_ns();
    shape_step(r);
}

/* One tick of the load shape: ask it for (users, rate[, classes]) at the
 * current run time and follow it; nil ends the test. Returns false when the
 * shape has ended. */
bool shape_step(runner_t *r)
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
    /* the ranges of -u and -r (base/limits.h): a shape that asks for more
     * (or for NaN) ends the test with the reason, never an overflow */
    double want = lua_tonumber(L, -3), rate = lua_tonumber(L, -2);
    char why[256] = "";
    if (!(want <= (double)LIMIT_USERS) || !(rate <= LIMIT_SPAWN_RATE) || rate != rate)
        snprintf(why, sizeof why, "returned %g users at %g/s (at most %ld users, %.0f/s)", want,
                 rate, LIMIT_USERS, LIMIT_SPAWN_RATE);
    else if (!runner_is_master(r) && want > (double)r->nseq)
        runner_users_fit((long)want - r->nseq, why, sizeof why); /* fills why if not */
    if (why[0]) {
        lua_settop(L, 0);
        log_error("load shape: %s: stopping the test", why);
        return false;
    }
    long users = want > 0 ? (long)want : 0;
    if (lua_istable(L, -1)) {
        bool any = false;
        for (int i = 0; i < r->ncls; i++)
            r->chosen[i] = false;
        for (int k = 1;; k++) {
            lua_rawgeti(L, -1, k);
            const char *name = lua_tostring(L, -1);
            lua_pop(L, 1);
            if (name == NULL) break;
            for (int i = 0; i < r->ncls; i++)
                if (strcmp(r->cls[i].name, name) == 0) r->chosen[i] = any = true;
        }
        if (!any) spawn_choose(r);
    }
    lua_settop(L, 0);
    if (users < 0) users = 0;
    if (!(rate > 0)) rate = 1;
    bool running = r->state == RUNNER_SPAWNING || r->state == RUNNER_RUNNING;
    if (!running || users != r->target || rate != r->rate) spawn_start(r, users, rate, NULL, 0);
    return true;
}
