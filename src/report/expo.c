/* expo: the Prometheus text exposition (see expo.h for the families).
 *
 * A plain printer over the merged statistics, run under the runner's lock
 * like the CSV writers: it reads stats_t and the runner and keeps no state
 * of its own; per scrape it allocates each row's figures and escaped labels
 * (written once, repeated on the row's 24 lines) and, on a master, a copy
 * of the workers' list, and frees them before it returns. Numbers are
 * printed as integers (counters), "%.17g" (floats, read back exactly) or
 * bounds in seconds with "%g" (100 µs is "0.0001"). */
#include "report/expo.h"

#include <inttypes.h>
#include <stddef.h>
#include <stdlib.h>
#include <string.h>

#include "base/alloc.h"
#include "stats/life.h"

/* ---- labels ---- */

/* The length of the valid UTF-8 sequence at s (1 .. 4), or 0 if the
 * bytes there are not one. Strict, as Go's utf8.ValidString that
 * Prometheus applies: no overlong forms, no surrogates, nothing above
 * U+10FFFF (base/utf8.c is looser on the second byte). */
static size_t utf8_seq(const unsigned char *s)
{
    unsigned c = s[0], lo = 0x80, hi = 0xbf;
    size_t n;
    if (c < 0x80) return 1;
    if (c >= 0xc2 && c <= 0xdf)
        n = 2;
    else if (c >= 0xe0 && c <= 0xef)
        n = 3;
    else if (c >= 0xf0 && c <= 0xf4)
        n = 4;
    else
        return 0;
    if (c == 0xe0) lo = 0xa0; /* overlong */
    if (c == 0xed) hi = 0x9f; /* surrogates */
    if (c == 0xf0) lo = 0x90; /* overlong */
    if (c == 0xf4) hi = 0x8f; /* above U+10FFFF */
    if (s[1] < lo || s[1] > hi) return 0;
    for (size_t i = 2; i < n; i++)
        if ((s[i] & 0xc0) != 0x80) return 0; /* also stops at the NUL */
    return n;
}

void expo_label(FILE *f, const char *s)
{
    const unsigned char *p = (const unsigned char *)s;
    while (*p) {
        size_t n = utf8_seq(p);
        if (n == 0) { /* not UTF-8: Prometheus would refuse the whole scrape */
            fputs("\xef\xbf\xbd", f);
            p++;
            continue;
        }
        if (*p == '\\')
            fputs("\\\\", f);
        else if (*p == '"')
            fputs("\\\"", f);
        else if (*p == '\n')
            fputs("\\n", f);
        else
            fwrite(p, 1, n, f);
        p += n;
    }
}

static void head(FILE *f, const char *name, const char *type, const char *help)
{
    fprintf(f, "# HELP %s %s\n# TYPE %s %s\n", name, help, name, type);
}

/* ---- the request families ---- */

/* One row as written: its lifetime figures and its labels, escaped once
 * (name="...",method="...") for the 24 lines that repeat them. */
typedef struct row {
    stats_life_t life;
    char *labels; /* malloc'd by open_memstream */
} row_t;

static char *row_labels(const stats_entry_t *e)
{
    char *out = NULL;
    size_t len = 0;
    FILE *f = open_memstream(&out, &len);
    if (f == NULL) abort(); /* out of memory: base/alloc.h's policy */
    fputs("name=\"", f);
    expo_label(f, e->name);
    fputs("\",method=\"", f);
    expo_label(f, e->method);
    fputc('"', f);
    if (fclose(f) != 0) abort();
    return out;
}

static void counter(FILE *f, const row_t *rows, size_t n, const char *name, size_t field,
                    const char *help)
{
    head(f, name, "counter", help);
    for (size_t i = 0; i < n; i++)
        fprintf(f, "%s{%s} %" PRIu64 "\n", name, rows[i].labels,
                *(const uint64_t *)((const char *)&rows[i].life + field));
}

static void histogram(FILE *f, const row_t *rows, size_t n)
{
    static const char name[] = "cicada_response_time_seconds";
    char le[LIFE_NLE + 1][24];
    for (int j = 0; j < LIFE_NLE; j++)
        snprintf(le[j], sizeof le[j], "%g", (double)life_le_us[j] / 1e6);
    snprintf(le[LIFE_NLE], sizeof le[LIFE_NLE], "+Inf");
    head(f, name, "histogram",
         "Response times of the timed requests (fixed bounds: docs/metrics.md).");
    for (size_t i = 0; i < n; i++) {
        const stats_life_t *l = &rows[i].life;
        uint64_t cum = 0;
        for (int j = 0; j <= LIFE_NLE; j++) {
            cum += l->le[j];
            fprintf(f, "%s_bucket{%s,le=\"%s\"} %" PRIu64 "\n", name, rows[i].labels, le[j], cum);
        }
        fprintf(f, "%s_sum{%s} %.17g\n", name, rows[i].labels, l->response_time_ms / 1000.0);
        fprintf(f, "%s_count{%s} %" PRIu64 "\n", name, rows[i].labels, l->timed);
    }
}

void expo_write_stats(FILE *f, stats_t *st)
{
    size_t n;
    stats_entry_t **entries = stats_entries(st, &n);
    row_t *rows = xmalloc((n ? n : 1) * sizeof *rows);
    for (size_t i = 0; i < n; i++) {
        life_get(entries[i], &rows[i].life);
        rows[i].labels = row_labels(entries[i]);
    }
    counter(f, rows, n, "cicada_requests_total", offsetof(stats_life_t, requests),
            "Requests made, per name and method, since cicada started (resets do not clear it).");
    counter(f, rows, n, "cicada_request_failures_total", offsetof(stats_life_t, failures),
            "Requests that failed, per name and method, since cicada started.");
    counter(f, rows, n, "cicada_response_size_bytes_total", offsetof(stats_life_t, content_length),
            "Bytes of response bodies received.");
    histogram(f, rows, n);
    for (size_t i = 0; i < n; i++)
        free(rows[i].labels); /* open_memstream's buffer is plain malloc */
    xfree(rows);
    head(f, "cicada_exceptions_total", "counter",
         "Errors raised by scenario code (Lua errors in tasks) since cicada started.");
    fprintf(f, "cicada_exceptions_total %" PRIu64 "\n", life_exceptions(st));
    head(f, "cicada_iterations_late_total", "counter",
         "Open-model iterations (--arrival-rate) that started more than 10 ms after their "
         "scheduled time, since cicada started.");
    fprintf(f, "cicada_iterations_late_total %" PRIu64 "\n", life_late(st));
    head(f, "cicada_iterations_dropped_total", "counter",
         "Open-model iterations that found no free user within -u and never ran, since cicada "
         "started.");
    fprintf(f, "cicada_iterations_dropped_total %" PRIu64 "\n", life_dropped(st));
}

/* ---- the run ---- */

static void run_gauges(FILE *f, const report_run_t *run)
{
    /* the runner's states, in its order (runner/runner.c runner_state_name) */
    static const char *states[] = {"ready", "spawning", "running", "stopping", "stopped"};
    stats_t *st = run->st;
    head(f, "cicada_state", "gauge",
         "The runner's state: 1 for the current one, 0 for the others.");
    for (size_t s = 0; s < sizeof states / sizeof *states; s++)
        fprintf(f, "cicada_state{state=\"%s\"} %d\n", states[s],
                strcmp(states[s], run->state) == 0);
    head(f, "cicada_users", "gauge", "Users running now (on every worker, on a master).");
    fprintf(f, "cicada_users %ld\n", run->user_count);
    head(f, "cicada_current_requests_per_second", "gauge",
         "Requests per second over the last seconds, as the web UI's Current RPS.");
    fprintf(f, "cicada_current_requests_per_second %.17g\n",
            stats_current_rps(st, stats_total(st)));
    head(f, "cicada_current_failures_per_second", "gauge",
         "Failures per second over the last seconds, as the web UI's Current Failures/s.");
    fprintf(f, "cicada_current_failures_per_second %.17g\n",
            stats_current_fail_per_sec(st, stats_total(st)));
}

static void worker_gauge(FILE *f, const char *name, const report_worker_t *w)
{
    fprintf(f, "%s{worker=\"", name);
    expo_label(f, w->id);
    fputs("\"}", f);
}

static void workers(FILE *f, const report_run_t *run)
{
    static const char *states[] = {"ready", "spawning", "running", "stopping", "missing"};
    const report_worker_t *w = run->workers;
    size_t n = run->nworkers;
    head(f, "cicada_workers", "gauge", "Workers connected to this master (missing ones too).");
    fprintf(f, "cicada_workers %zu\n", n);
    head(f, "cicada_worker_users", "gauge", "Users running on each worker.");
    for (size_t i = 0; i < n; i++) {
        worker_gauge(f, "cicada_worker_users", &w[i]);
        fprintf(f, " %ld\n", w[i].user_count);
    }
    head(f, "cicada_worker_cpu_usage_ratio", "gauge",
         "CPU use of each worker process, as reported by the worker (1 = one core busy).");
    for (size_t i = 0; i < n; i++) {
        worker_gauge(f, "cicada_worker_cpu_usage_ratio", &w[i]);
        fprintf(f, " %.17g\n", w[i].cpu_usage / 100.0);
    }
    head(f, "cicada_worker_memory_bytes", "gauge", "Resident memory of each worker process.");
    for (size_t i = 0; i < n; i++) {
        worker_gauge(f, "cicada_worker_memory_bytes", &w[i]);
        fprintf(f, " %lld\n", w[i].memory_usage);
    }
    head(f, "cicada_worker_state", "gauge",
         "Each worker's state: 1 for the current one, 0 for the others.");
    for (size_t i = 0; i < n; i++) {
        bool known = false;
        for (size_t s = 0; s < sizeof states / sizeof *states; s++) {
            bool cur = strcmp(w[i].state, states[s]) == 0;
            known |= cur;
            fprintf(f, "cicada_worker_state{worker=\"");
            expo_label(f, w[i].id);
            fprintf(f, "\",state=\"%s\"} %d\n", states[s], cur);
        }
        if (!known) { /* a state this list does not name: show it anyway */
            fprintf(f, "cicada_worker_state{worker=\"");
            expo_label(f, w[i].id);
            fputs("\",state=\"", f);
            expo_label(f, w[i].state);
            fputs("\"} 1\n", f);
        }
    }
}

void expo_write(FILE *f, const report_run_t *run)
{
    run_gauges(f, run);
    if (run->master) workers(f, run);
    expo_write_stats(f, run->st);
}
