/* url: split "http(s)://host[:port][/path?query]" or "/path?query" in place.
 *
 * One left-to-right pass: the scheme is matched case-insensitively, the
 * authority runs to the first '/', '?' or '#', a '[' starts an IPv6 literal,
 * and the rest up to '#' is the path with its query, which is kept as is
 * (already encoded). The fragment is dropped, as browsers never send it.
 * Characters that would break a request line (space, control bytes) are
 * refused with a reason rather than escaped. Userinfo (user@host) is not
 * supported; there is no normalisation of dots or case.
 *
 * url_encode does application/x-www-form-urlencoded escaping for query
 * values, sized like snprintf. */
#include "http/url.h"

#include <string.h>

static bool prefix_ci(const char *s, const char *lit)
{
    for (; *lit; s++, lit++) {
        char c = *s >= 'A' && *s <= 'Z' ? (char)(*s | 0x20) : *s;
        if (c != *lit) return false;
    }
    return true;
}

static bool is_alnum(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z');
}

static bool is_hex(unsigned char c)
{
    return (c >= '0' && c <= '9') || (c >= 'a' && c <= 'f') || (c >= 'A' && c <= 'F');
}

/* A registered name or IPv4 address; '%' is let through for encoded names. */
static bool host_ok(const char *h, size_t n)
{
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!is_alnum(c) && !strchr("-._~%", c)) return false;
    }
    return true;
}

/* Inside the brackets: hex, ':' and '.' (IPv4-mapped tails), then maybe a
 * zone id after '%' ("fe80::1%25eth0"). */
static bool ipv6_ok(const char *h, size_t n)
{
    const char *zone = memchr(h, '%', n);
    size_t addr = zone ? (size_t)(zone - h) : n;
    for (size_t i = 0; i < addr; i++) {
        unsigned char c = (unsigned char)h[i];
        if (!is_hex(c) && c != ':' && c != '.') return false;
    }
    return memchr(h, ':', addr) != NULL && host_ok(h + addr, n - addr);
}

/* Digits in [p, end) to a port in 1..65535; "" keeps the default. */
static int parse_port(const char *p, const char *end, int *port, const char **why)
{
    int v = 0;
    if (p == end) return 0; /* "host:" is allowed by RFC 3986 */
    for (; p < end; p++) {
        if (*p < '0' || *p > '9') {
            *why = "bad port: not a number";
            return -1;
        }
        v = v * 10 + (*p - '0');
        if (v > 65535) break;
    }
    if (v < 1 || v > 65535) {
        *why = "bad port: out of range 1..65535";
        return -1;
    }
    *port = v;
    return 0;
}

/* Split the authority [a, end) into host and port. */
static int parse_authority(const char *a, const char *end, url_t *u, const char **why)
{
    const char *p;
    if (memchr(a, '@', (size_t)(end - a))) {
        *why = "user@host is not supported";
        return -1;
    }
    if (a < end && *a == '[') {
        const char *close = memchr(a, ']', (size_t)(end - a));
        if (!close) {
            *why = "unclosed '[' in host";
            return -1;
        }
        u->host = a + 1;
        u->host_len = (size_t)(close - a - 1);
        if (!ipv6_ok(u->host, u->host_len)) {
            *why = "bad IPv6 address in brackets";
            return -1;
        }
        p = close + 1;
        if (p < end && *p != ':') {
            *why = "junk after ']' in host";
            return -1;
        }
    } else {
        p = memchr(a, ':', (size_t)(end - a));
        if (!p) p = end;
        u->host = a;
        u->host_len = (size_t)(p - a);
        if (u->host_len == 0) {
            *why = "empty host";
            return -1;
        }
        if (!host_ok(u->host, u->host_len)) {
            *why = "bad character in host";
            return -1;
        }
    }
    return p < end ? parse_port(p + 1, end, &u->port, why) : 0;
}

/* The path and query [p, end): non-empty, starting with '/', and free of
 * bytes that would split the request line. */
static int set_path(const char *p, const char *end, url_t *u, const char **why)
{
    if (p == end) {
        u->path = "/";
        u->path_len = 1;
        return 0;
    }
    if (*p != '/') {
        *why = "a query needs a path: write host/?query";
        return -1;
    }
    for (const char *q = p; q < end; q++) {
        unsigned char c = (unsigned char)*q;
        if (c <= ' ' || c == 0x7f) {
            *why = "space or control character in path (percent-encode it)";
            return -1;
        }
    }
    u->path = p;
    u->path_len = (size_t)(end - p);
    return 0;
}

int url_parse(const char *s, url_t *u, const char **why)
{
    const char *ignored, *end = s + strcspn(s, "#"), *a;
    if (!why) why = &ignored;
    memset(u, 0, sizeof *u);
    if (*s == '/') return set_path(s, end, u, why);
    if (prefix_ci(s, "http://")) {
        a = s + 7;
        u->port = 80;
    } else if (prefix_ci(s, "https://")) {
        a = s + 8;
        u->port = 443;
        u->tls = true;
    } else {
        *why = strstr(s, "://") ? "unknown scheme: want http:// or https://"
                                : "not a URL: want http(s)://host[:port][/path] or /path";
        return -1;
    }
    u->absolute = true;
    const char *auth_end = a + strcspn(a, "/?#");
    if (parse_authority(a, auth_end, u, why) != 0) return -1;
    return set_path(auth_end, end, u, why);
}

static bool unreserved(unsigned char c)
{
    return is_alnum(c) || c == '-' || c == '.' || c == '_' || c == '~';
}

size_t url_encode(const char *s, size_t slen, char *out, size_t n)
{
    static const char hex[] = "0123456789ABCDEF";
    size_t need = 0, w = 0;
    bool full = n == 0;
    for (size_t i = 0; i < slen; i++) {
        unsigned char c = (unsigned char)s[i];
        size_t k = unreserved(c) || c == ' ' ? 1 : 3;
        need += k;
        /* Stop at the first escape that does not fit whole, leaving room
         * for the NUL, so a truncated result never ends in "%4". */
        if (full || w + k >= n) {
            full = true;
            continue;
        }
        if (k == 1) {
            out[w++] = c == ' ' ? '+' : (char)c;
        } else {
            out[w++] = '%';
            out[w++] = hex[c >> 4];
            out[w++] = hex[c & 15];
        }
    }
    if (n) out[w] = '\0';
    return need;
}
