/* Unit tests of the HTTP client's connection state machine (http/client.c)
 * over the fake transport (net/fake.h): no socket, no loop, no server, no
 * Lua. The .c is included to reach on_io, the readiness handler the loop
 * would call; the test plays the loop, calling it after each piece of the
 * response it lets arrive, and gives the client a completion callback
 * that collects what it hands back.
 *  - keep-alive: a second request goes out on the same connection, and
 *    each response that arrives whole costs one read;
 *  - a response handed out one byte per read (and with EAGAIN between);
 *  - chunked and close-delimited bodies;
 *  - a reused connection that ends (EOF or reset) before any byte of the
 *    response: a GET is sent again once on a fresh connection, a POST
 *    fails (RemoteDisconnected / ConnectionResetError), a second failure
 *    of the resent GET is not retried;
 *  - a 101 closes the connection;
 *  - the body cap (Content-Length over it, and a body that grows past it);
 *  - a refused connect;
 *  - through a proxy: an https request tunnels with CONNECT (the proxy's
 *    credentials in Proxy-Authorization) then does TLS and sends the
 *    request through the tunnel, kept alive; a 407 to the CONNECT and a
 *    proxy that refuses the connection are requests' ProxyError; a plain
 *    http request goes to the proxy on its own connection, apart from a
 *    direct one to the same origin. */
#include "http/client.c"

#include <stdlib.h>

#include "check.h"
#include "net/fake.h"

static net_t *net;
static client_env_t env;
static client_t cl;

/* what the completion callback got */
static int nresults, status;
static char error[512], body[4096];
static size_t body_len;

static void on_result(void *arg, const client_result_t *r)
{
    (void)arg;
    nresults++;
    status = r->status;
    snprintf(error, sizeof error, "%s", r->error ? r->error : "");
    body_len = r->body_len < sizeof body ? r->body_len : sizeof body;
    if (body_len) memcpy(body, r->body, body_len);
}

static void fresh(void)
{
    if (net) {
        client_free(&cl);
        client_env_free(&env);
        fake_net_free(net);
    }
    net = fake_net_new();
    env = (client_env_t){.net = net};
    client_init(&cl, &env, on_result, NULL);
    nresults = 0;
}

static conn_t *open_conn(void)
{
    char err[256];
    conn_t *c = client_conn(&cl, "127.0.0.1", 9, 8080, false, err, sizeof err);
    CHECK_MSG(c != NULL, "%s", err);
    return c;
}

/* Put the request in c->wbuf and send it: 1 under way, 0 failed at once
 * (*res holds the failure). */
static int send_req(conn_t *c, const char *req, size_t max_body, client_result_t *res)
{
    buf_set(&c->wbuf, req, strlen(req));
    client_req_t r = {.max_body = max_body};
    return client_send(c, &r, NULL, res);
}

/* Play the loop: readiness edges until a result comes (at most n). */
static void drive(conn_t *c, int n)
{
    int before = nresults;
    for (int i = 0; i < n && nresults == before; i++)
        on_io(NULL, &c->sock.io, EPOLLIN | EPOLLOUT);
}

#define GET "GET /x HTTP/1.1\r\nHost: h\r\n\r\n"
#define POST "POST /x HTTP/1.1\r\nHost: h\r\nContent-Length: 2\r\n\r\nhi"
#define OK5 "HTTP/1.1 200 OK\r\nContent-Length: 5\r\n\r\nhello"

static bool body_is(const char *s)
{
    return body_len == strlen(s) && memcmp(body, s, body_len) == 0;
}

static void test_keep_alive(void)
{
    fresh();
    conn_t *c = open_conn();
    client_result_t res;
    CHECK(send_req(c, GET, 0, &res) == 1);
    fake_peer_t *p = fake_peer(net, 0);
    CHECK(p->out.len == strlen(GET) && memcmp(p->out.p, GET, p->out.len) == 0);
    fake_send(p, OK5, strlen(OK5));
    drive(c, 3);
    CHECK(nresults == 1 && status == 200 && body_is("hello") && error[0] == 0);
    CHECK(c->state == CONN_IDLE && p->open);
    CHECK(open_conn() == c); /* the same origin finds the same connection */
    CHECK(send_req(c, GET, 0, &res) == 1);
    CHECK(c->reused);
    fake_send(p, OK5, strlen(OK5));
    drive(c, 3);
    CHECK(nresults == 2 && status == 200 && body_is("hello"));
    CHECK(fake_connects(net) == 1);
    CHECK(p->out.len == 2 * strlen(GET));
    /* steady state: one read per response (a short read means drained) */
    CHECK_MSG(p->calls == 2, "%d read calls", p->calls);
    /* a response in two parts: one read per edge, no read to learn EAGAIN */
    CHECK(send_req(c, GET, 0, &res) == 1);
    fake_send(p, OK5, strlen(OK5) - 3);
    on_io(NULL, &c->sock.io, EPOLLIN);
    CHECK_MSG(p->calls == 3 && nresults == 2, "%d read calls", p->calls);
    fake_send(p, "llo", 3);
    on_io(NULL, &c->sock.io, EPOLLIN);
    CHECK(p->calls == 4 && nresults == 3 && body_is("hello"));
}

static void test_byte_reads(bool again)
{
    fresh();
    conn_t *c = open_conn();
    client_result_t res;
    fake_peer_t *p = fake_peer(net, 0);
    p->chunk = 1;
    p->again = again;
    CHECK(send_req(c, GET, 0, &res) == 1);
    const char *resp = "HTTP/1.1 200 OK\r\nX-A: b\r\nContent-Length: 11\r\n\r\nhello world";
    fake_send(p, resp, strlen(resp));
    drive(c, 4 * (int)strlen(resp));
    CHECK(nresults == 1 && status == 200 && body_is("hello world"));
    CHECK_MSG(p->reads == (int)strlen(resp), "%d reads", p->reads);
    CHECK(c->state == CONN_IDLE);
}

static void test_chunked(void)
{
    fresh();
    conn_t *c = open_conn();
    client_result_t res;
    fake_peer_t *p = fake_peer(net, 0);
    p->chunk = 7; /* chunk boundaries fall anywhere */
    CHECK(send_req(c, GET, 0, &res) == 1);
    const char *resp = "HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked\r\n\r\n"
                       "5\r\nhello\r\n6\r\n world\r\n0\r\n\r\n";
    fake_send(p, resp, strlen(resp));
    drive(c, 50);
    CHECK(nresults == 1 && status == 200 && body_is("hello world"));
    CHECK(c->state == CONN_IDLE);
}

static void test_close_delimited(void)
{
    fresh();
    conn_t *c = open_conn();
    client_result_t res;
    fake_peer_t *p = fake_peer(net, 0);
    CHECK(send_req(c, GET, 0, &res) == 1);
    const char *resp = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\nuntil the end";
    fake_send(p, resp, strlen(resp));
    drive(c, 3);
    CHECK(nresults == 0); /* only the end of the stream ends this body */
    p->end = FAKE_EOF;
    drive(c, 3);
    CHECK(nresults == 1 && status == 200 && body_is("until the end"));
    CHECK(c->state == CONN_CLOSED && !p->open);
}

/* A kept-alive connection, then a request on it that meets `end` before
 * any response byte. Returns the connection. */
static conn_t *reuse_then(const char *req, enum fake_end end)
{
    fresh();
    conn_t *c = open_conn();
    client_result_t res;
    fake_peer_t *p = fake_peer(net, 0);
    CHECK(send_req(c, GET, 0, &res) == 1);
    fake_send(p, OK5, strlen(OK5));
    drive(c, 3);
    CHECK(nresults == 1 && c->state == CONN_IDLE);
    CHECK(send_req(c, req, 0, &res) == 1);
    p->end = end;
    drive(c, 1);
    return c;
}

static void test_retry_get(enum fake_end end)
{
    conn_t *c = reuse_then(GET, end);
    CHECK(nresults == 1); /* no result yet: sent again */
    CHECK(fake_connects(net) == 2);
    fake_peer_t *q = fake_peer(net, 1);
    CHECK(q->out.len == strlen(GET) && memcmp(q->out.p, GET, q->out.len) == 0);
    fake_send(q, OK5, strlen(OK5));
    drive(c, 3);
    CHECK(nresults == 2 && status == 200 && body_is("hello"));

    /* once only: the resent request failing the same way is a failure */
    c = reuse_then(GET, end);
    fake_peer(net, 1)->end = end;
    drive(c, 3);
    CHECK(nresults == 2 && status == 0);
    CHECK(fake_connects(net) == 2);
    CHECK_MSG(strstr(error, end == FAKE_EOF ? "RemoteDisconnected" : "ConnectionResetError"), "%s",
              error);
}

static void test_post_not_retried(void)
{
    reuse_then(POST, FAKE_EOF);
    CHECK(nresults == 2 && status == 0);
    CHECK_MSG(strcmp(error, "RemoteDisconnected('Remote end closed connection without "
                            "response')") == 0,
              "%s", error);
    CHECK(fake_connects(net) == 1);
    reuse_then(POST, FAKE_RESET);
    CHECK(nresults == 2);
    CHECK_MSG(strstr(error, "ConnectionResetError(104"), "%s", error);
    CHECK(fake_connects(net) == 1);
}

static void test_101_closes(void)
{
    fresh();
    conn_t *c = open_conn();
    client_result_t res;
    fake_peer_t *p = fake_peer(net, 0);
    CHECK(send_req(c, GET, 0, &res) == 1);
    const char *resp = "HTTP/1.1 101 Switching Protocols\r\nUpgrade: websocket\r\n"
                       "Connection: Upgrade\r\n\r\n";
    fake_send(p, resp, strlen(resp));
    drive(c, 3);
    CHECK(nresults == 1 && status == 101);
    CHECK(c->state == CONN_CLOSED && !p->open);
    CHECK(send_req(c, GET, 0, &res) == 1); /* the next request opens a new one */
    CHECK(fake_connects(net) == 2);
}

static void test_body_cap(void)
{
    fresh();
    conn_t *c = open_conn();
    client_result_t res;
    CHECK(send_req(c, GET, 10, &res) == 1);
    const char *big = "HTTP/1.1 200 OK\r\nContent-Length: 100\r\n\r\n0123456789";
    fake_send(fake_peer(net, 0), big, strlen(big));
    drive(c, 3);
    CHECK(nresults == 1);
    CHECK_MSG(strstr(error, "ResponseTooLarge") && strstr(error, "(10 bytes)"), "%s", error);
    CHECK(c->state == CONN_CLOSED);

    CHECK(send_req(c, GET, 10, &res) == 1);
    fake_peer_t *p = fake_peer(net, 1);
    p->chunk = 4;
    const char *grows = "HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n0123456789abcdef";
    fake_send(p, grows, strlen(grows));
    p->end = FAKE_EOF;
    drive(c, 30);
    CHECK(nresults == 2);
    CHECK_MSG(strstr(error, "ResponseTooLarge"), "%s", error);
}

static void test_refused(void)
{
    fresh();
    conn_t *c = open_conn();
    fake_peer(net, 0)->connect_err = ECONNREFUSED;
    client_result_t res = {0};
    CHECK(send_req(c, GET, 0, &res) == 0); /* failed at once: the caller gets it */
    CHECK(res.error && strstr(res.error, "ConnectionRefusedError(111"));
    CHECK(nresults == 0);
}

/* Proxies for the client: https through u:p@10.0.0.9:3128, http through 10.0.0.9:3128. */
static void use_proxy(void)
{
    char err[128];
    proxy_map_reset(&cl.proxies);
    proxy_map_add(&cl.proxies, PROXY_CLIENT, "https", 5, "http://u:p@10.0.0.9:3128", 24, err,
                  sizeof err);
    proxy_map_add(&cl.proxies, PROXY_CLIENT, "http", 4, "10.0.0.9:3128", 13, err, sizeof err);
}

static conn_t *tls_conn(void)
{
    char err[256];
    conn_t *c = client_conn(&cl, "example.com", 11, 443, true, err, sizeof err);
    CHECK_MSG(c != NULL, "%s", err);
    return c;
}

#define CONNECT_REQ                                                                                \
    "CONNECT example.com:443 HTTP/1.1\r\nHost: example.com:443\r\n"                                \
    "Proxy-Authorization: Basic dTpw\r\n\r\n"

static void test_tunnel(void)
{
    fresh();
    use_proxy();
    conn_t *c = tls_conn();
    CHECK(c->px_host && strcmp(c->px_host, "10.0.0.9") == 0 && c->px_port == 3128);
    CHECK(!client_absolute(c)); /* through a tunnel the request is origin-form */
    client_result_t res;
    CHECK(send_req(c, GET, 0, &res) == 1);
    fake_peer_t *p = fake_peer(net, 0);
    CHECK(c->state == CONN_TUNNEL && !p->tls);
    CHECK_MSG(p->out.len == strlen(CONNECT_REQ) && memcmp(p->out.p, CONNECT_REQ, p->out.len) == 0,
              "%.*s", (int)p->out.len, p->out.p);
    const char *est = "HTTP/1.1 200 Connection established\r\n\r\n";
    fake_send(p, est, 20); /* the answer in two parts */
    on_io(NULL, &c->sock.io, EPOLLIN);
    CHECK(c->state == CONN_TUNNEL && !p->tls);
    fake_send(p, est + 20, strlen(est) - 20);
    on_io(NULL, &c->sock.io, EPOLLIN);
    CHECK(p->tls && c->state == CONN_READING); /* TLS with the origin, then the request */
    CHECK(p->out.len == strlen(CONNECT_REQ) + strlen(GET) &&
          memcmp(p->out.p + strlen(CONNECT_REQ), GET, strlen(GET)) == 0);
    fake_send(p, OK5, strlen(OK5));
    drive(c, 3);
    CHECK_MSG(nresults == 1 && status == 200 && body_is("hello") && error[0] == 0, "%s", error);
    /* the tunnel is kept: the next request goes straight through it */
    CHECK(tls_conn() == c && send_req(c, GET, 0, &res) == 1);
    fake_send(p, OK5, strlen(OK5));
    drive(c, 3);
    CHECK(nresults == 2 && status == 200 && fake_connects(net) == 1);
}

static void test_tunnel_407(void)
{
    fresh();
    use_proxy();
    conn_t *c = tls_conn();
    client_result_t res;
    CHECK(send_req(c, GET, 0, &res) == 1);
    fake_peer_t *p = fake_peer(net, 0);
    const char *no = "HTTP/1.1 407 Proxy Authentication Required\r\n"
                     "Proxy-Authenticate: Basic realm=\"x\"\r\nContent-Length: 0\r\n\r\n";
    fake_send(p, no, strlen(no));
    drive(c, 3);
    CHECK_MSG(nresults == 1 && status == 0 &&
                  strcmp(error, "ProxyError('Unable to connect to proxy', OSError('Tunnel "
                                "connection failed: 407 Proxy Authentication Required'))") == 0,
              "%s", error);
    CHECK(!p->tls && !p->open && c->state == CONN_CLOSED);
    CHECK(fake_connects(net) == 1); /* not retried */
}

static void test_proxy_refused(void)
{
    fresh();
    use_proxy();
    conn_t *c = tls_conn();
    fake_peer(net, 0)->connect_err = ECONNREFUSED;
    client_result_t res = {0};
    CHECK(send_req(c, GET, 0, &res) == 0);
    CHECK_MSG(res.error &&
                  strcmp(res.error, "ProxyError('Unable to connect to proxy', "
                                    "ConnectionRefusedError(111, 'Connection refused'))") == 0,
              "%s", res.error);
}

static void test_plain_via_proxy(void)
{
    fresh();
    use_proxy();
    char err[256];
    conn_t *c = client_conn(&cl, "example.com", 11, 80, false, err, sizeof err);
    CHECK(c && client_absolute(c) && c->px_auth == NULL);
    /* the request names the origin in absolute form; the URL of the result is the origin's */
    client_result_t res;
    const char *req = "GET http://example.com/x?q=1 HTTP/1.1\r\nHost: example.com\r\n\r\n";
    CHECK(send_req(c, req, 0, &res) == 1);
    fake_peer_t *p = fake_peer(net, 0);
    CHECK(!p->tls && p->out.len == strlen(req));
    fake_send(p, OK5, strlen(OK5));
    drive(c, 3);
    CHECK(nresults == 1 && status == 200 && body_is("hello"));
    /* no proxy for this request: another connection, direct */
    proxy_map_reset(&cl.proxies);
    conn_t *d = client_conn(&cl, "example.com", 11, 80, false, err, sizeof err);
    CHECK(d && d != c && d->px_host == NULL && !client_absolute(d));
    /* a malformed proxy URL fails the request before any connection */
    proxy_map_add(&cl.proxies, PROXY_REQUEST, "http", 4, "http://:3128", 12, err, sizeof err);
    CHECK(client_conn(&cl, "example.com", 11, 80, false, err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "InvalidProxyURL") && strstr(err, "missing the host"), "%s", err);
}

int main(void)
{
    test_keep_alive();
    test_byte_reads(false);
    test_byte_reads(true);
    test_chunked();
    test_close_delimited();
    test_retry_get(FAKE_EOF);
    test_retry_get(FAKE_RESET);
    test_post_not_retried();
    test_101_closes();
    test_body_cap();
    test_refused();
    test_tunnel();
    test_tunnel_407();
    test_proxy_refused();
    test_plain_via_proxy();
    client_free(&cl);
    client_env_free(&env);
    fake_net_free(net);
    return check_done();
}
