/* json: Lua values to JSON text and back, for request bodies (json=),
 * response:json(), cicada.data.json and cicada.json.encode/decode. Built on
 * cJSON (Debian's libcjson) for decoding; encoding writes text directly.
 *
 * The rules (docs/scenario.md, "cicada.json"): tables with keys 1..n and
 * nothing else become arrays; an empty table is an object `{}` unless
 * marked with cicada.json.array (a metatable; decoded arrays carry it, so
 * `[]` round-trips); other tables become objects, their string and number
 * keys sorted by their bytes. Integers below 2^53 are written without a
 * fraction, other numbers in the fewest digits that read back as the same
 * double; NaN and infinities are refused. nil and cicada.null (a NULL
 * lightuserdata, ngx.null) are null. Nesting deeper than 64 tables (a
 * cycle) is refused. JSON null decodes to nil inside objects and to
 * cicada.null inside arrays, so arrays keep their length. */
#ifndef CICADA_JSON_H
#define CICADA_JSON_H

#include <stddef.h>

#include "base/buf.h"

struct lua_State;

/* Append the JSON text of the value at idx to out. Returns 0, or -1 with a
 * reason and where it is in err ("cannot encode a function at
 * $.a[2]"); out then holds a partial text. */
int json_encode(struct lua_State *L, int idx, buf_t *out, char *err, size_t n);

/* Decode s[0..n) and push the value. Returns 0, or -1 (nothing pushed)
 * with a reason in err. */
int json_decode(struct lua_State *L, const char *s, size_t n, char *err, size_t errn);

/* Set cicada.json (encode, decode, array, null) in the table on top of
 * L's stack, and register the array marker the encoder and decoder use. */
void json_open(struct lua_State *L);

#endif
