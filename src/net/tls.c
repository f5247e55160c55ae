/* tls: see tls.h.
 *
 * The per-thread contexts hang off a pthread key whose destructor frees
 * them when the engine thread ends. Error texts follow Python's ssl module
 * (what requests and Locust users see): a verification failure names
 * OpenSSL's verify result, other failures the reason of the first error on
 * OpenSSL's queue. */
#include "http/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <openssl/err.h>
#include <openssl/ssl.h>
#include <openssl/x509v3.h>
#include <pthread.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"

typedef struct ctx_entry {
    struct ctx_entry *next;
    char *ca_file; /* NULL: system store */
    SSL_CTX *ctx;
} ctx_entry_t;

static pthread_key_t ctx_key;
static pthread_once_t ctx_once = PTHREAD_ONCE_INIT;
static _Thread_local ctx_entry_t *ctxs;
static _Thread_local char errtext[512];

static void free_ctxs(void *head)
{
    for (ctx_entry_t *e = head, *next; e; e = next) {
        next = e->next;
        SSL_CTX_free(e->ctx);
        xfree(e->ca_file);
        xfree(e);
    }
}

static void make_key(void)
{
    pthread_key_create(&ctx_key, free_ctxs);
}

/* OpenSSL calls this for every session the server hands out: keep the
 * newest in the connection's slot (returning 1 keeps our reference). */
static int on_new_session(SSL *s, SSL_SESSION *sess)
{
    SSL_SESSION **slot = SSL_get_app_data(s);
    if (slot == NULL) return 0;
    if (*slot) SSL_SESSION_free(*slot);
    *slot = sess;
    return 1;
}

static const char *queue_error(const char *what)
{
    unsigned long e = ERR_peek_error();
    const char *reason = e ? ERR_reason_error_string(e) : NULL;
    snprintf(errtext, sizeof errtext, "SSLError(\"%s%s\")", what,
             reason ? reason : "unknown error");
    ERR_clear_error();
    return errtext;
}

SSL_CTX *tls_ctx(const char *ca_file, char *err, size_t n)
{
    for (ctx_entry_t *e = ctxs; e; e = e->next)
        if ((ca_file == NULL && e->ca_file == NULL) ||
            (ca_file && e->ca_file && strcmp(ca_file, e->ca_file) == 0))
            return e->ctx;
    SSL_CTX *ctx = SSL_CTX_new(TLS_client_method());
    if (ctx == NULL) {
        snprintf(err, n, "%s", queue_error("cannot create a TLS context: "));
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
        snprintf(err, n,
                 "OSError('Could not find a suitable TLS CA certificate bundle, invalid path: %s')",
                 ca_file ? ca_file : "(system store)");
        SSL_CTX_free(ctx);
        return NULL;
    }
    SSL_CTX_set_session_cache_mode(ctx, SSL_SESS_CACHE_CLIENT | SSL_SESS_CACHE_NO_INTERNAL_STORE);
    SSL_CTX_sess_set_new_cb(ctx, on_new_session);
    pthread_once(&ctx_once, make_key);
    ctx_entry_t *e = xcalloc(1, sizeof *e);
    e->ca_file = ca_file ? xstrdup(ca_file) : NULL;
    e->ctx = ctx;
    e->next = ctxs;
    ctxs = e;
    pthread_setspecific(ctx_key, ctxs);
    return ctx;
}

SSL *tls_new(SSL_CTX *ctx, int fd, const char *host, bool verify, SSL_SESSION **slot)
{
    SSL *s = SSL_new(ctx);
    if (s == NULL) abort(); /* out of memory: the policy of base/alloc */
    SSL_set_fd(s, fd);
    SSL_set_connect_state(s);
    SSL_set_app_data(s, slot);
    unsigned char ip[16];
    bool is_ip = inet_pton(AF_INET, host, ip) == 1 || inet_pton(AF_INET6, host, ip) == 1;
    if (!is_ip) SSL_set_tlsext_host_name(s, host); /* no SNI for addresses (RFC 6066) */
    if (verify) {
        SSL_set_verify(s, SSL_VERIFY_PEER, NULL);
        X509_VERIFY_PARAM *p = SSL_get0_param(s);
        if (is_ip) X509_VERIFY_PARAM_set1_ip_asc(p, host);
        else {
            X509_VERIFY_PARAM_set_hostflags(p, X509_CHECK_FLAG_NO_PARTIAL_WILDCARDS);
            SSL_set1_host(s, host);
        }
    } else {
        SSL_set_verify(s, SSL_VERIFY_NONE, NULL);
    }
    if (*slot) SSL_set_session(s, *slot);
    return s;
}

/* The outcome of an SSL call that returned rc <= 0, as tls.h's convention. */
static ssize_t outcome(SSL *s, int rc)
{
    switch (SSL_get_error(s, rc)) {
    case SSL_ERROR_WANT_READ:
    case SSL_ERROR_WANT_WRITE:
        errno = EAGAIN;
        return -1;
    case SSL_ERROR_ZERO_RETURN:
        return 0;
    case SSL_ERROR_SYSCALL:
        ERR_clear_error();
        if (errno == 0 || errno == EAGAIN) return 0; /* EOF in the middle of a record */
        return -1;
    default: {
        long v = SSL_get_verify_result(s);
        if (v != X509_V_OK) {
            snprintf(errtext, sizeof errtext,
                     "SSLError(\"[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed: %s\")",
                     X509_verify_cert_error_string(v));
            ERR_clear_error();
        } else {
            queue_error("");
        }
        errno = EPROTO;
        return -1;
    }
    }
}

int tls_handshake(SSL *s)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_do_handshake(s);
    if (rc == 1) return 0;
    if (outcome(s, rc) < 0 && errno == EAGAIN) return 1;
    if (errno != EPROTO) { /* the peer went away during the handshake */
        snprintf(errtext, sizeof errtext,
                 "SSLError(\"EOF occurred in violation of protocol (handshake: %s)\")",
                 errno ? strerror(errno) : "connection closed");
    }
    return -1;
}

ssize_t tls_read(SSL *s, void *buf, size_t n)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_read(s, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    return rc > 0 ? rc : outcome(s, rc);
}

ssize_t tls_write(SSL *s, const void *buf, size_t n)
{
    ERR_clear_error();
    errno = 0;
    int rc = SSL_write(s, buf, n > INT32_MAX ? INT32_MAX : (int)n);
    if (rc > 0) return rc;
    ssize_t r = outcome(s, rc);
    if (r == 0) { /* closed while writing */
        errno = EPIPE;
        return -1;
    }
    return r;
}

void tls_free(SSL *s, bool clean)
{
    if (s == NULL) return;
    /* mark the shutdown as done without sending close_notify on a socket
     * we are about to close: the session stays resumable */
    if (clean) SSL_set_shutdown(s, SSL_SENT_SHUTDOWN | SSL_RECEIVED_SHUTDOWN);
    SSL_set_app_data(s, NULL);
    SSL_free(s);
}

void tls_session_free(SSL_SESSION *sess)
{
    if (sess) SSL_SESSION_free(sess);
}

const char *tls_error(void)
{
    return errtext;
}
