/* fake: see fake.h. A sock's fd is FAKE_FD0 plus its peer's index, so a
 * call finds its peer without any field of its own in sock_t; closing sets
 * the fd back to -1, and the next connect takes the next peer. */
#include "net/fake.h"

#include <errno.h>
#include <string.h>

#include "base/alloc.h"

#define FAKE_FD0 1000

typedef struct fake {
    fake_peer_t **peers;
    int n, cap, connects;
} fake_t;

static const sock_ops_t fake_ops;

net_t *fake_net_new(void)
{
    net_t *n = net_new(NULL, NULL, false);
    n->ops = &fake_ops;
    n->backend = xcalloc(1, sizeof(fake_t));
    return n;
}

void fake_net_free(net_t *n)
{
    net_bury(n);
    fake_t *f = n->backend;
    for (int i = 0; i < f->n; i++) {
        buf_free(&f->peers[i]->in);
        buf_free(&f->peers[i]->out);
        xfree(f->peers[i]);
    }
    xfree(f->peers);
    xfree(f);
    n->backend = NULL;
    net_free(n);
}

fake_peer_t *fake_peer(net_t *n, int k)
{
    fake_t *f = n->backend;
    while (f->n <= k) {
        if (f->n == f->cap) {
            f->cap = f->cap ? 2 * f->cap : 8;
            f->peers = xrealloc(f->peers, (size_t)f->cap * sizeof *f->peers);
        }
        f->peers[f->n++] = xcalloc(1, sizeof(fake_peer_t));
    }
    return f->peers[k];
}

int fake_connects(const net_t *n)
{
    return ((const fake_t *)n->backend)->connects;
}

void fake_send(fake_peer_t *p, const char *s, size_t len)
{
    buf_append(&p->in, s, len);
}

static fake_peer_t *peer_of(sock_t *s)
{
    return fake_peer(s->net, s->io.fd - FAKE_FD0);
}

static net_status_t fail(sock_t *s, int e)
{
    s->err = e;
    return NET_ERROR;
}

static net_status_t f_connect(sock_t *s, const struct sockaddr *sa, socklen_t len, int type)
{
    fake_t *f = s->net->backend;
    int k = f->connects++;
    fake_peer_t *p = fake_peer(s->net, k);
    if (p->connect_err) return fail(s, p->connect_err);
    s->io.fd = FAKE_FD0 + k;
    p->open = true;
    if (p->connect_later) {
        s->want = SOCK_WANT_WRITE;
        return NET_RETRY;
    }
    return NET_OK;
}

static net_status_t f_connected(sock_t *s)
{
    return NET_OK;
}

static void f_tls(sock_t *s, struct ssl_ctx_st *ctx, const char *host, bool verify)
{
    peer_of(s)->tls = true;
}

static net_status_t f_handshake(sock_t *s)
{
    return NET_OK;
}

static net_status_t f_read(sock_t *s, char *buf, size_t n, size_t *got)
{
    fake_peer_t *p = peer_of(s);
    size_t avail = p->in.len - p->in_off;
    *got = 0;
    p->calls++;
    if (avail == 0) {
        if (p->end == FAKE_EOF) return NET_OK;
        if (p->end == FAKE_RESET) return fail(s, ECONNRESET);
        s->want = SOCK_WANT_READ;
        return NET_RETRY;
    }
    if (p->again && !p->retried) {
        p->retried = true;
        s->want = SOCK_WANT_READ;
        return NET_RETRY;
    }
    p->retried = false;
    if (p->chunk && avail > p->chunk) avail = p->chunk;
    if (avail > n) avail = n;
    memcpy(buf, p->in.p + p->in_off, avail);
    p->in_off += avail;
    p->reads++;
    *got = avail;
    return NET_OK;
}

static net_status_t f_write(sock_t *s, const char *buf, size_t n, size_t *put)
{
    fake_peer_t *p = peer_of(s);
    if (p->write_err) return fail(s, p->write_err);
    buf_append(&p->out, buf, n);
    *put = n;
    return NET_OK;
}

static void f_close(sock_t *s, bool clean)
{
    if (s->io.fd < 0) return;
    peer_of(s)->open = false;
    s->io.fd = -1;
    s->tls = false;
}

static const sock_ops_t fake_ops = {
    .connect = f_connect,
    .connected = f_connected,
    .tls = f_tls,
    .handshake = f_handshake,
    .read = f_read,
    .write = f_write,
    .close = f_close,
};
