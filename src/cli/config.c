/* config: reading Locust's configuration files (see config.h).
 *
 * Ini-style files go through libinih with its run-time switches set the
 * way ConfigArgParse reads them: a bare key is allowed (true), no
 * continuation lines, '#' and ';' start comments (inline ones after a
 * blank), lines as long as needed. inih does not tell a handler the line it
 * is on, so it reads through our own fgets() wrapper that counts lines
 * (continuation lines being off, one call is one line). The value is then
 * taken apart as ConfigArgParse does: surrounding quotes removed, "[a, b]"
 * (or JSON's ["a", "b"]) split into a list. TOML files are read whole and
 * given to toml_parse(). inih's switches are process-wide globals: this
 * runs at start-up only, on one thread. */
#include "cli/config.h"

#include <errno.h>
#include <ini.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "cli/toml.h"

#define LIST_MAX 64
#define VALUE_MAX 8192

typedef struct reader {
    FILE *f;
    const char *path;
    int line;
    config_fn fn;
    void *ud;
    int rc; /* the callback's nonzero return, or -1 for a value too long */
    char *err;
    size_t n;
} reader_t;

static char *next_line(char *str, int num, void *stream)
{
    reader_t *r = stream;
    char *s = fgets(str, num, r->f);
    if (s) r->line++;
    return s;
}

static char *trim(char *s)
{
    s += strspn(s, " \t");
    size_t len = strlen(s);
    while (len && (s[len - 1] == ' ' || s[len - 1] == '\t'))
        s[--len] = '\0';
    return s;
}

/* Remove one pair of matching quotes around s. */
static char *unquote(char *s)
{
    size_t len = strlen(s);
    if (len >= 2 && (s[0] == '"' || s[0] == '\'') && s[len - 1] == s[0]) {
        s[len - 1] = '\0';
        return s + 1;
    }
    return s;
}

/* Split "[a, 'b', "c"]" (brackets already gone) on commas. */
static size_t split(char *s, const char **vals)
{
    size_t n = 0;
    if (*trim(s) == '\0') return 0;
    for (char *p = s; p && n < LIST_MAX; n++) {
        char *comma = strchr(p, ',');
        if (comma) *comma = '\0';
        vals[n] = unquote(trim(p));
        p = comma ? comma + 1 : NULL;
    }
    return n;
}

static int on_item(void *user, const char *section, const char *name, const char *value)
{
    reader_t *r = user;
    char where[4200], buf[VALUE_MAX], key[256];
    const char *vals[LIST_MAX];
    size_t nv = 1;
    bool list = false;
    snprintf(where, sizeof where, "%s:%d", r->path, r->line);
    size_t klen = strcspn(name, " \t");
    if (value == NULL && name[klen] && klen < sizeof key) {
        /* ConfigArgParse's "key value" (and "--key value"): no '=' or ':' */
        memcpy(key, name, klen);
        key[klen] = '\0';
        value = name + klen + strspn(name + klen, " \t");
        name = key;
    }
    if (value && strlen(value) >= sizeof buf) {
        snprintf(r->err, r->n, "cicada: error: %s: value longer than %d bytes", where, VALUE_MAX);
        r->rc = -1;
        return 0;
    }
    snprintf(buf, sizeof buf, "%s", value ? value : "true"); /* a bare key means true */
    char *v = unquote(buf);
    size_t len = strlen(v);
    if (v == buf && len >= 2 && v[0] == '[' && v[len - 1] == ']') {
        v[len - 1] = '\0';
        nv = split(v + 1, vals);
        list = true;
    } else {
        vals[0] = v;
    }
    r->rc = r->fn(r->ud, where, name, vals, nv, list);
    return r->rc == 0;
}

static int read_ini(reader_t *r)
{
    ini_allow_no_value = true;
    ini_allow_multiline = false;
    ini_allow_inline_comments = true;
    ini_inline_comment_prefixes = ";#";
    ini_start_comment_prefixes = ";#";
    ini_stop_on_first_error = true;
    ini_use_stack = false;
    ini_allow_realloc = true;
    ini_max_line = VALUE_MAX;
    int line = ini_parse_stream(next_line, r, on_item, r);
    if (r->rc) return r->rc;
    if (line == -2) {
        snprintf(r->err, r->n, "cicada: error: %s: out of memory", r->path);
        return -1;
    }
    if (line != 0) {
        snprintf(r->err, r->n, "cicada: error: %s:%d: cannot parse the line (expected key = value)",
                 r->path, line);
        return -1;
    }
    return 0;
}

static int on_toml(void *ud, const char *key, const char *const *vals, size_t n, bool array,
                   int line)
{
    reader_t *r = ud;
    char where[4200];
    snprintf(where, sizeof where, "%s:%d", r->path, line);
    return r->fn(r->ud, where, key, vals, n, array);
}

static int read_toml(reader_t *r)
{
    size_t cap = 4096, len = 0;
    char *text = xmalloc(cap);
    for (size_t got; (got = fread(text + len, 1, cap - len, r->f)) > 0;) {
        len += got;
        if (len == cap) text = xrealloc(text, cap *= 2);
    }
    int rc = 0;
    if (ferror(r->f)) {
        snprintf(r->err, r->n, "cicada: error: cannot read %s: %s", r->path, strerror(errno));
        rc = -1;
    } else {
        char *out = xmalloc(len + 2), msg[256];
        rc = toml_parse(text, len, "tool.locust", on_toml, r, out, len + 2, msg, sizeof msg);
        if (rc == -1 && msg[0]) snprintf(r->err, r->n, "cicada: error: %s:%s", r->path, msg + 5);
        xfree(out);
    }
    xfree(text);
    return rc;
}

int config_read(const char *path, bool must_exist, config_fn fn, void *ud, char *err, size_t n)
{
    char dummy[1];
    reader_t r = {.path = path,
                  .fn = fn,
                  .ud = ud,
                  .err = err && n ? err : dummy,
                  .n = err && n ? n : sizeof dummy};
    r.f = fopen(path, "r");
    if (r.f == NULL) {
        if (errno == ENOENT && !must_exist) return 0;
        snprintf(r.err, r.n, "cicada: error: cannot read %s: %s", path, strerror(errno));
        return -1;
    }
    size_t len = strlen(path);
    bool toml = len >= 5 && strcmp(path + len - 5, ".toml") == 0;
    int rc = toml ? read_toml(&r) : read_ini(&r);
    fclose(r.f);
    return rc;
}

size_t config_defaults(const char *paths[CONFIG_MAX_FILES], char *buf, size_t n)
{
    size_t k = 0;
    const char *home = getenv("HOME");
    if (home && *home) {
        int len = snprintf(buf, n, "%s/.locust.conf", home);
        if (len > 0 && (size_t)len < n) paths[k++] = buf;
    }
    paths[k++] = "locust.conf";
    paths[k++] = "pyproject.toml";
    return k;
}
