/* client: HTTP/1.1 keep-alive connections of one client (one virtual
 * user's), plain or TLS.
 *
 * A client_t is what requests calls a Session: its connections, its cookie
 * jar, and the completion callback its owner gave it. It knows nothing of
 * users, Lua or the engine: it runs on a loop and a per-thread environment
 * (client_env_t: the loop, the transport context of src/net with its TLS
 * contexts and graveyard, the resolver, scratch space), and hands every
 * result to the callback. The Lua binding
 * makes one per user that sends a request (src/lua/binding.c).
 *
 * A client has at most one connection per (scheme, host, port), kept open
 * between requests and reopened when the server closes it; it keeps at
 * most CLIENT_MAX_CONNS of them, the least recently used closed first. A request is
 * serialized by the caller straight into the connection's write buffer;
 * client_send() writes it at once (one send() in steady state) and only
 * waits for writability when the kernel buffer is full. The socket is
 * registered once with the loop, edge-triggered for both directions, so
 * steady state costs one send() and one recv() per request: reading stops
 * as soon as the parser says the response is complete. The response side
 * (framing, the body cap, decoding as it arrives) is body.h.
 *
 * Opening a socket starts with the host's addresses from the engine's
 * resolver (net/resolve.h): at once for a literal, localhost or a cached
 * name, otherwise the connection waits in CONN_RESOLVING without blocking
 * the thread, the request's clock and timeout already running. A lookup
 * failure is the request's failure (NameResolutionError, as requests).
 *
 * Through an HTTP proxy (proxy.h picks it in client_conn, by requests'
 * rules: the request's proxies, the environment's, the client's), the
 * connection is to the proxy, resolved the same way, and is kept per
 * (origin, proxy): a plain http request goes in absolute form with
 * Proxy-Authorization (the caller writes them, client_absolute says
 * when); an https one first sends CONNECT host:port and reads the proxy's
 * answer (CONN_TUNNEL, tunnel.c), then does TLS with the origin through
 * the tunnel (its name for SNI and verification), which stays open while
 * the origin keeps the connection alive. Failing to reach the proxy or a
 * refused CONNECT (407 among them) is requests' ProxyError.
 *
 * Bytes move through the transport seam of net/net.h (plain or TLS, or
 * the fake in unit tests): for HTTPS, after the connect the connection
 * does a non-blocking handshake (resuming the session of its previous
 * socket), then the same state machine reads and writes through it. What
 * requests' Session adds on top of a connection (cookies,
 * redirects, gzip/deflate bodies) is in session.h, called from here when a
 * response is complete; a redirect goes out without resuming the user, so
 * the caller sees one result per logical request.
 *
 * A request that fails on a reused connection before any byte of the
 * response arrived (the server closed an idle connection) is sent again on
 * a fresh one, once, if that is safe: its method is idempotent (GET, HEAD,
 * OPTIONS, PUT, DELETE, TRACE) or no byte of it was written — the rule of
 * urllib3 and Go's net/http. A POST the server may have read is never sent
 * twice: it fails. A 101 Switching Protocols ends the HTTP exchange: the
 * connection is closed after it, never reused. Failures of the target are
 * results, never fatal: they come back as client_result_t with a
 * Locust-style error string. */
#ifndef CICADA_CLIENT_H
#define CICADA_CLIENT_H

#include <netinet/in.h>
#include <stdbool.h>
#include <stdint.h>
#include <string.h>
#include <sys/socket.h>

#include "base/buf.h"
#include "net/loop.h"
#include "http/parse.h"
#include "http/proxy.h"
#include "net/net.h"
#include "net/resolve.h"

enum conn_state {
    CONN_CLOSED,     /* no socket */
    CONN_RESOLVING,  /* looking the host up (net/resolve.h), request waiting in wbuf */
    CONN_CONNECTING, /* connect() in progress, request waiting in wbuf */
    CONN_TUNNEL,     /* https via a proxy: CONNECT sent or being sent (tunnel.h) */
    CONN_HANDSHAKE,  /* TLS handshake in progress, request waiting in wbuf */
    CONN_WRITING,    /* part of the request still in wbuf */
    CONN_READING,    /* request sent, response being read */
    CONN_IDLE,       /* open, no request */
};

#define CLIENT_MAX_REDIRECTS 10
#define CLIENT_MAX_CONNS 16 /* connections a user keeps (LRU) */

struct decode;
struct net;
struct conn;
struct cookie_jar;
struct client_result;
struct ssl_st;
struct ssl_ctx_st;

/* How one logical request is carried out (kept across its redirects). */
typedef struct client_req {
    bool head;              /* HEAD: the response has no body */
    bool follow;            /* follow redirects (requests' allow_redirects) */
    bool decode;            /* decode gzip/deflate bodies (the request sent Accept-Encoding) */
    bool verify;            /* HTTPS: verify the certificate chain and the host */
    struct ssl_ctx_st *ctx; /* HTTPS: CA bundle context, NULL for the engine's default */
    double timeout_s;       /* per hop; <= 0: none */
    size_t max_body;        /* body cap in bytes, raw and decoded (0: BODY_DEFAULT_CAP) */
} client_req_t;

/* What the clients of one thread share. The owner (the Lua binding, one
 * per engine) zeroes it, sets loop and ca_file, frees the graveyard with
 * client_bury after every loop turn and the rest with client_env_free.
 *
 * The scratch space is here rather than in thread-locals: it is the
 * engine's like the loop is, and freed with it. Each use ends before the
 * next begins (a parse is read at once, a text lives until the result it
 * belongs to has been delivered), so the clients of a thread share it. */
typedef struct client_env {
    loop_t *loop;
    struct net *net;           /* the engine's transport context (src/net): TLS, graveyard */
    struct resolver *resolver; /* the engine's name lookups (net/resolve.h) */
    http_response_t parsed;    /* a header block parsed (framing, cookies, reason phrase) */
    buf_t hop, location;       /* session.c: a redirect's next request, its Location */
    char error[768];           /* a result's error text (body, set-up, redirect) */
    char url[2048];            /* a result's URL */
} client_env_t;

/* Called when a request sent with client_send completes (also after its
 * redirects): res and what it points to are valid only during the call.
 * The callback may send the next request on the same client. */
typedef void client_done_fn(void *arg, const struct client_result *res);

/* One redirect response of a logical request (requests' r.history),
 * kept in its client's `hops` buffer: this header, then url_len bytes of
 * its URL, then hdr_len bytes of its raw header block. Records are packed:
 * read them with memcpy (client_hop_next). */
typedef struct client_hop {
    int status;
    uint32_t url_len, hdr_len;
    int64_t elapsed_ns; /* of this hop alone */
} client_hop_t;

/* One client: its connections (most recently used first), the one of the
 * request in flight, its cookies. Owned by its creator; client_free. */
typedef struct client {
    client_env_t *env;
    struct conn *conns;
    struct conn *busy;      /* the request in flight, NULL if none */
    struct cookie_jar *jar; /* NULL until a cookie is set (http/cookie.h) */
    proxy_map_t proxies;    /* the scenario's proxies for the request in flight (proxy.h):
                             * its owner refills it before each request; empty: environment */
    /* the redirect responses of the request in flight (client_hop_t
     * records), emptied when a logical request starts: no memory until a
     * redirect is followed, then reused; at most CLIENT_MAX_REDIRECTS */
    buf_t hops;
    client_done_fn *done;
    void *arg; /* given to done */
} client_t;

typedef struct conn {
    sock_t sock; /* the transport (net.h); first, for on_io */
    loop_timer_t timer;
    client_t *cl;
    struct conn *next; /* the client's list, or the environment's graveyard */
    char *host;        /* owned */
    int port;
    bool tls;     /* https */
    char *origin; /* "http://host:port" as URLs show it; owned */
    /* the HTTP proxy this connection goes through (proxy.h), px_host NULL
     * for a direct one: plain http sends absolute-form requests to it with
     * Proxy-Authorization, https tunnels through it with CONNECT */
    char *px_host; /* owned */
    int px_port;
    char *px_user; /* its userinfo as written, to tell proxies apart; owned, NULL if none */
    char *px_auth; /* "Basic ..." of the userinfo, NULL if none; owned */
    size_t tun_len, tun_off; /* CONN_TUNNEL: the CONNECT request's length in rbuf, bytes sent */
    struct sockaddr_storage addr[4]; /* every address of the host, tried in turn */
    socklen_t addrlen[4];
    int naddr, addr_idx;
    resolve_req_t dns; /* the lookup while CONN_RESOLVING */
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
    bool decoding;      /* the body is being inflated as it arrives */
    size_t fed;         /* body bytes given to the decoder so far */
    struct decode *dec; /* made on the first compressed body; owned */

    /* facts about the response's headers, noted while parsing them */
    unsigned char encoding; /* SESSION_GZIP, SESSION_DEFLATE or 0 */
    bool set_cookie;
    size_t loc_off, loc_len; /* Location header value in rbuf, len 0 if none */

    /* TLS: what the sock's TLS was made with (its session is sock.session) */
    struct ssl_ctx_st *ctx;
    bool verify;

    /* the request in flight */
    client_req_t req;
    int64_t start_ns, timeout_ns;
    int64_t t0_ns; /* start of the logical request (its first hop) */
    int nredirects;
    short history[CLIENT_MAX_REDIRECTS]; /* statuses of the redirects followed */
} conn_t;

/* The outcome of one request, handed to the completion callback. Pointers
 * point into the connection's buffers and are valid only during the call. */
typedef struct client_result {
    int status;          /* 0 if no response */
    const char *error;   /* NULL, or a Locust-style error ("ConnectionRefusedError(...)") */
    const char *headers; /* raw header block (status line included) */
    size_t headers_len;
    const char *body; /* decoded when the request asked for gzip/deflate */
    size_t body_len;
    int64_t elapsed_ns; /* of the whole logical request, redirects included */
    const char *url;    /* the final URL (after redirects), NULL if no request went out */
    size_t url_len;
    const short *history; /* statuses of the redirects followed, oldest first */
    int nhistory;
    const char *hops; /* the redirect responses themselves (client_hop_t records), */
    size_t hops_len;  /* oldest first; nhistory of them */
} client_result_t;

/* Make cl an empty client on env whose results go to done(arg, ...). */
void client_init(client_t *cl, client_env_t *env, client_done_fn *done, void *arg);

/* Close all of cl's connections (they go to the graveyard) and free its
 * cookies. A request in flight is dropped without a result. cl may be
 * client_init'ed again. */
void client_free(client_t *cl);

/* Find or create cl's connection to host:port over TLS or not (host is
 * copied). Returns NULL and fills err when the name does not resolve. */
conn_t *client_conn(client_t *cl, const char *host, size_t host_len, int port, bool tls, char *err,
                    size_t n);

/* Does a request on c go in absolute form, with c->px_auth (if not NULL)
 * as its Proxy-Authorization? True for plain http through a proxy; false
 * for a direct connection or a tunnel. */
static inline bool client_absolute(const conn_t *c)
{
    return c->px_host != NULL && !c->tls;
}

/* A request target as written in a request line, without the
 * "scheme://authority" of the absolute form (t, *tl updated). */
static inline const char *client_origin_form(const char *t, size_t *tl)
{
    if (*tl == 0 || t[0] == '/') return t;
    const char *s = memchr(t, '/', *tl); /* scheme://host/path: the "//" first */
    if (s && (size_t)(s - t) + 2 <= *tl && s[1] == '/') {
        const char *p = memchr(s + 2, '/', *tl - (size_t)(s + 2 - t));
        if (p) {
            *tl -= (size_t)(p - t);
            return p;
        }
    }
    return t;
}

/* Send the request in c->wbuf as req says (req is copied). from is NULL
 * for a new logical request, or the connection whose response redirected
 * here (it may be c itself): the hop then continues from's clock, count
 * and history. Returns 1 if the request is under way (c is its client's
 * busy connection; the result comes through the client's callback later),
 * or 0 if it failed at once and *res holds the failure. */
int client_send(conn_t *c, const client_req_t *req, const conn_t *from, client_result_t *res);

/* Read the hop record at *off of res's hops into *h, pointing *url and
 * *hdr at its bytes (valid as long as res), and advance *off. Returns
 * false when there is none left. */
static inline bool client_hop_next(const client_result_t *res, size_t *off, client_hop_t *h,
                                   const char **url, const char **hdr)
{
    if (*off + sizeof *h > res->hops_len) return false;
    memcpy(h, res->hops + *off, sizeof *h);
    *url = res->hops + *off + sizeof *h;
    *hdr = *url + h->url_len;
    *off += sizeof *h + h->url_len + h->hdr_len;
    return true;
}

/* Note c's response (a redirect about to be followed) as the next hop of
 * its client's request in flight; url is the URL it answered. */
void client_note_hop(conn_t *c, const char *url, size_t url_len);

/* Hand res to c's client's callback (the request in flight is over). */
void client_deliver(conn_t *c, const client_result_t *res);

/* Cut cl's request in flight (the stop grace is over): close its socket;
 * no result is delivered (the caller accounts for it). Returns false if
 * there was none. */
bool client_cut(client_t *cl);

/* Free the graveyard of env's transport context (after a loop turn, when
 * no event can refer to it): net_bury, which frees the cosockets' retired
 * connections too. */
void client_bury(client_env_t *env);
/* Free the graveyard and env's buffers (its clients are gone). */
void client_env_free(client_env_t *env);

#endif
