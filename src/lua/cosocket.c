/* cosocket: see cosocket.h.
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

#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <netdb.h>
#include <netinet/tcp.h>
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

#define READ_CHUNK 16384
#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_POOL_SIZE 30
#define UDP_MAX 65536

enum op { OP_NONE, OP_CONNECT, OP_HANDSHAKE, OP_SEND, OP_RECV };
enum rmode { R_LINE, R_ALL, R_SIZE, R_UNTIL, R_DGRAM };
enum { T_CONNECT, T_SEND, T_READ };

typedef struct pool pool_t;
typedef struct box box_t;
typedef struct bucket bucket_t;

typedef struct cosock {
    loop_io_t io;
    loop_timer_t timer; /* the wait's timeout, or the idle timeout when pooled */
    pool_t *pool;
    user_t *user;               /* the owner; NULL when pooled */
    box_t *box;                 /* the Lua object using it; NULL when pooled */
    bucket_t *bucket;           /* when pooled */
    struct cosock *prev, *next; /* owner's list, pool bucket, or graveyard */
    SSL *ssl;
    bool udp, eof;
    int err; /* errno of a failed read or write */
    enum op op;
    enum rmode rmode;
    size_t want; /* R_SIZE: bytes; R_UNTIL: chunk size (0 = all); R_DGRAM: max */
    bool inclusive;
    buf_t pat; /* R_UNTIL: the pattern */
    buf_t rbuf;
    size_t roff;
    buf_t wbuf; /* the part of a send the kernel did not take yet */
    size_t woff, sent;
    unsigned reused;
    char *key; /* pool key ("host:port" or the pool option), owned */
} cosock_t;

struct box {
    cosock_t *s;
    pool_t *pool;
    int tmo[3]; /* connect, send, read: ms, 0 = none */
    bool udp;
};

struct bucket {
    char *key;
    cosock_t *head;
    int n;
    bucket_t *next;
};

struct pool {
    engine_t *eng; /* set when the first connection is made */
    bucket_t *buckets;
    cosock_t *grave;
    loop_timer_t bury;
    long refs; /* live connections, plus one for the registry anchor */
    bool closing;
    SSL_CTX *ctx[2]; /* without and with verification */
};

static char pool_key;
static _Thread_local char errbuf[256];

/* ---- errors ---- */

/* OpenResty's style: strerror in lower case ("connection refused"). */
static const char *errstr(int e)
{
    if (e == ETIMEDOUT) return "timeout";
    if (e == EPROTO) return "ssl error";
    snprintf(errbuf, sizeof errbuf, "%s", strerror(e));
    errbuf[0] = (char)tolower((unsigned char)errbuf[0]);
    return errbuf;
}

static int fail(lua_State *L, const char *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
}

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
        s->user->cosocks = s->next;
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
static void retire(cosock_t *s)
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
    while (u->cosocks)
        retire(u->cosocks);
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

static ssize_t t_write(cosock_t *s, const char *p, size_t n)
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

static int park(lua_State *L, cosock_t *s, enum op op, int ms)
{
    user_t *u = s->user;
    s->op = op;
    if (ms > 0) loop_timer_at(u->eng->loop, &s->timer, clock_ns() + (int64_t)ms * 1000000);
    u->state = USER_WAITING;
    u->parked = true;
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
    fail(u->co, err);
    if (close) retire(s);
    engine_resume(u, 2);
}

static int ok1(lua_State *L)
{
    lua_pushinteger(L, 1);
    return 1;
}

/* nil, err for a call that closes the connection. */
static int fail_close(lua_State *L, cosock_t *s, const char *err)
{
    fail(L, err);
    retire(s);
    return 2;
}

/* ---- receiving ---- */

/* Push what the current read asks for if the buffer holds it: returns the
 * number of results pushed, or 0. */
static int take(cosock_t *s, lua_State *L)
{
    const char *d = s->rbuf.p + s->roff;
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
    lua_pushlstring(L, s->rbuf.p + s->roff, s->rbuf.len - s->roff);
    s->roff = s->rbuf.len = 0;
    if (strcmp(err, "timeout") != 0) retire(s);
    return 3;
}

/* Complete the pending read from the buffer and the socket. Returns the
 * number of results pushed on L, or -1: wait for readability. */
static int recv_step(cosock_t *s, lua_State *L)
{
    for (;;) {
        int n = take(s, L);
        if (n) return n;
        if (s->err) return recv_fail(s, L, errstr(s->err));
        if (s->eof) return recv_fail(s, L, "closed");
        buf_t *b = &s->rbuf;
        if (s->roff == b->len) b->len = s->roff = 0;
        size_t need = s->rmode == R_SIZE && s->want > b->len - s->roff
                          ? s->want - (b->len - s->roff)
                          : READ_CHUNK;
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
    return fail(L, errstr(errno));
}

/* ---- sending ---- */

/* Write what is left in wbuf. Returns 1 done, 0 wait, -1 error. */
static int send_step(cosock_t *s)
{
    while (s->woff < s->wbuf.len) {
        ssize_t r = t_write(s, s->wbuf.p + s->woff, s->wbuf.len - s->woff);
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

static int handshake_step(cosock_t *s)
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
static const char *handshake_error(cosock_t *s)
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
        if (events & (EPOLLIN | EPOLLRDHUP | EPOLLHUP | EPOLLERR)) retire(s);
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
            wake_fail(s, errstr(e), true);
            return;
        }
        lua_pushinteger(co, 1);
        break;
    }
    case OP_HANDSHAKE:
        n = handshake_step(s);
        if (n == 0) return;
        if (n < 0) {
            wake_fail(s, handshake_error(s), true);
            return;
        }
        lua_pushboolean(co, 1);
        break;
    case OP_SEND:
        n = send_step(s);
        if (n == 0) return;
        if (n < 0) {
            wake_fail(s, errstr(s->err), true);
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
        retire(s);
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
static cosock_t *pool_take(pool_t *p, const char *key)
{
    bucket_t *b = bucket_for(p, key, false);
    cosock_t *s = b ? b->head : NULL;
    if (s == NULL) return NULL;
    unlink_bucket(s);
    loop_timer_stop(p->eng->loop, &s->timer);
    return s;
}

static void pool_put(pool_t *p, cosock_t *s, int idle_ms, int size)
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
        retire(old);
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
            retire(b->head);
        p->buckets = b->next;
        xfree(b->key);
        xfree(b);
    }
    on_bury(NULL, &p->bury);
    p->refs--;
    pool_unref(p);
    return 0;
}

/* ---- the Lua objects ---- */

#define TCP_MT "cicada.tcp"
#define UDP_MT "cicada.udp"

/* The running user and the object's open connection, or NULL (a "closed"
 * result is pushed: return 2). Raises STOP when the run is stopping. */
static cosock_t *open_sock(lua_State *L, box_t *b, const char *what, user_t **u)
{
    *u = api_current(L, what);
    if (api_must_stop(*u)) {
        api_push_stop(L);
        lua_error(L);
    }
    if (b->s == NULL) {
        fail(L, "closed");
        return NULL;
    }
    if (b->s->user != *u) {
        fail(L, "bad request"); /* as OpenResty: sockets do not cross users */
        return NULL;
    }
    if (b->s->op != OP_NONE) {
        fail(L, "socket busy");
        return NULL;
    }
    return b->s;
}

/* u owns s from now on, used through b. */
static void own(cosock_t *s, user_t *u, box_t *b)
{
    s->user = u;
    s->prev = NULL;
    s->next = u->cosocks;
    if (u->cosocks) u->cosocks->prev = s;
    u->cosocks = s;
    s->box = b;
    b->s = s;
}

/* A new connection on fd, registered with the loop: NULL (nil, err pushed)
 * if the loop refuses it. */
static cosock_t *new_sock(lua_State *L, int fd, const char *key, user_t *u, box_t *b)
{
    cosock_t *s = xcalloc(1, sizeof *s);
    s->pool = b->pool;
    b->pool->refs++;
    s->io.fd = fd;
    s->io.fn = on_io;
    s->timer.fn = on_timer;
    s->udp = b->udp;
    s->key = xstrdup(key);
    own(s, u, b);
    if (loop_add(u->eng->loop, &s->io) == 0) return s;
    fail_close(L, s, errstr(errno));
    return NULL;
}

/* Resolve and start connecting: returns the fd (*done if already
 * connected), or -1 with the error pushed (2 results). IPv4 first, as a
 * scenario's "localhost" server usually listens there. */
static int dial(lua_State *L, const char *host, int port, int type, bool *done)
{
    struct addrinfo hints = {.ai_socktype = type, .ai_family = AF_INET}, *ai = NULL;
    char ps[16];
    snprintf(ps, sizeof ps, "%d", port);
    int rc = getaddrinfo(host, ps, &hints, &ai);
    if (rc != 0) {
        hints.ai_family = AF_UNSPEC;
        rc = getaddrinfo(host, ps, &hints, &ai);
    }
    if (rc != 0 || ai == NULL) {
        snprintf(errbuf, sizeof errbuf, "%s could not be resolved (%s)", host, gai_strerror(rc));
        fail(L, errbuf);
        return -1;
    }
    int fd = -1, e = 0;
    *done = false;
    for (struct addrinfo *a = ai; a; a = a->ai_next) {
        fd = socket(a->ai_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
        if (fd < 0) {
            e = errno;
            continue;
        }
        if (type == SOCK_STREAM) {
            int one = 1;
            setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        }
        if (connect(fd, a->ai_addr, a->ai_addrlen) == 0) {
            *done = true;
            break;
        }
        if (errno == EINPROGRESS) break;
        e = errno;
        close(fd);
        fd = -1;
    }
    freeaddrinfo(ai);
    if (fd < 0) fail(L, errstr(e));
    return fd;
}

static int l_tcp_connect(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, TCP_MT);
    user_t *u = api_current(L, "sock:connect");
    if (api_must_stop(u)) {
        api_push_stop(L);
        return lua_error(L);
    }
    const char *host = luaL_checkstring(L, 2);
    if (strncmp(host, "unix:", 5) == 0) return fail(L, "unix domain sockets are not supported");
    int port = (int)luaL_checkinteger(L, 3);
    const char *name = NULL;
    if (lua_istable(L, 4)) {
        lua_getfield(L, 4, "pool");
        name = lua_tostring(L, -1);
    }
    if (b->s) retire(b->s); /* as OpenResty: connecting again closes the old one */
    pool_t *p = b->pool;
    if (p->eng == NULL) p->eng = u->eng;
    char key[320];
    if (name)
        snprintf(key, sizeof key, "%s", name);
    else
        snprintf(key, sizeof key, "%s:%d", host, port);
    cosock_t *s = pool_take(p, key);
    if (s) {
        s->reused++;
        own(s, u, b);
        return ok1(L);
    }
    bool done;
    int fd = dial(L, host, port, SOCK_STREAM, &done);
    if (fd < 0 || (s = new_sock(L, fd, key, u, b)) == NULL) return 2;
    if (done) return ok1(L);
    return park(L, s, OP_CONNECT, b->tmo[T_CONNECT]);
}

static SSL_CTX *ssl_ctx(pool_t *p, bool verify)
{
    if (p->ctx[verify] == NULL) {
        SSL_CTX *c = SSL_CTX_new(TLS_client_method());
        if (c == NULL) return NULL;
        SSL_CTX_set_verify(c, verify ? SSL_VERIFY_PEER : SSL_VERIFY_NONE, NULL);
        if (verify) SSL_CTX_set_default_verify_paths(c);
        p->ctx[verify] = c;
    }
    return p->ctx[verify];
}

/* sock:sslhandshake(reused_session, server_name, ssl_verify) → true. */
static int l_tcp_sslhandshake(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, TCP_MT);
    user_t *u;
    cosock_t *s = open_sock(L, b, "sock:sslhandshake", &u);
    if (s == NULL) return 2;
    if (s->ssl) { /* a pooled connection that already speaks TLS */
        lua_pushboolean(L, 1);
        return 1;
    }
    const char *sni = lua_tostring(L, 3);
    bool verify = lua_toboolean(L, 4);
    SSL_CTX *ctx = ssl_ctx(b->pool, verify);
    if (ctx == NULL || (s->ssl = SSL_new(ctx)) == NULL) return fail(L, "ssl context failed");
    SSL_set_fd(s->ssl, s->io.fd);
    if (sni) {
        SSL_set_tlsext_host_name(s->ssl, sni);
        if (verify) SSL_set1_host(s->ssl, sni);
    }
    int r = handshake_step(s);
    if (r > 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (r < 0) return fail_close(L, s, handshake_error(s));
    return park(L, s, OP_HANDSHAKE, b->tmo[T_CONNECT]);
}

/* Append a string, a number or a nested array of them. */
static void flatten(lua_State *L, int idx, buf_t *w, int depth)
{
    if (depth > 32) luaL_error(L, "send: tables nested too deeply");
    size_t n = lua_objlen(L, idx);
    for (size_t i = 1; i <= n; i++) {
        lua_rawgeti(L, idx, (int)i);
        int t = lua_type(L, -1);
        if (t == LUA_TTABLE) {
            flatten(L, lua_gettop(L), w, depth + 1);
        } else if (t == LUA_TSTRING || t == LUA_TNUMBER) {
            size_t len;
            const char *p = lua_tolstring(L, -1, &len);
            buf_append(w, p, len);
        } else {
            luaL_error(L, "send: bad data type %s in the table", lua_typename(L, t));
        }
        lua_pop(L, 1);
    }
}

/* Put the data argument at index 2 into s->wbuf, or (a string) write it
 * at once and keep only the rest. */
static void stage(lua_State *L, cosock_t *s)
{
    buf_reset(&s->wbuf);
    s->woff = 0;
    if (lua_istable(L, 2)) {
        flatten(L, 2, &s->wbuf, 0);
        s->sent = s->wbuf.len;
        return;
    }
    size_t len;
    const char *p = lua_tolstring(L, 2, &len);
    if (p == NULL) luaL_argerror(L, 2, "string, number or array table expected");
    s->sent = len;
    size_t off = 0;
    if (!s->udp)
        while (off < len) {
            ssize_t r = t_write(s, p + off, len - off);
            if (r <= 0) break;
            off += (size_t)r;
        }
    if (s->err == 0) buf_append(&s->wbuf, p + off, len - off);
}

static int l_tcp_send(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, TCP_MT);
    user_t *u;
    cosock_t *s = open_sock(L, b, "sock:send", &u);
    if (s == NULL) return 2;
    stage(L, s);
    int r = s->err ? -1 : send_step(s);
    if (r > 0) {
        lua_pushinteger(L, (lua_Integer)s->sent);
        return 1;
    }
    if (r < 0) return fail_close(L, s, errstr(s->err));
    return park(L, s, OP_SEND, b->tmo[T_SEND]);
}

static int do_receive(lua_State *L, box_t *b, cosock_t *s)
{
    int n = s->rmode == R_DGRAM ? udp_step(s, L) : recv_step(s, L);
    if (n >= 0) return n;
    return park(L, s, OP_RECV, b->tmo[T_READ]);
}

/* sock:receive(pattern): "*l" (default), "*a" or a byte count. */
static int l_tcp_receive(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, TCP_MT);
    user_t *u;
    cosock_t *s = open_sock(L, b, "sock:receive", &u);
    if (s == NULL) return 2;
    if (lua_type(L, 2) == LUA_TNUMBER) {
        lua_Number n = lua_tonumber(L, 2);
        if (n < 0) return luaL_argerror(L, 2, "bad pattern argument");
        if (n == 0) {
            lua_pushliteral(L, "");
            return 1;
        }
        s->rmode = R_SIZE;
        s->want = (size_t)n;
    } else {
        const char *pat = luaL_optstring(L, 2, "*l");
        if (strcmp(pat, "*l") == 0)
            s->rmode = R_LINE;
        else if (strcmp(pat, "*a") == 0)
            s->rmode = R_ALL;
        else
            return luaL_argerror(L, 2, "bad pattern argument");
    }
    lua_settop(L, 1);
    return do_receive(L, b, s);
}

/* The iterator receiveuntil returns: reader(size?). Upvalues: the object,
 * the pattern, inclusive. */
static int l_until_reader(lua_State *L)
{
    box_t *b = lua_touserdata(L, lua_upvalueindex(1));
    user_t *u;
    cosock_t *s = open_sock(L, b, "receiveuntil's reader", &u);
    if (s == NULL) return 2;
    size_t pl;
    const char *pat = lua_tolstring(L, lua_upvalueindex(2), &pl);
    buf_set(&s->pat, pat, pl);
    s->rmode = R_UNTIL;
    s->want = (size_t)luaL_optinteger(L, 1, 0);
    s->inclusive = lua_toboolean(L, lua_upvalueindex(3));
    lua_settop(L, 0);
    return do_receive(L, b, s);
}

static int l_tcp_receiveuntil(lua_State *L)
{
    luaL_checkudata(L, 1, TCP_MT);
    size_t pl;
    luaL_checklstring(L, 2, &pl);
    if (pl == 0) return luaL_argerror(L, 2, "pattern is empty");
    bool inclusive = false;
    if (lua_istable(L, 3)) {
        lua_getfield(L, 3, "inclusive");
        inclusive = lua_toboolean(L, -1);
        lua_pop(L, 1);
    }
    lua_pushvalue(L, 1);
    lua_pushvalue(L, 2);
    lua_pushboolean(L, inclusive);
    lua_pushcclosure(L, l_until_reader, 3);
    return 1;
}

/* A TCP or a UDP object at index 1. */
static box_t *any_box(lua_State *L)
{
    box_t *b = lua_touserdata(L, 1);
    bool ok = b && lua_getmetatable(L, 1);
    if (ok) {
        luaL_getmetatable(L, TCP_MT);
        luaL_getmetatable(L, UDP_MT);
        ok = lua_rawequal(L, -1, -3) || lua_rawequal(L, -2, -3);
        lua_pop(L, 3);
    }
    if (!ok) luaL_argerror(L, 1, "socket expected");
    return b;
}

static int ms_arg(lua_State *L, int idx)
{
    lua_Number n = luaL_optnumber(L, idx, 0);
    return n > 0 ? (n > 2e9 ? 2000000000 : (int)n) : 0;
}

static int l_settimeout(lua_State *L)
{
    box_t *b = any_box(L);
    b->tmo[T_CONNECT] = b->tmo[T_SEND] = b->tmo[T_READ] = ms_arg(L, 2);
    return 0;
}

static int l_settimeouts(lua_State *L)
{
    box_t *b = any_box(L);
    for (int i = 0; i < 3; i++)
        b->tmo[i] = ms_arg(L, i + 2);
    return 0;
}

static int l_setkeepalive(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, TCP_MT);
    user_t *u;
    cosock_t *s = open_sock(L, b, "sock:setkeepalive", &u);
    if (s == NULL) return 2;
    int idle = lua_isnoneornil(L, 2) ? DEFAULT_TIMEOUT_MS : ms_arg(L, 2);
    int size = lua_isnoneornil(L, 3) ? DEFAULT_POOL_SIZE : (int)luaL_checkinteger(L, 3);
    if (size < 1) return luaL_argerror(L, 3, "bad \"pool_size\" argument");
    if (s->eof || s->err || s->roff < s->rbuf.len) {
        /* not reusable: whoever takes it would read stale bytes */
        return fail_close(L, s, s->roff < s->rbuf.len ? "unread data in buffer" : "closed");
    }
    s->rbuf.len = s->roff = 0;
    pool_put(b->pool, s, idle, size);
    return ok1(L);
}

static int l_getreusedtimes(lua_State *L)
{
    box_t *b = any_box(L);
    if (b->s == NULL) return fail(L, "closed");
    lua_pushinteger(L, b->s->reused);
    return 1;
}

static int l_close(lua_State *L)
{
    box_t *b = any_box(L);
    if (b->s == NULL) return fail(L, "closed");
    retire(b->s);
    return ok1(L);
}

static int l_setoption(lua_State *L)
{
    return ok1(L);
}

static int l_box_gc(lua_State *L)
{
    box_t *b = lua_touserdata(L, 1);
    if (b->s) retire(b->s);
    return 0;
}

/* ---- UDP ---- */

static int l_udp_setpeername(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, UDP_MT);
    user_t *u = api_current(L, "udp:setpeername");
    const char *host = luaL_checkstring(L, 2);
    int port = (int)luaL_checkinteger(L, 3);
    if (b->s) retire(b->s);
    if (b->pool->eng == NULL) b->pool->eng = u->eng;
    bool done;
    int fd = dial(L, host, port, SOCK_DGRAM, &done);
    if (fd < 0) return 2;
    if (new_sock(L, fd, "", u, b) == NULL) return 2;
    return ok1(L);
}

static int l_udp_send(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, UDP_MT);
    user_t *u;
    cosock_t *s = open_sock(L, b, "udp:send", &u);
    if (s == NULL) return 2;
    stage(L, s);
    if (send(s->io.fd, s->wbuf.p ? s->wbuf.p : "", s->wbuf.len, MSG_NOSIGNAL) < 0)
        return fail(L, errstr(errno));
    return ok1(L);
}

static int l_udp_receive(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, UDP_MT);
    user_t *u;
    cosock_t *s = open_sock(L, b, "udp:receive", &u);
    if (s == NULL) return 2;
    lua_Number n = luaL_optnumber(L, 2, UDP_MAX);
    s->rmode = R_DGRAM;
    s->want = n > 0 && n < UDP_MAX ? (size_t)n : UDP_MAX;
    lua_settop(L, 1);
    return do_receive(L, b, s);
}

/* ---- registration ---- */

static int new_box(lua_State *L, bool udp)
{
    box_t *b = lua_newuserdata(L, sizeof *b);
    memset(b, 0, sizeof *b);
    b->pool = lua_touserdata(L, lua_upvalueindex(1));
    b->udp = udp;
    b->tmo[T_CONNECT] = b->tmo[T_SEND] = b->tmo[T_READ] = DEFAULT_TIMEOUT_MS;
    luaL_getmetatable(L, udp ? UDP_MT : TCP_MT);
    lua_setmetatable(L, -2);
    return 1;
}

static int l_tcp(lua_State *L)
{
    return new_box(L, false);
}

static int l_udp(lua_State *L)
{
    return new_box(L, true);
}

static const luaL_Reg tcp_methods[] = {{"connect", l_tcp_connect},
                                       {"sslhandshake", l_tcp_sslhandshake},
                                       {"send", l_tcp_send},
                                       {"receive", l_tcp_receive},
                                       {"receiveuntil", l_tcp_receiveuntil},
                                       {"settimeout", l_settimeout},
                                       {"settimeouts", l_settimeouts},
                                       {"setkeepalive", l_setkeepalive},
                                       {"getreusedtimes", l_getreusedtimes},
                                       {"close", l_close},
                                       {"setoption", l_setoption},
                                       {NULL, NULL}};

static const luaL_Reg udp_methods[] = {
    {"setpeername", l_udp_setpeername}, {"send", l_udp_send}, {"receive", l_udp_receive},
    {"settimeout", l_settimeout},       {"close", l_close},   {NULL, NULL}};

static void metatable(lua_State *L, const char *name, const luaL_Reg *methods)
{
    luaL_newmetatable(L, name);
    lua_newtable(L);
    for (const luaL_Reg *f = methods; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_box_gc);
    lua_setfield(L, -2, "__gc");
    lua_pop(L, 1);
}

void cosocket_open(lua_State *L)
{
    metatable(L, TCP_MT, tcp_methods);
    metatable(L, UDP_MT, udp_methods);
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
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, l_tcp, 1);
    lua_setfield(L, -2, "tcp");
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, l_udp, 1);
    lua_setfield(L, -2, "udp");
}
