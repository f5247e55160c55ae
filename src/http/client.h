/* client: HTTP/1.1 keep-alive connections of one user.
 *
 * Each user has at most one connection per (host, port), kept open between
 * requests and reopened when the server closes it. A request is serialized
 * by the caller straight into the connection's write buffer; client_send()
 * writes it at once (one send() in steady state) and only waits for
 * writability when the kernel buffer is full. The socket is registered once
 * with the loop, edge-triggered for both directions, so steady state costs
 * one send() and one recv() per request: reading stops as soon as the
 * parser says the response is complete.
 *
 * A request that fails on a reused connection before any byte of the
 * response arrived (the server closed an idle connection) is sent again on
 * a fresh one, once. Failures of the target are results, never fatal:
 * they come back as client_result_t with a Locust-style error string. */
#ifndef CICADA_CLIENT_H
#define CICADA_CLIENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "engine/engine.h"
#include "engine/loop.h"
#include "http/parse.h"

enum conn_state {
    CONN_CLOSED,     /* no socket */
    CONN_CONNECTING, /* connect() in progress, request waiting in wbuf */
    CONN_WRITING,    /* part of the request still in wbuf */
    CONN_READING,    /* request sent, response being read */
    CONN_IDLE,       /* open, no request */
};

typedef struct conn {
    loop_io_t io;
    loop_timer_t timer;
    user_t *user;
    struct conn *next; /* user's list, or the engine's graveyard */
    char *host;        /* owned */
    int port;
    struct sockaddr_storage addr[4]; /* every address of the host, tried in turn */
    socklen_t addrlen[4];
    int naddr, addr_idx;
    enum conn_state state;
    bool reused; /* this request went out on a kept-alive connection */
    bool retried;

    buf_t wbuf; /* the request; kept until the response is complete */
    size_t woff;
    buf_t rbuf; /* response bytes */

    /* response framing */
    ssize_t hdr_len; /* 0 until the header block is parsed */
    enum http_body_mode mode;
    int status;
    bool keep_alive;
    int64_t content_length;
    size_t body_end; /* chunked: end of decoded body inside rbuf */
    http_chunked_t chunk;

    /* the request in flight */
    bool head;
    int64_t start_ns, timeout_ns;
} conn_t;

/* The outcome of one request, handed to the completion callback. Pointers
 * point into the connection's buffers and are valid only during the call. */
typedef struct client_result {
    int status;        /* 0 if no response */
    const char *error; /* NULL, or a Locust-style error ("ConnectionRefusedError(...)") */
    const char *headers; /* raw header block (status line included) */
    size_t headers_len;
    const char *body;
    size_t body_len;
    int64_t elapsed_ns;
} client_result_t;

/* Find or create u's connection to host:port (host is copied). Returns NULL
 * and fills err when the name does not resolve. */
conn_t *client_conn(user_t *u, const char *host, size_t host_len, int port, char *err,
                    size_t n);

/* Send the request in c->wbuf (method HEAD if head). timeout_s <= 0 means
 * no timeout. Returns 1 if the request is under way (the result comes
 * through client_on_result later), or 0 if it failed at once and *res holds
 * the failure. */
int client_send(conn_t *c, bool head, double timeout_s, client_result_t *res);

/* Called by the client when a request completes (defined by the Lua
 * bindings): must consume res before returning. */
void client_on_result(conn_t *c, const client_result_t *res);

/* Abandon the request in flight on c (stop deadline): close the socket and
 * deliver a failure with the given error. */
void client_abort(conn_t *c, const char *error);

/* Close all of u's connections and move them to the engine's graveyard. */
void client_close_all(user_t *u);
/* Free the graveyard (after a loop turn, when no event can refer to it). */
void client_bury(engine_t *e);

#endif
