/* http: the scenario's HTTP client (self.client) and its response object.
 *
 * Requests are serialized straight into the connection's write buffer;
 * the response becomes a Lua table whose `headers` are parsed only when
 * read. Statistics are recorded in C at completion (api_record), except
 * for catch_response, where the result waits in user->pending for
 * success(), failure(), the next request or the end of the task. */
#include "lua/http.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "engine/engine.h"
#include "http/client.h"
#include "http/url.h"
#include "lua/api.h"
#include "lua/json.h"

static char resp_mt_key;

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
    user_t *u = api_current(L, ok ? "response:success" : "response:failure");
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
        py_repr(b, api_tostr(L, 2, NULL));
        buf_puts(b, ")");
        err = b->p;
    }
    p->active = false;
    api_record(u, p->method.p, p->name.p, p->rt_us, p->length, err);
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
        api_record(u, p->method.p, p->name.p, rt, (int64_t)r->body_len, r->error);
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
                const char *v = api_tostr(L, -2, &vl);
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
    user_t *u = api_current(L, "client:request");
    engine_t *e = u->eng;
    if (api_must_stop(u)) {
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
            const char *k = lua_tostring(L, -1), *v = api_tostr(L, -2, NULL);
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

void http_open(lua_State *L)
{
    open_client(L);
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
