/* data: test data for scenarios, cicada.data.csv() and cicada.data.json().
 *
 * A data file is loaded once per process, by whichever VM asks first, into
 * immutable C memory that every engine thread reads without copying it; a
 * VM only holds a small userdata pointing at it. Rows are turned into Lua
 * tables when a user asks for one (ds:next(), ds:random(), ds:get(i)). See
 * data.c for the storage and the Lua-visible API. */
#ifndef CICADA_DATA_H
#define CICADA_DATA_H

#include <stddef.h>

struct lua_State;

/* Add the `data` table (csv, json) to the table on top of the stack (the
 * `cicada` table, in api_open) and register the dataset metatable. Leaves
 * the stack as it found it. */
void data_open(struct lua_State *L);

/* Free every loaded data file. Registered with atexit() on the first load,
 * so nobody has to call it; calling it twice is harmless. No VM may use a
 * dataset afterwards (call it only once the engine threads are joined). */
void data_free_all(void);

/* ---- the CSV field parser (pure: exposed for the unit tests) ---- */

enum {
    DATA_CSV_MORE = 0,     /* a separator followed: the record has more fields */
    DATA_CSV_END = 1,      /* the field ended its record (line end or end of input) */
    DATA_CSV_EUNTERM = -1, /* a quoted field runs to the end of the input */
    DATA_CSV_EQUOTE = -2,  /* something other than a separator or line end after a closing quote */
};

/* Parse one RFC 4180 field of s[0..len) starting at *pos, separated by sep.
 * The field's value (quotes removed, "" turned into ") is written to out,
 * which must have room for len - *pos bytes; its length goes to *n. A line
 * end is CRLF, LF or a lone CR; line ends inside quotes are kept as they are.
 * On success *pos moves past the field and its separator or line end, and
 * *lines grows by the line ends consumed (inside quotes too). On error *pos
 * and *lines are left where the field started. Never allocates. */
int data_csv_field(const char *s, size_t len, size_t *pos, char sep, char *out, size_t *n,
                   int *lines);

#endif
