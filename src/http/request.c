/* request: see request.h.
 *
 * The order of the output is fixed (the e2e tests and servers that log
 * requests see it): request line, Host, User-Agent, Accept, the request's
 * headers in the order given, the client's not overridden, Authorization,
 * Proxy-Authorization, Cookie, Content-Type, Content-Length, the empty line, the body. A header
 * the request or the client names (even to remove it) replaces the one the
 * client would add. Content-Length is sent with a body, and as 0 for a
 * POST, PUT or PATCH without one (as requests does). The cookies are
 * matched against the target without the added query. */
#include "http/request.h"

#include <string.h>
#include <strings.h>

#include "base/base64.h"
#include "http/cookie.h"

/* Append a string literal (no strlen). */
#define PUT(w, lit) buf_append(w, lit, sizeof lit - 1)

/* Append the decimal digits of v (no printf on the hot path). */
static void put_uint(buf_t *w, size_t v)
{
    char d[24];
    size_t i = sizeof d;
    do
        d[--i] = (char)('0' + v % 10);
    while ((v /= 10) != 0);
    buf_append(w, d + i, sizeof d - i);
}

unsigned request_header_flags(const request_header_t *h, size_t n)
{
    static const struct {
        const char *name;
        size_t len;
        unsigned bit;
    } known[] = {{"host", 4, REQUEST_H_HOST},           {"user-agent", 10, REQUEST_H_UA},
                 {"accept", 6, REQUEST_H_ACCEPT},       {"content-type", 12, REQUEST_H_CTYPE},
                 {"authorization", 13, REQUEST_H_AUTH}, {"cookie", 6, REQUEST_H_COOKIE},
                 {"accept-encoding", 15, REQUEST_H_AE}};
    unsigned f = 0;
    if (n == 0) return 0; /* the common case: no header table */
    for (size_t i = 0; i < n; i++) {
        for (size_t k = 0; k < sizeof known / sizeof *known; k++) {
            if (h[i].name_len != known[k].len ||
                strncasecmp(h[i].name, known[k].name, known[k].len))
                continue;
            f |= known[k].bit;
            const char *v = h[i].value;
            if (known[k].bit == REQUEST_H_AE && v) {
                for (size_t j = 0; j < h[i].value_len; j++)
                    if ((h[i].value_len - j >= 4 && strncasecmp(v + j, "gzip", 4) == 0) ||
                        (h[i].value_len - j >= 7 && strncasecmp(v + j, "deflate", 7) == 0)) {
                        f |= REQUEST_H_DECODE;
                        break;
                    }
            }
            break;
        }
    }
    return f;
}

unsigned request_flags(const request_t *r)
{
    return request_header_flags(r->headers, r->nheaders) |
           request_header_flags(r->defaults, r->ndefaults);
}

bool request_decode(const request_t *r)
{
    unsigned fr = request_header_flags(r->headers, r->nheaders);
    if (fr & REQUEST_H_AE) return (fr & REQUEST_H_DECODE) != 0;
    return (request_header_flags(r->defaults, r->ndefaults) & REQUEST_H_DECODE) != 0;
}

/* "http://host[:port]" of the absolute form (through a proxy only: kept
 * out of the path of direct requests, whose Host is written inline). */
static __attribute__((noinline)) void write_origin(buf_t *w, const request_t *r)
{
    if (r->tls)
        PUT(w, "https://");
    else
        PUT(w, "http://");
    bool v6 = memchr(r->host, ':', r->host_len) != NULL;
    if (v6) PUT(w, "[");
    buf_append(w, r->host, r->host_len);
    if (v6) PUT(w, "]");
    if (r->port != (r->tls ? 443 : 80)) {
        PUT(w, ":");
        put_uint(w, (size_t)r->port);
    }
}

size_t request_start(buf_t *w, const request_t *r)
{
    buf_append(w, r->method, r->method_len);
    PUT(w, " ");
    if (r->absolute) write_origin(w, r);
    size_t at = w->len;
    buf_append(w, r->path, r->path_len);
    if (r->query && r->query_len) {
        char sep = memchr(r->path, '?', r->path_len) ? '&' : '?';
        buf_append(w, &sep, 1);
        buf_append(w, r->query, r->query_len);
    }
    return at;
}

void request_base64(buf_t *w, const char *s, size_t n)
{
    buf_reserve(w, BASE64_LEN(n) + 1);
    w->len += base64_encode(w->p + w->len, s, n, true);
}

static void header(buf_t *w, const char *name, size_t nl, const char *value, size_t vl)
{
    buf_append(w, name, nl);
    PUT(w, ": ");
    buf_append(w, value, vl);
    PUT(w, "\r\n");
}

/* Does h[0..n) name the header name (any case, removed or not)? */
static bool names(const request_header_t *h, size_t n, const char *name, size_t len)
{
    for (size_t i = 0; i < n; i++)
        if (h[i].name_len == len && strncasecmp(h[i].name, name, len) == 0) return true;
    return false;
}

static void write_host(buf_t *w, const request_t *r)
{
    bool v6 = memchr(r->host, ':', r->host_len) != NULL;
    PUT(w, "Host: ");
    if (v6) PUT(w, "[");
    buf_append(w, r->host, r->host_len);
    if (v6) PUT(w, "]");
    if (r->port != (r->tls ? 443 : 80)) {
        PUT(w, ":");
        put_uint(w, (size_t)r->port);
    }
    PUT(w, "\r\n");
}

/* The request's headers, then the client's it does not name. */
static void write_headers(buf_t *w, const request_t *r)
{
    for (size_t i = 0; i < r->nheaders; i++) {
        const request_header_t *h = &r->headers[i];
        if (h->value) header(w, h->name, h->name_len, h->value, h->value_len);
    }
    for (size_t i = 0; i < r->ndefaults; i++) {
        const request_header_t *h = &r->defaults[i];
        if (h->value && !names(r->headers, r->nheaders, h->name, h->name_len))
            header(w, h->name, h->name_len, h->value, h->value_len);
    }
}

static void write_auth(buf_t *w, const request_t *r)
{
    /* "user:password" staged after the header name, then replaced by its
     * code: the room is reserved first so that nothing moves meanwhile */
    size_t n = r->auth_user_len + 1 + (r->auth_pass ? r->auth_pass_len : 0);
    PUT(w, "Authorization: Basic ");
    buf_reserve(w, n + (n + 2) / 3 * 4 + 3);
    size_t at = w->len;
    buf_append(w, r->auth_user, r->auth_user_len);
    buf_append(w, ":", 1);
    if (r->auth_pass) buf_append(w, r->auth_pass, r->auth_pass_len);
    request_base64(w, w->p + at, n);
    memmove(w->p + at, w->p + at + n, w->len - at - n);
    w->len -= n;
    PUT(w, "\r\n");
}

static void write_cookies(buf_t *w, const request_t *r)
{
    if (r->jar == NULL || r->jar->n == 0) return;
    size_t mark = w->len;
    PUT(w, "Cookie: ");
    if (cookie_jar_header(r->jar, w, r->host, r->host_len, r->path, r->path_len, r->tls, r->now) ==
        0) {
        w->len = mark;
        w->p[mark] = '\0';
        return;
    }
    PUT(w, "\r\n");
}

static bool sends_length(const request_t *r)
{
    if (r->body) return true;
    return r->method_len == 4   ? memcmp(r->method, "POST", 4) == 0
           : r->method_len == 3 ? memcmp(r->method, "PUT", 3) == 0
                                : r->method_len == 5 && memcmp(r->method, "PATCH", 5) == 0;
}

size_t request_write(buf_t *w, const request_t *r, size_t *target_len)
{
    size_t at = request_start(w, r);
    if (target_len) *target_len = w->len - at;
    PUT(w, " HTTP/1.1\r\n");
    unsigned have = request_flags(r);
    if (!(have & REQUEST_H_HOST)) write_host(w, r);
    if (!(have & (REQUEST_H_UA | REQUEST_H_ACCEPT))) {
        PUT(w, "User-Agent: cicada/0.1\r\nAccept: */*\r\n");
    } else {
        if (!(have & REQUEST_H_UA)) PUT(w, "User-Agent: cicada/0.1\r\n");
        if (!(have & REQUEST_H_ACCEPT)) PUT(w, "Accept: */*\r\n");
    }
    write_headers(w, r);
    if (r->auth_user && !(have & REQUEST_H_AUTH)) write_auth(w, r);
    if (r->proxy_auth) {
        PUT(w, "Proxy-Authorization: ");
        buf_puts(w, r->proxy_auth);
        PUT(w, "\r\n");
    }
    if (!(have & REQUEST_H_COOKIE)) write_cookies(w, r);
    if (r->ctype && !(have & REQUEST_H_CTYPE)) {
        PUT(w, "Content-Type: ");
        buf_puts(w, r->ctype);
        PUT(w, "\r\n");
    }
    if (sends_length(r)) {
        PUT(w, "Content-Length: ");
        put_uint(w, r->body ? r->body_len : 0);
        PUT(w, "\r\n");
    }
    PUT(w, "\r\n");
    if (r->body) buf_append(w, r->body, r->body_len);
    return at;
}
