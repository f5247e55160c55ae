/* form: see form.h. Values are read with tostring() semantics (numbers
 * and booleans as Lua prints them); encoding goes straight into the
 * caller's buffer, sized by url_encode, so no value is ever truncated. */
#include "lua/form.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "base/base64.h"
#include "http/url.h"
#include "lua/api.h"

/* Append s url-encoded to b. */
static void encode(buf_t *b, const char *s, size_t n)
{
    size_t need = url_encode(s, n, NULL, 0);
    buf_reserve(b, need + 1);
    url_encode(s, n, b->p + b->len, need + 1);
    b->len += need;
}

static void pair(buf_t *b, char *sep, const char *k, size_t kl, const char *v, size_t vl)
{
    if (*sep) buf_append(b, sep, 1);
    *sep = '&';
    encode(b, k, kl);
    buf_append(b, "=", 1);
    encode(b, v, vl);
}

void form_pairs(lua_State *L, int idx, buf_t *b, char *sep)
{
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int kt = lua_type(L, -2);
        if (kt == LUA_TSTRING || kt == LUA_TNUMBER) {
            lua_pushvalue(L, -2); /* a copy: tolstring must not convert the key in place */
            size_t kl, vl;
            const char *k = lua_tolstring(L, -1, &kl);
            if (lua_istable(L, -2)) { /* a list: repeat the key */
                for (int i = 1;; i++) {
                    lua_rawgeti(L, -2, i);
                    if (lua_isnil(L, -1)) {
                        lua_pop(L, 1);
                        break;
                    }
                    const char *v = api_tostr(L, -1, &vl);
                    pair(b, sep, k, kl, v, vl);
                    lua_pop(L, 2);
                }
            } else {
                const char *v = api_tostr(L, -2, &vl);
                pair(b, sep, k, kl, v, vl);
                lua_pop(L, 1);
            }
            lua_pop(L, 1);
        }
        lua_pop(L, 1);
    }
}

/* A quoted parameter of Content-Disposition ("name", "filename"). */
static void quoted(buf_t *b, const char *s, size_t n)
{
    buf_append(b, "\"", 1);
    for (size_t i = 0; i < n; i++) {
        if (s[i] == '"')
            buf_puts(b, "%22");
        else if (s[i] == '\r' || s[i] == '\n')
            buf_puts(b, s[i] == '\r' ? "%0D" : "%0A");
        else
            buf_append(b, s + i, 1);
    }
    buf_append(b, "\"", 1);
}

static void part_head(buf_t *b, const char *boundary, const char *name, size_t nl)
{
    buf_puts(b, "--");
    buf_puts(b, boundary);
    buf_puts(b, "\r\nContent-Disposition: form-data; name=");
    quoted(b, name, nl);
}

/* The field of a file spec at idx: by name, or by position in a list. */
static const char *file_field(lua_State *L, int idx, const char *name, int pos, size_t *n)
{
    lua_getfield(L, idx, name);
    if (lua_isnil(L, -1)) {
        lua_pop(L, 1);
        lua_rawgeti(L, idx, pos);
    }
    return lua_isnil(L, -1) ? NULL : api_tostr(L, -1, n);
}

void form_multipart(lua_State *L, int data, int files, buf_t *b, const char *boundary)
{
    if (data) {
        lua_pushnil(L);
        while (lua_next(L, data)) {
            lua_pushvalue(L, -2);
            size_t kl, vl;
            const char *k = lua_tolstring(L, -1, &kl);
            if (k && lua_istable(L, -2)) {
                for (int i = 1;; i++) {
                    lua_rawgeti(L, -2, i);
                    if (lua_isnil(L, -1)) {
                        lua_pop(L, 1);
                        break;
                    }
                    const char *v = api_tostr(L, -1, &vl);
                    part_head(b, boundary, k, kl);
                    buf_puts(b, "\r\n\r\n");
                    buf_append(b, v, vl);
                    buf_puts(b, "\r\n");
                    lua_pop(L, 2);
                }
            } else if (k) {
                const char *v = api_tostr(L, -2, &vl);
                part_head(b, boundary, k, kl);
                buf_puts(b, "\r\n\r\n");
                buf_append(b, v, vl);
                buf_puts(b, "\r\n");
                lua_pop(L, 1);
            }
            lua_pop(L, 2);
        }
    }
    lua_pushnil(L);
    while (lua_next(L, files)) {
        int top = lua_gettop(L); /* value at top, key below */
        lua_pushvalue(L, -2);
        size_t kl, fl = 0, cl = 0, tl = 0;
        const char *k = lua_tolstring(L, -1, &kl);
        const char *fname = k, *content = NULL, *ctype = NULL;
        fl = kl;
        if (lua_istable(L, top)) {
            const char *f = file_field(L, top, "filename", 1, &fl);
            if (f)
                fname = f;
            else
                fl = kl;
            content = file_field(L, top, "content", 2, &cl);
            ctype = file_field(L, top, "content_type", 3, &tl);
        } else if (lua_isstring(L, top)) {
            content = lua_tolstring(L, top, &cl);
        }
        if (content == NULL) luaL_error(L, "files: '%s' has no content", k ? k : "?");
        part_head(b, boundary, k, kl);
        buf_puts(b, "; filename=");
        quoted(b, fname, fl);
        buf_puts(b, "\r\nContent-Type: ");
        if (ctype)
            buf_append(b, ctype, tl);
        else
            buf_puts(b, "application/octet-stream");
        buf_puts(b, "\r\n\r\n");
        buf_append(b, content, cl);
        buf_puts(b, "\r\n");
        lua_settop(L, top - 1); /* the key, for lua_next */
    }
    buf_puts(b, "--");
    buf_puts(b, boundary);
    buf_puts(b, "--\r\n");
}
