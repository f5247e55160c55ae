/* master_custom: the master's side of custom messages and its own VM.
 *
 * A master runs no users, so it had no Lua VM of its own at run time; this
 * file gives it one, loaded with the scenario like an engine's, owned by
 * the master's thread (the only thread that runs Lua in it). There:
 *  - a custom message from a connected worker runs the handler registered
 *    for its name (cicada.register_message), with the worker's node id;
 *    one from a worker that never said client_ready is dropped;
 *  - test_start fires when a swarm starts, spawning_complete (with the
 *    whole swarm's user count) when the workers run every user of it, and
 *    test_stop when it stops, so
 *    a scenario can hand out test data from the master, as Locust's
 *    custom_messages.py example does; the first spawn messages of a swarm
 *    go out only after test_start's listeners have run (master.c asks
 *    master_custom_ready), so the workers get what they send first;
 *  - cicada.send_message(name, data [, client_id]) goes to every connected
 *    worker or to the one named, and cicada.workers() lists their ids.
 * Lua runs without m->lock held: the sink and the list take it. A handler
 * that takes long holds up the master's thread (heartbeats, dispatch), so
 * handlers must be quick, as event listeners must. */
#include <lua.h>
#include <stdio.h>

#include "base/log.h"
#include "dist/custom.h"
#include "dist/master_int.h"
#include "lua/msg.h"
#include "lua/vm.h"

static node_t *find_live(master_t *m, const char *id)
{
    for (int i = 0; i < m->nnodes; i++)
        if (strcmp(m->nodes[i].id, id) == 0 && live(&m->nodes[i])) return &m->nodes[i];
    return NULL;
}

static const char *sink_send(void *ud, const char *name, const void *data, size_t len,
                             const char *client_id)
{
    master_t *m = ud;
    const char *why = NULL;
    pthread_mutex_lock(&m->lock);
    if (client_id) {
        if (find_live(m, client_id) == NULL) {
            why = "no connected worker has that client id";
        } else {
            custom_frame(&m->out, name, data, len, client_id);
            master_send_to(m, client_id);
        }
    } else {
        for (int i = 0; i < m->nnodes; i++) {
            if (!live(&m->nodes[i])) continue;
            custom_frame(&m->out, name, data, len, m->nodes[i].id);
            master_send_to(m, m->nodes[i].id);
        }
    }
    pthread_mutex_unlock(&m->lock);
    return why;
}

static size_t sink_clients(void *ud, char (*ids)[MSG_MAX_ID], size_t max)
{
    master_t *m = ud;
    size_t k = 0;
    pthread_mutex_lock(&m->lock);
    for (int i = 0; i < m->nnodes; i++) {
        if (!live(&m->nodes[i])) continue;
        if (k < max) snprintf(ids[k], MSG_MAX_ID, "%s", m->nodes[i].id);
        k++;
    }
    pthread_mutex_unlock(&m->lock);
    return k;
}

void master_custom_open(master_t *m)
{
    const opts_t *o = m->o;
    vm_conf_t vc = {.locustfile = o->locustfile,
                    .host = o->host,
                    .tags = o->tags,
                    .ntags = o->ntags,
                    .exclude_tags = o->exclude_tags,
                    .nexclude_tags = o->nexclude_tags};
    char err[1024];
    m->L = vm_new(NULL, &vc, err, sizeof err);
    if (m->L == NULL) {
        /* it loaded once already (the runner's check): not fatal here */
        log_error("the master's VM for custom messages and events: %s", err);
        return;
    }
    msg_sink_t s = {.send = sink_send, .clients = sink_clients, .ud = m};
    msg_set_sink(&s);
}

void master_custom_close(master_t *m)
{
    if (m->L == NULL) return;
    msg_set_sink(NULL);
    vm_free(m->L);
    m->L = NULL;
}

bool master_custom_frame(master_t *m, const char *id, const char *type, const void *buf, size_t len)
{
    if (m->L == NULL || !msg_registered(type)) return false;
    pthread_mutex_lock(&m->lock);
    bool known = find_live(m, id) != NULL;
    pthread_mutex_unlock(&m->lock);
    if (!known) {
        log_warn("Received custom message %s from an unknown worker %s: dropped", type, id);
        return true;
    }
    if (!msg_deliver(m->L, buf, len))
        log_warn("Unknown message type received from worker %s: %s (no handler on the master)", id,
                 type);
    return true;
}

static void fire(lua_State *L, const char *event, long arg)
{
    lua_getglobal(L, "cicada");
    lua_getfield(L, -1, "_fire");
    lua_pushstring(L, event);
    lua_pushnumber(L, (double)arg);
    if (lua_pcall(L, 2, 0, 0) != 0) {
        log_error("event %s: %s", event, lua_tostring(L, -1));
        lua_pop(L, 1);
    }
    lua_pop(L, 1);
}

void master_custom_tick(master_t *m)
{
    pthread_mutex_lock(&m->lock);
    bool active = m->active, was = m->lua_active;
    bool spawned = m->spawned, was_spawned = m->lua_spawned;
    long target = m->target;
    m->lua_spawned = spawned;
    if (m->L == NULL) m->lua_active = active;
    pthread_mutex_unlock(&m->lock);
    if (m->L == NULL) return;
    if (active != was) {
        fire(m->L, active ? "test_start" : "test_stop", 0);
        pthread_mutex_lock(&m->lock);
        m->lua_active = active;
        pthread_mutex_unlock(&m->lock);
    }
    /* m->spawned comes after dispatch, which waits for test_start above */
    if (spawned && !was_spawned) fire(m->L, "spawning_complete", target);
}
