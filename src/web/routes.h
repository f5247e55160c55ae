/* routes: the web server's internals shared by server.c (the event loop,
 * connections, auth, WebSocket) and routes.c (the HTTP routes). Not for
 * other parts of cicada: they use web/server.h. */
#ifndef CICADA_WEB_ROUTES_H
#define CICADA_WEB_ROUTES_H

#include <stdbool.h>
#include <stddef.h>

#include "web/http.h"
#include "web/server.h"

/* One HTTP connection, owned by server.c; valid during routes_handle(). */
typedef struct web_conn web_conn_t;

struct cJSON;
struct web_loop; /* server.c's event loop state */

struct web {
    runner_t *r;
    const opts_t *o;
    const char *auth;   /* "user:password" (--web-auth), or NULL for none */
    char *history_path; /* PREFIX_stats_history.csv with --csv-full-history, else NULL */
    bool tls;           /* serving HTTPS */
    bool loopback;      /* listening on a loopback address only */
    bool metrics_only;  /* --metrics-bind's server: /metrics alone (web/metrics.h) */
    struct web_loop *loop;
};

/* Send text/html or a JSON document (printed sorted and indented like
 * Flask's jsonify; j is freed) as the whole response. Return status. */
int routes_send_text(web_conn_t *c, int status, const char *text);
int routes_send_json(web_conn_t *c, int status, struct cJSON *j);

/* Handle one whole HTTP request (authorized; the body has arrived). Runs
 * on the server's loop, or on its command thread when routes_may_wait().
 * Returns the HTTP status sent. The response goes to c's output buffer
 * with web_reply() or web_printf()/web_write(). */
int routes_handle(web_conn_t *c, struct web *w);

/* True if req goes to a route that queues a runner command, which may
 * wait for the runner (about 2 s at most): the server runs those off its
 * event loop, one at a time. */
bool routes_may_wait(const http_req_t *req);

/* The request being handled, and its body (len bytes, NUL-terminated). */
const http_req_t *web_request(web_conn_t *c);
const char *web_body(web_conn_t *c, size_t *len);

/* Append to the response: formatted text, or len bytes of data. */
void web_printf(web_conn_t *c, const char *fmt, ...) __attribute__((format(printf, 2, 3)));
void web_write(web_conn_t *c, const void *data, size_t len);

/* Send a whole response: status line, Content-Type, Content-Length, the
 * extra header lines (each ending in "\r\n"; may be NULL) and the body. */
void web_reply(web_conn_t *c, int status, const char *type, const char *headers, const void *body,
               size_t len);

#endif
