/* batch: see batch.h.
 *
 * The slots are plain HTTP clients (http/client.h) whose completion
 * callback is batch_on_result: it records the request under its own name
 * and, the user being parked in cicada._batch_wait (the only place a
 * batch yields), resumes it with (slot, index, response). Nothing else can
 * complete while the user runs: results come from the loop, and the loop
 * runs only while the user is parked. A batch that ends early (a Lua error
 * in the prelude's loop, the stop of the test) cuts what is still in
 * flight: the responses are not waited for, each counts as cut. */
#include "lua/batch.h"

#include <lauxlib.h>
#include <lua.h>

#include "base/alloc.h"
#include "http/cookie.h"
#include "lua/api.h"
#include "lua/http.h"

static void batch_on_result(void *arg, const client_result_t *r)
{
    batch_slot_t *s = arg;
    user_t *u = s->u;
    batch_t *bt = u->binding->batch;
    int idx = s->idx;
    s->idx = 0;
    if (!bt->waiting) {
        /* not parked in the batch (cannot happen, see above): record only */
        api_record(u->eng, s->pending.method.p, s->pending.name.p, r->elapsed_ns / 1000,
                   (int64_t)r->body_len, r->error);
        return;
    }
    bt->waiting = false;
    lua_pushinteger(u->co, (lua_Integer)(s - bt->slot) + 1);
    lua_pushinteger(u->co, idx);
    http_complete(u->co, u, &s->pending, r);
    engine_resume(u, 3);
}

batch_slot_t *batch_slot(lua_State *L, user_t *u, int slot, int idx)
{
    batch_t *bt = u->binding ? u->binding->batch : NULL;
    if (bt == NULL || slot < 1 || slot > bt->nslots)
        luaL_error(L, "client:batch: no slot %d", slot);
    batch_slot_t *s = &bt->slot[slot - 1];
    if (s->idx) luaL_error(L, "client:batch: slot %d is busy", slot);
    s->idx = idx;
    return s;
}

int batch_cut(user_t *u, bool count)
{
    batch_t *bt = u->binding ? u->binding->batch : NULL;
    int n = 0;
    for (int i = 0; bt && i < bt->nslots; i++) {
        batch_slot_t *s = &bt->slot[i];
        if (s->idx && client_cut(&s->cl)) {
            n++;
            if (count) stats_shard_cut(u->eng->shard);
        }
        s->idx = 0;
    }
    if (bt) bt->waiting = false;
    return n;
}

void batch_release(user_t *u)
{
    batch_t *bt = u->binding ? u->binding->batch : NULL;
    if (bt == NULL) return;
    for (int i = 0; i < bt->nslots; i++) {
        batch_slot_t *s = &bt->slot[i];
        s->cl.jar = NULL; /* the user's, freed with its own client */
        client_free(&s->cl);
        buf_free(&s->pending.method);
        buf_free(&s->pending.name);
        buf_free(&s->pending.error);
    }
    xfree(bt);
    u->binding->batch = NULL;
}

/* cicada._batch_begin(n): make sure the user has n slots sharing its jar. */
static int l_begin(lua_State *L)
{
    user_t *u = api_current(L, "client:batch");
    int n = (int)luaL_checkinteger(L, 1);
    if (n < 1 || n > BATCH_MAX_SLOTS)
        return luaL_error(L, "client:batch: parallel must be 1 to %d, got %d", BATCH_MAX_SLOTS, n);
    binding_t *b = binding_of(u);
    if (b->batch == NULL) b->batch = xcalloc(1, sizeof *b->batch);
    batch_t *bt = b->batch;
    /* one jar for all: made now, so that two slots never make one each */
    if (b->http.jar == NULL) b->http.jar = cookie_jar_new();
    for (; bt->nslots < n; bt->nslots++) {
        batch_slot_t *s = &bt->slot[bt->nslots];
        client_init(&s->cl, b->http.env, batch_on_result, s);
        s->u = u;
    }
    for (int i = 0; i < bt->nslots; i++)
        bt->slot[i].cl.jar = b->http.jar;
    return 0;
}

/* cicada._batch_wait(): park until a request of the batch completes;
 * returns its slot, its index and its response. */
static int l_wait(lua_State *L)
{
    user_t *u = api_current(L, "client:batch");
    batch_t *bt = u->binding ? u->binding->batch : NULL;
    bool busy = false;
    for (int i = 0; bt && i < bt->nslots; i++)
        busy |= bt->slot[i].idx != 0;
    if (!busy) return luaL_error(L, "client:batch: nothing in flight to wait for");
    bt->waiting = true;
    engine_wait(u);
    return lua_yield(L, 0);
}

/* cicada._batch_end(): cut what is still in flight (after an error). */
static int l_end(lua_State *L)
{
    user_t *u = api_current(L, "client:batch");
    batch_cut(u, true);
    return 0;
}

void batch_open(lua_State *L)
{
    static const luaL_Reg fns[] = {
        {"_batch_begin", l_begin}, {"_batch_wait", l_wait}, {"_batch_end", l_end}, {NULL, NULL}};
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
}
