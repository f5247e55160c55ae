/* request: an HTTP/1.1 request serialized from a plain description, the
 * way requests' Session prepares one: the request line with the query
 * parameters appended to the target, Host, the default headers
 * (User-Agent, Accept) unless the request or the client names them, the
 * request's headers, the client's default headers it does not override,
 * basic authentication, Proxy-Authorization (plain http through a proxy,
 * whose request line then carries the absolute URL), the cookies of the jar that match,
 * Content-Type and Content-Length, then the body.
 *
 * It is pure: no Lua, no connection, no clock (the caller passes `now` for
 * cookie expiry); the output goes to a caller's buffer. The Lua binding
 * (src/lua/http.c) only reads the scenario's arguments into a request_t;
 * the unit tests build one by hand. Encoding the body (json, forms,
 * multipart) and the query parameters of a table is the binding's: they
 * arrive here as bytes. */
#ifndef CICADA_REQUEST_H
#define CICADA_REQUEST_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>

#include "base/buf.h"

struct cookie_jar;

/* One header of a table. value NULL: the header is removed (requests'
 * None, the scenario's false): not written, but it still stops the client
 * adding its own (a default header, or the client's for the same name). */
typedef struct request_header {
    const char *name, *value;
    size_t name_len, value_len;
} request_header_t;

/* Which of the headers the client may add itself the tables name
 * (request_flags). */
enum {
    REQUEST_H_HOST = 1,
    REQUEST_H_UA = 2,
    REQUEST_H_ACCEPT = 4,
    REQUEST_H_CTYPE = 8,
    REQUEST_H_AUTH = 16,
    REQUEST_H_COOKIE = 32,
    REQUEST_H_AE = 64,     /* Accept-Encoding given... */
    REQUEST_H_DECODE = 128 /* ...and it names gzip or deflate */
};

/* Everything a request is made of. Pointers are the caller's and need only
 * live during the call; nothing is kept. */
typedef struct request {
    const char *method; /* upper case, as sent */
    size_t method_len;
    const char *host; /* a name or an IP literal (IPv6 without brackets) */
    size_t host_len;
    int port;
    bool tls;         /* https: the default port is 443, else 80 */
    const char *path; /* the target as given: path, maybe with a query */
    size_t path_len;
    const char *query; /* encoded parameters to append ("a=1&b=2"), or NULL */
    size_t query_len;
    const request_header_t *headers; /* the request's own */
    size_t nheaders;
    const request_header_t *defaults; /* the client's, under the request's */
    size_t ndefaults;
    bool absolute;          /* through a proxy: "http://host[:port]/path" as the target */
    const char *proxy_auth; /* Proxy-Authorization value ("Basic ..."), or NULL */
    const char *auth_user;  /* basic authentication if not NULL */
    size_t auth_user_len;
    const char *auth_pass; /* may be NULL: "user:" */
    size_t auth_pass_len;
    struct cookie_jar *jar; /* may be NULL; expired cookies are dropped from it */
    int64_t now;            /* wall clock in seconds, for cookie expiry */
    const char *ctype;      /* Content-Type of the body, or NULL */
    const char *body;       /* NULL: no body */
    size_t body_len;
} request_t;

/* The REQUEST_H_* bits of the header names in h[0..n) (any case). */
unsigned request_header_flags(const request_header_t *h, size_t n);

/* The REQUEST_H_* bits of r's request and client headers together. */
unsigned request_flags(const request_t *r);

/* Should the response body be decoded (gzip, deflate)? The request's
 * Accept-Encoding decides, else the client's; none: no. */
bool request_decode(const request_t *r);

/* Append the request line's start to w: "METHOD target" with the query
 * (after '?', or '&' if the target has one already), the target in
 * absolute form if r->absolute. Returns the offset in w where the path
 * starts (after "http://host:port" in absolute form); it ends at w->len. */
size_t request_start(buf_t *w, const request_t *r);

/* Append the whole request to w (request line, headers, body). Returns the
 * offset of the target in w, as request_start; *target_len gets its
 * length (may be NULL). */
size_t request_write(buf_t *w, const request_t *r, size_t *target_len);

/* Append the base64 encoding of s[0..n) to w. */
void request_base64(buf_t *w, const char *s, size_t n);

#endif
