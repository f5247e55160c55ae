/* parse: an HTTP/1.1 response parser, pure functions over (buf, len).
 *
 * Nothing here allocates or keeps pointers past the call: results point into
 * the caller's buffer. Functions return the bytes consumed, HTTP_NEED_MORE
 * when the input ends before the thing parsed does, or HTTP_ERROR.
 * The header parser is restartable: call it again from the start of the
 * buffer with more bytes. The chunked decoder keeps a small state between
 * calls and decodes in place. */
#ifndef CICADA_HTTP_PARSE_H
#define CICADA_HTTP_PARSE_H

#include <stdbool.h>
#include <stddef.h>
#include <stdint.h>
#include <sys/types.h>

#define HTTP_ERROR (-1)
#define HTTP_NEED_MORE (-2)
#define HTTP_MAX_HEADERS 100

typedef struct http_header {
    const char *name;
    size_t name_len;
    const char *value; /* leading and trailing whitespace removed */
    size_t value_len;
} http_header_t;

enum http_body_mode {
    HTTP_BODY_NONE,    /* HEAD, 1xx, 204, 304 */
    HTTP_BODY_LENGTH,  /* Content-Length */
    HTTP_BODY_CHUNKED, /* Transfer-Encoding: chunked */
    HTTP_BODY_CLOSE,   /* delimited by the server closing */
};

typedef struct http_response {
    int minor_version; /* 0 or 1 */
    int status;
    const char *reason;
    size_t reason_len;
    http_header_t headers[HTTP_MAX_HEADERS];
    size_t num_headers;
    /* derived from the headers by http_parse_response */
    int64_t content_length; /* -1 if absent, or ignored for Transfer-Encoding */
    bool chunked;           /* Transfer-Encoding's last coding is chunked */
    bool keep_alive;        /* connection stays open after this response */
} http_response_t;

/* Parse a status line and headers. Returns the length of the header block
 * (through the empty line), HTTP_NEED_MORE or HTTP_ERROR (also for more
 * than HTTP_MAX_HEADERS headers, a bad status line, a bad Content-Length). */
ssize_t http_parse_response(const char *buf, size_t len, http_response_t *res);

/* How the body of res is delimited, given the request method (NULL is taken
 * as not HEAD). For HTTP_BODY_CLOSE the connection cannot be reused whatever
 * keep_alive says; 1xx responses are interim: parse the next header block. */
enum http_body_mode http_body_mode(const http_response_t *res, const char *method);

/* Find a header by name, case-insensitively. Returns NULL if absent. */
const http_header_t *http_find_header(const http_response_t *res, const char *name);

typedef struct http_chunked {
    int state;          /* private */
    uint64_t remaining; /* private */
    uint64_t size;      /* private: of the current chunk */
} http_chunked_t;

/* Decode a chunked body in place. buf[0..*len) holds bytes received after
 * what earlier calls already decoded; on return buf[0..*len) holds only
 * decoded data (the caller appends it to what it has). Returns HTTP_NEED_MORE
 * if the body is not complete yet, HTTP_ERROR on bad framing, or, once the
 * last chunk and trailers are seen, the number of bytes that follow the body
 * (they are moved to buf[*len .. *len + ret)). Zero the struct before the
 * first call. */
ssize_t http_decode_chunked(http_chunked_t *c, char *buf, size_t *len);

/* Where a chunked body stopped, for the error when the server closes
 * before its end: HTTP_CHUNK_DATA (inside a chunk's data or the CRLF after
 * it: *got bytes of the piece read, *want more expected), HTTP_CHUNK_SIZE
 * (inside a size line: *got is the size read so far, *want 1 if it had
 * a digit yet, else 0) or HTTP_CHUNK_TAIL
 * (after the last chunk: only trailers are missing, the data is whole). */
enum { HTTP_CHUNK_DATA, HTTP_CHUNK_SIZE, HTTP_CHUNK_TAIL };
int http_chunked_cut(const http_chunked_t *c, uint64_t *got, uint64_t *want);

#endif
