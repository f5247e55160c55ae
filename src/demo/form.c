/* form: the demo site's small format helpers (see form.h).
 *
 * The JSON reader does not build a tree: it walks the text looking for a
 * string that is followed by ':' and equals "user" or "username", and
 * decodes the string after it. That finds the field in any object a client
 * sends to /login, and it is not meant to validate JSON. */
#include "demo/form.h"

#include <string.h>

static int hexval(int c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    return c >= 'a' && c <= 'f' ? c - 'a' + 10 : -1;
}

int demo_form_get(struct demo_str form, const char *key, struct demo_str *value)
{
    size_t klen = strlen(key), i = 0;
    while (i < form.n) {
        size_t s = i;
        while (i < form.n && form.p[i] != '&')
            i++;
        const char *p = form.p + s;
        size_t n = i - s;
        if (n >= klen && memcmp(p, key, klen) == 0 && (n == klen || p[klen] == '=')) {
            *value = n == klen ? (struct demo_str){p + n, 0}
                               : (struct demo_str){p + klen + 1, n - klen - 1};
            return 1;
        }
        i++;
    }
    return 0;
}

/* Decode a url-encoded value ('+' and %XX) into dst; -2 if it does not fit. */
static long url_decode(struct demo_str v, char *dst, size_t cap)
{
    size_t n = 0;
    for (size_t i = 0; i < v.n; i++) {
        int c = (unsigned char)v.p[i];
        if (c == '+')
            c = ' ';
        else if (c == '%' && i + 2 < v.n) {
            int h = hexval(v.p[i + 1]), l = hexval(v.p[i + 2]);
            if (h >= 0 && l >= 0) c = h * 16 + l, i += 2; /* else keep a literal '%' */
        }
        if (n + 1 >= cap) return -2;
        dst[n++] = (char)c;
    }
    dst[n] = 0;
    return (long)n;
}

static long form_user(struct demo_str body, char *dst, size_t cap)
{
    struct demo_str v;
    if (!demo_form_get(body, "user", &v) && !demo_form_get(body, "username", &v)) return -1;
    return url_decode(v, dst, cap);
}

/* Append a code point as UTF-8; surrogates (unpaired here) become '?'. */
static size_t put_utf8(char *d, unsigned cp)
{
    if (cp >= 0xd800 && cp <= 0xdfff) cp = '?';
    if (cp < 0x80) return d[0] = (char)cp, 1;
    if (cp < 0x800) {
        d[0] = (char)(0xc0 | cp >> 6), d[1] = (char)(0x80 | (cp & 0x3f));
        return 2;
    }
    d[0] = (char)(0xe0 | cp >> 12), d[1] = (char)(0x80 | ((cp >> 6) & 0x3f));
    d[2] = (char)(0x80 | (cp & 0x3f));
    return 3;
}

/* Decode the JSON string starting at p[*i] == '"' into dst[0, cap) and move
 * *i past its closing quote. Returns its length, -1 if it is unterminated,
 * -2 if it does not fit (still moving *i past it). */
static long json_string(const char *p, size_t n, size_t *i, char *dst, size_t cap)
{
    size_t k = *i + 1, len = 0;
    int over = 0;
    while (k < n && p[k] != '"') {
        char tmp[4];
        size_t m = 1;
        tmp[0] = p[k++];
        if (tmp[0] == '\\' && k < n) {
            char e = p[k++];
            const char *from = "\"\\/bfnrt", *to = "\"\\/\b\f\n\r\t", *at = strchr(from, e);
            if (e == 'u' && k + 4 <= n) {
                unsigned cp = 0;
                for (int j = 0; j < 4; j++) {
                    int h = hexval(p[k + j]);
                    cp = cp * 16 + (unsigned)(h < 0 ? 0 : h);
                }
                k += 4;
                m = put_utf8(tmp, cp);
            } else {
                tmp[0] = at && e ? to[at - from] : e;
            }
        }
        if (len + m >= cap) {
            over = 1;
        } else {
            memcpy(dst + len, tmp, m);
            len += m;
        }
    }
    if (k >= n) return -1;
    *i = k + 1;
    dst[len] = 0;
    return over ? -2 : (long)len;
}

static size_t skip_ws(const char *p, size_t n, size_t i)
{
    while (i < n && (p[i] == ' ' || p[i] == '\t' || p[i] == '\r' || p[i] == '\n'))
        i++;
    return i;
}

static long json_user(struct demo_str body, char *dst, size_t cap)
{
    const char *p = body.p;
    size_t n = body.n, i = 0;
    while (i < n) {
        char key[16];
        if (p[i] != '"') {
            i++;
            continue;
        }
        long k = json_string(p, n, &i, key, sizeof key);
        if (k == -1) return -1;
        i = skip_ws(p, n, i);
        if (i >= n || p[i] != ':') continue;
        if (k < 0 || (strcmp(key, "user") != 0 && strcmp(key, "username") != 0)) continue;
        i = skip_ws(p, n, i + 1);
        if (i >= n || p[i] != '"') return -1; /* not a string: no user */
        return json_string(p, n, &i, dst, cap);
    }
    return -1;
}

static int contains(struct demo_str s, const char *word)
{
    size_t w = strlen(word);
    for (size_t i = 0; i + w <= s.n; i++)
        if (demo_str_eq((struct demo_str){s.p + i, w}, word)) return 1;
    return 0;
}

long demo_find_user(struct demo_str content_type, struct demo_str body, char *dst, size_t cap)
{
    if (contains(content_type, "json")) return json_user(body, dst, cap);
    return form_user(body, dst, cap);
}

long demo_session_user(struct demo_str cookie, char *dst, size_t cap)
{
    struct demo_str v = {NULL, 0};
    size_t i = 0;
    while (i < cookie.n) { /* "a=1; session=...; b=2" */
        while (i < cookie.n && (cookie.p[i] == ' ' || cookie.p[i] == ';'))
            i++;
        size_t s = i;
        while (i < cookie.n && cookie.p[i] != ';')
            i++;
        if (i - s > 8 && memcmp(cookie.p + s, "session=", 8) == 0)
            v = (struct demo_str){cookie.p + s + 8, i - s - 8};
    }
    if (!v.p) return -1;
    if (v.n % 2) return -1;
    if (v.n / 2 + 1 > cap) return -2;
    for (size_t k = 0; k < v.n; k += 2) {
        int h = hexval(v.p[k]), l = hexval(v.p[k + 1]);
        if (h < 0 || l < 0) return -1;
        dst[k / 2] = (char)(h * 16 + l);
    }
    dst[v.n / 2] = 0;
    return (long)(v.n / 2);
}

void demo_hex(char *dst, const char *p, size_t n)
{
    static const char digits[] = "0123456789abcdef";
    for (size_t i = 0; i < n; i++) {
        dst[2 * i] = digits[(unsigned char)p[i] >> 4];
        dst[2 * i + 1] = digits[(unsigned char)p[i] & 15];
    }
    dst[2 * n] = 0;
}

static void quote(struct demo_buf *b, const char *p, size_t n, int lower)
{
    char *d = demo_buf_reserve(b, 6 * n + 2), *start = d; /* worst case: all \u00XX */
    *d++ = '"';
    for (size_t i = 0; i < n; i++) {
        unsigned char c = (unsigned char)p[i];
        if (c == '"' || c == '\\') {
            *d++ = '\\';
            *d++ = (char)c;
        } else if (c < 0x20) {
            static const char digits[] = "0123456789abcdef";
            memcpy(d, "\\u00", 4);
            d[4] = digits[c >> 4], d[5] = digits[c & 15];
            d += 6;
        } else {
            *d++ = (char)(lower && c >= 'A' && c <= 'Z' ? c + 32 : c);
        }
    }
    *d++ = '"';
    b->len += (size_t)(d - start);
}

void demo_json_quote(struct demo_buf *b, const char *p, size_t n)
{
    quote(b, p, n, 0);
}

void demo_json_quote_lower(struct demo_buf *b, const char *p, size_t n)
{
    quote(b, p, n, 1);
}
