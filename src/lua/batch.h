/* batch: several requests of one user in flight at once (client:batch,
 * k6's http.batch), the C half.
 *
 * A user that calls client:batch gets up to BATCH_MAX_SLOTS extra HTTP
 * clients (slots), made on its first batch and kept (with their
 * keep-alive connections) until the user ends, sharing the user's cookie
 * jar. The prelude's client:batch hands requests to free slots
 * (client:_batch_send, lua/http.c) and parks the user in
 * cicada._batch_wait() until one completes; each result is recorded under
 * its own name as it arrives and handed back with its slot and index. It
 * does not queue or order requests: that is the prelude's loop. */
#ifndef CICADA_LUA_BATCH_H
#define CICADA_LUA_BATCH_H

#include <stdbool.h>

#include "engine/engine.h"
#include "http/client.h"
#include "lua/binding.h"

#define BATCH_MAX_SLOTS 16

typedef struct batch_slot {
    client_t cl;       /* its connections; the jar is the user's */
    pending_t pending; /* method and name of the request in flight */
    user_t *u;
    int idx; /* index in the batch of the request in flight, 0 if none */
} batch_slot_t;

typedef struct batch {
    batch_slot_t slot[BATCH_MAX_SLOTS];
    int nslots;   /* made so far */
    bool waiting; /* the user is parked in cicada._batch_wait */
} batch_t;

/* u's slot number `slot` (1-based, made if needed) for request `idx` of a
 * batch; raises a Lua error if slot is out of range or busy. */
batch_slot_t *batch_slot(struct lua_State *L, user_t *u, int slot, int idx);

/* Cut u's batch requests in flight (no result; each counted as cut when
 * count is true). Returns the number cut. */
int batch_cut(user_t *u, bool count);

/* Free u's batch state (its slots' connections; not the jar). */
void batch_release(user_t *u);

/* With the cicada table on top of the stack: add _batch_begin,
 * _batch_wait and _batch_end. */
void batch_open(struct lua_State *L);

#endif
