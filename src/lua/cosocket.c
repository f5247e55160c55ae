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
 * Memory: the Lua object (box_t) points to its connection and back; either
 * may go first. A closed connection is not freed at once but put in the
 * pool's graveyard, freed by a timer that fires after the loop turn's I/O
 * events, because an event for its fd may still be waiting in the batch
 * epoll_wait returned. The pool itself (one per VM) is freed when its
 * anchor in the registry is collected and no connection refers to it.
 *
 * Not done: unix-domain sockets, TLS session reuse objects, ngx's
 * "lua_socket_log_errors", receiving with "*L". */
#include "lua/cosocket.h"

#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <stdio.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/socket.h>
#include <unistd.h>

#include "base/alloc.h"
#include "engine/engine.h"
#include "lua/api.h"
#include "lua/binding.h"
#include "lua/cosocket_int.h"

#define READ_CHUNK 16384

static char pool_key;
static _Thread_local char errbuf[256]; /* cosock_handshake_error's text */

/* ---- connection life ---- */

static void pool_unref(pool_t *p);

static void on_bury(loop_t *l, loop_timer_t *t)
{
    pool_t *p = (pool_t *)((char *)t - offsetof(pool_t, bury));
    while (p->grave) {
        cosock_t *s = p->grave;
        p->grave = s->next;
        buf_free(&s->rbuf);
        buf_free(&s->wbuf);
        buf_free(&s->pat);
        xfree(s->key);
        xfree(s);
        p->refs--;
    }
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
    loop_t *loop = p->eng ? p->eng->loop : NULL;
    unlink_user(s);
    unlink_bucket(s);
    if (s->box) s->box->s = NULL;
    s->box = NULL;
    if (loop) loop_timer_stop(loop, &s->timer);
    if (s->ssl) SSL_free(s->ssl);
    s->ssl = NULL;
    if (s->io.fd >= 0) {
        if (loop) loop_del(loop, &s->io);
        close(s->io.fd);
        s->io.fd = -1;
    }
    s->next = p->grave;
    p->grave = s;
    if (p->closing || loop == NULL) {
        on_bury(loop, &p->bury);
        pool_unref(p);
    } else if (!loop_timer_armed(&p->bury)) {
        loop_timer_at(loop, &p->bury, 0); /* due now: fires after this turn's events */
    }
}

static void pool_unref(pool_t *p)
{
    if (p->refs > 0 || !p->closing) return;
    for (int i = 0; i < 2; i++)
        if (p->ctx[i]) SSL_CTX_free(p->ctx[i]);
    xfree(p);
}

void cosocket_release(user_t *u)
{
    while (u->binding && u->binding->cosocks)
        cosock_retire(u->binding->cosocks);
}

/* ---- the transport: plain or TLS. >0 bytes, 0 closed, -1 wait, -2 error
 * (s->err set) ---- */

static ssize_t ssl_result(cosock_t *s, int rc)
{
    if (rc > 0) return rc;
    switch (SSL_get_error(s->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        if (errno == 0) return 0;
        s->err = errno;
        return -2;
    default:
        ERR_clear_error();
        s->err = EPROTO;
        return -2;
    }
}

static ssize_t t_read(cosock_t *s, char *p, size_t n)
{
    if (s->ssl) return ssl_result(s, SSL_read(s->ssl, p, (int)n));
    ssize_t r = recv(s->io.fd, p, n, 0);
    if (r >= 0) return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -1;
    s->err = errno;
    return -2;
}

ssize_t cosock_write(cosock_t *s, const char *p, size_t n)
{
    if (n == 0) return 0;
    if (s->ssl) return ssl_result(s, SSL_write(s->ssl, p, (int)n));
    ssize_t r = send(s->io.fd, p, n, MSG_NOSIGNAL);
    if (r >= 0) return r;
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -1;
    s->err = errno;
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
    ssize_t r = recv(s->io.fd, s->rbuf.p, s->want, 0);
    if (r >= 0) {
        lua_pushlstring(L, s->rbuf.p, (size_t)r);
        return 1;
    }
    if (errno == EAGAIN || errno == EWOULDBLOCK || errno == EINTR) return -1;
    return cosock_fail(L, cosock_errstr(errno));
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
    ERR_clear_error();
    int rc = SSL_connect(s->ssl);
    if (rc == 1) return 1;
    ssize_t r = ssl_result(s, rc);
    if (r == -1) return 0;
    if (r == 0) s->err = ECONNRESET;
    return -1;
}

/* Why a handshake failed: the certificate check ("18: self-signed
 * certificate", as OpenResty says it), or a plain "handshake failed". */
const char *cosock_handshake_error(cosock_t *s)
{
    long v = SSL_get_verify_result(s->ssl);
    if (v != X509_V_OK)
        snprintf(errbuf, sizeof errbuf, "%ld: %s", v, X509_verify_cert_error_string(v));
    else
        snprintf(errbuf, sizeof errbuf, "handshake failed");
    return errbuf;
}

/* ---- the loop's side ---- */

static void on_io(loop_t *l, loop_io_t *io, uint32_t events)
{
    cosock_t *s = (cosock_t *)io;
    if (s->io.fd < 0) return;
    if (s->user == NULL) { /* pooled: the server closed it or spoke out of turn */
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) cosock_retire(s);
        return; /* EPOLLOUT alone: ACKs of what was sent free buffer space */
    }
    lua_State *co = s->user->co;
    int n;
    switch (s->op) {
    case OP_NONE:
        return;
    case OP_CONNECT: {
        int e = 0;
        socklen_t len = sizeof e;
        if (getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
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
        wake_fail(s, "timeout", s->op == OP_CONNECT || s->op == OP_HANDSHAKE);
    }
}

cosock_t *cosock_new(pool_t *p, int fd, bool udp, const char *key)
{
    cosock_t *s = xcalloc(1, sizeof *s);
    s->pool = p;
    p->refs++;
    s->io.fd = fd;
    s->io.fn = on_io;
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
    if (p->eng) loop_timer_stop(p->eng->loop, &p->bury);
    while (p->buckets) {
        bucket_t *b = p->buckets;
        while (b->head)
            cosock_retire(b->head);
        p->buckets = b->next;
        xfree(b->key);
        xfree(b);
    }
    on_bury(NULL, &p->bury);
    p->refs--;
    pool_unref(p);
    return 0;
}

pool_t *cosock_pool_new(lua_State *L)
{
    pool_t *p = xcalloc(1, sizeof *p);
    p->refs = 1;
    p->bury.fn = on_bury;
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
