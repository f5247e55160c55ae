/* tunnel: a connection's HTTP proxy (which one, its credentials) and the
 * CONNECT exchange that opens a tunnel through it to an https origin (RFC
 * 9110 9.3.6), the step between the TCP connect to the proxy and the TLS
 * handshake with the origin.
 *
 * The connection (client.h, state CONN_TUNNEL) writes "CONNECT host:port
 * HTTP/1.1" with Host and, if the proxy URL had credentials,
 * Proxy-Authorization, then reads the proxy's answer up to the end of its
 * header block. A 2xx opens the tunnel: the caller starts TLS with the
 * origin on the same socket. Anything else (a 407 for missing or wrong
 * credentials, a 403 for a port the proxy does not allow, the proxy
 * closing) is requests' ProxyError, and the connection is closed. The
 * request and the answer use the connection's read buffer, which is empty
 * before a request's response; nothing is allocated once it has grown.
 *
 * Not done: proxies that answer with a body before the tunnel (none do
 * for a 2xx), authentication schemes other than Basic. */
#ifndef CICADA_TUNNEL_H
#define CICADA_TUNNEL_H

#include "http/client.h"

enum { TUNNEL_OPEN, TUNNEL_WAIT, TUNNEL_FAIL };

/* Put the CONNECT request for c's origin in c->rbuf and enter CONN_TUNNEL. */
void tunnel_start(conn_t *c);

/* Write what is left of the CONNECT request, then read the answer.
 * Returns TUNNEL_OPEN (c->rbuf emptied: go on with TLS), TUNNEL_WAIT (the
 * socket's next event calls again) or TUNNEL_FAIL with *err the request's
 * error text (requests' ProxyError; valid until the next call). */
int tunnel_step(conn_t *c, const char **err);

/* Does c go through px (NULL: direct)? Host, port and credentials. */
bool tunnel_same_proxy(const conn_t *c, const proxy_t *px);

/* Make c go through px: its host, port, credentials and their
 * Proxy-Authorization value, copied (freed with the connection). */
void tunnel_set_proxy(conn_t *c, const proxy_t *px);

/* "ProxyError('Unable to connect to proxy', <inner>)" in a buffer of the
 * thread's, valid until the next call: how a failure to reach or use the
 * proxy reads (requests 2.x, urllib3 2.x). */
const char *tunnel_proxy_error(const char *inner);

#endif
