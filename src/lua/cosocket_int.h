/* cosocket_int: what the two halves of the cosocket module share, and
 * nothing else includes. cosocket.c holds the connections (transport,
 * parking, receiving, sending, TLS, the loop's side, the pool);
 * cosocket_lua.c holds the Lua objects and their methods. The public
 * interface stays cosocket.h; names here carry the internal prefix cosock_
 * (as the type does), the public ones cosocket_.
 *
 * Calls that push Lua results follow the module's convention: errors are
 * values (nil, err), pushed on the given state, and the return value is the
 * number of results, or a lua_yield() when the coroutine is parked. */
#ifndef CICADA_COSOCKET_INT_H
#define CICADA_COSOCKET_INT_H

#include <lua.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

#include "engine/engine.h"
#include "net/resolve.h"
#include "net/net.h"
#include "net/resolve.h"

enum op { OP_NONE, OP_RESOLVE, OP_CONNECT, OP_HANDSHAKE, OP_SEND, OP_RECV };
enum rmode { R_LINE, R_ALL, R_SIZE, R_UNTIL, R_DGRAM };
enum { T_CONNECT, T_SEND, T_READ };

typedef struct pool pool_t;
typedef struct box box_t;
typedef struct bucket bucket_t;

typedef struct cosock {
    sock_t sock;        /* the transport (net/net.h); first, for on_io */
    loop_timer_t timer; /* the wait's timeout, or the idle timeout when pooled */
    pool_t *pool;
    user_t *user;               /* the owner; NULL when pooled */
    box_t *box;                 /* the Lua object using it; NULL when pooled */
    bucket_t *bucket;           /* when pooled */
    struct cosock *prev, *next; /* owner's list, or pool bucket */
    bool udp, eof;
    int err; /* errno of a failed read or write */
    enum op op;
    enum rmode rmode;
    size_t want; /* R_SIZE: bytes; R_UNTIL: chunk size (0 = all); R_DGRAM: max */
    bool inclusive;
    buf_t pat; /* R_UNTIL: the pattern */
    buf_t rbuf;
    size_t roff;
    buf_t wbuf; /* the part of a send the kernel did not take yet */
    size_t woff, sent;
    unsigned reused;
    char *key;         /* pool key ("host:port" or the pool option), owned */
    resolve_req_t dns; /* OP_RESOLVE: the lookup before the socket exists */
} cosock_t;

struct box {
    cosock_t *s;
    pool_t *pool;
    int tmo[3]; /* indexed by T_CONNECT, T_SEND, T_READ: ms, 0 = none */
    bool udp;
};

struct bucket {
    char *key;
    cosock_t *head;
    int n;
    bucket_t *next;
};

struct pool {
    engine_t *eng; /* set when the first connection is made */
    bucket_t *buckets;
    long refs; /* connections not yet freed, plus one for the registry anchor */
    bool closing;
};

/* ---- errors ---- */

/* errno e as OpenResty words it ("connection refused", "timeout"). The
 * string is in a thread-local buffer, valid until the next call. */
const char *cosock_errstr(int e);

/* Push nil, err; returns 2. */
int cosock_fail(lua_State *L, const char *err);

/* ---- connections ---- */

/* A new, unconnected connection on the transport n, with its I/O and
 * timer callbacks set and a reference on p. It has no user and no box yet;
 * key is copied. It is freed only through cosock_retire(). */
cosock_t *cosock_new(pool_t *p, net_t *n, bool udp, const char *key);

/* Close s's socket, unlink it from its user, bucket and box, and put it in
 * the transport's graveyard (net_retire: freed after the loop turn; at
 * once when the pool is closing). Any box is left without a connection; s
 * must not be used afterwards. */
void cosock_retire(cosock_t *s);

/* Push nil, err and retire s; returns 2. */
int cosock_fail_close(lua_State *L, cosock_t *s, const char *err);

/* Write up to n bytes, plain or TLS: returns the bytes written, 0 if the
 * peer closed, -1 to wait, -2 on an error (s->err set). */
ssize_t cosock_write(cosock_t *s, const char *p, size_t n);

/* Record that s waits for op, arm its timeout (ms, 0 = none) and yield the
 * user's coroutine; the loop resumes it with the results. s must belong to
 * the running user. Returns lua_yield()'s value. */
int cosock_park(lua_State *L, cosock_t *s, enum op op, int ms);

/* Run the read set up in s->rmode/want/pat: push its results and return
 * their count, or park for up to ms (see cosock_park). */
int cosock_receive(lua_State *L, cosock_t *s, int ms);

/* Write what is left in s->wbuf. Returns 1 done, 0 wait, -1 error
 * (s->err set). */
int cosock_send_step(cosock_t *s);

/* Advance the TLS handshake of s. Returns 1 done, 0 wait, -1 failed
 * (cosock_handshake_error() says why). */
int cosock_handshake_step(cosock_t *s);
/* The message for a failed handshake, in a thread-local buffer. */
const char *cosock_handshake_error(cosock_t *s);

/* ---- the pool ---- */

/* Create this VM's pool and anchor it in L's registry; the pool is closed
 * when the anchor is collected (the VM closes) and freed when no
 * connection refers to it any more. The stack is left as it was. */
pool_t *cosock_pool_new(lua_State *L);

/* The most recently pooled connection for key, detached from the pool
 * (no user, no box), or NULL. */
cosock_t *cosock_pool_take(pool_t *p, const char *key);

/* Move s from its user and box into the pool under s->key, with an idle
 * timeout (ms, 0 = none); beyond size connections for the key the oldest
 * is retired. p->eng must be set. */
void cosock_pool_put(pool_t *p, cosock_t *s, int idle_ms, int size);

#endif
