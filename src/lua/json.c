/* json: see json.h. Encoding writes text directly (no cJSON tree): a walk
 * of the Lua value that appends to the caller's buffer, objects' keys
 * sorted so that a table always gives the same text. Decoding parses with
 * cJSON and walks the tree into Lua tables. An error while encoding
 * unwinds the walk, each level putting its key in front of the path in the
 * message ("at $.items[2].price"), so the common case pays nothing for
 * it. */
#include "lua/json.h"

#include <cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

#define MAX_DEPTH 64
#define ARRAY_MT "cicada.json.array" /* registry name of the array marker */

typedef struct enc {
    lua_State *L;
    buf_t *out;
    char *err;
    size_t errn;
    char path[160]; /* where the error is, built while unwinding */
} enc_t;

static void put_string(buf_t *out, const char *s, size_t n)
{
    buf_append(out, "\"", 1);
    size_t run = 0; /* bytes copied as they are, appended in one go */
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        if (ch >= 0x20 && ch != '"' && ch != '\\') continue;
        buf_append(out, s + run, i - run);
        run = i + 1;
        switch (ch) {
        case '"':
            buf_append(out, "\\\"", 2);
            break;
        case '\\':
            buf_append(out, "\\\\", 2);
            break;
        case '\n':
            buf_append(out, "\\n", 2);
            break;
        case '\r':
            buf_append(out, "\\r", 2);
            break;
        case '\t':
            buf_append(out, "\\t", 2);
            break;
        default:
            buf_printf(out, "\\u%04x", ch);
        }
    }
    buf_append(out, s + run, n - run);
    buf_append(out, "\"", 1);
}

/* Put seg in front of the error's path (unwinding: innermost first). */
static void prepend(enc_t *e, const char *seg)
{
    size_t have = strlen(e->path), n = strlen(seg);
    if (have + n + 1 > sizeof e->path) return; /* too long: keep the inner part */
    memmove(e->path + n, e->path, have + 1);
    memcpy(e->path, seg, n);
}

static int fail(enc_t *e, const char *msg)
{
    snprintf(e->err, e->errn, "%s", msg);
    e->path[0] = '\0';
    return -1;
}

/* Integers below 2^53 as integers; other numbers in the fewest digits
 * that read back as the same double. Returns the length written to s. */
static size_t fmt_number(char *s, size_t n, double d)
{
    if (d == floor(d) && fabs(d) < 9007199254740992.0 && n >= 24) {
        /* digits by hand: printf's %.0f is most of an integer's cost */
        long long v = (long long)d;
        unsigned long long u = v < 0 ? -(unsigned long long)v : (unsigned long long)v;
        char t[24];
        size_t k = 0, len = 0;
        do
            t[k++] = (char)('0' + u % 10);
        while ((u /= 10) != 0);
        if (v < 0 || (v == 0 && signbit(d))) s[len++] = '-';
        while (k)
            s[len++] = t[--k];
        s[len] = '\0';
        return len;
    }
    int len = 0;
    for (int prec = 15; prec <= 17; prec++) {
        len = snprintf(s, n, "%.*g", prec, d);
        if (strtod(s, NULL) == d) break;
    }
    return (size_t)len;
}

static void put_number(buf_t *out, double d)
{
    char s[32];
    buf_append(out, s, fmt_number(s, sizeof s, d));
}

/* Is the table at idx marked with cicada.json.array? */
static bool marked_array(lua_State *L, int idx)
{
    if (!lua_getmetatable(L, idx)) return false;
    luaL_getmetatable(L, ARRAY_MT);
    bool yes = lua_rawequal(L, -1, -2);
    lua_pop(L, 2);
    return yes;
}

/* The largest positive integer key of the table at idx if all its keys
 * are such (0 for an empty table); -1 if it has any other key. *count
 * gets the number of keys. */
static long int_keys(lua_State *L, int idx, size_t *count)
{
    long max = 0;
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        n++;
        double k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (k < 1 || floor(k) != k || k > 1e9)
            max = -1;
        else if (max >= 0 && (long)k > max)
            max = (long)k;
    }
    *count = n;
    return max;
}

static int encode(enc_t *e, int idx, int depth);

static int encode_array(enc_t *e, int idx, long n, int depth)
{
    lua_State *L = e->L;
    buf_append(e->out, "[", 1);
    for (long i = 1; i <= n; i++) {
        if (i > 1) buf_append(e->out, ",", 1);
        lua_rawgeti(L, idx, (int)i);
        int rc = encode(e, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        if (rc) {
            char seg[24];
            snprintf(seg, sizeof seg, "[%ld]", i);
            prepend(e, seg);
            return rc;
        }
    }
    buf_append(e->out, "]", 1);
    return 0;
}

typedef struct jkey {
    const char *s; /* a string key: the table's own string anchors it */
    size_t n;
    double d;     /* a number key (NAN for a string key) ... */
    char num[32]; /* ... and its text */
} jkey_t;

static inline const char *key_text(const jkey_t *k)
{
    return isnan(k->d) ? k->s : k->num; /* never a pointer into an entry: qsort moves them */
}

static int by_key(const void *a, const void *b)
{
    const jkey_t *x = a, *y = b;
    int c = memcmp(key_text(x), key_text(y), x->n < y->n ? x->n : y->n);
    return c ? c : (x->n > y->n) - (x->n < y->n);
}

/* The object at idx with count keys: its keys gathered in a C array
 * (string keys point at the table's own strings, number keys are
 * formatted into the array: nothing is allocated in Lua), sorted by their
 * bytes, then each value encoded. */
static int encode_object(enc_t *e, int idx, size_t count, int depth)
{
    lua_State *L = e->L;
    jkey_t small[16], *keys = count <= 16 ? small : xmalloc(count * sizeof *keys);
    int rc = 0;
    size_t n = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        jkey_t *k = &keys[n];
        if (lua_type(L, -1) == LUA_TSTRING) {
            k->s = lua_tolstring(L, -1, &k->n);
            k->d = NAN;
        } else if (lua_type(L, -1) == LUA_TNUMBER) {
            k->d = lua_tonumber(L, -1);
            k->n = fmt_number(k->num, sizeof k->num, k->d);
        } else {
            char msg[96];
            snprintf(msg, sizeof msg,
                     "cannot encode a table key of type %s (keys are strings or numbers)",
                     luaL_typename(L, -1));
            lua_pop(L, 1);
            rc = fail(e, msg);
            goto out;
        }
        n++;
    }
    qsort(keys, n, sizeof *keys, by_key);
    buf_append(e->out, "{", 1);
    for (size_t i = 0; i < n; i++) {
        const jkey_t *k = &keys[i];
        const char *ks = key_text(k);
        if (i) buf_append(e->out, ",", 1);
        put_string(e->out, ks, k->n);
        buf_append(e->out, ":", 1);
        if (isnan(k->d))
            lua_pushlstring(L, ks, k->n); /* interned already: no allocation */
        else
            lua_pushnumber(L, k->d);
        lua_rawget(L, idx);
        rc = encode(e, lua_gettop(L), depth + 1);
        lua_pop(L, 1);
        if (rc) {
            char seg[48];
            snprintf(seg, sizeof seg, ".%.*s%s", k->n > 40 ? 40 : (int)k->n, ks,
                     k->n > 40 ? "..." : "");
            prepend(e, seg);
            goto out;
        }
    }
    buf_append(e->out, "}", 1);
out:
    if (keys != small) xfree(keys);
    return rc;
}

static int encode(enc_t *e, int idx, int depth)
{
    lua_State *L = e->L;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        buf_puts(e->out, "null");
        return 0;
    case LUA_TBOOLEAN:
        buf_puts(e->out, lua_toboolean(L, idx) ? "true" : "false");
        return 0;
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d))
            return fail(e, isnan(d) ? "cannot encode NaN (JSON has no NaN)"
                                    : "cannot encode an infinite number (JSON has no inf)");
        put_number(e->out, d);
        return 0;
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        put_string(e->out, s, len);
        return 0;
    }
    case LUA_TLIGHTUSERDATA: /* cicada.null (ngx.null) */
        if (lua_touserdata(L, idx) == NULL) {
            buf_puts(e->out, "null");
            return 0;
        }
        break;
    case LUA_TTABLE:
        break;
    default:
        break;
    }
    if (lua_type(L, idx) != LUA_TTABLE) {
        char msg[64];
        snprintf(msg, sizeof msg, "cannot encode a %s", luaL_typename(L, idx));
        return fail(e, msg);
    }
    if (depth >= MAX_DEPTH) {
        char msg[80];
        snprintf(msg, sizeof msg, "tables nested more than %d deep (a cycle?)", MAX_DEPTH);
        return fail(e, msg);
    }
    luaL_checkstack(L, 8, "JSON too deep");
    size_t count;
    long max = int_keys(L, idx, &count);
    bool arr = marked_array(L, idx);
    if (arr && max < 0)
        return fail(e, "a table marked cicada.json.array has a key that is not 1..n");
    /* a sequence 1..n, or a marked array (holes become null) */
    if (arr || (count > 0 && max == (long)count)) return encode_array(e, idx, max, depth);
    return encode_object(e, idx, count, depth);
}

int json_encode(lua_State *L, int idx, buf_t *out, char *err, size_t n)
{
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    enc_t e = {.L = L, .out = out, .err = err, .errn = n};
    int rc = encode(&e, idx, 0);
    if (rc && e.path[0]) {
        size_t len = strlen(err);
        snprintf(err + len, n > len ? n - len : 0, " at $%s", e.path);
    }
    return rc;
}

static void push(lua_State *L, const cJSON *j)
{
    luaL_checkstack(L, 4, "JSON too deep");
    if (cJSON_IsObject(j)) {
        lua_createtable(L, 0, 4);
        for (const cJSON *c = j->child; c; c = c->next) {
            if (cJSON_IsNull(c)) continue;
            push(L, c);
            lua_setfield(L, -2, c->string);
        }
    } else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        int i = 1;
        for (const cJSON *c = j->child; c; c = c->next, i++) {
            push(L, c);
            lua_rawseti(L, -2, i);
        }
        /* marked, so that [] encodes back as [] (nothing when json_open
         * has not run, as in some unit tests) */
        luaL_getmetatable(L, ARRAY_MT);
        if (lua_istable(L, -1))
            lua_setmetatable(L, -2);
        else
            lua_pop(L, 1);
    } else if (cJSON_IsString(j)) {
        lua_pushstring(L, j->valuestring);
    } else if (cJSON_IsNumber(j)) {
        lua_pushnumber(L, j->valuedouble);
    } else if (cJSON_IsBool(j)) {
        lua_pushboolean(L, cJSON_IsTrue(j));
    } else {
        lua_pushlightuserdata(L, NULL);
    }
}

int json_decode(lua_State *L, const char *s, size_t n, char *err, size_t errn)
{
    const char *end = NULL;
    cJSON *j = cJSON_ParseWithLengthOpts(s, n, &end, 0);
    if (j == NULL) {
        size_t at = end && end >= s ? (size_t)(end - s) : 0;
        snprintf(err, errn, "invalid JSON at byte %zu", at);
        return -1;
    }
    /* cJSON stops after the value: what follows may only be white space
     * (Python's json.loads: "Extra data") */
    size_t at = end && end >= s ? (size_t)(end - s) : n;
    while (at < n && (s[at] == ' ' || s[at] == '\t' || s[at] == '\n' || s[at] == '\r'))
        at++;
    if (at < n) {
        cJSON_Delete(j);
        snprintf(err, errn, "invalid JSON at byte %zu (extra data after the value)", at);
        return -1;
    }
    push(L, j);
    cJSON_Delete(j);
    return 0;
}

/* ---- cicada.json ---- */

static int l_encode(lua_State *L)
{
    luaL_checkany(L, 1);
    buf_t out = {0};
    char err[256];
    lua_settop(L, 1);
    if (json_encode(L, 1, &out, err, sizeof err) != 0) {
        buf_free(&out);
        return luaL_error(L, "cicada.json.encode: %s", err);
    }
    lua_pushlstring(L, out.p ? out.p : "", out.len);
    buf_free(&out);
    return 1;
}

static int l_decode(lua_State *L)
{
    size_t n;
    const char *s = luaL_checklstring(L, 1, &n);
    char err[128];
    if (json_decode(L, s, n, err, sizeof err) != 0)
        return luaL_error(L, "cicada.json.decode: %s", err);
    return 1;
}

/* cicada.json.array(t): mark t (a new table if none) as a JSON array. */
static int l_array(lua_State *L)
{
    if (lua_isnoneornil(L, 1)) {
        lua_settop(L, 0);
        lua_newtable(L);
    }
    luaL_checktype(L, 1, LUA_TTABLE);
    lua_settop(L, 1);
    luaL_getmetatable(L, ARRAY_MT);
    lua_setmetatable(L, 1);
    return 1;
}

void json_open(lua_State *L)
{
    luaL_newmetatable(L, ARRAY_MT);
    lua_pushliteral(L, "array");
    lua_setfield(L, -2, "__jsontype"); /* lua-cjson and dkjson read this field */
    lua_pop(L, 1);
    lua_createtable(L, 0, 4);
    static const luaL_Reg fns[] = {
        {"encode", l_encode}, {"decode", l_decode}, {"array", l_array}, {NULL, NULL}};
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_pushlightuserdata(L, NULL);
    lua_setfield(L, -2, "null");
    lua_setfield(L, -2, "json");
}
