/* req: the demo site's HTTP/1.x request-head parser.
 *
 * A pure function over (buf, len), in picohttpparser's manner: it returns
 * how many bytes the head took, or that more are needed, or that the input
 * is bad; everything it finds points into the caller's buffer and nothing
 * is allocated. It reads the headers the server acts on (Content-Length,
 * Transfer-Encoding, Connection, Content-Type, Cookie) into fields and keeps
 * all of them for /echo. It does not read the body: the server does, using
 * content_length. */
#ifndef CICADA_DEMO_REQ_H
#define CICADA_DEMO_REQ_H

#include <stddef.h>

#define DEMO_REQ_BAD (-1)     /* malformed: answer 400 and close */
#define DEMO_REQ_PARTIAL (-2) /* the head is not complete yet */
#define DEMO_REQ_TOOBIG (-3)  /* head over DEMO_HEAD_MAX or too many headers: 431 */

enum { DEMO_HEAD_MAX = 16384, DEMO_MAX_HEADERS = 64 };

/* A piece of the caller's buffer; not NUL-terminated. */
struct demo_str {
    const char *p;
    size_t n;
};

struct demo_req {
    struct demo_str method;
    struct demo_str target; /* as sent, e.g. "/slow?delay=1" */
    struct demo_str path;   /* target before '?', origin-form ("/..." ) */
    struct demo_str query;  /* after '?', without it; n == 0 if none */
    int minor;              /* HTTP/1.<minor> */
    int keep_alive;         /* the connection may stay open after the response */
    int has_te;             /* a Transfer-Encoding header came (not supported) */
    long content_length;    /* body length, 0 if absent */
    struct demo_str content_type, cookie;
    struct demo_str body; /* set by the server once the body is in */
    size_t nheaders;
    struct demo_str name[DEMO_MAX_HEADERS], value[DEMO_MAX_HEADERS];
};

/* Parse the request head at the start of buf[0, len). Leading empty lines are
 * skipped (RFC 9112 2.2). Returns the head's length including its final empty
 * line (> 0), or DEMO_REQ_PARTIAL, DEMO_REQ_BAD or DEMO_REQ_TOOBIG. Only on a
 * return > 0 is *rq filled; its pointers point into buf. Never reads past len
 * nor beyond DEMO_HEAD_MAX bytes. A non-numeric Content-Length, or two that
 * differ, is BAD; refusing one that is too large is the caller's job. */
long demo_req_parse(const char *buf, size_t len, struct demo_req *rq);

/* Case-insensitive equality of s with the NUL-terminated lit. */
int demo_str_eq(struct demo_str s, const char *lit);

#endif
