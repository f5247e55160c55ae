/* conn: one connection of the web server (server.c): its buffers, its
 * transport (plain or TLS), the HTTP request cycle and the WebSocket
 * viewer's queue. Internal to src/web. server.c owns the loop and the list
 * of connections; everything here runs on the loop's thread.
 *
 * A connection goes C_HEAD -> C_BODY -> C_REPLY -> C_HEAD (keep-alive) or
 * closed, or C_REPLY -> C_WS after a WebSocket upgrade. "Half-open" means
 * in C_HEAD or C_BODY: a whole request has not arrived yet. */
#ifndef CICADA_WEB_CONN_H
#define CICADA_WEB_CONN_H

#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>

#include <openssl/ssl.h>

#include "web/http.h"
#include "web/routes.h"
#include "web/ws.h"

#define HEAD_MAX 16384    /* a request head, bytes */
#define BODY_MAX 65536    /* a request body, bytes */
#define HEAD_TIMEOUT 10.0 /* s from a request's first byte to its end */
#define EVICT_AGE 1.0     /* s: younger half-open connections are never evicted */
#define PER_ADDR 16       /* half-open connections per peer address, past EVICT_AGE */
#define MAX_HALF 4096     /* half-open connections in all */
#define WS_STALL 30.0     /* s a viewer or download may take no byte of what is queued */
#define OUT_KEEP 65536    /* an output buffer larger than this is freed once sent */

enum { IO_OK, IO_RETRY, IO_ERROR };
enum { C_HEAD, C_BODY, C_REPLY, C_WS };

typedef struct frame {
    int refs;
    size_t len;
    unsigned char data[]; /* header and payload */
} frame_t;

struct web_conn {
    struct web *w;
    int fd, state, events; /* events: registered with epoll, -1 while parked */
    SSL *ssl;
    bool want_write; /* OpenSSL needs the socket writable to go on */
    bool close_after, dead, half;
    bool parked;            /* handed to the command thread: the loop leaves it alone */
    unsigned char addr[16]; /* peer address (IPv4 mapped) */
    double since;           /* entered the head state; or the last write progress */
    char *in;
    size_t in_len, in_cap, need; /* need: head + body length once the head is parsed */
    char *out;
    size_t out_len, out_off, out_cap;
    http_req_t req;
    size_t head_len;
    frame_t *cur, *next; /* WebSocket: frame being written, newest waiting */
    size_t cur_off;
    unsigned char ctl[WS_HEAD_MAX + 125];
    size_t ctl_len, ctl_off;
    web_conn_t *prev_c, *next_c; /* every connection, oldest first */
    web_conn_t *cmd_next;        /* in the command queue or the done list */
};

struct web_loop {
    int ep, lfd, evfd;
    SSL_CTX *ctx;
    pthread_t thread;
    bool started;
    atomic_bool quit;
    web_conn_t *first, *last, *dead;
    size_t nhalf, nws;
    frame_t *latest; /* the last frame pushed, and when */
    double latest_at;

    /* Requests that change state run on the command thread, because the
     * runner may make them wait (about 2 s when its queue is full) and the
     * loop must never wait. Parked connections go in cmd_first..cmd_last,
     * come back answered in done, and donefd wakes the loop. */
    pthread_t cmd_thread;
    bool cmd_started, cmd_quit;
    pthread_mutex_t cmd_lock;
    pthread_cond_t cmd_wake;
    web_conn_t *cmd_first, *cmd_last, *done;
    int donefd;
};

/* Seconds on the monotonic clock. */
double web_now(void);

/* The 16-byte key of a peer's address (IPv4 as IPv4-mapped IPv6). */
void web_peer_key(const struct sockaddr_storage *ss, unsigned char key[16]);

/* Drop one reference to f (NULL is fine); the last frees it. */
void frame_unref(frame_t *f);

/* Keep l's list of connections in order of c->since. */
void conn_unlink(struct web_loop *l, web_conn_t *c);
void conn_append(struct web_loop *l, web_conn_t *c);
void conn_set_half(struct web_loop *l, web_conn_t *c, bool half);

/* Close c at once; the struct is freed by conn_free_dead() after the
 * current batch of epoll events, which may still point to it. */
void conn_kill(struct web_loop *l, web_conn_t *c);
void conn_free_dead(struct web_loop *l);

/* c is readable (or a response finished): read, parse, answer, as far as
 * it goes without blocking. May kill c. */
void conn_input(struct web_loop *l, web_conn_t *c);

/* c is writable: write what is queued. May kill c. */
void conn_output(struct web_loop *l, web_conn_t *c);

/* Register with epoll what c waits for now. */
void conn_update(struct web_loop *l, web_conn_t *c);

/* Build the /stats/requests frame once and queue it to every viewer. */
void conn_push(struct web_loop *l, struct web *w);

#endif
