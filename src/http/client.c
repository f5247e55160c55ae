/* client: see client.h.
 *
 * The connection is a small state machine driven by two entry points:
 * client_send() from the user's coroutine, and on_io() from the loop. Both
 * end a request the same way: finish() with a result, which is handed to
 * the client's callback (client_deliver) — except when client_send() fails before anything was
 * under way, where the caller gets the failure back directly (a coroutine
 * cannot be resumed from inside itself): that is the `sync` flag.
 *
 * States: CLOSED -> (RESOLVING) -> CONNECTING -> (HANDSHAKE, for TLS) -> WRITING ->
 * READING -> IDLE (kept alive) or CLOSED. proceed() runs whatever the
 * state asks for after any socket event. Every byte moves through the sock
 * embedded in the connection (net/net.h: plain, TLS, or the fake of unit
 * tests), whose calls answer OK, ERROR or RETRY. A complete response
 * goes through the session layer (session.h) in finish(): cookies stored,
 * a redirect sent on as the next hop of the same logical request (the
 * caller is not resumed). What the bytes read mean (framing, the cap,
 * decoding) is body.c's; this file moves them. */
#include "http/client.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>

#include "base/alloc.h"
#include "http/body.h"
#include "http/cookie.h"
#include "http/failure.h"
#include "http/session.h"
#include "http/tunnel.h"
#include "net/tls.h"

#define RBUF_MIN 4096

/* The transport context of c's engine: the one place that knows where it
 * hangs. */
static inline net_t *net_of(const conn_t *c)
{
    return c->cl->env->net;
}

/* ---- socket life ---- */

static void on_io(loop_t *l, loop_io_t *io, uint32_t events);
static void on_timeout(loop_t *l, loop_timer_t *t);

/* clean: the last exchange ended well (the TLS session stays resumable). */
static void close_socket_as(conn_t *c, bool clean)
{
    resolve_cancel(&c->dns); /* a lookup under way never calls back into c */
    sock_close(&c->sock, clean);
    c->state = CONN_CLOSED;
}

static void close_socket(conn_t *c)
{
    close_socket_as(c, false);
}

/* Free a retired connection (from net_bury). */
static void bury(sock_t *s)
{
    conn_t *c = (conn_t *)s;
    body_free(c);
    buf_free(&c->wbuf);
    buf_free(&c->rbuf);
    xfree(c->origin);
    xfree(c->host);
    xfree(c->px_host);
    xfree(c->px_user);
    xfree(c->px_auth);
    xfree(c);
}

/* Close c for good: it goes to the transport's graveyard (freed after the
 * loop turn, when no event can refer to it). The caller unlinks it. */
static void retire(conn_t *c)
{
    net_t *n = net_of(c);
    loop_timer_stop(n->loop, &c->timer);
    c->state = CONN_CLOSED;
    net_retire(n, &c->sock, bury);
}

void client_init(client_t *cl, client_env_t *env, client_done_fn *done, void *arg)
{
    *cl = (client_t){.env = env, .done = done, .arg = arg};
}

conn_t *client_conn(client_t *cl, const char *host, size_t host_len, int port, bool tls, char *err,
                    size_t n)
{
    proxy_t pxv, *px = &pxv;
    int pr = proxy_pick(&cl->proxies, tls, host, host_len, port, px, err, n);
    if (pr < 0) return NULL;
    if (pr == 0) px = NULL;
    /* the list is kept most recently used first: a hit moves to the front */
    conn_t **pp = &cl->conns, **lru = NULL;
    int count = 0;
    for (conn_t *c; (c = *pp) != NULL; pp = &c->next) {
        if (c->port == port && c->tls == tls && strlen(c->host) == host_len &&
            memcmp(c->host, host, host_len) == 0 && tunnel_same_proxy(c, px)) {
            *pp = c->next;
            c->next = cl->conns;
            cl->conns = c;
            return c;
        }
        count++;
        if (c->state == CONN_IDLE || c->state == CONN_CLOSED) lru = pp; /* not in flight */
    }
    if (count >= CLIENT_MAX_CONNS && lru) { /* a user of many origins: drop the oldest */
        conn_t *old = *lru;
        *lru = old->next;
        retire(old);
    }
    conn_t *c = xcalloc(1, sizeof *c);
    c->host = xstrndup(host, host_len);
    c->port = port;
    c->tls = tls;
    bool v6 = strchr(c->host, ':') != NULL;
    char origin[600], portstr[16] = "";
    if (port != (tls ? 443 : 80)) snprintf(portstr, sizeof portstr, ":%d", port);
    snprintf(origin, sizeof origin, "%s://%s%s%s%s", tls ? "https" : "http", v6 ? "[" : "", c->host,
             v6 ? "]" : "", portstr);
    c->origin = xstrdup(origin);
    if (px) tunnel_set_proxy(c, px);
    c->cl = cl;
    sock_init(&c->sock, net_of(c), on_io);
    c->timer.fn = on_timeout;
    c->next = cl->conns;
    cl->conns = c;
    return c;
}

/* The socket is connected: start TLS, or go on to writing. */
static void connected(conn_t *c)
{
    if (c->tls && c->px_host && c->state != CONN_TUNNEL) {
        tunnel_start(c); /* TLS once the proxy has opened the tunnel */
    } else if (c->tls) {
        sock_tls(&c->sock, c->ctx, c->host, c->verify);
        c->state = CONN_HANDSHAKE;
    } else {
        c->state = CONN_WRITING;
    }
}

/* Start connecting. Returns 0 (connected or in progress) or an errno. */
static int open_socket(conn_t *c)
{
    const struct sockaddr *sa = (const struct sockaddr *)&c->addr[c->addr_idx];
    switch (sock_connect(&c->sock, sa, c->addrlen[c->addr_idx], SOCK_STREAM)) {
    case NET_OK:
        connected(c);
        return 0;
    case NET_RETRY:
        c->state = CONN_CONNECTING;
        return 0;
    case NET_ERROR:
        break;
    }
    c->state = CONN_CLOSED;
    return c->sock.err;
}

/* Connect, trying the host's other addresses when one refuses (as
 * "localhost" may be 127.0.0.1 and ::1 with the server on only one). */
static int open_any(conn_t *c)
{
    int e = open_socket(c);
    while (e != 0 && c->addr_idx + 1 < c->naddr) {
        c->addr_idx++;
        e = open_socket(c);
    }
    return e;
}

/* ---- resolving ---- */

static bool proceed(conn_t *c, bool sync, client_result_t *out);
static void finish(conn_t *c, const char *error, bool sync, client_result_t *out);

static void use_addrs(conn_t *c, const resolve_addrs_t *a)
{
    c->naddr = a->n < 4 ? a->n : 4;
    for (int i = 0; i < c->naddr; i++) {
        c->addr[i] = a->addr[i];
        c->addrlen[i] = a->len[i];
    }
    c->addr_idx = 0;
}

/* The lookup started by client_send() ended: connect, or fail the request. */
static void on_resolved(resolve_req_t *q, const resolve_addrs_t *addrs, const char *why)
{
    conn_t *c = q->arg;
    int e = 0;
    c->state = CONN_CLOSED;
    if (why == NULL) {
        use_addrs(c, addrs);
        e = open_any(c);
    }
    if (why || e)
        finish(c, why ? failure_name(c, why) : failure_connect(c, e), false, NULL);
    else if (c->state != CONN_CONNECTING)
        proceed(c, false, NULL); /* connected at once */
}

/* Look c's host up before opening a socket (every time: the cache makes
 * it cheap and honours the TTL). Returns 0 with the addresses in c, 1 if
 * the answer comes later (CONN_RESOLVING), or -1 with *err set. */
static int lookup(conn_t *c, const char **err)
{
    resolve_addrs_t a;
    char why[RESOLVE_REASON_MAX];
    const char *host = c->px_host ? c->px_host : c->host; /* through a proxy: the proxy's */
    int port = c->px_host ? c->px_port : c->port;
    int r = resolve_start(c->cl->env->resolver, host, port, &c->dns, on_resolved, c, &a, why,
                          sizeof why);
    if (r == RESOLVE_DONE)
        use_addrs(c, &a);
    else if (r == RESOLVE_PENDING)
        c->state = CONN_RESOLVING;
    else
        *err = failure_name(c, why);
    return r == RESOLVE_DONE ? 0 : r == RESOLVE_PENDING ? 1 : -1;
}

/* ---- finishing ---- */

static void finish(conn_t *c, const char *error, bool sync, client_result_t *out)
{
    /* the timeout timer stays armed (a lazy deadline): on_timeout sees
     * whether a request is still in flight on c, and client_send moves it
     * only when a request's deadline comes earlier */
    client_result_t r = {.error = error,
                         .elapsed_ns = clock_ns() - c->t0_ns,
                         .history = c->history,
                         .nhistory = c->nredirects,
                         .hops = c->cl->hops.p,
                         .hops_len = c->nredirects ? c->cl->hops.len : 0};
    if (c->wbuf.len) {
        r.url = c->cl->env->url;
        r.url_len = failure_url(c, c->cl->env->url, sizeof c->cl->env->url);
    }
    if (error == NULL) {
        if (c->keep_alive)
            c->state = CONN_IDLE;
        else
            close_socket_as(c, true);
        if (c->set_cookie) session_store_cookies(c);
        body_result(c, &r);
        if (r.error == NULL && c->req.follow && c->loc_len && session_is_redirect(c->status) &&
            session_redirect(c, &r))
            return; /* the next hop is under way */
        if (r.error == NULL && c->status >= 400) {
            /* reparse for the reason phrase: cheap, and only on errors */
            http_response_t *parsed = &c->cl->env->parsed;
            http_parse_response(c->rbuf.p, (size_t)c->hdr_len, parsed);
            r.error = failure_status(c, parsed->reason, parsed->reason_len);
        }
    } else {
        close_socket(c);
    }
    if (sync) {
        *out = r;
        return;
    }
    client_deliver(c, &r);
    body_release(c);
}

void client_deliver(conn_t *c, const client_result_t *res)
{
    client_t *cl = c->cl;
    cl->busy = NULL;
    cl->done(cl->arg, res);
}

static bool flush(conn_t *c, bool sync, client_result_t *out);
static bool handshake(conn_t *c, bool sync, client_result_t *out);
static bool tunnel(conn_t *c, bool sync, client_result_t *out);

/* The socket is connected or connecting: do what its state asks. Returns
 * false if the request ended (failed) inside. */
static bool proceed(conn_t *c, bool sync, client_result_t *out)
{
    if (c->state == CONN_TUNNEL) return tunnel(c, sync, out);
    if (c->state == CONN_HANDSHAKE) return handshake(c, sync, out);
    if (c->state == CONN_WRITING) return flush(c, sync, out);
    return true;
}

/* Is the request in c->wbuf safe to send twice? Its method is idempotent
 * (RFC 9110 9.2.2), or none of it left (a failed first write). */
static bool resendable(const conn_t *c)
{
    static const char *const idempotent[] = {"GET ", "HEAD ",   "OPTIONS ",
                                             "PUT ", "DELETE ", "TRACE "};
    if (c->woff == 0) return true;
    for (size_t i = 0; i < sizeof idempotent / sizeof *idempotent; i++) {
        size_t n = strlen(idempotent[i]);
        if (c->wbuf.len > n && memcmp(c->wbuf.p, idempotent[i], n) == 0) return true;
    }
    return false;
}

/* A request failed. On a reused connection with nothing received yet the
 * server most likely closed it while idle: send it again on a fresh socket,
 * once, if that is safe (a POST it may have read is not). Returns true if
 * the request is under way again, false if it ended. */
static bool fail(conn_t *c, const char *error, int e, bool sync, client_result_t *out)
{
    if (c->reused && !c->retried && c->rbuf.len == 0 && resendable(c)) {
        c->retried = true;
        c->reused = false;
        close_socket_as(c, true); /* the server's idle close: the session is still good */
        int oe = open_socket(c);
        if (oe == 0) {
            c->woff = 0;
            return proceed(c, sync, out);
        }
        e = oe;
        error = NULL;
    }
    finish(c, error ? error : failure_errno(c, e), sync, out);
    return false;
}

/* ---- TLS, through a proxy's tunnel or not ---- */

static bool tunnel(conn_t *c, bool sync, client_result_t *out)
{
    const char *err = NULL;
    switch (tunnel_step(c, &err)) {
    case TUNNEL_OPEN:
        connected(c); /* CONN_TUNNEL: now TLS with the origin */
        return handshake(c, sync, out);
    case TUNNEL_WAIT:
        return true;
    }
    /* the proxy refused: sending again would not help */
    finish(c, err, sync, out);
    return false;
}

static bool handshake(conn_t *c, bool sync, client_result_t *out)
{
    switch (sock_handshake(&c->sock)) {
    case NET_OK:
        c->state = CONN_WRITING;
        return flush(c, sync, out);
    case NET_RETRY:
        return true; /* the socket's next edge calls us again */
    case NET_ERROR:
        break;
    }
    /* a certificate problem will not go away on a fresh socket */
    c->retried = true;
    return fail(c, tls_error(net_of(c)), 0, sync, out);
}

/* ---- writing ---- */

/* Write what is left of the request. Returns false if the request ended
 * (failed) inside. */
static bool flush(conn_t *c, bool sync, client_result_t *out)
{
    while (c->woff < c->wbuf.len) {
        size_t n = 0;
        switch (sock_write(&c->sock, c->wbuf.p + c->woff, c->wbuf.len - c->woff, &n)) {
        case NET_OK:
            c->woff += n;
            continue;
        case NET_RETRY:
            c->state = CONN_WRITING;
            return true;
        case NET_ERROR:
            break;
        }
        return fail(c, NULL, c->sock.err, sync, out);
    }
    c->state = CONN_READING;
    return true;
}

/* ---- reading ---- */

/* Read what the socket has and hand it to body.c. ev: the events that
 * woke us. */
static void read_response(conn_t *c, uint32_t ev)
{
    /* The peer's close arrived with (or before) this event: it brings no
     * new edge, so read on to the EOF rather than stop at a short read. */
    bool closing = (ev & (EPOLLRDHUP | EPOLLHUP | EPOLLERR)) != 0;
    for (;;) {
        size_t room = body_room(c), n = 0;
        switch (sock_read(&c->sock, c->rbuf.p + c->rbuf.len, room, &n)) {
        case NET_OK:
            break;
        case NET_RETRY:
            return;
        case NET_ERROR:
            fail(c, NULL, c->sock.err, false, NULL);
            return;
        }
        if (n > 0) {
            c->rbuf.len += n;
            const char *err = NULL;
            switch (body_parse(c, &err)) {
            case BODY_DONE:
                finish(c, NULL, false, NULL);
                return;
            case BODY_FAIL:
                finish(c, err, false, NULL);
                return;
            }
            /* A short read drained the socket: the next bytes bring a new
             * edge, so there is no need to read again until EAGAIN (one
             * recv per response in steady state). Not so when the close
             * came with the data, nor over TLS, where a read returns one
             * record at most and OpenSSL may hold more, nor for a body
             * that only the close ends: read until EAGAIN or the EOF. */
            bool to_close = c->hdr_len && c->mode == HTTP_BODY_CLOSE;
            if (n < room && !c->sock.tls && !closing && !to_close) return;
            continue;
        }
        /* the end of the stream */
        const char *err = NULL;
        if (c->rbuf.len == 0) {
            fail(c, "RemoteDisconnected('Remote end closed connection without response')", 0, false,
                 NULL);
        } else if (body_eof(c, &err) == BODY_DONE) {
            c->keep_alive = false;
            finish(c, NULL, false, NULL);
        } else {
            finish(c, err, false, NULL);
        }
        return;
    }
}

static void on_io(loop_t *l, loop_io_t *io, uint32_t ev)
{
    conn_t *c = (conn_t *)((char *)io - offsetof(conn_t, sock.io));
    if (c->state == CONN_CONNECTING) {
        if (!(ev & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        int e = sock_connected(&c->sock) == NET_OK ? 0 : c->sock.err;
        if (e != 0 && c->addr_idx + 1 < c->naddr) {
            close_socket(c);
            c->addr_idx++;
            e = open_any(c);
            if (e == 0 && c->state == CONN_CONNECTING) return; /* the next address */
        }
        if (e != 0) {
            finish(c, failure_connect(c, e), false, NULL);
            return;
        }
        if (c->state == CONN_CONNECTING) connected(c);
    }
    if (c->state == CONN_TUNNEL || c->state == CONN_HANDSHAKE || c->state == CONN_WRITING) {
        if (!proceed(c, false, NULL)) return;
    }
    if (c->state == CONN_READING) {
        if (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))
            read_response(c, ev);
        else if (c->sock.tls)
            read_response(c, ev); /* OpenSSL may have wanted writability */
    } else if (c->state == CONN_IDLE && (ev & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR))) {
        /* the server closed (or spoke out of turn on) an idle connection */
        close_socket_as(c, true);
    }
}

static void on_timeout(loop_t *l, loop_timer_t *t)
{
    conn_t *c = (conn_t *)((char *)t - offsetof(conn_t, timer));
    if (c->cl->busy != c || c->timeout_ns == 0) return; /* armed for a request now over */
    int64_t deadline = c->start_ns + c->timeout_ns;
    if (deadline > clock_ns()) { /* armed for an earlier request: wait for this one's */
        loop_timer_at(l, t, deadline);
        return;
    }
    double s = (double)c->timeout_ns / 1e9;
    bool connecting = c->state == CONN_RESOLVING || c->state == CONN_CONNECTING ||
                      c->state == CONN_TUNNEL || c->state == CONN_HANDSHAKE;
    finish(c, failure_timeout(connecting, s), false, NULL);
}

/* ---- sending ---- */

/* HTTPS: pick the context and verification for this request; an open
 * connection made with other settings is closed, and a session from
 * other settings is not offered. Returns 0, or -1 with err filled. */
static int tls_settings(conn_t *c, const client_req_t *req, char *err, size_t n)
{
    struct ssl_ctx_st *ctx = req->ctx;
    if (ctx == NULL && (ctx = tls_ctx(net_of(c), NULL, err, n)) == NULL) return -1;
    if (ctx != c->ctx || req->verify != c->verify) {
        if (c->state != CONN_CLOSED) close_socket(c);
        sock_forget_session(&c->sock);
        c->ctx = ctx;
        c->verify = req->verify;
    }
    return 0;
}

int client_send(conn_t *c, const client_req_t *req, const conn_t *from, client_result_t *res)
{
    char *err = c->cl->env->error;
    int64_t now = clock_ns();
    if (from) { /* a redirect: the logical request goes on */
        int k = from->nredirects;
        short hist[CLIENT_MAX_REDIRECTS];
        memcpy(hist, from->history, (size_t)k * sizeof *hist);
        hist[k] = (short)from->status;
        memcpy(c->history, hist, (size_t)(k + 1) * sizeof *hist);
        c->t0_ns = from->t0_ns;
        c->nredirects = k + 1;
    } else {
        c->t0_ns = now;
        c->nredirects = 0;
        c->cl->hops.len = 0;
    }
    c->req = *req;
    c->hdr_len = 0;
    c->status = 0;
    c->woff = 0;
    c->retried = false;
    c->rbuf.len = 0;
    c->chunk = (http_chunked_t){0};
    if (c->req.max_body == 0 || c->req.max_body > BODY_MAX_CAP) c->req.max_body = BODY_DEFAULT_CAP;
    if (c->rbuf.cap == 0) buf_reserve(&c->rbuf, RBUF_MIN);
    c->start_ns = now;
    c->timeout_ns = req->timeout_s > 0 ? (int64_t)(req->timeout_s * 1e9) : 0;
    if (c->tls && tls_settings(c, req, err, sizeof c->cl->env->error) != 0) {
        finish(c, err, true, res);
        return 0;
    }
    c->reused = c->state == CONN_IDLE;
    if (c->state == CONN_CLOSED) {
        const char *why = NULL;
        int r = lookup(c, &why), e = r == 0 ? open_any(c) : 0;
        if (r < 0 || e != 0) {
            finish(c, r < 0 ? why : failure_connect(c, e), true, res);
            return 0;
        }
    }
    if (c->state == CONN_IDLE) c->state = CONN_WRITING;
    if (c->state != CONN_RESOLVING && !proceed(c, true, res)) return 0;
    int64_t deadline = c->start_ns + c->timeout_ns;
    if (c->timeout_ns && (!loop_timer_armed(&c->timer) || c->timer.when > deadline))
        loop_timer_at(net_of(c)->loop, &c->timer, deadline);
    c->cl->busy = c;
    return 1;
}

bool client_cut(client_t *cl)
{
    conn_t *c = cl->busy;
    if (c == NULL) return false;
    cl->busy = NULL;
    loop_timer_stop(cl->env->loop, &c->timer);
    close_socket(c);
    return true;
}

void client_free(client_t *cl)
{
    conn_t *c = cl->conns;
    while (c) {
        conn_t *next = c->next;
        retire(c);
        c = next;
    }
    cl->conns = cl->busy = NULL;
    cookie_jar_free(cl->jar);
    cl->jar = NULL;
    proxy_map_free(&cl->proxies);
    buf_free(&cl->hops);
}

void client_env_free(client_env_t *env)
{
    client_bury(env);
    buf_free(&env->hop);
    buf_free(&env->location);
}

void client_bury(client_env_t *env)
{
    net_t *n = env->net;
    if (n && n->grave) net_bury(n); /* called every loop turn: most have nothing to free */
}
