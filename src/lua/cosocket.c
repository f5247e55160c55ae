/* cosocket: see cosocket.h. This file is the connections' half: transport,
 * parking, receiving, sending, TLS, the loop's side and the pool; the Lua
 * objects that drive them are in cosocket_lua.c, and what the two share is
 * declared in cosocket_int.h.
 *
 * A connection (cosock_t) is a state machine with at most one operation in
 * flight (connect, TLS handshake, send, receive), since only its user's
 * coroutine drives it. Every operation first tries to complete at once; only
 * when the kernel says EAGAIN does it record what it waits for in `op`, arm
 * the timeout and park the coroutine. on_io() then retries the same step
 * and resumes the user when it completes. Reads go into a per-connection
 * buffer (rbuf, consumed from roff) that is reused, so a receive allocates
 * nothing but the Lua string it returns; sends go straight from the Lua
 * string, and only a remainder the kernel did not take is copied.
 *
 * Bytes move through the sock embedded in the connection (net/net.h, the
 * same transport as the HTTP client's): connecting, TLS (the engine's
 * OpenSSL contexts, so --ca-file and --insecure hold, and no SNI for IP
 * literals), reads and writes, each answering OK, ERROR or RETRY.
 *
 * Memory: the Lua object (box_t) points to its connection and back; either
 * may go first. A closed connection is not freed at once but put in the
 * transport's graveyard (net_retire), freed after the loop turn, because
 * an event for its fd may still be waiting in the batch epoll_wait
 * returned. The pool itself (one per VM) is freed when its anchor in the
 * registry is collected and no connection refers to it.
 *
 * Not done: unix-domain sockets, TLS session reuse objects, ngx's
 * "lua_socket_log_errors", receiving with "*L". */
#include "lua/cosocket.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>

#include "base/alloc.h"
#include "engine/engine.h"
#include "lua/api.h"
#include "lua/binding.h"
#include "lua/cosocket_int.h"
#include "net/tls.h"

#define READ_CHUNK 16384

static char pool_key;
static _Thread_local char errbuf[256]; /* cosock_handshake_error's text */

/* ---- connection life ---- */

static void pool_unref(pool_t *p);

/* Free a retired connection (from net_bury, or at once). */
static void bury(sock_t *sk)
{
    cosock_t *s = (cosock_t *)sk;
    pool_t *p = s->pool;
    buf_free(&s->rbuf);
    buf_free(&s->wbuf);
    buf_free(&s->pat);
    xfree(s->key);
    xfree(s);
    p->refs--;
    pool_unref(p);
}

static void unlink_user(cosock_t *s)
{
    if (s->user == NULL) return;
    if (s->prev)
        s->prev->next = s->next;
    else
        s->user->binding->cosocks = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->user = NULL;
}

static void unlink_bucket(cosock_t *s)
{
    bucket_t *b = s->bucket;
    if (b == NULL) return;
    if (s->prev)
        s->prev->next = s->next;
    else
        b->head = s->next;
    if (s->next) s->next->prev = s->prev;
    s->prev = s->next = NULL;
    s->bucket = NULL;
    b->n--;
}

/* Close the socket and retire the connection (freed after the loop turn).
 * The box, if any, is left without a connection. */
void cosock_retire(cosock_t *s)
{
    pool_t *p = s->pool;
    net_t *n = s->sock.net;
    resolve_cancel(&s->dns); /* a lookup under way never calls back into s */
    unlink_user(s);
    unlink_bucket(s);
    if (s->box) s->box->s = NULL;
    s->box = NULL;
    if (n->loop) loop_timer_stop(n->loop, &s->timer);
    if (p->closing || n->loop == NULL) { /* no loop turn left to wait for */
        sock_close(&s->sock, false);
        sock_forget_session(&s->sock);
        bury(&s->sock);
    } else {
        net_retire(n, &s->sock, bury);
    }
}

static void pool_unref(pool_t *p)
{
    if (p->refs > 0 || !p->closing) return;
    xfree(p);
}

void cosocket_release(user_t *u)
{
    while (u->binding && u->binding->cosocks)
        cosock_retire(u->binding->cosocks);
}

/* ---- the transport's answers in this file's terms: >0 bytes, 0 closed,
 * -1 wait, -2 error (s->err set) ---- */

static ssize_t t_read(cosock_t *s, char *p, size_t n)
{
    size_t got = 0;
    switch (sock_read(&s->sock, p, n, &got)) {
    case NET_OK:
        return (ssize_t)got;
    case NET_RETRY:
        return -1;
    case NET_ERROR:
        break;
    }
    s->err = s->sock.err;
    return -2;
}

ssize_t cosock_write(cosock_t *s, const char *p, size_t n)
{
    if (n == 0) return 0;
    size_t put = 0;
    switch (sock_write(&s->sock, p, n, &put)) {
    case NET_OK:
        return (ssize_t)put;
    case NET_RETRY:
        return -1;
    case NET_ERROR:
        break;
    }
    s->err = s->sock.err;
    return -2;
}

/* ---- parking and resuming ---- */

int cosock_park(lua_State *L, cosock_t *s, enum op op, int ms)
{
    user_t *u = s->user;
    if (u->cut && !u->in_on_stop) { /* the stop grace is over: nothing new waits */
        api_push_stop(L);
        return lua_error(L);
    }
    s->op = op;
    if (ms > 0) loop_timer_at(u->eng->loop, &s->timer, clock_ns() + (int64_t)ms * 1000000);
    engine_wait(u);
    return lua_yield(L, 0);
}

static void wake(cosock_t *s, int nres)
{
    user_t *u = s->user;
    s->op = OP_NONE;
    loop_timer_stop(u->eng->loop, &s->timer);
    engine_resume(u, nres);
}

/* Resume the user with nil, err; a connection in a state of no further use
 * is closed first. */
static void wake_fail(cosock_t *s, const char *err, bool close)
{
    user_t *u = s->user;
    s->op = OP_NONE;
    loop_timer_stop(u->eng->loop, &s->timer);
    cosock_fail(u->co, err);
    if (close) cosock_retire(s);
    engine_resume(u, 2);
}

void cosocket_cut(user_t *u)
{
    for (cosock_t *s = u->binding ? u->binding->cosocks : NULL; s; s = s->next)
        if (s->op != OP_NONE) {
            s->op = OP_NONE;
            cosock_retire(s); /* its coroutine is dropped, never resumed */
            return;
        }
}

/* nil, err for a call that closes the connection. */
int cosock_fail_close(lua_State *L, cosock_t *s, const char *err)
{
    cosock_fail(L, err);
    cosock_retire(s);
    return 2;
}

/* ---- receiving ---- */

/* Push what the current read asks for if the buffer holds it: returns the
 * number of results pushed, or 0. */
static int take(cosock_t *s, lua_State *L)
{
    /* before the first read rbuf.p is NULL, and NULL + 0 is undefined */
    const char *d = s->rbuf.p ? s->rbuf.p + s->roff : "";
    size_t avail = s->rbuf.len - s->roff;
    switch (s->rmode) {
    case R_LINE: {
        const char *nl = avail ? memchr(d, '\n', avail) : NULL;
        if (nl == NULL) return 0;
        size_t n = (size_t)(nl - d);
        s->roff += n + 1;
        if (memchr(d, '\r', n) == NULL) {
            lua_pushlstring(L, d, n);
        } else { /* CR is ignored anywhere in the line, as in OpenResty */
            luaL_Buffer b;
            luaL_buffinit(L, &b);
            for (size_t i = 0; i < n; i++)
                if (d[i] != '\r') luaL_addchar(&b, d[i]);
            luaL_pushresult(&b);
        }
        return 1;
    }
    case R_SIZE:
        if (avail < s->want) return 0;
        lua_pushlstring(L, d, s->want);
        s->roff += s->want;
        return 1;
    case R_ALL:
        if (!s->eof) return 0;
        lua_pushlstring(L, d, avail);
        s->roff += avail;
        return 1;
    case R_DGRAM:
        return 0;
    case R_UNTIL: {
        const char *pat = s->pat.p;
        size_t pl = s->pat.len;
        const char *at = avail >= pl ? memmem(d, avail, pat, pl) : NULL;
        if (at) {
            size_t before = (size_t)(at - d);
            if (s->want && before > s->want) { /* a chunk before the pattern */
                lua_pushlstring(L, d, s->want);
                s->roff += s->want;
                return 1;
            }
            if (s->want && before == 0) { /* chunked reading reached the pattern */
                s->roff += pl;
                lua_pushnil(L);
                return 1;
            }
            size_t n = s->inclusive ? before + pl : before;
            lua_pushlstring(L, d, n);
            /* chunked reading returns the end of the data first, the pattern
             * is consumed by the next call (which returns nil) */
            s->roff += s->want && !s->inclusive ? before : before + pl;
            return 1;
        }
        /* bytes that cannot be the start of the pattern may go out in chunks */
        if (s->want && avail >= pl - 1 + s->want) {
            lua_pushlstring(L, d, s->want);
            s->roff += s->want;
            return 1;
        }
        return 0;
    }
    }
    return 0;
}

/* The read cannot complete: nil, err, partial (everything buffered). A
 * closed or failed connection is closed; a timeout leaves it open. */
static int recv_fail(cosock_t *s, lua_State *L, const char *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err);
    lua_pushlstring(L, s->rbuf.p ? s->rbuf.p + s->roff : "", s->rbuf.len - s->roff);
    s->roff = s->rbuf.len = 0;
    if (strcmp(err, "timeout") != 0) cosock_retire(s);
    return 3;
}

/* Complete the pending read from the buffer and the socket. Returns the
 * number of results pushed on L, or -1: wait for readability. */
static int recv_step(cosock_t *s, lua_State *L)
{
    for (;;) {
        int n = take(s, L);
        if (n) return n;
        if (s->err) return recv_fail(s, L, cosock_errstr(s->err));
        if (s->eof) return recv_fail(s, L, "closed");
        buf_t *b = &s->rbuf;
        if (s->roff == b->len) b->len = s->roff = 0;
        size_t need = s->rmode == R_SIZE && s->want > b->len - s->roff
                          ? s->want - (b->len - s->roff)
                          : READ_CHUNK;
        /* grow with what has arrived, not with what the peer announced: a
         * 10-byte WebSocket header claiming 2 GB must not allocate 2 GB
         * before a byte of it comes (doubling keeps big reads linear) */
        if (need > b->len - s->roff) need = b->len - s->roff;
        if (need < READ_CHUNK) need = READ_CHUNK;
        if (s->roff && b->cap - b->len < need + 1) { /* slide the unread part down */
            memmove(b->p, b->p + s->roff, b->len - s->roff);
            b->len -= s->roff;
            s->roff = 0;
        }
        buf_reserve(b, need + 1);
        ssize_t r = t_read(s, b->p + b->len, b->cap - b->len - 1);
        if (r == -1) return -1;
        if (r == 0)
            s->eof = true;
        else if (r > 0)
            b->len += (size_t)r;
    }
}

static int udp_step(cosock_t *s, lua_State *L)
{
    buf_reserve(&s->rbuf, s->want + 1);
    size_t got = 0;
    switch (sock_read(&s->sock, s->rbuf.p, s->want, &got)) {
    case NET_OK: /* a datagram, maybe empty (no end of stream in UDP) */
        lua_pushlstring(L, s->rbuf.p, got);
        return 1;
    case NET_RETRY:
        return -1;
    case NET_ERROR:
        break;
    }
    return cosock_fail(L, cosock_errstr(s->sock.err));
}

int cosock_receive(lua_State *L, cosock_t *s, int ms)
{
    int n = s->rmode == R_DGRAM ? udp_step(s, L) : recv_step(s, L);
    if (n >= 0) return n;
    return cosock_park(L, s, OP_RECV, ms);
}

/* ---- sending ---- */

/* Write what is left in wbuf. Returns 1 done, 0 wait, -1 error. */
int cosock_send_step(cosock_t *s)
{
    while (s->woff < s->wbuf.len) {
        ssize_t r = cosock_write(s, s->wbuf.p + s->woff, s->wbuf.len - s->woff);
        if (r == -1) return 0;
        if (r <= 0) {
            if (r == 0) s->err = EPIPE;
            return -1;
        }
        s->woff += (size_t)r;
    }
    s->wbuf.len = s->woff = 0;
    return 1;
}

/* ---- TLS ---- */

int cosock_handshake_step(cosock_t *s)
{
    switch (sock_handshake(&s->sock)) {
    case NET_OK:
        return 1;
    case NET_RETRY:
        return 0;
    case NET_ERROR:
        break;
    }
    s->err = s->sock.err;
    return -1;
}

/* Why a handshake failed: the certificate check ("18: self-signed
 * certificate", as OpenResty says it), or a plain "handshake failed". */
const char *cosock_handshake_error(cosock_t *s)
{
    const char *text;
    long v = tls_verify_result(&s->sock, &text);
    if (v != 0)
        snprintf(errbuf, sizeof errbuf, "%ld: %s", v, text);
    else
        snprintf(errbuf, sizeof errbuf, "handshake failed");
    return errbuf;
}

/* ---- the loop's side ---- */

static void on_io(loop_t *l, loop_io_t *io, uint32_t events)
{
    cosock_t *s = (cosock_t *)io;
    if (s->sock.io.fd < 0) return;
    if (s->user == NULL) { /* pooled: the server closed it or spoke out of turn */
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) cosock_retire(s);
        return; /* EPOLLOUT alone: ACKs of what was sent free buffer space */
    }
    lua_State *co = s->user->co;
    int n;
    switch (s->op) {
    case OP_NONE:
    case OP_RESOLVE: /* no socket yet: not reached */
        return;
    case OP_CONNECT: {
        int e = sock_connected(&s->sock) == NET_OK ? 0 : s->sock.err;
        if (e == 0 && !(events & (EPOLLOUT | EPOLLERR | EPOLLHUP))) return;
        if (e) {
            wake_fail(s, cosock_errstr(e), true);
            return;
        }
        lua_pushinteger(co, 1);
        break;
    }
    case OP_HANDSHAKE:
        n = cosock_handshake_step(s);
        if (n == 0) return;
        if (n < 0) {
            wake_fail(s, cosock_handshake_error(s), true);
            return;
        }
        lua_pushboolean(co, 1);
        break;
    case OP_SEND:
        n = cosock_send_step(s);
        if (n == 0) return;
        if (n < 0) {
            wake_fail(s, cosock_errstr(s->err), true);
            return;
        }
        lua_pushinteger(co, (lua_Integer)s->sent);
        break;
    case OP_RECV: {
        user_t *u = s->user;
        s->op = OP_NONE; /* recv_fail may retire s: u is resumed below */
        n = s->rmode == R_DGRAM ? udp_step(s, co) : recv_step(s, co);
        if (n < 0) {
            s->op = OP_RECV;
            return;
        }
        if (s->user) loop_timer_stop(l, &s->timer);
        engine_resume(u, n);
        return;
    }
    }
    wake(s, 1);
}

static void on_timer(loop_t *l, loop_timer_t *t)
{
    cosock_t *s = (cosock_t *)((char *)t - offsetof(cosock_t, timer));
    if (s->user == NULL) { /* idle too long in the pool */
        cosock_retire(s);
        return;
    }
    user_t *u = s->user;
    if (s->op == OP_RECV && s->rmode != R_DGRAM) {
        s->op = OP_NONE;
        engine_resume(u, recv_fail(s, u->co, "timeout"));
    } else { /* a half-open connection is of no use */
        wake_fail(s, "timeout",
                  s->op == OP_RESOLVE || s->op == OP_CONNECT || s->op == OP_HANDSHAKE);
    }
}

cosock_t *cosock_new(pool_t *p, net_t *n, bool udp, const char *key)
{
    cosock_t *s = xcalloc(1, sizeof *s);
    s->pool = p;
    p->refs++;
    sock_init(&s->sock, n, on_io);
    s->timer.fn = on_timer;
    s->udp = udp;
    s->key = xstrdup(key);
    return s;
}

/* ---- the pool ---- */

static bucket_t *bucket_for(pool_t *p, const char *key, bool create)
{
    for (bucket_t *b = p->buckets; b; b = b->next)
        if (strcmp(b->key, key) == 0) return b;
    if (!create) return NULL;
    bucket_t *b = xcalloc(1, sizeof *b);
    b->key = xstrdup(key);
    b->next = p->buckets;
    p->buckets = b;
    return b;
}

/* The most recently pooled connection for key, now detached, or NULL. */
cosock_t *cosock_pool_take(pool_t *p, const char *key)
{
    bucket_t *b = bucket_for(p, key, false);
    cosock_t *s = b ? b->head : NULL;
    if (s == NULL) return NULL;
    unlink_bucket(s);
    loop_timer_stop(p->eng->loop, &s->timer);
    return s;
}

void cosock_pool_put(pool_t *p, cosock_t *s, int idle_ms, int size)
{
    bucket_t *b = bucket_for(p, s->key, true);
    unlink_user(s);
    if (s->box) s->box->s = NULL;
    s->box = NULL;
    s->next = b->head;
    if (b->head) b->head->prev = s;
    b->head = s;
    s->bucket = b;
    b->n++;
    if (idle_ms > 0)
        loop_timer_at(p->eng->loop, &s->timer, clock_ns() + (int64_t)idle_ms * 1000000);
    if (b->n > size) { /* over the pool size: the oldest goes */
        cosock_t *old = b->head;
        while (old->next)
            old = old->next;
        cosock_retire(old);
    }
}

/* The registry's anchor of the pool was collected: the VM is closing. */
static int pool_gc(lua_State *L)
{
    pool_t *p = *(pool_t **)lua_touserdata(L, 1);
    p->closing = true;
    while (p->buckets) {
        bucket_t *b = p->buckets;
        while (b->head)
            cosock_retire(b->head);
        p->buckets = b->next;
        xfree(b->key);
        xfree(b);
    }
    p->refs--;
    pool_unref(p);
    return 0;
}

pool_t *cosock_pool_new(lua_State *L)
{
    pool_t *p = xcalloc(1, sizeof *p);
    p->refs = 1;
    /* the anchor: collected when the VM closes, and the pool with it */
    lua_pushlightuserdata(L, &pool_key);
    pool_t **anchor = lua_newuserdata(L, sizeof *anchor);
    *anchor = p;
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, pool_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    lua_rawset(L, LUA_REGISTRYINDEX);
    return p;
}
