/* tls: see tls.h.
 *
 * The contexts hang off the engine's net_t and go with it. Error texts
 * follow Python's ssl module (what requests and Locust users see): a
 * verification failure names OpenSSL's verify result, other failures the
 * reason of the first error on OpenSSL's queue; they are written to the
 * net_t's errtext, which is per engine thread like everything else on it. */
#include "net/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

struct tls_ctx_entry {
    struct tls_ctx_entry *next;
    char *ca_file; /* NULL: system store */
    SSL_CTX *ctx;
};

static const sock_ops_t tls_ops;

void tls_free_ctxs(net_t *n)
{
    for (struct tls_ctx_entry *e = n->ctxs, *next; e; e = next) {
        next = e->next;
        SSL_CTX_free(e->ctx);
        xfree(e->ca_file);
        xfree(e);
    }
    n->ctxs = NULL;
}

/* OpenSSL calls this for every session the server hands out: keep the
 * newest in the sock's slot (returning 1 keeps our reference). */
static int on_new_session(SSL *ssl, SSL_SESSION *sess)
{
    sock_t *s = SSL_get_app_data(ssl);
    if (s == NULL) return 0;
    if (s->session) SSL_SESSION_free(s->session);
    s->session = sess;
    return 1;
}

static const char *queue_error(net_t *n, const char *what)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    snprintf(n->errtext, sizeof n->errtext, "SSLError(\"%s%s\")", what,
             reason ? reason : "unknown error");
    ERR_clear_error();
    return n->errtext;
}

SSL_CTX *tls_ctx(net_t *n, const char *ca_file, char *err, size_t len)
{
    if (ca_file == NULL) ca_file = n->ca_file;
    for (struct tls_ctx_entry *e = n->ctxs; e; e = e->next)
        if ((ca_file == NULL && e->ca_file == NULL) ||
            (ca_file && e->ca_file && strcmp(ca_file, e->ca_file) == 0))
            return e->ctx;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, len, "%s", queue_error(n, "cannot create a TLS context: "));
        return NULL;
    }
    SSL_CTX_set_min_proto_version(ctx, TLS1_2_VERSION);
    SSL_CTX_set_mode(ctx, SSL_MODE_ENABLE_PARTIAL_WRITE | SSL_MODE_ACCEPT_MOVING_WRITE_BUFFER);
    /* a server that closes without close_notify ends the stream, as in
     * Python: framing (Content-Length, chunked) catches truncation */
    SSL_CTX_set_options(ctx, SSL_OP_IGNORE_UNEXPECTED_EOF);
    SSL_CTX_set_verify(ctx, SSL_VERIFY_PEER, NULL);
    int ok = ca_file ? SSL_CTX_load_verify_locations(ctx, ca_file, NULL)
                     : SSL_CTX_set_default_verify_paths(ctx);
    if (ok != 1) {
        ERR_clear_error();
        snprintf(err, len,
                 "OSError('Could not find a suitable TLS CA certificate bundle, invalid path: %s')",
                 ca_file ? ca_file : "(system store)");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    struct tls_ctx_entry *e = xcalloc(1, sizeof *e);
    e->ca_file = ca_file ? xstrdup(ca_file) : NULL;
    e->ctx = ctx;
    e->next = n->ctxs;
    n->ctxs = e;
    return ctx;
}

void tls_start(sock_t *s, SSL_CTX *ctx, const char *host, bool verify)
{
    SSL *ssl = SSL_new(ctx);
    if (ssl == NULL) abort(); /* out of memory: the policy of base/alloc */
    SSL_set_fd(ssl, s->io.fd);
    SSL_set_connect_state(ssl);
    SSL_set_app_data(ssl, s);
    unsigned char ip[16];
    bool is_ip = host && (inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1);
    if (host && !is_ip) SSL_set_tlsext_host_name(ssl, host); /* no SNI for addresses (RFC 6066) */
    if (verify) {
        SSL_set_verify(ssl, SSL_VERIFY_PEER, NULL);
        X509_VERIFY_PARAM *p = SSL_get0_param(ssl);
        if (is_ip) {
            X509_VERIFY_PARAM_set1_ip_asc(p, host);
        } else if (host) {
            X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            SSL_set1_host(ssl, host);
        }
    } else {
        SSL_set_verify(ssl, SSL_VERIFY_NONE, NULL);
    }
    if (s->session) SSL_set_session(ssl, s->session);
    s->ssl = ssl;
    s->tls = true;
    s->ops = &tls_ops;
}

/* The outcome of an SSL call that returned rc <= 0. OK means the end of
 * the stream (*got is set to 0 by the caller). */
static net_status_t outcome(sock_t *s, int rc)
{
    switch (SSL_get_error(s->ssl, rc)) {
    case SSL_ERROR_WANT_READ:
        s->want = SOCK_WANT_READ;
        return NET_RETRY;
    case SSL_ERROR_WANT_WRITE:
        s->want = SOCK_WANT_WRITE;
        return NET_RETRY;
    case SSL_ERROR_ZERO_RETURN:
        return NET_OK;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == 0 || errno == EAGAIN) return NET_OK; /* EOF in the middle of a record */
        s->err = errno;
        return NET_ERROR;
    default: {
        net_t *n = s->net;
        long v = SSL_get_verify_result(s->ssl);
        if (v != X509_V_OK) {
            snprintf(n->errtext, sizeof n->errtext,
                     "SSLError(\"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: %s\")",
                     X509_verify_cert_error_string(v));
            ERR_clear_error();
        } else {
            queue_error(n, "");
        }
        s->err = EPROTO;
        return NET_ERROR;
    }
    }
}

static net_status_t tls_handshake(sock_t *s)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(s->ssl);
    if (rc == 1) return NET_OK;
    net_status_t st = outcome(s, rc);
    if (st == NET_RETRY) return NET_RETRY;
    if (st == NET_OK || s->err != EPROTO) { /* the peer went away during the handshake */
        snprintf(s->net->errtext, sizeof s->net->errtext,
                 "SSLError(\"EOF occurred in violation of protocol (handshake: %s)\")",
                 st == NET_ERROR ? strerror(s->err) : "connection closed");
        s->err = EPROTO;
    }
    return NET_ERROR;
}

static net_status_t tls_read(sock_t *s, char *p, size_t n, size_t *got)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read(s->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    if (rc > 0) {
        *got = (size_t)rc;
        return NET_OK;
    }
    *got = 0;
    return outcome(s, rc);
}

static net_status_t tls_write(sock_t *s, const char *p, size_t n, size_t *put)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write(s->ssl, p, n > INT32_MAX ? INT32_MAX : (int)n);
    if (rc > 0) {
        *put = (size_t)rc;
        return NET_OK;
    }
    net_status_t st = outcome(s, rc);
    if (st == NET_OK) { /* closed while writing */
        s->err = EPIPE;
        return NET_ERROR;
    }
    return st;
}

static void tls_close(sock_t *s, bool clean)
{
    if (s->ssl) {
        /* mark the shutdown as done without sending close_notify on a
         * socket we are about to close: the session stays resumable */
        if (clean) SSL_set_shutdown(s->ssl, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
        SSL_set_app_data(s->ssl, NULL);
        SSL_free(s->ssl);
        s->ssl = NULL;
    }
    s->tls = false;
    s->ops = s->net->ops;
    net_plain_close(s, clean);
}

static net_status_t tls_connect(sock_t *s, const struct sockaddr *sa, socklen_t len, int type)
{
    tls_close(s, false); /* connecting again starts plain */
    return sock_connect(s, sa, len, type);
}

/* TLS again on the same socket: a new OpenSSL connection over it. */
static void tls_again(sock_t *s, SSL_CTX *ctx, const char *host, bool verify)
{
    SSL_set_app_data(s->ssl, NULL);
    SSL_free(s->ssl);
    s->ssl = NULL;
    tls_start(s, ctx, host, verify);
}

static const sock_ops_t tls_ops = {
    .connect = tls_connect,
    .connected = NULL, /* never: TLS starts on a connected socket */
    .tls = tls_again,
    .handshake = tls_handshake,
    .read = tls_read,
    .write = tls_write,
    .close = tls_close,
};

void sock_forget_session(sock_t *s)
{
    if (s->session) SSL_SESSION_free(s->session);
    s->session = NULL;
}

long tls_verify_result(const sock_t *s, const char **text)
{
    long v = s->ssl ? SSL_get_verify_result(s->ssl) : X509_V_OK;
    *text = v != X509_V_OK ? X509_verify_cert_error_string(v) : "";
    return v;
}

const char *tls_error(const net_t *n)
{
    return n->errtext;
}
