/* binding: see binding.h.
 *
 * The per-engine environment is a userdata anchored in the VM's registry:
 * its __gc (when the engine closes its VM, after every user has ended and
 * the last turn's graveyard was freed) frees what is left. The hooks are
 * the engine's only way into HTTP and sockets: cut closes the request or
 * socket operation a user waits for, release settles and frees a user's
 * state, turn frees the connections closed during a loop turn. */
#include "lua/binding.h"

#include <lauxlib.h>
#include <lua.h>
#include <string.h>

#include "base/alloc.h"
#include "lua/api.h"
#include "lua/batch.h"
#include "lua/cosocket.h"

/* The engine's: what its users' HTTP clients share. */
typedef struct env {
    client_env_t http;
} env_t;

static void hook_cut(user_t *u, bool sockets)
{
    binding_t *b = u->binding;
    if (client_cut(&b->http)) {
        b->pending.active = false; /* a catch_response result of the request cut */
        stats_shard_cut(u->eng->shard);
    } else if (batch_cut(u, true) > 0) {
        /* the user waited for a client:batch */
    } else if (sockets) {
        cosocket_cut(u);
    }
}

static void hook_release(user_t *u)
{
    binding_t *b = u->binding;
    binding_flush(u);
    batch_release(u); /* before the jar its slots share goes */
    client_free(&b->http);
    cosocket_release(u);
    buf_free(&b->pending.method);
    buf_free(&b->pending.name);
    buf_free(&b->pending.error);
    xfree(b);
    u->binding = NULL;
}

static void hook_turn(void *arg)
{
    client_bury(&((env_t *)arg)->http);
}

static const engine_hooks_t hooks = {hook_cut, hook_release, hook_turn};

static int env_gc(lua_State *L)
{
    client_env_free(&((env_t *)lua_touserdata(L, 1))->http);
    return 0;
}

void binding_open(lua_State *L, engine_t *e)
{
    if (e == NULL) return;
    env_t *v = lua_newuserdata(L, sizeof *v);
    memset(v, 0, sizeof *v);
    v->http.loop = e->loop;
    v->http.net = e->net;
    v->http.resolver = e->resolver;
    lua_newtable(L);
    lua_pushcfunction(L, env_gc);
    lua_setfield(L, -2, "__gc");
    lua_setmetatable(L, -2);
    luaL_ref(L, LUA_REGISTRYINDEX); /* lives as long as the VM */
    engine_set_hooks(e, &hooks, v);
}

binding_t *binding_of(user_t *u)
{
    if (u->binding) return u->binding;
    binding_t *b = xcalloc(1, sizeof *b);
    env_t *v = u->eng->hooks_arg;
    client_init(&b->http, &v->http, http_on_result, u);
    u->binding = b;
    return b;
}

void binding_flush(user_t *u)
{
    pending_t *p = u->binding ? &u->binding->pending : NULL;
    if (p == NULL || !p->active) return;
    p->active = false;
    api_record(u->eng, p->method.p, p->name.p, p->rt_us, p->length, p->failed ? p->error.p : NULL);
}
