/* Unit tests for lua/data: the CSV field parser on its own (each input
 * placed right before an unreadable page, so an over-read crashes), whole
 * files through the Lua API, the error messages, and next() from several
 * threads at once handing out every row exactly once. */
#include <lauxlib.h>
#include <lua.h>
#include <lualib.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "lua/data.h"

/* ---- the field parser ---- */

static char *guard;
static size_t page;

/* Copy s to the end of a readable page followed by an unreadable one. */
static const char *fenced(const char *s, size_t n)
{
    char *p = guard + page - n;
    memcpy(p, s, n);
    return p;
}

/* Parse all of s as fields; "|" joins fields, "/" ends a record. Returns
 * the first error code, or 0. */
static int fields(const char *s, char sep, char *out, size_t outn, int *lines)
{
    size_t len = strlen(s), pos = 0, o = 0;
    const char *p = fenced(s, len);
    char val[256];
    *lines = 0;
    while (pos < len) {
        size_t n;
        int rc = data_csv_field(p, len, &pos, sep, val, &n, lines);
        if (rc < 0) return rc;
        if (o + n + 2 >= outn) return -99;
        memcpy(out + o, val, n);
        o += n;
        out[o++] = rc == DATA_CSV_MORE ? '|' : '/';
    }
    out[o] = '\0';
    return 0;
}

static void test_fields(void)
{
    static const struct {
        const char *in, *want;
        int lines;
    } ok[] = {
        {"a,b,c", "a|b|c/", 0},
        {"a,b\nc,d\n", "a|b/c|d/", 2},
        {"a,b\r\nc\r\n", "a|b/c/", 2},
        {"a\rb", "a/b/", 1},
        {"\"x,y\",z", "x,y|z/", 0},
        {"\"say \"\"hi\"\"\"", "say \"hi\"/", 0},
        {"\"two\nlines\",2\n", "two\nlines|2/", 2},
        {"\"crlf\r\nkept\"", "crlf\r\nkept/", 1},
        {",,", "||", 0}, /* (a file's parser adds the last, empty field) */
        {"\"\",\"\"\n", "|/", 1},
        {"ab\"c", "ab\"c/", 0}, /* a stray quote in an unquoted field is data */
        {"\"a\"", "a/", 0},
    };
    char out[256];
    int lines;
    for (size_t i = 0; i < sizeof ok / sizeof ok[0]; i++) {
        int rc = fields(ok[i].in, ',', out, sizeof out, &lines);
        CHECK_MSG(rc == 0 && strcmp(out, ok[i].want) == 0 && lines == ok[i].lines,
                  "%zu: rc %d, got [%s] lines %d", i, rc, out, lines);
    }
    CHECK(fields("a;\"b;c\"", ';', out, sizeof out, &lines) == 0 && strcmp(out, "a|b;c/") == 0);
    CHECK(fields("a\tb", '\t', out, sizeof out, &lines) == 0 && strcmp(out, "a|b/") == 0);
    CHECK(fields("\"open", ',', out, sizeof out, &lines) == DATA_CSV_EUNTERM);
    CHECK(fields("\"open\"\"", ',', out, sizeof out, &lines) == DATA_CSV_EUNTERM);
    CHECK(fields("\"a\"b", ',', out, sizeof out, &lines) == DATA_CSV_EQUOTE);
    CHECK(fields("\"", ',', out, sizeof out, &lines) == DATA_CSV_EUNTERM);

    /* an error leaves pos and lines where the field started */
    const char *s = "x\n\"bad";
    const char *p = fenced(s, strlen(s));
    size_t pos = 2, n;
    int l = 1;
    char val[16];
    CHECK(data_csv_field(p, strlen(s), &pos, ',', val, &n, &l) == DATA_CSV_EUNTERM);
    CHECK(pos == 2 && l == 1);
}

/* ---- through Lua ---- */

static char dir[] = "/tmp/cicada-data-XXXXXX";

static void put(const char *name, const char *text)
{
    char path[256];
    snprintf(path, sizeof path, "%s/%s", dir, name);
    FILE *f = fopen(path, "wb");
    fputs(text, f);
    fclose(f);
}

static lua_State *new_vm(void)
{
    lua_State *L = luaL_newstate();
    luaL_openlibs(L);
    lua_newtable(L);
    data_open(L);
    lua_setglobal(L, "cicada");
    return L;
}

/* Run code; return NULL on success or the error message (valid until the
 * next call). */
static const char *run(lua_State *L, const char *code)
{
    static char msg[512];
    if (luaL_loadstring(L, code) != 0 || lua_pcall(L, 0, 0, 0) != 0) {
        snprintf(msg, sizeof msg, "%s", lua_tostring(L, -1));
        lua_pop(L, 1);
        return msg;
    }
    return NULL;
}

#define RUN_OK(L, code)                                                                            \
    do {                                                                                           \
        const char *e_ = run(L, code);                                                             \
        CHECK_MSG(e_ == NULL, "%s", e_);                                                           \
    } while (0)
#define RUN_ERR(L, code, want)                                                                     \
    do {                                                                                           \
        const char *e_ = run(L, code);                                                             \
        CHECK_MSG(e_ &&strstr(e_, want), "want error with '%s', got '%s'", want,                   \
                  e_ ? e_ : "(none)");                                                             \
    } while (0)

static void test_lua(void)
{
    lua_State *L = new_vm();
    put("u.csv", "\xEF\xBB\xBFid,name\r\n1,\"Doe, J\"\r\n\r\n2,x\r\n");
    put("bad.csv", "a,b\n1,2\n3,\"4\n5,6\n");
    put("d.json", "[{\"a\": 1, \"b\": null}, [1, null, 3], {\"c\": true}]");
    put("bad.json", "[1,\n2,\n]");
    RUN_OK(L, "u = cicada.data.csv('u.csv')\n"
              "assert(#u == 2 and u:len() == 2)\n"
              "local c = u:columns(); assert(#c == 2 and c[1] == 'id' and c[2] == 'name')\n"
              "assert(u:get(1).name == 'Doe, J' and u:get(2).id == '2')\n"
              "assert(u:get(0) == nil and u:get(3) == nil)\n"
              "assert(u:next().id == '1' and u:next().id == '2' and u:next().id == '1')\n"
              "for _ = 1, 50 do local r = u:random(); assert(r.id == '1' or r.id == '2') end\n"
              "assert(tostring(u):find('u.csv', 1, true))");
    /* the same file and options: the same dataset, so the same counter */
    RUN_OK(L, "local again = cicada.data.csv('u.csv'); assert(again:next().id == '2')");
    /* other options: another dataset */
    RUN_OK(L, "local h = cicada.data.csv('u.csv', {header = false, cycle = false})\n"
              "assert(#h == 3)\n"
              "assert(h:get(1)[1] == 'id' and h:get(2)[2] == 'Doe, J' and #h:columns() == 2)\n"
              "assert(h:next() and h:next() and h:next() and h:next() == nil and h:next() == nil)");
    RUN_OK(L, "local j = cicada.data.json('d.json')\n"
              "assert(#j == 3 and j:get(1).a == 1 and j:get(1).b == nil)\n"
              "assert(j:get(2)[3] == 3 and #j:get(2) == 3 and j:get(3).c == true)\n"
              "assert(table.concat(j:columns(), ',') == 'a,b,c')");
    RUN_ERR(L, "cicada.data.csv('bad.csv')", "bad.csv:3: unterminated quoted field");
    RUN_ERR(L, "cicada.data.json('bad.json')", "bad.json:3: invalid JSON");
    RUN_ERR(L, "cicada.data.csv('none.csv')", "none.csv: No such file");
    RUN_ERR(L, "cicada.data.csv('u.csv', {separator = ';;'})", "separator must be one character");
    RUN_ERR(L, "cicada.data.json('d.json', {header = false})", "unknown option 'header'");
    RUN_ERR(L, "u.next({})", "dataset expected");
    lua_close(L);
}

/* ---- next() from several threads ---- */

enum { THREADS = 4, ROWS = 1000, PER = 500 };
static int seen[ROWS + 1];
static pthread_mutex_t seen_lock = PTHREAD_MUTEX_INITIALIZER;

static void *reader(void *arg)
{
    lua_State *L = new_vm();
    const char *e = run(L, "ds = cicada.data.csv('big.csv')");
    if (e) fprintf(stderr, "%s\n", e);
    for (int i = 0; i < PER && !e; i++) {
        lua_getglobal(L, "ds");
        lua_getfield(L, -1, "next");
        lua_insert(L, -2);
        lua_call(L, 1, 1);
        lua_getfield(L, -1, "n");
        int n = atoi(lua_tostring(L, -1));
        lua_pop(L, 2);
        pthread_mutex_lock(&seen_lock);
        if (n >= 1 && n <= ROWS) seen[n]++;
        pthread_mutex_unlock(&seen_lock);
    }
    lua_close(L);
    return arg;
}

static void test_threads(void)
{
    char *text = malloc(ROWS * 8 + 8);
    size_t o = (size_t)sprintf(text, "n\n");
    for (int i = 1; i <= ROWS; i++)
        o += (size_t)sprintf(text + o, "%d\n", i);
    put("big.csv", text);
    free(text);
    pthread_t t[THREADS];
    for (int i = 0; i < THREADS; i++)
        pthread_create(&t[i], NULL, reader, NULL);
    for (int i = 0; i < THREADS; i++)
        pthread_join(t[i], NULL);
    /* 4 x 500 = 2000 = every row exactly twice (the counter wraps once) */
    int bad = 0;
    for (int i = 1; i <= ROWS; i++)
        bad += seen[i] != 2;
    CHECK_MSG(bad == 0, "%d rows not handed out exactly twice", bad);
}

int main(void)
{
    page = (size_t)sysconf(_SC_PAGESIZE);
    guard = mmap(NULL, 2 * page, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
    mprotect(guard + page, page, PROT_NONE);
    test_fields();

    if (mkdtemp(dir) == NULL || chdir(dir) != 0) return 1;
    test_lua();
    test_threads();
    data_free_all();
    data_free_all(); /* harmless twice */
    const char *names[] = {"u.csv", "bad.csv", "d.json", "bad.json", "big.csv"};
    for (size_t i = 0; i < sizeof names / sizeof names[0]; i++)
        unlink(names[i]);
    rmdir(dir);
    munmap(guard, 2 * page);
    return check_done();
}
