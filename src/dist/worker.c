/* worker: see worker.h.
 *
 * Threads: the link thread polls the DEALER and the monitor socket every
 * 20 ms and does all sending. The runner's thread only touches the small
 * outbox below (under w->lock) through its hooks. The link thread reads
 * and resets the runner's statistics under the runner lock, and never
 * holds w->lock while taking it. */
#include "dist/worker.h"

#include <errno.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdio.h>
#include <string.h>
#include <sys/random.h>
#include <time.h>
#include <unistd.h>
#include <zmq.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "base/log.h"
#include "dist/custom.h"
#include "dist/curve.h"
#include "dist/proto.h"
#include "net/loop.h"
#include "lua/msg.h"

#define GONE_AFTER 10.0  /* seconds without a connection to the master */
#define MAX_EXC_MSGS 100 /* exception messages per traceback per report */

struct worker {
    runner_t *r;
    const opts_t *o;
    char id[PROTO_MAX_ID];
    char endpoint[512];
    void *ctx, *sock, *mon;
    int nmon;
    pthread_t thread;
    bool started;

    pthread_mutex_t lock; /* guards the outbox and finishing */
    bool send_complete, send_stopped, finishing;
    long complete_counts[LIMIT_CLASSES];
    custom_queue_t outq; /* custom messages from the engines (lua/msg.h) */

    /* the link thread's own */
    const char *names[LIMIT_CLASSES];
    int ncls;
    mp_out_t out;
    bool acked;
    int retries;
    double ready_sent, last_spawn_ts, next_beat, next_report, down_since;
    bool connected, lost;
    unsigned long cpu_ticks;
    double cpu_wall, cpu;
    atomic_int exit_code;
    /* --worker-key / --master-public-key: CURVE, and whether a refused
     * handshake was reported (once) */
    bool curve, hs_warned;
    curve_key_t key;
    curve_key_t master_key;
};

static double mono(void)
{
    return (double)clock_ns() / 1e9;
}

/* ---- sending ---- */

static void send_out(worker_t *w)
{
    if (zmq_send(w->sock, w->out.buf.data, w->out.buf.size, ZMQ_DONTWAIT) < 0)
        log_debug("cannot send to the master: %s", zmq_strerror(errno));
    mp_out_clear(&w->out);
}

static void send_simple(worker_t *w, const char *type)
{
    proto_simple(&w->out, type, w->id);
    send_out(w);
}

static void send_ready(worker_t *w)
{
    proto_client_ready(&w->out, w->id, PROTO_VERSION);
    send_out(w);
    w->ready_sent = mono();
}

/* The engines' custom messages, in the order they were sent. */
static void send_custom(worker_t *w)
{
    custom_item_t *it = custom_take(&w->outq);
    while (it) {
        custom_item_t *next = it->next;
        if (w->sock && zmq_send(w->sock, it->buf, it->len, ZMQ_DONTWAIT) < 0)
            log_warn("cannot send a custom message to the master: %s", zmq_strerror(errno));
        xfree(it);
        it = next;
    }
}

/* The sink of cicada.send_message (any engine thread): queued for the link
 * thread; client_id is ignored, as Locust's worker does. */
static const char *sink_send(void *ud, const char *name, const void *data, size_t len,
                             const char *client_id)
{
    worker_t *w = ud;
    return custom_push(&w->outq, name, data, len, w->id);
}

/* Process CPU % since the last call (utime+stime of /proc/self/stat) and
 * RSS bytes (/proc/self/statm), as psutil reports them to Locust. */
static void sample_usage(worker_t *w, int64_t *rss)
{
    *rss = 0;
    FILE *f = fopen("/proc/self/statm", "r");
    if (f) {
        long pages, res;
        if (fscanf(f, "%ld %ld", &pages, &res) == 2) *rss = (int64_t)res * sysconf(_SC_PAGESIZE);
        fclose(f);
    }
    char buf[1024];
    f = fopen("/proc/self/stat", "r");
    if (f == NULL) return;
    size_t n = fread(buf, 1, sizeof buf - 1, f);
    fclose(f);
    buf[n] = '\0';
    char *p = strrchr(buf, ')');
    unsigned long ut, st;
    if (p == NULL ||
        sscanf(p + 1, " %*c %*d %*d %*d %*d %*d %*u %*u %*u %*u %*u %lu %lu", &ut, &st) != 2)
        return;
    double now = mono();
    if (w->cpu_wall > 0 && now > w->cpu_wall)
        w->cpu = (double)(ut + st - w->cpu_ticks) / (double)sysconf(_SC_CLK_TCK) /
                 (now - w->cpu_wall) * 100.0;
    w->cpu_ticks = ut + st;
    w->cpu_wall = now;
}

static void send_heartbeat(worker_t *w)
{
    runner_lock(w->r);
    enum runner_state s = runner_state(w->r);
    runner_unlock(w->r);
    /* Locust's worker_state: ready, spawning or running (it stays
     * "running" while stopping) */
    const char *state = s == RUNNER_SPAWNING                          ? "spawning"
                        : s == RUNNER_RUNNING || s == RUNNER_STOPPING ? "running"
                                                                      : "ready";
    int64_t rss;
    sample_usage(w, &rss);
    proto_heartbeat(&w->out, w->id, state, w->cpu, rss);
    send_out(w);
}

/* Send the exceptions merged since the last call, one message per
 * occurrence as Locust does (at most MAX_EXC_MSGS per traceback and call),
 * and forget them. */
static void send_exceptions(worker_t *w)
{
    runner_lock(w->r);
    stats_t *st = runner_stats(w->r);
    size_t n;
    stats_exception_t **ex = stats_exceptions(st, &n);
    for (size_t i = 0; i < n; i++)
        for (uint64_t k = 0; k < ex[i]->count && k < MAX_EXC_MSGS; k++) {
            proto_exception(&w->out, w->id, ex[i]->msg, ex[i]->traceback);
            send_out(w);
        }
    if (n) stats_clear_exceptions(st);
    runner_unlock(w->r);
}

/* A report of everything since the last one; the runner's stats are reset
 * so the next report is a delta again. */
static void send_report(worker_t *w)
{
    send_exceptions(w);
    long counts[LIMIT_CLASSES] = {0};
    runner_lock(w->r);
    size_t ncls;
    const runner_class_t *cls = runner_classes(w->r, &ncls);
    for (int i = 0; i < w->ncls && i < (int)ncls; i++)
        counts[i] = cls[i].users;
    stats_t *st = runner_stats(w->r);
    proto_stats(&w->out, w->id, st, w->names, counts, w->ncls);
    stats_reset(st, clock_wall());
    runner_unlock(w->r);
    send_out(w);
}

/* ---- the socket ---- */

static int open_socket(worker_t *w, char *err, size_t n)
{
    w->sock = zmq_socket(w->ctx, ZMQ_DEALER);
    if (w->sock == NULL) goto error;
    int one = 1, idle = 30, linger = 3000, ivl = 1000, timeout = 5000;
    zmq_setsockopt(w->sock, ZMQ_ROUTING_ID, w->id, strlen(w->id));
    /* ZMTP pings (answered by any libzmq >= 4.2 peer, Locust's included,
     * below its Python code): a master that vanished without closing its
     * TCP connection is seen as disconnected after 5 s of silence */
    zmq_setsockopt(w->sock, ZMQ_HEARTBEAT_IVL, &ivl, sizeof ivl);
    zmq_setsockopt(w->sock, ZMQ_HEARTBEAT_TIMEOUT, &timeout, sizeof timeout);
    zmq_setsockopt(w->sock, ZMQ_TCP_KEEPALIVE, &one, sizeof one);
    zmq_setsockopt(w->sock, ZMQ_TCP_KEEPALIVE_IDLE, &idle, sizeof idle);
    zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof linger);
    if (w->curve && curve_client(w->sock, &w->key, w->master_key.pub) != 0) goto error;
    char mon[64];
    snprintf(mon, sizeof mon, "inproc://cicada-worker-monitor-%d", w->nmon++);
    if (zmq_socket_monitor(
            w->sock, mon,
            ZMQ_EVENT_CONNECTED | ZMQ_EVENT_DISCONNECTED | ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL |
                ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL | ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) != 0)
        goto error;
    w->mon = zmq_socket(w->ctx, ZMQ_PAIR);
    if (w->mon == NULL || zmq_connect(w->mon, mon) != 0) goto error;
    if (zmq_connect(w->sock, w->endpoint) != 0) goto error;
    w->connected = false;
    w->down_since = mono();
    return 0;
error:
    if (err)
        snprintf(err, n, "cannot connect to the master at %s: %s", w->endpoint,
                 zmq_strerror(errno));
    return -1;
}

static void close_socket(worker_t *w, int linger)
{
    if (w->sock) {
        zmq_socket_monitor(w->sock, NULL, 0);
        zmq_setsockopt(w->sock, ZMQ_LINGER, &linger, sizeof linger);
        zmq_close(w->sock);
    }
    if (w->mon) zmq_close(w->mon);
    w->sock = w->mon = NULL;
}

/* Read the monitor's events: connected / disconnected. */
static void read_monitor(worker_t *w)
{
    for (;;) {
        zmq_msg_t m;
        zmq_msg_init(&m);
        if (zmq_msg_recv(&m, w->mon, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&m);
            return;
        }
        uint16_t ev = 0;
        if (zmq_msg_size(&m) >= 2) memcpy(&ev, zmq_msg_data(&m), 2);
        bool more = zmq_msg_more(&m);
        zmq_msg_close(&m);
        while (more) { /* the endpoint frame */
            zmq_msg_init(&m);
            if (zmq_msg_recv(&m, w->mon, 0) < 0)
                more = false;
            else
                more = zmq_msg_more(&m);
            zmq_msg_close(&m);
        }
        if (ev == ZMQ_EVENT_CONNECTED) {
            /* back after a loss: announce ourselves again, so that a master
             * that restarted (and does not know us) acks and uses us */
            if (w->acked && w->lost) {
                log_info("Reconnected to the master at %s: sending client_ready", w->endpoint);
                send_ready(w);
            }
            w->connected = true;
            w->lost = false;
            w->down_since = 0;
        } else if (ev == ZMQ_EVENT_HANDSHAKE_FAILED_NO_DETAIL ||
                   ev == ZMQ_EVENT_HANDSHAKE_FAILED_PROTOCOL ||
                   ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH) {
            /* libzmq retries on its own; say why once, not every 100 ms */
            if (!w->hs_warned)
                log_error("The master at %s refused this worker's connection: %s", w->endpoint,
                          ev == ZMQ_EVENT_HANDSHAKE_FAILED_AUTH
                              ? "its --worker-key is not among the master's --worker-keys"
                          : w->curve ? "a wrong --master-public-key, or a master without CURVE"
                                     : "the master requires CURVE (--worker-key and "
                                       "--master-public-key)");
            w->hs_warned = true;
        } else if (ev == ZMQ_EVENT_DISCONNECTED) {
            if (w->acked) log_warn("Lost the connection to the master at %s", w->endpoint);
            w->connected = false;
            w->lost = true;
            w->down_since = mono();
        }
    }
}

/* ---- messages from the master ---- */

static void on_spawn(worker_t *w, const proto_msg_t *m)
{
    send_simple(w, "spawning"); /* before the timestamp check, as Locust */
    double ts = 0;
    if (!mp_num(mp_get(m->data, "timestamp"), &ts)) {
        log_warn("spawn message without a timestamp: dropped");
        return;
    }
    if (ts <= w->last_spawn_ts) {
        log_info("Discard spawn message with older or equal timestamp than timestamp of "
                 "previous spawn message");
        return;
    }
    w->last_spawn_ts = ts;
    long counts[LIMIT_CLASSES];
    int unknown =
        proto_class_counts(mp_get(m->data, "user_classes_count"), w->names, w->ncls, counts);
    if (unknown < 0) {
        log_warn("spawn message without user_classes_count: dropped");
        return;
    }
    if (unknown > 0)
        log_warn("The master asked for %d user class(es) that %s does not define: ignored", unknown,
                 w->o->locustfile);
    char host[1024] = "";
    mp_copy_str(mp_get(m->data, "host"), host, sizeof host);
    const msgpack_object *rates = mp_get(m->data, "cicada_rates");
    if (rates) { /* a cicada master in the open model (runner/rate.h) */
        double r[LIMIT_CLASSES];
        int64_t wi = -1, nw = 0;
        if (!proto_class_rates(rates, w->names, w->ncls, r) ||
            !mp_int(mp_get(m->data, "cicada_worker_index"), &wi) ||
            !mp_int(mp_get(m->data, "cicada_workers"), &nw) || nw < 1 || nw > 1000000 || wi < 0 ||
            wi >= nw) {
            log_warn("spawn message with malformed open-model rates: dropped");
            return;
        }
        runner_spawn_open(w->r, counts, r, w->ncls, (int)wi, (int)nw, host[0] ? host : NULL);
        return;
    }
    runner_spawn_counts(w->r, counts, w->ncls, host[0] ? host : NULL);
}

static void on_message(worker_t *w, const void *buf, size_t len)
{
    proto_msg_t m;
    if (proto_decode(&m, buf, len) != 0) {
        log_warn("Dropped a malformed message from the master (%zu bytes)", len);
        proto_msg_free(&m);
        return;
    }
    if (strcmp(m.type, "ack") == 0) {
        int64_t index = 0;
        mp_int(mp_get(m.data, "index"), &index);
        if (!w->acked) {
            log_info("Connected to the master at %s as %s (worker index %lld)", w->endpoint, w->id,
                     (long long)index);
            w->next_beat = w->next_report = mono(); /* first report right away, as Locust */
        }
        w->acked = true;
    } else if (strcmp(m.type, "spawn") == 0) {
        on_spawn(w, &m);
    } else if (strcmp(m.type, "stop") == 0) {
        log_info("Got stop message from master, stopping the users");
        runner_stop(w->r);
    } else if (strcmp(m.type, "quit") == 0) {
        log_info("Got quit message from master, shutting down...");
        runner_quit(w->r);
    } else if (strcmp(m.type, "reconnect") == 0) {
        log_warn("Received reconnect message from master. Resetting RPC connection.");
        close_socket(w, 0);
        if (open_socket(w, NULL, 0) != 0) log_error("cannot reopen the connection to the master");
    } else if (strcmp(m.type, "heartbeat") == 0) {
        /* newer Locust masters send these; nothing to do */
    } else if (msg_registered(m.type)) {
        runner_message(w->r, buf, len); /* every engine runs the handler */
    } else {
        log_warn("Unknown message type received: %s", m.type);
    }
    proto_msg_free(&m);
}

static void read_socket(worker_t *w)
{
    zmq_msg_t msg;
    for (;;) {
        zmq_msg_init(&msg);
        if (zmq_msg_recv(&msg, w->sock, ZMQ_DONTWAIT) < 0) {
            zmq_msg_close(&msg);
            return;
        }
        bool more = zmq_msg_more(&msg);
        on_message(w, zmq_msg_data(&msg), zmq_msg_size(&msg));
        zmq_msg_close(&msg);
        while (more) { /* a DEALER gets one frame per message; drop extras */
            zmq_msg_init(&msg);
            if (zmq_msg_recv(&msg, w->sock, 0) < 0)
                more = false;
            else
                more = zmq_msg_more(&msg);
            zmq_msg_close(&msg);
        }
        if (w->sock == NULL) return;
    }
}

/* ---- the link thread ---- */

static void *run(void *arg)
{
    worker_t *w = arg;
    send_ready(w);
    bool gave_up = false;
    for (;;) {
        zmq_pollitem_t items[2] = {{w->sock, 0, ZMQ_POLLIN, 0}, {w->mon, 0, ZMQ_POLLIN, 0}};
        if (w->sock && w->mon) {
            zmq_poll(items, 2, 20);
        } else { /* the socket could not be reopened: keep the clock going */
            struct timespec ts = {0, 20000000};
            nanosleep(&ts, NULL);
        }
        if (w->sock) read_socket(w);
        if (w->mon) read_monitor(w);
        double now = mono();

        pthread_mutex_lock(&w->lock);
        bool complete = w->send_complete, stopped = w->send_stopped, finishing = w->finishing;
        long counts[LIMIT_CLASSES];
        memcpy(counts, w->complete_counts, sizeof counts);
        w->send_complete = w->send_stopped = false;
        pthread_mutex_unlock(&w->lock);

        if (complete) {
            proto_spawning_complete(&w->out, w->id, w->names, counts, w->ncls);
            send_out(w);
        }
        if (stopped) {
            send_simple(w, "client_stopped");
            send_ready(w);
        }
        if (finishing) break;
        if (!w->acked && !gave_up && now - w->ready_sent >= PROTO_CONNECT_TIMEOUT) {
            if (++w->retries >= PROTO_CONNECT_RETRIES) {
                log_error("Failed to connect to the master at %s: gave up after %d retries",
                          w->endpoint, w->retries);
                atomic_store(&w->exit_code, 255);
                gave_up = true;
                runner_quit(w->r);
            } else {
                log_warn("Failed to connect to master %s, retry %d/%d.", w->endpoint, w->retries,
                         PROTO_CONNECT_RETRIES);
                send_ready(w);
            }
        }
        if (!w->acked) continue;
        send_custom(w);
        if (now >= w->next_beat) {
            send_heartbeat(w);
            send_exceptions(w);
            w->next_beat += PROTO_HEARTBEAT_INTERVAL;
            if (w->next_beat < now) w->next_beat = now + PROTO_HEARTBEAT_INTERVAL;
        }
        if (now >= w->next_report) {
            send_report(w);
            w->next_report += PROTO_REPORT_INTERVAL;
            if (w->next_report < now) w->next_report = now + PROTO_REPORT_INTERVAL;
        }
        if (!w->connected && w->down_since > 0 && now - w->down_since >= GONE_AFTER &&
            atomic_load(&w->exit_code) == 0) {
            log_error("The master at %s is gone (no connection for %.0f s): stopping the users",
                      w->endpoint, GONE_AFTER);
            atomic_store(&w->exit_code, 1);
            runner_quit(w->r);
        }
    }
    /* the runner has ended: every engine's statistics are merged */
    if (w->acked) {
        send_custom(w);
        send_report(w);
        send_simple(w, "quit");
    }
    close_socket(w, atomic_load(&w->exit_code) ? 0 : 3000);
    return NULL;
}

/* ---- hooks (runner thread) ---- */

static void hook_spawned(void *ud, const long *counts, int n)
{
    worker_t *w = ud;
    pthread_mutex_lock(&w->lock);
    for (int i = 0; i < n && i < LIMIT_CLASSES; i++)
        w->complete_counts[i] = counts[i];
    w->send_complete = true;
    pthread_mutex_unlock(&w->lock);
}

static void hook_stopped(void *ud)
{
    worker_t *w = ud;
    pthread_mutex_lock(&w->lock);
    w->send_stopped = true;
    pthread_mutex_unlock(&w->lock);
}

/* Locust's node id: hostname, '_', 32 random hex digits. */
static void make_id(char *id, size_t n)
{
    char host[128] = "cicada";
    if (gethostname(host, sizeof host) != 0 || host[0] == '\0')
        snprintf(host, sizeof host, "cicada");
    host[sizeof host - 1] = '\0';
    unsigned char rnd[16] = {0};
    if (getrandom(rnd, sizeof rnd, 0) != (ssize_t)sizeof rnd) {
        struct timespec ts;
        clock_gettime(CLOCK_REALTIME, &ts);
        uint64_t x = (uint64_t)ts.tv_nsec ^ ((uint64_t)getpid() << 32);
        memcpy(rnd, &x, sizeof x);
    }
    char hex[33];
    for (int i = 0; i < 16; i++)
        snprintf(hex + 2 * i, 3, "%02x", rnd[i]);
    snprintf(id, n, "%s_%s", host, hex);
}

worker_t *worker_start(runner_t *r, const opts_t *o, char *err, size_t n)
{
    worker_t *w = xcalloc(1, sizeof *w);
    w->r = r;
    w->o = o;
    pthread_mutex_init(&w->lock, NULL);
    custom_queue_init(&w->outq);
    mp_out_init(&w->out);
    make_id(w->id, sizeof w->id);
    snprintf(w->endpoint, sizeof w->endpoint, "tcp://%s:%d", o->master_host, o->master_port);
    size_t ncls;
    runner_lock(r);
    const runner_class_t *cls = runner_classes(r, &ncls);
    for (size_t i = 0; i < ncls && i < LIMIT_CLASSES; i++)
        w->names[w->ncls++] = cls[i].name;
    runner_unlock(r);
    if (o->worker_key) {
        char kerr[600];
        if (curve_load(o->worker_key, true, &w->key, kerr, sizeof kerr) != 0 ||
            curve_load(o->master_public_key, false, &w->master_key, kerr, sizeof kerr) != 0) {
            snprintf(err, n, "argument %s: %s",
                     w->key.secret[0] ? "--master-public-key" : "--worker-key", kerr);
            goto error;
        }
        if (!curve_available()) {
            snprintf(err, n, "argument --worker-key: this libzmq was built without CURVE");
            goto error;
        }
        w->curve = true;
    }
    w->ctx = zmq_ctx_new();
    if (w->ctx == NULL || open_socket(w, err, n) != 0) goto error;
    runner_remote_t rm = {
        .master = false, .ud = w, .spawned_counts = hook_spawned, .stopped = hook_stopped};
    runner_set_remote(r, &rm);
    msg_sink_t sink = {.send = sink_send, .ud = w};
    msg_set_sink(&sink);
    if (pthread_create(&w->thread, NULL, run, w) != 0) {
        snprintf(err, n, "cannot start the worker thread");
        goto error;
    }
    w->started = true;
    log_info("Starting worker %s, connecting to the master at %s", w->id, w->endpoint);
    return w;
error:
    msg_set_sink(NULL);
    memset(&w->key, 0, sizeof w->key);
    close_socket(w, 0);
    if (w->ctx) zmq_ctx_term(w->ctx);
    custom_queue_free(&w->outq);
    mp_out_free(&w->out);
    pthread_mutex_destroy(&w->lock);
    xfree(w);
    return NULL;
}

int worker_finish(worker_t *w)
{
    pthread_mutex_lock(&w->lock);
    w->finishing = true;
    pthread_mutex_unlock(&w->lock);
    msg_set_sink(NULL);
    if (w->started) pthread_join(w->thread, NULL);
    zmq_ctx_term(w->ctx);
    int code = atomic_load(&w->exit_code);
    custom_queue_free(&w->outq);
    mp_out_free(&w->out);
    pthread_mutex_destroy(&w->lock);
    xfree(w);
    return code;
}
