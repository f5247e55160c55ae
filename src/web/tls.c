/* tls: see tls.h. The relay uses blocking sockets with timeouts and
 * poll(): a relay thread sleeps in poll() on the client, civetweb's side
 * and a stop pipe, and copies what becomes readable. OpenSSL's auto-retry
 * is off, so a TLS record that carries no data (a session ticket, a key
 * update) makes SSL_read return "want read" instead of blocking the
 * thread on the next record. Stopping writes to a pipe nobody reads, so it
 * stays readable and wakes every poll(), and shuts the client sockets down
 * so that a thread stuck in a send returns at once. */
#include "web/tls.h"

#include <arpa/inet.h>
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <poll.h>
#include <pthread.h>
#include <stdbool.h>
#include <stdio.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include <openssl/err.h>
#include <openssl/ssl.h>

#include "base/alloc.h"

#define MAX_CONNS 256
#define IO_TIMEOUT_S 30
#define CHUNK 16384

struct tls_front {
    SSL_CTX *ctx;
    int lfd, port, backend_port;
    int stop[2]; /* stop[1] is written once to wake everyone */
    pthread_t acceptor;
    bool acceptor_started;
    pthread_mutex_t lock;
    pthread_cond_t idle;
    int fds[MAX_CONNS]; /* client sockets of live relays, -1 if free */
    int nconns;
    bool quit;
};

struct relay {
    tls_front_t *t;
    int fd, slot;
};

static void ssl_error(char *err, size_t n, const char *what, const char *path)
{
    char buf[256] = "";
    unsigned long e = ERR_get_error();
    if (e) ERR_error_string_n(e, buf, sizeof buf);
    snprintf(err, n, "%s %s: %s", what, path, *buf ? buf : "failed");
    ERR_clear_error();
}

static void set_timeouts(int fd)
{
    struct timeval tv = {.tv_sec = IO_TIMEOUT_S};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    setsockopt(fd, SOL_SOCKET, SO_SNDTIMEO, &tv, sizeof tv);
}

static int connect_backend(int port)
{
    int fd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    if (fd < 0) return -1;
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    a.sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    if (connect(fd, (struct sockaddr *)&a, sizeof a) != 0) {
        close(fd);
        return -1;
    }
    int one = 1;
    setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    set_timeouts(fd);
    return fd;
}

static bool write_all(int fd, const char *p, size_t n)
{
    while (n > 0) {
        ssize_t k = send(fd, p, n, MSG_NOSIGNAL);
        if (k < 0 && errno == EINTR) continue;
        if (k <= 0) return false;
        p += k;
        n -= (size_t)k;
    }
    return true;
}

/* Copy bytes both ways until either side closes or the front stops. */
static void pump(tls_front_t *t, SSL *ssl, int cfd, int bfd)
{
    char *buf = xmalloc(CHUNK);
    for (;;) {
        struct pollfd p[3] = {{.fd = cfd, .events = POLLIN},
                              {.fd = bfd, .events = POLLIN},
                              {.fd = t->stop[0], .events = POLLIN}};
        if (SSL_pending(ssl) == 0) {
            if (poll(p, 3, -1) < 0) {
                if (errno == EINTR) continue;
                break;
            }
            if (p[2].revents) break;
        } else {
            p[0].revents = POLLIN; /* decrypted bytes wait inside OpenSSL */
            p[1].revents = 0;
        }
        if (p[0].revents) {
            int k = SSL_read(ssl, buf, CHUNK);
            if (k > 0) {
                if (!write_all(bfd, buf, (size_t)k)) break;
            } else {
                int e = SSL_get_error(ssl, k);
                if (e != SSL_ERROR_WANT_READ && e != SSL_ERROR_WANT_WRITE) break;
            }
        }
        if (p[1].revents) {
            ssize_t k = recv(bfd, buf, CHUNK, 0);
            if (k < 0 && errno == EINTR) continue;
            if (k <= 0 || SSL_write(ssl, buf, (int)k) <= 0) break;
        }
    }
    xfree(buf);
}

static void *relay_main(void *ud)
{
    struct relay *rl = ud;
    tls_front_t *t = rl->t;
    SSL *ssl = SSL_new(t->ctx);
    int bfd = -1;
    if (ssl && SSL_set_fd(ssl, rl->fd) == 1 && SSL_accept(ssl) == 1 &&
        (bfd = connect_backend(t->backend_port)) >= 0) {
        pump(t, ssl, rl->fd, bfd);
        SSL_shutdown(ssl);
    }
    ERR_clear_error();
    if (ssl) SSL_free(ssl);
    if (bfd >= 0) close(bfd);
    pthread_mutex_lock(&t->lock);
    close(rl->fd);
    t->fds[rl->slot] = -1;
    if (--t->nconns == 0) pthread_cond_broadcast(&t->idle);
    pthread_mutex_unlock(&t->lock);
    xfree(rl);
    return NULL;
}

static void *accept_main(void *ud)
{
    tls_front_t *t = ud;
    for (;;) {
        struct pollfd p[2] = {{.fd = t->lfd, .events = POLLIN},
                              {.fd = t->stop[0], .events = POLLIN}};
        if (poll(p, 2, -1) < 0 && errno != EINTR) break;
        if (p[1].revents) break;
        if (!p[0].revents) continue;
        int fd = accept4(t->lfd, NULL, NULL, SOCK_CLOEXEC);
        if (fd < 0) continue;
        set_timeouts(fd);
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
        pthread_mutex_lock(&t->lock);
        int slot = -1;
        for (int i = 0; i < MAX_CONNS && slot < 0; i++)
            if (t->fds[i] < 0) slot = i;
        if (slot < 0 || t->quit) { /* full: refuse rather than queue */
            pthread_mutex_unlock(&t->lock);
            close(fd);
            continue;
        }
        t->fds[slot] = fd;
        t->nconns++;
        pthread_mutex_unlock(&t->lock);
        struct relay *rl = xmalloc(sizeof *rl);
        *rl = (struct relay){.t = t, .fd = fd, .slot = slot};
        pthread_t th;
        pthread_attr_t at;
        pthread_attr_init(&at);
        pthread_attr_setdetachstate(&at, PTHREAD_CREATE_DETACHED);
        if (pthread_create(&th, &at, relay_main, rl) != 0) {
            pthread_mutex_lock(&t->lock);
            close(fd);
            t->fds[slot] = -1;
            if (--t->nconns == 0) pthread_cond_broadcast(&t->idle);
            pthread_mutex_unlock(&t->lock);
            xfree(rl);
        }
        pthread_attr_destroy(&at);
    }
    return NULL;
}

tls_front_t *tls_front_start(const char *ip, int port, const char *cert, const char *key,
                             int backend_port, char *err, size_t n)
{
    tls_front_t *t = xcalloc(1, sizeof *t);
    t->lfd = t->stop[0] = t->stop[1] = -1;
    t->backend_port = backend_port;
    for (int i = 0; i < MAX_CONNS; i++)
        t->fds[i] = -1;
    pthread_mutex_init(&t->lock, NULL);
    pthread_cond_init(&t->idle, NULL);

    t->ctx = SSL_CTX_new(TLS_server_method());
    if (t->ctx == NULL) {
        ssl_error(err, n, "TLS", "context");
        goto error;
    }
    SSL_CTX_set_min_proto_version(t->ctx, TLS1_2_VERSION);
    SSL_CTX_clear_mode(t->ctx, SSL_MODE_AUTO_RETRY);
    if (SSL_CTX_use_certificate_chain_file(t->ctx, cert) != 1) {
        ssl_error(err, n, "--tls-cert", cert);
        goto error;
    }
    if (SSL_CTX_use_PrivateKey_file(t->ctx, key, SSL_FILETYPE_PEM) != 1) {
        ssl_error(err, n, "--tls-key", key);
        goto error;
    }
    if (SSL_CTX_check_private_key(t->ctx) != 1) {
        ssl_error(err, n, "--tls-key does not match --tls-cert", cert);
        goto error;
    }

    struct sockaddr_in a = {.sin_family = AF_INET, .sin_port = htons((uint16_t)port)};
    if (inet_pton(AF_INET, ip, &a.sin_addr) != 1) {
        snprintf(err, n, "bad address %s", ip);
        goto error;
    }
    t->lfd = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
    int one = 1;
    if (t->lfd >= 0) setsockopt(t->lfd, SOL_SOCKET, SO_REUSEADDR, &one, sizeof one);
    if (t->lfd < 0 || bind(t->lfd, (struct sockaddr *)&a, sizeof a) != 0 ||
        listen(t->lfd, 64) != 0) {
        snprintf(err, n, "cannot listen on %s:%d: %s", ip, port, strerror(errno));
        goto error;
    }
    socklen_t alen = sizeof a;
    getsockname(t->lfd, (struct sockaddr *)&a, &alen);
    t->port = ntohs(a.sin_port);
    if (pipe2(t->stop, O_CLOEXEC) != 0 || pthread_create(&t->acceptor, NULL, accept_main, t) != 0) {
        snprintf(err, n, "cannot start the TLS thread: %s", strerror(errno));
        goto error;
    }
    t->acceptor_started = true;
    return t;
error:
    tls_front_stop(t);
    return NULL;
}

int tls_front_port(const tls_front_t *t)
{
    return t->port;
}

void tls_front_stop(tls_front_t *t)
{
    if (t == NULL) return;
    pthread_mutex_lock(&t->lock);
    t->quit = true;
    if (t->stop[1] >= 0) (void)!write(t->stop[1], "x", 1);
    for (int i = 0; i < MAX_CONNS; i++)
        if (t->fds[i] >= 0) shutdown(t->fds[i], SHUT_RDWR);
    pthread_mutex_unlock(&t->lock);
    if (t->acceptor_started) pthread_join(t->acceptor, NULL);
    pthread_mutex_lock(&t->lock);
    while (t->nconns > 0)
        pthread_cond_wait(&t->idle, &t->lock);
    pthread_mutex_unlock(&t->lock);
    if (t->lfd >= 0) close(t->lfd);
    for (int i = 0; i < 2; i++)
        if (t->stop[i] >= 0) close(t->stop[i]);
    if (t->ctx) SSL_CTX_free(t->ctx);
    pthread_cond_destroy(&t->idle);
    pthread_mutex_destroy(&t->lock);
    xfree(t);
}
