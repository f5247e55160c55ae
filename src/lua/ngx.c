/* ngx: see ngx.h.
 *
 * Regular expressions: OpenResty uses PCRE; Debian's glibc has POSIX
 * regexes and no PCRE headers are a build dependency, so a pattern is
 * translated to POSIX extended syntax: \d \s \w (and their negations) become
 * bracket classes, (?:...) becomes a plain group whose capture is dropped
 * from the result, \n \r \t become the characters. Other PCRE extensions
 * (lookaround, lazy quantifiers, backreferences) are refused with an error
 * value, as ngx.re.match returns nil, err for a bad regex. Matching is
 * POSIX leftmost-longest rather than PCRE's leftmost-first, which only
 * differs for ambiguous alternations. Compiled patterns are cached per VM
 * (the "o" option is implied). */
#include "lua/ngx.h"

#include <lauxlib.h>
#include <lua.h>
#include <openssl/evp.h>
#include <openssl/hmac.h>
#include <regex.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#include "base/base64.h"
#include "base/buf.h"
#include "base/log.h"
#include "net/loop.h"

#define RE_GROUPS 32
#define RE_CACHE_MAX 256

/* ---- base64 (base/base64.c; a userdata is the scratch, so an error
 * raised later leaks nothing) ---- */

static int l_encode_base64(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    bool pad = !lua_toboolean(L, 2);
    char *out = lua_newuserdata(L, BASE64_LEN(n) + 1);
    size_t len = base64_encode(out, s, n, pad);
    lua_pushlstring(L, out, len);
    return 1;
}

/* Returns nil for input that is not base64 (padding optional). */
static int l_decode_base64(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    size_t cap = n / 4 * 3 + 3;
    unsigned char *out = lua_newuserdata(L, cap);
    long len = base64_decode(out, cap, s, n);
    if (len < 0)
        lua_pushnil(L);
    else
        lua_pushlstring(L, (const char *)out, (size_t)len);
    return 1;
}

/* ---- digests ---- */

static int digest(lua_State *L, const EVP_MD *md, bool hex)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!EVP_Digest(s, n, out, &len, md, NULL)) return luaL_error(L, "digest failed");
    if (!hex) {
        lua_pushlstring(L, (const char *)out, len);
        return 1;
    }
    char h[2 * EVP_MAX_MD_SIZE];
    for (unsigned i = 0; i < len; i++)
        snprintf(h + 2 * i, 3, "%02x", out[i]);
    lua_pushlstring(L, h, 2 * len);
    return 1;
}

static int l_sha1_bin(lua_State *L)
{
    return digest(L, EVP_sha1(), false);
}

static int l_md5(lua_State *L)
{
    return digest(L, EVP_md5(), true);
}

static int l_md5_bin(lua_State *L)
{
    return digest(L, EVP_md5(), false);
}

static int l_hmac_sha1(lua_State *L)
{
    size_t kn, n;
    const char *k = luaL_checklstring(L, 1, &kn);
    const char *s = luaL_checklstring(L, 2, &n);
    unsigned char out[EVP_MAX_MD_SIZE];
    unsigned len = 0;
    if (!HMAC(EVP_sha1(), k, (int)kn, (const unsigned char *)s, n, out, &len))
        return luaL_error(L, "hmac failed");
    lua_pushlstring(L, (const char *)out, len);
    return 1;
}

/* ---- time and log ---- */

static int l_now(lua_State *L)
{
    lua_pushnumber(L, (double)(long long)(clock_wall() * 1000.0) / 1000.0);
    return 1;
}

static int l_time(lua_State *L)
{
    lua_pushnumber(L, (double)(long long)clock_wall());
    return 1;
}

static int l_noop(lua_State *L)
{
    return 0;
}

/* ngx.log(level, ...): ngx levels 0-4 are errors, 5 warnings, 6-7 info, 8
 * debug. */
static int l_log(lua_State *L)
{
    int level = (int)luaL_checkinteger(L, 1);
    int n = lua_gettop(L);
    luaL_Buffer b;
    luaL_buffinit(L, &b);
    for (int i = 2; i <= n; i++) {
        lua_getglobal(L, "tostring");
        lua_pushvalue(L, i);
        lua_call(L, 1, 1);
        luaL_addvalue(&b);
    }
    luaL_pushresult(&b);
    enum log_level lv = level <= 4   ? LOG_ERROR
                        : level == 5 ? LOG_WARNING
                        : level <= 7 ? LOG_INFO
                                     : LOG_DEBUG;
    log_msg(lv, "ngx", "%s", lua_tostring(L, -1));
    return 0;
}

/* ---- regular expressions ---- */

typedef struct re {
    regex_t rx;
    int ngroups;        /* groups in the POSIX pattern */
    int map[RE_GROUPS]; /* POSIX group (1-based) -> PCRE capture, 0 = dropped */
    int ncaptures;
    bool ok;
} re_t;

static const char *class_of(char c, bool in_bracket)
{
    switch (c) {
    case 'd':
        return in_bracket ? "0-9" : "[0-9]";
    case 'D':
        return in_bracket ? NULL : "[^0-9]";
    case 's':
        return in_bracket ? "[:space:]" : "[[:space:]]";
    case 'S':
        return in_bracket ? NULL : "[^[:space:]]";
    case 'w':
        return in_bracket ? "[:alnum:]_" : "[[:alnum:]_]";
    case 'W':
        return in_bracket ? NULL : "[^[:alnum:]_]";
    default:
        return NULL;
    }
}

/* PCRE → POSIX ERE into out. Returns NULL or an error message. */
static const char *translate(const char *p, size_t n, buf_t *out, re_t *re)
{
    bool bracket = false;
    int group = 0, capture = 0;
    for (size_t i = 0; i < n; i++) {
        char c = p[i];
        if (c == '\\' && i + 1 < n) {
            char e = p[++i];
            const char *cls = class_of(e, bracket);
            char lit = e == 'n' ? '\n' : e == 'r' ? '\r' : e == 't' ? '\t' : 0;
            if (cls)
                buf_puts(out, cls);
            else if (lit)
                buf_append(out, &lit, 1);
            else if ((e >= 'a' && e <= 'z') || (e >= 'A' && e <= 'Z') || (e >= '0' && e <= '9'))
                return "unsupported escape in regex";
            else if (bracket)
                buf_append(out, &e, 1); /* POSIX brackets have no escapes */
            else {
                buf_append(out, "\\", 1);
                buf_append(out, &e, 1);
            }
            continue;
        }
        if (bracket) {
            if (c == ']') bracket = false;
            buf_append(out, &c, 1);
            continue;
        }
        if (c == '[') {
            bracket = true;
            buf_append(out, &c, 1);
            if (i + 1 < n && p[i + 1] == '^') buf_append(out, &p[++i], 1);
            if (i + 1 < n && p[i + 1] == ']') buf_append(out, &p[++i], 1);
            continue;
        }
        if (c == '(') {
            if (++group > RE_GROUPS - 1) return "too many groups in regex";
            if (i + 2 < n && p[i + 1] == '?') {
                if (p[i + 2] != ':') return "unsupported (?...) construct in regex";
                i += 2;
                re->map[group] = 0;
            } else {
                re->map[group] = ++capture;
            }
        } else if ((c == '?' || c == '+' || c == '*') && i + 1 < n &&
                   (p[i + 1] == '?' || p[i + 1] == '+')) {
            return "lazy and possessive quantifiers are not supported";
        }
        buf_append(out, &c, 1);
    }
    re->ngroups = group;
    re->ncaptures = capture;
    return NULL;
}

static int re_gc(lua_State *L)
{
    re_t *re = lua_touserdata(L, 1);
    if (re->ok) regfree(&re->rx);
    return 0;
}

static char cache_key;

/* The compiled regex for (pattern, options), pushed; or NULL with the
 * error message pushed. */
static re_t *compile(lua_State *L, int pat_idx, const char *opts)
{
    size_t n;
    const char *pat = luaL_checklstring(L, pat_idx, &n);
    bool icase = strchr(opts, 'i') != NULL;
    lua_pushlightuserdata(L, &cache_key);
    lua_rawget(L, LUA_REGISTRYINDEX); /* the cache */
    lua_pushstring(L, icase ? "i/" : "/");
    lua_pushvalue(L, pat_idx);
    lua_concat(L, 2);
    lua_pushvalue(L, -1);
    lua_rawget(L, -3);
    if (lua_isuserdata(L, -1)) {
        lua_replace(L, -3);
        lua_pop(L, 1);
        return lua_touserdata(L, -1);
    }
    lua_pop(L, 1); /* cache, key */
    re_t *re = lua_newuserdata(L, sizeof *re);
    memset(re, 0, sizeof *re);
    lua_createtable(L, 0, 1);
    lua_pushcfunction(L, re_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    buf_t ere = {0};
    const char *err = translate(pat, n, &ere, re);
    char msg[256];
    if (err == NULL) {
        int rc = regcomp(&re->rx, ere.p ? ere.p : "", REG_EXTENDED | (icase ? REG_ICASE : 0));
        if (rc != 0) {
            regerror(rc, &re->rx, msg, sizeof msg);
            err = msg;
        } else {
            re->ok = true;
        }
    }
    buf_free(&ere);
    if (err) {
        lua_pop(L, 3);
        lua_pushfstring(L, "failed to compile regex \"%s\": %s", pat, err);
        return NULL;
    }
    lua_getfield(L, -3, "n"); /* entries so far: keys all start with "/" or "i/" */
    lua_Number count = lua_tonumber(L, -1);
    lua_pop(L, 1);
    if (count < RE_CACHE_MAX) { /* a bound for scenarios that build patterns */
        lua_pushnumber(L, count + 1);
        lua_setfield(L, -4, "n");
        lua_pushvalue(L, -2);
        lua_pushvalue(L, -2);
        lua_rawset(L, -5);
    }
    lua_replace(L, -3);
    lua_pop(L, 1);
    return re;
}

/* Run re on the subject from ctx.pos. Returns true on a match, with m
 * filled in subject offsets. */
static bool run(lua_State *L, re_t *re, const char *s, size_t n, int ctx, regmatch_t *m)
{
    size_t pos = 0;
    if (ctx) {
        lua_getfield(L, ctx, "pos");
        lua_Number p = lua_tonumber(L, -1);
        lua_pop(L, 1);
        if (p > 1) pos = (size_t)p - 1;
    }
    if (pos > n) return false;
    m[0].rm_so = (regoff_t)pos;
    m[0].rm_eo = (regoff_t)n;
    if (regexec(&re->rx, s, RE_GROUPS, m, REG_STARTEND | (pos ? REG_NOTBOL : 0)) != 0) return false;
    if (ctx) {
        lua_pushinteger(L, (lua_Integer)m[0].rm_eo + 1);
        lua_setfield(L, ctx, "pos");
    }
    return true;
}

/* ngx.re.match(subject, regex, options?, ctx?) → captures or nil (nil, err
 * for a bad regex). Unmatched captures are false. */
static int l_re_match(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *opts = luaL_optstring(L, 3, "");
    int ctx = lua_istable(L, 4) ? 4 : 0;
    re_t *re = compile(L, 2, opts);
    if (re == NULL) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    regmatch_t m[RE_GROUPS];
    if (!run(L, re, s, n, ctx, m)) {
        lua_pushnil(L);
        return 1;
    }
    lua_createtable(L, re->ncaptures, 1);
    lua_pushlstring(L, s + m[0].rm_so, (size_t)(m[0].rm_eo - m[0].rm_so));
    lua_rawseti(L, -2, 0);
    for (int g = 1; g <= re->ngroups; g++) {
        if (re->map[g] == 0) continue;
        if (m[g].rm_so < 0)
            lua_pushboolean(L, 0);
        else
            lua_pushlstring(L, s + m[g].rm_so, (size_t)(m[g].rm_eo - m[g].rm_so));
        lua_rawseti(L, -2, re->map[g]);
    }
    return 1;
}

/* ngx.re.find(subject, regex, options?, ctx?, nth?) → from, to (1-based). */
static int l_re_find(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    const char *opts = luaL_optstring(L, 3, "");
    int ctx = lua_istable(L, 4) ? 4 : 0;
    int nth = (int)luaL_optinteger(L, 5, 0);
    re_t *re = compile(L, 2, opts);
    if (re == NULL) {
        lua_pushnil(L);
        lua_insert(L, -2);
        return 2;
    }
    regmatch_t m[RE_GROUPS];
    int g = 0;
    for (int k = 1; nth > 0 && k <= re->ngroups; k++)
        if (re->map[k] == nth) g = k;
    if (!run(L, re, s, n, ctx, m) || (nth > 0 && (g == 0 || m[g].rm_so < 0))) {
        lua_pushnil(L);
        return 1;
    }
    lua_pushinteger(L, (lua_Integer)m[g].rm_so + 1);
    lua_pushinteger(L, (lua_Integer)m[g].rm_eo);
    return 2;
}

/* ---- registration ---- */

void ngx_open(lua_State *L)
{
    static const luaL_Reg fns[] = {{"encode_base64", l_encode_base64},
                                   {"decode_base64", l_decode_base64},
                                   {"sha1_bin", l_sha1_bin},
                                   {"md5", l_md5},
                                   {"md5_bin", l_md5_bin},
                                   {"hmac_sha1", l_hmac_sha1},
                                   {"now", l_now},
                                   {"time", l_time},
                                   {"update_time", l_noop},
                                   {"log", l_log},
                                   {NULL, NULL}};
    static const struct {
        const char *name;
        int level;
    } levels[] = {{"STDERR", 0}, {"EMERG", 1},  {"ALERT", 2}, {"CRIT", 3}, {"ERR", 4},
                  {"WARN", 5},   {"NOTICE", 6}, {"INFO", 7},  {"DEBUG", 8}};
    lua_pushlightuserdata(L, &cache_key);
    lua_newtable(L);
    lua_rawset(L, LUA_REGISTRYINDEX);

    lua_newtable(L);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    for (size_t i = 0; i < sizeof levels / sizeof *levels; i++) {
        lua_pushinteger(L, levels[i].level);
        lua_setfield(L, -2, levels[i].name);
    }
    lua_newtable(L);
    lua_pushcfunction(L, l_re_match);
    lua_setfield(L, -2, "match");
    lua_pushcfunction(L, l_re_find);
    lua_setfield(L, -2, "find");
    lua_setfield(L, -2, "re");
    lua_setglobal(L, "ngx");
}
