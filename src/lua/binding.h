/* binding: what the Lua binding keeps for one user, beside the engine's
 * user_t — its HTTP client (connections, cookie jar), the catch_response
 * result it holds back, its request count and its cosockets — and the
 * per-engine environment of the HTTP clients.
 *
 * A user that never sends a request or opens a socket carries none of it:
 * binding_of() creates the state on first use, and user_t keeps only the
 * pointer. The engine reaches it through the hooks binding_open()
 * registers (cut a request in flight, release a user, free what a loop
 * turn closed); it includes nothing of HTTP or sockets. */
#ifndef CICADA_BINDING_H
#define CICADA_BINDING_H

#include <stdbool.h>
#include <stdint.h>

#include "base/buf.h"
#include "engine/engine.h"
#include "http/client.h"

struct lua_State;
struct cosock;
struct batch;

/* A response held back by catch_response until success()/failure(), the
 * next request or the end of the task. */
typedef struct pending {
    bool active;
    uint64_t seq;
    buf_t method, name, error;
    int64_t rt_us, length;
    bool failed;
} pending_t;

typedef struct binding {
    client_t http; /* self.client's connections and cookies */
    pending_t pending;
    uint64_t req_seq;       /* requests sent, numbering catch_response results */
    struct cosock *cosocks; /* its cosockets (lua/cosocket.c), closed when it ends */
    struct batch *batch;    /* client:batch's extra clients (lua/batch.h), NULL until used */
} binding_t;

/* Set up engine e's binding state (the HTTP clients' environment) in L,
 * where it lives until the VM is closed, and register the engine hooks.
 * The VM of the main thread (e NULL) gets none. */
void binding_open(struct lua_State *L, engine_t *e);

/* u's state, created on first use (its HTTP client delivering to
 * done(u, ...)). */
binding_t *binding_of(user_t *u);

/* Record u's catch_response result held back, if any (api_record). */
void binding_flush(user_t *u);

/* Called with each HTTP result of u's client (defined by lua/http.c). */
void http_on_result(void *u, const client_result_t *res);

#endif
