/* Unit tests for request building (http/request.c): byte-exact requests
 * for what the e2e tests exercise through the Lua client — the default
 * headers, overriding and removing them, the client's headers under the
 * request's, basic auth, cookies from the jar, query parameters, form and
 * JSON bodies, Content-Length rules, HEAD, the absolute form and
 * Proxy-Authorization through a proxy — and the decode decision. */
#include "http/request.h"

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/cookie.h"

static size_t slen(const char *s)
{
    return s ? strlen(s) : 0;
}
#define H(n, v)                                                                                    \
    {                                                                                              \
        .name = n, .name_len = sizeof n - 1, .value = v, .value_len = slen(v)                      \
    }
#define NOW 1700000000LL

static request_t base(const char *method, const char *path)
{
    return (request_t){.method = method,
                       .method_len = strlen(method),
                       .host = "127.0.0.1",
                       .host_len = 9,
                       .port = 8080,
                       .path = path,
                       .path_len = strlen(path),
                       .now = NOW};
}

/* The request r writes, in a static buffer. */
static const char *out(const request_t *r)
{
    static buf_t w;
    buf_set(&w, "", 0);
    request_write(&w, r, NULL);
    return w.p;
}

#define SAME(r, want)                                                                              \
    do {                                                                                           \
        const char *got_ = out(r);                                                                 \
        CHECK_MSG(strcmp(got_, want) == 0, "got\n%s\nwant\n%s", got_, want);                       \
    } while (0)

static void test_defaults(void)
{
    request_t r = base("GET", "/");
    SAME(&r, "GET / HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\n\r\n");
    /* default ports are not written; IPv6 literals are bracketed */
    r.port = 80;
    SAME(&r, "GET / HTTP/1.1\r\nHost: 127.0.0.1\r\nUser-Agent: cicada/0.1\r\nAccept: */*\r\n\r\n");
    r = base("GET", "/a?b=1");
    r.host = "::1", r.host_len = 3, r.port = 443, r.tls = true;
    SAME(&r, "GET /a?b=1 HTTP/1.1\r\nHost: [::1]\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\n\r\n");
    r.port = 80; /* 80 is not https' default */
    SAME(&r, "GET /a?b=1 HTTP/1.1\r\nHost: [::1]:80\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\n\r\n");
}

static void test_override_and_remove(void)
{
    /* the request's headers over the client's over ours; false removes */
    request_header_t mine[] = {H("X-Over", "request"), H("X-Default", NULL), H("accept", "a/b")};
    request_header_t client[] = {H("X-Default", "d"), H("X-Over", "client"),
                                 H("User-Agent", "mine/1"), H("X-Only", "c")};
    request_t r = base("GET", "/client-auth");
    r.headers = mine, r.nheaders = 3;
    r.defaults = client, r.ndefaults = 4;
    SAME(&r, "GET /client-auth HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
             "X-Over: request\r\naccept: a/b\r\nUser-Agent: mine/1\r\nX-Only: c\r\n\r\n");
    /* removing a default header: no User-Agent at all */
    request_header_t no_ua[] = {H("user-agent", NULL), H("HOST", "h.example")};
    r = base("GET", "/");
    r.headers = no_ua, r.nheaders = 2;
    SAME(&r, "GET / HTTP/1.1\r\nAccept: */*\r\nHOST: h.example\r\n\r\n");
}

static void test_auth(void)
{
    request_t r = base("GET", "/auth");
    r.auth_user = "alice", r.auth_user_len = 5;
    r.auth_pass = "s3cret:x", r.auth_pass_len = 8;
    SAME(&r, "GET /auth HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\nAuthorization: Basic YWxpY2U6czNjcmV0Ong=\r\n\r\n");
    r.auth_pass = NULL; /* "bob:" */
    r.auth_user = "bob", r.auth_user_len = 3;
    SAME(&r, "GET /auth HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\nAuthorization: Basic Ym9iOg==\r\n\r\n");
    /* an Authorization header wins over auth */
    request_header_t own[] = {H("Authorization", "Bearer t")};
    r.headers = own, r.nheaders = 1;
    SAME(&r, "GET /auth HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\nAuthorization: Bearer t\r\n\r\n");
    CHECK(request_flags(&r) & REQUEST_H_AUTH);
    buf_t b = {0};
    request_base64(&b, "ab", 2);
    CHECK(strcmp(b.p, "YWI=") == 0);
    buf_free(&b);
}

static void test_cookies(void)
{
    cookie_jar_t *j = cookie_jar_new();
    const char *sc = "sid=abc; Path=/app", *sc2 = "lang=fr";
    cookie_jar_set(j, sc, strlen(sc), "127.0.0.1", 9, "/app/login", 10, false, NOW);
    cookie_jar_set(j, sc2, strlen(sc2), "127.0.0.1", 9, "/", 1, false, NOW);
    request_t r = base("GET", "/app/x");
    r.jar = j;
    SAME(&r, "GET /app/x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\nCookie: sid=abc; lang=fr\r\n\r\n");
    /* no cookie matches the path or the host: no header at all */
    r = base("GET", "/other");
    r.host = "other.test", r.host_len = 10, r.jar = j;
    SAME(&r, "GET /other HTTP/1.1\r\nHost: other.test:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\n\r\n");
    /* a Cookie header of the scenario replaces the jar's */
    request_header_t own[] = {H("Cookie", "x=1")};
    r = base("GET", "/app/x");
    r.jar = j, r.headers = own, r.nheaders = 1;
    SAME(&r, "GET /app/x HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\nCookie: x=1\r\n\r\n");
    cookie_jar_free(j);
}

static void test_query(void)
{
    request_t r = base("GET", "/params?x=1");
    r.query = "q=a+b%26c%3Dd", r.query_len = strlen(r.query);
    buf_t w = {0};
    size_t tl, at = request_write(&w, &r, &tl);
    CHECK(at == 4);
    CHECK(tl == strlen("/params?x=1&q=a+b%26c%3Dd"));
    CHECK(memcmp(w.p + at, "/params?x=1&q=a+b%26c%3Dd HTTP/1.1\r\n", tl + 11) == 0);
    r = base("GET", "/raw");
    r.query = "a=1&b=%20", r.query_len = 9;
    buf_reset(&w);
    at = request_start(&w, &r);
    CHECK(strcmp(w.p, "GET /raw?a=1&b=%20") == 0 && at == 4);
    r.query_len = 0; /* an empty query adds no '?' */
    buf_reset(&w);
    request_start(&w, &r);
    CHECK(strcmp(w.p, "GET /raw") == 0);
    buf_free(&w);
}

static void test_bodies(void)
{
    request_t r = base("POST", "/form");
    r.ctype = "application/x-www-form-urlencoded";
    r.body = "k+y=v%2Bw&n=5", r.body_len = 13;
    SAME(&r, "POST /form HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\nContent-Type: application/x-www-form-urlencoded\r\n"
             "Content-Length: 13\r\n\r\nk+y=v%2Bw&n=5");
    r = base("PUT", "/j");
    r.ctype = "application/json", r.body = "{\"a\":1}", r.body_len = 7;
    request_header_t own[] = {H("content-type", "application/vnd+json")};
    r.headers = own, r.nheaders = 1;
    SAME(&r, "PUT /j HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\ncontent-type: application/vnd+json\r\nContent-Length: 7\r\n\r\n"
             "{\"a\":1}");
    /* POST, PUT, PATCH without a body say Content-Length: 0; GET does not */
    r = base("PATCH", "/p");
    SAME(&r, "PATCH /p HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\nContent-Length: 0\r\n\r\n");
    r = base("DELETE", "/d");
    r.body = "", r.body_len = 0; /* data = "": an empty body is still a body */
    SAME(&r, "DELETE /d HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\nContent-Length: 0\r\n\r\n");
}

static void test_head(void)
{
    request_t r = base("HEAD", "/h");
    SAME(&r, "HEAD /h HTTP/1.1\r\nHost: 127.0.0.1:8080\r\nUser-Agent: cicada/0.1\r\n"
             "Accept: */*\r\n\r\n");
}

static void test_decode(void)
{
    request_header_t gz[] = {H("Accept-Encoding", "gzip, br")};
    request_header_t off[] = {H("accept-encoding", NULL)};
    request_header_t id[] = {H("Accept-Encoding", "identity")};
    request_header_t defl[] = {H("ACCEPT-ENCODING", "Deflate")};
    request_t r = base("GET", "/");
    CHECK(!request_decode(&r));
    r.headers = gz, r.nheaders = 1;
    CHECK(request_decode(&r));
    r.headers = defl;
    CHECK(request_decode(&r));
    /* the request's Accept-Encoding decides over the client's */
    r.headers = id, r.defaults = gz, r.ndefaults = 1;
    CHECK(!request_decode(&r));
    r.headers = off;
    CHECK(!request_decode(&r));
    r.nheaders = 0;
    CHECK(request_decode(&r));
    CHECK(request_header_flags(gz, 1) == (REQUEST_H_AE | REQUEST_H_DECODE));
}

/* Through a proxy: the absolute form, Proxy-Authorization after
 * Authorization; the returned offset is the path's (the statistics name). */
static void test_proxy(void)
{
    request_t r = base("GET", "/p");
    r.query = "a=1", r.query_len = 3;
    r.absolute = true;
    r.proxy_auth = "Basic dTpw";
    r.auth_user = "u", r.auth_user_len = 1;
    SAME(&r, "GET http://127.0.0.1:8080/p?a=1 HTTP/1.1\r\nHost: 127.0.0.1:8080\r\n"
             "User-Agent: cicada/0.1\r\nAccept: */*\r\nAuthorization: Basic dTo=\r\n"
             "Proxy-Authorization: Basic dTpw\r\n\r\n");
    buf_t w = {0};
    size_t tl, at = request_write(&w, &r, &tl);
    CHECK(tl == 6 && memcmp(w.p + at, "/p?a=1", 6) == 0);
    r = base("GET", "/");
    r.absolute = true, r.port = 80, r.host = "::1", r.host_len = 3;
    buf_reset(&w);
    at = request_start(&w, &r);
    CHECK_MSG(strcmp(w.p, "GET http://[::1]/") == 0 && strcmp(w.p + at, "/") == 0, "%s", w.p);
    buf_free(&w);
}

int main(void)
{
    test_proxy();
    test_defaults();
    test_override_and_remove();
    test_auth();
    test_cookies();
    test_query();
    test_bodies();
    test_head();
    test_decode();
    return check_done();
}
