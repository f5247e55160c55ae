/* output: what the runner writes while a test runs.
 *
 * With --csv PREFIX it keeps four files open (stats, stats history,
 * failures, exceptions) and rewrites the first, third and fourth in place
 * each second (rewind, write, truncate), while the history file only grows
 * by a row per second. It records one chart point per second once requests
 * were made, and prints Locust's console tables: the current table every
 * two seconds of a headless run (a master's only when a worker's report
 * brought news) and the summary (totals, percentiles, errors, thresholds)
 * at the end, on stdout, or on stderr with --json (stdout carries its
 * document then). The tables themselves are drawn by the runner_tables_t
 * functions it was given (cli/console.c's, through main.c), so the runner
 * knows no terminal. The statistics are read under r->lock; this module
 * neither collects them from the engines nor decides when to write. */
#include "runner/output.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <unistd.h>

#include "base/alloc.h"
#include "base/log.h"
#include "runner/rate.h"
#include "runner/rules.h"
#include "runner/runner_int.h"
#include "report/csv.h"

FILE *output_console(const runner_t *r)
{
    return r->rc.json_stdout ? stderr : stdout;
}

static FILE *open_csv(const char *prefix, const char *suffix)
{
    char path[4096];
    snprintf(path, sizeof path, "%s%s", prefix, suffix);
    FILE *f = fopen(path, "w+");
    if (f == NULL) log_error("cannot write %s: %s", path, strerror(errno));
    return f;
}

static void rewrite(FILE *f, void (*write)(FILE *, stats_t *), stats_t *st)
{
    if (f == NULL) return;
    rewind(f);
    write(f, st);
    fflush(f);
    if (ftruncate(fileno(f), ftell(f)) != 0) log_warn("cannot truncate a CSV file");
}

void output_csvs(runner_t *r, bool history)
{
    if (r->rc.csv_prefix == NULL) return;
    pthread_mutex_lock(&r->lock);
    rewrite(r->csv_stats, csv_write_stats, r->stats);
    rewrite(r->csv_failures, csv_write_failures, r->stats);
    rewrite(r->csv_exceptions, csv_write_exceptions, r->stats);
    if (history && r->csv_history) {
        csv_write_history(r->csv_history, r->stats, (int64_t)clock_wall(), runner_user_count(r),
                          r->rc.csv_full_history);
        fflush(r->csv_history);
    }
    if (history && r->csv_open) {
        csv_write_open(r->csv_open, r->stats, (int64_t)clock_wall(), runner_user_count(r),
                       rate_requested(r));
        fflush(r->csv_open);
    }
    pthread_mutex_unlock(&r->lock);
}

void output_open(runner_t *r)
{
    const char *p = r->rc.csv_prefix;
    if (p == NULL) return;
    r->csv_stats = open_csv(p, "_stats.csv");
    r->csv_history = open_csv(p, "_stats_history.csv");
    r->csv_failures = open_csv(p, "_failures.csv");
    r->csv_exceptions = open_csv(p, "_exceptions.csv");
    if (r->csv_history) {
        csv_write_history_header(r->csv_history);
        fflush(r->csv_history);
    }
    if (rate_open(r)) {
        r->csv_open = open_csv(p, "_open_model.csv");
        if (r->csv_open) {
            csv_write_open_header(r->csv_open);
            fflush(r->csv_open);
        }
    }
    output_csvs(r, false);
}

void output_close(runner_t *r)
{
    FILE **fs[] = {&r->csv_stats, &r->csv_history, &r->csv_failures, &r->csv_exceptions,
                   &r->csv_open};
    for (size_t i = 0; i < 5; i++)
        if (*fs[i]) {
            fclose(*fs[i]);
            *fs[i] = NULL;
        }
}

/* A chart point for this second (only once requests were made, as
 * Locust's charts do). */
void output_point(runner_t *r)
{
    pthread_mutex_lock(&r->lock);
    stats_entry_t *t = stats_total(r->stats);
    if (t->num_requests > 0 && (r->state == RUNNER_SPAWNING || r->state == RUNNER_RUNNING)) {
        if (r->nhist == r->caphist) {
            r->caphist = r->caphist ? r->caphist * 2 : 256;
            r->hist = xrealloc(r->hist, r->caphist * sizeof *r->hist);
        }
        double now = clock_wall(), v;
        runner_point_t *p = &r->hist[r->nhist++];
        p->time = now;
        p->rps = stats_current_rps(r->stats, t);
        p->fail_per_sec = stats_current_fail_per_sec(r->stats, t);
        p->p50 = stats_current_percentile(r->stats, t, 0.5, (int64_t)now, &v) ? v : -1;
        p->p95 = stats_current_percentile(r->stats, t, 0.95, (int64_t)now, &v) ? v : -1;
        for (int i = 0; i < REPORT_NPCT; i++)
            p->pct[i] =
                stats_current_percentile(r->stats, t, report_pcts[i], (int64_t)now, &v) ? v : -1;
        p->users = runner_user_count(r);
    }
    pthread_mutex_unlock(&r->lock);
}

/* A master's figures change only when a worker reports, every 3 s: of the
 * tables due every 2 s, print only those with news (another request,
 * failure or request name since the last one). */
static bool news(runner_t *r)
{
    size_t n;
    stats_entry_t *t = stats_total(r->stats);
    stats_entries(r->stats, &n);
    uint64_t sig = t->num_requests * 1000003u ^ t->num_failures * 7919u ^ (uint64_t)n << 48;
    if (sig == r->table_sig) return false;
    r->table_sig = sig;
    return true;
}

void output_table(runner_t *r, bool current)
{
    const runner_tables_t *t = &r->rc.tables;
    pthread_mutex_lock(&r->lock);
    if (current && runner_is_master(r) && !news(r)) {
        pthread_mutex_unlock(&r->lock);
        return;
    }
    if (t->stats) t->stats(t->ud, r->stats, current);
    pthread_mutex_unlock(&r->lock);
    FILE *out = output_console(r);
    fputc('\n', out);
    fflush(out);
}

void output_summary(runner_t *r)
{
    FILE *out = output_console(r);
    output_table(r, false);
    pthread_mutex_lock(&r->lock);
    const runner_tables_t *tb = &r->rc.tables;
    if (tb->percentiles) tb->percentiles(tb->ud, r->stats);
    fputc('\n', out);
    if (tb->errors) tb->errors(tb->ud, r->stats);
    if (rate_open(r)) /* the open model's truth (docs/cli.md, "The open model") */
        fprintf(out,
                "Open model: %llu iteration%s late (started over 10 ms after schedule), %llu "
                "dropped (no free user within -u)\n\n",
                (unsigned long long)stats_late(r->stats), stats_late(r->stats) == 1 ? "" : "s",
                (unsigned long long)stats_dropped(r->stats));
    uint64_t cut = stats_cut(r->stats);
    if (cut) /* neither successes nor failures: said apart (docs/cli.md, "How a run stops") */
        fprintf(out, "%llu request%s cut off at stop\n\n", (unsigned long long)cut,
                cut == 1 ? "" : "s");
    pthread_mutex_unlock(&r->lock);
    fflush(out);
    rules_print(r, out);
}
