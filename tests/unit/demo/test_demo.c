/* test_demo: the demo site's request parser, routes and helpers, and one run
 * of the real server in a child process (pipelining, /slow, bodies, a bad
 * request, the loopback-only rule, a clean stop on SIGTERM). */
#include "check.h"

#include <arpa/inet.h>
#include <netinet/in.h>
#include <signal.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

#include "demo/demo.h"
#include "demo/form.h"
#include "demo/req.h"
#include "demo/site.h"

/* Copy s to the end of a page followed by an unreadable one, so that any read
 * past its end faults. */
static const char *guarded(const char *s, size_t n)
{
    static char *page;
    long ps = sysconf(_SC_PAGESIZE);
    if (!page) {
        page =
            mmap(NULL, (size_t)ps * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mprotect(page + ps, (size_t)ps, PROT_NONE);
    }
    memcpy(page + ps - n, s, n);
    return page + ps - n;
}

static long parse(const char *s, struct demo_req *rq)
{
    size_t n = strlen(s);
    return demo_req_parse(guarded(s, n), n, rq);
}

static int is(struct demo_str s, const char *lit)
{
    return s.n == strlen(lit) && memcmp(s.p, lit, s.n) == 0;
}

static void test_parse(void)
{
    struct demo_req rq;
    const char *get = "GET /slow?delay=0.5 HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n"
                      "Cookie: session=61\r\n\r\nabc";
    CHECK(parse(get, &rq) == (long)strlen(get) - 3);
    CHECK(is(rq.method, "GET") && is(rq.path, "/slow") && is(rq.query, "delay=0.5"));
    CHECK(rq.minor == 1 && rq.keep_alive && rq.content_length == 3 && !rq.has_te);
    CHECK(rq.nheaders == 3 && is(rq.name[0], "Host") && is(rq.value[0], "x"));
    CHECK(is(rq.cookie, "session=61"));
    /* every proper prefix of the head is PARTIAL */
    for (size_t i = 0; i < strlen(get) - 3; i++) {
        char tmp[256];
        memcpy(tmp, get, i);
        CHECK_MSG(demo_req_parse(guarded(tmp, i), i, &rq) == DEMO_REQ_PARTIAL, "prefix %zu", i);
    }
    CHECK(parse("\r\nGET / HTTP/1.0\n\n", &rq) == 18 && !rq.keep_alive && rq.minor == 0);
    CHECK(parse("GET / HTTP/1.0\r\nConnection: Keep-Alive\r\n\r\n", &rq) > 0 && rq.keep_alive);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: foo, close\r\n\r\n", &rq) > 0 && !rq.keep_alive);
    CHECK(parse("GET http://h:1/item/3?x#f HTTP/1.1\r\n\r\n", &rq) > 0 && is(rq.path, "/item/3") &&
          is(rq.query, "x"));
    CHECK(parse("POST / HTTP/1.1\r\nTransfer-Encoding: chunked\r\n\r\n", &rq) > 0 && rq.has_te);
    CHECK(parse("GET / HTTP/1.1\r\nX:  padded \t\r\n\r\n", &rq) > 0 && is(rq.value[0], "padded"));

    const char *bad[] = {
        "GARBAGE\r\n\r\n",
        "GET  / HTTP/1.1\r\n\r\n",
        "GET / HTTP/2.0\r\n\r\n",
        "GET / HTTP/1.1\r\nNo colon\r\n\r\n",
        "GET / HTTP/1.1\r\nX : y\r\n\r\n",
        "GET / HTTP/1.1\r\nX: y\r\n folded\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1x\r\n\r\n",
        "GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n",
        "GET / HTTP/1.1\r\nX: a\x01b\r\n\r\n",
        "GET nothing HTTP/1.1\r\n\r\n",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(parse(bad[i], &rq) == DEMO_REQ_BAD, "bad[%zu]", i);

    char *big = malloc(DEMO_HEAD_MAX + 100);
    memset(big, 'a', DEMO_HEAD_MAX + 100);
    memcpy(big, "GET / HTTP/1.1\r\nX: ", 19);
    CHECK(demo_req_parse(big, DEMO_HEAD_MAX + 100, &rq) == DEMO_REQ_TOOBIG);
    CHECK(demo_req_parse(big, 1000, &rq) == DEMO_REQ_PARTIAL);
    free(big);
}

/* Answer one request and return the output (static buffer) and delay. */
static const char *answer(struct demo_site *site, const char *raw, double *delay, int *flags)
{
    static struct demo_buf out;
    struct demo_req rq;
    long h = demo_req_parse(raw, strlen(raw), &rq);
    CHECK_MSG(h > 0, "%s", raw);
    rq.body = (struct demo_str){raw + h, (size_t)rq.content_length};
    out.len = 0;
    double d;
    int f = demo_site_respond(site, &rq, &out, delay ? delay : &d);
    if (flags) *flags = f;
    demo_buf_add(&out, "", 1);
    return out.p;
}

static void test_routes(void)
{
    struct demo_site site;
    double delay;
    int flags;
    demo_site_init(&site, 0.2, 0.5, 42);
    demo_site_tick(&site, 0);
    CHECK(strcmp(site.date, "Thu, 01 Jan 1970 00:00:00 GMT") == 0);

    const char *r = answer(&site, "GET /fast HTTP/1.1\r\n\r\n", &delay, &flags);
    CHECK(strncmp(r, "HTTP/1.1 200 OK\r\n", 17) == 0 && strstr(r, "Content-Length: 14\r\n"));
    CHECK(delay == 0 && flags == 0 && !strstr(r, "Connection:"));
    r = answer(&site, "HEAD /fast HTTP/1.0\r\n\r\n", NULL, &flags);
    CHECK(strstr(r, "Content-Length: 14\r\n") && strstr(r, "\r\n\r\n")[4] == 0);
    CHECK(flags == DEMO_CLOSE && strstr(r, "Connection: close\r\n"));

    r = answer(&site, "GET /slow HTTP/1.1\r\n\r\n", &delay, NULL);
    CHECK(delay == 0.2 && strstr(r, "done"));
    r = answer(&site, "GET /slow?delay=1.5 HTTP/1.1\r\n\r\n", &delay, NULL);
    CHECK(delay == 1.5);
    r = answer(&site, "GET /slow?delay=-1 HTTP/1.1\r\n\r\n", &delay, NULL);
    CHECK(delay == 0 && strstr(r, " 400 "));

    r = answer(&site, "GET /item/0042 HTTP/1.1\r\n\r\n", NULL, NULL);
    CHECK(strstr(r, "\r\n\r\n{\"id\": 42}"));
    CHECK(strstr(answer(&site, "GET /item/4x HTTP/1.1\r\n\r\n", NULL, NULL), " 404 "));
    CHECK(strstr(answer(&site, "GET /status/418 HTTP/1.1\r\n\r\n", NULL, NULL), "HTTP/1.1 418 "));
    r = answer(&site, "GET /status/204 HTTP/1.1\r\n\r\n", NULL, NULL);
    CHECK(strstr(r, " 204 ") && !strstr(r, "Content-Length"));
    CHECK(strstr(answer(&site, "GET /bytes/30 HTTP/1.1\r\n\r\n", NULL, NULL),
                 "\r\n\r\nabcdefghijklmnopqrstuvwxyzabcd"));
    CHECK(strstr(answer(&site, "GET /bytes/1048577 HTTP/1.1\r\n\r\n", NULL, NULL), " 400 "));
    r = answer(&site, "GET /chunked HTTP/1.1\r\n\r\n", NULL, NULL);
    CHECK(strstr(r, "Transfer-Encoding: chunked") && strstr(r, "\r\n0\r\n\r\n"));
    CHECK(strstr(answer(&site, "GET /nope HTTP/1.1\r\n\r\n", NULL, NULL), " 404 "));
    r = answer(&site, "DELETE /fast HTTP/1.1\r\n\r\n", NULL, NULL);
    CHECK(strstr(r, " 405 ") && strstr(r, "Allow: GET, HEAD\r\n"));

    int fails = 0;
    for (int i = 0; i < 1000; i++)
        fails += strstr(answer(&site, "GET /flaky HTTP/1.1\r\n\r\n", NULL, NULL), " 500 ") != NULL;
    CHECK_MSG(fails > 400 && fails < 600, "%d of 1000 failed at ratio 0.5", fails);

    r = answer(&site,
               "POST /login HTTP/1.1\r\nContent-Type: application/json\r\n"
               "Content-Length: 24\r\n\r\n{\"a\": 1, \"user\": \"u\\\"1\"}",
               NULL, NULL);
    CHECK(strstr(r, "Set-Cookie: session=752231; Path=/; HttpOnly\r\n"));
    CHECK(strstr(r, "{\"ok\":true,\"user\":\"u\\\"1\"}"));
    r = answer(&site, "POST /login HTTP/1.1\r\nContent-Length: 15\r\n\r\nx=1&user=a%2Bb+", NULL,
               NULL);
    CHECK(strstr(r, "{\"ok\":true,\"user\":\"a+b \"}"));
    CHECK(strstr(answer(&site, "POST /login HTTP/1.1\r\nContent-Length: 3\r\n\r\nx=1", NULL, NULL),
                 " 400 "));
    r = answer(&site, "GET /me HTTP/1.1\r\nCookie: a=1; session=752231\r\n\r\n", NULL, NULL);
    CHECK(strstr(r, "{\"ok\":true,\"user\":\"u\\\"1\"}"));
    r = answer(&site, "PUT /echo?q HTTP/1.1\r\nX-A: b\r\nContent-Length: 2\r\n\r\nhi", NULL, NULL);
    CHECK(strstr(r, "{\"method\":\"PUT\",\"path\":\"/echo\",\"query\":\"q\",\"headers\":{\"x-a\":"
                    "\"b\",\"content-length\":\"2\"},\"body\":\"hi\"}"));

    struct demo_buf out = {0};
    demo_site_error(&site, 431, &out);
    demo_buf_add(&out, "", 1);
    CHECK(strstr(out.p, "HTTP/1.1 431 ") && strstr(out.p, "Connection: close\r\n"));
    demo_buf_free(&out);
    demo_site_free(&site);
}

static void test_form(void)
{
    struct demo_str v, q = {"a=1&delay=&b", 12};
    CHECK(demo_form_get(q, "a", &v) && is(v, "1"));
    CHECK(demo_form_get(q, "delay", &v) && v.n == 0);
    CHECK(demo_form_get(q, "b", &v) && v.n == 0);
    CHECK(!demo_form_get(q, "del", &v));
    char u[8];
    struct demo_str json = {"application/json", 16}, none = {"", 0};
    CHECK(demo_find_user(json, (struct demo_str){"{\"user\":1}", 10}, u, sizeof u) == -1);
    CHECK(demo_find_user(json, (struct demo_str){"{\"user\":\"0123456789\"}", 21}, u, sizeof u) ==
          -2);
    CHECK(demo_find_user(none, (struct demo_str){"username=%41", 12}, u, sizeof u) == 1 &&
          strcmp(u, "A") == 0);
    CHECK(demo_session_user((struct demo_str){"session=4", 9}, u, sizeof u) == -1);
    char hex[8];
    demo_hex(hex, "\x01\xff", 2);
    CHECK(strcmp(hex, "01ff") == 0);
}

/* --- the real server, in a child --- */

static int free_port(void)
{
    struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    socklen_t len = sizeof a;
    int fd = socket(AF_INET, SOCK_STREAM, 0);
    bind(fd, (struct sockaddr *)&a, sizeof a);
    getsockname(fd, (struct sockaddr *)&a, &len);
    close(fd);
    return ntohs(a.sin_port);
}

static int dial(int port)
{
    struct sockaddr_in a = {.sin_family = AF_INET,
                            .sin_port = htons((uint16_t)port),
                            .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
    for (int i = 0; i < 200; i++) {
        int fd = socket(AF_INET, SOCK_STREAM, 0);
        if (connect(fd, (struct sockaddr *)&a, sizeof a) == 0) return fd;
        close(fd);
        usleep(10000);
    }
    return -1;
}

/* Send req, read until the server closes; returns the bytes (static). */
static const char *exchange(int port, const char *req, size_t *n)
{
    static char buf[1 << 16];
    int fd = dial(port);
    struct timeval tv = {5, 0};
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &tv, sizeof tv);
    CHECK(write(fd, req, strlen(req)) == (ssize_t)strlen(req));
    size_t len = 0;
    ssize_t r;
    while (len < sizeof buf - 1 && (r = read(fd, buf + len, sizeof buf - 1 - len)) > 0)
        len += (size_t)r;
    close(fd);
    buf[len] = 0;
    *n = len;
    return buf;
}

static int count(const char *s, const char *what)
{
    int k = 0;
    for (const char *p = s; (p = strstr(p, what)); p++)
        k++;
    return k;
}

static double now(void)
{
    struct timespec ts;
    clock_gettime(CLOCK_MONOTONIC, &ts);
    return (double)ts.tv_sec + (double)ts.tv_nsec * 1e-9;
}

static void test_server(void)
{
    CHECK(demo_run("0.0.0.0", 0, 0.1, 0) == 2);
    CHECK(demo_run("192.0.2.1", 0, 0.1, 0) == 2);
    CHECK(demo_run("127.0.0.1", 0, -1, 0) == 2);

    int port = free_port();
    pid_t pid = fork();
    if (pid == 0) _exit(demo_run("127.0.0.1", port, 0.1, 0));
    size_t n;
    double t0 = now();
    const char *r = exchange(port,
                             "GET /fast HTTP/1.1\r\n\r\nGET /slow HTTP/1.1\r\n\r\n"
                             "POST /echo HTTP/1.1\r\nContent-Length: 5\r\n\r\nhelloGET /item/9 "
                             "HTTP/1.1\r\nConnection: close\r\n\r\nGET /fast HTTP/1.1\r\n\r\n",
                             &n);
    double took = now() - t0;
    CHECK_MSG(took >= 0.1 && took < 1, "took %.3f s", took);
    CHECK(count(r, "HTTP/1.1 200 OK") == 4);
    const char *fast = strstr(r, "fast page"), *slow = strstr(r, "slow page: done");
    const char *echo = strstr(r, "\"body\":\"hello\""), *item = strstr(r, "{\"id\": 9}");
    CHECK(fast && slow && echo && item && fast < slow && slow < echo && echo < item);
    r = exchange(port, "BAD\r\n\r\nGET /fast HTTP/1.1\r\n\r\n", &n);
    CHECK(strncmp(r, "HTTP/1.1 400 ", 13) == 0 && count(r, "HTTP/1.1") == 1);

    kill(pid, SIGTERM);
    int status = -1;
    waitpid(pid, &status, 0);
    CHECK_MSG(WIFEXITED(status) && WEXITSTATUS(status) == 0, "status %d", status);
}

int main(void)
{
    test_parse();
    test_routes();
    test_form();
    test_server();
    return check_done();
}
