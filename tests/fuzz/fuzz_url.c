/* fuzz_url: libFuzzer target for http/url.c: url_parse and url_encode.
 *
 * The input, cut at its first NUL, is parsed as a URL. Invariants checked
 * besides "no crash, no sanitizer report":
 *  - on success every part points into the input (or, for a URL without a
 *    path, is the static "/"), the host is non-empty and holds none of the
 *    bytes that end an authority, the port is in 1..65535 (0 for a relative
 *    URL), the path starts with '/' and holds no space, control byte or
 *    '#': nothing that could split or end a request line;
 *  - round trip: the URL written back from its parts (scheme, host in
 *    brackets if it has a ':', explicit port, path) parses to the same
 *    parts;
 *  - on failure a reason is given;
 *  - url_encode of the input: the needed length is exact, the output uses
 *    only unreserved bytes, '+' and %XX, decodes back to the input, and a
 *    result truncated at any size is a prefix of the whole one that never
 *    ends inside an escape.
 *
 * Build: make fuzz. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/url.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "must.h"

static bool inside(const char *p, size_t n, const char *s, size_t len)
{
    return p >= s && p + n <= s + len;
}

static bool any_of(const char *p, size_t n, const char *set)
{
    for (size_t i = 0; i < n; i++)
        if (strchr(set, p[i])) return true;
    return false;
}

static void check_parts(const char *s, const url_t *u)
{
    size_t len = strlen(s);
    size_t frag = strcspn(s, "#");
    MUST(u->path_len >= 1 && u->path[0] == '/');
    MUST(inside(u->path, u->path_len, s, frag) || (u->path_len == 1 && u->absolute));
    for (size_t i = 0; i < u->path_len; i++) {
        unsigned char c = (unsigned char)u->path[i];
        MUST(c > ' ' && c != 0x7f && c != '#');
    }
    if (!u->absolute) {
        MUST(u->host == NULL && u->port == 0 && !u->tls);
        MUST(u->path == s && u->path_len == frag);
        return;
    }
    MUST(u->host_len > 0 && inside(u->host, u->host_len, s, len));
    MUST(!any_of(u->host, u->host_len, "/?#@[] \t\r\n"));
    MUST(u->port >= 1 && u->port <= 65535);
    MUST(u->tls == (s[4] == 's' || s[4] == 'S'));
}

static void check_roundtrip(const url_t *u)
{
    bool v6 = memchr(u->host, ':', u->host_len) != NULL;
    size_t n = u->host_len + u->path_len + 32;
    char *s = malloc(n);
    int w = snprintf(s, n, "%s://%s%.*s%s:%d%.*s", u->tls ? "https" : "http", v6 ? "[" : "",
                     (int)u->host_len, u->host, v6 ? "]" : "", u->port, (int)u->path_len, u->path);
    MUST(w > 0 && (size_t)w < n);
    url_t v;
    const char *why = NULL;
    MUST(url_parse(s, &v, &why) == 0);
    MUST(v.absolute && v.tls == u->tls && v.port == u->port);
    MUST(v.host_len == u->host_len && memcmp(v.host, u->host, u->host_len) == 0);
    MUST(v.path_len == u->path_len && memcmp(v.path, u->path, u->path_len) == 0);
    free(s);
}

static int unhex(char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    if (c >= 'A' && c <= 'F') return c - 'A' + 10;
    return -1;
}

static void check_encode(const char *in, size_t n, size_t cut)
{
    size_t need = url_encode(in, n, NULL, 0);
    MUST(need >= n && need <= 3 * n);
    char *out = malloc(need + 1);
    MUST(url_encode(in, n, out, need + 1) == need);
    MUST(strlen(out) == need);
    /* decode it back */
    size_t j = 0;
    for (size_t i = 0; i < need; j++) {
        char c = out[i];
        if (c == '%') {
            MUST(i + 2 < need + 1 && unhex(out[i + 1]) >= 0 && unhex(out[i + 2]) >= 0);
            char d = (char)(unhex(out[i + 1]) * 16 + unhex(out[i + 2]));
            MUST(j < n && in[j] == d);
            i += 3;
        } else {
            MUST(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789-._~+", c) &&
                 c != '\0');
            MUST(j < n && in[j] == (c == '+' ? ' ' : c));
            i++;
        }
    }
    MUST(j == n);
    /* truncated: at sizes 1..4, and at one the input picks */
    size_t sizes[] = {1, 2, 3, 4, cut % (need + 2)};
    char *small = malloc(need + 2);
    for (size_t t = 0; t < sizeof sizes / sizeof sizes[0]; t++) {
        size_t k = sizes[t];
        if (k == 0 || k > need + 1) continue;
        MUST(url_encode(in, n, small, k) == need);
        size_t l = strlen(small);
        MUST(l < k && memcmp(small, out, l) == 0);
        MUST(l == need || out[l] != '\0');
        /* never "%4": what is cut is a whole escape or a whole byte */
        MUST(l == need || l + 3 >= k - 1); /* stops at the first item that does not fit */
        MUST(l < 1 || out[l - 1] != '%');
        MUST(l < 2 || out[l - 2] != '%');
    }
    free(small);
    free(out);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* an exact-size copy: ASan catches a read past the NUL */
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    url_t u, again;
    const char *why = NULL;
    int rc = url_parse(s, &u, &why);
    if (rc == 0) {
        check_parts(s, &u);
        if (u.absolute) check_roundtrip(&u);
    } else {
        MUST(rc == -1 && why != NULL && *why);
    }
    MUST(url_parse(s, &again, NULL) == rc); /* why may be NULL */
    check_encode((const char *)data, size, size ? (size_t)data[0] << 8 | data[size - 1] : 0);
    free(s);
    return 0;
}
