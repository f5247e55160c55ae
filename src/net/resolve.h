/* resolve: host names to addresses without blocking the engine thread.
 *
 * One resolver per engine thread, on that thread's loop: c-ares does the
 * queries, its sockets are watched by the loop and its retransmissions are
 * driven by one loop timer, so no extra thread and no blocking call. In
 * front of c-ares sits a per-thread cache keyed by name: an answer is kept
 * for the smallest TTL of its records (at least RESOLVE_MIN_TTL_S, so that
 * a TTL of 0 or an /etc/hosts entry does not mean one query per
 * connection), a failure for RESOLVE_NEG_TTL_S. Users asking for a name
 * already being looked up join that lookup: one query per name per TTL,
 * however many users. IP literals and `localhost` (and names under
 * .localhost, RFC 6761) are answered at once, without a query.
 *
 * Addresses come in c-ares' order, which is getaddrinfo's (RFC 6724
 * sorting of IPv4 and IPv6 answers); `localhost` is 127.0.0.1 then ::1.
 * c-ares' "files" lookup comes first, so /etc/hosts is honoured. With a
 * server given (--resolver), names are sent to it as given (no search
 * list) instead of /etc/resolv.conf's servers.
 *
 * Every lookup has a deadline (the resolver's timeout): a server that never
 * answers becomes a failure ("lookup timed out after 5s"), never a stall.
 * A requester embeds a resolve_req_t and may cancel it at any time before
 * its callback ran (resolve_cancel): the callback is then never called, so
 * freeing the requester right after is safe. Nothing here is thread-safe;
 * everything runs on the loop's thread. */
#ifndef CICADA_RESOLVE_H
#define CICADA_RESOLVE_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include "net/loop.h"

#define RESOLVE_MAX_ADDRS 4   /* addresses kept per name */
#define RESOLVE_MIN_TTL_S 1   /* answers are cached at least this long */
#define RESOLVE_NEG_TTL_S 1   /* failures are cached this long */
#define RESOLVE_TIMEOUT_S 5.0 /* default deadline of one lookup */
#define RESOLVE_REASON_MAX 96 /* room for a failure's reason */

typedef struct resolver resolver_t;
typedef struct resolve_entry resolve_entry_t;

/* The addresses of a name, with the port of the request filled in. */
typedef struct resolve_addrs {
    int n;
    struct sockaddr_storage addr[RESOLVE_MAX_ADDRS];
    socklen_t len[RESOLVE_MAX_ADDRS];
} resolve_addrs_t;

typedef struct resolve_req resolve_req_t;

/* A lookup's end: addrs on success (err NULL), or err, a reason in the
 * words of getaddrinfo ("Name or service not known", "lookup timed out
 * after 5s"). Both are valid only during the call. The request is no
 * longer pending when this runs: the callback may free it or start it
 * again. */
typedef void (*resolve_fn)(resolve_req_t *q, const resolve_addrs_t *addrs, const char *err);

/* A lookup in progress, embedded by its requester. The fields are the
 * resolver's; zero-initialise it (or set entry to NULL) before first use. */
struct resolve_req {
    resolve_fn fn;
    void *arg; /* the requester's, untouched */
    int port;
    const char *name;           /* the name looked up (lower-cased); valid in the callback */
    resolve_req_t *prev, *next; /* the entry's waiters */
    resolve_entry_t *entry;     /* non-NULL while pending */
};

enum { RESOLVE_DONE, RESOLVE_ERROR, RESOLVE_PENDING };

/* A resolver on loop l. server: "IP", "IP:PORT" or "[IPv6]:PORT" to query
 * instead of /etc/resolv.conf's servers, or NULL. timeout_s: the deadline
 * of one lookup (<= 0: RESOLVE_TIMEOUT_S). Returns NULL and fills err
 * ("--resolver: ...") on failure. */
resolver_t *resolver_new(loop_t *l, const char *server, double timeout_s, char *err, size_t n);

/* Free r: its sockets are closed and pending lookups dropped without
 * their callbacks (their requesters must be gone already). NULL is a
 * no-op. */
void resolver_free(resolver_t *r);

/* Look host up for port. Returns RESOLVE_DONE with *out filled (a literal,
 * localhost or a cached answer), RESOLVE_ERROR with the reason in err (a
 * cached failure, a name too long), or RESOLVE_PENDING: fn(q, ...) is
 * called later from the loop, exactly once unless resolve_cancel(q) comes
 * first. q must not be pending already and must stay valid while it is;
 * host is copied. */
int resolve_start(resolver_t *r, const char *host, int port, resolve_req_t *q, resolve_fn fn,
                  void *arg, resolve_addrs_t *out, char *err, size_t n);

/* Is q waiting for an answer? */
static inline bool resolve_pending(const resolve_req_t *q)
{
    return q->entry != NULL;
}

/* Forget q's lookup: its callback will not be called. A no-op if q is not
 * pending. The lookup itself goes on for the cache's sake. */
void resolve_cancel(resolve_req_t *q);

/* How many queries r has sent to c-ares (for tests: the cache at work). */
unsigned long resolver_queries(const resolver_t *r);

#endif
