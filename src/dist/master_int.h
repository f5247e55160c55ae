/* master_int: the master's private state, shared by its two modules.
 *
 * master.c (set-up, the thread's loop, dispatch, liveness and the runner's
 * hooks) and master_msg.c (reading the socket and handling each worker
 * message) both work on one struct master; this header defines it, the
 * node table's entries, and the few helpers they share. It is internal to
 * src/dist: other parts use master.h. Unless a function says otherwise its
 * caller holds m->lock (see master.c for the lock order). */
#ifndef CICADA_MASTER_INT_H
#define CICADA_MASTER_INT_H

#include <pthread.h>
#include <stdbool.h>
#include <string.h>

#include "base/limits.h"
#include "dist/curve.h"
#include "dist/dispatch.h"
#include "dist/master.h"
#include "dist/proto.h"
#include "net/loop.h"

typedef struct node {
    char id[PROTO_MAX_ID];
    int index;
    char state[16]; /* as its heartbeat says, or "missing" */
    double last_beat, missing_since;
    long counts[LIMIT_CLASSES]; /* its reported user_classes_count */
    double cpu;
    long long mem;
    bool cpu_warned;
    unsigned cap_warned; /* the report caps it was warned about, once each (master_msg.c) */
} node_t;

/* Identities a master remembers (each that said client_ready, 256 bytes
 * each): past it a new identity is refused, so a flood of made-up ones
 * cannot grow the master without bound. */
#define MAX_IDS 10000
/* Exception rows a master keeps from its workers, and the bytes of their
 * message and traceback it keeps (longer ones are cut). */
#define MAX_EXC_ROWS 1000
#define MAX_EXC_MSG 4096
#define MAX_EXC_TB 16384

/* What the runner must be asked to do, made after m->lock is released. */
enum action { ACT_NONE, ACT_STOP, ACT_STOP_QUIT };

struct master {
    runner_t *r;
    const opts_t *o;
    void *ctx, *sock;
    curve_guard_t *guard; /* with --master-key: CURVE's ZAP handler and monitor */
    char endpoint[512];
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;

    node_t *nodes;
    int nnodes, capnodes;
    char (*ids)[PROTO_MAX_ID]; /* every id ever seen: its position is its index */
    int nids;
    /* messages dropped from identities that never said client_ready, and
     * when that was last logged (at most every 10 s) */
    long unknown_dropped;
    double unknown_logged_at;

    const char *names[LIMIT_CLASSES]; /* the classes in play, sorted by name */
    int ncls;
    int of_runner[LIMIT_CLASSES]; /* runner class index → ours, or -1 */
    dispatch_t *disp;

    /* the swarm */
    bool active, reached, spawned, rebalance;
    long target, current;
    double rate, next_iter, reached_at, last_ts;
    char host[1024];
    long *map; /* scratch: counts per live node and class */
    /* the open model: the classes' rates over the whole run (ours order),
     * sent with every spawn message once open (runner/rate.h) */
    bool open;
    double rates[LIMIT_CLASSES];

    bool stop_req, quit_req, quit_sent, quit_done, end;
    double quit_at;
    hist_t *scratch;
    mp_out_t out;

    /* custom messages and the master's events (master_custom.c) */
    struct lua_State *L; /* the master's VM, used by its thread only; NULL if it failed */
    bool lua_active;     /* test_start has fired for the swarm (m->active) */
    bool lua_spawned;    /* m->spawned as the last tick saw it */
};

static inline double mono(void)
{
    return (double)clock_ns() / 1e9;
}

static inline bool live(const node_t *n)
{
    return strcmp(n->state, "missing") != 0;
}

static inline int live_count(const master_t *m)
{
    int k = 0;
    for (int i = 0; i < m->nnodes; i++)
        k += live(&m->nodes[i]);
    return k;
}

/* Forget node n (a pointer into m->nodes); the last entry takes its place,
 * so pointers into the table are stale afterwards. */
static inline void node_drop(master_t *m, node_t *n)
{
    *n = m->nodes[--m->nnodes];
}

/* Send the message built in m->out to worker id, as [id, payload] frames,
 * without blocking (a failure is logged at debug level and the message is
 * lost); m->out is cleared for the next one either way. */
void master_send_to(master_t *m, const char *id);

/* Send worker id a message of the given type with no data (stop, quit,
 * reconnect), through master_send_to. */
void master_send_simple(master_t *m, const char *id, const char *type);

/* Read and handle every message waiting on m->sock without blocking
 * (master_msg.c). Called by the master's thread WITHOUT m->lock: it takes
 * the runner lock to merge stats/exception reports, then m->lock for the
 * node table, never both at once. Returns the strongest request for the
 * runner the messages made (ACT_NONE < ACT_STOP < ACT_STOP_QUIT), for the
 * caller to make once no lock is held. */
enum action master_read_socket(master_t *m);

/* ---- master_custom.c ---- */

/* Make the master's VM and install the custom-message sink (a failure is
 * logged: the master then runs without them). Before the thread starts. */
void master_custom_open(master_t *m);
/* Remove the sink and free the VM; after the thread has ended. */
void master_custom_close(master_t *m);
/* If type is a registered custom message, run its handler on the frame
 * (buf, len bytes, decoded already) from worker id, or drop it when id is
 * not a connected worker, and return true; false for any other type.
 * Called by the thread WITHOUT m->lock. */
bool master_custom_frame(master_t *m, const char *id, const char *type, const void *buf,
                         size_t len);
/* Fire test_start / test_stop in the VM when a swarm has started or
 * stopped since the last call, then set m->lua_active; fire
 * spawning_complete when m->spawned has become true. Called by the
 * thread each turn WITHOUT m->lock; dispatch waits for m->lua_active. */
void master_custom_tick(master_t *m);

#endif
