/* http: the scenario's HTTP client (self.client).
 *
 * This file only reads the Lua arguments: into a request_t, which
 * src/http/request.c serializes straight into the connection's write
 * buffer, and into the client_req_t that says how src/http/client.c
 * carries it out. Each user's client_t lives in its binding state
 * (binding.h), made on its first request; its results come back through
 * http_on_result. The response becomes a Lua table (src/lua/response.c)
 * whose `headers` are parsed only when read. Statistics are recorded in C
 * at completion (api_record), except for catch_response, where the result
 * waits in the binding state for success(), failure(), the next request or
 * the end of the task.
 *
 * The options follow requests: params, data (string or form table), json,
 * files (multipart), headers (over the client's default `headers`), auth
 * (basic; also on the client), cookies from the user's jar, verify
 * (false or a CA bundle path; also on the client), allow_redirects
 * (default true, false for head()), timeout, max_body_size (the body cap;
 * also on the client, which takes it from the user class), proxies and
 * proxy (also self.client.proxies: lua/proxies.h). Redirects,
 * cookies and decoding happen in C (src/http/session.c, body.c): one
 * result and one statistics entry per call, named after the name option or the path and
 * query as given (Locust names it after the final URL; cicada keeps the
 * original so that a redirect does not split a row). */
#include "lua/http.h"

#include <ctype.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"
#include "base/limits.h"
#include "engine/engine.h"
#include "http/body.h"
#include "http/client.h"
#include "http/cookie.h"
#include "http/request.h"
#include "http/session.h"
#include "http/url.h"
#include "net/tls.h"
#include "lua/api.h"
#include "lua/batch.h"
#include "lua/binding.h"
#include "lua/form.h"
#include "lua/json.h"
#include "lua/proxies.h"
#include "lua/response.h"
#include "net/tls.h"

void http_complete(lua_State *L, user_t *u, pending_t *p, const client_result_t *r)
{
    int64_t rt = r->elapsed_ns / 1000;
    if (u->sched > 0) {
        /* the open model: an iteration's first request counts from the
         * iteration's scheduled start, so a generator behind its schedule
         * shows in the times (engine/arrival.h) */
        int64_t from_sched = (clock_ns() - u->sched) / 1000;
        if (from_sched > rt) rt = from_sched;
        u->sched = 0;
    }
    if (p->active) { /* catch_response: held until settled */
        p->rt_us = rt;
        p->length = (int64_t)r->body_len;
        buf_set(&p->error, r->error ? r->error : "", r->error ? strlen(r->error) : 0);
        p->failed = r->error != NULL;
        response_push(L, r, p->seq);
    } else {
        api_record(u->eng, p->method.p, p->name.p, rt, (int64_t)r->body_len, r->error);
        response_push(L, r, 0);
    }
}

void http_on_result(void *arg, const client_result_t *r)
{
    user_t *u = arg;
    http_complete(u->co, u, &u->binding->pending, r);
    engine_resume(u, 1);
}

/* Per-VM space for building requests (an upvalue of the client's
 * methods, freed with the VM): the header tables read as arrays, the
 * encoded query and body. Reused, never shrunk: no allocation per request
 * once the first requests have grown them. */
enum { K_HEADERS, K_AUTH, K_VERIFY, K_MAX_BODY, K_BASE_URL, NKEY };
static const char *const key_names[NKEY] = {"headers", "auth", "verify", "max_body_size",
                                            "base_url"};

/* The client's base URL is parsed once per VM while it stays the same: base
 * holds a copy of the string and `based` its parse (pointing into the copy),
 * valid when based_ok. keys[] are registry references to the interned
 * client field names, pushed without hashing a C string per request. */
typedef struct http_vm {
    request_header_t *hdr;
    size_t cap;
    buf_t query, body, base;
    url_t based;
    bool based_ok;
    int proxies_key; /* lua/proxies.h */
    int keys[NKEY];
} http_vm_t;

static int vm_gc(lua_State *L)
{
    http_vm_t *v = lua_touserdata(L, 1);
    xfree(v->hdr);
    buf_free(&v->query);
    buf_free(&v->body);
    buf_free(&v->base);
    return 0;
}

/* Append the string-keyed headers of table t to v->hdr from index n on;
 * returns the new count. A false value removes the header; any other
 * non-string value goes through tostring(), whose result stays on the
 * stack (below the iteration key) until the request is written. */
static size_t read_headers(lua_State *L, int t, http_vm_t *v, size_t n)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) != LUA_TSTRING) {
            lua_pop(L, 1);
            continue;
        }
        if (n == v->cap) {
            v->cap = v->cap ? 2 * v->cap : 16;
            v->hdr = xrealloc(v->hdr, v->cap * sizeof *v->hdr);
        }
        request_header_t *h = &v->hdr[n++];
        h->name = lua_tolstring(L, -2, &h->name_len);
        h->value = NULL, h->value_len = 0;
        if (lua_type(L, -1) == LUA_TSTRING) {
            h->value = lua_tolstring(L, -1, &h->value_len);
        } else if (!(lua_isboolean(L, -1) && !lua_toboolean(L, -1))) {
            luaL_checkstack(L, 4, "headers");
            h->value = api_tostr(L, -1, &h->value_len);
            lua_insert(L, -3); /* keep the string: below the key */
        }
        lua_pop(L, 1);
    }
    return n;
}

/* Options of a request, in fixed stack slots after the four arguments. */
enum opt {
    O_PARAMS,
    O_NAME,
    O_HEADERS,
    O_AUTH,
    O_VERIFY,
    O_FILES,
    O_JSON,
    O_DATA,
    O_CATCH,
    O_TIMEOUT,
    O_REDIRECTS,
    O_MAX_BODY,
    O_PROXIES,
    O_PROXY,
    NOPT
};
static const char *const opt_names[NOPT] = {
    "params",          "name",          "headers", "auth",           "verify",
    "files",           "json",          "data",    "catch_response", "timeout",
    "allow_redirects", "max_body_size", "proxies", "proxy"};
#define OPT(o) (5 + (o))
/* The options a request was given, one bit per enum opt (read_options):
 * a clear bit is a nil slot, tested without a Lua API call. */
#define HAS(o) ((set >> (o)) & 1u)
enum { C_HEADERS = OPT(NOPT), C_AUTH, C_VERIFY, C_BASE, C_MAX_BODY, S_PATH, S_TOP = S_PATH };

static void client_field(lua_State *L, const http_vm_t *v, int k, int slot)
{
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->keys[k]);
    lua_rawget(L, 1);
    lua_replace(L, slot);
}

/* The options table (stack slot 4, if any) into the OPT() slots; returns
 * which were given (bit o for OPT(o)). */
static unsigned read_options(lua_State *L)
{
    unsigned set = 0;
    luaL_checkstack(L, 40, "client:request");
    lua_settop(L, S_TOP);
    if (!lua_istable(L, 4)) return 0;
    lua_pushnil(L);
    while (lua_next(L, 4)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
        for (int o = 0; o < NOPT; o++)
            if (k[0] == opt_names[o][0] && strcmp(k, opt_names[o]) == 0) {
                lua_pushvalue(L, -1);
                lua_replace(L, OPT(o));
                set |= 1u << o;
                break;
            }
        lua_pop(L, 1);
    }
    return set;
}

/* The body cap at stack slot i (nil: the default). A bad value is the
 * scenario's error, named with where it came from. */
static size_t max_body(lua_State *L, int i, const char *where)
{
    if (lua_isnil(L, i)) return BODY_DEFAULT_CAP;
    double v = lua_type(L, i) == LUA_TNUMBER ? lua_tonumber(L, i) : -1;
    if (!(v >= 1 && v <= (double)BODY_MAX_CAP) || v != (double)(size_t)v)
        luaL_error(L,
                   "%s: max_body_size must be a whole number of bytes from 1 to %d (2 GiB), "
                   "got %s",
                   where, (int)BODY_MAX_CAP, api_tostr(L, i, NULL));
    return (size_t)v;
}

/* Where to: an absolute URL, or a path on the client's base URL (joined
 * with its path prefix, kept alive in slot S_PATH). */
static void target_url(lua_State *L, engine_t *e, http_vm_t *v, const char *target, url_t *url)
{
    const char *why = NULL;
    if (url_parse(target, url, &why) != 0) luaL_error(L, "bad URL '%s': %s", target, why);
    if (url->absolute) return;
    lua_rawgeti(L, LUA_REGISTRYINDEX, v->keys[K_BASE_URL]);
    lua_gettable(L, 1);
    lua_replace(L, C_BASE);
    size_t blen = 0;
    const char *b = lua_tolstring(L, C_BASE, &blen);
    if (b == NULL || *b == '\0')
        luaL_error(L,
                   "request to '%s' but the user has no host (set host in "
                   "cicada.user{...} or pass -H)",
                   target);
    if (!v->based_ok || v->base.len != blen || memcmp(v->base.p, b, blen) != 0) {
        v->based_ok = false;
        buf_set(&v->base, b, blen);
        if (url_parse(v->base.p, &v->based, &why) != 0 || !v->based.absolute)
            luaL_error(L, "bad host '%s': %s", b, why ? why : "not an absolute URL");
        v->based_ok = true;
    }
    const url_t *base = &v->based;
    url->host = base->host, url->host_len = base->host_len, url->port = base->port;
    url->tls = base->tls;
    if (base->path_len > 1) { /* a base URL with a path prefix: join them */
        buf_t *s = &e->scratch;
        buf_set(s, base->path, base->path_len);
        if (s->p[s->len - 1] == '/') s->len--;
        buf_append(s, url->path, url->path_len);
        lua_pushlstring(L, s->p, s->len);
        lua_replace(L, S_PATH);
        url->path = lua_tolstring(L, S_PATH, &url->path_len);
    }
}

/* How the request is carried out: the body cap, HTTPS verification as the
 * request, the client or the flags say, timeout, redirects. Returns an
 * error (in err) that fails the request before any connection, or NULL. */
static const char *carry(lua_State *L, engine_t *e, const http_vm_t *v, unsigned set,
                         const url_t *url, bool head_call, client_req_t *req, char *err, size_t n)
{
    const char *early = NULL;
    *req = (client_req_t){.verify = !e->conf->insecure, .timeout_s = 60};
    if (!HAS(O_MAX_BODY)) {
        client_field(L, v, K_MAX_BODY, C_MAX_BODY);
        req->max_body = max_body(L, C_MAX_BODY, "client");
    } else {
        req->max_body = max_body(L, OPT(O_MAX_BODY), "request option");
    }
    if (url->tls) {
        if (!HAS(O_VERIFY)) client_field(L, v, K_VERIFY, C_VERIFY);
        int vi = !HAS(O_VERIFY) ? C_VERIFY : OPT(O_VERIFY);
        if (lua_isboolean(L, vi)) {
            req->verify = lua_toboolean(L, vi);
        } else if (lua_type(L, vi) == LUA_TSTRING) {
            req->verify = true;
            req->ctx = tls_ctx(e->net, lua_tostring(L, vi), err, n);
            if (req->ctx == NULL) early = err;
        }
    }
    if (HAS(O_TIMEOUT) && lua_isnumber(L, OPT(O_TIMEOUT)))
        req->timeout_s = fmin(lua_tonumber(L, OPT(O_TIMEOUT)), LIMIT_SECONDS);
    req->follow = !HAS(O_REDIRECTS) ? !head_call : lua_toboolean(L, OPT(O_REDIRECTS));
    return early;
}

/* The method (upper case) into p->method, the params into r->query. */
static void read_line(lua_State *L, unsigned set, request_t *r, pending_t *p, http_vm_t *v,
                      const url_t *url, const char *method, size_t mlen)
{
    buf_reset(&p->method);
    for (size_t i = 0; i < mlen; i++) {
        char ch = (char)toupper((unsigned char)method[i]);
        buf_append(&p->method, &ch, 1);
    }
    r->method = p->method.p, r->method_len = p->method.len;
    r->host = url->host, r->host_len = url->host_len, r->port = url->port, r->tls = url->tls;
    r->path = url->path, r->path_len = url->path_len;
    if (!HAS(O_PARAMS)) return;
    if (lua_istable(L, OPT(O_PARAMS))) {
        char sep = '\0';
        buf_reset(&v->query);
        form_pairs(L, OPT(O_PARAMS), &v->query, &sep);
        r->query = v->query.p, r->query_len = v->query.len;
    } else if (lua_type(L, OPT(O_PARAMS)) == LUA_TSTRING) { /* already encoded, as in requests */
        r->query = lua_tolstring(L, OPT(O_PARAMS), &r->query_len);
    }
}

/* Authorization: Basic for auth = {user, password} (or {user=, password=}),
 * the strings left on the stack for the request's life. */
static void read_auth(lua_State *L, unsigned set, request_t *r)
{
    int a = HAS(O_AUTH) && lua_istable(L, OPT(O_AUTH)) ? OPT(O_AUTH)
            : lua_istable(L, C_AUTH)                   ? C_AUTH
                                                       : 0;
    if (a == 0 || (request_flags(r) & REQUEST_H_AUTH)) return;
    lua_rawgeti(L, a, 1);
    if (lua_isnil(L, -1)) lua_getfield(L, a, "user");
    lua_rawgeti(L, a, 2);
    if (lua_isnil(L, -1)) lua_getfield(L, a, "password");
    r->auth_user = lua_tolstring(L, -2, &r->auth_user_len);
    r->auth_pass = lua_tolstring(L, -1, &r->auth_pass_len);
    if (r->auth_user == NULL) luaL_error(L, "auth: expected {user, password}");
}

/* The body: json=, files= (multipart, with data= fields), or data= (a
 * string, or a table sent as a form), encoded into v->body. */
static void read_body(lua_State *L, unsigned set, engine_t *e, request_t *r, http_vm_t *v,
                      char *ctype, size_t n)
{
    char err[256];
    buf_t *body = &v->body;
    buf_reset(body);
    if (!(HAS(O_JSON) | HAS(O_FILES) | HAS(O_DATA))) return;
    if (!lua_isnil(L, OPT(O_JSON))) {
        if (json_encode(L, OPT(O_JSON), body, err, sizeof err) != 0)
            luaL_error(L, "json=: %s", err);
        r->ctype = "application/json";
    } else if (lua_istable(L, OPT(O_FILES))) {
        char boundary[33];
        for (int i = 0; i < 32; i++)
            boundary[i] = "0123456789abcdef"[(int)(engine_random(e) * 16)];
        boundary[32] = '\0';
        int data = lua_istable(L, OPT(O_DATA)) ? OPT(O_DATA) : 0;
        form_multipart(L, data, OPT(O_FILES), body, boundary);
        snprintf(ctype, n, "multipart/form-data; boundary=%s", boundary);
        r->ctype = ctype;
    } else if (lua_istable(L, OPT(O_DATA))) {
        char bsep = '\0';
        form_pairs(L, OPT(O_DATA), body, &bsep);
        r->ctype = "application/x-www-form-urlencoded";
    } else if (lua_isstring(L, OPT(O_DATA))) {
        size_t dl;
        const char *d = lua_tolstring(L, OPT(O_DATA), &dl);
        buf_set(body, d, dl);
    } else {
        return;
    }
    r->body = body->p, r->body_len = body->len;
}

/* The name for the statistics: the name option, or the target as sent. */
static void stats_name(lua_State *L, unsigned set, pending_t *p, const char *target, size_t len)
{
    if (HAS(O_NAME) && lua_isstring(L, OPT(O_NAME))) {
        size_t n;
        const char *nm = lua_tolstring(L, OPT(O_NAME), &n);
        buf_set(&p->name, nm, n);
    } else {
        buf_set(&p->name, target, len);
    }
}

/* A request that failed before any connection (the name did not resolve,
 * the CA bundle is missing): recorded like any failure. */
static int fail_early(lua_State *L, unsigned set, user_t *u, pending_t *p, request_t *r,
                      const char *err)
{
    buf_t *w = &u->eng->scratch;
    buf_reset(w);
    size_t at = request_start(w, r);
    stats_name(L, set, p, w->p + at, w->len - at);
    client_result_t res = {.error = err};
    p->active = HAS(O_CATCH) && lua_toboolean(L, OPT(O_CATCH));
    p->seq = ++u->binding->req_seq;
    http_complete(L, u, p, &res);
    return 1;
}

/* client:request(method, url, opts) — the one request primitive. Stack:
 * 1 client, 2 method, 3 url, 4 opts (optional). head_call: called as
 * client:head(), where requests does not follow redirects by default.
 * The Lua arguments are read into a request_t that request.c writes into
 * the connection's buffer. cl is the client that carries it and p holds
 * its name; NULL for the user's own (self.client), which waits for the
 * result. A batch's slot (cl given) does not wait: it returns the
 * response if the request failed at once, else nothing (the result goes
 * to cl's callback). */
static int do_request(lua_State *L, bool head_call, http_vm_t *v, client_t *cl, pending_t *p)
{
    if (!lua_istable(L, 1))
        return luaL_error(L, "client methods take the client first: self.client:get(...), "
                             "with a colon");
    user_t *u = api_current(L, "client:request");
    engine_t *e = u->eng;
    if (api_must_stop(u)) {
        api_push_stop(L);
        return lua_error(L);
    }
    binding_t *b = binding_of(u);
    binding_flush(u);
    bool wait = cl == NULL;
    if (wait) cl = &b->http, p = &b->pending;
    size_t mlen;
    const char *method = luaL_checklstring(L, 2, &mlen);
    const char *target = luaL_checkstring(L, 3);
    unsigned set = read_options(L);
    client_field(L, v, K_HEADERS, C_HEADERS);
    if (!HAS(O_AUTH)) client_field(L, v, K_AUTH, C_AUTH);
    /* as requests' ValueError; longer than LIMIT_SECONDS is cut to it in carry() */
    if (HAS(O_TIMEOUT) && lua_isnumber(L, OPT(O_TIMEOUT)) && !(lua_tonumber(L, OPT(O_TIMEOUT)) > 0))
        return luaL_error(L, "timeout = %s: a number of seconds above 0 expected",
                          lua_tostring(L, OPT(O_TIMEOUT)));
    url_t url;
    target_url(L, e, v, target, &url);
    char err[512];
    client_req_t req;
    const char *early = carry(L, e, v, set, &url, head_call, &req, err, sizeof err);
    if (early == NULL)
        early = proxies_read(L, &v->proxies_key, HAS(O_PROXIES) | HAS(O_PROXY), OPT(O_PROXIES),
                             OPT(O_PROXY), &cl->proxies, err, sizeof err);
    conn_t *c =
        early ? NULL : client_conn(cl, url.host, url.host_len, url.port, url.tls, err, sizeof err);
    request_t r = {0};
    read_line(L, set, &r, p, v, &url, method, mlen);
    req.head = strcmp(p->method.p, "HEAD") == 0;
    if (c == NULL) return fail_early(L, set, u, p, &r, err);

    size_t nh = HAS(O_HEADERS) && lua_istable(L, OPT(O_HEADERS))
                    ? read_headers(L, OPT(O_HEADERS), v, 0)
                    : 0;
    size_t nd = lua_istable(L, C_HEADERS) ? read_headers(L, C_HEADERS, v, nh) : nh;
    r.headers = v->hdr, r.nheaders = nh;
    r.defaults = v->hdr + nh, r.ndefaults = nd - nh;
    req.decode = request_decode(&r);
    read_auth(L, set, &r);
    r.absolute = client_absolute(c); /* plain http through a proxy */
    r.proxy_auth = r.absolute ? c->px_auth : NULL;
    r.jar = cl->jar;
    if (r.jar && r.jar->n) r.now = (int64_t)time(NULL); /* for cookie expiry only */
    char ctype[80];
    read_body(L, set, e, &r, v, ctype, sizeof ctype);
    buf_reset(&c->wbuf);
    size_t tlen, at = request_write(&c->wbuf, &r, &tlen);
    stats_name(L, set, p, c->wbuf.p + at, tlen);

    p->active = wait && HAS(O_CATCH) && lua_toboolean(L, OPT(O_CATCH));
    p->seq = ++b->req_seq;
    client_result_t res;
    if (client_send(c, &req, NULL, &res) == 0) {
        http_complete(L, u, p, &res);
        return 1;
    }
    if (!wait) return 0;
    engine_wait(u);
    return lua_yield(L, 0);
}

/* self.client:cookies(): the user's cookies as a name -> value table. */
static int l_cookies(lua_State *L)
{
    user_t *u = api_current(L, "client:cookies");
    cookie_jar_t *j = u->binding ? u->binding->http.jar : NULL;
    lua_createtable(L, 0, j ? (int)j->n : 0);
    for (size_t i = 0; j && i < j->n; i++) {
        lua_pushstring(L, cookie_value(&j->c[i]));
        lua_setfield(L, -2, cookie_name(&j->c[i]));
    }
    return 1;
}

/* self.client:clear_cookies(): forget the user's cookies. */
static int l_clear_cookies(lua_State *L)
{
    user_t *u = api_current(L, "client:clear_cookies");
    if (u->binding) cookie_jar_clear(u->binding->http.jar);
    return 0;
}

static int l_request(lua_State *L)
{
    return do_request(L, false, lua_touserdata(L, lua_upvalueindex(1)), NULL, NULL);
}

/* client:_batch_send(method, url, opts, slot, index): send one request of
 * a batch on the user's batch slot `slot` (lua/batch.c) without waiting. */
static int l_batch_send(lua_State *L)
{
    user_t *u = api_current(L, "client:batch");
    batch_slot_t *s = batch_slot(L, u, (int)luaL_checkinteger(L, 5), (int)luaL_checkinteger(L, 6));
    lua_settop(L, 4);
    const char *m = luaL_checkstring(L, 2);
    int n = do_request(L, strcasecmp(m, "HEAD") == 0, lua_touserdata(L, lua_upvalueindex(1)),
                       &s->cl, &s->pending);
    if (n == 1) s->idx = 0; /* done at once: the slot is free again */
    return n;
}

/* client:get(url, opts) and friends: the method is the closure's upvalue. */
static int l_method(lua_State *L)
{
    lua_settop(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 2);
    return do_request(L, strcmp(lua_tostring(L, 2), "HEAD") == 0,
                      lua_touserdata(L, lua_upvalueindex(2)), NULL, NULL);
}

static void open_client(lua_State *L)
{
    static const char *methods[] = {"get", "post", "put", "patch", "delete", "head", "options"};
    http_vm_t *v = lua_newuserdata(L, sizeof *v); /* the methods' shared upvalue */
    memset(v, 0, sizeof *v);
    for (int k = 0; k < NKEY; k++) {
        lua_pushstring(L, key_names[k]);
        v->keys[k] = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_newtable(L);
    lua_pushcfunction(L, vm_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    int vi = lua_gettop(L);
    lua_newtable(L); /* cicada._client_methods */
    for (size_t i = 0; i < sizeof methods / sizeof *methods; i++) {
        char up[16];
        size_t n = strlen(methods[i]);
        for (size_t k = 0; k <= n; k++)
            up[k] = (char)toupper((unsigned char)methods[i][k]);
        lua_pushstring(L, up);
        lua_pushvalue(L, vi);
        lua_pushcclosure(L, l_method, 2);
        lua_setfield(L, -2, methods[i]);
    }
    lua_pushvalue(L, vi);
    lua_pushcclosure(L, l_request, 1);
    lua_setfield(L, -2, "request");
    lua_pushvalue(L, vi);
    lua_pushcclosure(L, l_batch_send, 1);
    lua_setfield(L, -2, "_batch_send");
    lua_pushcfunction(L, l_cookies);
    lua_setfield(L, -2, "cookies");
    lua_pushcfunction(L, l_clear_cookies);
    lua_setfield(L, -2, "clear_cookies");
    lua_remove(L, vi);
    lua_setfield(L, -2, "_client_methods");
}

void http_open(lua_State *L)
{
    open_client(L);
    response_open(L);
}
