/* msg: custom messages, the scenario's side. See msg.h.
 *
 * Lua to msgpack: nil and cicada.null are nil, booleans bool, a number with
 * an integral value that fits int64 an int (Python gets an int), other
 * numbers float64, a string str when it is valid UTF-8 and bin otherwise
 * (Python's msgpack refuses a str that is not UTF-8), a table whose keys are
 * exactly 1..n an array (the empty table too: Python's []), any other table
 * a map with string, number or boolean keys. Functions, coroutines and
 * userdata cannot travel: send_message raises an error naming where in the
 * data the value sits, as it does for tables nested deeper than
 * MSG_MAX_DEPTH (a cycle ends there too). msgpack to Lua is the reverse;
 * a nil inside an array or map becomes cicada.null so that the element
 * (or key) is kept, ext values become cicada.null too.
 *
 * A message is encoded once into a buffer freed before send_message
 * returns; the sink copies what it keeps. */
#include "lua/msg.h"

#include <lauxlib.h>
#include <lua.h>
#include <math.h>
#include <msgpack.h>
#include <pthread.h>
#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "base/log.h"
#include "base/utf8.h"
#include "engine/engine.h"

#define MSG_MAX_DEPTH 30 /* below msgpack-c's unpacking limit of 32 */
#define MSG_MAX_NAMES 256
#define MSG_FEW_CLIENTS 64 /* cicada.workers() allocates only past this many */

static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static char names[MSG_MAX_NAMES][MSG_MAX_NAME + 1];
static int nnames;
static msg_sink_t sink;
static bool has_sink;
static const char *role = "local";

void msg_set_sink(const msg_sink_t *s)
{
    pthread_mutex_lock(&lock);
    has_sink = s != NULL;
    if (s) sink = *s;
    pthread_mutex_unlock(&lock);
}

void msg_set_role(const char *r)
{
    role = r;
}

bool msg_registered(const char *name)
{
    bool found = false;
    pthread_mutex_lock(&lock);
    for (int i = 0; i < nnames && !found; i++)
        found = strcmp(names[i], name) == 0;
    pthread_mutex_unlock(&lock);
    return found;
}

/* ---- Lua to msgpack ---- */

/* Is the table at idx a sequence 1..n (n may be 0)? Sets *n to its size. */
static bool is_array(lua_State *L, int idx, size_t *n)
{
    size_t count = 0;
    double max = 0;
    bool ok = true;
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        lua_pop(L, 1);
        double k = lua_type(L, -1) == LUA_TNUMBER ? lua_tonumber(L, -1) : 0;
        if (k < 1 || k != floor(k)) ok = false;
        if (k > max) max = k;
        count++;
    }
    *n = count;
    return ok && max == (double)count;
}

static int pack(lua_State *L, int idx, msgpack_packer *pk, int depth, char *path, size_t plen);

/* Append to path (size 256) what leads to the value at the top: a key. */
static size_t path_add(lua_State *L, int kidx, char *path, size_t plen)
{
    size_t room = 256 - plen;
    int w;
    if (lua_type(L, kidx) == LUA_TNUMBER)
        w = snprintf(path + plen, room, "[%.14g]", lua_tonumber(L, kidx));
    else if (lua_type(L, kidx) == LUA_TSTRING)
        w = snprintf(path + plen, room, ".%s", lua_tostring(L, kidx));
    else
        w = snprintf(path + plen, room, "[%s]", lua_typename(L, lua_type(L, kidx)));
    return w < 0 ? plen : plen + ((size_t)w < room ? (size_t)w : room - 1);
}

static int pack_table(lua_State *L, int idx, msgpack_packer *pk, int depth, char *path, size_t plen)
{
    if (depth >= MSG_MAX_DEPTH) {
        snprintf(path + plen, 256 - plen, " (tables nested more than %d deep, or a cycle)",
                 MSG_MAX_DEPTH);
        return -1;
    }
    luaL_checkstack(L, 8, "send_message");
    size_t n;
    if (is_array(L, idx, &n)) {
        msgpack_pack_array(pk, n);
        for (size_t i = 1; i <= n; i++) {
            lua_rawgeti(L, idx, (int)i);
            lua_pushnumber(L, (double)i);
            size_t p2 = path_add(L, -1, path, plen);
            lua_pop(L, 1);
            int rc = pack(L, lua_gettop(L), pk, depth + 1, path, p2);
            lua_pop(L, 1);
            if (rc) return rc;
            path[plen] = '\0';
        }
        return 0;
    }
    msgpack_pack_map(pk, n);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        int k = lua_gettop(L) - 1;
        int kt = lua_type(L, k);
        size_t p2 = path_add(L, k, path, plen);
        if (kt != LUA_TSTRING && kt != LUA_TNUMBER && kt != LUA_TBOOLEAN) {
            snprintf(path + p2, 256 - p2, " (a %s key)", lua_typename(L, kt));
            lua_pop(L, 2);
            return -1;
        }
        /* a copy of the key: lua_tolstring on a number key would change
         * it and confuse lua_next */
        lua_pushvalue(L, k);
        int rc = pack(L, lua_gettop(L), pk, depth + 1, path, plen);
        lua_pop(L, 1);
        if (rc == 0) rc = pack(L, k + 1, pk, depth + 1, path, p2);
        if (rc) {
            lua_pop(L, 2);
            return rc;
        }
        path[plen] = '\0';
        lua_pop(L, 1);
    }
    return 0;
}

/* Pack the value at idx (absolute). Returns 0, or -1 with path ending in
 * where the value that cannot travel is. */
static int pack(lua_State *L, int idx, msgpack_packer *pk, int depth, char *path, size_t plen)
{
    switch (lua_type(L, idx)) {
    case LUA_TNIL:
    case LUA_TNONE:
        msgpack_pack_nil(pk);
        return 0;
    case LUA_TBOOLEAN:
        if (lua_toboolean(L, idx))
            msgpack_pack_true(pk);
        else
            msgpack_pack_false(pk);
        return 0;
    case LUA_TNUMBER: {
        double d = lua_tonumber(L, idx);
        if (d == floor(d) && d >= -9223372036854775808.0 && d < 9223372036854775808.0)
            msgpack_pack_int64(pk, (int64_t)d);
        else
            msgpack_pack_double(pk, d);
        return 0;
    }
    case LUA_TSTRING: {
        size_t len;
        const char *s = lua_tolstring(L, idx, &len);
        if (utf8_valid(s, len, true)) {
            msgpack_pack_str(pk, len);
            msgpack_pack_str_body(pk, s, len);
        } else {
            msgpack_pack_bin(pk, len);
            msgpack_pack_bin_body(pk, s, len);
        }
        return 0;
    }
    case LUA_TLIGHTUSERDATA:
        if (lua_touserdata(L, idx) == NULL) { /* cicada.null */
            msgpack_pack_nil(pk);
            return 0;
        }
        break;
    case LUA_TTABLE:
        return pack_table(L, idx, pk, depth, path, plen);
    default:
        break;
    }
    snprintf(path + plen, 256 - plen, " (a %s)", lua_typename(L, lua_type(L, idx)));
    return -1;
}

/* ---- msgpack to Lua ---- */

static void push(lua_State *L, const msgpack_object *o, bool inner)
{
    luaL_checkstack(L, 4, "a received message");
    switch (o->type) {
    case MSGPACK_OBJECT_BOOLEAN:
        lua_pushboolean(L, o->via.boolean);
        break;
    case MSGPACK_OBJECT_POSITIVE_INTEGER:
        lua_pushnumber(L, (double)o->via.u64);
        break;
    case MSGPACK_OBJECT_NEGATIVE_INTEGER:
        lua_pushnumber(L, (double)o->via.i64);
        break;
    case MSGPACK_OBJECT_FLOAT32:
    case MSGPACK_OBJECT_FLOAT64:
        lua_pushnumber(L, o->via.f64);
        break;
    case MSGPACK_OBJECT_STR:
        lua_pushlstring(L, o->via.str.ptr, o->via.str.size);
        break;
    case MSGPACK_OBJECT_BIN:
        lua_pushlstring(L, o->via.bin.ptr, o->via.bin.size);
        break;
    case MSGPACK_OBJECT_ARRAY:
        lua_createtable(L, (int)o->via.array.size, 0);
        for (uint32_t i = 0; i < o->via.array.size; i++) {
            push(L, &o->via.array.ptr[i], true);
            lua_rawseti(L, -2, (int)i + 1);
        }
        break;
    case MSGPACK_OBJECT_MAP:
        lua_createtable(L, 0, (int)o->via.map.size);
        for (uint32_t i = 0; i < o->via.map.size; i++) {
            const msgpack_object_kv *kv = &o->via.map.ptr[i];
            push(L, &kv->key, false);
            /* a key Lua cannot hold (nil, NaN) is dropped with its value */
            if (lua_isnil(L, -1) ||
                (lua_type(L, -1) == LUA_TNUMBER && lua_tonumber(L, -1) != lua_tonumber(L, -1))) {
                lua_pop(L, 1);
                continue;
            }
            push(L, &kv->val, true);
            lua_rawset(L, -3);
        }
        break;
    default: /* nil, ext */
        if (inner)
            lua_pushlightuserdata(L, NULL);
        else
            lua_pushnil(L);
        break;
    }
}

bool msg_deliver(lua_State *L, const void *buf, size_t len)
{
    msgpack_unpacked up;
    msgpack_unpacked_init(&up);
    size_t off = 0;
    bool done = false;
    if (msgpack_unpack_next(&up, buf, len, &off) != MSGPACK_UNPACK_SUCCESS) goto out;
    const msgpack_object *o = &up.data;
    if (o->type != MSGPACK_OBJECT_ARRAY || o->via.array.size != 3 ||
        o->via.array.ptr[0].type != MSGPACK_OBJECT_STR)
        goto out;
    const msgpack_object *a = o->via.array.ptr;
    int top = lua_gettop(L);
    lua_getglobal(L, "cicada");
    lua_getfield(L, -1, "_on_message");
    lua_pushlstring(L, a[0].via.str.ptr, a[0].via.str.size);
    push(L, &a[1], false);
    if (a[2].type == MSGPACK_OBJECT_STR)
        lua_pushlstring(L, a[2].via.str.ptr, a[2].via.str.size);
    else
        lua_pushnil(L);
    if (lua_pcall(L, 3, 1, 0) != 0)
        log_error("custom message: %s", lua_tostring(L, -1));
    else
        done = lua_toboolean(L, -1);
    lua_settop(L, top);
out:
    msgpack_unpacked_destroy(&up);
    return done;
}

/* ---- the Lua functions ---- */

static int l_register(lua_State *L)
{
    size_t len;
    const char *name = luaL_checklstring(L, 1, &len);
    pthread_mutex_lock(&lock);
    bool found = false;
    for (int i = 0; i < nnames && !found; i++)
        found = strcmp(names[i], name) == 0;
    bool full = !found && nnames == MSG_MAX_NAMES;
    if (!found && !full) snprintf(names[nnames++], sizeof names[0], "%s", name);
    pthread_mutex_unlock(&lock);
    if (full) return luaL_error(L, "register_message: at most %d message names", MSG_MAX_NAMES);
    return 0;
}

static int l_send(lua_State *L)
{
    size_t nlen;
    const char *name = luaL_checklstring(L, 1, &nlen);
    if (nlen == 0 || nlen > MSG_MAX_NAME || memchr(name, '\0', nlen))
        return luaL_error(L, "send_message: a message name is 1 to %d bytes, got %d", MSG_MAX_NAME,
                          (int)nlen);
    const char *client = lua_isnoneornil(L, 3) ? NULL : luaL_checkstring(L, 3);
    lua_settop(L, 3);
    msgpack_sbuffer sb;
    msgpack_sbuffer_init(&sb);
    msgpack_packer pk;
    msgpack_packer_init(&pk, &sb, msgpack_sbuffer_write);
    char path[256] = "data";
    if (pack(L, 2, &pk, 0, path, strlen(path)) != 0) {
        msgpack_sbuffer_destroy(&sb);
        return luaL_error(L, "send_message('%s'): cannot send %s", name, path);
    }
    pthread_mutex_lock(&lock);
    if (has_sink) {
        const char *why = sink.send(sink.ud, name, sb.data, sb.size, client);
        pthread_mutex_unlock(&lock);
        msgpack_sbuffer_destroy(&sb);
        if (why == NULL) {
            lua_pushboolean(L, 1);
            return 1;
        }
        log_warn("send_message('%s'): %s", name, why);
        lua_pushnil(L);
        lua_pushstring(L, why);
        return 2;
    }
    pthread_mutex_unlock(&lock);
    /* no master and no worker: to this VM's own handler, at once (the data
     * still makes the round trip, so what cannot travel fails here too) */
    msgpack_sbuffer fr;
    msgpack_sbuffer_init(&fr);
    msgpack_packer fpk;
    msgpack_packer_init(&fpk, &fr, msgpack_sbuffer_write);
    msgpack_pack_array(&fpk, 3);
    msgpack_pack_str(&fpk, nlen);
    msgpack_pack_str_body(&fpk, name, nlen);
    msgpack_sbuffer_write(&fr, sb.data, sb.size);
    msgpack_pack_str(&fpk, 5);
    msgpack_pack_str_body(&fpk, "local", 5);
    msgpack_sbuffer_destroy(&sb);
    bool handled = msg_deliver(L, fr.data, fr.size);
    msgpack_sbuffer_destroy(&fr);
    if (!handled) log_warn("Unknown message type received: %s", name);
    lua_pushboolean(L, 1);
    return 1;
}

static int l_workers(lua_State *L)
{
    char few[MSG_FEW_CLIENTS][MSG_MAX_ID]; /* 16 KB of stack */
    char(*ids)[MSG_MAX_ID] = few;
    size_t max = MSG_FEW_CLIENTS, n = 0;
    pthread_mutex_lock(&lock);
    if (has_sink && sink.clients) {
        n = sink.clients(sink.ud, ids, max);
        if (n > max) { /* many workers: ask again with room for them all */
            max = n + 16;
            ids = xmalloc(max * sizeof *ids);
            n = sink.clients(sink.ud, ids, max);
            if (n > max) n = max;
        }
    }
    pthread_mutex_unlock(&lock);
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, ids[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
    if (ids != few) xfree(ids);
    return 1;
}

void msg_open(lua_State *L, engine_t *e)
{
    lua_pushcfunction(L, l_send);
    lua_setfield(L, -2, "send_message");
    lua_pushcfunction(L, l_workers);
    lua_setfield(L, -2, "workers");
    lua_pushcfunction(L, l_register);
    lua_setfield(L, -2, "_msg_register");
    lua_pushstring(L, role);
    lua_setfield(L, -2, "role");
    lua_pushnumber(L, e ? e->index + 1 : 0);
    lua_setfield(L, -2, "thread_index");
    lua_pushnumber(L, e && e->conf ? e->conf->nengines : 0); /* a test engine may have no conf */
    lua_setfield(L, -2, "thread_count");
}
