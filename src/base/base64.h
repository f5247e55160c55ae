/* base64: the standard alphabet (RFC 4648, section 4), both ways.
 *
 * One encoder and one decoder for every part that needs them: HTTP Basic
 * auth built by the client (lua/form.c) and checked by the web UI
 * (web/guard.c), the WebSocket accept key (web/ws.c), and the scenario's
 * ngx.encode_base64/ngx.decode_base64 (lua/ngx.c). Pure functions over
 * caller buffers: nothing is allocated, nothing is kept. Not the URL-safe
 * alphabet, no line breaks (MIME). */
#ifndef CICADA_BASE64_H
#define CICADA_BASE64_H

#include <stdbool.h>
#include <stddef.h>

/* Characters base64_encode writes for n bytes, padded (no NUL counted). */
#define BASE64_LEN(n) (((n) + 2) / 3 * 4)

/* Encode s[0..n) into out, which has room for BASE64_LEN(n) + 1 bytes;
 * with pad, the last group is filled up with '=', without it the '=' are
 * left out (ngx.encode_base64(s, true)). out is NUL-terminated. Returns
 * the characters written, not counting the NUL. */
size_t base64_encode(char *out, const void *s, size_t n, bool pad);

/* Decode s[0..n) into out (cap bytes). Padding is optional: any '=' at
 * the end of s are ignored, anywhere else they are an error, like any
 * character outside the alphabet and a length that leaves a lone
 * character (n % 4 == 1 once the padding is off). Returns the bytes
 * written, or -1 when s is not base64 or the result does not fit in cap
 * (out is then partly written). */
long base64_decode(unsigned char *out, size_t cap, const char *s, size_t n);

#endif
