/* json: Lua values to JSON text and back, for request bodies (json=) and
 * response:json(). Built on cJSON (Debian's libcjson).
 *
 * Tables with keys 1..n and nothing else become arrays (an empty table is
 * an object, as in lua-cjson's default); other tables become objects with
 * their string and number keys. JSON null decodes to nil inside objects
 * and to cicada.null (a lightuserdata) inside arrays, so arrays keep their
 * length. */
#ifndef CICADA_JSON_H
#define CICADA_JSON_H

#include <stddef.h>

#include "base/buf.h"

struct lua_State;

/* Append the JSON text of the value at idx to out. Returns 0, or -1 with a
 * reason in err (a cycle, too deep, a function value...). */
int json_encode(struct lua_State *L, int idx, buf_t *out, char *err, size_t n);

/* Decode s[0..n) and push the value. Returns 0, or -1 (nothing pushed)
 * with a reason in err. */
int json_decode(struct lua_State *L, const char *s, size_t n, char *err, size_t errn);

#endif
