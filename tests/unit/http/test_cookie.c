/* Unit tests for the cookie jar: Set-Cookie parsing, RFC 6265 domain and
 * path matching, expiry, the Cookie header's order. */
#include "http/cookie.h"

#include <stdio.h>
#include <string.h>

#include "check.h"

#define NOW 1700000000LL

static int set(cookie_jar_t *j, const char *hdr, const char *host, const char *path, bool tls)
{
    return cookie_jar_set(j, hdr, strlen(hdr), host, strlen(host), path, strlen(path), tls, NOW);
}

/* The Cookie header for host/path, in a static buffer ("" if none). */
static const char *hdr(cookie_jar_t *j, const char *host, const char *path, bool tls, int64_t now)
{
    static buf_t b;
    buf_set(&b, "", 0);
    cookie_jar_header(j, &b, host, strlen(host), path, strlen(path), tls, now);
    return b.p;
}

static void test_basic(void)
{
    cookie_jar_t *j = cookie_jar_new();
    CHECK(set(j, "sid=abc123; Path=/; HttpOnly", "example.com", "/login", false) == 1);
    CHECK(strcmp(hdr(j, "example.com", "/", false, NOW), "sid=abc123") == 0);
    CHECK(strcmp(hdr(j, "EXAMPLE.com", "/x/y?q=1", false, NOW), "sid=abc123") == 0);
    /* host-only: not sent to subdomains or other hosts */
    CHECK(strcmp(hdr(j, "www.example.com", "/", false, NOW), "") == 0);
    CHECK(strcmp(hdr(j, "other.org", "/", false, NOW), "") == 0);
    /* replaced, not added */
    CHECK(set(j, "sid=new", "example.com", "/a", false) == 1); /* default path /: same cookie */
    CHECK(j->n == 1);
    CHECK(strcmp(hdr(j, "example.com", "/", false, NOW), "sid=new") == 0);
    /* quoted values, spaces around */
    CHECK(set(j, "  q = \"v w\" ; path=/", "example.com", "/", false) == 1);
    CHECK(strstr(hdr(j, "example.com", "/", false, NOW), "q=v w") != NULL);
    /* no '=' or empty name: ignored */
    CHECK(set(j, "novalue", "example.com", "/", false) == -1);
    CHECK(set(j, "=v", "example.com", "/", false) == -1);
    CHECK(set(j, "empty=", "example.com", "/", false) == 1);
    CHECK(strstr(hdr(j, "example.com", "/", false, NOW), "empty=") != NULL);
    cookie_jar_clear(j);
    CHECK(strcmp(hdr(j, "example.com", "/", false, NOW), "") == 0);
    cookie_jar_free(j);
    cookie_jar_free(NULL);
}

static void test_domain(void)
{
    cookie_jar_t *j = cookie_jar_new();
    CHECK(set(j, "d=1; Domain=.Example.COM", "www.example.com", "/", false) == 1);
    CHECK(strcmp(cookie_domain(&j->c[0]), "example.com") == 0);
    CHECK(!j->c[0].host_only);
    CHECK(strcmp(hdr(j, "example.com", "/", false, NOW), "d=1") == 0);
    CHECK(strcmp(hdr(j, "a.b.example.com", "/", false, NOW), "d=1") == 0);
    CHECK(strcmp(hdr(j, "badexample.com", "/", false, NOW), "") == 0);
    /* a domain the host is not in is refused */
    CHECK(set(j, "x=1; Domain=other.com", "www.example.com", "/", false) == -1);
    CHECK(set(j, "x=1; Domain=www.example.com", "example.com", "/", false) == -1);
    /* IP addresses match only exactly */
    CHECK(set(j, "ip=1", "127.0.0.1", "/", false) == 1);
    CHECK(strcmp(hdr(j, "127.0.0.1", "/", false, NOW), "ip=1") == 0);
    CHECK(set(j, "ip2=1; Domain=0.0.1", "127.0.0.1", "/", false) == -1);
    CHECK(set(j, "ip3=1; Domain=127.0.0.1", "127.0.0.1", "/", false) == 1);
    CHECK(strcmp(hdr(j, "127.0.0.1", "/", false, NOW), "ip=1; ip3=1") == 0);
    cookie_jar_free(j);
}

static void test_path(void)
{
    cookie_jar_t *j = cookie_jar_new();
    /* default-path: the directory of the request path */
    CHECK(set(j, "a=1", "h", "/docs/api/index.html?x=/y/z", false) == 1);
    CHECK(strcmp(cookie_path(&j->c[0]), "/docs/api") == 0);
    CHECK(strcmp(hdr(j, "h", "/docs/api", false, NOW), "a=1") == 0);
    CHECK(strcmp(hdr(j, "h", "/docs/api/", false, NOW), "a=1") == 0);
    CHECK(strcmp(hdr(j, "h", "/docs/api/v2/x", false, NOW), "a=1") == 0);
    CHECK(strcmp(hdr(j, "h", "/docs/apix", false, NOW), "") == 0);
    CHECK(strcmp(hdr(j, "h", "/docs", false, NOW), "") == 0);
    CHECK(set(j, "b=1", "h", "/top", false) == 1); /* one slash: "/" */
    CHECK(strcmp(cookie_path(&j->c[1]), "/") == 0);
    CHECK(set(j, "c=1; Path=relative", "h", "/x/y", false) == 1); /* not '/': default */
    CHECK(strcmp(cookie_path(&j->c[2]), "/x") == 0);
    CHECK(set(j, "d=1; Path=/docs/", "h", "/", false) == 1);
    CHECK(strcmp(hdr(j, "h", "/docs/", false, NOW), "d=1; b=1") == 0);
    CHECK(strcmp(hdr(j, "h", "/docs", false, NOW), "b=1") == 0);
    /* order: longest path first, then creation */
    CHECK(strcmp(hdr(j, "h", "/docs/api/x", false, NOW), "a=1; d=1; b=1") == 0);
    /* same name, different paths: two cookies */
    CHECK(set(j, "b=2; Path=/docs", "h", "/", false) == 1);
    CHECK(strcmp(hdr(j, "h", "/docs/api/x", false, NOW), "a=1; d=1; b=2; b=1") == 0);
    cookie_jar_free(j);
}

static void test_secure_and_expiry(void)
{
    cookie_jar_t *j = cookie_jar_new();
    CHECK(set(j, "s=1; Secure", "h", "/", false) == -1); /* Secure from plain HTTP */
    CHECK(set(j, "s=1; Secure", "h", "/", true) == 1);
    CHECK(strcmp(hdr(j, "h", "/", false, NOW), "") == 0);
    CHECK(strcmp(hdr(j, "h", "/", true, NOW), "s=1") == 0);
    CHECK(set(j, "m=1; Max-Age=10", "h", "/", false) == 1);
    CHECK(strcmp(hdr(j, "h", "/", false, NOW + 9), "m=1") == 0);
    CHECK(strcmp(hdr(j, "h", "/", false, NOW + 10), "") == 0);
    CHECK(j->n == 1); /* dropped from the jar */
    /* Max-Age wins over Expires, whatever the order */
    CHECK(set(j, "e=1; Max-Age=100; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "h", "/", false) == 1);
    CHECK(set(j, "f=1; Expires=Thu, 01 Jan 1970 00:00:00 GMT; Max-Age=100", "h", "/", false) == 1);
    CHECK(strcmp(hdr(j, "h", "/", false, NOW + 50), "e=1; f=1") == 0);
    /* an expiry in the past deletes */
    CHECK(set(j, "e=gone; Expires=Thu, 01 Jan 1970 00:00:00 GMT", "h", "/", false) == 0);
    CHECK(set(j, "f=gone; Max-Age=0", "h", "/", false) == 0);
    CHECK(strcmp(hdr(j, "h", "/", false, NOW), "") == 0);
    CHECK(set(j, "g=1; Expires=Wed, 21 Oct 2099 07:28:00 GMT", "h", "/", false) == 1);
    CHECK(j->c[j->n - 1].expires == 4096250880LL);
    CHECK(set(j, "g=1; Max-Age=-5", "h", "/", false) == 0);
    CHECK(set(j, "bad=1; Max-Age=abc", "h", "/", false) == 1); /* ignored attribute */
    CHECK(j->c[j->n - 1].expires == COOKIE_SESSION);
    cookie_jar_free(j);
}

static void test_dates(void)
{
    int64_t t;
    CHECK(cookie_parse_date("Wed, 21 Oct 2015 07:28:00 GMT", 29, &t) == 0 && t == 1445412480);
    const char *s = "Wednesday, 21-Oct-15 07:28:00 GMT"; /* RFC 850 */
    CHECK(cookie_parse_date(s, strlen(s), &t) == 0 && t == 1445412480);
    s = "Wed Oct 21 07:28:00 2015"; /* asctime */
    CHECK(cookie_parse_date(s, strlen(s), &t) == 0 && t == 1445412480);
    s = "Thu, 01 Jan 1970 00:00:00 GMT";
    CHECK(cookie_parse_date(s, strlen(s), &t) == 0 && t == 0);
    s = "not a date";
    CHECK(cookie_parse_date(s, strlen(s), &t) == -1);
    s = "Wed, 32 Oct 2015 07:28:00 GMT";
    CHECK(cookie_parse_date(s, strlen(s), &t) == -1);
    s = "Wed, 21 Oct 2015 25:28:00 GMT";
    CHECK(cookie_parse_date(s, strlen(s), &t) == -1);
}

static void test_full_jar(void)
{
    cookie_jar_t *j = cookie_jar_new();
    char h[32];
    int ok = 0;
    for (int i = 0; i < COOKIE_JAR_MAX + 5; i++) {
        snprintf(h, sizeof h, "c%d=%d", i, i);
        if (set(j, h, "h", "/", false) == 1) ok++;
    }
    CHECK(ok == COOKIE_JAR_MAX);
    buf_t b = {0};
    CHECK(cookie_jar_header(j, &b, "h", 1, "/", 1, false, NOW) == COOKIE_JAR_MAX);
    CHECK(strncmp(b.p, "c0=0; c1=1; ", 12) == 0); /* creation order */
    buf_free(&b);
    cookie_jar_free(j);
}

/* Found by tests/fuzz/fuzz_cookie.c: a NUL in the name was stored, leaving
 * a cookie with an empty name (and the value cut at the NUL); a CR or LF
 * would go into the Cookie header of the next request. RFC 6265bis: a
 * control byte other than HTAB voids the whole Set-Cookie. */
static void test_control_bytes(void)
{
    cookie_jar_t *j = cookie_jar_new();
    static const char nul_name[] = "\0\0\0\xab domain=EXAMPLE.com; Path=/";
    CHECK(cookie_jar_set(j, nul_name, sizeof nul_name - 1, "example.com", 11, "/", 1, false, NOW) ==
          -1);
    static const char nul_value[] = "a=1\0; b=2";
    CHECK(cookie_jar_set(j, nul_value, sizeof nul_value - 1, "example.com", 11, "/", 1, false,
                         NOW) == -1);
    CHECK(set(j, "a=1\r\nX-Injected: 1", "example.com", "/", false) == -1);
    CHECK(set(j, "a=1; Path=/\n", "example.com", "/", false) == -1);
    CHECK(set(j, "a=\x7f", "example.com", "/", false) == -1);
    CHECK(j->n == 0);
    /* HTAB is allowed (and trimmed around the name and value) */
    CHECK(set(j, "\ta=b\tc\t; Path=/", "example.com", "/", false) == 1);
    CHECK(strcmp(hdr(j, "example.com", "/", false, NOW), "a=b\tc") == 0);
    cookie_jar_free(j);
}

int main(void)
{
    test_control_bytes();
    test_basic();
    test_domain();
    test_path();
    test_secure_and_expiry();
    test_dates();
    test_full_jar();
    return check_done();
}
