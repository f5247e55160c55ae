/* vm: see vm.h. Lua's allocator is ours: small blocks from a pool per VM
 * (base/pool.h), the rest from base/alloc.h (abort when the system is out
 * of memory); each VM counts its own heap, and refuses to grow it past
 * VM_MEMORY_LIMIT (LuaJIT then raises "not enough memory"). */
#include "lua/vm.h"

#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <stdio.h>
#include <errno.h>
#include <stdint.h>
#include <string.h>

#include "base/alloc.h"
#include "base/pool.h"
#include "engine/engine.h"
#include "lua/api.h"
#include "lua/msg.h"

extern const char cicada_prelude[];

/* A VM's allocator state (its allocator's ud; only its own thread uses
 * it, so plain fields): its small-object pool and the bytes it holds. */
typedef struct vm_heap {
    pool_t *pool;
    size_t used;
} vm_heap_t;

/* Lua's allocator: LuaJIT always gives the old size, so blocks come from
 * the VM's pool without a header (base/pool.h; larger ones from xmalloc,
 * abort on out-of-memory, the one policy), plus this VM's count for its
 * limit. */
static void *l_alloc(void *ud, void *ptr, size_t osize, size_t nsize)
{
    vm_heap_t *h = ud;
    if (ptr == NULL) osize = 0; /* Lua 5.1/LuaJIT: no old size for a new block */
    if (nsize == 0) {
        pool_release(h->pool, ptr, osize);
        h->used -= osize;
        return NULL;
    }
    /* only while a user runs: there the error is caught by its resume;
     * the engine's own pushes between resumes (a response table) must not
     * fail outside any protected call, where Lua would panic */
    if (nsize > osize && h->used + (nsize - osize) > VM_MEMORY_LIMIT && api_user_running())
        return NULL;
    h->used = h->used - osize + nsize;
    return pool_resize(h->pool, ptr, osize, nsize);
}

static int on_load_error(lua_State *L)
{
    const char *msg = lua_tostring(L, 1);
    luaL_traceback(L, L, msg ? msg : "(error object is not a string)", 1);
    return 1;
}

/* Run the chunk on top of the stack; on error copy the message (first line
 * naming file:line, then the traceback) into err. */
static int run(lua_State *L, int nargs, int nres, char *err, size_t n)
{
    int base = lua_gettop(L) - nargs;
    lua_pushcfunction(L, on_load_error);
    lua_insert(L, base);
    int rc = lua_pcall(L, nargs, nres, base);
    lua_remove(L, base);
    if (rc != 0) {
        snprintf(err, n, "%s", lua_tostring(L, -1) ? lua_tostring(L, -1) : "unknown error");
        lua_pop(L, 1);
        return -1;
    }
    return 0;
}

static void push_list(lua_State *L, const char *const *items, size_t n)
{
    lua_createtable(L, (int)n, 0);
    for (size_t i = 0; i < n; i++) {
        lua_pushstring(L, items[i]);
        lua_rawseti(L, -2, (int)i + 1);
    }
}

lua_State *vm_new(struct engine *e, const vm_conf_t *conf, char *err, size_t n)
{
    /* LuaJIT without GC64 refuses custom allocators on 64-bit: fall back */
    vm_heap_t *heap = xcalloc(1, sizeof *heap);
    heap->pool = pool_new();
    lua_State *L = lua_newstate(l_alloc, heap);
    if (L == NULL) {
        pool_free(heap->pool);
        xfree(heap);
        L = luaL_newstate();
    }
    if (L == NULL) {
        snprintf(err, n, "cannot create a Lua state");
        return NULL;
    }
    luaL_openlibs(L);
    api_open(L, e);
    if (luaL_loadbuffer(L, cicada_prelude, strlen(cicada_prelude), "=prelude") != 0 ||
        run(L, 0, 0, err, n) != 0) {
        if (lua_isstring(L, -1)) snprintf(err, n, "prelude: %s", lua_tostring(L, -1));
        goto error;
    }
    /* seed per VM: engines must not repeat each other's random choices */
    lua_getglobal(L, "math");
    lua_getfield(L, -1, "randomseed");
    lua_pushnumber(L, (double)((uintptr_t)L % 1000003) + (double)(uintptr_t)e);
    lua_call(L, 1, 0);
    lua_pop(L, 1);

    FILE *f = fopen(conf->locustfile, "r");
    if (f == NULL) {
        snprintf(err, n, "cannot open scenario '%s': %s", conf->locustfile, strerror(errno));
        goto error;
    }
    fclose(f);
    if (luaL_loadfile(L, conf->locustfile) != 0) {
        snprintf(err, n, "%s", lua_tostring(L, -1));
        goto error;
    }
    if (run(L, 0, 0, err, n) != 0) goto error;

    lua_getglobal(L, "cicada");
    lua_getfield(L, -1, "_discover");
    lua_remove(L, -2);
    lua_createtable(L, 0, 3);
    if (conf->host) {
        lua_pushstring(L, conf->host);
        lua_setfield(L, -2, "host");
    }
    push_list(L, conf->tags, conf->ntags);
    lua_setfield(L, -2, "tags");
    push_list(L, conf->exclude_tags, conf->nexclude_tags);
    lua_setfield(L, -2, "exclude_tags");
    lua_pushnumber(L, (double)conf->iterations);
    lua_setfield(L, -2, "iterations");
    if (run(L, 1, 1, err, n) != 0) {
        /* the first line is the message; drop the traceback for these */
        char *nl = strchr(err, '\n');
        if (nl) *nl = '\0';
        goto error;
    }
    size_t count = lua_objlen(L, -1);
    lua_pop(L, 1);
    if (count == 0) {
        snprintf(err, n,
                 "%s: no user classes found: define one with Name = cicada.user{ ... } as a "
                 "global",
                 conf->locustfile);
        goto error;
    }
    if (count > LIMIT_CLASSES) {
        snprintf(err, n, "%s: too many user classes (%zu, at most %d)", conf->locustfile, count,
                 LIMIT_CLASSES);
        goto error;
    }
    return L;
error:
    vm_free(L);
    return NULL;
}

int vm_classes(lua_State *L, vm_class_t *out, int max)
{
    int n = 0;
    for (int i = 1; n < max; i++) {
        lua_getglobal(L, "cicada");
        lua_getfield(L, -1, "_class_info");
        lua_remove(L, -2);
        lua_pushinteger(L, i);
        if (lua_pcall(L, 1, 5, 0) != 0) {
            lua_pop(L, 1);
            break;
        }
        vm_class_t *c = &out[n++];
        snprintf(c->name, sizeof c->name, "%s", lua_tostring(L, -5));
        c->weight = lua_tonumber(L, -4);
        c->fixed_count = (long)lua_tonumber(L, -3);
        snprintf(c->host, sizeof c->host, "%s", lua_tostring(L, -2) ? lua_tostring(L, -2) : "");
        c->ntasks = (int)lua_tonumber(L, -1);
        lua_pop(L, 5);
        lua_getglobal(L, "cicada");
        lua_getfield(L, -1, "_task_info");
        lua_remove(L, -2);
        lua_pushinteger(L, i);
        if (lua_pcall(L, 1, 1, 0) != 0) {
            lua_pop(L, 1);
            continue;
        }
        for (int k = 0; k < c->ntasks && k < LIMIT_TASKS; k++) {
            lua_rawgeti(L, -1, k + 1);
            lua_getfield(L, -1, "name");
            lua_getfield(L, -2, "weight");
            snprintf(c->tasks[k].name, sizeof c->tasks[k].name, "%s",
                     lua_tostring(L, -2) ? lua_tostring(L, -2) : "?");
            c->tasks[k].weight = lua_tonumber(L, -1);
            lua_pop(L, 3);
        }
        lua_pop(L, 1);
    }
    return n;
}

void vm_free(lua_State *L)
{
    if (L == NULL) return;
    void *ud = NULL;
    lua_Alloc f = lua_getallocf(L, &ud);
    lua_close(L);
    if (f == l_alloc) { /* after the close, which still frees through it */
        vm_heap_t *h = ud;
        pool_free(h->pool);
        xfree(h);
    }
}

static lua_State *engine_open(engine_t *e, char *err, size_t n)
{
    const engine_conf_t *c = e->conf;
    vm_conf_t vc = {.locustfile = c->locustfile,
                    .host = c->host,
                    .tags = c->tags,
                    .ntags = c->ntags,
                    .exclude_tags = c->exclude_tags,
                    .nexclude_tags = c->nexclude_tags,
                    .iterations = c->iterations};
    return vm_new(e, &vc, err, n);
}

const engine_vm_t vm_engine = {.open = engine_open,
                               .close = vm_free,
                               .yielded = api_yielded,
                               .push_stop = api_push_stop,
                               .deliver = msg_deliver};
