/* proxies: see proxies.h.
 *
 * Reading costs one raw lookup on the client table for a scenario that
 * names no proxy (`proxies`, with the key string kept in the registry, and
 * `trust_env` only when the environment has proxies); keys and URLs are copied into the map's
 * buffer, which is reused, so that the map outlives the Lua values for the redirects of the same
 * request. */
#include "lua/proxies.h"

#include <lauxlib.h>
#include <lua.h>
#include <stdbool.h>
#include <string.h>

#include "lua/api.h"

/* The keys and values of the table at idx into m at level. */
static const char *read_table(lua_State *L, int idx, int level, const char *where, proxy_map_t *m,
                              char *err, size_t n)
{
    if (!lua_istable(L, idx))
        luaL_error(L, "%s: a table of scheme = proxy URL expected, got %s", where,
                   api_tostr(L, idx, NULL));
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        if (lua_type(L, -2) != LUA_TSTRING)
            luaL_error(L,
                       "%s: keys are schemes (\"http\", \"https\", \"all\", "
                       "\"https://host\") or no_proxy",
                       where);
        size_t kl, ul = 0;
        const char *k = lua_tolstring(L, -2, &kl), *u = NULL;
        if (lua_type(L, -1) == LUA_TSTRING)
            u = lua_tolstring(L, -1, &ul);
        else if (!(lua_isboolean(L, -1) && !lua_toboolean(L, -1)))
            luaL_error(L, "%s.%s: a proxy URL or false expected, got %s", where, k,
                       api_tostr(L, lua_gettop(L), NULL));
        if (proxy_map_add(m, level, k, kl, u, ul, err, n) != 0) {
            lua_pop(L, 2);
            return err;
        }
        lua_pop(L, 1);
    }
    return NULL;
}

/* The request's `proxy` option at slot one into m. */
static const char *read_one(lua_State *L, int one, proxy_map_t *m, char *err, size_t n)
{
    size_t ul = 0;
    const char *u = NULL;
    if (lua_type(L, one) == LUA_TSTRING)
        u = lua_tolstring(L, one, &ul);
    else if (!(lua_isboolean(L, one) && !lua_toboolean(L, one)))
        luaL_error(L, "proxy: a proxy URL or false expected, got %s", api_tostr(L, one, NULL));
    if (u == NULL || ul == 0) m->ignore_env = true; /* proxy = false: direct */
    /* {http = u, https = u}, requests' idiom: over the client's schemes too */
    if (proxy_map_add(m, PROXY_REQUEST, "http", 4, u, ul, err, n) ||
        proxy_map_add(m, PROXY_REQUEST, "https", 5, u, ul, err, n))
        return err;
    return NULL;
}

const char *proxies_read(lua_State *L, int *key, bool opts, int tbl, int one, proxy_map_t *m,
                         char *err, size_t n)
{
    const char *e = NULL;
    proxy_map_reset(m);
    if (opts) { /* the options' slots are all nil without an options table */
        if (!lua_isnil(L, tbl)) e = read_table(L, tbl, PROXY_REQUEST, "proxies", m, err, n);
        if (e == NULL && !lua_isnil(L, one)) e = read_one(L, one, m, err, n);
    }
    if (*key == 0) { /* the key, interned once: pushing it again costs less than a lookup */
        lua_pushliteral(L, "proxies");
        *key = luaL_ref(L, LUA_REGISTRYINDEX);
    }
    lua_rawgeti(L, LUA_REGISTRYINDEX, *key);
    lua_rawget(L, 1);
    if (!lua_isnil(L, -1) && e == NULL)
        e = read_table(L, lua_gettop(L), PROXY_CLIENT, "client.proxies", m, err, n);
    lua_pop(L, 1);
    if (proxy_env()->n) {
        lua_pushliteral(L, "trust_env");
        lua_rawget(L, 1);
        if (lua_isboolean(L, -1) && !lua_toboolean(L, -1)) m->ignore_env = true;
        lua_pop(L, 1);
    }
    return e;
}
