/* net: see net.h. This file is the context (its life, the graveyard) and
 * the plain backend: non-blocking sockets registered once with the engine's
 * epoll loop, send() with MSG_NOSIGNAL and recv(), so steady state costs
 * exactly those two system calls per request; their successful case is
 * inlined at the call site (net.h), the rest is here. TLS (tls.c)
 * switches a sock to its own table and back on close.
 *
 * The graveyard exists because epoll_wait hands out a batch of events: a
 * connection closed while handling one event may still be named by a later
 * one of the same batch, so it is freed only after the turn. */
#include "net/net.h"

#include <errno.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <unistd.h>

#include "base/alloc.h"
#include "net/tls.h"

net_t *net_new(loop_t *loop, const char *ca_file, bool insecure)
{
    net_t *n = xcalloc(1, sizeof *n);
    n->loop = loop;
    n->ca_file = ca_file;
    n->insecure = insecure;
    n->ops = &net_plain;
    return n;
}

void net_free(net_t *n)
{
    if (n == NULL) return;
    net_bury(n);
    tls_free_ctxs(n);
    xfree(n);
}

void sock_init(sock_t *s, net_t *n, loop_io_fn fn)
{
    s->io.fd = -1;
    s->io.fn = fn;
    s->net = n;
    s->ops = n->ops;
}

void net_retire(net_t *n, sock_t *s, void (*bury)(sock_t *s))
{
    sock_close(s, true);
    s->bury = bury;
    s->grave_next = n->grave;
    n->grave = s;
}

void net_bury(net_t *n)
{
    while (n->grave) {
        sock_t *s = n->grave;
        n->grave = s->grave_next;
        sock_forget_session(s);
        s->bury(s);
    }
}

/* ---- the plain backend ---- */

static net_status_t failed(sock_t *s, int e)
{
    s->err = e;
    return NET_ERROR;
}

static net_status_t plain_connect(sock_t *s, const struct sockaddr *sa, socklen_t len, int type)
{
    int fd = socket(sa->sa_family, type | SOCK_NONBLOCK | SOCK_CLOEXEC, 0);
    if (fd < 0) return failed(s, errno);
    if (type == SOCK_STREAM) {
        int one = 1;
        setsockopt(fd, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
    }
    s->io.fd = fd;
    if (loop_add(s->net->loop, &s->io) != 0) {
        int e = errno;
        close(fd);
        s->io.fd = -1;
        return failed(s, e);
    }
    if (connect(fd, sa, len) == 0) return NET_OK;
    if (errno == EINPROGRESS) {
        s->want = SOCK_WANT_WRITE;
        return NET_RETRY;
    }
    int e = errno;
    sock_close(s, false);
    return failed(s, e);
}

static net_status_t plain_connected(sock_t *s)
{
    int e = 0;
    socklen_t len = sizeof e;
    if (getsockopt(s->io.fd, SOL_SOCKET, SO_ERROR, &e, &len) != 0) e = errno;
    return e ? failed(s, e) : NET_OK;
}

/* What follows a failed recv()/send() of the plain backend (errno set by
 * it); the successful case is inlined in sock_read/sock_write (net.h). */
net_status_t net_plain_failed(sock_t *s, unsigned char want)
{
    if (errno == EAGAIN || errno == EWOULDBLOCK) {
        s->want = want;
        return NET_RETRY;
    }
    return failed(s, errno);
}

static net_status_t plain_read(sock_t *s, char *p, size_t n, size_t *got)
{
    ssize_t r = recv(s->io.fd, p, n, 0);
    if (r < 0) return net_plain_failed(s, SOCK_WANT_READ);
    *got = (size_t)r;
    return NET_OK;
}

static net_status_t plain_write(sock_t *s, const char *p, size_t n, size_t *put)
{
    ssize_t r = send(s->io.fd, p, n, MSG_NOSIGNAL);
    if (r < 0) return net_plain_failed(s, SOCK_WANT_WRITE);
    *put = (size_t)r;
    return NET_OK;
}

static net_status_t plain_handshake(sock_t *s)
{
    return NET_OK; /* no TLS: nothing to agree on */
}

void net_plain_close(sock_t *s, bool clean)
{
    if (s->io.fd < 0) return;
    if (s->net->loop) loop_del(s->net->loop, &s->io);
    close(s->io.fd);
    s->io.fd = -1;
}

const sock_ops_t net_plain = {
    .connect = plain_connect,
    .connected = plain_connected,
    .tls = tls_start,
    .handshake = plain_handshake,
    .read = plain_read,
    .write = plain_write,
    .close = net_plain_close,
};
