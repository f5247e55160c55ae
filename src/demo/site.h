/* site: the demo site's routes, and the output buffer they write into.
 *
 * demo_site_respond() turns one parsed request into one complete response
 * appended to a buffer; it knows nothing of sockets or time except the Date
 * header it is given, so it is tested without a server. A route that must
 * answer later (GET /slow) still writes its response at once and asks the
 * server, through *delay, to hold it back for that long. */
#ifndef CICADA_DEMO_SITE_H
#define CICADA_DEMO_SITE_H

#include <stddef.h>
#include <stdint.h>
#include <time.h>

#include "demo/req.h"

enum { DEMO_BODY_MAX = 1 << 20, DEMO_SLOW_MAX = 60 };

/* A growable byte buffer. It owns p (xmalloc'd); demo_buf_free releases it. */
struct demo_buf {
    char *p;
    size_t len, cap;
};

/* Make room for extra more bytes; returns where they go (p + len). */
char *demo_buf_reserve(struct demo_buf *b, size_t extra);
void demo_buf_add(struct demo_buf *b, const void *data, size_t n);
void demo_buf_free(struct demo_buf *b);

/* What the routes need to know: set once, but date and rng change. */
struct demo_site {
    double slow_delay;       /* default seconds for GET /slow */
    double fail_ratio;       /* chance of 500 on GET /flaky */
    uint64_t rng;            /* xorshift state, never 0 */
    time_t date_at;          /* second the date string was made for */
    char date[40];           /* IMF-fixdate for the Date header */
    struct demo_buf scratch; /* bodies built before their length is known */
};

/* Set the fields and seed the generator. */
void demo_site_init(struct demo_site *site, double slow_delay, double fail_ratio, uint64_t seed);
/* Release what the site owns (its scratch buffer). */
void demo_site_free(struct demo_site *site);
/* Refresh the Date string if now (wall clock seconds) moved on. */
void demo_site_tick(struct demo_site *site, time_t now);

#define DEMO_CLOSE 1 /* the connection must close after this response */

/* Append the response to rq (whose body is in rq->body) to out. Sets *delay
 * to the seconds the response must wait before being sent, or to 0. Returns
 * DEMO_CLOSE when the connection must close after it (rq asked for that),
 * else 0. */
int demo_site_respond(struct demo_site *site, const struct demo_req *rq, struct demo_buf *out,
                      double *delay);

/* Append an error response for a request that could not be read (400, 413,
 * 431, 501) with "Connection: close". */
void demo_site_error(struct demo_site *site, int status, struct demo_buf *out);

#endif
