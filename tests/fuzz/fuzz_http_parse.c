/* fuzz_http_parse: libFuzzer target for http_parse_response and
 * http_decode_chunked.
 *
 * Besides letting the sanitizers catch bad reads, it checks invariants that
 * hold for any input: the header parser's result stays inside the buffer and
 * is stable when the buffer is cut at the returned length; every pointer it
 * returns points into the buffer; and the chunked decoder gives the same
 * status, data and leftover whether the input comes in one piece, split in
 * two at a point chosen by the input, or one byte at a time.
 *
 * Build: make fuzz (clang -fsanitize=fuzzer). Without libFuzzer, compile with
 * -DSTANDALONE to get a main that runs each file named on the command line. */
#include "http/parse.h"

#include <stdio.h>
#include <stdlib.h>
#include <string.h>

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "must.h"

static bool inside(const char *p, size_t n, const char *buf, size_t len)
{
    return p >= buf && p + n <= buf + len;
}

static void check_headers(const char *buf, size_t len)
{
    http_response_t res;
    ssize_t r = http_parse_response(buf, len, &res);
    MUST(r == HTTP_ERROR || r == HTTP_NEED_MORE || (r > 0 && (size_t)r <= len));
    if (r <= 0) return;
    MUST(res.num_headers <= HTTP_MAX_HEADERS);
    MUST(inside(res.reason, res.reason_len, buf, (size_t)r));
    for (size_t i = 0; i < res.num_headers; i++) {
        MUST(inside(res.headers[i].name, res.headers[i].name_len, buf, (size_t)r));
        MUST(inside(res.headers[i].value, res.headers[i].value_len, buf, (size_t)r));
    }
    (void)http_body_mode(&res, "GET");
    (void)http_find_header(&res, "content-type");
    http_response_t again;
    MUST(http_parse_response(buf, (size_t)r, &again) == r);
    MUST(again.status == res.status && again.content_length == res.content_length);
    if (r > 1) MUST(http_parse_response(buf, (size_t)r - 1, &again) == HTTP_NEED_MORE);
}

typedef struct decoded {
    ssize_t ret;
    size_t len; /* decoded bytes, then ret leftover bytes, in out */
    char *out;
} decoded_t;

/* Decode in[0..n) fed as [0, cut) and then pieces of `step` bytes. */
static void decode(const char *in, size_t n, size_t cut, size_t step, decoded_t *d)
{
    http_chunked_t c = {0, 0};
    size_t off = 0;
    d->ret = HTTP_NEED_MORE;
    d->len = 0;
    while (off < n && d->ret == HTTP_NEED_MORE) {
        size_t take = off == 0 && cut ? cut : step;
        if (take > n - off) take = n - off;
        char *p = d->out + d->len;
        memmove(p, in + off, take);
        size_t got = take;
        d->ret = http_decode_chunked(&c, p, &got);
        MUST(got <= take);
        MUST(d->ret == HTTP_NEED_MORE || d->ret == HTTP_ERROR ||
             (d->ret >= 0 && got + (size_t)d->ret <= take));
        off += take;
        d->len += got;
    }
    if (d->ret >= 0) {
        /* The leftover of the last piece plus whatever was never fed. */
        memmove(d->out + d->len + (size_t)d->ret, in + off, n - off);
        d->ret += (ssize_t)(n - off);
    }
}

static void check_chunked(const char *in, size_t n, size_t cut)
{
    char *buf = malloc(3 * (n + 1));
    decoded_t a = {0, 0, buf}, b = {0, 0, buf + n + 1}, c = {0, 0, buf + 2 * (n + 1)};
    decode(in, n, 0, n, &a);
    decode(in, n, cut, n, &b);
    decode(in, n, 0, 1, &c);
    MUST(a.ret == b.ret && a.ret == c.ret);
    if (a.ret != HTTP_ERROR) {
        size_t total = a.len + (a.ret > 0 ? (size_t)a.ret : 0);
        MUST(a.len == b.len && a.len == c.len);
        MUST(memcmp(a.out, b.out, total) == 0 && memcmp(a.out, c.out, total) == 0);
    }
    free(buf);
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    /* A private copy: the decoder writes in place, and an exact-size heap
     * block lets ASan catch reads past the end. */
    char *buf = malloc(size ? size : 1);
    memcpy(buf, data, size);
    check_headers(buf, size);
    size_t cut = size ? data[0] % size : 0;
    http_response_t res;
    ssize_t h = http_parse_response(buf, size, &res);
    if (h > 0 && http_body_mode(&res, "GET") == HTTP_BODY_CHUNKED)
        check_chunked(buf + h, size - (size_t)h, cut);
    else
        check_chunked(buf, size, cut);
    free(buf);
    return 0;
}

#ifdef STANDALONE
int main(int argc, char **argv)
{
    for (int i = 1; i < argc; i++) {
        FILE *f = fopen(argv[i], "rb");
        if (!f) {
            perror(argv[i]);
            return 1;
        }
        static uint8_t in[1 << 20];
        size_t n = fread(in, 1, sizeof in, f);
        fclose(f);
        LLVMFuzzerTestOneInput(in, n);
    }
    printf("ran %d inputs\n", argc - 1);
    return 0;
}
#endif
