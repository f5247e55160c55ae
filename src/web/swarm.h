/* swarm: the command routes of the web UI — /swarm, /stop, /stats/reset.
 * Each takes a whole request (routes_handle has checked the method, the
 * guard and the body type) and sends one whole response; they may wait
 * for room in the runner's queue, so they run on the command thread. */
#ifndef CICADA_WEB_SWARM_H
#define CICADA_WEB_SWARM_H

#include "web/routes.h"

/* POST /swarm: start or change a test. Returns the HTTP status sent. */
int swarm_route(web_conn_t *c, struct web *w);
/* POST /stop (GET too from a script): stop the test. */
int swarm_stop_route(web_conn_t *c, struct web *w);
/* POST /stats/reset: reset the statistics. */
int swarm_reset_route(web_conn_t *c, struct web *w);

#endif
