/* Unit tests for the incremental body decoder: gzip, zlib and raw deflate
 * fed in pieces of every size give the original; a bomb stops just past
 * the cap; corrupt and cut-short streams fail; the output shrinks back. */
#include "http/decode.h"

#include <stdlib.h>
#include <string.h>
#include <zlib.h>

#include "check.h"

/* Compress in[0..n) with window bits wbits (31 gzip, 15 zlib, -15 raw). */
static size_t pack(const char *in, size_t n, int wbits, unsigned char *out, size_t cap)
{
    z_stream z = {0};
    deflateInit2(&z, 9, Z_DEFLATED, wbits, 8, Z_DEFAULT_STRATEGY);
    z.next_in = (Bytef *)in;
    z.avail_in = (uInt)n;
    z.next_out = out;
    z.avail_out = (uInt)cap;
    deflate(&z, Z_FINISH);
    size_t len = z.total_out;
    deflateEnd(&z);
    return len;
}

static char text[200000];

/* Feed the whole of p in pieces of `step` bytes; returns the first result
 * that is not DECODE_OK, or decode_end's. */
static int feed_all(decode_t *d, const unsigned char *p, size_t n, size_t step)
{
    for (size_t i = 0; i < n; i += step) {
        size_t k = n - i < step ? n - i : step;
        int rc = decode_feed(d, (const char *)p + i, k);
        if (rc != DECODE_OK) return rc;
    }
    return decode_end(d);
}

static void test_roundtrip(void)
{
    for (size_t i = 0; i < sizeof text; i++)
        text[i] = (char)("cicada sings "[i % 13] + (i / 997) % 3);
    static unsigned char packed[300000];
    static const struct {
        int enc, wbits;
    } kinds[] = {{DECODE_GZIP, 31}, {DECODE_GZIP, 15}, {DECODE_DEFLATE, 15}, {DECODE_DEFLATE, -15}};
    static const size_t steps[] = {1, 2, 3, 1000, 65536, 1 << 20};
    decode_t *d = decode_new();
    for (size_t k = 0; k < sizeof kinds / sizeof *kinds; k++) {
        size_t n = pack(text, sizeof text, kinds[k].wbits, packed, sizeof packed);
        for (size_t s = 0; s < sizeof steps / sizeof *steps; s++) {
            decode_start(d, kinds[k].enc, 1 << 20);
            int rc = feed_all(d, packed, n, steps[s]);
            CHECK_MSG(rc == DECODE_OK, "kind %zu step %zu: %d %s", k, steps[s], rc, decode_why(d));
            CHECK(decode_out(d)->len == sizeof text &&
                  memcmp(decode_out(d)->p, text, sizeof text) == 0);
        }
    }
    /* an empty body is fine, and so are bytes after the stream's end */
    decode_start(d, DECODE_GZIP, 100);
    CHECK(decode_end(d) == DECODE_OK && decode_out(d)->len == 0);
    size_t n = pack("hi", 2, 31, packed, sizeof packed);
    memcpy(packed + n, "trailing", 8);
    decode_start(d, DECODE_GZIP, 100);
    CHECK(feed_all(d, packed, n + 8, 5) == DECODE_OK);
    CHECK(decode_out(d)->len == 2 && memcmp(decode_out(d)->p, "hi", 3) == 0);
    decode_free(d);
}

static void test_cap(void)
{
    /* 64 MiB of zeros: about 64 KiB packed */
    size_t big = (size_t)64 << 20;
    char *zeros = calloc(1, big);
    size_t cap = 300000;
    unsigned char *packed = malloc(cap);
    size_t n = pack(zeros, big, 31, packed, cap);
    CHECK(n < 100000);
    decode_t *d = decode_new();
    /* exactly at the cap: fine */
    decode_start(d, DECODE_GZIP, big);
    CHECK(feed_all(d, packed, n, 4096) == DECODE_OK);
    CHECK(decode_out(d)->len == big);
    /* one byte less: stopped, having written at most cap + 1 bytes */
    decode_start(d, DECODE_GZIP, 1 << 20);
    int rc = DECODE_OK;
    size_t fed = 0;
    while (rc == DECODE_OK && fed < n) {
        rc = decode_feed(d, (const char *)packed + fed, 4096);
        fed += 4096;
    }
    CHECK(rc == DECODE_CAP);
    CHECK(decode_out(d)->len == (1 << 20) + 1);
    CHECK(fed <= 8192); /* it stopped within the first reads, not at the end */
    decode_abort(d);
    /* the output shrinks back */
    decode_shrink(d, 256 * 1024);
    CHECK(decode_out(d)->cap == 0);
    decode_start(d, DECODE_GZIP, 10);
    CHECK(feed_all(d, packed, n, n) == DECODE_CAP);
    decode_free(d);
    free(zeros);
    free(packed);
}

static void test_errors(void)
{
    static unsigned char packed[300000];
    decode_t *d = decode_new();
    size_t n = pack(text, sizeof text, 31, packed, sizeof packed);
    /* cut short */
    decode_start(d, DECODE_GZIP, 1 << 20);
    CHECK(feed_all(d, packed, n / 2, 1000) == DECODE_ERROR);
    CHECK(strcmp(decode_why(d), "incomplete compressed data") == 0);
    /* garbage */
    decode_start(d, DECODE_GZIP, 1 << 20);
    CHECK(feed_all(d, (const unsigned char *)"this is not gzip at all", 23, 23) == DECODE_ERROR);
    /* corrupt in the middle */
    packed[n / 2] ^= 0xff;
    packed[n / 2 + 1] ^= 0x55;
    decode_start(d, DECODE_GZIP, 1 << 20);
    CHECK(feed_all(d, packed, n, 777) == DECODE_ERROR);
    /* a deflate body of one byte */
    decode_start(d, DECODE_DEFLATE, 1 << 20);
    CHECK(feed_all(d, (const unsigned char *)"x", 1, 1) == DECODE_ERROR);
    decode_free(d);
}

int main(void)
{
    test_roundtrip();
    test_cap();
    test_errors();
    return check_done();
}
