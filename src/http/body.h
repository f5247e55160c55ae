/* body: the response side of a connection, as its bytes arrive.
 *
 * client.c reads into the connection's rbuf and calls body_parse() after
 * each read: the header block is parsed once (interim 1xx responses are
 * dropped, a 101 ends the exchange), the body is framed (Content-Length,
 * chunked, or delimited by the server closing), held to the request's cap
 * (max_body_size) and, when the request asked for it, inflated as it
 * comes (decode.h). When the server closes, body_eof() says whether that
 * ended the response or cut it short, in requests' words.
 *
 * The cap bounds what one response can cost: a promised Content-Length
 * over it fails as soon as the headers arrive, a chunked or close-delimited
 * body as soon as it passes it, a compressed body as soon as its decoded
 * size does; rbuf never grows much past it. After the result is delivered,
 * body_release() gives back what a big response grew, so a connection that
 * once carried 40 MiB holds a few KiB again. Nothing here does I/O. */
#ifndef CICADA_BODY_H
#define CICADA_BODY_H

#include <stddef.h>

#include "http/client.h"

enum { BODY_DONE, BODY_MORE, BODY_FAIL };

/* The default cap on a response body (raw and decoded), and the largest
 * one a request may set: LuaJIT's longest string (r.text must fit in it). */
#define BODY_DEFAULT_CAP ((size_t)64 << 20)
#define BODY_MAX_CAP ((size_t)0x7fffff00)

/* Bytes appended to c->rbuf: parse what they complete. Returns BODY_DONE
 * (the response is complete), BODY_MORE, or BODY_FAIL with *err set to a
 * requests-style error (valid until the next call on this thread). */
int body_parse(conn_t *c, const char **err);

/* The server closed the connection after c->rbuf.len > 0 bytes of an
 * incomplete response: BODY_DONE if that ends the body (close-delimited,
 * or only trailers missing), else BODY_FAIL with requests' error for it
 * (ChunkedEncodingError(ProtocolError('Connection broken:
 * IncompleteRead(5 bytes read, 95 more expected)', ...)) in *err. */
int body_eof(conn_t *c, const char **err);

/* Room for the next read into c->rbuf, growing it (doubling, but never
 * much past what the cap allows). */
size_t body_room(conn_t *c);

/* Fill r (status, headers, body) from the complete response on c; the body
 * is the decoded one if the request asked for decoding. May set r->error
 * (a ContentDecodingError for a compressed stream cut short). */
void body_result(conn_t *c, client_result_t *r);

/* The result was delivered: release what a big response grew (c's read
 * buffer, write buffer and decoder output) unless c is in use again. */
void body_release(conn_t *c);

/* Free what c's body handling owns (at the end of the connection). */
void body_free(conn_t *c);

#endif
