/* test_toml: toml_parse() on pyproject.toml-like documents.
 *
 * Each case parses a text and records every item the callback receives as
 * one line "key=v1|v2|..." (arrays in brackets) in a transcript, then
 * compares the transcript; error cases check the message names the line
 * and what is wrong. */
#include <stdio.h>
#include <string.h>

#include "check.h"
#include "cli/toml.h"

static char got[4096], err[256], out[8192];

static int record(void *ud, const char *key, const char *const *vals, size_t n, bool array,
                  int line)
{
    size_t k = strlen(got);
    k += (size_t)snprintf(got + k, sizeof got - k, "%d:%s=%s", line, key, array ? "[" : "");
    for (size_t i = 0; i < n && k < sizeof got; i++)
        k += (size_t)snprintf(got + k, sizeof got - k, "%s%s", i ? "|" : "", vals[i]);
    if (k < sizeof got) snprintf(got + k, sizeof got - k, "%s;", array ? "]" : "");
    return *(int *)ud;
}

static int parse(const char *text)
{
    int stop = 0;
    got[0] = '\0';
    return toml_parse(text, strlen(text), "tool.locust", record, &stop, out, sizeof out, err,
                      sizeof err);
}

#define SAME(text, want)                                                                           \
    do {                                                                                           \
        int r_ = parse(text);                                                                      \
        CHECK_MSG(r_ == 0 && strcmp(got, want) == 0, "rc %d got '%s' want '%s' err '%s'", r_, got, \
                  want, err);                                                                      \
    } while (0)

#define BAD(text, piece)                                                                           \
    do {                                                                                           \
        int r_ = parse(text);                                                                      \
        CHECK_MSG(r_ == -1 && strstr(err, piece) != NULL, "rc %d err '%s' want '%s'", r_, err,     \
                  piece);                                                                          \
    } while (0)

static void test_values(void)
{
    SAME("[tool.locust]\nusers = 5\nspawn-rate = 2.5\nheadless = true\nhost = \"http://a\"\n",
         "2:users=5;3:spawn-rate=2.5;4:headless=true;5:host=http://a;");
    SAME("[tool.locust]\nrun-time = '1h30m'\nautostart = false\n",
         "2:run-time=1h30m;3:autostart=false;");
    SAME("[tool.locust]\ntags = [\"a\", 'b',\n  \"c\", # why\n]\nusers = 1_000\n",
         "2:tags=[a|b|c];5:users=1000;");
    SAME("[tool.locust]\nexclude-tags = []\n", "2:exclude-tags=[];");
    SAME("[tool.locust]\nx = -1.5e3\ny = +7\n", "2:x=-1.5e3;3:y=+7;");
    SAME("[tool.locust]\ns = \"a\\tb\\\"c\\\\ \\u00e9\"\n", "2:s=a\tb\"c\\ \xc3\xa9;");
    SAME("[tool.locust]\ns = \"\"\"\nline1\nline2\"\"\"\nu = 1\n", "2:s=line1\nline2;5:u=1;");
    SAME("[tool.locust]\ns = \"\"\"a \\\n   b\"\"\"\n", "2:s=a b;");
    SAME("[tool.locust]\ns = '''x\\y'''\n", "2:s=x\\y;");
    SAME("[ tool . locust ]  # comment\n\"quoted-key\" = 1\n", "2:quoted-key=1;");
    SAME("\xEF\xBB\xBF[tool.locust]\r\nusers = 3\r\n", "2:users=3;");
}

static void test_other_tables(void)
{
    /* other tables' values, however exotic, are skipped */
    SAME("[project]\nname = \"x\"\ndeps = [\n  \"a>=1\",\n  { b = [1, 2] },\n]\n"
         "date = 1979-05-27T07:32:00Z\ninline = { a = \"]\" }\n"
         "ml = \"\"\"\n[tool.locust]\nusers = 9\n\"\"\"\n"
         "[[tool.locust.list]]\nusers = 8\n[tool.locust]\nusers = 2\n",
         "16:users=2;");
    SAME("[tool.locustx]\nusers = 1\n", "");
    /* a sub-table's keys come out dotted: the caller refuses them as unknown */
    SAME("[tool.locust.sub]\nusers = 2\n", "2:sub.users=2;");
    /* dotted keys reaching into the table */
    SAME("tool.locust.users = 4\n[tool]\nlocust.headless = true\n", "1:users=4;3:headless=true;");
    SAME("[tool.locust]\na.b = 1\n", "2:a.b=1;");
    SAME("", "");
    SAME("# only a comment", "");
}

static void test_errors(void)
{
    BAD("[tool.locust]\nusers = 1979-05-27\n", "line 2: unsupported value");
    BAD("[tool.locust]\nusers = 0x1f\n", "line 2: unsupported value");
    BAD("[tool.locust]\nusers = inf\n", "unsupported value");
    BAD("[tool.locust]\nusers = 1__0\n", "misplaced '_'");
    BAD("[tool.locust]\nusers = _1\n", "misplaced '_'");
    BAD("[tool.locust]\ntags = [[1]]\n", "nested arrays");
    BAD("[tool.locust]\nx = {a = 1}\n", "inline tables");
    BAD("[tool.locust]\nusers 5\n", "line 2: expected '='");
    BAD("[tool.locust]\nhost = \"abc\n", "line 2: newline in a one-line string");
    BAD("[tool.locust]\nhost = \"abc", "unterminated string");
    BAD("[tool.locust]\nhost = \"a\\qb\"\n", "unknown escape");
    BAD("[tool.locust]\nhost = \"\\ud800\"\n", "invalid code point");
    BAD("[tool.locust]\nusers = 5 6\n", "line 2: expected the end of the line");
    BAD("[tool.locust\n", "line 1: expected ']'");
    BAD("[project]\nx = [1, 2\n", "unterminated array");
    BAD("[project]\nx = 1]\n", "unexpected ']'");
    BAD("= 5\n", "expected a key");
    BAD("[tool.locust]\nt = [1 2]\n", "expected ',' or ']'");
    BAD("[tool.locust]\nt = [1,\n", "line 3: unterminated array");
}

static void test_stop(void)
{
    int stop = 7;
    const char *t = "[tool.locust]\na = 1\nb = 2\n";
    got[0] = '\0';
    CHECK(toml_parse(t, strlen(t), "tool.locust", record, &stop, out, sizeof out, err,
                     sizeof err) == 7);
    CHECK(strcmp(got, "2:a=1;") == 0);
    /* text need not be NUL-terminated: only len bytes are read */
    char buf[] = "[tool.locust]\nusers = 12345";
    got[0] = '\0';
    stop = 0;
    CHECK(toml_parse(buf, strlen(buf) - 3, "tool.locust", record, &stop, out, sizeof out, err,
                     sizeof err) == 0);
    CHECK(strcmp(got, "2:users=12;") == 0);
}

int main(void)
{
    test_values();
    test_other_tables();
    test_errors();
    test_stop();
    return check_done();
}
