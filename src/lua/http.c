/* http: the scenario's HTTP client (self.client).
 *
 * Requests are serialized straight into the connection's write buffer;
 * the response becomes a Lua table (src/lua/response.c) whose `headers`
 * are parsed only when read. Statistics are recorded in C at completion
 * (api_record), except for catch_response, where the result waits in
 * user->pending for success(), failure(), the next request or the end of
 * the task.
 *
 * The options follow requests: params, data (string or form table), json,
 * files (multipart), headers (over the client's default `headers`), auth
 * (basic; also on the client), cookies from the user's jar, verify
 * (false or a CA bundle path; also on the client), allow_redirects
 * (default true, false for head()), timeout, max_body_size (the body cap;
 * also on the client, which takes it from the user class). Redirects,
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

#include "base/limits.h"
#include "engine/engine.h"
#include "http/body.h"
#include "http/client.h"
#include "http/cookie.h"
#include "http/session.h"
#include "http/url.h"
#include "lua/api.h"
#include "lua/form.h"
#include "lua/json.h"
#include "lua/response.h"
#include "net/tls.h"

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
        response_push(L, r, p->seq);
    } else {
        api_record(u->eng, p->method.p, p->name.p, rt, (int64_t)r->body_len, r->error);
        response_push(L, r, 0);
    }
}

void client_on_result(conn_t *c, const client_result_t *r)
{
    user_t *u = c->user;
    u->waiting_on = NULL;
    complete(u->co, u, r);
    engine_resume(u, 1);
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

/* Which of the headers the client may add itself a header table sets. */
enum {
    H_HOST = 1,
    H_UA = 2,
    H_ACCEPT = 4,
    H_CTYPE = 8,
    H_AUTH = 16,
    H_COOKIE = 32,
    H_AE = 64,     /* Accept-Encoding given... */
    H_DECODE = 128 /* ...and it names gzip or deflate */
};

static unsigned header_flags(lua_State *L, int t)
{
    static const struct {
        const char *name;
        unsigned bit;
    } known[] = {{"host", H_HOST},           {"user-agent", H_UA},      {"accept", H_ACCEPT},
                 {"content-type", H_CTYPE},  {"authorization", H_AUTH}, {"cookie", H_COOKIE},
                 {"accept-encoding", H_AE}};
    unsigned f = 0;
    if (t == 0) return 0;
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) == LUA_TSTRING) {
            const char *k = lua_tostring(L, -2);
            for (size_t i = 0; i < sizeof known / sizeof *known; i++) {
                if (strcasecmp(k, known[i].name) != 0) continue;
                f |= known[i].bit;
                const char *v = lua_type(L, -1) == LUA_TSTRING ? lua_tostring(L, -1) : NULL;
                if (known[i].bit == H_AE && v && (strcasestr(v, "gzip") || strcasestr(v, "deflate")))
                    f |= H_DECODE;
            }
        }
        lua_pop(L, 1);
    }
    return f;
}

/* Write the headers of table t, skipping those set to false (requests'
 * None: drop a default) and, if over is not 0, those table over sets. */
static void write_headers(lua_State *L, int t, int over, buf_t *w)
{
    lua_pushnil(L);
    while (lua_next(L, t)) {
        if (lua_type(L, -2) == LUA_TSTRING && !(lua_isboolean(L, -1) && !lua_toboolean(L, -1)) &&
            !(over && has_header(L, over, lua_tostring(L, -2)))) {
            size_t kl, vl;
            const char *k = lua_tolstring(L, -2, &kl);
            bool str = lua_type(L, -1) == LUA_TSTRING;
            const char *v = str ? lua_tolstring(L, -1, &vl) : api_tostr(L, -1, &vl);
            buf_append(w, k, kl);
            buf_append(w, ": ", 2);
            buf_append(w, v, vl);
            buf_append(w, "\r\n", 2);
            if (!str) lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
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
    NOPT
};
static const char *const opt_names[NOPT] = {
    "params", "name", "headers",        "auth",    "verify",          "files",
    "json",   "data", "catch_response", "timeout", "allow_redirects", "max_body_size"};
#define OPT(o) (5 + (o))
enum { C_HEADERS = OPT(NOPT), C_AUTH, C_VERIFY, C_BASE, C_MAX_BODY, S_PATH, S_TOP = S_PATH };

static void client_field(lua_State *L, const char *k, int slot)
{
    lua_pushstring(L, k);
    lua_rawget(L, 1);
    lua_replace(L, slot);
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

/* Authorization: Basic for auth = {user, password} (or {user=, password=}). */
static void basic_auth(lua_State *L, int a, buf_t *w, buf_t *s)
{
    size_t ul = 0, pl = 0;
    lua_rawgeti(L, a, 1);
    if (lua_isnil(L, -1)) lua_getfield(L, a, "user");
    lua_rawgeti(L, a, 2);
    if (lua_isnil(L, -1)) lua_getfield(L, a, "password");
    const char *user = lua_tolstring(L, -2, &ul), *pass = lua_tolstring(L, -1, &pl);
    if (user == NULL) luaL_error(L, "auth: expected {user, password}");
    buf_set(s, user, ul);
    buf_append(s, ":", 1);
    if (pass) buf_append(s, pass, pl);
    buf_puts(w, "Authorization: Basic ");
    form_base64(w, s->p, s->len);
    buf_puts(w, "\r\n");
    lua_pop(L, 2);
}

/* client:request(method, url, opts) — the one request primitive. Stack:
 * 1 client, 2 method, 3 url, 4 opts (optional). head_call: called as
 * client:head(), where requests does not follow redirects by default. */
static int do_request(lua_State *L, bool head_call)
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
    engine_flush_pending(u);
    size_t mlen;
    const char *method = luaL_checklstring(L, 2, &mlen);
    const char *target = luaL_checkstring(L, 3);
    int opts = lua_istable(L, 4) ? 4 : 0;
    luaL_checkstack(L, 40, "client:request");
    lua_settop(L, S_TOP);
    if (opts) {
        lua_pushnil(L);
        while (lua_next(L, 4)) {
            const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "";
            for (int o = 0; o < NOPT; o++)
                if (k[0] == opt_names[o][0] && strcmp(k, opt_names[o]) == 0) {
                    lua_pushvalue(L, -1);
                    lua_replace(L, OPT(o));
                    break;
                }
            lua_pop(L, 1);
        }
    }
    client_field(L, "headers", C_HEADERS);
    if (lua_isnil(L, OPT(O_AUTH))) client_field(L, "auth", C_AUTH);
    /* as requests' ValueError; longer than LIMIT_SECONDS is cut to it below */
    if (lua_isnumber(L, OPT(O_TIMEOUT)) && !(lua_tonumber(L, OPT(O_TIMEOUT)) > 0))
        return luaL_error(L, "timeout = %s: a number of seconds above 0 expected",
                          lua_tostring(L, OPT(O_TIMEOUT)));

    /* where to: an absolute URL, or a path on the client's base URL */
    url_t url, base;
    const char *why = NULL;
    if (url_parse(target, &url, &why) != 0) return luaL_error(L, "bad URL '%s': %s", target, why);
    if (!url.absolute) {
        lua_getfield(L, 1, "base_url");
        lua_replace(L, C_BASE);
        const char *b = lua_tostring(L, C_BASE);
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
            lua_replace(L, S_PATH);
            url.path = lua_tolstring(L, S_PATH, &url.path_len);
        }
    }

    /* HTTPS: verification as the request, the client or the flags say */
    char err[512];
    const char *early = NULL; /* a failure before any connection */
    client_req_t req = {.verify = !e->conf->insecure, .timeout_s = 60};
    if (lua_isnil(L, OPT(O_MAX_BODY))) {
        client_field(L, "max_body_size", C_MAX_BODY);
        req.max_body = max_body(L, C_MAX_BODY, "client");
    } else {
        req.max_body = max_body(L, OPT(O_MAX_BODY), "request option");
    }
    if (url.tls) {
        if (lua_isnil(L, OPT(O_VERIFY))) client_field(L, "verify", C_VERIFY);
        int v = lua_isnil(L, OPT(O_VERIFY)) ? C_VERIFY : OPT(O_VERIFY);
        if (lua_isboolean(L, v)) {
            req.verify = lua_toboolean(L, v);
        } else if (lua_type(L, v) == LUA_TSTRING) {
            req.verify = true;
            req.ctx = tls_ctx(e->net, lua_tostring(L, v), err, sizeof err);
            if (req.ctx == NULL) early = err;
        }
    }
    conn_t *c = early ? NULL : client_conn(u, url.host, url.host_len, url.port, url.tls, err,
                                           sizeof err);

    /* method and name for the statistics */
    pending_t *p = &u->pending;
    buf_reset(&p->method);
    for (size_t i = 0; i < mlen; i++) {
        char ch = (char)toupper((unsigned char)method[i]);
        buf_append(&p->method, &ch, 1);
    }
    bool catch_response = lua_toboolean(L, OPT(O_CATCH));
    if (lua_isnumber(L, OPT(O_TIMEOUT)))
        req.timeout_s = fmin(lua_tonumber(L, OPT(O_TIMEOUT)), LIMIT_SECONDS);
    req.follow = lua_isnil(L, OPT(O_REDIRECTS)) ? !head_call : lua_toboolean(L, OPT(O_REDIRECTS));
    req.head = strcmp(p->method.p, "HEAD") == 0;
    buf_t *w = c ? &c->wbuf : &e->scratch;
    buf_reset(w);
    buf_append(w, p->method.p, p->method.len);
    buf_append(w, " ", 1);
    buf_append(w, url.path, url.path_len);
    char sep = memchr(url.path, '?', url.path_len) ? '&' : '?';
    if (lua_istable(L, OPT(O_PARAMS))) {
        form_pairs(L, OPT(O_PARAMS), w, &sep);
    } else if (lua_type(L, OPT(O_PARAMS)) == LUA_TSTRING) { /* already encoded, as in requests */
        size_t n;
        const char *q = lua_tolstring(L, OPT(O_PARAMS), &n);
        if (n) buf_append(w, &sep, 1), buf_append(w, q, n);
    }
    const char *path_start = w->p + p->method.len + 1;
    size_t path_len = w->len - p->method.len - 1;
    if (lua_isstring(L, OPT(O_NAME))) {
        size_t n;
        const char *nm = lua_tolstring(L, OPT(O_NAME), &n);
        buf_set(&p->name, nm, n);
    } else {
        buf_set(&p->name, path_start, path_len);
    }
    if (c == NULL) { /* the name did not resolve, the CA bundle is missing: a failure */
        client_result_t r = {.error = err};
        p->active = catch_response;
        p->seq = ++u->req_seq;
        complete(L, u, &r);
        return 1;
    }
    buf_puts(w, " HTTP/1.1\r\n");

    /* headers: the request's over the client's defaults over ours */
    int rh = lua_istable(L, OPT(O_HEADERS)) ? OPT(O_HEADERS) : 0;
    int ch = lua_istable(L, C_HEADERS) ? C_HEADERS : 0;
    unsigned fr = header_flags(L, rh), fc = header_flags(L, ch), have = fr | fc;
    req.decode = ((fr & H_AE) ? fr : fc) & H_DECODE;
    if (!(have & H_HOST)) {
        bool v6 = memchr(url.host, ':', url.host_len) != NULL;
        buf_puts(w, "Host: ");
        if (v6) buf_append(w, "[", 1);
        buf_append(w, url.host, url.host_len);
        if (v6) buf_append(w, "]", 1);
        if (url.port != (url.tls ? 443 : 80)) buf_printf(w, ":%d", url.port);
        buf_puts(w, "\r\n");
    }
    if (!(have & H_UA)) buf_puts(w, "User-Agent: cicada/0.1\r\n");
    if (!(have & H_ACCEPT)) buf_puts(w, "Accept: */*\r\n");
    if (rh) write_headers(L, rh, 0, w);
    if (ch) write_headers(L, ch, rh, w);
    int a = lua_istable(L, OPT(O_AUTH)) ? OPT(O_AUTH) : lua_istable(L, C_AUTH) ? C_AUTH : 0;
    if (a && !(have & H_AUTH)) basic_auth(L, a, w, &e->scratch);
    if (!(have & H_COOKIE))
        session_cookie_header(u, w, url.host, url.host_len, url.path, url.path_len, url.tls);

    /* the body: json=, files= (multipart, with data= fields), or data= (a
     * string, or a table sent as a form) */
    const char *ctype = NULL;
    char multipart[80];
    buf_t *body = &e->scratch;
    buf_reset(body);
    bool has_body = false;
    if (!lua_isnil(L, OPT(O_JSON))) {
        if (json_encode(L, OPT(O_JSON), body, err, sizeof err) != 0)
            return luaL_error(L, "json=: %s", err);
        ctype = "application/json";
        has_body = true;
    } else if (lua_istable(L, OPT(O_FILES))) {
        char boundary[33];
        for (int i = 0; i < 32; i++) boundary[i] = "0123456789abcdef"[(int)(engine_random(e) * 16)];
        boundary[32] = '\0';
        int data = lua_istable(L, OPT(O_DATA)) ? OPT(O_DATA) : 0;
        form_multipart(L, data, OPT(O_FILES), body, boundary);
        snprintf(multipart, sizeof multipart, "multipart/form-data; boundary=%s", boundary);
        ctype = multipart;
        has_body = true;
    } else if (lua_istable(L, OPT(O_DATA))) {
        char bsep = '\0';
        form_pairs(L, OPT(O_DATA), body, &bsep);
        ctype = "application/x-www-form-urlencoded";
        has_body = true;
    } else if (lua_isstring(L, OPT(O_DATA))) {
        size_t n;
        const char *d = lua_tolstring(L, OPT(O_DATA), &n);
        buf_set(body, d, n);
        has_body = true;
    }
    if (ctype && !(have & H_CTYPE)) buf_printf(w, "Content-Type: %s\r\n", ctype);
    if (has_body || strcmp(p->method.p, "POST") == 0 || strcmp(p->method.p, "PUT") == 0 ||
        strcmp(p->method.p, "PATCH") == 0)
        buf_printf(w, "Content-Length: %zu\r\n", has_body ? body->len : 0);
    buf_puts(w, "\r\n");
    if (has_body) buf_append(w, body->p, body->len);

    p->active = catch_response;
    p->seq = ++u->req_seq;
    client_result_t r;
    if (client_send(c, &req, NULL, &r) == 0) {
        complete(L, u, &r);
        return 1;
    }
    u->state = USER_WAITING;
    u->waiting_on = c;
    u->parked = true;
    return lua_yield(L, 0);
}

/* self.client:cookies(): the user's cookies as a name -> value table. */
static int l_cookies(lua_State *L)
{
    user_t *u = api_current(L, "client:cookies");
    cookie_jar_t *j = u->jar;
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
    cookie_jar_clear(api_current(L, "client:clear_cookies")->jar);
    return 0;
}

static int l_request(lua_State *L)
{
    return do_request(L, false);
}

/* client:get(url, opts) and friends: the method is the closure's upvalue. */
static int l_method(lua_State *L)
{
    lua_settop(L, 3);
    lua_pushvalue(L, lua_upvalueindex(1));
    lua_insert(L, 2);
    return do_request(L, strcmp(lua_tostring(L, 2), "HEAD") == 0);
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
    lua_pushcfunction(L, l_cookies);
    lua_setfield(L, -2, "cookies");
    lua_pushcfunction(L, l_clear_cookies);
    lua_setfield(L, -2, "clear_cookies");
    lua_setfield(L, -2, "_client_methods");
}

void http_open(lua_State *L)
{
    open_client(L);
    response_open(L);
}
