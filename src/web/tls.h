/* tls: HTTPS in front of the web server, with OpenSSL.
 *
 * Debian 12's civetweb (1.15) cannot serve TLS: it loads libssl at run time
 * and looks up SSL_get_peer_certificate, a name OpenSSL 3 no longer
 * exports, then calls the NULL it got on every HTTPS connection
 * (civetweb/civetweb#1334). So cicada terminates TLS itself: this front
 * listens on the user's address, does the handshake, and relays the
 * plaintext bytes both ways to civetweb listening on 127.0.0.1 only. HTTP,
 * Basic auth and WebSocket upgrades pass through untouched.
 *
 * One thread accepts; each connection gets its own relay thread (the web
 * UI has a handful of clients, never thousands). */
#ifndef CICADA_WEB_TLS_H
#define CICADA_WEB_TLS_H

#include <stddef.h>

typedef struct tls_front tls_front_t;

/* Load cert (a PEM chain) and key (a PEM private key; may be the same
 * file), listen on ip:port (ip a dotted IPv4 address, "0.0.0.0" for every
 * interface; port 0 picks one) and relay to 127.0.0.1:backend_port.
 * Returns NULL with the reason in err (size n). */
tls_front_t *tls_front_start(const char *ip, int port, const char *cert, const char *key,
                             int backend_port, char *err, size_t n);

/* The port it listens on. */
int tls_front_port(const tls_front_t *t);

/* Stop accepting, cut every relayed connection, wait for the threads and
 * free t (NULL is fine). */
void tls_front_stop(tls_front_t *t);

#endif
