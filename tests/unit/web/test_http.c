/* The web server's pure parts: the request-head parser, form decoding, the
 * WebSocket handshake and frames, and the cross-site rule. */
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "web/guard.h"
#include "web/http.h"
#include "web/ws.h"

/* s copied right before an unreadable page: an over-read crashes. */
static char *fenced(const char *s, size_t n)
{
    long pg = sysconf(_SC_PAGESIZE);
    char *base =
        mmap(NULL, (size_t)pg * 2, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(base + pg, (size_t)pg, PROT_NONE);
    char *p = base + pg - n;
    memcpy(p, s, n);
    return p;
}

static long parse(const char *s, http_req_t *r)
{
    size_t n = strlen(s);
    return http_parse(fenced(s, n), n, r);
}

static void test_parse(void)
{
    http_req_t r;
    const char *req = "POST /swarm?x=1 HTTP/1.1\r\nHost: a:1\r\nContent-Length: 5\r\n"
                      "Origin:  http://a:1 \r\n\r\nhello";
    CHECK(parse(req, &r) == (long)strlen(req) - 5);
    CHECK(r.method_len == 4 && memcmp(r.method, "POST", 4) == 0);
    CHECK(strcmp(r.path, "/swarm") == 0);
    CHECK(r.query_len == 3 && memcmp(r.query, "x=1", 3) == 0);
    CHECK(r.content_length == 5 && r.keep_alive && !r.chunked);
    char v[64];
    CHECK(http_header(&r, "origin", v, sizeof v) && strcmp(v, "http://a:1") == 0);
    CHECK(http_header(&r, "Referer", v, sizeof v) == NULL);

    CHECK(parse("GET /a%20b HTTP/1.0\r\n\r\n", &r) > 0 && strcmp(r.path, "/a b") == 0 &&
          !r.keep_alive);
    CHECK(parse("GET / HTTP/1.1\r\nConnection: close\r\n\r\n", &r) > 0 && !r.keep_alive);
    /* incomplete heads: every prefix needs more */
    const char *full = "GET /stats/requests HTTP/1.1\r\nHost: x\r\n\r\n";
    for (size_t i = 0; i < strlen(full); i++) {
        char *p = fenced(full, i);
        CHECK_MSG(http_parse(p, i, &r) == HTTP_NEED_MORE, "prefix %zu", i);
    }
    CHECK(parse("GET / HTTP/2.0\r\n\r\n", &r) == HTTP_BAD);
    CHECK(parse("GET http://x/ HTTP/1.1\r\n\r\n", &r) == HTTP_BAD);
    CHECK(parse("GET / HTTP/1.1\r\nBad Name: x\r\n\r\n", &r) == HTTP_BAD);
    CHECK(parse("GET / HTTP/1.1\r\nX: a\r\n b\r\n\r\n", &r) == HTTP_BAD); /* folding */
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length: 1\r\nContent-Length: 2\r\n\r\n", &r) ==
          HTTP_BAD);
    CHECK(parse("GET / HTTP/1.1\r\nContent-Length: -1\r\n\r\n", &r) == HTTP_BAD);
    CHECK(parse("GET /%00 HTTP/1.1\r\n\r\n", &r) == HTTP_TOO_MANY);
    char many[HTTP_MAX_HEADERS * 8 + 64] = "GET / HTTP/1.1\r\n";
    for (int i = 0; i <= HTTP_MAX_HEADERS; i++)
        strcat(many, "A: b\r\n");
    strcat(many, "\r\n");
    CHECK(parse(many, &r) == HTTP_TOO_MANY);
}

static void test_form(void)
{
    const char *f = "user_count=10&spawn_rate=2.5&host=http%3A%2F%2Fa+b&empty=&flag";
    char v[32];
    CHECK(http_form_var(f, strlen(f), "user_count", v, sizeof v) == 2 && strcmp(v, "10") == 0);
    CHECK(http_form_var(f, strlen(f), "host", v, sizeof v) == 10 && strcmp(v, "http://a b") == 0);
    CHECK(http_form_var(f, strlen(f), "empty", v, sizeof v) == 0);
    CHECK(http_form_var(f, strlen(f), "flag", v, sizeof v) == 0);
    CHECK(http_form_var(f, strlen(f), "run_time", v, sizeof v) == -1);
    CHECK(http_form_var(f, strlen(f), "host", v, 4) == -2);
    CHECK(http_form_var(fenced("a=%4", 4), 4, "a", v, sizeof v) == 2); /* a lone % stays */
}

static void test_ws(void)
{
    char acc[29];
    ws_accept_key("dGhlIHNhbXBsZSBub25jZQ==", acc); /* RFC 6455's example */
    CHECK(strcmp(acc, "s3pPLMBiTxaQ9kYGzzhZRbK+xOo=") == 0);
    unsigned char h[WS_HEAD_MAX];
    CHECK(ws_frame_head(h, WS_TEXT, 5) == 2 && h[0] == 0x81 && h[1] == 5);
    CHECK(ws_frame_head(h, WS_TEXT, 300) == 4 && h[1] == 126 && h[2] == 1 && h[3] == 44);
    CHECK(ws_frame_head(h, WS_TEXT, 70000) == 10 && h[1] == 127 && h[7] == 1);
    /* a masked "Hello" (RFC 6455 5.7) */
    unsigned char fr[] = {0x81, 0x85, 0x37, 0xfa, 0x21, 0x3d, 0x7f, 0x9f, 0x4d, 0x51, 0x58};
    ws_frame_t f;
    for (size_t i = 0; i < sizeof fr; i++)
        CHECK(ws_parse(fr, i, &f) == 0);
    CHECK(ws_parse(fr, sizeof fr, &f) == (long)sizeof fr);
    CHECK(f.opcode == WS_TEXT && f.len == 5 && memcmp(f.payload, "Hello", 5) == 0);
    unsigned char unmasked[] = {0x81, 0x01, 'x'};
    CHECK(ws_parse(unmasked, sizeof unmasked, &f) == -1);
    unsigned char huge[] = {0x82, 0xff, 0, 0, 0, 0, 0, 1, 0, 0};
    CHECK(ws_parse(huge, sizeof huge, &f) == -1);
    unsigned char rsv[] = {0xc1, 0x80, 0, 0, 0, 0};
    CHECK(ws_parse(rsv, sizeof rsv, &f) == -1);
}

static bool same_origin(const char *head, bool tls, bool loopback)
{
    http_req_t r;
    char why[256];
    CHECK(parse(head, &r) > 0);
    return guard_same_origin(&r, tls, loopback, "127.0.0.1", why, sizeof why);
}

static void test_guard(void)
{
    CHECK(same_origin("POST / HTTP/1.1\r\nHost: 127.0.0.1:8089\r\n\r\n", false, true));
    CHECK(same_origin("POST / HTTP/1.1\r\nHost: 127.0.0.1:8089\r\n"
                      "Origin: http://127.0.0.1:8089\r\n\r\n",
                      false, true));
    CHECK(!same_origin("POST / HTTP/1.1\r\nHost: 127.0.0.1:8089\r\n"
                       "Origin: http://127.0.0.1:8089\r\n\r\n",
                       true, true)); /* scheme */
    CHECK(!same_origin("POST / HTTP/1.1\r\nHost: 127.0.0.1:8089\r\n"
                       "Origin: http://127.0.0.1:8090\r\n\r\n",
                       false, true));
    CHECK(same_origin("POST / HTTP/1.1\r\nHost: localhost:8089\r\n"
                      "Referer: http://localhost:8089/?x\r\n\r\n",
                      false, true));
    CHECK(!same_origin("POST / HTTP/1.1\r\nHost: localhost:8089\r\n"
                       "Referer: http://localhost:80890/\r\n\r\n",
                       false, true));
    CHECK(!same_origin("POST / HTTP/1.1\r\nHost: 127.0.0.1:8089\r\n"
                       "Sec-Fetch-Site: cross-site\r\n\r\n",
                       false, true));
    CHECK(same_origin("POST / HTTP/1.1\r\nHost: 127.0.0.1:8089\r\nSec-Fetch-Site: none\r\n\r\n",
                      false, true));
    /* DNS rebinding: only on a loopback listener is the Host checked */
    const char *rebind = "POST / HTTP/1.1\r\nHost: evil.example:8089\r\n"
                         "Origin: http://evil.example:8089\r\n\r\n";
    CHECK(!same_origin(rebind, false, true));
    CHECK(same_origin(rebind, false, false));
    CHECK(!same_origin("POST / HTTP/1.1\r\nOrigin: http://a\r\n\r\n", false, false)); /* no Host */

    http_req_t r;
    CHECK(parse("GET / HTTP/1.1\r\nAuthorization: Basic dTpw\r\n\r\n", &r) > 0);
    CHECK(guard_auth(&r, "u:p") && !guard_auth(&r, "u:q") && !guard_auth(&r, "u:pp"));
    CHECK(guard_auth(&r, NULL) && !guard_browser(&r));
    CHECK(parse("GET / HTTP/1.1\r\nAuthorization: Basic *\r\nReferer: x\r\n\r\n", &r) > 0);
    CHECK(!guard_auth(&r, "u:p") && guard_browser(&r));
}

int main(void)
{
    test_parse();
    test_form();
    test_ws();
    test_guard();
    return check_done();
}
