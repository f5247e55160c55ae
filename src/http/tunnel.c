/* tunnel: see tunnel.h.
 *
 * The answer is read as it comes and parsed with the response parser
 * (parse.h) until its head is whole. A 2xx with bytes after its head is
 * refused: a proxy sends nothing before the client's ClientHello, and
 * such bytes could only be a confused or hostile proxy's. */
#include "http/tunnel.h"

#include <stdio.h>
#include <string.h>

#include "base/alloc.h"
#include "http/parse.h"

#define ANSWER_MAX 8192 /* a proxy's answer to CONNECT: its head only */

static _Thread_local char errtext[768];

const char *tunnel_proxy_error(const char *inner)
{
    char tmp[600];
    snprintf(tmp, sizeof tmp, "%s", inner); /* inner may be errtext itself */
    snprintf(errtext, sizeof errtext, "ProxyError('Unable to connect to proxy', %s)", tmp);
    return errtext;
}

void tunnel_start(conn_t *c)
{
    bool v6 = strchr(c->host, ':') != NULL;
    char auth[700];
    buf_t *w = &c->rbuf;
    buf_reset(w);
    snprintf(auth, sizeof auth, "%s%s%s:%d", v6 ? "[" : "", c->host, v6 ? "]" : "", c->port);
    buf_printf(w, "CONNECT %s HTTP/1.1\r\nHost: %s\r\n", auth, auth);
    if (c->px_auth) buf_printf(w, "Proxy-Authorization: %s\r\n", c->px_auth);
    buf_puts(w, "\r\n");
    c->tun_len = w->len;
    c->tun_off = 0;
    c->state = CONN_TUNNEL;
}

static int failed(const char **err, const char *inner)
{
    *err = tunnel_proxy_error(inner);
    return TUNNEL_FAIL;
}

static int write_request(conn_t *c, const char **err)
{
    while (c->tun_off < c->tun_len) {
        size_t n = 0;
        switch (sock_write(&c->sock, c->rbuf.p + c->tun_off, c->tun_len - c->tun_off, &n)) {
        case NET_OK:
            c->tun_off += n;
            continue;
        case NET_RETRY:
            return TUNNEL_WAIT;
        case NET_ERROR:
            break;
        }
        char inner[128];
        snprintf(inner, sizeof inner, "OSError(%d, '%s')", c->sock.err, strerror(c->sock.err));
        return failed(err, inner);
    }
    buf_reset(&c->rbuf);
    return TUNNEL_OPEN;
}

/* The answer's head is whole in c->rbuf: open or refused. */
static int answer(conn_t *c, const char **err)
{
    http_response_t *res = &c->cl->env->parsed;
    ssize_t n = http_parse_response(c->rbuf.p, c->rbuf.len, res);
    if (n == HTTP_NEED_MORE) return TUNNEL_WAIT;
    if (n < 0) return failed(err, "OSError('Tunnel connection failed: bad answer from the proxy')");
    if (res->status >= 200 && res->status < 300) {
        if ((size_t)n != c->rbuf.len)
            return failed(err, "OSError('Tunnel connection failed: bytes after the answer')");
        buf_reset(&c->rbuf);
        return TUNNEL_OPEN;
    }
    /* http.client's text: "Tunnel connection failed: 407 Proxy Authentication Required" */
    char inner[300];
    snprintf(inner, sizeof inner, "OSError('Tunnel connection failed: %d %.*s')", res->status,
             (int)(res->reason_len < 200 ? res->reason_len : 200), res->reason);
    return failed(err, inner);
}

int tunnel_step(conn_t *c, const char **err)
{
    if (c->tun_off < c->tun_len) {
        int r = write_request(c, err);
        if (r != TUNNEL_OPEN) return r;
        c->tun_len = c->tun_off = 0; /* sent: now the answer */
    }
    buf_reserve(&c->rbuf, ANSWER_MAX + 1);
    for (;;) {
        size_t got = 0, len = c->rbuf.len;
        if (len >= ANSWER_MAX)
            return failed(err, "OSError('Tunnel connection failed: answer too long')");
        switch (sock_read(&c->sock, c->rbuf.p + len, ANSWER_MAX - len, &got)) {
        case NET_OK:
            break;
        case NET_RETRY:
            return TUNNEL_WAIT;
        case NET_ERROR: {
            char inner[128];
            snprintf(inner, sizeof inner, "OSError(%d, '%s')", c->sock.err, strerror(c->sock.err));
            return failed(err, inner);
        }
        }
        if (got == 0)
            return failed(err,
                          "RemoteDisconnected('Remote end closed connection without response')");
        c->rbuf.len += got;
        int r = answer(c, err);
        if (r != TUNNEL_WAIT) return r;
    }
}

bool tunnel_same_proxy(const conn_t *c, const proxy_t *px)
{
    if (px == NULL || c->px_host == NULL) return px == NULL && c->px_host == NULL;
    const char *u = c->px_user ? c->px_user : "";
    return c->px_port == px->port && strlen(c->px_host) == px->host_len &&
           memcmp(c->px_host, px->host, px->host_len) == 0 && strlen(u) == px->userinfo_len &&
           (px->userinfo_len == 0 || memcmp(u, px->userinfo, px->userinfo_len) == 0);
}

void tunnel_set_proxy(conn_t *c, const proxy_t *px)
{
    c->px_host = xstrndup(px->host, px->host_len);
    c->px_port = px->port;
    if (px->userinfo) {
        buf_t a = {0};
        proxy_auth(&a, px);
        c->px_user = xstrndup(px->userinfo, px->userinfo_len);
        c->px_auth = xstrndup(a.p, a.len);
        buf_free(&a);
    }
}
