/* test_parse: the response parser and chunked decoder.
 *
 * Every input is copied so that it ends right before a PROT_NONE page, so
 * reading one byte past the end crashes the test (picohttpparser's habit).
 * Realistic responses go through a small simulated client that feeds the
 * wire bytes in two pieces split at every position, then one byte at a time,
 * and must always get the same status, body and leftover bytes. */
#include "http/parse.h"

#include "check.h"

#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#define ARENA_PAGES 8

static char *arena;
static size_t arena_len;

static void guard_init(void)
{
    size_t page = (size_t)sysconf(_SC_PAGESIZE);
    arena_len = ARENA_PAGES * page;
    arena =
        mmap(NULL, arena_len + page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    if (arena == MAP_FAILED || mprotect(arena + arena_len, page, PROT_NONE) != 0) abort();
}

/* Copy n bytes so that they end at the unreadable page; returns their start. */
static char *at_edge(const char *s, size_t n)
{
    if (n > arena_len) abort();
    char *p = arena + arena_len - n;
    memmove(p, s, n);
    return p;
}

static ssize_t parse(const char *s, size_t n, http_response_t *res)
{
    return http_parse_response(at_edge(s, n), n, res);
}

static ssize_t parse_str(const char *s, http_response_t *res)
{
    return parse(s, strlen(s), res);
}

/* ---- the simulated client ---- */

typedef struct rcase {
    const char *name;
    const char *method;
    const char *wire;  /* one response */
    const char *after; /* bytes that follow it on the wire (not for CLOSE) */
    int status;
    enum http_body_mode mode;
    bool keep_alive;
    const char *body;
} rcase_t;

typedef struct result {
    bool error, done;
    int status;
    enum http_body_mode mode;
    bool keep_alive;
    char body[16384];
    size_t body_len;
    char rest[4096];
    size_t rest_len;
} result_t;

static char wire_buf[16384];

static void append(char *dst, size_t *dlen, size_t cap, const char *s, size_t n)
{
    if (*dlen + n > cap) abort();
    memcpy(dst + *dlen, s, n);
    *dlen += n;
}

/* Feed body bytes s[0..n) to the body reader; sets r->done when the body ends
 * and keeps what follows it in r->rest. */
static void body_bytes(result_t *r, http_chunked_t *ch, int64_t *left, const char *s, size_t n)
{
    if (r->done) {
        append(r->rest, &r->rest_len, sizeof r->rest, s, n);
        return;
    }
    switch (r->mode) {
    case HTTP_BODY_NONE:
        r->done = true;
        append(r->rest, &r->rest_len, sizeof r->rest, s, n);
        break;
    case HTTP_BODY_LENGTH: {
        size_t take = (int64_t)n < *left ? n : (size_t)*left;
        append(r->body, &r->body_len, sizeof r->body, s, take);
        *left -= (int64_t)take;
        if (*left == 0) r->done = true;
        append(r->rest, &r->rest_len, sizeof r->rest, s + take, n - take);
        break;
    }
    case HTTP_BODY_CHUNKED: {
        char *p = at_edge(s, n);
        size_t len = n;
        ssize_t ret = http_decode_chunked(ch, p, &len);
        append(r->body, &r->body_len, sizeof r->body, p, len);
        if (ret == HTTP_ERROR) r->error = true;
        if (ret >= 0) {
            r->done = true;
            append(r->rest, &r->rest_len, sizeof r->rest, p + len, (size_t)ret);
        }
        break;
    }
    case HTTP_BODY_CLOSE:
        append(r->body, &r->body_len, sizeof r->body, s, n);
        break;
    }
}

/* Receive wire[0..n) as a piece [0, cut) and then pieces of `step` bytes. */
static void run_client(const rcase_t *c, const char *wire, size_t n, size_t cut, size_t step,
                       result_t *r)
{
    static char acc[16384];
    size_t acc_len = 0, off = 0;
    http_chunked_t ch = {0};
    int64_t left = 0;
    bool have_head = false;
    memset(r, 0, sizeof *r);
    while (off < n && !r->error) {
        size_t take = off == 0 && cut > 0 ? cut : step;
        if (take > n - off) take = n - off;
        const char *piece = wire + off;
        off += take;
        if (have_head) {
            body_bytes(r, &ch, &left, piece, take);
            continue;
        }
        append(acc, &acc_len, sizeof acc, piece, take);
        http_response_t res;
        ssize_t h = parse(acc, acc_len, &res);
        if (h == HTTP_NEED_MORE) continue;
        if (h == HTTP_ERROR) {
            r->error = true;
            break;
        }
        have_head = true;
        r->status = res.status;
        r->mode = http_body_mode(&res, c->method);
        r->keep_alive = res.keep_alive;
        left = res.content_length;
        if (r->mode == HTTP_BODY_LENGTH && left == 0) r->done = true;
        body_bytes(r, &ch, &left, acc + h, acc_len - (size_t)h);
    }
    if (have_head && r->mode == HTTP_BODY_CLOSE) r->done = true; /* EOF */
}

static bool same(const result_t *r, const rcase_t *c)
{
    size_t bl = strlen(c->body), al = strlen(c->after);
    return !r->error && r->done && r->status == c->status && r->mode == c->mode &&
           r->keep_alive == c->keep_alive && r->body_len == bl &&
           memcmp(r->body, c->body, bl) == 0 && r->rest_len == al &&
           memcmp(r->rest, c->after, al) == 0;
}

/* The header parser alone, on every prefix: NEED_MORE until the blank line. */
static void check_prefixes(const rcase_t *c, const char *wire, size_t n)
{
    const char *crlf = strstr(wire, "\r\n\r\n"), *lf = strstr(wire, "\n\n");
    size_t hdr = crlf && (!lf || crlf < lf) ? (size_t)(crlf - wire) + 4 : (size_t)(lf - wire) + 2;
    http_response_t res;
    for (size_t i = 0; i <= n; i++) {
        ssize_t r = parse(wire, i, &res);
        CHECK_MSG(r == (i < hdr ? HTTP_NEED_MORE : (ssize_t)hdr), "%s: prefix %zu gave %zd",
                  c->name, i, r);
    }
}

static void check_case(const rcase_t *c)
{
    static result_t r;
    size_t n = strlen(c->wire);
    memcpy(wire_buf, c->wire, n);
    memcpy(wire_buf + n, c->after, strlen(c->after) + 1);
    n += strlen(c->after);
    check_prefixes(c, wire_buf, n);
    for (size_t cut = 1; cut < n; cut++) {
        run_client(c, wire_buf, n, cut, n, &r);
        CHECK_MSG(same(&r, c), "%s: split at %zu", c->name, cut);
    }
    run_client(c, wire_buf, n, 0, 1, &r);
    CHECK_MSG(same(&r, c), "%s: one byte at a time", c->name);
    run_client(c, wire_buf, n, 0, n, &r);
    CHECK_MSG(same(&r, c), "%s: all at once", c->name);
}

static char many[8192];

static const char *many_headers(int count, const char *eol)
{
    size_t w = (size_t)snprintf(many, sizeof many, "HTTP/1.1 200 OK%s", eol);
    for (int i = 0; i < count - 2; i++)
        w += (size_t)snprintf(many + w, sizeof many - w, "X-Header-%d:  value %d %s", i, i, eol);
    snprintf(many + w, sizeof many - w, "Content-Length: 3%sConnection: close%s%sabc", eol, eol,
             eol);
    return many;
}

static void test_responses(void)
{
    const rcase_t cases[] = {
        {"content-length", "GET",
         "HTTP/1.1 200 OK\r\nServer: nginx\r\nContent-Type: text/plain\r\n"
         "Content-Length: 12\r\n\r\nhello, world",
         "HTTP/1.1 200 OK\r\n", 200, HTTP_BODY_LENGTH, true, "hello, world"},
        {"chunked", "GET",
         "HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip, chunked\r\n\r\n"
         "5;name=value\r\nhello\r\nA ; q=\"a;b\"\r\n0123456789\r\n1a\r\n"
         "abcdefghijklmnopqrstuvwxyz\r\n0;last\r\nX-Trailer: 1\r\nY: 2\r\n\r\n",
         "HTTP/1.1 204 No Content\r\n\r\n", 200, HTTP_BODY_CHUNKED, true,
         "hello0123456789abcdefghijklmnopqrstuvwxyz"},
        {"chunked, bare LF", "POST",
         "HTTP/1.1 201 Created\nTransfer-Encoding: chunked\n\n3\nabc\nF\n0123456789ABCDE\n0\n\n",
         "X", 201, HTTP_BODY_CHUNKED, true, "abc0123456789ABCDE"},
        {"HTTP/1.0 close", "GET", "HTTP/1.0 200 OK\r\nServer: old\r\n\r\nall of this until close",
         "", 200, HTTP_BODY_CLOSE, false, "all of this until close"},
        {"HTTP/1.0 keep-alive", "GET",
         "HTTP/1.0 200 OK\r\nConnection: Keep-Alive\r\nContent-Length: 2\r\n\r\nok", "next", 200,
         HTTP_BODY_LENGTH, true, "ok"},
        {"204", "DELETE", "HTTP/1.1 204 No Content\r\nDate: Mon, 1 Jan 2024 00:00:00 GMT\r\n\r\n",
         "HTTP/1.1 200 OK\r\n\r\n", 204, HTTP_BODY_NONE, true, ""},
        {"304", "GET", "HTTP/1.1 304 Not Modified\r\nETag: \"x\"\r\nContent-Length: 100\r\n\r\n",
         "more", 304, HTTP_BODY_NONE, true, ""},
        {"HEAD", "HEAD", "HTTP/1.1 200 OK\r\nContent-Length: 1234\r\n\r\n", "HTTP/1.1", 200,
         HTTP_BODY_NONE, true, ""},
        {"empty reason", "GET", "HTTP/1.1 404\r\nContent-Length: 0\r\n\r\n", "z", 404,
         HTTP_BODY_LENGTH, true, ""},
        {"100 continue", "POST", "HTTP/1.1 100 Continue\r\n\r\n", "HTTP/1.1 200 OK\r\n\r\n", 100,
         HTTP_BODY_NONE, true, ""},
        {"many headers", "GET", many_headers(HTTP_MAX_HEADERS, "\r\n"), "", 200, HTTP_BODY_LENGTH,
         false, "abc"},
    };
    for (size_t i = 0; i < sizeof cases / sizeof cases[0]; i++)
        check_case(&cases[i]);
    rcase_t lf = {"many headers, bare LF",
                  "GET",
                  many_headers(HTTP_MAX_HEADERS, "\n"),
                  "",
                  200,
                  HTTP_BODY_LENGTH,
                  false,
                  "abc"};
    check_case(&lf);
}

static void test_fields(void)
{
    http_response_t res;
    const char *s = "HTTP/1.1 503 Service  Unavailable \r\nX-Trim: \t a b \t\r\nEmpty:\r\n"
                    "content-LENGTH: 7\r\nContent-Length: 7\r\n\r\n";
    CHECK(parse_str(s, &res) == (ssize_t)strlen(s));
    CHECK(res.status == 503 && res.minor_version == 1);
    CHECK(res.reason_len == 20 && memcmp(res.reason, "Service  Unavailable", 20) == 0);
    CHECK(res.num_headers == 4 && res.content_length == 7 && !res.chunked && res.keep_alive);
    const http_header_t *h = http_find_header(&res, "x-trim");
    CHECK(h && h->value_len == 3 && memcmp(h->value, "a b", 3) == 0);
    h = http_find_header(&res, "EMPTY");
    CHECK(h && h->value_len == 0);
    CHECK(http_find_header(&res, "X-Tri") == NULL);

    CHECK(parse_str("HTTP/1.1 200 \r\n\r\n", &res) > 0 && res.reason_len == 0);
    CHECK(parse_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: chunked, gzip\r\n\r\n", &res) > 0);
    CHECK(!res.chunked && http_body_mode(&res, "GET") == HTTP_BODY_CLOSE);
    CHECK(parse_str("HTTP/1.1 200 OK\r\nTransfer-Encoding: gzip\r\nTransfer-Encoding: CHUNKED"
                    "\r\nContent-Length: 5\r\n\r\n",
                    &res) > 0);
    CHECK(res.chunked && res.content_length == -1);
    CHECK(http_body_mode(&res, NULL) == HTTP_BODY_CHUNKED);
    CHECK(parse_str("HTTP/1.1 200 OK\r\nConnection: Upgrade, Close\r\n\r\n", &res) > 0);
    CHECK(!res.keep_alive && res.content_length == -1);
    CHECK(parse_str("HTTP/1.0 200 OK\r\nConnection: keep-alive, close\r\n\r\n", &res) > 0);
    CHECK(!res.keep_alive);
    CHECK(parse_str("HTTP/1.0 200 OK\r\n\r\n", &res) > 0 && !res.keep_alive);
    CHECK(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 0\r\n\r\n", &res) > 0);
    CHECK(res.content_length == 0 && http_body_mode(&res, "GET") == HTTP_BODY_LENGTH);
    CHECK(parse_str("HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775807\r\n\r\n", &res) > 0);
    CHECK(res.content_length == INT64_MAX);
}

static void test_bad_responses(void)
{
    static const char *bad[] = {
        "HTTP/1.1 20 OK\r\n\r\n",
        "HTTP/1.1 2000 OK\r\n\r\n",
        "HTTP/1.1 099 Low\r\n\r\n",
        "HTTP/1.1 20x OK\r\n\r\n",
        "HTTP/1.1 200OK\r\n\r\n",
        "HTTP/1.x 200 OK\r\n\r\n",
        "HTTP/2 200 OK\r\n\r\n",
        "HTTP/1.1  200 OK\r\n\r\n",
        "ICY 200 OK\r\n\r\n",
        "\r\n",
        "HTTX/1.1", /* no line end yet, but already not HTTP */
        "<html>",
        "HTTP/1.1 200 OK\r\nContent-Length: abc\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length:\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: -1\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: +5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 1 2\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5, 5\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 9223372036854775808\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 99999999999999999999999\r\n\r\n",
        "HTTP/1.1 200 OK\r\nContent-Length: 5\r\nContent-Length: 6\r\n\r\n",
        "HTTP/1.1 200 OK\r\nNo colon here\r\n\r\n",
        "HTTP/1.1 200 OK\r\nName : value\r\n\r\n",
        "HTTP/1.1 200 OK\r\n: value\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA: b\r\n folded\r\n\r\n",
        "HTTP/1.1 200 OK\r\nA\x01: b\r\n\r\n",
        "HTTP/1.1 200 OK\r\n\rX: b\r\n\r\n",
    };
    http_response_t res;
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++)
        CHECK_MSG(parse_str(bad[i], &res) == HTTP_ERROR, "case %zu: %s", i, bad[i]);
    const char *s = many_headers(HTTP_MAX_HEADERS + 1, "\r\n");
    CHECK(parse_str(s, &res) == HTTP_ERROR);
    CHECK(parse_str("HTTP/1.", &res) == HTTP_NEED_MORE);
    CHECK(parse_str("", &res) == HTTP_NEED_MORE);
}

/* Decode s in one call; body gets the decoded bytes. */
static ssize_t decode_all(const char *s, char *body, size_t *blen)
{
    http_chunked_t c = {0};
    size_t n = strlen(s);
    char *p = at_edge(s, n);
    ssize_t r = http_decode_chunked(&c, p, &n);
    memcpy(body, p, n);
    *blen = n;
    return r;
}

/* Feed s one byte at a time; returns the first non-NEED_MORE result. */
static ssize_t decode_bytes(const char *s)
{
    http_chunked_t c = {0};
    ssize_t r = HTTP_NEED_MORE;
    for (size_t i = 0; s[i] && r == HTTP_NEED_MORE; i++) {
        size_t one = 1;
        r = http_decode_chunked(&c, at_edge(s + i, 1), &one);
    }
    return r;
}

static void test_chunked(void)
{
    char body[256];
    size_t n;
    CHECK(decode_all("0\r\n\r\n", body, &n) == 0 && n == 0);
    CHECK(decode_all("4\r\nwiki\r\n5\r\npedia\r\n0\r\n\r\nrest", body, &n) == 4);
    CHECK(n == 9 && memcmp(body, "wikipedia", 9) == 0);
    CHECK(decode_all("4\r\nwiki\r\n", body, &n) == HTTP_NEED_MORE && n == 4);
    CHECK(decode_all("ffffffffffffffff\r\nab", body, &n) == HTTP_NEED_MORE && n == 2);
    CHECK(decode_all("0000000000000000000003\r\nabc\r\n0\r\n\r\n", body, &n) == 0 && n == 3);

    static const char *bad[] = {
        "xyz\r\n",
        "\r\n",
        ";ext\r\n",
        "-1\r\n",
        "5\r\nhelloX\r\n",
        "5\r\nhello\rX",
        "5\rX\n",
        "3g\r\nabc\r\n",
        "10000000000000000\r\n",
        "fffffffffffffffff\r\n",
        "0\r\n\rX",
        "0\r\nTrailer: x\r\n\rZ",
    };
    for (size_t i = 0; i < sizeof bad / sizeof bad[0]; i++) {
        CHECK_MSG(decode_all(bad[i], body, &n) == HTTP_ERROR, "case %zu", i);
        CHECK_MSG(decode_bytes(bad[i]) == HTTP_ERROR, "bytes, case %zu", i);
    }

    /* After the end, everything is left over. */
    http_chunked_t c = {0};
    n = 5;
    CHECK(http_decode_chunked(&c, at_edge("0\n\nab", 5), &n) == 2 && n == 0);
    n = 3;
    char *p = at_edge("xyz", 3);
    CHECK(http_decode_chunked(&c, p, &n) == 3 && n == 0 && memcmp(p, "xyz", 3) == 0);
    n = 0;
    CHECK(http_decode_chunked(&c, p, &n) == 0 && n == 0);
}

/* Where a chunked body stops when the input ends after s. */
static int cut(const char *s, uint64_t *got, uint64_t *want)
{
    http_chunked_t c = {0};
    size_t n = strlen(s);
    http_decode_chunked(&c, at_edge(s, n), &n);
    *got = *want = 99;
    return http_chunked_cut(&c, got, want);
}

static void test_chunked_cut(void)
{
    uint64_t g, w;
    CHECK(cut("10\r\nabc", &g, &w) == HTTP_CHUNK_DATA && g == 3 && w == 13);
    CHECK(cut("3\r\nabc\r\n10\r\n", &g, &w) == HTTP_CHUNK_DATA && g == 0 && w == 16);
    CHECK(cut("3\r\nabc", &g, &w) == HTTP_CHUNK_DATA && g == 0 && w == 2);
    CHECK(cut("3\r\nabc\r", &g, &w) == HTTP_CHUNK_DATA && g == 1 && w == 1);
    CHECK(cut("3\r\nabc\r\n", &g, &w) == HTTP_CHUNK_SIZE && w == 0);
    CHECK(cut("3\r\nabc\r\n1F", &g, &w) == HTTP_CHUNK_SIZE && g == 0x1f && w == 1);
    CHECK(cut("4;ext=1", &g, &w) == HTTP_CHUNK_DATA && g == 0 && w == 4);
    CHECK(cut("0\r", &g, &w) == HTTP_CHUNK_TAIL);
    CHECK(cut("0\r\n", &g, &w) == HTTP_CHUNK_TAIL);
    CHECK(cut("0\r\nTrailer: x", &g, &w) == HTTP_CHUNK_TAIL);
}

int main(void)
{
    guard_init();
    test_responses();
    test_fields();
    test_bad_responses();
    test_chunked();
    test_chunked_cut();
    return check_done();
}
