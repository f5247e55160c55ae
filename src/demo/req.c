/* req: the demo site's request-head parser (see req.h).
 *
 * One forward pass: skip empty lines, read the request line, then header
 * lines until an empty one. Lines may end in CRLF or a bare LF (lenient, as
 * most servers are). Incomplete input is PARTIAL unless it is already longer
 * than DEMO_HEAD_MAX, so a caller that re-parses from the start on each read
 * does at most DEMO_HEAD_MAX work per read. Obsolete line folding, spaces
 * before a header's colon and control bytes are BAD (RFC 9112 5.1). */
#include "demo/req.h"

#include <string.h>

/* A token character of RFC 9110 5.6.2. */
static int is_tchar(unsigned char c)
{
    if (c >= '0' && c <= '9') return 1;
    if ((c | 0x20) >= 'a' && (c | 0x20) <= 'z') return 1;
    return c != 0 && strchr("!#$%&'*+-.^_`|~", c) != NULL;
}

static int lower(int c)
{
    return c >= 'A' && c <= 'Z' ? c + 32 : c;
}

int demo_str_eq(struct demo_str s, const char *lit)
{
    size_t n = strlen(lit);
    if (s.n != n) return 0;
    for (size_t i = 0; i < n; i++)
        if (lower((unsigned char)s.p[i]) != lower((unsigned char)lit[i])) return 0;
    return 1;
}

/* Find the end of the line starting at p: returns the index of its '\n' (the
 * line's text is p[0, *textlen)), or -1 if there is none before end. */
static long line_end(const char *p, const char *end, size_t *textlen)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (!nl) return -1;
    size_t n = (size_t)(nl - p);
    if (n > 0 && p[n - 1] == '\r') n--;
    *textlen = n;
    return nl - p;
}

static int parse_request_line(const char *p, size_t n, struct demo_req *rq)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ' ') return -1;
    rq->method = (struct demo_str){p, i};
    size_t t = ++i;
    while (i < n && (unsigned char)p[i] > ' ' && p[i] != 0x7f)
        i++;
    if (i == t || i >= n || p[i] != ' ') return -1;
    rq->target = (struct demo_str){p + t, i - t};
    i++;
    if (n - i != 8 || memcmp(p + i, "HTTP/1.", 7) != 0) return -1;
    if (p[i + 7] < '0' || p[i + 7] > '9') return -1;
    rq->minor = p[i + 7] - '0';
    return 0;
}

/* Split the target into path and query; absolute-form ("http://h/p") is cut
 * down to its path, since a proxy-style client may send it. */
static int split_target(struct demo_req *rq)
{
    const char *p = rq->target.p, *end = p + rq->target.n;
    if (*p != '/') {
        const char *s = memchr(p, ':', (size_t)(end - p));
        if (!s || end - s < 3 || s[1] != '/' || s[2] != '/') return -1;
        p = memchr(s + 3, '/', (size_t)(end - s - 3));
        if (!p) p = "/", end = p + 1;
    }
    const char *hash = memchr(p, '#', (size_t)(end - p));
    if (hash) end = hash;
    const char *q = memchr(p, '?', (size_t)(end - p));
    rq->path = (struct demo_str){p, (size_t)((q ? q : end) - p)};
    rq->query = q ? (struct demo_str){q + 1, (size_t)(end - q - 1)} : (struct demo_str){end, 0};
    return 0;
}

static int parse_length(struct demo_str v, long *out)
{
    long n = 0;
    if (v.n == 0 || v.n > 15) return -1; /* 15 digits: far past any limit, no overflow */
    for (size_t i = 0; i < v.n; i++) {
        if (v.p[i] < '0' || v.p[i] > '9') return -1;
        n = n * 10 + (v.p[i] - '0');
    }
    if (*out >= 0 && *out != n) return -1; /* two different lengths: smuggling */
    *out = n;
    return 0;
}

/* Connection is a comma-separated list of options; only two matter here. */
static void parse_connection(struct demo_str v, struct demo_req *rq)
{
    size_t i = 0;
    while (i < v.n) {
        while (i < v.n && (v.p[i] == ',' || v.p[i] == ' ' || v.p[i] == '\t'))
            i++;
        size_t s = i;
        while (i < v.n && v.p[i] != ',' && v.p[i] != ' ' && v.p[i] != '\t')
            i++;
        struct demo_str opt = {v.p + s, i - s};
        if (demo_str_eq(opt, "close"))
            rq->keep_alive = 0;
        else if (demo_str_eq(opt, "keep-alive") && rq->minor == 0)
            rq->keep_alive = 1;
    }
}

/* Parse "Name: value" (text without its line end) and note what matters. */
static int parse_header(const char *p, size_t n, struct demo_req *rq, long *length)
{
    size_t i = 0;
    while (i < n && is_tchar((unsigned char)p[i]))
        i++;
    if (i == 0 || i >= n || p[i] != ':') return -1;
    struct demo_str name = {p, i};
    for (i++; i < n && (p[i] == ' ' || p[i] == '\t'); i++) {
    }
    size_t e = n;
    while (e > i && (p[e - 1] == ' ' || p[e - 1] == '\t'))
        e--;
    for (size_t k = i; k < e; k++)
        if (((unsigned char)p[k] < ' ' && p[k] != '\t') || p[k] == 0x7f) return -1;
    struct demo_str value = {p + i, e - i};
    if (rq->nheaders == DEMO_MAX_HEADERS) return -2;
    rq->name[rq->nheaders] = name;
    rq->value[rq->nheaders++] = value;
    if (demo_str_eq(name, "content-length")) return parse_length(value, length);
    if (demo_str_eq(name, "transfer-encoding"))
        rq->has_te = 1;
    else if (demo_str_eq(name, "connection"))
        parse_connection(value, rq);
    else if (demo_str_eq(name, "content-type"))
        rq->content_type = value;
    else if (demo_str_eq(name, "cookie"))
        rq->cookie = value;
    return 0;
}

long demo_req_parse(const char *buf, size_t len, struct demo_req *rq)
{
    const char *p = buf, *end = buf + (len > DEMO_HEAD_MAX ? DEMO_HEAD_MAX : len);
    size_t n;
    long nl;
    int full = len >= DEMO_HEAD_MAX;

    while (p < end && (*p == '\r' || *p == '\n'))
        p++;
    if ((nl = line_end(p, end, &n)) < 0) goto more;
    memset(rq, 0, offsetof(struct demo_req, name));
    if (parse_request_line(p, n, rq) < 0 || split_target(rq) < 0) return DEMO_REQ_BAD;
    rq->keep_alive = rq->minor >= 1;
    long length = -1;
    for (p += nl + 1;; p += nl + 1) {
        if ((nl = line_end(p, end, &n)) < 0) goto more;
        if (n == 0) break;
        if (*p == ' ' || *p == '\t') return DEMO_REQ_BAD; /* obsolete line folding */
        int r = parse_header(p, n, rq, &length);
        if (r == -2) return DEMO_REQ_TOOBIG;
        if (r < 0) return DEMO_REQ_BAD;
    }
    rq->content_length = length < 0 ? 0 : length;
    return (long)(p + nl + 1 - buf);
more:
    return full ? DEMO_REQ_TOOBIG : DEMO_REQ_PARTIAL;
}
