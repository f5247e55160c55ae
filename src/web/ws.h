/* ws: WebSocket (RFC 6455) pieces for the web server, pure functions.
 *
 * The server only pushes text frames and answers control frames; it never
 * fragments what it sends and ignores what the page sends (the page sends
 * nothing). Client frames must be masked (RFC 6455 5.1) and at most
 * WS_MAX_IN bytes of payload: a page has no reason to send more. */
#ifndef CICADA_WEB_WS_H
#define CICADA_WEB_WS_H

#include <stddef.h>

#define WS_MAX_IN 4096
#define WS_HEAD_MAX 10

enum { WS_CONT = 0, WS_TEXT = 1, WS_BINARY = 2, WS_CLOSE = 8, WS_PING = 9, WS_PONG = 10 };

typedef struct {
    int opcode;
    int fin;
    unsigned char *payload; /* into the caller's buffer, unmasked in place */
    size_t len;
} ws_frame_t;

/* Sec-WebSocket-Accept for the client's Sec-WebSocket-Key: 28 characters
 * and a NUL into out. */
void ws_accept_key(const char *key, char out[29]);

/* Write an unmasked final frame header for opcode and a payload of len
 * bytes to out (room for WS_HEAD_MAX); returns the header's length. */
size_t ws_frame_head(unsigned char *out, int opcode, size_t len);

/* Parse one client frame at buf[0..len), unmasking its payload in place.
 * Returns the frame's length in bytes, 0 if incomplete, -1 if it is not
 * masked, too large, or uses reserved bits or opcodes. */
long ws_parse(unsigned char *buf, size_t len, ws_frame_t *f);

#endif
