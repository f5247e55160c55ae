/* fuzz_cookie: libFuzzer target for http/cookie.c: Set-Cookie parsing, the
 * jar's storage rules, the Cookie header, and cookie dates.
 *
 * The input is a list of records separated by '\n': a control byte, then a
 * Set-Cookie value. The control byte picks the request the value answers
 * (one of four hosts, one of four paths, TLS or not), how far the clock
 * moves first, and whether the record is a date for cookie_parse_date
 * instead. Invariants checked besides "no crash, no sanitizer report":
 *  - the jar never holds more than COOKIE_JAR_MAX cookies, nor two with
 *    the same (name, domain, path); names are non-empty, domains lowercase,
 *    paths start with '/', and nothing stored holds a control byte (it
 *    would be written into a request's Cookie header);
 *  - a value that is ignored (-1) leaves the jar as it was; one that is
 *    stored (1) is in the jar with the name and value RFC 6265 5.2 gives
 *    (computed here independently), and is sent back in the Cookie header
 *    of a request to the same host and the cookie's path over TLS;
 *  - the Cookie header is "n=v; n=v" with as many pairs as the count
 *    returned, and no control byte;
 *  - a date that parses prints back (as an IMF-fixdate) to the same time.
 *
 * Build: make fuzz. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <time.h>

#include "http/cookie.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "must.h"

static const char *const hosts[] = {"example.com", "WWW.Example.com", "a.b.example.com",
                                    "127.0.0.1"};
static const char *const paths[] = {"/", "/a/b/c?q=1", "/a", ""};
static const int64_t steps[] = {0, 1, 100, 40000000};

static bool ctl(unsigned char c)
{
    return (c < 0x20 && c != '\t') || c == 0x7f;
}

static bool has_ctl(const char *s)
{
    for (; *s; s++)
        if (ctl((unsigned char)*s)) return true;
    return false;
}

/* The jar's contents as one string, to compare before and after. */
static void snapshot(const cookie_jar_t *j, buf_t *out)
{
    buf_reset(out);
    for (size_t i = 0; i < j->n; i++) {
        const cookie_t *c = &j->c[i];
        buf_printf(out, "%s\1%s\1%s\1%s\1%lld\1%d%d\2", cookie_name(c), cookie_value(c),
                   cookie_domain(c), cookie_path(c), (long long)c->expires, c->host_only,
                   c->secure);
    }
}

static void check_jar(const cookie_jar_t *j)
{
    MUST(j->n <= COOKIE_JAR_MAX);
    for (size_t i = 0; i < j->n; i++) {
        const cookie_t *c = &j->c[i];
        MUST(cookie_name(c)[0] != '\0' && cookie_path(c)[0] == '/');
        MUST(!has_ctl(cookie_name(c)) && !has_ctl(cookie_value(c)) && !has_ctl(cookie_path(c)));
        for (const char *d = cookie_domain(c); *d; d++)
            MUST(!(*d >= 'A' && *d <= 'Z'));
        for (size_t k = 0; k < i; k++) {
            const cookie_t *o = &j->c[k];
            MUST(strcmp(cookie_name(c), cookie_name(o)) != 0 ||
                 strcmp(cookie_domain(c), cookie_domain(o)) != 0 ||
                 strcmp(cookie_path(c), cookie_path(o)) != 0);
        }
    }
}

/* RFC 6265 5.2 steps 1-5: the name and value of a set-cookie-string. */
static bool name_value(const char *h, size_t n, const char **name, size_t *nl, const char **val,
                       size_t *vl)
{
    size_t pair = 0;
    while (pair < n && h[pair] != ';')
        pair++;
    size_t eq = 0;
    while (eq < pair && h[eq] != '=')
        eq++;
    if (eq == pair) return false;
    *name = h, *nl = eq, *val = h + eq + 1, *vl = pair - eq - 1;
    while (*nl && (**name == ' ' || **name == '\t'))
        (*name)++, (*nl)--;
    while (*nl && ((*name)[*nl - 1] == ' ' || (*name)[*nl - 1] == '\t'))
        (*nl)--;
    while (*vl && (**val == ' ' || **val == '\t'))
        (*val)++, (*vl)--;
    while (*vl && ((*val)[*vl - 1] == ' ' || (*val)[*vl - 1] == '\t'))
        (*vl)--;
    if (*vl >= 2 && (*val)[0] == '"' && (*val)[*vl - 1] == '"') (*val)++, *vl -= 2;
    return *nl > 0;
}

/* k would be sent to host (RFC 6265 5.1.3; the hosts here are fixed). */
static bool for_host(const cookie_t *k, const char *host)
{
    char h[64];
    size_t hl = strlen(host), dl = strlen(cookie_domain(k));
    for (size_t i = 0; i <= hl; i++)
        h[i] = (char)(host[i] >= 'A' && host[i] <= 'Z' ? host[i] + 32 : host[i]);
    if (strcmp(h, cookie_domain(k)) == 0) return true;
    return !k->host_only && hl > dl && strcmp(h + hl - dl, cookie_domain(k)) == 0 &&
           h[hl - dl - 1] == '.' && strcmp(h, "127.0.0.1") != 0;
}

static void check_header(cookie_jar_t *j, const char *host, const char *path, size_t plen,
                         bool secure, int64_t now, const char *want, size_t wl)
{
    buf_t out = {0};
    int n = cookie_jar_header(j, &out, host, strlen(host), path, plen, secure, now);
    MUST(n >= 0 && (size_t)n <= j->n);
    const char *s = out.p ? out.p : "";
    MUST(strlen(s) == out.len && !has_ctl(s));
    int pairs = out.len ? 1 : 0;
    for (const char *p = s; (p = strstr(p, "; ")) != NULL; p += 2)
        pairs++;
    /* a value may hold "; " itself, so this is a lower bound */
    MUST(pairs >= n && (n > 0) == (out.len > 0));
    if (want) {
        bool found = false;
        for (const char *p = s; !found && (p = strstr(p, want)) != NULL; p++)
            found = (p == s || (p >= s + 2 && p[-2] == ';' && p[-1] == ' ')) &&
                    (p[wl] == '\0' || p[wl] == ';');
        MUST(found);
    }
    buf_free(&out);
}

static void check_date(const char *s, size_t n)
{
    int64_t t;
    if (cookie_parse_date(s, n, &t) != 0) return;
    time_t tt = (time_t)t;
    struct tm tm;
    MUST(gmtime_r(&tt, &tm) != NULL);
    MUST(tm.tm_year + 1900 >= 1601);
    char back[64];
    size_t l = strftime(back, sizeof back, "%a, %d %b %Y %H:%M:%S GMT", &tm);
    MUST(l > 0);
    int64_t t2;
    MUST(cookie_parse_date(back, l, &t2) == 0 && t2 == t);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    cookie_jar_t *j = cookie_jar_new();
    buf_t before = {0}, after = {0};
    int64_t now = 1700000000;
    size_t off = 0;
    while (off < size) {
        unsigned ctl_byte = data[off++];
        const char *rec = (const char *)data + off;
        const char *nl = memchr(rec, '\n', size - off);
        size_t n = nl ? (size_t)(nl - rec) : size - off;
        off += n + (nl != NULL);
        /* an exact-size copy, so ASan sees a read past the value */
        char *v = malloc(n ? n : 1);
        memcpy(v, rec, n);
        if ((ctl_byte & 0xc0) == 0xc0) {
            check_date(v, n);
            free(v);
            continue;
        }
        bool secure = ctl_byte & 1;
        const char *host = hosts[(ctl_byte >> 1) & 3];
        const char *path = paths[(ctl_byte >> 3) & 3];
        now += steps[(ctl_byte >> 5) & 3];
        snapshot(j, &before);
        size_t n_before = j->n;
        int rc = cookie_jar_set(j, v, n, host, strlen(host), path, strlen(path), secure, now);
        MUST(rc == -1 || rc == 0 || rc == 1);
        check_jar(j);
        snapshot(j, &after);
        if (rc == -1)
            MUST(before.len == after.len &&
                 (!before.len || memcmp(before.p, after.p, before.len) == 0));
        if (rc == 0) MUST(j->n <= n_before);
        const char *name, *val;
        size_t nlen, vlen;
        bool nv = name_value(v, n, &name, &nlen, &val, &vlen);
        if (rc >= 0) MUST(nv);
        if (rc == 1) {
            const cookie_t *c = NULL;
            for (size_t i = 0; i < j->n && !c; i++) {
                const cookie_t *k = &j->c[i];
                if (strlen(cookie_name(k)) == nlen && memcmp(cookie_name(k), name, nlen) == 0 &&
                    strlen(cookie_value(k)) == vlen && memcmp(cookie_value(k), val, vlen) == 0 &&
                    (k->expires == COOKIE_SESSION || k->expires > now) && for_host(k, host))
                    c = k;
            }
            MUST(c != NULL);
            /* a Path with a '?' never matches a request path (the query is
             * not part of it): such a cookie is stored but never sent */
            if (strchr(cookie_path(c), '?')) goto next;
            size_t wl = nlen + 1 + vlen;
            char *want = malloc(wl + 1);
            memcpy(want, name, nlen);
            want[nlen] = '=';
            memcpy(want + nlen + 1, val, vlen);
            want[wl] = '\0';
            check_header(j, host, cookie_path(c), strlen(cookie_path(c)), true, now, want, wl);
            free(want);
        }
    next:
        check_header(j, host, path, strlen(path), secure, now, NULL, 0);
        free(v);
    }
    buf_free(&before);
    buf_free(&after);
    cookie_jar_free(j);
    return 0;
}
