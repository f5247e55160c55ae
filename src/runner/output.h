/* output: the runner's CSV files, chart history and console tables (see
 * output.c). Internal to src/runner: every function runs on the runner's
 * thread and takes r->lock while it reads the statistics. */
#ifndef CICADA_OUTPUT_H
#define CICADA_OUTPUT_H

#include <stdbool.h>
#include <stdio.h>

#include "runner/runner.h"

/* Open the --csv files (none without --csv) and write their first
 * contents; a file that cannot be opened is logged and skipped. The files
 * belong to the runner until output_close. */
void output_open(runner_t *r);
/* Close the CSV files; safe to call twice. */
void output_close(runner_t *r);
/* Rewrite the stats, failures and exceptions files; with history, also
 * append a row to the history file. */
void output_csvs(runner_t *r, bool history);
/* Record this second's chart point (only while spawning or running, once
 * requests were made). */
void output_point(runner_t *r);
/* Print the statistics table to stdout: current (10 s window) or totals. */
void output_table(runner_t *r, bool current);
/* Print the final summary: totals, percentiles, errors and thresholds. */
void output_summary(runner_t *r);

/* Where the console tables go: stdout, or stderr with --json (stdout
 * carries the JSON document then). */
FILE *output_console(const runner_t *r);

#endif
