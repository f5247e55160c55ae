/* server: the web UI's HTTP, WebSocket and TLS server on one epoll loop.
 *
 * One thread runs the loop: it accepts, reads requests, runs routes.c's
 * handlers and writes responses, all non-blocking, so a thousand viewers
 * are a thousand small structs, not a thousand threads (civetweb's model,
 * which froze every route at its 32nd viewer). docs/architecture.md says
 * why this is an own small server and gives the measurements.
 *
 * Bounds, so that nobody can freeze the UI for others:
 * - a request head and body must arrive within HEAD_TIMEOUT of its first
 *   byte (of the connection, for the first one); an idle keep-alive
 *   connection counts as one still to send its head;
 * - connections that have not sent a whole request yet ("half-open") are
 *   at most PER_ADDR per peer address once older than EVICT_AGE: a new
 *   connection from that address closes its oldest one, so a slowloris
 *   holds a few slots for a few seconds, never the UI;
 * - heads over HEAD_MAX and bodies over BODY_MAX are refused (431, 413);
 * - each WebSocket viewer has its own queue of at most two frames: the one
 *   being written and the newest one waiting. A newer push replaces the
 *   waiting frame (a slow viewer skips states, never sees old ones), and a
 *   viewer that has not taken a byte for WS_STALL is disconnected. The
 *   pushed frame is built once and shared by every viewer (refcounted).
 *
 * The push: the runner calls on_tick() on its thread once a second; it
 * writes to an eventfd, and the loop builds the /stats/requests document
 * (under runner_lock) and queues it to every viewer. TLS is OpenSSL on the
 * same non-blocking sockets (the handshake happens inside SSL_read).
 *
 * The same server, started by web_start_metrics() for --metrics-bind,
 * serves /metrics alone (web/metrics.h): no page, no API, no WebSocket,
 * no push; its bounds, --web-auth and TLS are the UI's. */
#include "web/server.h"

#include <errno.h>
#include <netdb.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/eventfd.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include <openssl/err.h>

#include "base/alloc.h"
#include "base/log.h"
#include "web/conn.h"

/* ---- accepting, with the bounds on half-open connections ---- */

/* True if c has sent bytes the loop has not read yet: it is making
 * progress (the loop was busy), not holding a slot. */
static bool unread(web_conn_t *c)
{
    int n = 0;
    return (c->ssl && SSL_pending(c->ssl) > 0) || (ioctl(c->fd, FIONREAD, &n) == 0 && n > 0);
}

/* Make room for one more half-open connection from addr: once the address
 * has PER_ADDR past EVICT_AGE, close its oldest idle one, and past
 * MAX_HALF the oldest idle one overall. False if none can go (a burst of
 * new connections): the new one is refused. */
static bool make_room(struct web_loop *l, const unsigned char addr[16], double now)
{
    size_t mine = 0;
    web_conn_t *victim = NULL, *victim_any = NULL;
    for (web_conn_t *c = l->first; c; c = c->next_c) {
        if (!c->half || now - c->since < EVICT_AGE) continue;
        bool same_addr = memcmp(c->addr, addr, 16) == 0;
        mine += same_addr;
        if ((victim && victim_any) || unread(c)) continue;
        if (victim_any == NULL) victim_any = c;
        if (victim == NULL && same_addr) victim = c;
    }
    if (mine >= PER_ADDR && victim) {
        if (victim == victim_any) victim_any = NULL;
        conn_kill(l, victim);
    }
    if (l->nhalf < MAX_HALF) return true;
    if (victim_any == NULL) return false;
    conn_kill(l, victim_any);
    return true;
}

static void accept_all(struct web_loop *l, struct web *w)
{
    for (int i = 0; i < 256; i++) {
        struct sockaddr_storage ss;
        socklen_t sl = sizeof ss;
        int fd = accept4(l->lfd, (struct sockaddr *)&ss, &sl, SOCK_NONBLOCK | SOCK_CLOEXEC);
        if (fd < 0) {
            if (errno == EMFILE || errno == ENFILE) /* out of descriptors: shed the oldest */
                make_room(l, (unsigned char[16]){0}, web_now() + EVICT_AGE);
            return;
        }
        double now = web_now();
        unsigned char addr[16];
        web_peer_key(&ss, addr);
        if (!make_room(l, addr, now)) {
            close(fd);
            continue;
        }
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        web_conn_t *c = xcalloc(1, sizeof *c);
        c->w = w;
        c->fd = fd;
        c->since = now;
        memcpy(c->addr, addr, 16);
        if (l->ctx) {
            c->ssl = SSL_new(l->ctx);
            SSL_set_fd(c->ssl, fd);
            SSL_set_accept_state(c->ssl);
        }
        c->events = EPOLLIN;
        struct epoll_event e = {.events = EPOLLIN, .data.ptr = c};
        epoll_ctl(l->ep, EPOLL_CTL_ADD, fd, &e);
        conn_append(l, c);
        conn_set_half(l, c, true);
        conn_input(l, c); /* the request is often there already */
        if (!c->dead) conn_update(l, c);
    }
}

/* Close connections past their bound: a head or body too slow, a viewer
 * or download that took nothing for WS_STALL. */
static void expire(struct web_loop *l, double now)
{
    for (web_conn_t *c = l->first, *next; c; c = next) {
        next = c->next_c;
        bool pending = c->out_off < c->out_len || c->cur || c->next || c->ctl_len;
        if ((c->half && now - c->since > HEAD_TIMEOUT) || (pending && now - c->since > WS_STALL))
            conn_kill(l, c);
    }
}

/* ---- the command thread (conn.h) ---- */

/* The command thread: answer parked requests one at a time, in order. */
static void *commands(void *ud)
{
    struct web *w = ud;
    struct web_loop *l = w->loop;
    pthread_setname_np(pthread_self(), "cicada-web-cmd");
    pthread_mutex_lock(&l->cmd_lock);
    for (;;) {
        while (!l->cmd_quit && l->cmd_first == NULL)
            pthread_cond_wait(&l->cmd_wake, &l->cmd_lock);
        if (l->cmd_quit) break;
        web_conn_t *c = l->cmd_first;
        l->cmd_first = c->cmd_next;
        if (l->cmd_first == NULL) l->cmd_last = NULL;
        pthread_mutex_unlock(&l->cmd_lock);
        routes_handle(c, w); /* c is this thread's alone until it is in done */
        pthread_mutex_lock(&l->cmd_lock);
        c->cmd_next = l->done;
        l->done = c;
        uint64_t one = 1;
        if (write(l->donefd, &one, sizeof one) < 0) { /* cannot fail short of 2^64 writes */
        }
    }
    pthread_mutex_unlock(&l->cmd_lock);
    return NULL;
}

/* Take back the connections the command thread answered and send them. */
static void commands_done(struct web_loop *l)
{
    pthread_mutex_lock(&l->cmd_lock);
    web_conn_t *c = l->done;
    l->done = NULL;
    pthread_mutex_unlock(&l->cmd_lock);
    while (c) {
        web_conn_t *next = c->cmd_next;
        c->cmd_next = NULL;
        c->parked = false;
        conn_output(l, c);
        if (!c->dead) conn_update(l, c);
        c = next;
    }
}

/* ---- the loop ---- */

static void *run(void *ud)
{
    struct web *w = ud;
    struct web_loop *l = w->loop;
    pthread_setname_np(pthread_self(), "cicada-web"); /* bench/ui-viewers measures it */
    struct epoll_event ev[256];
    double last_expire = 0;
    while (!atomic_load(&l->quit)) {
        int n = epoll_wait(l->ep, ev, 256, 250);
        for (int i = 0; i < n; i++) {
            void *p = ev[i].data.ptr;
            if (p == &l->lfd) {
                accept_all(l, w);
            } else if (p == &l->donefd) {
                uint64_t v;
                if (read(l->donefd, &v, sizeof v) > 0) commands_done(l);
            } else if (p == &l->evfd) {
                uint64_t v;
                if (read(l->evfd, &v, sizeof v) > 0 && !atomic_load(&l->quit)) conn_push(l, w);
            } else {
                web_conn_t *c = p;
                if (c->dead || c->parked) continue;
                if (ev[i].events & (EPOLLIN | EPOLLERR | EPOLLHUP)) conn_input(l, c);
                if (!c->dead && (ev[i].events & EPOLLOUT)) conn_output(l, c);
                if (!c->dead) conn_update(l, c);
            }
        }
        double now = web_now();
        if (now - last_expire >= 0.25) {
            expire(l, now);
            last_expire = now;
        }
        conn_free_dead(l);
    }
    return NULL;
}

static void on_tick(void *ud)
{
    struct web *w = ud;
    uint64_t one = 1;
    if (write(w->loop->evfd, &one, sizeof one) < 0) { /* full: a push is due anyway */
    }
}

/* ---- start and stop ---- */

static int tls_setup(struct web_loop *l, const opts_t *o, char *err, size_t n)
{
    const char *what = "TLS", *path = "context";
    l->ctx = SSL_CTX_new(TLS_server_method());
    if (l->ctx == NULL) goto error;
    SSL_CTX_set_min_proto_version(l->ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(l->ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    what = "--tls-cert", path = o->tls_cert;
    if (SSL_CTX_use_certificate_chain_file(l->ctx, o->tls_cert) != 1) goto error;
    what = "--tls-key", path = o->tls_key;
    if (SSL_CTX_use_PrivateKey_file(l->ctx, o->tls_key, SSL_FILETYPE_PEM) != 1) goto error;
    what = "--tls-key does not match --tls-cert", path = o->tls_cert;
    if (SSL_CTX_check_private_key(l->ctx) != 1) goto error;
    return 0;
error:;
    char buf[256] = "";
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, n, "%s %s: %s", what, path, *buf ? buf : "failed");
    ERR_clear_error();
    return -1;
}

/* Bind and listen on host:port ("" or "*": every IPv4 interface); flag
 * names the option in messages. */
static int listen_on(struct web_loop *l, struct web *w, const char *host, int port,
                     const char *flag, char *err, size_t n)
{
    bool any = host == NULL || *host == '\0' || strcmp(host, "*") == 0;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    struct addrinfo hints = {.ai_family = any ? AF_INET : AF_UNSPEC,
                             .ai_socktype = SOCK_STREAM,
                             .ai_flags = AI_PASSIVE},
                    *res = NULL;
    int rc = getaddrinfo(any ? NULL : host, ps, &hints, &res);
    if (rc != 0 || res == NULL) {
        snprintf(err, n, "%s %s: %s", flag, host, gai_strerror(rc));
        return -1;
    }
    l->lfd = socket(res->ai_family, SOCK_STREAM | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    int one = 1;
    if (l->lfd >= 0) setsockopt(l->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (l->lfd < 0 || bind(l->lfd, res->ai_addr, res->ai_addrlen) != 0 || listen(l->lfd, 1024)) {
        snprintf(err, n,
                 "cannot start %s on %s:%d: %s (is the port in use, or the address not local?)",
                 w->metrics_only ? "the --metrics-bind server" : "the web interface",
                 any ? "0.0.0.0" : host, port, strerror(errno));
        freeaddrinfo(res);
        return -1;
    }
    unsigned char key[16];
    web_peer_key((struct sockaddr_storage *)res->ai_addr, key);
    static const unsigned char v6lo[16] = {[15] = 1};
    w->loopback = (key[10] == 0xff && key[12] == 127) || memcmp(key, v6lo, 16) == 0;
    freeaddrinfo(res);
    return 0;
}

/* Start a server on host:port: the web UI, or only /metrics. */
static web_t *start(const opts_t *o, runner_t *r, const char *host, int port, bool metrics_only,
                    char *err, size_t n)
{
    struct web *w = xcalloc(1, sizeof *w);
    struct web_loop *l = xcalloc(1, sizeof *l);
    w->loop = l;
    l->ep = l->lfd = l->evfd = l->donefd = -1;
    pthread_mutex_init(&l->cmd_lock, NULL);
    pthread_cond_init(&l->cmd_wake, NULL);
    w->r = r;
    w->o = o;
    w->metrics_only = metrics_only;
    w->auth = o->web_auth && *o->web_auth ? o->web_auth : NULL;
    /* like Locust: HTTPS when both are given (opts refuses one alone) */
    w->tls = o->tls_cert && *o->tls_cert && o->tls_key && *o->tls_key;
    if (!metrics_only && o->csv_prefix && o->csv_full_history) {
        size_t len = strlen(o->csv_prefix) + sizeof "_stats_history.csv";
        w->history_path = xmalloc(len);
        snprintf(w->history_path, len, "%s_stats_history.csv", o->csv_prefix);
    }
    if (w->tls && tls_setup(l, o, err, n) != 0) goto error;
    if (listen_on(l, w, host, port, metrics_only ? "--metrics-bind" : "--web-host", err, n) != 0)
        goto error;
    l->ep = epoll_create1(EPOLL_CLOEXEC);
    l->evfd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    l->donefd = eventfd(0, EFD_NONBLOCK | EFD_CLOEXEC);
    struct epoll_event el = {.events = EPOLLIN, .data.ptr = &l->lfd};
    struct epoll_event ee = {.events = EPOLLIN, .data.ptr = &l->evfd};
    struct epoll_event ed = {.events = EPOLLIN, .data.ptr = &l->donefd};
    if (l->ep < 0 || l->evfd < 0 || l->donefd < 0 || epoll_ctl(l->ep, EPOLL_CTL_ADD, l->lfd, &el) ||
        epoll_ctl(l->ep, EPOLL_CTL_ADD, l->evfd, &ee) ||
        epoll_ctl(l->ep, EPOLL_CTL_ADD, l->donefd, &ed)) {
        snprintf(err, n, "cannot start the web interface: %s", strerror(errno));
        goto error;
    }
    if (pthread_create(&l->cmd_thread, NULL, commands, w) != 0) {
        snprintf(err, n, "cannot start the web interface's thread");
        goto error;
    }
    l->cmd_started = true;
    if (pthread_create(&l->thread, NULL, run, w) != 0) {
        snprintf(err, n, "cannot start the web interface's thread");
        goto error;
    }
    l->started = true;
    if (!metrics_only) runner_on_tick(r, on_tick, w); /* nothing to push */
    return w;
error:
    web_stop(w);
    return NULL;
}

/* The port l listens on (port when it cannot tell). */
static int bound_port(struct web_loop *l, int port)
{
    struct sockaddr_storage ss;
    socklen_t sl = sizeof ss;
    if (getsockname(l->lfd, (struct sockaddr *)&ss, &sl) == 0)
        port = ntohs(ss.ss_family == AF_INET6 ? ((struct sockaddr_in6 *)&ss)->sin6_port
                                              : ((struct sockaddr_in *)&ss)->sin_port);
    return port;
}

web_t *web_start(const opts_t *o, runner_t *r, char *err, size_t n)
{
    web_t *w = start(o, r, o->web_host, o->web_port, false, err, n);
    if (w == NULL) return NULL;
    int port = bound_port(w->loop, o->web_port);
    const char *scheme = w->tls ? "https" : "http";
    if (o->web_host == NULL || *o->web_host == '\0' || strcmp(o->web_host, "*") == 0)
        log_info("Starting web interface at %s://0.0.0.0:%d%s (accepting connections from all "
                 "network interfaces)",
                 scheme, port, o->web_base_path ? o->web_base_path : "");
    else
        log_info("Starting web interface at %s://%s:%d%s", scheme, o->web_host, port,
                 o->web_base_path && *o->web_base_path ? o->web_base_path : "");
    return w;
}

web_t *web_start_metrics(const opts_t *o, runner_t *r, char *err, size_t n)
{
    char host[256];
    int port;
    if (opts_hostport(o->metrics_bind, host, sizeof host, &port) != 0) { /* opts checked it */
        snprintf(err, n, "--metrics-bind %s: expected HOST:PORT", o->metrics_bind);
        return NULL;
    }
    web_t *w = start(o, r, host, port, true, err, n);
    if (w == NULL) return NULL;
    log_info("Serving Prometheus metrics at %s://%s:%d/metrics", w->tls ? "https" : "http",
             *host ? host : "0.0.0.0", bound_port(w->loop, port));
    return w;
}

void web_stop(web_t *w)
{
    if (w == NULL) return;
    struct web_loop *l = w->loop;
    if (!w->metrics_only) runner_on_tick(w->r, NULL, NULL); /* the UI's, not ours */
    if (l->started) {
        atomic_store(&l->quit, true);
        uint64_t one = 1;
        if (write(l->evfd, &one, sizeof one) < 0) { /* the loop wakes within 250 ms anyway */
        }
        pthread_join(l->thread, NULL);
    }
    if (l->cmd_started) { /* after the command in hand, if any (at most ~2 s) */
        pthread_mutex_lock(&l->cmd_lock);
        l->cmd_quit = true;
        pthread_cond_signal(&l->cmd_wake);
        pthread_mutex_unlock(&l->cmd_lock);
        pthread_join(l->cmd_thread, NULL);
    }
    while (l->first)
        conn_kill(l, l->first);
    conn_free_dead(l);
    frame_unref(l->latest);
    if (l->lfd >= 0) close(l->lfd);
    if (l->evfd >= 0) close(l->evfd);
    if (l->donefd >= 0) close(l->donefd);
    pthread_mutex_destroy(&l->cmd_lock);
    pthread_cond_destroy(&l->cmd_wake);
    if (l->ep >= 0) close(l->ep);
    if (l->ctx) SSL_CTX_free(l->ctx);
    xfree(l);
    xfree(w->history_path);
    xfree(w);
}
