/* master: see master.h.
 *
 * Locks: m->lock guards the node table and the dispatch state; the
 * runner's hooks take it (sometimes inside the runner lock), and the
 * thread takes the runner lock only while NOT holding m->lock, so the
 * order is always runner lock → m->lock. Requests for the runner
 * (stop/quit when the last worker leaves) are collected under m->lock and
 * made after it is released. */
#include "dist/master.h"

#include <errno.h>
#include <math.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>
#include <time.h>
#include <zmq.h>

#include "base/alloc.h"
#include "base/log.h"
#include "dist/dispatch.h"
#include "dist/proto.h"
#include "engine/loop.h"

#define MISSING_AFTER 3.5 /* s without a heartbeat: about 4 of Locust's 1 s beats */
#define DROP_AFTER 60.0   /* s missing before a worker is forgotten */
#define QUIT_WAIT 2.0     /* s to wait for the workers' final reports */
#define MAXC 64

typedef struct node {
    char id[PROTO_MAX_ID];
    int index;
    char state[16]; /* as its heartbeat says, or "missing" */
    double last_beat, missing_since;
    long counts[MAXC]; /* its reported user_classes_count */
    double cpu;
    long long mem;
    bool cpu_warned;
} node_t;

enum action { ACT_NONE, ACT_STOP, ACT_STOP_QUIT };

struct master {
    runner_t *r;
    const opts_t *o;
    void *ctx, *sock;
    char endpoint[512];
    pthread_t thread;
    bool started;
    pthread_mutex_t lock;
    pthread_cond_t cond;

    node_t *nodes;
    int nnodes, capnodes;
    char (*ids)[PROTO_MAX_ID]; /* every id ever seen: its position is its index */
    int nids;

    const char *names[MAXC]; /* the classes in play, sorted by name */
    int ncls;
    int of_runner[MAXC]; /* runner class index → ours, or -1 */
    dispatch_t *disp;

    /* the swarm */
    bool active, reached, spawned, rebalance;
    long target, current;
    double rate, next_iter, reached_at, last_ts;
    char host[1024];
    long *map; /* scratch: counts per live node and class */

    bool stop_req, quit_req, quit_sent, quit_done, end;
    double quit_at;
    hist_t *scratch;
    mp_out_t out;
};

static double mono(void)
{
    return (double)clock_ns() / 1e9;
}

static bool live(const node_t *n)
{
    return strcmp(n->state, "missing") != 0;
}

static long node_users(const master_t *m, const node_t *n)
{
    long s = 0;
    for (int c = 0; c < m->ncls; c++)
        s += n->counts[c];
    return s;
}

static int live_count(const master_t *m)
{
    int k = 0;
    for (int i = 0; i < m->nnodes; i++)
        k += live(&m->nodes[i]);
    return k;
}

/* ---- sending ---- */

static void send_to(master_t *m, const char *id)
{
    if (zmq_send(m->sock, id, strlen(id), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(m->sock, m->out.buf.data, m->out.buf.size, ZMQ_DONTWAIT) < 0)
        log_debug("cannot send to worker %s: %s", id, zmq_strerror(errno));
    mp_out_clear(&m->out);
}

static void send_simple(master_t *m, const char *id, const char *type)
{
    proto_simple(&m->out, type, id);
    send_to(m, id);
}

/* ---- the node table ---- */

static node_t *find(master_t *m, const char *id)
{
    for (int i = 0; i < m->nnodes; i++)
        if (strcmp(m->nodes[i].id, id) == 0) return &m->nodes[i];
    return NULL;
}

static void drop(master_t *m, node_t *n)
{
    *n = m->nodes[--m->nnodes];
}

static int index_of(master_t *m, const char *id)
{
    for (int i = 0; i < m->nids; i++)
        if (strcmp(m->ids[i], id) == 0) return i;
    m->ids = xrealloc(m->ids, (size_t)(m->nids + 1) * sizeof *m->ids);
    snprintf(m->ids[m->nids], PROTO_MAX_ID, "%s", id);
    return m->nids++;
}

/* ---- dispatch ---- */

/* Send every live worker its share of m->current users. */
static void send_maps(master_t *m)
{
    const char **ids = xmalloc((size_t)(m->nnodes + 1) * sizeof *ids);
    int nw = 0;
    for (int i = 0; i < m->nnodes; i++)
        if (live(&m->nodes[i])) ids[nw++] = m->nodes[i].id;
    if (nw == 0) {
        xfree(ids);
        return;
    }
    m->map = xrealloc(m->map, (size_t)nw * MAXC * sizeof *m->map);
    long placed = dispatch_counts(m->disp, ids, nw, m->current, m->map);
    if (placed < m->current) { /* only fixed_count classes, all full */
        m->current = placed;
        if (m->target > placed) m->target = placed;
    }
    double ts = clock_wall();
    if (ts <= m->last_ts) ts = m->last_ts + 1e-6;
    m->last_ts = ts;
    for (int i = 0; i < nw; i++) {
        proto_spawn(&m->out, ids[i], ts, m->names, m->map + (size_t)i * (size_t)m->ncls, m->ncls,
                    m->host, m->o->stop_timeout);
        send_to(m, ids[i]);
    }
    xfree(ids);
}

static long total_users(const master_t *m)
{
    long s = 0;
    for (int i = 0; i < m->nnodes; i++)
        if (live(&m->nodes[i])) s += node_users(m, &m->nodes[i]);
    return s;
}

static void dispatch_step(master_t *m, double now)
{
    if (!m->active || live_count(m) == 0) return;
    if (m->rebalance) {
        m->rebalance = false;
        send_maps(m);
    }
    if (m->current != m->target && now >= m->next_iter) {
        long step = m->rate >= 1 ? (long)floor(m->rate) : 1;
        if (m->current < m->target)
            m->current = m->current + step < m->target ? m->current + step : m->target;
        else
            m->current = m->current - step > m->target ? m->current - step : m->target;
        send_maps(m);
        m->next_iter = now + (double)step / m->rate;
        if (m->current == m->target) {
            m->reached = true;
            m->reached_at = now;
        }
    }
    /* Locust waits up to 1 s for the workers to report the target count */
    if (m->reached && !m->spawned && (total_users(m) == m->target || now - m->reached_at >= 1.0))
        m->spawned = true;
}

/* ---- liveness ---- */

static enum action check_nodes(master_t *m, double now)
{
    enum action act = ACT_NONE;
    for (int i = 0; i < m->nnodes; i++) {
        node_t *n = &m->nodes[i];
        if (!live(n)) {
            if (now - n->missing_since >= DROP_AFTER) {
                log_info("Worker %s has been missing for %.0f s: removing it", n->id, DROP_AFTER);
                drop(m, n);
                i--;
            }
            continue;
        }
        if (now - n->last_beat < MISSING_AFTER) continue;
        log_info("Worker %s failed to send heartbeat, setting state to missing.", n->id);
        snprintf(n->state, sizeof n->state, "missing");
        n->missing_since = now;
        memset(n->counts, 0, sizeof n->counts);
        if (m->active) {
            m->rebalance = true;
            if (live_count(m) == 0) {
                log_info("The last worker went missing, stopping test.");
                act = ACT_STOP;
            }
        }
    }
    return act;
}

/* ---- messages from workers ---- */

static enum action on_control(master_t *m, const char *id, const proto_msg_t *msg, double now)
{
    node_t *n = find(m, id);
    const char *t = msg->type;
    if (strcmp(t, "client_ready") == 0) {
        char version[64] = "";
        mp_copy_str(msg->data, version, sizeof version);
        if (version[0] == '\0')
            log_info("Worker %s sent no version (Debian's Locust does so): accepted", id);
        else if (strcmp(version, PROTO_VERSION) != 0)
            log_warn("A worker (%s) running a different version (%s) connected, master "
                     "version is %s",
                     id, version, PROTO_VERSION);
        int index = index_of(m, id);
        proto_ack(&m->out, id, index);
        send_to(m, id);
        if (n == NULL) {
            if (m->nnodes == m->capnodes) {
                m->capnodes = m->capnodes ? 2 * m->capnodes : 16;
                m->nodes = xrealloc(m->nodes, (size_t)m->capnodes * sizeof *m->nodes);
            }
            n = &m->nodes[m->nnodes++];
        }
        *n = (node_t){.index = index, .last_beat = now};
        snprintf(n->id, sizeof n->id, "%s", id);
        snprintf(n->state, sizeof n->state, "ready");
        if (m->active) m->rebalance = true;
        log_info("Worker %s (index %d) reported as ready. %d workers connected.", id, index,
                 live_count(m));
        return ACT_NONE;
    }
    static const char *const known[] = {"heartbeat",      "stats", "spawning", "spawning_complete",
                                        "client_stopped", "quit",  "exception"};
    bool is_known = false;
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        is_known |= strcmp(t, known[i]) == 0;
    if (!is_known) {
        log_warn("Unknown message type received from worker %s (index %d): %s", id,
                 n ? n->index : -1, t);
        return ACT_NONE;
    }
    if (n == NULL) {
        /* heartbeats of unknown workers are ignored, as Locust does */
        if (strcmp(t, "heartbeat") != 0 && strcmp(t, "stats") != 0)
            log_warn("Received %s message from an unknown worker: %s.", t, id);
        return ACT_NONE;
    }
    if (strcmp(t, "heartbeat") == 0) {
        char state[16] = "";
        if (!mp_copy_str(mp_get(msg->data, "state"), state, sizeof state) || !state[0]) {
            log_warn("heartbeat from %s without a state: dropped", id);
            return ACT_NONE;
        }
        if (!live(n)) {
            log_info("Worker %s self-healed with heartbeat, setting state to %s.", id, state);
            if (m->active) m->rebalance = true;
        }
        n->last_beat = now;
        if (strcmp(state, "missing") != 0) snprintf(n->state, sizeof n->state, "%s", state);
        mp_num(mp_get(msg->data, "current_cpu_usage"), &n->cpu);
        int64_t mem;
        if (mp_int(mp_get(msg->data, "current_memory_usage"), &mem)) n->mem = mem;
        if (!n->cpu_warned && n->cpu > 90) {
            n->cpu_warned = true;
            log_warn("Worker %s (index %d) exceeded cpu threshold (will only log this once "
                     "per worker)",
                     id, n->index);
        }
    } else if (strcmp(t, "spawning") == 0) {
        if (live(n)) snprintf(n->state, sizeof n->state, "spawning");
    } else if (strcmp(t, "spawning_complete") == 0) {
        if (live(n)) snprintf(n->state, sizeof n->state, "running");
        proto_class_counts(mp_get(msg->data, "user_classes_count"), m->names, m->ncls, n->counts);
    } else if (strcmp(t, "stats") == 0) {
        if (live(n))
            proto_class_counts(mp_get(msg->data, "user_classes_count"), m->names, m->ncls,
                               n->counts);
    } else if (strcmp(t, "client_stopped") == 0 || strcmp(t, "quit") == 0) {
        bool quit = t[0] == 'q';
        if (quit)
            log_info("Worker '%s' (index %d) quit. %d workers ready.", id, n->index,
                     live_count(m) - 1);
        else
            log_info("Worker %s (index %d) reported that it has stopped, removing from running "
                     "workers",
                     id, n->index);
        drop(m, n);
        if (m->active) m->rebalance = true;
        if (quit && !m->quit_req && live_count(m) == 0) {
            log_info("The last worker quit, stopping test.");
            return m->o->headless ? ACT_STOP_QUIT : ACT_STOP;
        }
    }
    return ACT_NONE;
}

static enum action on_frame(master_t *m, const char *id, bool id_ok, const void *buf, size_t len)
{
    proto_msg_t msg;
    if (!id_ok || proto_decode(&msg, buf, len) != 0) {
        log_error("RPCError when receiving from client: undecodable message (%zu bytes). Will "
                  "reset client %s.",
                  len, id_ok ? id : "(not UTF-8)");
        if (id_ok) {
            pthread_mutex_lock(&m->lock);
            send_simple(m, id, "reconnect");
            pthread_mutex_unlock(&m->lock);
        }
        if (id_ok) proto_msg_free(&msg);
        return ACT_NONE;
    }
    if (strcmp(msg.type, "stats") == 0 || strcmp(msg.type, "exception") == 0) {
        /* statistics go in even from unknown workers, as Locust's do */
        runner_lock(m->r);
        stats_t *st = runner_stats(m->r);
        if (msg.type[0] == 's') {
            if (proto_merge_stats(st, msg.data, m->scratch) < 0)
                log_warn("stats message from %s is not a map: dropped", id);
        } else {
            char *em = mp_dup_str(mp_get(msg.data, "msg")),
                 *tb = mp_dup_str(mp_get(msg.data, "traceback"));
            if (em && tb)
                stats_exception_add(st, em, tb, msg.node_id[0] ? msg.node_id : id, 1);
            else
                log_warn("exception message from %s without msg/traceback: dropped", id);
            xfree(em);
            xfree(tb);
        }
        runner_unlock(m->r);
    }
    pthread_mutex_lock(&m->lock);
    enum action act = on_control(m, id, &msg, mono());
    pthread_mutex_unlock(&m->lock);
    proto_msg_free(&msg);
    return act;
}

/* Read every waiting message: [identity, payload] frames. */
static enum action read_socket(master_t *m)
{
    enum action act = ACT_NONE;
    for (;;) {
        zmq_msg_t f[3];
        int nf = 0;
        bool more = true;
        while (more) {
            zmq_msg_t part;
            zmq_msg_init(&part);
            if (zmq_msg_recv(&part, m->sock, nf ? 0 : ZMQ_DONTWAIT) < 0) {
                zmq_msg_close(&part);
                if (nf == 0) return act;
                break;
            }
            more = zmq_msg_more(&part);
            if (nf < 3)
                f[nf++] = part;
            else
                zmq_msg_close(&part);
        }
        char id[PROTO_MAX_ID] = "";
        size_t idlen = zmq_msg_size(&f[0]);
        bool id_ok = idlen < sizeof id && proto_utf8(zmq_msg_data(&f[0]), idlen);
        if (id_ok) {
            memcpy(id, zmq_msg_data(&f[0]), idlen);
            id[idlen] = '\0';
        }
        enum action a = ACT_NONE;
        if (nf >= 2)
            a = on_frame(m, id, id_ok, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]));
        else
            log_warn("Dropped a message without a payload frame");
        if (a > act) act = a;
        for (int i = 0; i < nf; i++)
            zmq_msg_close(&f[i]);
    }
}

/* ---- the thread ---- */

static void *run(void *arg)
{
    master_t *m = arg;
    for (;;) {
        zmq_pollitem_t it = {m->sock, 0, ZMQ_POLLIN, 0};
        zmq_poll(&it, 1, 20);
        enum action act = read_socket(m);
        double now = mono();
        pthread_mutex_lock(&m->lock);
        if (m->end) {
            pthread_mutex_unlock(&m->lock);
            break;
        }
        enum action a = check_nodes(m, now);
        if (a > act) act = a;
        if (m->stop_req) {
            m->stop_req = false;
            for (int i = 0; i < m->nnodes; i++)
                send_simple(m, m->nodes[i].id, "stop");
        }
        if (m->quit_req && !m->quit_sent) {
            m->quit_sent = true;
            m->quit_at = now;
            for (int i = 0; i < m->nnodes; i++)
                send_simple(m, m->nodes[i].id, "quit");
        }
        if (m->quit_sent && !m->quit_done &&
            (live_count(m) == 0 || now - m->quit_at >= QUIT_WAIT)) {
            m->quit_done = true;
            pthread_cond_broadcast(&m->cond);
        }
        if (!m->quit_req) dispatch_step(m, now);
        pthread_mutex_unlock(&m->lock);
        if (act != ACT_NONE) runner_stop(m->r);
        if (act == ACT_STOP_QUIT) runner_quit(m->r);
    }
    return NULL;
}

/* ---- hooks (runner thread) ---- */

static void hook_swarm(void *ud, long users, double rate, const char *host)
{
    master_t *m = ud;
    pthread_mutex_lock(&m->lock);
    if (!m->active) m->current = 0;
    m->active = true;
    m->target = users < 0 ? 0 : users;
    m->rate = rate > 0 ? rate : 1;
    m->next_iter = 0;
    m->reached = m->spawned = false;
    if (host && *host)
        snprintf(m->host, sizeof m->host, "%s", host); /* else keep: -H or the UI's */
    if (m->current == m->target) {
        m->rebalance = true; /* Locust sends the unchanged map once */
        m->reached = true;
        m->reached_at = mono();
    }
    if (live_count(m) == 0)
        log_warn("You can't start a distributed test before at least one worker processes has "
                 "connected");
    pthread_mutex_unlock(&m->lock);
}

static void hook_stop(void *ud)
{
    master_t *m = ud;
    pthread_mutex_lock(&m->lock);
    m->active = m->reached = m->spawned = m->rebalance = false;
    m->current = m->target = 0;
    m->stop_req = true;
    pthread_mutex_unlock(&m->lock);
}

static bool hook_spawned(void *ud)
{
    master_t *m = ud;
    pthread_mutex_lock(&m->lock);
    bool s = m->spawned;
    pthread_mutex_unlock(&m->lock);
    return s;
}

static int hook_ready_workers(void *ud)
{
    master_t *m = ud;
    pthread_mutex_lock(&m->lock);
    int k = 0;
    for (int i = 0; i < m->nnodes; i++)
        k += strcmp(m->nodes[i].state, "ready") == 0;
    pthread_mutex_unlock(&m->lock);
    return k;
}

static long hook_user_count(void *ud)
{
    master_t *m = ud;
    pthread_mutex_lock(&m->lock);
    long s = total_users(m);
    pthread_mutex_unlock(&m->lock);
    return s;
}

static long hook_class_users(void *ud, int cls)
{
    master_t *m = ud;
    if (cls < 0 || cls >= MAXC || m->of_runner[cls] < 0) return 0;
    int c = m->of_runner[cls];
    long s = 0;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->nnodes; i++)
        if (live(&m->nodes[i])) s += m->nodes[i].counts[c];
    pthread_mutex_unlock(&m->lock);
    return s;
}

static size_t hook_workers(void *ud, runner_worker_t *out, size_t max)
{
    master_t *m = ud;
    pthread_mutex_lock(&m->lock);
    size_t n = (size_t)m->nnodes;
    for (size_t i = 0; i < n && i < max; i++) {
        const node_t *nd = &m->nodes[i];
        runner_worker_t *w = &out[i];
        snprintf(w->id, sizeof w->id, "%s", nd->id);
        snprintf(w->state, sizeof w->state, "%s", nd->state);
        w->user_count = node_users(m, nd);
        w->cpu_usage = nd->cpu;
        w->memory_usage = nd->mem;
    }
    pthread_mutex_unlock(&m->lock);
    return n;
}

static void hook_quit(void *ud)
{
    master_t *m = ud;
    pthread_mutex_lock(&m->lock);
    m->active = false;
    m->quit_req = true;
    struct timespec until;
    clock_gettime(CLOCK_REALTIME, &until);
    until.tv_sec += (time_t)QUIT_WAIT + 1;
    while (!m->quit_done)
        if (pthread_cond_timedwait(&m->cond, &m->lock, &until) == ETIMEDOUT) break;
    int left = live_count(m);
    pthread_mutex_unlock(&m->lock);
    if (left) log_warn("%d worker(s) did not send their final report in time", left);
}

/* ---- set-up ---- */

master_t *master_start(runner_t *r, const opts_t *o, char *err, size_t n)
{
    master_t *m = xcalloc(1, sizeof *m);
    m->r = r;
    m->o = o;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    mp_out_init(&m->out);
    m->scratch = hist_new();

    /* the classes in play: the chosen ones (positional names), else all */
    dispatch_class_t dc[MAXC];
    size_t ncls;
    runner_lock(r);
    const runner_class_t *cls = runner_classes(r, &ncls);
    for (size_t i = 0; i < ncls && i < MAXC; i++) {
        bool chosen = o->nclasses == 0;
        for (size_t k = 0; k < o->nclasses; k++)
            chosen |= strcmp(o->classes[k], cls[i].name) == 0;
        m->of_runner[i] = -1;
        if (!chosen) continue;
        m->of_runner[i] = m->ncls;
        dc[m->ncls] = (dispatch_class_t){cls[i].name, cls[i].weight, cls[i].fixed_count};
        m->names[m->ncls++] = cls[i].name;
    }
    for (size_t i = ncls; i < MAXC; i++)
        m->of_runner[i] = -1;
    runner_unlock(r);
    m->disp = dispatch_new(dc, m->ncls);

    const char *host = strcmp(o->master_bind_host, "*") == 0 ? "*" : o->master_bind_host;
    if (o->master_bind_port == 0)
        snprintf(m->endpoint, sizeof m->endpoint, "tcp://%s:*", host);
    else
        snprintf(m->endpoint, sizeof m->endpoint, "tcp://%s:%d", host, o->master_bind_port);
    m->ctx = zmq_ctx_new();
    m->sock = m->ctx ? zmq_socket(m->ctx, ZMQ_ROUTER) : NULL;
    if (m->sock == NULL) {
        snprintf(err, n, "cannot create the master socket: %s", zmq_strerror(errno));
        goto error;
    }
    int one = 1, idle = 30, linger = 1000;
    zmq_setsockopt(m->sock, ZMQ_TCP_KEEPALIVE, &one, sizeof one);
    zmq_setsockopt(m->sock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof idle);
    zmq_setsockopt(m->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (zmq_bind(m->sock, m->endpoint) != 0) {
        snprintf(err, n, "cannot bind the master to %s: %s", m->endpoint, zmq_strerror(errno));
        goto error;
    }
    size_t elen = sizeof m->endpoint;
    zmq_getsockopt(m->sock, ZMQ_LAST_ENDPOINT, m->endpoint, &elen);
    runner_remote_t rm = {.master = true,
                          .ud = m,
                          .swarm = hook_swarm,
                          .stop = hook_stop,
                          .spawned = hook_spawned,
                          .ready_workers = hook_ready_workers,
                          .user_count = hook_user_count,
                          .class_users = hook_class_users,
                          .workers = hook_workers,
                          .quit = hook_quit};
    runner_set_remote(r, &rm);
    if (pthread_create(&m->thread, NULL, run, m) != 0) {
        snprintf(err, n, "cannot start the master thread");
        goto error;
    }
    m->started = true;
    log_info("Starting the master, listening on %s", m->endpoint);
    return m;
error:
    master_free(m);
    return NULL;
}

void master_free(master_t *m)
{
    if (m == NULL) return;
    if (m->started) {
        pthread_mutex_lock(&m->lock);
        m->end = true;
        pthread_mutex_unlock(&m->lock);
        pthread_join(m->thread, NULL);
    }
    if (m->sock) zmq_close(m->sock);
    if (m->ctx) zmq_ctx_term(m->ctx);
    dispatch_free(m->disp);
    hist_free(m->scratch);
    mp_out_free(&m->out);
    xfree(m->nodes);
    xfree(m->ids);
    xfree(m->map);
    pthread_cond_destroy(&m->cond);
    pthread_mutex_destroy(&m->lock);
    xfree(m);
}
