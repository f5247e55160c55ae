/* tls: the TLS side of the HTTP client's transport seam, over OpenSSL.
 *
 * A connection is plain or TLS; client.c checks its `ssl` pointer in one
 * place per direction and calls send()/recv() or tls_write()/tls_read(),
 * which speak the same convention (bytes, 0 for the end of the stream, or
 * -1 with errno; EAGAIN means "wait for the socket", whichever direction
 * OpenSSL wants, since the socket is registered for both). Everything is
 * non-blocking: tls_handshake() is called again on every socket event
 * until it is done.
 *
 * Each engine thread has its own SSL_CTX per CA bundle (the system's store
 * by default), made on first use and freed when the thread ends, so no
 * lock is shared between engines. Verification (chain and host name or IP
 * address) is on unless the caller turns it off; SNI is sent for host
 * names. Sessions handed out by the server (TLS 1.2 session IDs or
 * tickets, TLS 1.3 tickets) land in a slot the connection owns, and the
 * next handshake of that connection offers it: reconnects resume. */
#ifndef CICADA_TLS_H
#define CICADA_TLS_H

#include <stdbool.h>
#include <stddef.h>
#include <sys/types.h>

struct ssl_st;
struct ssl_ctx_st;
struct ssl_session_st;

/* The calling thread's client context for the CA bundle ca_file (NULL:
 * the system's CA store), created on first use and kept until the thread
 * ends. Returns NULL and writes a requests-style error to err (size n) if
 * the bundle cannot be loaded. */
struct ssl_ctx_st *tls_ctx(const char *ca_file, char *err, size_t n);

/* A TLS client over the connected socket fd, to host (NUL-terminated:
 * a name or an IP address), verifying the peer if verify. *slot is the
 * owner's session slot: its session (if any) is offered for resumption,
 * and sessions the server hands out replace it (the slot owns them; free
 * with tls_session_free). The slot must outlive the SSL. */
struct ssl_st *tls_new(struct ssl_ctx_st *ctx, int fd, const char *host, bool verify,
                       struct ssl_session_st **slot);

/* Advance the handshake. Returns 0 when done, 1 to wait for the socket,
 * -1 on failure (the error is in tls_error()). */
int tls_handshake(struct ssl_st *s);

/* Like recv()/send() on the TLS stream: > 0 bytes, 0 at the end of the
 * stream (read), -1 with errno EAGAIN (wait for the socket), EPROTO (a TLS
 * failure, text in tls_error()) or the socket's own errno. */
ssize_t tls_read(struct ssl_st *s, void *buf, size_t n);
ssize_t tls_write(struct ssl_st *s, const void *buf, size_t n);

/* Free the connection. clean: the exchange ended well, so the session
 * stays resumable (OpenSSL would otherwise mark it unusable). */
void tls_free(struct ssl_st *s, bool clean);

/* Free a session from a slot (NULL is fine). */
void tls_session_free(struct ssl_session_st *sess);

/* The last failure on this thread as a requests-style error, e.g.
 * SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed:
 * self-signed certificate"). Valid until the next TLS call. */
const char *tls_error(void);

#endif
