/* spawn: the runner's spawn plan (see spawn.c). Internal to src/runner:
 * every function runs on the runner's thread. */
#ifndef CICADA_SPAWN_H
#define CICADA_SPAWN_H

#include <stdint.h>

#include "runner/runner.h"

/* Choose the classes the plan spawns: the class names given on the
 * command line, or all of them. Returns -1 after printing an unknown
 * name to stderr, 0 otherwise. */
int spawn_choose(runner_t *r);

/* The class picker's choice for the next test: taken when no test runs
 * (ready or stopped), else ignored with a log line. */
void spawn_pick(runner_t *r, const runner_pick_t *pick);

/* Start a swarm, or change the running one: ramp to users at rate per
 * second. host may be NULL or "" (keep); run_time <= 0 keeps no limit (a
 * fresh test) or the current one. A fresh test clears the statistics.
 * host is copied. */
void spawn_start(runner_t *r, long users, double rate, const char *host, double run_time);

/* Change the host alone, for the UI and every engine; host is copied. */
void spawn_host(runner_t *r, const char *host);

/* One tick of the ramp at monotonic time now: spawn the users that are due
 * and, once all are there, switch to running and fire spawning_complete. */
void spawn_step(runner_t *r, int64_t now);

/* Worker: run exactly counts[c] users of each class c (r->ncls entries),
 * now; host may be NULL (keep). Reports the counts to the master. */
void spawn_counts(runner_t *r, const long *counts, const char *host);

#endif
