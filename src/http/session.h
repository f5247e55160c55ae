/* session: what requests' Session adds on top of a connection — cookies,
 * redirects and content decoding — for the HTTP client.
 *
 * The client calls these when a response is complete, before it delivers
 * the result: the Set-Cookie headers go to the client's jar, a redirect is
 * followed by rebuilding the next request from the previous one (kept in
 * the connection's write buffer: method, target, the user's headers,
 * body) under requests' method rules. (A gzip or deflate body is inflated
 * as it arrives, by body.c with decode.h.) None of it runs for a plain
 * 2xx response without Set-Cookie or Location: the hot path only pays for
 * noting three headers while parsing. */
#ifndef CICADA_SESSION_H
#define CICADA_SESSION_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"
#include "http/client.h"
#include "http/decode.h"
#include "http/url.h"

#define SESSION_GZIP DECODE_GZIP
#define SESSION_DEFLATE DECODE_DEFLATE

/* SESSION_GZIP, SESSION_DEFLATE or 0 for a Content-Encoding value. */
int session_encoding(const char *v, size_t n);

/* Is this status a redirect requests follows (301, 302, 303, 307, 308)? */
static inline bool session_is_redirect(int status)
{
    return status == 301 || status == 302 || status == 303 || status == 307 || status == 308;
}

/* Store the Set-Cookie headers of the complete response on c in its
 * client's jar (created on first use). */
void session_store_cookies(conn_t *c);

/* Append a "Cookie: ...\r\n" line to w with the cookies of jar (may be
 * NULL) for a request to host and path (path may carry a query) over TLS
 * or not; nothing if none match. */
void session_cookie_header(struct cookie_jar *jar, buf_t *w, const char *host, size_t hlen,
                           const char *path, size_t plen, bool tls);

/* ---- the rules, pure (unit-tested in tests/unit/http/test_session.c) ---- */

/* Resolve a Location value (l, ll bytes; a fragment is dropped) against
 * the request it answers — origin ("http://host:port" as URLs show it),
 * tls, target t (tl bytes: path and query) — into the absolute URL in out
 * (replaced): absolute, scheme-relative, absolute path, relative path or
 * query only, dot segments removed, unsafe bytes percent-encoded. */
void session_resolve(buf_t *out, const char *origin, bool tls, const char *t, size_t tl,
                     const char *l, size_t ll);

/* The method of the next hop when a request with method m (ml bytes)
 * is redirected with status: GET for a 303 or 302 (except HEAD) and for a
 * 301 to a POST, else m. Its length goes to *len. */
const char *session_redirect_method(int status, const char *m, size_t ml, size_t *len);

/* Does the next hop carry the body (and its Content-* headers)? 307, 308. */
static inline bool session_keeps_body(int status)
{
    return status == 307 || status == 308;
}

/* Does Authorization follow a redirect from host:port (hl bytes, tls or
 * not) to `to`? Only to the same host (any case) and origin, or from http
 * on 80 to https on 443. */
bool session_keeps_auth(const char *host, size_t hl, int port, bool tls, const url_t *to);

/* The response on c (result r so far, status a redirect, a Location
 * present, c->req.follow) redirects: send the next hop. Returns true if
 * the request went on (its result will be delivered later, or already
 * was); false if r must be delivered as it is, with r->error set when the
 * redirect cannot be followed (TooManyRedirects, a bad Location). */
bool session_redirect(conn_t *c, client_result_t *r);

#endif
