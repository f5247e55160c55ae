/* conn: see conn.h. Responses are built whole in the connection's output
 * buffer (kept between requests, freed after a big download) and written
 * as the socket takes them; the WebSocket's frames are shared by all
 * viewers and written from their own buffer, never copied per viewer. */
#include "web/conn.h"

#include <errno.h>
#include <pthread.h>
#include <netinet/in.h>
#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <sys/epoll.h>
#include <time.h>
#include <unistd.h>

#include <openssl/err.h>

#include "base/alloc.h"
#include "monitor/monitor.h"
#include "report/json.h"
#include "web/guard.h"
#include "web/metrics.h"

double web_now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec / 1e9;
}

void frame_unref(frame_t *f)
{
    if (f && --f->refs == 0) xfree(f);
}

void web_peer_key(const struct sockaddr_storage *ss, unsigned char key[16])
{
    memset(key, 0, 16);
    if (ss->ss_family == AF_INET) {
        key[10] = key[11] = 0xff;
        memcpy(key + 12, &((const struct sockaddr_in *)ss)->sin_addr, 4);
    } else if (ss->ss_family == AF_INET6) {
        memcpy(key, &((const struct sockaddr_in6 *)ss)->sin6_addr, 16);
    }
}

/* ---- output buffer ---- */

static void out_reserve(web_conn_t *c, size_t more)
{
    if (c->out_len + more <= c->out_cap) return;
    size_t cap = c->out_cap ? c->out_cap : 4096;
    while (cap < c->out_len + more)
        cap *= 2;
    c->out = xrealloc(c->out, cap);
    c->out_cap = cap;
}

void web_write(web_conn_t *c, const void *data, size_t len)
{
    out_reserve(c, len);
    memcpy(c->out + c->out_len, data, len);
    c->out_len += len;
}

void web_printf(web_conn_t *c, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(NULL, 0, fmt, ap);
    va_end(ap);
    if (n < 0) return;
    out_reserve(c, (size_t)n + 1);
    va_start(ap, fmt);
    vsnprintf(c->out + c->out_len, (size_t)n + 1, fmt, ap);
    va_end(ap);
    c->out_len += (size_t)n;
}

void web_reply(web_conn_t *c, int status, const char *type, const char *headers, const void *body,
               size_t len)
{
    web_printf(c,
               "HTTP/1.1 %d %s\r\nContent-Type: %s\r\nContent-Length: %zu\r\n"
               "Cache-Control: no-store\r\n%s%s\r\n",
               status, http_status_text(status), type, len, headers ? headers : "",
               c->close_after ? "Connection: close\r\n" : "");
    if (len) web_write(c, body, len);
}

const http_req_t *web_request(web_conn_t *c)
{
    return &c->req;
}

const char *web_body(web_conn_t *c, size_t *len)
{
    *len = c->need - c->head_len;
    return c->in + c->head_len;
}

/* ---- transport: plain or TLS, OK / RETRY / ERROR ---- */

static int tls_result(web_conn_t *c, int k)
{
    switch (SSL_get_error(c->ssl, k)) {
    case SSL_ERROR_WANT_READ:
        return IO_RETRY;
    case SSL_ERROR_WANT_WRITE:
        c->want_write = true;
        return IO_RETRY;
    default:
        return IO_ERROR; /* a closed, reset or failed TLS connection */
    }
}

static int io_read(web_conn_t *c, void *buf, size_t n, size_t *got)
{
    if (c->ssl) {
        ERR_clear_error();
        c->want_write = false;
        int k = SSL_read(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        if (k > 0) {
            *got = (size_t)k;
            return IO_OK;
        }
        return tls_result(c, k);
    }
    ssize_t k = recv(c->fd, buf, n, 0);
    if (k > 0) {
        *got = (size_t)k;
        return IO_OK;
    }
    if (k < 0 && (errno == EAGAIN || errno == EINTR)) return IO_RETRY;
    return IO_ERROR; /* 0: the peer closed */
}

static int io_write(web_conn_t *c, const void *buf, size_t n, size_t *put)
{
    if (c->ssl) {
        ERR_clear_error();
        c->want_write = false;
        int k = SSL_write(c->ssl, buf, n > INT32_MAX ? INT32_MAX : (int)n);
        if (k > 0) {
            *put = (size_t)k;
            return IO_OK;
        }
        return tls_result(c, k);
    }
    ssize_t k = send(c->fd, buf, n, MSG_NOSIGNAL);
    if (k >= 0) {
        *put = (size_t)k;
        return IO_OK;
    }
    return errno == EAGAIN || errno == EINTR ? IO_RETRY : IO_ERROR;
}

/* ---- connections ---- */

void conn_unlink(struct web_loop *l, web_conn_t *c)
{
    if (c->prev_c)
        c->prev_c->next_c = c->next_c;
    else
        l->first = c->next_c;
    if (c->next_c)
        c->next_c->prev_c = c->prev_c;
    else
        l->last = c->prev_c;
    c->prev_c = c->next_c = NULL;
}

void conn_append(struct web_loop *l, web_conn_t *c)
{
    c->prev_c = l->last;
    if (l->last)
        l->last->next_c = c;
    else
        l->first = c;
    l->last = c;
}

void conn_set_half(struct web_loop *l, web_conn_t *c, bool half)
{
    if (c->half != half) l->nhalf += half ? 1 : -1;
    c->half = half;
}

/* Close c now; it is freed after the current batch of events, which may
 * still name it. */
void conn_kill(struct web_loop *l, web_conn_t *c)
{
    if (c->dead) return;
    c->dead = true;
    conn_set_half(l, c, false);
    if (c->state == C_WS) l->nws--;
    conn_unlink(l, c);
    epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
    if (c->ssl) SSL_free(c->ssl); /* no close_notify: the socket may be stuck */
    close(c->fd);
    c->next_c = l->dead;
    l->dead = c;
}

void conn_free_dead(struct web_loop *l)
{
    while (l->dead) {
        web_conn_t *c = l->dead;
        l->dead = c->next_c;
        frame_unref(c->cur);
        frame_unref(c->next);
        xfree(c->in);
        xfree(c->out);
        xfree(c);
    }
}

/* Listen for what c waits for: input unless a response is being written,
 * output while anything is queued. */
void conn_update(struct web_loop *l, web_conn_t *c)
{
    bool pending = c->out_off < c->out_len || c->cur || c->next || c->ctl_len;
    int ev = (c->state != C_REPLY ? EPOLLIN : 0) | (pending || c->want_write ? EPOLLOUT : 0);
    if (ev == c->events) return;
    struct epoll_event e = {.events = (uint32_t)ev, .data.ptr = c};
    epoll_ctl(l->ep, c->events < 0 ? EPOLL_CTL_ADD : EPOLL_CTL_MOD, c->fd, &e);
    c->events = ev;
}

/* Write what is queued, in order: the response bytes, then (WebSocket) the
 * frame in flight, a control frame, the newest frame. Returns IO_ERROR if
 * c must be closed. */
static int flush(web_conn_t *c)
{
    for (;;) {
        const void *p;
        size_t n, put = 0, *off;
        if (c->out_off < c->out_len) {
            p = c->out + c->out_off, n = c->out_len - c->out_off, off = &c->out_off;
        } else if (c->cur) {
            p = c->cur->data + c->cur_off, n = c->cur->len - c->cur_off, off = &c->cur_off;
        } else if (c->ctl_len) {
            p = c->ctl + c->ctl_off, n = c->ctl_len - c->ctl_off, off = &c->ctl_off;
        } else if (c->next) {
            c->cur = c->next, c->next = NULL, c->cur_off = 0;
            continue;
        } else {
            c->out_len = c->out_off = 0;
            if (c->out_cap > OUT_KEEP) { /* a big download: give the memory back */
                xfree(c->out);
                c->out = NULL;
                c->out_cap = 0;
            }
            return IO_OK;
        }
        switch (io_write(c, p, n, &put)) {
        case IO_OK:
            *off += put;
            c->since = web_now(); /* progress: the stall clock restarts */
            if (c->cur && c->cur_off == c->cur->len) {
                frame_unref(c->cur);
                c->cur = NULL;
            }
            if (c->ctl_len && c->ctl_off == c->ctl_len) c->ctl_len = c->ctl_off = 0;
            break;
        case IO_RETRY:
            return IO_RETRY;
        default:
            return IO_ERROR;
        }
    }
}

/* Queue frame f to a viewer: sent next, or waiting in place of an older
 * waiting frame (dropped: the viewer only needs the newest state). */
static void ws_queue(web_conn_t *c, frame_t *f)
{
    bool idle = c->cur == NULL && c->next == NULL && c->ctl_len == 0;
    f->refs++;
    frame_unref(c->next);
    c->next = f;
    if (idle) c->since = web_now();
}

/* The /stats/requests document as a text frame, built at most once per
 * push; the caller holds one reference. */
static frame_t *snapshot(struct web *w)
{
    report_run_t run;
    runner_lock(w->r);
    runner_report(w->r, &run);
    cJSON *j = json_stats_requests(&run);
    runner_unlock(w->r);
    cJSON_AddItemToObject(j, "monitor", monitor_json(monitor_current(), true)); /* newest points */
    char *s = json_print(j, false);
    size_t len = strlen(s);
    frame_t *f = xmalloc(sizeof *f + WS_HEAD_MAX + len);
    size_t h = ws_frame_head(f->data, WS_TEXT, len);
    memcpy(f->data + h, s, len);
    f->len = h + len;
    f->refs = 1;
    free(s);
    return f;
}

void conn_push(struct web_loop *l, struct web *w)
{
    frame_unref(l->latest);
    l->latest = NULL;
    if (l->nws == 0) return; /* nobody watches: build nothing */
    frame_t *f = snapshot(w);
    for (web_conn_t *c = l->first; c; c = c->next_c) {
        if (c->state != C_WS || c->dead) continue;
        ws_queue(c, f);
        if (flush(c) == IO_ERROR)
            conn_kill(l, c);
        else
            conn_update(l, c);
    }
    l->latest = f; /* for viewers that connect before the next push */
    l->latest_at = web_now();
}

/* ---- requests ---- */

/* An error response that ends the connection (the request is not read on). */
static void fail(web_conn_t *c, int status, const char *text)
{
    c->close_after = true;
    c->need = c->head_len = 0;
    web_reply(c, status, "text/plain; charset=utf-8", NULL, text, strlen(text));
}

/* Upgrade c to a WebSocket viewer, or answer why not. */
static void upgrade(struct web_loop *l, web_conn_t *c)
{
    struct web *w = c->w;
    char key[64], ver[16], up[64], why[512];
    if (c->req.method_len != 3 || memcmp(c->req.method, "GET", 3) != 0) {
        fail(c, 405, "Method Not Allowed");
        return;
    }
    if (!http_header(&c->req, "Upgrade", up, sizeof up) || strcasecmp(up, "websocket") != 0 ||
        !http_header(&c->req, "Sec-WebSocket-Key", key, sizeof key)) {
        fail(c, 426, "Upgrade Required: /ws is a WebSocket");
        return;
    }
    if (!http_header(&c->req, "Sec-WebSocket-Version", ver, sizeof ver) || strcmp(ver, "13")) {
        c->close_after = true;
        web_reply(c, 426, "text/plain; charset=utf-8", "Sec-WebSocket-Version: 13\r\n",
                  "Unsupported WebSocket version", 29);
        return;
    }
    /* another site's page must not read the numbers either */
    if (!guard_same_origin(&c->req, w->tls, w->loopback, w->o->web_host, why, sizeof why)) {
        fail(c, 403, why);
        return;
    }
    char accept[29];
    ws_accept_key(key, accept);
    web_printf(c,
               "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n"
               "Sec-WebSocket-Accept: %s\r\n\r\n",
               accept);
    c->state = C_WS;
    l->nws++;
    /* from here the input holds WebSocket frames: drop the request */
    memmove(c->in, c->in + c->need, c->in_len - c->need);
    c->in_len -= c->need;
    c->need = c->head_len = 0;
    /* a new page gets the current numbers at once, not in up to 1 s */
    if (l->latest == NULL || web_now() - l->latest_at > 0.5) {
        frame_unref(l->latest);
        l->latest = snapshot(w);
        l->latest_at = web_now();
    }
    ws_queue(c, l->latest);
}

/* --web-base-path: the UI lives under a prefix. A path inside it loses the
 * prefix (the routes and assets know only "/..."; the page's links are
 * relative, so they stay inside); the prefix alone is redirected to
 * "prefix/"; anything else is a 404. Returns false if it answered. */
static bool under_base(web_conn_t *c, const struct web *w)
{
    const char *base = w->o->web_base_path;
    size_t len = base ? strlen(base) : 0;
    char *path = c->req.path;
    if (len == 0 || w->metrics_only) return true;
    if (strncmp(path, base, len) == 0 && path[len] == '/') {
        memmove(path, path + len, strlen(path + len) + 1);
        return true;
    }
    if (strcmp(path, base) == 0) {
        char loc[OPTS_BASE_PATH + 32];
        snprintf(loc, sizeof loc, "Location: %s/\r\n", base);
        web_reply(c, 308, "text/plain; charset=utf-8", loc, "", 0);
    } else {
        web_reply(c, 404, "text/plain; charset=utf-8", NULL, "Not Found", 9);
    }
    return false;
}

/* The whole request is in c->in: answer it. */
static void handle(struct web_loop *l, web_conn_t *c)
{
    struct web *w = c->w;
    conn_set_half(l, c, false);
    c->close_after = !c->req.keep_alive;
    c->state = C_REPLY;
    if (!guard_auth(&c->req, w->auth)) {
        c->close_after = true;
        web_reply(c, 401, "text/plain; charset=utf-8",
                  "WWW-Authenticate: Basic realm=\"cicada\"\r\n", "Unauthorized", 12);
        return;
    }
    if (!under_base(c, w)) return;
    if (metrics_wants(w, &c->req)) { /* web/metrics.h: never waits */
        metrics_route(c, w);
        return;
    }
    if (strcmp(c->req.path, "/ws") == 0) {
        upgrade(l, c);
        return;
    }
    c->in[c->need] = '\0'; /* the body is a C string for the routes */
    if (!routes_may_wait(&c->req)) {
        routes_handle(c, w);
        return;
    }
    c->parked = true; /* until the command thread hands it back */
    /* out of epoll meanwhile: a reset peer would report EPOLLHUP every turn */
    epoll_ctl(l->ep, EPOLL_CTL_DEL, c->fd, NULL);
    c->events = -1;
    pthread_mutex_lock(&l->cmd_lock);
    if (l->cmd_last)
        l->cmd_last->cmd_next = c;
    else
        l->cmd_first = c;
    l->cmd_last = c;
    pthread_cond_signal(&l->cmd_wake);
    pthread_mutex_unlock(&l->cmd_lock);
}

/* Parse what has arrived; true if a whole request is there and answered. */
static bool parse(struct web_loop *l, web_conn_t *c)
{
    if (c->state == C_HEAD) {
        long k = http_parse(c->in, c->in_len, &c->req);
        if (k == HTTP_NEED_MORE) {
            if (c->in_len < HEAD_MAX) return false;
            k = HTTP_TOO_MANY;
        }
        if (k == HTTP_BAD)
            fail(c, 400, "Bad Request");
        else if (k == HTTP_TOO_MANY)
            fail(c, 431, "Request Header Fields Too Large");
        else if (c->req.chunked)
            fail(c, 501, "Chunked request bodies are not supported");
        else if (c->req.content_length > BODY_MAX)
            fail(c, 413, "Payload Too Large");
        if (k <= 0 || c->close_after) {
            c->state = C_REPLY;
            conn_set_half(l, c, false);
            return true;
        }
        c->head_len = (size_t)k;
        c->need = c->head_len + (size_t)(c->req.content_length > 0 ? c->req.content_length : 0);
        c->state = C_BODY;
        char ex[32];
        if (c->in_len < c->need && http_header(&c->req, "Expect", ex, sizeof ex) &&
            strcasecmp(ex, "100-continue") == 0)
            web_printf(c, "HTTP/1.1 100 Continue\r\n\r\n");
    }
    if (c->state == C_BODY && c->in_len >= c->need) {
        handle(l, c);
        return true;
    }
    return false;
}

/* A WebSocket viewer sent something: answer pings and closes, drop data. */
static int ws_input(web_conn_t *c)
{
    size_t pos = 0;
    for (;;) {
        ws_frame_t f;
        long k = ws_parse((unsigned char *)c->in + pos, c->in_len - pos, &f);
        if (k < 0) return IO_ERROR;
        if (k == 0) break;
        pos += (size_t)k;
        if (f.opcode == WS_CLOSE) return IO_ERROR; /* the page is going */
        if (f.opcode == WS_PING && c->ctl_len == 0) {
            size_t h = ws_frame_head(c->ctl, WS_PONG, f.len);
            memcpy(c->ctl + h, f.payload, f.len);
            c->ctl_len = h + f.len;
            c->ctl_off = 0;
        }
    }
    memmove(c->in, c->in + pos, c->in_len - pos);
    c->in_len -= pos;
    return IO_OK;
}

/* Read all that is readable (OpenSSL may hold more than the socket says),
 * within the state's bound. */
static int fill(web_conn_t *c)
{
    for (;;) {
        size_t cap = c->state == C_WS     ? WS_MAX_IN + 14
                     : c->state == C_BODY ? c->need + 1
                                          : HEAD_MAX + 1;
        if (c->in_cap < cap) {
            c->in = xrealloc(c->in, cap);
            c->in_cap = cap;
        }
        /* the head state reads at most HEAD_MAX bytes (plus one to know);
         * the body state up to the body's end */
        size_t room = (c->state == C_HEAD   ? HEAD_MAX
                       : c->state == C_BODY ? c->need
                                            : cap) -
                      c->in_len;
        if (room == 0) return IO_OK;
        size_t got = 0;
        int rc = io_read(c, c->in + c->in_len, room, &got);
        if (rc != IO_OK) return rc;
        c->in_len += got;
    }
}

/* The response is sent and the connection kept: wait for the next
 * request, whose first bytes may already be in the buffer. */
static void next_request(struct web_loop *l, web_conn_t *c)
{
    size_t rest = c->in_len - c->need;
    memmove(c->in, c->in + c->need, rest);
    c->in_len = rest;
    c->need = c->head_len = 0;
    c->state = C_HEAD;
    c->since = web_now();
    conn_set_half(l, c, true);
    conn_unlink(l, c); /* the list stays in order of since */
    conn_append(l, c);
}

/* Input on c, or a response finished and the next request may be there. */
void conn_input(struct web_loop *l, web_conn_t *c)
{
    if (c->parked) return;
    for (;;) {
        if (c->state == C_REPLY) return;
        int rc = fill(c);
        if (rc == IO_ERROR) {
            conn_kill(l, c);
            return;
        }
        if (c->state == C_WS) {
            if (ws_input(c) == IO_ERROR) conn_kill(l, c);
            return;
        }
        if (!parse(l, c) || c->parked) return;
        int fr = flush(c);
        if (fr == IO_ERROR || (fr == IO_OK && c->close_after)) {
            conn_kill(l, c);
            return;
        }
        if (fr == IO_RETRY || c->state == C_WS) return;
        next_request(l, c);
    }
}

void conn_output(struct web_loop *l, web_conn_t *c)
{
    if (c->parked) return;
    if (c->want_write && c->state != C_REPLY && c->state != C_WS) {
        conn_input(l, c); /* OpenSSL's read was waiting for the socket */
        if (c->dead) return;
    }
    int fr = flush(c);
    if (fr == IO_ERROR || (fr == IO_OK && c->state == C_REPLY && c->close_after)) {
        conn_kill(l, c);
        return;
    }
    if (fr == IO_OK && c->state == C_REPLY) {
        next_request(l, c);
        conn_input(l, c);
    }
}
