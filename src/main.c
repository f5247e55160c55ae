/* main: parse the command line and hand over to the right part: the demo
 * site, a class listing, or a load test, headless or with the web UI up
 * beside the runner. A master (--master) runs the same way with its users on
 * its workers (dist/master.h); a worker (--worker) runs the runner with no
 * UI under its master's orders (dist/worker.h). The runner is told the
 * flags through a runner_conf_t filled here, with the console tables of
 * cli/console.c; the --html report is written here once the run is over. */
#include <errno.h>
#include <stdio.h>
#include <string.h>
#include <unistd.h>

#include "base/log.h"
#include "base/sys.h"
#include "cli/console.h"
#include "cli/opts.h"
#include "demo/demo.h"
#include "dist/curve.h"
#include "dist/master.h"
#include "dist/worker.h"
#include "runner/runner.h"
#include "lua/msg.h"
#include "monitor/monitor.h"
#include "report/html.h"
#include "web/assets.h"
#include "web/server.h"

#define CICADA_VERSION "0.1.0"

/* The console tables, Locust's STATS_NAME_WIDTH wide (taken once, at
 * start) on stdout, or on stderr with --json (stdout is its document). */
static int name_width;
static FILE *tables_to;

static void table_stats(void *ud, stats_t *st, bool current)
{
    console_stats(st, name_width, current, console_to_file, tables_to);
}

static void table_percentiles(void *ud, stats_t *st)
{
    console_percentiles(st, name_width, console_to_file, tables_to);
}

static void table_errors(void *ud, stats_t *st)
{
    console_errors(st, name_width, console_to_file, tables_to);
}

/* What the runner is told of the command line; o must outlive the runner. */
static runner_conf_t runner_conf_of(const opts_t *o)
{
    tables_to = o->json_stdout ? stderr : stdout;
    name_width = console_name_width(fileno(tables_to));
    return (runner_conf_t){
        .locustfile = o->locustfile,
        .host = o->host,
        .users = o->users,
        .spawn_rate = o->spawn_rate,
        .arrival_rate = o->arrival_rate,
        .run_time = o->run_time,
        .headless = o->headless,
        .autostart = o->autostart,
        .class_picker = o->class_picker,
        .autoquit = o->autoquit,
        .csv_prefix = o->csv_prefix,
        .csv_full_history = o->csv_full_history,
        .print_stats = o->print_stats,
        .only_summary = o->only_summary,
        .reset_stats = o->reset_stats,
        .json_stdout = o->json_stdout,
        .json_file = o->json_file,
        .summary_json = o->summary_json,
        .thresholds = o->thresholds,
        .nthresholds = o->nthresholds,
        .exit_code_on_threshold = o->exit_code_on_threshold,
        .exit_code_on_error = o->exit_code_on_error,
        .stop_timeout = o->stop_timeout,
        .threads = o->threads,
        .insecure = o->insecure,
        .ca_file = o->ca_file,
        .resolver = o->resolver,
        .resolver_timeout = o->resolver_timeout,
        .master = o->master,
        .worker = o->worker,
        .expect_workers = o->expect_workers,
        .expect_workers_max_wait = o->expect_workers_max_wait,
        .tags = o->tags,
        .ntags = o->ntags,
        .exclude_tags = o->exclude_tags,
        .nexclude_tags = o->nexclude_tags,
        .iterations = o->iterations,
        .classes = o->classes,
        .nclasses = o->nclasses,
        .tables = {.stats = table_stats, .percentiles = table_percentiles, .errors = table_errors}};
}

/* The --html report of the finished run. Returns 0, or -1 after saying why. */
static int write_html(runner_t *r, const char *path)
{
    FILE *f = fopen(path, "w");
    if (f == NULL) {
        log_error("cannot write the HTML report %s: %s", path, strerror(errno));
        return -1;
    }
    const asset_t *chart = asset_find("/chart.min.js");
    html_page_t page = {.chartjs = chart ? chart->data : NULL,
                        .chartjs_len = chart ? chart->len : 0};
    report_run_t run;
    runner_lock(r);
    runner_report(r, &run);
    html_report(f, &run, &page);
    runner_unlock(r);
    if (fclose(f) != 0) {
        log_error("cannot write the HTML report %s: %s", path, strerror(errno));
        return -1;
    }
    return 0;
}

/* A master's workers for the monitor's "Target resources" (its thread). */
static size_t master_workers(void *ud, monitor_worker_t *out, size_t max)
{
    runner_worker_t w[64];
    runner_t *r = ud;
    runner_lock(r);
    size_t n = runner_workers(r, w, max < 64 ? max : 64);
    runner_unlock(r);
    if (n > max) n = max;
    if (n > 64) n = 64;
    for (size_t i = 0; i < n; i++) {
        snprintf(out[i].id, sizeof out[i].id, "%.127s", w[i].id);
        out[i].cpu = w[i].cpu_usage;
        out[i].rss = (double)w[i].memory_usage;
    }
    return n;
}

int main(int argc, char **argv)
{
    static opts_t o;
    char err[1024];
    if (argc > 1 && strcmp(argv[1], "keygen") == 0) return curve_keygen_main(argc, argv);
    int rc = opts_parse(&o, argc, argv, err, sizeof err);
    if (rc == 1) return 0;
    if (rc != 0) {
        fprintf(stderr, "usage: cicada [options] [UserClass ...]  (see cicada --help)\n%s\n", err);
        return 2;
    }
    if (o.show_version) {
        printf("cicada %s\n", CICADA_VERSION);
        return 0;
    }
    enum log_level level = LOG_INFO;
    if (o.loglevel) log_parse_level(o.loglevel, &level);
    log_set_level(level);
    if (o.logfile && log_set_file(o.logfile) != 0) {
        fprintf(stderr, "cicada: error: argument --logfile: cannot open '%s'\n", o.logfile);
        return 2;
    }
    if (o.command && strcmp(o.command, "demo-server") == 0)
        return demo_run(o.demo_host, o.demo_port, o.demo_slow, o.demo_fail_ratio);
    sys_raise_fd_limit(); /* many users need many sockets */
    runner_conf_t conf = runner_conf_of(&o);
    if (o.list_classes) return runner_list(&conf);
    /* users run here (not on workers): refuse up front what cannot fit */
    if (!o.master && !o.worker && o.users > 0 && runner_users_fit(o.users, err, sizeof err) != 0) {
        fprintf(stderr,
                "usage: cicada [options] [UserClass ...]  (see cicada --help)\n"
                "cicada: error: argument -u/--users: %s\n",
                err);
        return 2;
    }
    monitor_spec_t spec;
    for (size_t i = 0; i < o.nmonitor; i++)
        if (monitor_spec(o.monitor[i], &spec, err, sizeof err) != 0) {
            fprintf(stderr,
                    "usage: cicada [options] [UserClass ...]  (see cicada --help)\n"
                    "cicada: error: argument --monitor: %s\n",
                    err);
            return 2;
        }
    msg_set_role(o.master ? "master" : o.worker ? "worker" : "local"); /* cicada.role */
    runner_t *r = runner_new(&conf);
    if (r == NULL) return 2; /* a bad scenario (docs/cli.md, "Exit codes") */
    if (o.worker) {
        if (o.nmonitor)
            log_warn("--monitor is ignored on a worker: the master scrapes the targets");
        worker_t *w = worker_start(r, &o, err, sizeof err);
        if (w == NULL) {
            fprintf(stderr, "cicada: %s\n", err);
            runner_free(r);
            return 1;
        }
        runner_run(r);
        int code = worker_finish(w);
        runner_free(r);
        return code;
    }
    /* the targets' resources: where the UI or --monitor asks, never on a worker */
    monitor_t *mon = NULL;
    if (o.nmonitor > 0 || !o.headless) {
        mon =
            monitor_start(o.monitor, o.nmonitor, o.monitor_interval, o.csv_prefix, err, sizeof err);
        if (mon == NULL) {
            fprintf(stderr, "cicada: %s\n", err);
            runner_free(r);
            return 1;
        }
    }
    master_t *master = NULL;
    if (o.master) {
        master = master_start(r, &o, err, sizeof err);
        if (master == NULL) {
            fprintf(stderr, "cicada: %s\n", err);
            runner_free(r);
            return 1;
        }
    }
    web_t *web = NULL;
    if (!o.headless) {
        web = web_start(&o, r, err, sizeof err);
        if (web == NULL) {
            fprintf(stderr, "cicada: %s\n", err);
            master_free(master);
            runner_free(r);
            return 1;
        }
    }
    web_t *metrics = NULL; /* --metrics-bind: /metrics alone, headless runs too */
    if (o.metrics_bind && (metrics = web_start_metrics(&o, r, err, sizeof err)) == NULL) {
        fprintf(stderr, "cicada: %s\n", err);
        web_stop(web);
        master_free(master);
        runner_free(r);
        return 1;
    }
    if (master && mon) monitor_workers_from(mon, master_workers, r);
    int code = runner_run(r);
    web_stop(metrics);
    web_stop(web);
    monitor_stop(mon); /* before master_free: its thread reads the workers */
    monitor_summary(mon, stdout);
    if (o.html_file && write_html(r, o.html_file) != 0 && code == 0) code = 1;
    master_free(master);
    runner_free(r);
    monitor_free(mon);
    return code;
}
