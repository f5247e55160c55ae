/* tls: the TLS side of the transport seam (net.h), over OpenSSL.
 *
 * sock_tls() on a plain sock creates its OpenSSL connection and switches
 * the sock to this file's table: the same OK / ERROR / RETRY calls, which
 * read and write through OpenSSL, RETRY whichever direction OpenSSL wants
 * (the socket is registered for both, so the next edge of either brings
 * the owner back). Everything is non-blocking: sock_handshake() is called
 * again on every socket event until it is done. Closing goes back to the
 * plain table.
 *
 * Each engine's net_t has its own SSL_CTX per CA bundle (the system's store
 * by default), made on first use and freed with the net_t, so no lock is
 * shared between engines. Verification (chain and host name or IP address)
 * is on unless the caller turns it off; SNI is sent for host names, never
 * for IP literals (RFC 6066). Sessions handed out by the server (TLS 1.2
 * session IDs or tickets, TLS 1.3 tickets) land in the sock's slot, and
 * the next handshake of that sock offers it: reconnects resume. */
#ifndef CICADA_TLS_H
#define CICADA_TLS_H

#include <stdbool.h>
#include <stddef.h>

#include "net/net.h"

/* n's client context for the CA bundle ca_file (NULL: n's --ca-file, or
 * the system's CA store without one), created on first use and kept until
 * net_free. Returns NULL and writes a requests-style error to err (size
 * len) if the bundle cannot be loaded. */
struct ssl_ctx_st *tls_ctx(net_t *n, const char *ca_file, char *err, size_t len);

/* The last TLS failure on n as a requests-style error, e.g.
 * SSLError("[SSL: CERTIFICATE_VERIFY_FAILED] certificate verify failed:
 * self-signed certificate"). Valid until the next TLS call on n. */
const char *tls_error(const net_t *n);

/* Why the peer's certificate was refused: its verify result code (0 if
 * it was not) and OpenSSL's text for it in *text. For a sock whose
 * handshake failed. */
long tls_verify_result(const sock_t *s, const char **text);

/* For net.c: the plain backend's sock_tls, and freeing n's contexts. */
void tls_start(sock_t *s, struct ssl_ctx_st *ctx, const char *host, bool verify);
void tls_free_ctxs(net_t *n);

#endif
