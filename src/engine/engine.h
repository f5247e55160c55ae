/* engine: one thread that runs virtual users.
 *
 * An engine owns an event loop, a Lua VM with the scenario loaded, its users
 * (each a Lua coroutine, its timer and its place in the run queue) and a
 * stats shard. What a user does through the scenario API (HTTP clients,
 * sockets, a catch_response result held back) belongs to the Lua binding,
 * which keeps it behind user->binding and registers the few hooks the
 * engine calls when a user is cut off or ends (engine_hooks_t): the engine
 * knows users, coroutines and timers, not HTTP or sockets. Nothing it
 * touches per request is shared, so the hot path has no locks or atomics.
 * The main thread talks to it with commands (engine_post: a mutex-protected
 * queue plus an eventfd that wakes the loop); the engine hands statistics
 * back once a second by swapping its shard with the spare the main thread
 * returned (engine_take_shard / engine_give_shard).
 *
 * A user's life: spawn creates the coroutine and resumes it into the
 * prelude's user loop; a blocking-looking call (client:get, cicada.sleep)
 * parks the coroutine (lua_yield from a C function) and the loop resumes it
 * with the result.
 *
 * Stopping has three steps, each a command from the main thread (the rule
 * users see is in docs/cli.md, "How a run stops"):
 *  - CMD_STOP_ALL: no user starts a new request; a user stops at its next
 *    blocking call (on_stop runs), or, with --stop-timeout, at the end of
 *    its task. A request in flight may finish and is recorded as usual.
 *  - CMD_CUT (the grace is over): every request still in flight outside
 *    on_stop is cut (its connection closed, counted by stats_shard_cut,
 *    neither a success nor a failure); its user, and one asleep in a task,
 *    runs on_stop in a fresh coroutine, the parked one being dropped.
 *  - CMD_FORCE (on_stop had its time, or a second Ctrl-C): what is still
 *    in flight is cut and every user ends without being resumed.
 * A thread stuck in Lua code that never yields cannot obey any of them:
 * the main thread sees it through engine_busy_ns(), asks it to raise an
 * error through engine_interrupt(), and if it still does not come back,
 * abandons it (engine_abandon). */
#ifndef CICADA_ENGINE_H
#define CICADA_ENGINE_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "base/limits.h"
#include "engine/arrival.h"
#include "net/loop.h"
#include "stats/stats.h"

struct lua_State;
struct binding;
struct engine;

enum user_state {
    USER_RUNNING,  /* inside lua_resume */
    USER_SLEEPING, /* parked on its timer */
    USER_READY,    /* parked in the run queue (sleep(0)) */
    USER_WAITING,  /* parked on a request */
    USER_IDLE,     /* open model: among its class's idle users (arrival.h) */
};

typedef struct user {
    struct engine *eng;
    struct lua_State *co; /* the coroutine; anchored by co_ref */
    uint64_t id;
    int co_ref;
    int cls;
    /* enum user_state in a byte: with the flags below, user_t fits a 128-byte
     * malloc chunk, not 144 (a million idle users: 16 MB); it was 112 before
     * the open model's sched and idle_prev */
    unsigned char state;
    bool stopping;   /* asked to stop: the next blocking call stops it */
    bool in_on_stop; /* the prelude is running on_stop */
    bool between;    /* its sleep is the wait between two tasks */
    bool cut;        /* the stop grace passed: blocking calls outside on_stop raise STOP */
    bool forced;     /* the stop deadline passed: end without resuming */
    bool parked;     /* it parked on I/O since its last wait */
    /* open model (arrival.h): its iteration's scheduled start (monotonic ns)
     * until its first request completes; minus that time while it was
     * created for the iteration and has not begun it (on_start runs); 0
     * otherwise */
    int64_t sched;
    struct user *idle_prev; /* open model: the idle list (next_ready is its next) */
    loop_timer_t timer;
    struct user *prev, *next; /* engine's list of live users */
    struct user *next_ready;
    struct binding *binding; /* the Lua binding's state (lua/binding.h), NULL until used */
    const char *task;        /* the task it runs (engine_task), for the stuck-thread warning */
} user_t;

/* What the Lua binding does for the engine (engine_set_hooks). */
typedef struct engine_hooks {
    /* The stop grace or deadline is over for u: close the HTTP request it
     * waits for, if any, without resuming it (counted as cut); with
     * sockets, a socket operation it waits for is closed instead. */
    void (*cut)(user_t *u, bool sockets);
    /* u ends: settle what it held back, close what it owns, free
     * u->binding (and set it to NULL). */
    void (*release)(user_t *u);
    /* After every loop turn and at engine_free: free what was closed during
     * the turn (no event can refer to it any more). */
    void (*turn)(void *arg);
} engine_hooks_t;

enum engine_cmd_kind {
    CMD_SPAWN, /* start count users of class cls, ids first_id.. */
    CMD_STOP,  /* stop count users of class cls (on_stop runs) */
    CMD_STOP_ALL,
    CMD_CUT,   /* the stop grace passed: cut requests in flight, stop every user */
    CMD_FORCE, /* stop deadline passed: abandon what is still running */
    CMD_QUIT,  /* leave the loop (after CMD_STOP_ALL has finished) */
    CMD_HOST,  /* new users use host `text` (owned by the command) */
    CMD_EVENT, /* fire event `text` in the VM, with count as its argument */
    CMD_RESET, /* a stats reset: drop the shard; what follows is of epoch `count` */
    /* a custom message: the frame in `text`, `count` bytes (lua/msg.h) */
    CMD_MESSAGE,
    /* open model: class cls's total rate is `rate`, this engine is slot of
     * nslots, with at most count users here (arrival.h) */
    CMD_RATE,
};

typedef struct engine_cmd {
    enum engine_cmd_kind kind;
    int cls;
    long count;
    char *text;
    double rate;      /* CMD_RATE */
    int slot, nslots; /* CMD_RATE */
    struct engine_cmd *next;
} engine_cmd_t;

/* What the scenario and the command line give every engine. */
struct engine_vm;

typedef struct engine_conf {
    const struct engine_vm *vm; /* how the scenario's VM is made and spoken to */
    const char *locustfile;
    const char *host; /* -H, overrides the classes' hosts; may be NULL */
    const char *const *tags, *const *exclude_tags;
    size_t ntags, nexclude_tags;
    long iterations; /* -i: tasks per user before it stops, 0 for no limit */
    double stop_timeout;
    int nengines;            /* user ids are dealt as index + 1 + nengines * k */
    bool insecure;           /* --insecure: HTTPS without certificate verification */
    const char *ca_file;     /* --ca-file: CA bundle instead of the system's; may be NULL */
    const char *resolver;    /* --resolver: DNS server "IP[:PORT]"; NULL: /etc/resolv.conf's */
    double resolver_timeout; /* --resolver-timeout: seconds per lookup; <= 0: the default */
} engine_conf_t;

/* What the engine needs of the scenario's VM. The engine runs users as
 * coroutines but does not build the VM, know the prelude's yields or the
 * messages' format: whoever makes engines passes these (the runner passes
 * lua/vm.h's vm_engine), so engine/ includes nothing of lua/. */
typedef struct engine_vm {
    /* e's VM with the scenario loaded (e->conf says which); NULL with the
     * reason in err (naming file:line for scenario errors) */
    struct lua_State *(*open)(struct engine *e, char *err, size_t n);
    void (*close)(struct lua_State *L);
    /* u's coroutine yielded: the number of values to resume it with at once
     * (the prelude's own sleeps), or -1 to leave it parked */
    int (*yielded)(user_t *u);
    void (*push_stop)(struct lua_State *L); /* push the STOP sentinel */
    /* hand a custom message's frame to the scenario; false if it was refused */
    bool (*deliver)(struct lua_State *L, const void *buf, size_t len);
} engine_vm_t;

typedef struct engine {
    int index;
    pthread_t thread;
    loop_t *loop;
    struct lua_State *L;
    const engine_conf_t *conf;
    int nclasses;

    /* command queue: main → engine */
    pthread_mutex_t lock;
    engine_cmd_t *cmds, *cmds_tail;
    loop_io_t wake; /* eventfd */

    /* users */
    user_t *users; /* live users, doubly linked */
    user_t *ready_head, *ready_tail;
    user_t *current; /* the user whose coroutine is running */
    atomic_long class_users[LIMIT_CLASSES];
    atomic_long live_users;
    atomic_long asked, born;     /* users the runner asked for (CMD_SPAWN) / created, ever */
    struct net *net;             /* the transport context (net/net.h): TLS contexts, graveyard */
    struct resolver *resolver;   /* host names, looked up on this loop (net/resolve.h) */
    user_t *walk_next;           /* each_user's next user, kept right when users end */
    const engine_hooks_t *hooks; /* the Lua binding's (engine_set_hooks), NULL before */
    void *hooks_arg;
    bool stopping_all, cutting, forced, quit;
    bool cut_pending, force_pending; /* CMD_CUT / CMD_FORCE, done after the turn */
    bool graceful;                   /* --stop-timeout > 0: tasks may finish */
    int run_ref;                     /* cicada._run */
    int stop_user_ref;               /* cicada._stop_user */
    uint64_t spawned;                /* users ever spawned here, for ids */
    arrival_t arr;                   /* the open model's streams (arrival.h) */
    struct lua_State *Lcb;           /* a VM thread for event listeners (anchored by cb_ref) */
    int cb_ref;
    bool request_events; /* the scenario listens to the request event */
    uint64_t rand;       /* data:random()'s xorshift64* state (lua/data.c); 0 until first used */
    atomic_bool quit_requested; /* the scenario called cicada.quit() */
    bool in_event;              /* inside a request listener */
    buf_t event_err;

    /* statistics */
    uint64_t epoch; /* the last CMD_RESET's; tags every shard it fills */
    stats_shard_t *shard;
    _Atomic(stats_shard_t *) spare;  /* given back by the main thread */
    _Atomic(stats_shard_t *) outbox; /* a full shard for the main thread */
    loop_timer_t tick;

    /* watching a stuck thread (engine_busy_ns, engine_interrupt): the
     * task each user is in is noted when it starts (the prelude's _task),
     * the hook's findings come back in where */
    _Atomic(const char *) task; /* name of the task running, or NULL */
    atomic_ullong task_user;    /* its user's id */
    atomic_int hook_mode;       /* HOOK_NONE, HOOK_LOCATE or HOOK_STOP */
    atomic_bool where_known;    /* where holds the hook's file:line */
    char where[256];
    atomic_ulong resumes;  /* coroutine resumes so far (only this thread writes) */
    atomic_bool abandoned; /* the main thread gave up on it */
    atomic_bool done;      /* its thread has left the loop (after CMD_QUIT) */

    /* scratch space for building requests and strings on the hot path */
    buf_t scratch;
    uint64_t rng[2];
} engine_t;

/* Create an engine: its loop and Lua VM with the scenario loaded. Returns
 * NULL with a message in err (naming file:line for scenario errors). */
engine_t *engine_new(int index, const engine_conf_t *conf, char *err, size_t n);
/* Start its thread. Returns 0 or -1. */
int engine_start(engine_t *e);
/* Queue a command (copied). Thread-safe. */
void engine_post(engine_t *e, const engine_cmd_t *cmd);
/* Has the thread left its loop (after CMD_QUIT)? engine_join then returns
 * at once. */
bool engine_done(const engine_t *e);
/* Wait for the thread to end (after CMD_QUIT). Returns the shard it was
 * filling, still owned by the engine: merge it before engine_free. */
stats_shard_t *engine_join(engine_t *e);
/* Free the engine (its thread must have ended) and what is left of it. */
void engine_free(engine_t *e);

/* ---- a thread stuck in Lua (main thread) ---- */

enum { HOOK_NONE, HOOK_LOCATE, HOOK_STOP };

/* The engine whose thread this is, or NULL on any other thread (the main
 * thread's VM, the web UI). The one thread-local of src/engine: the Lua
 * primitives (lua/api.c) and the stuck-task signal handler (watch.c) find
 * their engine through it, as neither is handed one. */
engine_t *engine_self(void);
/* Make e this thread's engine. The engine thread does it first thing
 * (watch_thread); a test or fuzzer running e's VM on its own thread does
 * it before. */
void engine_bind(engine_t *e);

/* How long the engine has been away from its loop, in ns (0 while it waits
 * for events). A long time means a callback, in practice a Lua task that
 * never yields, keeps it busy. */
int64_t engine_busy_ns(const engine_t *e);
/* How many coroutine resumes the engine has made: busy with the count
 * standing still is one task that does not yield, busy with it moving is
 * merely a lot of work (a million users stopping). */
uint64_t engine_resumes(const engine_t *e);
/* Ask a busy engine's VM, through a signal to its thread and a Lua count
 * hook, to note where it is (HOOK_LOCATE: e->where) or to raise an error in
 * the running task (HOOK_STOP). Interpreted code obeys within
 * milliseconds; a loop compiled by the JIT never runs hooks, so the caller
 * must not count on it. */
void engine_interrupt(engine_t *e, int mode);
/* Describe where a busy engine is into buf: the user and task noted when
 * the task started, and the hook's file:line if it found one. */
void engine_where(engine_t *e, char *buf, size_t n);
/* Give up on a stuck engine: its thread keeps running (it cannot be
 * stopped) but is never joined or freed; the shards it filled are taken
 * (it is stuck in Lua code that does not record, or the hook would have
 * stopped it) and returned for merging, NULL if none. Call at most once,
 * after engine_interrupt(HOOK_STOP) had its chance. */
stats_shard_t *engine_abandon(engine_t *e, stats_shard_t **outbox);

/* Main thread: take the full shard if one is waiting (else NULL). After
 * merging it, give it back with engine_give_shard so the engine can swap
 * again. */
stats_shard_t *engine_take_shard(engine_t *e);
void engine_give_shard(engine_t *e, stats_shard_t *s);

/* ---- used by the Lua bindings and the HTTP client (engine thread) ---- */

/* Create a user of class cls with the next id and start it. sched > 0
 * (the open model): it was created for the iteration scheduled then,
 * which it begins after on_start (engine_idle). */
void engine_spawn(engine_t *e, int cls, int64_t sched);
/* Resume u's coroutine with nargs values already pushed on u->co. */
void engine_resume(user_t *u, int nargs);
/* Park u until monotonic time when; it is resumed with no values. */
void engine_sleep(user_t *u, int64_t when);
/* Park u in the run queue: resumed in this loop turn, after I/O. */
void engine_yield(user_t *u);
/* Park u on I/O (a request, a socket operation): the binding resumes it
 * with engine_resume when the operation ends, or the engine cuts it through
 * the hooks. */
void engine_wait(user_t *u);
/* The binding's hooks and their argument (given to turn); h outlives e. */
void engine_set_hooks(engine_t *e, const engine_hooks_t *h, void *arg);
/* The running task of u is name (a string that outlives the task). */
void engine_task(user_t *u, const char *name);
/* Current engine time reading for statistics (wall clock, seconds). */
double engine_wall(engine_t *e);
/* Uniform random double in [0, 1) from the engine's generator. */
double engine_random(engine_t *e);

#endif
