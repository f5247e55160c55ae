/* curve: ZeroMQ CURVE for cicada fleets (docs/distributed.md, Security).
 *
 * Without keys a master takes any worker that reaches its port, as Locust
 * does. With them, the master's socket is a CURVE server: the connection
 * is encrypted, a worker must know the master's public key, and the
 * master's ZAP handler (RFC 27, inproc://zeromq.zap.01) admits only the
 * worker public keys it was given. Keys live in the certificate files of
 * CZMQ and pyzmq's zmq.auth (NAME.key holds the public key, NAME.key_secret
 * both), so keys made by either tool work here and the other way round.
 *
 * This module reads and writes those files, sets the socket options, and
 * runs the master's side (the ZAP answers and a monitor that logs refused
 * handshakes). It does no thread of its own: the master's thread polls the
 * two sockets curve_guard_items() gives it. */
#ifndef CICADA_CURVE_H
#define CICADA_CURVE_H

#include <stdbool.h>
#include <stddef.h>
#include <zmq.h>

/* A key pair in Z85 text (40 characters and a NUL); secret is "" when the
 * file held only the public key. */
typedef struct curve_key {
    char pub[41], secret[41];
} curve_key_t;

/* `cicada keygen NAME`: write NAME.key (public) and NAME.key_secret (both
 * keys, mode 0600), refusing to overwrite either. argv[1] is "keygen".
 * Returns the process's exit code (0, 1 on an I/O error, 2 on usage). */
int curve_keygen_main(int argc, char **argv);

/* True if this libzmq can do CURVE (zmq_has("curve")). */
bool curve_available(void);

/* Read the certificate file at path into *k. need_secret: it must hold a
 * secret-key too. Returns 0, or -1 with a message naming the file (and
 * line) in err. */
int curve_load(const char *path, bool need_secret, curve_key_t *k, char *err, size_t n);

/* Make sock (before it connects) a CURVE client with its own key pair mine
 * that only talks to the server whose public key is server_pub. Returns 0
 * or -1 (errno from zmq). */
int curve_client(void *sock, const curve_key_t *mine, const char *server_pub);

/* The master's side: its socket made a CURVE server with key pair k, the
 * ZAP handler admitting the public keys read from allow (a .key file, or a
 * directory: every *.key in it), and a monitor of failed handshakes.
 * Call before sock binds; ctx is sock's context. NULL with err filled on
 * failure. */
typedef struct curve_guard curve_guard_t;
curve_guard_t *curve_guard_new(void *ctx, void *sock, const curve_key_t *k, const char *allow,
                               char *err, size_t n);

/* The guard's two sockets as poll items (ZMQ_POLLIN), written to items[0]
 * and items[1]. */
void curve_guard_items(curve_guard_t *g, zmq_pollitem_t *items);

/* Answer every waiting ZAP request and log refused handshakes (at most one
 * warning every 10 s, with a count), without blocking. */
void curve_guard_handle(curve_guard_t *g);

/* How many public keys the guard admits. */
int curve_guard_keys(const curve_guard_t *g);

/* Close the guard's sockets (before sock's context is terminated); NULL is fine. */
void curve_guard_free(curve_guard_t *g);

#endif
