/* cosocket_lua: the Lua face of cosockets (see cosocket.h): the tcp and
 * udp objects, their methods with OpenResty's arguments and results, and
 * cosocket_open(), which registers them. The connections these methods
 * drive -- transport, parking, the loop's side, the pool -- are in
 * cosocket.c, reached through cosocket_int.h.
 *
 * An object is a userdata (box_t) holding its timeouts, its VM's pool and
 * a pointer to its current connection, if any. A method checks that the
 * connection is open, owned by the running user and idle (open_sock), then
 * tries its operation at once and parks the coroutine only if it would
 * block. connect() first looks in the pool for an idle connection to the
 * same key, and only then resolves and dials: the name through the
 * engine's resolver (net/resolve.h), the coroutine parked (OP_RESOLVE, no
 * socket yet, under the connect timeout) when the answer is not at hand,
 * then the addresses in turn through the transport (net/net.h).
 * Garbage-collecting an object
 * retires its connection unless setkeepalive() has pooled it.
 *
 * Not done: socket options (setoption() accepts and ignores them). */
#include "lua/cosocket.h"

#include <ctype.h>
#include <errno.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>

#include "engine/engine.h"
#include "lua/api.h"
#include "lua/binding.h"
#include "lua/cosocket_int.h"
#include "net/tls.h"

#define DEFAULT_TIMEOUT_MS 60000
#define DEFAULT_POOL_SIZE 30
#define UDP_MAX 65536
#define TCP_MT "cicada.tcp"
#define UDP_MT "cicada.udp"

static int ok1(lua_State *L)
{
    lua_pushinteger(L, 1);
    return 1;
}

/* ---- errors ---- */

/* OpenResty's style: strerror in lower case ("connection refused"). */
const char *cosock_errstr(int e)
{
    static _Thread_local char errbuf[256];
    if (e == ETIMEDOUT) return "timeout";
    if (e == EPROTO) return "ssl error";
    snprintf(errbuf, sizeof errbuf, "%s", strerror(e));
    errbuf[0] = (char)tolower((unsigned char)errbuf[0]);
    return errbuf;
}

int cosock_fail(lua_State *L, const char *err)
{
    lua_pushnil(L);
    lua_pushstring(L, err);
    return 2;
}

/* ---- the Lua objects ---- */

/* The running user and the object's open connection, or NULL (a "closed"
 * result is pushed: return 2). Unlike connect, these never raise STOP: a
 * stop between a command's send and its receive would lose a reply the
 * server already counted, so an exchange once started runs to its end (or
 * to the stop deadline). */
static cosock_t *open_sock(lua_State *L, box_t *b, const char *what, user_t **u)
{
    *u = api_current(L, what);
    if (b->s == NULL) {
        cosock_fail(L, "closed");
        return NULL;
    }
    if (b->s->user != *u) {
        cosock_fail(L, "bad request"); /* as OpenResty: sockets do not cross users */
        return NULL;
    }
    if (b->s->op != OP_NONE) {
        cosock_fail(L, "socket busy");
        return NULL;
    }
    return b->s;
}

/* u owns s from now on, used through b. */
static void own(cosock_t *s, user_t *u, box_t *b)
{
    s->user = u;
    s->prev = NULL;
    binding_t *bs = binding_of(u);
    s->next = bs->cosocks;
    if (bs->cosocks) bs->cosocks->prev = s;
    bs->cosocks = s;
    s->box = b;
    b->s = s;
}

/* A new connection for u through b, its socket not open yet. */
static cosock_t *new_sock(const char *key, user_t *u, box_t *b)
{
    cosock_t *s = cosock_new(b->pool, u->eng->net, b->udp, key);
    own(s, u, b);
    return s;
}

/* Connect s through the transport to one of the addresses that does not
 * refuse at once (IPv4 first, as a scenario's "localhost" server usually
 * listens there). Returns 0 (*done if already connected, otherwise the
 * connect is in progress) or an errno. */
static int dial(cosock_t *s, const resolve_addrs_t *a, bool *done)
{
    int type = s->udp ? SOCK_DGRAM : SOCK_STREAM, e = 0;
    *done = false;
    for (int pass = 0; pass < 2; pass++)
        for (int i = 0; i < a->n; i++) {
            if ((a->addr[i].ss_family == AF_INET) != (pass == 0)) continue;
            switch (sock_connect(&s->sock, (const struct sockaddr *)&a->addr[i], a->len[i], type)) {
            case NET_OK:
                *done = true;
                return 0;
            case NET_RETRY:
                return 0;
            case NET_ERROR:
                e = s->sock.err;
                break; /* the next address */
            }
        }
    return e ? e : EADDRNOTAVAIL;
}

static const char *unresolved(const char *host, const char *why)
{
    static _Thread_local char msg[320];
    snprintf(msg, sizeof msg, "%s could not be resolved (%s)", host, why);
    return msg;
}

/* The lookup of a parked connect ended: dial, or resume the user with nil,
 * err. */
static void on_resolved(resolve_req_t *q, const resolve_addrs_t *addrs, const char *why)
{
    cosock_t *s = q->arg;
    user_t *u = s->user;
    bool done = false;
    if (s->op != OP_RESOLVE) return; /* the park raised STOP: nobody waits */
    int e = why ? 0 : dial(s, addrs, &done);
    if (!why && !e && !done && !s->udp) {
        s->op = OP_CONNECT; /* on with the same timeout */
        return;
    }
    s->op = OP_NONE;
    loop_timer_stop(u->eng->loop, &s->timer);
    if (why || e) {
        cosock_fail(u->co, why ? unresolved(q->name, why) : cosock_errstr(e));
        cosock_retire(s);
        engine_resume(u, 2);
    } else {
        lua_pushinteger(u->co, 1);
        engine_resume(u, 1);
    }
}

/* Resolve host and start connecting a new connection through b: returns
 * what connect() returns (1 result, 2 for nil, err, or a yield while the
 * name or the connection is awaited). */
static int open_to(lua_State *L, box_t *b, user_t *u, const char *key, const char *host, int port)
{
    cosock_t *s = new_sock(key, u, b);
    resolve_addrs_t a;
    char why[RESOLVE_REASON_MAX];
    bool done;
    switch (
        resolve_start(u->eng->resolver, host, port, &s->dns, on_resolved, s, &a, why, sizeof why)) {
    case RESOLVE_PENDING:
        return cosock_park(L, s, OP_RESOLVE, b->tmo[T_CONNECT]);
    case RESOLVE_ERROR:
        return cosock_fail_close(L, s, unresolved(host, why));
    }
    int e = dial(s, &a, &done);
    if (e) return cosock_fail_close(L, s, cosock_errstr(e));
    if (done || s->udp) return ok1(L);
    return cosock_park(L, s, OP_CONNECT, b->tmo[T_CONNECT]);
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
    if (strncmp(host, "unix:", 5) == 0)
        return cosock_fail(L, "unix domain sockets are not supported");
    int port = (int)luaL_checkinteger(L, 3);
    const char *name = NULL;
    if (lua_istable(L, 4)) {
        lua_getfield(L, 4, "pool");
        name = lua_tostring(L, -1);
    }
    if (b->s) cosock_retire(b->s); /* as OpenResty: connecting again closes the old one */
    pool_t *p = b->pool;
    if (p->eng == NULL) p->eng = u->eng;
    char key[320];
    if (name)
        snprintf(key, sizeof key, "%s", name);
    else
        snprintf(key, sizeof key, "%s:%d", host, port);
    cosock_t *s = cosock_pool_take(p, key);
    if (s) {
        s->reused++;
        own(s, u, b);
        return ok1(L);
    }
    return open_to(L, b, u, key, host, port);
}

/* sock:sslhandshake(reused_session, server_name, ssl_verify) → true.
 * The engine's TLS context (--ca-file's bundle, or the system's store);
 * server_name is sent as SNI when it is a name, never when it is an IP
 * address, and checked against the certificate when verifying; --insecure
 * turns ssl_verify off. */
static int l_tcp_sslhandshake(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, TCP_MT);
    user_t *u;
    cosock_t *s = open_sock(L, b, "sock:sslhandshake", &u);
    if (s == NULL) return 2;
    if (s->sock.tls) { /* a pooled connection that already speaks TLS */
        lua_pushboolean(L, 1);
        return 1;
    }
    const char *sni = lua_tostring(L, 3);
    net_t *n = u->eng->net;
    char err[512];
    struct ssl_ctx_st *ctx = tls_ctx(n, NULL, err, sizeof err);
    if (ctx == NULL) return cosock_fail(L, err);
    sock_tls(&s->sock, ctx, sni, net_verify(n, lua_toboolean(L, 4)));
    int r = cosock_handshake_step(s);
    if (r > 0) {
        lua_pushboolean(L, 1);
        return 1;
    }
    if (r < 0) return cosock_fail_close(L, s, cosock_handshake_error(s));
    return cosock_park(L, s, OP_HANDSHAKE, b->tmo[T_CONNECT]);
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
            ssize_t r = cosock_write(s, p + off, len - off);
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
    int r = s->err ? -1 : cosock_send_step(s);
    if (r > 0) {
        lua_pushinteger(L, (lua_Integer)s->sent);
        return 1;
    }
    if (r < 0) return cosock_fail_close(L, s, cosock_errstr(s->err));
    return cosock_park(L, s, OP_SEND, b->tmo[T_SEND]);
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
    return cosock_receive(L, s, b->tmo[T_READ]);
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
    return cosock_receive(L, s, b->tmo[T_READ]);
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
        return cosock_fail_close(L, s, s->roff < s->rbuf.len ? "unread data in buffer" : "closed");
    }
    s->rbuf.len = s->roff = 0;
    cosock_pool_put(b->pool, s, idle, size);
    return ok1(L);
}

static int l_getreusedtimes(lua_State *L)
{
    box_t *b = any_box(L);
    if (b->s == NULL) return cosock_fail(L, "closed");
    lua_pushinteger(L, b->s->reused);
    return 1;
}

static int l_close(lua_State *L)
{
    box_t *b = any_box(L);
    if (b->s == NULL) return cosock_fail(L, "closed");
    cosock_retire(b->s);
    return ok1(L);
}

static int l_setoption(lua_State *L)
{
    return ok1(L);
}

static int l_box_gc(lua_State *L)
{
    box_t *b = lua_touserdata(L, 1);
    if (b->s) cosock_retire(b->s);
    return 0;
}

/* ---- UDP ---- */

static int l_udp_setpeername(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, UDP_MT);
    user_t *u = api_current(L, "udp:setpeername");
    const char *host = luaL_checkstring(L, 2);
    int port = (int)luaL_checkinteger(L, 3);
    if (b->s) cosock_retire(b->s);
    if (b->pool->eng == NULL) b->pool->eng = u->eng;
    return open_to(L, b, u, "", host, port);
}

static int l_udp_send(lua_State *L)
{
    box_t *b = luaL_checkudata(L, 1, UDP_MT);
    user_t *u;
    cosock_t *s = open_sock(L, b, "udp:send", &u);
    if (s == NULL) return 2;
    stage(L, s);
    size_t put;
    if (sock_write(&s->sock, s->wbuf.p ? s->wbuf.p : "", s->wbuf.len, &put) != NET_OK)
        return cosock_fail(L, cosock_errstr(s->sock.err));
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
    return cosock_receive(L, s, b->tmo[T_READ]);
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
    pool_t *p = cosock_pool_new(L);
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, l_tcp, 1);
    lua_setfield(L, -2, "tcp");
    lua_pushlightuserdata(L, p);
    lua_pushcclosure(L, l_udp, 1);
    lua_setfield(L, -2, "udp");
}
