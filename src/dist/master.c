/* master: see master.h. This file holds set-up, the thread's loop, the
 * dispatch steps, liveness and the runner's hooks; the worker messages are
 * handled in master_msg.c, and master_int.h holds the shared state.
 *
 * Locks: m->lock guards the node table and the dispatch state; the
 * runner's hooks take it (sometimes inside the runner lock), and the
 * thread takes the runner lock only while NOT holding m->lock, so the
 * order is always runner lock → m->lock. Requests for the runner
 * (stop/quit when the last worker leaves) are collected under m->lock and
 * made after it is released.
 *
 * With --master-key the socket is a CURVE server and the thread also polls
 * the two sockets of its guard (dist/curve.h: ZAP answers, refused
 * handshakes). Without it, a master bound beyond loopback warns once at
 * start that anyone who reaches the port can join. */
#include "dist/master_int.h"

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
#include "net/loop.h"

#define MISSING_AFTER 3.5 /* s without a heartbeat: about 4 of Locust's 1 s beats */
#define DROP_AFTER 60.0   /* s missing before a worker is forgotten */
#define QUIT_WAIT 2.0     /* s to wait for the workers' final reports */
#define MAX_QUEUED 2      /* messages queued per worker connection (ZMQ_RCVHWM) */

static long node_users(const master_t *m, const node_t *n)
{
    long s = 0;
    for (int c = 0; c < m->ncls; c++)
        s += n->counts[c];
    return s;
}

/* ---- sending ---- */

void master_send_to(master_t *m, const char *id)
{
    if (zmq_send(m->sock, id, strlen(id), ZMQ_SNDMORE | ZMQ_DONTWAIT) < 0 ||
        zmq_send(m->sock, m->out.buf.data, m->out.buf.size, ZMQ_DONTWAIT) < 0)
        log_debug("cannot send to worker %s: %s", id, zmq_strerror(errno));
    mp_out_clear(&m->out);
}

void master_send_simple(master_t *m, const char *id, const char *type)
{
    proto_simple(&m->out, type, id);
    master_send_to(m, id);
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
    m->map = xrealloc(m->map, (size_t)nw * LIMIT_CLASSES * sizeof *m->map);
    long placed = dispatch_counts(m->disp, ids, nw, m->current, m->map);
    if (placed < m->current) { /* only fixed_count classes, all full */
        m->current = placed;
        if (m->target > placed) m->target = placed;
    }
    double ts = clock_wall();
    if (ts <= m->last_ts) ts = m->last_ts + 1e-6;
    m->last_ts = ts;
    for (int i = 0; i < nw; i++) {
        /* the open model: worker i of nw takes iterations i, i + nw, ... */
        proto_spawn_open(&m->out, ids[i], ts, m->names, m->map + (size_t)i * (size_t)m->ncls,
                         m->ncls, m->host, m->o->stop_timeout, m->open ? m->rates : NULL, i, nw);
        master_send_to(m, ids[i]);
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
                node_drop(m, n);
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

/* ---- the thread ---- */

static void *run(void *arg)
{
    master_t *m = arg;
    for (;;) {
        zmq_pollitem_t it[3] = {{m->sock, 0, ZMQ_POLLIN, 0}};
        if (m->guard) curve_guard_items(m->guard, it + 1);
        zmq_poll(it, m->guard ? 3 : 1, 20);
        if (m->guard) curve_guard_handle(m->guard);
        enum action act = master_read_socket(m);
        master_custom_tick(m);
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
                master_send_simple(m, m->nodes[i].id, "stop");
        }
        if (m->quit_req && !m->quit_sent) {
            m->quit_sent = true;
            m->quit_at = now;
            for (int i = 0; i < m->nnodes; i++)
                master_send_simple(m, m->nodes[i].id, "quit");
        }
        if (m->quit_sent && !m->quit_done &&
            (live_count(m) == 0 || now - m->quit_at >= QUIT_WAIT)) {
            m->quit_done = true;
            pthread_cond_broadcast(&m->cond);
        }
        if (!m->quit_req && m->lua_active == m->active) dispatch_step(m, now);
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

static void hook_rates(void *ud, const double *rates, int n)
{
    master_t *m = ud;
    pthread_mutex_lock(&m->lock);
    memset(m->rates, 0, sizeof m->rates);
    for (int i = 0; i < n && i < LIMIT_CLASSES; i++)
        if (m->of_runner[i] >= 0) m->rates[m->of_runner[i]] = rates[i];
    m->open = true;
    /* the workers learn new rates with their maps; before a swarm (the
     * rates come first) the swarm's own maps carry them */
    if (m->active) m->rebalance = true;
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
    if (cls < 0 || cls >= LIMIT_CLASSES || m->of_runner[cls] < 0) return 0;
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

/* True if a bind host (an address or an interface name, as zmq_bind
 * takes it) is the loopback one. */
static bool loopback(const char *host)
{
    return strncmp(host, "127.", 4) == 0 || strcmp(host, "localhost") == 0 ||
           strcmp(host, "::1") == 0 || strcmp(host, "[::1]") == 0 || strcmp(host, "lo") == 0;
}

/* The classes in play: the chosen ones (positional names), else all. */
static void pick_classes(master_t *m, runner_t *r, const opts_t *o)
{
    dispatch_class_t dc[LIMIT_CLASSES];
    size_t ncls;
    runner_lock(r);
    const runner_class_t *cls = runner_classes(r, &ncls);
    for (size_t i = 0; i < ncls && i < LIMIT_CLASSES; i++) {
        bool chosen = o->nclasses == 0;
        for (size_t k = 0; k < o->nclasses; k++)
            chosen |= strcmp(o->classes[k], cls[i].name) == 0;
        m->of_runner[i] = -1;
        if (!chosen) continue;
        m->of_runner[i] = m->ncls;
        dc[m->ncls] = (dispatch_class_t){cls[i].name, cls[i].weight, cls[i].fixed_count};
        m->names[m->ncls++] = cls[i].name;
    }
    for (size_t i = ncls; i < LIMIT_CLASSES; i++)
        m->of_runner[i] = -1;
    runner_unlock(r);
    m->disp = dispatch_new(dc, m->ncls);
}

/* The ROUTER socket, its bounds and (with --master-key) CURVE, bound to
 * the endpoint. Returns 0, or -1 with err filled. */
static int open_socket(master_t *m, const opts_t *o, char *err, size_t n)
{
    const char *host = strcmp(o->master_bind_host, "*") == 0 ? "*" : o->master_bind_host;
    if (o->master_bind_port == 0)
        snprintf(m->endpoint, sizeof m->endpoint, "tcp://%s:*", host);
    else
        snprintf(m->endpoint, sizeof m->endpoint, "tcp://%s:%d", host, o->master_bind_port);
    m->ctx = zmq_ctx_new();
    m->sock = m->ctx ? zmq_socket(m->ctx, ZMQ_ROUTER) : NULL;
    if (m->sock == NULL) {
        snprintf(err, n, "cannot create the master socket: %s", zmq_strerror(errno));
        return -1;
    }
    int one = 1, idle = 30, linger = 1000;
    zmq_setsockopt(m->sock, ZMQ_TCP_KEEPALIVE, &one, sizeof one);
    zmq_setsockopt(m->sock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof idle);
    zmq_setsockopt(m->sock, ZMQ_LINGER, &linger, sizeof linger);
    /* a message over twice the cap closes its sender's connection before
     * it is buffered (one between the two is dropped with a warning naming
     * the worker, master_msg.c); a few queued per connection hold a fast
     * sender back (TCP pushes back) instead of queueing 1,000 of them */
    int64_t maxmsg = 2 * (int64_t)PROTO_MAX_MSG;
    int hwm = MAX_QUEUED;
    zmq_setsockopt(m->sock, ZMQ_MAXMSGSIZE, &maxmsg, sizeof maxmsg);
    zmq_setsockopt(m->sock, ZMQ_RCVHWM, &hwm, sizeof hwm);
    if (o->master_key) {
        curve_key_t k;
        char kerr[600];
        if (curve_load(o->master_key, true, &k, kerr, sizeof kerr) != 0) {
            snprintf(err, n, "argument --master-key: %s", kerr);
            return -1;
        }
        m->guard = curve_guard_new(m->ctx, m->sock, &k, o->worker_keys, err, n);
        memset(&k, 0, sizeof k);
        if (m->guard == NULL) return -1;
    }
    if (zmq_bind(m->sock, m->endpoint) != 0) {
        snprintf(err, n, "cannot bind the master to %s: %s", m->endpoint, zmq_strerror(errno));
        return -1;
    }
    size_t elen = sizeof m->endpoint;
    zmq_getsockopt(m->sock, ZMQ_LAST_ENDPOINT, m->endpoint, &elen);
    return 0;
}

master_t *master_start(runner_t *r, const opts_t *o, char *err, size_t n)
{
    master_t *m = xcalloc(1, sizeof *m);
    m->r = r;
    m->o = o;
    pthread_mutex_init(&m->lock, NULL);
    pthread_cond_init(&m->cond, NULL);
    mp_out_init(&m->out);
    m->scratch = hist_new();
    pick_classes(m, r, o);
    if (open_socket(m, o, err, n) != 0) goto error;
    runner_remote_t rm = {.master = true,
                          .ud = m,
                          .swarm = hook_swarm,
                          .rates = hook_rates,
                          .stop = hook_stop,
                          .spawned = hook_spawned,
                          .ready_workers = hook_ready_workers,
                          .user_count = hook_user_count,
                          .class_users = hook_class_users,
                          .workers = hook_workers,
                          .quit = hook_quit};
    runner_set_remote(r, &rm);
    master_custom_open(m);
    if (pthread_create(&m->thread, NULL, run, m) != 0) {
        snprintf(err, n, "cannot start the master thread");
        goto error;
    }
    m->started = true;
    log_info("Starting the master, listening on %s%s", m->endpoint,
             m->guard ? " (CURVE: encrypted, known worker keys only)" : "");
    if (m->guard == NULL && !loopback(o->master_bind_host))
        log_warn("The master listens on %s without CURVE: anyone who reaches this port can join "
                 "as a worker and feed it statistics. Bind to 127.0.0.1, or use --master-key and "
                 "--worker-keys (docs/distributed.md, Security)",
                 m->endpoint);
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
    master_custom_close(m);
    curve_guard_free(m->guard);
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
