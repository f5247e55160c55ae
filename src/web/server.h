/* server: the web UI's HTTP, WebSocket and TLS server, on one event loop.
 *
 * It serves the embedded page (web/assets.h), Locust's HTTP API with the
 * same routes and JSON field names (/swarm, /stop, /stats/reset,
 * /stats/requests, the CSV downloads, /exceptions, /tasks, /stats/report;
 * see routes.c) and a WebSocket at /ws that pushes the /stats/requests
 * document once a second. Handlers never touch the engines: they queue
 * runner commands and read the merged statistics under runner_lock(), so a
 * slow browser can only slow the web thread, never the load; and every
 * connection is bounded (conn.h, docs/architecture.md), so no viewer or
 * client can freeze the UI for the others.
 *
 * --web-auth user:password puts every route, the WebSocket included,
 * behind HTTP Basic auth; --tls-cert/--tls-key serve HTTPS and WSS.
 * State changes from other sites' pages are refused (guard.h). It listens
 * on IPv4 or IPv6, whatever --web-host resolves to first ("" or "*": every
 * IPv4 interface). */
#ifndef CICADA_WEB_SERVER_H
#define CICADA_WEB_SERVER_H

#include <stddef.h>

#include "cli/opts.h"
#include "runner/runner.h"

typedef struct web web_t;

/* Start listening on o->web_host:o->web_port ("" or "*" = every
 * interface) and register the runner's tick to push WebSocket updates.
 * Logs "Starting web interface at ...". Returns NULL with the reason in
 * err (size n) if the port cannot be bound or the TLS files are bad. o and
 * r must outlive the server; call web_stop() before runner_free(). */
web_t *web_start(const opts_t *o, runner_t *r, char *err, size_t n);

/* Start the --metrics-bind server (o->metrics_bind, HOST:PORT): the same
 * server with the same --web-auth and TLS, serving GET /metrics and a 404
 * for every other path (no page, no API, no WebSocket). Logs "Serving
 * Prometheus metrics at ...". Returns NULL with the reason in err if the
 * address cannot be bound. Independent of web_start(): both may run.
 * Stop it with web_stop(). */
web_t *web_start_metrics(const opts_t *o, runner_t *r, char *err, size_t n);

/* Stop the server's threads (after the command in hand, if any: at most
 * about 2 s), close every connection and free w (NULL is fine). Call it
 * on the main thread, after runner_run() returned. */
void web_stop(web_t *w);

#endif
