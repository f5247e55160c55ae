/* results: the JSON results a finished run writes (see results.c).
 * Internal to src/runner; runs on the runner's thread. */
#ifndef CICADA_RUNNER_RESULTS_H
#define CICADA_RUNNER_RESULTS_H

#include "runner/runner.h"

/* With --json, print Locust's JSON statistics to stdout; with --json-file
 * PREFIX, write them to PREFIX.json; with --summary-json FILE, write
 * cicada's summary (with exit_code) there. A write error is logged, never
 * fatal. Takes r->lock itself. */
void results_write(runner_t *r, int exit_code);

#endif
