/* data: CSV and JSON test data shared by every user of every thread.
 *
 *   local users = cicada.data.csv("users.csv", { header = true, separator = ",", cycle = true })
 *   local items = cicada.data.json("items.json", { cycle = false })
 *   local row = users:next()   -- the next row, unique across all threads
 *   users:random(), users:get(i), #users, users:len(), users:columns()
 *
 * Every engine thread runs the scenario in its own VM, so the same call
 * comes from each of them. A process-wide registry, keyed by the file's
 * absolute path and the options and guarded by one mutex, loads a file the
 * first time it is asked for (in practice by the main thread's VM, while it
 * checks the scenario, so a bad file is a load error) and hands the same
 * dataset to every later caller. The mutex is only taken when a file is
 * opened, never per row.
 *
 * A dataset is immutable once loaded: one text block holding every value
 * back to back (CSV values unquoted, JSON rows re-printed compactly), an
 * array of cells (offset, length) into it and, per row, the index of its
 * first cell. ds:next() takes a number from the dataset's atomic counter,
 * so rows are handed out once each across all threads (wrapping around at
 * the end, or nil once exhausted with cycle = false). A row becomes a fresh
 * Lua table when asked for: header name -> string (or 1..n without a
 * header); a JSON row is decoded with lua/json.c, so nulls, arrays and
 * objects read as they do in response:json().
 *
 * Not done: writing files, streaming files larger than memory, type
 * conversion of CSV values (they are strings), reloading a changed file.
 * Blank lines in a CSV file are skipped; a row must have as many fields as
 * the header. */
#include "lua/data.h"

#include <errno.h>
#include <fcntl.h>
#include <lauxlib.h>
#include <lua.h>
#include <pthread.h>
#include <stdatomic.h>
#include <stdbool.h>
#include <stdint.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/stat.h>
#include <time.h>
#include <unistd.h>

#include <cjson/cJSON.h>

#include "base/alloc.h"
#include "base/buf.h"
#include "engine/engine.h"
#include "lua/json.h"

#define MT "cicada.dataset"

typedef struct cell {
    size_t off, len;
} cell_t;

typedef struct dataset {
    struct dataset *next; /* in the registry */
    char *key;            /* kind, options and absolute path */
    char *name;           /* the path as the scenario first gave it, for messages */
    bool json, cycle;
    char *text; /* every value, back to back */
    cell_t *cells;
    size_t *rows; /* row r is cells[rows[r] .. rows[r + 1]) */
    size_t nrows;
    cell_t *cols; /* column names (into text), ncols of them */
    size_t ncols;
    _Atomic uint64_t cursor; /* ds:next()'s counter, shared by all threads */
} dataset_t;
static pthread_mutex_t lock = PTHREAD_MUTEX_INITIALIZER;
static dataset_t *registry;
static bool atexit_set;

/* ---------------------------------------------------------------- CSV */

static bool is_eol(char c)
{
    return c == '\n' || c == '\r';
}

int data_csv_field(const char *s, size_t len, size_t *pos, char sep, char *out, size_t *n,
                   int *lines)
{
    size_t i = *pos, o = 0;
    int nl = 0;
    if (i < len && s[i] == '"') {
        for (i++;; i++) {
            if (i >= len) return DATA_CSV_EUNTERM;
            if (s[i] == '"') {
                if (i + 1 < len && s[i + 1] == '"') {
                    out[o++] = '"';
                    i++;
                    continue;
                }
                i++;
                break;
            }
            if (s[i] == '\n') nl++;
            out[o++] = s[i];
        }
        if (i < len && s[i] != sep && !is_eol(s[i])) return DATA_CSV_EQUOTE;
    } else {
        /* A quote inside an unquoted field is kept as data, as Python's csv
         * module and spreadsheets do, rather than rejected. */
        while (i < len && s[i] != sep && !is_eol(s[i]))
            out[o++] = s[i++];
    }
    *n = o;
    int rc = DATA_CSV_END;
    if (i < len && s[i] == sep) {
        i++;
        rc = DATA_CSV_MORE;
    } else if (i < len) { /* a line end */
        if (s[i] == '\r' && i + 1 < len && s[i + 1] == '\n') i++;
        i++;
        nl++;
    }
    *pos = i;
    *lines += nl;
    return rc;
}

typedef struct builder {
    buf_t text;
    cell_t *cells;
    size_t ncells, capcells;
    size_t *rows;
    size_t nrows, caprows; /* rows[nrows] is the next row's first cell */
} builder_t;

static void add_cell(builder_t *b, size_t off, size_t len)
{
    if (b->ncells == b->capcells) {
        b->capcells = b->capcells ? b->capcells * 2 : 256;
        b->cells = xrealloc(b->cells, b->capcells * sizeof *b->cells);
    }
    b->cells[b->ncells++] = (cell_t){off, len};
}

static void end_row(builder_t *b)
{
    if (b->nrows + 2 > b->caprows) {
        b->caprows = b->caprows ? b->caprows * 2 : 256;
        b->rows = xrealloc(b->rows, b->caprows * sizeof *b->rows);
    }
    b->rows[++b->nrows] = b->ncells;
}

static void builder_init(builder_t *b, size_t textcap)
{
    memset(b, 0, sizeof *b);
    buf_reserve(&b->text, textcap + 1);
    b->caprows = 256;
    b->rows = xmalloc(b->caprows * sizeof *b->rows);
    b->rows[0] = 0;
}

static void builder_free(builder_t *b)
{
    buf_free(&b->text);
    xfree(b->cells);
    xfree(b->rows);
}

/* Parse a whole CSV file into b. Returns 0, or -1 with "name:line: why". */
static int parse_csv(const char *s, size_t len, char sep, bool header, builder_t *b,
                     const char *name, char *err, size_t errn)
{
    size_t pos = 0, width = 0;
    int line = 1;
    if (len >= 3 && memcmp(s, "\xEF\xBB\xBF", 3) == 0) pos = 3; /* a UTF-8 BOM */
    while (pos < len) {
        if (is_eol(s[pos])) { /* a blank line */
            if (s[pos] == '\r' && pos + 1 < len && s[pos + 1] == '\n') pos++;
            pos++;
            line++;
            continue;
        }
        int start = line, rc;
        do {
            size_t n;
            /* the text buffer was sized to the file: values never outgrow it */
            rc = data_csv_field(s, len, &pos, sep, b->text.p + b->text.len, &n, &line);
            if (rc < 0) {
                snprintf(err, errn, "%s:%d: %s", name, line,
                         rc == DATA_CSV_EUNTERM ? "unterminated quoted field"
                                                : "unexpected character after a closing quote");
                return -1;
            }
            add_cell(b, b->text.len, n);
            b->text.len += n;
        } while (rc == DATA_CSV_MORE);
        size_t nf = b->ncells - b->rows[b->nrows];
        if (header && b->nrows > 0 && nf != width) {
            snprintf(err, errn, "%s:%d: %zu field%s, the header has %zu", name, start, nf,
                     nf == 1 ? "" : "s", width);
            return -1;
        }
        if (b->nrows == 0 || nf > width) width = nf;
        end_row(b);
    }
    return 0;
}

/* ---------------------------------------------------------------- JSON */

static int parse_json(const char *s, size_t len, builder_t *b, buf_t *keys, const char *name,
                      char *err, size_t errn)
{
    const char *end = NULL;
    cJSON *root = cJSON_ParseWithLengthOpts(s, len, &end, 0);
    if (root == NULL) {
        int line = 1;
        for (const char *p = s; end && p < end && p < s + len; p++)
            line += *p == '\n';
        snprintf(err, errn, "%s:%d: invalid JSON", name, line);
        return -1;
    }
    if (!cJSON_IsArray(root)) {
        snprintf(err, errn, "%s: not a JSON array (of objects or values)", name);
        cJSON_Delete(root);
        return -1;
    }
    /* the column names: object keys in order of first appearance, as NUL-
     * separated strings in keys (rows usually share one shape: a linear
     * search is enough at load time) */
    for (cJSON *e = root->child; e; e = e->next) {
        char *t = cJSON_PrintUnformatted(e);
        if (t == NULL) abort(); /* cJSON allocates with malloc: out of memory */
        size_t n = strlen(t);
        buf_append(&b->text, t, n);
        free(t);
        add_cell(b, b->text.len - n, n);
        end_row(b);
        if (!cJSON_IsObject(e)) continue;
        for (cJSON *k = e->child; k; k = k->next) {
            bool seen = false;
            for (size_t at = 0; at < keys->len && !seen; at += strlen(keys->p + at) + 1)
                seen = strcmp(keys->p + at, k->string) == 0;
            if (!seen) buf_append(keys, k->string, strlen(k->string) + 1);
        }
    }
    cJSON_Delete(root);
    return 0;
}

/* ---------------------------------------------------------------- loading */

static int read_file(const char *path, const char *name, char **out, size_t *len, char *err,
                     size_t errn)
{
    char why[128];
    int fd = open(path, O_RDONLY | O_CLOEXEC);
    struct stat st;
    if (fd < 0 || fstat(fd, &st) != 0) goto error;
    char *p = xmalloc((size_t)st.st_size + 1);
    size_t got = 0;
    while (got < (size_t)st.st_size) {
        ssize_t r = read(fd, p + got, (size_t)st.st_size - got);
        if (r < 0 && errno == EINTR) continue;
        if (r <= 0) {
            xfree(p);
            goto error;
        }
        got += (size_t)r;
    }
    close(fd);
    p[got] = '\0';
    *out = p;
    *len = got;
    return 0;
error:
    snprintf(err, errn, "%s: %s", name, strerror_r(errno, why, sizeof why));
    if (fd >= 0) close(fd);
    return -1;
}

typedef struct opts {
    bool json, header, cycle;
    char sep;
} opts_t;

/* Load a file into a new dataset, or NULL with the reason in err. */
static dataset_t *load(const char *path, const char *name, const opts_t *o, char *err, size_t errn)
{
    char *s;
    size_t len;
    if (read_file(path, name, &s, &len, err, errn) != 0) return NULL;
    builder_t b;
    buf_t keys = {0};
    /* CSV values are never longer than the file; JSON re-printed compactly
     * may be (escapes), and grows the buffer as it goes */
    builder_init(&b, len);
    int rc = o->json ? parse_json(s, len, &b, &keys, name, err, errn)
                     : parse_csv(s, len, o->sep, o->header, &b, name, err, errn);
    xfree(s);
    if (rc != 0) {
        builder_free(&b);
        buf_free(&keys);
        return NULL;
    }
    dataset_t *d = xcalloc(1, sizeof *d);
    d->name = xstrdup(name);
    d->json = o->json;
    d->cycle = o->cycle;
    if (o->json) {
        /* the key names go at the end of the text, as cells like the values */
        for (size_t at = 0; at < keys.len; at += strlen(keys.p + at) + 1)
            d->ncols++;
        d->cols = xcalloc(d->ncols ? d->ncols : 1, sizeof *d->cols);
        size_t i = 0;
        for (size_t at = 0; at < keys.len; at += strlen(keys.p + at) + 1, i++) {
            size_t n = strlen(keys.p + at);
            d->cols[i] = (cell_t){b.text.len, n};
            buf_append(&b.text, keys.p + at, n);
        }
        buf_free(&keys);
        d->nrows = b.nrows;
    } else if (o->header && b.nrows > 0) {
        d->ncols = b.rows[1];
        d->cols = xcalloc(d->ncols ? d->ncols : 1, sizeof *d->cols);
        memcpy(d->cols, b.cells, d->ncols * sizeof *d->cols);
        d->nrows = b.nrows - 1;
        memmove(b.rows, b.rows + 1, (d->nrows + 1) * sizeof *b.rows);
    } else {
        d->nrows = b.nrows;
        for (size_t r = 0; r < b.nrows; r++) /* the widest row */
            if (b.rows[r + 1] - b.rows[r] > d->ncols) d->ncols = b.rows[r + 1] - b.rows[r];
    }
    /* after this the dataset owns the builder's arrays */
    d->text = b.text.p ? b.text.p : xstrdup("");
    d->cells = b.cells;
    d->rows = b.rows;
    return d;
}

static void dataset_free(dataset_t *d)
{
    xfree(d->key);
    xfree(d->name);
    xfree(d->text);
    xfree(d->cells);
    xfree(d->rows);
    xfree(d->cols);
    xfree(d);
}

void data_free_all(void)
{
    pthread_mutex_lock(&lock);
    dataset_t *d = registry;
    registry = NULL;
    pthread_mutex_unlock(&lock);
    while (d) {
        dataset_t *next = d->next;
        dataset_free(d);
        d = next;
    }
}

/* The dataset for (abs, o): from the registry, or loaded and added to it.
 * NULL with the reason in err. */
static dataset_t *get_dataset(const char *abs, const char *name, const opts_t *o, char *err,
                              size_t errn)
{
    size_t klen = strlen(abs) + 8;
    char *key = xmalloc(klen);
    snprintf(key, klen, "%c%c%c%c%s", o->json ? 'j' : 'c', o->header ? 'h' : '-',
             o->json ? '-' : o->sep, o->cycle ? 'c' : '-', abs);
    pthread_mutex_lock(&lock);
    dataset_t *d = registry;
    while (d && strcmp(d->key, key) != 0)
        d = d->next;
    if (d == NULL && (d = load(abs, name, o, err, errn)) != NULL) {
        d->key = key;
        key = NULL;
        d->next = registry;
        registry = d;
        if (!atexit_set) atexit_set = atexit(data_free_all) == 0;
    }
    pthread_mutex_unlock(&lock);
    xfree(key);
    return d;
}

/* The absolute path of a scenario's data file: relative to the working
 * directory, or else to the directory of the scenario file calling us (so
 * `-f examples/data.lua` finds "data/users.csv" from anywhere). */
static char *resolve(lua_State *L, const char *path)
{
    char *abs = realpath(path, NULL);
    if (abs || path[0] == '/') return abs;
    lua_Debug ar;
    if (lua_getstack(L, 1, &ar) && lua_getinfo(L, "S", &ar) && ar.source[0] == '@') {
        const char *src = ar.source + 1, *slash = strrchr(src, '/');
        if (slash) {
            size_t n = (size_t)(slash - src) + 1 + strlen(path) + 1;
            char *p = xmalloc(n);
            snprintf(p, n, "%.*s/%s", (int)(slash - src), src, path);
            abs = realpath(p, NULL);
            xfree(p);
        }
    }
    return abs;
}

static void check_opts(lua_State *L, int idx, opts_t *o)
{
    if (lua_isnoneornil(L, idx)) return;
    luaL_checktype(L, idx, LUA_TTABLE);
    lua_pushnil(L);
    while (lua_next(L, idx)) {
        const char *k = lua_type(L, -2) == LUA_TSTRING ? lua_tostring(L, -2) : "?";
        if (strcmp(k, "cycle") == 0) {
            o->cycle = lua_toboolean(L, -1);
        } else if (!o->json && strcmp(k, "header") == 0) {
            o->header = lua_toboolean(L, -1);
        } else if (!o->json && strcmp(k, "separator") == 0) {
            size_t n;
            const char *s = lua_tolstring(L, -1, &n);
            if (s == NULL || n != 1 || s[0] == '"' || is_eol(s[0]))
                luaL_error(L, "separator must be one character (not a quote or line end)");
            o->sep = s[0];
        } else {
            luaL_error(L, "unknown option '%s' (%s)", k,
                       o->json ? "cycle" : "header, separator, cycle");
        }
        lua_pop(L, 1);
    }
}

static int open_data(lua_State *L, bool json)
{
    const char *path = luaL_checkstring(L, 1);
    opts_t o = {.json = json, .header = true, .cycle = true, .sep = ','};
    check_opts(L, 2, &o);
    char err[512];
    char *abs = resolve(L, path);
    if (abs == NULL) {
        char why[128];
        return luaL_error(L, "%s: %s", path, strerror_r(errno, why, sizeof why));
    }
    dataset_t *d = get_dataset(abs, path, &o, err, sizeof err);
    free(abs); /* realpath's, from malloc */
    if (d == NULL) return luaL_error(L, "%s", err);
    dataset_t **ud = lua_newuserdata(L, sizeof *ud);
    *ud = d;
    luaL_getmetatable(L, MT);
    lua_setmetatable(L, -2);
    return 1;
}

static int l_csv(lua_State *L)
{
    return open_data(L, false);
}

static int l_json(lua_State *L)
{
    return open_data(L, true);
}

/* ---------------------------------------------------------------- dataset methods */

static dataset_t *check_ds(lua_State *L)
{
    return *(dataset_t **)luaL_checkudata(L, 1, MT);
}

/* Push row r (0-based, in range) as a new table. */
static void push_row(lua_State *L, const dataset_t *d, size_t r)
{
    const cell_t *c = d->cells + d->rows[r], *end = d->cells + d->rows[r + 1];
    if (d->json) {
        char err[128];
        if (json_decode(L, d->text + c->off, c->len, err, sizeof err) != 0)
            luaL_error(L, "%s: row %d: %s", d->name, (int)r + 1, err); /* printed by cJSON: never */
        return;
    }
    bool named = d->cols != NULL;
    lua_createtable(L, named ? 0 : (int)(end - c), named ? (int)(end - c) : 0);
    for (int i = 0; c < end; c++, i++) {
        if (named) lua_pushlstring(L, d->text + d->cols[i].off, d->cols[i].len);
        lua_pushlstring(L, d->text + c->off, c->len);
        if (named)
            lua_rawset(L, -3);
        else
            lua_rawseti(L, -2, i + 1);
    }
}

static int l_next(lua_State *L)
{
    dataset_t *d = check_ds(L);
    uint64_t n = atomic_fetch_add_explicit(&d->cursor, 1, memory_order_relaxed);
    if (d->nrows == 0 || (!d->cycle && n >= d->nrows)) {
        lua_pushnil(L);
        return 1;
    }
    push_row(L, d, (size_t)(n % d->nrows));
    return 1;
}

/* xorshift64*, one state per engine (engine_t.rand): no lock, and engines
 * do not share their sequences. Off the engines (the main thread's VM,
 * which only checks the scenario) there is one thread, and main_rand. */
static uint64_t rand64(void)
{
    static uint64_t main_rand;
    engine_t *e = engine_self();
    uint64_t *x = e ? &e->rand : &main_rand;
    if (*x == 0) {
        struct timespec ts;
        clock_gettime(CLOCK_MONOTONIC, &ts);
        *x = ((uint64_t)ts.tv_nsec * 0x9E3779B97F4A7C15ull) ^ (uint64_t)(uintptr_t)x ^
             (uint64_t)ts.tv_sec;
        if (*x == 0) *x = 1;
    }
    *x ^= *x >> 12;
    *x ^= *x << 25;
    *x ^= *x >> 27;
    return *x * 0x2545F4914F6CDD1Dull;
}

static int l_random(lua_State *L)
{
    dataset_t *d = check_ds(L);
    if (d->nrows == 0)
        lua_pushnil(L);
    else
        push_row(L, d, (size_t)(rand64() % d->nrows));
    return 1;
}

static int l_get(lua_State *L)
{
    dataset_t *d = check_ds(L);
    lua_Integer i = luaL_checkinteger(L, 2);
    if (i < 1 || (uint64_t)i > d->nrows)
        lua_pushnil(L);
    else
        push_row(L, d, (size_t)(i - 1));
    return 1;
}

static int l_len(lua_State *L)
{
    lua_pushinteger(L, (lua_Integer)check_ds(L)->nrows);
    return 1;
}

/* The header's names; without a header 1..n (the widest row's width). */
static int l_columns(lua_State *L)
{
    dataset_t *d = check_ds(L);
    lua_createtable(L, (int)d->ncols, 0);
    for (size_t i = 0; i < d->ncols; i++) {
        if (d->cols)
            lua_pushlstring(L, d->text + d->cols[i].off, d->cols[i].len);
        else
            lua_pushinteger(L, (lua_Integer)i + 1);
        lua_rawseti(L, -2, (int)i + 1);
    }
    return 1;
}

static int l_tostring(lua_State *L)
{
    dataset_t *d = check_ds(L);
    lua_pushfstring(L, "dataset(%s, %d rows)", d->name, (int)d->nrows);
    return 1;
}

void data_open(lua_State *L)
{
    static const luaL_Reg fns[] = {{"csv", l_csv}, {"json", l_json}, {NULL, NULL}};
    static const luaL_Reg methods[] = {{"next", l_next}, {"random", l_random},   {"get", l_get},
                                       {"len", l_len},   {"columns", l_columns}, {NULL, NULL}};
    lua_newtable(L);
    for (const luaL_Reg *f = fns; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_setfield(L, -2, "data");
    luaL_newmetatable(L, MT);
    lua_newtable(L);
    for (const luaL_Reg *f = methods; f->name; f++) {
        lua_pushcfunction(L, f->func);
        lua_setfield(L, -2, f->name);
    }
    lua_setfield(L, -2, "__index");
    lua_pushcfunction(L, l_len);
    lua_setfield(L, -2, "__len");
    lua_pushcfunction(L, l_tostring);
    lua_setfield(L, -2, "__tostring");
    lua_pop(L, 1);
}
