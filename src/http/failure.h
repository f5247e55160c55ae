/* failure: requests-style error texts for the HTTP client (client.c).
 * Each returns a NUL-terminated text, static or in a thread-local scratch
 * buffer valid until the next call on this thread. */
#ifndef CICADA_HTTP_FAILURE_H
#define CICADA_HTTP_FAILURE_H

#include <stdbool.h>
#include <stddef.h>

#include "http/client.h"

/* A failed lookup of c's host (or its proxy's); why is the resolver's
 * reason ("Name or service not known"). */
const char *failure_name(const conn_t *c, const char *why);
/* A socket error e (an errno; EPROTO: the TLS transport's own text). */
const char *failure_errno(const conn_t *c, int e);
/* A connect that failed with errno e: through a proxy, requests' ProxyError. */
const char *failure_connect(const conn_t *c, int e);
/* The request's URL, rebuilt from c's origin and request line into out
 * (size n > 0, NUL-terminated). Returns its length. */
size_t failure_url(const conn_t *c, char *out, size_t n);
/* requests' raise_for_status() text for c's status and reason phrase. */
const char *failure_status(const conn_t *c, const char *reason, size_t reason_len);
/* A request's timeout, while connecting (resolving, connecting, tunnel,
 * handshake) or reading. */
const char *failure_timeout(bool connecting, double seconds);

#endif
