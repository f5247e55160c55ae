/* cookie: see cookie.h.
 *
 * The jar is a small array searched linearly: a user holds a handful of
 * cookies, and the Cookie header is built by one pass that picks the
 * matches and sorts them (insertion sort of a few indices). Host names are
 * compared case-insensitively; domains are stored lowercased. */
#include "http/cookie.h"

#include <arpa/inet.h>
#include <ctype.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>
#include <time.h>

#include "base/alloc.h"

cookie_jar_t *cookie_jar_new(void)
{
    return xcalloc(1, sizeof(cookie_jar_t));
}

void cookie_jar_free(cookie_jar_t *j)
{
    if (j == NULL) return;
    for (size_t i = 0; i < j->cap; i++)
        buf_free(&j->c[i].mem);
    xfree(j->c);
    xfree(j);
}

void cookie_jar_clear(cookie_jar_t *j)
{
    if (j) j->n = 0;
}

/* Remove cookie i, keeping its buffer for reuse at the end of the array. */
static void drop(cookie_jar_t *j, size_t i)
{
    cookie_t gone = j->c[i];
    memmove(&j->c[i], &j->c[i + 1], (j->n - i - 1) * sizeof *j->c);
    j->c[--j->n] = gone;
}

/* ---- matching (RFC 6265 5.1.3, 5.1.4) ---- */

static bool is_ip(const char *host)
{
    unsigned char a[16];
    return inet_pton(AF_INET, host, a) == 1 || inet_pton(AF_INET6, host, a) == 1;
}

/* host (lowercase, NUL-terminated) domain-matches domain (lowercase). */
static bool domain_match(const char *host, size_t hlen, const char *domain)
{
    size_t dl = strlen(domain);
    if (hlen == dl) return memcmp(host, domain, dl) == 0;
    return hlen > dl && memcmp(host + hlen - dl, domain, dl) == 0 && host[hlen - dl - 1] == '.' &&
           !is_ip(host);
}

static bool path_match(const char *req, size_t rlen, const char *cpath)
{
    size_t cl = strlen(cpath);
    if (rlen < cl || memcmp(req, cpath, cl) != 0) return false;
    return rlen == cl || cpath[cl - 1] == '/' || req[cl] == '/';
}

/* The request path without its query, "/" if empty. */
static size_t path_only(const char *path, size_t plen)
{
    const char *q = memchr(path, '?', plen);
    return q ? (size_t)(q - path) : plen;
}

/* ---- dates (RFC 6265 5.1.1) ---- */

static bool delim(unsigned char ch)
{
    return ch == 0x09 || (ch >= 0x20 && ch <= 0x2f) || (ch >= 0x3b && ch <= 0x40) ||
           (ch >= 0x5b && ch <= 0x60) || (ch >= 0x7b && ch <= 0x7e);
}

/* Leading 1..max digits of tok (len n) as a number, or -1. */
static int digits(const char *tok, size_t n, size_t min, size_t max, size_t *used)
{
    size_t k = 0;
    int v = 0;
    while (k < n && k < max && isdigit((unsigned char)tok[k]))
        v = v * 10 + (tok[k++] - '0');
    if (k < min || (k < n && isdigit((unsigned char)tok[k]))) return -1;
    *used = k;
    return v;
}

int cookie_parse_date(const char *s, size_t n, int64_t *t)
{
    static const char months[] = "janfebmaraprmayjunjulaugsepoctnovdec";
    int hh = -1, mm = -1, ss = -1, day = -1, mon = -1, year = -1;
    size_t i = 0;
    while (i < n) {
        while (i < n && delim((unsigned char)s[i]))
            i++;
        size_t b = i;
        while (i < n && !delim((unsigned char)s[i]))
            i++;
        const char *tok = s + b;
        size_t tl = i - b, u, u2, u3;
        if (tl == 0) continue;
        if (hh < 0) { /* hms-time: 1*2DIGIT ":" 1*2DIGIT ":" 1*2DIGIT */
            int h = digits(tok, tl, 1, 2, &u);
            if (h >= 0 && u < tl && tok[u] == ':') {
                int m = digits(tok + u + 1, tl - u - 1, 1, 2, &u2);
                size_t at = u + 1 + u2;
                if (m >= 0 && at < tl && tok[at] == ':') {
                    int sec = digits(tok + at + 1, tl - at - 1, 1, 2, &u3);
                    if (sec >= 0) {
                        hh = h, mm = m, ss = sec;
                        continue;
                    }
                }
            }
        }
        if (day < 0) {
            int d = digits(tok, tl, 1, 2, &u);
            if (d >= 0) {
                day = d;
                continue;
            }
        }
        if (mon < 0 && tl >= 3) {
            char m3[4] = {(char)tolower((unsigned char)tok[0]),
                          (char)tolower((unsigned char)tok[1]),
                          (char)tolower((unsigned char)tok[2]), 0};
            const char *f = strstr(months, m3);
            if (f && (f - months) % 3 == 0) {
                mon = (int)(f - months) / 3;
                continue;
            }
        }
        if (year < 0) {
            int y = digits(tok, tl, 2, 4, &u);
            if (y >= 0) {
                year = y;
                continue;
            }
        }
    }
    if (year >= 70 && year <= 99)
        year += 1900;
    else if (year >= 0 && year <= 69)
        year += 2000;
    if (hh < 0 || day < 1 || day > 31 || mon < 0 || year < 1601 || hh > 23 || mm > 59 || ss > 59)
        return -1;
    struct tm tm = {.tm_sec = ss,
                    .tm_min = mm,
                    .tm_hour = hh,
                    .tm_mday = day,
                    .tm_mon = mon,
                    .tm_year = year - 1900};
    *t = (int64_t)timegm(&tm);
    return 0;
}

/* ---- storing ---- */

static void trim(const char **s, size_t *n)
{
    while (*n && (**s == ' ' || **s == '\t'))
        (*s)++, (*n)--;
    while (*n && ((*s)[*n - 1] == ' ' || (*s)[*n - 1] == '\t'))
        (*n)--;
}

static bool attr_is(const char *a, size_t al, const char *name)
{
    return strlen(name) == al && strncasecmp(a, name, al) == 0;
}

/* A Set-Cookie header's attributes: the last of each kind wins (RFC 6265 5.3). */
typedef struct attrs {
    const char *path; /* NULL: none (or not starting with '/') */
    size_t path_len;
    char domain[256]; /* lower case, leading dot dropped */
    size_t domain_len;
    bool has_domain, secure;
    int64_t expires;
} attrs_t;

static void parse_max_age(const char *v, size_t vl, int64_t now, attrs_t *at, bool *has_max_age)
{
    char num[24];
    size_t k = vl < sizeof num - 1 ? vl : sizeof num - 1;
    memcpy(num, v, k), num[k] = '\0';
    char *e;
    long long s = strtoll(num, &e, 10);
    if (*e == '\0' && (isdigit((unsigned char)num[0]) || num[0] == '-')) {
        at->expires = s <= 0 ? INT64_MIN : (s > INT64_MAX / 2 ? INT64_MAX - 1 : now + s);
        *has_max_age = true;
    }
}

static void parse_attrs(const char *p, const char *end, int64_t now, attrs_t *at)
{
    bool has_max_age = false;
    while (p < end) {
        const char *next = memchr(p, ';', (size_t)(end - p));
        if (next == NULL) next = end;
        const char *a = p, *v = NULL;
        size_t al = (size_t)(next - p), avl = 0;
        const char *aeq = memchr(a, '=', al);
        if (aeq) {
            v = aeq + 1, avl = (size_t)(next - v);
            al = (size_t)(aeq - a);
            trim(&v, &avl);
        }
        trim(&a, &al);
        if (attr_is(a, al, "domain") && v) {
            if (avl && v[0] == '.') v++, avl--;
            if (avl && avl < sizeof at->domain) {
                for (size_t i = 0; i < avl; i++)
                    at->domain[i] = (char)tolower((unsigned char)v[i]);
                at->domain[avl] = '\0', at->domain_len = avl, at->has_domain = true;
            }
        } else if (attr_is(a, al, "path") && v) {
            at->path = avl && v[0] == '/' ? v : NULL, at->path_len = at->path ? avl : 0;
        } else if (attr_is(a, al, "max-age") && v && avl) {
            parse_max_age(v, avl, now, at, &has_max_age);
        } else if (attr_is(a, al, "expires") && v && !has_max_age) {
            int64_t t;
            if (cookie_parse_date(v, avl, &t) == 0) at->expires = t;
        } else if (attr_is(a, al, "secure")) {
            at->secure = true;
        }
        p = next + 1;
    }
}

/* The default-path (RFC 6265 5.1.4): the request path up to its last '/',
 * or "/". Points into path or at a static "/". */
static const char *default_path(const char *path, size_t plen, size_t *len)
{
    size_t rl = path_only(path, plen);
    const char *slash = NULL;
    for (size_t i = rl; i-- > 0;)
        if (path[i] == '/') {
            slash = path + i;
            break;
        }
    if (rl == 0 || path[0] != '/' || slash == path) {
        *len = 1;
        return "/";
    }
    *len = (size_t)(slash - path);
    return path;
}

/* The index of the cookie with this name, domain and path, or j->n. */
static size_t find(const cookie_jar_t *j, const char *name, size_t nl, const char *dom,
                   const char *cpath, size_t cpl)
{
    size_t i = 0;
    for (; i < j->n; i++) {
        const cookie_t *c = &j->c[i];
        if (strlen(cookie_name(c)) == nl && memcmp(cookie_name(c), name, nl) == 0 &&
            strcmp(cookie_domain(c), dom) == 0 && strlen(cookie_path(c)) == cpl &&
            memcmp(cookie_path(c), cpath, cpl) == 0)
            break;
    }
    return i;
}

/* A slot for a new cookie at the end of the jar, or -1 when it is full. */
static long grow(cookie_jar_t *j)
{
    if (j->n == COOKIE_JAR_MAX) return -1;
    if (j->n == j->cap) {
        size_t cap = j->cap ? j->cap * 2 : 8;
        j->c = xrealloc(j->c, cap * sizeof *j->c);
        memset(j->c + j->cap, 0, (cap - j->cap) * sizeof *j->c);
        j->cap = cap;
    }
    return (long)j->n++;
}

static void fill(cookie_t *c, const char *name, size_t nl, const char *value, size_t vl,
                 const attrs_t *at, const char *cpath, size_t cpl)
{
    buf_t *m = &c->mem;
    buf_set(m, name, nl);
    buf_append(m, "", 1);
    c->value = m->len;
    buf_append(m, value, vl);
    buf_append(m, "", 1);
    c->domain = m->len;
    buf_append(m, at->domain, at->domain_len);
    buf_append(m, "", 1);
    c->path = m->len;
    buf_append(m, cpath, cpl);
    c->expires = at->expires;
    c->host_only = !at->has_domain;
    c->secure = at->secure;
}

int cookie_jar_set(cookie_jar_t *j, const char *hdr, size_t n, const char *host, size_t hlen,
                   const char *path, size_t plen, bool secure, int64_t now)
{
    /* RFC 6265bis 5.6 step 1: a control byte other than HTAB voids the whole
     * header. A NUL would cut the stored name or value short, a CR or LF
     * would be written into the next request's Cookie header. */
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)hdr[i];
        if ((c < 0x20 && c != '\t') || c == 0x7f) return -1;
    }
    const char *semi = memchr(hdr, ';', n);
    size_t pair_len = semi ? (size_t)(semi - hdr) : n;
    const char *eq = memchr(hdr, '=', pair_len);
    if (eq == NULL) return -1;
    const char *name = hdr, *value = eq + 1;
    size_t nl = (size_t)(eq - hdr), vl = pair_len - nl - 1;
    trim(&name, &nl);
    trim(&value, &vl);
    if (nl == 0 || hlen == 0 || hlen > 255) return -1;
    if (vl >= 2 && value[0] == '"' && value[vl - 1] == '"') value++, vl -= 2;

    char lhost[256];
    for (size_t i = 0; i < hlen; i++)
        lhost[i] = (char)tolower((unsigned char)host[i]);
    lhost[hlen] = '\0';
    attrs_t at = {.expires = COOKIE_SESSION};
    parse_attrs(semi ? semi + 1 : hdr + n, hdr + n, now, &at);
    if (at.has_domain) {
        if (!domain_match(lhost, hlen, at.domain)) return -1;
        if (strcmp(at.domain, lhost) == 0 && is_ip(lhost)) at.has_domain = false;
    } else {
        memcpy(at.domain, lhost, hlen + 1), at.domain_len = hlen;
    }
    if (at.secure && !secure) return -1; /* RFC 6265bis: no Secure cookies from plain HTTP */
    size_t cpl = at.path_len;
    const char *cpath = at.path ? at.path : default_path(path, plen, &cpl);

    /* replace the cookie with the same name, domain and path, or add one */
    size_t i = find(j, name, nl, at.domain, cpath, cpl);
    if (at.expires != COOKIE_SESSION && at.expires <= now) { /* an expiry in the past deletes */
        if (i < j->n) drop(j, i);
        return 0;
    }
    uint64_t created;
    if (i < j->n) {
        created = j->c[i].created; /* RFC 6265 5.3 step 11.3: keep the creation time */
    } else {
        long k = grow(j);
        if (k < 0) return -1;
        i = (size_t)k;
        created = ++j->seq;
    }
    fill(&j->c[i], name, nl, value, vl, &at, cpath, cpl);
    j->c[i].created = created;
    return 1;
}

/* ---- sending ---- */

int cookie_jar_header(cookie_jar_t *j, buf_t *out, const char *host, size_t hlen, const char *path,
                      size_t plen, bool secure, int64_t now)
{
    if (j == NULL || j->n == 0 || hlen == 0 || hlen > 255) return 0;
    char lhost[256];
    for (size_t i = 0; i < hlen; i++)
        lhost[i] = (char)tolower((unsigned char)host[i]);
    lhost[hlen] = '\0';
    plen = path_only(path, plen);
    if (plen == 0) path = "/", plen = 1;
    size_t pick[COOKIE_JAR_MAX], np = 0;
    for (size_t i = 0; i < j->n;) {
        cookie_t *c = &j->c[i];
        if (c->expires != COOKIE_SESSION && c->expires <= now) {
            drop(j, i);
            continue;
        }
        bool dm = c->host_only ? strcmp(cookie_domain(c), lhost) == 0
                               : domain_match(lhost, hlen, cookie_domain(c));
        if (dm && (!c->secure || secure) && path_match(path, plen, cookie_path(c))) {
            /* insertion: longer paths first, then earlier creation */
            size_t k = np++;
            size_t cl = strlen(cookie_path(c));
            while (k > 0) {
                cookie_t *o = &j->c[pick[k - 1]];
                size_t ol = strlen(cookie_path(o));
                if (ol > cl || (ol == cl && o->created < c->created)) break;
                pick[k] = pick[k - 1];
                k--;
            }
            pick[k] = i;
        }
        i++;
    }
    for (size_t k = 0; k < np; k++) {
        cookie_t *c = &j->c[pick[k]];
        if (k) buf_append(out, "; ", 2);
        buf_puts(out, cookie_name(c));
        buf_append(out, "=", 1);
        buf_puts(out, cookie_value(c));
    }
    return (int)np;
}
