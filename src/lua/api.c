/* api: the C half of the scenario API. See api.h.
 *
 * Blocking-looking calls are C functions that start the operation and
 * return lua_yield(): the coroutine parks, the engine's loop runs, and the
 * engine resumes it with the result (LuaJIT lets C functions yield, and
 * yields cross pcall, so user code and the prelude's error handling see an
 * ordinary call). The engine is the thread's (engine_self, engine/engine.h):
 * every VM lives on one engine thread, and the main thread's VM (used only
 * to load and inspect the scenario) has none.
 *
 * The HTTP client's methods live in lua/http.c. */
#include "lua/api.h"
#include "lua/batch.h"
#include "lua/binding.h"
#include "lua/cosocket.h"
#include "lua/http.h"
#include "lua/json.h"
#include "lua/ngx.h"
#include "lua/data.h"
#include "lua/msg.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "base/limits.h"
#include "base/log.h"
#include "engine/engine.h"
#include "lua/vm.h"

static char stop_key;  /* its address is the STOP sentinel */
static char sleep_key; /* its address is _SLEEP: the prelude's yield to sleep */

void api_push_stop(lua_State *L)
{
    lua_pushlightuserdata(L, &stop_key);
}

/* Like Lua 5.2's luaL_tolstring: tostring() of any value, pushed. */
const char *api_tostr(lua_State *L, int idx, size_t *len)
{
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    lua_getglobal(L, "tostring");
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
    const char *s = lua_tolstring(L, -1, len);
    return s ? s : "";
}

user_t *api_current(lua_State *L, const char *what)
{
    engine_t *eng = engine_self();
    if (eng == NULL || eng->current == NULL)
        luaL_error(L, "%s can only be called from a running user (in a task, on_start or on_stop)",
                   what);
    return eng->current;
}

bool api_user_running(void)
{
    engine_t *eng = engine_self();
    return eng && eng->current;
}

/* Would a blocking call now stop the user instead? (With --stop-timeout
 * the task may go on until the grace is over: then u->cut.) */
bool api_must_stop(const user_t *u)
{
    return u->stopping && !u->in_on_stop && (!u->eng->graceful || u->cut);
}

/* The request event: hand the request to the scenario's listeners, which
 * may turn it into a failure. Runs on the engine's callback thread, never
 * on a user's coroutine (which may be suspended). */
static const char *fire_request(engine_t *e, const char *method, const char *name, long long rt_us,
                                long long len, const char *err)
{
    lua_State *L = e->Lcb;
    lua_getglobal(L, "cicada");
    lua_getfield(L, -1, "_fire_request");
    lua_pushstring(L, method);
    lua_pushstring(L, name);
    if (rt_us >= 0)
        lua_pushnumber(L, (double)rt_us / 1000.0);
    else
        lua_pushnil(L);
    lua_pushnumber(L, (double)len);
    if (err)
        lua_pushstring(L, err);
    else
        lua_pushnil(L);
    const char *out = err;
    e->in_event = true;
    int rc = lua_pcall(L, 5, 1, 0);
    e->in_event = false;
    if (rc == 0) {
        if (lua_isstring(L, -1)) {
            buf_t *b = &e->event_err;
            buf_set(b, lua_tostring(L, -1), lua_objlen(L, -1));
            out = b->p;
        } else {
            out = NULL;
        }
    }
    lua_settop(L, 0);
    return out;
}

/* The one way a request is recorded: plain, catch_response settled by
 * success()/failure() or implicitly (binding_flush), cicada.report.
 * The listeners see it exactly once; a cicada.report from inside a
 * listener is recorded without firing them again. */
void api_record(engine_t *e, const char *method, const char *name, long long rt_us, long long len,
                const char *err)
{
    if (e->request_events && !e->in_event) err = fire_request(e, method, name, rt_us, len, err);
    stats_shard_request(e->shard, method, name, rt_us, len, err, engine_wall(e));
}

/* ---- cicada.* ---- */

static int l_now(lua_State *L)
{
    lua_pushnumber(L, (double)clock_ns() / 1e9);
    return 1;
}

/* Park u for s seconds (between: the wait between two tasks). Returns
 * SLEEP_PARKED (u waits for its timer or its turn), SLEEP_NOW (go on at
 * once, nothing pushed), SLEEP_STOP (STOP pushed on L) or SLEEP_NAN (an
 * error message pushed on L). */
enum { SLEEP_PARKED, SLEEP_NOW, SLEEP_STOP, SLEEP_NAN };
static int sleep_user(user_t *u, lua_State *L, double s, bool between)
{
    if (api_must_stop(u) || (between && u->stopping && !u->in_on_stop)) {
        api_push_stop(L);
        return SLEEP_STOP;
    }
    /* NaN is a bug in the scenario: say so (negatives wait 0, like
     * gevent.sleep; waits past LIMIT_SECONDS are cut to it, below) */
    if (s != s) {
        lua_pushstring(L, between ? "wait_time returned nan (a number of seconds expected)"
                                  : "cicada.sleep(nan): a number of seconds expected");
        return SLEEP_NAN;
    }
    u->between = between;
    if (!(s > 0)) {
        /* A zero wait after a task that parked on I/O needs no extra trip
         * through the loop; a task that never blocks must still let the
         * other users run. */
        if (between && u->parked) {
            u->parked = false;
            return SLEEP_NOW;
        }
        u->parked = false;
        engine_yield(u);
    } else {
        u->parked = false;
        engine_sleep(u, clock_ns() + loop_delay_ns(s));
    }
    return SLEEP_PARKED;
}

/* _sleep(seconds, between_tasks): returns nothing, or STOP when the user
 * must stop (the prelude raises it). The wait between tasks, and
 * cicada.sleep where its yield of _SLEEP does not apply (zero or not a
 * number, or outside a user's coroutine, where the error names the call). */
static int l_sleep(lua_State *L)
{
    user_t *u = api_current(L, "cicada.sleep");
    switch (sleep_user(u, L, luaL_optnumber(L, 1, 0), lua_toboolean(L, 2))) {
    case SLEEP_NOW:
        return 0;
    case SLEEP_STOP:
        return 1;
    case SLEEP_NAN: /* like luaL_error: the caller's file:line first */
        luaL_where(L, 1);
        lua_insert(L, -2);
        lua_concat(L, 2);
        return lua_error(L);
    default:
        return lua_yield(L, 0);
    }
}

/* cicada.sleep yields (_SLEEP, seconds) itself rather than calling C (see
 * the prelude's sleep()): a C call needs LUA_MINSTACK free slots above it,
 * which would double a fresh coroutine's stack (376 to 752 bytes, never
 * shrunk back) for every user that sleeps in on_start. */
int api_yielded(user_t *u)
{
    lua_State *L = u->co;
    if (lua_gettop(L) != 2 || lua_touserdata(L, 1) != &sleep_key) return -1;
    double s = lua_tonumber(L, 2);
    lua_settop(L, 0);
    /* s > 0, the prelude sends nothing else: u is parked, or must stop */
    return sleep_user(u, L, s, false) == SLEEP_STOP ? 1 : -1;
}

/* _idle(): the open model's end of an iteration (engine/arrival.h):
 * returns at once when the user has an iteration to begin, else parks it
 * until its next one; returns STOP when the user must stop. */
static int l_idle(lua_State *L)
{
    user_t *u = api_current(L, "cicada._idle");
    switch (engine_idle(u)) {
    case IDLE_GO:
        return 0;
    case IDLE_STOP:
        api_push_stop(L);
        return 1;
    default:
        return lua_yield(L, 0);
    }
}

/* cicada.scheduled(): the open model's scheduled start of the running
 * iteration, on cicada.now()'s clock, until its first request completes;
 * nil otherwise (the closed model, on_start, after that request). */
static int l_scheduled(lua_State *L)
{
    user_t *u = api_current(L, "cicada.scheduled");
    if (u->sched <= 0) return 0;
    lua_pushnumber(L, (double)u->sched / 1e9);
    return 1;
}

/* _exception(msg, traceback): count an exception; returns false where
 * there are no statistics (the main thread's VM). */
static int l_exception(lua_State *L)
{
    engine_t *eng = engine_self();
    lua_pushboolean(L, eng != NULL);
    if (eng == NULL) return 1;
    const char *msg = luaL_checkstring(L, 1), *tb = luaL_optstring(L, 2, "");
    if (strcmp(msg, "not enough memory") == 0) {
        /* say which limit, and free what the failed code held now: LuaJIT
         * has no emergency collection, and the next allocation must not
         * fail for want of a GC step */
        msg = "not enough memory (over this engine's Lua memory limit, " VM_MEMORY_LIMIT_TEXT ")";
        lua_gc(L, LUA_GCCOLLECT, 0);
    }
    stats_shard_exception(eng->shard, msg, tb);
    return 1;
}

/* _task(name): the user starts the task called name (for the warning
 * about a thread that does not come back to its loop). */
static int l_task(lua_State *L)
{
    engine_t *eng = engine_self();
    if (eng && eng->current && lua_type(L, 1) == LUA_TSTRING)
        engine_task(eng->current, lua_tostring(L, 1)); /* the string lives in the task table */
    return 0;
}

static int l_flush(lua_State *L)
{
    engine_t *eng = engine_self();
    if (eng && eng->current) binding_flush(eng->current);
    return 0;
}

static int l_stopping(lua_State *L)
{
    engine_t *eng = engine_self();
    lua_pushboolean(L, eng && eng->current && eng->current->stopping);
    return 1;
}

static int l_on_stop_begin(lua_State *L)
{
    engine_t *eng = engine_self();
    if (eng && eng->current) eng->current->in_on_stop = true;
    return 0;
}

/* cicada.quit(): end the whole test (like Locust's runner.quit()). */
static int l_quit(lua_State *L)
{
    engine_t *eng = engine_self();
    if (eng) atomic_store(&eng->quit_requested, true);
    return 0;
}

static int l_want_request_events(lua_State *L)
{
    engine_t *eng = engine_self();
    if (eng) eng->request_events = lua_toboolean(L, 1);
    return 0;
}

static int l_log_error(lua_State *L)
{
    log_error("%s", luaL_checkstring(L, 1));
    return 0;
}

/* cicada.report's numbers, checked before they become integers (a double
 * beyond int64 is undefined behaviour there): response_time in ms, nil or
 * negative for none (Locust's None), at most LIMIT_SECONDS; a length of 0
 * to 2^53 bytes. NaN or out of range is a Lua error naming the field. */
static double report_number(lua_State *L, int idx, const char *field, double none, double max)
{
    double v = luaL_optnumber(L, idx, none);
    if (v != v || v > max || (v < 0 && none == 0))
        luaL_error(L, "cicada.report: %s = %s is out of range (0 to %.0f)", field,
                   lua_tostring(L, idx), max);
    return v;
}

static int l_report(lua_State *L)
{
    engine_t *eng = engine_self();
    luaL_checktype(L, 1, LUA_TTABLE);
    if (eng == NULL) return 0;
    lua_getfield(L, 1, "type");
    lua_getfield(L, 1, "name");
    lua_getfield(L, 1, "response_time");
    lua_getfield(L, 1, "response_length");
    lua_getfield(L, 1, "exception");
    const char *type = luaL_optstring(L, 2, "CUSTOM");
    const char *name = luaL_checkstring(L, 3);
    double ms = report_number(L, 4, "response_time", -1, LIMIT_SECONDS * 1000);
    int64_t len = (int64_t)report_number(L, 5, "response_length", 0, 9007199254740992.0);
    const char *err = lua_isnil(L, 6) || lua_isboolean(L, 6) ? NULL : api_tostr(L, 6, NULL);
    if (lua_isboolean(L, 6) && lua_toboolean(L, 6)) err = "failed";
    int64_t rt = ms < 0 ? -1 : (int64_t)llround(ms * 1000.0);
    api_record(eng, type, name, rt, len, err);
    return 0;
}

void api_open(lua_State *L, engine_t *e)
{
    (void)e;
    lua_newtable(L);
    static const luaL_Reg fns[] = {{"now", l_now},
                                   {"report", l_report},
                                   {"_sleep", l_sleep},
                                   {"_idle", l_idle},
                                   {"scheduled", l_scheduled},
                                   {"_exception", l_exception},
                                   {"_flush", l_flush},
                                   {"_task", l_task},
                                   {"_stopping", l_stopping},
                                   {"_on_stop_begin", l_on_stop_begin},
                                   {"_want_request_events", l_want_request_events},
                                   {"_log_error", l_log_error},
                                   {"quit", l_quit},
                                   {NULL, NULL}};
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    api_push_stop(L);
    lua_setfield(L, -2, "_STOP");
    lua_pushlightuserdata(L, &sleep_key);
    lua_setfield(L, -2, "_SLEEP");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    json_open(L); /* cicada.json (lua/json.c) */
    binding_open(L, e);
    http_open(L);
    batch_open(L);    /* cicada._batch_* (lua/batch.c) */
    data_open(L);     /* cicada.data (lua/data.c) */
    cosocket_open(L); /* cicada.tcp, cicada.udp (lua/cosocket.c) */
    msg_open(L, e);   /* cicada.send_message, cicada.role (lua/msg.c) */
    lua_setglobal(L, "cicada");
    ngx_open(L); /* the global ngx for OpenResty drivers (lua/ngx.c) */
}
