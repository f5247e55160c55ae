/* body: see body.h.
 *
 * The header block is parsed in place in rbuf (parse.h); a chunked body is
 * decoded in place behind it, so rbuf[hdr_len, body_end) is always the
 * body so far and the bytes after body_end are framing not yet decoded.
 * A compressed body is fed to the connection's decoder after each read,
 * from where the previous feed stopped (c->fed), so each byte is inflated
 * once. The error texts are requests' (with urllib3 2, which enforces
 * Content-Length), so failures group as they would in Locust. */
#include "http/body.h"

#include <inttypes.h>
#include <stdio.h>
#include <string.h>
#include <strings.h>

#include "base/alloc.h"
#include "http/decode.h"
#include "http/session.h"

#define RBUF_MIN 4096
#define MAX_HEADER_BYTES (64 * 1024)
#define KEEP_BYTES (256 * 1024) /* a buffer grown past this shrinks back after use */

static const char *too_large(const conn_t *c)
{
    char *errtext = c->cl->env->error;
    snprintf(errtext, sizeof c->cl->env->error,
             "ResponseTooLarge('response body over max_body_size (%zu bytes); raise "
             "max_body_size to accept it')",
             c->req.max_body);
    return errtext;
}

static const char *decoding_error(const conn_t *c, const char *why)
{
    char *errtext = c->cl->env->error;
    snprintf(errtext, sizeof c->cl->env->error,
             "ContentDecodingError('Received response with content-encoding: %s, but failed to "
             "decode it: %s')",
             c->encoding == SESSION_GZIP ? "gzip" : "deflate", why);
    return errtext;
}

/* urllib3's IncompleteRead, wrapped by requests as a ChunkedEncodingError. */
static const char *incomplete(const conn_t *c, uint64_t got, uint64_t want)
{
    char *errtext = c->cl->env->error;
    snprintf(errtext, sizeof c->cl->env->error,
             "ChunkedEncodingError(ProtocolError('Connection broken: IncompleteRead(%" PRIu64
             " bytes read, %" PRIu64 " more expected)', IncompleteRead(%" PRIu64
             " bytes read, %" PRIu64 " more expected)))",
             got, want, got, want);
    return errtext;
}

/* Note the headers the session layer needs: a scan of the parsed names. */
static void note_headers(conn_t *c)
{
    const http_response_t *parsed = &c->cl->env->parsed;
    c->encoding = 0;
    c->set_cookie = false;
    c->loc_len = 0;
    for (size_t i = 0; i < parsed->num_headers; i++) {
        const http_header_t *h = &parsed->headers[i];
        switch (h->name_len) {
        case 8:
            if (strncasecmp(h->name, "location", 8) == 0) {
                c->loc_off = (size_t)(h->value - c->rbuf.p);
                c->loc_len = h->value_len;
            }
            break;
        case 10:
            if (strncasecmp(h->name, "set-cookie", 10) == 0) c->set_cookie = true;
            break;
        case 16:
            if (strncasecmp(h->name, "content-encoding", 16) == 0)
                c->encoding = (unsigned char)session_encoding(h->value, h->value_len);
            break;
        }
    }
}

static int parse_headers(conn_t *c, const char **err)
{
    http_response_t *parsed = &c->cl->env->parsed;
    for (;;) {
        ssize_t r = http_parse_response(c->rbuf.p, c->rbuf.len, parsed);
        if (r == HTTP_NEED_MORE && c->rbuf.len <= MAX_HEADER_BYTES) return BODY_MORE;
        if (r < 0) {
            *err = "BadStatusLine('malformed HTTP response')";
            return BODY_FAIL;
        }
        if (parsed->status >= 100 && parsed->status < 200 && parsed->status != 101) {
            /* an interim response: drop it and read the real one */
            memmove(c->rbuf.p, c->rbuf.p + r, c->rbuf.len - (size_t)r);
            c->rbuf.len -= (size_t)r;
            continue;
        }
        c->hdr_len = r;
        c->status = parsed->status;
        c->content_length = parsed->content_length;
        c->mode = http_body_mode(parsed, c->req.head ? "HEAD" : "GET");
        /* A 101 ends HTTP on this connection: what follows is another
         * protocol, and the connection is never reused. */
        c->keep_alive = parsed->keep_alive && c->status != 101;
        c->body_end = (size_t)r;
        note_headers(c);
        if (c->mode == HTTP_BODY_LENGTH && (uint64_t)c->content_length > c->req.max_body) {
            *err = too_large(c); /* promised too much: fail before reading it */
            return BODY_FAIL;
        }
        /* inflate as it comes, unless the body is a redirect's we follow */
        c->decoding = c->req.decode && c->encoding && c->mode != HTTP_BODY_NONE &&
                      !(c->req.follow && c->loc_len && session_is_redirect(c->status));
        if (c->decoding) {
            if (c->dec == NULL) c->dec = decode_new();
            decode_start(c->dec, c->encoding, c->req.max_body);
            c->fed = 0;
        }
        return BODY_DONE;
    }
}

/* How many bytes of the body have arrived. */
static size_t body_len(const conn_t *c)
{
    size_t n = (c->mode == HTTP_BODY_CHUNKED ? c->body_end : c->rbuf.len) - (size_t)c->hdr_len;
    if (c->mode == HTTP_BODY_LENGTH && n > (uint64_t)c->content_length)
        n = (size_t)c->content_length;
    return c->mode == HTTP_BODY_NONE ? 0 : n;
}

int body_parse(conn_t *c, const char **err)
{
    if (c->hdr_len == 0) {
        int r = parse_headers(c, err);
        if (r != BODY_DONE) return r;
    }
    int r = BODY_MORE;
    switch (c->mode) {
    case HTTP_BODY_NONE:
        return BODY_DONE;
    case HTTP_BODY_LENGTH:
        if (c->rbuf.len - (size_t)c->hdr_len >= (uint64_t)c->content_length) r = BODY_DONE;
        break;
    case HTTP_BODY_CHUNKED: {
        size_t len = c->rbuf.len - c->body_end;
        ssize_t k = http_decode_chunked(&c->chunk, c->rbuf.p + c->body_end, &len);
        if (k == HTTP_ERROR) {
            *err = "ChunkedEncodingError(ProtocolError('Connection broken: bad chunk framing'))";
            return BODY_FAIL;
        }
        c->body_end += len;
        c->rbuf.len = c->body_end;
        if (k != HTTP_NEED_MORE) r = BODY_DONE;
        break;
    }
    case HTTP_BODY_CLOSE:
        break;
    }
    size_t n = body_len(c);
    if (n > c->req.max_body) {
        *err = too_large(c);
        return BODY_FAIL;
    }
    if (c->decoding && n > c->fed) {
        int d = decode_feed(c->dec, c->rbuf.p + c->hdr_len + c->fed, n - c->fed);
        c->fed = n;
        if (d == DECODE_CAP) {
            *err = too_large(c);
            return BODY_FAIL;
        }
        if (d == DECODE_ERROR) {
            *err = decoding_error(c, decode_why(c->dec));
            return BODY_FAIL;
        }
    }
    return r;
}

int body_eof(conn_t *c, const char **err)
{
    uint64_t got, want;
    char *errtext = c->cl->env->error;
    size_t errlen = sizeof c->cl->env->error;
    if (c->hdr_len == 0) {
        snprintf(errtext, errlen,
                 "RemoteDisconnected('Remote end closed connection inside the response headers "
                 "(%zu bytes read)')",
                 c->rbuf.len);
        *err = errtext;
        return BODY_FAIL;
    }
    switch (c->mode) {
    case HTTP_BODY_LENGTH:
        got = c->rbuf.len - (size_t)c->hdr_len;
        *err = incomplete(c, got, (uint64_t)c->content_length - got);
        return BODY_FAIL;
    case HTTP_BODY_CHUNKED:
        switch (http_chunked_cut(&c->chunk, &got, &want)) {
        case HTTP_CHUNK_DATA:
            *err = incomplete(c, got, want);
            return BODY_FAIL;
        case HTTP_CHUNK_SIZE: { /* urllib3 reads a size line and cannot parse it */
            char line[24] = "";
            if (want) snprintf(line, sizeof line, "%" PRIx64, got);
            snprintf(
                errtext, errlen,
                "ChunkedEncodingError(ProtocolError(\"Connection broken: InvalidChunkLength(got "
                "length b'%s', 0 bytes read)\", InvalidChunkLength(got length b'%s', 0 bytes "
                "read)))",
                line, line);
            *err = errtext;
            return BODY_FAIL;
        }
        default:
            return BODY_DONE; /* only trailers were missing */
        }
    default:
        return BODY_DONE; /* a close-delimited body ends here */
    }
}

size_t body_room(conn_t *c)
{
    buf_t *b = &c->rbuf;
    if (b->cap - b->len < RBUF_MIN / 2) {
        /* double, but not past the headers, the cap and a read's worth */
        size_t limit =
            (c->hdr_len ? (size_t)c->hdr_len : MAX_HEADER_BYTES) + c->req.max_body + RBUF_MIN;
        size_t cap = b->cap ? b->cap * 2 : RBUF_MIN;
        if (cap > limit) cap = limit;
        if (cap < b->len + RBUF_MIN) cap = b->len + RBUF_MIN;
        b->p = xrealloc(b->p, cap);
        b->cap = cap;
    }
    return b->cap - b->len - 1;
}

void body_result(conn_t *c, client_result_t *r)
{
    r->status = c->status;
    r->headers = c->rbuf.p;
    r->headers_len = (size_t)c->hdr_len;
    r->body = c->rbuf.p + c->hdr_len;
    r->body_len = body_len(c);
    if (!c->decoding) return;
    c->decoding = false;
    if (decode_end(c->dec) != DECODE_OK) {
        r->error = decoding_error(c, decode_why(c->dec));
        return;
    }
    if (c->fed == 0) return; /* an empty body stays empty */
    r->body = decode_out(c->dec)->p;
    r->body_len = decode_out(c->dec)->len;
}

static void shrink(buf_t *b)
{
    if (b->cap <= KEEP_BYTES) return;
    b->p = xrealloc(b->p, RBUF_MIN);
    b->cap = RBUF_MIN;
    b->len = 0;
    b->p[0] = '\0';
}

void body_release(conn_t *c)
{
    if (c->decoding) { /* the request failed while inflating */
        c->decoding = false;
        decode_abort(c->dec);
    }
    if (c->dec) decode_shrink(c->dec, KEEP_BYTES);
    /* In use again (the user sent its next request from the callback):
     * the buffers hold that request, and the response is not here yet. */
    if (c->state != CONN_IDLE && c->state != CONN_CLOSED) {
        if (c->rbuf.len == 0) shrink(&c->rbuf);
        return;
    }
    shrink(&c->rbuf);
    shrink(&c->wbuf);
}

void body_free(conn_t *c)
{
    if (c->dec) decode_free(c->dec);
    c->dec = NULL;
}
