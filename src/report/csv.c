/* csv: Locust-compatible CSV writers (see csv.h for the format rules).
 *
 * Each row is built field by field with a leading separator; the value
 * helpers mirror the Python expressions Locust writes (`min or 0` is an
 * int 0 or a float, `int(percentile)`, f"{rps:2f}"), so the one place to
 * look when a byte differs is the helper named after the expression. */
#include "report/csv.h"

#include <math.h>
#include <stdlib.h>
#include <string.h>

#define EOL "\r\n"

void csv_field(FILE *f, const char *s)
{
    if (!s) return;
    if (!strpbrk(s, ",\"\r\n")) {
        fputs(s, f);
        return;
    }
    fputc('"', f);
    for (; *s; s++) {
        if (*s == '"') fputc('"', f);
        fputc(*s, f);
    }
    fputc('"', f);
}

char *csv_pyfloat(char *buf, size_t size, double x)
{
    if (isnan(x)) return snprintf(buf, size, "nan"), buf;
    if (isinf(x)) return snprintf(buf, size, x < 0 ? "-inf" : "inf"), buf;
    if (x == 0) return snprintf(buf, size, signbit(x) ? "-0.0" : "0.0"), buf;
    /* the shortest %e precision that reads back as x, like Python's repr */
    char e[40];
    for (int p = 0; p < 17; p++) {
        snprintf(e, sizeof e, "%.*e", p, x);
        if (strtod(e, NULL) == x) break;
    }
    /* split "-d.ddde+XX" into sign, digits and the decimal exponent */
    const char *s = e;
    bool neg = *s == '-';
    if (neg) s++;
    char digits[24];
    int nd = 0;
    for (; *s != 'e'; s++)
        if (*s != '.') digits[nd++] = *s;
    while (nd > 1 && digits[nd - 1] == '0')
        nd--;
    digits[nd] = 0;
    int exp = atoi(s + 1);

    char *o = buf, *end = buf + size - 1;
#define PUT(c) (o < end ? (void)(*o++ = (c)) : (void)0)
    if (neg) PUT('-');
    if (exp < -4 || exp >= 16) {
        /* Python switches to scientific notation outside [1e-4, 1e16) */
        PUT(digits[0]);
        if (nd > 1) {
            PUT('.');
            for (int i = 1; i < nd; i++)
                PUT(digits[i]);
        }
        *o = 0;
        snprintf(o, (size_t)(end - o + 1), "e%c%02d", exp < 0 ? '-' : '+', abs(exp));
        return buf;
    }
    if (exp < 0) {
        PUT('0');
        PUT('.');
        for (int i = 0; i < -exp - 1; i++)
            PUT('0');
        for (int i = 0; i < nd; i++)
            PUT(digits[i]);
    } else {
        for (int i = 0; i <= exp; i++)
            PUT(i < nd ? digits[i] : '0');
        PUT('.');
        if (nd > exp + 1)
            for (int i = exp + 1; i < nd; i++)
                PUT(digits[i]);
        else
            PUT('0');
    }
#undef PUT
    *o = 0;
    return buf;
}

/* ---- value helpers, each preceded by the separator ---- */

static void sep_str(FILE *f, const char *s)
{
    fputc(',', f);
    csv_field(f, s);
}

static void sep_u64(FILE *f, uint64_t v)
{
    fprintf(f, ",%llu", (unsigned long long)v);
}

static void sep_float(FILE *f, double x)
{
    char b[40];
    fprintf(f, ",%s", csv_pyfloat(b, sizeof b, x));
}

/* int(x) of a non-negative time in ms. Also used for the median, which
 * Locust writes as its bucket key: an int below 100 ms, a float such as
 * 150.0 above, or the exact min/max when clamped; cicada writes int(median)
 * throughout, which every reader of the float forms reads too. */
static void sep_int(FILE *f, double x)
{
    fprintf(f, ",%lld", (long long)x);
}

/* `min_response_time or 0`, `max_response_time`: the int 0 until a
 * non-zero time was seen (max(0, 0.0) is the int 0), a float afterwards */
static void sep_time(FILE *f, double ms)
{
    if (ms == 0)
        fputs(",0", f);
    else
        sep_float(f, ms);
}

/* `avg_content_length`: int 0 without requests (ZeroDivisionError path) */
static void sep_content(FILE *f, const stats_entry_t *e)
{
    if (!e->num_requests)
        fputs(",0", f);
    else
        sep_float(f, stats_avg_content(e));
}

static void sep_percentiles(FILE *f, stats_t *st, const stats_entry_t *e, bool current, int64_t now)
{
    for (int i = 0; i < STATS_NPCT; i++) {
        if (!e->num_requests) {
            fputs(",N/A", f);
            continue;
        }
        double v = 0;
        if (!current)
            v = stats_percentile(e, stats_pcts[i]);
        else if (!stats_current_percentile(st, e, stats_pcts[i], now, &v))
            v = 0;
        sep_int(f, v);
    }
}

void csv_write_stats(FILE *f, stats_t *st)
{
    fputs("Type,Name,Request Count,Failure Count,Median Response Time,Average Response Time,"
          "Min Response Time,Max Response Time,Average Content Size,Requests/s,Failures/s",
          f);
    for (int i = 0; i < STATS_NPCT; i++)
        fprintf(f, ",%s", stats_pct_names[i]);
    fputs(EOL, f);
    size_t n;
    stats_entry_t **es = stats_entries(st, &n);
    for (size_t i = 0; i <= n; i++) {
        const stats_entry_t *e = i < n ? es[i] : stats_total(st);
        csv_field(f, e->method);
        sep_str(f, e->name);
        sep_u64(f, e->num_requests);
        sep_u64(f, e->num_failures);
        sep_int(f, stats_median(e));
        sep_float(f, stats_avg(e));
        sep_time(f, stats_min(e));
        sep_time(f, e->max_response_time_ms);
        sep_content(f, e);
        sep_float(f, stats_total_rps(st, e));
        sep_float(f, stats_total_fail_per_sec(st, e));
        sep_percentiles(f, st, e, false, 0);
        fputs(EOL, f);
    }
}

void csv_write_history_header(FILE *f)
{
    fputs("Timestamp,User Count,Type,Name,Requests/s,Failures/s", f);
    for (int i = 0; i < STATS_NPCT; i++)
        fprintf(f, ",%s", stats_pct_names[i]);
    fputs(",Total Request Count,Total Failure Count,Total Median Response Time,"
          "Total Average Response Time,Total Min Response Time,Total Max Response Time,"
          "Total Average Content Size" EOL,
          f);
}

void csv_write_open_header(FILE *f)
{
    fputs("Timestamp,User Count,Requested Rate,Late Iterations,Dropped Iterations" EOL, f);
}

void csv_write_open(FILE *f, stats_t *st, int64_t now_unix, long user_count, double rate)
{
    char b[32];
    fprintf(f, "%lld,%ld,%s,%llu,%llu" EOL, (long long)now_unix, user_count,
            csv_pyfloat(b, sizeof b, rate), (unsigned long long)stats_late(st),
            (unsigned long long)stats_dropped(st));
}

void csv_write_history(FILE *f, stats_t *st, int64_t now_unix, long user_count, bool full_history)
{
    size_t n = 0;
    stats_entry_t **es = full_history ? stats_entries(st, &n) : NULL;
    for (size_t i = 0; i <= n; i++) {
        const stats_entry_t *e = i < n ? es[i] : stats_total(st);
        fprintf(f, "%lld,%ld,", (long long)now_unix, user_count);
        csv_field(f, e->method);
        sep_str(f, e->name);
        /* f"{x:2f}": width 2, Python's default precision 6 */
        fprintf(f, ",%2f,%2f", stats_current_rps(st, e), stats_current_fail_per_sec(st, e));
        sep_percentiles(f, st, e, full_history, now_unix);
        sep_u64(f, e->num_requests);
        sep_u64(f, e->num_failures);
        sep_int(f, stats_median(e));
        sep_float(f, stats_avg(e));
        sep_time(f, stats_min(e));
        sep_time(f, e->max_response_time_ms);
        sep_content(f, e);
        fputs(EOL, f);
    }
}

void csv_write_failures(FILE *f, stats_t *st)
{
    fputs("Method,Name,Error,Occurrences" EOL, f);
    size_t n;
    stats_error_t **errs = stats_errors(st, &n);
    for (size_t i = 0; i < n; i++) {
        csv_field(f, errs[i]->method);
        sep_str(f, errs[i]->name);
        sep_str(f, errs[i]->error);
        sep_u64(f, errs[i]->occurrences);
        fputs(EOL, f);
    }
}

void csv_write_exceptions(FILE *f, stats_t *st)
{
    fputs("Count,Message,Traceback,Nodes" EOL, f);
    size_t n;
    stats_exception_t **xs = stats_exceptions(st, &n);
    for (size_t i = 0; i < n; i++) {
        fprintf(f, "%llu", (unsigned long long)xs[i]->count);
        sep_str(f, xs[i]->msg);
        sep_str(f, xs[i]->traceback);
        sep_str(f, xs[i]->nodes);
        fputs(EOL, f);
    }
}
