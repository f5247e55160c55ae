/* Unit tests of the transport seam's plain backend and context (net/net.c,
 * net/tls.c's context cache): everything on 127.0.0.1 or a socketpair.
 *  - read/write answer OK with the byte count, RETRY with the readiness
 *    they wait for, OK with 0 at the end of the stream, ERROR with the
 *    errno of a reset;
 *  - connect to a port nobody listens on: ERROR ECONNREFUSED (at once or
 *    after writability, as the kernel decides), and a sock can connect
 *    again after that;
 *  - net_retire defers freeing to net_bury, and net_free buries what is
 *    left;
 *  - tls_ctx: one context per CA bundle per net_t, a clear error for a
 *    bundle that does not exist. */
#include <arpa/inet.h>
#include <errno.h>
#include <netinet/in.h>
#include <stdlib.h>
#include <string.h>
#include <sys/socket.h>
#include <unistd.h>

#include "check.h"
#include "net/loop.h"
#include "net/net.h"
#include "net/tls.h"

static void on_io(loop_t *l, loop_io_t *io, uint32_t ev) {}

static void test_read_write(loop_t *loop)
{
    net_t *n = net_new(loop, NULL, false);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    sock_t s;
    memset(&s, 0, sizeof s);
    sock_init(&s, n, on_io);
    s.io.fd = sv[0]; /* as if connected: the backend only needs the fd */
    char buf[16];
    size_t got = 99, put = 0;
    CHECK(sock_read(&s, buf, sizeof buf, &got) == NET_RETRY && s.want == SOCK_WANT_READ);
    CHECK(sock_write(&s, "ping", 4, &put) == NET_OK && put == 4);
    CHECK(read(sv[1], buf, sizeof buf) == 4 && memcmp(buf, "ping", 4) == 0);
    CHECK(write(sv[1], "pong", 4) == 4);
    CHECK(sock_read(&s, buf, sizeof buf, &got) == NET_OK && got == 4 &&
          memcmp(buf, "pong", 4) == 0);
    /* a full buffer: RETRY for writability */
    static char big[1 << 16];
    net_status_t st;
    while ((st = sock_write(&s, big, sizeof big, &put)) == NET_OK) {
    }
    CHECK(st == NET_RETRY && s.want == SOCK_WANT_WRITE);
    close(sv[1]); /* closed with our bytes unread: a reset */
    CHECK(sock_read(&s, buf, sizeof buf, &got) == NET_ERROR && s.err == ECONNRESET);
    close(sv[0]);
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    s.io.fd = sv[0];
    CHECK(write(sv[1], "bye", 3) == 3);
    close(sv[1]); /* the end of the stream, after the last bytes */
    CHECK(sock_read(&s, buf, sizeof buf, &got) == NET_OK && got == 3);
    CHECK(sock_read(&s, buf, sizeof buf, &got) == NET_OK && got == 0);
    CHECK(sock_write(&s, "x", 1, &put) == NET_ERROR && s.err == EPIPE);
    close(sv[0]);
    net_free(n);
}

static int closed_port(struct sockaddr_in *sa)
{
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    memset(sa, 0, sizeof *sa);
    sa->sin_family = AF_INET;
    sa->sin_addr.s_addr = htonl(INADDR_LOOPBACK);
    socklen_t len = sizeof *sa;
    if (bind(fd, (struct sockaddr *)sa, len) != 0 ||
        getsockname(fd, (struct sockaddr *)sa, &len) != 0)
        return -1;
    close(fd); /* bound once, nobody listens now */
    return 0;
}

static void test_refused(loop_t *loop)
{
    net_t *n = net_new(loop, NULL, false);
    struct sockaddr_in sa;
    CHECK(closed_port(&sa) == 0);
    sock_t s;
    memset(&s, 0, sizeof s);
    sock_init(&s, n, on_io);
    for (int round = 0; round < 2; round++) { /* and again on the same sock */
        net_status_t st = sock_connect(&s, (struct sockaddr *)&sa, sizeof sa, SOCK_STREAM);
        if (st == NET_RETRY) {
            CHECK(s.want == SOCK_WANT_WRITE && s.io.fd >= 0);
            loop_run_once(loop, 1000); /* the refusal comes as an event */
            st = sock_connected(&s);
            sock_close(&s, false);
        }
        CHECK_MSG(st == NET_ERROR && s.err == ECONNREFUSED, "round %d: %d %s", round, st,
                  strerror(s.err));
        CHECK(s.io.fd == -1);
    }
    net_free(n);
}

static int buried;

static void bury(sock_t *s)
{
    buried++;
    free(s);
}

static void test_graveyard(loop_t *loop)
{
    net_t *n = net_new(loop, NULL, false);
    int sv[2];
    CHECK(socketpair(AF_UNIX, SOCK_STREAM | SOCK_NONBLOCK, 0, sv) == 0);
    sock_t *a = calloc(1, sizeof *a), *b = calloc(1, sizeof *b);
    sock_init(a, n, on_io);
    sock_init(b, n, on_io);
    a->io.fd = sv[0];
    b->io.fd = sv[1];
    net_retire(n, a, bury);
    CHECK(a->io.fd == -1); /* closed at once... */
    CHECK(buried == 0);    /* ...freed later */
    net_bury(n);
    CHECK(buried == 1);
    net_retire(n, b, bury);
    net_free(n); /* buries what is left */
    CHECK(buried == 2);
}

static void test_ctx(loop_t *loop)
{
    net_t *n = net_new(loop, NULL, false);
    char err[512] = "";
    struct ssl_ctx_st *sys = tls_ctx(n, NULL, err, sizeof err);
    CHECK(sys != NULL);
    CHECK(tls_ctx(n, NULL, err, sizeof err) == sys); /* made once */
    CHECK(tls_ctx(n, "/nonexistent/ca.pem", err, sizeof err) == NULL);
    CHECK_MSG(strstr(err, "invalid path: /nonexistent/ca.pem"), "%s", err);
    net_t *m = net_new(loop, "/nonexistent/other.pem", true); /* --ca-file is the default */
    CHECK(tls_ctx(m, NULL, err, sizeof err) == NULL && strstr(err, "other.pem"));
    CHECK(net_verify(m, true) == false && net_verify(n, true) && !net_verify(n, false));
    net_free(m);
    net_free(n);
}

int main(void)
{
    char err[256];
    loop_t *loop = loop_new(err, sizeof err);
    CHECK(loop != NULL);
    test_read_write(loop);
    test_refused(loop);
    test_graveyard(loop);
    test_ctx(loop);
    loop_free(loop);
    return check_done();
}
