/* routes: the web server's internals shared by server.c (life cycle,
 * auth, WebSocket) and routes.c (the HTTP routes). Not for other parts of
 * cicada: they use web/server.h. */
#ifndef CICADA_WEB_ROUTES_H
#define CICADA_WEB_ROUTES_H

#include <pthread.h>
#include <stdbool.h>
#include <stddef.h>

#include <civetweb.h>

#include "web/server.h"

struct web {
    struct mg_context *ctx;
    runner_t *r;
    const opts_t *o;
    const char *auth;   /* "user:password" (--web-auth), or NULL for none */
    char *history_path; /* PREFIX_stats_history.csv with --csv-full-history, else NULL */

    /* WebSocket clients: added by the ready handler and removed by the
     * close handler (civetweb threads), written to by the pusher thread.
     * A connection stays valid while it is in the list, because its close
     * handler has to take the lock to remove it. */
    pthread_mutex_t lock;
    pthread_cond_t wake;
    struct mg_connection **clients;
    size_t nclients, cap;
    unsigned long ticks; /* runner ticks not yet pushed */
    bool quit;
    bool pusher_started;
    bool lib;              /* mg_init_library() was called */
    struct tls_front *tls; /* the HTTPS front, or NULL for plain HTTP */
    pthread_t pusher;
};

/* Handle one HTTP request (already authorized). Returns the HTTP status
 * sent, for civetweb's access log. */
int routes_handle(struct mg_connection *c, struct web *w);

/* Send a whole response: status line, Content-Type, Content-Length, the
 * extra header lines (each ending in "\r\n"; may be NULL) and the body. */
void web_reply(struct mg_connection *c, int status, const char *type, const char *headers,
               const void *body, size_t len);

#endif
