/* utf8.c: a UTF-8 well-formedness check over (buf, len), one pass, no
 * allocation. It checks lead bytes and the count of continuation bytes;
 * it does not decode code points. */
#include "base/utf8.h"

bool utf8_valid(const char *s, size_t len, bool allow_nul)
{
    if (len == 0) return true; /* s may be NULL (an empty msgpack str) */
    const unsigned char *p = (const unsigned char *)s, *end = p + len;
    while (p < end) {
        unsigned c = *p++;
        int more;
        if (c == 0 && !allow_nul) return false;
        if (c < 0x80) continue;
        if (c >= 0xc2 && c <= 0xdf)
            more = 1;
        else if (c >= 0xe0 && c <= 0xef)
            more = 2;
        else if (c >= 0xf0 && c <= 0xf4)
            more = 3;
        else
            return false;
        if (end - p < more) return false;
        for (int i = 0; i < more; i++)
            if ((p[i] & 0xc0) != 0x80) return false;
        p += more;
    }
    return true;
}
