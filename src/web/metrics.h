/* metrics: the /metrics route of the web server (report/expo.h's text),
 * on the web UI's port and on the headless --metrics-bind server, which
 * serves nothing else. Internal to src/web: conn.c calls it for every
 * request to /metrics, and for every request at all on a metrics-only
 * server (struct web's metrics_only), after the --web-auth check. */
#ifndef CICADA_WEB_METRICS_H
#define CICADA_WEB_METRICS_H

#include <stdbool.h>

#include "web/routes.h"

/* True if the request goes to metrics_route() rather than to routes.c:
 * its path is /metrics, or w serves metrics only. */
bool metrics_wants(const struct web *w, const http_req_t *req);

/* Answer one request: GET /metrics with the exposition built
 * under runner_lock() and sent after unlocking; 405 for another method;
 * 404 for another path (metrics-only server). Returns the status sent. */
int metrics_route(web_conn_t *c, struct web *w);

#endif
