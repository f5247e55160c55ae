/* Unit tests for monitor/prom.c: the Prometheus text format parser. Each
 * input is placed right before an unreadable page, so any read past len
 * crashes. */
#include <math.h>
#include <stdint.h>
#include <string.h>
#include <sys/mman.h>
#include <unistd.h>

#include "check.h"
#include "monitor/prom.h"

/* A copy of s ending exactly at a PROT_NONE page. */
static const char *at_edge(const char *s, size_t n)
{
    static char *base;
    static size_t pg;
    if (base == NULL) {
        pg = (size_t)sysconf(_SC_PAGESIZE);
        base = mmap(NULL, 32 * pg, PROT_READ | PROT_WRITE, MAP_PRIVATE | MAP_ANONYMOUS, -1, 0);
        mprotect(base + 31 * pg, pg, PROT_NONE);
    }
    char *p = base + 31 * pg - n;
    memcpy(p, s, n);
    return p;
}

#define MAXS 16
struct got {
    int n;
    char name[MAXS][64];
    double value[MAXS];
    prom_sample_t s[MAXS];
};

static void collect(void *ud, const prom_sample_t *s)
{
    struct got *g = ud;
    if (g->n == MAXS) return;
    snprintf(g->name[g->n], 64, "%.*s", (int)s->name_len, s->name);
    g->value[g->n] = s->value;
    g->s[g->n] = *s;
    g->n++;
}

static long parse(const char *text, struct got *g, prom_err_t *e)
{
    memset(g, 0, sizeof *g);
    size_t n = strlen(text);
    return prom_parse(at_edge(text, n), n, collect, g, e);
}

static void test_basic(void)
{
    struct got g;
    prom_err_t e;
    const char *t = "# HELP node_load1 1m load average.\n"
                    "# TYPE node_load1 gauge\n"
                    "node_load1 0.25\n"
                    "\n"
                    "   # a comment\n"
                    "node_cpu_seconds_total{cpu=\"0\",mode=\"idle\"} 1.5e+03\n"
                    "up 1 1700000000000\n"
                    "x{} -3";
    CHECK(parse(t, &g, &e) == 4);
    CHECK(g.n == 4);
    CHECK(strcmp(g.name[0], "node_load1") == 0 && g.value[0] == 0.25);
    CHECK(strcmp(g.name[1], "node_cpu_seconds_total") == 0 && g.value[1] == 1500);
    CHECK(!g.s[0].has_ts && g.s[2].has_ts && g.s[2].ts_ms == 1700000000000LL);
    CHECK(g.value[3] == -3 && g.s[3].labels_len == 0);
}

static void test_values(void)
{
    struct got g;
    prom_err_t e;
    CHECK(parse("a NaN\nb +Inf\nc -Inf\nd 1E-3\ne .5\nf inf\ng -0 -12\n", &g, &e) == 7);
    CHECK(isnan(g.value[0]) && g.value[1] == INFINITY && g.value[2] == -INFINITY);
    CHECK(g.value[3] == 0.001 && g.value[4] == 0.5 && g.value[5] == INFINITY);
    CHECK(g.s[6].ts_ms == -12);
    const char *bad[] = {
        "a 0x10\n",      "a nan(1)\n",   "a 1.2.3\n",        "a\n",
        "a 1 2 3\n",     "a 1 x\n",      "a 1e\n",           "1a 2\n",
        "a{b} 1\n",      "a{b=\"x} 1\n", "a{b=\"\\x\"} 1\n", "a{b=\"x\" c=\"y\"} 1\n",
        "a{=\"x\"} 1\n", "a{b=x} 1\n",   "# TYPE a bogus\n", "# TYPE\n",
        "# HELP\n",      "<html>\n",     "a{b=\"x\"\n"};
    for (size_t i = 0; i < sizeof bad / sizeof *bad; i++) {
        e.why = NULL;
        CHECK_MSG(parse(bad[i], &g, &e) == -1 && e.why && e.line == 1, "%s", bad[i]);
    }
    CHECK(parse("a 1\nb 2\nc ?\n", &g, &e) == -1 && e.line == 3 && g.n == 2);
    /* timestamps: the int64 range, no more (found by fuzz_prom: an overflow) */
    CHECK(parse("a 1 9223372036854775807\n", &g, &e) == 1 && g.s[0].ts_ms == INT64_MAX);
    CHECK(parse("a 1 -9223372036854775807\n", &g, &e) == 1 && g.s[0].ts_ms == -INT64_MAX);
    CHECK(parse("a 1 9223372036854775808\n", &g, &e) == -1 && strstr(e.why, "range"));
    CHECK(parse("a 1 99999999999999999999999\n", &g, &e) == -1);
}

static void test_labels(void)
{
    struct got g;
    prom_err_t e;
    char v[32];
    CHECK(parse("m{ a = \"x\\\"y\\\\z\\n\" , b=\"\",c=\"long value here\",} 7\r\n", &g, &e) == 1);
    CHECK(prom_label(&g.s[0], "a", v, sizeof v) == 6 && strcmp(v, "x\"y\\z\n") == 0);
    CHECK(prom_label(&g.s[0], "b", v, sizeof v) == 0 && v[0] == '\0');
    CHECK(prom_label(&g.s[0], "c", v, 5) == -2 && strcmp(v, "long") == 0);
    CHECK(prom_label(&g.s[0], "d", v, sizeof v) == -1);
    CHECK(prom_label(&g.s[0], "ab", v, sizeof v) == -1);
    CHECK(prom_is(&g.s[0], "m") && !prom_is(&g.s[0], "mm"));
    /* a brace or comma inside a value is text, not structure */
    CHECK(parse("m{a=\"},{\",b=\"q\"} 1\n", &g, &e) == 1);
    CHECK(prom_label(&g.s[0], "b", v, sizeof v) == 1 && v[0] == 'q');
    CHECK(prom_label(&g.s[0], "a", v, sizeof v) == 3 && strcmp(v, "},{") == 0);
    CHECK(parse("m{a=\"\\", &g, &e) == -1);
}

static void test_edges(void)
{
    struct got g;
    prom_err_t e;
    CHECK(parse("", &g, &e) == 0);
    CHECK(parse("\n\n  \t\n", &g, &e) == 0);
    CHECK(parse("# TYPE a counter\n# HELP a anything { \" goes\n#\n", &g, &e) == 0);
    CHECK(parse("a_b:c 1", &g, &e) == 1 && strcmp(g.name[0], "a_b:c") == 0);
    /* no callback: still counts */
    CHECK(prom_parse("a 1\nb 2\n", 8, NULL, NULL, NULL) == 2);
}

int main(void)
{
    test_basic();
    test_values();
    test_labels();
    test_edges();
    return check_done();
}
