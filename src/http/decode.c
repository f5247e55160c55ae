/* decode: see decode.h.
 *
 * One z_stream per decoder. inflate() writes straight into the output
 * buffer, which grows by doubling but is never offered more than cap + 1
 * bytes in all: the byte past the cap is how a bomb is caught, after at
 * most one read's worth of inflating. A deflate body waits for its first
 * two bytes to choose between zlib and raw deflate. */
#include "http/decode.h"

#include <limits.h>
#include <string.h>
#include <zlib.h>

#include "base/alloc.h"

#define OUT_MIN 16384

struct decode {
    z_stream z;
    bool live;  /* inflateInit2 done for this body */
    bool ended; /* the compressed stream ended */
    bool fed;   /* a byte of this body was given */
    int enc;
    size_t cap;
    unsigned char head[2]; /* deflate: the first bytes, until two are here */
    size_t nhead;
    const char *why;
    buf_t out;
};

decode_t *decode_new(void)
{
    return xcalloc(1, sizeof(decode_t));
}

static void stop(decode_t *d)
{
    if (d->live) inflateEnd(&d->z);
    d->live = false;
}

void decode_free(decode_t *d)
{
    stop(d);
    buf_free(&d->out);
    xfree(d);
}

void decode_start(decode_t *d, int enc, size_t cap)
{
    stop(d);
    d->enc = enc;
    d->cap = cap;
    d->ended = d->fed = false;
    d->nhead = 0;
    d->why = NULL;
    d->out.len = 0;
    if (d->out.p) d->out.p[0] = '\0';
}

/* Room to inflate into: at least a little, never past cap + 1 in all. */
static size_t room(decode_t *d)
{
    buf_t *b = &d->out;
    size_t left = d->cap + 1 - b->len; /* > 0: the caller stops past the cap */
    size_t want = left < 4096 ? left : 4096;
    if (b->cap < b->len + 1 + want) {
        size_t cap = b->cap ? b->cap * 2 : OUT_MIN;
        if (cap > d->cap + 2) cap = d->cap + 2;
        if (cap < b->len + 1 + want) cap = b->len + 1 + want;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    size_t n = b->cap - b->len - 1;
    if (n > left) n = left;
    return n > UINT_MAX ? UINT_MAX : n;
}

/* Inflate p[0..n) (n may be 0: flush what zlib holds). */
static int run(decode_t *d, const char *p, size_t n)
{
    d->z.next_in = (Bytef *)p;
    for (;;) {
        size_t in = n > UINT_MAX ? UINT_MAX : n;
        d->z.avail_in = (uInt)in;
        d->z.avail_out = (uInt)room(d); /* may move the buffer: first */
        d->z.next_out = (Bytef *)d->out.p + d->out.len;
        uInt before = d->z.avail_out;
        int rc = inflate(&d->z, Z_NO_FLUSH);
        n -= in - d->z.avail_in;
        d->out.len += before - d->z.avail_out;
        d->out.p[d->out.len] = '\0';
        if (d->out.len > d->cap) return DECODE_CAP;
        if (rc == Z_STREAM_END) {
            d->ended = true;
            return DECODE_OK;
        }
        if (rc == Z_NEED_DICT) {
            d->why = "a preset dictionary is needed";
            return DECODE_ERROR;
        }
        if (rc != Z_OK && rc != Z_BUF_ERROR) {
            d->why = d->z.msg ? d->z.msg : "corrupt data";
            return DECODE_ERROR;
        }
        /* all input taken and zlib had room to spare: nothing is pending */
        if (n == 0 && d->z.avail_out != 0) return DECODE_OK;
    }
}

/* A zlib header (RFC 1950: deflate, window <= 32K, check bits) or gzip's magic. */
static bool wrapped(const unsigned char *h)
{
    if (h[0] == 0x1f && h[1] == 0x8b) return true;
    return (h[0] & 0x0f) == 8 && (h[0] >> 4) <= 7 && ((h[0] << 8) | h[1]) % 31 == 0;
}

int decode_feed(decode_t *d, const char *p, size_t n)
{
    if (n == 0) return DECODE_OK;
    d->fed = true;
    if (d->ended) return DECODE_OK; /* bytes after the stream: ignored */
    if (!d->live) {
        int wbits = 15 + 32; /* gzip or zlib, detected by zlib */
        if (d->enc == DECODE_DEFLATE) {
            while (d->nhead < 2 && n)
                d->head[d->nhead++] = (unsigned char)*p++, n--;
            if (d->nhead < 2) return DECODE_OK;
            wbits = wrapped(d->head) ? 15 + 32 : -15;
        }
        memset(&d->z, 0, sizeof d->z);
        if (inflateInit2(&d->z, wbits) != Z_OK) {
            d->why = "cannot start zlib";
            return DECODE_ERROR;
        }
        d->live = true;
        if (d->nhead) {
            int rc = run(d, (const char *)d->head, d->nhead);
            if (rc != DECODE_OK || d->ended) return rc;
        }
    }
    return run(d, p, n);
}

int decode_end(decode_t *d)
{
    int rc = DECODE_OK;
    if (d->fed && !d->ended) {
        d->why = "incomplete compressed data";
        rc = DECODE_ERROR;
    }
    stop(d);
    return rc;
}

void decode_abort(decode_t *d)
{
    stop(d);
}

const buf_t *decode_out(const decode_t *d)
{
    return &d->out;
}

const char *decode_why(const decode_t *d)
{
    return d->why ? d->why : "corrupt data";
}

void decode_shrink(decode_t *d, size_t keep)
{
    if (d->out.cap > keep) buf_free(&d->out);
}
