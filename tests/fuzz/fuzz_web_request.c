/* fuzz_web_request: libFuzzer target for the web server's pure parsers:
 * web/http.c (request heads, form decoding), web/ws.c (client frames) and
 * web/guard.c (auth and the cross-site rule) over the same input.
 *
 * The input is copied to a buffer of exactly its size, so an over-read is
 * a sanitizer report. Invariants besides "no crash":
 *  - a head that parses has a length within the input, a path that starts
 *    with '/' and is shorter than HTTP_PATH_MAX, and header pointers
 *    inside the input; parsing any prefix of it needs more bytes;
 *  - a form value that is found fits in its buffer, NUL-terminated;
 *  - a WebSocket frame that parses is within the input.
 *
 * Build: make fuzz. */
#include <stdint.h>
#include <stdlib.h>
#include <string.h>

#include "web/guard.h"
#include "web/http.h"
#include "web/ws.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    http_req_t r;
    long k = http_parse(buf, size, &r);
    if (k > 0) {
        if ((size_t)k > size || r.path[0] != '/' || strlen(r.path) >= HTTP_PATH_MAX) abort();
        for (size_t i = 0; i < r.nheaders; i++)
            if (r.headers[i].name < buf || r.headers[i].value + r.headers[i].value_len > buf + k)
                abort();
        if (k > 1 && http_parse(buf, (size_t)k - 1, &r) != HTTP_NEED_MORE) abort();
        http_parse(buf, size, &r);
        char why[256], v[64];
        guard_same_origin(&r, size & 1, size & 2, "127.0.0.1", why, sizeof why);
        guard_auth(&r, "user:pass");
        guard_browser(&r);
        http_header(&r, "Host", v, sizeof v);
        if (r.query) {
            int n = http_form_var(r.query, r.query_len, "a", v, sizeof v);
            if (n >= 0 && ((size_t)n >= sizeof v || strlen(v) != (size_t)n)) abort();
        }
    }
    char v[32];
    int n = http_form_var(buf, size, "user_count", v, sizeof v);
    if (n >= 0 && ((size_t)n >= sizeof v || v[n] != '\0')) abort();

    size_t pos = 0;
    for (;;) {
        ws_frame_t f;
        long m = ws_parse((unsigned char *)buf + pos, size - pos, &f);
        if (m <= 0) break;
        if ((size_t)m > size - pos || f.payload + f.len > (unsigned char *)buf + size) abort();
        pos += (size_t)m;
    }
    free(buf);
    return 0;
}
