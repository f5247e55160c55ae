/* cookie: a user's cookie jar, with RFC 6265's storage and matching rules.
 *
 * cookie_jar_set() takes one Set-Cookie value as received in answer to a
 * request (host, path, over TLS or not) and stores, replaces or deletes a
 * cookie: Domain (leading dot dropped; host-only when absent), Path (the
 * default-path of the request when absent or not starting with '/'),
 * Max-Age (wins over Expires), Expires (RFC 6265's lenient date format),
 * Secure; HttpOnly, SameSite and unknown attributes are ignored (there is no
 * script here to hide cookies from). cookie_jar_header() writes the value
 * of the Cookie header for a request: the unexpired cookies whose domain,
 * path and Secure flag match, longer paths first, then older ones first.
 *
 * Not done: the public suffix list (Domain=com is accepted when the host
 * is under it), SameSite, cookie prefixes, per-domain count limits (the jar
 * holds at most COOKIE_JAR_MAX cookies; more are refused). Each cookie keeps
 * its text in one reused buffer, so a server that refreshes a cookie on
 * every response costs no allocation once the buffer has grown. */
#ifndef CICADA_COOKIE_H
#define CICADA_COOKIE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

#define COOKIE_JAR_MAX 256
#define COOKIE_SESSION INT64_MAX /* expiry of a cookie without Max-Age/Expires */

typedef struct cookie {
    buf_t mem;                  /* "name\0value\0domain\0path\0" */
    size_t value, domain, path; /* offsets of the parts in mem (name is at 0) */
    int64_t expires;            /* wall-clock seconds, or COOKIE_SESSION */
    uint64_t created;           /* order of creation, for the Cookie header's order */
    bool host_only, secure;
} cookie_t;

typedef struct cookie_jar {
    cookie_t *c;
    size_t n, cap;
    uint64_t seq;
} cookie_jar_t;

/* A new empty jar; free it with cookie_jar_free (which accepts NULL). */
cookie_jar_t *cookie_jar_new(void);
void cookie_jar_free(cookie_jar_t *j);
/* Forget every cookie (the memory is kept). */
void cookie_jar_clear(cookie_jar_t *j);

/* Apply one Set-Cookie header value (hdr, n) received from host (hlen
 * bytes, any case) for request path (plen bytes; a query is ignored), over
 * TLS if secure; now is the wall clock in seconds. Returns 1 if a cookie
 * was stored or replaced, 0 if one was deleted (expired), -1 if the value
 * was ignored (no '=', empty name, a control byte other than HTAB anywhere
 * in the value, a Domain the host is not in, a Secure cookie from plain
 * HTTP, a full jar). */
int cookie_jar_set(cookie_jar_t *j, const char *hdr, size_t n, const char *host, size_t hlen,
                   const char *path, size_t plen, bool secure, int64_t now);

/* Append to out the Cookie header value for a request to host and path
 * ("a=1; b=2", without the header name). Expired cookies are dropped from
 * the jar on the way. Returns the number of cookies written (0: nothing
 * appended). j may be NULL. */
int cookie_jar_header(cookie_jar_t *j, buf_t *out, const char *host, size_t hlen, const char *path,
                      size_t plen, bool secure, int64_t now);

static inline const char *cookie_name(const cookie_t *c)
{
    return c->mem.p;
}
static inline const char *cookie_value(const cookie_t *c)
{
    return c->mem.p + c->value;
}
static inline const char *cookie_domain(const cookie_t *c)
{
    return c->mem.p + c->domain;
}
static inline const char *cookie_path(const cookie_t *c)
{
    return c->mem.p + c->path;
}

/* Parse an RFC 6265 cookie date ("Wed, 21 Oct 2015 07:28:00 GMT" and the
 * variants browsers accept). Returns 0 and the time in *t (UTC seconds),
 * or -1. */
int cookie_parse_date(const char *s, size_t n, int64_t *t);

#endif
