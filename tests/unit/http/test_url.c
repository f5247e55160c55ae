/* test_url: url_parse on absolute and relative URLs, its error reasons, and
 * url_encode including truncation. */
#include "http/url.h"

#include "check.h"

#include <string.h>

static bool eq(const char *p, size_t n, const char *want)
{
    return p && n == strlen(want) && memcmp(p, want, n) == 0;
}

/* Parse s and compare every part; host NULL means relative. */
static bool parses(const char *s, bool tls, const char *host, int port, const char *path)
{
    url_t u;
    const char *why = NULL;
    if (url_parse(s, &u, &why) != 0) {
        fprintf(stderr, "url_parse(\"%s\"): %s\n", s, why);
        return false;
    }
    if (!host) return !u.absolute && !u.tls && u.port == 0 && eq(u.path, u.path_len, path);
    return u.absolute && u.tls == tls && eq(u.host, u.host_len, host) && u.port == port &&
           eq(u.path, u.path_len, path);
}

/* Parse s expecting an error whose reason contains `word`. */
static bool fails(const char *s, const char *word)
{
    url_t u;
    const char *why = NULL;
    return url_parse(s, &u, &why) == -1 && why && strstr(why, word);
}

static void test_parse(void)
{
    CHECK(parses("http://example.com/a/b?x=1&y=2", false, "example.com", 80, "/a/b?x=1&y=2"));
    CHECK(parses("https://example.com", true, "example.com", 443, "/"));
    CHECK(parses("HTTPS://Example.COM:8443/x", true, "Example.COM", 8443, "/x"));
    CHECK(parses("http://127.0.0.1:8088", false, "127.0.0.1", 8088, "/"));
    CHECK(parses("http://[::1]:8080/p", false, "::1", 8080, "/p"));
    CHECK(parses("https://[2001:db8::7]/", true, "2001:db8::7", 443, "/"));
    CHECK(parses("http://[::ffff:10.0.0.1]", false, "::ffff:10.0.0.1", 80, "/"));
    CHECK(parses("http://[fe80::1%25eth0]:81/", false, "fe80::1%25eth0", 81, "/"));
    CHECK(parses("http://h:1/", false, "h", 1, "/"));
    CHECK(parses("http://h:65535/", false, "h", 65535, "/"));
    CHECK(parses("http://h:/x", false, "h", 80, "/x"));
    CHECK(parses("http://h/search?q=a+b#frag", false, "h", 80, "/search?q=a+b"));
    CHECK(parses("http://h#frag", false, "h", 80, "/"));
    CHECK(parses("http://my_host-1.local/%7Euser", false, "my_host-1.local", 80, "/%7Euser"));
    CHECK(parses("/", false, NULL, 0, "/"));
    CHECK(parses("/items?id=3", false, NULL, 0, "/items?id=3"));
    CHECK(parses("/items#top", false, NULL, 0, "/items"));

    url_t u;
    CHECK(url_parse("https://x", &u, NULL) == 0 && u.tls && u.port == 443);
    CHECK(url_parse("ftp://x", &u, NULL) == -1);

    CHECK(fails("ftp://example.com/", "scheme"));
    CHECK(fails("ws://example.com/", "scheme"));
    CHECK(fails("http:/example.com", "not a URL"));
    CHECK(fails("example.com/path", "not a URL"));
    CHECK(fails("", "not a URL"));
    CHECK(fails("items", "not a URL"));
    CHECK(fails("http://", "empty host"));
    CHECK(fails("http:///path", "empty host"));
    CHECK(fails("http://:80/", "empty host"));
    CHECK(fails("http://h:0/", "range"));
    CHECK(fails("http://h:65536/", "range"));
    CHECK(fails("http://h:99999999999999999999/", "range"));
    CHECK(fails("http://h:8o/", "port"));
    CHECK(fails("http://h:-1/", "port"));
    CHECK(fails("http://h:80:81/", "port"));
    CHECK(fails("http://[::1/", "'['"));
    CHECK(fails("http://[::1]x/", "']'"));
    CHECK(fails("http://[]/", "IPv6"));
    CHECK(fails("http://[example.com]/", "IPv6"));
    CHECK(fails("http://user:pw@h/", "user@host"));
    CHECK(fails("http://h st/", "host"));
    CHECK(fails("http://h?q=1", "path"));
    CHECK(fails("http://h/a b", "path"));
    CHECK(fails("/a\tb", "path"));
}

/* Encode s into a buffer of n bytes and compare with want. */
static bool encodes(const char *s, size_t n, const char *want, size_t need)
{
    char out[64];
    memset(out, '#', sizeof out);
    size_t r = url_encode(s, strlen(s), out, n);
    return r == need && strcmp(out, want) == 0 && (n >= sizeof out || out[n] == '#');
}

static void test_encode(void)
{
    CHECK(encodes("abcXYZ019-._~", 64, "abcXYZ019-._~", 13));
    CHECK(encodes("a b", 64, "a+b", 3));
    CHECK(encodes("a&b=c/d?e", 64, "a%26b%3Dc%2Fd%3Fe", 17));
    CHECK(encodes("+%#", 64, "%2B%25%23", 9));
    CHECK(encodes("\xc3\xa9\x01\x7f", 64, "%C3%A9%01%7F", 12));
    CHECK(encodes("", 64, "", 0));
    /* Truncation: like snprintf, n counts the NUL, and no escape is cut. */
    CHECK(encodes("abc", 4, "abc", 3));
    CHECK(encodes("abc", 3, "ab", 3));
    CHECK(encodes("a&b", 4, "a", 5));
    CHECK(encodes("a&b", 5, "a%26", 5));
    CHECK(encodes("a&b", 6, "a%26b", 5));
    CHECK(encodes("abc", 1, "", 3));
    CHECK(url_encode("a b&", 4, NULL, 0) == 6);
    char two[2] = {'x', 'y'};
    CHECK(url_encode("a\0b", 3, two, 2) == 5 && two[0] == 'a' && two[1] == '\0');
}

int main(void)
{
    test_parse();
    test_encode();
    return check_done();
}
