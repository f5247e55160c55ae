/* net: the one transport under every socket cicada opens to a target, the
 * HTTP client's connections (http/client.c) and the scenario's
 * OpenResty-style sockets (lua/cosocket*.c) alike.
 *
 * Two things live here. A per-engine context, net_t, made once by the
 * engine: its loop, --ca-file and --insecure, the OpenSSL client contexts
 * (one per CA bundle, made on first use: tls.h), the last TLS error text and
 * a graveyard of closed sockets freed after the loop turn. And the seam, in
 * the spirit of wrk's `struct sock`: a sock_t embedded in the owner's
 * connection, whose calls go through one table of function pointers
 * (sock_ops_t) chosen once -- plain sockets over the engine's epoll loop,
 * TLS over them once sock_tls() ran, or the scripted fake of fake.h in
 * unit tests. Every call returns NET_OK, NET_ERROR (s->err holds an errno;
 * EPROTO means a TLS failure whose text is tls_error()) or NET_RETRY (wait:
 * s->want says for which readiness), and the caller handles the three in a
 * switch.
 *
 * Readiness is the owner's business: the backend registers the socket with
 * the loop on connect (edge-triggered, both directions) and the loop calls
 * the owner's s->io.fn with the events; the owner then calls the step it
 * waits for again. Timeouts are the owner's timers too. Name resolution is
 * not here: connect takes one address the caller already has and tries the
 * next one itself.
 *
 * Not done: server sockets (web/ has its own), unix-domain sockets. */
#ifndef CICADA_NET_H
#define CICADA_NET_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/socket.h>
#include <sys/types.h>

#include "net/loop.h"

typedef enum { NET_OK, NET_ERROR, NET_RETRY } net_status_t;

enum { SOCK_WANT_READ = 1, SOCK_WANT_WRITE = 2 };

typedef struct net net_t;
typedef struct sock sock_t;
struct ssl_st;
struct ssl_ctx_st;
struct ssl_session_st;

/* One backend of the seam. The owner calls these through the sock_*
 * wrappers below, never directly. */
typedef struct sock_ops {
    /* Start connecting to sa (non-blocking; type SOCK_STREAM or
     * SOCK_DGRAM). OK: connected; RETRY: in progress, wait for
     * writability then call connected; ERROR: s->err, nothing left open. */
    net_status_t (*connect)(sock_t *s, const struct sockaddr *sa, socklen_t len, int type);
    /* After writability while connecting: OK or ERROR (s->err). */
    net_status_t (*connected)(sock_t *s);
    /* Put TLS over the connected socket (see sock_tls). */
    void (*tls)(sock_t *s, struct ssl_ctx_st *ctx, const char *host, bool verify);
    /* Advance the TLS handshake: OK done, RETRY wait, ERROR failed. */
    net_status_t (*handshake)(sock_t *s);
    /* Read up to n bytes into p: OK with *got > 0 bytes, or *got == 0 at
     * the end of the stream; RETRY: nothing there yet. */
    net_status_t (*read)(sock_t *s, char *p, size_t n, size_t *got);
    /* Write up to n bytes: OK with *put > 0 written (n == 0 only on a
     * datagram socket: an empty datagram); RETRY: no room. */
    net_status_t (*write)(sock_t *s, const char *p, size_t n, size_t *put);
    /* Close the socket (TLS first; clean: the exchange ended well, so the
     * TLS session stays resumable). The sock can connect again. */
    void (*close)(sock_t *s, bool clean);
} sock_ops_t;

/* A connection's transport state, embedded in its owner (first member of
 * the owner when the owner is found back from the io pointer). */
struct sock {
    loop_io_t io; /* fd (-1: closed) and the owner's event callback */
    net_t *net;
    const sock_ops_t *ops;          /* the backend, or TLS over it after sock_tls */
    struct ssl_st *ssl;             /* TLS: the OpenSSL connection; NULL when plain */
    struct ssl_session_st *session; /* TLS: resumption slot, kept across sockets; owned */
    int err;                        /* errno of the last ERROR; EPROTO: TLS, text in tls_error() */
    unsigned char want;             /* SOCK_WANT_* after a RETRY */
    bool tls;                       /* TLS is on: a short read does not mean drained */
    sock_t *grave_next;             /* net's graveyard */
    void (*bury)(sock_t *s);        /* frees the owner, from net_bury */
};

/* The per-engine transport context. */
struct net {
    loop_t *loop;               /* NULL with the fake backend */
    const char *ca_file;        /* --ca-file (borrowed), NULL: the system's store */
    bool insecure;              /* --insecure: verify no certificate */
    const sock_ops_t *ops;      /* the backend new sockets start on */
    struct tls_ctx_entry *ctxs; /* OpenSSL contexts by CA bundle (tls.c) */
    sock_t *grave;
    void *backend;     /* the backend's own state (fake.c's script; an io_uring ring) */
    char errtext[512]; /* the last TLS failure (tls_error) */
};

/* The plain backend: non-blocking sockets on net->loop. Its close is
 * also what TLS closes with, under the TLS connection. */
extern const sock_ops_t net_plain;
void net_plain_close(sock_t *s, bool clean);

/* A context for one engine thread on loop; ca_file is borrowed and must
 * outlive it. Free with net_free (which buries what is left). */
net_t *net_new(loop_t *loop, const char *ca_file, bool insecure);
void net_free(net_t *n);

/* Make s a closed socket of n whose events go to fn. */
void sock_init(sock_t *s, net_t *n, loop_io_fn fn);

/* Close s and hand its owner to the graveyard: bury(s) is called from
 * net_bury, after the loop turn, when no event of this turn can refer to
 * it any more. The owner must not be used afterwards. */
void net_retire(net_t *n, sock_t *s, void (*bury)(sock_t *s));
/* Free the graveyard (the engine calls it after each loop turn). */
void net_bury(net_t *n);

/* Verification for a caller that asks for it: off under --insecure. */
static inline bool net_verify(const net_t *n, bool asked)
{
    return asked && !n->insecure;
}

/* ---- the seam: what owners call ---- */

static inline net_status_t sock_connect(sock_t *s, const struct sockaddr *sa, socklen_t len,
                                        int type)
{
    return s->ops->connect(s, sa, len, type);
}
static inline net_status_t sock_connected(sock_t *s)
{
    return s->ops->connected(s);
}
/* Start TLS on the connected s to host (a name: sent as SNI and checked in
 * the certificate; an IP literal: checked, no SNI; NULL: neither), with
 * verification of the chain if verify. The session in s->session, if
 * any, is offered; new ones the server hands out replace it. Then call
 * sock_handshake until OK. */
static inline void sock_tls(sock_t *s, struct ssl_ctx_st *ctx, const char *host, bool verify)
{
    s->ops->tls(s, ctx, host, verify);
}
static inline net_status_t sock_handshake(sock_t *s)
{
    return s->ops->handshake(s);
}
/* Reads and writes of the plain backend, the hot path of every request,
 * are inlined here: one pointer test and the system call, no indirect
 * call (measured: docs/architecture.md, "Transport"). Other backends go
 * through the table (their count lands in a local first, so that the
 * caller's stays in a register). A failed plain call ends in
 * net_plain_failed: EAGAIN is RETRY, anything else ERROR -- EINTR
 * included, which a non-blocking socket never returns (the kernel answers
 * EAGAIN before it would sleep, and only sleeping is interrupted). */
net_status_t net_plain_failed(sock_t *s, unsigned char want);

static inline net_status_t sock_read(sock_t *s, char *p, size_t n, size_t *got)
{
    if (s->ops != &net_plain) {
        size_t t = 0;
        net_status_t st = s->ops->read(s, p, n, &t);
        *got = t;
        return st;
    }
    ssize_t r = recv(s->io.fd, p, n, 0);
    if (r < 0) return net_plain_failed(s, SOCK_WANT_READ);
    *got = (size_t)r;
    return NET_OK;
}
static inline net_status_t sock_write(sock_t *s, const char *p, size_t n, size_t *put)
{
    if (s->ops != &net_plain) {
        size_t t = 0;
        net_status_t st = s->ops->write(s, p, n, &t);
        *put = t;
        return st;
    }
    /* send() returns 0 only for n == 0 (an empty datagram) */
    ssize_t r = send(s->io.fd, p, n, MSG_NOSIGNAL);
    if (r < 0) return net_plain_failed(s, SOCK_WANT_WRITE);
    *put = (size_t)r;
    return NET_OK;
}
static inline void sock_close(sock_t *s, bool clean)
{
    s->ops->close(s, clean);
}
/* Free the session kept for resumption (when the owner goes, or when the
 * settings it was made with change). */
void sock_forget_session(sock_t *s);

#endif
