/* cosocket: non-blocking TCP, UDP and TLS sockets for scenarios, with the
 * API and return conventions of OpenResty's cosockets (ngx.socket.tcp), so
 * that pure-Lua drivers written for OpenResty (lua-nginx-redis,
 * lua-nginx-websocket) run unmodified inside a cicada user.
 *
 * A socket object (cicada.tcp() / ngx.socket.tcp()) is a small Lua
 * userdata holding its timeouts and a pointer to the connection, which is
 * allocated in C, registered once with the engine's loop (edge-triggered,
 * both directions) and owned by the user that connected it. A call that
 * would block parks the user's coroutine; the loop resumes it with the
 * result. setkeepalive() moves the connection into the engine's pool, keyed
 * by "host:port" (or the `pool` option), where connect() finds it again.
 *
 * Errors are values, as in OpenResty: nil plus "timeout", "closed",
 * "connection refused", ... and for receives a third value, the partial
 * data. Nothing here raises except misuse (bad arguments, no running user). */
#ifndef CICADA_COSOCKET_H
#define CICADA_COSOCKET_H

struct lua_State;
struct user;

/* Add tcp() and udp() to the table on top of the stack (the cicada table),
 * and create this VM's connection pool (closed when the VM is closed). The
 * engine is the thread's (engine_self); in the main thread's VM the
 * constructors work but connecting raises (no running user). */
void cosocket_open(struct lua_State *L);

/* The user is ending (engine's user_free): close every connection it owns
 * (pooled connections are not its own any more). Also ends a wait in
 * progress without resuming the coroutine. Safe to call for a user that
 * never used a socket. */
void cosocket_release(struct user *u);

/* The stop grace is over (engine's CMD_CUT): close the connection whose
 * operation u waits for, if any, without resuming u (the engine runs its
 * on_stop in a fresh coroutine). From now on a wait outside on_stop
 * raises STOP. */
void cosocket_cut(struct user *u);

#endif
