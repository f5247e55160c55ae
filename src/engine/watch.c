/* watch: an engine thread seen from the main thread, and stopped when
 * its Lua code never gives control back (engine.h has the contracts).
 *
 * The loop publishes since when it is busy (loop_busy_since) and the
 * engine how many resumes it made; busy with the count standing still is
 * one task that does not yield. The main thread then sends SIGURG to that
 * thread, whose handler sets a Lua count hook (what LuaJIT's own
 * interpreter does on Ctrl-C); the hook notes file:line and, at stop,
 * raises an error in the task. Code compiled by the JIT never runs hooks,
 * so the main thread may still have to abandon the thread: an abandoned
 * thread that comes back parks for good (watch_park) instead of touching
 * what the main thread took from it. */
#include "engine/watch.h"

#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <unistd.h>

#include "engine/engine.h"

/* This thread's engine (engine_self). A thread-local because a signal
 * handler gets no argument, and a Lua C function only its lua_State. */
static _Thread_local engine_t *self;

engine_t *engine_self(void)
{
    return self;
}

void engine_bind(engine_t *e)
{
    self = e;
}

uint64_t engine_resumes(const engine_t *e)
{
    return atomic_load_explicit(&((engine_t *)e)->resumes, memory_order_relaxed);
}

int64_t engine_busy_ns(const engine_t *e)
{
    int64_t since = loop_busy_since(e->loop);
    return since ? clock_ns() - since : 0;
}

static void on_hook(lua_State *L, lua_Debug *ar)
{
    engine_t *e = self;
    lua_sethook(L, NULL, 0, 0);
    if (e == NULL) return;
    int mode = atomic_exchange(&e->hook_mode, HOOK_NONE);
    if (mode == HOOK_NONE) return;
    if (lua_getinfo(L, "Sl", ar) && ar->currentline > 0) {
        snprintf(e->where, sizeof e->where, "%s:%d", ar->short_src, ar->currentline);
        atomic_store(&e->where_known, true);
    }
    if (mode == HOOK_STOP) {
        lua_pushstring(L, "stopped by cicada: the task did not give control back (no request, "
                          "sleep or socket call) when the run stopped");
        lua_error(L);
    }
}

/* SIGURG, on an engine thread: install the hook (async-signal-safe in
 * LuaJIT, whose own interpreter does this in its SIGINT handler). */
static void on_urg(int sig)
{
    (void)sig;
    engine_t *e = self;
    if (e && atomic_load(&e->hook_mode) != HOOK_NONE)
        lua_sethook(e->L, on_hook, LUA_MASKCOUNT, 1000);
}

void engine_interrupt(engine_t *e, int mode)
{
    atomic_store(&e->hook_mode, mode);
    pthread_kill(e->thread, SIGURG);
}

void engine_where(engine_t *e, char *buf, size_t n)
{
    const char *task = atomic_load_explicit(&e->task, memory_order_relaxed);
    unsigned long long id = atomic_load_explicit(&e->task_user, memory_order_relaxed);
    int k = snprintf(buf, n, "user %llu, task %s", id, task ? task : "?");
    if (atomic_load(&e->where_known) && k > 0 && (size_t)k < n)
        snprintf(buf + k, n - (size_t)k, ", at %s", e->where);
}

void watch_park(engine_t *e)
{
    if (!atomic_load_explicit(&e->abandoned, memory_order_relaxed)) return;
    for (;;)
        pause(); /* only SIGURG gets through, and its handler returns */
}

stats_shard_t *engine_abandon(engine_t *e, stats_shard_t **outbox)
{
    atomic_store(&e->abandoned, true);
    *outbox = atomic_exchange(&e->outbox, NULL);
    return e->shard;
}

static void install_urg(void)
{
    struct sigaction sa = {.sa_handler = on_urg, .sa_flags = SA_RESTART};
    sigemptyset(&sa.sa_mask);
    sigaction(SIGURG, &sa, NULL);
}

void watch_install(void)
{
    static pthread_once_t once = PTHREAD_ONCE_INIT;
    pthread_once(&once, install_urg);
}

void watch_thread(engine_t *e)
{
    sigset_t all;
    sigfillset(&all);
    sigdelset(&all, SIGURG);
    pthread_sigmask(SIG_SETMASK, &all, NULL);
    engine_bind(e);
}
