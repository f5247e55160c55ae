/* api: the C primitives a scenario sees (the cicada table and the HTTP
 * client), registered into one engine's Lua VM. The sugar on top (user
 * classes, tasks, wait functions, the user loop) is the Lua prelude,
 * src/lua/prelude.lua, compiled into the binary. */
#ifndef CICADA_API_H
#define CICADA_API_H

#include <stddef.h>

struct lua_State;
struct engine;

/* Create the global `cicada` table with the primitives, for engine e (NULL
 * in the main thread's VM, which only loads and inspects the scenario: there
 * blocking calls raise an error). */
void api_open(struct lua_State *L, struct engine *e);

/* Push the sentinel that stops a user (the value blocking calls raise). */
void api_push_stop(struct lua_State *L);

/* ---- shared with the other bindings (engine thread) ---- */
struct user;

/* The running user, or a Lua error naming `what` outside a user. */
struct user *api_current(struct lua_State *L, const char *what);
/* Is a user's coroutine running on this thread (so a Lua error raised now
 * is caught by its resume)? */
_Bool api_user_running(void);
/* u's coroutine yielded: if it was cicada.sleep's (_SLEEP, seconds), park
 * u for that long. Returns 1 when u must stop instead (STOP is pushed on
 * u->co: resume it with that at once), -1 when u is parked (by the sleep,
 * or by whatever else yielded). */
int api_yielded(struct user *u);
/* Would a blocking call now stop the user instead (the run is stopping)? */
_Bool api_must_stop(const struct user *u);
/* tostring() of any value, pushed on the stack; returns its text. */
const char *api_tostr(struct lua_State *L, int idx, size_t *len);
/* Record one request in engine e's statistics, firing the request event
 * once (not again for a cicada.report made by a listener). Every way a
 * request is recorded goes through here. err is NULL for a success. */
void api_record(struct engine *e, const char *method, const char *name, long long rt_us,
                long long len, const char *err);

#endif
