/* response: the Lua object a request returns.
 *
 * A plain table (status_code, text, ok, elapsed, error, url, history: the
 * redirect responses followed, each an object of its own without a body),
 * made by a small Lua constructor (see response_push), with a shared
 * metatable whose __index adds the methods (json, success,
 * failure, raise_for_status), `body` as an alias of text, and `headers`
 * and `cookies` (what its Set-Cookie headers set), parsed from the raw
 * header block kept in `_h` only when first read and then cached in the
 * table. success() and failure() settle a
 * catch_response result held in the user's binding state (binding.h); the object holds no C
 * memory, so the Lua GC owns all of it. It does not make requests: that
 * is src/lua/http.c. */
#include "lua/response.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <string.h>
#include <strings.h>

#include "engine/engine.h"
#include "http/client.h"
#include "lua/api.h"
#include "lua/binding.h"
#include "lua/json.h"

static char resp_mt_key;

static void push_headers(lua_State *L, const char *raw, size_t n)
{
    http_response_t res; /* about 3 KB, on the engine thread's stack */
    lua_createtable(L, 0, 8);
    if (http_parse_response(raw, n, &res) < 0) return;
    char name[128];
    for (size_t i = 0; i < res.num_headers; i++) {
        size_t nl =
            res.headers[i].name_len < sizeof name ? res.headers[i].name_len : sizeof name - 1;
        for (size_t k = 0; k < nl; k++)
            name[k] = (char)tolower((unsigned char)res.headers[i].name[k]);
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
        if (*s == '\n')
            buf_puts(b, "\\n");
        else
            buf_append(b, s, 1);
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
    pending_t *p = u->binding ? &u->binding->pending : NULL;
    if (p == NULL || !p->active || p->seq != seq || seq == 0)
        return luaL_error(L,
                          "%s: this response was already reported (use catch_response = true, "
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
    api_record(u->eng, p->method.p, p->name.p, p->rt_us, p->length, err);
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

static const luaL_Reg resp_methods[] = {{"json", resp_json},
                                        {"success", resp_success},
                                        {"failure", resp_failure},
                                        {"raise_for_status", resp_raise},
                                        {NULL, NULL}};

/* Push name -> value of the cookies the header block raw[0..n) sets (its
 * Set-Cookie headers; attributes left out), as requests' r.cookies. */
static void push_cookies(lua_State *L, const char *raw, size_t n)
{
    http_response_t res;
    lua_createtable(L, 0, 2);
    if (raw == NULL || http_parse_response(raw, n, &res) < 0) return;
    for (size_t i = 0; i < res.num_headers; i++) {
        if (res.headers[i].name_len != 10 ||
            strncasecmp(res.headers[i].name, "set-cookie", 10) != 0)
            continue;
        const char *v = res.headers[i].value, *end = v + res.headers[i].value_len;
        const char *semi = memchr(v, ';', (size_t)(end - v));
        if (semi) end = semi;
        const char *eq = memchr(v, '=', (size_t)(end - v));
        if (eq == NULL) continue;
        const char *ne = eq, *vs = eq + 1;
        while (v < ne && (*v == ' ' || *v == '\t'))
            v++;
        while (ne > v && (ne[-1] == ' ' || ne[-1] == '\t'))
            ne--;
        while (vs < end && (*vs == ' ' || *vs == '\t'))
            vs++;
        while (end > vs && (end[-1] == ' ' || end[-1] == '\t'))
            end--;
        if (ne == v) continue;
        lua_pushlstring(L, v, (size_t)(ne - v));
        lua_pushlstring(L, vs, (size_t)(end - vs));
        lua_rawset(L, -3);
    }
}

/* __index: methods, `body` as an alias of text, `headers` and `cookies`
 * parsed lazily. */
static int resp_index(lua_State *L)
{
    const char *k = lua_tostring(L, 2);
    if (k && strcmp(k, "headers") == 0) {
        lua_getfield(L, 1, "_h");
        size_t n;
        const char *raw = lua_tolstring(L, -1, &n);
        if (raw)
            push_headers(L, raw, n);
        else
            lua_createtable(L, 0, 0);
        lua_pushvalue(L, -1);
        lua_setfield(L, 1, "headers");
        return 1;
    }
    if (k && strcmp(k, "cookies") == 0) {
        lua_getfield(L, 1, "_h");
        size_t n;
        const char *raw = lua_tolstring(L, -1, &n);
        push_cookies(L, raw, n);
        lua_pushvalue(L, -1);
        lua_setfield(L, 1, "cookies");
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

/* The response object is built by a small Lua function rather than by
 * lua_setfield: its table constructor copies a template that already holds
 * every key (LuaJIT's TDUP), so there is no key to intern or insert per
 * request. Seven keys fit the template's 8 hash slots; the rare history
 * and _seq (catch_response) are set afterwards. */
static const char ctor_src[] =
    "local setmetatable, mt = setmetatable, ...\n"
    "return function(status_code, text, ok, elapsed, error, _h, url)\n"
    "  return setmetatable({ status_code = status_code, text = text, ok = ok, elapsed = elapsed,\n"
    "                        error = error, _h = _h, url = url }, mt)\n"
    "end\n";
static char ctor_key, maker_key;

static void push_opt_lstring(lua_State *L, const char *s, size_t n)
{
    if (s)
        lua_pushlstring(L, s, n);
    else
        lua_pushnil(L);
}

/* Set M's top table's `history`: a response object (without a body) per
 * redirect followed, oldest first, as requests' r.history. */
static void push_history(lua_State *M, const client_result_t *r)
{
    lua_createtable(M, r->nhistory, 0);
    size_t off = 0;
    client_hop_t h;
    const char *url, *hdr;
    for (int i = 1; client_hop_next(r, &off, &h, &url, &hdr); i++) {
        lua_pushlightuserdata(M, &ctor_key);
        lua_rawget(M, LUA_REGISTRYINDEX);
        lua_pushinteger(M, h.status);
        lua_pushliteral(M, "");
        lua_pushboolean(M, h.status < 400);
        lua_pushnumber(M, (double)h.elapsed_ns / 1e9);
        lua_pushnil(M);
        lua_pushlstring(M, hdr, h.hdr_len);
        lua_pushlstring(M, url, h.url_len);
        lua_call(M, 7, 1);
        lua_rawseti(M, -2, i);
    }
    lua_setfield(M, -2, "history");
}

void response_push(lua_State *L, const client_result_t *r, uint64_t seq)
{
    /* L is a user's coroutine, suspended (the usual case: no function can
     * be called on it, so the object is made on the VM's maker thread and
     * moved) or running (a request that failed at once). */
    lua_State *M = L;
    if (lua_status(L) == LUA_YIELD) {
        lua_pushlightuserdata(L, &maker_key);
        lua_rawget(L, LUA_REGISTRYINDEX);
        M = lua_tothread(L, -1);
        lua_pop(L, 1);
    }
    lua_pushlightuserdata(M, &ctor_key);
    lua_rawget(M, LUA_REGISTRYINDEX);
    lua_pushinteger(M, r->status);
    lua_pushlstring(M, r->body ? r->body : "", r->body_len);
    lua_pushboolean(M, r->error == NULL);
    lua_pushnumber(M, (double)r->elapsed_ns / 1e9);
    if (r->error)
        lua_pushstring(M, r->error);
    else
        lua_pushnil(M);
    push_opt_lstring(M, r->headers, r->headers_len);
    push_opt_lstring(M, r->url, r->url_len);
    lua_call(M, 7, 1);
    if (r->nhistory) push_history(M, r);
    if (seq) {
        lua_pushnumber(M, (double)seq);
        lua_setfield(M, -2, "_seq");
    }
    if (M != L) lua_xmove(M, L, 1);
}

void response_open(lua_State *L)
{
    lua_pushlightuserdata(L, &resp_mt_key);
    lua_createtable(L, 0, 1);
    lua_newtable(L);
    for (const luaL_Reg *f = resp_methods; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_pushcclosure(L, resp_index, 1);
    lua_setfield(L, -2, "__index");
    lua_pushvalue(L, -1);
    lua_insert(L, -3); /* mt, key, mt */
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_pushlightuserdata(L, &ctor_key);
    if (luaL_loadbuffer(L, ctor_src, sizeof ctor_src - 1, "=response") != 0) lua_error(L);
    lua_pushvalue(L, -3);
    lua_call(L, 1, 1);
    lua_rawset(L, LUA_REGISTRYINDEX);
    lua_pop(L, 1); /* mt */

    lua_pushlightuserdata(L, &maker_key);
    lua_newthread(L);
    lua_rawset(L, LUA_REGISTRYINDEX);
}
