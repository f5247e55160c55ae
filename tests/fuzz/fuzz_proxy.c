/* fuzz_proxy: libFuzzer target for http/proxy.c: proxy URLs, NO_PROXY
 * lists and Proxy-Authorization values, from the environment or a
 * scenario, so any bytes.
 *
 * The input is split at its first NUL: a proxy URL before it, a NO_PROXY
 * list after it (matched against the URL's host when the URL parses).
 * Invariants checked besides "no crash, no sanitizer report":
 *  - on success the host is non-empty, inside the input, and the port in
 *    1..65535; credentials, if any, are inside the input too;
 *  - on failure a reason is given;
 *  - "*" bypasses every host, an empty list none, and a list naming the
 *    host itself bypasses it (for a host without ',' or spaces);
 *  - the Proxy-Authorization value is "Basic " and base64 only.
 *
 * Build: make fuzz. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "http/proxy.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "must.h"

static bool inside(const char *p, size_t n, const char *s, size_t len)
{
    return p >= s && p + n <= s + len;
}

static void check_auth(const proxy_t *p)
{
    buf_t w = {0};
    proxy_auth(&w, p);
    if (p->userinfo == NULL) {
        MUST(w.len == 0);
    } else {
        MUST(w.len > 6 && memcmp(w.p, "Basic ", 6) == 0);
        for (size_t i = 6; i < w.len; i++)
            MUST(strchr("ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/=",
                        w.p[i]));
    }
    buf_free(&w);
}

static void check_bypass(const proxy_t *p, const char *list, size_t ll)
{
    proxy_bypass(list, ll, p->host, p->host_len, p->port); /* any list: no crash */
    MUST(proxy_bypass("*", 1, p->host, p->host_len, p->port));
    MUST(!proxy_bypass("", 0, p->host, p->host_len, p->port));
    bool plain = p->host_len < 250;
    for (size_t i = 0; i < p->host_len && plain; i++)
        plain = p->host[i] != ',' && p->host[i] != ' ' && p->host[i] != '\t' && p->host[i] != '.' &&
                p->host[i] != '/' && p->host[i] != '\0';
    if (plain) MUST(proxy_bypass(p->host, p->host_len, p->host, p->host_len, p->port));
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *s = malloc(size + 1);
    memcpy(s, data, size);
    s[size] = '\0';
    size_t ul = strlen(s);
    const char *list = ul < size ? s + ul + 1 : "";
    size_t ll = ul < size ? size - ul - 1 : 0;
    proxy_t p;
    const char *why = NULL;
    if (proxy_parse(s, ul, &p, &why) == 0) {
        MUST(p.host_len > 0 && inside(p.host, p.host_len, s, ul));
        MUST(p.port >= 1 && p.port <= 65535);
        if (p.userinfo) MUST(inside(p.userinfo, p.userinfo_len, s, ul));
        check_auth(&p);
        check_bypass(&p, list, ll);
    } else {
        MUST(why && *why);
    }
    free(s);
    return 0;
}
