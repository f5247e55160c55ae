/* Unit tests of proxy selection (http/proxy.c), by requests' rules:
 *  - proxy URLs: scheme, credentials, IPv6, default port, and the ones
 *    refused (no host, bad port, https://, socks5://);
 *  - NO_PROXY: "*", names and their subdomains (not mere suffixes), a
 *    leading dot, host:port, IPv4 addresses and CIDR blocks, spaces;
 *  - precedence: for each key ("scheme://host", "scheme", "all://host",
 *    "all") the request's, then the environment's, then the client's;
 *    false ("") for a direct connection; NO_PROXY (or the request's
 *    no_proxy) bypasses only the environment's proxies; trust_env off;
 *    lower-case variables over upper-case ones;
 *  - Proxy-Authorization's value, percent-decoded. */
#include "http/proxy.h"

#include <stdlib.h>
#include <string.h>

#include "check.h"

static bool parses(const char *url, const char *host, int port, const char *user)
{
    proxy_t p;
    const char *why = NULL;
    if (proxy_parse(url, strlen(url), &p, &why) != 0) {
        fprintf(stderr, "proxy_parse(%s): %s\n", url, why);
        return false;
    }
    bool u = user ? p.userinfo && p.userinfo_len == strlen(user) &&
                        memcmp(p.userinfo, user, p.userinfo_len) == 0
                  : p.userinfo == NULL;
    return p.host_len == strlen(host) && memcmp(p.host, host, p.host_len) == 0 && p.port == port &&
           u;
}

static bool refused(const char *url, const char *word)
{
    proxy_t p;
    const char *why = NULL;
    return proxy_parse(url, strlen(url), &p, &why) == -1 && why && strstr(why, word);
}

static void test_parse(void)
{
    CHECK(parses("http://127.0.0.1:3128", "127.0.0.1", 3128, NULL));
    CHECK(parses("127.0.0.1:3128", "127.0.0.1", 3128, NULL)); /* no scheme: http */
    CHECK(parses("http://proxy.example", "proxy.example", 80, NULL));
    CHECK(parses("HTTP://u:p%40ss@proxy:8080/", "proxy", 8080, "u:p%40ss"));
    CHECK(parses("http://[::1]:3128", "::1", 3128, NULL));
    CHECK(refused("http://:3128", "missing the host"));
    CHECK(refused("http://h:99999", "malformed"));
    CHECK(refused("http://h:", "malformed"));
    CHECK(refused("https://h:3128", "not supported"));
    CHECK(refused("socks5://h:1080", "SOCKS"));
}

static bool bypass(const char *list, const char *host, int port)
{
    return proxy_bypass(list, strlen(list), host, strlen(host), port);
}

static void test_bypass(void)
{
    CHECK(bypass("*", "anything.example", 80));
    CHECK(bypass("example.com", "example.com", 80));
    CHECK(bypass("example.com", "api.example.com", 443));
    CHECK(!bypass("example.com", "badexample.com", 80)); /* a suffix is not a subdomain */
    CHECK(bypass(".example.com", "example.com", 80));
    CHECK(bypass("EXAMPLE.com", "Api.example.COM", 80));
    CHECK(bypass("a.test, localhost ,b.test", "localhost", 80));
    CHECK(bypass("localhost:8080", "localhost", 8080));
    CHECK(!bypass("localhost:8080", "localhost", 8081));
    CHECK(bypass("127.0.0.1", "127.0.0.1", 80));
    CHECK(bypass("10.0.0.0/8", "10.1.2.3", 80));
    CHECK(!bypass("10.0.0.0/8", "11.1.2.3", 80));
    CHECK(!bypass("", "example.com", 80));
    CHECK(!bypass(",,", "example.com", 80));
}

static proxy_map_t m;

static void add(int level, const char *k, const char *url)
{
    char err[64];
    CHECK(proxy_map_add(&m, level, k, strlen(k), url, url ? strlen(url) : 0, err, sizeof err) == 0);
}

/* The proxy picked for host (https if tls) as "host:port", "direct" or "error". */
static const char *pick(bool tls, const char *host, int port)
{
    static char out[300];
    proxy_t p;
    char err[256];
    int r = proxy_pick(&m, tls, host, strlen(host), port, &p, err, sizeof err);
    if (r < 0) return "error";
    if (r == 0) return "direct";
    snprintf(out, sizeof out, "%.*s:%d", (int)p.host_len, p.host, p.port);
    return out;
}

#define PICKS(tls, host, want)                                                                     \
    do {                                                                                           \
        const char *got = pick(tls, host, tls ? 443 : 80);                                         \
        CHECK_MSG(strcmp(got, want) == 0, "%s: %s, expected %s", host, got, want);                 \
    } while (0)

static void clear_env(void)
{
    const char *vars[] = {"http_proxy", "HTTP_PROXY", "https_proxy", "HTTPS_PROXY",
                          "all_proxy",  "ALL_PROXY",  "no_proxy",    "NO_PROXY"};
    for (size_t i = 0; i < sizeof vars / sizeof *vars; i++)
        unsetenv(vars[i]);
    proxy_env_reload();
}

static void test_pick(void)
{
    clear_env();
    proxy_map_reset(&m);
    PICKS(false, "a.test", "direct");
    /* the client's */
    add(PROXY_CLIENT, "http", "http://c:1");
    add(PROXY_CLIENT, "all://b.test", "http://cb:1");
    PICKS(false, "a.test", "c:1");
    PICKS(true, "a.test", "direct");
    PICKS(true, "b.test", "cb:1");
    PICKS(false, "b.test", "c:1"); /* "http" comes before "all://b.test" */
    /* the environment over the client's, lower case over upper case */
    setenv("HTTP_PROXY", "http://E:1", 1);
    setenv("http_proxy", "http://e:1", 1);
    setenv("HTTPS_PROXY", "http://es:1", 1);
    setenv("NO_PROXY", "skip.test", 1);
    proxy_env_reload();
    PICKS(false, "a.test", "e:1");
    PICKS(true, "a.test", "es:1");
    PICKS(false, "skip.test", "c:1"); /* NO_PROXY drops the environment's only */
    PICKS(true, "x.skip.test", "direct");
    m.ignore_env = true; /* trust_env = false */
    PICKS(false, "a.test", "c:1");
    m.ignore_env = false;
    /* the request's over both; false: direct */
    add(PROXY_REQUEST, "https", "http://r:1");
    add(PROXY_REQUEST, "http://d.test", NULL);
    PICKS(true, "a.test", "r:1");
    PICKS(true, "skip.test", "r:1"); /* explicit proxies ignore NO_PROXY */
    PICKS(false, "d.test", "direct");
    /* the request's no_proxy replaces NO_PROXY for the environment's */
    add(PROXY_REQUEST, "no_proxy", "a.test");
    PICKS(false, "a.test", "c:1");
    PICKS(false, "skip.test", "e:1");
    /* a bad URL is an error, at the time it is picked */
    proxy_map_reset(&m);
    add(PROXY_REQUEST, "http", "socks5://s:1");
    PICKS(false, "a.test", "error");
    PICKS(true, "a.test", "es:1");
    clear_env();
    proxy_map_free(&m);
}

static void test_auth(void)
{
    proxy_t p;
    const char *why;
    buf_t w = {0};
    CHECK(proxy_parse("http://user:p%40ss@h:1", 22, &p, &why) == 0);
    proxy_auth(&w, &p);
    CHECK_MSG(w.len && strcmp(w.p, "Basic dXNlcjpwQHNz") == 0, "%s", w.p); /* user:p@ss */
    buf_reset(&w);
    CHECK(proxy_parse("http://user@h:1", 15, &p, &why) == 0);
    proxy_auth(&w, &p);
    CHECK_MSG(w.len && strcmp(w.p, "Basic dXNlcjo=") == 0, "%s", w.p); /* user: */
    buf_reset(&w);
    CHECK(proxy_parse("http://h:1", 10, &p, &why) == 0);
    proxy_auth(&w, &p);
    CHECK(w.len == 0);
    buf_free(&w);
}

int main(void)
{
    test_parse();
    test_bypass();
    test_pick();
    test_auth();
    return check_done();
}
