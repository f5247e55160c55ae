/* utf8.h: is a byte string well-formed UTF-8? One check shared by the
 * master/worker protocol (names must be UTF-8 strings, as Python decodes
 * them) and the Lua -> msgpack conversion of custom messages (str vs bin). */
#ifndef CICADA_UTF8_H
#define CICADA_UTF8_H

#include <stdbool.h>
#include <stddef.h>

/* True if s[0..len) is well-formed UTF-8 (no overlong two-byte forms, no
 * lead byte above U+10FFFF's); a NUL byte counts as valid only when
 * allow_nul is set. s may be NULL when len is 0. */
bool utf8_valid(const char *s, size_t len, bool allow_nul);

#endif
