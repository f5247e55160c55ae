/* toml: a reader for the part of TOML that [tool.locust] uses (see toml.h).
 *
 * One cursor walks the text line by line: a line is empty, a comment, a
 * table header ("[a.b]" or "[[a.b]]") or "key = value". The current table's
 * name joined with the line's (maybe dotted) key gives the full key; when it
 * starts with the wanted table's name, the value is decoded into the
 * caller's buffer and handed to the callback, otherwise it is skipped by
 * skip(), which only knows where strings, arrays and inline tables end.
 * The buffer is reused from each line's start, so it never needs more than
 * the text's length. What it does not do: check that keys are unique, read
 * dates, hexadecimal numbers, inf/nan, nested arrays or inline tables in the
 * wanted table (those are refused with the line number). */
#include "cli/toml.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdio.h>
#include <string.h>

#define NAME_MAX_LEN 256

typedef struct cur {
    const char *s, *e;
    int line;
    char *out, *oend;
    char tab[NAME_MAX_LEN]; /* the current table's name, "" at the top */
    bool tab_long;          /* its name did not fit: never the wanted one */
    char *err;
    size_t n;
} cur_t;

__attribute__((format(printf, 2, 3))) static int fail(cur_t *c, const char *fmt, ...)
{
    if (c->err && c->n) {
        int k = snprintf(c->err, c->n, "line %d: ", c->line);
        if (k >= 0 && (size_t)k < c->n) {
            va_list ap;
            va_start(ap, fmt);
            vsnprintf(c->err + k, c->n - (size_t)k, fmt, ap);
            va_end(ap);
        }
    }
    return -1;
}

static int peek(const cur_t *c)
{
    return c->s < c->e ? (unsigned char)*c->s : -1;
}

static bool ahead(const cur_t *c, const char *lit)
{
    size_t k = strlen(lit);
    return (size_t)(c->e - c->s) >= k && memcmp(c->s, lit, k) == 0;
}

static void blanks(cur_t *c)
{
    while (peek(c) == ' ' || peek(c) == '\t')
        c->s++;
}

static int put(cur_t *c, int ch)
{
    if (c->out >= c->oend) return fail(c, "value too long");
    *c->out++ = (char)ch;
    return 0;
}

/* Blanks, a comment, then the end of the line or of the text. */
static int eol(cur_t *c)
{
    blanks(c);
    if (peek(c) == '#')
        while (c->s < c->e && *c->s != '\n')
            c->s++;
    if (ahead(c, "\r\n")) c->s++;
    if (c->s == c->e) return 0;
    if (*c->s != '\n') return fail(c, "expected the end of the line");
    c->s++;
    c->line++;
    return 0;
}

static int hexval(int ch)
{
    if (ch >= '0' && ch <= '9') return ch - '0';
    if (ch >= 'a' && ch <= 'f') return ch - 'a' + 10;
    if (ch >= 'A' && ch <= 'F') return ch - 'A' + 10;
    return -1;
}

static int utf8(cur_t *c, uint32_t u)
{
    if ((u >= 0xD800 && u <= 0xDFFF) || u > 0x10FFFF)
        return fail(c, "\\u escape of an invalid code point");
    if (u < 0x80) return put(c, (int)u);
    if (u < 0x800) return put(c, 0xC0 | (int)(u >> 6)) || put(c, 0x80 | (int)(u & 0x3F));
    if (u < 0x10000)
        return put(c, 0xE0 | (int)(u >> 12)) || put(c, 0x80 | (int)((u >> 6) & 0x3F)) ||
               put(c, 0x80 | (int)(u & 0x3F));
    return put(c, 0xF0 | (int)(u >> 18)) || put(c, 0x80 | (int)((u >> 12) & 0x3F)) ||
           put(c, 0x80 | (int)((u >> 6) & 0x3F)) || put(c, 0x80 | (int)(u & 0x3F));
}

/* The escape after a backslash (c->s is past it) of a basic string. */
static int escape(cur_t *c, bool multi)
{
    static const char from[] = "btnfr\"\\", to[] = "\b\t\n\f\r\"\\";
    int ch = peek(c);
    if (ch < 0) return fail(c, "unterminated string");
    const char *m = ch ? strchr(from, ch) : NULL;
    if (m) {
        c->s++;
        return put(c, to[m - from]);
    }
    if (ch == 'u' || ch == 'U') {
        int digits = ch == 'u' ? 4 : 8;
        uint32_t u = 0;
        c->s++;
        for (int i = 0; i < digits; i++, c->s++) {
            int h = hexval(peek(c));
            if (h < 0) return fail(c, "bad \\%c escape", ch);
            u = u << 4 | (uint32_t)h;
        }
        return utf8(c, u);
    }
    if (multi) { /* a line-ending backslash: drop the blanks and newlines after it */
        const char *p = c->s;
        blanks(c);
        if (ahead(c, "\r\n")) c->s++;
        if (peek(c) == '\n') {
            for (int k; (k = peek(c)) == ' ' || k == '\t' || k == '\n' || k == '\r'; c->s++)
                if (k == '\n') c->line++;
            return 0;
        }
        c->s = p;
    }
    return fail(c, "unknown escape '\\%c' in a string", ch);
}

/* A string whose opening quote q (one or three of them) is at c->s. */
static int string(cur_t *c)
{
    char q = *c->s;
    const char delim3[4] = {q, q, q, 0};
    bool multi = ahead(c, delim3);
    c->s += multi ? 3 : 1;
    if (multi && ahead(c, "\r\n")) c->s++;
    if (multi && peek(c) == '\n') c->s++, c->line++;
    for (;;) {
        int ch = peek(c);
        if (ch < 0) return fail(c, "unterminated string");
        if (ch == q && (!multi || ahead(c, delim3))) {
            if (!multi) return c->s++, 0;
            size_t run = 0; /* up to two quotes may end the content: """a""""" */
            while (c->s + run < c->e && c->s[run] == q)
                run++;
            if (run > 5) return fail(c, "too many quotes at the end of a string");
            for (size_t i = 3; i < run; i++)
                if (put(c, q)) return -1;
            c->s += run;
            return 0;
        }
        c->s++;
        if (ch == '\\' && q == '"') {
            if (escape(c, multi)) return -1;
            continue;
        }
        if (ch == '\r' && multi && peek(c) == '\n') continue;
        if (ch == '\n' && multi)
            c->line++;
        else if ((ch < 0x20 && ch != '\t') || ch == 0x7F)
            return fail(c, ch == '\n' ? "newline in a one-line string"
                                      : "control character in a string");
        if (put(c, ch)) return -1;
    }
}

/* A key: bare, quoted, or several joined by dots; written to out. */
static int key(cur_t *c)
{
    for (;;) {
        blanks(c);
        int ch = peek(c);
        if (ch == '"' || ch == '\'') {
            if (ahead(c, "\"\"\"") || ahead(c, "'''")) return fail(c, "multi-line key");
            if (string(c)) return -1;
        } else {
            const char *p = c->s;
            while (c->s < c->e &&
                   (strchr("_-", *c->s) || (*c->s >= 'a' && *c->s <= 'z') ||
                    (*c->s >= 'A' && *c->s <= 'Z') || (*c->s >= '0' && *c->s <= '9')))
                if (put(c, *c->s++)) return -1;
            if (c->s == p) return fail(c, "expected a key");
        }
        blanks(c);
        if (peek(c) != '.') return put(c, '\0');
        c->s++;
        if (put(c, '.')) return -1;
    }
}

/* true, false or a decimal number, copied without its '_'. */
static int scalar(cur_t *c)
{
    const char *p = c->s;
    while (c->s < c->e && *c->s &&
           strchr("+-._:0123456789abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ", *c->s))
        c->s++;
    size_t len = (size_t)(c->s - p);
    if (len == 0) return fail(c, "expected a value");
    if ((len == 4 && !memcmp(p, "true", 4)) || (len == 5 && !memcmp(p, "false", 5))) {
        for (size_t i = 0; i < len; i++)
            if (put(c, p[i])) return -1;
        return put(c, '\0');
    }
    size_t i = 0, d;
    if (p[i] == '+' || p[i] == '-') i++;
    for (int part = 0; part < 3; part++) { /* integer, fraction, exponent */
        if (part == 1 && !(i < len && p[i] == '.')) continue;
        if (part == 2 && !(i < len && (p[i] == 'e' || p[i] == 'E'))) break;
        if (part > 0) i++;
        if (part == 2 && i < len && (p[i] == '+' || p[i] == '-')) i++;
        for (d = 0; i < len && ((p[i] >= '0' && p[i] <= '9') || p[i] == '_'); i++, d++)
            if (p[i] == '_' && (d == 0 || i + 1 >= len || p[i + 1] < '0' || p[i + 1] > '9'))
                return fail(c, "misplaced '_' in %.*s", (int)len, p);
        if (d == 0) break;
    }
    if (i != len)
        return fail(c,
                    "unsupported value '%.*s' (strings, decimal numbers, true, false and "
                    "arrays of them)",
                    (int)(len > 40 ? 40 : len), p);
    for (i = 0; i < len; i++)
        if (p[i] != '_' && put(c, p[i])) return -1;
    return put(c, '\0');
}

static int value(cur_t *c, const char **v)
{
    *v = c->out;
    int ch = peek(c);
    if (ch == '"' || ch == '\'') return string(c) || put(c, '\0') ? -1 : 0;
    if (ch == '[' || ch == '{')
        return fail(c, "nested arrays and inline tables are not supported here");
    return scalar(c);
}

/* Blanks, newlines and comments inside an array. */
static void gaps(cur_t *c)
{
    for (;;) {
        blanks(c);
        int ch = peek(c);
        if (ch == '#')
            while (c->s < c->e && *c->s != '\n')
                c->s++;
        else if (ch == '\r' && ahead(c, "\r\n"))
            c->s++;
        else if (ch == '\n')
            c->s++, c->line++;
        else
            return;
    }
}

static int array(cur_t *c, const char **vals, size_t *n)
{
    c->s++; /* '[' */
    *n = 0;
    for (;;) {
        gaps(c);
        if (peek(c) < 0) return fail(c, "unterminated array");
        if (peek(c) == ']') return c->s++, 0;
        if (*n == TOML_MAX_VALUES)
            return fail(c, "more than %d values in an array", TOML_MAX_VALUES);
        if (value(c, &vals[(*n)++])) return -1;
        gaps(c);
        if (peek(c) == ',')
            c->s++;
        else if (peek(c) != ']')
            return fail(c, "expected ',' or ']' in an array");
    }
}

/* Skip a value of another table: strings, and brackets to their match. */
static int skip(cur_t *c)
{
    int depth = 0;
    char *mark = c->out;
    for (;;) {
        int ch = peek(c);
        if (ch < 0) return depth ? fail(c, "unterminated array or inline table") : 0;
        if ((ch == '\n' || ch == '#') && depth == 0) return 0;
        if (ch == '"' || ch == '\'') {
            if (string(c)) return -1;
            c->out = mark;
            continue;
        }
        if (ch == '#')
            while (c->s < c->e && *c->s != '\n')
                c->s++;
        else if (ch == '\n')
            c->line++, c->s++;
        else {
            if (ch == '[' || ch == '{') depth++;
            if ((ch == ']' || ch == '}') && --depth < 0) return fail(c, "unexpected '%c'", ch);
            c->s++;
        }
    }
}

static int header(cur_t *c)
{
    bool twice = ahead(c, "[[");
    c->s += twice ? 2 : 1;
    char *k = c->out;
    if (key(c)) return -1;
    if (!ahead(c, twice ? "]]" : "]")) return fail(c, "expected ']' after the table name");
    c->s += twice ? 2 : 1;
    size_t len = strlen(k);
    c->tab_long = len >= sizeof c->tab;
    memcpy(c->tab, k, c->tab_long ? 0 : len + 1);
    if (twice) c->tab_long = true; /* an array of tables is never the wanted one */
    return eol(c);
}

/* The key of this line relative to the wanted table, or NULL. */
static const char *wanted(const cur_t *c, const char *k, const char *table, char *full, size_t n)
{
    if (c->tab_long) return NULL;
    int len = snprintf(full, n, "%s%s%s", c->tab, c->tab[0] ? "." : "", k);
    size_t t = strlen(table);
    if (len < 0 || (size_t)len >= n || strncmp(full, table, t) != 0 || full[t] != '.') return NULL;
    return full + t + 1;
}

static int pair(cur_t *c, const char *table, toml_fn fn, void *ud)
{
    char full[2 * NAME_MAX_LEN];
    const char *k = c->out, *vals[TOML_MAX_VALUES];
    if (key(c)) return -1;
    if (peek(c) != '=') return fail(c, "expected '=' after the key");
    c->s++;
    blanks(c);
    int line = c->line;
    const char *rel = wanted(c, k, table, full, sizeof full);
    if (rel == NULL) return skip(c) || eol(c) ? -1 : 0;
    size_t nv = 1;
    bool arr = peek(c) == '[';
    if (arr ? array(c, vals, &nv) : value(c, &vals[0])) return -1;
    if (eol(c)) return -1;
    return fn(ud, rel, vals, nv, arr, line);
}

int toml_parse(const char *text, size_t len, const char *table, toml_fn fn, void *ud, char *out,
               size_t cap, char *err, size_t n)
{
    cur_t c = {
        .s = text, .e = text + len, .line = 1, .out = out, .oend = out + cap, .err = err, .n = n};
    if (err && n) err[0] = '\0';
    if (ahead(&c, "\xEF\xBB\xBF")) c.s += 3; /* a UTF-8 byte order mark */
    while (c.s < c.e) {
        c.out = out;
        blanks(&c);
        int ch = peek(&c), r;
        if (ch == '[')
            r = header(&c);
        else if (ch == '#' || ch == '\n' || ch == '\r' || ch < 0)
            r = eol(&c);
        else
            r = pair(&c, table, fn, ud);
        if (r) return r;
    }
    return 0;
}
