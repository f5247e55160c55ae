/* console: Locust's console tables (see console.h).
 *
 * Each line is formatted into one growing buffer with the same printf
 * formats Locust uses ("%-8s %-84s %7d %12s |%7d ..."); Python's %d of a
 * float truncates, so times are cast to integers before printing. A
 * negative computed width (a narrow terminal) behaves as in Python, where
 * "%--4s" means left-justified in 4 columns. */
#include "cli/console.h"

#include <stdarg.h>
#include <stdint.h>
#include <stdlib.h>
#include <string.h>
#include <sys/ioctl.h>
#include <unistd.h>

#include "base/alloc.h"

#define TYPE_WIDTH 8

void console_to_file(void *ud, const char *line)
{
    fputs(line, ud);
    fputc('\n', ud);
}

int console_name_width(int fd)
{
    struct winsize ws;
    if (!isatty(fd) || ioctl(fd, TIOCGWINSZ, &ws) != 0) return 80;
    int w = (int)ws.ws_col - 80;
    return w < 0 ? 0 : w > 80 ? 80 : w;
}

typedef struct out {
    console_line_fn fn;
    void *ud;
    char *buf;
    size_t cap;
} out_t;

__attribute__((format(printf, 2, 3))) static void line(out_t *o, const char *fmt, ...)
{
    va_list ap;
    va_start(ap, fmt);
    int n = vsnprintf(o->buf, o->cap, fmt, ap);
    va_end(ap);
    if (n >= 0 && (size_t)n >= o->cap) {
        o->cap = (size_t)n + 1;
        o->buf = xrealloc(o->buf, o->cap);
        va_start(ap, fmt);
        vsnprintf(o->buf, o->cap, fmt, ap);
        va_end(ap);
    }
    o->fn(o->ud, o->buf);
}

static out_t out_new(console_line_fn fn, void *ud)
{
    out_t o = {fn, ud, xmalloc(256), 256};
    return o;
}

/* "-" * n, Python style (nothing for n <= 0), into dst */
static char *dashes(char *dst, int n)
{
    int i = 0;
    for (; i < n; i++)
        dst[i] = '-';
    dst[i] = 0;
    return dst;
}

static long long trunc_ms(double ms)
{
    return (long long)ms;
}

static void stats_row(out_t *o, const stats_t *st, const stats_entry_t *e, int nw, bool current)
{
    char type[64], fails[64];
    if (e->method[0] && strlen(e->method) < sizeof type - 1)
        snprintf(type, sizeof type, "%s ", e->method);
    else
        snprintf(type, sizeof type, "%s", e->method);
    snprintf(fails, sizeof fails, "%llu(%.2f%%)", (unsigned long long)e->num_failures,
             stats_fail_ratio(e) * 100);
    double rps = current ? stats_current_rps(st, e) : stats_total_rps(st, e);
    double fps = current ? stats_current_fail_per_sec(st, e) : stats_total_fail_per_sec(st, e);
    line(o, "%-*s %-*s %7llu %12s |%7lld %7lld %7lld%7lld | %7.2f %11.2f", TYPE_WIDTH, type, nw,
         e->name, (unsigned long long)e->num_requests, fails, trunc_ms(stats_avg(e)),
         trunc_ms(stats_min(e)), trunc_ms(e->max_response_time_ms), trunc_ms(stats_median(e)), rps,
         fps);
}

void console_stats(stats_t *st, int name_width, bool current, console_line_fn fn, void *ud)
{
    out_t o = out_new(fn, ud);
    int nw = name_width - TYPE_WIDTH + 4; /* columns saved by compacting the others */
    int aw = abs(nw);
    char d[256];
    line(&o, "%-*s %-*s %7s %12s |%7s %7s %7s%7s | %7s %11s", TYPE_WIDTH, "Type", aw, "Name",
         "# reqs", "# fails", "Avg", "Min", "Max", "Med", "req/s", "failures/s");
    char sep[512];
    snprintf(
        sep, sizeof sep,
        "--------|%s|-------|-------------|-------|-------|-------|-------|--------|-----------",
        dashes(d, nw));
    line(&o, "%s", sep);
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    for (size_t i = 0; i < n; i++)
        stats_row(&o, st, es[i], aw, current);
    line(&o, "%s", sep);
    stats_row(&o, st, stats_total(st), aw, current);
    line(&o, "%s", "");
    xfree(o.buf);
}

static void pct_row(out_t *o, const stats_entry_t *e, int w)
{
    long long p[STATS_NPCT];
    for (int i = 0; i < STATS_NPCT; i++)
        p[i] = trunc_ms(stats_percentile(e, stats_pcts[i]));
    line(o, "%-*s %-*s %8lld %6lld %6lld %6lld %6lld %6lld %6lld %6lld %6lld %6lld %6lld %6llu",
         TYPE_WIDTH, e->method, w, e->name, p[0], p[1], p[2], p[3], p[4], p[5], p[6], p[7], p[8],
         p[9], p[10], (unsigned long long)e->num_requests);
}

void console_percentiles(stats_t *st, int name_width, console_line_fn fn, void *ud)
{
    out_t o = out_new(fn, ud);
    int w = name_width < 0 ? 0 : name_width > 200 ? 200 : name_width;
    char hdr[512], sep[512], d[256];
    line(&o, "%s", "Response time percentiles (approximated)");
    int len = snprintf(hdr, sizeof hdr, "%-*s %-*s %8s", TYPE_WIDTH, "Type", w, "Name",
                       stats_pct_names[0]);
    for (int i = 1; i < STATS_NPCT; i++)
        len += snprintf(hdr + len, sizeof hdr - (size_t)len, " %6s", stats_pct_names[i]);
    snprintf(hdr + len, sizeof hdr - (size_t)len, " %6s", "# reqs");
    line(&o, "%s", hdr);
    len = snprintf(sep, sizeof sep, "--------|%s|--------", dashes(d, w));
    for (int i = 0; i < STATS_NPCT; i++)
        len += snprintf(sep + len, sizeof sep - (size_t)len, "|------");
    line(&o, "%s", sep);
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    for (size_t i = 0; i < n; i++)
        if (hist_count(es[i]->hist)) pct_row(&o, es[i], w);
    line(&o, "%s", sep);
    if (hist_count(stats_total(st)->hist)) pct_row(&o, stats_total(st), w);
    line(&o, "%s", "");
    xfree(o.buf);
}

void console_errors(stats_t *st, int name_width, console_line_fn fn, void *ud)
{
    size_t n;
    stats_error_t **errs = stats_errors(st, &n);
    if (!n) return;
    out_t o = out_new(fn, ud);
    char sep[512], d[300];
    int w = name_width < 0 ? 0 : name_width > 200 ? 200 : name_width;
    line(&o, "%s", "Error report");
    line(&o, "%-18s %-100s", "# occurrences", "Error");
    snprintf(sep, sizeof sep, "------------------|%s", dashes(d, 80 + w - 19));
    line(&o, "%s", sep);
    for (size_t i = 0; i < n; i++) {
        /* StatsError.to_name(): "METHOD name: error" */
        size_t len = strlen(errs[i]->method) + strlen(errs[i]->name) + strlen(errs[i]->error) + 4;
        char *name = xmalloc(len);
        snprintf(name, len, "%s %s: %s", errs[i]->method, errs[i]->name, errs[i]->error);
        line(&o, "%-18llu %-100s", (unsigned long long)errs[i]->occurrences, name);
        xfree(name);
    }
    line(&o, "%s", sep);
    line(&o, "%s", "");
    xfree(o.buf);
}
