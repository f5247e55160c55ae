/* guard: see guard.h. Origins compare case-insensitively (scheme and host
 * are), ports exactly; the Host header is what the browser used to reach
 * the UI, so the UI's origin is right whatever name or address it was
 * opened by, behind a port forward too. */
#include "web/guard.h"

#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/base64.h"

/* Equal, in a time that depends only on the expected length. */
static bool same(const unsigned char *got, size_t ngot, const char *want)
{
    size_t nwant = strlen(want);
    volatile unsigned char diff = ngot != nwant;
    for (size_t i = 0; i < nwant; i++)
        diff |= (unsigned char)((i < ngot ? got[i] : 0) ^ (unsigned char)want[i]);
    return diff == 0;
}

bool guard_auth(const http_req_t *req, const char *want)
{
    if (want == NULL) return true;
    char h[1400];
    if (http_header(req, "Authorization", h, sizeof h) == NULL || strncasecmp(h, "Basic ", 6))
        return false;
    const char *p = h + 6;
    while (*p == ' ')
        p++;
    unsigned char dec[1024];
    long n = base64_decode(dec, sizeof dec, p, strcspn(p, "=")); /* up to the padding */
    return n >= 0 && same(dec, (size_t)n, want);
}

bool guard_browser(const http_req_t *req)
{
    return http_has(req, "Origin") || http_has(req, "Referer") || http_has(req, "Sec-Fetch-Site");
}

/* The host name of a Host header value: without the port, brackets kept. */
static size_t host_name_len(const char *host)
{
    if (*host == '[') {
        const char *e = strchr(host, ']');
        return e ? (size_t)(e - host + 1) : strlen(host);
    }
    const char *c = strchr(host, ':');
    return c ? (size_t)(c - host) : strlen(host);
}

static bool loopback_name(const char *name, size_t n, const char *web_host)
{
    if ((n == 9 && strncasecmp(name, "localhost", 9) == 0) || (n == 5 && !memcmp(name, "[::1]", 5)))
        return true;
    if (n > 4 && memcmp(name, "127.", 4) == 0) {
        for (size_t i = 4; i < n; i++)
            if ((name[i] < '0' || name[i] > '9') && name[i] != '.') return false;
        return true;
    }
    return web_host && strlen(web_host) == n && strncasecmp(name, web_host, n) == 0;
}

bool guard_same_origin(const http_req_t *req, bool tls, bool loopback, const char *web_host,
                       char *why, size_t n)
{
    char site[64], host[512], origin[1024], referer[2048];
    if (http_header(req, "Sec-Fetch-Site", site, sizeof site) && strcasecmp(site, "same-origin") &&
        strcasecmp(site, "none")) {
        snprintf(why, n, "cross-site request refused (Sec-Fetch-Site: %s)", site);
        return false;
    }
    bool has_origin = http_header(req, "Origin", origin, sizeof origin) != NULL;
    bool has_referer = http_header(req, "Referer", referer, sizeof referer) != NULL;
    if (!has_origin && !has_referer && !http_has(req, "Sec-Fetch-Site"))
        return true; /* a script, not a page: see guard.h */
    if (http_header(req, "Host", host, sizeof host) == NULL || *host == '\0') {
        snprintf(why, n, "cross-site request refused (no Host header)");
        return false;
    }
    if (loopback && !loopback_name(host, host_name_len(host), web_host)) {
        snprintf(why, n, "cross-site request refused (Host %s is not this machine's loopback)",
                 host);
        return false;
    }
    char own[600];
    int k = snprintf(own, sizeof own, "%s://%s", tls ? "https" : "http", host);
    if (has_origin) {
        if (strcasecmp(origin, own) == 0) return true;
        snprintf(why, n, "cross-site request refused (Origin %.200s is not %.200s)", origin, own);
        return false;
    }
    if (has_referer) {
        /* own is shorter than referer's buffer, so referer[k] is inside it */
        if (strncasecmp(referer, own, (size_t)k) == 0 &&
            (referer[k] == '\0' || referer[k] == '/' || referer[k] == '?' || referer[k] == '#'))
            return true;
        snprintf(why, n, "cross-site request refused (Referer %.200s is not on %.200s)", referer,
                 own);
        return false;
    }
    return true; /* Sec-Fetch-Site same-origin or none, and nothing else */
}
