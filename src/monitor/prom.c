/* prom: the Prometheus text format parser (contract in prom.h).
 *
 * One pass, line by line: a cursor (struct cur) walks one line, and each
 * piece of the grammar is a small function that advances it or reports
 * why not. Values are converted by strtod on a copy of at most 63 bytes,
 * after a check that the token holds only what Go's ParseFloat reads in
 * decimal (digits, '.', 'e', signs) or is a NaN/Inf spelling, so that
 * strtod's hex floats and "nan(...)" are refused. Nothing is allocated;
 * the input is never read past len. */
#include "monitor/prom.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>
#include <strings.h>

struct cur {
    const char *p, *end; /* the rest of the line (without its \n) */
};

static bool is_name_start(char c, bool colon)
{
    return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z') || c == '_' || (colon && c == ':');
}

static bool is_name_char(char c, bool colon)
{
    return is_name_start(c, colon) || (c >= '0' && c <= '9');
}

static void blanks(struct cur *c)
{
    while (c->p < c->end && (*c->p == ' ' || *c->p == '\t'))
        c->p++;
}

/* A metric name (colon true) or a label name. Returns its length, 0 if none. */
static size_t name(struct cur *c, bool colon)
{
    const char *s = c->p;
    if (c->p == c->end || !is_name_start(*c->p, colon)) return 0;
    while (c->p < c->end && is_name_char(*c->p, colon))
        c->p++;
    return (size_t)(c->p - s);
}

/* A quoted label value, the cursor on its opening quote. */
static const char *quoted(struct cur *c)
{
    if (c->p == c->end || *c->p != '"') return "expected '\"' before a label value";
    for (c->p++; c->p < c->end; c->p++) {
        if (*c->p == '"') {
            c->p++;
            return NULL;
        }
        if (*c->p != '\\') continue;
        if (c->p + 1 == c->end) break;
        c->p++;
        if (*c->p != '\\' && *c->p != '"' && *c->p != 'n')
            return "unknown escape in a label value (only \\\\, \\\" and \\n)";
    }
    return "unterminated label value";
}

/* {name="value",...}: the cursor just past '{'; leaves it past '}'. */
static const char *label_set(struct cur *c)
{
    for (;;) {
        blanks(c);
        if (c->p < c->end && *c->p == '}') {
            c->p++;
            return NULL;
        }
        if (name(c, false) == 0) return "expected a label name";
        blanks(c);
        if (c->p == c->end || *c->p != '=') return "expected '=' after a label name";
        c->p++;
        blanks(c);
        const char *why = quoted(c);
        if (why) return why;
        blanks(c);
        if (c->p < c->end && *c->p == ',') {
            c->p++;
            continue;
        }
        if (c->p < c->end && *c->p == '}') continue;
        return "expected ',' or '}' after a label value";
    }
}

static const char *token(struct cur *c, size_t *len)
{
    const char *s = c->p;
    while (c->p < c->end && *c->p != ' ' && *c->p != '\t')
        c->p++;
    *len = (size_t)(c->p - s);
    return s;
}

static bool special(const char *t, size_t n, const char *word)
{
    return n == strlen(word) && strncasecmp(t, word, n) == 0;
}

/* A float the way Go's ParseFloat reads one (decimal only). */
static const char *value(struct cur *c, double *out)
{
    size_t n;
    const char *t = token(c, &n);
    char buf[64];
    if (n == 0) return "expected a value";
    if (n >= sizeof buf) return "value too long";
    const char *u = (*t == '+' || *t == '-') ? t + 1 : t;
    size_t un = n - (size_t)(u - t);
    if (special(u, un, "nan") || special(u, un, "inf") || special(u, un, "infinity")) {
        double v = (u[0] == 'n' || u[0] == 'N') ? (double)NAN : (double)INFINITY;
        *out = *t == '-' ? -v : v;
        return NULL;
    }
    for (size_t i = 0; i < n; i++)
        if (!memchr("0123456789.eE+-", t[i], 15)) return "malformed value";
    memcpy(buf, t, n);
    buf[n] = '\0';
    char *end;
    *out = strtod(buf, &end);
    return *end || end == buf ? "malformed value" : NULL;
}

static const char *timestamp(struct cur *c, int64_t *out)
{
    size_t n;
    const char *t = token(c, &n);
    size_t i = (n && *t == '-') ? 1 : 0;
    if (i == n || n > 20) return "malformed timestamp";
    int64_t v = 0;
    for (size_t k = i; k < n; k++) {
        if (t[k] < '0' || t[k] > '9') return "malformed timestamp";
        if (v > (INT64_MAX - (t[k] - '0')) / 10) return "timestamp out of range";
        v = v * 10 + (t[k] - '0');
    }
    *out = i ? -v : v;
    return NULL;
}

/* "# HELP name ...", "# TYPE name kind", or any other comment. */
static const char *comment(struct cur *c)
{
    static const char *kinds[] = {"counter", "gauge", "histogram", "summary", "untyped"};
    c->p++;
    blanks(c);
    size_t n;
    const char *word = token(c, &n);
    bool help = n == 4 && memcmp(word, "HELP", 4) == 0;
    bool type = n == 4 && memcmp(word, "TYPE", 4) == 0;
    if (!help && !type) return NULL;
    blanks(c);
    if (name(c, true) == 0)
        return help ? "HELP without a metric name" : "TYPE without a metric name";
    if (help) return NULL; /* the docstring may hold anything */
    blanks(c);
    const char *k = token(c, &n);
    blanks(c);
    for (size_t i = 0; i < sizeof kinds / sizeof *kinds; i++)
        if (n == strlen(kinds[i]) && memcmp(k, kinds[i], n) == 0)
            return c->p == c->end ? NULL : "text after the TYPE's kind";
    return "unknown TYPE (counter, gauge, histogram, summary or untyped)";
}

static const char *sample(struct cur *c, prom_sample_t *s)
{
    s->name = c->p;
    s->name_len = name(c, true);
    if (s->name_len == 0) return "expected a metric name";
    s->labels = "";
    s->labels_len = 0;
    blanks(c);
    if (c->p < c->end && *c->p == '{') {
        s->labels = ++c->p;
        const char *why = label_set(c);
        if (why) return why;
        s->labels_len = (size_t)(c->p - 1 - s->labels);
        blanks(c);
    }
    const char *why = value(c, &s->value);
    if (why) return why;
    blanks(c);
    s->has_ts = c->p < c->end;
    if (s->has_ts && (why = timestamp(c, &s->ts_ms)) != NULL) return why;
    blanks(c);
    return c->p == c->end ? NULL : "text after the timestamp";
}

long prom_parse(const char *buf, size_t len, prom_fn fn, void *ud, prom_err_t *err)
{
    const char *p = buf, *end = buf + len;
    long count = 0;
    for (size_t line = 1; p < end; line++) {
        const char *nl = memchr(p, '\n', (size_t)(end - p));
        struct cur c = {p, nl ? nl : end};
        p = nl ? nl + 1 : end;
        if (c.end > c.p && c.end[-1] == '\r') c.end--;
        blanks(&c);
        if (c.p == c.end) continue;
        prom_sample_t s;
        bool is_comment = *c.p == '#';
        const char *why = is_comment ? comment(&c) : sample(&c, &s);
        if (why) {
            if (err) *err = (prom_err_t){line, why};
            return -1;
        }
        if (is_comment) continue;
        count++;
        if (fn) fn(ud, &s);
    }
    return count;
}

bool prom_is(const prom_sample_t *s, const char *n)
{
    return s->name_len == strlen(n) && memcmp(s->name, n, s->name_len) == 0;
}

int prom_label(const prom_sample_t *s, const char *key, char *out, size_t n)
{
    struct cur c = {s->labels, s->labels + s->labels_len};
    size_t klen = strlen(key);
    for (;;) {
        blanks(&c);
        const char *k = c.p;
        size_t kl = name(&c, false);
        if (kl == 0) return -1;
        while (*c.p != '"')
            c.p++;
        bool hit = kl == klen && memcmp(k, key, kl) == 0;
        size_t w = 0;
        for (c.p++; *c.p != '"'; c.p++) {
            char ch = *c.p;
            if (ch == '\\') ch = *++c.p == 'n' ? '\n' : *c.p;
            if (hit && w + 1 < n) out[w] = ch;
            w += hit;
        }
        c.p++;
        if (hit) {
            if (n) out[w < n ? w : n - 1] = '\0';
            return w < n ? (int)w : -2;
        }
        blanks(&c);
        if (c.p < c.end && *c.p == ',') c.p++;
    }
}
