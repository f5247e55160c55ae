/* toml: the small part of TOML that pyproject.toml's [tool.locust] uses.
 *
 * toml_parse() walks a whole document and hands each key = value of one
 * table (e.g. "tool.locust") to a callback: strings (basic and literal,
 * single- and multi-line, with TOML's escapes), integers and floats (given
 * as written, without '_'), booleans ("true"/"false") and arrays of those.
 * Every other table, array of tables and value (inline tables, dates,
 * nested arrays) is skipped without being interpreted, so any pyproject.toml
 * a Python project carries can be read. It is a pure function over
 * (text, len): no allocation, decoded values go to the caller's buffer. */
#ifndef CICADA_TOML_H
#define CICADA_TOML_H

#include <stdbool.h>
#include <stddef.h>

#define TOML_MAX_VALUES 64 /* elements of one array in the wanted table */

/* One key = value of the wanted table. key is the key as written with
 * quotes removed (dotted keys joined with '.'); vals[0..n) are the value,
 * or the array's elements when array is true (n may be 0). All strings are
 * NUL-terminated and live until toml_parse() returns. line is 1-based.
 * Return 0 to go on, anything else to stop: toml_parse() returns it. */
typedef int (*toml_fn)(void *ud, const char *key, const char *const *vals, size_t n, bool array,
                       int line);

/* Parse text[0..len) (need not be NUL-terminated), calling fn for each
 * key = value of the table named table ("tool.locust"). out (cap bytes, at
 * least len + 2) holds the decoded strings. Returns 0; -1 on a syntax error
 * or a value of the wanted table outside the subset, with err (size n)
 * saying "line N: what"; or the callback's nonzero return. */
int toml_parse(const char *text, size_t len, const char *table, toml_fn fn, void *ud, char *out,
               size_t cap, char *err, size_t n);

#endif
