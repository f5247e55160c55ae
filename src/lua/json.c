/* json: see json.h. Encoding writes text directly (no cJSON tree); decoding
 * parses with cJSON and walks the tree into Lua tables. */
#include "lua/json.h"

#include <cJSON.h>
#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>

#define MAX_DEPTH 64

static void put_string(buf_t *out, const char *s, size_t n)
{
    buf_append(out, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        unsigned char ch = (unsigned char)s[i];
        switch (ch) {
        case '"': buf_append(out, "\\\"", 2); break;
        case '\\': buf_append(out, "\\\\", 2); break;
        case '\n': buf_append(out, "\\n", 2); break;
        case '\r': buf_append(out, "\\r", 2); break;
        case '\t': buf_append(out, "\\t", 2); break;
        default:
            if (ch < 0x20) buf_printf(out, "\\u%04x", ch);
            else buf_append(out, &s[i], 1);
        }
    }
    buf_append(out, "\"", 1);
}

/* Is the table at idx a sequence 1..n (n > 0) with no other keys? */
static size_t array_len(lua_State *L, int idx)
{
    size_t n = 0, max = 0;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        if (lua_type(L, -1) != LUA_TNUMBER) {
            lua_pop(L, 1);
            return 0;
        }
        double k = lua_tonumber(L, -1);
        if (k < 1 || floor(k) != k) {
            lua_pop(L, 1);
            return 0;
        }
        if ((size_t)k > max) max = (size_t)k;
        n++;
    }
    return n == max ? n : 0;
}

static int encode(lua_State *L, int idx, buf_t *out, int depth, char *err, size_t n)
{
    if (idx < 0) idx = lua_gettop(L) + idx + 1;
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
        buf_puts(out, "null");
        return 0;
    case LUA_TBOOLEAN:
        buf_puts(out, lua_toboolean(L, idx) ? "true" : "false");
        return 0;
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, idx);
        if (!isfinite(d)) {
            snprintf(err, n, "cannot encode %g as JSON", d);
            return -1;
        }
        if (d == floor(d) && fabs(d) < 1e15) buf_printf(out, "%.0f", d);
        else buf_printf(out, "%.17g", d);
        return 0;
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        put_string(out, s, len);
        return 0;
    }
    case LUA_TLIGHTUSERDATA:
        buf_puts(out, "null");
        return 0;
    case LUA_TTABLE:
        break;
    default:
        snprintf(err, n, "cannot encode a %s as JSON", luaL_typename(L, idx));
        return -1;
    }
    if (depth > MAX_DEPTH) {
        snprintf(err, n, "JSON nesting deeper than %d (a cycle?)", MAX_DEPTH);
        return -1;
    }
    size_t alen = array_len(L, idx);
    if (alen > 0) {
        buf_append(out, "[", 1);
        for (size_t i = 1; i <= alen; i++) {
            if (i > 1) buf_append(out, ",", 1);
            lua_rawgeti(L, idx, (int)i);
            int rc = encode(L, -1, out, depth + 1, err, n);
            lua_pop(L, 1);
            if (rc) return rc;
        }
        buf_append(out, "]", 1);
        return 0;
    }
    buf_append(out, "{", 1);
    bool first = true;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if (kt != LUA_TSTRING && kt != LUA_TNUMBER) {
            lua_pop(L, 1);
            continue;
        }
        if (!first) buf_append(out, ",", 1);
        first = false;
        lua_pushvalue(L, -2); /* tostring on a copy: lua_next needs the key intact */
        size_t klen;
        const char *k = lua_tolstring(L, -1, &klen);
        put_string(out, k, klen);
        lua_pop(L, 1);
        buf_append(out, ":", 1);
        int rc = encode(L, -1, out, depth + 1, err, n);
        lua_pop(L, 1);
        if (rc) {
            lua_pop(L, 1);
            return rc;
        }
    }
    buf_append(out, "}", 1);
    return 0;
}

int json_encode(lua_State *L, int idx, buf_t *out, char *err, size_t n)
{
    return encode(L, idx, out, 0, err, n);
}

static void push(lua_State *L, const cJSON *j, int depth)
{
    luaL_checkstack(L, 4, "JSON too deep");
    if (cJSON_IsObject(j)) {
        lua_createtable(L, 0, 4);
        for (const cJSON *c = j->child; c; c = c->next) {
            if (cJSON_IsNull(c)) continue;
            push(L, c, depth + 1);
            lua_setfield(L, -2, c->string);
        }
    } else if (cJSON_IsArray(j)) {
        lua_createtable(L, cJSON_GetArraySize(j), 0);
        int i = 1;
        for (const cJSON *c = j->child; c; c = c->next, i++) {
            push(L, c, depth + 1);
            lua_rawseti(L, -2, i);
        }
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
    push(L, j, 0);
    cJSON_Delete(j);
    return 0;
}
