/* engine: see engine.h.
 *
 * The thread runs loop turns until told to quit. After each turn it resumes
 * the users parked in the run queue (cicada.sleep(0), and the occasional
 * yield of a user whose tasks never block) and lets the Lua binding free
 * what was closed during the turn (its `turn` hook). A one-second timer hands the stats shard to
 * the main thread when the main thread has returned the previous one.
 *
 * What lets the main thread see and handle a thread stuck in Lua is in
 * watch.c. */
#include "engine/engine.h"
#include "engine/watch.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <signal.h>
#include <stdio.h>
#include <string.h>
#include <sys/eventfd.h>
#include <time.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "net/resolve.h"
#include "net/net.h"

static void user_free(user_t *u);

/* ---- time and randomness ---- */

double engine_wall(engine_t *e)
{
    return clock_wall();
}

double engine_random(engine_t *e)
{
    /* xorshift128+ */
    uint64_t s1 = e->rng[0], s0 = e->rng[1];
    e->rng[0] = s0;
    s1 ^= s1 << 23;
    e->rng[1] = s1 ^ s0 ^ (s1 >> 17) ^ (s0 >> 26);
    return (double)((e->rng[1] + s0) >> 11) / 9007199254740992.0;
}

/* ---- resuming users ---- */

/* Tell the main thread which user and task the engine runs now. */
static inline void publish(engine_t *e, const user_t *u)
{
    atomic_store_explicit(&e->task_user, u->id, memory_order_relaxed);
    atomic_store_explicit(&e->task, u->task, memory_order_relaxed);
}

void engine_resume(user_t *u, int nargs)
{
    engine_t *e = u->eng;
    if (u->state == USER_IDLE) arrival_unidle(u); /* stopped while idle */
    if (u->forced) {
        user_free(u);
        return;
    }
    e->current = u;
    u->state = USER_RUNNING;
    /* one writer: a plain store, no read-modify-write */
    atomic_store_explicit(&e->resumes, atomic_load_explicit(&e->resumes, memory_order_relaxed) + 1,
                          memory_order_relaxed);
    publish(e, u);
    int rc;
    /* a sleep that must stop resumes at once with STOP: a loop, as a user
     * that keeps catching it only spins like any busy task */
    while ((rc = lua_resume(u->co, nargs)) == LUA_YIELD &&
           (nargs = u->eng->conf->vm->yielded(u)) >= 0)
        ;
    e->current = NULL;
    /* a resume that took too long may have been given up on meanwhile */
    if (atomic_load_explicit(&e->abandoned, memory_order_relaxed)) watch_park(e);
    if (rc == LUA_YIELD) return;
    if (rc != 0) {
        /* an error escaped the prelude's own handlers: count it, end the user */
        const char *msg = lua_tostring(u->co, -1);
        stats_shard_exception(e->shard, msg ? msg : "error in user", msg ? msg : "");
        log_error("user %llu ended by an error: %s", (unsigned long long)u->id, msg ? msg : "?");
    }
    user_free(u);
}

void engine_sleep(user_t *u, int64_t when)
{
    u->state = USER_SLEEPING;
    loop_timer_at(u->eng->loop, &u->timer, when);
}

void engine_yield(user_t *u)
{
    engine_t *e = u->eng;
    u->state = USER_READY;
    u->next_ready = NULL;
    if (e->ready_tail)
        e->ready_tail->next_ready = u;
    else
        e->ready_head = u;
    e->ready_tail = u;
}

static void run_ready(engine_t *e)
{
    user_t *u = e->ready_head;
    e->ready_head = e->ready_tail = NULL;
    while (u) {
        user_t *next = u->next_ready;
        engine_resume(u, 0);
        u = next;
    }
}

void engine_wait(user_t *u)
{
    u->state = USER_WAITING;
    u->parked = true;
}

void engine_set_hooks(engine_t *e, const engine_hooks_t *h, void *arg)
{
    e->hooks = h;
    e->hooks_arg = arg;
}

void engine_task(user_t *u, const char *name)
{
    u->task = name;
    publish(u->eng, u);
}

static void on_user_timer(loop_t *l, loop_timer_t *t)
{
    user_t *u = (user_t *)((char *)t - offsetof(user_t, timer));
    engine_resume(u, 0);
}

/* ---- user life ---- */

void engine_spawn(engine_t *e, int cls, int64_t sched)
{
    user_t *u = xcalloc(1, sizeof *u);
    u->eng = e;
    u->id = (uint64_t)e->index + 1 + (uint64_t)e->conf->nengines * e->spawned++;
    u->cls = cls;
    u->sched = -sched; /* begun after on_start (engine_idle) */
    u->timer.fn = on_user_timer;
    u->co = lua_newthread(e->L);
    u->co_ref = luaL_ref(e->L, LUA_REGISTRYINDEX);
    u->next = e->users;
    if (e->users) e->users->prev = u;
    e->users = u;
    atomic_fetch_add(&e->class_users[cls], 1);
    atomic_fetch_add(&e->live_users, 1);
    atomic_fetch_add(&e->born, 1);
    lua_rawgeti(u->co, LUA_REGISTRYINDEX, e->run_ref);
    lua_pushinteger(u->co, cls + 1);
    lua_pushnumber(u->co, (double)u->id);
    lua_pushboolean(u->co, sched > 0); /* the open model: iterations, no wait_time */
    engine_resume(u, 3);
}

static void user_free(user_t *u)
{
    engine_t *e = u->eng;
    if (u->binding) e->hooks->release(u);
    if (u->state == USER_IDLE) arrival_unidle(u);
    loop_timer_stop(e->loop, &u->timer);
    if (e->walk_next == u) e->walk_next = u->next;
    if (u->prev)
        u->prev->next = u->next;
    else
        e->users = u->next;
    if (u->next) u->next->prev = u->prev;
    atomic_fetch_sub(&e->class_users[u->cls], 1);
    atomic_fetch_sub(&e->live_users, 1);
    luaL_unref(e->L, LUA_REGISTRYINDEX, u->co_ref);
    xfree(u);
}

/* Ask u to stop: a sleeping user is woken with STOP at once (unless it is
 * inside a task and the stop is graceful); a user in a request stops at its
 * next blocking call. */
static void user_stop(user_t *u)
{
    if (u->stopping) return;
    u->stopping = true;
    if ((u->state == USER_SLEEPING || u->state == USER_IDLE) && !u->in_on_stop &&
        (u->between || !u->eng->graceful)) {
        loop_timer_stop(u->eng->loop, &u->timer);
        u->eng->conf->vm->push_stop(u->co);
        engine_resume(u, 1);
    }
}

/* Cut what u waits for (see engine_hooks_t.cut). */
static void cut_wait(user_t *u, bool sockets)
{
    if (u->binding) u->eng->hooks->cut(u, sockets);
}

/* Run u's on_stop (the prelude's cicada._stop_user) in a fresh coroutine.
 * The old one, parked in the call that was cut, is dropped for the GC: no
 * code of the task runs after the cut, and nothing per request had to be
 * added to let it unwind. */
static void run_on_stop(user_t *u)
{
    engine_t *e = u->eng;
    luaL_unref(e->L, LUA_REGISTRYINDEX, u->co_ref);
    u->co = lua_newthread(e->L);
    u->co_ref = luaL_ref(e->L, LUA_REGISTRYINDEX);
    lua_rawgeti(u->co, LUA_REGISTRYINDEX, e->stop_user_ref);
    lua_pushnumber(u->co, (double)u->id);
    engine_resume(u, 1);
}

/* The grace is over: whatever u waits for outside on_stop is cut and u
 * goes on to on_stop; from now on its blocking calls outside on_stop raise
 * STOP. on_stop keeps running until CMD_FORCE. */
static void user_cut(user_t *u)
{
    u->stopping = u->cut = true;
    if (u->in_on_stop) return;
    switch (u->state) {
    case USER_WAITING:
        cut_wait(u, true);
        run_on_stop(u);
        break;
    case USER_IDLE:
    case USER_SLEEPING:
        loop_timer_stop(u->eng->loop, &u->timer);
        run_on_stop(u);
        break;
    default: /* READY: its next blocking call raises STOP */
        break;
    }
}

/* The stop deadline passed: a request in flight is cut, and the user ends
 * without being resumed. */
static void user_force(user_t *u)
{
    u->forced = true;
    switch (u->state) {
    case USER_WAITING:
        cut_wait(u, false);
        user_free(u);
        break;
    case USER_IDLE:
    case USER_SLEEPING:
        user_free(u);
        break;
    default: /* READY: freed when the run queue reaches it */
        break;
    }
}

/* ---- commands ---- */

void engine_post(engine_t *e, const engine_cmd_t *cmd)
{
    engine_cmd_t *c = xmalloc(sizeof *c);
    *c = *cmd;
    c->next = NULL;
    pthread_mutex_lock(&e->lock);
    if (e->cmds_tail)
        e->cmds_tail->next = c;
    else
        e->cmds = c;
    e->cmds_tail = c;
    pthread_mutex_unlock(&e->lock);
    uint64_t one = 1;
    ssize_t rc = write(e->wake.fd, &one, sizeof one);
    (void)rc;
}

/* Call fn for every live user, once each, in one pass. fn may free the
 * user, and through the resumes it makes other users may end: user_free
 * moves e->walk_next past a user it frees, so the walk never touches freed
 * memory. Users are only spawned by commands, never during a walk. */
static void each_user(engine_t *e, void (*fn)(user_t *))
{
    for (user_t *u = e->users; u; u = e->walk_next) {
        e->walk_next = u->next;
        fn(u);
    }
    e->walk_next = NULL;
}

/* Stop the first count users of class cls not stopping yet (one pass). */
static void stop_some(engine_t *e, int cls, long count)
{
    for (user_t *u = e->users; u && count > 0; u = e->walk_next) {
        e->walk_next = u->next;
        if (u->cls != cls || u->stopping) continue;
        user_stop(u);
        count--;
    }
    e->walk_next = NULL;
}

/* CMD_QUIT: users left (none after a stop) end here, on this thread, so
 * that what they held back is recorded in the shard the main thread
 * merges after the join. */
static void quit_now(engine_t *e)
{
    e->ready_head = e->ready_tail = NULL;
    arrival_off(e);
    while (e->users) {
        e->users->forced = true;
        cut_wait(e->users, false);
        user_free(e->users);
    }
    e->quit = true;
}

/* Call cicada.<fn>(text[, count]) in the VM (the prelude's _fire,
 * _set_host); an error is logged when what says what it was. */
static void call_prelude(engine_t *e, const char *fn, const char *text, const long *count,
                         const char *what)
{
    lua_getglobal(e->L, "cicada");
    lua_getfield(e->L, -1, fn);
    lua_pushstring(e->L, text);
    if (count) lua_pushnumber(e->L, (double)*count);
    if (lua_pcall(e->L, count ? 2 : 1, 0, 0) != 0) {
        if (what) log_error("%s %s: %s", what, text, lua_tostring(e->L, -1));
        lua_pop(e->L, 1);
    }
    lua_pop(e->L, 1);
}

/* A new test starts: forget the last one's stop. */
static void unstop(engine_t *e)
{
    e->stopping_all = e->cutting = e->forced = false;
    e->cut_pending = e->force_pending = false;
}

static void run_command(engine_t *e, const engine_cmd_t *c)
{
    switch (c->kind) {
    case CMD_SPAWN:
        unstop(e);
        for (long i = 0; i < c->count; i++)
            engine_spawn(e, c->cls, 0);
        break;
    case CMD_RATE:
        unstop(e);
        arrival_set(e, c->cls, c->rate, c->count, c->slot, c->nslots);
        break;
    case CMD_STOP:
        stop_some(e, c->cls, c->count);
        break;
    case CMD_STOP_ALL:
        e->stopping_all = true;
        arrival_off(e);
        each_user(e, user_stop);
        break;
    case CMD_CUT: /* done after this turn: see settle_then */
        e->cut_pending = true;
        break;
    case CMD_FORCE:
        e->force_pending = true;
        break;
    case CMD_QUIT:
        quit_now(e);
        break;
    case CMD_EVENT:
        call_prelude(e, "_fire", c->text, &c->count, "event");
        break;
    case CMD_MESSAGE:
        e->conf->vm->deliver(e->L, c->text, (size_t)c->count);
        break;
    case CMD_RESET: /* an outbox of the old epoch is the runner's to drop */
        e->epoch = (uint64_t)c->count;
        stats_shard_clear(e->shard);
        stats_shard_set_epoch(e->shard, e->epoch);
        break;
    case CMD_HOST:
        call_prelude(e, "_set_host", c->text, NULL, NULL);
        break;
    }
}

static void on_wake(loop_t *l, loop_io_t *io)
{
    engine_t *e = (engine_t *)((char *)io - offsetof(engine_t, wake));
    uint64_t v;
    ssize_t rc = read(e->wake.fd, &v, sizeof v);
    (void)rc;
    pthread_mutex_lock(&e->lock);
    engine_cmd_t *c = e->cmds;
    e->cmds = e->cmds_tail = NULL;
    pthread_mutex_unlock(&e->lock);
    while (c) {
        engine_cmd_t *next = c->next;
        run_command(e, c);
        xfree(c->text);
        xfree(c);
        c = next;
    }
}

static void on_wake_io(loop_t *l, loop_io_t *io, uint32_t events)
{
    on_wake(l, io);
}

/* ---- statistics handover ---- */

static void handover(engine_t *e)
{
    stats_shard_t *spare = atomic_load(&e->spare);
    if (spare == NULL || atomic_load(&e->outbox) != NULL || stats_shard_empty(e->shard)) return;
    atomic_store(&e->spare, NULL);
    atomic_store(&e->outbox, e->shard);
    stats_shard_set_epoch(spare, e->epoch);
    e->shard = spare;
}

static void on_tick(loop_t *l, loop_timer_t *t)
{
    engine_t *e = (engine_t *)((char *)t - offsetof(engine_t, tick));
    handover(e);
    loop_timer_at(l, t, loop_now(l) + 1000000000LL);
}

stats_shard_t *engine_take_shard(engine_t *e)
{
    return atomic_exchange(&e->outbox, NULL);
}

void engine_give_shard(engine_t *e, stats_shard_t *s)
{
    atomic_store(&e->spare, s);
}

/* CMD_CUT and CMD_FORCE, after the loop turn that brought them: first the
 * events already waiting are handled, so that a response that arrived
 * while this thread was busy (one task hogging it) is recorded, not cut. */
static void settle_then_cut(engine_t *e)
{
    if (!e->cut_pending && !e->force_pending) return;
    loop_run_once(e->loop, 0);
    run_ready(e);
    if (e->cut_pending) {
        e->cut_pending = false;
        e->cutting = true;
        each_user(e, user_cut);
    }
    if (e->force_pending) {
        e->force_pending = false;
        e->forced = true;
        each_user(e, user_force);
    }
}

/* ---- thread ---- */

static void *thread_main(void *arg)
{
    engine_t *e = arg;
    watch_thread(e); /* signals blocked but the hook's; e is this thread's engine */
    /* listeners were added while the scenario loaded, before this thread
     * was bound: ask the VM whether it listens to requests */
    if (luaL_dostring(e->L, "return #cicada.events.request._listeners > 0") == 0) {
        e->request_events = lua_toboolean(e->L, -1);
        lua_pop(e->L, 1);
    }
    loop_timer_at(e->loop, &e->tick, clock_ns() + 1000000000LL);
    while (!e->quit) {
        int wait = e->ready_head ? 0 : 1000;
        if (loop_run_once(e->loop, wait) < 0) {
            log_error("engine %d: epoll_wait: %s", e->index, strerror(errno));
            break;
        }
        run_ready(e);
        settle_then_cut(e);
        if (e->hooks) e->hooks->turn(e->hooks_arg);
        if (atomic_load_explicit(&e->abandoned, memory_order_relaxed)) watch_park(e);
    }
    atomic_store(&e->done, true);
    return NULL;
}

engine_t *engine_new(int index, const engine_conf_t *conf, char *err, size_t n)
{
    engine_t *e = xcalloc(1, sizeof *e);
    e->index = index;
    e->conf = conf;
    e->graceful = conf->stop_timeout > 0;
    pthread_mutex_init(&e->lock, NULL);
    e->wake.fd = -1;
    e->loop = loop_new(err, n);
    if (e->loop == NULL) goto error;
    e->resolver = resolver_new(e->loop, conf->resolver, conf->resolver_timeout, err, n);
    if (e->resolver == NULL) goto error;
    e->net = net_new(e->loop, conf->ca_file, conf->insecure);
    e->L = conf->vm->open(e, err, n);
    if (e->L == NULL) goto error;
    lua_getglobal(e->L, "cicada");
    lua_getfield(e->L, -1, "_run");
    e->run_ref = luaL_ref(e->L, LUA_REGISTRYINDEX);
    lua_getfield(e->L, -1, "_stop_user");
    e->stop_user_ref = luaL_ref(e->L, LUA_REGISTRYINDEX);
    lua_pop(e->L, 1);
    e->Lcb = lua_newthread(e->L);
    e->cb_ref = luaL_ref(e->L, LUA_REGISTRYINDEX);
    e->wake.fd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    e->wake.fn = on_wake_io;
    if (e->wake.fd < 0 || loop_add_read(e->loop, &e->wake) != 0) {
        snprintf(err, n, "eventfd: %s", strerror(errno));
        goto error;
    }
    e->tick.fn = on_tick;
    e->shard = stats_shard_new();
    atomic_store(&e->spare, stats_shard_new());
    e->rng[0] = 0x9E3779B97F4A7C15ULL ^ (uint64_t)clock_ns() ^ ((uint64_t)index << 32);
    e->rng[1] = 0xD1B54A32D192ED03ULL + (uint64_t)index;
    return e;
error:
    if (e->L) conf->vm->close(e->L);
    if (e->wake.fd >= 0) close(e->wake.fd);
    net_free(e->net);
    resolver_free(e->resolver);
    loop_free(e->loop);
    pthread_mutex_destroy(&e->lock);
    xfree(e);
    return NULL;
}

int engine_start(engine_t *e)
{
    watch_install();
    return pthread_create(&e->thread, NULL, thread_main, e) == 0 ? 0 : -1;
}

bool engine_done(const engine_t *e)
{
    return atomic_load(&((engine_t *)e)->done);
}

stats_shard_t *engine_join(engine_t *e)
{
    pthread_join(e->thread, NULL);
    return e->shard;
}

void engine_free(engine_t *e)
{
    while (e->users) {
        e->users->forced = true;
        user_free(e->users);
    }
    if (e->hooks) e->hooks->turn(e->hooks_arg);
    while (e->ready_head) {
        user_t *u = e->ready_head;
        e->ready_head = u->next_ready;
        (void)u;
    }
    stats_shard_t *s = atomic_load(&e->outbox);
    if (s) stats_shard_free(s);
    s = atomic_load(&e->spare);
    if (s) stats_shard_free(s);
    stats_shard_free(e->shard);
    for (engine_cmd_t *c = e->cmds; c;) {
        engine_cmd_t *next = c->next;
        xfree(c->text);
        xfree(c);
        c = next;
    }
    buf_free(&e->scratch);
    buf_free(&e->event_err);
    e->conf->vm->close(e->L);
    net_free(e->net); /* after the VM: closing it retires its sockets */
    close(e->wake.fd);
    resolver_free(e->resolver);
    loop_free(e->loop);
    pthread_mutex_destroy(&e->lock);
    xfree(e);
}
