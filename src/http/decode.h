/* decode: incremental gzip/deflate decoding of a response body, with a cap.
 *
 * The client feeds the body's bytes as they arrive (after each read), so a
 * compressed body is inflated while it downloads, a piece at a time, and a
 * decompression bomb stops as soon as the decoded size passes the cap: the
 * loop never spends more than one read's worth of inflating on it. The
 * decoded bytes go to a buffer the decoder owns; it is reused by the next
 * body and can be shrunk back after a big one.
 *
 * gzip takes gzip or zlib data (zlib's auto-detection); deflate takes zlib
 * data or, as some servers send it, raw deflate (told apart by the zlib
 * header in the first two bytes). zlib's own memory is allocated when a
 * body starts and released when it ends, so an idle connection holds none.
 * The decoder does not know about sockets or HTTP framing. */
#ifndef CICADA_DECODE_H
#define CICADA_DECODE_H

#include <stdbool.h>
#include <stddef.h>

#include "base/buf.h"

enum { DECODE_OK = 0, DECODE_ERROR = -1, DECODE_CAP = -2 };

#define DECODE_GZIP 1
#define DECODE_DEFLATE 2

typedef struct decode decode_t;

/* A decoder with an empty output buffer; free with decode_free. */
decode_t *decode_new(void);
void decode_free(decode_t *d);

/* Start a body with Content-Encoding enc (DECODE_GZIP or DECODE_DEFLATE),
 * whose decoded size may not pass cap bytes. Empties the output. */
void decode_start(decode_t *d, int enc, size_t cap);

/* Inflate the next n bytes of the body, appending to the output. Returns
 * DECODE_OK, DECODE_CAP (the output passed the cap: stop) or DECODE_ERROR
 * (corrupt data: decode_why() says why). Bytes after the end of the
 * compressed stream are ignored. */
int decode_feed(decode_t *d, const char *p, size_t n);

/* The body is complete: DECODE_OK if the compressed stream ended (or the
 * body was empty), else DECODE_ERROR. Releases zlib's memory. */
int decode_end(decode_t *d);

/* Abandon the body (the request failed): releases zlib's memory. */
void decode_abort(decode_t *d);

/* The decoded bytes so far (NUL-terminated), owned by the decoder and valid
 * until the next decode_start or decode_shrink. */
const buf_t *decode_out(const decode_t *d);

/* Why decoding failed, for a ContentDecodingError. */
const char *decode_why(const decode_t *d);

/* Give memory back: an output buffer above keep bytes is freed. */
void decode_shrink(decode_t *d, size_t keep);

#endif
