/* http: the web server's request parser and form decoding, pure functions.
 *
 * http_parse() reads one HTTP/1.x request head (request line and headers)
 * from the caller's buffer without allocating: the request's fields point
 * into that buffer, which must stay unchanged while they are used. It does
 * not read bodies (the server counts Content-Length bytes itself), does not
 * accept chunked request bodies, and knows nothing of routes. */
#ifndef CICADA_WEB_HTTP_H
#define CICADA_WEB_HTTP_H

#include <stdbool.h>
#include <stddef.h>

#define HTTP_MAX_HEADERS 48
#define HTTP_PATH_MAX 1024

typedef struct {
    const char *name, *value; /* not NUL-terminated: use the lengths */
    size_t name_len, value_len;
} http_header_t;

typedef struct {
    const char *method, *target; /* the raw request target, with its query */
    size_t method_len, target_len;
    int minor;                /* HTTP/1.<minor> */
    char path[HTTP_PATH_MAX]; /* the target's path, %-decoded, NUL-terminated */
    const char *query;        /* after '?', or NULL; not NUL-terminated */
    size_t query_len;
    long long content_length; /* -1: no Content-Length header */
    bool chunked;             /* Transfer-Encoding was sent (refused by the server) */
    bool keep_alive;          /* HTTP/1.1 without "close", or 1.0 with "keep-alive" */
    size_t nheaders;
    http_header_t headers[HTTP_MAX_HEADERS];
} http_req_t;

enum { HTTP_NEED_MORE = 0, HTTP_BAD = -1, HTTP_TOO_MANY = -2 };

/* Parse the request head at buf[0..len). Returns the head's length in
 * bytes (the body, if any, starts there), HTTP_NEED_MORE if the blank line
 * that ends the head has not arrived, HTTP_BAD for a malformed head and
 * HTTP_TOO_MANY for more than HTTP_MAX_HEADERS headers or a path over
 * HTTP_PATH_MAX. req is filled only on success. */
long http_parse(const char *buf, size_t len, http_req_t *req);

/* The value of header name (case-insensitive) NUL-terminated into out
 * (size n, truncated), or NULL if the request has no such header. */
const char *http_header(const http_req_t *req, const char *name, char *out, size_t n);

/* True if the request has header name (case-insensitive). */
bool http_has(const http_req_t *req, const char *name);

/* Look key up in a form body or query string (a=1&b=2) and %-decode its
 * value into out (size n, NUL-terminated). Returns the value's length, -1
 * if key is absent, -2 if the value does not fit in n. */
int http_form_var(const char *data, size_t len, const char *key, char *out, size_t n);

/* The same for the nth occurrence (from 0) of a repeated key
 * (user_classes=A&user_classes=B): -1 once there are no more. */
int http_form_var_nth(const char *data, size_t len, const char *key, size_t nth, char *out,
                      size_t n);

/* The reason phrase for status ("OK", "Not Found", ...). */
const char *http_status_text(int status);

#endif
