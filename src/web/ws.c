/* ws: see ws.h. The accept key is base64(SHA-1(key + the RFC's GUID)),
 * with OpenSSL's SHA-1 and base/base64.c. */
#include "web/ws.h"

#include <stdio.h>
#include <string.h>

#include <openssl/sha.h>

#include "base/base64.h"

void ws_accept_key(const char *key, char out[29])
{
    char buf[256];
    int n = snprintf(buf, sizeof buf, "%.200s258EAFA5-E914-47DA-95CA-C5AB0DC85B11", key);
    unsigned char md[SHA_DIGEST_LENGTH];
    SHA1((const unsigned char *)buf, (size_t)n, md);
    base64_encode(out, md, SHA_DIGEST_LENGTH, true); /* 28 chars + NUL */
}

size_t ws_frame_head(unsigned char *out, int opcode, size_t len)
{
    out[0] = (unsigned char)(0x80 | opcode);
    if (len < 126) {
        out[1] = (unsigned char)len;
        return 2;
    }
    if (len <= 0xffff) {
        out[1] = 126;
        out[2] = (unsigned char)(len >> 8);
        out[3] = (unsigned char)len;
        return 4;
    }
    out[1] = 127;
    for (int i = 0; i < 8; i++)
        out[2 + i] = (unsigned char)((unsigned long long)len >> (56 - 8 * i));
    return 10;
}

long ws_parse(unsigned char *buf, size_t len, ws_frame_t *f)
{
    if (len < 2) return 0;
    int opcode = buf[0] & 0x0f;
    if ((buf[0] & 0x70) != 0 || !(buf[1] & 0x80)) return -1; /* RSV bits, unmasked */
    if ((opcode > WS_BINARY && opcode < WS_CLOSE) || opcode > WS_PONG) return -1;
    size_t n = buf[1] & 0x7f, pos = 2;
    if (n == 126) {
        if (len < 4) return 0;
        n = (size_t)buf[2] << 8 | buf[3];
        pos = 4;
    } else if (n == 127) {
        return -1; /* 64-bit lengths are far over WS_MAX_IN */
    }
    if (n > WS_MAX_IN || (opcode >= WS_CLOSE && n > 125)) return -1;
    if (len < pos + 4 + n) return 0;
    const unsigned char *mask = buf + pos;
    unsigned char *p = buf + pos + 4;
    for (size_t i = 0; i < n; i++)
        p[i] ^= mask[i & 3];
    *f = (ws_frame_t){.opcode = opcode, .fin = buf[0] >> 7, .payload = p, .len = n};
    return (long)(pos + 4 + n);
}
