/* results: --json, --json-file and --summary-json at the end of a run.
 *
 * The documents are built by report/results.c from the runner's report
 * (runner_report) under the runner's lock, printed outside it, and
 * written whole: stdout for --json (the console tables went to stderr,
 * runner/output.c), PREFIX.json for --json-file (Locust's name), the given
 * file for --summary-json. docs/results.md describes both shapes. */
#include "runner/results.h"

#include <errno.h>
#include <pthread.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>

#include "base/log.h"
#include "monitor/monitor.h"
#include "report/json.h"
#include "report/results.h"
#include "runner/runner_int.h"

static void write_file(const char *path, const char *text)
{
    FILE *f = fopen(path, "w");
    if (f == NULL || fputs(text, f) == EOF || fputc('\n', f) == EOF)
        log_error("cannot write %s: %s", path, strerror(errno));
    if (f && fclose(f) != 0) log_error("cannot write %s: %s", path, strerror(errno));
}

void results_write(runner_t *r, int exit_code)
{
    const runner_conf_t *o = &r->rc;
    if (o->json_stdout || o->json_file) {
        pthread_mutex_lock(&r->lock);
        char *text = json_print(results_locust(r->stats), true);
        pthread_mutex_unlock(&r->lock);
        if (o->json_stdout) {
            fputs(text, stdout);
            fputc('\n', stdout);
            fflush(stdout);
        }
        if (o->json_file) {
            char path[4096];
            snprintf(path, sizeof path, "%s.json", o->json_file);
            write_file(path, text);
        }
        free(text); /* cJSON's */
    }
    if (o->summary_json) {
        pthread_mutex_lock(&r->lock);
        report_run_t run;
        runner_report(r, &run);
        cJSON *doc = results_summary(&run, exit_code, clock_wall());
        pthread_mutex_unlock(&r->lock);
        /* the monitored targets' series (docs/monitoring.md), under the
         * monitor's own lock; no targets without --monitor */
        cJSON_AddItemToObject(doc, "monitor", monitor_json(monitor_current(), false));
        char *text = json_print(doc, true);
        write_file(o->summary_json, text);
        free(text);
    }
}
