/* msg: custom messages between a master and its workers, the scenario's
 * side (Locust's register_message / send_message; docs/distributed.md,
 * "Custom messages").
 *
 * The Lua API is cicada.register_message(name, fn) (in prelude_events.lua),
 * cicada.send_message(name, data [, client_id]), cicada.workers() and the
 * fields cicada.role, cicada.thread_index, cicada.thread_count. This module
 * converts Lua values to msgpack and back, keeps the process-wide set of
 * registered names, and hands encoded messages to a sink that src/dist
 * installs (the worker's link thread or the master's socket). Without a
 * sink (a run without --master/--worker) send_message calls the handler in
 * the sending VM at once, as Locust's local runner does.
 *
 * Nothing here touches sockets: the sink does. The set of names and the
 * sink are guarded by one mutex, taken only by register_message,
 * send_message and msg_registered -- never per request. */
#ifndef CICADA_MSG_H
#define CICADA_MSG_H

#include <stdbool.h>
#include <stddef.h>

struct lua_State;
struct engine;

/* Longest message name (Locust's type, a msgpack str), without the NUL. */
#define MSG_MAX_NAME 63
#define MSG_MAX_ID 256

/* Where send_message's messages go. send gets the name, the msgpack
 * encoding of the data (len bytes, the caller's: copy what you keep) and
 * the client id or NULL; it returns NULL when the message is on its way,
 * else a static reason (a full queue, an unknown worker). clients fills
 * ids with the ids of the connected workers (at most max) and returns how
 * many there are (which may be more than max). Both may be called from any thread holding a VM
 * (engine threads, the master's thread). */
typedef struct msg_sink {
    const char *(*send)(void *ud, const char *name, const void *data, size_t len,
                        const char *client_id);
    size_t (*clients)(void *ud, char (*ids)[MSG_MAX_ID], size_t max);
    void *ud;
} msg_sink_t;

/* Install s (copied), or remove the sink with NULL: once this returns the
 * old sink is no longer called. */
void msg_set_sink(const msg_sink_t *s);

/* The process's role as the scenario sees it in cicada.role: "master",
 * "worker" or "local" (the default). Set it before the VMs are made. */
void msg_set_role(const char *role);

/* Has any VM registered a handler for name? (Thread-safe.) */
bool msg_registered(const char *name);

/* Add send_message, workers, role and the thread fields to the cicada
 * table at the top of L's stack, for engine e (NULL: a VM of the main or
 * master thread). */
void msg_open(struct lua_State *L, struct engine *e);

/* Call the handler of a whole received message frame, the msgpack array
 * [name, data, node_id] of buf (len bytes, already checked by the
 * receiver's decoder), in L: the data converted to Lua (nil inside arrays
 * and maps as cicada.null). An error in the handler is recorded as the
 * prelude's listeners' are. Returns false if the frame cannot be read or
 * L has no handler for its name. */
bool msg_deliver(struct lua_State *L, const void *buf, size_t len);

#endif
