/* http: see http.h. The head must end in CRLF CRLF; lines end in CRLF (a
 * bare LF is accepted too, as most servers do). Header values have their
 * surrounding spaces trimmed; obsolete line folding is refused. */
#include "web/http.h"

#include <stdlib.h>
#include <string.h>
#include <strings.h>

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

/* %-decode s[0..len) into out (size n); '+' is a space if plus. Returns the
 * length, or -1 if it does not fit or decodes to a NUL. */
static long decode(const char *s, size_t len, char *out, size_t n, bool plus)
{
    size_t o = 0;
    for (size_t i = 0; i < len; i++) {
        int ch = (unsigned char)s[i];
        if (ch == '%') {
            int hi = i + 1 < len ? hexval((unsigned char)s[i + 1]) : -1;
            int lo = i + 2 < len ? hexval((unsigned char)s[i + 2]) : -1;
            if (hi >= 0 && lo >= 0) {
                ch = hi * 16 + lo;
                i += 2;
            }
        } else if (ch == '+' && plus) {
            ch = ' ';
        }
        if (ch == 0 || o + 1 >= n) return -1;
        out[o++] = (char)ch;
    }
    out[o] = '\0';
    return (long)o;
}

static bool token_char(int ch)
{
    return ch > 32 && ch < 127 && !strchr("()<>@,;:\\\"/[]?={}", ch);
}

/* The end of the line starting at p (before CR LF or LF), or NULL. */
static const char *line_end(const char *p, const char *end, const char **next)
{
    const char *lf = memchr(p, '\n', (size_t)(end - p));
    if (lf == NULL) return NULL;
    *next = lf + 1;
    return lf > p && lf[-1] == '\r' ? lf - 1 : lf;
}

static bool value_has(const char *v, size_t n, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= n; i++)
        if (strncasecmp(v + i, word, w) == 0) return true;
    return false;
}

long http_parse(const char *buf, size_t len, http_req_t *req)
{
    const char *p = buf, *end = buf + len, *next;
    while (p < end && (*p == '\r' || *p == '\n')) /* RFC 9112: ignore a leading blank line */
        p++;
    const char *le = line_end(p, end, &next);
    if (le == NULL) return HTTP_NEED_MORE;

    /* request line: METHOD SP target SP HTTP/1.x */
    const char *sp1 = memchr(p, ' ', (size_t)(le - p));
    if (sp1 == NULL || sp1 == p) return HTTP_BAD;
    for (const char *q = p; q < sp1; q++)
        if (!token_char((unsigned char)*q)) return HTTP_BAD;
    const char *t = sp1 + 1;
    const char *sp2 = memchr(t, ' ', (size_t)(le - t));
    if (sp2 == NULL || sp2 == t || le - sp2 != 9 || memcmp(sp2 + 1, "HTTP/1.", 7) != 0 ||
        (sp2[8] != '0' && sp2[8] != '1'))
        return HTTP_BAD;
    http_req_t r = {.method = p,
                    .method_len = (size_t)(sp1 - p),
                    .target = t,
                    .target_len = (size_t)(sp2 - t),
                    .minor = sp2[8] - '0',
                    .content_length = -1};
    for (const char *q = t; q < sp2; q++)
        if ((unsigned char)*q <= 32 || *q == 127) return HTTP_BAD;
    if (*t != '/') return HTTP_BAD; /* origin-form only: no proxy requests */
    const char *qm = memchr(t, '?', r.target_len);
    const char *pend = qm ? qm : sp2;
    if (qm) {
        r.query = qm + 1;
        r.query_len = (size_t)(sp2 - qm - 1);
    }
    if (decode(t, (size_t)(pend - t), r.path, sizeof r.path, false) < 0) return HTTP_TOO_MANY;

    bool conn_close = false, conn_keep = false;
    for (p = next;;) {
        le = line_end(p, end, &next);
        if (le == NULL) return HTTP_NEED_MORE;
        if (le == p) break;                           /* the blank line */
        if (*p == ' ' || *p == '\t') return HTTP_BAD; /* folding */
        const char *colon = memchr(p, ':', (size_t)(le - p));
        if (colon == NULL || colon == p) return HTTP_BAD;
        for (const char *q = p; q < colon; q++)
            if (!token_char((unsigned char)*q)) return HTTP_BAD;
        const char *v = colon + 1, *ve = le;
        while (v < ve && (*v == ' ' || *v == '\t'))
            v++;
        while (ve > v && (ve[-1] == ' ' || ve[-1] == '\t'))
            ve--;
        if (r.nheaders == HTTP_MAX_HEADERS) return HTTP_TOO_MANY;
        http_header_t *h = &r.headers[r.nheaders++];
        *h = (http_header_t){p, v, (size_t)(colon - p), (size_t)(ve - v)};
        if (h->name_len == 14 && strncasecmp(p, "Content-Length", 14) == 0) {
            if (h->value_len == 0 || h->value_len > 15) return HTTP_BAD;
            long long n = 0;
            for (size_t i = 0; i < h->value_len; i++) {
                if (v[i] < '0' || v[i] > '9') return HTTP_BAD;
                n = n * 10 + (v[i] - '0');
            }
            /* two different lengths: request smuggling, refuse */
            if (r.content_length >= 0 && r.content_length != n) return HTTP_BAD;
            r.content_length = n;
        } else if (h->name_len == 17 && strncasecmp(p, "Transfer-Encoding", 17) == 0) {
            r.chunked = true;
        } else if (h->name_len == 10 && strncasecmp(p, "Connection", 10) == 0) {
            conn_close |= value_has(v, h->value_len, "close");
            conn_keep |= value_has(v, h->value_len, "keep-alive");
        }
        p = next;
    }
    for (const char *q = buf; q < next; q++)
        if (*q == '\0') return HTTP_BAD;
    r.keep_alive = r.minor == 1 ? !conn_close : conn_keep && !conn_close;
    *req = r;
    return (long)(next - buf);
}

static const http_header_t *find(const http_req_t *req, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < req->nheaders; i++)
        if (req->headers[i].name_len == n && strncasecmp(req->headers[i].name, name, n) == 0)
            return &req->headers[i];
    return NULL;
}

const char *http_header(const http_req_t *req, const char *name, char *out, size_t n)
{
    const http_header_t *h = find(req, name);
    if (h == NULL || n == 0) return NULL;
    size_t k = h->value_len < n - 1 ? h->value_len : n - 1;
    memcpy(out, h->value, k);
    out[k] = '\0';
    return out;
}

bool http_has(const http_req_t *req, const char *name)
{
    return find(req, name) != NULL;
}

int http_form_var_nth(const char *data, size_t len, const char *key, size_t nth, char *out,
                      size_t n)
{
    size_t klen = strlen(key);
    const char *p = data, *end = data + len;
    while (p < end) {
        const char *amp = memchr(p, '&', (size_t)(end - p));
        const char *pe = amp ? amp : end;
        const char *eq = memchr(p, '=', (size_t)(pe - p));
        const char *ke = eq ? eq : pe;
        char name[256];
        if (decode(p, (size_t)(ke - p), name, sizeof name, true) == (long)klen &&
            memcmp(name, key, klen) == 0 && nth-- == 0) {
            const char *v = eq ? eq + 1 : pe;
            long got = decode(v, (size_t)(pe - v), out, n, true);
            return got < 0 ? -2 : (int)got;
        }
        p = pe + 1;
    }
    return -1;
}

int http_form_var(const char *data, size_t len, const char *key, char *out, size_t n)
{
    return http_form_var_nth(data, len, key, 0, out, n);
}

const char *http_status_text(int status)
{
    switch (status) {
    case 100:
        return "Continue";
    case 101:
        return "Switching Protocols";
    case 200:
        return "OK";
    case 308:
        return "Permanent Redirect";
    case 400:
        return "Bad Request";
    case 401:
        return "Unauthorized";
    case 403:
        return "Forbidden";
    case 404:
        return "Not Found";
    case 405:
        return "Method Not Allowed";
    case 408:
        return "Request Timeout";
    case 413:
        return "Payload Too Large";
    case 415:
        return "Unsupported Media Type";
    case 426:
        return "Upgrade Required";
    case 431:
        return "Request Header Fields Too Large";
    case 500:
        return "Internal Server Error";
    case 501:
        return "Not Implemented";
    case 503:
        return "Service Unavailable";
    default:
        return "Unknown";
    }
}
