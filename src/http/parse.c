/* parse: the HTTP/1.x response parser and chunked decoder.
 *
 * The header parser walks the buffer a line at a time: memchr finds each
 * '\n' (a preceding '\r' is optional, so bare LF endings pass), the status
 * line and each "name: value" are split in place, and the fields the
 * connection needs (Content-Length, chunked, keep-alive) are derived in one
 * pass over the headers at the end. It keeps no state: a short buffer gives
 * HTTP_NEED_MORE and the caller parses again from the start with more bytes.
 * Header names are checked against the token alphabet; values are only
 * trimmed, not validated (a load tester reads what the server sends).
 * Obsolete line folding is rejected.
 *
 * The chunked decoder is a state machine over bytes, so input may be cut
 * anywhere: in a size line, its extension, the CRLF after data, the data or
 * the trailers. Chunk data moves down over the framing with one memmove per
 * piece; extensions and trailers are skipped with memchr and never looked at.
 *
 * Neither allocates; results point into the caller's buffer. */
#include "http/parse.h"

#include <stdint.h>
#include <string.h>

/* RFC 9110 tchar: the bytes allowed in a header name. */
static const unsigned char tchar[256] = {
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x00 */
    0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, 0, /* 0x10 */
    0, 1, 0, 1, 1, 1, 1, 1, 0, 0, 1, 1, 0, 1, 1, 0, /* 0x20  !"#$%&'()*+,-./ */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 0, 0, 0, /* 0x30 0-9:;<=>? */
    0, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x40 @A-O */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 0, 0, 1, 1, /* 0x50 P-Z[\]^_ */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, /* 0x60 `a-o */
    1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 1, 0, 1, 0, 1, 0, /* 0x70 p-z{|}~ */
};

static inline unsigned char lower(unsigned char c)
{
    return (unsigned char)(c >= 'A' && c <= 'Z' ? c | 0x20 : c);
}

static bool is_digit(char c)
{
    return c >= '0' && c <= '9';
}

/* Eight bytes of a lower-case ASCII literal: 0x20 where it holds a letter,
 * so that (x | mask) == lit matches exactly the bytes lower() maps onto lit
 * (no carry crosses bytes: every byte is below 0x80). */
static inline uint64_t letter_mask(uint64_t y)
{
    const uint64_t ones = 0x0101010101010101ull;
    return ((y + 0x1f * ones) & ~(y + 0x05 * ones) & 0x80 * ones) >> 2;
}

static inline uint64_t load8(const char *p)
{
    uint64_t x;
    memcpy(&x, p, 8);
    return x;
}

/* Compare n bytes of a with a lower-case literal, ignoring a's case: eight
 * bytes at a time (the last word overlaps the one before it). */
static bool ieq(const char *a, const char *lit, size_t n)
{
    if (n < 8) {
        for (size_t i = 0; i < n; i++)
            if (lower((unsigned char)a[i]) != (unsigned char)lit[i]) return false;
        return true;
    }
    for (size_t i = 0;; i += 8) {
        if (i + 8 > n) i = n - 8;
        uint64_t y = load8(lit + i);
        if ((load8(a + i) | letter_mask(y)) != y) return false;
        if (i + 8 == n) return true;
    }
}

static bool is_ws(char c)
{
    return c == ' ' || c == '\t';
}

/* The next line of [p, end): returns the '\n' or NULL, and sets *eol to where
 * the line's content ends (before an optional '\r'). */
static const char *next_line(const char *p, const char *end, const char **eol)
{
    const char *nl = memchr(p, '\n', (size_t)(end - p));
    if (nl) *eol = (nl > p && nl[-1] == '\r') ? nl - 1 : nl;
    return nl;
}

/* "HTTP/1.x SSS reason" in [p, eol). */
static int parse_status(const char *p, const char *eol, http_response_t *res)
{
    if (eol - p < 12 || memcmp(p, "HTTP/1.", 7) != 0) return HTTP_ERROR;
    if (!is_digit(p[7]) || p[8] != ' ') return HTTP_ERROR;
    res->minor_version = p[7] - '0';
    int status = 0;
    for (int i = 9; i < 12; i++) {
        if (!is_digit(p[i])) return HTTP_ERROR;
        status = status * 10 + (p[i] - '0');
    }
    if (status < 100) return HTTP_ERROR;
    res->status = status;
    p += 12;
    /* "HTTP/1.1 200\r\n" is seen in the wild: the reason is optional. */
    if (p < eol && *p++ != ' ') return HTTP_ERROR;
    while (eol > p && is_ws(eol[-1]))
        eol--;
    res->reason = p;
    res->reason_len = (size_t)(eol - p);
    return 0;
}

/* "name: value" in [p, eol). */
static int parse_header(const char *p, const char *eol, http_header_t *h)
{
    const char *q = p;
    /* *eol is '\r' or '\n', not a tchar: the scan stops there at the latest
     * (each byte is read only after the one before it was a tchar) */
    while (tchar[(unsigned char)q[0]] && tchar[(unsigned char)q[1]] && tchar[(unsigned char)q[2]] &&
           tchar[(unsigned char)q[3]])
        q += 4;
    while (tchar[(unsigned char)*q])
        q++;
    /* Whitespace before the colon is forbidden (RFC 9112 5.1). */
    if (q == p || q == eol || *q != ':') return HTTP_ERROR;
    h->name = p;
    h->name_len = (size_t)(q - p);
    for (q++; q < eol && is_ws(*q); q++)
        ;
    while (eol > q && is_ws(eol[-1]))
        eol--;
    h->value = q;
    h->value_len = (size_t)(eol - q);
    return 0;
}

/* Call fn on each comma-separated, trimmed, non-empty element of a value. */
typedef void (*elem_fn)(const char *s, size_t n, void *ud);
static void each_elem(const http_header_t *h, elem_fn fn, void *ud)
{
    const char *p = h->value, *end = p + h->value_len;
    while (p < end) {
        const char *c = memchr(p, ',', (size_t)(end - p));
        const char *e = c ? c : end;
        const char *s = p;
        while (s < e && is_ws(*s))
            s++;
        while (e > s && is_ws(e[-1]))
            e--;
        if (e > s) fn(s, (size_t)(e - s), ud);
        p = c ? c + 1 : end;
    }
}

struct conn_opts {
    bool close, keep_alive;
};

static void conn_elem(const char *s, size_t n, void *ud)
{
    struct conn_opts *o = ud;
    if (n == 5 && ieq(s, "close", 5)) o->close = true;
    if (n == 10 && ieq(s, "keep-alive", 10)) o->keep_alive = true;
}

static void te_elem(const char *s, size_t n, void *ud)
{
    /* Only the last coding counts, so every element overwrites. */
    *(bool *)ud = n == 7 && ieq(s, "chunked", 7);
}

static int parse_length(const http_header_t *h, int64_t *out)
{
    int64_t v = 0;
    if (h->value_len == 0) return HTTP_ERROR;
    for (size_t i = 0; i < h->value_len; i++) {
        unsigned d = (unsigned)(h->value[i] - '0');
        if (d >= 10 || v > (INT64_MAX - (int64_t)d) / 10) return HTTP_ERROR;
        v = v * 10 + (int64_t)d;
    }
    *out = v;
    return 0;
}

/* Fill content_length, chunked and keep_alive from the headers. */
static int derive(http_response_t *res)
{
    struct conn_opts conn = {false, false};
    bool te = false;
    res->content_length = -1;
    res->chunked = false;
    for (size_t i = 0; i < res->num_headers; i++) {
        const http_header_t *h = &res->headers[i];
        int64_t n;
        switch (h->name_len) {
        case 10:
            if (!ieq(h->name, "connection", 10)) break;
            if (h->value_len == 10 && ieq(h->value, "keep-alive", 10))
                conn.keep_alive = true; /* the usual value, a single element */
            else
                each_elem(h, conn_elem, &conn);
            break;
        case 14:
            if (!ieq(h->name, "content-length", 14)) break;
            if (parse_length(h, &n) != 0) return HTTP_ERROR;
            if (res->content_length >= 0 && res->content_length != n) return HTTP_ERROR;
            res->content_length = n;
            break;
        case 17:
            if (!ieq(h->name, "transfer-encoding", 17)) break;
            te = true;
            each_elem(h, te_elem, &res->chunked);
            break;
        }
    }
    /* Transfer-Encoding overrides Content-Length (RFC 9112 6.3); when its
     * last coding is not chunked the body runs until the server closes. */
    if (te) res->content_length = -1;
    if (conn.close)
        res->keep_alive = false;
    else
        res->keep_alive = res->minor_version >= 1 || conn.keep_alive;
    return 0;
}

ssize_t http_parse_response(const char *buf, size_t len, http_response_t *res)
{
    const char *p = buf, *end = buf + len, *eol, *nl;
    res->num_headers = 0;
    nl = next_line(p, end, &eol);
    if (!nl) {
        /* Fail early on a peer that is not speaking HTTP at all. */
        size_t n = len < 7 ? len : 7;
        return memcmp(buf, "HTTP/1.", n) == 0 ? HTTP_NEED_MORE : HTTP_ERROR;
    }
    if (parse_status(p, eol, res) != 0) return HTTP_ERROR;
    for (p = nl + 1;; p = nl + 1) {
        if (!(nl = next_line(p, end, &eol))) return HTTP_NEED_MORE;
        if (eol == p) break;
        if (is_ws(*p)) return HTTP_ERROR; /* obs-fold */
        if (res->num_headers == HTTP_MAX_HEADERS) return HTTP_ERROR;
        if (parse_header(p, eol, &res->headers[res->num_headers]) != 0) return HTTP_ERROR;
        res->num_headers++;
    }
    if (derive(res) != 0) return HTTP_ERROR;
    return (ssize_t)(nl + 1 - buf);
}

enum http_body_mode http_body_mode(const http_response_t *res, const char *method)
{
    if (method && strcmp(method, "HEAD") == 0) return HTTP_BODY_NONE;
    if (res->status < 200 || res->status == 204 || res->status == 304) return HTTP_BODY_NONE;
    if (res->chunked) return HTTP_BODY_CHUNKED;
    if (res->content_length >= 0) return HTTP_BODY_LENGTH;
    return HTTP_BODY_CLOSE;
}

const http_header_t *http_find_header(const http_response_t *res, const char *name)
{
    size_t n = strlen(name);
    for (size_t i = 0; i < res->num_headers; i++) {
        const http_header_t *h = &res->headers[i];
        if (h->name_len != n) continue;
        size_t j = 0;
        while (j < n && lower((unsigned char)h->name[j]) == lower((unsigned char)name[j]))
            j++;
        if (j == n) return h;
    }
    return NULL;
}

/* Chunked decoder states; zero is the start of a size line. */
enum {
    C_SIZE0,        /* size line, no digit yet */
    C_SIZE,         /* size line, in the hex digits */
    C_EXT,          /* size line, skipping an extension up to '\n' */
    C_SIZE_LF,      /* size line, '\r' seen */
    C_DATA,         /* in chunk data, `remaining` bytes left */
    C_DATA_CR,      /* after data: '\r' or '\n' */
    C_DATA_LF,      /* after data and '\r': '\n' */
    C_TRAILER,      /* at the start of a trailer line (or the final empty one) */
    C_TRAILER_LINE, /* in a trailer line, skipping to '\n' */
    C_TRAILER_LF,   /* final empty line, '\r' seen */
    C_DONE,
};

static inline int hexval(unsigned char c)
{
    if (c >= '0' && c <= '9') return c - '0';
    c |= 0x20;
    if (c >= 'a' && c <= 'f') return c - 'a' + 10;
    return -1;
}

/* The size line ended: data follows, or the trailers after the last chunk. */
static void end_size(http_chunked_t *c)
{
    c->size = c->remaining;
    c->state = c->remaining ? C_DATA : C_TRAILER;
}

/* Digits of a size line from buf[*in]; on a delimiter, moves to the next
 * state. Returns HTTP_ERROR on a bad byte or overflow, else 0. */
static int scan_size(http_chunked_t *c, const char *buf, size_t *in, size_t n)
{
    size_t i = *in;
    int d;
    while (i < n && (d = hexval((unsigned char)buf[i])) >= 0) {
        if (c->remaining > (UINT64_MAX >> 4)) return HTTP_ERROR;
        c->remaining = c->remaining << 4 | (uint64_t)d;
        c->state = C_SIZE;
        i++;
    }
    *in = i;
    if (i == n) return 0;
    if (c->state == C_SIZE0) return HTTP_ERROR;
    switch (buf[i]) {
    case ';': /* extension; whitespace is allowed before it (BWS) */
    case ' ':
    case '\t':
        c->state = C_EXT;
        return 0;
    case '\r':
        c->state = C_SIZE_LF;
        break;
    case '\n':
        end_size(c);
        break;
    default:
        return HTTP_ERROR;
    }
    *in = i + 1;
    return 0;
}

/* Skip to just past the next '\n'; returns whether one was found. */
static bool skip_line(const char *buf, size_t *in, size_t n)
{
    const char *nl = memchr(buf + *in, '\n', n - *in);
    *in = nl ? (size_t)(nl - buf) + 1 : n;
    return nl != NULL;
}

ssize_t http_decode_chunked(http_chunked_t *c, char *buf, size_t *len)
{
    size_t in = 0, out = 0, n = *len;
    while (in < n && c->state != C_DONE) {
        char ch = buf[in];
        switch (c->state) {
        case C_SIZE0:
        case C_SIZE:
            if (scan_size(c, buf, &in, n) != 0) goto error;
            break;
        case C_EXT:
            if (skip_line(buf, &in, n)) end_size(c);
            break;
        case C_SIZE_LF:
            if (ch != '\n') goto error;
            in++;
            end_size(c);
            break;
        case C_DATA: {
            size_t take = n - in;
            if (c->remaining < take) take = (size_t)c->remaining;
            if (out != in) memmove(buf + out, buf + in, take);
            out += take;
            in += take;
            c->remaining -= take;
            if (c->remaining == 0) c->state = C_DATA_CR;
            break;
        }
        case C_DATA_CR:
            if (ch != '\r' && ch != '\n') goto error;
            c->state = ch == '\r' ? C_DATA_LF : C_SIZE0;
            in++;
            break;
        case C_DATA_LF:
            if (ch != '\n') goto error;
            c->state = C_SIZE0;
            in++;
            break;
        case C_TRAILER:
            if (ch == '\r' || ch == '\n') {
                c->state = ch == '\r' ? C_TRAILER_LF : C_DONE;
                in++;
            } else {
                c->state = C_TRAILER_LINE;
            }
            break;
        case C_TRAILER_LINE:
            if (skip_line(buf, &in, n)) c->state = C_TRAILER;
            break;
        case C_TRAILER_LF:
            if (ch != '\n') goto error;
            c->state = C_DONE;
            in++;
            break;
        default:
            goto error;
        }
    }
    *len = out;
    if (c->state != C_DONE) return HTTP_NEED_MORE;
    if (out != in) memmove(buf + out, buf + in, n - in);
    return (ssize_t)(n - in);
error:
    *len = out;
    return HTTP_ERROR;
}

int http_chunked_cut(const http_chunked_t *c, uint64_t *got, uint64_t *want)
{
    switch (c->state) {
    case C_DATA: /* requests reads a chunk's data in one piece */
        *got = c->size - c->remaining, *want = c->remaining;
        return HTTP_CHUNK_DATA;
    case C_DATA_CR: /* ...then its CRLF in another */
        *got = 0, *want = 2;
        return HTTP_CHUNK_DATA;
    case C_DATA_LF:
        *got = 1, *want = 1;
        return HTTP_CHUNK_DATA;
    case C_EXT:
    case C_SIZE_LF:
        /* the size is known: a last chunk's line cut short is the end */
        if (c->remaining == 0) return HTTP_CHUNK_TAIL;
        *got = 0, *want = c->remaining;
        return HTTP_CHUNK_DATA;
    case C_SIZE0:
    case C_SIZE:
        *got = c->remaining, *want = c->state == C_SIZE;
        return HTTP_CHUNK_SIZE;
    default:
        return HTTP_CHUNK_TAIL;
    }
}
