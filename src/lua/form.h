/* form: request bodies and query strings built from Lua tables, for the
 * HTTP client bindings (src/lua/http.c).
 *
 * Query strings and urlencoded forms follow requests: a list value repeats
 * its key (`{tag = {"a", "b"}}` -> "tag=a&tag=b"), other values go through
 * tostring(), keys and values are percent-encoded with form rules (space
 * as '+'). Multipart bodies follow urllib3's encode_multipart_formdata:
 * the data fields first, then the files, each part with its
 * Content-Disposition (quotes in names escaped as %22) and, for files, a
 * Content-Type. Table iteration order is Lua's (not the order written). */
#ifndef CICADA_FORM_H
#define CICADA_FORM_H

#include <stddef.h>

#include "base/buf.h"

struct lua_State;

/* Append the key=value pairs of the table at idx to b. *sep is written
 * before each pair (unless it is '\0') and then becomes '&'. */
void form_pairs(struct lua_State *L, int idx, buf_t *b, char *sep);

/* Append a multipart/form-data body to b: the fields of the table at data
 * (0: none) and the files of the table at files. A file is a table
 * { filename = , content = , content_type = } (or the list {filename,
 * content, content_type}), or a string: the content, named after the
 * field. boundary is the part delimiter without the leading "--". Raises
 * a Lua error for a file with no content. */
void form_multipart(struct lua_State *L, int data, int files, buf_t *b, const char *boundary);

#endif
