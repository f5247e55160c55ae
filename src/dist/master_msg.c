/* master_msg: the master's side of the conversation with its workers.
 *
 * The master's thread calls master_read_socket each turn of its loop; it
 * drains the ROUTER socket ([identity, payload] frames), decodes each
 * payload (dist/proto.h) and handles it: `stats` and `exception` reports
 * are merged into the runner's statistics under the runner lock, within
 * proto.h's caps (a warning names the worker the first time each cap
 * bites) and only from an identity that once said client_ready (unlike
 * Locust, which merges anyone's: everything else from an unknown identity
 * is dropped, with a warning at most every 10 s); then, under m->lock, client_ready is
 * acked and adds or resets the worker's node, heartbeats keep its state,
 * CPU and memory, spawning/spawning_complete/stats update its state and
 * user counts, and client_stopped/quit drop it. Undecodable frames get
 * `reconnect`; unknown types are logged and dropped.
 *
 * It does not dispatch users or watch for missing workers (master.c does,
 * from the flags and table left here), and it never calls the runner's
 * stop/quit itself: it returns what it wants done. */
#include <stdio.h>
#include <zmq.h>

#include "base/alloc.h"
#include "base/log.h"
#include "dist/master_int.h"

static node_t *find(master_t *m, const char *id)
{
    for (int i = 0; i < m->nnodes; i++)
        if (strcmp(m->nodes[i].id, id) == 0) return &m->nodes[i];
    return NULL;
}

static int known_index(const master_t *m, const char *id)
{
    for (int i = 0; i < m->nids; i++)
        if (strcmp(m->ids[i], id) == 0) return i;
    return -1;
}

/* id's index, a new one if it is new; -1 if MAX_IDS are taken. */
static int index_of(master_t *m, const char *id)
{
    int i = known_index(m, id);
    if (i >= 0) return i;
    if (m->nids >= MAX_IDS) return -1;
    m->ids = xrealloc(m->ids, (size_t)(m->nids + 1) * sizeof *m->ids);
    snprintf(m->ids[m->nids], PROTO_MAX_ID, "%s", id);
    return m->nids++;
}

/* client_ready: a worker (new, or back after a restart) joins. */
static void on_ready(master_t *m, node_t *n, const char *id, const proto_msg_t *msg, double now)
{
    char version[64] = "";
    mp_copy_str(msg->data, version, sizeof version);
    if (version[0] == '\0')
        log_info("Worker %s sent no version (Debian's Locust does so): accepted", id);
    else if (strcmp(version, PROTO_VERSION) != 0)
        log_warn("A worker (%s) running a different version (%s) connected, master "
                 "version is %s",
                 id, version, PROTO_VERSION);
    int index = index_of(m, id);
    if (index < 0) {
        log_warn("Refused worker %s: the master has seen %d worker identities, its limit", id,
                 MAX_IDS);
        return;
    }
    proto_ack(&m->out, id, index);
    master_send_to(m, id);
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
}

static bool is_known(const char *t)
{
    static const char *const known[] = {"heartbeat",      "stats", "spawning", "spawning_complete",
                                        "client_stopped", "quit",  "exception"};
    for (size_t i = 0; i < sizeof known / sizeof known[0]; i++)
        if (strcmp(t, known[i]) == 0) return true;
    return false;
}

/* A message from a worker that is not (or no longer) among the nodes. */
static void on_stranger(master_t *m, const char *id, const char *t, double now)
{
    /* a worker that said client_ready and then stopped or quit may still
     * report; others are logged (at most every 10 s: a flood of them must
     * not flood the log) */
    if (known_index(m, id) >= 0) return;
    m->unknown_dropped++;
    if (now - m->unknown_logged_at >= 10.0) {
        log_warn("Received %s message from an unknown worker: %s (it never said "
                 "client_ready): dropped, with %ld such message(s) since the last warning",
                 t, id, m->unknown_dropped);
        m->unknown_logged_at = now;
        m->unknown_dropped = 0;
    }
}

static void on_heartbeat(master_t *m, node_t *n, const char *id, const proto_msg_t *msg, double now)
{
    char state[16] = "";
    if (!mp_copy_str(mp_get(msg->data, "state"), state, sizeof state) || !state[0]) {
        log_warn("heartbeat from %s without a state: dropped", id);
        return;
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
}

/* client_stopped or quit: the worker leaves the run. */
static enum action on_gone(master_t *m, node_t *n, const char *id, bool quit)
{
    if (quit)
        log_info("Worker '%s' (index %d) quit. %d workers ready.", id, n->index, live_count(m) - 1);
    else
        log_info("Worker %s (index %d) reported that it has stopped, removing from running "
                 "workers",
                 id, n->index);
    node_drop(m, n);
    if (m->active) m->rebalance = true;
    if (quit && !m->quit_req && live_count(m) == 0) {
        log_info("The last worker quit, stopping test.");
        return m->o->headless ? ACT_STOP_QUIT : ACT_STOP;
    }
    return ACT_NONE;
}

static enum action on_control(master_t *m, const char *id, const proto_msg_t *msg, double now)
{
    node_t *n = find(m, id);
    const char *t = msg->type;
    if (strcmp(t, "client_ready") == 0) {
        on_ready(m, n, id, msg, now);
        return ACT_NONE;
    }
    if (!is_known(t)) {
        log_warn("Unknown message type received from worker %s (index %d): %s", id,
                 n ? n->index : -1, t);
        return ACT_NONE;
    }
    if (n == NULL) {
        on_stranger(m, id, t, now);
        return ACT_NONE;
    }
    if (strcmp(t, "heartbeat") == 0) {
        on_heartbeat(m, n, id, msg, now);
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
        return on_gone(m, n, id, t[0] == 'q');
    }
    return ACT_NONE;
}

/* Warn, once per worker and cap, that a report of worker id went over
 * proto.h's caps. */
static void warn_caps(master_t *m, const char *id, const proto_dropped_t *dr)
{
    node_t *n = find(m, id);
    unsigned bits =
        (dr->names ? 1u : 0) | (dr->rows ? 2u : 0) | (dr->secs ? 4u : 0) | (dr->errors ? 8u : 0);
    if (n) {
        bits &= ~n->cap_warned;
        n->cap_warned |= bits;
    }
    if (bits & 1u)
        log_warn("Worker %s sent a report of over %d names: %zu entries dropped (reported once "
                 "per worker)",
                 id, PROTO_MAX_NAMES, dr->names);
    if (bits & 2u)
        log_warn("Worker %s reported new names while the statistics hold %d rows, the limit: "
                 "%zu entries dropped (reported once per worker)",
                 id, PROTO_MAX_ROWS, dr->rows);
    if (bits & 4u)
        log_warn("Worker %s sent over %d per-second counts for one name: %zu dropped (reported "
                 "once per worker)",
                 id, PROTO_MAX_SECS, dr->secs);
    if (bits & 8u)
        log_warn("Worker %s sent failures over the limits (%d per report, %d rows): %zu dropped "
                 "(reported once per worker)",
                 id, PROTO_MAX_ERRORS, PROTO_MAX_ERROR_ROWS, dr->errors);
}

/* A str of at most max bytes (cut), or NULL. */
static char *dup_cut(const msgpack_object *o, size_t max)
{
    if (o == NULL || o->type != MSGPACK_OBJECT_STR) return NULL;
    return xstrndup(o->via.str.ptr, o->via.str.size < max ? o->via.str.size : max);
}

/* Count an exception report, within MAX_EXC_* (the caller holds the
 * runner lock). */
static void merge_exception(stats_t *st, const char *id, const proto_msg_t *msg)
{
    char *em = dup_cut(mp_get(msg->data, "msg"), MAX_EXC_MSG),
         *tb = dup_cut(mp_get(msg->data, "traceback"), MAX_EXC_TB);
    if (em && tb) {
        size_t nexc;
        stats_exception_t **xs = stats_exceptions(st, &nexc);
        bool fits = nexc < MAX_EXC_ROWS;
        for (size_t i = 0; i < nexc && !fits; i++)
            fits = strcmp(xs[i]->traceback, tb) == 0;
        if (fits)
            stats_exception_add(st, em, tb, msg->node_id[0] ? msg->node_id : id, 1);
        else
            log_debug("exception from %s dropped: %d exception rows, the limit", id, MAX_EXC_ROWS);
    } else {
        log_warn("exception message from %s without msg/traceback: dropped", id);
    }
    xfree(em);
    xfree(tb);
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
            master_send_simple(m, id, "reconnect");
            pthread_mutex_unlock(&m->lock);
        }
        if (id_ok) proto_msg_free(&msg);
        return ACT_NONE;
    }
    if (master_custom_frame(m, id, msg.type, buf, len)) {
        proto_msg_free(&msg);
        return ACT_NONE;
    }
    bool report = strcmp(msg.type, "stats") == 0 || strcmp(msg.type, "exception") == 0;
    if (report) {
        pthread_mutex_lock(&m->lock);
        report = known_index(m, id) >= 0; /* else on_control logs and drops it */
        pthread_mutex_unlock(&m->lock);
    }
    if (report) {
        proto_dropped_t dr = {0};
        runner_lock(m->r);
        stats_t *st = runner_stats(m->r);
        if (msg.type[0] == 's') {
            if (proto_merge_report(st, msg.data, m->scratch, &dr) < 0)
                log_warn("stats message from %s is not a map: dropped", id);
        } else {
            merge_exception(st, id, &msg);
        }
        runner_unlock(m->r);
        if (dr.names || dr.rows || dr.secs || dr.errors) {
            pthread_mutex_lock(&m->lock);
            warn_caps(m, id, &dr);
            pthread_mutex_unlock(&m->lock);
        }
    }
    pthread_mutex_lock(&m->lock);
    enum action act = on_control(m, id, &msg, mono());
    pthread_mutex_unlock(&m->lock);
    proto_msg_free(&msg);
    return act;
}

/* A message over PROTO_MAX_MSG (and under the socket's hard cap, twice
 * that): dropped undecoded, with a warning naming its sender once per
 * worker (a worker whose reports outgrow the cap would repeat it every
 * 3 s). */
static void too_big(master_t *m, const char *id, size_t len)
{
    pthread_mutex_lock(&m->lock);
    node_t *n = find(m, id);
    bool warn = n == NULL || !(n->cap_warned & 16u);
    if (n) n->cap_warned |= 16u;
    pthread_mutex_unlock(&m->lock);
    if (warn)
        log_warn("Worker %s sent a message of %zu bytes, over the %d MiB limit: dropped (reported "
                 "once per worker; fewer names per report, see docs/distributed.md)",
                 id, len, PROTO_MAX_MSG >> 20);
}

enum action master_read_socket(master_t *m)
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
        if (nf >= 2 && zmq_msg_size(&f[1]) > PROTO_MAX_MSG)
            too_big(m, id_ok ? id : "(not UTF-8)", zmq_msg_size(&f[1]));
        else if (nf >= 2)
            a = on_frame(m, id, id_ok, zmq_msg_data(&f[1]), zmq_msg_size(&f[1]));
        else
            log_warn("Dropped a message without a payload frame");
        if (a > act) act = a;
        for (int i = 0; i < nf; i++)
            zmq_msg_close(&f[i]);
    }
}
