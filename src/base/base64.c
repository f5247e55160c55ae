/* base64: see base64.h. Three bytes become four characters, most
 * significant bits first; the decoder accumulates six bits per character
 * and hands out a byte whenever eight are there, so it needs no groups of
 * four and takes unpadded input as it comes. */
#include "base/base64.h"

static const char alphabet[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+/";

size_t base64_encode(char *out, const void *s, size_t n, bool pad)
{
    const unsigned char *u = s;
    size_t k = 0;
    for (size_t i = 0; i < n; i += 3) {
        unsigned v = (unsigned)u[i] << 16;
        if (i + 1 < n) v |= (unsigned)u[i + 1] << 8;
        if (i + 2 < n) v |= u[i + 2];
        out[k++] = alphabet[v >> 18 & 63];
        out[k++] = alphabet[v >> 12 & 63];
        if (i + 1 < n)
            out[k++] = alphabet[v >> 6 & 63];
        else if (pad)
            out[k++] = '=';
        if (i + 2 < n)
            out[k++] = alphabet[v & 63];
        else if (pad)
            out[k++] = '=';
    }
    out[k] = '\0';
    return k;
}

static int value(unsigned char c)
{
    if (c >= 'A' && c <= 'Z') return c - 'A';
    if (c >= 'a' && c <= 'z') return c - 'a' + 26;
    if (c >= '0' && c <= '9') return c - '0' + 52;
    if (c == '+') return 62;
    if (c == '/') return 63;
    return -1;
}

long base64_decode(unsigned char *out, size_t cap, const char *s, size_t n)
{
    while (n > 0 && s[n - 1] == '=')
        n--;
    if (n % 4 == 1) return -1; /* six bits alone make no byte */
    size_t k = 0;
    unsigned acc = 0;
    int bits = 0;
    for (size_t i = 0; i < n; i++) {
        int v = value((unsigned char)s[i]);
        if (v < 0) return -1;
        acc = (acc << 6 | (unsigned)v) & 0xffffff; /* at most 14 bits matter */
        bits += 6;
        if (bits >= 8) {
            bits -= 8;
            if (k == cap) return -1;
            out[k++] = (unsigned char)(acc >> bits);
        }
    }
    return (long)k;
}
