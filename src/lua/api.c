/* api: the C half of the scenario API. See api.h.
 *
 * Blocking-looking calls are C functions that start the operation and
 * return lua_yield(): the coroutine parks, the engine's loop runs, and the
 * engine resumes it with the result (LuaJIT lets C functions yield, and
 * yields cross pcall, so user code and the prelude's error handling see an
 * ordinary call). The engine is a per-thread global: every VM lives on one
 * engine thread, and the main thread's VM (used only to load and inspect the
 * scenario) has none.
 *
 * Requests are serialized straight into the connection's write buffer;
 * the response becomes a Lua table whose `headers` are parsed only when
 * read. Statistics are recorded in C at completion, except for
 * catch_response, where the result waits in user->pending for success(),
 * failure(), the next request or the end of the task. */
#include "lua/api.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <string.h>

#include "engine/engine.h"
#include "http/client.h"
#include "http/url.h"
#include "lua/json.h"

static _Thread_local engine_t *eng;
static char stop_key; /* its address is the STOP sentinel */
static char resp_mt_key;

void api_push_stop(lua_State *L)
{
    lua_pushlightuserdata(L, &stop_key);
}

/* Like Lua 5.2's luaL_tolstring: tostring() of any value, pushed. */
static const char *tostr(lua_State *L, int idx, size_t *len)
{
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    lua_getglobal(L, "tostring");
    lua_pushvalue(L, idx);
    lua_call(L, 1, 1);
    const char *s = lua_tolstring(L, -1, len);
    return s ? s : "";
}

static user_t *current(lua_State *L, const char *what)
{
    if (eng == NULL || eng->current == NULL)
        luaL_error(L, "%s can only be called from a running user (in a task, on_start or on_stop)",
                   what);
    return eng->current;
}

/* Would a blocking call now stop the user instead? */
static bool must_stop(const user_t *u)
{
    return u->stopping && !u->in_on_stop && !u->eng->graceful;
}

static void record(user_t *u, const char *method, const char *name, int64_t rt_us, int64_t len,
                   const char *err)
{
    stats_shard_request(u->eng->shard, method, name, rt_us, len, err, engine_wall(u->eng));
}

/* ---- cicada.* ---- */

static int l_now(lua_State *L)
{
    lua_pushnumber(L, (double)clock_ns() / 1e9);
    return 1;
}

/* _sleep(seconds, between_tasks): returns nothing, or STOP when the user
 * must stop (the prelude raises it). */
static int l_sleep(lua_State *L)
{
    user_t *u = current(L, "cicada.sleep");
    double s = luaL_optnumber(L, 1, 0);
    bool between = lua_toboolean(L, 2);
    if (must_stop(u) || (between && u->stopping && !u->in_on_stop)) {
        api_push_stop(L);
        return 1;
    }
    u->between = between;
    if (!(s > 0)) {
        /* A zero wait after a task that parked on I/O needs no extra trip
         * through the loop; a task that never blocks must still let the
         * other users run. */
        if (between && u->parked) {
            u->parked = false;
            return 0;
        }
        u->parked = false;
        engine_yield(u);
    } else {
        u->parked = false;
        engine_sleep(u, clock_ns() + (int64_t)(s * 1e9));
    }
    return lua_yield(L, 0);
}

static int l_exception(lua_State *L)
{
    if (eng == NULL) return 0;
    stats_shard_exception(eng->shard, luaL_checkstring(L, 1), luaL_optstring(L, 2, ""));
    return 0;
}

static int l_flush(lua_State *L)
{
    if (eng && eng->current) engine_flush_pending(eng->current);
    return 0;
}

static int l_stopping(lua_State *L)
{
    lua_pushboolean(L, eng && eng->current && eng->current->stopping);
    return 1;
}

static int l_on_stop_begin(lua_State *L)
{
    if (eng && eng->current) eng->current->in_on_stop = true;
    return 0;
}

static int l_report(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    if (eng == NULL) return 0;
    lua_getfield(L, 1, "type");
    lua_getfield(L, 1, "name");
    lua_getfield(L, 1, "response_time");
    lua_getfield(L, 1, "response_length");
    lua_getfield(L, 1, "exception");
    const char *type = luaL_optstring(L, 2, "CUSTOM");
    const char *name = luaL_checkstring(L, 3);
    double ms = luaL_optnumber(L, 4, -1);
    int64_t len = (int64_t)luaL_optnumber(L, 5, 0);
    const char *err = lua_isnil(L, 6) || lua_isboolean(L, 6) ? NULL : tostr(L, 6, NULL);
    if (lua_isboolean(L, 6) && lua_toboolean(L, 6)) err = "failed";
    stats_shard_request(eng->shard, type, name, ms < 0 ? -1 : (int64_t)llround(ms * 1000.0), len,
                        err, engine_wall(eng));
    return 0;
}

/* ---- the response object ---- */

static void push_headers(lua_State *L, const char *raw, size_t n)
{
    static _Thread_local http_response_t res;
    lua_createtable(L, 0, 8);
    if (http_parse_response(raw, n, &res) < 0) return;
    char name[128];
    for (size_t i = 0; i < res.num_headers; i++) {
        size_t nl = res.headers[i].name_len < sizeof name ? res.headers[i].name_len : sizeof name - 1;
        for (size_t k = 0; k < nl; k++) name[k] = (char)tolower((unsigned char)res.headers[i].name[k]);
        lua_pushlstring(L, name, nl);
        lua_pushvalue(L, -1);
        lua_rawget(L, -3);
        if (lua_isstring(L, -1)) { /* repeated header: join like requests does */
            lua_pushliteral(L, ", ");
            lua_pushlstring(L, res.headers[i].value, res.headers[i].value_len);
            lua_concat(L, 3);
        } else {
            lua_pop(L, 1);
            lua_pushlstring(L, res.headers[i].value, res.headers[i].value_len);
        }
        lua_rawset(L, -3);
    }
}

static int resp_json(lua_State *L)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_getfield(L, 1, "text");
    size_t n;
    const char *s = lua_tolstring(L, -1, &n);
    char err[128];
    if (s == NULL || json_decode(L, s, n, err, sizeof err) != 0)
        return luaL_error(L, "response is not JSON: %s", s ? err : "no body");
    return 1;
}

/* Python's repr() of a str, for Locust-style error texts. */
static void py_repr(buf_t *b, const char *s)
{
    char q = strchr(s, '\'') && !strchr(s, '"') ? '"' : '\'';
    buf_append(b, &q, 1);
    for (; *s; s++) {
        if (*s == q || *s == '\\') buf_append(b, "\\", 1);
        if (*s == '\n') buf_puts(b, "\\n");
        else buf_append(b, s, 1);
    }
    buf_append(b, &q, 1);
}

/* r:success() / r:failure(msg): settle a catch_response result. */
static int settle(lua_State *L, bool ok)
{
    luaL_checktype(L, 1, LUA_TTABLE);
    user_t *u = current(L, ok ? "response:success" : "response:failure");
    lua_getfield(L, 1, "_seq");
    uint64_t seq = (uint64_t)lua_tonumber(L, -1);
    pending_t *p = &u->pending;
    if (!p->active || p->seq != seq || seq == 0)
        return luaL_error(L, "%s: this response was already reported (use catch_response = true, "
                             "and call it before the next request)",
                          ok ? "success" : "failure");
    const char *err = NULL;
    if (!ok) {
        buf_t *b = &u->eng->scratch;
        buf_reset(b);
        buf_puts(b, "CatchResponseError(");
        py_repr(b, tostr(L, 2, NULL));
        buf_puts(b, ")");
        err = b->p;
    }
    p->active = false;
    record(u, p->method.p, p->name.p, p->rt_us, p->length, err);
    return 0;
}

static int resp_success(lua_State *L)
{
    return settle(L, true);
}

static int resp_failure(lua_State *L)
{
    return settle(L, false);
}

static int resp_raise(lua_State *L)
{
    lua_getfield(L, 1, "error");
    if (!lua_isnil(L, -1)) return lua_error(L);
    return 0;
}

static const luaL_Reg resp_methods[] = {{"json", resp_json},       {"success", resp_success},
                                        {"failure", resp_failure}, {"raise_for_status", resp_raise},
                                        {NULL, NULL}};

/* __index: methods, `body` as an alias of text, `headers` parsed lazily. */
static int resp_index(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (k && strcmp(k, "headers") == 0) {
        lua_getfield(L, 1, "_h");
        size_t n;
        const char *raw = lua_tolstring(L, -1, &n);
        if (raw) push_headers(L, raw, n);
        else lua_createtable(L, 0, 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, 1, "headers");
        return 1;
    }
    if (k && strcmp(k, "body") == 0) {
        lua_getfield(L, 1, "text");
        return 1;
    }
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_pushvalue(L, 2);
    lua_rawget(L, -2);
    return 1;
}

static void push_response(lua_State *L, const client_result_t *r, uint64_t seq)
{
    lua_createtable(L, 0, 8);
    lua_pushinteger(L, r->status);
    lua_setfield(L, -2, "status_code");
    lua_pushlstring(L, r->body ? r->body : "", r->body_len);
    lua_setfield(L, -2, "text");
    lua_pushboolean(L, r->error == NULL);
    lua_setfield(L, -2, "ok");
    lua_pushnumber(L, (double)r->elapsed_ns / 1e9);
    lua_setfield(L, -2, "elapsed");
    if (r->error) {
        lua_pushstring(L, r->error);
        lua_setfield(L, -2, "error");
    }
    if (r->headers) {
        lua_pushlstring(L, r->headers, r->headers_len);
        lua_setfield(L, -2, "_h");
    }
    if (seq) {
        lua_pushnumber(L, (double)seq);
        lua_setfield(L, -2, "_seq");
    }
    lua_pushlightuserdata(L, &resp_mt_key);
    lua_rawget(L, LUA_REGISTRYINDEX);
    lua_setmetatable(L, -2);
}

/* ---- the request ---- */

/* Settle a finished request: record it (or hold it for catch_response)
 * and push the response object onto L. */
static void complete(lua_State *L, user_t *u, const client_result_t *r)
{
    pending_t *p = &u->pending;
    int64_t rt = r->elapsed_ns / 1000;
    if (p->active) { /* catch_response: held until settled */
        p->rt_us = rt;
        p->length = (int64_t)r->body_len;
        buf_set(&p->error, r->error ? r->error : "", r->error ? strlen(r->error) : 0);
        p->failed = r->error != NULL;
        push_response(L, r, p->seq);
    } else {
        record(u, p->method.p, p->name.p, rt, (int64_t)r->body_len, r->error);
        push_response(L, r, 0);
    }
}

void client_on_result(conn_t *c, const client_result_t *r)
{
    user_t *u = c->user;
    u->waiting_on = NULL;
    complete(u->co, u, r);
    engine_resume(u, 1);
}

static void add_pairs(lua_State *L, int idx, buf_t *b, char *sep)
{
    char enc[1024];
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) == LUA_TSTRING || lua_type(L, -2) == LUA_TNUMBER) {
            lua_pushvalue(L, -2);
            size_t kl, vl;
            const char *k = lua_tolstring(L, -1, &kl);
            if (lua_istable(L, -2)) { /* a list: repeat the key */
                for (int i = 1;; i++) {
                    lua_rawgeti(L, -2, i);
                    if (lua_isnil(L, -1)) {
                        lua_pop(L, 1);
                        break;
                    }
                    const char *v = lua_tolstring(L, -1, &vl);
                    buf_append(b, sep, 1), *sep = '&';
                    size_t n = url_encode(k, kl, enc, sizeof enc);
                    buf_append(b, enc, n < sizeof enc ? n : sizeof enc - 1);
                    buf_append(b, "=", 1);
                    n = url_encode(v ? v : "", v ? vl : 0, enc, sizeof enc);
                    buf_append(b, enc, n < sizeof enc ? n : sizeof enc - 1);
                    lua_pop(L, 1);
                }
            } else {
                const char *v = tostr(L, -2, &vl);
                buf_append(b, sep, 1), *sep = '&';
                size_t n = url_encode(k, kl, enc, sizeof enc);
                buf_append(b, enc, n < sizeof enc ? n : sizeof enc - 1);
                buf_append(b, "=", 1);
                n = url_encode(v, vl, enc, sizeof enc);
                buf_append(b, enc, n < sizeof enc ? n : sizeof enc - 1);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

static bool has_header(lua_State *L, int headers, const char *name)
{
    if (headers == 0) return false;
    lua_pushnil(L);
    while (lua_next(L, headers)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) == LUA_TSTRING && strcasecmp(lua_tostring(L, -1), name) == 0) {
            lua_pop(L, 1);
            return true;
        }
    }
    return false;
}

/* client:request(method, url, opts) — the one request primitive. Stack:
 * 1 client, 2 method, 3 url, 4 opts (optional). */
static int do_request(lua_State *L)
{
    user_t *u = current(L, "client:request");
    engine_t *e = u->eng;
    if (must_stop(u)) {
        api_push_stop(L);
        return lua_error(L);
    }
    engine_flush_pending(u);
    size_t mlen;
    const char *method = luaL_checklstring(L, 2, &mlen);
    const char *target = luaL_checkstring(L, 3);
    int opts = lua_istable(L, 4) ? 4 : 0;
    lua_settop(L, 4);

    /* where to: an absolute URL, or a path on the client's base URL */
    url_t url, base;
    const char *why = NULL;
    if (url_parse(target, &url, &why) != 0) return luaL_error(L, "bad URL '%s': %s", target, why);
    if (!url.absolute) {
        lua_getfield(L, 1, "base_url"); /* 5 */
        const char *b = lua_tostring(L, -1);
        if (b == NULL || *b == '\0')
            return luaL_error(L, "request to '%s' but the user has no host (set host in "
                                 "cicada.user{...} or pass -H)", target);
        if (url_parse(b, &base, &why) != 0 || !base.absolute)
            return luaL_error(L, "bad host '%s': %s", b, why ? why : "not an absolute URL");
        url.host = base.host, url.host_len = base.host_len, url.port = base.port;
        url.tls = base.tls;
        /* a base URL with a path prefix: join them */
        if (base.path_len > 1) {
            buf_t *s = &e->scratch;
            buf_set(s, base.path, base.path_len);
            if (s->p[s->len - 1] == '/') s->len--;
            buf_append(s, url.path, url.path_len);
            lua_pushlstring(L, s->p, s->len);
            url.path = lua_tolstring(L, -1, &url.path_len);
        }
    }
    if (url.tls) return luaL_error(L, "https is not supported yet (%s)", target);
    lua_settop(L, 5);

    char err[256];
    conn_t *c = client_conn(u, url.host, url.host_len, url.port, err, sizeof err);

    /* method and name for the statistics */
    pending_t *p = &u->pending;
    buf_reset(&p->method);
    for (size_t i = 0; i < mlen; i++) {
        char ch = (char)toupper((unsigned char)method[i]);
        buf_append(&p->method, &ch, 1);
    }
    bool catch_response = false;
    double timeout = 60;
    int headers = 0;
    buf_t *w = c ? &c->wbuf : &e->scratch;
    buf_reset(w);
    buf_append(w, p->method.p, p->method.len);
    buf_append(w, " ", 1);
    buf_append(w, url.path, url.path_len);
    char sep = memchr(url.path, '?', url.path_len) ? '&' : '?';
    if (opts) {
        lua_getfield(L, opts, "params"); /* 6 */
        if (lua_istable(L, 6)) add_pairs(L, 6, w, &sep);
        lua_getfield(L, opts, "name"); /* 7 */
        lua_getfield(L, opts, "catch_response");
        catch_response = lua_toboolean(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, opts, "timeout");
        if (lua_isnumber(L, -1)) timeout = lua_tonumber(L, -1);
        lua_pop(L, 1);
        lua_getfield(L, opts, "headers"); /* 8 */
        if (lua_istable(L, 8)) headers = 8;
    } else {
        lua_pushnil(L), lua_pushnil(L), lua_pushnil(L);
    }
    const char *path_start = w->p + p->method.len + 1;
    size_t path_len = w->len - p->method.len - 1;
    if (lua_isstring(L, 7)) {
        size_t n;
        const char *nm = lua_tolstring(L, 7, &n);
        buf_set(&p->name, nm, n);
    } else {
        buf_set(&p->name, path_start, path_len);
    }
    if (c == NULL) { /* the name did not resolve: a failure like any other */
        client_result_t r = {.error = err};
        p->active = catch_response;
        p->seq = ++u->req_seq;
        complete(L, u, &r);
        return 1;
    }
    buf_puts(w, " HTTP/1.1\r\n");
    if (!has_header(L, headers, "host")) {
        bool v6 = memchr(url.host, ':', url.host_len) != NULL;
        buf_printf(w, "Host: %s%.*s%s", v6 ? "[" : "", (int)url.host_len, url.host, v6 ? "]" : "");
        if (url.port != 80) buf_printf(w, ":%d", url.port);
        buf_puts(w, "\r\n");
    }
    if (!has_header(L, headers, "user-agent")) buf_puts(w, "User-Agent: cicada/0.1\r\n");
    if (!has_header(L, headers, "accept")) buf_puts(w, "Accept: */*\r\n");
    if (headers) {
        lua_pushnil(L);
        while (lua_next(L, headers)) {
            lua_pushvalue(L, -2);
            const char *k = lua_tostring(L, -1), *v = tostr(L, -2, NULL);
            if (k) buf_printf(w, "%s: %s\r\n", k, v);
            lua_pop(L, 3);
        }
    }
    /* the body: json=, or data= (a string, or a table sent as a form) */
    const char *ctype = NULL;
    buf_t *body = &e->scratch;
    buf_reset(body);
    bool has_body = false;
    if (opts) {
        lua_getfield(L, opts, "json");
        if (!lua_isnil(L, -1)) {
            if (json_encode(L, lua_gettop(L), body, err, sizeof err) != 0)
                return luaL_error(L, "json=: %s", err);
            ctype = "application/json";
            has_body = true;
        }
        lua_pop(L, 1);
        lua_getfield(L, opts, "data");
        if (!has_body && lua_istable(L, -1)) {
            char bsep = '\0';
            add_pairs(L, lua_gettop(L), body, &bsep);
            /* add_pairs writes a separator before each pair: drop the first */
            if (body->len && body->p[0] == '\0') memmove(body->p, body->p + 1, --body->len);
            ctype = "application/x-www-form-urlencoded";
            has_body = true;
        } else if (!has_body && lua_isstring(L, -1)) {
            size_t n;
            const char *d = lua_tolstring(L, -1, &n);
            buf_set(body, d, n);
            has_body = true;
        }
        lua_pop(L, 1);
    }
    if (ctype && !has_header(L, headers, "content-type"))
        buf_printf(w, "Content-Type: %s\r\n", ctype);
    if (has_body || strcmp(p->method.p, "POST") == 0 || strcmp(p->method.p, "PUT") == 0 ||
        strcmp(p->method.p, "PATCH") == 0)
        buf_printf(w, "Content-Length: %zu\r\n", has_body ? body->len : 0);
    buf_puts(w, "\r\n");
    if (has_body) buf_append(w, body->p, body->len);

    p->active = catch_response;
    p->seq = ++u->req_seq;
    client_result_t r;
    if (client_send(c, strcmp(p->method.p, "HEAD") == 0, timeout, &r) == 0) {
        complete(L, u, &r);
        return 1;
    }
    u->state = USER_WAITING;
    u->waiting_on = c;
    u->parked = true;
    return lua_yield(L, 0);
}

static int l_request(lua_State *L)
{
    return do_request(L);
}

/* client:get(url, opts) and friends: the method is the closure's upvalue. */
static int l_method(lua_State *L)
{
    lua_settop(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 2);
    return do_request(L);
}

static void open_client(lua_State *L)
{
    static const char *methods[] = {"get", "post", "put", "patch", "delete", "head", "options"};
    lua_newtable(L); /* cicada._client_methods */
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        char up[16];
        size_t n = strlen(methods[i]);
        for (size_t k = 0; k <= n; k++) up[k] = (char)toupper((unsigned char)methods[i][k]);
        lua_pushstring(L, up);
        lua_pushcclosure(L, l_method, 1);
        lua_setfield(L, -2, methods[i]);
    }
    lua_pushcfunction(L, l_request);
    lua_setfield(L, -2, "request");
    lua_setfield(L, -2, "_client_methods");
}

void api_bind(engine_t *e)
{
    eng = e;
}

void api_open(lua_State *L, engine_t *e)
{
    (void)e;
    lua_newtable(L);
    static const luaL_Reg fns[] = {{"now", l_now},
                                   {"report", l_report},
                                   {"_sleep", l_sleep},
                                   {"_exception", l_exception},
                                   {"_flush", l_flush},
                                   {"_stopping", l_stopping},
                                   {"_on_stop_begin", l_on_stop_begin},
                                   {NULL, NULL}};
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    api_push_stop(L);
    lua_setfield(L, -2, "_STOP");
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    open_client(L);
    lua_setglobal(L, "cicada");

    /* the response metatable */
    lua_pushlightuserdata(L, &resp_mt_key);
    lua_createtable(L, 0, 1);
    lua_newtable(L);
    for (const luaL_Reg *f = resp_methods; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_pushcclosure(L, resp_index, 1);
    lua_setfield(L, -2, "__index");
    lua_rawset(L, LUA_REGISTRYINDEX);
}
