/* Unit tests for the session layer (http/session.c) over its pure parts:
 * cookies stored from a response's Set-Cookie headers into the client's
 * jar, the Cookie line written back, redirect targets resolved against the
 * request, the method, body and Authorization rules of a redirect, and
 * which Content-Encoding values select a decoder. No socket, no loop: a
 * connection is filled by hand as the client leaves it after a response. */
#include "http/session.h"

#include <stdio.h>
#include <string.h>

#include "check.h"
#include "http/cookie.h"

static client_env_t env;

/* A connection of client cl whose request was `request` and whose complete
 * response header block is `response`. */
static void fill(conn_t *c, client_t *cl, const char *host, bool tls, const char *request,
                 const char *response)
{
    memset(c, 0, sizeof *c);
    c->cl = cl;
    c->host = (char *)host;
    c->tls = tls;
    buf_set(&c->wbuf, request, strlen(request));
    buf_set(&c->rbuf, response, strlen(response));
    c->hdr_len = (ssize_t)strlen(response);
}

static void drop(conn_t *c)
{
    buf_free(&c->wbuf);
    buf_free(&c->rbuf);
}

/* The Cookie line the client's jar gives for host and path ("" if none). */
static const char *cookie_line(client_t *cl, const char *host, const char *path, bool tls)
{
    static buf_t b;
    buf_set(&b, "", 0);
    session_cookie_header(cl->jar, &b, host, strlen(host), path, strlen(path), tls);
    return b.p;
}

static void test_cookies(void)
{
    client_t cl;
    client_init(&cl, &env, NULL, NULL);
    conn_t c;
    fill(&c, &cl, "shop.test", false, "GET /app/login?next=1 HTTP/1.1\r\nHost: shop.test\r\n\r\n",
         "HTTP/1.1 200 OK\r\nSet-Cookie: sid=abc; Path=/app\r\nContent-Length: 0\r\n"
         "set-cookie: lang=fr\r\nSet-Cookie: bad\r\nSET-COOKIE: sec=1; Secure\r\n\r\n");
    CHECK(cl.jar == NULL); /* made on the first cookie only */
    session_store_cookies(&c);
    CHECK(cl.jar != NULL && cl.jar->n == 2); /* "bad" has no '='; Secure over http is refused */
    CHECK(strcmp(cookie_line(&cl, "shop.test", "/app/x", false), "Cookie: sid=abc; lang=fr\r\n") ==
          0);
    /* the default path of lang is the request's directory, /app */
    CHECK(strcmp(cookie_line(&cl, "shop.test", "/", false), "") == 0);
    CHECK(strcmp(cookie_line(&cl, "other.test", "/app/x", false), "") == 0);
    /* a deletion */
    drop(&c);
    fill(&c, &cl, "shop.test", false, "GET /app/logout HTTP/1.1\r\n\r\n",
         "HTTP/1.1 200 OK\r\nSet-Cookie: sid=; Path=/app; Max-Age=0\r\n\r\n");
    session_store_cookies(&c);
    CHECK(strcmp(cookie_line(&cl, "shop.test", "/app/x", false), "Cookie: lang=fr\r\n") == 0);
    /* over https, the Secure cookie is kept */
    drop(&c);
    fill(&c, &cl, "shop.test", true, "GET /app HTTP/1.1\r\n\r\n",
         "HTTP/1.1 200 OK\r\nSet-Cookie: sec=1; Secure; Path=/\r\n\r\n");
    session_store_cookies(&c);
    CHECK(strcmp(cookie_line(&cl, "shop.test", "/app/x", true), "Cookie: lang=fr; sec=1\r\n") == 0);
    CHECK(strcmp(cookie_line(&cl, "shop.test", "/app/x", false), "Cookie: lang=fr\r\n") == 0);
    drop(&c);
    client_free(&cl);
    CHECK(cl.jar == NULL);
}

/* Location l resolved against origin + target. */
static const char *resolve(const char *origin, bool tls, const char *target, const char *l)
{
    static buf_t b;
    session_resolve(&b, origin, tls, target, strlen(target), l, strlen(l));
    return b.p;
}

#define RESOLVES(target, loc, want)                                                                \
    do {                                                                                           \
        const char *got_ = resolve("http://h:8080", false, target, loc);                           \
        CHECK_MSG(strcmp(got_, want) == 0, "%s + %s: got %s, want %s", target, loc, got_, want);   \
    } while (0)

static void test_resolve(void)
{
    RESOLVES("/a/b?q=1", "http://other:81/x/../y#frag", "http://other:81/y");
    RESOLVES("/a/b", "https://secure.test", "https://secure.test");
    RESOLVES("/a/b", "//cdn.test/img.png", "http://cdn.test/img.png");
    CHECK(strcmp(resolve("https://h", true, "/", "//cdn.test/i"), "https://cdn.test/i") == 0);
    RESOLVES("/a/b?q=1", "/root", "http://h:8080/root");
    RESOLVES("/a/b?q=1", "?page=2", "http://h:8080/a/b?page=2");
    RESOLVES("/a/b?q=1", "c", "http://h:8080/a/c");
    RESOLVES("/a/b/", "../c/./d", "http://h:8080/a/c/d");
    RESOLVES("/a", "../../..", "http://h:8080/");
    RESOLVES("/a/b", "", "http://h:8080/a/b");
    RESOLVES("/", "/with space/é", "http://h:8080/with%20space/%C3%A9");
    RESOLVES("/", "/keep%20this?a=<b>", "http://h:8080/keep%20this?a=%3Cb%3E");
}

static const char *method(int status, const char *m)
{
    static char out[16];
    size_t n;
    const char *r = session_redirect_method(status, m, strlen(m), &n);
    snprintf(out, sizeof out, "%.*s", (int)n, r);
    return out;
}

static void test_redirect_rules(void)
{
    /* requests' rebuild_method */
    CHECK(strcmp(method(303, "POST"), "GET") == 0);
    CHECK(strcmp(method(303, "PUT"), "GET") == 0);
    CHECK(strcmp(method(303, "HEAD"), "HEAD") == 0);
    CHECK(strcmp(method(302, "POST"), "GET") == 0);
    CHECK(strcmp(method(302, "DELETE"), "GET") == 0);
    CHECK(strcmp(method(302, "HEAD"), "HEAD") == 0);
    CHECK(strcmp(method(301, "POST"), "GET") == 0);
    CHECK(strcmp(method(301, "PUT"), "PUT") == 0);
    CHECK(strcmp(method(307, "POST"), "POST") == 0);
    CHECK(strcmp(method(308, "PATCH"), "PATCH") == 0);
    CHECK(session_keeps_body(307) && session_keeps_body(308));
    CHECK(!session_keeps_body(301) && !session_keeps_body(302) && !session_keeps_body(303));
    CHECK(session_is_redirect(301) && session_is_redirect(308) && !session_is_redirect(304));

    /* Authorization: same origin only, or the http -> https upgrade */
    url_t to;
    const char *why;
    CHECK(url_parse("http://API.test:8080/x", &to, &why) == 0);
    CHECK(session_keeps_auth("api.test", 8, 8080, false, &to));
    CHECK(!session_keeps_auth("api.test", 8, 8081, false, &to));
    CHECK(!session_keeps_auth("api.test", 8, 8080, true, &to));
    CHECK(!session_keeps_auth("evil.test", 9, 8080, false, &to));
    CHECK(url_parse("https://api.test/x", &to, &why) == 0);
    CHECK(session_keeps_auth("api.test", 8, 80, false, &to));
    CHECK(!session_keeps_auth("api.test", 8, 8080, false, &to));
    CHECK(url_parse("http://api.test/x", &to, &why) == 0);
    CHECK(!session_keeps_auth("api.test", 8, 443, true, &to)); /* no downgrade */
}

static void test_encoding(void)
{
    CHECK(session_encoding("gzip", 4) == SESSION_GZIP);
    CHECK(session_encoding("GZIP  ", 6) == SESSION_GZIP);
    CHECK(session_encoding("x-gzip", 6) == SESSION_GZIP);
    CHECK(session_encoding("deflate", 7) == SESSION_DEFLATE);
    CHECK(session_encoding("Deflate\t", 8) == SESSION_DEFLATE);
    CHECK(session_encoding("br", 2) == 0);
    CHECK(session_encoding("identity", 8) == 0);
    CHECK(session_encoding("gzip, br", 8) == 0); /* stacked codings are not decoded */
    CHECK(session_encoding("", 0) == 0);
}

int main(void)
{
    test_cookies();
    test_resolve();
    test_redirect_rules();
    test_encoding();
    client_env_free(&env);
    return check_done();
}
